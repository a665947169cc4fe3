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
    """Mean, standard deviation, n and 95 % t-interval half-width of each KPI per group (completed runs only)."""
    from scipy import stats  # noqa: PLC0415

    done = table[table["status"] == "completed"].copy()
    keys = group_keys(label_keys)
    done["group"] = _group_labels(done, keys)
    rows = []
    for group, sub in done.groupby("group", sort=False):
        for kpi in kpis:
            if kpi not in sub:
                continue
            x = sub[kpi].dropna().to_numpy(dtype=float)
            if not len(x):
                continue
            sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
            half = float(stats.t.ppf(0.975, len(x) - 1) * sd / np.sqrt(len(x))) if len(x) > 1 else float("nan")
            rows.append({"group": group, "kpi": kpi, "n": len(x), "mean": float(x.mean()), "std": sd, "ci95": half})
    return pd.DataFrame(rows, columns=["group", "kpi", "n", "mean", "std", "ci95"])


def group_label(labels: dict[str, Any]) -> str:
    """A run's group: the values of its non-seed varied keys, e.g. "eo | 6 | 4 | centralised" ("base" if none)."""
    return " | ".join(str(label_cell(v)) for k, v in labels.items() if k != "seed") or "base"


def _group_labels(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    if "group" in df:
        return df["group"]
    return df.apply(lambda row: group_label({k: row[k] for k in keys if pd.notna(row[k])}), axis=1)


def make_summary_plots(table: pd.DataFrame, label_keys: list[str], kpis: list[str], out_dir: Path) -> list[Path]:
    """One PNG per KPI: each run as a dot, the group mean with its 95 % interval over seeds as an error bar. The
    KPI is named in words with its unit; each group's tick names the keys that vary between groups and their
    values (one line per key), so that the ticks explain themselves."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from cosim.runner.figures import STYLE, key_label, kpi_label  # noqa: PLC0415 - with matplotlib, when drawn

    summary = summarise(table, label_keys, kpis)
    if summary.empty:
        return []
    done = table[table["status"] == "completed"].copy()
    done["group"] = _group_labels(done, group_keys(label_keys))
    ticks = group_ticks(done, group_keys(label_keys))
    paths = []
    for kpi, sub in summary.groupby("kpi", sort=False):
        groups = list(sub["group"])
        with plt.rc_context(STYLE):
            longest = max(len(line) for g in groups for line in str(ticks.get(g, g)).splitlines())
            fig, ax = plt.subplots(figsize=(max(3.5, max(0.9, 0.058 * longest) * len(groups) + 1.0), 2.8))
            for i, g in enumerate(groups):
                pts = done.loc[done["group"] == g, kpi].dropna().to_numpy(dtype=float)
                jitter = np.linspace(-0.12, 0.12, len(pts)) if len(pts) > 1 else np.zeros(len(pts))
                ax.scatter(i + jitter, pts, s=12, alpha=0.6, color="tab:blue", label="one run" if i == 0 else None)
            ci = sub["ci95"].fillna(0.0).to_numpy()
            ax.errorbar(range(len(groups)), sub["mean"], yerr=ci, fmt="o", color="black", capsize=4,
                        label="mean ± 95 % CI over seeds")
            ax.set_xticks(range(len(groups)), [ticks.get(g, g) for g in groups], fontsize=7)
            ax.set_ylabel(kpi_label(kpi))
            ax.set_title(kpi_label(kpi))
            varying = [k for k in group_keys(label_keys) if done[k].nunique(dropna=False) > 1] if len(done) else []
            ax.set_xlabel(", ".join(key_label(k) for k in varying) if len(varying) == 1 else "variation")
            ax.legend(loc="best")
            fig.tight_layout()
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=200)
        plt.close(fig)
        paths.append(atomic_write_bytes(out_dir / "plots" / f"{kpi}.png", png.getvalue()))
    return paths


def group_ticks(done: pd.DataFrame, keys: list[str]) -> dict[str, str]:
    """Each group's tick: the values of the keys that differ between groups, one "key: value" line each (just
    the value when a single key varies)."""
    from cosim.runner.figures import key_label  # noqa: PLC0415 - matplotlib's side of the sweep

    varying = [k for k in keys if k in done and done[k].astype(str).nunique() > 1]
    ticks = {}
    for group, sub in done.groupby("group", sort=False):
        row = sub.iloc[0]
        if len(varying) == 1:
            ticks[group] = str(row[varying[0]])
        else:
            ticks[group] = "\n".join(f"{key_label(k)}: {row[k]}" for k in varying) or str(group)
    return ticks
