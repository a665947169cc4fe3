"""A day of co-simulation on a SimBench MV grid (scenarios/simbench_mv_rural.toml at a tiny EO budget): pandapower
runs the original net with the DSO's open branches applied to its switches."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from cosim.config import load_scenario
from cosim.networks import load_network
from cosim.powerflow.topology import is_radial
from cosim.runner.run import run_scenario

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset

warnings.filterwarnings("ignore", category=FutureWarning)
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "simbench_mv_rural.toml"


def test_a_day_on_simbench_rural_with_reconfiguration(tmp_path):
    scenario = load_scenario(SCENARIO, {"output_dir": str(tmp_path),
                                        "controller": {"name": "eo", "options": {"n_particles": 4, "n_iter": 3}}})
    assert scenario.network == "simbench:1-MV-rural--0-sw" and len(scenario.lots) == 3
    summary = run_scenario(scenario, progress=False, plots=False)
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    net = load_network(scenario.network).radial
    assert len(grid) == 24 and grid["converged"].all()
    assert is_radial(net, plan["open_branches"]) and plan["feasible"]
    assert all(json.loads(o) == plan["open_branches"] for o in grid["open_branches"])
    assert grid["v_max_pu"].max() < net.v_max_pu and grid["v_min_pu"].min() > net.v_min_pu
    assert summary.kpis["max_abs_loss_gap_pct"] < 5.0  # the DSO's fast-flow plan against pandapower's hours
