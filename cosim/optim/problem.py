"""One vectorised problem interface shared by every optimizer (EO, PSO, GA, NSGA-II).

A problem maps a whole population ``X`` (pop, n_var) of continuous positions inside a box to
objective values to MINIMISE and a total constraint violation ``cv`` (0 = feasible). Discrete
decisions (switches, bus indices) are decoded by the problem itself from the continuous positions,
so every optimizer only ever sees a box. Comparison between candidates follows Deb's feasibility
rules: feasible beats infeasible, among infeasible the lower ``cv`` wins, among feasible the lower
objective wins. A NaN objective (e.g. a power flow that did not converge) is infeasible with
``cv = inf`` and objective ``inf``: it can never win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from cosim.errors import ProblemError

__all__ = [
    "ProblemError",
    "Evaluation",
    "VectorProblem",
    "FunctionProblem",
    "OptimResult",
    "check_problem",
    "check_time_limit",
    "evaluate_checked",
    "feasibility_order",
    "is_better",
]


@dataclass(frozen=True)
class Evaluation:
    """Result of evaluating a population.

    f: (pop,) for one objective or (pop, n_obj); values to minimise.
    cv: (pop,) total constraint violation, >= 0 (0 = feasible); inf = unusable candidate.
    """

    f: np.ndarray
    cv: np.ndarray


@runtime_checkable
class VectorProblem(Protocol):
    """What an optimizer needs: a continuous box and a population-wise evaluation."""

    n_var: int
    lower: np.ndarray
    upper: np.ndarray
    n_obj: int

    def evaluate(self, X: np.ndarray) -> Evaluation:  # pragma: no cover - protocol
        """Evaluate a (pop, n_var) population; see :class:`Evaluation`."""
        ...


class FunctionProblem:
    """A :class:`VectorProblem` wrapping a vectorised callable.

    ``func(X)`` receives a (pop, n_var) array and returns either the objective array (f), a tuple
    ``(f, cv)`` or an :class:`Evaluation`. Without ``cv`` every candidate is feasible.
    """

    def __init__(
        self,
        func: Callable[[np.ndarray], Any],
        lower: Any,
        upper: Any,
        *,
        n_obj: int = 1,
        name: str = "function",
    ) -> None:
        lower_a = np.atleast_1d(np.asarray(lower, dtype=float))
        upper_a = np.atleast_1d(np.asarray(upper, dtype=float))
        if lower_a.shape != upper_a.shape or lower_a.ndim != 1:
            raise ProblemError(
                f"{name}: lower {lower_a.shape} and upper {upper_a.shape} must be 1-D of equal length"
            )
        self.func = func
        self.lower = lower_a
        self.upper = upper_a
        self.n_var = int(lower_a.size)
        self.n_obj = int(n_obj)
        self.name = name
        check_problem(self)

    def evaluate(self, X: np.ndarray) -> Evaluation:
        out = self.func(X)
        if isinstance(out, Evaluation):
            return out
        if isinstance(out, tuple):
            if len(out) != 2:
                raise ProblemError(f"{self.name}: func must return f or (f, cv), got a {len(out)}-tuple")
            return Evaluation(np.asarray(out[0], dtype=float), np.asarray(out[1], dtype=float))
        f = np.asarray(out, dtype=float)
        return Evaluation(f, np.zeros(f.shape[0] if f.ndim else 1))

    def __repr__(self) -> str:
        return f"FunctionProblem({self.name!r}, n_var={self.n_var}, n_obj={self.n_obj})"


@dataclass
class OptimResult:
    """Best candidate found by a single-objective optimizer (feasibility rules decide 'best').

    history[k] is the best objective after iteration k (inf while nothing feasible was seen);
    history_cv[k] its constraint violation. timed_out: the optimizer's time limit ended the run before its
    iteration budget.
    """

    x_best: np.ndarray
    f_best: float
    cv_best: float
    feasible: bool
    n_evaluations: int
    history: np.ndarray
    wall_s: float
    algorithm: str
    seed: int | None
    history_cv: np.ndarray = field(default_factory=lambda: np.zeros(0))
    timed_out: bool = False


def check_problem(problem: VectorProblem) -> None:
    """Raise :class:`ProblemError` unless the problem's box is finite, 1-D, of length n_var, lower <= upper."""
    name = getattr(problem, "name", type(problem).__name__)
    try:
        n_var = int(problem.n_var)
        lower = np.asarray(problem.lower, dtype=float)
        upper = np.asarray(problem.upper, dtype=float)
        n_obj = int(getattr(problem, "n_obj", 1))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProblemError(f"{name}: needs n_var, lower, upper (and n_obj): {exc}") from exc
    if n_var < 1:
        raise ProblemError(f"{name}: n_var must be >= 1, got {n_var}")
    if n_obj < 1:
        raise ProblemError(f"{name}: n_obj must be >= 1, got {n_obj}")
    for label, arr in (("lower", lower), ("upper", upper)):
        if arr.shape != (n_var,):
            raise ProblemError(f"{name}: {label} has shape {arr.shape}, expected ({n_var},)")
        if not np.all(np.isfinite(arr)):
            raise ProblemError(f"{name}: {label} bound must be finite, got {arr}")
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        raise ProblemError(f"{name}: lower > upper for variable(s) {bad.tolist()}")


def check_time_limit(time_limit_s: float | None) -> None:
    """Raise :class:`ProblemError` unless the wall-time limit is None (none) or a number of seconds > 0."""
    if time_limit_s is not None and not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0):
        raise ProblemError(f"time_limit_s must be a number of seconds > 0 or None, got {time_limit_s!r}")


def evaluate_checked(problem: VectorProblem, X: np.ndarray) -> Evaluation:
    """Evaluate and normalise: f as (pop,) for n_obj == 1 else (pop, n_obj), cv as (pop,) float.

    Rows with any NaN objective, or NaN cv, get objective inf and cv inf (never a good value).
    Negative cv is an error (the interface promises cv >= 0).
    """
    name = getattr(problem, "name", type(problem).__name__)
    pop = X.shape[0]
    ev = problem.evaluate(X)
    n_obj = int(getattr(problem, "n_obj", 1))
    f = np.asarray(ev.f, dtype=float)
    cv = np.asarray(ev.cv, dtype=float).reshape(-1) if np.ndim(ev.cv) else np.full(pop, float(ev.cv))
    if n_obj == 1:
        if f.ndim == 2 and f.shape[1] == 1:
            f = f[:, 0]
        if f.shape != (pop,):
            raise ProblemError(f"{name}: evaluate returned f of shape {f.shape}, expected ({pop},)")
    elif f.shape != (pop, n_obj):
        raise ProblemError(f"{name}: evaluate returned f of shape {f.shape}, expected ({pop}, {n_obj})")
    if cv.shape != (pop,):
        raise ProblemError(f"{name}: evaluate returned cv of shape {cv.shape}, expected ({pop},)")
    f = f.copy()
    cv = cv.copy()
    if np.any(cv < 0):
        raise ProblemError(f"{name}: cv must be >= 0 (0 = feasible), got min {np.nanmin(cv)}")
    bad = np.isnan(cv) | (np.isnan(f) if f.ndim == 1 else np.isnan(f).any(axis=1))
    if bad.any():
        f[bad] = np.inf
        cv[bad] = np.inf
    return Evaluation(f, cv)


def feasibility_order(f: np.ndarray, cv: np.ndarray) -> np.ndarray:
    """Indices sorting candidates best-first by Deb's rules: key (cv, f), stable on ties."""
    return np.lexsort((np.asarray(f, dtype=float), np.asarray(cv, dtype=float)))


def is_better(f_a: np.ndarray, cv_a: np.ndarray, f_b: np.ndarray, cv_b: np.ndarray) -> np.ndarray:
    """Elementwise: is candidate a strictly better than b under Deb's feasibility rules?"""
    f_a, cv_a, f_b, cv_b = (np.asarray(v, dtype=float) for v in (f_a, cv_a, f_b, cv_b))
    return (cv_a < cv_b) | ((cv_a == cv_b) & (f_a < f_b))
