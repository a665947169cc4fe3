"""SimBench profiles follow the step: at 15 minutes every element's values are SimBench's own quarter-hours (as
`simbench.get_absolute_values` gives them), at 30 and 60 minutes the means of the quarter-hours each step covers
(each element's energy conserved); the market's "simbench" profile and MarketSim at 900 s hand them on per step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cosim.networks.simbench import _read, element_profiles
from simulators.market.profiles import load_market
from simulators.market.simulator import MarketSim

warnings.filterwarnings("ignore", category=FutureWarning)
CODE = "1-MV-rural--0-sw"


@pytest.fixture(scope="module")
def raw() -> dict:
    import simbench  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simbench.get_absolute_values(_read(CODE), profiles_instead_of_study_cases=True)


@pytest.mark.slow
def test_quarter_hours_are_native_and_longer_steps_their_means(raw):
    quarter = element_profiles(CODE, 15)
    native_load = raw[("load", "p_mw")].to_numpy(float)
    native_sgen = raw[("sgen", "p_mw")].to_numpy(float)
    assert quarter.step_minutes == 15 and quarter.n_steps == 35136 and quarter.n_hours == 8784
    assert np.array_equal(quarter.load_p_mw, native_load[:35136])  # SimBench's own numbers, bit for bit
    assert np.array_equal(quarter.sgen_p_mw, native_sgen[:35136])
    assert np.array_equal(quarter.load_q_mvar, raw[("load", "q_mvar")].to_numpy(float)[:35136])
    for minutes, k in ((30, 2), (60, 4)):
        prof = element_profiles(CODE, minutes)
        assert prof.n_steps == 35136 // k
        assert prof.load_p_mw == pytest.approx(native_load[:35136].reshape(-1, k, native_load.shape[1]).mean(axis=1),
                                               rel=1e-12, abs=1e-15)
        # energy (MWh) of every element over the year: the same at every step
        assert (prof.load_p_mw.sum(axis=0) * minutes / 60) == pytest.approx(quarter.load_p_mw.sum(axis=0) / 4,
                                                                           rel=1e-9)


@pytest.mark.slow
def test_market_and_simulator_carry_quarter_hours(raw):
    network = "simbench:" + CODE
    md = load_market("simbench", network=network, days=1, start_day=100, step_minutes=15)
    assert md.step_minutes == 15 and md.n_steps == 96 and md.bus_p_kw.shape[0] == 96
    start = 100 * 96
    native = raw[("load", "p_mw")].to_numpy(float)
    assert np.array_equal(md.element_power["load_p_mw"], native[start:start + 96])
    hourly = load_market("simbench", network=network, days=1, start_day=100)
    # the per-bus forecast's hourly means are the hourly profile's; prices held over the quarters
    assert md.bus_p_kw.reshape(24, 4, -1).mean(axis=1) == pytest.approx(hourly.bus_p_kw, rel=1e-9, abs=1e-9)
    assert np.array_equal(md.energy_price, np.repeat(hourly.energy_price, 4))
    sim = MarketSim()
    sim.init("M", time_resolution=900)
    (ent,) = sim.create(1, "Market", profile="simbench", network=network, days=1, start_day=100)
    sim.step(37, {}, 96)
    row = sim.get_data({ent["eid"]: ["element_power", "bus_load_forecast"]})[ent["eid"]]
    assert row["element_power"]["load_p_mw"] == native[start + 37].tolist()
    assert np.asarray(row["bus_load_forecast"]["p_kw"]).shape == (96, md.bus_p_kw.shape[1])
