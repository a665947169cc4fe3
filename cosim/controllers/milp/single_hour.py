"""Single-hour minimum-loss reconfiguration with the `milp` formulation (no lots), judged by the exact flow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.controllers.milp.evaluation import evaluate_exact
from cosim.controllers.milp.refinement import NODE_LIMIT, MilpError, check_settings, solve_milp
from cosim.powerflow.network_data import RadialNetwork


@dataclass
class ReconfigurationResult:
    """Single-hour minimum-loss reconfiguration: MILP figures plus exact losses of the chosen tree."""

    open_branches: tuple[int, ...]
    loss_kw: float  # exact (AC) losses of the chosen topology
    milp_objective_kw: float  # PWL-loss MILP objective (lower bound side of the quadratic model)
    model_loss_kw: float  # LinDistFlow quadratic losses r(P^2+Q^2) of the chosen tree
    bound_kw: float
    gap: float
    status: str
    rounds: int
    wall_s: float
    nodes: int = 0  # branch-and-bound nodes over all rounds (the work the limits count)


def solve_single_hour_reconfiguration(
    net: RadialNetwork,
    p_kw: np.ndarray | None = None,
    q_kvar: np.ndarray | None = None,
    *,
    n_segments: int = 24,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-4,
    max_rounds: int = 6,
    model_rel_gap: float = 1e-3,
    node_limit: int | None = NODE_LIMIT,
) -> ReconfigurationResult:
    """Minimum-loss radial topology for one hour of bus loads (kW, kvar; default: the network's nominal loads),
    within `node_limit` nodes per refinement round (`refinement`; `time_limit_s` None: no wall-clock limit)."""
    p = np.asarray(net.p_load_kw if p_kw is None else p_kw, float).reshape(1, -1)
    q = np.asarray(net.q_load_kvar if q_kvar is None else q_kvar, float).reshape(1, -1)
    if p.shape[1] != net.n_bus or q.shape[1] != net.n_bus or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise MilpError(f"p_kw and q_kvar must be {net.n_bus} finite bus loads of network {net.name!r}, "
                        f"got {p.shape}, {q.shape}")
    check_settings(n_segments, time_limit_s, mip_rel_gap, max_rounds, model_rel_gap, node_limit)
    r = solve_milp(net, p, q, hours=np.array([0]), n_segments=n_segments, time_limit_s=time_limit_s,
                   mip_rel_gap=mip_rel_gap, max_rounds=max_rounds, model_rel_gap=model_rel_gap,
                   node_limit=node_limit)
    if not r.found:
        nan = float("nan")
        return ReconfigurationResult((), nan, nan, nan, r.bound, float("inf"), r.status, r.rounds, r.wall_s)
    ev = evaluate_exact(net, r.open_branches, p, q)
    return ReconfigurationResult(
        open_branches=r.open_branches, loss_kw=float(ev.loss_kw[0]), milp_objective_kw=r.objective,
        model_loss_kw=r.model_objective, bound_kw=r.bound, gap=r.gap, status=r.status, rounds=r.rounds, wall_s=r.wall_s,
        nodes=int(r.extra.get("nodes", 0)),
    )
