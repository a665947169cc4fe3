"""A fork server for controller workers: one small process that forks each worker and cleans up after it.

Why a server between the run and its workers:
- **Nothing of the run's secrets.** `cosim.runner.run` starts the run's server before the run's keys exist (the DSO's
  private key is made while the world is built), so a worker forked from it has no key in its memory, whatever its
  controller searches (gc, /proc/self/mem). The worker gets its problem over a pipe and builds its controller itself.
- **No process outlives its plan.** The server is a child subreaper (`cosim.controllers.reaper`): a worker's
  descendants that escape its process group (`start_new_session=True`, double forks) are re-parented to the server
  when their parent dies, and the server kills them, with the worker's group, before it reports the worker ended.
- **Dies with the run.** Server and workers ask the kernel to SIGKILL them when their parent dies (also when the
  run's process is SIGKILLed, which can clean up nothing itself); SIGTERM makes the server kill its worker, its
  group and its orphans first. Ctrl-C and SIGHUP from the terminal are the run's business: the server ignores them
  and each worker sits in a process group of its own, which the terminal does not signal.

Protocol (a Unix socket pair): the run sends a length-prefixed request with two file descriptors (the worker's
result pipe and its stack-dump file; SCM_RIGHTS); the server forks the worker, answers b"S" + its pid, waits for
it, kills what it left, and answers b"E" + its wait status. Only integers come back: the plan itself travels on
the worker's own pipe (`cosim.controllers.isolation`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import threading
import time
from typing import Callable, Iterator

from cosim.controllers.reaper import become_subreaper, die_with_parent, kill_descendants

__all__ = ["ForkServer", "ServerGone", "active_server"]

_LENGTH = 8
_ANSWER = 9  # b"S" or b"E", then 8 bytes
_LOCAL = threading.local()  # .active: this thread's activated servers (runs in other threads have their own)

Work = Callable[[bytes, int, int], None]
"""Runs in a worker: (request, result fd, stack-dump fd); the worker exits when it returns."""


class ServerGone(OSError):
    """The fork server died or stopped answering (killed from outside); no worker can be started through it."""


def active_server() -> "ForkServer | None":
    """The fork server of the run going on in this thread (`ForkServer.activated`), None outside a run."""
    active = getattr(_LOCAL, "active", None)
    return active[-1] if active else None


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[sock.send(view):]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


class ForkServer:
    """`with ForkServer(work) as server:` forks the server; `server.launch(request, result_fd, dump_fd)` starts one
    worker running `work`, `server.ended(timeout_s)` waits for its end (the worker's tree is gone by then); `close()`
kills the worker running now, its tree and the server."""

    def __init__(self, work: Work, collect_garbage: bool = False, preload: Callable[[], None] | None = None) -> None:
        self.work = work
        self.preload = preload  # run once in the server (imports each worker then inherits); errors ignored
        self.collect_garbage = collect_garbage  # before forking: the caller's garbage stays out of the server
        self.pid: int | None = None
        self._sock: socket.socket | None = None
        self.worker: int | None = None  # the worker running now

    # ------------------------------------------------------------------ the run's side
    def start(self) -> "ForkServer":
        if self.collect_garbage:
            gc.collect()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the server
            try:
                ours.close()
                _serve(theirs, self.work, parent, self.preload)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self._sock = pid, ours
        return self

    def __enter__(self) -> "ForkServer":
        return self.start() if self.pid is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def activated(self) -> "_Activation":
        """A block in which `active_server()` returns this server (the DSO's worker plans go through it)."""
        return _Activation(self)

    @property
    def fileno(self) -> int:
        """Readable when the server has news (the worker ended, or the server is gone)."""
        if self._sock is None:
            raise ServerGone("the fork server is closed")
        return self._sock.fileno()

    def launch(self, request: bytes, result_fd: int, dump_fd: int, timeout_s: float = 30.0) -> int:
        """Start a worker on `request`; returns its pid (also its process group's id)."""
        if self._sock is None:
            raise ServerGone("the fork server is closed")
        try:
            self._sock.sendmsg([len(request).to_bytes(_LENGTH, "big")], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                                         _fds(result_fd, dump_fd))])
            _send_all(self._sock, request)
            kind, value = self._answer(timeout_s)
        except OSError as exc:
            self.close()
            raise ServerGone(f"the fork server is gone ({exc})") from None
        except BaseException:  # a stop signal mid-exchange: the server's state is unknown, so it goes
            self.close()
            raise
        if kind != b"S":
            self.close()
            raise ServerGone("the fork server answered out of turn")
        self.worker = value
        return value

    def ended(self, timeout_s: float) -> int | None:
        """The wait status of the worker running now, once the server has reaped it and killed what it left; None
        when that takes longer than `timeout_s` (the server is then closed)."""
        try:
            kind, value = self._answer(timeout_s)
        except OSError:
            self.close()
            return None
        self.worker = None
        return value if kind == b"E" else None

    def _answer(self, timeout_s: float) -> tuple[bytes, int]:
        assert self._sock is not None
        if not select.select([self._sock], [], [], max(0.0, timeout_s))[0]:
            raise ServerGone(f"no answer from the fork server within {timeout_s:g} s")
        data = _recv_exact(self._sock, _ANSWER)
        if len(data) < _ANSWER:
            raise ServerGone("the fork server closed its end")
        return data[:1], int.from_bytes(data[1:], "big", signed=True)

    def close(self, grace_s: float = 2.0) -> None:
        """Kill the worker running now with its group, then stop the server, which kills the orphans left (SIGKILL
        after `grace_s`); idempotent."""
        if self.worker is not None:
            _kill_group(self.worker)
            self.worker = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not _exited_within(pid, grace_s):
            os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _exited_within(pid: int, seconds: float) -> bool:
    """Whether the child `pid` ends within `seconds` (not reaped yet): a pidfd to wait on where Linux has one."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            return bool(select.select([fd], [], [], seconds)[0])
        finally:
            os.close(fd)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        time.sleep(0.005)
    return False


class _Activation:
    def __init__(self, server: ForkServer) -> None:
        self.server = server

    def __enter__(self) -> ForkServer:
        if not hasattr(_LOCAL, "active"):
            _LOCAL.active = []
        _LOCAL.active.append(self.server)
        return self.server

    def __exit__(self, *exc: object) -> None:
        _LOCAL.active.remove(self.server)


def _fds(*fds: int) -> bytes:
    import array  # noqa: PLC0415

    return array.array("i", fds).tobytes()


# ---------------------------------------------------------------------- the server's side


class _Stop(BaseException):
    """SIGTERM in the server: clean up and exit."""


def _on_term(signum: int, frame: object) -> None:
    raise _Stop


@contextlib.contextmanager
def _term_held() -> Iterator[None]:
    """SIGTERM blocked in the block (the server's fork): one that arrives meanwhile waits until the block ends and
    is then raised there, in the server's loop, as `_Stop`. Unblocked, it would run `_on_term` inside fork's at-fork
    callbacks (logging's lock release), where Python prints the `_Stop` as "Exception ignored" with a traceback and
    drops it. A worker forked in the block starts with SIGTERM blocked and unblocks it once its handlers are reset."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _serve(sock: socket.socket, work: Work, parent: int, preload: Callable[[], None] | None) -> None:
    """The server's loop: one worker at a time, cleaned up after; ends on EOF or SIGTERM, killing what is left."""
    signal.signal(signal.SIGTERM, _on_term)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    die_with_parent(parent)
    become_subreaper()
    if preload is not None:
        try:
            preload()
        except Exception:  # noqa: BLE001 - the worker meets the same error and reports it as the plan's failure
            pass
    me = os.getpid()
    worker: int | None = None
    clean = True  # no process below the server (once the last worker's leftovers are gone, none can appear)
    try:
        while True:
            head, fds = _recv_request_head(sock)
            if head is None:
                break
            request = _recv_exact(sock, head)
            with _term_held():
                pid = os.fork()
                if pid == 0:  # the worker
                    _worker(sock, work, request, fds, me)
                worker, clean = pid, False  # known before a SIGTERM held back over the fork is raised
            for fd in fds:
                os.close(fd)
            try:
                os.setpgid(pid, pid)  # as the worker does itself (whichever runs first)
            except (ProcessLookupError, PermissionError):
                pass
            _send_all(sock, b"S" + pid.to_bytes(_LENGTH, "big", signed=True))
            _, status = os.waitpid(pid, 0)
            _kill_group(pid)
            worker = None
            kill_descendants()
            clean = True
            _send_all(sock, b"E" + status.to_bytes(_LENGTH, "big", signed=True))
    except (_Stop, OSError):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if worker is not None:
            _kill_group(worker)
        if not clean:
            kill_descendants()


def _recv_request_head(sock: socket.socket) -> tuple[int | None, list[int]]:
    """The next request's length and the two descriptors sent with it; (None, []) at EOF."""
    msg, ancdata, _, _ = sock.recvmsg(_LENGTH, socket.CMSG_SPACE(2 * 4))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            import array  # noqa: PLC0415

            fds.extend(array.array("i", data[: len(data) - len(data) % 4]))
    if len(msg) < _LENGTH:
        msg += _recv_exact(sock, _LENGTH - len(msg)) if msg else b""
    if len(msg) < _LENGTH or len(fds) != 2:
        for fd in fds:
            os.close(fd)
        return None, []
    return int.from_bytes(msg, "big"), fds


def _worker(sock: socket.socket, work: Work, request: bytes, fds: list[int], server: int) -> None:
    """In the worker: its own process group, death with the server, the run's signals back to their defaults."""
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked by the server over the fork
        sock.close()
        os.setpgid(0, 0)
        die_with_parent(server)
        work(request, fds[0], fds[1])
    finally:
        os._exit(0)
