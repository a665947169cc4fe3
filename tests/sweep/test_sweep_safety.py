"""Sweeps that are stopped or damaged (issue 12, item 5): killing only the main process leaves no worker behind,
Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM stops the queue at once and keeps what
finished, resume checks every finished variation against the checksums in its manifest and reruns those that
fail, and what killed sweeps leave behind is cleaned."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_processes import rule_day_toml

from cosim.results import MANIFEST
from cosim.results.manifest import verify_run
from cosim.sweep.runner import run_sweep, verified_status
from cosim.sweep.spec import load_sweep

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset

ROOT = Path(__file__).resolve().parents[2]

BASE = rule_day_toml("tiny", days="{days}", engine="fast")  # processes and files, not the grid

SWEEP = """
name = "safety"
base = "base.toml"
[grid]
seed = {seeds}
"""


def write_sweep(folder: Path, days: int, seeds: list[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.toml").write_text(BASE.format(days=days))
    path = folder / "sweep.toml"
    path.write_text(SWEEP.format(seeds=json.dumps(seeds)))
    return path


def attempts(out: Path) -> list[dict]:
    log = out / "attempts.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def start_sweep(path: Path, out: Path, workers: int, err: Path) -> subprocess.Popen:
    """`python -m cosim.sweep.runner` in a process group of its own (as a shell job)."""
    with open(err, "w") as fh:
        return subprocess.Popen([sys.executable, "-m", "cosim.sweep.runner", str(path), "--workers", str(workers),
                                 "--quiet", "--output", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=fh,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(predicate, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        assert proc is None or proc.poll() is None, "the sweep ended too early"
        time.sleep(0.05)


@pytest.fixture
def cleanup_groups():
    """Process groups started by a test; anything still there at the end is killed (and makes the test fail)."""
    groups: list[int] = []
    yield groups
    left = [g for g in groups if group_alive(g)]
    for g in left:
        os.killpg(g, signal.SIGKILL)
    assert not left, f"process groups left running: {left}"


def test_killing_only_the_main_process_leaves_no_worker_running(tmp_path, cleanup_groups):
    """SIGKILL to the main process alone: the pool workers see it gone, stop their runs and exit; no variation
    starts after the kill (no duplicated work, nothing waits forever)."""
    path = write_sweep(tmp_path, days=30, seeds=[0, 1, 2, 3, 4, 5])
    out = tmp_path / "out"
    proc = start_sweep(path, out, 2, tmp_path / "err.txt")
    cleanup_groups.append(proc.pid)
    wait_for(lambda: sum(a["event"] == "start" for a in attempts(out)) >= 2, 120, proc)
    proc.kill()  # the main process only
    proc.wait(10)
    starts = sum(a["event"] == "start" for a in attempts(out))
    wait_for(lambda: not group_alive(proc.pid), 30)  # workers, fork server and resource tracker all gone
    assert sum(a["event"] == "start" for a in attempts(out)) == starts  # nothing started after the kill
    assert "Traceback" not in (tmp_path / "err.txt").read_text()


@pytest.mark.parametrize("workers, signum", [(2, signal.SIGINT), (2, signal.SIGTERM), (1, signal.SIGINT)],
                         ids=["pool-ctrl-c", "pool-sigterm", "serial-ctrl-c"])
def test_ctrl_c_stops_the_queue_at_once_and_keeps_finished_variations(tmp_path, cleanup_groups, workers, signum):
    path = write_sweep(tmp_path, days=3, seeds=list(range(8)))
    out = tmp_path / "out"
    proc = start_sweep(path, out, workers, tmp_path / "err.txt")
    cleanup_groups.append(proc.pid)
    wait_for(lambda: sum(a["event"] == "published" for a in attempts(out)) >= 1, 180, proc)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole process group
    else:
        proc.send_signal(signal.SIGTERM)  # `kill PID`: the main process only, which stops its workers
    sent = time.monotonic()
    assert proc.wait(60) == 128 + signum
    assert time.monotonic() - sent < 30  # at once, not after the remaining queue
    wait_for(lambda: not group_alive(proc.pid), 30)
    err = (tmp_path / "err.txt").read_text()
    # the variations' planning-fallback warnings (the "rule" plan is infeasible at hour 0) set aside: one stop line
    lines = [line for line in err.strip().splitlines()
             if not re.match(r"(cosim: WARNING: )?hour \d+: planning fallback", line)]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("stopped: sweep safety stopped by") and "rerun the same command to resume" in lines[0]
    log = attempts(out)
    published = [a["id"] for a in log if a["event"] == "published"]
    assert 1 <= len(published) < 8 and sum(a["event"] == "start" for a in log) < 8  # the queue was not run out
    runs = out / "runs"
    assert all(verified_status(runs / vid) == "completed" for vid in published)  # finished ones kept, whole
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # no staging or trash left
    assert (out / "sweep.parquet").is_file() or (out / "sweep.csv").is_file()  # the table of what finished


def test_resume_reruns_variations_whose_tables_or_kpis_changed_and_cleans_leftovers(tmp_path):
    path = write_sweep(tmp_path, days=1, seeds=[0, 1, 2, 3, 4])
    out = tmp_path / "out"
    sweep = load_sweep(path, output_dir=out)
    first = run_sweep(sweep, workers=1, quiet=True)
    assert first.failed == [] and len(first.ran) == 5
    runs = out / "runs"
    ids = [v.id for v in sweep.variations]
    assert all(verify_run(runs / vid) == [] for vid in ids)
    truncated, deleted, kpis_edited, manifest_edited, intact = ids
    grid = runs / truncated / "grid.csv"
    grid.write_bytes(grid.read_bytes()[: grid.stat().st_size // 2])  # a truncated table
    (runs / deleted / "lots.csv").unlink()  # a deleted table
    kpis = runs / kpis_edited / "kpis.json"
    kpis.write_text(kpis.read_text().replace('"hours": 24', '"hours": 25'))  # an edited KPI file
    manifest = json.loads((runs / manifest_edited / MANIFEST).read_text())
    manifest["kpis"]["energy_losses_kwh"] = 0.0  # an edited KPI in the manifest (the sweep table reads these)
    (runs / manifest_edited / MANIFEST).write_text(json.dumps(manifest))
    stamp = (runs / intact / MANIFEST).stat().st_mtime_ns
    for leftover in (runs / f".trash-{intact}-dead", runs / f".staging-{intact}-dead"):
        leftover.mkdir()
        (leftover / "grid.csv").write_text("hour\n0\n")
    (runs / ".trash-file-dead").write_text("x")
    (out / ".sweep.json.0123456789ab.tmp").write_text("{")

    second = run_sweep(load_sweep(path, output_dir=out), workers=1, quiet=True)

    assert sorted(second.ran) == sorted([truncated, deleted, kpis_edited, manifest_edited])
    assert second.reused == [intact] and second.failed == []
    assert (runs / intact / MANIFEST).stat().st_mtime_ns == stamp  # the intact one was not touched
    assert all(verify_run(runs / vid) == [] for vid in ids)
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]
    assert not list(out.glob(".*.tmp"))
    assert second.table.set_index("variation_id").loc[manifest_edited, "energy_losses_kwh"] > 0  # recomputed
