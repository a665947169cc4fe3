"""Seasonal runs: one co-simulation per season (representative week(s) of seasonal prices and loads), and
one table comparing the seasons, with wall time per simulated day and mosaik's share of it, and the seasons
side by side in two figures (seasons_kpis, seasons_hourly; see `cosim.runner.compare.draw_comparison`), unless
the scenario's `[output] plots` is false (`cosim run --no-plots`): then no run and no season comparison draws any.
Hourly only: a scenario with `market.seasons` and `[simulation] step_minutes` other than 60 is refused when it is
read (`cosim.config.check_step`)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pandas as pd

from cosim.config import Scenario
from cosim.results import new_run_dir
from cosim.runner.compare import draw_comparison
from cosim.runner.run import RunSummary, run_scenario
from cosim.textio import atomic_write_text, markdown_table

log = logging.getLogger(__name__)


def run_seasons(scenario: Scenario, output_dir: str | Path | None = None,
                progress: bool = True) -> tuple[Path, pd.DataFrame]:
    """Run `scenario` once per season in `scenario.seasons`; returns the parent folder and the summary table."""
    parent = new_run_dir(output_dir or scenario.output_dir, scenario.name)
    rows, runs = [], {}
    for i, season in enumerate(scenario.seasons, 1):
        log.info("season %d/%d: %s", i, len(scenario.seasons), season)
        sub = dataclasses.replace(scenario, name=season, market_profile=f"seasonal:{season}", seasons=())
        summary: RunSummary = run_scenario(sub, output_dir=parent, progress=progress)
        runs[season] = summary.run_dir
        timing = summary.timing or {}
        rows.append({"season": season, "run_dir": summary.run_dir.name, "days": scenario.days, **summary.kpis,
                     "wall_s": round(summary.wall_s, 2),
                     "wall_s_per_day": timing.get("wall_s_per_simulated_day"),
                     "mosaik_share": timing.get("mosaik_share")})
        table = pd.DataFrame(rows)
        atomic_write_text(parent / "seasons.csv", table.to_csv(index=False))  # after each season: a stop keeps the rest
    atomic_write_text(parent / "seasons.md", markdown_table(table) + "\n")
    log.info("wrote %s", parent / "seasons.md")
    if not scenario.output.plots:  # `[output] plots = false` / --no-plots: the tables only, here too
        return parent, table
    for path in draw_comparison(table, "season", runs, parent, "seasons", scenario.output.figure_format,
                                scenario.output.dpi):
        log.info("wrote %s", path)
    return parent, table
