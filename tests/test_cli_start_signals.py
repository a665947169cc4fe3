"""A stop signal from the moment the `cosim` program catches signals (its first lines, before it imports the rest)
is one line and 128 + the signal's number: no import's traceback. Real signals to the real program, sent as soon as
/proc says the process catches them (the window a fixed delay hit only on a loaded machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COSIM = Path(sys.executable).with_name("cosim")


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler for `signum` (the SigCgt mask of /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(mask >> (signum - 1) & 1)


def _first_moment(cmd: list[str], signum: int) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    # the program's first lines catch SIGINT, SIGTERM and SIGHUP, one after another: wait for all three (waiting for
    # SIGTERM alone once sent SIGHUP between the two installs, and its default action ended the process: -1)
    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    while not all(_catches(proc.pid, s) for s in watched) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("how", ["console script", "python -m cosim.cli"])
def test_a_stop_as_soon_as_the_program_catches_signals_is_one_line(tmp_path, signum, how):
    if how == "console script" and not COSIM.exists():
        pytest.skip(f"no console script at {COSIM}")
    cmd = [str(COSIM)] if how == "console script" else [sys.executable, "-m", "cosim.cli"]
    done = _first_moment([*cmd, "run", "scenarios/default.toml", "--quiet", "--output", str(tmp_path)], signum)
    assert done.returncode == 128 + signum, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "stopped by" in done.stderr
    assert not any(tmp_path.iterdir())  # nothing was written


def test_importing_the_cli_as_a_library_installs_no_handler():
    code = ("import signal; before = signal.getsignal(signal.SIGTERM); import cosim.cli; "
            "assert signal.getsignal(signal.SIGTERM) is before, signal.getsignal(signal.SIGTERM)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
