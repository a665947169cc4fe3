"""A run's manifest always tells the truth (issue 12, item 4): SIGINT and SIGTERM in every phase, `sys.exit` in
user code, a full disk (file-size limit: EFBIG; a tiny tmpfs: ENOSPC), output folders that cannot be written;
one line and the right exit code on the command line, never a traceback, tables of whole lines only.

In-process tests raise real signals at a chosen phase (start-up, simulation, post-processing, plotting); the
subprocess tests send them to `python -m cosim.cli run` from outside, at start-up and mid-run."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from run_processes import rule_day_toml

import cosim.runner.postprocess as postprocess
import cosim.runner.report as report
import cosim.runner.world as world
from cosim.cli import main as cli_main
from cosim.config import parse_scenario
from cosim.errors import RunError
from cosim.results import MANIFEST, RunWriter
from cosim.results.manifest import StopSignals
from cosim.runner import simulators
from cosim.runner.run import RunInterrupted, run_scenario

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = {"name": "safe", "days": 1, "seed": 0, "network": {"name": "ieee33", "reconfigure": False},
            "controller": {"name": "rule"}, "lots": [{"id": "PL1", "bus": 18, "fleet": "seed000"}]}
TOML = rule_day_toml("safe", days="{days}")
# the mid-run tests' process: the grid's fast engine (no pandapower import, about 1.5 s of CPU); the start-up and
# output-folder tests keep pandapower, whose import is part of the start-up they signal
MID_RUN_TOML = rule_day_toml("safe", days="{days}", engine="fast")


def _only_run_dir(out: Path) -> Path:
    dirs = [p for p in out.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def assert_whole(run_dir: Path) -> None:
    """Every table and plans.jsonl ends with a whole line, every CSV parses, no reserve file is left."""
    for path in [*run_dir.glob("*.csv"), *run_dir.glob("*.jsonl")]:
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), (path.name, data[-40:])
        if path.suffix == ".csv" and data:
            pd.read_csv(path)
    assert not (run_dir / ".reserve").exists()


def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / MANIFEST).read_text())


# ---------------------------------------------------------------- signals in each phase, in process


def _signal_in(phase: str, signum: int, monkeypatch) -> None:
    """Raise `signum` in this process when the run reaches `phase`."""

    def hook(module, name, when=lambda *a, **k: True):
        original = getattr(module, name)

        def wrapped(*args, **kwargs):
            if when(*args, **kwargs):
                signal.raise_signal(signum)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    if phase == "start-up":
        hook(world, "build_world")
    elif phase == "simulation":  # while hour 5 of the grid table is being written
        hook(RunWriter, "append", lambda self, table, rows: table == "grid" and rows[0].get("hour") == 5)
    elif phase == "post-processing":
        hook(postprocess, "postprocess")
    else:
        hook(report, "make_plots")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", ["start-up", "simulation", "post-processing", "plotting"])
def test_a_signal_in_any_phase_finalises_the_manifest(tmp_path, monkeypatch, phase, signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _signal_in(phase, signum, monkeypatch)
    scenario = parse_scenario(dict(SCENARIO, output_dir=str(tmp_path)))
    with StopSignals(), pytest.raises(RunInterrupted) as info:  # the handlers `cosim run` installs
        run_scenario(scenario, progress=False, plots=True)
    assert info.value.signum == signum and info.value.exit_code == 128 + signum
    run_dir = _only_run_dir(tmp_path)
    manifest = manifest_of(run_dir)
    status = "interrupted" if signum == signal.SIGINT else "terminated"
    assert manifest["status"] == status and manifest["stopped_in"] == phase
    assert manifest["signal"] == signal.Signals(signum).name and phase in manifest["error"]
    expected_last = {"start-up": None, "simulation": 4, "post-processing": 23, "plotting": 23}[phase]
    assert manifest["last_recorded_hour"] == expected_last
    assert f"run {status}" in str(info.value) and str(run_dir) in str(info.value)
    assert_whole(run_dir)
    if expected_last is not None:
        assert list(pd.read_csv(run_dir / "grid.csv")["hour"])[-1] == expected_last
        assert set(manifest["tables"]) >= {"grid.csv"}  # checksums even of a stopped run
    assert {s: signal.getsignal(s) for s in before} == before  # handlers given back


def test_a_keyboard_interrupt_raised_by_code_is_a_failure_not_a_stop(tmp_path, monkeypatch):
    """Only a signal makes a run "interrupted"; code that raises KeyboardInterrupt itself is a failed run."""
    def raising(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(postprocess, "postprocess", raising)
    with StopSignals(), pytest.raises(RunError) as info:  # under `cosim run`'s handlers
        run_scenario(parse_scenario(dict(SCENARIO, output_dir=str(tmp_path))), progress=False, plots=False)
    assert not isinstance(info.value, RunInterrupted)
    manifest = manifest_of(_only_run_dir(tmp_path))
    assert manifest["status"] == "failed" and manifest["error"] == "KeyboardInterrupt"
    assert manifest["stopped_in"] == "post-processing" and manifest["signal"] is None


QUITTER = """import sys

import mosaik_api_v3

META = {"type": "time-based", "models": {"Quitter": {"public": True, "params": [], "attrs": ["losses_kw"]}}}


class QuitterSim(mosaik_api_v3.Simulator):
    def __init__(self):
        super().__init__(META)

    def create(self, num, model):
        return [{"eid": "quitter", "type": model}]

    def step(self, time, inputs, max_advance):
        if time == 3:
            sys.exit(3)
        return time + 1


def wire(ctx):
    ctx.world.connect(ctx.entities["Grid"], ctx.world.start("Quitter").Quitter(), "losses_kw")
"""


@pytest.fixture
def quitter_in_table(tmp_path, monkeypatch):
    """A user's simulator (one table entry, the README's recipe) that calls sys.exit(3) at hour 3."""
    (tmp_path / "quitter_sim.py").write_text(QUITTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = simulators.SimulatorSpec("Quitter", "quitter_sim:QuitterSim", "quitter", wire="quitter_sim:wire")
    simulators.register_simulator(spec)
    yield
    simulators.SIMULATORS.remove(spec)


def test_sys_exit_in_user_code_is_a_failed_run_with_a_traceback(tmp_path, quitter_in_table):
    scenario = parse_scenario(dict(SCENARIO, output_dir=str(tmp_path / "out")))
    with pytest.raises(RunError) as info:
        run_scenario(scenario, progress=False, plots=False)
    assert not isinstance(info.value, RunInterrupted) and "SystemExit: 3" in str(info.value)
    run_dir = _only_run_dir(tmp_path / "out")
    manifest = manifest_of(run_dir)
    assert manifest["status"] == "failed" and manifest["error"] == "SystemExit: 3"
    assert manifest["stopped_in"] == "simulation" and manifest["last_recorded_hour"] in (2, 3)
    error = (run_dir / "error.txt").read_text()
    assert error.splitlines()[0].startswith("SystemExit: 3") and "Traceback" in error and "sys.exit(3)" in error
    assert_whole(run_dir)


# ---------------------------------------------------------------- full disk


def _cosim_run(args: list[str], cwd: Path, limit_bytes: int | None = None, **kwargs) -> subprocess.Popen:
    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # --no-plots: no caller reads figures (no figure process)
    return subprocess.Popen([sys.executable, "-m", "cosim.cli", "run", *args, "--no-plots"], cwd=cwd,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=limit, env=env, **kwargs)


def _one_line(err: str) -> str:
    """The one line a stop prints (warnings the run printed before it, one per planning fallback, set aside: the
    "rule" controller's plan for SCENARIO is infeasible, so the DSO falls back at hour 0 and says so)."""
    lines = [line for line in err.strip().splitlines() if not re.match(r"cosim: WARNING: hour \d+: planning fallback",
                                                                        line)]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _assert_disk_full_run(out: Path, proc: subprocess.Popen, words: str) -> None:
    stdout, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, err
    line = _one_line(err)
    assert line.startswith("cosim run: run failed after hour") and words in line
    run_dir = _only_run_dir(out)
    manifest = manifest_of(run_dir)
    assert manifest["status"] == "failed" and words in manifest["error"]
    assert manifest["stopped_in"] == "simulation" and manifest["last_recorded_hour"] is not None
    assert list(pd.read_csv(run_dir / "grid.csv")["hour"])[-1] == manifest["last_recorded_hour"]
    error = (run_dir / "error.txt").read_text()
    assert error.splitlines()[0].startswith(manifest["error"]) and "Traceback" in error
    assert_whole(run_dir)


def test_a_file_size_limit_mid_run_is_one_line_exit_1_and_a_final_manifest(tmp_path):
    """`ulimit -f`: a table reaches the limit part-way through an hour (EFBIG)."""
    (tmp_path / "s.toml").write_text(MID_RUN_TOML.format(days=1))
    proc = _cosim_run(["s.toml", "--quiet", "--output", "out"], tmp_path, limit_bytes=15000)
    _assert_disk_full_run(tmp_path / "out", proc, "File too large")


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs (needs root and mount); skipped where it cannot be mounted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_mid_run_is_one_line_exit_1_and_a_final_manifest(tmp_path, tiny_tmpfs):
    """A 64 KiB file system that the run fills up (ENOSPC)."""
    (tmp_path / "s.toml").write_text(MID_RUN_TOML.format(days=3))  # 3 days of tables do not fit
    proc = _cosim_run(["s.toml", "--quiet", "--output", str(tiny_tmpfs / "out")], tmp_path)
    _assert_disk_full_run(tiny_tmpfs / "out", proc, "No space left on device")


# ---------------------------------------------------------------- output folders


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only folder: a read-only tmpfs where it can be mounted (root), else a folder without write bits."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(ro)], capture_output=True)
        if res.returncode != 0:
            pytest.skip(f"root cannot be kept out of a folder by its mode, and mount fails: {res.stderr!r}")
        try:
            yield ro
        finally:
            subprocess.run(["umount", "-l", str(ro)], check=False)
    else:
        ro.chmod(0o555)
        try:
            yield ro
        finally:
            ro.chmod(0o755)


def test_output_folder_problems_are_one_line_exit_2_before_any_output(tmp_path, read_only_dir, capsys):
    (tmp_path / "s.toml").write_text(TOML.format(days=1))
    (tmp_path / "a-file").write_text("not a folder")
    long = tmp_path / "long.toml"
    long.write_text(TOML.format(days=1).replace('name = "safe"', f'name = "{"n" * 300}"'))
    cases = [(["run", str(tmp_path / "s.toml"), "--output", "/proc/cosim-x"], "/proc/cosim-x"),
             (["run", str(tmp_path / "s.toml"), "--output", str(read_only_dir)], "read-only" if os.geteuid() == 0
              else "not writable"),
             (["run", str(tmp_path / "s.toml"), "--output", str(tmp_path / "a-file")], "is a file, not a folder"),
             (["run", str(long), "--output", str(tmp_path / "out")], "at most 200 bytes")]
    for argv, words in cases:
        assert cli_main([*argv, "--quiet"]) == 2, argv
        captured = capsys.readouterr()
        line = _one_line(captured.err)
        assert line.startswith("cosim run: error: ") and words in line, line
        assert captured.out == ""
    assert not list(read_only_dir.iterdir()) and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- signals from outside, as processes


def test_ctrl_c_and_sigterm_during_start_up_are_one_line_no_traceback(tmp_path):
    """The first seconds (imports, checking the scenario, loading the network): one line, 130 / 143."""
    (tmp_path / "s.toml").write_text(TOML.format(days=1))
    cases = [(0.3, signal.SIGINT), (1.0, signal.SIGINT), (2.0, signal.SIGINT), (0.5, signal.SIGTERM),
             (1.5, signal.SIGTERM)]
    procs = []
    for i, (delay, signum) in enumerate(cases):
        procs.append((delay, signum, i, _cosim_run(["s.toml", "--quiet", "--output", f"out{i}"], tmp_path)))
    t0 = time.monotonic()
    for delay, signum, _, proc in sorted(procs, key=lambda p: p[0]):
        time.sleep(max(0.0, t0 + delay - time.monotonic()))
        proc.send_signal(signum)
    for delay, signum, i, proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (128 + signum, -signum, 0), (delay, proc.returncode, err)
        if proc.returncode == 0:  # finished before the signal (a fast machine): nothing to check
            continue
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        if proc.returncode == 128 + signum:
            assert "stopped by" in _one_line(err)
        out = tmp_path / f"out{i}"
        for run_dir in (out.iterdir() if out.exists() else []):  # a folder made before the signal is final
            assert manifest_of(run_dir)["status"] != "running"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_from_outside_finalises_the_manifest(tmp_path, signum):
    # 200 days: a signal sent after 30 hours lands long before the end, even when this process is descheduled for
    # seconds on a loaded machine (with 20 days a 2-s stall once let a rule run finish its 480 hours first)
    (tmp_path / "s.toml").write_text(MID_RUN_TOML.format(days=200))
    proc = _cosim_run(["s.toml", "--quiet", "--output", "out"], tmp_path)
    grid = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "out").glob("*/grid.csv")) if (tmp_path / "out").exists() else []
        if found and len(found[0].read_bytes().splitlines()) > 30:  # well into the run
            grid = found[0]
            break
        time.sleep(0.02)
    assert grid is not None, "the run did not get going"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    line = _one_line(err)
    status = "interrupted" if signum == signal.SIGINT else "terminated"
    assert line.startswith(f"cosim run: run {status} after hour ") and "during simulation" in line
    run_dir = grid.parent
    manifest = manifest_of(run_dir)
    assert manifest["status"] == status and manifest["stopped_in"] == "simulation"
    assert 29 <= manifest["last_recorded_hour"] < 200 * 24 - 1
    assert list(pd.read_csv(grid)["hour"])[-1] == manifest["last_recorded_hour"]
    assert_whole(run_dir)
