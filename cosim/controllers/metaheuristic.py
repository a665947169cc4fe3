"""Population-based day-ahead controllers (EO, PSO, GA) on one `DayAheadVectorProblem`.

All three get the same budget (n_particles x n_iter evaluations of a 24-hour plan) and the same problem;
they differ only in the optimiser. The returned plan is re-evaluated with the fast flow, so its `feasible`
flag and KPIs are those of the plan itself, not the optimiser's bookkeeping.

`time_limit_s` bounds the optimiser's wall time (a DSO must publish its plan on time): EO is stopped by its
callback after the iteration that crossed the limit; pymoo's PSO / GA are stopped before their next
evaluation, and the best candidate evaluated so far (feasibility rules) is used. `plan.info["timed_out"]`
says whether the limit cut the run short.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable

import numpy as np

import cosim.controllers.objectives as obj
from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem
from cosim.controllers.plo_scheduler import ScheduleError, plo_profit_schedule
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.optim import Evaluation, OptimResult, evaluate_checked, is_better, minimize_eo, minimize_ga, minimize_pso


class _TimeUp(Exception):
    """Raised inside an optimiser that offers no callback, to stop it at the wall-time limit."""


class _Clocked:
    """The vector problem behind a wall-time limit: tracks the best candidate (Deb's rules) and the evaluations,
    and, when `raise_when_late`, refuses to evaluate once the limit has passed (after at least one batch)."""

    n_obj = 1

    def __init__(self, vp: DayAheadVectorProblem, deadline: float, raise_when_late: bool) -> None:
        self.vp, self.deadline, self.raise_when_late = vp, deadline, raise_when_late
        self.n_var, self.lower, self.upper = vp.n_var, vp.lower, vp.upper
        self.name = type(vp).__name__
        self.best_x: np.ndarray | None = None
        self.best_f, self.best_cv = np.inf, np.inf
        self.n_eval = 0

    def late(self) -> bool:
        return time.perf_counter() >= self.deadline

    def evaluate(self, X: np.ndarray) -> Evaluation:
        if self.raise_when_late and self.best_x is not None and self.late():
            raise _TimeUp
        ev = evaluate_checked(self.vp, X)
        self.n_eval += X.shape[0]
        i = int(np.lexsort((ev.f, ev.cv))[0])
        if self.best_x is None or bool(is_better(ev.f[i], ev.cv[i], self.best_f, self.best_cv)):
            self.best_x, self.best_f, self.best_cv = np.array(X[i], dtype=float), float(ev.f[i]), float(ev.cv[i])
        return ev


def contract_counts(problem: DayAheadProblem) -> np.ndarray:
    """(n_lots, 24) signed PEV counts of each lot's own profit-maximising schedule (an LP that meets the
    contracts), rounded up to whole PEVs charging and down discharging; zero where the LP has no solution."""
    out = np.zeros((len(problem.lots), HOURS))
    for j, lot in enumerate(problem.lots):
        try:
            kw, _ = plo_profit_schedule(lot, problem.price_usd_per_kwh)
        except ScheduleError:
            continue
        kw_ch = float(obj.lot_power_kw(np.ones(1), lot)[0])
        kw_dis = -float(obj.lot_power_kw(-np.ones(1), lot)[0])
        out[j] = np.where(kw > 0, np.ceil(kw / kw_ch - 1e-9), np.where(kw < 0, -np.floor(-kw / kw_dis + 1e-9), 0.0))
    return out


class MetaheuristicController:
    """Optimise topology, lot sites and lot dispatch for `problem.objective` with a population optimiser.

    Options: n_particles, n_iter, seed, warm_start (default True: seed the population with the base plan: base topology,
    first candidate bus, idle lots; only for optimisers accepting x0), time_limit_s (wall-time limit of the
    optimiser in s, None = none), and optimiser-specific keywords (EO: a1, a2, gp, v).
    """

    name = "metaheuristic"
    optimizer: Callable[..., OptimResult] = staticmethod(minimize_eo)

    def __init__(self, n_particles: int = 30, n_iter: int = 500, seed: int = 0, warm_start: bool = True,
                 time_limit_s: float | None = None, **optimizer_options: Any) -> None:
        if time_limit_s is not None and not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0):
            raise ValueError(f"controller {self.name!r}: time_limit_s must be a number of seconds > 0 or None, "
                             f"got {time_limit_s!r}")
        self.time_limit_s = None if time_limit_s is None else float(time_limit_s)
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
                             f"seed, warm_start, time_limit_s{', ' if allowed else ''}{', '.join(allowed)}")
        self._accepts_x0 = "x0" in params
        self._accepts_callback = "callback" in params

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        t0 = time.perf_counter()
        vp = DayAheadVectorProblem(problem)
        info: dict[str, Any] = {"seed": self.seed, "n_particles": self.n_particles, "n_iter": self.n_iter,
                                "n_var": vp.n_var, "objective": problem.objective, "timed_out": False,
                                "time_limit_s": self.time_limit_s}
        if vp.n_var == 0:  # nothing to decide: the base plan
            plan = vp.plan_from_x(np.zeros((1, 0)), controller=self.name)
            info.update(evaluations=1, wall_s=time.perf_counter() - t0, history=np.zeros(0))
            plan.info.update(info)
            return plan
        kwargs = dict(self.optimizer_options)
        if self._accepts_x0:
            seeds = [vp.encode()] if self.warm_start else []
            if problem.lots:  # a dispatch that keeps every contract: feasible plans from the first iteration
                seeds.append(vp.encode(counts=contract_counts(problem)))
            if seeds:
                kwargs["x0"] = np.vstack(seeds)
        res = self._optimize(vp, kwargs, info)
        info.update(evaluations=int(res.n_evaluations), optimizer_wall_s=float(res.wall_s), history=np.asarray(res.history),
                    optimizer_feasible=bool(res.feasible), warm_start=self.warm_start and self._accepts_x0,
                    x_best=np.asarray(res.x_best))
        plan = vp.plan_from_x(res.x_best, controller=self.name)
        info["wall_s"] = time.perf_counter() - t0
        plan.info.update(info)
        return plan

    def _optimize(self, vp: DayAheadVectorProblem, kwargs: dict[str, Any], info: dict[str, Any]) -> OptimResult:
        """Run the optimiser, within `time_limit_s` when set (sets info["timed_out"])."""
        run = dict(n_particles=self.n_particles, n_iter=self.n_iter, seed=self.seed, **kwargs)
        if self.time_limit_s is None:
            return self.optimizer(vp, **run)
        t0 = time.perf_counter()
        clock = _Clocked(vp, t0 + self.time_limit_s, raise_when_late=not self._accepts_callback)
        if self._accepts_callback:
            stopped = []
            user_cb = run.pop("callback", None)

            def stop(it: int, best_f: float) -> bool:
                if user_cb is not None and user_cb(it, best_f):
                    return True
                if clock.late() and it < self.n_iter - 1:
                    stopped.append(it)
                    return True
                return False

            res = self.optimizer(clock, callback=stop, **run)
            info["timed_out"] = bool(stopped)
            return res
        try:
            return self.optimizer(clock, **run)
        except _TimeUp:
            info["timed_out"] = True
            assert clock.best_x is not None  # _TimeUp is raised only after a first batch
            return OptimResult(x_best=clock.best_x, f_best=clock.best_f, cv_best=clock.best_cv,
                               feasible=bool(clock.best_cv <= 0.0), n_evaluations=clock.n_eval,
                               history=np.asarray([clock.best_f]), wall_s=time.perf_counter() - t0,
                               algorithm=self.name, seed=self.seed, history_cv=np.asarray([clock.best_cv]))


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
