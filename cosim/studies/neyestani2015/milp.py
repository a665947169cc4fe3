"""A tiny vectorised MILP builder on top of scipy.optimize.milp (HiGHS) for the seed-003 study.

Variables are blocks of indices; constraints are added m rows at a time as sums of (index array, coefficient
array) terms, so the stage-1 and stage-2 models are written with numpy instead of one scalar at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix
from cosim.errors import InputError


class ModelError(InputError):
    """A model was built with inconsistent shapes or could not be solved to optimality."""


@dataclass
class Solution:
    """Optimal values (`x`), objective in the model's sense (minimised), HiGHS status text, solve time [s]."""

    x: np.ndarray
    objective: float
    status: int
    message: str
    solve_s: float
    mip_gap: float
    n_vars: int
    n_int: int
    n_rows: int

    @property
    def optimal(self) -> bool:
        return self.status == 0

    def __getitem__(self, idx) -> np.ndarray:
        return self.x[np.asarray(idx)]


class LinearModel:
    """Minimise c'x subject to row bounds, variable bounds and integrality."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.c: list[float] = []
        self.integer: list[int] = []
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._rlb: list[np.ndarray] = []
        self._rub: list[np.ndarray] = []
        self.n_rows = 0

    @property
    def n_vars(self) -> int:
        return len(self.c)

    def var(self, shape, lb=0.0, ub=np.inf, integer: bool = False, cost=0.0) -> np.ndarray:
        """A block of variables with the given shape; returns their indices (same shape)."""
        n = int(np.prod(shape))
        idx = np.arange(self.n_vars, self.n_vars + n).reshape(shape)
        self.lb += list(np.broadcast_to(np.asarray(lb, float), shape).ravel())
        self.ub += list(np.broadcast_to(np.asarray(ub, float), shape).ravel())
        self.c += list(np.broadcast_to(np.asarray(cost, float), shape).ravel())
        self.integer += [1 if integer else 0] * n
        return idx

    def add_cost(self, idx, coef) -> None:
        """Add coef * x[idx] to the objective (idx and coef broadcast)."""
        idx, coef = np.broadcast_arrays(np.asarray(idx), np.asarray(coef, float))
        c = np.asarray(self.c)
        np.add.at(c, idx.ravel(), coef.ravel())
        self.c = list(c)

    def rows(self, terms, lb=-np.inf, ub=np.inf) -> None:
        """m rows: lb <= sum_k coef_k * x[idx_k] <= ub; each term is (idx, coef) broadcast to a common (m,) shape.

        A term's idx may be -1 (no variable) which is skipped, so ragged sums can be written with padding.
        """
        arrs = [np.broadcast_arrays(np.asarray(i), np.asarray(v, float)) for i, v in terms]
        shape = np.broadcast_shapes(*[a[0].shape for a in arrs], np.shape(lb), np.shape(ub))
        m = int(np.prod(shape)) if shape else 1
        rid = self.n_rows + np.arange(m)
        for idx, val in arrs:
            idx = np.broadcast_to(idx, shape).ravel()
            val = np.broadcast_to(val, shape).ravel()
            keep = (idx >= 0) & (val != 0)
            self._rows.append(rid[keep])
            self._cols.append(idx[keep].astype(int))
            self._vals.append(val[keep])
        self._rlb.append(np.broadcast_to(np.asarray(lb, float), shape).ravel())
        self._rub.append(np.broadcast_to(np.asarray(ub, float), shape).ravel())
        self.n_rows += m

    def sum_row(self, idx, coef=1.0, lb=-np.inf, ub=np.inf) -> None:
        """One row: lb <= sum(coef * x[idx]) <= ub over all elements of idx."""
        idx, coef = np.broadcast_arrays(np.asarray(idx), np.asarray(coef, float))
        keep = (idx.ravel() >= 0) & (coef.ravel() != 0)
        self._rows.append(np.full(int(keep.sum()), self.n_rows))
        self._cols.append(idx.ravel()[keep].astype(int))
        self._vals.append(coef.ravel()[keep])
        self._rlb.append(np.array([float(lb)]))
        self._rub.append(np.array([float(ub)]))
        self.n_rows += 1

    def solve(self, time_limit_s: float = 120.0, mip_rel_gap: float = 1e-6) -> Solution:
        """Solve with HiGHS (scipy.optimize.milp); raises ModelError unless the status is optimal."""
        n = self.n_vars
        a = csr_matrix((np.concatenate(self._vals), (np.concatenate(self._rows), np.concatenate(self._cols))),
                       shape=(self.n_rows, n)) if self.n_rows else None
        cons = [LinearConstraint(a, np.concatenate(self._rlb), np.concatenate(self._rub))] if a is not None else []
        t0 = time.perf_counter()
        res = milp(np.asarray(self.c), constraints=cons, integrality=np.asarray(self.integer),
                   bounds=Bounds(np.asarray(self.lb), np.asarray(self.ub)),
                   options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "disp": False})
        dt = time.perf_counter() - t0
        if res.status != 0 or res.x is None:
            raise ModelError(f"HiGHS did not reach optimality: status {res.status} ({res.message})")
        gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
        return Solution(res.x, float(res.fun), int(res.status), str(res.message), dt, gap, n,
                        int(sum(self.integer)), self.n_rows)
