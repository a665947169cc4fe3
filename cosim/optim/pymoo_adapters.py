"""PSO, GA and NSGA-II from pymoo on the project's :class:`VectorProblem`, with equal budgets.

The VectorProblem becomes a pymoo Problem (elementwise=False) with one inequality constraint
G = cv (<= 0 feasible); inf objectives / violations are mapped to a large finite number because
pymoo's survival operators do arithmetic on them. The adapter tracks the best candidate itself
(Deb's rules on the *original* values) and counts every evaluated candidate, so results compare
one-to-one with :func:`cosim.optim.eo.minimize_eo`. Budget: pop_size = n_particles and
n_gen = n_iter, i.e. about n_particles * n_iter evaluations (the exact count is reported).
A wall-time limit (`time_limit_s`) joins the generation budget as pymoo's own `TimeBasedTermination`:
pymoo stops after the generation that crossed it, and the result says whether it ended the run.
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
    check_time_limit,
    evaluate_checked,
    feasibility_order,
)

__all__ = ["minimize_pso", "minimize_ga", "pareto_nsga2", "ParetoResult", "BIG"]

#: Finite stand-in for inf objectives / violations handed to pymoo.
BIG = 1e30


def _quiet_pymoo() -> None:
    from pymoo.config import Config  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

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
    timed_out: bool = False


class _Budget:
    """pymoo termination: n_gen generations, or earlier at `time_limit_s` of wall time when one is given.

    Fresh per run and handed to pymoo uncopied (`copy_termination=False`), so it can be asked what stopped the run.
    """

    def __init__(self, n_gen: int, time_limit_s: float | None) -> None:
        from pymoo.termination.collection import TerminationCollection  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs
        from pymoo.termination.max_gen import MaximumGenerationTermination  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs
        from pymoo.termination.max_time import TimeBasedTermination  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

        check_time_limit(time_limit_s)
        self.generations = MaximumGenerationTermination(int(n_gen))
        self.clock = None if time_limit_s is None else TimeBasedTermination(float(time_limit_s))
        self.termination = (self.generations if self.clock is None
                            else TerminationCollection(self.generations, self.clock))

    @property
    def timed_out(self) -> bool:
        """Did the time limit end the run before the last generation?"""
        return self.clock is not None and self.clock.has_terminated() and not self.generations.has_terminated()


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
    from pymoo.core.problem import Problem  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

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


def _run_single(problem, algorithm, n_iter: int, seed, name: str, time_limit_s: float | None) -> OptimResult:
    from pymoo.optimize import minimize  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

    check_problem(problem)
    if int(getattr(problem, "n_obj", 1)) != 1:
        raise ProblemError(f"{name} is single-objective; problem has n_obj={problem.n_obj}")
    if n_iter < 1:
        raise ProblemError(f"n_iter must be >= 1, got {n_iter}")
    budget = _Budget(n_iter, time_limit_s)
    t0 = time.perf_counter()
    tracker = _Tracker(problem)
    minimize(_to_pymoo(problem, tracker), algorithm, budget.termination, seed=seed, verbose=False,
             copy_termination=False)
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
        timed_out=budget.timed_out,
    )


def _check_pop(n: int) -> None:
    if n < 2:
        raise ProblemError(f"population size must be >= 2, got {n}")


def minimize_pso(
    problem: VectorProblem, *, n_particles: int = 30, n_iter: int = 500, seed: int | None = 0,
    time_limit_s: float | None = None,
) -> OptimResult:
    """pymoo PSO (adaptive inertia, default settings) with pop_size = n_particles, n_gen = n_iter."""
    _quiet_pymoo()
    _check_pop(n_particles)
    from pymoo.algorithms.soo.nonconvex.pso import PSO  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

    return _run_single(problem, PSO(pop_size=int(n_particles)), n_iter, seed, "pso", time_limit_s)


def minimize_ga(
    problem: VectorProblem, *, n_particles: int = 30, n_iter: int = 500, seed: int | None = 0,
    time_limit_s: float | None = None,
) -> OptimResult:
    """pymoo GA (SBX + polynomial mutation, duplicates removed) with pop_size = n_particles, n_gen = n_iter."""
    _quiet_pymoo()
    _check_pop(n_particles)
    from pymoo.algorithms.soo.nonconvex.ga import GA  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

    ga = GA(pop_size=int(n_particles), eliminate_duplicates=True)
    return _run_single(problem, ga, n_iter, seed, "ga", time_limit_s)


def pareto_nsga2(
    problem: VectorProblem, *, pop_size: int = 30, n_gen: int = 500, seed: int | None = 0,
    time_limit_s: float | None = None,
) -> ParetoResult:
    """pymoo NSGA-II; returns the feasible nondominated set with the problem's original objectives."""
    _quiet_pymoo()
    _check_pop(pop_size)
    from pymoo.algorithms.moo.nsga2 import NSGA2  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs
    from pymoo.optimize import minimize  # noqa: PLC0415 - pymoo (0.1 s) loads when a pymoo optimizer first runs

    check_problem(problem)
    if n_gen < 1:
        raise ProblemError(f"n_gen must be >= 1, got {n_gen}")
    budget = _Budget(n_gen, time_limit_s)
    t0 = time.perf_counter()
    tracker = _Tracker(problem)
    n_obj = int(getattr(problem, "n_obj", 1))
    res = minimize(_to_pymoo(problem, tracker), NSGA2(pop_size=int(pop_size)), budget.termination, seed=seed,
                   verbose=False, copy_termination=False)
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
                        algorithm="nsga2", seed=seed, timed_out=budget.timed_out)
