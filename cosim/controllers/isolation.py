"""Run a controller's `plan()` in a worker process, so that no controller can block, exit or crash the run.

The DSO must publish its plan on time whatever the controller does: loop forever, call `sys.exit`, raise
`KeyboardInterrupt`, crash the interpreter. `plan_in_worker` forks a worker (the controller and the problem
are inherited, not pickled), waits at most `time_limit_s` for the plan to come back through a pipe, and
kills the worker past the limit. Every failure becomes a `ControllerFailure` with a one-line reason; the
caller falls back. A real Ctrl-C still stops the run: it reaches the parent, which kills the worker.

Cost: one fork per plan (`benchmarks/optimizers.py --isolation` measures it). State a controller keeps
between calls does not survive the worker: a controller that learns across days sets `isolation = False`
(its plans then run in the DSO's process, with the time limit checked after the fact).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from cosim.controllers.base import DayAheadPlan, DayAheadProblem
from cosim.errors import CosimError

__all__ = ["ControllerFailure", "plan_in_process", "plan_in_worker"]


class ControllerFailure(CosimError):
    """A controller that did not return a plan: timed out, raised, exited or died. The message says which."""


def _work(controller: Any, problem: DayAheadProblem, conn: Any) -> None:
    """The worker: plan, send ("plan", plan) or ("error", reason), and leave without running any exit handler."""
    try:
        try:
            conn.send(("plan", controller.plan(problem)))
        except SystemExit as exc:
            conn.send(("error", f"the controller called sys.exit({exc.code!r})"))
        except BaseException as exc:  # noqa: BLE001 - whatever user code raises is reported, never re-raised
            conn.send(("error", f"the controller raised {type(exc).__name__}: {exc}"))
    except BaseException as exc:  # noqa: BLE001 - e.g. a plan that cannot be pickled back
        conn.send(("error", f"the controller's plan could not be sent back ({type(exc).__name__}: {exc})"))
    finally:
        conn.close()
        os._exit(0)


def plan_in_worker(controller: Any, problem: DayAheadProblem, time_limit_s: float) -> DayAheadPlan:
    """`controller.plan(problem)` in a forked worker, within `time_limit_s`; raises `ControllerFailure`."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_work, args=(controller, problem, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(time_limit_s):
            raise ControllerFailure(f"the controller did not return a plan within time_limit_s = {time_limit_s:g} s")
        try:
            kind, value = receiver.recv()
        except EOFError:
            worker.join(5)
            raise ControllerFailure(f"the controller's worker died (exit code {worker.exitcode})") from None
    finally:
        receiver.close()
        if worker.is_alive():
            worker.kill()
        worker.join(5)
    if kind == "error":
        raise ControllerFailure(value)
    return value


def plan_in_process(controller: Any, problem: DayAheadProblem, time_limit_s: float) -> DayAheadPlan:
    """`controller.plan(problem)` in this process (controllers with `isolation = False`): exceptions, including
    `SystemExit`, become `ControllerFailure`; the time limit is checked when the plan returns."""
    t0 = time.perf_counter()
    try:
        plan = controller.plan(problem)
    except SystemExit as exc:
        raise ControllerFailure(f"the controller called sys.exit({exc.code!r})") from None
    except Exception as exc:  # noqa: BLE001 - a failing controller must not stop the grid
        raise ControllerFailure(f"the controller raised {type(exc).__name__}: {exc}") from None
    wall = time.perf_counter() - t0
    if wall > time_limit_s:
        raise ControllerFailure(f"the controller took {wall:.1f} s, beyond time_limit_s = {time_limit_s:g} s")
    return plan
