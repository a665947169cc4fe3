"""An episode's measured KPIs without the recorder (`DsoEnv(record=False)`): from the grid's and the lots' rows
the switched-off recorder keeps in memory (`cosim.env.episode.MEMORY_TABLES`), by the same formulas as
`cosim.runner.postprocess.postprocess`, so both agree (tests/env/test_record_off.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cosim.config import Scenario

__all__ = ["MEASURED_KPIS", "measured_kpis", "tables"]

MEASURED_KPIS = ("hours", "energy_losses_kwh", "energy_from_grid_kwh", "v_min_pu", "vpd_pu", "non_converged_hours",
                 "voltage_violation_hours", "unmet_energy_kwh", "lot_energy_charged_kwh", "lot_energy_discharged_kwh")
"""The KPIs an episode without the recorder reports (the others need messages, plans, prices or EV rows)."""


def tables(rows: dict[str, list[dict[str, Any]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The kept rows as the grid and lots tables."""
    return pd.DataFrame(rows.get("grid", [])), pd.DataFrame(rows.get("lots", []))


def measured_kpis(grid: pd.DataFrame, lots: pd.DataFrame, scenario: Scenario) -> dict[str, float]:
    """`MEASURED_KPIS` of an episode (postprocess's formulas on the same rows)."""
    from cosim.runner.postprocess import grid_kpis, lot_energy_kpis  # noqa: PLC0415

    kpis = grid_kpis(grid, scenario)
    if not lots.empty:
        kpis.update(lot_energy_kpis(lots))
    return kpis
