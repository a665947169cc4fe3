"""A controller planning in the DSO's own process (`isolation = false`) gets a read-only copy of the problem: what it
changes never reaches the problem its plan is checked against."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, SEED000_HOUR_MODE, fleet_forecast, ieee33

from cosim.controllers import DayAheadPlan, DayAheadProblem, LotEconomics
from cosim.controllers.read_only import read_only_problem
from simulators.plo.agent import offer_from_forecast


@pytest.fixture
def problem() -> DayAheadProblem:
    forecast = {**fleet_forecast(n_pevs=10), "hour_mode": SEED000_HOUR_MODE}
    offer = offer_from_forecast("PL1", (18, 25), forecast, PRICE, LotEconomics())
    return DayAheadProblem(network=ieee33(), load_scaling=LOAD_SCALING, price_usd_per_kwh=PRICE, lots=(offer,))


def test_the_copy_is_write_protected_and_changing_it_leaves_the_problem_alone(problem):
    before = problem.lots[0].max_charge_kw.copy()
    copy = read_only_problem(problem)
    lot = copy.lots[0]
    for arr in (lot.max_charge_kw, lot.hour_mode, lot.envelope.p_max_kw, copy.load_scaling, copy.network.r_pu):
        with pytest.raises(ValueError, match="read-only"):
            arr[:] = 1000.0
    object.__setattr__(lot, "max_charge_kw", np.full(24, 1000.0))  # around the frozen dataclass
    object.__setattr__(lot, "envelope", None)
    lot.fleet["charger_kw"] = [1e6]
    copy.options["anything"] = 1
    original = problem.lots[0]
    np.testing.assert_array_equal(original.max_charge_kw, before)
    assert original.envelope is not None and original.fleet["charger_kw"] != [1e6] and "anything" not in problem.options


def _same_and_apart(original, copied, path="problem", seen=None):
    """`copied` holds the values of `original` (types, arrays bit for bit), shares no list, dict, dataclass or
    array with it, and every array in it is write-protected."""
    assert type(original) is type(copied), path
    seen = set() if seen is None else seen
    if id(original) in seen:
        return
    seen.add(id(original))
    if isinstance(original, np.ndarray):
        assert original.dtype == copied.dtype and np.array_equal(original, copied, equal_nan=True), path
        assert not copied.flags.writeable and not np.shares_memory(original, copied), path
    elif isinstance(original, dict):
        assert original is not copied and list(original) == list(copied), path
        for key in original:
            _same_and_apart(original[key], copied[key], f"{path}[{key!r}]", seen)
    elif isinstance(original, (list, tuple)):
        assert len(original) == len(copied) and (isinstance(original, tuple) or original is not copied), path
        for i, (a, b) in enumerate(zip(original, copied)):
            _same_and_apart(a, b, f"{path}[{i}]", seen)
    elif hasattr(original, "__dict__") and not isinstance(original, type):
        assert original is not copied and list(vars(original)) == list(vars(copied)), path
        for key in vars(original):
            _same_and_apart(vars(original)[key], vars(copied)[key], f"{path}.{key}", seen)
    else:
        assert original == copied or original != original, path


def test_the_copy_holds_the_same_data_and_shares_nothing_mutable(problem):
    """The one-pass copy gives what a deep copy gives (the lot's per-EV fleet lists, options, a standing plan with
    arrays in a dict), with no list, dict, dataclass or array in common with the problem; an object reached twice is
    copied once, and a list that holds itself is copied."""
    cyclic: list = [1.0]
    cyclic.append(cyclic)
    standing = DayAheadPlan(open_branches=(33, 34, 35, 36, 37), lot_buses={"PL1": 18},
                            setpoints_kw={"PL1": np.arange(24.0)}, feasible=True,
                            predicted_hourly={"loss_kw": np.ones(24)},
                            info={"history": [1.0, 2.0], "nested": {"a": (np.zeros(2), "x")}, "cycle": cyclic})
    lots = (problem.lots[0], problem.lots[0])
    problem = replace(problem, lots=lots, standing_plan=standing, options={"weights": np.ones(3), "n": 2})
    copied = read_only_problem(problem)
    _same_and_apart(problem, copied)
    assert copied.lots[0] is copied.lots[1]  # reached twice, copied once (as copy.deepcopy does)
    looped = copied.standing_plan.info["cycle"]
    assert looped is not cyclic and looped[1] is looped
    assert problem.lots[0].fleet["charger_kw"] and isinstance(copied.lots[0].fleet["charger_kw"], list)
