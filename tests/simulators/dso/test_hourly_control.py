"""Hour-by-hour control in the agents, without mosaik: the PLOs' hourly offers, the DSO's revisions (checked and
contained like day-ahead plans), revised schedules the PLOs follow from the hour they arrive, switch limits."""

from __future__ import annotations

import numpy as np
import pytest
from agent_fixtures import (
    BASE_WU_OPEN,
    LOAD_SCALING,
    LOTS,
    PRICE,
    deliver,
    event_names,
    fleet_forecast,
    keys_for,
    make_dso,
    make_plos,
    offers_from_plos,
)

from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem, HourState, can_revise, rolled_plan
from cosim.controllers.registry import make_controller
from cosim.errors import PluginOptionsError


def all_it_can(lot) -> np.ndarray:
    """A lot charging all it can in its charge hours: its offered power, then what its EVs can store (envelope)."""
    greedy = np.where(lot.hour_mode > 0, lot.max_charge_kw, 0.0)
    return greedy if lot.envelope is None else lot.envelope.project(greedy)


class Reviser:
    """Day-ahead: every lot charging all it can in its charge hours, on the tie switches. Each revision:
    `revise_step(problem, state)`; records the calls."""

    name = "reviser"

    def __init__(self, revise_step) -> None:
        self.revise_step = revise_step
        self.calls: list[tuple[DayAheadProblem, HourState, int]] = []

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        return DayAheadPlan(open_branches=tuple(problem.base_open_branches),
                            lot_buses={lot.lot_id: lot.candidate_buses[0] for lot in problem.lots},
                            setpoints_kw={lot.lot_id: all_it_can(lot) for lot in problem.lots}, feasible=True,
                            controller=self.name)

    def revise(self, problem: DayAheadProblem, state: HourState, hour: int) -> DayAheadPlan:
        self.calls.append((problem, state, hour))
        return self.revise_step(problem, state)


def charge_in_charge_hours(open_branches=None):
    """A revision charging each lot all it can in its charge hours."""
    def step(problem: DayAheadProblem, state: HourState) -> DayAheadPlan:
        return DayAheadPlan(open_branches=tuple(open_branches or problem.base_open_branches),
                            lot_buses={lot.lot_id: lot.candidate_buses[0] for lot in problem.lots},
                            setpoints_kw={lot.lot_id: all_it_can(lot) for lot in problem.lots},
                            feasible=True, controller="reviser")
    return step


def start(controller, hour_forecasts: bool = True, **dso_kw):
    keys = keys_for()
    dso = make_dso("centralised", controller, keys=keys, **dso_kw)
    plos = make_plos("centralised", keys)
    forecast = fleet_forecast(n_pevs=10)
    out = dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, forecast)), LOAD_SCALING, PRICE)
    deliver(plos, out)
    return dso, plos, forecast


def hour(dso, plos, h: int, forecast):
    sent = [m for plo in plos.values() for m in plo.hour_step(h, forecast, PRICE, {"evs_present": 3,
                                                                                  "energy_stored_kwh": 50.0,
                                                                                  "energy_charged_kwh": 12.0})]
    offers = dso.accept(h, sent, hourly=True)
    out = dso.hour_step(h, offers, LOAD_SCALING, PRICE)
    return sent, offers, out


def test_controllers_with_revise_are_hourly_and_mpc_is_built_in():
    assert can_revise(make_controller("mpc", n_particles=4, n_iter=5))
    assert not can_revise(make_controller("eo", n_particles=4, n_iter=5))
    assert make_dso("centralised", Reviser(charge_in_charge_hours())).hourly
    assert not make_dso("centralised", "eo").hourly


def test_hourly_offers_revised_schedules_and_plos_follow_them_from_that_hour():
    ctrl = Reviser(charge_in_charge_hours())
    dso, plos, forecast = start(ctrl)
    before = {lot: [plo.setpoint_kw(h) for h in range(HOURS)] for lot, plo in plos.items()}
    sent, offers, out = hour(dso, plos, 5, forecast)
    assert [(m["kind"], m["hour"], m["round"]) for m in sent] == [("offer", 5, 0)] * len(LOTS)
    assert sorted(offers) == sorted(LOTS) and all(o["measured"]["evs_present"] == 3 for o in offers.values())
    (problem, state, h), = ctrl.calls
    assert h == 5 and state.hour == 5 and state.day_start == 0 and state.switch_operations_left == 0
    assert state.lots["lot1"].energy_charged_kwh == 12.0
    assert problem.reconfigure is False and tuple(problem.base_open_branches) == dso.open_branches
    assert all(lot.candidate_buses == (LOTS[lot.lot_id],) for lot in problem.lots)  # a lot does not move mid-day
    assert sorted(m["receiver"] for m in out) == sorted(LOTS)
    assert all(m["payload"]["start_hour"] == 5 and m["hour"] == 5 and m["round"] == 0 for m in out)
    assert deliver(plos, out, hour=5) == []
    for lot, plo in plos.items():
        revised = all_it_can(plo.hourly_offer)
        np.testing.assert_allclose([plo.setpoint_kw(h) for h in range(5, HOURS)], revised[:HOURS - 5])
    row = dso.plans[-1]
    assert len(dso.plans) == 1 and row["info"]["revisions"] == 1 and row["history"] == []
    # merged: the day-ahead plan before hour 5, the revision after
    assert row["setpoints_kw"]["lot1"][:5] == pytest.approx(before["lot1"][:5])
    assert row["setpoints_kw"]["lot1"][5:] == pytest.approx([plos["lot1"].setpoint_kw(h) for h in range(5, HOURS)])


def test_a_failing_revision_keeps_the_plan_in_force_and_is_logged():
    def boom(problem, state):
        raise RuntimeError("no revision today")
    dso, plos, forecast = start(Reviser(boom))
    plan_before = dict(dso.plans[-1])
    _, _, out = hour(dso, plos, 7, forecast)
    assert out == []
    assert event_names(dso.events) == ["planning fallback"]
    assert dso.events[0]["hour"] == 7 and "hourly revision at hour 7" in dso.events[0]["detail"]
    assert "no revision today" in dso.events[0]["detail"]
    assert dso.plans[-1] == plan_before


def test_a_revision_breaking_a_rule_is_rejected_like_a_day_ahead_plan():
    def nan(problem, state):
        plan = charge_in_charge_hours()(problem, state)
        plan.setpoints_kw["lot1"][0] = float("nan")
        return plan
    dso, plos, forecast = start(Reviser(nan))
    _, _, out = hour(dso, plos, 3, forecast)
    assert out == [] and "rule" in next(e for e in dso.events if e["event"] == "planning fallback")["detail"]


def test_switch_operations_are_limited_per_day():
    other = BASE_WU_OPEN  # 8 operations away from the tie switches (4 closed, 4 opened)
    ctrl = Reviser(charge_in_charge_hours(open_branches=other))
    dso, plos, forecast = start(ctrl, switch_operations_per_day=4)
    tie = dso.open_branches
    hour(dso, plos, 2, forecast)
    assert "switching limit" in event_names(dso.events)
    assert dso.open_branches == tie  # re-planned with the topology fixed
    assert [c[0].reconfigure for c in ctrl.calls] == [True, False]
    dso2, plos2, forecast2 = start(Reviser(charge_in_charge_hours(open_branches=other)), switch_operations_per_day=10)
    hour(dso2, plos2, 2, forecast2)
    assert dso2.open_branches == tuple(other) and dso2.switch_operations_left == 2
    assert "switching limit" not in event_names(dso2.events)
    # a new day gives the day's operations back
    dso2.day_ahead(24, {}, LOAD_SCALING, PRICE)
    assert dso2.switch_operations_left == 10


def test_the_grid_measurement_reaches_the_state():
    ctrl = Reviser(charge_in_charge_hours())
    dso, plos, forecast = start(ctrl)
    dso.measure_grid(4, None, None, None, None)  # nothing measured yet: ignored
    assert dso.grid_measurement is None
    dso.measure_grid(4, 12.5, 0.93, 3000.0, [33, 34, 35, 36, 37])
    hour(dso, plos, 5, forecast)
    grid = ctrl.calls[0][1].grid
    assert (grid.hour, grid.losses_kw, grid.v_min_pu, grid.open_branches) == (4, 12.5, 0.93, (33, 34, 35, 36, 37))


def test_controllers_without_revise_get_no_hourly_step():
    dso, plos, forecast = start(make_controller("none"))
    assert dso.revise_hour({}) is None
    assert dso.hour_step(5, {}, LOAD_SCALING, PRICE) == []


def test_mpc_revises_warm_started_from_the_plan_in_force():
    mpc = make_controller("mpc", n_particles=6, n_iter=10, seed=0)
    dso, plos, forecast = start(mpc)
    day_plan = dso.plans[-1]
    sent, offers, out = hour(dso, plos, 6, forecast)
    assert "planning fallback" not in event_names(dso.events)
    assert dso.plans[-1]["info"]["revisions"] == 1 and sorted(m["receiver"] for m in out) == sorted(LOTS)
    assert dso.plans[-1]["setpoints_kw"]["lot1"][:6] == day_plan["setpoints_kw"]["lot1"][:6]
    assert dso.plans[-1]["controller"] == "mpc"


def test_rolled_plan_starts_later():
    plan = DayAheadPlan(open_branches=(1,), lot_buses={"a": 2}, setpoints_kw={"a": np.arange(HOURS, dtype=float)},
                        feasible=True, predicted_hourly={"loss_kw": np.arange(HOURS, dtype=float)})
    rolled = rolled_plan(plan, 5)
    assert rolled.setpoints_kw["a"][0] == 5 and rolled.setpoints_kw["a"][-1] == 4
    assert rolled.predicted_hourly["loss_kw"][0] == 5 and plan.setpoints_kw["a"][0] == 0


@pytest.mark.parametrize("options", [{"engine": "annealing"}, {"revise_n_iter": 0}, {"n_iter": 0}])
def test_bad_mpc_options_are_refused(options):
    with pytest.raises(PluginOptionsError, match="mpc"):
        make_controller("mpc", **options)


def test_modes_without_hourly_offers_revise_the_grid_around_the_schedules_in_force():
    keys = keys_for()
    ctrl = Reviser(charge_in_charge_hours())
    dso, plos = make_dso("signals", ctrl, keys=keys), make_plos("signals", keys)
    forecast = fleet_forecast(n_pevs=10)
    dso.day_ahead(0, dso.accept(0, offers_from_plos(plos, forecast)), LOAD_SCALING, PRICE)
    schedules = {k: v.copy() for k, v in dso.schedules.items()}
    assert [m for plo in plos.values() for m in plo.hour_step(4, forecast, PRICE)] == []  # the mode says nothing
    assert dso.hour_step(4, {}, LOAD_SCALING, PRICE) == []
    (problem, state, h), = ctrl.calls
    assert problem.lots == () and state.lots == {}
    fixed = problem.fixed_injection_kw  # the lots' schedules in force, rolled to hour 4, at their buses
    for lot_id, bus in LOTS.items():
        np.testing.assert_allclose(fixed[:, bus - 1], np.roll(schedules[lot_id], -4))
