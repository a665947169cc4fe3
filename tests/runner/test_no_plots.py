"""A run without figures (`cosim run --no-plots`, `[output] plots = false`): a real `cosim run` process starts no
figure process, writes its tables and a manifest saying the figures were not made, and `cosim report` draws them
later from the tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_processes import descendants, draws, rule_day_toml

from cosim.cli import main
from cosim.runner.run import FIGURES_OFF

pytestmark = pytest.mark.slow  # a co-simulation in a process of its own: not in the quick subset

ROOT = Path(__file__).resolve().parents[2]
TOML = rule_day_toml("tables", engine="fast")  # processes, not the grid


def test_a_run_without_plots_starts_no_figure_process_and_cosim_report_draws_them_later(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(TOML)
    proc = subprocess.Popen([sys.executable, "-m", "cosim.cli", "run", "s.toml", "--quiet", "--no-plots",
                             "--output", "out"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seen: set[int] = set()
    drawing: set[int] = set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:  # every 50 ms: a figure server lives all run
        children = descendants(proc.pid)
        seen |= children
        drawing |= {p for p in children | {proc.pid} if draws(p)}  # the run's own never draws either
        time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert seen, "the controller's fork server was never seen: the look at the run's processes saw nothing"
    assert not drawing, f"figure processes started: {drawing}"
    run_dir = next((tmp_path / "out").iterdir())
    assert f"results: out/{run_dir.name}" in out
    assert not (run_dir / "plots").exists() and not (run_dir / "report.html").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["last_recorded_hour"] == 23
    assert manifest["step_minutes"] == 60  # the default step, recorded at the top level
    assert manifest["figures"] == FIGURES_OFF and manifest["scenario"]["output"] == {"plots": False}
    assert "grid.csv" in manifest["tables"] and (run_dir / "kpis.json").is_file()

    assert main(["report", str(run_dir)]) == 0  # later, from the tables alone
    printed = capsys.readouterr().out.split()
    pngs = sorted((run_dir / "plots").glob("*.png"))
    assert len(pngs) >= 5 and all(p.stat().st_size > 1000 for p in pngs), pngs
    page = (run_dir / "report.html").read_text()
    assert str(run_dir / "report.html") in printed and all(f"plots/{p.name}" in page for p in pngs)
