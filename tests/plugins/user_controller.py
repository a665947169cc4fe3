"""A user-written DSO controller, loaded by dotted path from a scenario file in the end-to-end tests."""

from __future__ import annotations

import os
import time

import numpy as np

from cosim.controllers.base import DayAheadPlan, DayAheadProblem


class FlatChargeController:
    """Keeps the base topology and charges every lot at a constant `kw` in its charging hours."""

    name = "flat-charge"

    def __init__(self, kw: float = 50.0) -> None:
        self.kw = kw

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        setpoints = {lot.lot_id: np.where(lot.hour_mode > 0, np.minimum(self.kw, lot.max_charge_kw), 0.0)
                     for lot in problem.lots}
        return DayAheadPlan(open_branches=problem.base_open_branches,
                            lot_buses={lot.lot_id: lot.candidate_buses[0] for lot in problem.lots},
                            setpoints_kw=setpoints, feasible=True, controller=self.name)


class BrokenController:
    """Raises on every call: the DSO must fall back to a safe plan and record it."""

    name = "broken"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        raise RuntimeError("optimiser crashed on purpose")


class InfeasibleController:
    """Returns a plan it admits is infeasible: the DSO must not apply it."""

    name = "infeasible"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        return DayAheadPlan(open_branches=(7, 9, 14, 32, 37), lot_buses={}, setpoints_kw={}, feasible=False,
                            controller=self.name)


class SleepingController:
    """Blocks far beyond any time limit: the DSO must stop waiting and fall back."""

    name = "sleeping"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        time.sleep(3600)
        raise AssertionError("unreachable")


class ExitingController:
    """Calls sys.exit(3), as careless user code might: the run must go on."""

    name = "exiting"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        raise SystemExit(3)


class InterruptingController:
    """Raises KeyboardInterrupt inside the plan (not a real Ctrl-C): the run must go on."""

    name = "interrupting"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        raise KeyboardInterrupt


class CrashingController:
    """Kills its own interpreter (as a segfaulting extension would)."""

    name = "crashing"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        os._exit(11)


class HostileController:
    """Returns a plan that says `feasible=True` but breaks one rule of `cosim.controllers.validation` (`kind`);
    built from a valid plan (EO with a tiny budget), so only that rule is broken."""

    name = "hostile"

    def __init__(self, kind: str = "nan") -> None:
        self.kind = kind

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        from cosim.controllers import make_controller  # noqa: PLC0415 - keeps this user example's imports short

        plan = make_controller("eo", n_particles=4, n_iter=2, seed=0).plan(problem)
        lot = problem.lots[0].lot_id
        sp = np.asarray(plan.setpoints_kw[lot], float)
        changes = {
            "unknown_lot": lambda: plan.setpoints_kw.update(PL9=sp),
            "bus": lambda: plan.lot_buses.update({lot: 1}),
            "loop": lambda: setattr(plan, "open_branches", (33, 34, 35, 36)),
            "island": lambda: setattr(plan, "open_branches", (1, 33, 34, 35, 36, 37)),
            "nan": lambda: plan.setpoints_kw.update({lot: np.where(np.arange(24) == 3, np.nan, sp)}),
            "23_hours": lambda: plan.setpoints_kw.update({lot: sp[:23]}),
            "energy": lambda: plan.setpoints_kw.update({lot: np.zeros(24)}),
            "bounds": lambda: plan.setpoints_kw.update({lot: sp + np.where(problem.lots[0].hour_mode > 0, 789.0, 0.0)}),
            "no_predictions": lambda: (setattr(plan, "predicted", {}), setattr(plan, "predicted_hourly", {})),
            # every lot at 10 MW in every hour: far beyond any hour's bounds and any battery's room
            "max_power": lambda: plan.setpoints_kw.update({lot.lot_id: np.full(24, 1e4) for lot in problem.lots}),
        }
        changes[self.kind]()
        plan.feasible = True
        return plan


class ForkingController:
    """Starts a child that sleeps a minute (holding the worker's pipe and writing its pid to `pid_file`), then
    returns a valid plan: the plan must come back at once and the child must not outlive the worker."""

    name = "forking"

    def __init__(self, pid_file: str = "child.pid") -> None:
        self.pid_file = pid_file

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        child = os.fork()
        if child == 0:  # the controller's own child: it would keep the pipe open for a minute
            try:
                with open(self.pid_file, "w") as fh:
                    fh.write(str(os.getpid()))
                time.sleep(60)
            finally:
                os._exit(0)
        while not os.path.exists(self.pid_file) or not open(self.pid_file).read():
            time.sleep(0.01)
        return DayAheadPlan(open_branches=tuple(problem.base_open_branches),
                            lot_buses={lot.lot_id: lot.candidate_buses[0] for lot in problem.lots},
                            setpoints_kw={}, feasible=True, controller=self.name)


class FloodingController:
    """Finds the worker's pipe back to the DSO in its caller's frames, writes a message length of 1 TiB into it,
    then keeps sending zeros: the DSO must not read or hold any of it."""

    name = "flooding"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        import sys  # noqa: PLC0415

        frame = sys._getframe()
        while frame is not None and "write_fd" not in frame.f_locals:
            frame = frame.f_back
        fd = frame.f_locals["write_fd"]
        os.write(fd, (1 << 40).to_bytes(8, "big"))
        while True:
            os.write(fd, bytes(1 << 16))


class BloatedController:
    """A valid plan whose `info` holds an array just above the 64 MiB a worker may send."""

    name = "bloated"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        from cosim.controllers import make_controller  # noqa: PLC0415
        from cosim.controllers.isolation import MAX_MESSAGE_BYTES  # noqa: PLC0415

        plan = make_controller("eo", n_particles=4, n_iter=2, seed=0).plan(problem)
        plan.info["blob"] = np.zeros(MAX_MESSAGE_BYTES // 8 + 1)
        return plan
