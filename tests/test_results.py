"""The run-folder object: file names and raw readers in one place (`RunFolder`), `load_run` for users (`Run`:
timestamps, long forms, one row per EV visit, Parquet as well as CSV)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cosim.errors import InputError
from cosim.results import KPIS, MANIFEST, PLANS, Run, RunFolder, RunWriter, compact_sessions, load_run

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset


def make_run(tmp_path, start_date=None):
    folder = RunFolder(tmp_path / "run")
    writer = RunWriter(folder.path)
    writer.append("grid", [{"hour": 0, "id": "grid", "losses_kw": 1.5}, {"hour": 1, "id": "grid", "losses_kw": 2.0}])
    writer.append("bus_voltages", [{"hour": h, "bus": b, "vm_pu": 1.0 - 0.01 * b * (h + 1)}
                                   for h in (0, 1) for b in (1, 2, 3)])
    writer.append("evs", [  # hour 0: both in the lot; hour 1: ev1 left (its final row), ev2 still there
        {"hour": 0, "ev_id": "ev1", "lot_id": "PL1", "status": "plugged", "arrival_h": 0.0, "departure_h": 1.5,
         "energy_delivered_kwh": 2.0, "soc_departure": None, "contract_met": None},
        {"hour": 0, "ev_id": "ev2", "lot_id": "PL1", "status": "plugged", "arrival_h": 0.25, "departure_h": 30.0,
         "energy_delivered_kwh": 1.0, "soc_departure": None, "contract_met": None},
        {"hour": 1, "ev_id": "ev1", "lot_id": "PL1", "status": "departed", "arrival_h": 0.0, "departure_h": 1.5,
         "energy_delivered_kwh": 3.0, "soc_departure": 0.9, "contract_met": True},
        {"hour": 1, "ev_id": "ev2", "lot_id": "PL1", "status": "plugged", "arrival_h": 0.25, "departure_h": 30.0,
         "energy_delivered_kwh": 2.5, "soc_departure": None, "contract_met": None}])
    writer.append_plan({"day_start_hour": 0, "controller": "eo", "open_branches": [7, 9], "lot_buses": {"PL1": 6},
                        "predicted": {"of3_kwh": 3.4}, "info": {"rounds": 2, "converged": False},
                        "predicted_hourly": {"loss_kw": [1.0] * 24}})
    writer.close()
    scenario = {"name": "t"} if start_date is None else {"name": "t", "output": {"start_date": start_date}}
    folder.write_json(MANIFEST, {"status": "completed", "scenario": scenario})
    folder.write_json(KPIS, {"energy_losses_kwh": 3.5, "gap": float("nan")})
    return folder


def test_raw_tables_plans_manifest_and_kpis_are_read_from_one_place(tmp_path):
    folder = make_run(tmp_path)
    assert list(folder.grid["losses_kw"]) == [1.5, 2.0] and folder.lots.empty  # missing table: empty, not an error
    assert folder.last_recorded_hour() == 1
    assert folder.plans()[0]["info"] == {"rounds": 2, "converged": False}
    assert folder.manifest["status"] == "completed"
    assert folder.kpis == {"energy_losses_kwh": 3.5, "gap": None}  # strict JSON: NaN is written as null
    assert json.loads((folder.path / KPIS).read_text())["gap"] is None
    assert not list(folder.path.glob(".*tmp*"))  # atomic writes leave no temporary file
    with pytest.raises(AttributeError):
        _ = folder.no_such_table


def test_load_run_gives_timestamps_long_forms_and_one_row_per_visit(tmp_path):
    run = load_run(make_run(tmp_path).path)
    assert isinstance(run, Run) and "grid" in run.tables() and "lots" not in run.tables()
    grid = run.grid
    assert isinstance(grid.index, pd.DatetimeIndex) and grid.index.name == "time"
    assert list(grid.index) == [pd.Timestamp("2024-01-01 00:00"), pd.Timestamp("2024-01-01 01:00")]  # hour beginning
    assert list(grid.columns[:2]) == ["hour", "id"] and list(grid["hour"]) == [0, 1]
    bv = run.bus_voltages
    assert list(bv.columns) == ["hour", "bus", "vm_pu"] and len(bv) == 6
    assert bv.loc[bv["bus"] == 3, "vm_pu"].tolist() == pytest.approx([0.97, 0.94])
    evs = run.evs
    assert list(evs["ev_id"]) == ["ev1", "ev2"] and "hour" not in evs  # each visit's last row
    assert evs["energy_delivered_grid_kwh"].tolist() == [3.0, 2.5]  # an old name, read under the new one
    assert evs.loc[0, "arrival"] == pd.Timestamp("2024-01-01 00:00")
    assert evs.loc[1, "departure"] == pd.Timestamp("2024-01-02 06:00")
    assert np.isnan(evs.loc[1, "soc_departure"])  # unknown until it leaves: empty, not 0
    plans = run.plans
    assert plans.index[0] == pd.Timestamp("2024-01-01") and plans.loc[plans.index[0], "info_rounds"] == 2
    assert plans["predicted_of3_kwh"].tolist() == [3.4] and "predicted_hourly" not in plans
    assert run.kpis["energy_losses_kwh"] == 3.5 and run.manifest["status"] == "completed"
    assert run.lots.empty and run.lines.empty and run.messages.empty
    assert "status='completed'" in repr(run)


def test_start_date_comes_from_the_scenario(tmp_path):
    run = load_run(make_run(tmp_path, start_date="2023-07-15").path)
    assert run.grid.index[1] == pd.Timestamp("2023-07-15 01:00")
    assert run.timestamps([0.5])[0] == pd.Timestamp("2023-07-15 00:30")


def test_older_layouts_are_still_read(tmp_path):
    folder = make_run(tmp_path)
    pd.DataFrame({"hour": [0, 1], "v1": [1.0, 1.0], "v2": [0.99, 0.98]}).to_csv(folder.path / "bus_voltages.csv",
                                                                                 index=False)
    pd.DataFrame({"hour": [0], "lot_id": ["PL1"], "profit_usd": [1.0]}).to_csv(folder.path / "plo_ledger.csv",
                                                                                index=False)
    run = load_run(folder.path)
    assert run.bus_voltages[["hour", "bus"]].values.tolist() == [[0, 1], [0, 2], [1, 1], [1, 2]]
    assert list(run.plo_ledger.columns[:2]) == ["hour", "id"]


def test_parquet_tables_read_as_csv_ones(tmp_path):
    folder = make_run(tmp_path)
    before = load_run(folder.path)
    written = folder.convert_tables("parquet")
    assert {p.name for p in written} == {"grid.parquet", "bus_voltages.parquet", "evs.parquet"}
    assert not list(folder.path.glob("*.csv")) and folder.has("grid")
    after = load_run(folder.path)
    pd.testing.assert_frame_equal(after.grid, before.grid)
    pd.testing.assert_frame_equal(after.bus_voltages, before.bus_voltages)
    assert after.evs["energy_delivered_grid_kwh"].tolist() == [3.0, 2.5]
    assert folder.last_recorded_hour() == 1
    assert folder.convert_tables("csv") == []
    with pytest.raises(InputError, match="table format"):
        folder.convert_tables("xlsx")
    folder.write_table("grid", folder.grid)  # a rewritten table replaces its Parquet copy
    assert folder.table_path("grid").suffix == ".csv" and not (folder.path / "grid.parquet").exists()


def test_compact_sessions_keeps_each_visits_last_row():
    rows = pd.DataFrame({"hour": [0, 0, 1], "lot_id": ["A", "B", "A"], "ev_id": ["e", "e", "e"],
                         "arrival_h": [0.0, 0.5, 0.0], "energy_delivered_kwh": [1.0, 2.0, 4.0]})
    out = compact_sessions(rows)
    assert out[["lot_id", "energy_delivered_kwh"]].values.tolist() == [["A", 4.0], ["B", 2.0]]
    assert compact_sessions(pd.DataFrame()).empty


def test_load_run_refuses_what_is_not_a_run_folder(tmp_path):
    with pytest.raises(InputError, match="is not a run folder"):
        load_run(tmp_path)
    with pytest.raises(InputError, match="is not a run folder"):
        load_run(tmp_path / "missing")


def test_a_folder_without_recorded_hours(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.last_recorded_hour() is None and folder.plans() == [] and folder.events() == []
    (tmp_path / "grid.csv").write_text("")
    assert folder.last_recorded_hour() is None and folder.grid.empty
    (tmp_path / PLANS).write_text("\n")
    assert folder.plans() == []
    pd.DataFrame({"hour": [0], "event": ["x"]}).to_csv(tmp_path / "events.csv", index=False)
    assert folder.events() == [{"hour": 0, "event": "x"}]
    run = Run(folder)
    assert run.grid.empty and run.evs.empty and run.plans.empty
    assert run.events.index[0] == pd.Timestamp("2024-01-01")
