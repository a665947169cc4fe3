"""Hour-by-hour control through mosaik: the built-in `mpc` re-plans every hour, the lots follow the revised
schedules, revisions are merged into plans.jsonl, switch operations and voltage violations are KPIs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cosim.config import parse_scenario
from cosim.runner.run import run_scenario

LOT = {"id": "PL1", "candidate_buses": [6, 18, 25], "fleet": "seed000"}


def _scenario(tmp_path, controller: dict, **extra):
    raw = {"name": "hourly", "output_dir": str(tmp_path), "lots": [{**LOT, **extra.pop("lot", {})}],
           "controller": controller, **extra}
    return parse_scenario(raw)


@pytest.fixture(scope="module")
def mpc_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mpc")
    sc = _scenario(tmp, {"name": "mpc", "switch_operations_per_day": 4,
                         "options": {"n_particles": 8, "n_iter": 20, "revise_n_iter": 5}},
                   market={"forecast_noise": {"load_sigma": 0.1, "price_sigma": 0.1}},
                   lot={"forecast_error": {"arrival_sigma_h": 1.0, "departure_sigma_h": 1.0}})
    return run_scenario(sc, progress=False, plots=False)


@pytest.mark.slow
def test_mpc_revises_every_hour_and_the_lot_follows(mpc_run):
    run = mpc_run.run_dir
    plans = [json.loads(line) for line in (run / "plans.jsonl").read_text().splitlines()]
    last = plans[-1]
    assert last["day_start_hour"] == 0 and last["controller"] == "mpc"
    # no events.csv: nothing happened worth an event (every revision used, every setpoint delivered)
    events = pd.read_csv(run / "events.csv") if (run / "events.csv").is_file() else pd.DataFrame(columns=["event"])
    fallbacks = int((events["event"] == "planning fallback").sum()) if len(events) else 0
    assert last["info"]["revisions"] + fallbacks >= 23  # every hour but the day start: revised or fallen back
    assert mpc_run.kpis["plan_revisions"] == last["info"]["revisions"] > 0
    messages = pd.read_csv(run / "messages.csv")
    revised = messages[messages["summary"] == "revised setpoints"]
    assert len(revised) == last["info"]["revisions"] and set(revised["hour"]) <= set(range(1, 24))
    hourly_offers = messages[messages["summary"] == "centralised hourly offer"]
    assert sorted(hourly_offers["hour"]) == list(range(1, 24))
    # the lot was sent the merged plan's setpoint in every hour (day-ahead or revised, whichever was in force)
    plo = pd.read_csv(run / "plo.csv")
    assert plo["plo_setpoint_kw"].tolist() == pytest.approx(last["setpoints_kw"]["PL1"], abs=1e-6)


@pytest.mark.slow
def test_control_kpis_are_reported(mpc_run):
    kpis = mpc_run.kpis
    assert isinstance(kpis["switch_operations"], int) and kpis["switch_operations"] >= 0
    assert isinstance(kpis["voltage_violation_hours"], int) and 0 <= kpis["voltage_violation_hours"] <= 24
    grid = pd.read_csv(mpc_run.run_dir / "grid.csv")
    assert kpis["voltage_violation_hours"] == int((grid["v_min_pu"] < 0.9 - 1e-9).sum()
                                                  + (grid["v_max_pu"] > 1.05 + 1e-9).sum())


@pytest.mark.slow
def test_without_revise_nothing_happens_hourly(tmp_path):
    sc = _scenario(tmp_path, {"name": "eo", "options": {"n_particles": 8, "n_iter": 20}})
    summary = run_scenario(sc, progress=False, plots=False)
    messages = pd.read_csv(summary.run_dir / "messages.csv")
    assert set(messages["hour"]) == {0}  # the day-ahead exchange only
    assert summary.kpis["plan_revisions"] == 0 and summary.kpis["switch_operations"] == 0
