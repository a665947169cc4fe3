"""Every plan is checked before use (each rule has a hostile plan here) and can be evaluated with the fast flow."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, SEED000_HOUR_MODE, fleet_forecast, ieee33

from cosim.controllers import DayAheadPlan, DayAheadProblem, LotEconomics, make_controller
from cosim.controllers.validation import check_plan, evaluate_plan, lot_bounds_kw
from cosim.powerflow.bfs import solve_radial_batch
from simulators.plo.agent import offer_from_forecast


@pytest.fixture(scope="module")
def problem() -> DayAheadProblem:
    forecast = {**fleet_forecast(n_pevs=30), "hour_mode": SEED000_HOUR_MODE}
    offer = offer_from_forecast("PL1", (18, 25), forecast, PRICE, LotEconomics())
    return DayAheadProblem(network=ieee33(), load_scaling=LOAD_SCALING, price_usd_per_kwh=PRICE, lots=(offer,))


@pytest.fixture(scope="module")
def good(problem) -> DayAheadPlan:
    return make_controller("eo", n_particles=6, n_iter=6, seed=0).plan(problem)


def hostile(plan: DayAheadPlan, **changes) -> DayAheadPlan:
    base = {"setpoints_kw": dict(plan.setpoints_kw), "lot_buses": dict(plan.lot_buses), "info": dict(plan.info)}
    return dataclasses.replace(plan, **{**base, **changes})


@pytest.mark.parametrize("name", ["eo", "pso", "ga", "rule", "none"])
def test_built_in_controllers_plans_pass_unchanged_when_they_say_feasible(problem, name):
    options = {"n_particles": 6, "n_iter": 4, "seed": 1} if name in ("eo", "pso", "ga") else {}
    plan = make_controller(name, **options).plan(problem)
    check = check_plan(problem, plan)
    if plan.feasible:  # the check agrees with the controller's own feasibility and changes nothing
        assert check.ok and check.repairs == [] and check.plan is plan, check.failure
    else:  # e.g. "none" charges nothing and misses the contracts: it says so itself
        assert check.failure.startswith("feasible: ")
    assert name != "eo" or plan.feasible  # EO is seeded with a contract-feasible dispatch


def test_each_rule_names_itself(problem, good):
    sp = good.setpoints_kw["PL1"]
    cases = {
        "type": "not a plan",
        "feasible": hostile(good, feasible=False),
        "topology": hostile(good, open_branches=(33, 34, 35, 36)),  # a loop closed
        "lots": hostile(good, setpoints_kw={"PL1": sp, "PL9": sp}),
        "setpoints": hostile(good, setpoints_kw={"PL1": np.r_[sp[:23]]}),
        "bus": hostile(good, lot_buses={"PL1": 3}),
        "energy": hostile(good, setpoints_kw={"PL1": np.zeros(24)}),  # contracts not met
    }
    for rule, plan in cases.items():
        check = check_plan(problem, plan)
        assert not check.ok and check.plan is None and check.failure.startswith(f"{rule}: "), (rule, check.failure)
    nan = hostile(good, setpoints_kw={"PL1": np.where(np.arange(24) == 3, np.nan, sp)})
    assert check_plan(problem, nan).failure.startswith("setpoints: ")
    islanded = hostile(good, open_branches=(1, 33, 34, 35, 36, 37))
    assert "islands" in check_plan(problem, islanded).failure


def test_topology_must_stay_when_reconfiguration_is_off(problem, good):
    fixed = dataclasses.replace(problem, reconfigure=False)
    moved = hostile(good, open_branches=(7, 9, 14, 32, 37))
    assert check_plan(fixed, moved).failure.startswith("topology: ")


def test_setpoints_beyond_the_offered_bounds_are_clipped_and_reported(problem, good):
    lower, upper = lot_bounds_kw(problem.lots[0])
    greedy = good.setpoints_kw["PL1"] + np.where(upper > 0, 500.0, 0.0)  # far above max_charge_kw at night
    check = check_plan(problem, hostile(good, setpoints_kw={"PL1": greedy}))
    assert check.ok and check.repairs[0].startswith("bounds: lot 'PL1' clipped")
    # then the energy its EVs cannot store is clipped hour by hour: the plan used lies inside the envelope
    assert len(check.repairs) == 2 and check.repairs[1].startswith("energy: lot 'PL1' clipped to what its EVs can")
    used = check.plan.setpoints_kw["PL1"]
    assert np.all(used <= upper + 1e-9) and np.all(used >= lower - 1e-9)
    assert float(problem.lots[0].envelope.violation_kwh(used)) <= 1e-6
    assert check.plan.predicted["of3_kwh"] == pytest.approx(evaluate_plan(problem, check.plan).predicted["of3_kwh"])


def test_evaluate_plan_fills_predictions_that_match_the_flow(problem, good):
    bare = hostile(good, predicted={}, predicted_hourly={})
    evaluate_plan(problem, bare)
    assert bare.predicted["of3_kwh"] == pytest.approx(good.predicted["of3_kwh"], rel=1e-9)
    np.testing.assert_allclose(bare.predicted_hourly["loss_kw"], good.predicted_hourly["loss_kw"], rtol=1e-9)
    p, q = problem.bus_loads_kw()
    p = p.copy()
    p[:, bare.lot_buses["PL1"] - 1] += bare.setpoints_kw["PL1"]
    flow = solve_radial_batch(problem.network, np.asarray(bare.open_branches), p, q)
    np.testing.assert_allclose(bare.predicted_hourly["loss_kw"], flow.loss_kw, rtol=1e-6)
