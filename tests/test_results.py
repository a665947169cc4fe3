"""The run-folder object: file names and readers in one place, `load_run` for users."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cosim.errors import InputError
from cosim.results import KPIS, MANIFEST, PLANS, RunFolder, RunWriter, load_run


def make_run(tmp_path):
    folder = RunFolder(tmp_path / "run")
    writer = RunWriter(folder.path)
    writer.append("grid", [{"hour": 0, "losses_kw": 1.5}, {"hour": 1, "losses_kw": 2.0}])
    writer.append_plan({"day_start_hour": 0, "info": {"rounds": 2, "converged": False}})
    writer.close()
    folder.write_json(MANIFEST, {"status": "completed"})
    folder.write_json(KPIS, {"energy_losses_kwh": 3.5, "gap": float("nan")})
    return folder


def test_tables_plans_manifest_and_kpis_are_read_from_one_place(tmp_path):
    folder = make_run(tmp_path)
    run = load_run(folder.path)
    assert list(run.grid["losses_kw"]) == [1.5, 2.0] and run.lots.empty  # missing table: empty, not an error
    assert run.last_recorded_hour() == 1
    assert run.plans() == [{"day_start_hour": 0, "info": {"rounds": 2, "converged": False}}]
    assert run.manifest["status"] == "completed"
    assert run.kpis == {"energy_losses_kwh": 3.5, "gap": None}  # strict JSON: NaN is written as null
    assert json.loads((folder.path / KPIS).read_text())["gap"] is None
    assert not list(folder.path.glob(".*tmp*"))  # atomic writes leave no temporary file
    with pytest.raises(AttributeError):
        _ = run.no_such_table


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
