"""Forecast errors of the market's day-ahead forecasts: seeded multiplicative Gaussian noise growing with lead time.

The forecast of step t + l issued at step t (lead l = 0..n-1, steps of step_h hours) is the actual value times
(1 + e), with e ~ N(0, (sigma * sqrt((l + 1) step_h / 24))^2) clipped to [-0.9, 0.9]: sigma is the relative error of
a 24-hour-ahead forecast, the next hour's is sigma / sqrt(24) (errors of a random walk in time, whatever the step).
Each issue step draws its own errors from a generator seeded by (seed, kind, t), so a run is reproducible and a
forecast issued later is not a shifted copy of an earlier one. The actual values (what the grid and the lots see)
are never changed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "MAX_SIGMA", "noisy_forecast"]

KINDS = {"load": 1, "price": 2}
MAX_SIGMA = 1.0


def noisy_forecast(values, sigma: float, seed: int, kind: str, issue_hour: int, step_h: float = 1.0) -> list[float]:
    """`values` (the actual next steps, `step_h` hours each) as forecast at step `issue_hour` (the step index) with
    relative 24-h-ahead error `sigma`."""
    actual = np.asarray(values, float)
    if sigma <= 0:
        return actual.tolist()
    lead = np.arange(len(actual))
    rng = np.random.default_rng([int(seed), KINDS[kind], int(issue_hour)])
    lead_h = (lead + 1) * step_h if step_h != 1.0 else lead + 1  # hours ahead at the step's end
    error = np.clip(rng.normal(0.0, 1.0, len(actual)) * sigma * np.sqrt(lead_h / 24.0), -0.9, 0.9)
    return (actual * (1.0 + error)).tolist()
