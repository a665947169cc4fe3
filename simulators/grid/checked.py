"""A grid simulator that checks the fast engine against pandapower at every step of a real run.

`CheckedGridSim` is `GridSim` with the fast engine whose Grid also steps a pandapower `GridModel` of the same
network with the same inputs, pandapower as tight as the agreement test states (`TIGHT`: runpp to
tolerance_mva = 1e-10, a converted net's tap loop until its busbar is within 1e-12 p.u. of the set-point); each
step's pair of `GridState`s goes to `RECORD`, and `worst_differences` sums them up. A run uses it in place of the
grid simulator through `cosim.runner.simulators.replaced("Grid", CHECKED)` (tests/simulators/grid/test_fast_engine.py,
scripts/fast_engine_agreement.py).
"""

from __future__ import annotations

import math

import numpy as np

from simulators.grid.model import GridModel, GridState
from simulators.grid.simulator import GridSim

RECORD: list[tuple[GridState, GridState]] = []
TIGHT = {"tolerance_mva": 1e-10, "oltc_tol_pu": 1e-12}
CHECKED = f"{__name__}:CheckedGridSim"  # its target in the simulator table


class CheckedGridSim(GridSim):
    """`GridSim` whose Grid (fast engine) also steps a pandapower `GridModel` of the same network."""

    def create(self, num: int, model: str, **params):
        out = super().create(num, model, **params)
        if model == "Grid":
            if self.model.engine != "fast":
                raise ValueError("CheckedGridSim compares the fast engine with pandapower: set engine = \"fast\"")
            reference = GridModel(params.get("network", "ieee33"), engine="pandapower", near=params.get("plugin_dir"),
                                  **TIGHT)
            fast_step = self.model.step

            def step(**inputs) -> GridState:
                fast = fast_step(**inputs)
                RECORD.append((fast, reference.step(**inputs)))
                return fast

            self.model.step = step
        return out


def worst_differences(record: list[tuple[GridState, GridState]], radial) -> dict[str, float]:
    """The largest differences over all steps: vm_pu (p.u.), i_pu (branch current, p.u. of the branch's base
    current), s_pu (losses, p and q drawn from the grid, p.u. of the base power), loading_pct (lines and
    transformers, percentage points); `mismatches` counts steps whose convergence, open branches, unrated
    branches or demand differ, `not_converged` those where neither converged."""
    base_i = np.asarray(radial.branch_base_i_ka)
    base_kw = 1000.0 * radial.base_mva
    worst = {"steps": len(record), "vm_pu": 0.0, "i_pu": 0.0, "s_pu": 0.0, "loading_pct": 0.0, "mismatches": 0,
             "not_converged": 0}
    for fast, ref in record:
        if not fast.converged and not ref.converged:  # both give up (beyond voltage collapse): they agree
            worst["not_converged"] += 1
            continue
        if fast.converged != ref.converged or fast.open_branches != ref.open_branches or \
                not np.array_equal(np.isnan(fast.loading_percent), np.isnan(ref.loading_percent)) or \
                fast.p_demand_kw != ref.p_demand_kw or fast.p_lots_kw != ref.p_lots_kw:
            worst["mismatches"] += 1
            continue
        worst["vm_pu"] = max(worst["vm_pu"], float(np.abs(fast.vm_pu - ref.vm_pu).max()))
        worst["i_pu"] = max(worst["i_pu"], float((np.abs(fast.i_ka - ref.i_ka) / base_i).max()))
        for attr in ("losses_kw", "p_grid_kw", "q_grid_kvar"):
            worst["s_pu"] = max(worst["s_pu"], abs(getattr(fast, attr) - getattr(ref, attr)) / base_kw)
        rated = np.isfinite(ref.loading_percent)
        gaps = [float(g) for g in np.abs(fast.loading_percent[rated] - ref.loading_percent[rated])]
        if math.isfinite(ref.trafo_loading_percent):
            gaps.append(abs(fast.trafo_loading_percent - ref.trafo_loading_percent))
        worst["loading_pct"] = max([worst["loading_pct"], *gaps])
    return worst
