"""The fast grid engine (`[network] engine = "fast"`) against pandapower's runpp, at every step of real runs.

Each test runs a scenario (one day, a small EO budget) with the fast engine; its grid simulator also steps a
pandapower model of the same network with the same inputs (tests/plugins/checked_grid.py). Tolerances:
- pandapower: runpp with tolerance_mva = 1e-10 (its default is 1e-8), a converted net's tap loop until its MV
  busbar is within 1e-12 p.u. of the set-point (the grid's default is 1e-7);
- agreement: bus voltages within 1e-8 p.u.; branch currents within 1e-8 p.u. of the branch's base current;
  losses and the power drawn from the grid (kW, kvar) within 1e-8 p.u. of the base power; loadings (lines and
  transformers) within 1e-6 percentage points; the same open branches, convergence and unrated (NaN) branches.
The fast flow stops at its default 1e-9 p.u. estimated distance to the exact solution. docs/VALIDATION.md
states the same figures.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import checked_grid
import numpy as np
import pytest

from cosim.config import load_scenario
from cosim.networks import load_radial
from cosim.runner import simulators as sim_table
from cosim.runner import timing
from cosim.runner.run import run_scenario

ROOT = Path(__file__).resolve().parents[3]
V_TOL_PU = 1e-8
I_TOL_PU = 1e-8
S_TOL_PU = 1e-8
LOADING_TOL_PCT = 1e-6
TINY_EO = {"name": "eo", "options": {"n_particles": 4, "n_iter": 3}}


@pytest.fixture
def checked_grid_sim(monkeypatch):
    """The world's grid simulator is `CheckedGridSim` for this test (the table entry and its timing wrapper)."""
    k = next(i for i, s in enumerate(sim_table.SIMULATORS) if s.name == "Grid")
    spec = sim_table.SIMULATORS[k]
    sim_table.SIMULATORS[k] = dataclasses.replace(spec, target="checked_grid:CheckedGridSim")
    monkeypatch.delitem(timing._WRAPPED, "TimedGrid", raising=False)
    checked_grid.RECORD.clear()
    try:
        yield checked_grid.RECORD
    finally:
        sim_table.SIMULATORS[k] = spec
        timing._WRAPPED.pop("TimedGrid", None)


def _agree(record, radial, hours: int) -> dict[str, float]:
    """Assert every step's agreement; return the largest differences seen (for the failure message)."""
    assert len(record) >= hours, f"{len(record)} grid steps, expected at least {hours}"
    base_i = np.asarray(radial.branch_base_i_ka)
    base_kw = 1000.0 * radial.base_mva
    worst = {"vm_pu": 0.0, "i_pu": 0.0, "s_pu": 0.0, "loading_pct": 0.0}
    for step, (fast, ref) in enumerate(record):
        assert fast.converged and ref.converged, f"step {step}: {fast.message or ref.message}"
        assert fast.open_branches == ref.open_branches
        np.testing.assert_array_equal(np.isnan(fast.loading_percent), np.isnan(ref.loading_percent))
        worst["vm_pu"] = max(worst["vm_pu"], float(np.abs(fast.vm_pu - ref.vm_pu).max()))
        worst["i_pu"] = max(worst["i_pu"], float((np.abs(fast.i_ka - ref.i_ka) / base_i).max()))
        for attr in ("losses_kw", "p_grid_kw", "q_grid_kvar"):
            worst["s_pu"] = max(worst["s_pu"], abs(getattr(fast, attr) - getattr(ref, attr)) / base_kw)
        rated = np.isfinite(ref.loading_percent)
        gaps = list(np.abs(fast.loading_percent[rated] - ref.loading_percent[rated]))
        if math.isfinite(ref.trafo_loading_percent):
            gaps.append(abs(fast.trafo_loading_percent - ref.trafo_loading_percent))
        worst["loading_pct"] = max([worst["loading_pct"], *gaps])
        assert fast.p_demand_kw == ref.p_demand_kw and fast.p_lots_kw == ref.p_lots_kw
    assert worst["vm_pu"] <= V_TOL_PU, worst
    assert worst["i_pu"] <= I_TOL_PU, worst
    assert worst["s_pu"] <= S_TOL_PU, worst
    assert worst["loading_pct"] <= LOADING_TOL_PCT, worst
    return worst


def test_fast_engine_agrees_with_runpp_at_every_step_of_the_default_run(checked_grid_sim, tmp_path):
    network = {"name": "ieee33", "reconfigure": True, "engine": "fast"}
    scenario = load_scenario(ROOT / "scenarios" / "default.toml",
                             {"output_dir": str(tmp_path), "network": network, "controller": TINY_EO})
    summary = run_scenario(scenario, progress=False, plots=False)
    assert summary.status == "completed", summary.status
    worst = _agree(checked_grid_sim, load_radial(scenario.network), scenario.hours)
    assert any(fast.p_lots_kw != 0 for fast, _ in checked_grid_sim), "the lot's power reached the grid"
    assert worst["vm_pu"] > 0  # two different solvers: the comparison compared something


def test_fast_engine_agrees_with_runpp_at_every_step_of_a_simbench_run(checked_grid_sim, tmp_path):
    warnings.filterwarnings("ignore", category=FutureWarning)
    network = {"name": "simbench:1-MV-urban--0-sw", "reconfigure": True, "engine": "fast"}
    scenario = load_scenario(ROOT / "scenarios" / "simbench_mv_urban.toml",
                             {"output_dir": str(tmp_path), "network": network, "controller": TINY_EO})
    run_scenario(scenario, progress=False, plots=False)
    radial = load_radial(scenario.network)
    _agree(checked_grid_sim, radial, scenario.hours)
    fast, ref = checked_grid_sim[0]
    assert math.isfinite(ref.trafo_loading_percent) and ref.p_grid_kw > fast.p_lots_kw  # the substation compared
