"""The PLO agent without mosaik: its offer, how it follows or answers the DSO, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from agent_fixtures import (
    PRICE,
    SEED000_HOUR_MODE,
    event_names,
    fleet_forecast,
    keys_for,
    message,
    plo_keys,
    simple_forecast,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers.base import HOURS
from cosim.controllers.envelope import envelope_of, unreachable_kwh
from cosim.controllers.plo_scheduler import DsoSignal, plo_profit_schedule
from cosim.exchange import make_exchange_mode
from cosim.exchange.messages import ChannelFaults, verify
from cosim.exchange.payloads import schedule_payload
from simulators.parking.fleet import stochastic_fleet
from simulators.parking.lot import ParkingLot
from simulators.plo.agent import PloAgent, policy_envelope

LOT = "lot1"


def make_plo(mode: str = "centralised", keys: dict | None = None, hour_mode=SEED000_HOUR_MODE, **kw) -> PloAgent:
    keys = keys_for() if keys is None else keys
    return PloAgent(LOT, (18,), make_exchange_mode(mode), keys=plo_keys(keys, LOT), hour_mode=hour_mode, **kw)


def from_dso(kind: str, payload: dict, keys: dict, hour: int = 0, round_: int = 0, receiver: str = LOT,
             delayed: bool = False) -> dict:
    return message("DSO", receiver, kind, payload, keys["DSO"], hour, round_, delayed)


def neutral_with(adder: np.ndarray, max_import=None) -> DsoSignal:
    inf = np.full(HOURS, np.inf)
    return DsoSignal(np.asarray(adder, float), inf if max_import is None else np.asarray(max_import, float), inf)


# -- the day-ahead offer ---------------------------------------------------------------------------------------

def test_centralised_offer_carries_the_fleet_forecast():
    keys = keys_for()
    plo = make_plo("centralised", keys)
    forecast = fleet_forecast()
    out = plo.start_day(0, forecast, PRICE)
    assert len(out) == 1
    (m,) = out
    assert (m["kind"], m["sender"], m["receiver"], m["round"], m["hour"]) == ("offer", LOT, "DSO", 0, 0)
    assert verify(m, "DSO", keys["DSO"]) is None  # signed with the lot's key
    p = m["payload"]
    assert p["lot_id"] == LOT and p["candidate_buses"] == [18]
    assert p["hour_mode"] == SEED000_HOUR_MODE
    # the envelope: the fleet's EVs under the lot's policy (charge in charge hours, discharge in discharge hours)
    envelope = policy_envelope(forecast["fleet"], np.asarray(SEED000_HOUR_MODE))
    assert p["envelope"] == envelope.to_payload()
    np.testing.assert_allclose(p["max_charge_kw"], np.maximum(envelope.p_max_kw, 0.0))
    np.testing.assert_allclose(p["max_discharge_kw"], np.maximum(-envelope.p_min_kw, 0.0))
    mode = np.asarray(SEED000_HOUR_MODE)
    assert np.all(np.asarray(p["max_charge_kw"])[mode <= 0] == 0.0)  # no charging outside charge hours
    assert np.all(np.asarray(p["max_discharge_kw"])[mode >= 0] == 0.0)
    assert np.all(np.asarray(p["max_charge_kw"]) <= np.asarray(forecast["max_charge_kw"]) + 1e-9)
    assert p["energy_need_kwh"] == pytest.approx(forecast["energy_need_kwh"])
    assert p["energy_available_kwh"] == pytest.approx(forecast["energy_available_kwh"])
    assert p["n_pev"] == forecast["n_pev"]
    # the lot's own profit-maximising schedule stands until the DSO answers; it meets the contracts
    assert plo.schedule_kw.shape == (HOURS,)
    assert np.maximum(plo.schedule_kw, 0).sum() * plo.economics.mu_e >= forecast["energy_need_kwh"] - 1e-6
    assert plo.events == []


@pytest.mark.parametrize("policy", ["seed000", "discharge all day"])
def test_the_policy_envelope_is_the_restricted_one_unless_the_policy_costs_contracts(policy):
    """The policy's envelope when it misses no more contract energy than physics does (then the physical envelope
    is not even built: the restricted one has no shortfall), else the physical one with a note."""
    fleet = fleet_forecast()["fleet"]
    mode = np.asarray(SEED000_HOUR_MODE) if policy == "seed000" else -np.ones(HOURS, int)
    restricted, physical = envelope_of(fleet, mode), envelope_of(fleet)
    got = policy_envelope(fleet, mode)
    if restricted.shortfall_kwh > physical.shortfall_kwh + 1e-6:
        assert policy == "discharge all day" and got.to_payload() == physical.to_payload()
        assert "hour modes would miss" in got.notes[-1]
    else:
        assert policy == "seed000" and restricted.shortfall_kwh <= 1e-6
        assert got.to_payload() == restricted.to_payload() and got.notes == restricted.notes


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(20, 120), st.integers(0, 20), st.sampled_from([1, 4]),
       st.lists(st.sampled_from([-1, 0, 1]), min_size=24, max_size=24))
def test_the_policy_envelope_is_the_rules_choice_and_its_cheap_bound_never_exceeds_the_shortfall(
        seed, n_evs, start_h, chargers_per_ten, hour_mode):
    """Drawn fleets and hour modes: `unreachable_kwh` (what lets `policy_envelope` skip building the policy's
    envelope) is never above that envelope's shortfall, and `policy_envelope` returns what the rule says - the
    policy's envelope unless it misses more contract energy than the physical one, then the physical one with a
    note - exactly as when both envelopes are built."""
    lot = ParkingLot(stochastic_fleet(n_evs, seed=seed), n_chargers=max(1, n_evs * chargers_per_ten // 10),
                     connection_limit_kw=500.0)
    fleet, _ = lot.fleet_view(float(start_h))
    mode = np.asarray(hour_mode)
    restricted, physical = envelope_of(fleet, mode), envelope_of(fleet)
    assert unreachable_kwh(fleet, mode) <= restricted.shortfall_kwh
    assert unreachable_kwh(fleet) <= physical.shortfall_kwh
    got = policy_envelope(fleet, mode)
    expected = physical if restricted.shortfall_kwh > physical.shortfall_kwh + 1e-6 else restricted
    assert got.to_payload() == expected.to_payload() and got.step_h == expected.step_h
    if expected is physical:
        assert got.notes[-1].startswith("hour modes would miss") and got.notes[:-1] == physical.notes
    else:
        assert got.notes == restricted.notes


@pytest.mark.parametrize("mode", ["signals", "iterative"])
def test_signal_modes_offer_the_own_schedule(mode):
    keys = keys_for()
    plo = make_plo(mode, keys)
    forecast = fleet_forecast()
    (m,) = plo.start_day(24, forecast, PRICE)
    assert m["kind"] == "offer" and m["round"] == 0 and m["hour"] == 24
    assert verify(m, "DSO", keys["DSO"]) is None
    assert "max_charge_kw" not in m["payload"]  # no fleet data leaves the PLO
    np.testing.assert_allclose(m["payload"]["schedule_kw"], plo.schedule_kw)
    expected, profit = plo_profit_schedule(plo.offer, PRICE)
    np.testing.assert_allclose(plo.schedule_kw, expected, atol=1e-6)
    assert plo.planned_profit_usd == pytest.approx(profit)
    assert any(plo.schedule_kw > 0) and any(plo.schedule_kw < 0)  # charges at night, gives back by day


def test_mode_none_sends_nothing_and_follows_its_own_schedule():
    plo = make_plo("none")
    forecast = fleet_forecast()
    assert plo.start_day(0, forecast, PRICE) == []
    assert plo.channel.records == []
    expected, _ = plo_profit_schedule(plo.offer, PRICE)
    assert [plo.setpoint_kw(h) for h in range(HOURS)] == pytest.approx(expected.tolist(), abs=1e-6)
    assert plo.tariff(5) == 0.0


def test_without_hour_mode_the_offer_follows_the_price_median():
    plo = make_plo("centralised", hour_mode=None)
    (m,) = plo.start_day(0, simple_forecast(need_kwh=100.0), PRICE)
    assert m["payload"]["hour_mode"] == np.where(PRICE <= np.median(PRICE), 1, -1).tolist()


def test_lost_offer_is_logged_but_not_delivered():
    plo = make_plo("centralised", faults=ChannelFaults(loss=1.0))
    assert plo.start_day(0, fleet_forecast(), PRICE) == []
    (record,) = plo.channel.records
    assert record.kind == "offer" and record.delivered is False and record.size_bytes > 0


def test_without_keys_messages_are_unsigned_and_accepted():
    plo = PloAgent(LOT, (18,), make_exchange_mode("centralised"), hour_mode=SEED000_HOUR_MODE)
    (m,) = plo.start_day(0, fleet_forecast(), PRICE)
    assert "sig" not in m
    setpoints = plo.offer.envelope.project(np.full(HOURS, 3.0))  # a schedule the lot's EVs can take
    assert plo.receive(0, message("DSO", LOT, "schedule", schedule_payload(setpoints, 18), None)) == []
    assert plo.setpoint_kw(7) == pytest.approx(setpoints[7]) and plo.events == []


# -- following the DSO ----------------------------------------------------------------------------------------

def test_centralised_schedule_is_followed_from_the_day_start():
    keys = keys_for()
    plo = make_plo("centralised", keys)
    plo.start_day(24, fleet_forecast(start_h=24.0), PRICE)
    setpoints = plo.offer.envelope.project(np.arange(HOURS, dtype=float) * 2.5 - 20.0)  # inside the envelope
    replies = plo.receive(24, from_dso("schedule", schedule_payload(setpoints, 18), keys, hour=24))
    assert replies == []  # a schedule needs no answer
    assert [plo.setpoint_kw(24 + h) for h in range(HOURS)] == pytest.approx(setpoints.tolist())
    assert plo.setpoint_kw(48) == pytest.approx(setpoints[0])  # hours are taken modulo the day
    assert plo.events == []


def test_a_schedule_beyond_what_the_evs_can_take_is_clipped_by_the_plo_and_logged():
    keys = keys_for()
    plo = make_plo("centralised", keys)
    plo.start_day(0, fleet_forecast(), PRICE)
    envelope = plo.offer.envelope
    greedy = np.full(HOURS, 1000.0)  # the connection limit every hour: far more than ten EVs can store
    plo.receive(0, from_dso("schedule", schedule_payload(greedy, 18), keys))
    followed = np.array([plo.setpoint_kw(h) for h in range(HOURS)])
    np.testing.assert_allclose(followed, envelope.project(greedy))
    assert float(envelope.violation_kwh(followed)) <= 1e-6
    (event,) = plo.events
    assert event["event"] == "schedule clipped" and "more than the lot's EVs can take" in event["detail"]


@pytest.mark.parametrize("round_", [0, 2])
def test_signal_gives_a_reoptimised_schedule_and_a_revised_offer(round_):
    keys = keys_for()
    plo = make_plo("signals", keys)
    plo.start_day(24, fleet_forecast(start_h=24.0), PRICE)
    before = plo.schedule_kw.copy()
    adder = np.zeros(HOURS)
    charging = np.flatnonzero(before > 1.0)
    adder[charging] = 0.2  # the lot's own charging hours become dear
    signal = neutral_with(adder)
    replies = plo.receive(24, from_dso("signal", signal.to_payload(), keys, hour=24, round_=round_))
    assert len(replies) == 1
    (reply,) = replies
    assert (reply["kind"], reply["sender"], reply["receiver"], reply["round"]) == ("offer", LOT, "DSO", round_ + 1)
    assert verify(reply, "DSO", keys["DSO"]) is None
    expected, _ = plo_profit_schedule(plo.offer, PRICE, DsoSignal.from_payload(signal.to_payload()))
    np.testing.assert_allclose(plo.schedule_kw, expected, atol=1e-6)
    np.testing.assert_allclose(reply["payload"]["schedule_kw"], plo.schedule_kw)
    assert not np.allclose(plo.schedule_kw, before)  # charging moved out of the dear hours
    assert np.all(plo.schedule_kw[charging] <= before[charging] + 1e-6)
    assert [plo.tariff(24 + h) for h in range(HOURS)] == pytest.approx(adder.tolist())
    assert plo.setpoint_kw(24 + int(charging[0])) == pytest.approx(expected[charging[0]])
    # the next day starts without the DSO's adders
    plo.start_day(48, fleet_forecast(start_h=24.0), PRICE)
    assert plo.tariff(50) == 0.0


def test_signal_import_limits_are_respected():
    keys = keys_for()
    plo = make_plo("iterative", keys)
    plo.start_day(0, simple_forecast(need_kwh=300.0), PRICE)
    limit = np.full(HOURS, 40.0)
    plo.receive(0, from_dso("signal", neutral_with(np.zeros(HOURS), limit).to_payload(), keys))
    assert np.all(plo.schedule_kw <= 40.0 + 1e-6)
    assert np.maximum(plo.schedule_kw, 0).sum() * plo.economics.mu_e == pytest.approx(300.0, rel=1e-6)


# -- what the PLO refuses -------------------------------------------------------------------------------------

def _forged(keys):
    return message("DSO", LOT, "schedule", schedule_payload(np.full(HOURS, 99.0), 18), keys[LOT])  # not the DSO's key


def _tampered(keys):
    m = from_dso("schedule", schedule_payload(np.full(HOURS, 99.0), 18), keys)
    m["payload"] = {**m["payload"], "setpoints_kw": [500.0] * HOURS}
    return m


def _unknown_sender(keys):
    return message("lot2", LOT, "schedule", schedule_payload(np.full(HOURS, 99.0), 18), keys["lot2"])


def _other_lot(keys):
    return from_dso("schedule", schedule_payload(np.full(HOURS, 99.0), 25), keys, receiver="lot2")


def _delayed(keys):
    return from_dso("schedule", schedule_payload(np.full(HOURS, 99.0), 18), keys, hour=3, delayed=True)


def _marked_delayed_on_the_path(keys):
    return {**from_dso("schedule", schedule_payload(np.full(HOURS, 99.0), 18), keys, hour=3), "delayed": True}


@pytest.mark.parametrize("build, why", [
    (_forged, "bad signature"), (_tampered, "bad signature"), (_unknown_sender, "unknown sender"),
    (_other_lot, "addressed to 'lot2'"), (_delayed, "after the day-ahead gate"),
    (_marked_delayed_on_the_path, "bad signature from 'DSO'"),
], ids=["forged", "tampered", "unknown-sender", "other-lot", "delayed", "delayed-mark-forged"])
def test_bad_dso_messages_are_rejected_with_an_event(build, why):
    keys = keys_for()
    plo = make_plo("centralised", keys)
    plo.start_day(0, fleet_forecast(), PRICE)
    own = plo.schedule_kw.copy()
    assert plo.receive(3, build(keys)) == []
    np.testing.assert_array_equal(plo.schedule_kw, own)  # the lot keeps its own schedule
    (event,) = plo.events
    assert event["event"] == "rejected message" and event["source"] == LOT and event["hour"] == 3
    assert why in event["detail"]


def test_rejected_signal_neither_answers_nor_sets_a_tariff():
    keys = keys_for()
    plo = make_plo("signals", keys)
    plo.start_day(0, fleet_forecast(), PRICE)
    m = from_dso("signal", neutral_with(np.full(HOURS, 0.3)).to_payload(), keys, delayed=True)
    assert plo.receive(0, m) == []
    assert plo.tariff(4) == 0.0
    assert event_names(plo.events) == ["rejected message"]


# -- infeasible schedules and misreporting ---------------------------------------------------------------------

def test_infeasible_own_schedule_leaves_the_lot_idle():
    keys = keys_for()
    plo = make_plo("centralised", keys)
    charge_hours = sum(1 for m in SEED000_HOUR_MODE if m > 0)
    impossible = simple_forecast(max_charge_kw=50.0, need_kwh=0.9 * 50.0 * charge_hours + 100.0)
    out = plo.start_day(0, impossible, PRICE)
    assert len(out) == 1 and out[0]["kind"] == "offer"  # the DSO still gets the offer
    np.testing.assert_array_equal(plo.schedule_kw, np.zeros(HOURS))
    assert [plo.setpoint_kw(h) for h in range(HOURS)] == [0.0] * HOURS
    (event,) = plo.events
    assert event["event"] == "PLO schedule infeasible" and event["source"] == LOT and event["hour"] == 0
    assert "idle" in event["detail"]


def test_signal_that_makes_the_need_impossible_leaves_the_lot_idle():
    keys = keys_for()
    plo = make_plo("signals", keys)
    plo.start_day(0, simple_forecast(need_kwh=300.0), PRICE)
    assert plo.events == [] and np.any(plo.schedule_kw != 0)
    (reply,) = plo.receive(0, from_dso("signal", neutral_with(np.zeros(HOURS), np.zeros(HOURS)).to_payload(), keys))
    assert reply["payload"]["schedule_kw"] == [0.0] * HOURS
    np.testing.assert_array_equal(plo.schedule_kw, np.zeros(HOURS))
    assert event_names(plo.events) == ["PLO schedule infeasible"]


def test_idle_fallback_reports_no_planned_profit():
    plo = make_plo("none")
    plo.start_day(0, simple_forecast(need_kwh=100.0), PRICE)
    assert plo.planned_profit_usd != 0.0
    plo.start_day(24, simple_forecast(max_charge_kw=1.0, need_kwh=1000.0), PRICE)  # infeasible: idle
    assert event_names(plo.events) == ["PLO schedule infeasible"]
    assert plo.planned_profit_usd == 0.0


def test_misreporting_plo_scales_its_flexibility():
    keys = keys_for()
    forecast = fleet_forecast()
    (honest,) = make_plo("centralised", keys).start_day(0, forecast, PRICE)
    liar = make_plo("centralised", keys, misreport_probability=1.0, misreport_factor=2.0)
    (lie,) = liar.start_day(0, forecast, PRICE)
    assert verify(lie, "DSO", keys["DSO"]) is None  # a dishonest PLO still signs correctly
    for key in ("max_charge_kw", "max_discharge_kw"):
        np.testing.assert_allclose(lie["payload"][key], 2.0 * np.asarray(honest["payload"][key]))
    assert lie["payload"]["energy_available_kwh"] == pytest.approx(2.0 * honest["payload"]["energy_available_kwh"])
    assert lie["payload"]["energy_need_kwh"] == honest["payload"]["energy_need_kwh"]  # only flexibility is inflated
    (event,) = liar.events
    assert event["event"] == "misreported offer" and "x2.0" in event["detail"]
    # its own schedule is that of the true offer
    np.testing.assert_allclose(liar.offer.max_charge_kw, honest["payload"]["max_charge_kw"])
    np.testing.assert_allclose(lie["payload"]["envelope"]["p_max_kw"],
                               2.0 * np.asarray(honest["payload"]["envelope"]["p_max_kw"]))


def test_misreporting_needs_fleet_data_to_lie_about():
    keys = keys_for()
    forecast = fleet_forecast()
    (honest,) = make_plo("signals", keys).start_day(0, forecast, PRICE)
    liar = make_plo("signals", keys, misreport_probability=1.0)
    (m,) = liar.start_day(0, forecast, PRICE)
    assert m["payload"] == honest["payload"]
    assert liar.events == []


def test_misreporting_with_probability_zero_never_lies():
    keys = keys_for()
    plo = make_plo("centralised", keys, misreport_probability=0.0, misreport_factor=5.0)
    honest = make_plo("centralised", keys).start_day(0, fleet_forecast(), PRICE)[0]["payload"]
    for day in range(3):
        (m,) = plo.start_day(24 * day, fleet_forecast(), PRICE)
        assert m["payload"]["max_charge_kw"] == honest["max_charge_kw"]
        assert m["payload"]["envelope"] == honest["envelope"]
    assert plo.events == []
