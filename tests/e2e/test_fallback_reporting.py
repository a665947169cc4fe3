"""Every planning fallback is reported where a user looks: one warning line on stderr during the run (the hour, the
exception or the rule, and the file:line in the user's own code), its whole traceback in the run folder's
tracebacks.txt, and the count in the run summary; `cosim run --strict` or `[controller] on_failure = "stop"` end
the run at the first one instead (exit code 3, manifest status "stopped", the tables so far kept).

Real `cosim run` processes on real user controller modules written beside the scenario file. Their grid steps with
the fast engine: the planning fallbacks are the subject, and a `cosim run` that never imports pandapower saves about
1.5 s of CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cosim.cli import main as cli_main
from cosim.results import RunFolder

ROOT = Path(__file__).resolve().parents[2]

# plans the base topology on day 0 and divides by zero on day 1 (a marker file beside it counts the calls: the
# worker process that runs plan() keeps no state between days)
ZERO = '''from pathlib import Path

from cosim.controllers.base import DayAheadPlan, DayAheadProblem


class ZeroPlanner:
    name = "zero"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        marker = Path(__file__).with_suffix(".called")
        if marker.exists():
            share = len(problem.lots) / 0
            return share
        marker.write_text("day 0")
        return DayAheadPlan(open_branches=problem.base_open_branches, lot_buses={}, setpoints_kw={},
                            feasible=True, controller=self.name)
'''
ZERO_LINE = ZERO.splitlines().index("            share = len(problem.lots) / 0") + 1

LOOP = '''from cosim.controllers.base import DayAheadPlan, DayAheadProblem


class ClosesEveryLoop:
    name = "closes-every-loop"

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        return DayAheadPlan(open_branches=(), lot_buses={}, setpoints_kw={}, feasible=True, controller=self.name)
'''

SCENARIO = """name = "fallbacks"
days = {days}
seed = 0
[network]
name = "ieee33"
reconfigure = false
engine = "fast"
[controller]
name = "{controller}"
{controller_extra}
[exchange]
mode = "none"
[[lots]]
id = "PL1"
bus = 18
fleet = "seed000"
"""


def cosim_run(folder: Path, module: str, code: str, controller: str, *args: str, days: int = 2,
              controller_extra: str = "") -> tuple[subprocess.CompletedProcess, Path | None]:
    """`cosim run` of a scenario in `folder` whose controller is `module` (written beside it); the process and
    its run folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(code)
    (folder / "s.toml").write_text(SCENARIO.format(days=days, controller=f"{module}:{controller}",
                                                   controller_extra=controller_extra))
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", "run", "s.toml", "--quiet", "--no-plots", "--output",
                           "out", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    runs = sorted((folder / "out").iterdir()) if (folder / "out").is_dir() else []
    return proc, runs[0] if runs else None


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def assert_names_user_line(line: str, module_file: Path, lineno: int) -> None:
    """`line` names `module_file`:`lineno` in plan (the user's frame, not cosim's worker)."""
    found = re.search(r" at (\S+):(\d+) in plan\b", line)
    assert found, line
    assert os.path.samefile(found.group(1), module_file) and int(found.group(2)) == lineno, line


@pytest.mark.parametrize("isolation", [True, False], ids=["worker", "in-process"])
@pytest.mark.slow
def test_a_failing_plan_warns_once_with_the_users_line_and_keeps_its_traceback(tmp_path, isolation):
    proc, run_dir = cosim_run(tmp_path, "zero_ctrl", ZERO, "ZeroPlanner",
                              controller_extra=f"isolation = {str(isolation).lower()}")
    assert proc.returncode == 0, proc.stderr
    warning = one_line(proc.stderr)
    assert warning.startswith("cosim: WARNING: hour 24: planning fallback (")
    assert "ZeroDivisionError: division by zero" in warning
    assert_names_user_line(warning, tmp_path / "zero_ctrl.py", ZERO_LINE)
    assert warning.endswith(f"; details in {Path('out') / run_dir.name / 'tracebacks.txt'}")
    assert "fallbacks: 1 (see events.csv and tracebacks.txt)" in proc.stdout.splitlines()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and [f["hour"] for f in manifest["fallbacks"]] == [24]
    events = pd.read_csv(run_dir / "events.csv")
    assert list(events.loc[events["event"] == "planning fallback", "hour"]) == [24]
    text = (run_dir / "tracebacks.txt").read_text()
    assert "ZeroDivisionError: division by zero" in text and "Traceback (most recent call last)" in text
    assert f'zero_ctrl.py", line {ZERO_LINE}, in plan' in text and text.endswith("\n\n")
    blocks = RunFolder(run_dir).tracebacks()
    assert [b["hour"] for b in blocks] == [24] and "ZeroDivisionError" in blocks[0]["cause"]


@pytest.mark.parametrize("how", ["--strict", "on_failure"])
@pytest.mark.slow
def test_strict_or_on_failure_stop_ends_the_run_at_the_first_fallback_with_exit_3(tmp_path, how):
    args, extra = (("--strict",), "") if how == "--strict" else ((), 'on_failure = "stop"')
    proc, run_dir = cosim_run(tmp_path, "zero_ctrl", ZERO, "ZeroPlanner", *args, controller_extra=extra)
    assert proc.returncode == 3, proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith("cosim run: run stopped after hour 23: hour 24: planning fallback (")
    assert "ZeroDivisionError: division by zero" in line and 'on_failure = "stop"' in line
    assert_names_user_line(line, tmp_path / "zero_ctrl.py", ZERO_LINE)
    assert proc.stdout == ""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and manifest["stopped_in"] == "simulation"
    assert manifest["last_recorded_hour"] == 23 and "hour 24: planning fallback" in manifest["error"]
    assert manifest["scenario"]["controller"]["on_failure"] == "stop"
    assert [f["hour"] for f in manifest["fallbacks"]] == [24]
    assert list(pd.read_csv(run_dir / "grid.csv")["hour"]) == list(range(24))  # the first day's tables are kept
    assert "grid.csv" in manifest["tables"] and not (run_dir / ".reserve").exists()
    assert "ZeroDivisionError" in (run_dir / "tracebacks.txt").read_text()


@pytest.mark.slow
def test_a_plan_a_rule_rejects_warns_with_the_rule(tmp_path):
    proc, run_dir = cosim_run(tmp_path, "loop_ctrl", LOOP, "ClosesEveryLoop", days=1)
    assert proc.returncode == 0, proc.stderr
    warning = one_line(proc.stderr)
    assert warning.startswith("cosim: WARNING: hour 0: planning fallback (plan rejected, rule topology: ")
    assert " in plan" not in warning and "details in" in warning  # a rule, not an exception: no file:line
    assert "fallbacks: 1 (see events.csv and tracebacks.txt)" in proc.stdout.splitlines()
    block, = RunFolder(run_dir).tracebacks()
    assert block["hour"] == 0 and block["cause"].startswith("plan rejected, rule topology") and \
        "no traceback" in block["text"]


HANGS_OR_CRASHES = '''import ctypes
import time


class Sleeps:
    name = "sleeps"

    def plan(self, problem):
        time.sleep(3600)


class Segfaults:
    name = "segfaults"

    def plan(self, problem):
        return ctypes.string_at(0)
'''


@pytest.mark.parametrize("controller, line, reason", [
    ("Sleeps", "        time.sleep(3600)", "the controller did not return a plan within time_limit_s = 1 s"),
    ("Segfaults", "        return ctypes.string_at(0)", "the controller's worker died (exit code -11)")])
@pytest.mark.slow
def test_a_worker_past_its_time_limit_or_killed_by_a_signal_names_the_users_line(tmp_path, controller, line, reason):
    """No exception to format: the worker's stack (faulthandler) says where the controller was."""
    proc, run_dir = cosim_run(tmp_path, "hostile_ctrl", HANGS_OR_CRASHES, controller, days=1,
                              controller_extra="time_limit_s = 1")
    assert proc.returncode == 0, proc.stderr
    warning = one_line(proc.stderr)
    assert warning.startswith(f"cosim: WARNING: hour 0: planning fallback ({reason} at ")
    assert_names_user_line(warning, tmp_path / "hostile_ctrl.py", HANGS_OR_CRASHES.splitlines().index(line) + 1)
    block, = RunFolder(run_dir).tracebacks()
    assert "Stack of the controller's worker" in block["text"] and 'hostile_ctrl.py", line' in block["text"]


@pytest.mark.slow
def test_on_failure_must_be_fallback_or_stop(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(days=1, controller="rule", controller_extra='on_failure = "abort"'))
    assert cli_main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line == (f"cosim run: error: {path}: controller.on_failure: 'abort' is not allowed; "
                    "allowed: fallback, stop")
    assert captured.out == "" and not (tmp_path / "out").exists()
