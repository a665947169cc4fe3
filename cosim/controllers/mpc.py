"""Model-predictive control: plan the day ahead, then re-optimise the next day (in steps) at every step the DSO
revises.

Steps: the rolling problems may have 24, 48 or 96 steps; both engines follow the problem's step.

`plan(problem)` is the engine's day-ahead plan. `revise(problem, state, hour)` re-plans the rolling problem the
DSO builds each hour (fresh forecasts, the lots' offers from their current state): with the EO engine the
population is warm-started from the plan in force (`state.plan`, the DSO's standing plan rolled to `hour`), so a
revision keeps the standing topology and sites unless it finds better; with `engine = "milp"` the MILP solves the
rolling problem from scratch (it has no warm start). The DSO decides whether a revised topology may be used
(`[controller] switch_operations_per_day`): a revision that needs more switch operations than are left is re-solved
with the topology fixed.

Options: engine ("eo", default, or "milp"); revise_n_iter (EO iterations per revision, default n_iter // 5, at
least 1); the engine's own options (EO: n_particles, n_iter, seed, time_limit_s, ...; MILP: time_limit_s, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cosim.controllers.base import DayAheadPlan, DayAheadProblem, HourState
from cosim.controllers.metaheuristic import EOController

ENGINES = ("eo", "milp")


class MpcController:
    """Day-ahead plan plus an hourly re-optimisation of the remaining horizon (see the module docstring)."""

    name = "mpc"

    def __init__(self, engine: str = "eo", revise_n_iter: int | None = None, **options: Any) -> None:
        if engine not in ENGINES:
            raise ValueError(f"controller 'mpc': engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.engine = engine
        if engine == "milp":
            if revise_n_iter is not None:
                raise ValueError("controller 'mpc': revise_n_iter is an EO option; the MILP engine takes time_limit_s")
            from cosim.controllers.milp import MilpController  # noqa: PLC0415 - highspy only when chosen

            options.pop("seed", None)  # the DSO passes the scenario's seed to seeded controllers; the MILP has none
            self.day_ahead = self.hourly = MilpController(**options)
            return
        self.day_ahead = EOController(**options)
        n_iter = max(1, self.day_ahead.n_iter // 5) if revise_n_iter is None else revise_n_iter
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
            raise ValueError(f"controller 'mpc': revise_n_iter must be an integer >= 1, got {revise_n_iter!r}")
        self.hourly = EOController(**{**options, "n_iter": n_iter, "warm_start": True})

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        plan = self.day_ahead.plan(problem)
        plan.controller = self.name
        return plan

    def revise(self, problem: DayAheadProblem, state: HourState, hour: int) -> DayAheadPlan:
        if self.engine == "eo" and problem.standing_plan is None and state.plan is not None:
            problem = dataclasses.replace(problem, standing_plan=state.plan)  # EO's warm start (`standing_seed`)
        plan = self.hourly.plan(problem)
        plan.controller = self.name
        plan.info["revision_hour"] = int(hour)
        return plan
