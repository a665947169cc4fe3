"""PSO, GA and NSGA-II from pymoo on the project's :class:`VectorProblem`, with equal budgets.

The VectorProblem becomes a pymoo Problem (elementwise=False) with one inequality constraint
G = cv (<= 0 feasible); inf objectives / violations are mapped to a large finite number because
pymoo's survival operators do arithmetic on them. The adapter tracks the best candidate itself
(Deb's rules on the *original* values) and counts every evaluated candidate, so results compare
one-to-one with :func:`cosim.optim.eo.minimize_eo`. Budget: pop_size = n_particles and
n_gen = n_iter, i.e. about n_particles * n_iter evaluations (the exact count is reported).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .problem import (
    OptimResult,
    ProblemError,
    VectorProblem,
    check_problem,
    evaluate_checked,
    feasibility_order,
)

__all__ = ["minimize_pso", "minimize_ga", "pareto_nsga2", "ParetoResult", "BIG"]

#: Finite stand-in for inf objectives / violations handed to pymoo.
BIG = 1e30


def _quiet_pymoo() -> None:
    from pymoo.config import Config

    Config.warnings["not_compiled"] = False


@dataclass
class ParetoResult:
    """Nondominated feasible set found by NSGA-II (empty arrays when nothing feasible was found)."""

    X: np.ndarray  # (n_front, n_var)
    F: np.ndarray  # (n_front, n_obj), objectives to minimise
    n_evaluations: int
    wall_s: float
    algorithm: str
    seed: int | None


class _Tracker:
    """Counts evaluations and keeps the best (cv, f) candidate and a per-call history."""

    def __init__(self, problem: VectorProblem) -> None:
        self.problem = problem
        self.n_eval = 0
        self.best_x: np.ndarray | None = None
        self.best_f = np.inf
        self.best_cv = np.inf
        self.history: list[float] = []
        self.history_cv: list[float] = []

    def __call__(self, X: np.ndarray):
        ev = evaluate_checked(self.problem, X)
        self.n_eval += X.shape[0]
        if ev.f.ndim == 1:
            i = feasibility_order(ev.f, ev.cv)[0]
            if self.best_x is None or (ev.cv[i], ev.f[i]) < (self.best_cv, self.best_f):
                self.best_x, self.best_f, self.best_cv = X[i].copy(), float(ev.f[i]), float(ev.cv[i])
            self.history.append(self.best_f)
            self.history_cv.append(self.best_cv)
        return ev


def _to_pymoo(problem: VectorProblem, tracker: _Tracker):
    from pymoo.core.problem import Problem

    class _Wrapped(Problem):
        def __init__(self) -> None:
            super().__init__(
                n_var=int(problem.n_var),
                n_obj=int(getattr(problem, "n_obj", 1)),
                n_ieq_constr=1,
                xl=np.asarray(problem.lower, dtype=float),
                xu=np.asarray(problem.upper, dtype=float),
                elementwise=False,
            )

        def _evaluate(self, x, out, *args, **kwargs):
            ev = tracker(np.asarray(x, dtype=float))
            f = ev.f.reshape(x.shape[0], -1)
            out["F"] = np.nan_to_num(f, nan=BIG, posinf=BIG, neginf=-BIG)
            out["G"] = np.nan_to_num(ev.cv, nan=BIG, posinf=BIG).reshape(-1, 1)

    return _Wrapped()


def _run_single(problem, algorithm, n_iter: int, seed, name: str) -> OptimResult:
    from pymoo.optimize import minimize

    check_problem(problem)
    if int(getattr(problem, "n_obj", 1)) != 1:
        raise ProblemError(f"{name} is single-objective; problem has n_obj={problem.n_obj}")
    if n_iter < 1:
        raise ProblemError(f"n_iter must be >= 1, got {n_iter}")
    t0 = time.perf_counter()
    tracker = _Tracker(problem)
    minimize(_to_pymoo(problem, tracker), algorithm, ("n_gen", int(n_iter)), seed=seed, verbose=False)
    assert tracker.best_x is not None
    return OptimResult(
        x_best=tracker.best_x,
        f_best=tracker.best_f,
        cv_best=tracker.best_cv,
        feasible=bool(tracker.best_cv <= 0.0),
        n_evaluations=tracker.n_eval,
        history=np.asarray(tracker.history),
        wall_s=time.perf_counter() - t0,
        algorithm=name,
        seed=seed,
        history_cv=np.asarray(tracker.history_cv),
    )


def _check_pop(n: int) -> None:
    if n < 2:
        raise ProblemError(f"population size must be >= 2, got {n}")


def minimize_pso(
    problem: VectorProblem, *, n_particles: int = 30, n_iter: int = 500, seed: int | None = 0
) -> OptimResult:
    """pymoo PSO (adaptive inertia, default settings) with pop_size = n_particles, n_gen = n_iter."""
    _quiet_pymoo()
    _check_pop(n_particles)
    from pymoo.algorithms.soo.nonconvex.pso import PSO

    return _run_single(problem, PSO(pop_size=int(n_particles)), n_iter, seed, "pso")


def minimize_ga(
    problem: VectorProblem, *, n_particles: int = 30, n_iter: int = 500, seed: int | None = 0
) -> OptimResult:
    """pymoo GA (SBX + polynomial mutation, duplicates removed) with pop_size = n_particles, n_gen = n_iter."""
    _quiet_pymoo()
    _check_pop(n_particles)
    from pymoo.algorithms.soo.nonconvex.ga import GA

    return _run_single(problem, GA(pop_size=int(n_particles), eliminate_duplicates=True), n_iter, seed, "ga")


def pareto_nsga2(
    problem: VectorProblem, *, pop_size: int = 30, n_gen: int = 500, seed: int | None = 0
) -> ParetoResult:
    """pymoo NSGA-II; returns the feasible nondominated set with the problem's original objectives."""
    _quiet_pymoo()
    _check_pop(pop_size)
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    check_problem(problem)
    if n_gen < 1:
        raise ProblemError(f"n_gen must be >= 1, got {n_gen}")
    t0 = time.perf_counter()
    tracker = _Tracker(problem)
    n_obj = int(getattr(problem, "n_obj", 1))
    res = minimize(
        _to_pymoo(problem, tracker), NSGA2(pop_size=int(pop_size)), ("n_gen", int(n_gen)), seed=seed, verbose=False
    )
    n_var = int(problem.n_var)
    if res.X is None:
        X, F = np.zeros((0, n_var)), np.zeros((0, n_obj))
    else:
        X = np.atleast_2d(res.X).reshape(-1, n_var)
        F = np.atleast_2d(res.F).reshape(-1, n_obj)
        if res.CV is not None:  # pymoo keeps least-infeasible points when nothing is feasible
            keep = np.asarray(res.CV).reshape(-1) <= 0.0
            X, F = X[keep], F[keep]
    return ParetoResult(X=X, F=F, n_evaluations=tracker.n_eval, wall_s=time.perf_counter() - t0,
                        algorithm="nsga2", seed=seed)
