"""The days an environment's episodes are drawn from: (market profile, start day) pairs.

The shipped profiles with distinct days are the four seasonal weeks (`scenarios/data/seasonal_week.csv`:
SimBench load, Netherlands day-ahead prices), 28 days in all: training draws the first five days of each week,
evaluation holds out the last two (other dates, never seen in training)."""

from __future__ import annotations

__all__ = ["EVALUATION_DAYS", "SEASONS", "TRAINING_DAYS"]

SEASONS = ("winter", "spring", "summer", "autumn")
TRAINING_DAYS: tuple[tuple[str, int], ...] = tuple((f"seasonal:{s}", d) for s in SEASONS for d in range(5))
EVALUATION_DAYS: tuple[tuple[str, int], ...] = tuple((f"seasonal:{s}", d) for s in SEASONS for d in (5, 6))
