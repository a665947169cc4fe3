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
    """One PNG per KPI: each run as a dot, the group mean with its 95 % interval over seeds as an error bar."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    summary = summarise(table, label_keys, kpis)
    if summary.empty:
        return []
    done = table[table["status"] == "completed"].copy()
    done["group"] = _group_labels(done, group_keys(label_keys))
    paths = []
    for kpi, sub in summary.groupby("kpi", sort=False):
        groups = list(sub["group"])
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(groups) + 2), 3.6))
        for i, g in enumerate(groups):
            pts = done.loc[done["group"] == g, kpi].dropna().to_numpy(dtype=float)
            jitter = np.linspace(-0.12, 0.12, len(pts)) if len(pts) > 1 else np.zeros(len(pts))
            ax.scatter(i + jitter, pts, s=14, alpha=0.6, color="tab:blue")
        ci = sub["ci95"].fillna(0.0).to_numpy()
        ax.errorbar(range(len(groups)), sub["mean"], yerr=ci, fmt="o", color="black", capsize=5,
                    label="mean ± 95 % CI over seeds")
        ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(kpi)
        ax.set_title(kpi, fontsize=9)
        ax.set_xlabel(" | ".join(k.split(".")[-1] for k in group_keys(label_keys)) or "sweep", fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        plt.close(fig)
        paths.append(atomic_write_bytes(out_dir / "plots" / f"{kpi}.png", png.getvalue()))
    return paths
