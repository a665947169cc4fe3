"""Solve the `milp` formulation with Kelley-style cut refinement, within work limits.

The tangent cuts of `formulation` under-estimate the squared flows, so the MILP optimum is a lower bound of
the quadratic-loss LinDistFlow model. After each solve, cuts at the incumbent's flows are added to the same
HiGHS model and it is solved again (warm-started from the incumbent with exact squares, which meets every
cut), up to `max_rounds`, until the incumbent's quadratic objective and the best MILP bound agree within
`model_rel_gap` (`model_gap`).

Each round runs HiGHS within `node_limit` branch-and-bound nodes on one thread (`cosim.optim.linear`): work, not
wall time, decides where it stops, so the same inputs give the same plan,
bound and gap on any machine. `time_limit_s` (None by default) adds a wall-clock limit over all rounds for
interactive use; a result stopped by it depends on the machine's speed and load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from cosim.controllers.base import HOURS
from cosim.controllers.milp.formulation import LotData, build_formulation
from cosim.errors import ProblemError
from cosim.optim.linear import Solution, columns
from cosim.powerflow.network_data import RadialNetwork

NODE_LIMIT = 20_000
"""Default branch-and-bound nodes per round (the work limit: see the module docstring)."""


class MilpError(ProblemError):
    """Bad settings for the MILP controller (segments, hours, time limit ...)."""


def check_settings(n_segments: int, time_limit_s: float | None, mip_rel_gap: float, max_rounds: int = 1,
                   model_rel_gap: float = 0.0, node_limit: int | None = NODE_LIMIT) -> None:
    """Raise MilpError unless the refinement settings can be used."""
    if int(n_segments) < 2:
        raise MilpError(f"n_segments must be >= 2 tangent segments, got {n_segments}")
    if time_limit_s is not None and not time_limit_s > 0:
        raise MilpError(f"time_limit_s must be > 0 s or None (no wall-clock limit), got {time_limit_s}")
    if node_limit is not None and (isinstance(node_limit, bool) or not isinstance(node_limit, (int, np.integer))
                                   or node_limit < 1):
        raise MilpError(f"node_limit must be a whole number >= 1 or None (no limit), got {node_limit!r}")
    if not 0 <= mip_rel_gap < 1:
        raise MilpError(f"mip_rel_gap must be in [0, 1), got {mip_rel_gap}")
    if int(max_rounds) < 1 or not model_rel_gap >= 0:
        raise MilpError(f"max_rounds must be >= 1 and model_rel_gap >= 0, got {max_rounds}, {model_rel_gap}")


@dataclass
class MilpResult:
    """Outcome of one reconfiguration/dispatch MILP (with cut refinement)."""

    open_branches: tuple[int, ...]
    lot_buses: dict[str, int]
    setpoints_kw: dict[str, np.ndarray]  # (n,) per lot, one per step
    status: str
    objective: float  # MILP objective of the last round (kW-based units of the objective)
    bound: float  # best MILP dual bound of all rounds: lower bound of the linearised (quadratic-loss) model
    gap: float  # HiGHS relative MIP gap of the last round
    model_objective: float  # objective of the incumbent with exact squares P^2, Q^2 (LinDistFlow model)
    model_gap: float  # (model_objective - bound) / |model_objective|
    rounds: int
    wall_s: float
    voltage_violation_pu2: float
    found: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Round:
    """A round's incumbent and its figures in the quadratic-loss model."""

    solution: Solution
    p_mw: np.ndarray
    q_mvar: np.ndarray
    model_objective: float
    bound: float
    model_gap: float


def solve_milp(
    net: RadialNetwork,
    p_kw: np.ndarray,
    q_kvar: np.ndarray,
    *,
    hours: np.ndarray,
    lots: Sequence[LotData] = (),
    objective: str = "of3",
    fixed_open: Sequence[int] | None = None,
    price: np.ndarray | None = None,
    n_segments: int = 12,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    max_rounds: int = 6,
    model_rel_gap: float = 1e-3,
    tie_loss_weight: float = 1e-3,
    threads: int = 1,
    node_limit: int | None = NODE_LIMIT,
    steps: int = HOURS,
) -> MilpResult:
    """Build the MILP over the steps `hours` (p_kw, q_kvar of shape (len(hours), n_bus)) of a day of `steps` steps
    (24, 48 or 96) and refine it within the node limit of each round (and `time_limit_s` over all rounds, when
    given)."""
    t_start = time.perf_counter()
    form = build_formulation(net, p_kw, q_kvar, lots=lots, objective=objective, fixed_open=fixed_open, price=price,
                             n_segments=n_segments, tie_loss_weight=tie_loss_weight, step_h=HOURS / steps)
    rounds, best, best_bound, start, nodes, iterations = 0, None, -np.inf, None, 0, 0
    while True:
        rounds += 1
        remaining = None if time_limit_s is None else max(time_limit_s - (time.perf_counter() - t_start), 0.1)
        sol = form.model.solve(time_limit_s=remaining, mip_rel_gap=mip_rel_gap, threads=threads, start=start,
                               node_limit=node_limit)
        nodes, iterations = nodes + sol.nodes, iterations + sol.iterations
        if np.isfinite(sol.bound) and (sol.found or sol.optimal):
            best_bound = max(best_bound, sol.bound)  # every round's bound is valid: keep the best
        if not sol.found:  # keep the previous round's incumbent, if any
            break
        p, q = sol[form.p_mw], sol[form.q_mvar]
        w = form.loss_kw_per_mw2[None, :]
        model_objective = sol.objective + float((w * (p**2 + q**2 - sol[form.p_square] - sol[form.q_square])).sum())
        bound = max(sol.bound, best_bound)
        model_gap = (model_objective - bound) / max(abs(model_objective), 1e-9)
        best = _Round(sol, p, q, model_objective, bound, model_gap)
        timed_out = time_limit_s is not None and time.perf_counter() - t_start > time_limit_s
        if model_gap <= model_rel_gap or rounds >= max_rounds or timed_out:
            break
        form.add_tangent_cuts(p, q)
        start = sol.x.copy()
        start[columns(form.p_square)], start[columns(form.q_square)] = p**2, q**2
    wall_s = time.perf_counter() - t_start
    if best is None:
        return MilpResult((), {}, {}, sol.status, float("nan"), sol.bound, float("inf"), float("nan"), float("inf"),
                          rounds, wall_s, float("nan"), False)
    sol = best.solution
    closed = sol[form.closed] > 0.5
    open_ids = tuple(sorted(int(b) for b in np.asarray(net.branch_ids)[~closed]))
    lot_buses, setpoints = {}, {}
    for lot, lv in zip(lots, form.lots):
        # clip to the offer limits: HiGHS meets bounds only within its feasibility tolerance (~1e-7 MW)
        c = np.clip(sol[lv.charge_mw], 0.0, lot.cmax_mw)
        d = np.clip(sol[lv.discharge_mw], 0.0, lot.dmax_mw)
        site = 0 if lv.site is None else int(np.argmax(sol[lv.site]))
        day_kw = np.zeros(steps)
        day_kw[hours] = 1000.0 * (c.sum(axis=0) - d.sum(axis=0))
        if lot.offer.envelope is not None:  # HiGHS's tolerance: inside the envelope exactly
            day_kw = lot.offer.envelope.project(day_kw)
        lot_buses[lot.offer.lot_id] = int(lot.buses[site]) + 1
        setpoints[lot.offer.lot_id] = day_kw
    return MilpResult(
        open_branches=open_ids, lot_buses=lot_buses, setpoints_kw=setpoints, status=sol.status,
        objective=sol.objective, bound=best.bound, gap=sol.gap, model_objective=best.model_objective,
        model_gap=best.model_gap, rounds=rounds, wall_s=wall_s,
        voltage_violation_pu2=float(sol[form.v_violation_pu2].sum()), found=True,
        extra={"nodes": nodes, "simplex_iterations": iterations, "node_limit": node_limit,
               "time_limit_s": time_limit_s,
               # the LinDistFlow model's own lowest voltage per modelled hour (p.u.), beside the exact flow's
               "model_v_min_pu": np.sqrt(np.maximum(sol[form.v_pu2].min(axis=1), 0.0)).tolist()},
    )
