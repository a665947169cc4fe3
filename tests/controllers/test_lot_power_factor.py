"""Chargers below unity power factor (`[[lots]] power_factor`): the lot draws q = |p| tan(acos(pf)), the grid
(pandapower) sees it at the lot's bus, and the DSO's plan flow adds the same reactive power, so the voltages it
plans with are pandapower's."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import cosim.controllers.objectives as obj
from cosim.controllers import DayAheadProblem, LotOffer
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.networks.ieee33 import ieee33
from simulators.grid.model import GridModel
from simulators.parking.ev import EV
from simulators.parking.lot import LotConfigError, ParkingLot

BUS = 18  # the end of the main feeder: the most sensitive bus
PF = 0.9


def test_the_lot_draws_reactive_power_at_its_power_factor_both_ways():
    evs = [EV(f"e{i}", 0.0, 4.0, 60.0, 11.0, 0.5, v2g_allowed=True, soc_min=0.2) for i in range(10)]
    lot = ParkingLot(evs, power_factor=PF)
    charging = lot.advance(100.0, 1.0)
    assert charging["q_kvar"] == pytest.approx(100.0 * math.tan(math.acos(PF)))  # 48.4 kvar
    feeding = lot.advance(-80.0, 2.0)
    assert feeding["p_kw"] == pytest.approx(-80.0) and feeding["q_kvar"] == pytest.approx(80.0 * 0.484322, rel=1e-5)
    assert ParkingLot(evs).advance(100.0, 1.0)["q_kvar"] == 0.0
    for bad in (0.0, 1.01, -0.5):
        with pytest.raises(LotConfigError, match="power_factor"):
            ParkingLot(evs, power_factor=bad)


def _plan_voltages(power_factor: float, lot_kw: float) -> np.ndarray:
    """(24,) lowest voltage the DSO's plan flow gives with the lot at BUS drawing `lot_kw` every hour."""
    net = ieee33().radial
    mode = np.ones(24, int)
    offer = LotOffer("lot1", (BUS,), 100, 10.0, 10.0, mode, np.full(24, 2000.0), np.zeros(24),
                     power_factor=power_factor)
    prob = DayAheadProblem(net, np.full(24, 0.8), np.full(24, 0.1), (offer,), reconfigure=False)
    vp = DayAheadVectorProblem(prob)
    kw_per_pev = float(obj.lot_power_kw(np.ones(1), offer)[0])
    counts = np.full((1, 1, 24), lot_kw / kw_per_pev)
    ev = vp.evaluate_plans(np.array([net.tie_branches]), np.array([[BUS]]), counts)
    assert ev.lot_kw[0, 0] == pytest.approx(np.full(24, lot_kw))
    return ev.v_min_hourly_pu[0]


def test_reactive_power_moves_the_voltages_as_pandapower_says():
    lot_kw = 600.0
    q_kvar = lot_kw * math.tan(math.acos(PF))
    model = GridModel("ieee33")
    base_q = float(model.base_q_kvar[BUS - 1]) * 0.8
    unity = model.step(load_scaling=0.8, lot_power_kw={BUS: lot_kw})
    lagging = GridModel("ieee33").step(load_scaling=0.8, lot_power_kw={BUS: lot_kw}, q_load_kvar={BUS: base_q + q_kvar})
    drop = unity.bus_vm_pu(BUS) - lagging.bus_vm_pu(BUS)
    assert drop > 0.002  # 290 kvar at the feeder's end: a visible drop
    planned_unity, planned_pf = _plan_voltages(1.0, lot_kw), _plan_voltages(PF, lot_kw)
    assert planned_unity == pytest.approx(np.full(24, unity.v_min_pu), abs=1e-4)
    assert planned_pf == pytest.approx(np.full(24, lagging.v_min_pu), abs=1e-4)  # the plan sees what the grid will
    assert float(planned_unity[0] - planned_pf[0]) == pytest.approx(unity.v_min_pu - lagging.v_min_pu, abs=1e-4)


def test_an_offer_at_unity_power_factor_plans_as_before():
    offer = LotOffer("lot1", (BUS,), 100, 10.0, 10.0, np.ones(24, int), np.full(24, 2000.0), np.zeros(24))
    assert offer.power_factor == 1.0 and dataclasses.replace(offer, power_factor=0.95).power_factor == 0.95
