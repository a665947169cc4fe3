"""MarketSim: direct API use and a real mosaik World run with a small collector simulator."""

from __future__ import annotations

import mosaik
import mosaik_api_v3
import numpy as np
import pytest

from simulators.market.profiles import ProfileError, load_market
from simulators.market.simulator import MarketSim

COLLECTED: list[tuple[int, dict]] = []  # (time, inputs) seen by the Collector in this process


class Collector(mosaik_api_v3.Simulator):
    """Records every input it receives, keyed by time, into the module-level COLLECTED list."""

    def __init__(self) -> None:
        super().__init__({"api_version": "3.0", "type": "event-based",
                          "models": {"Sink": {"public": True, "params": [], "attrs": [
                              "energy_price", "load_kw", "load_scaling", "reserve_capacity_price",
                              "call_probability", "price_forecast", "load_forecast"]}}})

    def create(self, num, model, **params):
        return [{"eid": f"Sink_{i}", "type": model} for i in range(num)]

    def step(self, time, inputs, max_advance):
        sink = inputs["Sink_0"]
        COLLECTED.append((time, {attr: next(iter(src.values())) for attr, src in sink.items()}))
        return None

    def get_data(self, outputs):
        return {}


def test_direct_api_outputs_hour_by_hour():
    sim = MarketSim()
    sim.init("M", time_resolution=3600)
    (ent,) = sim.create(1, "Market", profile="seed000", days=2)
    md = load_market("seed000")
    for t in (0, 14, 30):
        assert sim.step(t, {}, 100) == t + 1
        out = sim.get_data({ent["eid"]: ["hour", "energy_price", "load_kw", "price_forecast", "load_forecast"]})
        row = out[ent["eid"]]
        assert row["hour"] == t
        assert row["energy_price"] == pytest.approx(md.energy_price[t % 24])
        assert row["load_kw"] == pytest.approx(md.load_kw[t % 24])
        assert len(row["price_forecast"]) == 24 and len(row["load_forecast"]) == 24
        assert row["price_forecast"][0] == pytest.approx(row["energy_price"])
        assert row["load_forecast"][1] == pytest.approx(md.load_kw[(t + 1) % 24])
    assert max(md.load_kw) == pytest.approx(3800.0)


def test_bad_parameters_raise_profile_errors():
    sim = MarketSim()
    with pytest.raises(ProfileError, match="time_resolution=60 s is not one allowed step; allowed: 3600, 1800, 900 s"):
        sim.init("M", time_resolution=60)
    sim.init("M", time_resolution=3600)
    with pytest.raises(ProfileError, match="unknown market profile"):
        sim.create(1, "Market", profile="nope")
    with pytest.raises(ProfileError, match="only the model 'Market'"):
        sim.create(1, "Grid")
    (ent,) = sim.create(1, "Market", profile="seasonal:autumn")
    sim.step(0, {}, 10)
    with pytest.raises(ProfileError, match="unknown attribute 'voltage'"):
        sim.get_data({ent["eid"]: ["voltage"]})


@pytest.mark.slow
def test_mosaik_world_run_delivers_hourly_signals_and_forecasts():
    COLLECTED.clear()
    sim_config = {"Market": {"python": "simulators.market.simulator:MarketSim"},
                  "Collector": {"python": f"{__name__}:Collector"}}
    world = mosaik.World(sim_config, time_resolution=3600, skip_greetings=True, configure_logging=False)
    market = world.start("Market").Market(profile="seasonal:winter", days=2)
    sink = world.start("Collector").Sink()
    world.connect(market, sink, "energy_price", "load_kw", "load_scaling", "reserve_capacity_price",
                  "call_probability", "price_forecast", "load_forecast")
    world.run(until=48, print_progress=False)

    md = load_market("seasonal:winter", days=2)
    assert [t for t, _ in COLLECTED] == list(range(48))
    prices = np.array([d["energy_price"] for _, d in COLLECTED])
    np.testing.assert_allclose(prices, md.energy_price)
    np.testing.assert_allclose([d["load_kw"] for _, d in COLLECTED], md.load_kw)
    np.testing.assert_allclose([d["call_probability"] for _, d in COLLECTED], md.call_probability)
    # Day-ahead forecast at the start of day 1 is day 1's prices and loads.
    day1 = dict(COLLECTED)[24]
    np.testing.assert_allclose(day1["price_forecast"], md.day(1).energy_price)
    np.testing.assert_allclose(day1["load_forecast"], md.day(1).load_kw)
