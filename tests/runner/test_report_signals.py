"""A real `cosim run` stopped while its figure processes draw (`cosim.runner.plot_workers`): Ctrl-C from the
terminal (SIGINT to the whole process group), SIGTERM to the run, SIGKILL to the run. The first two give one line,
the exit code and a final manifest naming the plotting phase; after all three, no figure process is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_processes import descendants, draws, rule_day_toml

pytestmark = pytest.mark.slow  # a co-simulation in a process of its own: not in the quick subset

ROOT = Path(__file__).resolve().parents[2]
TOML = rule_day_toml("plots", engine="fast")  # processes, not the grid


def _alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


def _while_drawing(tmp_path: Path) -> tuple[subprocess.Popen, Path, set[int]]:
    """A real `cosim run` (a session of its own, as a terminal's job), caught while its figures are drawn: the run
    folder and the run's descendants then (figure servers and their workers)."""
    (tmp_path / "s.toml").write_text(TOML)
    proc = subprocess.Popen([sys.executable, "-m", "cosim.cli", "run", "s.toml", "--quiet", "--output", "out"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        plots = list((tmp_path / "out").glob("*/plots")) if (tmp_path / "out").exists() else []
        if plots:  # made by the figure workers as they start drawing
            assert not draws(proc.pid)  # no matplotlib in the run's own process
            return proc, plots[0].parent, {p for p in descendants(proc.pid) if draws(p)}
        time.sleep(0.002)
    proc.kill()
    raise AssertionError(f"the run never drew its figures: {proc.communicate()[1]}")


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.02)
    return {p for p in pids if _alive(p)}


@pytest.mark.parametrize("signum, to_group", [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c to the group", "SIGTERM to the run"])
def test_a_signal_while_the_figures_are_drawn_ends_the_run_and_its_figure_processes(tmp_path, signum, to_group):
    proc, run_dir, figure_processes = _while_drawing(tmp_path)
    assert len(figure_processes) >= 2, figure_processes  # the servers and the workers they forked
    if to_group:
        os.killpg(proc.pid, signum)  # what the terminal does on Ctrl-C
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    lines = [line for line in err.splitlines() if line.strip()]
    status = "interrupted" if signum == signal.SIGINT else "terminated"
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"cosim run: run {status} after hour 23") and "plotting" in lines[0], lines[0]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == status and manifest["stopped_in"] == "plotting"
    assert manifest["last_recorded_hour"] == 23 and "grid.csv" in manifest["tables"]  # the results are kept
    assert not _gone_within(figure_processes, 2.0)  # ended by the run, never outliving it


def test_sigkill_to_the_run_while_the_figures_are_drawn_leaves_no_figure_process(tmp_path):
    """The run cannot clean up after SIGKILL: the kernel ends its figure servers (parent-death signal), and each
    worker with its server."""
    proc, _, figure_processes = _while_drawing(tmp_path)
    assert len(figure_processes) >= 2, figure_processes
    proc.kill()
    proc.communicate(timeout=60)
    assert not _gone_within(figure_processes, 2.0)


def test_a_figure_worker_killed_mid_run_fails_the_run_with_one_line_and_keeps_its_results(tmp_path):
    """SIGKILL from outside to one figure worker (a figure process whose parent is a figure server) while it draws:
    the run fails with one line naming the figure process, its tables, KPIs and final manifest are kept."""
    proc, run_dir, figure_processes = _while_drawing(tmp_path)
    workers = {p for p in figure_processes if _parent(p) in figure_processes}
    assert workers, figure_processes
    os.kill(min(workers), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "a figure process ended without an answer (wait status 9)" in lines[0], lines[0]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["stopped_in"] == "plotting"
    assert manifest["last_recorded_hour"] == 23 and "grid.csv" in manifest["tables"]
    assert (run_dir / "kpis.json").is_file() and "PlotError" in (run_dir / "error.txt").read_text()
    assert not _gone_within(figure_processes, 2.0)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rpartition(b")")[2].split()[1])
    except OSError:
        return None
