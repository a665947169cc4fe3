"""The recorder at 15- and 30-minute steps: every table's `hour` column is the step's start in hours (time x
step_h), also for the agents' own rows (messages, events carry step indices) and bus voltages; at 60 minutes the
column stays the integer step, as before."""

import pandas as pd
import pytest

from cosim.timebase import StepError
from simulators.recorder.simulator import RecorderSim


def _record(tmp_path, time_resolution: float, steps: int) -> dict[str, pd.DataFrame]:
    sim = RecorderSim()
    sim.init("Recorder-0", time_resolution=time_resolution)
    sim.create(1, "Recorder", run_dir=str(tmp_path), tables={"Grid": "grid"})
    for t in range(steps):
        event = {"hour": t, "source": "DSO", "event": "note", "detail": f"step {t}", "seq": t + 1}
        sim.step(t, {"recorder": {"losses_kw": {"Grid-0.grid": 10.0 + t}, "vm_pu": {"Grid-0.grid": [1.0, 0.99]},
                                  "events": {"DSO-0.dso": [event]}}}, steps)
    sim.finalize()
    return {name: pd.read_csv(tmp_path / f"{name}.csv") for name in ("grid", "bus_voltages", "events")}


def test_quarter_hour_steps_write_hours(tmp_path):
    tables = _record(tmp_path, 900.0, 6)
    expected = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    assert tables["grid"]["hour"].tolist() == expected
    assert tables["events"]["hour"].tolist() == expected  # the agent's step index, converted
    assert tables["bus_voltages"]["hour"].tolist() == [h for h in expected for _ in range(2)]


def test_half_hour_steps_write_hours(tmp_path):
    assert _record(tmp_path, 1800.0, 3)["grid"]["hour"].tolist() == [0.0, 0.5, 1.0]


def test_hourly_steps_stay_integers(tmp_path):
    tables = _record(tmp_path, 3600.0, 3)
    assert (tmp_path / "grid.csv").read_text().splitlines()[1:] == ["0,grid,10.0", "1,grid,11.0", "2,grid,12.0"]
    assert tables["events"]["hour"].tolist() == [0, 1, 2] and tables["events"]["hour"].dtype.kind == "i"


def test_a_step_the_framework_does_not_run_is_refused():
    with pytest.raises(StepError, match="time_resolution=600.0 s is not one allowed step"):
        RecorderSim().init("Recorder-0", time_resolution=600.0)


def test_memory_only_rows_carry_hours_too(tmp_path):
    from simulators.recorder.simulator import MEMORY_ONLY  # noqa: PLC0415

    MEMORY_ONLY[str(tmp_path)] = {"grid": []}
    try:
        sim = RecorderSim()
        sim.init("Recorder-0", time_resolution=1800.0)
        sim.create(1, "Recorder", run_dir=str(tmp_path), tables={"Grid": "grid"})
        for t in range(3):
            sim.step(t, {"recorder": {"losses_kw": {"Grid-0.grid": 1.0}}}, 3)
        assert [row["hour"] for row in MEMORY_ONLY[str(tmp_path)]["grid"]] == [0.0, 0.5, 1.0]
        assert not any(tmp_path.iterdir())  # nothing written
    finally:
        MEMORY_ONLY.pop(str(tmp_path), None)
