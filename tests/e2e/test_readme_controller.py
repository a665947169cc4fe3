"""The README's controller example works as printed: its Python block (the one after the marker comment) is written
verbatim as a module beside a copy of the default scenario, whose [controller] table becomes the README's TOML
block below it (a package folder beside the scenario, loaded by path); `cosim run` runs a day with it, and the plan
is used: no planning fallback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- README controller example"


def readme_example() -> tuple[str, str, str]:
    """(module file name, Python code, TOML code) of the example that follows the README's marker comment."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MARKER in text, "the README lost its controller-example marker"
    after = text[text.index(MARKER):]
    python = re.search(r"```python\n(.*?)```", after, re.S)
    toml = re.search(r"```toml\n(.*?)```", after[python.end():], re.S)
    assert python and toml, "the marker must be followed by a ```python and then a ```toml block"
    module = re.match(r"#\s*(\w+(?:/\w+)*)\.py\b", python.group(1))
    assert module, "the example's first line names its module file (# name.py or # package/name.py ...)"
    return f"{module.group(1)}.py", python.group(1), toml.group(1)


def without_table(toml_text: str, table: str) -> str:
    """`toml_text` without the `[table]` section (up to the next table header)."""
    out, skipping = [], False
    for line in toml_text.splitlines(keepends=True):
        if re.match(r"\s*\[", line):
            skipping = line.strip() == f"[{table}]"
        if not skipping:
            out.append(line)
    return "".join(out)


@pytest.mark.slow
def test_the_readme_controller_example_meets_the_contracts_of_the_default_scenario(tmp_path):
    module, code, toml = readme_example()
    controller = tomllib.loads(toml)["controller"]
    assert controller["name"].split(":")[0] == module.removesuffix(".py").replace("/", ".")  # the module it is in
    file = tmp_path / module
    for package in file.relative_to(tmp_path).parents[:-1]:  # a package folder beside the scenario
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    file.write_text(code, encoding="utf-8")
    scenario = without_table((ROOT / "scenarios" / "default.toml").read_text(encoding="utf-8"), "controller")
    (tmp_path / "scenario.toml").write_text(scenario + "\n" + toml, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", "run", "scenario.toml", "--days", "1", "--quiet",
                           "--no-plots", "--output", "out"], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "planning fallback" not in proc.stderr, proc.stderr
    assert "fallbacks: 0 (see events.csv)" in proc.stdout.splitlines()
    run_dir = next((tmp_path / "out").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["fallbacks"] == []
    assert manifest["scenario"]["controller"]["name"] == controller["name"]
    plan = json.loads((run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert plan["feasible"] and "fallback" not in plan["info"]
    assert max(plan["setpoints_kw"]["PL1"]) > 0  # the example's own plan is in force, not the lot's own schedule
    events = pd.read_csv(run_dir / "events.csv") if (run_dir / "events.csv").is_file() else pd.DataFrame()
    assert events.empty or "planning fallback" not in set(events["event"])
    assert not (run_dir / "tracebacks.txt").exists()
