"""The per-EV reference: a fleet's exact hourly flexibility as a linear programme (HiGHS through scipy).

Every EV of a `fleet_forecast` gets its own charge c_ih >= 0 and discharge d_ih >= 0 (kW, grid side) in each hour,
within its charger times the share of the hour it is plugged (discharge only for V2G EVs); its battery energy
stays within [reserve, capacity] at every hour end while it is present, and reaches its contract (clipped to what
its charger can reach, as in the envelope) by its departure. The lot's power is the sum. This is the set the
envelope (`cosim.controllers.envelope`) describes with 4 x 24 numbers; the LP is what the docs and tests measure
the envelope against:

* `max_schedule_kwh(fleet, weights)`: the largest ``weights . p`` any per-EV dispatch reaches (a support
  function: e.g. the energy that can be moved from one hour to another);
* `deliverable(fleet, schedule_kw)`: the smallest total |deviation| (kWh) between a lot schedule and what the EVs
  can take - 0 for a schedule some per-EV dispatch delivers exactly.

Hour resolution: an EV plugged for part of an hour may take its share of the hour at any rate up to its charger's
(the lot integrates minute by minute, so this is the hourly relaxation of the lot's own physics).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import block_diag, csr_matrix, hstack, vstack

from cosim.controllers.envelope import _hour_overlap
from cosim.errors import ProblemError

__all__ = ["deliverable", "dispatch", "max_schedule_kwh"]


def _model(fleet: dict[str, Any]):
    """Bounds and constraint rows of the per-EV LP; columns [c (n*H), d (n*H)], kW grid side."""
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
    edges = start + 60 * np.arange(H + 1, dtype=np.int64)
    present = _hour_overlap(plug, np.maximum(dep, plug), edges)  # (n, H)
    c_ub = (charger[:, None] * present).ravel()
    d_ub = (charger[:, None] * present * v2g[:, None]).ravel()
    # battery energy at the end of hour h: e0 + sum_{k<=h} (eta_c c - d / eta_d), rows (i, h)
    tri = np.tril(np.ones((H, H)))
    blocks_c = [csr_matrix(tri * eta_c[i]) for i in range(n)]
    blocks_d = [csr_matrix(-tri / eta_d[i]) for i in range(n)]
    energy = hstack([block_diag(blocks_c), block_diag(blocks_d)]).tocsr()  # (n*H, 2*n*H)
    after = np.maximum(dep - np.maximum(plug, edges[-1]), 0) / 60.0
    reach = np.minimum(cap, e0 + charger * eta_c * (present.sum(axis=1) + after))
    need = np.minimum(np.asarray(fleet["contract_kwh"], float), reach)
    floor = np.where(v2g, np.minimum(e0, np.asarray(fleet["floor_kwh"], float)), e0)
    e_lo = np.repeat(floor - e0, H).reshape(n, H)
    e_hi = np.repeat(cap - e0, H).reshape(n, H)
    # contracts: by the hour end at or after departure, the EV holds at least its (reachable) contract
    leave_hour = np.clip(np.ceil((dep - start) / 60.0).astype(int) - 1, 0, H - 1)
    due = (dep <= edges[-1])
    rows = np.arange(n)[due]
    e_lo[rows, leave_hour[due]] = np.maximum(e_lo[rows, leave_hour[due]], need[due] - e0[due])
    # energy that must still be reachable after the window: hold at least what the rest of the stay cannot add
    stay = ~due
    e_lo[stay, H - 1] = np.maximum(e_lo[stay, H - 1], need[stay] - charger[stay] * eta_c[stay] * after[stay] - e0[stay])
    net = hstack([csr_matrix(np.tile(np.eye(H), n)), csr_matrix(-np.tile(np.eye(H), n))]).tocsr()  # (H, 2nH)
    bounds = list(zip(np.zeros(2 * n * H), np.concatenate([c_ub, d_ub])))
    # the connection limit on the lot's power, hour by hour
    limit = float(fleet.get("connection_limit_kw", np.inf))
    if np.isfinite(limit):
        energy = vstack([energy, net, -net]).tocsr()
        e_lo = np.concatenate([e_lo.ravel(), np.full(2 * H, -np.inf)])
        e_hi = np.concatenate([e_hi.ravel(), np.full(2 * H, limit)])
    return H, n, energy, np.ravel(e_lo), np.ravel(e_hi), net, bounds


def max_schedule_kwh(fleet: dict[str, Any], weights: np.ndarray) -> float:
    """The largest ``weights . p`` (kW x h) over lot schedules p some per-EV dispatch delivers."""
    H, n, energy, e_lo, e_hi, net, bounds = _model(fleet)
    w = np.asarray(weights, float)
    if n == 0:
        return 0.0
    cost = -(net.T @ w)
    res = linprog(cost, A_ub=vstack([energy, -energy]), b_ub=np.minimum(np.concatenate([e_hi, -e_lo]), 1e12),
                  bounds=bounds, method="highs")
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    return float(-res.fun)


def deliverable(fleet: dict[str, Any], schedule_kw: np.ndarray) -> float:
    """The smallest sum over hours of |schedule - lot power| (kWh) over per-EV dispatches: 0 when some dispatch
    delivers the schedule exactly."""
    return dispatch(fleet, schedule_kw)[1]


def dispatch(fleet: dict[str, Any], schedule_kw: np.ndarray) -> tuple[np.ndarray, float]:
    """The per-EV dispatch closest to a lot schedule: ((n, H) grid kWh per EV and hour, + charging; the smallest
    sum over hours of |schedule - lot power|, kWh). Each EV charges or discharges in an hour, not both (HiGHS's
    vertex solutions; ties are resolved towards the net)."""
    H, n, energy, e_lo, e_hi, net, bounds = _model(fleet)
    p = np.asarray(schedule_kw, float)
    if n == 0:
        return np.zeros((0, H)), float(np.abs(p).sum())
    eye = csr_matrix(np.eye(H))
    a_eq = hstack([net, eye, -eye]).tocsr()  # sum_i (c - d) + s+ - s- = p
    width = net.shape[1]
    a_ub = hstack([vstack([energy, -energy]), csr_matrix((2 * energy.shape[0], 2 * H))]).tocsr()
    cost = np.concatenate([np.zeros(width), np.ones(2 * H)])
    res = linprog(cost, A_ub=a_ub, b_ub=np.minimum(np.concatenate([e_hi, -e_lo]), 1e12), A_eq=a_eq, b_eq=p,
                  bounds=bounds + [(0, None)] * (2 * H), method="highs")
    if res.status != 0:
        raise ProblemError(f"per-EV LP: {res.message}")
    c, d = res.x[: n * H].reshape(n, H), res.x[n * H: 2 * n * H].reshape(n, H)
    return c - d, float(res.fun)
