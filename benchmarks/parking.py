"""Parking-lot speed: EV-days simulated per second by one lot (1,000 and 10,000 EVs a day), and the
mosaik overhead per step (the same lot inside a mosaik World vs calling ``advance()`` directly, same process).

Run: ``.venv/bin/python benchmarks/parking.py [--days 3]``
"""
from __future__ import annotations

import argparse
import time

import mosaik
import mosaik_api_v3

from simulators.parking import ParkingLot, stochastic_fleet


class ConstantSetpoint(mosaik_api_v3.Simulator):
    """One entity emitting a constant ``setpoint_kw`` every time unit."""

    def __init__(self):
        super().__init__({"type": "time-based", "models": {
            "Source": {"public": True, "params": ["value"], "attrs": ["setpoint_kw"]}}})
        self.value = 0.0

    def create(self, num, model, value=0.0):
        self.value = float(value)
        return [{"eid": "src", "type": model}]

    def step(self, time, inputs, max_advance):
        return time + 1

    def get_data(self, outputs):
        return {eid: {"setpoint_kw": self.value} for eid in outputs}


def setpoint_for(t_h: float, n_per_day: int) -> float:
    """A day-shaped operator signal: charge at night, discharge in the afternoon (kW)."""
    h = t_h % 24
    return (-2.0 if 11 <= h < 19 else 4.0) * n_per_day


def direct(n_per_day: int, days: int, chargers: int, constant: float | None = None) -> tuple[float, float]:
    """(build s, run s) of one lot stepped hourly by direct ``advance()`` calls."""
    fleet = stochastic_fleet(n_per_day, seed=1, days=days)
    t0 = time.perf_counter()
    lot = ParkingLot(fleet, n_chargers=chargers, connection_limit_kw=10.0 * n_per_day)
    t1 = time.perf_counter()
    for h in range(24 * days):
        lot.advance(setpoint_for(h, n_per_day) if constant is None else constant, h + 1.0)
    return t1 - t0, time.perf_counter() - t1


def in_mosaik(n_per_day: int, days: int, chargers: int, constant: float) -> float:
    """Run seconds of the same lot inside a mosaik World with a constant setpoint source."""
    world = mosaik.World({"Parking": {"python": "simulators.parking.simulator:ParkingSim"},
                          "Const": {"python": f"{__name__}:ConstantSetpoint"}},
                         time_resolution=3600, skip_greetings=True, configure_logging=False)
    lot = world.start("Parking").Lot(fleet={"kind": "stochastic", "n_per_day": n_per_day, "days": days},
                                     n_chargers=chargers, connection_limit_kw=10.0 * n_per_day, seed=1)
    world.connect(world.start("Const").Source(value=constant), lot, "setpoint_kw")
    t0 = time.perf_counter()
    world.run(until=24 * days, print_progress=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    days = args.days
    print(f"one lot, hourly steps, {days} day(s), stochastic fleet, chargers = 60 % of daily EVs")
    for n in (1_000, 10_000):
        build, run = direct(n, days, int(0.6 * n))
        print(f"  {n:>6} EVs/day: build {build:6.3f} s, run {run:6.3f} s -> "
              f"{n * days / run:10.0f} EV-days/s ({n * days / (build + run):10.0f} incl. build)")
    const = 500.0
    for n, d in ((1_000, days), (100, 10 * days)):
        t_direct = min(direct(n, d, int(0.6 * n), constant=const)[1] for _ in range(3))
        t_mosaik = min(in_mosaik(n, d, int(0.6 * n), const) for _ in range(3))
        steps = 24 * d
        print(f"mosaik overhead ({n} EVs/day, {steps} hourly steps, in-process, best of 3): direct "
              f"{t_direct:.3f} s, mosaik {t_mosaik:.3f} s -> {1e3 * (t_mosaik - t_direct) / steps:.3f} ms "
              f"per step (ratio {t_mosaik / t_direct:.2f})")


if __name__ == "__main__":
    main()
