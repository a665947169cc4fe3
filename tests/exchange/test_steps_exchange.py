"""Payloads, messages and exchange modes at 30- and 15-minute steps: every array has the receiver's number of steps
(`LotRegistration.steps_per_day`), the replay memory covers the same wall time, modes that work only hourly say so."""

import copy

import numpy as np
import pytest
from agent_fixtures import PRICE, SEED000_HOUR_MODE, fleet_forecast
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers.base import LotEconomics
from cosim.errors import InputError
from cosim.exchange import make_exchange_mode
from cosim.exchange.messages import Inbox, wrap
from cosim.exchange.payloads import (
    LotRegistration,
    PayloadError,
    check_fleet,
    check_offer,
    check_schedule,
    check_signal,
    offer_from_payload,
    offer_to_payload,
    schedule_offer,
    schedule_payload,
)
from cosim.timebase import resample
from simulators.parking.fleet import stochastic_fleet
from simulators.parking.forecast import day_ahead_forecast
from simulators.parking.lot import ParkingLot
from simulators.plo.agent import PloAgent, offer_from_forecast

LOT = "lot1"
LIMIT_KW = 1000.0
REG_96 = LotRegistration((18,), LIMIT_KW, steps_per_day=96)
REG_24 = LotRegistration((18,), LIMIT_KW)


def _forecast_96() -> dict:
    """A real lot's day-ahead forecast at 15-minute steps (96 values per array, its fleet over 96 steps)."""
    lot = ParkingLot(stochastic_fleet(30, seed=5), n_chargers=20, connection_limit_kw=300.0)
    return day_ahead_forecast(lot, 0.0, 96, 15)


def _offer_payload_96() -> dict:
    """A lot's full offer at 15-minute steps built from its forecast by the PLO's own `offer_from_forecast` (seed
    000's hourly policy held over each hour's quarters), its fleet attached as the centralised mode sends it."""
    forecast = _forecast_96()
    fleet = forecast.pop("fleet")  # the policy envelope is part A's (`envelope_of` at 15 minutes)
    forecast["hour_mode"] = np.repeat(SEED000_HOUR_MODE, 4).tolist()
    offer = offer_from_forecast(LOT, (18,), forecast, resample(PRICE, 60, 15), LotEconomics())
    return {**offer_to_payload(offer), "fleet": fleet}


def test_offer_round_trip_at_96_steps():
    payload = _offer_payload_96()
    for key in ("hour_mode", "max_charge_kw", "max_discharge_kw", "need_by_hour_kwh"):
        assert len(payload[key]) == 96
    assert payload["fleet"]["hours"] == 96 and payload["fleet"]["step_minutes"] == 15
    check_offer(payload, LOT, REG_96)  # a 96-step receiver takes it
    offer = offer_from_payload(payload, REG_96.candidate_buses)
    np.testing.assert_array_equal(offer.hour_mode, payload["hour_mode"])
    np.testing.assert_allclose(offer.max_charge_kw, payload["max_charge_kw"])
    np.testing.assert_allclose(offer.need_by_hour_kwh, payload["need_by_hour_kwh"])
    assert offer.fleet == payload["fleet"] and offer_to_payload(offer) == payload
    with pytest.raises(PayloadError, match=r"hour_mode: 24 hourly values expected, got 96"):
        check_offer(payload, LOT, REG_24)  # an hourly receiver refuses it


def test_hourly_offer_to_a_96_step_registration_is_refused():
    """The 24-value offer a PLO sends at 60-minute steps, received by a DSO that steps in quarter hours."""
    plo = PloAgent(LOT, (18,), make_exchange_mode("centralised"), hour_mode=SEED000_HOUR_MODE,
                   connection_limit_kw=LIMIT_KW)
    (message,) = plo.start_day(0, fleet_forecast(), PRICE)
    check_offer(message["payload"], LOT, REG_24)
    with pytest.raises(PayloadError, match=r"hour_mode: 96 values \(one per 15-min step\) expected, got 24"):
        check_offer(message["payload"], LOT, REG_96)
    envelope_only = {**message["payload"], "hour_mode": [0] * 96, "max_charge_kw": [0.0] * 96,
                     "max_discharge_kw": [0.0] * 96, "need_by_hour_kwh": None, "fleet": None}
    with pytest.raises(PayloadError, match=r"envelope.p_min_kw: 96 values .* got 24"):
        check_offer(envelope_only, LOT, REG_96)
    own_schedule = schedule_offer(LOT, (18,), np.zeros(24))
    with pytest.raises(PayloadError, match=r"schedule_kw: 96 values"):
        check_offer(own_schedule, LOT, REG_96)
    check_offer(schedule_offer(LOT, (18,), np.zeros(96)), LOT, REG_96)


def test_fleet_must_match_the_receivers_step():
    fleet = _forecast_96()["fleet"]
    check_fleet(fleet, LIMIT_KW, 96)
    with pytest.raises(PayloadError, match=r"fleet.hours"):
        check_fleet(fleet, LIMIT_KW, 24)
    wrong_step = {**copy.deepcopy(fleet), "step_minutes": 30}
    with pytest.raises(PayloadError, match=r"fleet.step_minutes: 15 expected .* got 30"):
        check_fleet(wrong_step, LIMIT_KW, 96)
    no_step = {k: v for k, v in fleet.items() if k != "step_minutes"}  # absent = 60 minutes
    with pytest.raises(PayloadError, match=r"fleet.step_minutes: 15 expected .* got 60"):
        check_fleet(no_step, LIMIT_KW, 96)


def test_schedules_and_signals_have_the_receivers_steps():
    check_schedule(schedule_payload(np.full(96, 10.0), 18), LOT, REG_96)
    with pytest.raises(PayloadError, match=r"setpoints_kw: 96 values .* got 24"):
        check_schedule(schedule_payload(np.full(24, 10.0), 18), LOT, REG_96)
    with pytest.raises(PayloadError, match=r"setpoints_kw: 24 hourly values expected, got 96"):
        check_schedule(schedule_payload(np.full(96, 10.0), 18), LOT, REG_24)
    signal = {"price_adder_usd_per_kwh": [0.01] * 48, "max_import_kw": [1e9] * 48, "max_export_kw": [1e9] * 48}
    check_signal(signal, 48)
    with pytest.raises(PayloadError, match=r"price_adder_usd_per_kwh: 24 hourly values expected, got 48"):
        check_signal(signal)


def test_registration_refuses_a_day_of_other_steps():
    assert REG_96.step_minutes == 15 and LotRegistration((1,), steps_per_day=48).step_minutes == 30
    with pytest.raises(InputError, match=r"steps_per_day=50 is not allowed; allowed: 24, 48, 96"):
        LotRegistration((1,), steps_per_day=50)


def test_plo_at_15_minutes_follows_a_96_step_schedule_and_refuses_a_24_step_one():
    plo = PloAgent(LOT, (18,), make_exchange_mode("centralised"), hour_mode=SEED000_HOUR_MODE,
                   connection_limit_kw=LIMIT_KW, step_minutes=15)
    assert plo.registration.steps_per_day == 96 and plo.inbox.remember_steps == 48 * 4
    assert plo.hour_mode == np.repeat(SEED000_HOUR_MODE, 4).tolist()  # the hourly policy, held over each hour
    setpoints = np.arange(96, dtype=float)
    assert plo.receive(0, wrap("schedule", "DSO", LOT, schedule_payload(setpoints, 18), 0, 0)) == []
    assert plo.events == []
    assert [plo.setpoint_kw(k) for k in (0, 5, 95, 96 + 7)] == [0.0, 5.0, 95.0, 7.0]  # day of 96 steps
    hourly = wrap("schedule", "DSO", LOT, schedule_payload(np.full(24, 50.0), 18), 0, 0)
    assert plo.receive(0, hourly) == []
    assert plo.events[-1]["event"] == "rejected message" and "setpoints_kw: 96 values" in plo.events[-1]["detail"]
    assert plo.setpoint_kw(5) == 5.0  # the lot keeps its schedule
    with pytest.raises(InputError, match=r"hour_mode: 24 hourly values or 96 per-step values expected, got 7"):
        PloAgent(LOT, (18,), make_exchange_mode("centralised"), hour_mode=[1] * 7, step_minutes=15)


def test_replay_memory_covers_the_same_wall_time():
    """48 hours of nonces at any step: a replay 25 hours later (100 quarter hours) is still recognised at 15-minute
    steps; at hourly steps 100 steps are 100 hours, past the window, and the message is stale by its hour."""
    message = wrap("offer", "lot1", "DSO", {"x": 1}, 0, 0)
    quarter, hourly = Inbox("DSO", None, steps_per_hour=4), Inbox("DSO", None)
    assert quarter.check(message, 0) is None and hourly.check(message, 0) is None
    assert quarter.check(message, 100)[0] == "replayed message"
    assert hourly.check(message, 100)[0] == "stale message"
    assert quarter.check(message, 48 * 4 + 1)[0] == "stale message"  # past 48 h: forgotten, stale by its step


@pytest.mark.parametrize("name", ["admm", "iterative"])
def test_hourly_only_modes_refuse_other_steps(name):
    mode = make_exchange_mode(name)
    mode.check_step(24)
    with pytest.raises(InputError, match=rf"exchange mode '{name}' works only with hourly steps .* 96 steps a day"):
        mode.check_step(96)
    with pytest.raises(InputError, match=rf"exchange mode '{name}' works only with hourly steps"):
        PloAgent(LOT, (18,), mode, step_minutes=30)


@pytest.mark.parametrize("name", ["centralised", "none", "signals"])
def test_step_following_modes_take_any_step(name):
    for step in (60, 30, 15):
        plo = PloAgent(LOT, (18,), make_exchange_mode(name), step_minutes=step)
        assert len(plo.schedule_kw) == 24 * 60 // step


@settings(max_examples=30, deadline=None)
@given(receiver=st.sampled_from([24, 48, 96]), sent=st.sampled_from([24, 48, 96]),
       kw=st.floats(-LIMIT_KW, LIMIT_KW))
def test_a_schedule_is_taken_only_at_the_receivers_step(receiver, sent, kw):
    """Whatever the steps of sender and receiver: a schedule of the receiver's length passes, any other is refused
    with a line naming the field and the length expected."""
    registration = LotRegistration((18,), LIMIT_KW, steps_per_day=receiver)
    payload = schedule_payload(np.full(sent, kw), 18)
    if sent == receiver:
        check_schedule(payload, LOT, registration)
    else:
        with pytest.raises(PayloadError, match=rf"setpoints_kw: {receiver} .*expected, got {sent}$"):
            check_schedule(payload, LOT, registration)


def test_the_dso_rebuilds_a_96_step_envelope_at_its_own_step():
    """An envelope payload carries no step: the receiver's 96 steps make it a quarter-hour envelope, whose energy
    bounds are kW x 0.25 h per step (the lot's contracts over the day are the same as at hourly steps)."""
    from cosim.controllers.envelope import envelope_of  # noqa: PLC0415 - part A's envelope at 15 minutes

    fleet = _forecast_96()["fleet"]
    payload = {**_offer_payload_96(), "envelope": envelope_of(fleet).to_payload()}
    check_offer(payload, LOT, REG_96)
    envelope = offer_from_payload(payload, REG_96.candidate_buses).envelope
    assert envelope.step_h == 0.25 and envelope.hours == 96
    lot = ParkingLot(stochastic_fleet(30, seed=5), n_chargers=20, connection_limit_kw=300.0)
    hourly = envelope_of(day_ahead_forecast(lot, 0.0)["fleet"])
    assert envelope.e_min_kwh[-1] == pytest.approx(hourly.e_min_kwh[-1], abs=1e-6)  # the day's contracts
