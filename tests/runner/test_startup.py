"""Start-up of a run: the network is built once per run and never deep-copied outside the grid simulator's own
pandapower net; with the fast grid engine a run of the default scenario (the built-in ieee33) never imports
pandapower. Each run is a fresh `python` process (`cosim run` as a user starts it), so nothing is cached before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real co-simulations / fresh processes: not in the quick subset

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import copy, json, sys
from cosim.cli import main
copies = []
real_deepcopy = copy.deepcopy
NETS = ("GridNetwork", "RadialNetwork", "ConvertedNetwork", "pandapowerNet")
def counting(obj, *args, **kwargs):
    if type(obj).__name__ in NETS:
        copies.append(type(obj).__name__)
    return real_deepcopy(obj, *args, **kwargs)
copy.deepcopy = counting  # every deep copy of a network in the process, whoever makes it
code = main(["run", sys.argv[1], "--output", sys.argv[2], "--quiet"])
print(json.dumps({"code": code, "pandapower": "pandapower" in sys.modules, "copies": copies}))
"""


def _scenario(tmp_path: Path, engine: str) -> Path:
    text = (ROOT / "scenarios" / "default.toml").read_text()
    text = text.replace("reconfigure = true", f'reconfigure = true\nengine = "{engine}"', 1)
    text = text.replace("n_particles = 30, n_iter = 500", "n_particles = 4, n_iter = 3")
    path = tmp_path / f"{engine}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("engine", ["fast", "pandapower"])
def test_a_run_builds_its_network_once(tmp_path, engine):
    out = subprocess.run([sys.executable, "-c", RUN, str(_scenario(tmp_path, engine)), str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    if engine == "fast":  # the built-in ieee33: its radial model only, from its data
        assert result == {"code": 0, "pandapower": False, "copies": []}
    else:  # one pandapower net, the grid simulator's own copy (it rewrites loads and switch states)
        assert result["pandapower"] and result["copies"] == ["GridNetwork"]
