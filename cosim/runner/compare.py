"""The same scenario in the four information-exchange modes, side by side: KPIs and message volume.

This is the value-of-information table: what the DSO and the PLOs gain (or lose) by sharing more. Each
comparison writes its folder: one run folder per variant, <name>.csv / .md (the KPIs side by side) and two
figures: <name>_kpis (one small bar chart per KPI, the variants side by side) and <name>_hourly (losses, lowest
voltage and lot power hour by hour, one line per variant)."""

from __future__ import annotations

import dataclasses
import logging
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cosim.config import Scenario, load_scenario
from cosim.exchange.registry import EXCHANGE_MODES
from cosim.results import RunFolder, new_run_dir
from cosim.runner.run import run_scenario
from cosim.textio import atomic_write_text, markdown_table

log = logging.getLogger(__name__)

COLUMNS = ("energy_losses_kwh", "load_curve_deviation_kw", "v_min_pu", "vpd_pu", "plo_profit_usd",
           "unmet_energy_kwh", "max_abs_lot_gap_kw", "messages", "message_bytes", "fallbacks", "rejected_or_clipped")


@dataclass
class Comparison:
    """A comparison's folder, its table (one row per variant) and its figures; printed in full."""

    folder: Path
    table: pd.DataFrame
    figures: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                               "display.float_format", _number):
            text = self.table.to_string(index=False)
        lines = [f"results: {self.folder}", "", text, ""]
        lines += [f"figure: {p}" for p in self.figures]
        return "\n".join(lines)


def _number(value: float) -> str:
    """A table cell: thousands separated with one decimal from 1000 up, else 4 significant digits; 0 for
    rounding noise."""
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return "0" if abs(value) < 1e-9 else f"{value:.4g}"


_WELFARE = ("social_cost_usd", "value_of_information_usd", "dso_cost_usd", "plo_profit_usd", "energy_losses_kwh",
            "voltage_violation_hours", "max_loading_percent", "unmet_energy_kwh", "negotiation_rounds_max",
            "negotiations_not_converged")
EXCHANGE_COLUMNS = _WELFARE + tuple(c for c in COLUMNS if c not in _WELFARE)
"""`compare_exchange_modes`' columns: the welfare ledger (cosim.runner.welfare) first, then what each mode costs."""

CONTROL_COLUMNS = ("energy_losses_kwh", "unmet_energy_kwh", "voltage_violation_hours", "v_min_pu", "switch_operations",
                   "planned_energy_losses_kwh", "max_abs_loss_gap_pct", "max_abs_lot_gap_kw", "plan_revisions",
                   "fallbacks")
CONTROL_LEVELS = (0.0, 0.05, 0.1, 0.2)
"""Forecast-error levels of `compare_control`: a level x sets the market's load and price forecast errors to x
(relative, 24 h ahead) and each lot's EV arrival and departure forecast errors to 10 x hours (x = 0.2: 2 h)."""
CONTROL_BUDGET = {"n_particles": 20, "n_iter": 100}
"""EO's budget in `compare_control` (day-ahead; mpc's hourly revisions get n_iter // 5): a few minutes on 2 cores."""


def compare_variants(base: Scenario, variants: dict[str, dict], label: str, output_dir: str | Path,
                     table_name: str, progress: bool = False) -> tuple[Path, pd.DataFrame]:
    """Run `base` once per variant (dataclass field overrides); KPIs side by side in <table_name>.csv/.md."""
    parent, table, _ = _compare(base, variants, label, output_dir, table_name, progress)
    return parent, table


def _compare(base: Scenario, variants: dict[str, dict], label: str, output_dir: str | Path, table_name: str,
             progress: bool, columns: tuple[str, ...] = COLUMNS) -> tuple[Path, pd.DataFrame, list[Path]]:
    parent = new_run_dir(output_dir, f"{base.name}-{table_name}")
    rows, runs = [], {}
    for i, (name, changes) in enumerate(variants.items(), 1):
        log.info("%s %d/%d: %s", table_name, i, len(variants), name)
        summary = run_scenario(dataclasses.replace(base, name=name.replace(" ", "_"), **changes), output_dir=parent,
                               progress=progress)
        runs[name] = summary.run_dir
        rows.append({label: name, **{c: summary.kpis.get(c) for c in columns}, "wall_s": round(summary.wall_s, 2),
                     "run_dir": summary.run_dir.name})
        table = pd.DataFrame(rows)
        # after each run: a stop keeps the rest
        atomic_write_text(parent / f"{table_name}.csv", table.to_csv(index=False))
    atomic_write_text(parent / f"{table_name}.md", markdown_table(table) + "\n")
    log.info("wrote %s", parent / f"{table_name}.md")
    figures = draw_comparison(table, label, runs, parent, table_name, base.output.figure_format, base.output.dpi,
                              columns)
    return parent, table, figures


def draw_comparison(table: pd.DataFrame, label: str, runs: dict[str, Path], out: Path, name: str,
                    fmt: str = "png", dpi: int = 300, columns: tuple[str, ...] = COLUMNS) -> list[Path]:
    """<name>_kpis and <name>_hourly (see the module docstring) in `out`; returns the files."""
    from cosim.runner.figures import PAGE_IN, Writer, kpi_label, steps, time_axis  # noqa: PLC0415 - matplotlib

    w = Writer(out, fmt, dpi)
    names = [str(v) for v in table[label]]
    values = {c: pd.to_numeric(table[c], errors="coerce") for c in (*columns, "wall_s") if c in table}
    kpis = [c for c, v in values.items() if v.notna().any() and v.max() != v.min()]  # the same everywhere: table only
    files = []
    with w.style():
        ncol = 3
        nrow = max(1, -(-len(kpis) // ncol))
        fig, axes = w.figure(PAGE_IN, 1.7 * nrow + 0.5, nrows=nrow, ncols=ncol, squeeze=False)
        colors = [f"C{i % 10}" for i in range(len(names))]
        for ax, kpi in zip(axes.flat, kpis):
            v = values[kpi]
            ax.bar(range(len(names)), v, color=colors)
            if v.min() > 0 and v.min() / v.max() > 0.8:  # close values (voltages): zoom in, the ticks say where
                pad = 0.6 * (v.max() - v.min())
                ax.set_ylim(v.min() - pad, v.max() + 0.2 * pad)
            ax.set_title(textwrap.fill(kpi_label(kpi), 34), fontsize=7)
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=6)
            ax.tick_params(axis="y", labelsize=6)
        for ax in list(axes.flat)[len(kpis):]:
            ax.axis("off")
        fig.suptitle(f"KPIs per {label} (those that differ)", fontsize=8)
        fig.tight_layout()
        files.append(w.save(fig, f"{name}_kpis", "").path)
        frames = {n: (RunFolder(d).table("grid"), RunFolder(d).table("lots")) for n, d in runs.items()}
        frames = {n: f for n, f in frames.items() if not f[0].empty}
        if frames:
            fig, axes = w.figure(PAGE_IN, 4.2, nrows=3, sharex=True)
            for n, (grid, lots) in frames.items():
                steps(axes[0], grid["hour"], grid["losses_kw"], label=n)
                steps(axes[1], grid["hour"], grid["v_min_pu"])
                lot_kw = lots.groupby("hour")["p_kw"].sum().reindex(grid["hour"]).fillna(0.0) if not lots.empty \
                    else grid["hour"] * 0.0
                steps(axes[2], grid["hour"], lot_kw)
            axes[0].set_ylabel("losses (kW)")
            axes[1].set_ylabel("lowest voltage (p.u.)")
            axes[2].set_ylabel("lot power (kW)")
            time_axis(axes[2], next(iter(frames.values()))[0]["hour"])
            axes[0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.02, 1.0, 0.2), mode="expand",
                           ncol=min(len(frames), 6))
            files.append(w.save(fig, f"{name}_hourly", "").path)
    return files


def compare_exchange_modes(scenario_path: str | Path | None = None, output_dir: str | Path = "results/compare",
                           modes: tuple[str, ...] = tuple(EXCHANGE_MODES.names()),
                           progress: bool = False, controller_options: dict | None = None) -> Comparison:
    """Run the scenario once per exchange mode (with `controller_options` in place of the scenario's, e.g. a
    smaller budget); writes exchange_modes.csv/.md and its figures under a new folder."""
    from cosim.runner.welfare import with_value_of_information  # noqa: PLC0415

    base = load_scenario(scenario_path)
    if controller_options is not None:
        base = dataclasses.replace(base, controller_options=dict(controller_options))
    parent, table, figures = _compare(base, {m: _mode_variant(base, m) for m in modes}, "exchange", output_dir,
                                      "exchange_modes", progress, EXCHANGE_COLUMNS)
    table = with_value_of_information(table)
    table.insert(1, "reveals", [getattr(EXCHANGE_MODES.resolve(m), "reveals", "") for m in table["exchange"]])
    atomic_write_text(parent / "exchange_modes.csv", table.to_csv(index=False))
    atomic_write_text(parent / "exchange_modes.md", markdown_table(table) + "\n")
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
                         progress: bool = False) -> Comparison:
    """What bad data costs: the scenario with PLOs over-reporting flexibility (bad-data injection) and messages
    tampered in transit, each with the given probabilities; KPIs per probability in data_quality.csv/.md."""
    base = load_scenario(scenario_path)
    variants = {}
    for p in probabilities:
        variants[f"misreport {p:g}"] = {"misreport_probability": p}
    for p in probabilities[1:]:
        variants[f"tamper {p:g}"] = {"faults": {**base.faults, "tamper": p}}
        variants[f"loss {p:g}"] = {"faults": {**base.faults, "loss": p}}
    return Comparison(*_compare(base, variants, "fault", output_dir, "data_quality", progress))


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
                    budget: dict[str, int] | None = None, progress: bool = False) -> Comparison:
    """Day-ahead-only control (`eo`) against hour-by-hour control (`mpc`) under increasing forecast error: losses,
    unmet energy, voltage violations, switch operations, plan-vs-reality gap and wall time side by side in
    control.csv/.md and its figures."""
    base = load_scenario(scenario_path)
    parent, table, figures = _compare(base, control_variants(base, levels, controllers, budget), "variant",
                                      output_dir, "control", progress, CONTROL_COLUMNS)
    return Comparison(parent, table, figures)
