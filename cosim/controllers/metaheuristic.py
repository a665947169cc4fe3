"""Population-based day-ahead controllers (EO, PSO, GA) on one `DayAheadVectorProblem`.

All three get the same budget (n_particles x n_iter evaluations of a 24-hour plan) and the same problem;
they differ only in the optimiser. The returned plan is re-evaluated with the fast flow, so its `feasible`
flag and KPIs are those of the plan itself, not the optimiser's bookkeeping.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable

import numpy as np

from cosim.controllers.base import DayAheadPlan, DayAheadProblem
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.optim import OptimResult, minimize_eo, minimize_ga, minimize_pso


class MetaheuristicController:
    """Optimise topology, lot sites and lot dispatch for `problem.objective` with a population optimiser.

    Options: n_particles, n_iter, seed, warm_start (seed the population with the base plan: base topology,
    first candidate bus, idle lots; only for optimisers accepting x0), and optimiser-specific keywords
    (EO: a1, a2, gp, v).
    """

    name = "metaheuristic"
    optimizer: Callable[..., OptimResult] = staticmethod(minimize_eo)

    def __init__(self, n_particles: int = 30, n_iter: int = 500, seed: int = 0, warm_start: bool = False,
                 **optimizer_options: Any) -> None:
        self.n_particles = int(n_particles)
        self.n_iter = int(n_iter)
        self.seed = int(seed)
        self.warm_start = bool(warm_start)
        self.optimizer_options = optimizer_options
        params = inspect.signature(self.optimizer).parameters
        unknown = sorted(set(optimizer_options) - set(params))
        if unknown:
            allowed = sorted(p for p in params if p not in ("problem", "n_particles", "n_iter", "seed", "x0", "callback"))
            raise ValueError(f"controller {self.name!r}: unknown option(s) {unknown}; allowed: n_particles, n_iter, "
                             f"seed, warm_start{', ' if allowed else ''}{', '.join(allowed)}")
        self._accepts_x0 = "x0" in params

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        t0 = time.perf_counter()
        vp = DayAheadVectorProblem(problem)
        info: dict[str, Any] = {"seed": self.seed, "n_particles": self.n_particles, "n_iter": self.n_iter,
                                "n_var": vp.n_var, "objective": problem.objective}
        if vp.n_var == 0:  # nothing to decide: the base plan
            plan = vp.plan_from_x(np.zeros((1, 0)), controller=self.name)
            info.update(evaluations=1, wall_s=time.perf_counter() - t0, history=np.zeros(0))
            plan.info.update(info)
            return plan
        kwargs = dict(self.optimizer_options)
        if self.warm_start and self._accepts_x0:
            kwargs["x0"] = vp.encode()
        res = self.optimizer(vp, n_particles=self.n_particles, n_iter=self.n_iter, seed=self.seed, **kwargs)
        info.update(evaluations=int(res.n_evaluations), optimizer_wall_s=float(res.wall_s), history=np.asarray(res.history),
                    optimizer_feasible=bool(res.feasible), warm_start=self.warm_start and self._accepts_x0,
                    x_best=np.asarray(res.x_best))
        plan = vp.plan_from_x(res.x_best, controller=self.name)
        info["wall_s"] = time.perf_counter() - t0
        plan.info.update(info)
        return plan


class EOController(MetaheuristicController):
    """Equilibrium Optimizer (seed 000's engine; a1 = 1.83, a2 = 0.80, 30 particles x 500 iterations)."""

    name = "eo"
    optimizer = staticmethod(minimize_eo)


class PSOController(MetaheuristicController):
    """pymoo particle swarm with the same budget as EO."""

    name = "pso"
    optimizer = staticmethod(minimize_pso)


class GAController(MetaheuristicController):
    """pymoo genetic algorithm with the same budget as EO."""

    name = "ga"
    optimizer = staticmethod(minimize_ga)
