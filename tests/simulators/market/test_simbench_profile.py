"""Market profile "simbench": the grid's own per-element SimBench profiles, summed per bus of the radial model,
with prices from another profile; and the market simulator's per-element outputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cosim.networks import load_network
from cosim.networks.simbench import element_profiles
from simulators.market.profiles import ProfileError, load_market
from simulators.market.simulator import MarketSim

warnings.filterwarnings("ignore", category=FutureWarning)
RURAL = "simbench:1-MV-rural--0-sw"


@pytest.mark.slow
def test_every_element_has_its_own_hourly_profile_and_buses_sum_them():
    prof = element_profiles("1-MV-rural--0-sw")
    grid = load_network(RURAL)
    assert prof.n_hours == 8784 and prof.load_p_mw.shape == (8784, len(grid.net.load))
    assert prof.sgen_p_mw.shape == (8784, len(grid.net.sgen))
    # profiles differ between elements (not one scaling): the loads' hourly shapes are not all proportional
    shapes = prof.load_p_mw / np.maximum(prof.load_p_mw.max(axis=0), 1e-12)
    assert np.ptp(shapes[:24], axis=1).max() > 0.3
    md = load_market("simbench", network=RURAL, days=2, start_day=180)
    assert md.name == "simbench:seed000" and md.n_hours == 48 and md.bus_p_kw.shape == (48, grid.n_bus)
    h = 180 * 24 + 13
    loads = 1000 * prof.load_p_mw[h] * grid.net.load.scaling.to_numpy()
    gens = 1000 * prof.sgen_p_mw[h] * grid.net.sgen.scaling.to_numpy()
    assert md.bus_p_kw[13].sum() == pytest.approx(loads.sum() - gens.sum())
    k = grid.position_of_bus[int(grid.net.sgen.bus.iloc[5])]
    at_k = [j for j, b in enumerate(grid.net.sgen.bus) if grid.position_of_bus[int(b)] == k]
    assert md.bus_p_kw[13, k] == pytest.approx(sum(loads[j] for j, b in enumerate(grid.net.load.bus)
                                                   if grid.position_of_bus[int(b)] == k) - sum(gens[j] for j in at_k))
    assert md.nominal_load_kw == pytest.approx(1000 * (grid.net.load.p_mw * grid.net.load.scaling).sum())
    assert md.load_scaling[13] == pytest.approx(loads.sum() / md.nominal_load_kw)
    assert md.element_power["sgen_p_mw"][13] == pytest.approx(prof.sgen_p_mw[h])
    assert md.energy_price == pytest.approx(load_market("seed000", days=2).energy_price)  # prices: seed000


@pytest.mark.slow
def test_prices_stay_selectable_and_bad_uses_are_refused():
    md = load_market("simbench:seasonal:summer", network=RURAL, days=1)
    assert md.energy_price == pytest.approx(load_market("seasonal:summer", days=1).energy_price)
    with pytest.raises(ProfileError, match="the network must be 'simbench:<code>', got 'ieee33'"):
        load_market("simbench", network="ieee33")
    with pytest.raises(ProfileError, match="name a price profile after 'simbench:'"):
        load_market("simbench:simbench", network=RURAL)


@pytest.mark.slow
def test_market_simulator_sends_element_power_and_the_per_bus_forecast():
    sim = MarketSim()
    sim.init("M", time_resolution=3600)
    (ent,) = sim.create(1, "Market", profile="simbench", network=RURAL, days=1, start_day=3)
    sim.step(5, {}, 10)
    row = sim.get_data({ent["eid"]: ["element_power", "bus_load_forecast", "load_scaling"]})[ent["eid"]]
    md = load_market("simbench", network=RURAL, days=1, start_day=3)
    assert row["element_power"]["load_p_mw"] == pytest.approx(md.element_power["load_p_mw"][5])
    fc = np.asarray(row["bus_load_forecast"]["p_kw"])
    assert fc.shape == (24, load_network(RURAL).n_bus) and fc[0] == pytest.approx(md.bus_p_kw[5])
    (plain,) = sim.create(1, "Market", profile="seed000", days=1)
    out = sim.get_data({plain["eid"]: ["element_power", "bus_load_forecast"]})[plain["eid"]]
    assert out == {"element_power": None, "bus_load_forecast": None}
