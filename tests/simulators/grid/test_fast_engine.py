"""The fast grid engine (`[network] engine = "fast"`) against pandapower's runpp, at every step of real runs.

Each test runs a scenario (one day, a small EO budget) with the fast engine; its grid simulator also steps a
pandapower model of the same network with the same inputs (`simulators.grid.checked`). Tolerances:
- pandapower: runpp with tolerance_mva = 1e-10 (its default is 1e-8), a converted net's tap loop until its MV
  busbar is within 1e-12 p.u. of the set-point (the grid's default is 1e-7);
- agreement: bus voltages within 1e-8 p.u.; branch currents within 1e-8 p.u. of the branch's base current;
  losses and the power drawn from the grid (kW, kvar) within 1e-8 p.u. of the base power; loadings (lines and
  transformers) within 1e-6 percentage points; the same convergence, open branches, unrated (NaN) branches
  and demand at every step.
The fast flow stops at its default 1e-9 p.u. estimated distance to the exact solution. docs/VALIDATION.md
states the same tolerances; docs/FAST_ENGINE.md the measured differences (scripts/fast_engine_agreement.py).
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from cosim.config import load_scenario
from cosim.networks import load_radial
from cosim.powerflow.topology import is_radial
from cosim.runner.run import run_scenario
from cosim.runner.simulators import replaced
from simulators.grid import checked
from simulators.grid.model import GridError, GridModel

ROOT = Path(__file__).resolve().parents[3]
TOLERANCES = {"vm_pu": 1e-8, "i_pu": 1e-8, "s_pu": 1e-8, "loading_pct": 1e-6}
TINY_EO = {"name": "eo", "options": {"n_particles": 4, "n_iter": 3}}


def _check(scenario_file: str, network: str, tmp_path: Path):
    scenario = load_scenario(ROOT / "scenarios" / scenario_file, {
        "output_dir": str(tmp_path), "controller": TINY_EO,
        "network": {"name": network, "reconfigure": True, "engine": "fast"}})
    checked.RECORD.clear()
    with replaced("Grid", checked.CHECKED):
        summary = run_scenario(scenario, progress=False, plots=False)
        assert summary.status == "completed", summary.status
        record = checked.RECORD
        worst = checked.worst_differences(record, load_radial(scenario.network))
        assert worst["steps"] >= scenario.hours and worst["mismatches"] == worst["not_converged"] == 0, worst
        for key, tol in TOLERANCES.items():
            assert worst[key] <= tol, worst
        assert worst["vm_pu"] > 0  # two different solvers: the comparison compared something
        return list(record)


def test_fast_engine_agrees_with_runpp_at_every_step_of_the_default_run(tmp_path):
    record = _check("default.toml", "ieee33", tmp_path)
    assert any(fast.p_lots_kw != 0 for fast, _ in record), "the lot's power reached the grid"


@pytest.mark.slow
def test_fast_engine_agrees_with_runpp_at_every_step_of_a_simbench_run(tmp_path):
    warnings.filterwarnings("ignore", category=FutureWarning)
    record = _check("simbench_mv_urban.toml", "simbench:1-MV-urban--0-sw", tmp_path)
    fast, ref = record[0]
    assert math.isfinite(ref.trafo_loading_percent) and ref.p_grid_kw > fast.p_lots_kw  # the substation compared


STEPS = (
    {},
    {"load_scaling": 0.6, "lot_power_kw": {3: 400.0, 5: -250.0}},
    {"load_scaling": 1.2, "q_load_kvar": {4: 80.0}, "p_load_kw": {2: 150.0}},
)


def _reconfigured(radial) -> list[int]:
    """Another radial topology: each tie in turn closed in exchange for the middle switchable branch of its loop,
    where the result stays radial."""
    opened = list(radial.tie_branches)
    for k, (loop, tie) in enumerate(zip(radial.loops, radial.tie_branches)):
        candidates = [b for b in loop if b != tie and b not in radial.fixed_branches and b not in opened]
        for b in candidates[len(candidates) // 2:] + candidates[:len(candidates) // 2]:
            trial = [*opened[:k], b, *opened[k + 1:]]
            if is_radial(radial, trial):
                opened = trial
                break
    return sorted(opened)


@pytest.mark.parametrize("name", ["ieee33", "ieee33_rated", "ieee69", "dist118", "ninebus", "ieee13"])
def test_fast_engine_agrees_with_runpp_on_every_built_in_network(name):
    """Three hours each (base load; lots charging and injecting; per-bus overrides, reactive power included) in the
    base topology and in a reconfigured one, same tolerances as above; where neither engine converges (dist118's
    reconfigured feeder, beyond voltage collapse), both must say so."""
    fast = GridModel(name, engine="fast")
    ref = GridModel(name, engine="pandapower", **checked.TIGHT)
    radial = fast.network.radial
    other = _reconfigured(radial)
    record = []
    for topology in (None, other):
        for k, inputs in enumerate(STEPS):
            step = dict(inputs, open_branches=topology) if k == 0 and topology is not None else inputs
            record.append((fast.step(**step), ref.step(**step)))
    worst = checked.worst_differences(record, radial)
    assert worst["mismatches"] == 0 and worst["steps"] == 2 * len(STEPS), worst
    assert all(f.converged for f, _ in record[:len(STEPS)])  # the base topology converges (dist118's other: not)
    assert other != list(radial.tie_branches) or not radial.tie_branches
    for key, tol in TOLERANCES.items():
        assert worst[key] <= tol, worst


def test_an_unknown_engine_is_refused():
    with pytest.raises(GridError, match="engine must be one of"):
        GridModel("ieee33", engine="turbo")


def test_a_scenario_with_an_unknown_engine_stops_with_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[network]\nname = "ieee33"\nengine = "turbo"\n')
    out = subprocess.run([sys.executable, "-m", "cosim.cli", "run", str(path)], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"cosim run: error: {path}: network.engine: 'turbo' is not allowed; allowed: pandapower, fast"]


@pytest.mark.parametrize(("network", "extra", "field", "says"), [
    ("simbench:1-MV-urban--0-sw", 'engine = "fast"\ntap_control = "discrete"\n', "network.tap_control",
     "needs engine"),
    ("simbench:1-MVLV-urban-all-0-sw:reduced", 'engine = "fast"\n', "network.engine", "reduced model"),
])
@pytest.mark.slow
def test_engine_options_the_fast_engine_cannot_honour_stop_with_one_line(tmp_path, network, extra, field, says):
    """Discrete tap control and a reduced model's full net are pandapower-only: refused before any output."""
    path = tmp_path / "s.toml"
    path.write_text(f'output_dir = "{tmp_path / "out"}"\n[network]\nname = "{network}"\n{extra}')
    out = subprocess.run([sys.executable, "-m", "cosim.cli", "run", str(path)], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cosim run: error: {path}: {field}: ") and says in lines[0], lines
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_reduced_model_is_refused_by_the_fast_grid_model():
    from cosim.networks import load_network  # noqa: PLC0415 - builds the city net only in this test

    reduced = load_network("simbench:1-MVLV-rural-1.108-0-sw:reduced")  # the MV grid with one LV grid: the smallest
    with pytest.raises(GridError, match="reduced model"):
        GridModel(reduced, engine="fast")
