"""A grid Connection takes reactive power (`q_kvar`) as well as active power: it adds to its bus's demand."""

import pytest

from simulators.grid.model import GridError, GridModel
from simulators.grid.simulator import GridSim


def _sim():
    sim = GridSim()
    sim.init("Grid-0", time_resolution=3600.0)
    sim.create(1, "Grid", network="ieee33")
    (conn,) = sim.create(1, "Connection", bus=6)
    return sim, conn["eid"]


def test_reactive_power_adds_to_the_bus_demand():
    sim, conn = _sim()
    inputs = {"grid": {"load_scaling": {"m": 0.8}}, conn: {"p_kw": {"lot": 120.0}, "q_kvar": {"a": 30.0, "b": 10.0}}}
    sim.step(0, inputs)
    out = sim.get_data({"grid": ["q_grid_kvar", "losses_kw"], conn: ["p_kw", "q_kvar"]})
    model = GridModel("ieee33")
    ref = model.step(load_scaling=0.8, lot_power_kw={6: 120.0},
                     q_load_kvar={6: float(model.base_q_kvar[5]) * 0.8 + 40.0})
    assert out["grid"]["q_grid_kvar"] == pytest.approx(ref.q_grid_kvar, rel=1e-9)
    assert out["grid"]["losses_kw"] == pytest.approx(ref.losses_kw, rel=1e-9)
    assert out[conn] == {"p_kw": 120.0, "q_kvar": 40.0}
    without = GridModel("ieee33").step(load_scaling=0.8, lot_power_kw={6: 120.0})
    assert ref.q_grid_kvar == pytest.approx(without.q_grid_kvar + 40.0, abs=5.0)  # plus the line's own var losses
    # held until the source sends again; the load scaling applies to the base demand only
    sim.step(1, {"grid": {"load_scaling": {"m": 1.0}}})
    ref1 = model.step(load_scaling=1.0, lot_power_kw={6: 120.0}, q_load_kvar={6: float(model.base_q_kvar[5]) + 40.0})
    assert sim.get_data({"grid": ["q_grid_kvar"]})["grid"]["q_grid_kvar"] == pytest.approx(ref1.q_grid_kvar, rel=1e-9)


def test_bad_reactive_power_is_named():
    sim, conn = _sim()
    with pytest.raises(GridError, match=r"q_kvar from src must be a number"):
        sim.step(0, {conn: {"q_kvar": {"src": "lots"}}})
