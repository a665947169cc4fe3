"""The per-EV LP (`fleet_lp`) against its dense formulation before the sparse one (`fleet_lp_reference`, solved by
`scipy.optimize.linprog`) on hypothesis-drawn fleets (CC-CV knees, mixed efficiencies, V2G on and off, EVs plugged
for part of the window or past it, a connection limit, calendar cost, 60-, 30- and 15-minute steps): the same
optimum values (`dispatch`'s deviation and whole objective, `max_schedule_kwh`), and a dispatch that keeps every row
of the dense formulation, charges or discharges each EV in a step (not both) and sums to the schedule up to its
deviation. And `dispatch`'s kept solutions are the solver's own, bit for bit, and never shared with a caller."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers.fleet_lp import _dispatch, _dispatch_solution, dispatch, max_schedule_kwh, nearest_kw
from cosim.errors import ProblemError
from tests.controllers.fleet_lp_reference import (
    fleets,
    reference_dispatch,
    reference_max_schedule_kwh,
    reference_model,
    schedules,
)

TOLERANCE_KWH = 1e-6
"""Optimum values (kWh, or the dispatch objective's units) agree to this, plus 1e-9 of their size."""


def _close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= TOLERANCE_KWH + 1e-9 * abs(theirs)


@settings(max_examples=200, deadline=None)
@given(fleets(), st.data())
def test_the_dispatch_optimum_is_the_dense_formulations(fleet, data):
    schedule = data.draw(schedules(fleet))
    try:
        reference_fun, reference_gap = reference_dispatch(fleet, schedule)
    except ProblemError:  # no dispatch keeps the drawn fleet's rows (a floor above what V2G may leave): both refuse
        with pytest.raises(ProblemError):
            _dispatch(fleet, schedule)
        return
    per_ev, gap = _dispatch(fleet, schedule)
    assert _close(gap, reference_gap)
    res, _ = _dispatch_solution(fleet, schedule)
    if res is not None:
        assert _close(res.fun, reference_fun)


@settings(max_examples=200, deadline=None)
@given(fleets(), st.data())
def test_the_dispatch_keeps_every_row_of_the_dense_formulation_ev_by_ev(fleet, data):
    schedule = data.draw(schedules(fleet))
    try:
        res, m = _dispatch_solution(fleet, schedule)
    except ProblemError:
        return
    per_ev, gap = _dispatch(fleet, schedule)
    step_h = int(fleet.get("step_minutes", 60)) / 60.0
    # the lot's net per step meets the schedule up to the deviation, which is what the dispatch reports
    assert _close(float(np.abs(schedule * step_h - per_ev.sum(axis=0)).sum()), gap)
    if res is None:
        assert gap == float(np.abs(schedule * step_h).sum()) and not per_ev.any()
        return
    x = res.x
    charge = x[:m.k]
    discharge = np.zeros(m.k)
    discharge[m.give] = x[m.k: m.width]  # an EV without V2G has no discharge column: it never discharges
    assert np.all(np.minimum(charge, discharge) <= 1e-9)  # each EV charges or discharges in a step, not both
    # every row of the dense formulation (battery energy after each plugged step within reserve and capacity,
    # contracts by departure, CC-CV held power, the connection limit) and every column bound holds
    H, n, energy, e_lo, e_hi, net, bounds, (ev, hour) = reference_model(fleet)
    assert np.array_equal(ev, m.ev) and np.array_equal(hour, m.hour)
    dense = np.concatenate([charge, discharge])
    lower, upper = np.array(bounds, float).T
    assert np.all(dense >= lower - 1e-9) and np.all(dense <= upper + 1e-9)
    rows = energy @ dense
    assert np.all(rows >= e_lo - 1e-6) and np.all(rows <= e_hi + 1e-6)
    np.testing.assert_allclose(per_ev[ev, hour], charge - discharge, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(fleets(), st.data())
def test_max_schedule_kwh_is_the_dense_formulations(fleet, data):
    weights = np.array(data.draw(st.lists(st.floats(-1.0, 1.0), min_size=int(fleet["hours"]),
                                          max_size=int(fleet["hours"]))))
    try:
        reference = reference_max_schedule_kwh(fleet, weights)
    except ProblemError:
        with pytest.raises(ProblemError):
            max_schedule_kwh(fleet, weights)
        return
    assert _close(max_schedule_kwh(fleet, weights), reference)


def test_a_hand_made_fleet_is_dispatched_onto_a_schedule_it_can_follow():
    """A hand-made fleet of three EVs (one V2G, one tapering, one leaving mid-window): the dispatch meets a
    schedule it can deliver (0 kWh off) and the per-EV energies sum to the schedule hour by hour."""
    fleet = dict(start_min=0, hours=4, plug_min=np.array([0, 30, 0]), dep_min=np.array([300, 240, 120]),
                 energy_kwh=np.array([20.0, 10.0, 5.0]), capacity_kwh=np.array([40.0, 40.0, 20.0]),
                 charger_kw=np.array([10.0, 10.0, 10.0]), contract_kwh=np.array([20.0, 20.0, 10.0]),
                 floor_kwh=np.array([10.0, 0.0, 0.0]), v2g=np.array([True, False, False]),
                 eta_charge=np.array([1.0, 0.95, 1.0]), eta_discharge=np.array([1.0, 0.95, 1.0]),
                 knee_soc=np.array([1.0, 0.8, 1.0]))
    schedule = np.array([10.0, 5.0, 5.0, 0.0])
    per_ev, off_kwh = dispatch(fleet, schedule)
    assert off_kwh == 0.0
    np.testing.assert_allclose(per_ev.sum(axis=0), schedule, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(fleets(), st.data())
def test_a_kept_dispatch_is_the_solvers_bit_for_bit(fleet, data):
    schedule = data.draw(schedules(fleet))
    try:
        first, gap_first = dispatch(fleet, schedule)
    except ProblemError:  # a drawn fleet the LP cannot serve (e.g. a floor above what V2G may leave): never kept
        with pytest.raises(ProblemError):
            _dispatch(fleet, schedule)
        with pytest.raises(ProblemError):
            dispatch(fleet, schedule)
        return
    again, gap_again = dispatch({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in fleet.items()},
                                schedule.tolist())  # the lot's payload: lists, same values
    fresh, gap_fresh = _dispatch(fleet, schedule)
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh)
    assert gap_first == gap_again == gap_fresh


@settings(max_examples=60, deadline=None)
@given(fleets(), st.data())
def test_the_nearest_schedules_kept_dispatch_is_an_optimum_of_its_own_lp(fleet, data):
    """`nearest_kw` keeps its dispatch as the nearest schedule's own: what `dispatch` then answers for the nearest
    schedule (not solved again) delivers it exactly and costs what HiGHS's own optimum of that LP costs (the
    throughput and calendar terms), so a PLO or lot handed the clipped schedule gets an optimum of its LP."""
    schedule = data.draw(schedules(fleet))
    try:
        nearest, gap = nearest_kw(fleet, schedule)
    except ProblemError:
        return
    step_h = int(fleet.get("step_minutes", 60)) / 60.0
    per_ev, _ = dispatch(fleet, schedule)
    np.testing.assert_array_equal(nearest, per_ev.sum(axis=0) / step_h)
    assert _close(float(np.abs(schedule * step_h - per_ev.sum(axis=0)).sum()), gap)
    kept, kept_gap = dispatch(fleet, nearest)  # answered from what nearest_kw kept
    np.testing.assert_array_equal(kept, per_ev)
    assert kept_gap <= 1e-9
    res, m = _dispatch_solution(fleet, nearest)  # the LP of the nearest schedule, solved afresh
    if res is None:
        assert not kept.any()
        return
    fresh_gap = float(res.x[m.width:].sum())
    assert fresh_gap <= 1e-6
    kept_res, _ = _dispatch_solution(fleet, schedule)  # the kept dispatch's whole objective: its cost minus its gap
    assert _close(kept_res.fun - gap, res.fun - fresh_gap)


def test_a_kept_dispatch_is_a_copy_and_a_changed_fleet_is_solved_again():
    fleet = dict(start_min=0, hours=3, plug_min=np.array([0, 0]), dep_min=np.array([180, 600]),
                 energy_kwh=np.array([10.0, 20.0]), capacity_kwh=np.array([40.0, 40.0]),
                 charger_kw=np.array([10.0, 10.0]), contract_kwh=np.array([20.0, 30.0]),
                 floor_kwh=np.array([0.0, 5.0]), v2g=np.array([False, True]), eta_charge=np.array([1.0, 1.0]),
                 eta_discharge=np.array([1.0, 1.0]))
    schedule = np.array([10.0, 10.0, -5.0])
    per_ev, _ = dispatch(fleet, schedule)
    expected = per_ev.copy()
    per_ev[:] = 99.0  # a caller writing into its answer does not change the next one
    assert np.array_equal(dispatch(fleet, schedule)[0], expected)
    assert expected[1, 2] == -5.0  # the V2G EV gives the last hour's 5 kW
    no_v2g = dict(fleet, v2g=np.array([False, False]))  # a new LP: nobody can give back, 5 kWh off the schedule
    per_ev, gap_kwh = dispatch(no_v2g, schedule)
    assert gap_kwh == 5.0 and np.all(per_ev[:, 2] == 0.0)
    assert np.array_equal(per_ev, _dispatch(no_v2g, schedule)[0])


@pytest.mark.parametrize("step_minutes", [60, 30, 15])
def test_the_connection_limit_is_kw_at_every_step(step_minutes):
    """Two 22 kW EVs behind a 10 kW connection: a step takes at most 10 kW x step_h, and a 30 kW schedule misses
    20 kW x step_h in each step, whatever the step."""
    steps = 60 // step_minutes  # one hour
    step_h = step_minutes / 60.0
    fleet = dict(start_min=0, hours=steps, plug_min=np.array([0, 0]), dep_min=np.array([600, 600]),
                 energy_kwh=np.array([10.0, 10.0]), capacity_kwh=np.array([75.0, 75.0]),
                 charger_kw=np.array([22.0, 22.0]), contract_kwh=np.array([10.0, 10.0]),
                 floor_kwh=np.array([0.0, 0.0]), v2g=np.array([True, True]), eta_charge=np.array([1.0, 1.0]),
                 eta_discharge=np.array([1.0, 1.0]), connection_limit_kw=10.0)
    if step_minutes != 60:
        fleet["step_minutes"] = step_minutes
    first = np.eye(steps)[0]
    assert max_schedule_kwh(fleet, first) == pytest.approx(10.0 * step_h)
    assert max_schedule_kwh(fleet, -first) == pytest.approx(10.0 * step_h)
    per_ev, gap_kwh = dispatch(fleet, np.full(steps, 30.0))
    assert gap_kwh == pytest.approx(20.0 * step_h * steps)
    np.testing.assert_allclose(per_ev.sum(axis=0), 10.0 * step_h)

