"""User code beside the scenario file is found without PYTHONPATH, from any working directory: controllers,
exchange modes (tests/exchange/test_user_mode.py), networks and fleets named by dotted path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cosim.config import ScenarioFileError, load_scenario
from cosim.runner.run import run_scenario

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

SCENARIO = """
name = "beside"
output_dir = "{out}"
[network]
name = "my_grid:ring5"
[controller]
name = "my_controllers:FlatChargeController"
options = {{ kw = 300.0 }}
[[lots]]
id = "PL1"
bus = 3
fleet = "my_fleets:commuters"
fleet_options = {{ n_per_day = 30 }}
"""


@pytest.mark.slow
def test_controller_network_and_fleet_beside_the_scenario_run_from_another_folder(tmp_path, monkeypatch):
    study = tmp_path / "study"
    study.mkdir()
    for src, dst in (("user_controller.py", "my_controllers.py"), ("user_network.py", "my_grid.py"),
                     ("user_fleet.py", "my_fleets.py")):
        shutil.copy(PLUGINS / src, study / dst)
    (study / "s.toml").write_text(SCENARIO.format(out=tmp_path / "out"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    summary = run_scenario(load_scenario(study / "s.toml"), progress=False, plots=False)
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert len(grid) == 24 and grid["converged"].all()
    assert lots["evs_present"].max() > 0  # the commuters came
    assert summary.kpis["lot_energy_charged_kwh"] > 0


@pytest.mark.parametrize("fleet, message", [("my_fleets:nope", "has no attribute"),
                                            ("os:getcwd", "standard library")])
def test_fleet_names_that_lead_nowhere_are_clear_errors(tmp_path, fleet, message):
    (tmp_path / "my_fleets.py").write_text((PLUGINS / "user_fleet.py").read_text())
    path = tmp_path / "s.toml"
    path.write_text(f'[[lots]]\nid = "PL1"\nbus = 3\nfleet = "{fleet}"\n')
    with pytest.raises(ScenarioFileError, match=f"lots\\[0\\].fleet: .*{message}"):
        load_scenario(path)
