"""The same scenario in the four information-exchange modes, side by side: KPIs and message volume.

This is the value-of-information table: what the DSO and the PLOs gain (or lose) by sharing more."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from cosim.config import EXCHANGE_MODES, load_scenario
from cosim.results import new_run_dir
from cosim.run import run_scenario

COLUMNS = ("energy_losses_kwh", "load_curve_deviation_kw", "v_min_pu", "vpd_pu", "plo_profit_usd",
           "unmet_energy_kwh", "messages", "message_bytes", "fallbacks")


def compare_exchange_modes(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                           modes: tuple[str, ...] = EXCHANGE_MODES, progress: bool = False) -> pd.DataFrame:
    """Run the scenario once per exchange mode; writes exchange_modes.csv/.md under a new folder."""
    base = load_scenario(scenario_path)
    parent = new_run_dir(output_dir, f"{base.name}-exchange")
    rows = []
    for mode in modes:
        summary = run_scenario(dataclasses.replace(base, name=mode, exchange=mode), output_dir=parent, progress=progress)
        rows.append({"exchange": mode, **{c: summary.kpis.get(c) for c in COLUMNS}, "wall_s": round(summary.wall_s, 2)})
    table = pd.DataFrame(rows)
    table.to_csv(parent / "exchange_modes.csv", index=False)
    (parent / "exchange_modes.md").write_text(markdown_table(table))
    return table


def markdown_table(table: pd.DataFrame) -> str:
    """A pipe table without the optional `tabulate` dependency."""
    head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join("| " + " | ".join(_fmt(v) for v in row) + " |\n" for row in table.itertuples(index=False))
    return head + body


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
