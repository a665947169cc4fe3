"""Issue 25 item 1, part D: the run folder, KPIs, figures and scenario checks at 30- and 15-minute steps.

The KPI tests write one day of tables with the project's `RunWriter` twice: hourly, and at 15 minutes with each
hour's values held over its four quarters (powers, prices, voltages) and each hour's energies split over them
(lots' kWh per step). Every input is a dyadic number (a multiple of 1/64 well below 2^40), so sums of them are
exact in floating point: the energies must then come out EXACTLY equal; quantities that divide by 24 or by a
day's step count (a PEV-day's fixed cost, the day's mean load of OF2) agree to 1e-12.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_checks import run_fails
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.cli import main
from cosim.config import (
    ScenarioFileError,
    load_scenario,
    parse_scenario,
)
from cosim.results import RunFolder, RunWriter, finish_manifest, load_run, start_manifest
from cosim.runner.figure_style import step_h_of, steps, time_axis
from cosim.runner.postprocess import grid_kpis, postprocess
from cosim.timebase import resample

ROOT = Path(__file__).resolve().parents[2]
HOURS = np.arange(24)
LOTS = ("PL1", "PL2")
RAW = {"name": "steps", "network": {"name": "ieee33"}, "controller": {"name": "eo"}}

# hourly inputs, all dyadic
LOSSES_KW = 10.0 + 2.5 * (HOURS % 5)
LOAD_KW = 2000.0 + 100.0 * (HOURS % 7) - 37.5 * (HOURS % 3)
LOT_KW = {"PL1": np.where(HOURS < 6, 120.0, np.where((HOURS >= 17) & (HOURS <= 19), -80.0, 0.0)),
          "PL2": np.where(HOURS >= 21, 64.5, np.where(HOURS == 12, -32.25, 0.0))}
PRICE = 0.0625 + 0.015625 * (HOURS % 6)
V_MIN = np.where(HOURS == 12, 0.875, 0.9375 + 0.0078125 * (HOURS % 4))
VPD = 0.25 + 0.0625 * (HOURS % 3)
PLANNED_LOSS_KW = LOSSES_KW - 0.5
MISSED_KW = 20.0  # PL1's setpoint at hour 3 exceeds what it delivered: "setpoint not delivered"
UNMET_KWH = 3.5  # PL1, at hour 8's departures


def _write_day(run_dir: Path, step_minutes: int) -> RunFolder:
    """One day of tables (grid, bus_voltages, lots, prices), a day-ahead plan and a manifest, at `step_minutes`."""
    k = 60 // step_minutes
    step_h = step_minutes / 60
    writer = RunWriter(run_dir)
    start_manifest(run_dir, RAW, None, 0, step_minutes)
    for h in HOURS:
        for q in range(k):
            t = int(h) if k == 1 else float(h + q * step_h)  # ints at 60 minutes, as the recorder writes them
            lot_kw = {lot: float(LOT_KW[lot][h]) for lot in LOTS}
            writer.append("grid", [{"hour": t, "losses_kw": float(LOSSES_KW[h]),
                                    "p_grid_kw": float(LOAD_KW[h] + LOSSES_KW[h] + sum(lot_kw.values())),
                                    "v_min_pu": float(V_MIN[h]), "v_max_pu": 1.0, "vpd_pu": float(VPD[h]),
                                    "converged": bool(h != 5)}])
            writer.append("bus_voltages", [{"hour": t, "bus": b, "vm_pu": 1.0 if b == 1 else float(V_MIN[h])}
                                           for b in (1, 2, 3)])
            writer.append("prices", [{"hour": t, "energy_price_usd_per_kwh": float(PRICE[h])}])
            rows = []
            for lot in LOTS:
                p = lot_kw[lot]
                setpoint = p + (MISSED_KW if (lot == "PL1" and h == 3) else 0.0)
                rows.append({"hour": t, "id": lot, "p_kw": p, "setpoint_kw": setpoint, "undelivered_kw": setpoint - p,
                             "evs_present": 10, "energy_charged_kwh": max(p, 0.0) * step_h,
                             "energy_discharged_kwh": max(-p, 0.0) * step_h,
                             "unmet_energy_kwh": UNMET_KWH if (lot == "PL1" and h == 8 and q == 0) else 0.0})
            writer.append("lots", rows)

    def held(values: np.ndarray) -> list[float]:
        return resample(values, 60, step_minutes).tolist()

    writer.append_plan({"day_start_hour": 0, "step_minutes": step_minutes,
                        "predicted_hourly": {"loss_kw": held(PLANNED_LOSS_KW), "v_min_pu": held(V_MIN),
                                             "p_grid_kw": held(LOAD_KW + PLANNED_LOSS_KW)},
                        "setpoints_kw": {lot: held(LOT_KW[lot]) for lot in LOTS},
                        "info": {"rounds": 1, "converged": True}})
    writer.close()
    return RunFolder(run_dir)


def _postprocessed(tmp_path: Path, step_minutes: int) -> tuple[RunFolder, dict]:
    folder = _write_day(tmp_path / f"run{step_minutes}", step_minutes)
    scenario = dataclasses.replace(load_scenario(), step_minutes=step_minutes)
    return folder, postprocess(folder, scenario)


EXACT = ("hours", "energy_losses_kwh", "energy_from_grid_kwh", "v_min_pu", "vpd_pu", "non_converged_hours",
         "voltage_violation_hours", "lot_energy_charged_kwh", "lot_energy_discharged_kwh", "unmet_energy_kwh",
         "undelivered_energy_kwh", "planned_energy_losses_kwh", "max_abs_loss_gap_pct", "max_abs_lot_gap_kw",
         "voltage_outside_pu_h", "dso_losses_cost_usd", "dso_unmet_penalty_usd")
CLOSE = ("plo_profit_usd", "plo_profit_usd_PL1", "plo_profit_usd_PL2", "dso_cost_usd", "social_cost_usd",
         "load_curve_deviation_kw")


@pytest.mark.parametrize("step_minutes", [15, 30])
def test_a_day_at_a_finer_step_gives_the_hourly_days_kpis(tmp_path, step_minutes):
    hourly_folder, hourly = _postprocessed(tmp_path, 60)
    folder, kpis = _postprocessed(tmp_path, step_minutes)
    for name in EXACT:
        assert kpis[name] == hourly[name], (name, kpis[name], hourly[name])
    for name in CLOSE:
        assert kpis[name] == pytest.approx(hourly[name], rel=1e-12), name
    # the hourly figures are what the inputs say (nothing lost or doubled on either side)
    assert hourly["energy_losses_kwh"] == float(LOSSES_KW.sum())
    assert hourly["lot_energy_charged_kwh"] == float(sum(np.clip(LOT_KW[lot], 0, None).sum() for lot in LOTS))
    assert hourly["undelivered_energy_kwh"] == MISSED_KW and hourly["unmet_energy_kwh"] == UNMET_KWH
    assert hourly["non_converged_hours"] == 1 and hourly["hours"] == 24 and isinstance(hourly["hours"], int)
    assert hourly["voltage_outside_pu_h"] > 0 and hourly["voltage_violation_hours"] == 1
    # the tables written after the run: one row per step, hours in hours
    n = 24 * 60 // step_minutes
    pvr = folder.table("plan_vs_reality")
    assert len(pvr) == n and pvr["hour"].iloc[1] == pytest.approx(step_minutes / 60)
    assert pvr["planned_lot_kw"].to_numpy() == pytest.approx(np.repeat(LOT_KW["PL1"] + LOT_KW["PL2"], n // 24))
    assert pvr["planned_loss_kw"].to_numpy() == pytest.approx(np.repeat(PLANNED_LOSS_KW, n // 24))
    ledger = folder.table("plo_ledger")
    assert len(ledger) == 2 * n
    events = folder.table("events")
    missed = events[events["event"] == "setpoint not delivered"]
    assert missed["hour"].tolist() == [3 + q * step_minutes / 60 for q in range(60 // step_minutes)]
    hourly_missed = hourly_folder.table("events")
    assert hourly_missed["hour"].tolist() == [3]


def test_hourly_tables_keep_integer_hours_and_their_kpis(tmp_path):
    """At 60 minutes nothing changes: integer hours in every table written after the run, hour counts as ints."""
    folder, kpis = _postprocessed(tmp_path, 60)
    for table in ("plan_vs_reality", "plo_ledger", "events"):
        assert pd.api.types.is_integer_dtype(folder.table(table)["hour"]), table
    assert all(isinstance(kpis[k], int) for k in ("hours", "non_converged_hours", "voltage_violation_hours"))
    assert folder.last_recorded_hour() == 23 and isinstance(folder.last_recorded_hour(), int)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4000), min_size=24, max_size=24), st.sampled_from([15, 30]))
def test_energy_is_conserved_by_the_kpis_at_any_step(quarter_kw, step_minutes):
    """Any hourly losses and import (multiples of 0.25 kW) held over the finer steps give the same kWh exactly."""
    scenario = load_scenario()
    hourly_kw = np.asarray(quarter_kw, float) / 4
    n = 24 * 60 // step_minutes

    def grid(minutes: int, values: np.ndarray) -> pd.DataFrame:
        k = len(values)
        return pd.DataFrame({"hour": np.arange(k) * minutes / 60, "losses_kw": values, "p_grid_kw": 10 * values,
                             "v_min_pu": 0.95, "vpd_pu": values / 1024, "converged": True})

    coarse = grid_kpis(grid(60, hourly_kw), scenario)
    fine = grid_kpis(grid(step_minutes, resample(hourly_kw, 60, step_minutes)), scenario, step_minutes / 60)
    assert len(resample(hourly_kw, 60, step_minutes)) == n
    for name in ("energy_losses_kwh", "energy_from_grid_kwh", "vpd_pu", "hours"):
        assert fine[name] == coarse[name], name


# ------------------------------------------------------------------ the run folder


def test_the_manifest_carries_the_step_and_where_a_run_stopped_in_hours(tmp_path):
    folder = _write_day(tmp_path / "run", 15)
    assert json.loads((folder.path / "manifest.json").read_text())["step_minutes"] == 15
    last = folder.last_recorded_hour()
    assert last == 23.75
    final = finish_manifest(folder.path, {"_t0": 0.0, **folder.manifest}, "completed", last)
    on_disk = json.loads((folder.path / "manifest.json").read_text())
    assert final["step_minutes"] == on_disk["step_minutes"] == 15 and on_disk["last_recorded_hour"] == 23.75
    assert folder.step_minutes == 15 and folder.step_h == 0.25 and load_run(folder.path).step_minutes == 15
    (folder.path / "tracebacks.txt").write_text("=== hour 23.75: planning fallback ===\ncause: rule bounds\n\n"
                                                "=== hour 24: planning fallback ===\ncause: timeout\n")
    assert [(b["hour"], b["cause"]) for b in folder.tracebacks()] == [(23.75, "rule bounds"), (24, "timeout")]
    # a folder written before the step was recorded reads as hourly
    old = dict(on_disk)
    del old["step_minutes"]
    (folder.path / "manifest.json").write_text(json.dumps(old))
    assert RunFolder(folder.path).step_minutes == 60 and load_run(folder.path).step_minutes == 60


def test_figures_and_report_draw_from_a_15_minute_run_folder(tmp_path):
    from cosim.runner.report import make_plots, read_tables  # noqa: PLC0415 - matplotlib

    folder, _ = _postprocessed(tmp_path, 15)
    tables = read_tables(folder, folder.manifest)
    assert tables.step_h == 0.25 and len(tables.grid) == 96
    files = make_plots(folder.path)
    names = {p.stem for p in files}
    assert {"load_curve", "losses", "voltage", "lots", "plan_vs_reality", "plo_cash_flow", "report"} <= names
    captions = json.loads((folder.path / "plots" / "captions.json").read_text())
    assert "15-minute step" in captions["lots"] and "15-minute step" in captions["voltage"]
    total = float(LOSSES_KW.sum())
    assert f"{total:,.1f} kWh in total" in captions["losses"]  # kW x 0.25 h over 96 steps: the hourly total
    page = (folder.path / "report.html").read_text()
    assert "step (minutes)" in page and "23.75" in page


def test_a_15_minute_curve_has_96_steps_a_day_on_an_axis_in_hours():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    hours = np.arange(96) * 0.25
    assert step_h_of(hours) == 0.25 and step_h_of(np.arange(24)) == 1.0 and step_h_of([5.0]) == 1.0
    fig, ax = plt.subplots()
    try:
        (line,) = steps(ax, hours, np.arange(96.0))
        time_axis(ax, hours)
        x = line.get_xdata()
        assert len(x) == 97 and x[-1] == 24.0 and x[1] == 0.25
        assert ax.get_xlim() == (0.0, 24.0) and ax.get_xlabel() == "time (h)"
        (hourly,) = steps(ax, np.arange(24), np.ones(24))
        assert hourly.get_xdata()[-1] == 24.0
    finally:
        plt.close(fig)


# ------------------------------------------------------------------ what only works hourly is refused


BASE = '[simulation]\nstep_minutes = 15\n'


def test_a_controller_declaring_hourly_only_is_refused_at_a_finer_step(tmp_path, capsys):
    """A user's controller class (a real module beside the scenario) that declares HOURLY_ONLY: one line, exit 2."""
    (tmp_path / "hourly_ctrl.py").write_text(
        "class Hourly:\n    name = 'hourly'\n    HOURLY_ONLY = True\n\n    def plan(self, problem):\n"
        "        raise AssertionError('never called')\n")
    line = run_fails(tmp_path, BASE + '[controller]\nname = "hourly_ctrl:Hourly"\n', capsys)
    assert "simulation.step_minutes: 15" in line and "'hourly_ctrl:Hourly'" in line and "allowed with it: 60" in line


@pytest.mark.parametrize("mode", ["iterative", "admm"])
def test_exchange_modes_that_exchange_hourly_arrays_are_refused_at_a_finer_step(tmp_path, capsys, mode):
    line = run_fails(tmp_path, BASE + f'[exchange]\nmode = "{mode}"\n', capsys)
    assert "simulation.step_minutes: 15" in line and repr(mode) in line and "centralised, signals, none" in line


def test_multi_season_runs_are_refused_at_a_finer_step(tmp_path, capsys):
    line = run_fails(tmp_path, '[simulation]\nstep_minutes = 30\n[market]\nprofile = "seasonal"\n'
                               'seasons = ["winter", "summer"]\n', capsys)
    assert "simulation.step_minutes: 30" in line and "market.seasons" in line


def test_what_follows_the_step_is_accepted_and_hourly_stays_allowed_for_all():
    for mode in ("centralised", "signals", "none"):
        assert parse_scenario({"simulation": {"step_minutes": 15}, "exchange": {"mode": mode}}).steps == 96
    for controller in ("eo", "pso", "ga", "rule", "none", "milp", "mpc"):  # every built-in follows the step
        assert parse_scenario({"simulation": {"step_minutes": 30}, "controller": {"name": controller}}).steps == 48
    assert parse_scenario({"exchange": {"mode": "admm"}}).steps == 24


def test_a_comparison_refuses_variants_the_step_does_not_allow_before_any_run(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(BASE)
    out = tmp_path / "out"
    assert main(["compare", str(path), "--what", "exchange", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "simulation.step_minutes: 15" in err[0] and "'iterative'" in err[0]
    assert not out.exists()


def test_the_admm_modes_convex_day_is_hourly_only():
    from cosim.runner.exchange_day import convex_day  # noqa: PLC0415

    with pytest.raises(ScenarioFileError, match=r"simulation\.step_minutes: 15 .*allowed: 60"):
        convex_day(dataclasses.replace(load_scenario(), step_minutes=15))


@pytest.mark.slow  # reads two SimBench scenarios (their profiles are checked): about 4 s
def test_the_shipped_15_minute_scenario_reads():
    scenario = load_scenario(ROOT / "scenarios" / "simbench_mv_urban_15min.toml")
    hourly = load_scenario(ROOT / "scenarios" / "simbench_mv_urban.toml")
    assert scenario.step_minutes == 15 and scenario.steps == 96 and scenario.clock.time_resolution_s == 900
    assert scenario.market_profile == hourly.market_profile and scenario.network == hourly.network
    assert [lot.candidate_buses for lot in scenario.lots] == [lot.candidate_buses for lot in hourly.lots]
    # the hourly scenario's controller and budget, so that scripts/step_comparison.py compares like with like
    assert (scenario.controller, scenario.controller_options) == (hourly.controller, hourly.controller_options)
    assert "simbench_mv_urban_15min.toml" in (ROOT / "scenarios" / "README.md").read_text()
