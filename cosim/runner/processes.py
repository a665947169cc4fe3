"""Simulators in processes of their own: the PLOs with `[exchange] separate_processes = true`.

Each PLO runs as `python -m simulators.plo.process HOST:PORT`, started by mosaik (its `cmd` start,
`TrackedCmdStarter`) and talking to it over a local socket. An error in such a process ends the run as an error
(`SimulatorProcessError`). The processes end with the run (`RunWorld`): at the end of a run each one's process
group gets SIGTERM, then SIGKILL after `GRACE_S` (`TrackedCmdStarter.end_process`); after a stop (SIGTERM,
Ctrl-C, an error), when mosaik's own shutdown fails part-way, each group gets SIGKILL at once
(`TrackedCmdStarter.kill_all`); and each process asks the kernel to kill it when the run's process dies
(`simulators.plo.process.die_with_parent`), which covers SIGKILL too. A child that a PLO puts in a session of its
own escapes all of these, and the children of a PLO process outlive a SIGKILL of the run (documented limits).
"""

from __future__ import annotations

import asyncio
import os
import signal
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any

import mosaik
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


class RunWorld(mosaik.World):
    """mosaik's World that, at its shutdown, also ends every simulator process a shutdown failing part-way left
    (`TrackedCmdStarter.kill_all`): no PLO process outlives its run."""

    def __init__(self, sim_config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(sim_config, **kwargs)
        self.starters = [s for s in sim_config.values() if isinstance(s, TrackedCmdStarter)]

    def shutdown(self) -> None:
        try:
            super().shutdown()
        except BaseException:
            if self.starters:
                self._after_failed_shutdown()
            raise
        finally:
            for starter in self.starters:
                starter.kill_all()

    def _after_failed_shutdown(self) -> None:
        """After a stop (a signal, an error), mosaik's shutdown fails at the first simulator process: the stop
        cancelled the task reading from it, which its proxy waits for before it ends the process. The processes are
        killed (`kill_all`), the other simulators' stops run out (at most `GRACE_S`), the loop is closed and mosaik is
        told the world is shut down (else it warns at exit: one line on a stop, never more)."""
        for starter in self.starters:
            starter.kill_all()
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            if pending:
                done, late = loop.run_until_complete(asyncio.wait(pending, timeout=GRACE_S))
                for task in late:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*late, *done, return_exceptions=True))
            loop.close()
        self._async_world._shutdown_performed = True  # mosaik 3.7's flag (mosaik.async_scenario.AsyncWorld)
