"""The DSO environment's reward: the negative of a weighted sum of measured terms, each computed with the
objective functions the controllers use (`cosim.controllers.objectives`).

Terms (each >= 0): `losses_kwh` the measured hour's energy losses (OF3, eq. 11, one hour); `voltage_pu` how far
the hour's lowest voltage lies below the network's band (eq. 16 as a violation; the DSO measures the lowest
voltage only); `unmet_kwh` the contract energy the lots left unmet at departures, over the whole episode, given at
its last step (the lots report it as EVs leave); `non_converged` a fixed penalty for an hour whose power flow did
not converge (nothing measured). A step's losses and voltage come from the grid's measurement of
that hour, which reaches the DSO at the start of the next hour (the last hour's from the recorded grid table).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cosim.controllers.base import GridMeasurement
from cosim.controllers.objectives import of3_loss_kwh, voltage_violation_pu
from cosim.env.errors import EnvConfigError
from cosim.powerflow.network_data import RadialNetwork

__all__ = ["RewardWeights"]


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward's terms (reward = -sum weight x term)."""

    losses_kwh: float = 1.0
    voltage_pu: float = 1000.0
    unmet_kwh: float = 1.0
    non_converged: float = 1000.0  # an hour whose power flow did not converge (no losses or voltage measured)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str) -> RewardWeights:
        names = [f.name for f in fields(cls)]
        for key, value in values.items():
            if key not in names:
                raise EnvConfigError(f"{where}.{key}: unknown reward term; allowed: {', '.join(names)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise EnvConfigError(f"{where}.{key} = {value!r}; allowed: a finite number >= 0")
        return cls(**{k: float(v) for k, v in values.items()})

    def measured_terms(self, grid: GridMeasurement | None, net: RadialNetwork) -> dict[str, float]:
        """The weighted terms of one measured hour (none before the first measurement)."""
        if grid is None:
            return {}
        return self._grid_terms(grid.losses_kw, grid.v_min_pu, net)

    def _grid_terms(self, losses_kw: float, v_min_pu: float, net: RadialNetwork) -> dict[str, float]:
        if not (np.isfinite(losses_kw) and np.isfinite(v_min_pu)):
            return {"non_converged": self.non_converged}
        losses = float(of3_loss_kwh(np.array([losses_kw])))
        voltage = float(voltage_violation_pu(np.array([[v_min_pu]]), net.v_min_pu, np.inf))
        return {"losses_kwh": self.losses_kwh * losses, "voltage_pu": self.voltage_pu * voltage}

    def final_terms(self, run_dir: Path, hour: int, net: RadialNetwork | None = None) -> dict[str, float]:
        """The last hour's terms, read from the episode's recorded tables, plus the episode's unmet energy."""
        from cosim.results import RunFolder  # noqa: PLC0415

        folder = RunFolder(run_dir)
        return self.final_terms_of(folder.table("grid"), folder.table("lots"), hour, net)

    def final_terms_of(self, grid: pd.DataFrame, lots: pd.DataFrame, hour: int,
                       net: RadialNetwork | None = None) -> dict[str, float]:
        """The last hour's terms from the grid and lots tables (recorded, or kept in memory), plus the unmet energy."""
        row = grid[grid["hour"] == hour]
        terms: dict[str, float] = {}
        if len(row) and net is not None:
            terms = self._grid_terms(float(row["losses_kw"].iloc[0]), float(row["v_min_pu"].iloc[0]), net)
        terms["unmet_kwh"] = self.unmet_kwh * float(lots["unmet_energy_kwh"].sum())
        return terms
