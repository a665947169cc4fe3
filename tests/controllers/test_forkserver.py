"""`cosim.controllers.forkserver`: a SIGTERM that reaches the fork server while it forks a worker. Python runs a
signal's handler at the next bytecode, which during `os.fork()` is inside fork's at-fork callbacks (logging
registers one): the server's `_Stop` was printed there as "Exception ignored ... Traceback" and lost (seen once in
CI, tests/sweep/test_sweep_safety.py::test_killing_only_the_main_process_leaves_no_worker_running). `_term_held`
blocks SIGTERM over the fork, so the signal is raised after it, in the server's own loop. The signal is real: an
at-fork callback sends it to the process while it forks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from cosim.controllers.forkserver import _Stop, _on_term, _term_held
    signal.signal(signal.SIGTERM, _on_term)
    os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGTERM))  # "while it forks"
    held = sys.argv[1] == "held"
    try:
        if held:
            with _term_held():
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                print("forked", flush=True)
        else:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            print("forked", flush=True)
        os.waitpid(pid, 0)
        print("no stop", flush=True)
    except _Stop:
        os.waitpid(pid, 0)
        print("stopped after the fork", flush=True)
""")


def _run(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)


def test_a_sigterm_during_the_fork_is_raised_after_it_in_the_servers_loop():
    held = _run("held")
    assert held.returncode == 0, held.stderr
    assert held.stdout.splitlines() == ["forked", "stopped after the fork"]
    assert held.stderr == ""
    unheld = _run("unheld")  # what the server did before: the stop lost inside fork's callbacks, printed
    assert "Exception ignored" in unheld.stderr and "_Stop" in unheld.stderr
    assert "stopped after the fork" not in unheld.stdout
