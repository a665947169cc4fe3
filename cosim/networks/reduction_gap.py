"""Plan against reality, per LV grid: the reduced model the DSO plans on (`cosim.networks.reduction`) against the
full MV+LV net the grid simulator runs, for the same hours (loads, lot powers, open switches).

Both sides are solved with the fast flow: the reduced model as the DSO sees it; the full model, which agrees with
pandapower's runpp on the original net within 1e-9 p.u. (docs/GRIDS.md). For each LV grid and hour it compares:

* voltage: the reduced node's (the plan's one voltage for the LV grid) against the LV grid's worst bus in reality;
* transformer loading (% of its rating): the plan's against the full flow's;
* the LV grid's most loaded line in reality (the reduced model has no LV line: what the plan cannot see).

The rows give each LV grid's worst hour of each gap; `summary` the largest over the grids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.networks.converted import ConvertedNetwork, flow
from cosim.networks.reduction import Reduction

__all__ = ["GapRow", "reduction_gap", "summary"]


@dataclass(frozen=True)
class GapRow:
    """One LV grid's largest plan-vs-reality gaps over the hours given."""

    lv_grid: str  # the reduced node's label
    trafo_branch: int  # its transformer's branch id
    v_plan_pu: float  # the reduced node's voltage in the hour of the largest voltage gap
    v_worst_pu: float  # the LV grid's lowest bus voltage in reality, that hour
    dv_pu: float  # max over hours of v_plan - v_worst (> 0: the plan is optimistic)
    trafo_plan_pct: float  # transformer loading in the plan, in the hour of the largest loading gap
    trafo_real_pct: float
    d_trafo_pct: float  # max over hours of |plan - reality|, percentage points
    line_real_pct: float  # max over hours of the LV grid's most loaded line in reality (NaN: no rated line)

    def as_dict(self) -> dict:
        return {"LV grid": self.lv_grid, "transformer branch": self.trafo_branch,
                "V plan p.u.": round(self.v_plan_pu, 4), "V worst real p.u.": round(self.v_worst_pu, 4),
                "max dV p.u.": round(self.dv_pu, 4), "trafo plan %": round(self.trafo_plan_pct, 1),
                "trafo real %": round(self.trafo_real_pct, 1), "max d trafo pp": round(self.d_trafo_pct, 2),
                "max LV line real %": round(self.line_real_pct, 1)}


def _loading_pct(net: ConvertedNetwork, res, positions: np.ndarray) -> np.ndarray:
    """(hours, len(positions)) current of the branches at `positions` over their rating, %."""
    i_max = np.asarray(net.i_max_ka, float)[positions]
    return 100.0 * res.i_branch_ka[:, positions] / np.where(np.isfinite(i_max) & (i_max > 0), i_max, np.nan)


def reduction_gap(full: ConvertedNetwork, reduced: ConvertedNetwork, reduction: Reduction, open_branches,
                  p_full_kw: np.ndarray, q_full_kvar: np.ndarray) -> list[GapRow]:
    """Per-LV-grid gaps for hours of per-bus loads of the FULL model (hours, n_full), lots included; open branch ids
    (k,) or (hours, k) are the same in both models (the reduced model keeps the MV branch ids)."""
    p_full = np.atleast_2d(np.asarray(p_full_kw, float))
    q_full = np.atleast_2d(np.asarray(q_full_kvar, float))
    opened = np.atleast_2d(np.asarray(open_branches, int))
    res_full = flow(full, opened, p_full, q_full)
    res_red = flow(reduced, opened, reduction.aggregate(p_full, reduced.n_bus),
                   reduction.aggregate(q_full, reduced.n_bus))
    pos_full = {int(b): k for k, b in enumerate(full.branch_ids)}
    pos_red = {int(b): k for k, b in enumerate(reduced.branch_ids)}
    trafo_full = np.array([pos_full[int(b)] for b in reduction.lv_trafo_branch])
    trafo_red = np.array([pos_red[int(b)] for b in reduction.lv_trafo_branch])
    load_full = _loading_pct(full, res_full, trafo_full)
    load_red = _loading_pct(reduced, res_red, trafo_red)
    grid_of_branch = np.where(reduction.lv_grid_of_bus[full.from_bus] >= 0, reduction.lv_grid_of_bus[full.from_bus],
                              -1)
    lines = _loading_pct(full, res_full, np.arange(full.n_branch))
    rows = []
    for i in range(reduction.n_lv_grids):
        members = reduction.lv_grid_of_bus == i
        v_worst = res_full.vm_pu[:, members].min(axis=1)
        v_plan = res_red.vm_pu[:, reduction.lv_node[i]]
        dv = v_plan - v_worst
        h_v = int(np.argmax(np.abs(dv)))
        d_tr = np.abs(load_red[:, i] - load_full[:, i])
        h_t = int(np.nanargmax(d_tr)) if np.isfinite(d_tr).any() else 0
        own = np.flatnonzero((grid_of_branch == i) & np.isfinite(np.asarray(full.i_max_ka)))
        line = float(np.nanmax(lines[:, own])) if len(own) and np.isfinite(lines[:, own]).any() else float("nan")
        rows.append(GapRow(reduced.bus_labels[reduction.lv_node[i]], int(reduction.lv_trafo_branch[i]),
                           float(v_plan[h_v]), float(v_worst[h_v]), float(dv[h_v]), float(load_red[h_t, i]),
                           float(load_full[h_t, i]), float(d_tr[h_t]), line))
    return rows


def summary(rows: list[GapRow]) -> dict[str, float]:
    """The largest gaps over the LV grids (the reduction's measured error)."""
    return {"lv_grids": len(rows), "max_dv_pu": max(abs(r.dv_pu) for r in rows),
            "mean_dv_pu": float(np.mean([abs(r.dv_pu) for r in rows])),
            "max_d_trafo_pct": max(r.d_trafo_pct for r in rows),
            "max_lv_line_real_pct": float(np.nanmax([r.line_real_pct for r in rows]))}
