"""Seasonal runs: one co-simulation per season (representative week(s) of seasonal prices and loads), and
one table comparing the seasons, with wall time per simulated day and mosaik's share of it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from cosim.runner.compare import markdown_table
from cosim.config import Scenario
from cosim.results import new_run_dir
from cosim.runner.run import RunSummary, run_scenario


def run_seasons(scenario: Scenario, output_dir: str | Path | None = None, progress: bool = True) -> tuple[Path, pd.DataFrame]:
    """Run `scenario` once per season in `scenario.seasons`; returns the parent folder and the summary table."""
    parent = new_run_dir(output_dir or scenario.output_dir, scenario.name)
    rows = []
    for season in scenario.seasons:
        sub = dataclasses.replace(scenario, name=season, market_profile=f"seasonal:{season}", seasons=())
        summary: RunSummary = run_scenario(sub, output_dir=parent, progress=progress)
        timing = summary.timing or {}
        rows.append({"season": season, "run_dir": summary.run_dir.name, "days": scenario.days, **summary.kpis,
                     "wall_s": round(summary.wall_s, 2),
                     "wall_s_per_day": timing.get("wall_s_per_simulated_day"),
                     "mosaik_share": timing.get("mosaik_share")})
        table = pd.DataFrame(rows)
        table.to_csv(parent / "seasons.csv", index=False)  # rewritten after each season: a stop keeps the rest
    (parent / "seasons.md").write_text(markdown_table(table))
    return parent, table
