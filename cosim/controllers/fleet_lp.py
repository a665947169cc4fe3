"""The per-EV reference: a fleet's exact per-step flexibility as a linear programme (HiGHS as scipy ships it).

Every EV of a `fleet_forecast` gets its own charge c_ih >= 0 and discharge d_ih >= 0 (kWh, grid side) in each step,
within its charger times the hours of the step it is plugged (discharge only for V2G EVs); its battery energy
stays within [reserve, capacity] at every step end while it is present, and reaches its contract (clipped to what
its charger can reach, as in the envelope) by its departure. The lot's power is the sum. This is the set the
envelope (`cosim.controllers.envelope`) describes with 4 x 24 numbers; the LP is what the docs and tests measure
the envelope against:

* `max_schedule_kwh(fleet, weights)`: the largest ``weights . p`` any per-EV dispatch reaches (a support
  function: e.g. the energy that can be moved from one hour to another);
* `deliverable(fleet, schedule_kw)`: the smallest total |deviation| (kWh) between a lot schedule and what the EVs
  can take - 0 for a schedule some per-EV dispatch delivers exactly.

Step resolution: the fleet's "hours" counts steps of its optional "step_minutes" (60 when absent; 30 or 15). The
LP's variables are grid kWh per step; a schedule in kW becomes kWh per step as kW x step_h. An EV plugged for part
of a step may take its share of the step at any rate up to its charger's (the lot integrates minute by minute, so
this is the per-step relaxation of the lot's own physics).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, diags, hstack, vstack

from cosim.controllers.cccv import has_taper, reach_kwh, start_for_kwh
from cosim.controllers.envelope import plugged_hours
from cosim.controllers.highs_lp import linprog_highs
from cosim.errors import ProblemError
from cosim.timebase import check_step_minutes

__all__ = ["CALENDAR_KEY", "calendar_columns", "deliverable", "dispatch", "fleet_step_h", "max_schedule_kwh"]

CALENDAR_KEY = "calendar_usd_per_kwh_h"
"""Optional fleet key: the calendar ageing per battery kWh held an hour (`AgeingModel.calendar_cost`, $/kWh/h);
`dispatch` then also minimises it (`calendar_columns`), among the dispatches that follow the schedule as well."""

THROUGHPUT_COST = 0.2
"""Cost per kWh charged or discharged in `dispatch`, against 1 per kWh off the schedule: above what burning energy
through one EV's round-trip losses saves (about 0.05 at 95 % efficiency each way), below what one EV charging as
another discharges costs per kWh of schedule met (0.5)."""


_CACHE_SIZE = 64
"""Dispatches kept (`_solved`): a day's PLO and lot solve the same fleet and schedule more than once (the PLO in
`follow`, the lot again when the schedule starts; the learning environment's episodes repeat it), a few per lot."""
_solved: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict()
_solved_lock = threading.Lock()  # the lots and PLOs may run in mosaik's simulation thread and the caller's


def _fields(fleet: dict[str, Any]) -> tuple:
    """The fleet exactly as `_model` reads it (same conversions, same defaults): two fleets with equal fields give
    the same model, so the same dispatch."""
    floats = ("energy_kwh", "capacity_kwh", "charger_kw", "eta_charge", "eta_discharge", "contract_kwh", "floor_kwh")
    arrays = [np.asarray(fleet["plug_min"], np.int64), np.asarray(fleet["dep_min"], np.int64),
              np.asarray(fleet["v2g"], bool)] + [np.asarray(fleet[f], float) for f in floats]
    if "knee_soc" in fleet:
        arrays.append(np.asarray(fleet["knee_soc"], float))
    return (int(fleet["hours"]), int(fleet["start_min"]), _step_minutes(fleet), "knee_soc" in fleet,
            float(fleet.get("connection_limit_kw", np.inf)),
            float(fleet.get(CALENDAR_KEY, 0.0))) + tuple((a.dtype.str, a.shape, a.tobytes()) for a in arrays)


def _step_minutes(fleet: dict[str, Any]) -> int:
    """The fleet's step in minutes (its "step_minutes" key; 60 when absent)."""
    return check_step_minutes(int(fleet.get("step_minutes", 60)))


def fleet_step_h(fleet: dict[str, Any]) -> float:
    """The fleet's step in hours (kWh per kW-step): 1.0 unless its "step_minutes" says otherwise."""
    return _step_minutes(fleet) / 60.0


def _lower_triangles(block_start: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle of each EV's diagonal block (its own columns so far), row by row
    and, in a row, column by column: row r holds columns block_start[r] .. r, where block_start[r] is the first
    column of r's EV (the order a per-EV ``np.tril_indices`` loop gives, without the loop)."""
    width = np.arange(k) - block_start + 1  # entries in each row
    rows = np.repeat(np.arange(k), width)
    offset = np.cumsum(width) - width  # where each row's entries begin
    cols = np.repeat(block_start, width) + (np.arange(rows.size) - np.repeat(offset, width))
    return rows, cols


def _model(fleet: dict[str, Any]):
    """The per-EV LP's pieces: columns [c, d] (grid kWh) for each (EV, step) it is plugged in, rows of each
    EV's battery energy at those step ends (within its reserve and capacity, its contract by its departure, and,
    for an EV staying past the window, what the rest of its stay cannot add), and the lot's net kWh per step."""
    H = int(fleet["hours"])
    start = int(fleet["start_min"])
    minutes = _step_minutes(fleet)
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
    present, after = plugged_hours(plug, dep, start, H, step_minutes=minutes)  # (n, H) and (n,) plugged hours
    ev, hour = np.nonzero(present > 0)  # one column pair per (EV, hour) plugged, in EV then hour order
    k = ev.size
    c_ub = charger[ev] * present[ev, hour]
    d_ub = c_ub * v2g[ev]
    knee = np.asarray(fleet.get("knee_soc", np.ones(n)), float)  # CC-CV knees (`cosim.controllers.cccv`)
    reach = np.minimum(cap, e0 + charger * eta_c * (present.sum(axis=1) + after))
    if has_taper(knee):  # charging at the highest held rate hour by hour, then after the window
        e = e0.copy()
        for h in range(H):
            e = reach_kwh(e, cap, charger * eta_c, knee, present[:, h])
        reach = reach_kwh(e, cap, charger * eta_c, knee, after, fraction_first=False, step_h=minutes / 60.0)
    need = np.minimum(np.asarray(fleet["contract_kwh"], float), reach)
    floor = np.where(v2g, np.minimum(e0, np.asarray(fleet["floor_kwh"], float)), e0)
    # battery energy after each plugged hour: e0 + the EV's own (eta_c c - d / eta_d) so far (lower-triangular)
    first = np.searchsorted(ev, np.arange(n))
    last = np.searchsorted(ev, np.arange(n), side="right")
    rows_a, cols_a = _lower_triangles(first[ev], k)
    charge = csr_matrix((eta_c[ev[cols_a]], (rows_a, cols_a)), shape=(k, k))
    give = csr_matrix((-1.0 / eta_d[ev[cols_a]], (rows_a, cols_a)), shape=(k, k))
    energy = hstack([charge, give]).tocsr()
    e_lo = floor[ev] - e0[ev]
    e_hi = cap[ev] - e0[ev]
    ends = last[last > first] - 1  # each plugged EV's last plugged hour
    whose = ev[ends]
    due = dep[whose] <= end
    # contracts: after its last plugged hour an EV leaving in the window holds its (reachable) contract; one
    # staying holds what the rest of its stay cannot add
    e_lo[ends[due]] = np.maximum(e_lo[ends[due]], need[whose[due]] - e0[whose[due]])
    stay = whose[~due]
    late = start_for_kwh(need[stay], cap[stay], charger[stay] * eta_c[stay], knee[stay], after[stay],
                         fraction_first=False, step_h=minutes / 60.0)
    e_lo[ends[~due]] = np.maximum(e_lo[ends[~due]], late - e0[stay])
    net = hstack([csr_matrix((np.ones(k), (hour, np.arange(k))), shape=(H, k)),
                  csr_matrix((-np.ones(k), (hour, np.arange(k))), shape=(H, k))]).tocsr()
    bounds = list(zip(np.zeros(2 * k), np.concatenate([c_ub, d_ub])))
    tapered = np.flatnonzero(knee[ev] < 1.0)  # columns of EVs that taper above their knee
    if tapered.size:  # CC-CV, held power: eta_c c <= R present (C - E_end) / (C (1 - knee)), E_end the hour's end
        m, who = tapered.size, ev[tapered]
        a = charger[who] * eta_c[who] * present[who, hour[tapered]] / (cap[who] * (1.0 - knee[who]))
        own = csr_matrix((eta_c[who], (np.arange(m), tapered)), shape=(m, 2 * k))
        energy = vstack([energy, own + diags(a) @ energy[tapered]]).tocsr()
        e_lo = np.concatenate([e_lo, np.full(m, -np.inf)])
        e_hi = np.concatenate([e_hi, a * (cap[who] - e0[who])])
    limit = float(fleet.get("connection_limit_kw", np.inf))  # the connection limit, hour by hour
    if np.isfinite(limit):
        energy = vstack([energy, net, -net]).tocsr()
        e_lo = np.concatenate([e_lo, np.full(2 * H, -np.inf)])
        e_hi = np.concatenate([e_hi, np.full(2 * H, limit)])
    return H, n, energy, e_lo, e_hi, net, bounds, (ev, hour)


def max_schedule_kwh(fleet: dict[str, Any], weights: np.ndarray) -> float:
    """The largest ``weights . e`` over the lot's grid kWh per step e (= kW x step_h) some per-EV dispatch delivers."""
    H, n, energy, e_lo, e_hi, net, bounds, _ = _model(fleet)
    w = np.asarray(weights, float)
    if net.shape[1] == 0:
        return 0.0
    cost = -(net.T @ w)
    res = linprog_highs(cost, vstack([energy, -energy]), np.minimum(np.concatenate([e_hi, -e_lo]), 1e12), bounds)
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    return float(-res.fun)


def deliverable(fleet: dict[str, Any], schedule_kw: np.ndarray) -> float:
    """The smallest sum over steps of |schedule - lot power| x step_h (kWh) over per-EV dispatches: 0 when some
    dispatch delivers the schedule exactly."""
    return dispatch(fleet, schedule_kw)[1]


def dispatch(fleet: dict[str, Any], schedule_kw: np.ndarray) -> tuple[np.ndarray, float]:
    """The per-EV dispatch closest to a lot schedule (kW per step of the fleet's step): ((n, H) grid kWh per EV and
    step, + charging (divide by step_h for kW); the smallest sum over steps of |schedule - lot power| x step_h,
    kWh). Each EV charges or discharges in a step, not both (HiGHS's
    vertex solutions; ties are resolved towards the net). The same fleet and schedule again are answered from the
    last `_CACHE_SIZE` solutions, not re-solved."""
    p = np.asarray(schedule_kw, float)
    key = (_fields(fleet), p.shape, p.tobytes())
    with _solved_lock:
        hit = _solved.get(key)
        if hit is not None:
            _solved.move_to_end(key)
    if hit is None:  # HiGHS is deterministic: the same LP gives the same solution, so a kept one is bit-identical
        hit = _dispatch(fleet, p)
        with _solved_lock:
            _solved[key] = hit
            while len(_solved) > _CACHE_SIZE:
                _solved.popitem(last=False)
    return hit[0].copy(), hit[1]


def _dispatch(fleet: dict[str, Any], p: np.ndarray) -> tuple[np.ndarray, float]:
    """`dispatch` solved: the model built and the LP handed to HiGHS."""
    H, n, energy, e_lo, e_hi, net, bounds, (ev, hour) = _model(fleet)
    p = p * (_step_minutes(fleet) / 60.0)  # the schedule's grid kWh per step
    if net.shape[1] == 0:
        return np.zeros((n, H)), float(np.abs(p).sum())
    eye = csr_matrix(np.eye(H))
    a_eq = hstack([net, eye, -eye]).tocsr()  # sum_i (c - d) + s+ - s- = p
    width = net.shape[1]
    a_ub = hstack([vstack([energy, -energy]), csr_matrix((2 * energy.shape[0], 2 * H))]).tocsr()
    # a cost on charge plus discharge (THROUGHPUT_COST per kWh, against 1 per kWh off the schedule): an EV does not
    # charge and discharge in one hour to burn energy through its round-trip losses (the lot gives each EV one
    # power an hour, so its net would not describe its battery), while one EV charging as another discharges,
    # where the schedule needs it, stays cheaper than missing the schedule
    cost = np.concatenate([np.full(width, THROUGHPUT_COST), np.ones(2 * H)])
    if fleet.get(CALENDAR_KEY, 0.0) > 0.0:  # calendar ageing ($), below the throughput cost: it only chooses among
        # dispatches that follow the schedule equally well, e.g. which EV holds energy the schedule adds beyond the
        # contracts (the one leaving first)
        columns, _ = calendar_columns(fleet, float(fleet[CALENDAR_KEY]))
        cost[:width] += columns * min(1.0, 0.5 * THROUGHPUT_COST / max(np.abs(columns).max(), 1e-300))
    res = linprog_highs(cost, a_ub, np.minimum(np.concatenate([e_hi, -e_lo]), 1e12), bounds + [(0, None)] * (2 * H),
                        a_eq, p)  # linprog(method="highs")'s solution, bit for bit, with less overhead
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    k = ev.size
    per_ev = np.zeros((n, H))
    np.add.at(per_ev, (ev, hour), res.x[:k] - res.x[k: 2 * k])
    return per_ev, float(res.x[width:].sum())


def calendar_columns(fleet: dict[str, Any], usd_per_kwh_h: float) -> tuple[np.ndarray, float]:
    """The calendar ageing of a per-EV dispatch as the LP's cost: ($ per grid kWh of each column [c, d] of
    `_model`, in its order; $ of the energy the EVs hold anyway, their energy now over their plugged hours in the
    window), at `usd_per_kwh_h` per battery kWh held an hour (`CalendarCost.usd_per_kwh_h`; its per-capacity part is a
    constant
    of the fleet, left out). A kWh an EV takes in its plugged hour j is held half of hour j (even power, the trapezoid
    the lot integrates) and each of its later plugged hours in the window, each times the share of it plugged."""
    H, start = int(fleet["hours"]), int(fleet["start_min"])
    plug = np.maximum(np.asarray(fleet["plug_min"], np.int64), start)
    present, _ = plugged_hours(plug, np.asarray(fleet["dep_min"], np.int64), start, H,
                               step_minutes=_step_minutes(fleet))
    ev, hour = np.nonzero(present > 0)
    p = present[ev, hour]
    later = np.cumsum(present[:, ::-1], axis=1)[:, ::-1] - present  # plugged hours after each hour, per EV
    held_h = 0.5 * p + later[ev, hour]
    eta_c = np.asarray(fleet["eta_charge"], float)[ev]
    eta_d = np.asarray(fleet["eta_discharge"], float)[ev]
    columns = usd_per_kwh_h * np.concatenate([held_h * eta_c, -held_h / eta_d])
    held_anyway = float(np.dot(np.asarray(fleet["energy_kwh"], float), present.sum(axis=1)))
    return columns, usd_per_kwh_h * held_anyway
