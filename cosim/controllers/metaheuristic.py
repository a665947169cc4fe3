"""Population-based day-ahead controllers (EO, PSO, GA) on one `DayAheadVectorProblem`.

All three get the same budget (n_particles x n_iter evaluations of a day plan of n steps) and the same problem;
they differ only in the optimiser. The returned plan is re-evaluated with the fast flow, so its `feasible`
flag and KPIs are those of the plan itself, not the optimiser's bookkeeping.

`time_limit_s` bounds the optimiser's wall time (a DSO must publish its plan on time): each optimiser stops
after the iteration that crossed the limit (pymoo's PSO / GA through its own `TimeBasedTermination`) and
returns its best candidate so far (feasibility rules). `plan.info["timed_out"]` says whether the limit cut
the run short.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable

import numpy as np

import cosim.controllers.objectives as obj
from cosim.controllers.base import DayAheadPlan, DayAheadProblem
from cosim.controllers.plo_scheduler import ScheduleError, plo_profit_schedule
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.errors import ProblemError
from cosim.optim import OptimResult, minimize_eo, minimize_ga, minimize_pso


def contract_counts(problem: DayAheadProblem) -> np.ndarray:
    """(n_lots, n) signed PEV counts (one per step) of each lot's own profit-maximising schedule (an LP that meets the
    contracts), rounded up to whole PEVs charging and down discharging; zero where the LP has no solution. kW
    become PEVs with the problem's lot power model (`objectives.lot_counts`)."""
    model = obj.lot_power_model(problem)  # kW per PEV as the problem evaluates it (objectives.pev_kw)
    out = np.zeros((len(problem.lots), problem.steps_per_day))
    for j, lot in enumerate(problem.lots):
        try:
            kw, _ = plo_profit_schedule(lot, problem.price_usd_per_kwh)
        except ScheduleError:
            continue
        n = obj.lot_counts(kw, lot, model)
        out[j] = np.where(n > 0, np.ceil(n - 1e-9), np.where(n < 0, -np.floor(-n + 1e-9), 0.0))
    return out


def standing_seed(vp: DayAheadVectorProblem, problem: DayAheadProblem) -> np.ndarray | None:
    """The decision vector of the plan in force (`problem.standing_plan`: topology and lot sites), or None.

    With setpoints for every lot (an hourly revision: the standing plan rolled to the hour) the dispatch is encoded
    too, as signed PEV counts. Seeded with it, a negotiation round keeps the standing plan unless a better one is
    found for the PLOs' new answer; with the controller's fixed seed, the same answer gives the same plan, so
    rounds change the plan only when the PLOs' answers do."""
    standing = problem.standing_plan
    if standing is None:
        return None
    buses = [standing.lot_buses.get(lot.lot_id, lot.candidate_buses[0]) for lot in problem.lots]
    if any(bus not in lot.candidate_buses for bus, lot in zip(buses, problem.lots)):
        return None
    try:
        x = vp.encode(open_ids=standing.open_branches, lot_buses=buses)
    except ProblemError:  # a topology the encoding cannot express (not one open branch per loop)
        return None
    if problem.lots and all(lot.lot_id in standing.setpoints_kw for lot in problem.lots):
        n = problem.steps_per_day
        counts = np.zeros((len(problem.lots), n))  # the standing dispatch as signed PEV counts (hourly revisions)
        model = obj.lot_power_model(problem)
        for j, lot in enumerate(problem.lots):
            kw = np.asarray(standing.setpoints_kw[lot.lot_id], float)[:n]
            counts[j] = np.round(obj.lot_counts(kw, lot, model))
        try:
            x = vp.encode(open_ids=standing.open_branches, lot_buses=buses, counts=counts)
        except (ProblemError, ValueError, IndexError):  # counts the layout cannot express: topology and sites only
            pass
    return x


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
        for key, value, least in (("n_particles", n_particles, 2), ("n_iter", n_iter, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"controller {self.name!r}: {key} must be an integer >= {least}, got {value!r}")
        self.n_particles = n_particles
        self.n_iter = n_iter
        self.seed = seed
        self.warm_start = bool(warm_start)
        self.optimizer_options = optimizer_options
        params = inspect.signature(self.optimizer).parameters
        unknown = sorted(set(optimizer_options) - set(params))
        if unknown:
            fixed = ("problem", "n_particles", "n_iter", "seed", "x0", "callback", "time_limit_s")
            allowed = sorted(p for p in params if p not in fixed)
            raise ValueError(f"controller {self.name!r}: unknown option(s) {unknown}; allowed: n_particles, n_iter, "
                             f"seed, warm_start, time_limit_s{', ' if allowed else ''}{', '.join(allowed)}")
        self._accepts_x0 = "x0" in params

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
            standing = standing_seed(vp, problem)
            if standing is not None:  # a negotiation round: start from the plan in force
                seeds.append(standing)
            if seeds:
                kwargs["x0"] = np.vstack(seeds)
        res = self.optimizer(vp, n_particles=self.n_particles, n_iter=self.n_iter, seed=self.seed,
                             time_limit_s=self.time_limit_s, **kwargs)
        info.update(evaluations=int(res.n_evaluations), optimizer_wall_s=float(res.wall_s),
                    history=np.asarray(res.history), optimizer_feasible=bool(res.feasible),
                    warm_start=self.warm_start and self._accepts_x0, timed_out=bool(res.timed_out),
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
