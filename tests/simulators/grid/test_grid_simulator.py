"""GridSim in a real mosaik World: hourly steps, lot connections, topology input, outputs match GridModel."""

import mosaik
import pytest
from mosaik_helpers import Monitor

from simulators.grid.model import GridError, GridModel
from simulators.grid.simulator import GridSim, parse_open_branches

SIM_CONFIG = {
    "Grid": {"python": "simulators.grid.simulator:GridSim"},
    "Source": {"python": "mosaik_helpers:Source"},
    "Monitor": {"python": "mosaik_helpers:Monitor"},
}
HOURS = 4
LOT = [0.0, 500.0, -500.0, 500.0]  # kW at bus 18 via a Connection
EXTRA = [{}, {"30": 100.0}, None, {25: 50.0}]  # Grid.lot_power_kw dicts (None: nothing sent, value held)
TOPO = [None, None, [7, 9, 14, 32, 37], None]
SCALE = [1.0, 0.8, 0.8, 1.2]


def _run():
    Monitor.RECORD.clear()
    world = mosaik.World(SIM_CONFIG, time_resolution=3600, skip_greetings=True, configure_logging=False)
    grid_sim = world.start("Grid")
    grid = grid_sim.Grid(network="ieee33")
    conn = grid_sim.Connection(bus=18)
    src = world.start("Source").Src(series={"p_kw": LOT, "lots": EXTRA, "topo": TOPO, "scale": SCALE})
    mon = world.start("Monitor").Mon()
    world.connect(src, conn, ("p_kw", "p_kw"))
    world.connect(src, grid, ("lots", "lot_power_kw"), ("topo", "open_branches"), ("scale", "load_scaling"))
    world.connect(grid, mon, "losses_kw", "p_grid_kw", "vpd", "vm_pu", "open_branches", "converged", "v_min_pu")
    world.connect(conn, mon, "vm_pu", "p_kw")
    world.run(until=HOURS, print_progress=False)
    return Monitor.RECORD


@pytest.mark.slow
def test_mosaik_run_matches_grid_model():
    rec = _run()
    model = GridModel("ieee33")
    held_extra: dict = {}
    for t in range(HOURS):
        if EXTRA[t] is not None:
            held_extra = {int(k): v for k, v in EXTRA[t].items()}
        lots = dict(held_extra)
        lots[18] = lots.get(18, 0.0) + LOT[t]
        ref = model.step(load_scaling=SCALE[t], lot_power_kw=lots, open_branches=TOPO[t])
        assert rec[(t, "grid", "converged")] is True
        assert rec[(t, "grid", "losses_kw")] == pytest.approx(ref.losses_kw, rel=1e-9)
        assert rec[(t, "grid", "p_grid_kw")] == pytest.approx(ref.p_grid_kw, rel=1e-9)
        assert rec[(t, "grid", "vpd")] == pytest.approx(ref.vpd, rel=1e-9)
        assert rec[(t, "grid", "open_branches")] == list(ref.open_branches)
        vm = rec[(t, "grid", "vm_pu")]
        assert isinstance(vm, list) and len(vm) == 33 and all(type(v) is float for v in vm)
        assert type(rec[(t, "grid", "losses_kw")]) is float
        assert rec[(t, "conn0_bus18", "vm_pu")] == pytest.approx(vm[17])
        assert rec[(t, "conn0_bus18", "p_kw")] == LOT[t]
    # topology given at hour 2 persists at hour 3 (no input then); base configuration before
    assert rec[(3, "grid", "open_branches")] == [7, 9, 14, 32, 37]
    assert rec[(0, "grid", "open_branches")] == [33, 34, 35, 36, 37]


def _direct_sim(network="ieee33"):
    sim = GridSim()
    sim.init("G", time_resolution=3600)
    sim.create(1, "Grid", network=network)
    return sim


def test_direct_api_errors_and_parsing():
    assert parse_open_branches("[33, 34, 35, 36, 37]") == [33, 34, 35, 36, 37]
    with pytest.raises(GridError, match="JSON list"):
        parse_open_branches("33;34")
    sim = _direct_sim()
    assert sim.step(0, {"grid": {"open_branches": {"dso.d": "[7, 9, 14, 32, 37]"}}}) == 1
    assert sim.get_data({"grid": ["open_branches"]})["grid"]["open_branches"] == [7, 9, 14, 32, 37]
    with pytest.raises(GridError, match="loop"):
        sim.step(1, {"grid": {"open_branches": {"dso.d": [7]}}})
    with pytest.raises(GridError, match="several sources"):
        sim.step(1, {"grid": {"load_scaling": {"a.x": 1.0, "b.y": 1.0}}})
    sim = _direct_sim()
    with pytest.raises(GridError, match="unknown bus 40"):
        sim.create(1, "Connection", bus=40)
    with pytest.raises(GridError, match="exactly one Grid"):
        sim.create(1, "Grid", network="ieee33")
    with pytest.raises(GridError, match="unknown model"):
        sim.create(1, "Lot")
    with pytest.raises(GridError, match="must be a number"):
        sim.step(0, {"grid": {"lot_power_kw": {"a.x": {"6": "lots"}}}})
    with pytest.raises(GridError, match="unknown network"):
        _direct_sim("ieee999")
    with pytest.raises(GridError, match="time_resolution 7000 s is neither .* nor divides an hour"):
        GridSim().init("G", time_resolution=7000)
    nine = _direct_sim("ninebus")
    nine.step(0, {})
    assert nine.get_data({"grid": ["losses_kw"]})["grid"]["losses_kw"] == pytest.approx(3916, rel=0.01)
