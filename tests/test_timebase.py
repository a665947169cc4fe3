"""cosim.timebase: the step, the steps in a day, and resampling that conserves energy; the scenario's
`[simulation] step_minutes` and its bad values through the real command line."""

from __future__ import annotations

import numpy as np
import pytest
from cli_checks import run_fails
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from run_processes import rule_day_toml

from cosim.config import parse_scenario
from cosim.timebase import STEP_MINUTES, StepClock, StepError, resample, step_h_of, steps_per_day


@pytest.mark.parametrize(("minutes", "n", "step_h"), [(60, 24, 1.0), (30, 48, 0.5), (15, 96, 0.25)])
def test_a_day_holds_whole_steps(minutes, n, step_h):
    clock = StepClock(minutes)
    assert (clock.steps_per_day, clock.step_h, steps_per_day(minutes), step_h_of(n)) == (n, step_h, n, step_h)
    assert clock.time_resolution_s == 60 * minutes and StepClock.from_time_resolution(60 * minutes) == clock
    assert clock.hour_of(n) == 24.0 and clock.is_day_start(n) and not clock.is_day_start(n + 1)
    assert clock.steps(3) == 3 * n and clock.steps_per_hour * minutes == 60


@pytest.mark.parametrize("bad", [0, 20, 45, 120, 60.0, True, "15"])
def test_other_steps_are_refused(bad):
    with pytest.raises(StepError, match="allowed: 60, 30, 15"):
        StepClock(bad)


def test_a_day_of_other_lengths_and_other_resolutions_are_refused():
    with pytest.raises(StepError, match="steps is not allowed"):
        step_h_of(25)
    with pytest.raises(StepError, match="s is not one allowed step"):
        StepClock.from_time_resolution(600)
    with pytest.raises(StepError, match="neither divides nor is a multiple"):
        resample(np.ones(24), 60, 45)
    with pytest.raises(StepError, match="do not fill whole"):
        resample(np.ones(5), 15, 60)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.integers(1, 48).map(lambda d: 4 * d),
              elements=st.floats(-1e4, 1e4, allow_nan=False)),
       st.sampled_from(STEP_MINUTES), st.sampled_from(STEP_MINUTES))
def test_resampling_conserves_energy_over_every_common_interval(kw, a, b):
    """Holding (finer) and averaging (coarser) keep each interval's energy kW x h: over the whole profile and over
    every hour."""
    profile = kw if a == 15 else resample(kw, 15, a)
    out = resample(profile, a, b)
    assert len(out) * b == len(profile) * a
    energy = lambda values, minutes: np.add.reduceat(values * minutes / 60.0,  # noqa: E731 - kWh per hour
                                                     np.arange(0, len(values), 60 // minutes))
    assert np.allclose(energy(out, b), energy(profile, a), rtol=1e-12, atol=1e-9)


def test_hourly_values_are_held_and_come_back_exactly():
    hourly = np.arange(24.0) * 1.7
    quarters = resample(hourly, 60, 15)
    assert quarters.shape == (96,) and np.array_equal(quarters[4 * 7:4 * 8], np.full(4, hourly[7]))
    assert np.array_equal(resample(quarters, 15, 60), hourly)
    table = np.arange(48.0).reshape(24, 2)  # per-element profiles: steps along axis 0
    assert resample(table, 60, 30).shape == (48, 2) and np.array_equal(resample(resample(table, 60, 30), 30, 60),
                                                                       table)


@pytest.mark.parametrize("minutes", STEP_MINUTES)
def test_the_scenario_carries_its_step(minutes):
    raw = {"name": "s", "simulation": {"step_minutes": minutes}, "controller": {"name": "rule"},
           "network": {"name": "ieee33", "reconfigure": False}}
    scenario = parse_scenario(raw)
    assert scenario.step_minutes == minutes and scenario.steps == 24 * 60 // minutes and scenario.hours == 24
    assert parse_scenario({"name": "s"}).step_minutes == 60  # the default stays hourly


@pytest.mark.parametrize("bad", ["20", "0", "60.0", "true", '"15"'])
def test_a_bad_step_is_one_line_and_exit_2(tmp_path, capsys, bad):
    line = run_fails(tmp_path, rule_day_toml("bad-step") + f"[simulation]\nstep_minutes = {bad}\n", capsys)
    assert "simulation.step_minutes" in line and "60" in line and "15" in line


def test_a_profile_whose_step_does_not_fit_the_simulations_is_one_line_and_exit_2(tmp_path, capsys):
    """20-minute rows at 15-minute steps: neither divides the other; refused when the scenario is read (before any
    output), naming the file. The same rows at 60 minutes are averaged and accepted."""
    profile = tmp_path / "twenty.csv"
    profile.write_text("minute,energy_price_usd_per_kwh,load_scaling\n"
                       + "".join(f"{20 * i},{0.1 + 0.01 * (i % 5)},{0.6 + 0.01 * (i % 7)}\n" for i in range(72)))
    toml = rule_day_toml("bad-profile-step") + f'[market]\nprofile = "{profile}"\n'
    line = run_fails(tmp_path, toml + "[simulation]\nstep_minutes = 15\n", capsys)
    assert "market.profile" in line and "twenty.csv" in line and "20" in line and "15" in line
    assert parse_scenario({"name": "ok", "market": {"profile": str(profile)}}).market_profile == str(profile)
