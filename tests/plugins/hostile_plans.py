"""User-written DSO controllers whose returned plan, not their `plan()`, is the attack (issue 21, items 1 and 2).

Each starts from a valid plan (EO with a tiny budget, as `user_controller.HostileController`) and turns one field
hostile: an object in `info` that runs code when unpickled, an array-like or a branch list whose values change after
the first read, a widened problem (`isolation = false`), a field of the wrong type or shape. The tests load them by
dotted path from a scenario, in a real run.
"""

from __future__ import annotations

import os
import shlex
import time

import numpy as np

from cosim.controllers.base import DayAheadPlan, DayAheadProblem


def _valid_plan(problem: DayAheadProblem) -> DayAheadPlan:
    from cosim.controllers import make_controller  # noqa: PLC0415 - keeps this user example's imports short

    return make_controller("eo", n_particles=4, n_iter=2, seed=0).plan(problem)


class Payload:
    """An object whose unpickling runs `action`: "exit" (`os._exit(7)`), "sleep" (`time.sleep(seconds)`) or
    "shell" (a shell command that creates `marker`)."""

    def __init__(self, action: str, marker: str = "", seconds: float = 30.0) -> None:
        self.action, self.marker, self.seconds = action, marker, seconds

    def __reduce__(self):
        if self.action == "exit":
            return os._exit, (7,)
        if self.action == "sleep":
            return time.sleep, (self.seconds,)
        return os.system, (f"touch {shlex.quote(self.marker)}",)


class PayloadController:
    """A valid plan with a `Payload` in `info["payload"]`."""

    name = "payload"

    def __init__(self, action: str = "exit", marker: str = "marker", seconds: float = 30.0) -> None:
        self.payload = Payload(action, marker, seconds)

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        plan = _valid_plan(problem)
        plan.info["payload"] = self.payload
        return plan


class Shifting:
    """An array-like that gives `first` at its first read and `then` at every later one (`__array__`, `__iter__`,
    `__len__`, `__getitem__` all count as reads)."""

    def __init__(self, first, then) -> None:
        self.first, self.then, self.reads = list(first), list(then), 0

    def _values(self) -> list:
        self.reads += 1
        return self.first if self.reads == 1 else self.then

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._values(), dtype=dtype)

    def __iter__(self):
        return iter(self._values())

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, i):
        return self._values()[i]


class ShiftingSetpointsController:
    """A valid plan whose first lot's setpoints are a `Shifting`: the valid values first, then -900 kW every hour."""

    name = "shifting-setpoints"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        plan = _valid_plan(problem)
        lot = problem.lots[0].lot_id
        plan.setpoints_kw[lot] = Shifting(np.asarray(plan.setpoints_kw[lot], float).tolist(), [-900.0] * 24)
        return plan


class ShiftingBranchesController:
    """A valid plan whose open branches are a `Shifting`: the valid ones first, then a loop closed and an unknown id."""

    name = "shifting-branches"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        plan = _valid_plan(problem)
        plan.open_branches = Shifting(list(plan.open_branches), [33, 34, 35, 999])
        return plan


class WideningController:
    """Runs in the DSO's process (`isolation = false`) and widens every lot it is given to 1000 kW in every hour
    (in place where it can, through `object.__setattr__` on the frozen offer otherwise, the envelope and the EVs
    removed), then plans 1000 kW in every hour: the DSO must still clip the plan to the lot's real bounds."""

    name = "widening"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        plan = _valid_plan(problem)
        for lot in problem.lots:
            try:
                lot.max_charge_kw[:] = 1000.0
                lot.hour_mode[:] = 1
            except ValueError:  # write-protected
                pass
            object.__setattr__(lot, "max_charge_kw", np.full(24, 1000.0))
            object.__setattr__(lot, "hour_mode", np.ones(24, dtype=int))
            object.__setattr__(lot, "envelope", None)
            object.__setattr__(lot, "fleet", None)
            plan.setpoints_kw[lot.lot_id] = np.full(24, 1000.0)
        return plan


class BadFieldController:
    """A valid plan with one field of the wrong type or shape (`kind`): "feasible_array" (`feasible =
    np.array([True, False])`), "hourly_shape" (`predicted_hourly["loss_kw"]` 23 hours, `["v_min_pu"]` 24 x 2),
    "predicted_text" (`predicted["of3_kwh"] = "low"`), "controller_number" (`controller = 3`)."""

    name = "bad-field"

    def __init__(self, kind: str = "feasible_array") -> None:
        self.kind = kind

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        plan = _valid_plan(problem)
        if self.kind == "feasible_array":
            plan.feasible = np.array([True, False])
        elif self.kind == "hourly_shape":
            plan.predicted_hourly["loss_kw"] = np.zeros(23)
            plan.predicted_hourly["v_min_pu"] = np.ones((24, 2))
        elif self.kind == "predicted_text":
            plan.predicted["of3_kwh"] = "low"
        elif self.kind == "controller_number":
            plan.controller = 3
        return plan
