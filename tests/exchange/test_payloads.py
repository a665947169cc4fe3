"""Payload schemas: every offer, schedule and signal is checked before anything uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.controllers.base import HOURS, LotOffer
from cosim.controllers.plo_scheduler import DsoSignal
from cosim.exchange.messages import _tamper
from cosim.exchange.payloads import (
    LotRegistration,
    PayloadError,
    check_json,
    check_offer,
    check_schedule,
    check_signal,
    misreport,
    offer_from_payload,
    offer_to_payload,
    schedule_offer,
    schedule_payload,
)

LOT = LotRegistration((6, 18, 25), 500.0)


def full() -> dict:
    offer = LotOffer(lot_id="PL1", candidate_buses=(6, 18, 25), n_pev=40, pev_power_kw=11.0, pev_battery_kwh=40.0,
                     hour_mode=np.array([1] * 8 + [0] * 2 + [-1] * 9 + [0] + [1] * 4),
                     max_charge_kw=np.full(HOURS, 400.0), max_discharge_kw=np.full(HOURS, 300.0),
                     energy_need_kwh=800.0, energy_available_kwh=600.0, need_by_hour_kwh=np.linspace(0, 800, HOURS))
    return offer_to_payload(offer)


def own() -> dict:
    return schedule_offer("PL1", (18,), np.linspace(-200, 200, HOURS))


def test_honest_payloads_pass():
    check_offer(full(), "PL1", LOT)
    check_offer({**full(), "need_by_hour_kwh": None}, "PL1", LOT)
    check_offer(own(), "PL1", LOT)
    check_schedule(schedule_payload(np.full(HOURS, -500.0), 25), "PL1", LOT)
    check_schedule(schedule_payload(np.zeros(HOURS), None), "PL1", LOT)
    check_signal(DsoSignal.neutral().to_payload())
    check_json({"bid": [1, 2.5, None, True, "x"], "nested": {"a": {"b": []}}})


@pytest.mark.parametrize("change, why", [
    ({"n_pev": 4.5}, "n_pev: an integer expected"),
    ({"n_pev": True}, "n_pev: an integer expected"),
    ({"pev_power_kw": float("nan")}, "pev_power_kw: not a finite number"),
    ({"pev_battery_kwh": "40"}, "pev_battery_kwh: a number expected"),
    ({"hour_mode": [1] * 23}, "hour_mode: 24 hourly values expected, got 23"),
    ({"hour_mode": [2] * 24}, "hour_mode[0]: 2 outside"),
    ({"max_charge_kw": [float("inf")] * 24}, "max_charge_kw[0]: not a finite number"),
    ({"max_charge_kw": "400"}, "max_charge_kw: 24 hourly values expected"),
    ({"max_discharge_kw": [-1.0] * 24}, "max_discharge_kw[0]: -1.0 outside"),
    ({"energy_need_kwh": -5.0}, "energy_need_kwh: -5.0 outside"),
    ({"energy_need_kwh": 1e308}, "energy_need_kwh"),
    ({"need_by_hour_kwh": [0.0] * 12}, "need_by_hour_kwh: 24 hourly values"),
    ({"economics": {"mu_e": 0.9}}, "economics: missing field(s)"),
    ({"economics": {"mu_e": 0.0, "cost_e_usd_per_kwh": 0.1, "cost_ca_usd_per_pev_day": 0.4}}, "economics.mu_e"),
    ({"candidate_buses": [2]}, "candidate_buses [2] not within the registered [6, 18, 25] of 'PL1'"),
    ({"candidate_buses": []}, "candidate_buses: a non-empty list"),
    ({"candidate_buses": [18, 18]}, "not within"),
    ({"lot_id": "PL2"}, "'PL1' offered for lot 'PL2'"),
    ({"surprise": 1}, "unknown field(s) ['surprise']"),
])
def test_malformed_full_offers_are_refused(change, why):
    with pytest.raises(PayloadError) as info:
        check_offer({**full(), **change}, "PL1", LOT)
    assert why in str(info.value) and info.value.event == "rejected message"


def test_missing_fields_are_refused():
    payload = full()
    del payload["hour_mode"]
    with pytest.raises(PayloadError, match="missing field"):
        check_offer(payload, "PL1", LOT)
    with pytest.raises(PayloadError, match="not a table"):
        check_offer([1, 2], "PL1", LOT)


@pytest.mark.parametrize("key", ["max_charge_kw", "max_discharge_kw"])
def test_power_beyond_the_connection_limit_is_implausible(key):
    with pytest.raises(PayloadError, match="beyond the registered 500 kW") as info:
        check_offer({**full(), key: [501.0] * HOURS}, "PL1", LOT)
    assert info.value.event == "implausible offer"
    check_offer({**full(), key: [500.0] * HOURS}, "PL1", LOT)  # at the limit: fine


def test_schedule_offers_are_checked():
    check_offer({**own(), "schedule_kw": [-500.0] * HOURS}, "PL1", LOT)
    for change, why in [({"schedule_kw": [501.0] * HOURS}, "beyond the registered"),
                        ({"schedule_kw": [math.nan] * HOURS}, "not a finite number"),
                        ({"schedule_kw": [1.0] * 25}, "24 hourly values"),
                        ({"candidate_buses": [33]}, "not within"),
                        ({"max_charge": 1}, "unknown field")]:
        with pytest.raises(PayloadError, match=why.replace("(", r"\(")):
            check_offer({**own(), **change}, "PL1", LOT)


@pytest.mark.parametrize("payload, why", [
    ({"setpoints_kw": [600.0] * HOURS, "bus": 18}, "beyond the registered 500 kW"),
    ({"setpoints_kw": [1.0] * HOURS, "bus": 2}, "bus 2 is not among the registered candidates"),
    ({"setpoints_kw": [1.0] * HOURS, "bus": "18"}, "bus '18'"),
    ({"setpoints_kw": [1.0] * 23, "bus": 18}, "24 hourly values"),
    ({"setpoints_kw": [1.0] * HOURS}, "missing field"),
])
def test_bad_schedules_are_refused(payload, why):
    with pytest.raises(PayloadError, match=why):
        check_schedule(payload, "PL1", LOT)


@pytest.mark.parametrize("change, why", [
    ({"price_adder_usd_per_kwh": [math.inf] * HOURS}, "not a finite number"),
    ({"price_adder_usd_per_kwh": [1e7] * HOURS}, "outside"),
    ({"max_import_kw": [-1.0] * HOURS}, "outside"),
    ({"max_export_kw": [2e9] * HOURS}, "outside"),
    ({"max_export_kw": None}, "24 hourly values"),
])
def test_bad_signals_are_refused(change, why):
    with pytest.raises(PayloadError, match=why):
        check_signal({**DsoSignal.neutral().to_payload(), **change})


@pytest.mark.parametrize("payload", [{"x": math.nan}, {"x": [object()]}, {1: "a"}, {"x": {"y": math.inf}}])
def test_a_modes_own_payloads_must_be_plain_json(payload):
    with pytest.raises(PayloadError):
        check_json(payload)


def test_tampered_payloads_never_pass_unnoticed_as_registered_buses():
    """Without authentication, the channel's tampering (every number doubled) moves buses off the registered
    ones, so the checks catch it in offers and schedules."""
    with pytest.raises(PayloadError, match="not within"):
        check_offer(_tamper(full()), "PL1", LOT)
    with pytest.raises(PayloadError, match="not within"):
        check_offer(_tamper(own()), "PL1", LotRegistration((18,), 500.0))
    with pytest.raises(PayloadError, match="bus 36"):
        check_schedule(_tamper(schedule_payload(np.full(HOURS, 10.0), 18)), "PL1", LOT)


def test_misreport_stays_within_the_schema_but_not_the_limit():
    lie = misreport(full(), 2.0)
    with pytest.raises(PayloadError) as info:
        check_offer(lie, "PL1", LOT)
    assert info.value.event == "implausible offer"


def test_the_dso_sites_lots_at_their_registered_candidates():
    payload = {**full(), "candidate_buses": [18]}
    assert offer_from_payload(payload).candidate_buses == (18,)
    assert offer_from_payload(payload, LOT.candidate_buses).candidate_buses == (6, 18, 25)


class _Int(int):
    """An int subclass: valid for `_number`, so the at-once check must hand it to the one-by-one one."""


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("values", [
    [0.5, 1, 2.0], [1, 2, 3], [], [0.0, -0.0, 5e3], [True, 1.0], [1.0, math.nan], [1.0, math.inf], [2.0, -1.0],
    [1.0, 2e4], [2**53 - 1, 1], [2**53], [-(2**53)], [10**400], [_Int(3), 1], ["1", 2.0], [None], [1.0, [2.0]],
    [1e4, 1e4 + 1e-9], [np.float64(1.0)],
])
def test_lists_checked_at_once_pass_and_fail_as_checked_one_by_one(values, integer):
    """`_hourly`/`_each_number` check a whole list at once where they can; the outcome (the array, or the first
    failing value's error) is exactly the element-by-element `_number` one."""
    from cosim.exchange.payloads import _each_number, _hourly, _number  # noqa: PLC0415 - the internals under test

    low, high = 0.0, 1e4

    def one_by_one():
        return np.array([_number(v, f"x[{h}]", low, high, integer) for h, v in enumerate(values)],
                        dtype=int if integer else float)

    try:
        expected = one_by_one()
    except PayloadError as exc:
        with pytest.raises(PayloadError) as got:
            _hourly(values, "x", low, high, integer, n=len(values))
        assert str(got.value) == str(exc) and got.value.event == exc.event
        with pytest.raises(PayloadError):
            _each_number(values, "x[]", low, high, integer)
        return
    got = _hourly(values, "x", low, high, integer, n=len(values))
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    _each_number(values, "x[]", low, high, integer)
