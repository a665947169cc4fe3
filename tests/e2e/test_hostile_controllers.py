"""Hostile or broken controllers never crash a run: every plan is checked before use, every controller has a
time limit and runs where it cannot exit or kill the co-simulation; the events and the manifest say why."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cosim.config import ScenarioFileError, parse_scenario
from cosim.runner.run import run_scenario

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"  # the user plug-ins the tests name, as beside a scenario

LOT = {"id": "PL1", "candidate_buses": [18, 25], "fleet": "seed000"}


def run(tmp_path, name, options=None, **controller):
    raw = {"name": "hostile", "network": {"name": "ieee33"}, "lots": [LOT], "output_dir": str(tmp_path),
           "controller": {"name": name, "options": options or {}, **controller}}
    summary = run_scenario(parse_scenario(raw, plugin_folder=PLUGINS), progress=False, plots=False)
    events = pd.read_csv(summary.run_dir / "events.csv") if (summary.run_dir / "events.csv").is_file() else None
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    return summary, events, manifest


@pytest.mark.parametrize("kind, rule", [("unknown_lot", "lots"), ("bus", "bus"), ("loop", "topology"),
                                        ("island", "topology"), ("nan", "setpoints"), ("23_hours", "setpoints"),
                                        ("energy", "energy")])
def test_a_plan_breaking_a_rule_falls_back_and_names_the_rule(tmp_path, kind, rule):
    summary, events, manifest = run(tmp_path, "user_controller:HostileController", {"kind": kind})
    assert manifest["status"] == "completed" and summary.kpis["fallbacks"] == 1
    detail = manifest["fallbacks"][0]["detail"]
    assert f"plan rejected, rule {rule}: " in detail and "lots on their own schedules" in detail
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert json.loads(grid["open_branches"].iloc[0]) == [33, 34, 35, 36, 37]  # base topology, not the plan's


def test_setpoints_beyond_the_offer_are_clipped_and_reported(tmp_path):
    summary, events, manifest = run(tmp_path, "user_controller:HostileController", {"kind": "bounds"})
    assert summary.kpis["fallbacks"] == 0
    repaired = events[events["event"] == "plan repaired"]
    assert len(repaired) >= 1 and "clipped to its offered bounds" in repaired["detail"].iloc[0]
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert max(plan["setpoints_kw"]["PL1"]) < 789.0


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


def test_a_plan_without_predictions_is_evaluated_with_the_fast_flow(tmp_path):
    bare, _, _ = run(tmp_path / "bare", "user_controller:HostileController", {"kind": "no_predictions"})
    same, _, _ = run(tmp_path / "eo", "eo", {"n_particles": 4, "n_iter": 2, "seed": 0})  # the same plan, predicted
    assert bare.kpis["planned_energy_losses_kwh"] > 0  # filled by evaluate_plan, not 0
    for key in ("planned_energy_losses_kwh", "max_abs_loss_gap_pct", "energy_losses_kwh"):
        assert bare.kpis[key] == pytest.approx(same.kpis[key], rel=1e-6), key


@pytest.mark.parametrize("name, reason", [("user_controller:SleepingController", "within time_limit_s = 1 s"),
                                          ("user_controller:ExitingController", "sys.exit(3)"),
                                          ("user_controller:InterruptingController", "raised KeyboardInterrupt"),
                                          ("user_controller:CrashingController", "worker died")])
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
