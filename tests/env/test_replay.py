"""The environment runs the real co-simulation: replaying `cosim run`'s plan through it reproduces its KPIs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cosim.config import load_scenario
from cosim.env import DsoEnv
from cosim.env.spaces import hour_bounds_kw
from cosim.runner.run import run_scenario

MEASURED = ("energy_losses_kwh", "energy_from_grid_kwh", "v_min_pu", "vpd_pu", "voltage_violation_hours",
            "unmet_energy_kwh")


def replay_action(env: DsoEnv, plan: dict, info: dict) -> np.ndarray:
    """The action that makes the DSO decide, at this step, what `plan` (a plans.jsonl row) decided."""
    layout = env.layout
    hour = info["hour"]
    a = np.zeros(layout.size)
    a[:layout.n_topology] = layout.encode_topology(plan["open_branches"])
    for i, lot_id in enumerate(env.lot_ids):
        a[layout.n_topology + i] = layout.encode_bus(i, plan["lot_buses"][lot_id])
        schedule = np.asarray(plan["setpoints_kw"][lot_id], float)
        if info["day_ahead"]:
            offer = next(lot for lot in env.decision_point.problem.lots if lot.lot_id == lot_id)
            a[layout.day_schedule_slice(i)] = layout.encode_setpoint(schedule, *hour_bounds_kw(offer))
        else:
            lo, hi = info["ranges_kw"][lot_id]
            a[layout.n_topology + layout.n_lots + i] = layout.encode_setpoint(schedule[hour], lo, hi)
    return a


def test_replaying_cosim_runs_plan_reproduces_its_kpis(small_scenario):
    """`cosim run` with EO (a topology, a bus and a day's schedule), then an episode whose policy sends that plan:
    the measured KPIs are the same (the action's scaling round-trips to 1e-13 kW)."""
    scenario = load_scenario(small_scenario)
    summary = run_scenario(scenario, progress=False, plots=False)
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    env = DsoEnv(scenario)
    try:
        obs, info = env.reset(seed=0)
        done, kept = False, 0
        while not done:
            obs, reward, done, truncated, info = env.step(replay_action(env, plan, info))
            assert info["clipped_actions"] == 0
            kept += info["decided"]["kept_plan_in_force"]
        kpis = env.kpis()
    finally:
        env.close()
    assert kept == 23  # every hour after the first left the plan in force: the DSO sent no revision (KEEP_PLAN)
    for key in MEASURED:
        assert kpis[key] == pytest.approx(summary.kpis[key], rel=1e-9, abs=1e-9), key
    # and every other KPI the run reports (lot energies, PLO profit, welfare ledger), to rounding; but the message
    # traffic: the DSO decides hour by hour, so each PLO also sends its hourly offer
    numeric = {k: v for k, v in summary.kpis.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("message")}
    assert len(numeric) > 10
    differ = {k: (kpis.get(k), v) for k, v in numeric.items()
              if kpis.get(k) != pytest.approx(v, rel=1e-9, abs=1e-9)}
    assert not differ
