"""The DSO agent without mosaik: day-ahead planning in each exchange mode, fallbacks, negotiations, and what it
accepts from the PLOs. The agents are built directly (network, controller, exchange mode, keys)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from agent_fixtures import (
    BASE_WU_OPEN,
    LIMIT_KW,
    LOAD_SCALING,
    LOTS,
    PRICE,
    ScriptedController,
    deliver,
    event_names,
    flat_plan,
    fleet_forecast,
    ieee33,
    keys_for,
    make_dso,
    make_plos,
    message,
    offers_from_plos,
    raising,
    registrations,
    simple_forecast,
)

from cosim.controllers.base import HOURS
from cosim.exchange.messages import verify
from cosim.exchange.payloads import schedule_offer
from simulators.dso.agent import predict_hourly


@pytest.mark.slow
def test_agents_import_without_mosaik():
    code = ("import sys; import simulators.dso.agent, simulators.plo.agent, cosim.controllers.plo_scheduler; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('mosaik', 'mosaik_api_v3') "
            "or m.endswith('.simulator')); print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def schedule_msgs(keys, schedules: dict[str, np.ndarray], round_: int = 0, hour: int = 0) -> list[dict]:
    """Signed schedule offers (signals/iterative modes) as the lots would send them."""
    return [message(lot, "DSO", "offer", schedule_offer(lot, (LOTS[lot],), kw), keys[lot], hour, round_)
            for lot, kw in schedules.items()]


def night_schedule(kw: float) -> np.ndarray:
    out = np.zeros(HOURS)
    out[:6] = kw
    out[11:15] = -kw / 2
    return out


# -- centralised ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("controller, forecast", [
    ("none", lambda: simple_forecast(need_kwh=0.0)),
    ("rule", lambda: simple_forecast(need_kwh=0.0)),
    ("eo", lambda: fleet_forecast(n_pevs=10)),
])
def test_centralised_sends_one_signed_schedule_per_lot(controller, forecast):
    keys = keys_for()
    dso, plos = make_dso("centralised", controller, keys=keys), make_plos("centralised", keys)
    offers = dso.accept(0, offers_from_plos(plos, forecast()))
    assert sorted(offers) == sorted(LOTS) and dso.events == []
    out = dso.day_ahead(0, offers, LOAD_SCALING, PRICE)
    assert sorted(m["receiver"] for m in out) == sorted(LOTS)  # one per lot
    for m in out:
        assert (m["kind"], m["sender"], m["round"], m["hour"]) == ("schedule", "DSO", 0, 0)
        assert verify(m, m["receiver"], keys[m["receiver"]]) is None  # signed by the DSO, for that lot
        setpoints = m["payload"]["setpoints_kw"]
        assert len(setpoints) == HOURS and all(np.isfinite(setpoints))
        np.testing.assert_allclose(setpoints, dso.plan.setpoints_kw[m["receiver"]])
        assert m["payload"]["bus"] == LOTS[m["receiver"]] == dso.lot_buses[m["receiver"]]
    assert len(dso.plans) == 1
    row = dso.plans[0]
    assert row["exchange"] == "centralised" and row["info"]["rounds"] == 0 and row["feasible"] is True
    assert row["controller"] == controller and row["day_start_hour"] == 0
    assert set(row["setpoints_kw"]) == set(LOTS)
    assert dso.open_branches == tuple(row["open_branches"])
    # the PLOs follow the schedule and do not answer
    assert deliver(plos, out) == []
    for m in out:
        plo = plos[m["receiver"]]
        assert [plo.setpoint_kw(h) for h in range(HOURS)] == pytest.approx(m["payload"]["setpoints_kw"])
    assert [e for e in dso.events if e["event"] == "planning fallback"] == []


def test_centralised_with_a_real_controller_that_cannot_meet_the_contracts_falls_back():
    keys = keys_for()
    dso, plos = make_dso("centralised", "none", keys=keys), make_plos("centralised", keys)
    out = dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, fleet_forecast(n_pevs=100))), LOAD_SCALING, PRICE)
    assert out == []  # each PLO keeps its own plan
    assert event_names(dso.events) == ["planning fallback"]
    assert "infeasible plan" in dso.events[0]["detail"]
    row = dso.plans[-1]  # the event says what the controller itself predicted for the plan it gave up
    own = row["info"]["rejected_predicted"]
    assert dso.events[0]["detail"].endswith(f"; the rejected plan's own prediction: {own}")
    assert "v_min_pu=" in dso.events[0]["detail"]
    assert dso.plan.feasible is False and dso.plan.setpoints_kw == {}
    assert dso.open_branches == tuple(ieee33().tie_branches)  # nothing feasible yet: the base topology
    row = dso.plans[-1]
    assert row["feasible"] is False and "fallback" in row["info"] and "rejected_predicted" in row["info"]
    assert len(row["predicted_hourly"]["loss_kw"]) == HOURS


def test_fallback_keeps_the_last_feasible_topology():
    keys = keys_for()
    net = ieee33()
    ctrl = ScriptedController(flat_plan(BASE_WU_OPEN, kw=5.0), raising(RuntimeError("solver crashed")),
                              flat_plan(net.tie_branches, feasible=False))
    dso, plos = make_dso("centralised", ctrl, keys=keys), make_plos("centralised", keys)
    forecast = simple_forecast(need_kwh=0.0)

    # day 1: a feasible plan with a reconfigured network
    out = dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, forecast, 0)), LOAD_SCALING, PRICE)
    charging = [m["payload"]["setpoints_kw"] for m in out]
    assert len(out) == len(LOTS) and all(set(sp) == {0.0, 5.0} for sp in charging)
    assert dso.open_branches == BASE_WU_OPEN and dso.events == []

    # day 2: the controller raises
    out = dso.day_ahead(24, dso.accept(24, offers_from_plos(plos, forecast, 24)), LOAD_SCALING, PRICE)
    assert out == []
    (event,) = dso.events
    assert event["event"] == "planning fallback" and event["hour"] == 24 and event["source"] == "DSO"
    assert "RuntimeError: solver crashed" in event["detail"]
    assert dso.open_branches == BASE_WU_OPEN and tuple(dso.plan.open_branches) == BASE_WU_OPEN
    assert dso.plan.feasible is False and dso.plan.setpoints_kw == {}
    assert dso.plan.lot_buses == LOTS
    p = np.outer(LOAD_SCALING, net.p_load_kw)
    q = np.outer(LOAD_SCALING, net.q_load_kvar)
    np.testing.assert_allclose(dso.plan.predicted_hourly["loss_kw"], predict_hourly(net, BASE_WU_OPEN, p, q)["loss_kw"])

    # day 3: the controller returns an infeasible plan on another topology, which is not taken
    out = dso.day_ahead(48, dso.accept(48, offers_from_plos(plos, forecast, 48)), LOAD_SCALING, PRICE)
    assert out == []
    assert event_names(dso.events) == ["planning fallback", "planning fallback"]
    assert "infeasible plan" in dso.events[-1]["detail"]
    assert dso.open_branches == BASE_WU_OPEN
    assert "rejected_predicted" in dso.plan.info
    assert [r["day_start_hour"] for r in dso.plans] == [0, 24, 48]
    assert [r["feasible"] for r in dso.plans] == [True, False, False]
    assert all(r["open_branches"] == list(BASE_WU_OPEN) for r in dso.plans)
    assert len(ctrl.problems) == 3


def test_fallback_before_any_feasible_plan_uses_the_base_topology():
    keys = keys_for()
    ctrl = ScriptedController(raising(ValueError("no solution")))
    dso, plos = make_dso("centralised", ctrl, keys=keys), make_plos("centralised", keys)
    out = dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, simple_forecast(need_kwh=0.0))), LOAD_SCALING, PRICE)
    assert out == []
    assert event_names(dso.events) == ["planning fallback"]
    assert dso.open_branches == tuple(ieee33().tie_branches)
    assert dso.plan.lot_buses == LOTS  # lots stay at their first candidate bus


def test_signals_fallback_keeps_the_lots_own_schedules():
    keys = keys_for()
    ctrl = ScriptedController(flat_plan(BASE_WU_OPEN), raising(RuntimeError("boom")))
    dso = make_dso("signals", ctrl, keys=keys)
    own = {"lot1": night_schedule(40.0), "lot2": night_schedule(20.0)}
    dso.day_ahead(0, dso.accept(0, schedule_msgs(keys, own)), LOAD_SCALING, PRICE)
    out = dso.day_ahead(24, dso.accept(24, schedule_msgs(keys, own, hour=24)), LOAD_SCALING, PRICE)
    assert "planning fallback" in event_names(dso.events)
    assert dso.open_branches == BASE_WU_OPEN
    assert {k: list(v) for k, v in dso.plan.setpoints_kw.items()} == {k: list(v) for k, v in own.items()}
    assert sorted(m["receiver"] for m in out) == sorted(LOTS)  # the signals still go out


# -- signals ---------------------------------------------------------------------------------------------------

def test_signals_negotiation_with_real_plos_converges_after_one_round():
    keys = keys_for()
    dso, plos = make_dso("signals", "eo", keys=keys), make_plos("signals", keys)
    offers = dso.accept(0, offers_from_plos(plos, fleet_forecast(n_pevs=10)))
    out = dso.day_ahead(0, offers, LOAD_SCALING, PRICE)
    assert sorted(m["receiver"] for m in out) == sorted(LOTS)
    for m in out:
        assert (m["kind"], m["sender"], m["round"]) == ("signal", "DSO", 0)
        assert verify(m, m["receiver"], keys[m["receiver"]]) is None
        assert {len(v) for v in m["payload"].values()} == {HOURS}
    adder = np.asarray(out[0]["payload"]["price_adder_usd_per_kwh"])
    # the adders flatten the net load: they sum to zero and are dearest where the net load peaks
    net_load = LOAD_SCALING * ieee33().p_load_kw.sum() + sum(plo.schedule_kw for plo in plos.values())
    assert adder.sum() == pytest.approx(0.0, abs=1e-9)
    assert np.argmax(adder) == np.argmax(net_load) and np.argmin(adder) == np.argmin(net_load)
    assert dso.plans[-1]["exchange"] == "signals" and dso.plans[-1]["info"]["rounds"] == 0

    replies = deliver(plos, out)
    assert [(r["kind"], r["round"]) for r in replies] == [("offer", 1)] * len(LOTS)
    assert all(plos[lot].tariff(h) == pytest.approx(adder[h]) for lot in LOTS for h in range(HOURS))
    assert dso.revise(0, dso.accept(0, replies)) == []  # the negotiation ends
    assert dso.plan.info["converged"] is True and dso.plan.info["rounds"] == 1 and dso.round == 1
    assert event_names(dso.events) == ["negotiation converged"]
    assert len(dso.plans) == 1  # the day's row is updated, not duplicated
    assert dso.plans[0]["info"]["converged"] is True and dso.plans[0]["info"]["rounds"] == 1
    for lot, plo in plos.items():
        np.testing.assert_allclose(dso.schedules[lot], plo.schedule_kw)
        np.testing.assert_allclose(dso.plans[0]["setpoints_kw"][lot], plo.schedule_kw)


def test_signals_without_offers_sends_nothing():
    dso = make_dso("signals", "rule")
    assert dso.day_ahead(0, {}, LOAD_SCALING, PRICE) == []
    assert dso.plans[-1]["exchange"] == "signals" and dso.plans[-1]["feasible"] is True


def test_mode_none_plans_the_grid_alone():
    keys = keys_for()
    dso, plos = make_dso("none", "eo", keys=keys), make_plos("none", keys)
    assert offers_from_plos(plos, fleet_forecast(n_pevs=10)) == []
    assert dso.day_ahead(0, dso.accept(0, []), LOAD_SCALING, PRICE) == []
    row = dso.plans[-1]
    assert row["exchange"] == "none" and row["setpoints_kw"] == {} and row["info"]["rounds"] == 0
    assert dso.channel.records == []


# -- iterative -------------------------------------------------------------------------------------------------

def test_iterative_converges_when_the_answers_stop_changing():
    keys = keys_for()
    dso = make_dso("iterative", "rule", keys=keys, mode_options={"max_rounds": 5, "tolerance_kw": 1.0})
    first = {"lot1": night_schedule(40.0), "lot2": night_schedule(20.0)}
    second = {"lot1": night_schedule(30.0), "lot2": night_schedule(25.0)}
    out = dso.day_ahead(0, dso.accept(0, schedule_msgs(keys, first)), LOAD_SCALING, PRICE)
    assert [m["kind"] for m in out] == ["signal"] * len(LOTS)

    out = dso.revise(0, dso.accept(0, schedule_msgs(keys, second, round_=1)))  # moved by 10 kW: signal again
    assert sorted(m["receiver"] for m in out) == sorted(LOTS)
    assert all(m["kind"] == "signal" and m["round"] == 1 for m in out)
    assert "converged" not in dso.plan.info

    almost = {lot: kw + 0.5 for lot, kw in second.items()}  # within the 1 kW tolerance
    assert dso.revise(0, dso.accept(0, schedule_msgs(keys, almost, round_=2))) == []
    assert dso.plan.info["converged"] is True and dso.plan.info["rounds"] == 2
    (event,) = [e for e in dso.events if e["event"].startswith("negotiation")]
    assert event["event"] == "negotiation converged" and "iterative" in event["detail"]
    assert len(dso.plans) == 1 and dso.plans[0]["info"]["converged"] is True
    np.testing.assert_allclose(dso.plans[0]["setpoints_kw"]["lot1"], almost["lot1"])


def test_iterative_stops_at_max_rounds_when_answers_keep_changing():
    keys = keys_for()
    dso = make_dso("iterative", "rule", keys=keys, mode_options={"max_rounds": 3})
    dso.day_ahead(0, dso.accept(0, schedule_msgs(keys, {"lot1": night_schedule(10.0)})), LOAD_SCALING, PRICE)
    sent_rounds = []
    for r in (1, 2, 3):
        out = dso.revise(0, dso.accept(0, schedule_msgs(keys, {"lot1": night_schedule(10.0 + 20.0 * r)}, round_=r)))
        sent_rounds.append([m["round"] for m in out])
    assert sent_rounds == [[1], [2], []]  # nothing more is sent once max_rounds answers came
    assert dso.plan.info["converged"] is False and dso.plan.info["rounds"] == 3
    negotiation = [e for e in dso.events if e["event"].startswith("negotiation")]
    assert [e["event"] for e in negotiation] == ["negotiation not converged"]
    assert "max_rounds = 3" in negotiation[0]["detail"]
    assert dso.plans[-1]["info"]["converged"] is False and len(dso.plans) == 1


@pytest.mark.parametrize("n_pevs", [10, 100])
@pytest.mark.slow
def test_iterative_negotiation_with_real_plos_ends_within_max_rounds(n_pevs):
    keys = keys_for()
    max_rounds = 4
    dso = make_dso("iterative", "eo", keys=keys, mode_options={"max_rounds": max_rounds})
    plos = make_plos("iterative", keys)
    out = dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, fleet_forecast(n_pevs=n_pevs))), LOAD_SCALING, PRICE)
    rounds = 0
    while out:
        assert rounds < max_rounds
        out = dso.revise(0, dso.accept(0, deliver(plos, out)))
        rounds += 1
    assert dso.round == rounds == dso.plan.info["rounds"]
    outcome = [e["event"] for e in dso.events if e["event"].startswith("negotiation")]
    assert outcome == ["negotiation converged" if dso.plan.info["converged"] else "negotiation not converged"]
    if not dso.plan.info["converged"]:
        assert rounds == max_rounds
    for lot, plo in plos.items():  # the DSO's plan holds the schedules the lots will run
        np.testing.assert_allclose(dso.plan.setpoints_kw[lot], plo.schedule_kw)


# -- what the DSO accepts --------------------------------------------------------------------------------------

def full_offer(plo_keys=None, hour: int = 0, forecast=None, sender: str = "lot1", **payload_changes) -> dict:
    """lot1's signed centralised offer, optionally with payload fields changed before signing."""
    keys = keys_for() if plo_keys is None else plo_keys
    plos = make_plos("centralised", keys)
    (m,) = plos[sender].start_day(hour, forecast or fleet_forecast(n_pevs=10), PRICE)
    if payload_changes:
        m = message(sender, "DSO", "offer", {**m["payload"], **payload_changes}, keys[sender], hour)
    return m


def test_valid_offers_are_accepted_unchanged():
    keys = keys_for()
    dso, plos = make_dso(keys=keys), make_plos("centralised", keys)
    msgs = offers_from_plos(plos, fleet_forecast(n_pevs=10))
    accepted = dso.accept(0, msgs)
    assert accepted == {m["sender"]: m["payload"] for m in msgs}
    assert dso.events == []


@pytest.mark.parametrize("forge, why", [
    (lambda m, keys: message("lot1", "DSO", "offer", m["payload"], keys["lot2"]), "bad signature from 'lot1'"),
    (lambda m, keys: {**m, "payload": {**m["payload"], "n_pev": 999}}, "bad signature"),
    (lambda m, keys: {**m, "sig": "0" * 128}, "bad signature"),
    (lambda m, keys: {**m, "sig": "not hex"}, "bad signature"),
    (lambda m, keys: {k: v for k, v in m.items() if k != "sig"}, "malformed message: missing sig"),
    (lambda m, keys: {**m, "mac": "0" * 64}, "malformed message: unexpected field(s) 'mac'"),
    (lambda m, keys: message("lot9", "DSO", "offer", {**m["payload"], "lot_id": "lot9"}, keys["lot1"]),
     "unknown sender 'lot9'"),
    (lambda m, keys: message("lot1", "lot2", "offer", m["payload"], keys["lot1"]), "addressed to 'lot2'"),
    (lambda m, keys: {"sender": "lot1", "payload": {}}, "malformed"),
], ids=["wrong-key", "tampered", "bad-sig", "sig-not-hex", "unsigned", "unsigned-field", "unknown-sender",
         "not-for-dso", "malformed"])
def test_forged_or_foreign_messages_are_rejected(forge, why):
    keys = keys_for()
    dso = make_dso(keys=keys)
    good = full_offer(keys)
    assert dso.accept(0, [forge(good, keys)]) == {}
    (event,) = dso.events
    assert event["event"] == "rejected message" and event["source"] == "DSO" and why in event["detail"]


def test_offer_for_another_lot_is_rejected():
    keys = keys_for()
    dso = make_dso(keys=keys)
    m = full_offer(keys, lot_id="lot2")  # lot1 signs an offer that speaks for lot2
    assert verify(m, "DSO", keys["DSO"]) is None
    assert dso.accept(0, [m]) == {}
    (event,) = dso.events
    assert event["event"] == "rejected message" and "'lot1' offered for lot 'lot2'" in event["detail"]
    assert "no previous offer" in event["detail"]


def test_offer_for_another_lot_is_rejected_without_authentication_too():
    dso = make_dso(keys={})
    m = message("lot1", "DSO", "offer", {**full_offer()["payload"], "lot_id": "lot2"}, None)
    assert dso.accept(0, [m]) == {}
    assert event_names(dso.events) == ["rejected message"]


def test_duplicates_are_dropped():
    keys = keys_for()
    dso = make_dso(keys=keys)
    m = full_offer(keys)
    accepted = dso.accept(0, [m, m])
    assert list(accepted) == ["lot1"] and accepted["lot1"] == m["payload"]
    (event,) = dso.events
    assert event["event"] == "duplicate message" and "lot1" in event["detail"]


def test_a_second_offer_of_a_lot_in_one_round_is_dropped():
    keys = keys_for()
    dso = make_dso(keys=keys)
    first, second = full_offer(keys), full_offer(keys, n_pev=3)  # two genuine offers, different nonces
    assert dso.accept(0, [first, second]) == {"lot1": first["payload"]}
    (event,) = dso.events
    assert event["event"] == "duplicate message" and "a second offer" in event["detail"]


def delayed_offer(keys, hour: int, **payload_changes) -> dict:
    """lot1's offer as its channel sends it after the gate: marked `delayed` before signing."""
    m = full_offer(keys, hour=hour, forecast=simple_forecast(need_kwh=10.0), **payload_changes)
    return message("lot1", "DSO", "offer", m["payload"], keys["lot1"], hour, delayed=True)


def test_delayed_offer_is_replaced_by_the_previous_one():
    keys = keys_for()
    dso = make_dso(keys=keys)
    yesterday = full_offer(keys, hour=0)
    assert dso.accept(0, [yesterday]) == {"lot1": yesterday["payload"]}
    late = delayed_offer(keys, 24)
    accepted = dso.accept(24, [late])
    assert accepted == {"lot1": yesterday["payload"]}  # the stale offer stands in
    (event,) = dso.events
    assert event["event"] == "stale offer" and event["hour"] == 24 and "previous offer" in event["detail"]


def test_delayed_offer_without_a_previous_one_is_dropped():
    keys = keys_for()
    dso = make_dso(keys=keys)
    assert dso.accept(0, [delayed_offer(keys, 0)]) == {}
    (event,) = dso.events
    assert event["event"] == "late offer" and "no previous offer" in event["detail"]


def test_delayed_flag_added_on_the_path_breaks_the_signature():
    keys = keys_for()
    dso = make_dso(keys=keys)
    yesterday = full_offer(keys, hour=0)
    dso.accept(0, [yesterday])
    genuine = full_offer(keys, hour=24, forecast=simple_forecast(need_kwh=10.0))
    marked = {**genuine, "delayed": True}  # an attacker marks a genuine offer late to have it set aside
    assert dso.accept(24, [marked]) == {"lot1": yesterday["payload"]}  # not taken as a late offer
    (event,) = dso.events
    assert event["event"] == "rejected message" and "bad signature from 'lot1'" in event["detail"]


def test_delayed_revised_schedule_is_dropped():
    keys = keys_for()
    dso = make_dso("iterative", "rule", keys=keys)
    first = schedule_msgs(keys, {"lot1": night_schedule(5.0)})
    dso.day_ahead(0, dso.accept(0, first), LOAD_SCALING, PRICE)  # even with a previous offer, a late answer
    answer = schedule_msgs(keys, {"lot1": night_schedule(6.0)}, round_=1)[0]  # is not replaced
    late = message("lot1", "DSO", "offer", answer["payload"], keys["lot1"], 0, 1, delayed=True)
    assert dso.accept(0, [late]) == {}
    assert event_names(dso.events) == ["late offer"]


def test_power_beyond_the_registered_limit_rejects_the_offer():
    keys = keys_for()
    dso = make_dso(keys=keys, lots=registrations(lot1=300.0))
    good = full_offer(keys)["payload"]
    inflated = np.asarray(good["max_charge_kw"]) + 500.0
    m = full_offer(keys, max_charge_kw=inflated.tolist())
    assert dso.accept(0, [m]) == {}  # no previous offer: the lot is planned without one
    assert m["payload"]["max_charge_kw"] == inflated.tolist()  # the received message is not altered
    (event,) = dso.events
    assert event["event"] == "implausible offer" and "max_charge_kw" in event["detail"] and "300" in event["detail"]
    assert "lot1" in event["detail"] and "planned without it" in event["detail"]


def test_power_beyond_the_limit_falls_back_to_the_previous_offer():
    keys = keys_for()
    dso = make_dso(keys=keys)
    yesterday = full_offer(keys)
    dso.accept(0, [yesterday])
    today = full_offer(keys, hour=24, max_discharge_kw=[LIMIT_KW * 2] * HOURS)
    assert dso.accept(24, [today]) == {"lot1": yesterday["payload"]}
    (event,) = dso.events
    assert event["event"] == "implausible offer" and "using its previous offer" in event["detail"]


def test_negative_power_rejects_the_offer():
    keys = keys_for()
    dso = make_dso(keys=keys)
    good = full_offer(keys)["payload"]
    m = full_offer(keys, max_discharge_kw=[-5.0] + good["max_discharge_kw"][1:])
    assert dso.accept(0, [m]) == {}
    (event,) = dso.events
    assert event["event"] == "rejected message" and "max_discharge_kw[0]" in event["detail"]


def test_undeliverable_energy_is_clipped():
    keys = keys_for()
    dso = make_dso(keys=keys)
    good = full_offer(keys)["payload"]
    deliverable = float(np.sum(np.asarray(good["max_discharge_kw"])[np.asarray(good["hour_mode"]) < 0]))
    accepted = dso.accept(0, [full_offer(keys, energy_available_kwh=deliverable + 1000.0)])["lot1"]
    assert accepted["energy_available_kwh"] == pytest.approx(deliverable)
    (event,) = dso.events
    assert event["event"] == "implausible offer" and "deliverable" in event["detail"]


def test_energy_jump_from_the_day_before_is_clipped():
    keys = keys_for()
    dso = make_dso(keys=keys)
    yesterday = full_offer(keys)
    dso.accept(0, [yesterday])
    before = yesterday["payload"]["energy_available_kwh"]
    assert before > 0
    today = full_offer(keys, hour=24, energy_available_kwh=2.0 * before + 10.0)
    assert dso.accept(24, [today])["lot1"]["energy_available_kwh"] == pytest.approx(before)
    (event,) = dso.events
    assert event["event"] == "implausible offer" and "day before" in event["detail"]


def test_misreported_offer_beyond_the_limit_is_rejected_by_the_dso():
    keys = keys_for()
    dso = make_dso(keys=keys, lots=registrations(lot1=50.0, lot2=50.0))
    plos = make_plos("centralised", keys, misreport_probability=1.0, misreport_factor=3.0)
    assert dso.accept(0, offers_from_plos(plos, fleet_forecast(n_pevs=10))) == {}
    assert event_names(dso.events) == ["implausible offer"] * len(LOTS)
    assert all("beyond the registered 50 kW" in e["detail"] for e in dso.events)
    assert all(event_names(p.events) == ["misreported offer"] for p in plos.values())


def test_schedule_offers_are_checked_against_the_connection_limit():
    keys = keys_for()
    dso = make_dso("signals", keys=keys, lots=registrations(lot1=40.0))
    msgs = schedule_msgs(keys, {"lot1": night_schedule(40.0)})
    assert dso.accept(0, msgs) == {"lot1": msgs[0]["payload"]}
    assert dso.events == []
    over = schedule_msgs(keys, {"lot1": night_schedule(41.0)}, hour=24)
    assert dso.accept(24, over) == {"lot1": msgs[0]["payload"]}  # yesterday's schedule stands in
    assert event_names(dso.events) == ["implausible offer"]


# -- contracts no fleet can keep ------------------------------------------------------------------------------

@pytest.mark.parametrize("with_envelope", [True, False])
def test_an_impossible_need_is_clipped_for_that_lot_alone_and_the_day_is_planned(with_envelope):
    """The issue's case: one lot's offer asks 20,000 kWh with no power to charge it. Its need is clipped to what
    its power bounds can put in, the event names that lot, and both lots are planned (no fallback)."""
    keys = keys_for()
    dso, plos = make_dso(keys=keys), make_plos("centralised", keys)
    honest = offers_from_plos(plos, fleet_forecast(n_pevs=10))
    bad = dict(honest[0]["payload"])
    bad.update(max_charge_kw=[0.0] * HOURS, energy_need_kwh=20_000.0, need_by_hour_kwh=[20_000.0] * HOURS,
               fleet=None)
    if with_envelope:
        env = dict(bad["envelope"])
        env.update(p_max_kw=[0.0] * HOURS, e_min_kwh=[20_000.0] * HOURS, e_max_kwh=[20_000.0] * HOURS)
        env.pop("gain_max_kwh"), env.pop("drop_max_kwh")
        bad["envelope"] = env
    else:
        bad["envelope"] = None
    forged = message("lot1", "DSO", "offer", bad, keys["lot1"])
    offers = dso.accept(0, [forged, honest[1]])
    assert sorted(offers) == ["lot1", "lot2"]
    (event,) = dso.events
    assert event["event"] == "implausible offer" and event["detail"].startswith("lot1: contracts need")
    out = dso.day_ahead(0, offers, LOAD_SCALING, PRICE)
    assert "planning fallback" not in event_names(dso.events)
    assert sorted(m["receiver"] for m in out) == ["lot1", "lot2"]  # both lots get a schedule


class _GivesUpLoudly:
    """A controller that returns an infeasible plan whose own prediction holds thousands of entries."""

    name = "gives-up"

    def plan(self, problem):
        from cosim.controllers.base import DayAheadPlan  # noqa: PLC0415

        predicted = {f"term_{i}\nforged line": float(i) for i in range(5000)}
        return DayAheadPlan(open_branches=tuple(problem.network.tie_branches), lot_buses={}, setpoints_kw={},
                            feasible=False, predicted=predicted)


def test_a_fallback_event_quotes_the_rejected_plans_prediction_on_one_bounded_line():
    keys = keys_for()
    dso, plos = make_dso("centralised", _GivesUpLoudly(), keys=keys), make_plos("centralised", keys)
    dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, fleet_forecast(n_pevs=100))), LOAD_SCALING, PRICE)
    (event,) = [e for e in dso.events if e["event"] == "planning fallback"]
    own = event["detail"].split("; the rejected plan's own prediction: ", 1)[1]
    assert own.startswith("term_0\\nforged line=0, term_1\\nforged line=1") and "\n" not in event["detail"]
    assert len(own) == 300 and own.endswith("...")
