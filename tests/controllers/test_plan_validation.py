"""Every plan is checked before use (each rule has a hostile plan here) and can be evaluated with the fast flow."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, SEED000_HOUR_MODE, fleet_forecast, ieee33
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers import DayAheadPlan, DayAheadProblem, LotEconomics, make_controller
from cosim.controllers.plan_codec import snapshot
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


HOURLY = "predictions: predicted_hourly['loss_kw'] must be 24 finite numbers, got"


@pytest.mark.parametrize("changes, failure", [
    ({"feasible": np.array([True, False])}, "feasible: feasible must be True or False, got an array of shape (2,)"),
    ({"feasible": "yes"}, "feasible: feasible must be True or False, got a str"),
    ({"controller": 3}, "fields: controller must be a str, got an int"),
    ({"info": [1]}, "fields: info must be a dict, got a list"),
    ({"info": {"fallback": "none"}}, "fields: info['fallback'] is the DSO's own entry"),
    ({"info": {"history": ("a", 1.0)}}, "fields: info['history'] must be numbers in one dimension"),
    ({"info": {"history": np.ones((2, 2))}}, "fields: info['history'] must be numbers in one dimension"),
    ({"predicted": {"of3_kwh": "low"}}, "predictions: predicted['of3_kwh'] must be a finite number, got a str"),
    ({"predicted": {"of3_kwh": float("nan")}}, "predictions: predicted['of3_kwh'] must be a finite number, got nan"),
    ({"predicted_hourly": {"loss_kw": np.zeros(23)}}, f"{HOURLY} shape (23,)"),
    ({"predicted_hourly": {"loss_kw": np.ones((24, 2))}}, f"{HOURLY} shape (24, 2)"),
    ({"predicted_hourly": {"loss_kw": np.r_[np.ones(23), np.inf]}}, f"{HOURLY} shape (24,) with NaN or infinity"),
    ({"predicted_hourly": {"loss_kw": ("a",) * 24}}, f"{HOURLY} a tuple"),
    ({"open_branches": "33 34"}, "topology: open_branches must be a list of branch ids, got a str"),
    ({"open_branches": (33.5, 34, 35, 36, 37)}, "topology: open_branches must be integer branch ids, got a float"),
    ({"open_branches": (True, 34, 35, 36, 37)}, "topology: open_branches must be integer branch ids, got a bool"),
    ({"lot_buses": {"PL1": 18.5}}, "bus: lot 'PL1' at bus 18.5, not one of its candidates"),
    ({"setpoints_kw": [1, 2]}, "lots: setpoints_kw must be a dict, got a list"),
    ({"lot_buses": {7: 18}}, "lots: lot_buses has keys of type int; keys are str"),
])
def test_every_field_is_checked_and_a_bad_one_is_named(problem, good, changes, failure):
    """A field of the wrong type or shape (`feasible = np.array([True, False])` raised ValueError) is a failure
    naming the field, never an exception."""
    check = check_plan(problem, hostile(good, **changes))
    assert not check.ok and check.failure.startswith(failure), check.failure


PLAIN = st.recursive(st.none() | st.booleans() | st.integers(-2**63 + 1, 2**63 - 1) | st.floats() | st.text(max_size=4)
                     | st.builds(np.asarray, st.lists(st.floats(), max_size=30)),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                 max_size=4),
                     max_leaves=12)
FIELDS = ("open_branches", "lot_buses", "setpoints_kw", "feasible", "predicted", "predicted_hourly", "controller",
          "info")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FIELDS), PLAIN, st.sampled_from(["PL1", "loss_kw", "of3_kwh", "history"]))
@pytest.mark.slow
def test_any_plain_value_in_any_field_is_accepted_or_named_never_a_crash(problem, good, name, value, key):
    """Arbitrary plain data (what the codec lets through) in any field, alone or under a key the checks read."""
    for changed in (value, {key: value}):
        plan = snapshot(hostile(good, **{name: changed}))
        check = check_plan(problem, plan)
        assert check.ok or check.failure.split(":")[0] in RULES, check.failure


RULES = {"type", "feasible", "fields", "predictions", "topology", "lots", "setpoints", "bus", "energy"}


def test_a_problem_without_lots_still_checks_the_entries_a_plan_brings(problem, good):
    """Without lots to dispatch, a plan may name other lots' sites and schedules (kept, as before), but they are
    checked: a bus must be one of the network's, a schedule 24 finite numbers."""
    bare = dataclasses.replace(problem, lots=())
    kept = check_plan(bare, hostile(good, lot_buses={"X": np.int64(3)}, setpoints_kw={"X": [1.0] * 24}))
    assert kept.ok and kept.plan.lot_buses == {"X": 3} and kept.plan.setpoints_kw["X"].shape == (24,)
    for changes, failure in [({"lot_buses": {"X": 99}}, "bus: lot 'X' at bus 99, not a bus of the network (1..33)"),
                             ({"lot_buses": {"X": "abc"}}, "bus: lot 'X' at bus 'abc'"),
                             ({"setpoints_kw": {"X": "abc"}}, "setpoints: setpoints_kw['X'] must be 24 finite")]:
        assert check_plan(bare, hostile(good, **changes)).failure.startswith(failure)


def test_a_checked_plan_holds_the_values_checked(problem, good):
    """The plan that passes holds what was checked: int branch ids and buses, write-protected float setpoints."""
    plan = hostile(good, open_branches=np.asarray(good.open_branches, dtype=float),
                   lot_buses={"PL1": np.int64(good.lot_buses["PL1"])}, feasible=np.True_)
    check = check_plan(problem, plan)
    assert check.ok, check.failure
    assert all(type(b) is int for b in check.plan.open_branches) and type(check.plan.lot_buses["PL1"]) is int
    assert check.plan.feasible is True and not check.plan.setpoints_kw["PL1"].flags.writeable
