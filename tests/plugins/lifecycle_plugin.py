"""A controller module the lifecycle tests copy beside their scenario (a real plug-in file, loaded by dotted name).

`Lifecycle.plan` starts processes the way a careless or hostile controller would: a forked child (which inherits
the worker's result pipe and starts a grandchild in a session of its own) and a child in a session of its own. It
records every pid with its start time (pids.txt: "role pid starttime"), then the marker file `planning`, then
blocks (`block = true`) or returns a valid plan at once. `KeyHunt.plan` counts the DSO key objects it can reach
through the garbage collector (keys.json) and returns a valid plan."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cosim.controllers.base import DayAheadPlan

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat: tells a process from a later one that reuses its pid."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[19]


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(SLEEPER, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _plan(problem, name: str) -> DayAheadPlan:
    return DayAheadPlan(open_branches=problem.base_open_branches, lot_buses={}, setpoints_kw={}, feasible=True,
                        controller=name)


class Lifecycle:
    name = "lifecycle"

    def __init__(self, folder: str, block: bool = True) -> None:
        self.folder = Path(folder)
        self.block = block

    def plan(self, problem) -> DayAheadPlan:
        worker = os.getpid()
        lines = [f"worker {worker} {start_time(worker)}", f"server {os.getppid()} {start_time(os.getppid())}"]
        child_file = self.folder / f"child-{worker}.txt"
        child = os.fork()
        if child == 0:  # holds the worker's pipe; starts a grandchild in a session of its own; sleeps
            try:
                grandchild = _sleeper()
                partial = child_file.with_suffix(".part")  # then renamed: the parent never reads a half-written file
                partial.write_text(f"grandchild {grandchild.pid} {start_time(grandchild.pid)}\n")
                os.replace(partial, child_file)
                time.sleep(600)
            finally:
                os._exit(0)
        lines.append(f"child {child} {start_time(child)}")
        session = _sleeper()
        lines.append(f"session {session.pid} {start_time(session.pid)}")
        deadline = time.monotonic() + 30
        while not child_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        lines.append(child_file.read_text().strip())
        (self.folder / "pids.txt").write_text("\n".join(lines) + "\n")
        (self.folder / "planning").write_text("planning\n")
        if self.block:
            time.sleep(600)
        return _plan(problem, self.name)


def _attributes(obj: object) -> list:
    if isinstance(obj, type):
        return []
    try:
        attributes = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001 - no __dict__, or one that refuses to be read
        return []
    return list(attributes.values()) if isinstance(attributes, dict) else []


class KeyHunt:
    name = "key-hunt"

    def __init__(self, out: str) -> None:
        self.out = out

    def plan(self, problem) -> DayAheadPlan:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

        found = {"Ed25519PrivateKey": 0, "AgentKeys": 0, "private_key params": 0}
        for holder in gc.get_objects():  # what the collector tracks, and what its dicts, lists and tuples hold (a
            if isinstance(holder, dict):  # key object of a compiled class is not tracked itself)
                items = list(holder.values())
                if isinstance(holder.get("private_key"), str):  # AgentKeys.params(), the key as hex digits
                    found["private_key params"] += 1
            elif isinstance(holder, (list, tuple)):
                items = list(holder)
            else:  # an instance: itself and its attributes (3.12 keeps them inline, in no tracked dict)
                items = [holder, *_attributes(holder)]
            for obj in items:
                if isinstance(obj, Ed25519PrivateKey):
                    found["Ed25519PrivateKey"] += 1
                elif type(obj).__name__ == "AgentKeys" and obj is holder:
                    found["AgentKeys"] += 1
        loaded = [m for m in sys.modules if m.startswith("cosim.exchange")]
        Path(self.out).write_text(json.dumps({"pid": os.getpid(), "found": found, "exchange_modules": loaded}))
        return _plan(problem, self.name)
