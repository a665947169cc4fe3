"""`highs_lp.linprog_highs` gives `scipy.optimize.linprog(method="highs")`'s solution bit for bit on the per-EV LP
(`fleet_lp`'s two forms: `dispatch`'s schedule-following LP and `max_schedule_kwh`'s support function), on
hypothesis-drawn fleets and on a day of a 120-EV lot, and `linprog`'s status and message where there is no optimum."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, hstack, vstack

from cosim.controllers.fleet_lp import THROUGHPUT_COST, _model
from cosim.controllers.highs_lp import linprog_highs
from simulators.parking.ev import EV
from simulators.parking.lot import ParkingLot
from tests.controllers.test_fleet_lp_vectorised import fleets


def _dispatch_lp(fleet: dict[str, Any], schedule_kw: np.ndarray) -> tuple:
    """`fleet_lp._dispatch`'s LP, as it hands it to the solver."""
    H, n, energy, e_lo, e_hi, net, bounds, _ = _model(fleet)
    eye = csr_matrix(np.eye(H))
    a_eq = hstack([net, eye, -eye]).tocsr()
    a_ub = hstack([vstack([energy, -energy]), csr_matrix((2 * energy.shape[0], 2 * H))]).tocsr()
    cost = np.concatenate([np.full(net.shape[1], THROUGHPUT_COST), np.ones(2 * H)])
    b_ub = np.minimum(np.concatenate([e_hi, -e_lo]), 1e12)
    return cost, a_ub, b_ub, bounds + [(0, None)] * (2 * H), a_eq, np.asarray(schedule_kw, float)


def _support_lp(fleet: dict[str, Any], weights: np.ndarray) -> tuple:
    """`fleet_lp.max_schedule_kwh`'s LP."""
    H, n, energy, e_lo, e_hi, net, bounds, _ = _model(fleet)
    return -(net.T @ weights), vstack([energy, -energy]), np.minimum(np.concatenate([e_hi, -e_lo]), 1e12), bounds


def _same_as_linprog(c, a_ub, b_ub, bounds, a_eq=None, b_eq=None) -> bool:
    ours = linprog_highs(c, a_ub, b_ub, bounds, a_eq, b_eq)
    theirs = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert ours.status == theirs.status
    if theirs.status != 0:
        assert ours.message == theirs.message
        return True
    assert ours.message == theirs.message
    assert ours.x.dtype == theirs.x.dtype and ours.x.shape == theirs.x.shape
    return ours.x.tobytes() == theirs.x.tobytes() and np.float64(ours.fun).tobytes() == np.float64(theirs.fun).tobytes()


@settings(max_examples=60, deadline=None)
@given(fleets(), st.data())
def test_drawn_fleets_are_solved_bit_for_bit_as_linprog_does(fleet, data):
    hours = int(fleet["hours"])
    schedule = np.array(data.draw(st.lists(st.floats(-60.0, 60.0, allow_nan=False), min_size=hours,
                                           max_size=hours)))
    H, n, energy, e_lo, e_hi, net, bounds, _ = _model(fleet)
    if net.shape[1] == 0:  # fleet_lp answers without a solver
        return
    assert _same_as_linprog(*_dispatch_lp(fleet, schedule))
    assert _same_as_linprog(*_support_lp(fleet, schedule / 60.0))


def test_a_day_of_a_120_ev_lot_is_solved_bit_for_bit_as_linprog_does():
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
        assert _same_as_linprog(*_dispatch_lp(fleet, schedule))


def test_no_optimum_gives_linprogs_status_and_message():
    # x >= 5 and x <= 1: infeasible
    args = (np.array([1.0]), csr_matrix(np.array([[1.0]])), np.array([1.0]), [(5.0, None)])
    ours = linprog_highs(*args)
    theirs = linprog(args[0], A_ub=args[1], b_ub=args[2], bounds=args[3], method="highs")
    assert ours.status == theirs.status != 0
    assert ours.message == theirs.message
