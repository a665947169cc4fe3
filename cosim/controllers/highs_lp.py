"""A small LP handed straight to HiGHS (the copy scipy ships), for the per-EV LP solved every simulated hour.

`solve_lp` takes the LP in HiGHS's own form - ``min c x`` s.t. ``row_lower <= A x <= row_upper``, ``col_lower <= x
<= col_upper`` - with A a column-wise sparse matrix, and passes every array to HiGHS as it is: numpy arrays, no
Python list per entry, no ranged row doubled into ``A x <= b`` and ``-A x <= -lo`` as `linprog`'s form needs.

Options, measured on the per-EV LP's real instances (env_ieee33, 100 to 200 EVs over 24 hours: about 1,400
columns, 620 rows, 7,000 nonzeros, 220 simplex iterations): dual simplex without presolve is the fastest (presolve
finds little to remove in a model built without redundant rows and costs more than it saves: a whole `dispatch`
takes 6.9 ms CPU with it, 4.3 ms without; the interior point method, 22 ms, and primal simplex are slower), with
Devex pricing (about 10 % below dual steepest edge; a crash basis gains nothing). Where dual simplex alone does not
end at an optimum, the LP is solved again with presolve (`linprog`'s default); without an optimum then, HiGHS's
model status is the message. An optimum is checked against its bounds and rows (within `linprog`'s own tolerance,
10 sqrt(1e-9)) before it is returned.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
from scipy.sparse import csc_array

__all__ = ["solve_lp"]

try:  # HiGHS as scipy ships it (the module `linprog` itself calls; scipy >= 1.15)
    import scipy.optimize._highspy._core as _highs
except ImportError:  # pragma: no cover - an older scipy: highspy's (a dependency of the project), the same bindings
    import highspy._core as _highs

DEVEX = 1
"""HiGHS's `simplex_dual_edge_weight_strategy` for Devex pricing (its default chooses dual steepest edge)."""
TOLERANCE = 10.0 * np.sqrt(1e-9)
"""A returned optimum's largest bound or row violation (`linprog`'s `_check_result` tolerance)."""


@functools.cache
def _options(presolve: bool, devex: bool = True):
    """HiGHS's options: quiet, dual simplex, presolve as asked, Devex pricing or HiGHS's own choice. Made once per
    kind (about 40 us each) and never changed: `passOptions` copies them into each solver."""
    options = _highs.HighsOptions()
    options.presolve = "on" if presolve else "off"
    options.highs_debug_level = _highs.HighsDebugLevel.kHighsDebugLevelNone
    options.log_to_console = False
    options.output_flag = False
    options.simplex_strategy = _highs.simplex_constants.SimplexStrategy.kSimplexStrategyDual
    if devex:
        options.simplex_dual_edge_weight_strategy = DEVEX
    return options


def _finite(values: np.ndarray) -> np.ndarray:
    """Infinities as HiGHS's own infinity (what `linprog` does)."""
    return np.clip(np.asarray(values, dtype=np.float64), -_highs.kHighsInf, _highs.kHighsInf)


def solve_lp(cost: np.ndarray, col_lower: np.ndarray, col_upper: np.ndarray, a: csc_array,
             row_lower: np.ndarray, row_upper: np.ndarray, *, as_linprog: bool = False) -> SimpleNamespace:
    """min cost . x s.t. row_lower <= a x <= row_upper and col_lower <= x <= col_upper (infinite where unbounded),
    `a` column-wise (any scipy sparse matrix is converted): a namespace with `status` (0: optimal, 2: infeasible,
    1 otherwise), `message`, `x` (None without an optimum) and `fun`.

    `as_linprog`: the options `linprog(method="highs")` hands HiGHS (presolve, HiGHS's own pricing), for a model
    moved from `linprog` that keeps its answers; without `linprog`'s option checks, which cost about 20 ms a call
    (scipy 1.18 validates each option through a fresh HiGHS options manager)."""
    a = csc_array(a)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    col_lower, col_upper = _finite(col_lower), _finite(col_upper)
    row_lower, row_upper = _finite(row_lower), _finite(row_upper)
    n_col, n_row = cost.size, row_lower.size
    model = (n_col, n_row, a.nnz, int(_highs.MatrixFormat.kColwise), int(_highs.ObjSense.kMinimize), 0.0, cost,
             col_lower, col_upper, row_lower, row_upper, a.indptr.astype(np.int32), a.indices.astype(np.int32),
             np.asarray(a.data, np.float64), np.zeros(n_col, np.int32))  # integrality: all continuous
    message = ""
    for presolve in (True,) if as_linprog else (False, True):
        solver = _highs._Highs()
        if solver.passOptions(_options(presolve, devex=not as_linprog)) == _highs.HighsStatus.kError \
                or solver.passModel(*model) == _highs.HighsStatus.kError:
            raise ValueError("HiGHS refused the LP's model")  # a programming error: shapes or indices
        solver.run()
        status = solver.getModelStatus()
        message = f"HiGHS: {solver.modelStatusToString(status)}"
        if status == _highs.HighsModelStatus.kOptimal:
            solution = solver.getSolution()
            x = np.asarray(solution.col_value)
            rows = np.asarray(solution.row_value)
            if _within(x, col_lower, col_upper) and _within(rows, row_lower, row_upper):
                return SimpleNamespace(status=0, message="Optimal", x=x,
                                       fun=float(solver.getInfo().objective_function_value))
            message = f"HiGHS: an optimum that breaks a bound or row by more than {TOLERANCE:.1e}"
        elif status == _highs.HighsModelStatus.kInfeasible:
            return SimpleNamespace(status=2, message=message, x=None, fun=np.nan)
    return SimpleNamespace(status=1, message=message, x=None, fun=np.nan)


def _within(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
    """Every value finite and within its bounds up to `TOLERANCE`."""
    return bool(np.all(np.isfinite(values)) and np.all(values >= lower - TOLERANCE)
                and np.all(values <= upper + TOLERANCE))

