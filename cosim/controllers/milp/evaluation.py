"""Exact evaluation of a `milp` plan: the AC power flow (backward/forward sweep) of one topology over some hours.

The MILP decides on a linearised model; the plan it returns is judged with this exact flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cosim.networks.converted import flow
from cosim.powerflow.network_data import RadialNetwork


@dataclass
class ExactEvaluation:
    """Exact (AC, backward/forward sweep) evaluation of a plan over the hours given."""

    loss_kw: np.ndarray  # (H,)
    v_min_pu: np.ndarray  # (H,)
    vpd_pu: np.ndarray  # (H,) sum_b |V_b - 1|
    p_grid_kw: np.ndarray  # (H,)
    converged: bool


def evaluate_exact(net: RadialNetwork, open_branches: Sequence[int], p_kw: np.ndarray,
                   q_kvar: np.ndarray) -> ExactEvaluation:
    """Exact power flow of one topology over a batch of hours (rows of p_kw / q_kvar, bus loads incl. lots)."""
    open_ids = np.asarray(tuple(open_branches), dtype=int)
    res = flow(net, open_ids, np.atleast_2d(p_kw), np.atleast_2d(q_kvar))  # converted nets: slack voltage, charging
    vm = res.vm_pu
    return ExactEvaluation(
        loss_kw=res.loss_kw, v_min_pu=vm.min(axis=1), vpd_pu=np.abs(vm - 1.0).sum(axis=1), p_grid_kw=res.p_slack_kw,
        converged=bool(np.all(res.ok)),
    )
