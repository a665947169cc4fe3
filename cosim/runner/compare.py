"""The same scenario in the four information-exchange modes, side by side: KPIs and message volume.

This is the value-of-information table: what the DSO and the PLOs gain (or lose) by sharing more."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pandas as pd

from cosim.config import Scenario, load_scenario
from cosim.exchange.registry import EXCHANGE_MODES
from cosim.results import new_run_dir
from cosim.runner.run import run_scenario
from cosim.textio import atomic_write_text, markdown_table

log = logging.getLogger(__name__)

COLUMNS = ("energy_losses_kwh", "load_curve_deviation_kw", "v_min_pu", "vpd_pu", "plo_profit_usd",
           "unmet_energy_kwh", "max_abs_lot_gap_kw", "messages", "message_bytes", "fallbacks", "rejected_or_clipped")


def compare_variants(base: Scenario, variants: dict[str, dict], label: str, output_dir: str | Path,
                     table_name: str, progress: bool = False) -> tuple[Path, pd.DataFrame]:
    """Run `base` once per variant (dataclass field overrides); KPIs side by side in <table_name>.csv/.md."""
    parent = new_run_dir(output_dir, f"{base.name}-{table_name}")
    rows = []
    for i, (name, changes) in enumerate(variants.items(), 1):
        log.info("%s %d/%d: %s", table_name, i, len(variants), name)
        summary = run_scenario(dataclasses.replace(base, name=name.replace(" ", "_"), **changes), output_dir=parent,
                               progress=progress)
        rows.append({label: name, **{c: summary.kpis.get(c) for c in COLUMNS}, "wall_s": round(summary.wall_s, 2)})
        table = pd.DataFrame(rows)
        # after each run: a stop keeps the rest
        atomic_write_text(parent / f"{table_name}.csv", table.to_csv(index=False))
    atomic_write_text(parent / f"{table_name}.md", markdown_table(table) + "\n")
    log.info("wrote %s", parent / f"{table_name}.md")
    return parent, table


def compare_exchange_modes(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                           modes: tuple[str, ...] = tuple(EXCHANGE_MODES.names()),
                           progress: bool = False) -> pd.DataFrame:
    """Run the scenario once per exchange mode; writes exchange_modes.csv/.md under a new folder."""
    base = load_scenario(scenario_path)
    return compare_variants(base, {m: {"exchange": m} for m in modes}, "exchange", output_dir, "exchange_modes",
                            progress)[1]


def compare_data_quality(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                         probabilities: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0),
                         progress: bool = False) -> pd.DataFrame:
    """What bad data costs: the scenario with PLOs over-reporting flexibility (bad-data injection) and messages
    tampered in transit, each with the given probabilities; KPIs per probability in data_quality.csv/.md."""
    base = load_scenario(scenario_path)
    variants = {}
    for p in probabilities:
        variants[f"misreport {p:g}"] = {"misreport_probability": p}
    for p in probabilities[1:]:
        variants[f"tamper {p:g}"] = {"faults": {**base.faults, "tamper": p}}
        variants[f"loss {p:g}"] = {"faults": {**base.faults, "loss": p}}
    return compare_variants(base, variants, "fault", output_dir, "data_quality", progress)[1]
