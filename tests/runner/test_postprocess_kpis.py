"""The run's load-curve deviation KPI is OF2 as the controllers compute it (seed 000 eq. 7 with eq. 8's target: the
mean system load without the lots), day by day: it had taken the mean of the load with the lots over the whole run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cosim.controllers.objectives import of2_lcd_kw
from cosim.runner.postprocess import load_curve_deviation_kw


def _tables(days: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hours = np.arange(24 * days)
    base_kw = 3000.0 + 800.0 * np.sin(hours / 24.0 * 2 * np.pi) + rng.normal(0, 50, len(hours)) + 400.0 * (hours // 24)
    lot_a, lot_b = rng.uniform(-100, 300, len(hours)), rng.uniform(0, 200, len(hours))
    losses = rng.uniform(50, 150, len(hours))
    grid = pd.DataFrame({"hour": hours, "p_grid_kw": base_kw + lot_a + lot_b + losses, "losses_kw": losses})
    lots = pd.DataFrame({"hour": np.concatenate([hours, hours]), "lot_id": ["A"] * len(hours) + ["B"] * len(hours),
                         "p_kw": np.concatenate([lot_a, lot_b])})
    return grid, lots, base_kw, lot_a + lot_b


def test_the_kpi_is_of2_of_each_day_summed():
    grid, lots, base_kw, lot_kw = _tables(3)
    expected = sum(float(of2_lcd_kw(base_kw[d * 24:(d + 1) * 24], lot_kw[d * 24:(d + 1) * 24])) for d in range(3))
    assert load_curve_deviation_kw(grid, lots) == pytest.approx(expected, rel=1e-12)
    whole_run_with_lots = float(np.abs(base_kw + lot_kw - (base_kw + lot_kw).mean()).sum())  # the old formula
    assert abs(load_curve_deviation_kw(grid, lots) - whole_run_with_lots) > 1.0


def test_hours_without_a_flow_are_left_out_and_no_lots_is_the_base_curve():
    grid, lots, base_kw, lot_kw = _tables(1, seed=1)
    grid.loc[5, ["p_grid_kw", "losses_kw"]] = np.nan
    keep = np.arange(24) != 5
    assert load_curve_deviation_kw(grid, lots) == pytest.approx(float(of2_lcd_kw(base_kw[keep], lot_kw[keep])))
    no_lots = grid.assign(p_grid_kw=base_kw + grid["losses_kw"])
    assert load_curve_deviation_kw(no_lots, pd.DataFrame()) == pytest.approx(
        float(of2_lcd_kw(base_kw[keep], np.zeros(keep.sum()))))
