"""Adding a simulator is one entry in the simulator table (with its wiring function): it runs, is timed and
recorded, and nothing else in the framework is edited."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cosim.config import parse_scenario
from cosim.errors import InputError
from cosim.runner import simulators
from cosim.runner.run import run_scenario

METER = simulators.SimulatorSpec("Meter", "user_simulator:MeterSim", "meter", table="meter",
                                 recorded=("energy_losses_kwh",), wire="user_simulator:wire_meter")


@pytest.fixture
def meter_in_table():
    simulators.register_simulator(METER)
    yield
    simulators.SIMULATORS.remove(METER)


@pytest.mark.slow
def test_a_simulator_added_by_one_entry_runs_is_recorded_and_timed(tmp_path, meter_in_table):
    scenario = parse_scenario({"name": "meter", "network": {"name": "ieee33", "reconfigure": False},
                               "controller": {"name": "none"}, "lots": [], "output_dir": str(tmp_path)})
    summary = run_scenario(scenario, progress=False, plots=False)
    meter = pd.read_csv(summary.run_dir / "meter.csv")
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert len(meter) == 24
    np.testing.assert_allclose(meter["energy_losses_kwh"], grid["losses_kw"].cumsum(), rtol=1e-12)
    assert meter["energy_losses_kwh"].iloc[-1] == pytest.approx(summary.kpis["energy_losses_kwh"])
    assert "meter" in summary.timing["simulator_s"]


def test_a_simulator_needs_a_unique_name_and_its_wiring():
    with pytest.raises(InputError, match="already in the table"):
        simulators.register_simulator(simulators.by_name("Grid"))
    with pytest.raises(InputError, match="give `wire`"):
        simulators.register_simulator(simulators.SimulatorSpec("X", "user_simulator:MeterSim", "x"))
