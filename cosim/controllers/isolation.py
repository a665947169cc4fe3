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

import os
import pickle
import select
import signal
import time
from typing import Any

from cosim.controllers.base import DayAheadPlan, DayAheadProblem
from cosim.errors import CosimError

__all__ = ["DEFAULT_TIME_LIMIT_S", "ControllerFailure", "plan_in_process", "plan_in_worker"]

DEFAULT_TIME_LIMIT_S = 600.0
"""A controller's deadline per plan unless the scenario sets `[controller] time_limit_s`: a day-ahead plan is
due well before the day starts; the default EO (30 x 500) needs a few seconds on a laptop."""


class ControllerFailure(CosimError):
    """A controller that did not return a plan: timed out, raised, exited or died. The message says which."""


def _work(controller: Any, problem: DayAheadProblem) -> bytes:
    """In the worker: plan, and pickle ("plan", plan) or ("error", reason); never raises."""
    try:
        try:
            result: tuple[str, Any] = ("plan", controller.plan(problem))
        except SystemExit as exc:
            result = ("error", f"the controller called sys.exit({exc.code!r})")
        except BaseException as exc:  # noqa: BLE001 - whatever user code raises is reported, never re-raised
            result = ("error", f"the controller raised {type(exc).__name__}: {exc}")
        return pickle.dumps(result)
    except BaseException as exc:  # noqa: BLE001 - e.g. a plan that cannot be pickled
        return pickle.dumps(("error", f"the controller's plan could not be sent back ({type(exc).__name__}: {exc})"))


def _read_until(fd: int, deadline: float) -> bytes | None:
    """All bytes from `fd` until the writer closes it, or None when `deadline` (perf_counter) passes first."""
    chunks = []
    while True:
        left = deadline - time.perf_counter()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def plan_in_worker(controller: Any, problem: DayAheadProblem, time_limit_s: float) -> DayAheadPlan:
    """`controller.plan(problem)` in a forked worker, within `time_limit_s`; raises `ControllerFailure`.

    A plain `os.fork` (not `multiprocessing`), so it also works inside daemonic processes such as Dask's workers.
    """
    deadline = time.perf_counter() + time_limit_s
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read_fd)
        for sig in (signal.SIGINT, signal.SIGTERM):  # the run's handlers (manifest, ...) are the parent's business
            signal.signal(sig, signal.SIG_DFL)
        try:
            data = _work(controller, problem)
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
        finally:
            os._exit(0)  # no exit handlers, no flushing of the parent's buffers
    os.close(write_fd)
    try:
        data = _read_until(read_fd, deadline)
    finally:
        os.close(read_fd)
        if data is None:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if data is None:
        raise ControllerFailure(f"the controller did not return a plan within time_limit_s = {time_limit_s:g} s")
    if not data:
        code = os.waitstatus_to_exitcode(status)
        raise ControllerFailure(f"the controller's worker died (exit code {code})")
    kind, value = pickle.loads(data)  # our own worker's bytes, through our own pipe
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
