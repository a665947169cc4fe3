"""A day on SimBench rural with market profile "simbench": every load and generator follows its own profile, in
the grid simulator (per element, on the original net) and in the DSO's forecast (per bus)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cosim.config import ScenarioFileError, load_scenario, parse_scenario
from cosim.runner.run import run_scenario
from simulators.market.profiles import load_market

warnings.filterwarnings("ignore", category=FutureWarning)
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "simbench_mv_rural.toml"


@pytest.mark.slow
def test_a_day_with_per_element_profiles(tmp_path):
    scenario = load_scenario(SCENARIO, {"output_dir": str(tmp_path), "market": {"profile": "simbench:seed000"},
                                        "controller": {"name": "eo", "options": {"n_particles": 4, "n_iter": 3}}})
    summary = run_scenario(scenario, progress=False, plots=False)
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    lots = pd.read_csv(summary.run_dir / "lots.csv").groupby("hour")["p_kw"].sum()
    md = load_market("simbench:seed000", network=scenario.network, days=1)
    demand = grid["p_grid_kw"] - grid["losses_kw"] - lots.reindex(grid["hour"]).fillna(0.0).to_numpy()
    # what the grid drew is the profiles' hour by hour (transformer losses aside), not one scaled shape
    assert np.corrcoef(demand, md.bus_p_kw.sum(axis=1))[0, 1] > 0.99
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert plan["predicted"]["of3_kwh"] == pytest.approx(grid["losses_kw"].sum(), rel=0.05)


def test_simbench_profile_needs_a_simbench_network(tmp_path):
    with pytest.raises(ScenarioFileError, match="market.profile: .*the network must be 'simbench:<code>'"):
        parse_scenario({"market": {"profile": "simbench"}, "lots": [], "output_dir": str(tmp_path)})
