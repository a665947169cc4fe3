"""Attacks on what a PLO receives, without mosaik: a schedule forged by another PLO "from the DSO", replayed,
stale, duplicated, malformed and tampered DSO messages, with authentication on and off. Each test is a row of
the reliability table (docs): the attack, the expected behaviour, and the observed one (the assertions)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from agent_fixtures import LIMIT_KW, PRICE, SEED000_HOUR_MODE, event_names, fleet_forecast, keys_for, message

from cosim.controllers.base import HOURS
from cosim.controllers.plo_scheduler import DsoSignal
from cosim.exchange import make_exchange_mode
from cosim.exchange.messages import ChannelFaults, MessageChannel
from cosim.exchange.payloads import schedule_payload
from simulators.plo.agent import PloAgent

AUTH = pytest.mark.parametrize("auth", [True, False], ids=["auth", "no-auth"])


def plo(lot_id: str, bus: int, keys: dict, mode: str = "centralised") -> PloAgent:
    """A PLO as the world builds it: its own private key and the DSO's public key only."""
    agent = PloAgent(lot_id, (bus,), make_exchange_mode(mode), keys=keys[lot_id].hearing(["DSO"]) if keys else None,
                     hour_mode=SEED000_HOUR_MODE, connection_limit_kw=LIMIT_KW)
    agent.start_day(0, fleet_forecast(), PRICE)
    return agent


def dso_says(keys: dict, receiver: str = "PL2", kw: float = 50.0, bus: int | None = 25, hour: int = 0,
             round_: int = 0) -> dict:
    """A genuine DSO schedule, as the DSO's channel sends it."""
    channel = MessageChannel("DSO", 0.0, 0, keys.get("DSO"))
    (m,) = channel.send(hour, "schedule", receiver, schedule_payload(np.full(HOURS, kw), bus), round_)
    return m


def rejected(agent: PloAgent, own: np.ndarray) -> dict:
    np.testing.assert_array_equal(agent.schedule_kw, own)  # the lot keeps its own schedule
    (event,) = agent.events
    assert event["source"] == agent.lot_id
    return event


# -- forgery by another PLO ---------------------------------------------------------------------------------------

def test_plo_cannot_forge_a_dso_schedule_to_another_lot():
    """The issue's case: PL1 signs a 9,999 kW schedule "from the DSO" to PL2. PL1 holds only its own private key."""
    keys = keys_for(("PL1", "PL2"))
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    forged = message("DSO", "PL2", "schedule", schedule_payload(np.full(HOURS, 9999.0), 25), keys["PL1"])
    assert pl2.receive(0, forged) == []
    event = rejected(pl2, own)
    assert event["event"] == "rejected message" and event["detail"] == "bad signature from 'DSO'"


def test_plo_cannot_forge_a_dso_schedule_even_within_the_limits():
    keys = keys_for(("PL1", "PL2"))
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    forged = message("DSO", "PL2", "schedule", schedule_payload(np.full(HOURS, 10.0), 25), keys["PL1"])
    assert pl2.receive(0, forged) == []
    assert "bad signature from 'DSO'" in rejected(pl2, own)["detail"]


def test_plo_signing_as_itself_to_another_lot_is_not_the_dso():
    keys = keys_for(("PL1", "PL2"))
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    m = message("PL1", "PL2", "schedule", schedule_payload(np.full(HOURS, 10.0), 25), keys["PL1"])
    pl2.receive(0, m)
    assert "unknown sender 'PL1'" in rejected(pl2, own)["detail"]


def test_without_authentication_a_forged_9999_kw_schedule_is_caught_by_the_limit():
    pl2 = plo("PL2", 25, {})
    own = pl2.schedule_kw.copy()
    forged = message("DSO", "PL2", "schedule", schedule_payload(np.full(HOURS, 9999.0), 25), None)
    assert pl2.receive(0, forged) == []
    event = rejected(pl2, own)
    assert event["event"] == "rejected message" and "beyond the registered 1000 kW" in event["detail"]


def test_without_authentication_a_plausible_forgery_cannot_be_told_apart():
    """The limit of running without authentication (documented): a well-formed forgery is followed."""
    pl2 = plo("PL2", 25, {})
    schedule = pl2.offer.envelope.project(np.full(HOURS, 10.0))  # well formed, and within what the EVs can take
    forged = message("DSO", "PL2", "schedule", schedule_payload(schedule, 25), None)
    pl2.receive(0, forged)
    assert pl2.events == [] and pl2.setpoint_kw(3) == pytest.approx(schedule[3])


def test_without_authentication_only_the_dso_is_heard():
    pl2 = plo("PL2", 25, {})
    own = pl2.schedule_kw.copy()
    pl2.receive(0, message("PL1", "PL2", "schedule", schedule_payload(np.full(HOURS, 10.0), 25), None))
    assert "a PLO takes messages from the DSO only" in rejected(pl2, own)["detail"]


# -- replay and staleness -----------------------------------------------------------------------------------------

@AUTH
def test_dso_schedule_replayed_at_hour_24_is_rejected(auth):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys)
    monday = dso_says(keys, kw=50.0)
    pl2.receive(0, monday)
    pl2.events.clear()  # the lot clipped Monday's schedule to its envelope; the replay is what is tested
    pl2.start_day(24, fleet_forecast(start_h=24.0), PRICE)
    own = pl2.schedule_kw.copy()
    assert pl2.receive(24, copy.deepcopy(monday)) == []
    event = rejected(pl2, own)
    assert event["event"] == "replayed message" and "already received at hour 0" in event["detail"]


@AUTH
def test_held_back_dso_schedule_from_hour_0_is_stale_at_hour_24(auth):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys)
    held = dso_says(keys, kw=50.0, hour=0)  # never delivered at hour 0
    pl2.start_day(24, fleet_forecast(start_h=24.0), PRICE)
    own = pl2.schedule_kw.copy()
    assert pl2.receive(24, held) == []
    event = rejected(pl2, own)
    assert event["event"] == "stale message" and "(hour 0, round 0) arrived at hour 24" in event["detail"]


@AUTH
def test_signal_of_an_earlier_round_is_stale(auth):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys, mode="iterative")
    channel = MessageChannel("DSO", 0.0, 0, keys.get("DSO"))
    neutral = DsoSignal.neutral().to_payload()
    (round0,) = channel.send(0, "signal", "PL2", neutral, 0)
    (round1,) = channel.send(0, "signal", "PL2", neutral, 1)
    (reply,) = pl2.receive(0, round1)
    assert reply["round"] == 2 and pl2.round == 2
    answered = pl2.schedule_kw.copy()
    assert pl2.receive(0, round0) == []  # a round-0 signal delivered after round 1: stale
    event = rejected(pl2, answered)
    assert event["event"] == "stale message" and "round 2" in event["detail"]


# -- duplicates ------------------------------------------------------------------------------------------------

@AUTH
def test_duplicated_dso_signal_is_answered_once(auth):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys, mode="signals")
    channel = MessageChannel("DSO", ChannelFaults(duplicate=1.0), 0, keys.get("DSO"))
    first, second = channel.send(0, "signal", "PL2", DsoSignal.neutral().to_payload(), 0)
    assert len(pl2.receive(0, first)) == 1
    assert pl2.receive(0, second) == []
    assert event_names(pl2.events) == ["duplicate message"]


# -- malformed and tampered content -------------------------------------------------------------------------------

BAD_SCHEDULES = {
    "nan": {"setpoints_kw": [math.nan] * HOURS, "bus": 25},
    "short": {"setpoints_kw": [1.0] * 12, "bus": 25},
    "beyond-limit": {"setpoints_kw": [LIMIT_KW + 1.0] * HOURS, "bus": 25},
    "foreign-bus": {"setpoints_kw": [1.0] * HOURS, "bus": 2},
    "text": {"setpoints_kw": "fast", "bus": 25},
    "extra-field": {"setpoints_kw": [1.0] * HOURS, "bus": 25, "note": "x"},
}


@AUTH
@pytest.mark.parametrize("payload", BAD_SCHEDULES.values(), ids=BAD_SCHEDULES.keys())
def test_malformed_dso_schedule_is_rejected(auth, payload):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    assert pl2.receive(0, message("DSO", "PL2", "schedule", payload, keys.get("DSO"))) == []
    event = rejected(pl2, own)
    assert event["event"] == "rejected message" and "invalid schedule from the DSO" in event["detail"]


@AUTH
@pytest.mark.parametrize("payload", [
    {"price_adder_usd_per_kwh": [math.inf] * HOURS, "max_import_kw": [1e9] * HOURS, "max_export_kw": [1e9] * HOURS},
    {"price_adder_usd_per_kwh": [0.0] * HOURS, "max_import_kw": [-1.0] * HOURS, "max_export_kw": [1e9] * HOURS},
    {"price_adder_usd_per_kwh": [0.0] * HOURS},
], ids=["inf-price", "negative-limit", "missing-fields"])
def test_malformed_dso_signal_is_rejected_and_not_answered(auth, payload):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys, mode="signals")
    own = pl2.schedule_kw.copy()
    assert pl2.receive(0, message("DSO", "PL2", "signal", payload, keys.get("DSO"))) == []
    assert "invalid signal from the DSO" in rejected(pl2, own)["detail"]
    assert pl2.tariff(3) == 0.0


@AUTH
def test_tampered_dso_schedule_is_rejected(auth):
    keys = keys_for(("PL2",)) if auth else {}
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    channel = MessageChannel("DSO", ChannelFaults(tamper=1.0), 0, keys.get("DSO"))
    (m,) = channel.send(0, "schedule", "PL2", schedule_payload(np.full(HOURS, 40.0), 25))
    assert pl2.receive(0, m) == []
    why = "bad signature from 'DSO'" if auth else "bus 50 is not among the registered candidates"
    assert why in rejected(pl2, own)["detail"]


def test_dso_message_marked_delayed_on_the_path_is_logged_as_an_attack_not_as_late():
    keys = keys_for(("PL2",))
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    pl2.receive(0, {**dso_says(keys), "delayed": True})
    assert rejected(pl2, own)["detail"] == "bad signature from 'DSO'"


def test_genuinely_late_dso_schedule_is_set_aside():
    keys = keys_for(("PL2",))
    pl2 = plo("PL2", 25, keys)
    own = pl2.schedule_kw.copy()
    channel = MessageChannel("DSO", ChannelFaults(delay=1.0), 0, keys["DSO"])
    (late,) = channel.send(0, "schedule", "PL2", schedule_payload(np.full(HOURS, 40.0), 25))
    pl2.receive(0, late)
    assert "arrived after the day-ahead gate" in rejected(pl2, own)["detail"]
