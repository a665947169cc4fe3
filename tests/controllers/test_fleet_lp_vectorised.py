"""The per-EV LP's model built without a per-EV Python loop is the one the loop built, entry for entry: the loop is
kept here as the reference and both build the model of hypothesis-drawn fleets (CC-CV knees, mixed efficiencies,
V2G on and off, EVs plugged for part of the horizon or past it, with and without a connection limit). And
`dispatch`'s kept solutions are the solver's own, bit for bit, and never shared with a caller."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix, diags, hstack, vstack

from cosim.controllers.cccv import has_taper, reach_kwh, start_for_kwh
from cosim.controllers.envelope import plugged_hours
from cosim.controllers.fleet_lp import _dispatch, _model, dispatch
from cosim.errors import ProblemError


def _reference_model(fleet: dict[str, Any]):
    """`fleet_lp._model` as it was before vectorising (commit e8ec129): the lower triangles built EV by EV."""
    H = int(fleet["hours"])
    start = int(fleet["start_min"])
    plug = np.maximum(np.asarray(fleet["plug_min"], np.int64), start)
    dep = np.asarray(fleet["dep_min"], np.int64)
    e0 = np.asarray(fleet["energy_kwh"], float)
    cap = np.asarray(fleet["capacity_kwh"], float)
    charger = np.asarray(fleet["charger_kw"], float)
    eta_c = np.asarray(fleet["eta_charge"], float)
    eta_d = np.asarray(fleet["eta_discharge"], float)
    v2g = np.asarray(fleet["v2g"], bool)
    n = e0.size
    end = start + 60 * H
    present, after = plugged_hours(plug, dep, start, H)
    ev, hour = np.nonzero(present > 0)
    k = ev.size
    c_ub = charger[ev] * present[ev, hour]
    d_ub = c_ub * v2g[ev]
    knee = np.asarray(fleet.get("knee_soc", np.ones(n)), float)
    reach = np.minimum(cap, e0 + charger * eta_c * (present.sum(axis=1) + after))
    if has_taper(knee):
        e = e0.copy()
        for h in range(H):
            e = reach_kwh(e, cap, charger * eta_c, knee, present[:, h])
        reach = reach_kwh(e, cap, charger * eta_c, knee, after, fraction_first=False)
    need = np.minimum(np.asarray(fleet["contract_kwh"], float), reach)
    floor = np.where(v2g, np.minimum(e0, np.asarray(fleet["floor_kwh"], float)), e0)
    rows, cols = [], []
    first = np.searchsorted(ev, np.arange(n))
    last = np.searchsorted(ev, np.arange(n), side="right")
    for i in np.flatnonzero(last > first):
        r, c = np.tril_indices(int(last[i] - first[i]))
        rows.append(r + first[i])
        cols.append(c + first[i])
    rows_a = np.concatenate(rows) if rows else np.zeros(0, int)
    cols_a = np.concatenate(cols) if cols else np.zeros(0, int)
    charge = csr_matrix((eta_c[ev[cols_a]], (rows_a, cols_a)), shape=(k, k))
    give = csr_matrix((-1.0 / eta_d[ev[cols_a]], (rows_a, cols_a)), shape=(k, k))
    energy = hstack([charge, give]).tocsr()
    e_lo = floor[ev] - e0[ev]
    e_hi = cap[ev] - e0[ev]
    ends = last[last > first] - 1
    whose = ev[ends]
    due = dep[whose] <= end
    e_lo[ends[due]] = np.maximum(e_lo[ends[due]], need[whose[due]] - e0[whose[due]])
    stay = whose[~due]
    late = start_for_kwh(need[stay], cap[stay], charger[stay] * eta_c[stay], knee[stay], after[stay],
                         fraction_first=False)
    e_lo[ends[~due]] = np.maximum(e_lo[ends[~due]], late - e0[stay])
    net = hstack([csr_matrix((np.ones(k), (hour, np.arange(k))), shape=(H, k)),
                  csr_matrix((-np.ones(k), (hour, np.arange(k))), shape=(H, k))]).tocsr()
    bounds = list(zip(np.zeros(2 * k), np.concatenate([c_ub, d_ub])))
    tapered = np.flatnonzero(knee[ev] < 1.0)
    if tapered.size:
        m, who = tapered.size, ev[tapered]
        a = charger[who] * eta_c[who] * present[who, hour[tapered]] / (cap[who] * (1.0 - knee[who]))
        own = csr_matrix((eta_c[who], (np.arange(m), tapered)), shape=(m, 2 * k))
        energy = vstack([energy, own + diags(a) @ energy[tapered]]).tocsr()
        e_lo = np.concatenate([e_lo, np.full(m, -np.inf)])
        e_hi = np.concatenate([e_hi, a * (cap[who] - e0[who])])
    limit = float(fleet.get("connection_limit_kw", np.inf))
    if np.isfinite(limit):
        energy = vstack([energy, net, -net]).tocsr()
        e_lo = np.concatenate([e_lo, np.full(2 * H, -np.inf)])
        e_hi = np.concatenate([e_hi, np.full(2 * H, limit)])
    return H, n, energy, e_lo, e_hi, net, bounds, (ev, hour)


@st.composite
def fleets(draw) -> dict[str, Any]:
    """A fleet forecast: EVs arriving before, in or after the window (minutes off the hour), leaving in it or past
    it, some never plugged in it; mixed chargers, efficiencies, knees, V2G and an optional connection limit."""
    n = draw(st.integers(0, 12))
    hours = draw(st.integers(1, 8))
    start = draw(st.sampled_from([0, 60, 17 * 60]))
    minutes = st.integers(start - 90, start + 60 * hours + 90)
    plug = np.array([draw(minutes) for _ in range(n)], np.int64)
    dep = np.array([p + draw(st.integers(0, 60 * hours + 120)) for p in plug], np.int64)
    cap = np.array([draw(st.sampled_from([20.0, 40.0, 75.0])) for _ in range(n)])
    e0 = cap * np.array([draw(st.floats(0.0, 1.0)) for _ in range(n)])
    fleet = dict(start_min=start, hours=hours, plug_min=plug, dep_min=dep, energy_kwh=e0, capacity_kwh=cap,
                 charger_kw=np.array([draw(st.sampled_from([3.7, 7.4, 11.0, 22.0])) for _ in range(n)]),
                 contract_kwh=cap * np.array([draw(st.floats(0.0, 1.0)) for _ in range(n)]),
                 floor_kwh=cap * np.array([draw(st.floats(0.0, 0.5)) for _ in range(n)]),
                 v2g=np.array([draw(st.booleans()) for _ in range(n)], bool),
                 eta_charge=np.array([draw(st.sampled_from([1.0, 0.95, 0.9])) for _ in range(n)]),
                 eta_discharge=np.array([draw(st.sampled_from([1.0, 0.95, 0.87])) for _ in range(n)]))
    if draw(st.booleans()):
        fleet["knee_soc"] = np.array([draw(st.sampled_from([1.0, 0.8, 0.6])) for _ in range(n)])
    if draw(st.booleans()):
        fleet["connection_limit_kw"] = draw(st.sampled_from([5.0, 30.0, 200.0]))
    return fleet


def _same_sparse(a, b) -> None:
    assert a.shape == b.shape and a.format == b.format == "csr"
    assert a.data.dtype == b.data.dtype and a.indices.dtype == b.indices.dtype
    assert np.array_equal(a.data, b.data) and np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.indptr, b.indptr)


@settings(max_examples=150, deadline=None)
@given(fleets())
def test_the_vectorised_model_is_the_loops_model_entry_for_entry(fleet):
    H, n, energy, e_lo, e_hi, net, bounds, (ev, hour) = _model(fleet)
    H0, n0, energy0, e_lo0, e_hi0, net0, bounds0, (ev0, hour0) = _reference_model(fleet)
    assert (H, n) == (H0, n0)
    _same_sparse(energy, energy0)
    _same_sparse(net, net0)
    assert np.array_equal(e_lo, e_lo0) and np.array_equal(e_hi, e_hi0)  # -inf rows included
    assert bounds == bounds0
    assert np.array_equal(ev, ev0) and np.array_equal(hour, hour0)
    # the objectives built from the model: max_schedule_kwh's -(net' w) and dispatch's cost vector's length
    w = np.linspace(-1.0, 1.0, H)
    assert np.array_equal(net.T @ w, net0.T @ w)


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
    schedule = np.array(data.draw(st.lists(st.sampled_from([-20.0, 0.0, 7.5, 40.0]), min_size=int(fleet["hours"]),
                                           max_size=int(fleet["hours"]))))
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
