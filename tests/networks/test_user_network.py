"""A user's network builder, named by dotted path in a scenario, is validated, planned on and simulated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cosim.config import ScenarioFileError, parse_scenario
from cosim.networks import load_network
from cosim.powerflow.bfs import solve_radial_batch
from cosim.powerflow.topology import is_radial
from cosim.runner.run import run_scenario

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"  # the user plug-ins the tests name, as beside a scenario


def test_the_builder_gives_a_radial_network_the_fast_flow_solves():
    net = load_network("user_network:ring5", near=PLUGINS).radial
    assert net.n_bus == 5 and net.tie_branches == (5,)
    assert is_radial(net, [5]) and is_radial(net, [2]) and not is_radial(net, [])
    res = solve_radial_batch(net, np.array([5]), net.p_load_kw[None, :], net.q_load_kvar[None, :])
    assert res.loss_kw[0] > 0 and 0.9 < res.vm_pu.min() < 1.0


@pytest.mark.slow
def test_a_scenario_on_the_user_network_runs_with_reconfiguration(tmp_path):
    scenario = parse_scenario({"name": "ring", "network": {"name": "user_network:ring5", "reconfigure": True},
                               "controller": {"name": "eo", "options": {"n_particles": 6, "n_iter": 6}},
                               "lots": [{"id": "PL1", "bus": 3, "fleet": "seed000"}], "output_dir": str(tmp_path)},
                              plugin_folder=PLUGINS)
    summary = run_scenario(scenario, progress=False, plots=False)
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    net = load_network("user_network:ring5", near=PLUGINS).radial
    assert len(grid) == 24 and grid["converged"].all()
    assert is_radial(net, plan["open_branches"])
    assert summary.kpis["max_abs_loss_gap_pct"] < 0.5  # the DSO's plan (fast flow) meets pandapower's hours


@pytest.mark.parametrize("name, message", [("user_network:nope", "has no attribute"),
                                           ("ieee999", "is not allowed"),
                                           ("user_network:NO_LIMIT_KA", "not a network builder")])
def test_bad_network_names_are_clear_errors(tmp_path, name, message):
    with pytest.raises(ScenarioFileError, match=f"network.name: .*{message}"):
        parse_scenario({"network": {"name": name}, "lots": [], "output_dir": str(tmp_path)}, plugin_folder=PLUGINS)
