"""A real mosaik World run of ParkingSim: one lot for 24 h fed by a constant setpoint source."""
from __future__ import annotations

import mosaik
import pytest
from mosaik_helpers import RowSink

from simulators.parking import ParkingLot, joape2024_fleet, stochastic_fleet
from simulators.parking.simulator import ParkingConfigError, ParkingSim

SETPOINT_KW = 150.0


FLEET = {"kind": "stochastic", "n_per_day": 60}


@pytest.mark.slow
def test_lot_in_mosaik_matches_direct_run():
    RowSink.ROWS = []
    world = mosaik.World({
        "Parking": {"python": "simulators.parking.simulator:ParkingSim"},
        "Const": {"python": "mosaik_helpers:ConstantSetpoint"},
        "Rec": {"python": "mosaik_helpers:RowSink"},
    }, time_resolution=3600, skip_greetings=True, configure_logging=False)
    lot = world.start("Parking").Lot(fleet=FLEET, n_chargers=40, connection_limit_kw=300.0, seed=7)
    sources = world.start("Const").Source.create(2, value=SETPOINT_KW / 2)
    sink = world.start("Rec").Sink()
    for src in sources:  # two senders: the lot sums them
        world.connect(src, lot, "setpoint_kw")
    world.connect(lot, sink, "p_kw", "evs_present", "unmet_energy_kwh", "energy_charged_kwh",
                  "undelivered_kw", "flex_charge_kwh")
    world.run(until=24, print_progress=False)

    direct = ParkingLot(stochastic_fleet(60, seed=7), n_chargers=40, connection_limit_kw=300.0)
    expected = [direct.advance(SETPOINT_KW, h + 1.0) for h in range(24)]
    rows = RowSink.ROWS
    assert [r["time"] for r in rows] == list(range(24))
    for row, exp in zip(rows, expected):
        for attr in ("p_kw", "evs_present", "unmet_energy_kwh", "energy_charged_kwh", "undelivered_kw"):
            assert type(row[attr]) is (int if attr.startswith("evs_") else float)  # counts are integers
            assert row[attr] == pytest.approx(exp[attr], abs=1e-9)
    assert max(r["evs_present"] for r in rows) > 0
    assert sum(r["energy_charged_kwh"] for r in rows) > 0


def test_simulator_api_direct():
    sim = ParkingSim()
    sim.init("P", time_resolution=3600.0)
    (ent,) = sim.create(1, "Lot", fleet="joape2024")
    assert sim.step(0, {ent["eid"]: {"setpoint_kw": {"a": 500.0, "b": 500.0}}}, 24) == 1
    data = sim.get_data({ent["eid"]: ["p_kw", "evs_present"]})[ent["eid"]]
    assert data["evs_present"] == 100.0 and data["p_kw"] > 0
    assert data["p_kw"] == pytest.approx(
        ParkingLot(joape2024_fleet()).advance(1000.0, 1.0)["p_kw"])
    with pytest.raises(ParkingConfigError, match="model"):
        sim.create(1, "Garage")
    with pytest.raises(ParkingConfigError, match="kind"):
        sim.create(1, "Lot", fleet={"kind": "magic"})
    with pytest.raises(ParkingConfigError, match="time_resolution"):
        ParkingSim().init("Q", time_resolution=0)


def test_the_evs_output_is_made_when_asked_and_holds_the_steps_visits():
    """`evs` is built on request (a run without a recorder never pays for it): the rows are those of the lot as the
    step left it, the same when asked twice, and a step nobody asked about costs nothing and changes nothing."""
    sim = ParkingSim()
    sim.init("P", time_resolution=3600.0)
    (ent,) = sim.create(1, "Lot", fleet=FLEET, n_chargers=20, connection_limit_kw=200.0, seed=7)
    eid = ent["eid"]
    direct = ParkingLot(stochastic_fleet(60, seed=7), n_chargers=20, connection_limit_kw=200.0)
    asked = 0
    for h in range(24):
        sim.step(h, {eid: {"setpoint_kw": {"a": 120.0}}}, 24)
        direct.advance(120.0, h + 1.0)
        expected = [{"ev_id": r["ev_id"], "lot_id": eid, **r} for r in direct.step_sessions()]
        if h % 3 == 2:  # not asked: nothing is built
            assert sim.sessions[eid] is None
            continue
        rows = sim.get_data({eid: ["evs"]})[eid]["evs"]
        assert rows == expected and sim.get_data({eid: ["evs"]})[eid]["evs"] == rows
        asked += len(rows)
    assert asked > 0
