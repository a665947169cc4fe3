"""TOPSIS: rank alternatives by relative closeness to the ideal solution (seed 000, Table 3).

Steps: vector-normalise each criterion column (x_ij / sqrt(sum_i x_ij^2)), multiply by the weights
(normalised to sum 1), take the ideal (best per criterion: max for benefit, min for cost) and the
anti-ideal, Euclidean distances d+ and d-, closeness C = d- / (d+ + d-) in [0, 1]; higher is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cosim.errors import InputError

__all__ = ["DecisionInputError", "TopsisResult", "topsis"]


class DecisionInputError(InputError):
    """Malformed decision matrix, weights, criteria directions or pairwise matrix."""


@dataclass(frozen=True)
class TopsisResult:
    """closeness (n_alt,) in [0, 1]; rank (n_alt,) with 1 = best (ties broken by row order);
    ideal / anti_ideal (n_crit,) in the weighted normalised space; normalised = weighted matrix;
    weights as used (sum 1)."""

    closeness: np.ndarray
    rank: np.ndarray
    ideal: np.ndarray
    anti_ideal: np.ndarray
    normalised: np.ndarray
    weights: np.ndarray


def _weights(weights: Sequence[float], n_crit: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_crit,):
        raise DecisionInputError(f"weights has shape {w.shape}, expected ({n_crit},) (one per criterion)")
    if not np.all(np.isfinite(w)):
        raise DecisionInputError(f"weights must be finite numbers, got {w.tolist()}")
    if np.any(w < 0):
        raise DecisionInputError(f"weights must be >= 0, got {w.tolist()}")
    if w.sum() <= 0:
        raise DecisionInputError(f"weights must sum to > 0, got {w.tolist()}")
    return w / w.sum()


def topsis(matrix, weights: Sequence[float], benefit: Sequence[bool]) -> TopsisResult:
    """Rank ``matrix`` (n_alt, n_crit) rows; ``benefit[j]`` True = larger is better, False = cost."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise DecisionInputError(f"matrix must be 2-D (n_alternatives, n_criteria), got shape {m.shape}")
    if np.isnan(m).any():
        where = [tuple(int(i) for i in ij) for ij in np.argwhere(np.isnan(m))]
        raise DecisionInputError(f"matrix contains NaN at (alternative, criterion) {where}; fill missing values")
    if not np.all(np.isfinite(m)):
        raise DecisionInputError("matrix contains inf; all entries must be finite")
    n_alt, n_crit = m.shape
    w = _weights(weights, n_crit)
    b = np.asarray(benefit)
    if b.shape != (n_crit,) or b.dtype != bool:
        raise DecisionInputError(
            f"benefit must be {n_crit} booleans (True = larger is better), got {np.asarray(benefit).tolist()}"
        )

    norm = np.sqrt((m**2).sum(axis=0))
    # A column of zeros does not discriminate: keep it at 0 instead of dividing by zero.
    r = np.divide(m, norm, out=np.zeros_like(m), where=norm > 0)
    v = r * w
    ideal = np.where(b, v.max(axis=0), v.min(axis=0))
    anti = np.where(b, v.min(axis=0), v.max(axis=0))
    d_plus = np.sqrt(((v - ideal) ** 2).sum(axis=1))
    d_minus = np.sqrt(((v - anti) ** 2).sum(axis=1))
    total = d_plus + d_minus
    # All alternatives identical on every weighted criterion: nobody is closer, closeness 0.5.
    closeness = np.divide(d_minus, total, out=np.full(n_alt, 0.5), where=total > 0)
    order = np.argsort(-closeness, kind="stable")
    rank = np.empty(n_alt, dtype=int)
    rank[order] = np.arange(1, n_alt + 1)
    return TopsisResult(closeness=closeness, rank=rank, ideal=ideal, anti_ideal=anti, normalised=v, weights=w)
