"""`highs_lp.solve_lp` (HiGHS handed the LP in its own ranged form, dual simplex without presolve) reaches
`scipy.optimize.linprog(method="highs")`'s optimum on the per-EV LP as `fleet_lp` builds it (`dispatch`'s
schedule-following LP and `max_schedule_kwh`'s support function) on hypothesis-drawn fleets and on a day of a
120-EV lot, with a solution within its bounds and rows; and says so where there is no optimum."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import csc_array, vstack

from cosim.controllers import fleet_lp
from cosim.controllers.highs_lp import TOLERANCE, solve_lp
from simulators.parking.ev import EV
from simulators.parking.lot import ParkingLot
from tests.controllers.fleet_lp_reference import fleets, schedules


def _captured(call) -> tuple:
    """The arguments `fleet_lp` hands `solve_lp` in `call()` (the last LP it solves)."""
    seen = []

    def spy(*args):
        seen.append(args)
        return solve_lp(*args)

    fleet_lp.solve_lp, original = spy, fleet_lp.solve_lp
    try:
        call()
    finally:
        fleet_lp.solve_lp = original
    return seen[-1]


def _by_linprog(cost, col_lower, col_upper, a, row_lower, row_upper):
    """The same LP in `linprog`'s form: each finite row side one ``A_ub x <= b_ub`` row, equal sides ``A_eq``."""
    a = csc_array(a).tocsr()
    equal = row_lower == row_upper
    upper = ~equal & np.isfinite(row_upper)
    lower = ~equal & np.isfinite(row_lower)
    a_ub = vstack([a[np.flatnonzero(upper)], -a[np.flatnonzero(lower)]])
    b_ub = np.concatenate([row_upper[upper], -row_lower[lower]])
    a_eq = a[np.flatnonzero(equal)] if equal.any() else None
    b_eq = row_lower[equal] if equal.any() else None
    bounds = [(lo, None if np.isinf(hi) else hi) for lo, hi in zip(col_lower, col_upper)]
    return linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")


def _same_optimum(args) -> None:
    cost, col_lower, col_upper, a, row_lower, row_upper = args
    ours = solve_lp(*args)
    theirs = _by_linprog(*args)
    assert (ours.status == 0) == (theirs.status == 0)
    if theirs.status != 0:
        return
    assert abs(ours.fun - theirs.fun) <= 1e-7 + 1e-9 * abs(theirs.fun)
    assert abs(ours.fun - float(cost @ ours.x)) <= 1e-9 * (1.0 + abs(ours.fun))
    assert np.all(ours.x >= col_lower - TOLERANCE) and np.all(ours.x <= col_upper + TOLERANCE)
    rows = csc_array(a) @ ours.x
    assert np.all(rows >= row_lower - TOLERANCE) and np.all(rows <= row_upper + TOLERANCE)


@settings(max_examples=60, deadline=None)
@given(fleets(), st.data())
def test_drawn_fleets_reach_linprogs_optimum(fleet, data):
    schedule = data.draw(schedules(fleet))
    if fleet_lp._model(fleet).k == 0:  # fleet_lp answers without a solver
        return
    _same_optimum(_captured(lambda: _quiet(fleet_lp._dispatch, fleet, schedule)))
    _same_optimum(_captured(lambda: _quiet(fleet_lp.max_schedule_kwh, fleet, schedule / 60.0)))


def _quiet(call, *args) -> None:
    """`call(*args)`, its ProblemError (no optimum) left to the comparison."""
    try:
        call(*args)
    except fleet_lp.ProblemError:
        pass


def test_a_day_of_a_120_ev_lot_reaches_linprogs_optimum():
    rng = np.random.default_rng(11)
    evs = []
    for i in range(120):
        arr = round(float(rng.uniform(0, 14)) * 60) / 60
        dep = round(min(arr + float(rng.uniform(2, 10)), 23.9) * 60) / 60
        v2g = bool(rng.random() < 0.5)
        evs.append(EV(f"ev{i}", arr, dep, float(rng.choice([40.0, 60.0, 75.0])), float(rng.choice([7.4, 11.0])),
                      float(rng.uniform(0.2, 0.8)), 0.9, v2g, 0.2 if v2g else 0.0))
    fleet, _ = ParkingLot(evs, n_chargers=60, connection_limit_kw=1000.0).fleet_view(0.0, 24)
    for schedule in (np.zeros(24), 300.0 * np.sin(np.arange(24) / 24.0 * 2.0 * np.pi), rng.uniform(-400, 400, 24)):
        _same_optimum(_captured(lambda s=schedule: fleet_lp._dispatch(fleet, s)))


def test_no_optimum_is_a_status_and_a_message():
    # x >= 5 and x <= 1: infeasible
    infeasible = solve_lp(np.array([1.0]), np.array([5.0]), np.array([np.inf]), csc_array(np.array([[1.0]])),
                          np.array([-np.inf]), np.array([1.0]))
    assert infeasible.status == 2 and infeasible.x is None and infeasible.message == "HiGHS: Infeasible"
    # min -x, x >= 0, x - y <= 0, y free: unbounded (dual simplex without presolve, then with it: no optimum)
    unbounded = solve_lp(np.array([-1.0, 0.0]), np.array([0.0, -np.inf]), np.array([np.inf, np.inf]),
                         csc_array(np.array([[1.0, -1.0]])), np.array([-np.inf]), np.array([0.0]))
    assert unbounded.status == 1 and unbounded.x is None and "nbounded" in unbounded.message
