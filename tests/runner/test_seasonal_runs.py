"""Seasonal scenarios (`[market] profile = "seasonal"`, `seasons = [...]`): one co-simulation per season and a
table comparing them, through the real command line; with `--no-plots` no run and no season comparison draws."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from run_processes import rule_day_toml

from cosim.cli import main

pytestmark = pytest.mark.slow  # two co-simulations

SEASONAL = rule_day_toml("seasons") + '[market]\nprofile = "seasonal"\nseasons = ["winter", "summer"]\n'


def test_a_seasonal_run_without_plots_writes_each_seasons_tables_and_the_comparison_but_no_figure(tmp_path):
    (tmp_path / "s.toml").write_text(SEASONAL)
    assert main(["run", str(tmp_path / "s.toml"), "--quiet", "--no-plots", "--output", str(tmp_path / "out")]) == 0
    (parent,) = list((tmp_path / "out").iterdir())
    table = pd.read_csv(parent / "seasons.csv")
    assert list(table["season"]) == ["winter", "summer"] and (parent / "seasons.md").exists()
    for run_dir in (parent / name for name in table["run_dir"]):
        assert (run_dir / "grid.csv").exists() and not (run_dir / "plots").exists()
        assert not (run_dir / "report.html").exists()
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"
    assert not [p.name for p in parent.iterdir() if p.suffix in (".png", ".pdf", ".svg")]
    assert table["energy_losses_kwh"].iloc[0] != table["energy_losses_kwh"].iloc[1]  # the seasons differ
