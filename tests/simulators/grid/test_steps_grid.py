"""GridSim at 15-minute steps: one power flow per mosaik time unit (one step), each the flow of that step's inputs;
an hourly-constant load held over four quarter hours gives the hourly run's losses kW in every quarter, so the
same daily loss energy (kW x step_h)."""

import mosaik
import pytest
from mosaik_helpers import Monitor

from simulators.grid.model import GridError
from simulators.grid.simulator import GridSim

SIM_CONFIG = {
    "Grid": {"python": "simulators.grid.simulator:GridSim"},
    "Source": {"python": "mosaik_helpers:Source"},
    "Monitor": {"python": "mosaik_helpers:Monitor"},
}
HOURLY_SCALE = [0.6, 1.0, 1.3]


def _losses_kw(step_minutes: int) -> list[float]:
    per_hour = 60 // step_minutes
    scale = [s for s in HOURLY_SCALE for _ in range(per_hour)]
    Monitor.RECORD.clear()
    world = mosaik.World(SIM_CONFIG, time_resolution=60 * step_minutes, skip_greetings=True, configure_logging=False)
    grid = world.start("Grid").Grid(network="ieee33")
    src = world.start("Source").Src(series={"scale": scale})
    mon = world.start("Monitor").Mon()
    world.connect(src, grid, ("scale", "load_scaling"))
    world.connect(grid, mon, "losses_kw")
    world.run(until=len(scale), print_progress=False)
    return [Monitor.RECORD[(t, "grid", "losses_kw")] for t in range(len(scale))]


def test_a_flow_every_quarter_hour_and_the_hourly_loss_energy():
    hourly = _losses_kw(60)
    quarters = _losses_kw(15)
    assert len(quarters) == 4 * len(hourly)  # a flow at every time unit, not every fourth
    assert quarters == pytest.approx([kw for kw in hourly for _ in range(4)], rel=1e-12)
    assert sum(kw * 0.25 for kw in quarters) == pytest.approx(sum(hourly), rel=1e-12)  # kWh over the 3 hours


def test_steps_are_one_time_unit_at_every_allowed_step_and_an_hour_elsewhere():
    for resolution in (3600, 1800, 900):
        sim = GridSim()
        sim.init("G", time_resolution=resolution)
        sim.create(1, "Grid", network="ieee33")
        assert sim.step(0, {}) == 1 and sim.step(1, {}) == 2
    plain = GridSim()
    plain.init("G", time_resolution=1)  # a plain mosaik world (examples/plain_mosaik.py): one flow an hour
    plain.create(1, "Grid", network="ieee33")
    assert plain.step(0, {}) == 3600
    with pytest.raises(GridError, match="neither one of the framework's steps"):
        GridSim().init("G", time_resolution=7)
