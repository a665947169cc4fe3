"""The simulators a co-simulation starts: one entry each. The world's SIM_CONFIG, the timing wrappers and the
recorder's table names all come from this table.

A new simulator is one entry here. Its `wire` names a function `wire(ctx: WorldContext)` (see
`cosim.runner.world`) that starts its entities and connects them, called after the built-in simulators are
wired; the built-ins (wire = None) are wired by `cosim.runner.world` itself."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from cosim.errors import InputError

__all__ = ["SIMULATORS", "SimulatorSpec", "by_name", "register_simulator", "replaced"]


@dataclass(frozen=True)
class SimulatorSpec:
    """One mosaik simulator of the world."""

    name: str  # mosaik simulator name (SIM_CONFIG key), e.g. "Grid"
    target: str  # "module:Class" of its mosaik API class (in-process)
    label: str  # its key in the manifest's timing (seconds spent in step/get_data)
    table: str | None = None  # results table (<table>.csv) its recorded outputs go to
    recorded: tuple[str, ...] = ()  # outputs the recorder keeps, one column each
    wire: str | None = None  # "module:function" wiring its entities: function(ctx: cosim.runner.world.WorldContext)
    row_outputs: tuple[str, ...] = ()  # of `recorded`, those whose values are lists or rows, not one number or flag

    def scalar_recorded(self) -> tuple[str, ...]:
        """The recorded outputs of one value each: what a recorder switched off keeps (`MEMORY_ONLY`)."""
        return tuple(a for a in self.recorded if a not in self.row_outputs)


SIMULATORS: list[SimulatorSpec] = [
    SimulatorSpec("Market", "simulators.market.simulator:MarketSim", "market", "prices",
                  ("energy_price", "load_scaling", "reserve_capacity_price", "reserve_call_price")),
    SimulatorSpec("Parking", "simulators.parking.simulator:ParkingSim", "parking", "lots",
                  ("p_kw", "q_kvar", "setpoint_kw", "undelivered_kw", "evs_present", "evs_charging", "evs_discharging",
                   "energy_stored_kwh", "energy_charged_kwh", "energy_discharged_kwh", "flex_charge_kwh",
                   "flex_discharge_kwh", "unmet_energy_kwh", "throughput_kwh", "evs"), row_outputs=("evs",)),
    SimulatorSpec("Grid", "simulators.grid.simulator:GridSim", "grid", "grid",
                  ("losses_kw", "p_grid_kw", "q_grid_kvar", "v_min_pu", "v_max_pu", "vpd", "open_branches",
                   "converged", "max_loading_percent", "vm_pu", "lines"),
                  row_outputs=("open_branches", "vm_pu", "lines")),
    SimulatorSpec("PLO", "simulators.plo.simulator:PloSim", "plo", "plo"),
    SimulatorSpec("DSO", "simulators.dso.simulator:DsoSim", "dso", "dso"),
    SimulatorSpec("Recorder", "simulators.recorder.simulator:RecorderSim", "recorder"),
]


def register_simulator(spec: SimulatorSpec) -> None:
    """Add a simulator to the table from code (a plug-in or a test); the same as an entry written above."""
    if any(s.name == spec.name for s in SIMULATORS):
        raise InputError(f"a simulator named {spec.name!r} is already in the table")
    if spec.wire is None:
        raise InputError(f"simulator {spec.name!r}: give `wire`, the function that starts and connects its entities")
    SIMULATORS.append(spec)


def by_name(name: str) -> SimulatorSpec:
    return next(spec for spec in SIMULATORS if spec.name == name)


@contextlib.contextmanager
def replaced(name: str, target: str) -> Iterator[SimulatorSpec]:
    """Within the block, the runs of this process start simulator `name` from `target` ("module:Class", e.g. a
    checking variant: `simulators.grid.checked`); yields the replaced entry, restored on leaving."""
    from cosim.runner import timing  # noqa: PLC0415 - the timing wrappers import this table

    k = next(i for i, s in enumerate(SIMULATORS) if s.name == name)
    spec = SIMULATORS[k]
    SIMULATORS[k] = dataclasses.replace(spec, target=target)
    timing.forget(name)
    try:
        yield spec
    finally:
        SIMULATORS[k] = spec
        timing.forget(name)
