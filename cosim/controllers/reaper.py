"""Process-tree hygiene for controller workers (Linux): who adopts a controller's orphans, who dies with whom.

A controller may start processes of its own, even in a session of their own (`start_new_session=True`), which a
process-group kill does not reach. `become_subreaper` makes the fork server their adopter: when a process below it
dies, its orphans are re-parented to the server (`PR_SET_CHILD_SUBREAPER`), not to init, so `kill_descendants`
finds every one of them among the server's own children and kills them until none is left. `die_with_parent`
(`PR_SET_PDEATHSIG`) makes a process die when its parent does: the one clean-up a SIGKILLed run still gets.
Elsewhere than Linux the calls do nothing and say so (False)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

__all__ = ["become_subreaper", "children", "die_with_parent", "kill_descendants"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


_LIBC: list[ctypes.CDLL] = []


def _prctl(option: int, value: int) -> bool:
    """prctl(option, value) through libc; False where there is none (not Linux) or the call fails. The process's
    own symbols hold libc's (no `find_library`, which would start a subprocess in each fork)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not _LIBC:
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        return _LIBC[0].prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0),
                              ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Adopt the orphans of every process below this one (they are re-parented here instead of to init)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(parent_pid: int, signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send `signum` to this process when its parent (`parent_pid`, the process that forked it)
    dies; exits at once when the parent is already gone (it died before the request took effect)."""
    ok = _prctl(_PR_SET_PDEATHSIG, int(signum))
    if os.getppid() != parent_pid:
        os._exit(1)
    return ok


def children(pid: int) -> list[int]:
    """The pids of `pid`'s children (zombies included), read from /proc."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rpartition(b")")[2].split()  # the command name, in parentheses, may hold spaces and ")"
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(name))
    return found


def _has_children() -> bool:
    """Whether this process has any child, living or not yet reaped (every descendant left has an ancestor among
    them: an orphan is re-parented here)."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def kill_descendants(timeout_s: float = 5.0) -> int:
    """SIGKILL and reap every child of this process, then the orphans they leave (re-parented here by
    `become_subreaper`), until no child is left or `timeout_s` passes; returns how many were killed."""
    me, killed = os.getpid(), 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _has_children():  # the common case, without reading /proc
            break
        kids = children(me)
        if not kids:
            break
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        for pid in kids:  # once reaped, a child's own children are already ours (re-parented at its death)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed
