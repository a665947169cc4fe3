"""The grid simulator of a real run with the fast engine, and beside it pandapower's runpp fed the same inputs
at every step (tests/simulators/grid/test_fast_engine.py): each step's pair of `GridState`s goes to `RECORD`.

pandapower runs as tightly as the agreement test states: runpp to `tolerance_mva` = 1e-10 and a converted net's
tap loop until its busbar is within 1e-12 p.u. of the set-point (the grid's own default is 1e-7)."""

from __future__ import annotations

from simulators.grid.model import GridModel, GridState
from simulators.grid.simulator import GridSim

RECORD: list[tuple[GridState, GridState]] = []
TIGHT = {"tolerance_mva": 1e-10, "oltc_tol_pu": 1e-12}


class CheckedGridSim(GridSim):
    """`GridSim` whose Grid also steps a pandapower `GridModel` of the same network with the same inputs."""

    def create(self, num: int, model: str, **params):
        out = super().create(num, model, **params)
        if model == "Grid":
            if self.model.engine != "fast":
                raise AssertionError("the checked grid compares the fast engine; the scenario must set it")
            reference = GridModel(params.get("network", "ieee33"), engine="pandapower", near=params.get("plugin_dir"),
                                  **TIGHT)
            fast_step = self.model.step

            def step(**inputs) -> GridState:
                fast = fast_step(**inputs)
                RECORD.append((fast, reference.step(**inputs)))
                return fast

            self.model.step = step
        return out
