"""A user-written simulator added to the co-simulation by one table entry (the README's recipe, tested).

`MeterSim` sums the grid's hourly losses into a running energy total; `wire_meter` starts one meter and
connects it to the grid and the recorder. The entry: SimulatorSpec("Meter", "user_simulator:MeterSim",
"meter", table="meter", recorded=("energy_losses_kwh",), wire="user_simulator:wire_meter").
"""

from __future__ import annotations

import mosaik_api_v3

META = {"type": "time-based", "models": {"Meter": {"public": True, "params": [], "attrs": ["losses_kw",
                                                                                       "energy_losses_kwh"]}}}


class MeterSim(mosaik_api_v3.Simulator):
    """Hourly: energy_losses_kwh += losses_kw x 1 h."""

    def __init__(self) -> None:
        super().__init__(META)
        self.energy_kwh = 0.0

    def create(self, num, model):
        return [{"eid": "meter", "type": model}]

    def step(self, time, inputs, max_advance):
        for value in inputs.get("meter", {}).get("losses_kw", {}).values():
            self.energy_kwh += float(value) if value == value else 0.0  # a non-converged hour (NaN) adds nothing
        return time + 1

    def get_data(self, outputs):
        return {"meter": {"energy_losses_kwh": self.energy_kwh}}


def wire_meter(ctx) -> None:
    """Start the meter, feed it the grid's losses and record its total."""
    meter = ctx.world.start("Meter").Meter()
    ctx.world.connect(ctx.entities["Grid"], meter, "losses_kw")
    ctx.world.connect(meter, ctx.entities["Recorder"], "energy_losses_kwh")
    ctx.entities["Meter"] = meter
