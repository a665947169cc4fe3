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
int64 rows (float bits as integers) in a compiled open-addressing hash table: ~50 ns a look-up, where a dict of
bytes keys cost ~0.5 us (building the bytes objects).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

__all__ = ["RowMemo"]

MAX_ROWS = 1 << 20
"""Distinct keys kept (a few tens of MB); past it the memo starts again empty."""

_EMPTY = -1


@njit(cache=True)
def _slot(keys, r, mask):
    """Hash of row r of keys (FNV-style multiply-xor over its int64 words), as a first table slot."""
    h = np.uint64(14695981039346656037)
    for j in range(keys.shape[1]):
        h = (h ^ np.uint64(keys[r, j])) * np.uint64(1099511628211)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))


@njit(cache=True)
def _same(a, i, b, j):
    for k in range(a.shape[1]):
        if a[i, k] != b[j, k]:
            return False
    return True


@njit(cache=True)
def _find_or_add(table, stored, n_stored, keys, where, first_rows):
    """Each row of keys: its index in `stored` (added at n_stored.. when new, its row position recorded in
    first_rows); returns the new n_stored. The table has room (load <= 1/2)."""
    mask = len(table) - 1
    n = n_stored
    for r in range(keys.shape[0]):
        s = _slot(keys, r, mask)
        while True:
            i = table[s]
            if i == _EMPTY:
                table[s] = n
                stored[n, :] = keys[r, :]
                first_rows[n - n_stored] = r
                where[r] = n
                n += 1
                break
            if _same(stored, i, keys, r):
                where[r] = i
                break
            s = (s + 1) & mask
    return n


@njit(cache=True)
def _rehash(table, stored, n_stored):
    mask = len(table) - 1
    table[:] = _EMPTY
    for i in range(n_stored):
        s = _slot(stored, i, mask)
        while table[s] != _EMPTY:
            s = (s + 1) & mask
        table[s] = i


class RowMemo:
    """Float rows of `width` values remembered by key (an int64 row of a fixed width)."""

    def __init__(self, width: int, max_rows: int = MAX_ROWS) -> None:
        self.width = int(width)
        self.max_rows = int(max_rows)
        self._table = np.full(16, _EMPTY, dtype=np.int64)
        self._keys = np.empty((0, 0), dtype=np.int64)
        self._values = np.empty((0, self.width))
        self._n = 0
        self.n_asked = 0  # keys asked for
        self.n_computed = 0  # keys computed

    def __len__(self) -> int:
        return self._n

    def values(self, keys: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(n, width) values of each key (a row of `keys` (n, key width) int64). `compute(rows)` returns the
        (len(rows), width) values of the keys at those row positions that the memo has not seen, each once."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        n = keys.shape[0]
        self.n_asked += n
        if self._keys.shape[1] != keys.shape[1] or self._n + n > self.max_rows:
            self._clear(keys.shape[1])
        self._make_room(self._n + n)
        where = np.empty(n, dtype=np.int64)
        first_rows = np.empty(n, dtype=np.int64)
        start = self._n
        self._n = _find_or_add(self._table, self._keys, start, keys, where, first_rows)
        if self._n > start:
            rows = first_rows[: self._n - start]
            self._values[start : self._n] = np.asarray(compute(rows), dtype=float).reshape(len(rows), self.width)
            self.n_computed += len(rows)
        return self._values[where]

    def _clear(self, key_width: int) -> None:
        self._table = np.full(16, _EMPTY, dtype=np.int64)
        self._keys = np.empty((0, key_width), dtype=np.int64)
        self._values = np.empty((0, self.width))
        self._n = 0

    def _make_room(self, need: int) -> None:
        """Key and value buffers for `need` rows, a table at most half full (both double when short)."""
        if need > len(self._keys):
            cap = max(need, 2 * len(self._keys), 1024)
            keys, values = np.empty((cap, self._keys.shape[1]), dtype=np.int64), np.empty((cap, self.width))
            keys[: self._n], values[: self._n] = self._keys[: self._n], self._values[: self._n]
            self._keys, self._values = keys, values
        if 2 * need > len(self._table):
            size = len(self._table)
            while 2 * need > size:
                size *= 2
            self._table = np.empty(size, dtype=np.int64)
            _rehash(self._table, self._keys, self._n)
