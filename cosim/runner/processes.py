"""Simulators in processes of their own: the PLOs with `[exchange] separate_processes = true`.

Each PLO runs as `python -m simulators.plo.process HOST:PORT`, started by mosaik (its `cmd` start) and talking to
it over a local socket. The processes end with the run: at the world's shutdown (end of run, error, SIGTERM or
Ctrl-C to the run's process) each one's process group gets SIGTERM, then SIGKILL after `GRACE_S`
(`TrackedCmdStarter.end_process`); `TrackedCmdStarter.kill_all` ends whatever a shutdown that failed part-way
left; and each process asks the kernel to kill it when the run's process dies
(`simulators.plo.process.die_with_parent`), which covers SIGKILL too. A child that a PLO puts in a session of its
own escapes all of these (documented limit).
"""

from __future__ import annotations

import asyncio
import os
import signal
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any

from mosaik.exceptions import ConnectionClosedError
from mosaik.proxies import RemoteProxy
from mosaik.starters import CmdStarter
from mosaik_api_v3.connection import RemoteException

import simulators

GRACE_S = 2.0  # seconds a PLO process has to end after SIGTERM before SIGKILL
CONNECT_TIMEOUT_S = 60.0  # seconds a PLO process has to import its libraries and connect (mosaik's default: 10)
PLO_MODULE = "simulators.plo.process"


def _signal_group(process: Process, signum: int) -> None:
    """`signum` to the process's group (it leads one of its own), else to the process alone."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
            return
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.send_signal(signum)
    except ProcessLookupError:
        pass


class SimulatorProcessError(RuntimeError):
    """A simulator in a process of its own raised: its exception's type and message (one line), with the
    traceback it sent as a note (error.txt shows it). mosaik itself would log the error and end the run as if it
    had completed."""


class _RaisingRemoteProxy(RemoteProxy):
    """mosaik's proxy of a simulator process whose errors end the run as errors (`SimulatorProcessError`)."""

    sim_id = "simulator"  # set by `TrackedCmdStarter.start`

    async def send(self, request: Any) -> Any:
        try:
            return await super().send(request)
        except RemoteException as exc:
            error = SimulatorProcessError(f"{self.sim_id}: {exc.remote_type}: {exc.remote_msg}")
            error.add_note("".join(exc.further_args))
            raise error from None
        except (asyncio.IncompleteReadError, ConnectionError, ConnectionClosedError):
            process = self._process[0] if self._process else None
            try:
                code = await asyncio.wait_for(process.wait(), GRACE_S) if process else None
            except TimeoutError:
                code = None
            raise SimulatorProcessError(f"{self.sim_id}: its process ended unexpectedly"
                                        + (f" (exit code {code})" if code is not None else "")) from None


class TrackedCmdStarter(CmdStarter):
    """mosaik's `cmd` start that keeps each process it starts: at the world's shutdown mosaik ends each one
    (`end_process`, its termination manager), and `kill_all` ends those a shutdown that failed part-way left. An
    error in the process ends the run as an error (`SimulatorProcessError`)."""

    def __init__(self, cmd: str, **kwargs: Any) -> None:
        super().__init__(cmd, termination_manager=self.end_process, **kwargs)
        self.processes: dict[int, Process] = {}  # pid -> every process started and not yet ended

    async def start(self, sim_id, mosaik_remote, mosaik_config):
        proxy = await super().start(sim_id, mosaik_remote, mosaik_config)
        if type(proxy) is RemoteProxy:  # the same object, its errors raised (mosaik 3.7 would swallow them)
            proxy.__class__ = _RaisingRemoteProxy
            proxy.sim_id = sim_id
        process = getattr(proxy, "_process", None)
        if process:
            self.processes[process[0].pid] = process[0]
        return proxy

    async def end_process(self, process: Process) -> None:
        """SIGTERM to the process's group, SIGKILL after `GRACE_S`, then to whatever its group left running."""
        _signal_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), GRACE_S)
        except TimeoutError:
            _signal_group(process, signal.SIGKILL)
            await process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.processes.pop(process.pid, None)

    def kill_all(self) -> None:
        """SIGKILL to every process group still running, each process reaped."""
        for pid in list(self.processes):
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # reaped already (asyncio's child watcher)
                pass
            self.processes.pop(pid, None)


def plo_starter() -> TrackedCmdStarter:
    """The PLO simulator as a process of its own, importing this very `simulators` package (not another copy)."""
    root = str(Path(simulators.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return TrackedCmdStarter(f"%(python)s -m {PLO_MODULE} %(addr)s", env={"PYTHONPATH": path},
                             connect_timeout=CONNECT_TIMEOUT_S)


