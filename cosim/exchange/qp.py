"""Convex quadratic programmes with HiGHS (highspy): the one solver call of the ADMM mode and its reference.

min 0.5 x'Hx + c'x  s.t.  row_lo <= A x <= row_hi,  lb <= x <= ub, with H symmetric positive semidefinite. HiGHS
solves QPs with continuous variables (an active-set method) on one thread, through the same process-wide scheduler
as the MILPs (`cosim.optim.linear.use_highs_threads`: a count other than the scheduler's fails the whole call, "Not
Set"); a worker forked after the scheduler exists drops it first (`cosim.controllers.isolation`).

The active-set method stalled (minutes, no answer) on the congested scenario's reference QP with HiGHS's default
null-space regularisation; `QP_REGULARISATION` solves it in a fraction of a second. The regularisation shifts the
optimum: measured on that QP, the objective moves by $0.011 between 1e-5 and 1e-6 (and by $40 at 1e-4), so 1e-6
is well inside the 0.5 % the ADMM tests allow. The objective returned is computed from x exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from cosim.errors import ProblemError
from cosim.optim.linear import use_highs_threads

__all__ = ["QP_REGULARISATION", "QpResult", "solve_qp"]

QP_REGULARISATION = 1e-6
"""HiGHS's `qp_regularization_value` (see the module)."""
TIME_LIMIT_S = 120.0


@dataclass(frozen=True)
class QpResult:
    """The optimum `x`, its objective (0.5 x'Hx + c'x, plus the constant given) and HiGHS's status text."""

    x: np.ndarray
    objective: float
    status: str


def solve_qp(c: np.ndarray, hessian: sp.spmatrix | None, a: sp.spmatrix, row_lo: np.ndarray, row_hi: np.ndarray,
             lb: np.ndarray, ub: np.ndarray, constant: float = 0.0) -> QpResult:
    """Solve the QP above; `ProblemError` when HiGHS finds no optimum (infeasible, unbounded, failed)."""
    n = len(c)
    a = sp.csc_matrix(a, shape=(a.shape[0], n))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_ = np.asarray(c, float)
    lp.col_lower_, lp.col_upper_ = _inf(lb), _inf(ub)
    lp.row_lower_, lp.row_upper_ = _inf(row_lo), _inf(row_hi)
    lp.offset_ = float(constant)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    model = highspy.HighsModel()
    model.lp_ = lp
    if hessian is not None and hessian.nnz:
        lower = sp.csc_matrix(sp.tril(hessian))
        lower.eliminate_zeros()
        model.hessian_.dim_ = n
        model.hessian_.format_ = highspy.HessianFormat.kTriangular
        model.hessian_.start_, model.hessian_.index_, model.hessian_.value_ = lower.indptr, lower.indices, lower.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    use_highs_threads(1)
    h.setOptionValue("threads", 1)
    h.setOptionValue("qp_regularization_value", QP_REGULARISATION)
    h.setOptionValue("time_limit", TIME_LIMIT_S)
    h.passModel(model)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise ProblemError(f"QP not solved: {status}")
    x = np.asarray(h.getSolution().col_value, float)
    objective = float(lp.col_cost_ @ x) + float(constant)
    if hessian is not None and hessian.nnz:
        objective += 0.5 * float(x @ (hessian @ x))
    return QpResult(x, objective, status)


def _inf(values: np.ndarray) -> np.ndarray:
    """HiGHS's infinity where a bound is +-inf (or beyond it)."""
    v = np.asarray(values, float).copy()
    v[v >= highspy.kHighsInf] = highspy.kHighsInf
    v[v <= -highspy.kHighsInf] = -highspy.kHighsInf
    return v
