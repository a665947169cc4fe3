"""What the recorder writes: one row per hour and entity with unit-carrying column names, lists of rows (EV
visits, messages) as rows of their own table, bus voltages in long form."""

import pandas as pd

from simulators.recorder.simulator import RecorderSim


def test_rows_long_voltages_and_unit_names(tmp_path):
    sim = RecorderSim()
    sim.init("Recorder-0", time_resolution=3600.0)
    sim.create(1, "Recorder", run_dir=str(tmp_path), tables={"Grid": "grid", "Parking": "lots"})
    visit = {"ev_id": "e1", "lot_id": "PL1", "status": "plugged", "soc_departure": None}
    message = {"hour": 0, "sender": "PL1", "receiver": "DSO", "kind": "offer", "seq": 1}
    for hour, status in enumerate(["plugged", "departed"]):
        sim.step(hour, {"recorder": {
            "vpd": {"Grid-0.grid": 0.4}, "vm_pu": {"Grid-0.grid": [1.0, 0.98, 0.97]},
            "evs_present": {"Parking-0.PL1": 3}, "evs": {"Parking-0.PL1": [dict(visit, status=status)]},
            "messages": {"PLO-0.PL1": [message]},  # sent again in hour 1 (the hour's rows so far): kept once
        }}, 24)
    sim.finalize()
    grid = pd.read_csv(tmp_path / "grid.csv")
    assert list(grid.columns) == ["hour", "id", "vpd_pu"]
    bv = pd.read_csv(tmp_path / "bus_voltages.csv")
    assert list(bv.columns) == ["hour", "bus", "vm_pu"] and bv["bus"].tolist() == [1, 2, 3, 1, 2, 3]
    lots = pd.read_csv(tmp_path / "lots.csv")
    assert lots["evs_present"].dtype.kind == "i"  # counts stay integers
    evs = pd.read_csv(tmp_path / "evs.csv")
    assert list(evs.columns) == ["hour", "ev_id", "lot_id", "status", "soc_departure"]
    assert evs["status"].tolist() == ["plugged", "departed"] and evs["soc_departure"].isna().all()  # None: empty
    messages = pd.read_csv(tmp_path / "messages.csv")
    assert len(messages) == 1 and "seq" not in messages
