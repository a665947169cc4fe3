"""A sweep's combined KPI table (Parquet when pyarrow is installed, else CSV) and its summary plots:
each KPI's distribution per group of non-seed keys (e.g. per controller), with 95 % confidence intervals over seeds."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cosim.textio import atomic_write_bytes, atomic_write_text

META_COLUMNS = ("variation_id", "status", "wall_s", "run_dir", "error")


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def label_cell(value: Any) -> Any:
    """Table cell for a varied value: scalars as they are, arrays/tables as JSON text (one type per column)."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def write_table(table: pd.DataFrame, out_dir: Path) -> Path:
    """Write sweep.parquet (or sweep.csv without pyarrow) atomically: a temp file renamed into place."""
    if parquet_available():
        return atomic_write_bytes(out_dir / "sweep.parquet", table.to_parquet(index=False))
    return atomic_write_text(out_dir / "sweep.csv", table.to_csv(index=False))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a combined table written by `write_table`."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def group_keys(label_keys: list[str]) -> list[str]:
    """The varied keys that define a group of runs (all but the seed, over which intervals are taken)."""
    return [k for k in label_keys if k != "seed"]


def summarise(table: pd.DataFrame, label_keys: list[str], kpis: list[str]) -> pd.DataFrame:
    """Mean, standard deviation, n and 95 % Student-t interval (half-width `ci95`, bounds `ci95_low`, `ci95_high`;
    `cosim.runner.uncertainty.t_interval`) of each KPI per group (completed runs only); `kind` says whether the
    column is a KPI or a diagnostic (wall time, messages)."""
    from cosim.runner.uncertainty import DIAGNOSTICS, t_interval  # noqa: PLC0415 - scipy

    done = table[table["status"] == "completed"].copy()
    keys = group_keys(label_keys)
    done["group"] = _group_labels(done, keys)
    rows = []
    for group, sub in done.groupby("group", sort=False):
        for kpi in kpis:
            if kpi not in sub:
                continue
            x = pd.to_numeric(sub[kpi], errors="coerce").dropna().to_numpy(dtype=float)
            if not len(x):
                continue
            iv = t_interval(x)
            sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
            rows.append({"group": group, "kpi": kpi, "kind": "diagnostic" if kpi in DIAGNOSTICS else "KPI",
                         "n": iv.n, "mean": iv.mean, "std": sd, "ci95": iv.half_width, "ci95_low": iv.low,
                         "ci95_high": iv.high})
    return pd.DataFrame(rows, columns=["group", "kpi", "kind", "n", "mean", "std", "ci95", "ci95_low", "ci95_high"])


def group_label(labels: dict[str, Any]) -> str:
    """A run's group: the values of its non-seed varied keys, e.g. "eo | 6 | 4 | centralised" ("base" if none)."""
    return " | ".join(str(label_cell(v)) for k, v in labels.items() if k != "seed") or "base"


def _group_labels(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    if "group" in df:
        return df["group"]
    return df.apply(lambda row: group_label({k: row[k] for k in keys if pd.notna(row[k])}), axis=1)


def make_summary_plots(table: pd.DataFrame, label_keys: list[str], kpis: list[str], out_dir: Path) -> list[Path]:
    """One PNG per KPI: each group's mean as a bar from zero with its 95 % interval over seeds as an error bar, and
    each run as a dot. The KPI is named in words with its unit (diagnostics, such as wall time, say so); each
    group's tick names the keys that vary between groups and their values (one line per key, `tick_text`)."""
    from cosim.runner.figure_style import BLACK, Writer, bars_with_ci  # noqa: PLC0415 - matplotlib, when drawn
    from cosim.runner.figures import key_label, kpi_label  # noqa: PLC0415 - as above

    summary = summarise(table, label_keys, kpis)
    if summary.empty:
        return []
    done = table[table["status"] == "completed"].copy()
    done["group"] = _group_labels(done, group_keys(label_keys))
    ticks = group_ticks(done, group_keys(label_keys))
    w = Writer(out_dir / "plots", "png", 200)
    paths = []
    with w.style():
        for kpi, sub in summary.groupby("kpi", sort=False):
            groups = list(sub["group"])
            longest = max(len(line) for g in groups for line in str(ticks.get(g, g)).splitlines())
            fig, ax = w.figure(max(3.5, max(0.9, 0.058 * longest) * len(groups) + 1.0), 2.8)
            bars_with_ci(ax, [ticks.get(g, g) for g in groups], sub["mean"], sub["ci95_low"], sub["ci95_high"])
            for i, g in enumerate(groups):
                pts = pd.to_numeric(done.loc[done["group"] == g, kpi], errors="coerce").dropna().to_numpy(float)
                jitter = np.linspace(-0.15, 0.15, len(pts)) if len(pts) > 1 else np.zeros(len(pts))
                ax.scatter(i + jitter, pts, s=10, color=BLACK, alpha=0.5, zorder=3,
                           label="one run" if i == 0 else None)
            ax.set_xticks(range(len(groups)), [ticks.get(g, g) for g in groups], rotation=0, ha="center")
            diagnostic = sub["kind"].iloc[0] == "diagnostic"
            ax.set_ylabel(kpi_label(kpi))
            n = int(sub["n"].max())
            ax.set_title(f"{kpi_label(kpi)}{' (diagnostic)' if diagnostic else ''}: mean over "
                         f"{n} seed{'s' if n != 1 else ''}" + (", 95 % interval" if n > 1 else ""))
            varying = [k for k in group_keys(label_keys) if done[k].nunique(dropna=False) > 1] if len(done) else []
            ax.set_xlabel(", ".join(key_label(k) for k in varying) if len(varying) == 1 else "variation")
            ax.legend(loc="best")
            fig.tight_layout()
            w.out.mkdir(parents=True, exist_ok=True)
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=200)
            w.plt.close(fig)
            paths.append(atomic_write_bytes(out_dir / "plots" / f"{kpi}.png", png.getvalue()))
    return paths


def group_ticks(done: pd.DataFrame, keys: list[str]) -> dict[str, str]:
    """Each group's tick: the values of the keys that differ between groups, one "key: value" line each (just
    the value when a single key varies); whole numbers without ".0", a key a group does not set as "base" (the
    base scenario's value), never "nan" or "None"."""
    from cosim.runner.figure_style import tick_text  # noqa: PLC0415 - matplotlib's side of the sweep
    from cosim.runner.figures import key_label  # noqa: PLC0415 - as above

    varying = [k for k in keys if k in done and done[k].astype(str).nunique() > 1]
    ticks = {}
    for group, sub in done.groupby("group", sort=False):
        row = sub.iloc[0]
        if len(varying) == 1:
            ticks[group] = tick_text(row[varying[0]], "base")
        else:
            ticks[group] = "\n".join(f"{key_label(k)}: {tick_text(row[k], 'base')}" for k in varying) or str(group)
    return ticks
