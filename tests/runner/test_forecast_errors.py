"""Forecast errors as scenario settings: the market's noisy load and price forecasts, EV arrivals, departures and
energies that differ from the PLO's forecast, their checks in the scenario file, and the control KPIs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cosim.config import ScenarioFileError, parse_scenario
from cosim.runner.compare import CONTROL_LEVELS, control_variants
from cosim.runner.postprocess import switch_operations
from simulators.market.forecast_noise import noisy_forecast
from simulators.market.simulator import MarketSim
from simulators.parking.forecast import ForecastError, ForecastView, day_ahead_forecast
from simulators.parking.lot import ParkingLot
from simulators.parking.presets import preset_fleet
from simulators.parking.simulator import ParkingConfigError, forecast_view

LOT = {"id": "PL1", "bus": 18, "fleet": "seed000"}


# -- market forecasts ------------------------------------------------------------------------------------------
def test_market_noise_is_seeded_multiplicative_and_grows_with_lead_time():
    actual = np.full(24, 2.0)
    assert noisy_forecast(actual, 0.0, 0, "load", 5) == actual.tolist()
    a, b = noisy_forecast(actual, 0.1, 0, "load", 5), noisy_forecast(actual, 0.1, 0, "load", 5)
    assert a == b and a != actual.tolist()
    assert noisy_forecast(actual, 0.1, 1, "load", 5) != a  # another seed
    assert noisy_forecast(actual, 0.1, 0, "price", 5) != a  # prices draw their own errors
    errors = np.array([np.array(noisy_forecast(actual, 0.2, 0, "load", t)) / 2.0 - 1.0 for t in range(2000)])
    std = errors.std(axis=0)
    assert std[-1] == pytest.approx(0.2, rel=0.1)  # sigma is the 24-hour-ahead error
    assert std[0] == pytest.approx(0.2 / np.sqrt(24), rel=0.1)
    assert np.all(np.diff(std[::6]) > 0)
    assert errors.min() >= -0.9


def test_market_forecasts_are_noisy_and_the_actual_values_are_not():
    exact, noisy = MarketSim(), MarketSim()
    for sim, noise in ((exact, None), (noisy, {"load_sigma": 0.1, "price_sigma": 0.2})):
        sim.init("m")
        sim.create(1, "Market", profile="seed000", days=2, nominal_load_kw=3715.0, forecast_noise=noise, seed=3)
        sim.step(7, {}, 100)
    attrs = {"Market_0": ["energy_price", "load_scaling", "price_forecast", "load_scaling_forecast"]}
    e, n = exact.get_data(attrs)["Market_0"], noisy.get_data(attrs)["Market_0"]
    assert (n["energy_price"], n["load_scaling"]) == (e["energy_price"], e["load_scaling"])
    for key in ("price_forecast", "load_scaling_forecast"):
        assert n[key] != e[key] and len(n[key]) == 24
        assert np.all(np.abs(np.array(n[key]) / np.array(e[key]) - 1) <= 0.9)


# -- EV forecasts ----------------------------------------------------------------------------------------------
def _lot() -> ParkingLot:
    return ParkingLot(preset_fleet("seed000", days=2, seed=0), n_chargers=100, connection_limit_kw=1000.0)


def test_ev_forecast_errors_change_the_forecast_and_never_the_lot():
    lot = _lot()
    exact = day_ahead_forecast(lot, 0.0)
    arr, dep, e_arr = lot.arr_min.copy(), lot.dep_min.copy(), lot.e_arr.copy()
    assert forecast_view(lot, {}, 0, "PL1") is None and forecast_view(lot, {"energy_sigma": 0.0}, 0, "PL1") is None
    view = forecast_view(lot, {"arrival_sigma_h": 1.0, "departure_sigma_h": 1.0, "energy_sigma": 0.2}, 0, "PL1")
    seen = view.expected(lot)
    assert not np.array_equal(seen.arr_min, arr) and not np.array_equal(seen.e_arr, e_arr)
    assert np.all(seen.dep_min > seen.arr_min)
    wrong = day_ahead_forecast(seen, 0.0)
    assert wrong["max_charge_kw"] != exact["max_charge_kw"]
    np.testing.assert_array_equal(lot.arr_min, arr)  # the lot itself is untouched
    np.testing.assert_array_equal(lot.dep_min, dep)
    np.testing.assert_array_equal(lot.e_arr, e_arr)
    again = ForecastView(lot, ForecastError(1.0, 1.0, 0.2), 0, "PL1").expected(lot)
    np.testing.assert_array_equal(again.arr_min, seen.arr_min)  # seeded


def test_an_arrived_ev_is_known_exactly():
    lot = _lot()
    lot.advance(0.0, 12.0)  # noon: the day's EVs have arrived
    view = ForecastView(lot, ForecastError(arrival_sigma_h=2.0, energy_sigma=0.3), 0, "PL1")
    seen = view.expected(lot)
    arrived = lot.arr_min <= lot._t_min
    np.testing.assert_array_equal(seen.arr_min[arrived], lot.arr_min[arrived])
    np.testing.assert_array_equal(seen.e_arr[arrived], lot.e_arr[arrived])


@pytest.mark.parametrize("bad", [{"arrival_sigma_h": -1.0}, {"speed": 1.0}, {"energy_sigma": float("nan")}, 3])
def test_bad_ev_forecast_errors_are_refused_by_the_lot(bad):
    with pytest.raises(ParkingConfigError, match="forecast_error"):
        forecast_view(_lot(), bad, 0, "PL1")


# -- the scenario file -----------------------------------------------------------------------------------------
def test_settings_are_read_from_the_scenario():
    s = parse_scenario({"controller": {"name": "eo", "switch_operations_per_day": 6},
                        "market": {"forecast_noise": {"load_sigma": 0.1, "price_sigma": 0.05}},
                        "lots": [{**LOT, "forecast_error": {"arrival_sigma_h": 1.5, "energy_sigma": 0.1}}]})
    assert s.switch_operations_per_day == 6
    assert s.forecast_noise == {"load_sigma": 0.1, "price_sigma": 0.05}
    assert s.lots[0].forecast_error == {"arrival_sigma_h": 1.5, "energy_sigma": 0.1}
    default = parse_scenario({"lots": [LOT]})
    assert default.switch_operations_per_day == 0 and default.forecast_noise == {}
    assert default.lots[0].forecast_error == {}


@pytest.mark.parametrize("raw, field", [
    ({"market": {"forecast_noise": {"load_sigma": 1.5}}}, "market.forecast_noise.load_sigma"),
    ({"market": {"forecast_noise": {"load_sigma": -0.1}}}, "market.forecast_noise.load_sigma"),
    ({"market": {"forecast_noise": {"wind_sigma": 0.1}}}, "market.forecast_noise.wind_sigma"),
    ({"market": {"forecast_noise": {"price_sigma": "high"}}}, "market.forecast_noise.price_sigma"),
    ({"market": {"forecast_noise": 0.1}}, "market.forecast_noise"),
    ({"lots": [{**LOT, "forecast_error": {"arrival_sigma_h": 13.0}}]}, "lots[0].forecast_error.arrival_sigma_h"),
    ({"lots": [{**LOT, "forecast_error": {"energy_sigma": 0.95}}]}, "lots[0].forecast_error.energy_sigma"),
    ({"lots": [{**LOT, "forecast_error": {"departure_sigma_h": True}}]}, "lots[0].forecast_error.departure_sigma_h"),
    ({"controller": {"switch_operations_per_day": -1}}, "controller.switch_operations_per_day"),
    ({"controller": {"switch_operations_per_day": 1.5}}, "controller.switch_operations_per_day"),
])
def test_bad_settings_name_the_field(raw, field):
    raw = {"lots": [LOT], **raw}
    with pytest.raises(ScenarioFileError, match=rf"s\.toml: {field.replace('[', r'\[').replace(']', r'\]')}: "):
        parse_scenario(raw, where="s.toml")


@pytest.mark.slow
def test_a_bad_setting_exits_2_with_one_line_before_any_output(tmp_path):
    (tmp_path / "s.toml").write_text('[market]\nforecast_noise = { load_sigma = 2.0 }\n[[lots]]\nid = "PL1"\n'
                                     'bus = 18\nfleet = "seed000"\n')
    res = subprocess.run([sys.executable, "-m", "cosim.cli", "run", "s.toml", "--output", "out"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "market.forecast_noise.load_sigma" in res.stderr
    assert not (tmp_path / "out").exists()


# -- KPIs and the comparison ------------------------------------------------------------------------------------
def test_switch_operations_count_every_opened_and_closed_branch():
    hours = pd.Series(["[33, 34, 35, 36, 37]", "[33, 34, 35, 36, 37]", "[7, 34, 35, 36, 37]",
                       "[7, 9, 35, 36, 37]", "[7, 9, 35, 36, 37]"])
    assert switch_operations(hours) == 4
    assert switch_operations(pd.Series(["[1, 2]"])) == 0


def test_control_variants_raise_every_error_together():
    base = parse_scenario({"lots": [LOT, {**LOT, "id": "PL2"}]})
    variants = control_variants(base, CONTROL_LEVELS)
    assert list(variants) == [f"{c} err {x:g}" for x in CONTROL_LEVELS for c in ("eo", "mpc")]
    zero, high = variants["mpc err 0"], variants["mpc err 0.2"]
    assert zero["forecast_noise"] == {} and all(lot.forecast_error == {} for lot in zero["lots"])
    assert high["forecast_noise"] == {"load_sigma": 0.2, "price_sigma": 0.2}
    assert all(lot.forecast_error == {"arrival_sigma_h": 2.0, "departure_sigma_h": 2.0} for lot in high["lots"])
    assert variants["eo err 0.2"]["controller_options"] == variants["mpc err 0.2"]["controller_options"]
    assert high["switch_operations_per_day"] >= 4
