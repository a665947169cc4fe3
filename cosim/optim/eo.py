"""Equilibrium Optimizer (EO), written here and vectorised over the population.

Faramarzi, Heidarinejad, Stephens, Mirjalili, "Equilibrium optimizer: A novel optimization
algorithm", Knowledge-Based Systems 191 (2020) 105190. Defaults follow seed paper 000 (JOAPE 2024):
a1 = 1.83 (exploration), a2 = 0.80 (exploitation), 30 particles, 500 iterations; GP = 0.5 and V = 1
as in the EO paper. Constraints are handled by Deb's feasibility rules: every comparison (memory
saving, equilibrium pool) ranks by (cv, f).

Per iteration k (0-based, as the reference MATLAB code):
  t = (1 - k/K) ** (a2 * k/K)
  F = a1 * sign(r - 0.5) * (exp(-lambda * t) - 1)             (r, lambda ~ U(0,1) per dimension)
  GCP = 0.5 * r1 if r2 >= GP else 0                              (r1, r2 ~ U(0,1) per particle)
  G = GCP * (C_eq - lambda * C) * F
  C <- C_eq + (C - C_eq) * F + G / (lambda * V) * (1 - F)
where C_eq is drawn per particle from the pool {4 best memories, their average}.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .problem import (
    OptimResult,
    ProblemError,
    VectorProblem,
    check_problem,
    check_time_limit,
    evaluate_checked,
    feasibility_order,
    is_better,
)

__all__ = ["minimize_eo", "EO_DEFAULTS"]

#: Parameter values of seed paper 000 (a1, a2, particles, iterations) and of the EO paper (gp, V).
EO_DEFAULTS = {"a1": 1.83, "a2": 0.80, "gp": 0.5, "n_particles": 30, "n_iter": 500, "v": 1.0}

POOL_SIZE = 4  # number of best candidates in the equilibrium pool (their average is the 5th member)


def _initial_population(
    x0: np.ndarray | None, n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Uniform random population in the box; rows of ``x0`` (known configurations) come first."""
    X = lower + rng.random((n, lower.size)) * (upper - lower)
    if x0 is None:
        return X
    seeds = np.atleast_2d(np.asarray(x0, dtype=float))
    if seeds.ndim != 2 or seeds.shape[1] != lower.size:
        raise ProblemError(f"x0 has shape {np.shape(x0)}, expected (m, {lower.size}) or ({lower.size},)")
    if seeds.shape[0] > n:
        raise ProblemError(f"x0 has {seeds.shape[0]} rows but n_particles is {n}")
    if not np.all(np.isfinite(seeds)):
        raise ProblemError("x0 must be finite")
    outside = (seeds < lower) | (seeds > upper)
    if outside.any():
        rows = np.flatnonzero(outside.any(axis=1)).tolist()
        raise ProblemError(f"x0 row(s) {rows} lie outside the problem bounds")
    X[: seeds.shape[0]] = seeds
    return X


def minimize_eo(
    problem: VectorProblem,
    *,
    n_particles: int = 30,
    n_iter: int = 500,
    seed: int | None = 0,
    a1: float = 1.83,
    a2: float = 0.8,
    gp: float = 0.5,
    v: float = 1.0,
    callback: Callable[[int, float], bool | None] | None = None,
    max_evaluations: int | None = None,
    x0: np.ndarray | None = None,
    time_limit_s: float | None = None,
) -> OptimResult:
    """Minimise a single-objective :class:`VectorProblem` with the Equilibrium Optimizer.

    ``callback(it, best_f)`` is called after every iteration; returning True stops the run.
    ``max_evaluations`` caps the number of evaluated candidates (the last batch may be partial).
    ``x0`` (m, n_var) seeds the first m particles with known configurations.
    ``time_limit_s`` stops the run after the iteration that crossed it (``timed_out`` in the result).
    """
    check_problem(problem)
    if int(getattr(problem, "n_obj", 1)) != 1:
        raise ProblemError(f"minimize_eo is single-objective; problem has n_obj={problem.n_obj}")
    if n_particles < 1 or n_iter < 1:
        raise ProblemError(f"n_particles and n_iter must be >= 1, got {n_particles}, {n_iter}")
    if max_evaluations is not None and max_evaluations < 1:
        raise ProblemError(f"max_evaluations must be >= 1, got {max_evaluations}")
    if not 0.0 <= gp <= 1.0:
        raise ProblemError(f"gp is a probability in [0, 1], got {gp}")
    check_time_limit(time_limit_s)

    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    lower = np.asarray(problem.lower, dtype=float)
    upper = np.asarray(problem.upper, dtype=float)
    n, dim = int(n_particles), int(problem.n_var)
    budget = np.inf if max_evaluations is None else int(max_evaluations)

    C = _initial_population(x0, n, lower, upper, rng)
    mem_x = C.copy()
    mem_f = np.full(n, np.inf)
    mem_cv = np.full(n, np.inf)
    seen = np.zeros(n, dtype=bool)  # memory holds a real evaluation
    n_eval = 0
    history: list[float] = []
    history_cv: list[float] = []
    timed_out = False

    for it in range(n_iter):
        # --- evaluate (possibly a partial batch at the end of the evaluation budget) ---
        k = int(min(n, budget - n_eval))
        ev = evaluate_checked(problem, C[:k])
        n_eval += k
        # --- memory saving: each particle keeps its best position (feasibility rules) ---
        improved = ~seen[:k] | is_better(ev.f, ev.cv, mem_f[:k], mem_cv[:k])
        idx = np.flatnonzero(improved)
        mem_x[idx], mem_f[idx], mem_cv[idx] = C[idx], ev.f[idx], ev.cv[idx]
        seen[:k] = True
        C[:k] = mem_x[:k]

        order = feasibility_order(mem_f, mem_cv)
        best = order[0]
        history.append(float(mem_f[best]))
        history_cv.append(float(mem_cv[best]))
        stop = n_eval >= budget
        if callback is not None and callback(it, float(mem_f[best])):
            stop = True
        if stop or it == n_iter - 1:
            break
        if time_limit_s is not None and time.perf_counter() - t_start >= time_limit_s:
            timed_out = True
            break

        # --- equilibrium pool: 4 best memories and their average ---
        top = order[: min(POOL_SIZE, n)]
        pool = np.vstack([mem_x[top], mem_x[top].mean(axis=0, keepdims=True)])
        c_eq = pool[rng.integers(0, pool.shape[0], size=n)]

        t = (1.0 - it / n_iter) ** (a2 * it / n_iter)
        lam = 1.0 - rng.random((n, dim))  # in (0, 1]: G / lambda stays finite
        r = rng.random((n, dim))
        F = a1 * np.sign(r - 0.5) * (np.exp(-lam * t) - 1.0)
        r1 = rng.random((n, 1))
        r2 = rng.random((n, 1))
        gcp = 0.5 * r1 * (r2 >= gp)
        G = gcp * (c_eq - lam * C) * F
        C = c_eq + (C - c_eq) * F + (G / (lam * v)) * (1.0 - F)
        np.clip(C, lower, upper, out=C)

    order = feasibility_order(mem_f, mem_cv)
    best = order[0]
    return OptimResult(
        x_best=mem_x[best].copy(),
        f_best=float(mem_f[best]),
        cv_best=float(mem_cv[best]),
        feasible=bool(mem_cv[best] <= 0.0),
        n_evaluations=n_eval,
        history=np.asarray(history),
        wall_s=time.perf_counter() - t_start,
        algorithm="eo",
        seed=seed,
        history_cv=np.asarray(history_cv),
        timed_out=timed_out,
    )
