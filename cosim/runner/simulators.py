"""The simulators a co-simulation starts: one entry each. The world's SIM_CONFIG, the timing wrappers and the
recorder's table names all come from this table, so a new simulator is one entry here plus its wiring in
`cosim.runner.world`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SIMULATORS", "SimulatorSpec", "by_name"]


@dataclass(frozen=True)
class SimulatorSpec:
    """One mosaik simulator of the world."""

    name: str  # mosaik simulator name (SIM_CONFIG key), e.g. "Grid"
    target: str  # "module:Class" of its mosaik API class (in-process)
    label: str  # its key in the manifest's timing (seconds spent in step/get_data)
    table: str | None = None  # results table (<table>.csv) its recorded outputs go to
    recorded: tuple[str, ...] = ()  # outputs the recorder keeps, one column each


SIMULATORS: tuple[SimulatorSpec, ...] = (
    SimulatorSpec("Market", "simulators.market.simulator:MarketSim", "market", "prices",
                  ("energy_price", "load_scaling", "reserve_capacity_price", "reserve_call_price")),
    SimulatorSpec("Parking", "simulators.parking.simulator:ParkingSim", "parking", "lots",
                  ("p_kw", "setpoint_kw", "undelivered_kw", "evs_present", "evs_charging", "evs_discharging",
                   "energy_stored_kwh", "energy_charged_kwh", "energy_discharged_kwh", "flex_charge_kwh",
                   "flex_discharge_kwh", "unmet_energy_kwh", "throughput_kwh")),
    SimulatorSpec("Grid", "simulators.grid.simulator:GridSim", "grid", "grid",
                  ("losses_kw", "p_grid_kw", "q_grid_kvar", "v_min_pu", "v_max_pu", "vpd", "open_branches",
                   "converged", "max_loading_percent", "vm_pu")),
    SimulatorSpec("PLO", "simulators.plo.simulator:PloSim", "plo", "plo"),
    SimulatorSpec("DSO", "simulators.dso.simulator:DsoSim", "dso", "dso"),
    SimulatorSpec("Recorder", "simulators.recorder.simulator:RecorderSim", "recorder"),
)


def by_name(name: str) -> SimulatorSpec:
    return next(spec for spec in SIMULATORS if spec.name == name)
