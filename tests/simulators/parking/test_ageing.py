"""Battery ageing per visit (`cosim.controllers.ageing`, Schmalstieg et al. 2014 as in EV2Gym): what the lot reports
at each departure, per visit and per vehicle, and its parameters' checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.controllers.ageing import CELL_AH, AgeingError, AgeingModel
from simulators.parking.ev import EV
from simulators.parking.lot import ParkingLot


def _hand_loss_kwh(cap: float, mean_soc: float, days: float, age_days: float, throughput_kwh: float, dod: float,
                   prior_ah: float) -> tuple[float, float]:
    """EV2Gym's `get_battery_degradation` written out (cyclic throughput per cell from the EV's own battery)."""
    v = 3.3324 + 0.8263 * mean_soc
    alpha = (7.543e6 * v - 23.75e6) * math.exp(-6976 / 298.15)
    d_cal = alpha * 0.75 * days / age_days ** 0.25
    beta = 7.348e-3 * (3.3324 + 0.8263 * 0.5 - 3.667) ** 2 + 7.6e-4 + 4.081e-3 * dod
    d_cyc = beta * 0.5 * (throughput_kwh / cap * 2.05) / math.sqrt(prior_ah)
    return d_cal * cap, d_cyc * cap


def test_a_visit_reports_the_calendar_and_cyclic_loss_of_the_model():
    """A 60 kWh EV plugged 8 h, charged 10 kWh (battery side) in the first hour then idle: its row holds the loss the
    formulas give for its mean SOC, its throughput and its SOC swing."""
    lot = ParkingLot([EV("a", 0.0, 8.0, 60.0, 10.0, 0.5, vehicle_id="car1")])
    lot.advance(10.0, 1.0)
    for h in range(2, 9):
        lot.advance(0.0, float(h))
    row = lot.sessions()[0]
    mean_soc = ((0.5 + 40.0 / 60.0) / 2.0 * 1.0 + 40.0 / 60.0 * 7.0) / 8.0  # an hour's ramp, then 7 h full
    model = AgeingModel()
    cal, cyc = _hand_loss_kwh(60.0, mean_soc, 8.0 / 24.0, 730.0, 10.0, 10.0 / 60.0,
                              float(model.prior_throughput_ah(60.0)))
    assert row["capacity_lost_calendar_kwh"] == pytest.approx(cal, rel=1e-6)
    assert row["capacity_lost_cyclic_kwh"] == pytest.approx(cyc, rel=1e-6)
    assert row["capacity_lost_kwh"] == pytest.approx(cal + cyc, rel=1e-6)
    assert row["battery_degradation_usd"] == pytest.approx((cal + cyc) * 115.0, rel=1e-6)
    assert row["vehicle_id"] == "car1"
    assert 1e-4 < row["capacity_lost_kwh"] < 0.05  # thousandths of a kWh a visit, not kWh


def test_a_vehicle_ages_across_its_visits():
    """The same car on two days: its second visit starts from the throughput of its first (a smaller cyclic loss for
    the same energy) and on a battery a day older; the vehicle's total adds both."""
    evs = [EV("car1-d0", 8.0, 17.0, 60.0, 10.0, 0.3, vehicle_id="car1"),
           EV("car1-d1", 32.0, 41.0, 60.0, 10.0, 0.3, vehicle_id="car1"),
           EV("solo", 32.0, 41.0, 60.0, 10.0, 0.3)]
    lot = ParkingLot(evs, allocation="earliest_departure_first")
    for h in range(1, 43):
        lot.advance(20.0 if h in (10, 34) else 0.0, float(h))
    rows = {r["ev_id"]: r for r in lot.sessions()}
    first, second, solo = rows["car1-d0"], rows["car1-d1"], rows["solo"]
    assert first["energy_delivered_battery_kwh"] == pytest.approx(second["energy_delivered_battery_kwh"])
    assert second["capacity_lost_cyclic_kwh"] < solo["capacity_lost_cyclic_kwh"]  # its cells have moved more
    assert second["vehicle_capacity_lost_kwh"] == pytest.approx(first["capacity_lost_kwh"]
                                                                + second["capacity_lost_kwh"])
    assert solo["vehicle_id"] == "solo" and solo["vehicle_capacity_lost_kwh"] == solo["capacity_lost_kwh"]


def test_wear_per_kwh_is_the_cyclic_term_at_the_run_start():
    model = AgeingModel()
    cap = 57.5
    expected = model.cyclic_fraction(1.0, cap, 0.5, model.prior_throughput_ah(cap)) * cap * 115.0
    assert model.wear_usd_per_kwh(cap) == pytest.approx(float(expected))
    assert 0.005 < model.wear_usd_per_kwh(cap) < 0.05  # cents per kWh, against seed 000's flat 0.125 $/kWh
    assert AgeingModel(battery_cost_usd_per_kwh=0.0).wear_usd_per_kwh(cap) == 0.0
    assert float(model.prior_throughput_ah(78.0)) == pytest.approx(2 * 730 * 15000 / 365 * 0.186 * CELL_AH / 78)


@pytest.mark.parametrize("field, value", [("battery_cost_usd_per_kwh", -1.0), ("kwh_per_km", -0.1),
                                          ("age_days", float("nan")), ("km_per_year", True)])
def test_bad_degradation_parameters_are_refused(field, value):
    with pytest.raises(AgeingError, match=field):
        AgeingModel(**{field: value})


def test_departed_rows_only_carry_a_loss():
    lot = ParkingLot([EV("a", 0.0, 5.0, 60.0, 10.0, 0.5)])
    lot.advance(5.0, 1.0)
    assert lot.sessions()[0]["capacity_lost_kwh"] is None and np.isnan(lot.lost_cal_kwh[0])
