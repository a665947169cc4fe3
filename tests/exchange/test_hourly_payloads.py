"""The payloads of hour-by-hour control: a revised schedule's `start_hour` and an hourly offer's `measured`
figures, checked as strictly as every other field."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.controllers.base import HOURS, LotOffer
from cosim.exchange.payloads import (
    LotRegistration,
    PayloadError,
    check_offer,
    check_schedule,
    measured_payload,
    offer_to_payload,
    schedule_payload,
)

LOT = LotRegistration((18,), 500.0)


def _offer(**changes):
    offer = LotOffer("PL1", (18,), 10, 10.0, 40.0, np.ones(HOURS, int), np.full(HOURS, 50.0), np.zeros(HOURS),
                     energy_need_kwh=100.0, energy_available_kwh=0.0)
    return {**offer_to_payload(offer), **changes}


def test_a_revised_schedule_names_its_start_hour():
    payload = schedule_payload([1.0] * HOURS, 18, start_hour=30)
    assert payload["start_hour"] == 30
    check_schedule(payload, "PL1", LOT)
    check_schedule(schedule_payload([1.0] * HOURS, 18), "PL1", LOT)  # a day-ahead schedule has none


@pytest.mark.parametrize("start", [-1, 2.5, "5", True, None])
def test_a_bad_start_hour_is_rejected(start):
    with pytest.raises(PayloadError, match="start_hour"):
        check_schedule({**schedule_payload([1.0] * HOURS, 18), "start_hour": start}, "PL1", LOT)


def test_an_hourly_offer_carries_measurements():
    check_offer(_offer(measured=measured_payload(4, 120.0, 35.5)), "PL1", LOT)
    check_offer(_offer(), "PL1", LOT)  # a day-ahead offer has none


@pytest.mark.parametrize("measured, words", [
    ({"evs_present": 4, "energy_stored_kwh": 1.0}, "missing"),
    ({"evs_present": 4, "energy_stored_kwh": 1.0, "energy_charged_kwh": 0.0, "soc": 1}, "unknown"),
    ({"evs_present": -1, "energy_stored_kwh": 1.0, "energy_charged_kwh": 0.0}, "evs_present"),
    ({"evs_present": 4, "energy_stored_kwh": float("nan"), "energy_charged_kwh": 0.0}, "energy_stored_kwh"),
    ({"evs_present": 4, "energy_stored_kwh": 1.0, "energy_charged_kwh": 1e9}, "energy_charged_kwh"),
    ([1, 2, 3], "not a table"),
])
def test_bad_measurements_are_rejected(measured, words):
    with pytest.raises(PayloadError, match=words):
        check_offer(_offer(measured=measured), "PL1", LOT)


def test_a_schedule_offer_cannot_carry_measurements():
    with pytest.raises(PayloadError, match="unknown"):
        check_offer({"lot_id": "PL1", "candidate_buses": [18], "schedule_kw": [0.0] * HOURS,
                     "measured": measured_payload(1, 1.0, 1.0)}, "PL1", LOT)
