"""AHP weights from a pairwise comparison matrix, with Saaty's consistency ratio (seed 002, eq. 13-15).

Weights are row geometric means normalised to sum 1 (eq. 14; the extracted text shows a square
root, which is the n = 2 case of the n-th root the geometric-mean method uses: reconstructed as
the n-th root). CI = (lambda_max - n) / (n - 1), CR = CI / RI (eq. 15) with lambda_max the
principal eigenvalue of the matrix; CR < 0.1 is acceptably consistent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .topsis import DecisionInputError

__all__ = ["AhpResult", "RANDOM_INDEX", "ahp_weights"]

#: Saaty's random consistency index RI for n = 1..10 criteria.
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49}


@dataclass(frozen=True)
class AhpResult:
    """weights (n,) summing to 1; lambda_max; ci; cr (0 when n <= 2); consistent = cr < 0.1."""

    weights: np.ndarray
    lambda_max: float
    ci: float
    cr: float
    consistent: bool


def _validate(a: np.ndarray, rtol: float) -> None:
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise DecisionInputError(f"pairwise matrix must be square (n, n), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DecisionInputError("pairwise matrix must contain finite numbers only (no NaN / inf)")
    if np.any(a <= 0):
        i, j = np.argwhere(a <= 0)[0]
        raise DecisionInputError(f"pairwise matrix entries must be > 0; entry ({i}, {j}) is {a[i, j]}")
    if not np.allclose(np.diag(a), 1.0):
        raise DecisionInputError(f"pairwise matrix diagonal must be 1, got {np.diag(a).tolist()}")
    prod = a * a.T  # reciprocal: a_ij * a_ji == 1
    bad = np.argwhere(np.abs(prod - 1.0) > rtol)
    if bad.size:
        i, j = bad[0]
        raise DecisionInputError(
            f"pairwise matrix is not reciprocal: a[{i},{j}] = {a[i, j]:g} but a[{j},{i}] = {a[j, i]:g} "
            f"(expected {1 / a[i, j]:g})"
        )


def ahp_weights(pairwise, *, random_index: float | None = None, reciprocal_rtol: float = 0.05) -> AhpResult:
    """Geometric-mean AHP weights and consistency of a positive reciprocal matrix.

    ``random_index`` overrides Saaty's table (needed for n > 10). ``reciprocal_rtol`` tolerates
    rounded entries such as 0.33 for 1/3 or 0.14 for 1/7 (|a_ij * a_ji - 1| <= 0.05).
    """
    a = np.asarray(pairwise, dtype=float)
    _validate(a, reciprocal_rtol)
    n = a.shape[0]
    gm = np.exp(np.log(a).mean(axis=1))  # n-th root of the row product, overflow-safe
    w = gm / gm.sum()
    lambda_max = float(np.max(np.linalg.eigvals(a).real))
    if n <= 2:
        return AhpResult(weights=w, lambda_max=lambda_max, ci=0.0, cr=0.0, consistent=True)
    ci = (lambda_max - n) / (n - 1)
    if random_index is None:
        if n not in RANDOM_INDEX:
            raise DecisionInputError(
                f"Saaty's random index table covers n = 1..10 criteria, got n = {n}; pass random_index="
            )
        ri = RANDOM_INDEX[n]
    else:
        ri = float(random_index)
        if not ri > 0:
            raise DecisionInputError(f"random_index must be > 0, got {random_index}")
    cr = ci / ri
    return AhpResult(weights=w, lambda_max=lambda_max, ci=float(ci), cr=float(cr), consistent=bool(cr < 0.1))
