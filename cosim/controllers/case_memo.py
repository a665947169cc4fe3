"""Results remembered across an optimiser's iterations, keyed bit for bit by what fixes them
(`DayAheadVectorProblem.evaluate` and `evaluate_totals`).

A population optimiser evaluates the same things again and again. EO 30 x 500 on the default scenario's day
evaluates 15,000 plans of which about 8,200 differ once decoded, and asks for 360,000 flow cases (plan x hour) of
which about 34,000 differ. Two memos, one class:

* plans: a decoded plan (open branches, lot buses, signed PEV counts) fixes its f and cv;
* cases: a case is fixed by its hour, its open branches, the lots' buses and the lots' powers in that hour (the
  bus loads are the problem's, the reactive power follows from the lots' power factors); kept are its flow
  totals (ok, losses, voltage extremes, current violation).

Only what the memo has not seen is computed, each distinct key once, in one batch; a plan's f and cv and a case's
totals do not depend on the batch they are computed in (each row on its own), so what the memo returns is bit for
bit what computing everything again would give (tests/controllers/test_plan_pinned.py compares the two). Keys are
int64 rows (float bits as integers) looked up in bulk: one bytes object per row and dict look-ups in C.
"""

from __future__ import annotations

from itertools import repeat
from typing import Callable

import numpy as np

__all__ = ["RowMemo"]

MAX_ROWS = 1 << 20
"""Distinct keys kept (~100 MB of keys at most); past it the memo starts again empty."""


class RowMemo:
    """Float rows of `width` values remembered by key (an int64 row)."""

    def __init__(self, width: int, max_rows: int = MAX_ROWS) -> None:
        self.width = int(width)
        self.max_rows = int(max_rows)
        self._index: dict[bytes, int] = {}
        self._values = np.empty((0, self.width))
        self.n_asked = 0  # keys asked for
        self.n_computed = 0  # keys computed

    def __len__(self) -> int:
        return len(self._index)

    def values(self, keys: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(n, width) values of each key (a row of `keys` (n, key width) int64). `compute(rows)` returns the
        (len(rows), width) values of the keys at those row positions that the memo has not seen, each once."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        n = keys.shape[0]
        self.n_asked += n
        raw = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).reshape(n).tolist()
        where = np.fromiter(map(self._index.get, raw, repeat(-1, n)), dtype=np.int64, count=n)
        miss = np.flatnonzero(where < 0)
        if len(miss):
            if len(self._index) + len(miss) > self.max_rows:
                self._index.clear()
                miss = np.arange(n)
            miss_keys = [raw[i] for i in miss.tolist()]
            fresh = dict(zip(miss_keys, miss.tolist()))  # distinct keys -> a row holding one
            rows = np.fromiter(fresh.values(), dtype=np.int64, count=len(fresh))
            start = len(self._index)
            self._store(np.asarray(compute(rows), dtype=float).reshape(len(fresh), self.width), start)
            self._index.update(zip(fresh, range(start, start + len(fresh))))
            self.n_computed += len(fresh)
            where[miss] = np.fromiter(map(self._index.__getitem__, miss_keys), dtype=np.int64, count=len(miss))
        return self._values[where]

    def _store(self, values: np.ndarray, start: int) -> None:
        """Keep `values` at rows start.. (the buffer doubles when full)."""
        need = start + len(values)
        if need > len(self._values):
            grown = np.empty((max(need, 2 * len(self._values), 1024), self.width))
            grown[:start] = self._values[:start]
            self._values = grown
        self._values[start:need] = values
