"""The same scenario in the four information-exchange modes, side by side: KPIs and message volume.

This is the value-of-information table: what the DSO and the PLOs gain (or lose) by sharing more. Each variant
runs over `replications` scenario seeds (the scenario's seed, then the next ones): the seed drives what the
scenario draws (stochastic fleets, forecast errors, channel faults), while a seeded controller keeps the
scenario's own seed, so the spread is the scenario's and not the optimiser's. A scenario that draws nothing (the
default: a fixed fleet, perfect forecasts, no faults) gives the same result for every seed: no spread.

Each comparison writes its folder: one run folder per variant and seed, <name>_runs.csv (one row per run),
<name>.csv / .md (one row per variant: the mean of each KPI over the seeds and its 95 % Student-t interval,
`cosim.runner.uncertainty`; the diagnostics, wall time and messages, after the KPIs) and three figures:
<name>_kpis (one bar per variant from zero, the interval as an error bar, one panel per KPI that differs),
<name>_diagnostics (the same for wall time and message volume) and <name>_hourly (losses, lowest voltage and lot
power hour by hour, one line style and marker per variant, mean over the seeds)."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cosim.config import Scenario, check_step, load_scenario
from cosim.controllers.registry import SEEDED_CONTROLLERS
from cosim.errors import InputError
from cosim.exchange.registry import EXCHANGE_MODES
from cosim.results import RunFolder, new_run_dir
from cosim.runner.run import run_scenario
from cosim.runner.uncertainty import CI_HIGH, CI_LOW, DIAGNOSTICS, summarise_runs
from cosim.textio import atomic_write_text, markdown_table

log = logging.getLogger(__name__)

COLUMNS = ("energy_losses_kwh", "load_curve_deviation_kw", "v_min_pu", "vpd_pu", "plo_profit_usd",
           "unmet_energy_kwh", "max_abs_lot_gap_kw", "negotiations_not_converged", "fallbacks", "rejected_or_clipped")
"""The KPIs of a comparison (outcomes for the DSO and the PLOs)."""
DIAGNOSTIC_COLUMNS = ("messages", "message_bytes", "wall_s")
"""What a comparison reports about the simulation itself, kept apart from the KPIs (tables and figures)."""
MAX_REPLICATIONS = 1000


@dataclass
class Comparison:
    """A comparison's folder, its table (one row per variant: means and 95 % intervals over the seeds) and its
    figures; printed in full, each cell "mean ± half-width" when there are several seeds."""

    folder: Path
    table: pd.DataFrame
    figures: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
            text = display_table(self.table).to_string(index=False)
        lines = [f"results: {self.folder}", "", text, ""]
        lines += [f"figure: {p}" for p in self.figures]
        return "\n".join(lines)


def _number(value: float) -> str:
    """A table cell: thousands separated with one decimal from 1000 up, else 4 significant digits; 0 for
    rounding noise."""
    if not math.isfinite(value):
        return ""
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return "0" if abs(value) < 1e-9 else f"{value:.4g}"


_WELFARE = ("social_cost_usd", "value_of_information_usd", "dso_cost_usd", "plo_profit_usd", "energy_losses_kwh",
            "voltage_violation_hours", "max_loading_percent", "unmet_energy_kwh", "negotiation_rounds_max",
            "negotiations_not_converged")
EXCHANGE_COLUMNS = _WELFARE + tuple(c for c in COLUMNS if c not in _WELFARE)
"""`compare_exchange_modes`' columns: the welfare ledger (cosim.runner.welfare) first, then what each mode costs."""


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The summary table as text: each value with its interval as "mean ± half-width" (just the mean for one seed),
    the interval columns folded in."""
    out = {}
    for c in table.columns:
        if c.endswith((CI_LOW, CI_HIGH)):
            continue
        low, high = table.get(c + CI_LOW), table.get(c + CI_HIGH)
        if low is None or not pd.api.types.is_numeric_dtype(table[c]):
            out[c] = table[c].map(lambda v: _number(float(v)) if isinstance(v, float) else v)
            continue
        out[c] = [_number(float(m)) + (f" ± {_number(0.5 * (float(h) - float(lo)))}"
                                       if pd.notna(lo) and pd.notna(h) else "")
                  for m, lo, h in zip(table[c], low, high)]
    return pd.DataFrame(out)


CONTROL_COLUMNS = ("energy_losses_kwh", "unmet_energy_kwh", "voltage_violation_hours", "v_min_pu", "switch_operations",
                   "planned_energy_losses_kwh", "max_abs_loss_gap_pct", "max_abs_lot_gap_kw", "plan_revisions",
                   "fallbacks")
CONTROL_LEVELS = (0.0, 0.05, 0.1, 0.2)
"""Forecast-error levels of `compare_control`: a level x sets the market's load and price forecast errors to x
(relative, 24 h ahead) and each lot's EV arrival and departure forecast errors to 10 x hours (x = 0.2: 2 h)."""
CONTROL_BUDGET = {"n_particles": 20, "n_iter": 100}
"""EO's budget in `compare_control` (day-ahead; mpc's hourly revisions get n_iter // 5): a few minutes on 2 cores."""


def replication(scenario: Scenario, index: int) -> Scenario:
    """The scenario's `index`-th replication: scenario seed + index drives its draws (fleets, forecast errors,
    channel faults); a seeded controller (eo, pso, ga, mpc) keeps the scenario's seed unless its options set one."""
    options = dict(scenario.controller_options)
    if scenario.controller in SEEDED_CONTROLLERS:
        options.setdefault("seed", scenario.seed)
    return dataclasses.replace(scenario, seed=scenario.seed + index, controller_options=options)


def check_replications(replications: int) -> int:
    """`replications` as given, or an InputError naming the option and what is allowed."""
    if isinstance(replications, bool) or not isinstance(replications, int) \
            or not 1 <= replications <= MAX_REPLICATIONS:
        raise InputError(f"--replications: must be a whole number from 1 to {MAX_REPLICATIONS}, got {replications!r}")
    return replications


def compare_variants(base: Scenario, variants: dict[str, dict], label: str, output_dir: str | Path,
                     table_name: str, progress: bool = False, replications: int = 1) -> tuple[Path, pd.DataFrame]:
    """Run `base` once per variant (dataclass field overrides) and seed; the summary in <table_name>.csv/.md."""
    parent, table, _ = _compare(base, variants, label, output_dir, table_name, progress, replications=replications)
    return parent, table


def _compare(base: Scenario, variants: dict[str, dict], label: str, output_dir: str | Path, table_name: str,
             progress: bool, columns: tuple[str, ...] = COLUMNS,
             replications: int = 1) -> tuple[Path, pd.DataFrame, list[Path]]:
    replications = check_replications(replications)
    ordered = (*(c for c in columns if c not in DIAGNOSTICS),
               *dict.fromkeys(c for c in (*columns, *DIAGNOSTIC_COLUMNS) if c in DIAGNOSTICS))
    for name, changes in variants.items():  # before any run: a variant the scenario's step refuses
        variant = dataclasses.replace(base, **changes)
        check_step(str(base.path or "<scenario>"), variant.step_minutes, variant.controller, variant.exchange,
                   variant.seasons, base.plugin_dir)
    parent = new_run_dir(output_dir, f"{base.name}-{table_name}")
    rows, runs = [], {}
    total = len(variants) * replications
    for i, (name, changes) in enumerate(variants.items()):
        variant = dataclasses.replace(base, name=name.replace(" ", "_"), **changes)
        for r in range(replications):
            scenario = replication(variant, r)
            if replications > 1:
                scenario = dataclasses.replace(scenario, name=f"{variant.name}_seed{scenario.seed}")
            log.info("%s %d/%d: %s, seed %d", table_name, i * replications + r + 1, total, name, scenario.seed)
            summary = run_scenario(scenario, output_dir=parent, progress=progress)
            runs.setdefault(name, []).append(summary.run_dir)
            kpis = {**summary.kpis, "wall_s": round(summary.wall_s, 2)}
            rows.append({label: name, "seed": scenario.seed, **{c: kpis.get(c) for c in ordered},
                         "run_dir": summary.run_dir.name})
            # after each run: a stop keeps the rest
            atomic_write_text(parent / f"{table_name}_runs.csv", pd.DataFrame(rows).to_csv(index=False))
    per_run = pd.DataFrame(rows)
    table = summarise_runs(per_run, label, ordered)
    atomic_write_text(parent / f"{table_name}.csv", table.to_csv(index=False))
    atomic_write_text(parent / f"{table_name}.md", markdown_table(display_table(table)) + "\n")
    log.info("wrote %s", parent / f"{table_name}.md")
    figures = draw_comparison(table, label, runs, parent, table_name, base.output.figure_format, base.output.dpi,
                              columns)
    return parent, table, figures


def draw_comparison(table: pd.DataFrame, label: str, runs: dict[str, Path | list[Path]], out: Path, name: str,
                    fmt: str = "png", dpi: int = 300, columns: tuple[str, ...] = COLUMNS,
                    diagnostics: tuple[str, ...] = DIAGNOSTIC_COLUMNS) -> list[Path]:
    """<name>_kpis, <name>_diagnostics and <name>_hourly (see the module docstring) in `out`; returns the files.
    `table` has one row per variant; <column>_ci95_low / _high, where present, become error bars. `runs` names
    each variant's run folder(s), whose hourly tables are averaged."""
    from cosim.runner.compare_figures import bar_panels, hourly_panels  # noqa: PLC0415 - matplotlib
    from cosim.runner.figure_style import Writer  # noqa: PLC0415 - as above

    w = Writer(out, fmt, dpi)
    files = []
    with w.style():
        for kind, cols in (("kpis", tuple(c for c in columns if c not in DIAGNOSTICS)),
                           ("diagnostics", tuple(c for c in (*columns, *diagnostics) if c in DIAGNOSTICS))):
            fig = bar_panels(w, table, label, cols, title=f"{'KPIs' if kind == 'kpis' else 'Diagnostics'} per "
                                                                f"{label} (those that differ)")
            if fig is not None:
                files.append(w.save(fig, f"{name}_{kind}", "").path)
        folders = {n: ([d] if isinstance(d, Path) else list(d)) for n, d in runs.items()}
        frames = {}
        for n, dirs in folders.items():
            grids = [RunFolder(d).table("grid") for d in dirs]
            lots = [RunFolder(d).table("lots") for d in dirs]
            if any(g.empty for g in grids):
                continue
            frames[n] = (grids, lots)
        if frames:
            files.append(w.save(hourly_panels(w, frames), f"{name}_hourly", "").path)
    return files


def compare_exchange_modes(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                           modes: tuple[str, ...] = tuple(EXCHANGE_MODES.names()),
                           progress: bool = False, controller_options: dict | None = None,
                           replications: int = 1) -> Comparison:
    """Run the scenario once per exchange mode and seed (with `controller_options` in place of the scenario's, e.g.
    a smaller budget); writes exchange_modes.csv/.md (means and 95 % intervals over `replications` seeds, the
    welfare ledger first, the value of information against `none`), exchange_modes_runs.csv and the figures under a
    new folder."""
    from cosim.runner.welfare import with_value_of_information  # noqa: PLC0415

    base = load_scenario(scenario_path)
    if controller_options is not None:
        base = dataclasses.replace(base, controller_options=dict(controller_options))
    parent, table, figures = _compare(base, {m: _mode_variant(base, m) for m in modes}, "exchange", output_dir,
                                      "exchange_modes", progress, EXCHANGE_COLUMNS,
                                      replications=replications)
    table = with_value_of_information(table)
    table.insert(1, "reveals", [getattr(EXCHANGE_MODES.resolve(m), "reveals", "") for m in table["exchange"]])
    atomic_write_text(parent / "exchange_modes.csv", table.to_csv(index=False))
    atomic_write_text(parent / "exchange_modes.md", markdown_table(display_table(table)) + "\n")
    return Comparison(parent, table, figures)


def _mode_variant(base: Scenario, mode: str) -> dict:
    """The scenario in `mode`: its max_rounds where the scenario gives one, else the mode's own default; the
    scenario's mode options for its own mode only."""
    from cosim.config import MAX_ROUNDS  # noqa: PLC0415
    from cosim.exchange.registry import make_exchange_mode  # noqa: PLC0415

    given = "max_rounds" in (base.raw.get("exchange") or {})
    rounds = base.max_rounds if given else min(make_exchange_mode(mode, near=base.plugin_dir).max_rounds, MAX_ROUNDS)
    return {"exchange": mode, "max_rounds": rounds,
            "exchange_options": dict(base.exchange_options) if mode == base.exchange else {}}


def compare_data_quality(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                         probabilities: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0),
                         progress: bool = False, replications: int = 1) -> Comparison:
    """What bad data costs: the scenario with PLOs over-reporting flexibility (bad-data injection) and messages
    tampered in transit, each with the given probabilities; KPIs per probability in data_quality.csv/.md."""
    base = load_scenario(scenario_path)
    variants = {}
    for p in probabilities:
        variants[f"misreport {p:g}"] = {"misreport_probability": p}
    for p in probabilities[1:]:
        variants[f"tamper {p:g}"] = {"faults": {**base.faults, "tamper": p}}
        variants[f"loss {p:g}"] = {"faults": {**base.faults, "loss": p}}
    return Comparison(*_compare(base, variants, "fault", output_dir, "data_quality", progress,
                                replications=replications))


def control_variants(base: Scenario, levels: tuple[float, ...] = CONTROL_LEVELS,
                     controllers: tuple[str, ...] = ("eo", "mpc"),
                     budget: dict[str, int] | None = None) -> dict[str, dict]:
    """The variants of `compare_control`: each controller at each forecast-error level (see `CONTROL_LEVELS`), with
    the same EO budget and the scenario's switch operations (at least 4 a day, so that mpc may reconfigure)."""
    budget = dict(CONTROL_BUDGET if budget is None else budget)
    variants = {}
    for level in levels:
        lots = tuple(dataclasses.replace(lot, forecast_error={"arrival_sigma_h": 10.0 * level,
                                                              "departure_sigma_h": 10.0 * level} if level else {})
                     for lot in base.lots)
        for controller in controllers:
            variants[f"{controller} err {level:g}"] = {
                "controller": controller, "controller_options": dict(budget), "lots": lots,
                "forecast_noise": {"load_sigma": level, "price_sigma": level} if level else {},
                "switch_operations_per_day": max(base.switch_operations_per_day, 4)}
    return variants


def compare_control(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                    levels: tuple[float, ...] = CONTROL_LEVELS, controllers: tuple[str, ...] = ("eo", "mpc"),
                    budget: dict[str, int] | None = None, progress: bool = False,
                    replications: int = 1) -> Comparison:
    """Day-ahead-only control (`eo`) against hour-by-hour control (`mpc`) under increasing forecast error: losses,
    unmet energy, voltage violations, switch operations, plan-vs-reality gap and wall time side by side in
    control.csv/.md and its figures."""
    base = load_scenario(scenario_path)
    parent, table, figures = _compare(base, control_variants(base, levels, controllers, budget), "variant",
                                      output_dir, "control", progress, CONTROL_COLUMNS, replications)
    return Comparison(parent, table, figures)
