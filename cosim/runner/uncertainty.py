"""Means and 95 % confidence intervals over replications (scenario seeds), and which columns are KPIs.

A comparison or a sweep repeats a variant over several seeds; what it reports per KPI is the mean and the
Student-t interval mean +- t(0.975, n - 1) s / sqrt(n), s the sample standard deviation. One run has no
interval (NaN, shown empty); identical runs (a scenario that draws nothing) have an interval of width 0: values
that differ only by floating-point noise (`differs`: within 1e-6 relative or 1e-9 absolute; two runs of the same
seedless scenario differ by ~1e-13 in the last bits of a solver's sums) count as identical.

Diagnostics (wall time, message count and volume) describe the simulation, not the grid or the lots: tables keep
them apart from the KPIs and figures draw them separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
DIAGNOSTICS = ("messages", "message_bytes", "wall_s", "hours", "plan_revisions")
"""Columns that measure the simulation itself (what it cost, what it exchanged), not an outcome for the DSO or PLOs."""
CI_LOW, CI_HIGH = "_ci95_low", "_ci95_high"
"""Suffixes of a column's interval bounds in a summary table (e.g. energy_losses_kwh_ci95_low)."""


@dataclass(frozen=True)
class Interval:
    """A mean and its 95 % Student-t confidence interval over `n` values (low = high = NaN when n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)


def t_interval(values: Iterable[float]) -> Interval:
    """Mean and 95 % Student-t interval of the finite values (NaN and None left out)."""
    from scipy import stats  # noqa: PLC0415 - scipy only when a summary is made

    x = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(float)
    x = x[np.isfinite(x)]
    if not len(x):
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if len(x) < 2:
        return Interval(mean, math.nan, math.nan, 1)
    if not differs(x):
        return Interval(mean, mean, mean, len(x))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return Interval(mean, mean - half, mean + half, len(x))


def summarise_runs(runs: pd.DataFrame, label: str, columns: Iterable[str]) -> pd.DataFrame:
    """One row per value of `label` (in order of appearance): `seeds` (how many runs), then for each column its
    mean, <column>_ci95_low and <column>_ci95_high."""
    rows = []
    for name, sub in runs.groupby(label, sort=False):
        row: dict[str, object] = {label: name, "seeds": int(len(sub))}
        for c in columns:
            if c not in sub:
                continue
            iv = t_interval(sub[c])
            row.update({c: iv.mean, c + CI_LOW: iv.low, c + CI_HIGH: iv.high})
        rows.append(row)
    return pd.DataFrame(rows)


def differs(values: Iterable[float], rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    """Whether the values differ by more than rounding noise (|max - min| > abs_ + rel * max |value|)."""
    x = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return False
    return bool(x.max() - x.min() > abs_ + rel * float(np.abs(x).max()))
