"""One row per EV visit (`step_sessions`, ParkingSim's `evs` output) against the lot's own energy balance; EVs
present agreeing with the hour's power; ParkingSim's step from the time resolution and its parameter checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cosim.results import compact_sessions
from simulators.parking import EV, ParkingLot, stochastic_fleet
from simulators.parking.simulator import ParkingConfigError, ParkingSim

SETPOINTS = [300.0, 250.0, -80.0, 0.0, 150.0, -200.0, 400.0, -50.0] * 4  # 32 h: charging, V2G and idle


def run_lot(lot: ParkingLot, setpoints) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the lot's hourly outputs, its session rows as the recorder writes them: each with its hour)."""
    hours, rows = [], []
    for h, sp in enumerate(setpoints):
        out = lot.advance(sp, h + 1.0)
        hours.append({"hour": h, **out})
        rows += [{"hour": h, "lot_id": "PL1", **r} for r in lot.step_sessions()]
    return pd.DataFrame(hours), pd.DataFrame(rows)


@pytest.fixture(scope="module")
def stochastic_run():
    fleet = stochastic_fleet(60, seed=3, days=2)  # day 2 still in the lot when the 32 h end
    lot = ParkingLot(fleet, n_chargers=30, connection_limit_kw=350.0, overflow="refuse")
    hours, rows = run_lot(lot, SETPOINTS)
    return fleet, lot, hours, compact_sessions(rows)


@pytest.mark.slow
def test_visits_add_up_to_the_lots_energy(stochastic_run):
    fleet, lot, hours, evs = stochastic_run
    assert evs["ev_id"].is_unique  # a visit that begins as the run ends (at 32:00) is not in the run
    assert len(evs) == sum(1 for r in lot.sessions() if r["arrival_h"] < len(SETPOINTS))
    assert evs["energy_delivered_grid_kwh"].sum() == pytest.approx(hours["energy_charged_kwh"].sum(), rel=1e-12)
    assert evs["energy_discharged_grid_kwh"].sum() == pytest.approx(hours["energy_discharged_kwh"].sum(), rel=1e-12)
    assert hours["energy_discharged_kwh"].sum() > 0 and hours["energy_charged_kwh"].sum() > 0
    left = evs[evs["status"] == "departed"]
    assert left["unmet_energy_kwh"].sum() == pytest.approx(hours["unmet_energy_kwh"].sum(), abs=1e-9)
    assert len(left) == hours["evs_departed"].sum() and (evs["status"] == "refused").sum() == hours["evs_refused"].sum()
    # each visit's battery: arrival + charged x eta_c - discharged / eta_d = departure
    eta = {ev.id: (ev.eta_charge, ev.eta_discharge) for ev in fleet}
    for row in left.itertuples():
        ec, ed = eta[row.ev_id]
        end = (row.soc_arrival * row.capacity_kwh + row.energy_delivered_grid_kwh * ec
               - row.energy_discharged_grid_kwh / ed)
        assert row.soc_departure * row.capacity_kwh == pytest.approx(end, abs=1e-9)
        assert row.energy_delivered_battery_kwh == pytest.approx(row.energy_delivered_grid_kwh * ec, abs=1e-12)
        assert row.energy_discharged_battery_kwh == pytest.approx(row.energy_discharged_grid_kwh / ed, abs=1e-12)
        battery_end = (row.soc_arrival * row.capacity_kwh + row.energy_delivered_battery_kwh
                       - row.energy_discharged_battery_kwh)
        assert row.soc_departure * row.capacity_kwh == pytest.approx(battery_end, abs=1e-9)
        assert row.contract_met == (row.unmet_energy_kwh <= 1e-9)
    still = evs[evs["status"].isin(["plugged", "waiting"])]
    assert still["soc_departure"].isna().all() and still["contract_met"].isna().all()  # unknown, not 0 / False
    refused = evs[evs["status"] == "refused"]
    assert len(refused) and len(still) and len(left)
    assert (refused["contract_met"] == False).all() and (refused["energy_delivered_grid_kwh"] == 0).all()  # noqa: E712
    assert (evs["energy_requested_kwh"] >= 0).all()


@pytest.mark.slow
def test_evs_present_counts_every_ev_in_the_lot_during_the_hour(stochastic_run):
    _, _, hours, evs = stochastic_run
    entered = evs[evs["status"] != "refused"]
    for h, row in hours.iterrows():
        overlapping = ((entered["arrival_h"] < h + 1) & (entered["departure_h"] > h)).sum()
        assert row["evs_present"] == overlapping, h
        if abs(row["p_kw"]) > 1e-9:
            assert row["evs_present"] > 0  # power without EVs cannot happen any more
    assert all(type(v) is int for v in hours["evs_present"].tolist())


def test_an_ev_leaving_mid_hour_counts_in_that_hour():
    ev = EV("a", arrival_h=0.0, departure_h=7.5, capacity_kwh=10.0, charger_kw=5.0, soc_arrival=0.2,
            soc_min_departure=0.5)
    lot = ParkingLot([ev])
    present = [lot.advance(0.0, h + 1.0)["evs_present"] for h in range(9)]
    assert present == [1] * 8 + [0]  # the step 07:00-08:00 had the EV (and its must-run power)
    (row,) = lot.sessions()
    assert row["status"] == "departed" and row["contract_met"] and row["energy_requested_kwh"] == pytest.approx(3.0)


def test_parking_sim_sends_the_visits_touched_in_each_step():
    sim = ParkingSim()
    sim.init("P", time_resolution=3600.0)
    (ent,) = sim.create(1, "Lot", fleet={"kind": "stochastic", "n_per_day": 20}, seed=1, lot_id="PLx")
    seen = {}
    for t in range(30):
        sim.step(t, {"PLx": {"setpoint_kw": {"plo": 50.0}}}, 100)
        data = sim.get_data({"PLx": ["evs", "evs_present", "p_kw"]})["PLx"]
        assert len(data["evs"]) >= data["evs_present"] and type(data["evs_present"]) is int
        for r in data["evs"]:
            assert list(r)[:2] == ["ev_id", "lot_id"] and r["lot_id"] == "PLx"
            seen[r["ev_id"]] = r
    assert seen and {r["status"] for r in seen.values()} <= {"departed", "plugged", "waiting", "refused"}


@pytest.mark.parametrize("resolution, step, hours_per_step", [(3600.0, None, 1.0), (1.0, None, 1.0),
                                                               (60.0, None, 1.0), (60.0, 15, 0.25), (1.0, 900, 0.25)])
def test_step_follows_the_time_resolution(resolution, step, hours_per_step):
    sim = ParkingSim()
    sim.init("P", time_resolution=resolution, **({} if step is None else {"step_size": step}))
    sim.create(1, "Lot", fleet="joape2024")
    assert sim.step(0, {}, 10**9) * resolution / 3600.0 == pytest.approx(hours_per_step)
    assert sim.lots["Lot_0"].now_h == pytest.approx(hours_per_step)


def test_parking_sim_rejects_what_it_cannot_use():
    with pytest.raises(ParkingConfigError, match="unknown simulator parameter.*start_date"):
        ParkingSim().init("P", time_resolution=1.0, start_date="2024-01-01")
    with pytest.raises(ParkingConfigError, match="does not divide an hour"):
        ParkingSim().init("P", time_resolution=7.0)
    with pytest.raises(ParkingConfigError, match="step_size"):
        ParkingSim().init("P", time_resolution=1.0, step_size=0)
    with pytest.raises(ParkingConfigError, match="at least one minute"):
        ParkingSim().init("P", time_resolution=1.0, step_size=30)
    assert "evs" in ParkingSim().init("P", time_resolution=1.0, step_size=60)["models"]["Lot"]["attrs"]


def _check_rows_against_arrays(lot: ParkingLot) -> set[str]:
    """Each row's figures are the ones the EV's own array entries give (the same float arithmetic); its statuses."""
    rows = lot.sessions()
    for row in rows:
        i = next(k for k, ev in enumerate(lot.evs) if ev.id == row["ev_id"])
        departed = row["status"] == "departed"
        expected = {
            "arrival_h": float(lot.arr_min[i] / 60.0), "capacity_kwh": float(lot.cap[i]),
            "energy_requested_kwh": float(max(lot.e_req[i] - lot.e_arr[i], 0.0)),
            "energy_delivered_battery_kwh": float(lot.grid_in[i] * lot.eta_c[i]),
            "energy_discharged_battery_kwh": float(lot.grid_out[i] / lot.eta_d[i]),
            "soc_departure": float(lot.energy[i] / lot.cap[i]) if departed else None,
            "capacity_lost_kwh": float(lot.lost_cal_kwh[i] + lot.lost_cyc_kwh[i]) if departed else None,
        }
        for key, value in expected.items():
            assert type(row[key]) is type(value) and (value is None or np.float64(row[key]).tobytes()
                                                       == np.float64(value).tobytes()), key
        assert lot.session_row(i) == row
    return {r["status"] for r in rows}


def test_each_row_holds_the_lots_own_figures_bit_for_bit():
    """The rows are read from the lot's arrays at once, for departed, present and waiting visits alike."""
    lot = ParkingLot(stochastic_fleet(40, seed=5, days=2), n_chargers=4, connection_limit_kw=150.0)
    statuses = set()
    for h, sp in enumerate(SETPOINTS[:30]):
        lot.advance(sp, h + 1.0)
        if h in (9, 29):
            statuses |= _check_rows_against_arrays(lot)
    assert statuses >= {"departed", "plugged", "waiting"}
