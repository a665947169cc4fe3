"""The controller worker starts without the DSO's private key in its memory (issue 21, item 8, the worker part): a
real `cosim run` whose controller, a real module file beside the scenario, searches everything the garbage
collector reaches from inside `plan()` for the DSO's key objects. The same search in the DSO's own process
(`isolation = false`) finds the key, so the search is able to. The grid steps with the fast engine: the keys are the
subject, and a `cosim run` that never imports pandapower saves about 1.5 s of CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "tests" / "plugins" / "lifecycle_plugin.py"

TOML = """name = "keys"
days = 1
seed = 0
[network]
name = "ieee33"
reconfigure = false
engine = "fast"
[controller]
name = "lifecycle_plugin:KeyHunt"
options = {{ out = "{out}" }}
isolation = {isolation}
[exchange]
authenticate = true
"""


def _start(folder: Path, isolation: bool) -> subprocess.Popen:
    folder.mkdir()
    shutil.copy(PLUGIN, folder / PLUGIN.name)
    (folder / "s.toml").write_text(TOML.format(out=folder / "found.json", isolation=str(isolation).lower()))
    return subprocess.Popen([sys.executable, "-m", "cosim.cli", "run", "s.toml", "--quiet", "--no-plots", "--output",
                             "out"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.slow
def test_the_controller_worker_holds_no_dso_key_and_the_dsos_process_does(tmp_path):
    runs = {isolation: _start(tmp_path / f"isolation-{isolation}", isolation) for isolation in (True, False)}
    for isolation, proc in runs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    worker = json.loads((tmp_path / "isolation-True" / "found.json").read_text())
    dso = json.loads((tmp_path / "isolation-False" / "found.json").read_text())
    assert worker["pid"] != runs[True].pid  # it searched a worker, not the run's process
    assert worker["found"] == {"Ed25519PrivateKey": 0, "AgentKeys": 0, "private_key params": 0}, worker
    assert dso["pid"] == runs[False].pid
    assert dso["found"]["Ed25519PrivateKey"] >= 1 and dso["found"]["AgentKeys"] >= 1, dso
