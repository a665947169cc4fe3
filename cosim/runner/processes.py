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

from mosaik.starters import CmdStarter

import simulators

GRACE_S = 2.0  # seconds a PLO process has to end after SIGTERM before SIGKILL
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


class TrackedCmdStarter(CmdStarter):
    """mosaik's `cmd` start that keeps each process it starts: at the world's shutdown mosaik ends each one
    (`end_process`, its termination manager), and `kill_all` ends those a shutdown that failed part-way left."""

    def __init__(self, cmd: str, **kwargs: Any) -> None:
        super().__init__(cmd, termination_manager=self.end_process, **kwargs)
        self.processes: dict[int, Process] = {}  # pid -> every process started and not yet ended

    async def start(self, sim_id, mosaik_remote, mosaik_config):
        proxy = await super().start(sim_id, mosaik_remote, mosaik_config)
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
    return TrackedCmdStarter(f"%(python)s -m {PLO_MODULE} %(addr)s", env={"PYTHONPATH": path})


