"""Use the simulators in your own mosaik scenario: GridSim and ParkingSim wired by hand, no cosim world.

One day on the IEEE 33-bus network. A CSV source (mosaik-csv's file layout: a model-name line, a `Date`
column, one column per attribute, one row per hour) gives the network's load scaling and the parking lot's
setpoint and reactive power. The lot (the seed-000 fleet of 100 EVs) follows the setpoint; its active power
and the CSV's reactive power feed bus 6 through a grid Connection. A collector keeps what we look at.
mosaik's default time resolution (1 s per time unit) is kept: GridSim and ParkingSim step one hour (3600
units) by themselves. mosaik-csv's own CSV simulator reads the same file, if you prefer it to `CSVSource`.

Run: python examples/plain_mosaik.py [OUT_DIR]   (prints a summary; with OUT_DIR writes hours.csv and evs.csv)
"""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path

import mosaik
import mosaik_api_v3
import pandas as pd

INPUTS = Path(__file__).resolve().parent / "data" / "feeder_day.csv"
START = "2024-01-01 00:00:00"
HOUR = 3600  # time units per hour at mosaik's default time resolution (1 s)

SIM_CONFIG = {  # in process; each also runs as its own process: {"cmd": "python -m simulators.grid.simulator %(addr)s"}
    "CSV": {"python": f"{__name__}:CSVSource"},
    "Grid": {"python": "simulators.grid.simulator:GridSim"},
    "Parking": {"python": "simulators.parking.simulator:ParkingSim"},
    "Collector": {"python": f"{__name__}:Collector"},
}


class CSVSource(mosaik_api_v3.Simulator):
    """One entity whose outputs are the CSV's columns, row by row at the rows' dates (mosaik-csv's layout)."""

    def __init__(self) -> None:
        super().__init__({"type": "time-based", "models": {}})
        self.rows: list[tuple[int, dict[str, float]]] = []
        self.now: dict[str, float] = {}

    def init(self, sid, time_resolution=1.0, sim_start=START, datafile=str(INPUTS)):
        with open(datafile, newline="") as fh:
            model, header = fh.readline().strip(), next(csv.reader([fh.readline()]))
            start = datetime.fromisoformat(sim_start)
            for rec in csv.DictReader(fh, fieldnames=header):
                units = (datetime.fromisoformat(rec.pop("Date")) - start).total_seconds() / time_resolution
                self.rows.append((int(units), {k: float(v) for k, v in rec.items()}))
        self.meta["models"][model] = {"public": True, "params": [], "attrs": header[1:]}
        return self.meta

    def create(self, num, model):
        return [{"eid": f"{model}_{i}", "type": model} for i in range(num)]

    def step(self, time, inputs, max_advance):
        self.now = next(values for t, values in reversed(self.rows) if t <= time)
        later = [t for t, _ in self.rows if t > time]
        return later[0] if later else time + self.rows[-1][0] - self.rows[-2][0]  # after the last row: hold it

    def get_data(self, outputs):
        return {eid: {a: self.now[a] for a in attrs} for eid, attrs in outputs.items()}


class Collector(mosaik_api_v3.Simulator):
    """Keeps every value it receives: one row per hour, and the lots' EV visits (each visit's latest row)."""

    latest: Collector | None = None  # the last one started: what `main` reads after the run

    def __init__(self) -> None:
        super().__init__({"type": "event-based", "models": {"Collector": {"public": True, "params": [], "attrs": [],
                                                                          "any_inputs": True}}})
        self.hours: dict[int, dict[str, object]] = {}
        self.visits: dict[str, dict[str, object]] = {}
        Collector.latest = self

    def create(self, num, model):
        return [{"eid": "collector", "type": model}]

    def step(self, time, inputs, max_advance):
        row = self.hours.setdefault(time // HOUR, {"hour": time // HOUR})
        for attr, sources in inputs["collector"].items():
            for src, value in sources.items():
                if attr == "evs":
                    self.visits.update({f"{v['lot_id']}/{v['ev_id']}": v for v in value})
                else:
                    row[f"{src.split('.')[-1]}.{attr}"] = value


def main(out_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the day; returns (one row per hour, one row per EV visit) and writes them to `out_dir` if given."""
    world = mosaik.World(SIM_CONFIG, skip_greetings=True)  # time_resolution: mosaik's default, 1 s
    feeder = world.start("CSV", sim_start=START, datafile=str(INPUTS)).Feeder()
    grid_sim = world.start("Grid")
    grid = grid_sim.Grid(network="ieee33")
    connection = grid_sim.Connection(bus=6)
    lot = world.start("Parking").Lot(fleet="seed000", n_chargers=100, connection_limit_kw=1000.0, lot_id="PL1")
    collector = world.start("Collector").Collector()

    world.connect(feeder, grid, "load_scaling")
    world.connect(feeder, lot, ("lot_setpoint_kw", "setpoint_kw"))
    world.connect(feeder, connection, ("lot_q_kvar", "q_kvar"))  # reactive power: + absorbed, - injected
    world.connect(lot, connection, "p_kw")  # + charging, - V2G
    world.connect(grid, collector, "losses_kw", "p_grid_kw", "q_grid_kvar", "v_min_pu")
    world.connect(connection, collector, "vm_pu")
    world.connect(lot, collector, "p_kw", "evs_present", "energy_charged_kwh", "energy_discharged_kwh", "evs")
    world.run(until=24 * HOUR, print_progress=False)

    hours = pd.DataFrame(list(Collector.latest.hours.values()))
    visits = pd.DataFrame(list(Collector.latest.visits.values()))
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        hours.to_csv(Path(out_dir) / "hours.csv", index=False)
        visits.to_csv(Path(out_dir) / "evs.csv", index=False)
    return hours, visits


if __name__ == "__main__":
    hours, visits = main(sys.argv[1] if len(sys.argv) > 1 else None)
    print(hours.to_string(index=False))
    print(f"losses {hours['grid.losses_kw'].sum():.1f} kWh; {len(visits)} EV visits, "
          f"{int(visits['contract_met'].eq(True).sum())} contracts met (the rest: not left yet)")
