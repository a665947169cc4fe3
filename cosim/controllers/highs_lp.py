"""`scipy.optimize.linprog(method="highs")` for the per-EV LP, without its per-call Python overhead.

The per-EV LP (`fleet_lp`) is small (a few thousand columns) and solved every simulated hour; measured on its
real instances, HiGHS's own work (presolve and dual simplex) is under half of a `linprog` call. The rest is Python
around it: input checks (`_clean_inputs`), numpy arrays handed to HiGHS element by element (a numpy scalar per
entry), the option checks and a per-column loop building the bound multipliers `fleet_lp` never reads.

`linprog_highs` hands HiGHS the very same model (the same matrix in the same column-wise order, the same bounds
and sides, infinities as HiGHS's own, the same options as `linprog`'s defaults) as plain Python lists, and reads
back only the primal solution and objective: HiGHS is deterministic, so they are bit-identical to `linprog`'s
(`tests/controllers/test_highs_lp.py` checks it on drawn fleets). An optimum is checked against its constraints as
`linprog` checks it; anything else is handed to `linprog` itself, so the status and message are exactly `linprog`'s.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csc_array, vstack

__all__ = ["linprog_highs"]

try:  # HiGHS as scipy ships it (the module `linprog` itself calls)
    import scipy.optimize._highspy._core as _highs
except ImportError:  # pragma: no cover - another scipy layout: linprog for every call
    _highs = None


def _finite(values: np.ndarray) -> np.ndarray:
    """Infinities as HiGHS's own infinity (what `linprog` does, `_linprog_highs._replace_inf`)."""
    out = np.array(values, dtype=float)
    infinite = np.isinf(out)
    out[infinite] = np.sign(out[infinite]) * _highs.kHighsInf
    return out


def linprog_highs(c: np.ndarray, A_ub: Any, b_ub: np.ndarray, bounds: list[tuple[float, float | None]],
                  A_eq: Any = None, b_eq: np.ndarray | None = None) -> SimpleNamespace:
    """min c x s.t. A_ub x <= b_ub, A_eq x = b_eq, bounds (a (lower, upper) pair per column, None: unbounded above),
    as `linprog(..., method="highs")` solves it: a namespace with `status` (0: optimal), `message`, `x` and `fun`."""
    if _highs is None:
        return linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    cost = np.asarray(c, float)
    n = cost.size
    box = np.array(bounds, dtype=float)  # None -> nan, as in linprog's `_clean_inputs`
    lower, upper = box[:, 0], box[:, 1]
    lower[np.isnan(lower)] = -np.inf
    upper[np.isnan(upper)] = np.inf
    b_ub = np.asarray(b_ub, float)
    if A_eq is None:
        a = csc_array(A_ub)
        lhs, rhs = np.full(b_ub.size, -np.inf), b_ub
    else:
        b_eq = np.asarray(b_eq, float)
        a = csc_array(vstack((A_ub, A_eq)))
        lhs = np.concatenate((np.full(b_ub.size, -np.inf), b_eq))
        rhs = np.concatenate((b_ub, b_eq))
    lp = _highs.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = rhs.size
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = rhs.size
    lp.a_matrix_.format_ = _highs.MatrixFormat.kColwise
    lp.col_cost_ = cost.tolist()  # lists: HiGHS reads Python floats directly, not a numpy scalar per entry
    lp.col_lower_ = _finite(lower).tolist()
    lp.col_upper_ = _finite(upper).tolist()
    lp.row_lower_ = _finite(lhs).tolist()
    lp.row_upper_ = _finite(rhs).tolist()
    lp.a_matrix_.start_ = a.indptr.tolist()
    lp.a_matrix_.index_ = a.indices.tolist()
    lp.a_matrix_.value_ = a.data.tolist()
    solver = _highs._Highs()
    options = _highs.HighsOptions()  # linprog's defaults for method="highs" (`_linprog_highs`)
    options.presolve = "on"
    options.highs_debug_level = _highs.HighsDebugLevel.kHighsDebugLevelNone
    options.log_to_console = False
    options.output_flag = False
    options.simplex_strategy = _highs.simplex_constants.SimplexStrategy.kSimplexStrategyDual
    ok = solver.passOptions(options) != _highs.HighsStatus.kError \
        and solver.passModel(lp) != _highs.HighsStatus.kError \
        and solver.run() != _highs.HighsStatus.kError \
        and solver.getModelStatus() == _highs.HighsModelStatus.kOptimal
    if ok:
        solution = solver.getSolution()
        x = np.array(solution.col_value)
        fun = solver.getInfo().objective_function_value
        # linprog's own check of an optimum (`_linprog_util._check_result`): bounds, slacks and equality residuals
        # within 10 sqrt(1e-9); the residuals from HiGHS's row activities, as linprog takes them
        residual = _finite(rhs) - np.array(solution.row_value)
        tol = np.sqrt(1e-9) * 10
        ok = not (np.isnan(x).any() or np.isnan(fun) or np.isnan(residual).any()) \
            and bool(np.all((x >= lower - tol) & (x <= upper + tol))) \
            and not (residual[:b_ub.size] < -tol).any() and not (np.abs(residual[b_ub.size:]) > tol).any()
    if not ok:  # linprog's own status and message
        return linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    return SimpleNamespace(status=0, message="Optimization terminated successfully. (HiGHS Status 7: Optimal)",
                           x=x, fun=fun)
