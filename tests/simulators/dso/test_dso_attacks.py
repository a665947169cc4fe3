"""Attacks on what the DSO receives, without mosaik: forged, replayed, stale, duplicated, malformed and tampered
offers, with authentication on (Ed25519 per-agent keys) and off. Each test is a row of the reliability table
(docs): the attack, the expected behaviour, and the observed one (the assertions)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from agent_fixtures import (
    LOAD_SCALING,
    LOTS,
    PRICE,
    event_names,
    keys_for,
    lot_offer,
    make_dso,
    make_plos,
    message,
    offers_from_plos,
    simple_forecast,
)

from cosim.controllers.base import HOURS
from cosim.exchange.messages import ChannelFaults
from cosim.exchange.payloads import schedule_offer

AUTH = pytest.mark.parametrize("auth", [True, False], ids=["auth", "no-auth"])


def ring(auth: bool) -> dict:
    return keys_for() if auth else {}


def only(events: list[dict]) -> dict:
    (event,) = events
    assert event["source"] == "DSO"
    return event


# -- forgery ---------------------------------------------------------------------------------------------------

def test_plo_signing_an_offer_as_another_lot_is_rejected():
    keys = keys_for()
    dso = make_dso(keys=keys)
    genuine = lot_offer(keys, sender="lot2")
    forged = message("lot2", "DSO", "offer", {**genuine["payload"], "n_pev": 999}, keys["lot1"])  # lot1's key
    assert dso.accept(0, [forged]) == {}
    event = only(dso.events)
    assert event["event"] == "rejected message" and "bad signature from 'lot2'" in event["detail"]


def test_without_authentication_a_forged_offer_is_caught_only_by_its_content():
    dso = make_dso(keys={})
    genuine = lot_offer({}, sender="lot2")
    plausible = message("lot2", "DSO", "offer", {**genuine["payload"], "n_pev": 11}, None)
    assert dso.accept(0, [plausible]) == {"lot2": plausible["payload"]}  # nothing tells it from the real one
    moved = message("lot2", "DSO", "offer", {**genuine["payload"], "candidate_buses": [2]}, None, 24)
    assert dso.accept(24, [moved]) == {"lot2": plausible["payload"]}  # rejected: yesterday's offer stands in
    assert "not within the registered [25]" in only(dso.events)["detail"]


# -- replay and staleness -----------------------------------------------------------------------------------------

@AUTH
def test_replayed_offer_a_day_later_is_rejected(auth):
    keys = ring(auth)
    dso = make_dso(keys=keys)
    monday = lot_offer(keys, hour=0)
    assert dso.accept(0, [monday]) == {"lot1": monday["payload"]}
    tuesday = lot_offer(keys, hour=24)
    accepted = dso.accept(24, [tuesday, copy.deepcopy(monday)])
    assert accepted == {"lot1": tuesday["payload"]}
    event = only(dso.events)
    assert event["event"] == "replayed message" and "already received at hour 0" in event["detail"]


@AUTH
def test_offer_from_hour_0_at_hour_48_is_stale(auth):
    keys = ring(auth)
    dso = make_dso(keys=keys)
    old = lot_offer(keys, hour=0)
    dso.accept(0, [old])
    dso.accept(24, [lot_offer(keys, hour=24)])
    tuesday = dso._last_offers["lot1"]
    assert dso.accept(48, [copy.deepcopy(old)]) == {"lot1": tuesday}  # the hour-24 offer stands in
    event = only(dso.events)  # its nonce is forgotten after two days: stale by its hour
    assert event["event"] == "stale message" and "(hour 0, round 0) arrived at hour 48" in event["detail"]
    assert "using its previous offer" in event["detail"]


def test_held_back_offer_never_seen_before_is_stale():
    keys = keys_for()
    dso = make_dso(keys=keys)
    held = lot_offer(keys, hour=0)  # an attacker keeps it from the DSO at hour 0 and delivers it at hour 24
    assert dso.accept(24, [held]) == {}
    event = only(dso.events)
    assert event["event"] == "stale message" and "arrived at hour 24" in event["detail"]


def test_replay_with_an_edited_hour_breaks_the_signature():
    keys = keys_for()
    dso = make_dso(keys=keys)
    old = lot_offer(keys, hour=0)
    dso.accept(0, [old])
    assert dso.accept(24, [{**old, "hour": 24, "nonce": "a" * 32}]) == {"lot1": old["payload"]}
    assert "bad signature from 'lot1'" in only(dso.events)["detail"]


@AUTH
def test_answer_from_an_earlier_round_is_stale(auth):
    keys = ring(auth)
    dso = make_dso("iterative", "rule", keys=keys, mode_options={"max_rounds": 5, "tolerance_kw": 0.0})
    schedule = np.zeros(HOURS)
    schedule[:6] = 40.0

    def answer(round_: int, kw: float) -> dict:
        return message("lot1", "DSO", "offer", schedule_offer("lot1", (18,), schedule + kw), keys.get("lot1"),
                       0, round_)

    dso.day_ahead(0, dso.accept(0, [answer(0, 0.0)]), LOAD_SCALING, PRICE)
    round1 = answer(1, 10.0)
    dso.revise(0, dso.accept(0, [round1]))
    assert dso.round == 1
    late_round1 = answer(1, 30.0)  # a second, genuine answer of round 1 arriving when round 2 is expected
    assert dso.accept(0, [late_round1]) == {}
    event = only(dso.events[-1:])
    assert event["event"] == "stale message" and "round 2" in event["detail"]
    assert dso.accept(0, [answer(4, 30.0)]) == {}  # ahead of the negotiation
    assert "ahead of the negotiation" in dso.events[-1]["detail"]


# -- duplicates ------------------------------------------------------------------------------------------------

@AUTH
def test_duplicated_offers_count_once(auth):
    keys = ring(auth)
    dso = make_dso(keys=keys)
    plos = make_plos("centralised", keys, faults=ChannelFaults(duplicate=1.0))
    msgs = offers_from_plos(plos, simple_forecast(need_kwh=0.0))
    assert len(msgs) == 2 * len(LOTS)
    accepted = dso.accept(0, msgs)
    assert sorted(accepted) == sorted(LOTS)
    assert event_names(dso.events) == ["duplicate message"] * len(LOTS)
    out = dso.day_ahead(0, accepted, LOAD_SCALING, PRICE)
    assert sorted(m["receiver"] for m in out) == sorted(LOTS)


# -- malformed and tampered content -------------------------------------------------------------------------------

MALFORMED = {
    "nan-power": {"max_charge_kw": [math.nan] * HOURS},
    "short-hours": {"max_discharge_kw": [10.0] * 23, "hour_mode": [1] * 23},
    "bad-hour-mode": {"hour_mode": [3] * HOURS},
    "text-number": {"n_pev": "ten"},
    "huge-energy": {"energy_need_kwh": 1e308},
    "bad-economics": {"economics": {"mu_e": -1, "cost_e_usd_per_kwh": 0, "cost_ca_usd_per_pev_day": 0}},
    "moved-lot": {"candidate_buses": [2]},
    "extra-field": {"bus": 2},
}


@AUTH
@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.slow
def test_malformed_offer_is_rejected_and_the_day_is_planned(auth, change):
    keys = ring(auth)
    dso = make_dso(controller="rule", keys=keys)
    bad = lot_offer(keys, **change)  # signed by lot1 itself when authenticated: the signature is no help
    good = lot_offer(keys, sender="lot2")
    accepted = dso.accept(0, [bad, good])
    assert sorted(accepted) == ["lot2"]
    event = only(dso.events)
    assert event["event"] == "rejected message" and "invalid offer from 'lot1'" in event["detail"]
    assert "planned without it" in event["detail"]
    dso.day_ahead(0, accepted, LOAD_SCALING, PRICE)  # no crash: the plan goes on with the lots it knows
    assert dso.plan is not None and set(dso.plan.lot_buses) <= set(LOTS)
    assert dso.lot_buses.get("lot1", 18) == 18


@AUTH
def test_malformed_offer_falls_back_to_the_lots_previous_offer(auth):
    keys = ring(auth)
    dso = make_dso(controller="rule", keys=keys)
    monday = lot_offer(keys, hour=0)
    dso.accept(0, [monday])
    accepted = dso.accept(24, [lot_offer(keys, hour=24, max_charge_kw=[math.inf] * HOURS)])
    assert accepted == {"lot1": monday["payload"]}
    assert "using its previous offer" in only(dso.events)["detail"]


def test_offer_moving_the_lot_to_another_bus_does_not_move_it():
    """Registered at bus 18; the offer names bus 2 (the issue's case): rejected, the lot stays at 18."""
    keys = keys_for()
    dso = make_dso("signals", "rule", keys=keys)
    schedule = np.zeros(HOURS)
    moved = message("lot1", "DSO", "offer", schedule_offer("lot1", (2,), schedule), keys["lot1"])
    honest = message("lot1", "DSO", "offer", schedule_offer("lot1", (18,), schedule), keys["lot1"], 24)
    dso.day_ahead(0, dso.accept(0, [moved]), LOAD_SCALING, PRICE)
    assert "lot1" not in dso.lot_buses
    dso.day_ahead(24, dso.accept(24, [honest]), LOAD_SCALING, PRICE)
    assert dso.lot_buses["lot1"] == 18 and dso.plan.lot_buses["lot1"] == 18


@AUTH
@pytest.mark.parametrize("mode", ["centralised", "signals", "iterative"])
def test_tampered_offers_are_rejected_and_the_day_is_planned(auth, mode):
    keys = ring(auth)
    dso = make_dso(mode, "rule", keys=keys)
    plos = make_plos(mode, keys, faults=ChannelFaults(tamper=1.0))
    accepted = dso.accept(0, offers_from_plos(plos, simple_forecast(need_kwh=0.0)))
    assert accepted == {}
    assert event_names(dso.events) == ["rejected message"] * len(LOTS)
    why = "bad signature" if auth else "not within the registered"
    assert all(why in e["detail"] for e in dso.events)
    dso.day_ahead(0, accepted, LOAD_SCALING, PRICE)  # before: IndexError / ProblemError without authentication
    assert dso.plan is not None


def test_payload_that_json_cannot_sign_is_rejected():
    keys = keys_for()
    dso = make_dso(keys=keys)
    m = lot_offer(keys)
    broken = {**m, "payload": {**m["payload"], object(): 1}}
    assert dso.accept(0, [broken]) == {}
    assert "bad signature" in only(dso.events)["detail"]


def test_a_plo_sending_another_kind_is_rejected():
    keys = keys_for()
    dso = make_dso(keys=keys)
    m = message("lot1", "DSO", "schedule", {"setpoints_kw": [0.0] * HOURS, "bus": 18}, keys["lot1"])
    assert dso.accept(0, [m]) == {}
    assert "PLOs send offers" in only(dso.events)["detail"]
