"""The per-EV LP as `cosim.controllers.fleet_lp` wrote it before its sparse reformulation (commit dc1290b), kept
as the reference its optimum values are tested against: every EV's battery energy after each plugged step written as
the dense lower-triangular sum of its own columns (a row for every plugged step, every EV a discharge column), each
row doubled into ``A x <= b`` and ``-A x <= -lo``, the connection limit on the net, solved by
`scipy.optimize.linprog(method="highs")` (bit for bit what `fleet_lp` solved then; its connection limit in kWh per
step since, `reference_model`). Shared by test_fleet_lp.py and test_highs_lp.py, with the drawn fleets both use."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, diags, hstack, vstack

from cosim.controllers.cccv import has_taper, reach_kwh, start_for_kwh
from cosim.controllers.envelope import plugged_hours
from cosim.controllers.fleet_lp import CALENDAR_KEY, THROUGHPUT_COST, calendar_columns
from cosim.errors import ProblemError


def reference_model(fleet: dict[str, Any]):
    """`fleet_lp._model` before the reformulation: (H, n, energy rows, their lower and upper bounds, the net per
    step, column bounds, (ev, hour)) over the columns [c (k), d (k)]."""
    H = int(fleet["hours"])
    start = int(fleet["start_min"])
    minutes = int(fleet.get("step_minutes", 60))
    plug = np.maximum(np.asarray(fleet["plug_min"], np.int64), start)
    dep = np.asarray(fleet["dep_min"], np.int64)
    e0 = np.asarray(fleet["energy_kwh"], float)
    cap = np.asarray(fleet["capacity_kwh"], float)
    charger = np.asarray(fleet["charger_kw"], float)
    eta_c = np.asarray(fleet["eta_charge"], float)
    eta_d = np.asarray(fleet["eta_discharge"], float)
    v2g = np.asarray(fleet["v2g"], bool)
    n = e0.size
    end = start + minutes * H
    present, after = plugged_hours(plug, dep, start, H, step_minutes=minutes)
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
        reach = reach_kwh(e, cap, charger * eta_c, knee, after, fraction_first=False, step_h=minutes / 60.0)
    need = np.minimum(np.asarray(fleet["contract_kwh"], float), reach)
    floor = np.where(v2g, np.minimum(e0, np.asarray(fleet["floor_kwh"], float)), e0)
    rows, cols = [], []
    first = np.searchsorted(ev, np.arange(n))
    last = np.searchsorted(ev, np.arange(n), side="right")
    for i in np.flatnonzero(last > first):  # each EV's lower triangle, EV by EV
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
                         fraction_first=False, step_h=minutes / 60.0)
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
    # the one change since: the limit (kW) compared with a step's net kWh as kW x step_h (it was compared in kW, a
    # limit 2 or 4 times the lot's at 30- or 15-minute steps)
    limit = float(fleet.get("connection_limit_kw", np.inf)) * minutes / 60.0
    if np.isfinite(limit):
        energy = vstack([energy, net, -net]).tocsr()
        e_lo = np.concatenate([e_lo, np.full(2 * H, -np.inf)])
        e_hi = np.concatenate([e_hi, np.full(2 * H, limit)])
    return H, n, energy, e_lo, e_hi, net, bounds, (ev, hour)


def reference_dispatch_lp(fleet: dict[str, Any], schedule_kw: np.ndarray) -> tuple:
    """The dispatch LP in `linprog`'s form (c, A_ub, b_ub, bounds, A_eq, b_eq) over [c (k), d (k), s+ (H), s- (H)],
    or None when no EV is plugged."""
    H, n, energy, e_lo, e_hi, net, bounds, _ = reference_model(fleet)
    if net.shape[1] == 0:
        return None
    p = np.asarray(schedule_kw, float) * (int(fleet.get("step_minutes", 60)) / 60.0)
    eye = csr_matrix(np.eye(H))
    a_eq = hstack([net, eye, -eye]).tocsr()
    width = net.shape[1]
    a_ub = hstack([vstack([energy, -energy]), csr_matrix((2 * energy.shape[0], 2 * H))]).tocsr()
    cost = np.concatenate([np.full(width, THROUGHPUT_COST), np.ones(2 * H)])
    if fleet.get(CALENDAR_KEY, 0.0) > 0.0:
        columns, _ = calendar_columns(fleet, float(fleet[CALENDAR_KEY]))
        cost[:width] += columns * min(1.0, 0.5 * THROUGHPUT_COST / max(np.abs(columns).max(), 1e-300))
    b_ub = np.minimum(np.concatenate([e_hi, -e_lo]), 1e12)
    return cost, a_ub, b_ub, bounds + [(0, None)] * (2 * H), a_eq, p


def reference_dispatch(fleet: dict[str, Any], schedule_kw: np.ndarray) -> tuple[float, float]:
    """(the dispatch LP's optimum: throughput, deviation and calendar cost; the deviation, kWh) by `linprog`."""
    lp = reference_dispatch_lp(fleet, schedule_kw)
    if lp is None:
        return 0.0, float(np.abs(np.asarray(schedule_kw, float) * int(fleet.get("step_minutes", 60)) / 60.0).sum())
    cost, a_ub, b_ub, bounds, a_eq, b_eq = lp
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    H = int(fleet["hours"])
    return float(res.fun), float(res.x[-2 * H:].sum())


def reference_max_schedule_kwh(fleet: dict[str, Any], weights: np.ndarray) -> float:
    """`fleet_lp.max_schedule_kwh` before the reformulation, by `linprog`."""
    H, n, energy, e_lo, e_hi, net, bounds, _ = reference_model(fleet)
    if net.shape[1] == 0:
        return 0.0
    res = linprog(-(net.T @ np.asarray(weights, float)), A_ub=vstack([energy, -energy]),
                  b_ub=np.minimum(np.concatenate([e_hi, -e_lo]), 1e12), bounds=bounds, method="highs")
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    return float(-res.fun)


@st.composite
def fleets(draw, steps: bool = True) -> dict[str, Any]:
    """A fleet forecast: EVs arriving before, in or after the window (minutes off the step), leaving in it or past
    it, some never plugged in it; mixed chargers, efficiencies, CC-CV knees, V2G, an optional connection limit,
    calendar cost and (with `steps`) a 30- or 15-minute step."""
    n = draw(st.integers(0, 12))
    minutes = draw(st.sampled_from([60, 30, 15])) if steps else 60
    steps_n = draw(st.integers(1, 8 * 60 // minutes))
    start = draw(st.sampled_from([0, 60, 17 * 60]))
    span = minutes * steps_n
    at = st.integers(start - 90, start + span + 90)
    plug = np.array([draw(at) for _ in range(n)], np.int64)
    dep = np.array([p + draw(st.integers(0, span + 120)) for p in plug], np.int64)
    cap = np.array([draw(st.sampled_from([20.0, 40.0, 75.0])) for _ in range(n)])
    e0 = cap * np.array([draw(st.floats(0.0, 1.0)) for _ in range(n)])
    fleet = dict(start_min=start, hours=steps_n, plug_min=plug, dep_min=dep, energy_kwh=e0, capacity_kwh=cap,
                 charger_kw=np.array([draw(st.sampled_from([3.7, 7.4, 11.0, 22.0])) for _ in range(n)]),
                 contract_kwh=cap * np.array([draw(st.floats(0.0, 1.0)) for _ in range(n)]),
                 floor_kwh=cap * np.array([draw(st.floats(0.0, 0.5)) for _ in range(n)]),
                 v2g=np.array([draw(st.booleans()) for _ in range(n)], bool),
                 eta_charge=np.array([draw(st.sampled_from([1.0, 0.95, 0.9])) for _ in range(n)]),
                 eta_discharge=np.array([draw(st.sampled_from([1.0, 0.95, 0.87])) for _ in range(n)]))
    if minutes != 60:
        fleet["step_minutes"] = minutes
    if draw(st.booleans()):
        fleet["knee_soc"] = np.array([draw(st.sampled_from([1.0, 0.8, 0.6])) for _ in range(n)])
    if draw(st.booleans()):
        fleet["connection_limit_kw"] = draw(st.sampled_from([5.0, 30.0, 200.0]))
    if draw(st.booleans()):
        fleet[CALENDAR_KEY] = draw(st.sampled_from([1e-4, 2e-3]))
    return fleet


def schedules(fleet: dict[str, Any]):
    """Schedules (kW per step) for `fleet`: round values and arbitrary ones, both signs."""
    values = st.one_of(st.sampled_from([-20.0, 0.0, 7.5, 40.0]), st.floats(-60.0, 60.0, allow_nan=False))
    return st.lists(values, min_size=int(fleet["hours"]), max_size=int(fleet["hours"])).map(np.array)
