"""The market at 30- and 15-minute steps: a real MarketSim stepped with time_resolution 1800 / 900 s gives
forecasts of 48 / 96 values whose mean over each hour is the hourly profile's value (energy and price conserved,
for any hourly profile: hypothesis), outputs each step's value, and refuses a profile whose step neither divides
the simulation's step nor is a multiple of it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim.timebase import StepError
from simulators.market.profiles import ProfileError, ProfileStepError, load_market
from simulators.market.simulator import MarketSim

ATTRS = ["hour", "energy_price", "load_scaling", "load_kw", "price_forecast", "load_forecast",
         "load_scaling_forecast"]


def _write_hourly(path: Path, price: list[float], scaling: list[float]) -> None:
    rows = [f"{h + 1},{p!r},{s!r}" for h, (p, s) in enumerate(zip(price, scaling))]
    path.write_text("hour,energy_price_usd_per_kwh,load_scaling\n" + "\n".join(rows) + "\n")


def _market(time_resolution: float, **params) -> tuple[MarketSim, str]:
    sim = MarketSim()
    sim.init("M", time_resolution=time_resolution)
    (ent,) = sim.create(1, "Market", **params)
    return sim, ent["eid"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(-0.5, 2.0), st.floats(0.0, 3.0)), min_size=24, max_size=24),
       st.sampled_from([(900.0, 4), (1800.0, 2)]), st.integers(0, 30))
def test_step_forecasts_hold_each_hour_and_conserve_its_energy(hours, resolution, issue_step):
    time_resolution, per_hour = resolution
    price, scaling = [p for p, _ in hours], [s for _, s in hours]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.csv"
        _write_hourly(path, price, scaling)
        sim, eid = _market(time_resolution, profile=str(path), days=2, nominal_load_kw=1000.0)
        sim.step(issue_step, {}, 1000)
        row = sim.get_data({eid: ATTRS})[eid]
    n = 24 * per_hour
    assert row["hour"] == issue_step  # the step index
    for attr, hourly in (("price_forecast", price), ("load_scaling_forecast", scaling),
                         ("load_forecast", [1000.0 * s for s in scaling])):
        fc = np.asarray(row[attr])
        assert fc.shape == (n,)
        # the forecast starts at the issue step: its hour means line up with the profile rolled by the whole hours
        # passed once the issue step sits on an hour boundary; check the steps themselves, then the energy
        expected = np.repeat(np.asarray(hourly), per_hour)[(issue_step + np.arange(n)) % n]
        assert fc == pytest.approx(expected, rel=1e-12, abs=1e-12)
        if issue_step % per_hour == 0:
            first = issue_step // per_hour
            means = fc.reshape(24, per_hour).mean(axis=1)
            assert means == pytest.approx(np.roll(hourly, -first), rel=1e-12, abs=1e-12)
        # a day's energy (kW x step_h, summed) is the hourly profile's
        step_h = 1.0 / per_hour
        assert fc.sum() * step_h == pytest.approx(sum(hourly), rel=1e-12, abs=1e-9)
    assert row["energy_price"] == pytest.approx(price[(issue_step // per_hour) % 24])
    assert row["load_scaling"] == pytest.approx(scaling[(issue_step // per_hour) % 24])


def test_hourly_output_unchanged_and_quarter_hours_hold_it():
    hourly, hour_eid = _market(3600.0, profile="seed000", days=2)
    quarter, q_eid = _market(900.0, profile="seed000", days=2)
    for hour in (0, 13, 47):
        hourly.step(hour, {}, 100)
        h_row = hourly.get_data({hour_eid: ATTRS})[hour_eid]
        md = load_market("seed000")
        assert h_row["energy_price"] == md.energy_price[hour % 24]  # exactly the profile, as before
        assert len(h_row["price_forecast"]) == 24
        for k in range(4):
            quarter.step(4 * hour + k, {}, 400)
            q_row = quarter.get_data({q_eid: ATTRS})[q_eid]
            assert q_row["energy_price"] == h_row["energy_price"] and q_row["load_kw"] == h_row["load_kw"]
            assert len(q_row["price_forecast"]) == 96


def test_noisy_forecasts_per_step_are_reproducible():
    noise = {"load_sigma": 0.1, "price_sigma": 0.2}
    a, eid = _market(900.0, profile="seed000", days=1, forecast_noise=noise, seed=3)
    b, _ = _market(900.0, profile="seed000", days=1, forecast_noise=noise, seed=3)
    for sim in (a, b):
        sim.step(5, {}, 100)
    row_a, row_b = (s.get_data({eid: ["price_forecast", "load_forecast"]})[eid] for s in (a, b))
    assert row_a == row_b and len(row_a["load_forecast"]) == 96
    exact = np.repeat(load_market("seed000").load_kw, 4)[(5 + np.arange(96)) % 96]
    err = np.asarray(row_a["load_forecast"]) / exact - 1.0
    assert np.all(np.abs(err) <= 0.9) and np.abs(err).max() > 0  # noisy, clipped
    # the error grows with the lead in hours: the last quarter's spread is the 24-h sigma, the first's sigma / sqrt(96)
    assert np.abs(err[:8]).mean() < np.abs(err[-32:]).mean()


def test_a_profile_in_minutes_at_any_step_or_refused(tmp_path):
    path = tmp_path / "twenty.csv"
    prices = [0.1 * (i % 3 + 1) for i in range(72)]  # 72 twenty-minute rows: one day
    path.write_text("minute,energy_price_usd_per_kwh\n" + "".join(f"{20 * i},{p}\n" for i, p in enumerate(prices)))
    hourly = load_market(path)  # 20 divides 60: averaged over each hour
    assert hourly.step_minutes == 60 and hourly.n_steps == 24
    assert hourly.energy_price == pytest.approx(np.asarray(prices).reshape(24, 3).mean(axis=1))
    with pytest.raises(ProfileStepError, match=f"{path}.*20-min steps neither divides nor is a multiple of the "
                                               "simulation's 15-min step") as info:
        load_market(path, step_minutes=15)
    assert isinstance(info.value, StepError) and isinstance(info.value, ProfileError)
    assert "\n" not in str(info.value)
    with pytest.raises(ProfileError, match="minute 45 is out of line"):
        (tmp_path / "gap.csv").write_text("minute,energy_price_usd_per_kwh\n0,0.1\n15,0.1\n45,0.1\n")
        load_market(tmp_path / "gap.csv")
    both = tmp_path / "both.csv"  # which index is meant is not for the reader to guess
    both.write_text("hour,minute,energy_price_usd_per_kwh\n1,0,0.1\n2,60,0.2\n")
    with pytest.raises(ProfileError, match=f"{both}: give either an 'hour' or a 'minute' column, not both"):
        load_market(both)
    with pytest.raises(ProfileStepError, match="MarketSim: time_resolution=1200"):
        MarketSim().init("M", time_resolution=1200)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([5, 15, 20, 30, 45, 60, 120]), st.sampled_from([15, 30, 60]),
       st.lists(st.floats(0.0, 5.0), min_size=1, max_size=6))
def test_a_profile_in_any_compatible_step_keeps_its_energy(profile_minutes, step_minutes, pattern):
    """A day of `profile_minutes` rows (any values) at the simulation's step: held or averaged, the energy over the
    day (rate x hours) and the mean price are the profile's; an incompatible pair is refused."""
    n = 1440 // profile_minutes
    values = np.resize(np.asarray(pattern, float), n)
    md = load_market("seed000").at_step(60)  # any MarketData; rebuilt below with the random rows
    md = type(md)("random", values, values, values, np.clip(values, 0, 1), values, 1000.0,
                  step_minutes=profile_minutes)
    if profile_minutes % step_minutes and step_minutes % profile_minutes:
        with pytest.raises(StepError):
            md.at_step(step_minutes)
        return
    out = md.at_step(step_minutes)
    assert out.step_minutes == step_minutes and out.n_steps == 1440 // step_minutes
    for attr in ("energy_price", "load_scaling", "load_kw"):
        assert getattr(out, attr).sum() * step_minutes / 60 == pytest.approx(
            getattr(md, attr).sum() * profile_minutes / 60, rel=1e-12, abs=1e-9)
