"""Run a controller's `plan()` in a worker process, so that no controller can block, exit or crash the run.

The DSO must publish its plan on time whatever the controller does: loop forever, call `sys.exit`, raise
`KeyboardInterrupt`, crash the interpreter, start processes of its own. Each plan runs in a worker forked by a
fork server (`cosim.controllers.forkserver`), which kills the worker's process group and every process the worker
left (even in a session of its own) before it reports the worker's end. The caller waits at most `time_limit_s`
for the plan to come back through the worker's pipe and kills the worker past the limit. Every failure becomes a
`ControllerFailure` with a one-line reason, and, when the controller raised, its formatted traceback and the
innermost frame of the user's own code (`user_frame`: "file:line in function"), both plain text; a worker
stopped at the time limit or dying of a fatal signal leaves its stack instead (`faulthandler`); the caller falls
back. A stop (Ctrl-C, SIGTERM) while a plan runs kills the worker and its processes, then goes on.

The plan crosses the pipe as plain data (`cosim.controllers.plan_codec`: a JSON header and raw numeric arrays, never
pickle), and the DSO's process builds a fresh plan from it: nothing a controller returns runs code there. A plan that
holds anything else (a user object in `info`) is refused in the worker, naming the field.

Two ways in:
- `plan_through(server, spec, problem, ...)`: what a run does. Its server (`worker_server`) was forked before
  the run's keys existed; the problem is pickled to the worker and the worker builds the controller from its
  `ControllerSpec`, so the worker never holds the DSO's private key.
- `plan_in_worker(controller, problem, ...)`: any controller object, from any caller (a one-shot server forked
  from the caller, the controller and the problem inherited, not pickled).

Cost: one or two forks per plan (`benchmarks/optimizers.py --isolation` measures it). State a controller keeps
between calls does not survive the worker: a controller that learns across days sets `isolation = False`
(its plans then run in the DSO's process, with the time limit checked after the fact; the DSO hands such a
controller a read-only copy of the problem and checks and uses a plain-data snapshot of its plan,
`plan_codec.snapshot`).
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import re
import select
import signal
import sys
import sysconfig
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cosim.controllers.base import DayAheadPlan, DayAheadProblem
from cosim.controllers.forkserver import ForkServer, ServerGone
from cosim.controllers.plan_codec import PlanDataError, WorkerError, decode, encode_error, encode_plan
from cosim.errors import CosimError

__all__ = ["DEFAULT_TIME_LIMIT_S", "ControllerFailure", "ControllerSpec", "plan_in_process", "plan_in_worker",
           "plan_through", "user_frame", "worker_server"]

DEFAULT_TIME_LIMIT_S = 600.0
"""A controller's deadline per plan unless the scenario sets `[controller] time_limit_s`: a day-ahead plan is
due well before the day starts; the default EO (30 x 500) needs a few seconds on a laptop."""


class ControllerFailure(CosimError):
    """A controller that did not return a plan: timed out, raised, exited or died. The message says which;
    `traceback` (the formatted traceback, or the stack of a worker stopped at the time limit or killed by a fatal
    signal) and `where` (the user's frame in it, "file:line in function") are plain strings, None when unknown."""

    def __init__(self, message: str, traceback: str | None = None, where: str | None = None) -> None:
        super().__init__(message)
        self.traceback = traceback
        self.where = where


_PACKAGES = tuple(str(p) + os.sep for p in (Path(__file__).resolve().parents[1],  # cosim
                                            Path(__file__).resolve().parents[2] / "simulators"))
_STDLIB = tuple({str(Path(sysconfig.get_paths()[k]).resolve()) + os.sep for k in ("stdlib", "platstdlib")})
_INSTALLED = tuple({str(Path(sysconfig.get_paths()[k]).resolve()) + os.sep for k in ("purelib", "platlib")})


def _inside(filename: str, folders: tuple[str, ...]) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>: not a user's file
        return True
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        path = filename
    return path.startswith(folders)


def user_frame(exc: BaseException) -> str | None:
    """"file:line in function" of the innermost frame of `exc`'s traceback that is the user's own code: outside
    the cosim and simulators packages, the standard library and installed packages (else, for a controller that
    is itself an installed package, outside cosim, simulators and the standard library); None when there is none."""
    return _innermost_user([(f.filename, f.lineno, f.name) for f in reversed(traceback.extract_tb(exc.__traceback__))])


def _innermost_user(frames: list[tuple[str, Any, str]]) -> str | None:
    """The first of `frames` (innermost first: file, line, function) that is the user's code (`user_frame`)."""
    for skip in (_PACKAGES + _STDLIB + _INSTALLED, _PACKAGES + _STDLIB):
        for filename, lineno, name in frames:
            if not _inside(filename, skip):
                return f"{filename}:{lineno} in {name}"
    return None


_DUMP_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in (\S+)', re.M)


def _stack(dump: Any, what: str) -> tuple[str | None, str | None]:
    """(text, user frame) of the stack faulthandler wrote to `dump` (most recent call first); (None, None) when
    it wrote nothing (a worker that called os._exit or was killed outright)."""
    dump.seek(0)
    text = dump.read().decode("utf-8", "replace").strip()
    if not text:
        return None, None
    frames = []
    for m in _DUMP_FRAME.finditer(text):  # innermost first, down to the worker's call of plan()
        if m.group(3) == "_work" and _inside(m.group(1), _PACKAGES):
            break
        frames.append((m.group(1), m.group(2), m.group(3)))
    return f"Stack of the controller's worker {what} (faulthandler, most recent call first):\n{text}\n", \
        _innermost_user(frames)


def _dump_then_kill(pid: int, dump: Any) -> None:
    """Ask the worker for its stack (SIGUSR1: faulthandler writes it from a C handler, even inside C code), give it
    up to a second to appear in `dump`, then kill the worker."""
    try:
        os.kill(pid, signal.SIGUSR1)
        size, t_end = -1, time.perf_counter() + 1.0
        while time.perf_counter() < t_end:
            time.sleep(0.02)
            now = os.fstat(dump.fileno()).st_size
            if now > 0 and now == size:
                break
            size = now
    finally:
        _kill_group(pid)


def _raised(exc: BaseException) -> tuple[str, str, str | None]:
    """(reason, formatted traceback, user frame) of an exception a controller raised (SystemExit included)."""
    where = user_frame(exc)
    if isinstance(exc, SystemExit):
        reason = f"the controller called sys.exit({exc.code!r})"
    else:
        reason = f"the controller raised {type(exc).__name__}: {exc}"
    return reason, "".join(traceback.format_exception(exc)), where


def _work(controller: Any, problem: DayAheadProblem) -> bytes:
    """In the worker: plan, and encode the plan as plain data (`plan_codec.encode_plan`), or the failure (reason,
    traceback, user frame: plain strings, the frame None when no frame is the user's; `encode_error`). A plan that
    is not plain data (a user object in `info`) is a failure naming the field; nothing of it is sent. Never raises."""
    try:
        try:
            plan = controller.plan(problem)
        except BaseException as exc:  # noqa: BLE001 - whatever user code raises is reported, never re-raised
            return encode_error(*_raised(exc))
        try:
            return encode_plan(plan)
        except PlanDataError as exc:
            return encode_error(exc.rejection)
    except BaseException as exc:  # noqa: BLE001 - e.g. an array-like that raises when it is read
        return encode_error(f"the controller's plan could not be sent back ({type(exc).__name__}: {exc})",
                            "".join(traceback.format_exception(exc)), user_frame(exc))


LENGTH = 8  # bytes of the length that prefixes the worker's message
MAX_MESSAGE_BYTES = 64 << 20
"""The largest message a worker may send (64 MiB). A plan of a city's 139 lots with its predictions is well under
1 MiB; a controller that announces more (its `info`, or bytes it writes into the pipe itself) fails its plan
before the DSO's process reads or holds any of it."""


class MessageTooLarge(Exception):
    """The worker announced a message larger than MAX_MESSAGE_BYTES."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _too_large(size: int) -> str:
    return f"the controller's plan is {size:,} bytes, above the limit of {MAX_MESSAGE_BYTES:,} bytes"


def _read_until(fd: int, deadline: float, ended_fd: int | None = None) -> bytes | None:
    """The worker's message from `fd` (an 8-byte length, then that many bytes), b"" when the pipe closes before a
    whole message or `ended_fd` (the server's "worker ended") becomes readable with nothing left in the pipe, or
    None when `deadline` (perf_counter) passes first; raises `MessageTooLarge` when the length announced is above
    MAX_MESSAGE_BYTES. Reading a length rather than up to the end of the pipe: a child the controller forked holds
    the pipe open, and its plan still comes back at once."""
    data = bytearray()
    need = LENGTH
    watched = [fd] if ended_fd is None else [fd, ended_fd]
    while len(data) < need:
        left = deadline - time.perf_counter()
        ready = select.select(watched, [], [], left)[0] if left > 0 else []
        if not ready:
            return None
        if fd not in ready and not select.select([fd], [], [], 0)[0]:  # the worker ended with nothing more sent
            return b""
        chunk = os.read(fd, min(1 << 20, need - len(data)))
        if not chunk:
            return b""
        data += chunk
        if need == LENGTH and len(data) >= LENGTH:
            size = int.from_bytes(data[:LENGTH], "big")
            if size > MAX_MESSAGE_BYTES:
                raise MessageTooLarge(size)
            need = LENGTH + size
    return bytes(data[LENGTH:])


def _kill_group(pid: int) -> None:
    """SIGKILL the worker's process group: the worker and any process it started there (the fork server kills the
    rest when it has reaped the worker)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # already gone
        pass


@dataclass(frozen=True)
class ControllerSpec:
    """How a worker builds the run's controller itself: the name or dotted path a scenario gives, the folder a
    user's module may sit in (`near`) and the constructor's options (plain scenario values, seed included)."""

    name: str
    near: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class _Requested:
    """In a worker of the run's server: the request (spec, problem, revision) unpickled and the controller built
    when the plan is asked for, so a constructor that raises is a failed plan like any other. `revision` is
    (state, hour) for an hourly `revise`, None for `plan`."""

    name = "requested"

    def __init__(self, request: bytes) -> None:
        self.request = request

    def plan(self, problem: Any) -> DayAheadPlan:
        from cosim.controllers.registry import make_controller  # noqa: PLC0415

        spec, problem, revision = pickle.loads(self.request)  # the run's own bytes, through its own socket
        controller = make_controller(spec.name, near=spec.near, **dict(spec.options))
        if revision is None:
            return controller.plan(problem)
        return controller.revise(problem, *revision)


def _from_request(request: bytes, write_fd: int, dump_fd: int) -> None:
    _in_worker(_Requested(request), None, write_fd, dump_fd)


def worker_server(preload: ControllerSpec | None = None) -> ForkServer:
    """The run's fork server, for `plan_through` (`with worker_server() as server:` forks it: do so before the
    run's keys exist). `preload`: the controller whose module the server imports once, for every worker."""
    return ForkServer(_from_request, collect_garbage=True,
                      preload=None if preload is None else lambda: _resolve(preload))


def _resolve(spec: ControllerSpec) -> None:
    from cosim.controllers.registry import CONTROLLERS  # noqa: PLC0415

    CONTROLLERS.resolve(spec.name, near=spec.near)


def plan_through(server: ForkServer, spec: ControllerSpec, problem: DayAheadProblem, time_limit_s: float,
                 revision: tuple[Any, int] | None = None) -> DayAheadPlan:
    """The plan of the controller `spec` describes (its `revise(problem, *revision)` when `revision` is given), in
    a worker of `server`, within `time_limit_s`; raises `ControllerFailure`."""
    deadline = time.perf_counter() + time_limit_s
    try:
        request = pickle.dumps((spec, problem, revision))
    except Exception as exc:  # noqa: BLE001 - e.g. a problem holding something that cannot be pickled
        raise ControllerFailure(f"the problem could not be sent to the controller's worker ({type(exc).__name__}: "
                                f"{exc})") from None
    with tempfile.TemporaryFile() as dump:  # the worker's stack when it overruns or dies of a fatal signal
        return _plan_in_worker(server, request, time_limit_s, deadline, dump)


def plan_in_worker(controller: Any, problem: DayAheadProblem, time_limit_s: float) -> DayAheadPlan:
    """`controller.plan(problem)` in a forked worker, within `time_limit_s`; raises `ControllerFailure`.

    Plain `os.fork`s (not `multiprocessing`), so it also works inside daemonic processes such as Dask's workers.
    The worker inherits whatever this process holds: a run plans through its own clean server (`plan_through`).
    """
    deadline = time.perf_counter() + time_limit_s

    def work(_request: bytes, write_fd: int, dump_fd: int) -> None:
        _in_worker(controller, problem, write_fd, dump_fd)

    with tempfile.TemporaryFile() as dump, ForkServer(work) as server:
        return _plan_in_worker(server, b"", time_limit_s, deadline, dump)


def _reset_highs_after_fork() -> None:
    """HiGHS keeps one global pool of worker threads per process. A forked worker inherits the pool's state but not
    its threads, and its first solve would wait on them for ever (the `milp` controller, or any LP, after the run's
    process had solved one). Drop the inherited pool, without waiting, in both HiGHS copies a process may hold
    (highspy's and scipy's): the worker's first solve starts a fresh one."""
    for name, attribute in (("highspy", "Highs"), ("scipy.optimize._highspy._core", "_Highs")):
        module = sys.modules.get(name)
        reset = getattr(getattr(module, attribute, None), "resetGlobalScheduler", None)
        if reset is not None:
            reset(False)


def _in_worker(controller: Any, problem: Any, write_fd: int, dump_fd: int) -> None:
    """In the worker (forked by the server, which set its process group and signals): plan, write the message."""
    _reset_highs_after_fork()
    try:
        faulthandler.enable(file=dump_fd, all_threads=False)  # SIGSEGV, SIGABRT, ...: the stack, then death
        faulthandler.register(signal.SIGUSR1, file=dump_fd, all_threads=False)  # the parent's "time is up"
    except (OSError, RuntimeError, ValueError):  # no stack then, the plan all the same
        pass
    data = _work(controller, problem)
    if len(data) > MAX_MESSAGE_BYTES:  # our own worker says why rather than sending it
        data = encode_error(_too_large(len(data)))
    data = len(data).to_bytes(LENGTH, "big") + data
    view = memoryview(data)
    while view:
        view = view[os.write(write_fd, view):]


ENDED_WAIT_S = 10.0
"""How long the caller waits for the server to report a worker's end (the worker and what it left killed)."""


def _plan_in_worker(server: ForkServer, request: bytes, time_limit_s: float, deadline: float,
                    dump: Any) -> DayAheadPlan:
    read_fd, write_fd = os.pipe()
    try:
        pid = server.launch(request, write_fd, dump.fileno(), timeout_s=max(5.0, deadline - time.perf_counter()))
    except BaseException as exc:
        os.close(read_fd)
        if isinstance(exc, ServerGone):
            raise ControllerFailure(f"no worker could be started for the controller ({exc})") from None
        raise
    finally:
        os.close(write_fd)
    data: bytes | None = None
    timed_out = False
    too_large: MessageTooLarge | None = None
    status: int | None = None
    try:
        data = _read_until(read_fd, deadline, server.fileno)
        timed_out = data is None
    except MessageTooLarge as exc:  # the worker and what it started go at once; nothing more is read
        too_large, data = exc, b""
        _kill_group(pid)
    finally:
        os.close(read_fd)
        if timed_out:
            _dump_then_kill(pid, dump)
        elif data is None:  # Ctrl-C or SIGTERM while waiting: the worker and all it started go at once; the stop
            # goes on
            server.close()
        if data is not None or timed_out:
            status = server.ended(ENDED_WAIT_S)  # the server reaped the worker and killed whatever it left running
    if timed_out:
        raise ControllerFailure(f"the controller did not return a plan within time_limit_s = {time_limit_s:g} s",
                                *_stack(dump, "when the time limit passed"))
    if too_large is not None:
        raise ControllerFailure(_too_large(too_large.size))
    if not data:
        code = "unknown" if status is None else os.waitstatus_to_exitcode(status)
        raise ControllerFailure(f"the controller's worker died (exit code {code})", *_stack(dump, "when it died"))
    try:
        message = decode(data)  # plain data only: nothing the worker sent runs here
    except PlanDataError as exc:  # the controller wrote into the worker's pipe itself
        raise ControllerFailure(f"the controller's worker sent a message that is not a plan ({exc})") from None
    if isinstance(message, WorkerError):
        raise ControllerFailure(message.reason, message.traceback, message.where)
    return message


def plan_in_process(controller: Any, problem: DayAheadProblem, time_limit_s: float) -> DayAheadPlan:
    """`controller.plan(problem)` in this process (controllers with `isolation = False`): exceptions, including
    `SystemExit`, become `ControllerFailure`; the time limit is checked when the plan returns."""
    t0 = time.perf_counter()
    try:
        plan = controller.plan(problem)
    except (SystemExit, Exception) as exc:  # noqa: BLE001 - a failing controller must not stop the grid
        raise ControllerFailure(*_raised(exc)) from None
    wall = time.perf_counter() - t0
    if wall > time_limit_s:
        raise ControllerFailure(f"the controller took {wall:.1f} s, beyond time_limit_s = {time_limit_s:g} s")
    return plan
