"""The example scripts run as tests: examples/plain_mosaik.py wires GridSim and ParkingSim in a plain mosaik
world (no cosim) from a CSV file, at mosaik's default time resolution."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulators.grid.model import GridModel
from simulators.parking import ParkingLot, preset_fleet

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def plain_mosaik():
    spec = importlib.util.spec_from_file_location("plain_mosaik", EXAMPLES / "plain_mosaik.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["plain_mosaik"] = module  # mosaik imports the example's own simulators by module name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["plain_mosaik"]


@pytest.mark.slow
def test_plain_mosaik_example(plain_mosaik, tmp_path):
    hours, visits = plain_mosaik.main(tmp_path)
    assert len(hours) == 24 and (tmp_path / "hours.csv").is_file() and (tmp_path / "evs.csv").is_file()
    inputs = pd.read_csv(plain_mosaik.INPUTS, skiprows=1)
    # the lot followed the CSV's setpoints hour by hour, exactly as the lot run on its own does
    lot = ParkingLot(preset_fleet("seed000"), n_chargers=100, connection_limit_kw=1000.0)
    expected = [lot.advance(float(sp), h + 1.0)["p_kw"] for h, sp in enumerate(inputs["lot_setpoint_kw"])]
    np.testing.assert_allclose(hours["PL1.p_kw"], expected, atol=1e-9)
    # the grid saw the lot's P and the CSV's Q at bus 6 (hour 0, by a direct power flow)
    model = GridModel("ieee33")
    s0, q0 = float(inputs["load_scaling"][0]), float(inputs["lot_q_kvar"][0])
    ref = model.step(load_scaling=s0, lot_power_kw={6: expected[0]}, q_load_kvar={6: model.base_q_kvar[5] * s0 + q0})
    assert hours["grid.q_grid_kvar"][0] == pytest.approx(ref.q_grid_kvar, rel=1e-9)
    assert hours["grid.losses_kw"][0] == pytest.approx(ref.losses_kw, rel=1e-9)
    # one row per EV visit, adding up to the lot's energy
    assert visits["ev_id"].is_unique and len(visits) == 300
    assert visits["energy_delivered_grid_kwh"].sum() == pytest.approx(hours["PL1.energy_charged_kwh"].sum())
    assert visits["energy_discharged_grid_kwh"].sum() == pytest.approx(hours["PL1.energy_discharged_kwh"].sum())
