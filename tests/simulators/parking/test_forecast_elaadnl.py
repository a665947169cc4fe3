"""EV forecast errors drawn from the ElaadNL distributions (`forecast_error = {source = "elaadnl", segment, share}`):
the operator takes a seeded share of its EVs for typical EVs of a segment; the actual fleet never changes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cosim.config import parse_scenario
from cosim.runner.run import run_scenario
from cosim.runner.world import initial_lot_state
from simulators.parking.fleet import stochastic_fleet
from simulators.parking.forecast import (
    ELAADNL_DIR,
    ELAADNL_SEGMENTS,
    ElaadnlForecastError,
    ForecastView,
    day_ahead_forecast,
    draw_elaadnl,
    elaadnl_distributions,
)
from simulators.parking.lot import ParkingLot
from simulators.parking.simulator import ParkingConfigError, forecast_view

LOT = {"id": "PL1", "bus": 18, "fleet": "seed000"}


def _lot(n_per_day: int = 200, days: int = 10) -> ParkingLot:
    return ParkingLot(stochastic_fleet(n_per_day, seed=1, days=days), n_chargers=None, connection_limit_kw=None)


def _hourly(segment: str) -> np.ndarray:
    """The segment's arrival distribution summed to hours (from the shipped CSV, independently of the module)."""
    table = pd.read_csv(ELAADNL_DIR / "distribution-of-arrival.csv")
    hours = table["Arrival time"].str[:2].astype(int)
    p = table[segment].groupby(hours).sum().to_numpy()
    return p / p.sum()


def test_the_shipped_distributions_are_whole():
    for segment in ELAADNL_SEGMENTS:
        dist = elaadnl_distributions(segment)
        assert dist["arrival_p"].shape == (96,) and dist["arrival_p"].sum() == pytest.approx(1.0)
        assert np.all(np.diff(dist["connection_h"]) <= 0) and np.all(np.diff(dist["energy_kwh"]) <= 0)
        assert dist["percent"][0] == 0 and dist["percent"][-1] == 100


@pytest.mark.parametrize("segment", ELAADNL_SEGMENTS)
def test_share_1_forecasts_arrival_hours_from_the_segment(segment):
    lot = _lot()
    seen = ForecastView(lot, ElaadnlForecastError(segment, 1.0), 0, "PL1").expected(lot)
    coming = lot.arr_min > 0
    assert coming.sum() > 1500
    hours = (seen.arr_min[coming] % 1440) // 60
    observed = np.bincount(hours, minlength=24) / coming.sum()
    expected = _hourly(segment)
    assert 0.5 * np.abs(observed - expected).sum() < 0.06  # total variation distance; loose, seeded
    assert observed.argmax() == expected.argmax()
    others = [s for s in ELAADNL_SEGMENTS if s != segment]
    assert all(0.5 * np.abs(observed - _hourly(o)).sum() > 0.2 for o in others)  # and not another segment's
    # the EV's arrival day is kept: only the time of day is the operator's guess
    np.testing.assert_array_equal(seen.arr_min[coming] // 1440, lot.arr_min[coming] // 1440)


def test_connection_times_and_energies_follow_the_percentile_tables():
    rng = np.random.default_rng(5)
    _, conn_min, energy = draw_elaadnl(rng, "workplace", 20000)
    dist = elaadnl_distributions("workplace")
    # the table's value at 50 % is the median (half of the events are connected at least that long)
    assert np.median(conn_min) / 60 == pytest.approx(dist["connection_h"][50], rel=0.05)
    assert np.median(energy) == pytest.approx(dist["energy_kwh"][50], rel=0.05)
    assert np.mean(conn_min / 60 >= dist["connection_h"][10]) == pytest.approx(0.10, abs=0.01)
    assert conn_min.min() >= 1 and energy.min() >= 0 and energy.max() <= dist["energy_kwh"][0]


def test_share_1_departures_and_energies_are_the_typical_evs():
    lot = _lot()
    view = ForecastView(lot, ElaadnlForecastError("public", 1.0), 0, "PL1")
    seen = view.expected(lot)
    coming = lot.arr_min > 0
    np.testing.assert_array_equal(seen.dep_min[coming], np.maximum(seen.arr_min + view.connection_min,
                                                                   seen.arr_min + 1)[coming])
    np.testing.assert_allclose(seen.e_arr[coming], np.clip(lot.e_req - view.demand_kwh, 0, lot.cap)[coming])
    assert day_ahead_forecast(seen, 0.0)["max_charge_kw"] != day_ahead_forecast(lot, 0.0)["max_charge_kw"]


def test_share_0_is_the_perfect_forecast_and_a_share_picks_that_many_evs():
    lot = _lot()
    assert forecast_view(lot, {"source": "elaadnl", "segment": "workplace", "share": 0.0}, 0, "PL1") is None
    zero = ForecastView(lot, ElaadnlForecastError("workplace", 0.0), 0, "PL1").expected(lot)
    for name in ("arr_min", "dep_min", "e_arr"):
        np.testing.assert_array_equal(getattr(zero, name), getattr(lot, name))
    assert day_ahead_forecast(zero, 0.0) == day_ahead_forecast(lot, 0.0)
    view = forecast_view(lot, {"source": "elaadnl", "segment": "workplace", "share": 0.3}, 0, "PL1")
    assert view.typical.mean() == pytest.approx(0.3, abs=0.03)
    seen = view.expected(lot)
    for name in ("arr_min", "dep_min", "e_arr"):  # the other EVs are forecast exactly
        np.testing.assert_array_equal(getattr(seen, name)[~view.typical], getattr(lot, name)[~view.typical])
    again = forecast_view(lot, {"source": "elaadnl", "segment": "workplace", "share": 0.3}, 0, "PL1").expected(lot)
    np.testing.assert_array_equal(again.arr_min, seen.arr_min)  # seeded
    other = forecast_view(lot, {"source": "elaadnl", "segment": "workplace", "share": 0.3}, 1, "PL1").expected(lot)
    assert not np.array_equal(other.arr_min, seen.arr_min)


def test_the_actual_fleet_never_changes_and_arrived_evs_are_known():
    lot = _lot(days=2)
    before = {name: getattr(lot, name).copy() for name in ("arr_min", "dep_min", "e_arr", "e_req", "cap")}
    view = ForecastView(lot, ElaadnlForecastError("private", 1.0), 0, "PL1")
    view.expected(lot)
    lot.advance(0.0, 12.0)
    seen = view.expected(lot)
    for name, values in before.items():
        np.testing.assert_array_equal(getattr(lot, name), values)
    arrived = lot.arr_min <= lot._t_min
    assert arrived.any() and (~arrived).any()
    np.testing.assert_array_equal(seen.arr_min[arrived], lot.arr_min[arrived])
    np.testing.assert_array_equal(seen.e_arr[arrived], lot.e_arr[arrived])
    here = arrived & ~lot.gone  # departure: the actual arrival + the drawn connection time, never in the past
    np.testing.assert_array_equal(seen.dep_min[here], np.maximum(lot.arr_min + view.connection_min,
                                                                 lot._t_min + 1)[here])


@pytest.mark.parametrize("bad", [
    {"source": "elaadnl", "segment": "home", "share": 0.3},
    {"source": "elaadnl", "segment": "public", "share": 1.5},
    {"source": "elaadnl", "segment": "public", "share": True},
    {"source": "elaadnl", "segment": "public"},
    {"source": "elaadnl", "segment": "public", "share": 0.3, "arrival_sigma_h": 1.0},
    {"source": "survey", "arrival_sigma_h": 1.0},
])
def test_bad_elaadnl_errors_are_refused_by_the_lot(bad):
    with pytest.raises(ParkingConfigError, match="forecast_error"):
        forecast_view(_lot(days=1), bad, 0, "PL1")


def test_gaussian_keys_still_work_with_or_without_source():
    lot = _lot(days=1)
    plain = forecast_view(lot, {"arrival_sigma_h": 1.0}, 0, "PL1").expected(lot)
    named = forecast_view(lot, {"source": "gaussian", "arrival_sigma_h": 1.0}, 0, "PL1").expected(lot)
    np.testing.assert_array_equal(plain.arr_min, named.arr_min)


@pytest.mark.slow
def test_one_day_with_elaadnl_forecasts_runs_and_the_lot_serves_the_actual_fleet(tmp_path):
    error = {"source": "elaadnl", "segment": "workplace", "share": 1.0}
    sc = parse_scenario({"name": "elaadnl", "output_dir": str(tmp_path), "days": 1,
                         "controller": {"name": "eo", "options": {"n_particles": 4, "n_iter": 3}},
                         "lots": [{**LOT, "forecast_error": error}]})
    assert sc.lots[0].forecast_error == error
    params = {"fleet": {"kind": "preset", "name": "seed000", "days": 2}, "seed": 0, "n_chargers": 100,
              "connection_limit_kw": 1000.0, "allocation": "earliest_departure_first", "lot_id": "PL1"}
    exact = initial_lot_state(params)["forecast"]
    wrong = initial_lot_state({**params, "forecast_error": error})["forecast"]
    assert wrong != exact  # what the PLO offers the DSO is its (wrong) forecast
    result = run_scenario(sc, progress=False, plots=False)
    assert result.kpis and (result.run_dir / "manifest.json").is_file()
    perfect = run_scenario(parse_scenario({"name": "perfect", "output_dir": str(tmp_path / "p"), "days": 1,
                                           "controller": {"name": "none"}, "lots": [LOT]}),
                           progress=False, plots=False)
    # the EVs that came are the fleet's, whatever the operator expected (an EV's last row is its final state)
    ours, theirs = (pd.read_csv(r.run_dir / "evs.csv").drop_duplicates("ev_id", keep="last").sort_values("ev_id")
                    for r in (result, perfect))
    assert len(ours) == len(theirs) > 0
    for column in ("ev_id", "arrival_h", "departure_h", "capacity_kwh", "energy_requested_kwh"):
        np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy())


@pytest.mark.parametrize("error, field", [
    ({"source": "elaadnl", "segment": "home", "share": 0.3}, "lots[0].forecast_error.segment"),
    ({"source": "elaadnl", "segment": "public", "share": 1.2}, "lots[0].forecast_error.share"),
    ({"source": "elaadnl", "segment": "public", "share": -0.1}, "lots[0].forecast_error.share"),
    ({"source": "elaadnl", "segment": "public", "share": "all"}, "lots[0].forecast_error.share"),
    ({"source": "elaadnl", "share": 0.3}, "lots[0].forecast_error.segment"),
    ({"source": "elaadnl", "segment": "public", "share": 0.3, "sigma": 1}, "lots[0].forecast_error.sigma"),
    ({"source": "survey"}, "lots[0].forecast_error.source"),
])
@pytest.mark.slow
def test_bad_elaadnl_settings_exit_2_naming_the_field(tmp_path, error, field):
    def toml(value):
        return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value

    table = ", ".join(f"{k} = {toml(v)}" for k, v in error.items())
    (tmp_path / "s.toml").write_text(f'[[lots]]\nid = "PL1"\nbus = 18\nfleet = "seed000"\n'
                                     f"forecast_error = {{ {table} }}\n")
    res = subprocess.run([sys.executable, "-m", "cosim.cli", "run", "s.toml", "--output", "out"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"s.toml: {field}: " in lines[0]
    assert not (tmp_path / "out").exists()
