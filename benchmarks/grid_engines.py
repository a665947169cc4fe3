"""The grid simulator's hourly flow with each engine: CPU time of `GridModel.step` per simulated day.

Each network is stepped for `--days` days (24 steps a day, load scaling varying hour by hour, a lot charging at
one bus, a new topology at the start of each day: the base one, then each fundamental loop's tie swapped for another
branch of it where that stays radial) with `engine = "pandapower"` (runpp, recycled while the topology holds) and
`engine = "fast"` (the compiled radial flow), after one warm-up day outside the clock (the compiled kernels'
load, pandapower's first flow). Prints one JSON row per network, with the ratio measured in this run.

    .venv/bin/python benchmarks/grid_engines.py [--networks ieee33,simbench:1-MV-urban--0-sw] [--days 3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cosim.powerflow.topology import is_radial  # noqa: E402
from simulators.grid.model import GridModel  # noqa: E402


def topologies(radial, days: int) -> list[list[int]]:
    """One radial topology per day: the base one, then ties swapped one loop further each day."""
    out, opened = [], list(radial.tie_branches)
    for day in range(days):
        out.append(sorted(opened))
        if not radial.loops:
            continue
        k = day % len(radial.loops)
        for b in radial.loops[k]:
            trial = [*opened[:k], b, *opened[k + 1:]]
            if b not in opened and b not in radial.fixed_branches and is_radial(radial, trial):
                opened = trial
                break
    return out


def day_inputs(hour: int, lot_bus: int) -> dict:
    return {"load_scaling": 0.6 + 0.4 * math.sin(math.pi * (hour % 24) / 24.0),
            "lot_power_kw": {lot_bus: 300.0 if hour % 24 < 8 else -150.0}}


def cpu_per_day(model: GridModel, days: list[list[int]], lot_bus: int) -> float:
    """CPU seconds of `model.step` per simulated day."""
    total = 0.0
    for d, topology in enumerate(days):
        for h in range(24):
            inputs = day_inputs(24 * d + h, lot_bus)
            if h == 0:
                inputs["open_branches"] = topology
            t = time.process_time()
            model.step(**inputs)
            total += time.process_time() - t
    return total / len(days)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="ieee33,simbench:1-MV-urban--0-sw")
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in args.networks.split(","):
        row = {"network": name, "days": args.days}
        for engine in ("pandapower", "fast"):
            model = GridModel(name, engine=engine)
            radial = model.network.radial
            days = topologies(radial, args.days + 1)
            lot_bus = radial.n_bus // 2 + 1
            cpu_per_day(model, days[:1], lot_bus)  # warm-up day
            row[f"{engine}_cpu_s_per_day"] = round(cpu_per_day(model, days[1:], lot_bus), 4)
        row["pandapower_over_fast"] = round(row["pandapower_cpu_s_per_day"] / row["fast_cpu_s_per_day"], 1)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
