"""A PLO in a process of its own (`[exchange] separate_processes = true`): `python -m simulators.plo.process HOST:PORT`.

mosaik starts one such process per parking lot (its `cmd` start) and talks to it over a socket, so nothing that
runs on the PLO's side (its exchange mode's hooks, its schedules) shares memory with the DSO's private key. The
process leads a process group of its own, so that the run can end it together with whatever it started, and asks
the kernel to end it when the run's process dies (Linux: `PR_SET_PDEATHSIG`), even by SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Own process group, and SIGKILL when the parent (the run's process) dies; exit at once if it already has."""
    parent = os.getppid()
    try:
        os.setpgid(0, 0)
    except OSError:  # already a group leader
        pass
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent or parent == 1:  # the run ended before the request took effect
        os._exit(0)


def main() -> None:
    die_with_parent()
    import mosaik_api_v3  # noqa: PLC0415 - after the process is tied to the run

    from simulators.plo.simulator import PloSim  # noqa: PLC0415

    mosaik_api_v3.start_simulation(PloSim(), "A parking-lot operator (PLO) in its own process.",
                                   configure_logging=False)


if __name__ == "__main__":
    main()
