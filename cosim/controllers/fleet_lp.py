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
this is the per-step relaxation of the lot's own physics). The connection limit caps each step's net at kW x step_h.

The model, written for HiGHS's dual simplex (`cosim.controllers.highs_lp`, measured there): a V2G EV's energy at each
step end is a ranged row over its own columns so far (one row, not an upper and a lower one); an EV without V2G has
no discharge columns and one energy row, its last (its energy only rises, so the other rows are implied); the
dispatch's connection limit is written on its two slack columns of the step. On the learning environment's instances
(env_ieee33) a dispatch takes 4.3 ms CPU, 17 ms in the dense form before (every row for every EV, doubled, through
`linprog`'s form with presolve); tests/controllers/test_fleet_lp.py holds the two to the same optimum values.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.sparse import csc_array

from cosim.controllers.cccv import has_taper, reach_kwh, start_for_kwh
from cosim.controllers.envelope import plugged_hours
from cosim.controllers.highs_lp import solve_lp
from cosim.errors import ProblemError
from cosim.timebase import check_step_minutes

__all__ = ["CALENDAR_KEY", "DELIVERY_TOLERANCE_KWH", "calendar_columns", "deliverable", "dispatch", "fleet_step_h",
           "max_schedule_kwh", "nearest_kw"]

CALENDAR_KEY = "calendar_usd_per_kwh_h"
"""Optional fleet key: the calendar ageing per battery kWh held an hour (`AgeingModel.calendar_cost`, $/kWh/h);
`dispatch` then also minimises it (`calendar_columns`), among the dispatches that follow the schedule as well."""

DELIVERY_TOLERANCE_KWH = 0.05
"""A lot schedule within this (kWh summed over the window, `nearest_kw`'s gap) of one a per-EV dispatch delivers is
used as it is: by the DSO's plan check and by the PLO following a schedule, so the two never disagree."""

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


@dataclass(frozen=True)
class _Model:
    """The per-EV LP's constraints over its columns [c (k), d (kd)], c the grid kWh each (EV, step) plugged charges,
    d what each V2G one discharges (an EV without V2G has no discharge column): rows ``row_lo <= A x <= row_hi``
    (COO `rows`, `cols`, `vals`) of battery energy (see `_model`), column bounds [0, `col_hi`]."""

    H: int
    n: int
    ev: np.ndarray  # (k,) the EV of each charge column, in EV then step order
    hour: np.ndarray  # (k,) its step
    give: np.ndarray  # (kd,) the charge columns with a discharge twin (V2G), in order: d_j is column k + j
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_hi: np.ndarray  # (k + kd,)

    @property
    def k(self) -> int:
        """Charge columns."""
        return self.ev.size

    @property
    def width(self) -> int:
        """Charge and discharge columns."""
        return self.ev.size + self.give.size

    def net(self, row_of_step: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """COO entries of the lot's net kWh per step (sum of c - d) in rows ``row_of_step[step]``."""
        k = self.k
        return (np.concatenate([row_of_step[self.hour], row_of_step[self.hour[self.give]]]),
                np.concatenate([np.arange(k), k + np.arange(self.give.size)]),
                np.concatenate([np.ones(k), -np.ones(self.give.size)]))

    def per_ev(self, x: np.ndarray) -> np.ndarray:
        """(n, H) grid kWh per EV and step (c - d) of a solution's first `width` columns."""
        net = x[:self.k].copy()
        net[self.give] -= x[self.k: self.width]
        out = np.zeros((self.n, self.H))
        out[self.ev, self.hour] = net
        return out


def _lower_triangles(block_start: np.ndarray, row_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of rows that each sum a run of columns: row r holds columns block_start[r] ..
    row_col[r] (an EV's own columns up to a step), row by row and, in a row, column by column (the order a per-EV
    ``np.tril_indices`` loop gives, without the loop)."""
    width = row_col - block_start + 1  # entries in each row
    rows = np.repeat(np.arange(row_col.size), width)
    offset = np.cumsum(width) - width  # where each row's entries begin
    cols = np.repeat(block_start, width) + (np.arange(rows.size) - np.repeat(offset, width))
    return rows, cols


def _model(fleet: dict[str, Any]) -> _Model:
    """The per-EV LP's battery rows: each EV's energy at the end of its plugged steps, as the sum of its own
    (eta_c c - d / eta_d) so far, within its reserve and capacity, its contract by its departure, and, for an EV
    staying past the window, what the rest of its stay cannot add; a CC-CV EV's held-power row per step above its knee.

    Rows the others imply are left out, which keeps the optimum: an EV without V2G only charges, so its energy only
    rises and only its last step's row binds (its reserve is its energy now, its capacity the same at every step).
    The connection limit is left to the caller (`dispatch` writes it on its slack columns, `max_schedule_kwh` on the
    net), so is the lot's net per step (`_Model.net`)."""
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
    ev, hour = np.nonzero(present > 0)  # one charge column per (EV, step) plugged, in EV then step order
    k = ev.size
    c_ub = charger[ev] * present[ev, hour]
    knee = np.asarray(fleet.get("knee_soc", np.ones(n)), float)  # CC-CV knees (`cosim.controllers.cccv`)
    reach = np.minimum(cap, e0 + charger * eta_c * (present.sum(axis=1) + after))
    if has_taper(knee):  # charging at the highest held rate step by step, then after the window
        e = e0.copy()
        for h in range(H):
            e = reach_kwh(e, cap, charger * eta_c, knee, present[:, h])
        reach = reach_kwh(e, cap, charger * eta_c, knee, after, fraction_first=False, step_h=minutes / 60.0)
    need = np.minimum(np.asarray(fleet["contract_kwh"], float), reach)
    floor = np.where(v2g, np.minimum(e0, np.asarray(fleet["floor_kwh"], float)), e0)
    first = np.searchsorted(ev, np.arange(n))
    last = np.searchsorted(ev, np.arange(n), side="right")
    e_lo = floor[ev] - e0[ev]  # battery energy bounds at each column's step end, relative to e0
    e_hi = cap[ev] - e0[ev]
    ends = last[last > first] - 1  # each plugged EV's last plugged step
    whose = ev[ends]
    due = dep[whose] <= end
    # contracts: after its last plugged step an EV leaving in the window holds its (reachable) contract; one
    # staying holds what the rest of its stay cannot add
    e_lo[ends[due]] = np.maximum(e_lo[ends[due]], need[whose[due]] - e0[whose[due]])
    stay = whose[~due]
    late = start_for_kwh(need[stay], cap[stay], charger[stay] * eta_c[stay], knee[stay], after[stay],
                         fraction_first=False, step_h=minutes / 60.0)
    e_lo[ends[~due]] = np.maximum(e_lo[ends[~due]], late - e0[stay])
    give = np.flatnonzero(v2g[ev])  # charge columns with a discharge column
    twin = np.full(k, -1)
    twin[give] = k + np.arange(give.size)  # each charge column's discharge column
    is_end = np.zeros(k, bool)
    is_end[ends] = True
    kept = np.flatnonzero(v2g[ev] | is_end)  # energy rows: every step of a V2G EV, the last of the others
    tapered = np.flatnonzero(knee[ev] < 1.0)  # CC-CV, held power: eta_c c <= R present (C - E_end) / (C (1 - knee))
    who = ev[tapered]
    a = charger[who] * eta_c[who] * present[who, hour[tapered]] / (cap[who] * (1.0 - knee[who]))
    # the energy sums: one row per kept column, then a * (the same sum) per tapered column, plus its own eta_c c
    row_col = np.concatenate([kept, tapered])
    scale = np.concatenate([np.ones(kept.size), a])
    r, c = _lower_triangles(first[ev[row_col]], row_col)
    charge = scale[r] * eta_c[ev[c]]
    dis = twin[c] >= 0
    rows = np.concatenate([r, r[dis], kept.size + np.arange(tapered.size)])
    cols = np.concatenate([c, twin[c[dis]], tapered])
    vals = np.concatenate([charge, scale[r[dis]] * (-1.0 / eta_d[ev[c[dis]]]), eta_c[who]])
    row_lo = np.concatenate([e_lo[kept], np.full(tapered.size, -np.inf)])
    row_hi = np.concatenate([e_hi[kept], a * (cap[who] - e0[who])])
    col_hi = np.concatenate([c_ub, c_ub[give]])
    return _Model(H, n, ev, hour, give, rows, cols, vals, row_lo, row_hi, col_hi)


def _limit_kwh(fleet: dict[str, Any]) -> float:
    """The connection limit as the LP compares it with a step's net grid kWh: kW x step_h (infinite without one)."""
    return float(fleet.get("connection_limit_kw", np.inf)) * fleet_step_h(fleet)


def max_schedule_kwh(fleet: dict[str, Any], weights: np.ndarray) -> float:
    """The largest ``weights . e`` over the lot's grid kWh per step e (= kW x step_h) some per-EV dispatch delivers."""
    m = _model(fleet)
    w = np.asarray(weights, float)
    if m.k == 0:
        return 0.0
    cost = -np.concatenate([w[m.hour], -w[m.hour[m.give]]])
    rows, cols, vals, row_lo, row_hi = m.rows, m.cols, m.vals, m.row_lo, m.row_hi
    limit = _limit_kwh(fleet)
    if np.isfinite(limit):  # the connection limit on the net, step by step
        r, c, v = m.net(row_lo.size + np.arange(m.H))
        rows, cols, vals = np.concatenate([rows, r]), np.concatenate([cols, c]), np.concatenate([vals, v])
        row_lo = np.concatenate([row_lo, np.full(m.H, -limit)])
        row_hi = np.concatenate([row_hi, np.full(m.H, limit)])
    a = csc_array((vals, (rows, cols)), shape=(row_lo.size, m.width))
    res = solve_lp(cost, np.zeros(m.width), m.col_hi, a, row_lo, row_hi)
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
    key = _key(fleet, p)
    with _solved_lock:
        hit = _solved.get(key)
        if hit is not None:
            _solved.move_to_end(key)
    if hit is None:  # HiGHS is deterministic: the same LP gives the same solution, so a kept one is bit-identical
        hit = _dispatch(fleet, p)
        _keep(key, hit)
    return hit[0].copy(), hit[1]


def nearest_kw(fleet: dict[str, Any], schedule_kw: np.ndarray) -> tuple[np.ndarray, float]:
    """The lot schedule (kW per step) nearest to `schedule_kw` that some per-EV dispatch delivers, and the gap (kWh,
    as `dispatch`). The dispatch found is also kept as the nearest schedule's own: it is an optimum of that LP too
    (a dispatch cheaper for the nearest schedule would, by the triangle inequality, be cheaper for `schedule_kw`),
    so whoever is handed the nearest schedule next (the PLO following a clipped plan, its lot sharing it among the
    EVs) is answered without solving again."""
    per_ev, gap = dispatch(fleet, schedule_kw)
    step_h = fleet_step_h(fleet)
    lot_kwh = per_ev.sum(axis=0)
    nearest = lot_kwh / step_h
    p = np.asarray(schedule_kw, float)
    if nearest.shape == p.shape and not np.array_equal(nearest, p):
        _keep(_key(fleet, nearest), (per_ev, float(np.abs(nearest * step_h - lot_kwh).sum())))
    return nearest, gap


def _key(fleet: dict[str, Any], p: np.ndarray) -> tuple:
    """A dispatch's key in `_solved`: the fleet's fields and the schedule's bytes."""
    return _fields(fleet), p.shape, p.tobytes()


def _keep(key: tuple, solved: tuple[np.ndarray, float]) -> None:
    """Keep a solved dispatch (the last `_CACHE_SIZE`)."""
    with _solved_lock:
        _solved[key] = solved
        _solved.move_to_end(key)
        while len(_solved) > _CACHE_SIZE:
            _solved.popitem(last=False)


def _dispatch(fleet: dict[str, Any], p: np.ndarray) -> tuple[np.ndarray, float]:
    """`dispatch` solved: the model built and the LP handed to HiGHS."""
    res, m = _dispatch_solution(fleet, p)
    if res is None:
        return np.zeros((m.n, m.H)), float(np.abs(p * fleet_step_h(fleet)).sum())
    return m.per_ev(res.x), float(res.x[m.width:].sum())


def _dispatch_solution(fleet: dict[str, Any], p: np.ndarray) -> tuple[SimpleNamespace | None, _Model]:
    """The dispatch LP solved (`solve_lp`'s answer: x over the columns [c, d, s+ (H), s- (H)], the optimum `fun`;
    None when no EV is plugged) and its model.

    min THROUGHPUT_COST sum(c + d) + sum(s+ + s-) (+ calendar ageing) s.t. the battery rows of `_model`, the lot's net
    per step plus s+ - s- equal to the schedule's kWh, and the connection limit on the net, written on the slacks:
    ``|p - s+ + s-| <= limit``, two entries a row in place of one per column plugged."""
    m = _model(fleet)
    p = p * fleet_step_h(fleet)  # the schedule's grid kWh per step
    if m.k == 0:
        return None, m
    H, width = m.H, m.width
    steps = np.arange(H)
    n_rows = m.row_lo.size
    r, c, v = m.net(n_rows + steps)  # sum_i (c - d) + s+ - s- = p
    rows = [m.rows, r, n_rows + steps, n_rows + steps]
    cols = [m.cols, c, width + steps, width + H + steps]
    vals = [m.vals, v, np.ones(H), -np.ones(H)]
    row_lo, row_hi = [m.row_lo, p], [m.row_hi, p]
    limit = _limit_kwh(fleet)
    if np.isfinite(limit):  # |net| <= limit with net = p - s+ + s-
        rows += [n_rows + H + steps, n_rows + H + steps]
        cols += [width + steps, width + H + steps]
        vals += [np.ones(H), -np.ones(H)]
        row_lo.append(p - limit)
        row_hi.append(p + limit)
    row_lo, row_hi = np.concatenate(row_lo), np.concatenate(row_hi)
    a = csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                  shape=(row_lo.size, width + 2 * H))
    # a cost on charge plus discharge (THROUGHPUT_COST per kWh, against 1 per kWh off the schedule): an EV does not
    # charge and discharge in one step to burn energy through its round-trip losses (the lot gives each EV one
    # power a step, so its net would not describe its battery), while one EV charging as another discharges,
    # where the schedule needs it, stays cheaper than missing the schedule
    cost = np.concatenate([np.full(width, THROUGHPUT_COST), np.ones(2 * H)])
    if fleet.get(CALENDAR_KEY, 0.0) > 0.0:  # calendar ageing ($), below the throughput cost: it only chooses among
        # dispatches that follow the schedule equally well, e.g. which EV holds energy the schedule adds beyond the
        # contracts (the one leaving first)
        columns, _ = calendar_columns(fleet, float(fleet[CALENDAR_KEY]))  # [c (k), d (k)]: every EV a d column
        columns = columns * min(1.0, 0.5 * THROUGHPUT_COST / max(np.abs(columns).max(), 1e-300))
        cost[:m.k] += columns[:m.k]
        cost[m.k: width] += columns[m.k:][m.give]
    res = solve_lp(cost, np.zeros(width + 2 * H), np.concatenate([m.col_hi, np.full(2 * H, np.inf)]), a, row_lo,
                   row_hi)
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    return res, m


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
