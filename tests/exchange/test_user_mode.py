"""A user's exchange mode runs end to end from a scenario file, with no edit anywhere else in the framework."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cosim.config import ScenarioFileError, load_scenario
from cosim.runner.run import run_scenario

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

SCENARIO = """
name = "user-mode"
output_dir = "{out}"
[network]
name = "ieee33"
reconfigure = false
[controller]
name = "none"
[exchange]
mode = "{mode}"
options = {{ cap_kw = 50.0 }}
[[lots]]
id = "PL1"
bus = 18
fleet = "seed000"
"""


def _run(folder: Path, mode: str, out: Path):
    for plugin in ("user_exchange.py", "user_controller.py"):  # beside the scenario file
        shutil.copy(PLUGINS / plugin, folder)
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.format(out=out, mode=mode))
    return run_scenario(load_scenario(path), progress=False, plots=False)


def _check_capped(summary) -> None:
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    msgs = pd.read_csv(summary.run_dir / "messages.csv")
    assert plan["exchange"] == "capped"
    assert max(abs(v) for v in plan["setpoints_kw"]["PL1"]) <= 50.0 + 1e-9
    # the PLO followed the DSO's capped schedule, except where its EVs' contracts need more (its envelope)
    above = lots[lots["setpoint_kw"].abs() > 50.0 + 1e-9]
    assert (above["setpoint_kw"] > 0).all()
    if len(above):
        events = pd.read_csv(summary.run_dir / "events.csv")
        assert (events["event"] == "schedule clipped").any()
    assert sorted(msgs["kind"]) == ["offer", "schedule"]  # one each (row order is the recorder's)


@pytest.mark.slow
def test_user_mode_by_dotted_path_runs_end_to_end(tmp_path):
    _check_capped(_run(tmp_path, "user_exchange:CappedSchedules", tmp_path / "out"))


@pytest.mark.slow
def test_user_mode_beside_the_scenario_file_needs_no_pythonpath(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(PLUGINS / "user_exchange.py", folder / "my_modes.py")
    monkeypatch.chdir(tmp_path)  # run from another working directory
    _check_capped(_run(folder, "my_modes:CappedSchedules", tmp_path / "out"))


@pytest.mark.parametrize("mode, field", [("user_exchange:Nope", "exchange.mode"),
                                         ("user_controller:FlatChargeController", "exchange.mode"),
                                         ("subprocess:Popen", "exchange.mode")])
def test_a_name_that_is_not_a_mode_is_a_clear_error(tmp_path, mode, field):
    with pytest.raises(ScenarioFileError, match=f"{field}: "):
        _run(tmp_path, mode, tmp_path / "out")


def test_options_the_mode_rejects_are_reported_as_options(tmp_path):
    shutil.copy(PLUGINS / "user_exchange.py", tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(out=tmp_path, mode="user_exchange:CappedSchedules").replace("cap_kw", "cap_watts"))
    with pytest.raises(ScenarioFileError, match="exchange.options: .*bad options"):
        load_scenario(path)
