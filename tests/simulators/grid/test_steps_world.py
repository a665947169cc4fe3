"""Market, grid and recorder together in a real mosaik World at 15-minute steps: the hourly seed-000 profile held
over the quarters drives the grid, the recorder writes `hour` = 0, 0.25, ... and the day's loss energy
(sum of losses_kw x step_h) is the hourly world's."""

from __future__ import annotations

import mosaik
import pandas as pd
import pytest

SIM_CONFIG = {
    "Market": {"python": "simulators.market.simulator:MarketSim"},
    "Grid": {"python": "simulators.grid.simulator:GridSim"},
    "Recorder": {"python": "simulators.recorder.simulator:RecorderSim"},
}


def _day(tmp_path, step_minutes: int) -> pd.DataFrame:
    world = mosaik.World(SIM_CONFIG, time_resolution=60 * step_minutes, skip_greetings=True, configure_logging=False)
    market = world.start("Market").Market(profile="seed000", days=1)
    grid = world.start("Grid").Grid(network="ieee33", engine="fast")
    recorder = world.start("Recorder").Recorder(run_dir=str(tmp_path), tables={"Grid": "grid", "Market": "prices"})
    world.connect(market, grid, "load_scaling")
    world.connect(market, recorder, "energy_price", "load_scaling")
    world.connect(grid, recorder, "losses_kw")
    world.run(until=24 * 60 // step_minutes, print_progress=False)
    return pd.read_csv(tmp_path / "grid.csv").merge(pd.read_csv(tmp_path / "prices.csv"), on="hour")


def test_a_quarter_hour_day_has_the_hourly_days_loss_energy(tmp_path):
    hourly = _day(tmp_path / "h", 60)
    quarters = _day(tmp_path / "q", 15)
    assert hourly["hour"].tolist() == list(range(24))
    assert quarters["hour"].tolist() == [k / 4 for k in range(96)]
    assert quarters["losses_kw"].sum() * 0.25 == pytest.approx(hourly["losses_kw"].sum(), rel=1e-9)
    by_hour = quarters.assign(h=quarters["hour"].astype(int)).groupby("h")
    assert by_hour["energy_price_usd_per_kwh"].mean().to_numpy() == pytest.approx(
        hourly["energy_price_usd_per_kwh"].to_numpy(), rel=1e-12)
