"""Hostile or broken controllers never crash a run: every plan is checked before use, every controller has a
time limit and runs where it cannot exit or kill the co-simulation; the events and the manifest say why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cosim.config import ScenarioFileError, parse_scenario
from cosim.runner.run import run_scenario

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"  # the user plug-ins the tests name, as beside a scenario

LOT = {"id": "PL1", "candidate_buses": [18, 25], "fleet": "seed000"}


def run(tmp_path, name, options=None, engine="fast", **controller):
    """A day of ieee33 with `name` as the controller; the grid stepped by the fast engine unless the test compares
    the plan with pandapower's measurement (the plans and their checks are the subject: 0.4 s of CPU less a day)."""
    raw = {"name": "hostile", "network": {"name": "ieee33", "engine": engine}, "lots": [LOT],
           "output_dir": str(tmp_path),
           "controller": {"name": name, "options": options or {}, **controller}}
    summary = run_scenario(parse_scenario(raw, plugin_folder=PLUGINS), progress=False, plots=False)
    events = pd.read_csv(summary.run_dir / "events.csv") if (summary.run_dir / "events.csv").is_file() else None
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    return summary, events, manifest


@pytest.mark.parametrize("kind, rule", [("unknown_lot", "lots"), ("bus", "bus"), ("loop", "topology"),
                                        ("island", "topology"), ("nan", "setpoints"), ("23_hours", "setpoints"),
                                        ("energy", "energy")])
@pytest.mark.slow
def test_a_plan_breaking_a_rule_falls_back_and_names_the_rule(tmp_path, kind, rule):
    summary, events, manifest = run(tmp_path, "user_controller:HostileController", {"kind": kind})
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 1
    detail = manifest["fallbacks"][0]["detail"]
    assert f"plan rejected, rule {rule}: " in detail and "lots on their own schedules" in detail
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert json.loads(grid["open_branches"].iloc[0]) == [33, 34, 35, 36, 37]  # base topology, not the plan's


@pytest.mark.slow
def test_setpoints_beyond_the_offer_are_clipped_and_reported(tmp_path):
    summary, events, manifest = run(tmp_path, "user_controller:HostileController", {"kind": "bounds"})
    assert summary.kpis["fallbacks"] == 0
    repaired = events[events["event"] == "plan repaired"]
    assert len(repaired) >= 1 and "clipped to its offered bounds" in repaired["detail"].iloc[0]
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert max(plan["setpoints_kw"]["PL1"]) < 789.0


@pytest.mark.slow
def test_a_plan_at_maximum_power_every_hour_is_clipped_into_the_envelope_and_then_delivered(tmp_path):
    """The issue's hostile controller: 10 MW in every hour. The check clips it to the hours' bounds, then to what the
    EVs can store (no fallback), and the lot delivers the plan it got within 1 kWh."""
    summary, events, manifest = run(tmp_path, "user_controller:HostileController", {"kind": "max_power"})
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 0
    repaired = events[events["event"] == "plan repaired"]["detail"].tolist()
    assert any(r.startswith("bounds: lot 'PL1' clipped") for r in repaired)
    assert any(r.startswith("energy: lot 'PL1' clipped to what its EVs can store") for r in repaired)
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert lots["setpoint_kw"].tolist() == pytest.approx(plan["setpoints_kw"]["PL1"])  # the lot got the clipped plan
    assert lots["undelivered_kw"].abs().sum() <= 1.0  # and delivered it (kWh over the day)
    assert summary.kpis["unmet_energy_kwh"] <= 1e-6  # every contract kept


@pytest.mark.slow
def test_a_plan_without_predictions_is_evaluated_with_the_fast_flow(tmp_path):
    bare, _, _ = run(tmp_path / "bare", "user_controller:HostileController", {"kind": "no_predictions"},
                     engine="pandapower")
    same, _, _ = run(tmp_path / "eo", "eo", {"n_particles": 4, "n_iter": 2, "seed": 0},  # the same plan, predicted
                     engine="pandapower")
    assert bare.kpis["planned_energy_losses_kwh"] > 0  # filled by evaluate_plan, not 0
    for key in ("planned_energy_losses_kwh", "max_abs_loss_gap_pct", "energy_losses_kwh"):
        assert bare.kpis[key] == pytest.approx(same.kpis[key], rel=1e-6), key


@pytest.mark.parametrize("name, reason", [("user_controller:SleepingController", "within time_limit_s = 1 s"),
                                          ("user_controller:ExitingController", "sys.exit(3)"),
                                          ("user_controller:InterruptingController", "raised KeyboardInterrupt"),
                                          ("user_controller:CrashingController", "worker died")])
@pytest.mark.slow
def test_a_blocking_exiting_or_crashing_controller_falls_back(tmp_path, name, reason):
    summary, _, manifest = run(tmp_path, name, time_limit_s=1.0)
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 1
    assert reason in manifest["fallbacks"][0]["detail"]
    assert summary.timing["run_wall_s"] < 30


@pytest.mark.parametrize("controller, field", [({"time_limit_s": 0}, "controller.time_limit_s"),
                                               ({"isolation": "yes"}, "controller.isolation"),
                                               ({"options": {"n_particles": 0}}, "controller.options")])
def test_limits_and_budgets_that_cannot_work_are_bad_input(tmp_path, controller, field):
    with pytest.raises(ScenarioFileError, match=field):
        parse_scenario({"controller": {"name": "eo", **controller}, "lots": [], "output_dir": str(tmp_path)})


@pytest.mark.slow
def test_setpoints_a_lot_cannot_follow_are_reported_not_silent(tmp_path, monkeypatch):
    # plans now stay inside the envelope, so only a fleet that differs from its forecast leaves setpoints undelivered
    monkeypatch.setitem(LOT, "forecast_error", {"source": "elaadnl", "segment": "workplace", "share": 0.5})
    summary, events, manifest = run(tmp_path, "eo", {"n_particles": 4, "n_iter": 2, "seed": 0})
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    missed = events[events["event"] == "setpoint not delivered"]
    assert len(missed) >= 1 and set(missed["source"]) == {"PL1"}
    for row in missed.itertuples():
        lot = lots[lots["hour"] == row.hour].iloc[0]
        assert abs(lot["undelivered_kw"]) > 1.0 and f"{lot['p_kw']:.1f} kW" in row.detail
    assert summary.kpis["undelivered_energy_kwh"] == pytest.approx(lots["undelivered_kw"].clip(lower=0).sum())
    assert any(e["event"] == "setpoint not delivered" for e in manifest["data_events"])


# ---- the returned plan as the attack (issue 21): plain data across the boundary, checked is used ----------------
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
ROOT = Path(__file__).resolve().parents[2]
PAYLOAD_SCENARIO = """name = "payload"
output_dir = "out"
[network]
name = "ieee33"
engine = "fast"
[controller]
name = "hostile_plans:PayloadController"
time_limit_s = 60
options = {{ action = "{action}", marker = "{marker}", seconds = 90 }}
[[lots]]
id = "PL1"
candidate_buses = [18, 25]
fleet = "seed000"
"""


@pytest.mark.slow
def test_a_plan_whose_info_exits_when_unpickled_falls_back_and_the_run_completes(tmp_path):
    """A real `cosim run` of a controller (a module file beside the scenario) whose plan holds, in `info`, an object
    whose `__reduce__` is `os._exit(7)`. Unpickled in the run's process it ended the run: exit 7, the manifest left
    at "running", no tables. The plan crosses as plain data: the object is refused in the worker, naming the field,
    and the run completes with exit 0."""
    shutil.copy(PLUGINS / "hostile_plans.py", tmp_path)
    (tmp_path / "payload.toml").write_text(PAYLOAD_SCENARIO.format(action="exit", marker=tmp_path / "marker"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", "run", "payload.toml", "--quiet", "--no-plots"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and len(manifest["fallbacks"]) == 1
    detail = manifest["fallbacks"][0]["detail"]
    assert detail.startswith("plan rejected, rule plain-data: info['payload'] holds a Payload object"), detail
    assert (run_dir / "plans.jsonl").is_file() and (run_dir / "grid.csv").is_file()


@pytest.mark.parametrize("action", ["sleep", "shell"])
@pytest.mark.slow
def test_a_plan_whose_info_runs_code_when_unpickled_runs_nothing(tmp_path, action):
    """The same attack with a 90 s `time.sleep` (past the 60 s time limit: it slept in the run's process and the plan
    was accepted) and with a shell command that creates a marker file (it ran): the object is refused in the worker,
    the DSO falls back naming the field, nothing sleeps and the marker is never created."""
    marker = tmp_path / "marker"
    summary, _, manifest = run(tmp_path / "out", "hostile_plans:PayloadController",
                               {"action": action, "marker": str(marker), "seconds": 90}, time_limit_s=60)
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 1
    detail = manifest["fallbacks"][0]["detail"]
    assert detail.startswith("plan rejected, rule plain-data: info['payload'] holds a Payload object"), detail
    assert not marker.exists()
    assert summary.timing["run_wall_s"] < 60  # nothing slept in the run's process


@pytest.mark.parametrize("isolation", [True, False])
@pytest.mark.slow
def test_an_array_like_that_changes_after_its_first_read_is_read_once_and_used_as_checked(tmp_path, isolation):
    """Setpoints that read as a valid plan once and as -900 kW in every hour afterwards: they passed the check and
    -900 kW was used (plans.jsonl: feasible, no event). Read once where the plan is converted, the values checked
    are the values recorded and sent to the lot."""
    summary, events, manifest = run(tmp_path, "hostile_plans:ShiftingSetpointsController", isolation=isolation)
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 0
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert min(plan["setpoints_kw"]["PL1"]) > -899.0
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    assert lots["setpoint_kw"].tolist() == pytest.approx(plan["setpoints_kw"]["PL1"])


@pytest.mark.parametrize("isolation", [True, False])
@pytest.mark.slow
def test_open_branches_that_change_after_validation_are_read_once_and_the_run_completes(tmp_path, isolation):
    """Open branches that read as the plan's radial topology once and as a closed loop with an unknown id afterwards
    crashed the run (GridError, exit 1). Read once, the topology checked is the one the grid gets."""
    summary, _, manifest = run(tmp_path, "hostile_plans:ShiftingBranchesController", isolation=isolation)
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 0
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert json.loads(grid["open_branches"].iloc[0]) == plan["open_branches"] and 999 not in plan["open_branches"]


@pytest.mark.slow
def test_a_controller_in_the_dsos_process_cannot_widen_the_lots_it_is_checked_against(tmp_path):
    """With `isolation = false`, a controller that widened `problem.lots[*].max_charge_kw` (and dropped the lot's
    envelope and EVs) had its 1000 kW plan accepted unclipped. It now plans on a read-only copy: the plan is clipped
    to the lot's real bounds ("plan repaired") and the lot gets the clipped plan."""
    summary, events, manifest = run(tmp_path, "hostile_plans:WideningController", isolation=False)
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 0
    repaired = events[events["event"] == "plan repaired"]["detail"].tolist()
    assert any(r.startswith("bounds: lot 'PL1' clipped") for r in repaired), repaired
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert max(plan["setpoints_kw"]["PL1"]) < 1000.0 - 1.0
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    assert lots["setpoint_kw"].tolist() == pytest.approx(plan["setpoints_kw"]["PL1"])


@pytest.mark.parametrize("kind, failure", [
    ("feasible_array", "rule feasible: feasible must be True or False, got an array of shape (2,)"),
    ("hourly_shape", "rule predictions: predicted_hourly['loss_kw'] must be 24 finite numbers, got shape (23,)")])
@pytest.mark.slow
def test_a_field_of_the_wrong_type_or_shape_falls_back_naming_the_field(tmp_path, kind, failure):
    """`feasible = np.array([True, False])` and a `predicted_hourly` of the wrong shape gave ValueError, exit 1."""
    summary, _, manifest = run(tmp_path, "hostile_plans:BadFieldController", {"kind": kind})
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 1
    assert f"plan rejected, {failure}" in manifest["fallbacks"][0]["detail"]
