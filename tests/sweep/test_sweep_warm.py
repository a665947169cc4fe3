"""A sweep's process is warmed and frozen once before its variations (`cosim.sweep.warm`): each run's garbage
collection before it forks its controller server then walks only what the runs made, and no DSO key of an earlier
variation reaches a later variation's controller worker."""

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

WARM_AND_COUNT = """
import gc, json
from cosim.config import load_scenario
from cosim.sweep.warm import freeze_heap, warm_process
warm_process(load_scenario("scenarios/default.toml"))
gc.collect()
before = len(gc.get_objects())
frozen = freeze_heap()
print(json.dumps({"before": before, "frozen": frozen, "left": len(gc.get_objects())}))
"""


@pytest.mark.slow  # imports the whole co-simulation in a fresh process (~4 s)
def test_the_warm_up_loads_the_run_and_freezes_it_out_of_each_collection():
    """In a fresh process: after the warm-up (mosaik, the simulators, pandapower, the network, the kernels), nearly
    every object is frozen, so the collection before each run's fork server walks a small remainder."""
    proc = subprocess.run([sys.executable, "-c", WARM_AND_COUNT], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert counts["before"] > 100_000  # the co-simulation's modules are loaded
    assert counts["frozen"] >= counts["before"]
    assert counts["left"] < counts["frozen"] / 100  # what a later full collection still walks


LIBRARY_CALLER = """
import gc
from cosim.sweep import warm
start_up = gc.get_freeze_count()  # what the interpreter froze itself
with warm.frozen_heap() as frozen:
    assert frozen > start_up and gc.get_freeze_count() > start_up
    made_inside = type("Inside", (), {})()
    assert any(o is made_inside for o in gc.get_objects())  # what the runs make stays collectable
assert gc.get_freeze_count() == 0
count = warm.freeze_heap()  # the sweep pool's preload: frozen for good
with warm.frozen_heap():
    assert gc.get_freeze_count() == count
assert gc.get_freeze_count() == count
print("ok")
"""


def test_a_library_sweep_leaves_its_callers_collector_as_it_found_it():
    """In a fresh process: `frozen_heap` unfreezes what it froze; in a process frozen for good (the pool's
    preload) it leaves the freeze in place."""
    proc = subprocess.run([sys.executable, "-c", LIBRARY_CALLER], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


KEY_HUNT_BASE = """name = "keys"
days = 1
seed = 0
[network]
name = "ieee33"
reconfigure = false
[controller]
name = "lifecycle_plugin:KeyHunt"
[exchange]
authenticate = true
"""


@pytest.mark.slow
def test_a_later_variations_worker_holds_no_key_of_an_earlier_variation(tmp_path):
    """A real `cosim sweep` of two variations in one process (--workers 1) on the frozen heap: each variation's
    controller worker searches everything the collector reaches and finds no DSO key (the first run's keys are
    not frozen: they were made after the freeze and collected before the second run's server was forked)."""
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(PLUGIN, study / PLUGIN.name)
    (study / "base.toml").write_text(KEY_HUNT_BASE)
    outs = [tmp_path / "first.json", tmp_path / "second.json"]
    options = ", ".join(f'{{ out = "{p}" }}' for p in outs)
    (tmp_path / "sweep.toml").write_text(f'base = "{study / "base.toml"}"\noutput_dir = "{tmp_path / "sweep"}"\n'
                                         f'[grid]\n"controller.options" = [{options}]\n')
    proc = subprocess.Popen([sys.executable, "-m", "cosim.sweep.runner", str(tmp_path / "sweep.toml"), "--workers",
                             "1", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    pids = set()
    for path in outs:
        found = json.loads(path.read_text())
        pids.add(found["pid"])
        assert found["found"] == {"Ed25519PrivateKey": 0, "AgentKeys": 0, "private_key params": 0}, found
    assert len(pids) == 2 and proc.pid not in pids  # two workers, neither the sweep's own process
