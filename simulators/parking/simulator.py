"""mosaik (API v3) wrapper: ``ParkingSim`` with model ``Lot``, one entity per parking lot.

Time-based; with ``time_resolution=3600`` one mosaik time unit is one hour and the lot steps by
``step_size`` units (default 1). Input ``setpoint_kw`` (grid side, + charging / - discharging) is summed
over all senders; with no input in a step the setpoint is 0 kW (idle, must-run charging still happens).
Outputs are the step's figures from :meth:`ParkingLot.advance`, as Python floats, and ``state``: the lot
time and, at each day boundary, its 24-h ``forecast`` (:func:`day_ahead_forecast`) for its operator.

``fleet`` is a preset name (``"joape2024"``), a CSV path, or a dict ``{"kind": "preset"|"stochastic"|"csv",
...}`` whose other keys go to :func:`preset_fleet`, :func:`stochastic_fleet` or :func:`load_fleet_csv`
(``path``). ``seed`` seeds presets and stochastic fleets unless the dict sets its own.
"""
from __future__ import annotations

from typing import Any

import mosaik_api_v3

from cosim.errors import InputError

from .fleet import load_fleet_csv, stochastic_fleet
from .forecast import day_ahead_forecast
from .lot import ParkingLot
from .presets import FLEETS, preset_fleet

OUTPUTS = [
    "p_kw", "setpoint_kw", "undelivered_kw", "mustrun_kw", "evs_present", "evs_plugged", "evs_waiting",
    "evs_charging", "evs_discharging", "evs_arrived", "evs_departed", "evs_refused", "energy_stored_kwh",
    "energy_stored_start_kwh", "energy_arrived_kwh", "energy_departed_kwh", "flex_charge_kwh",
    "flex_discharge_kwh", "max_charge_kw", "max_discharge_kw", "energy_charged_kwh", "energy_discharged_kwh",
    "throughput_kwh", "battery_charged_kwh", "battery_discharged_kwh", "unmet_energy_kwh",
]

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Lot": {
            "public": True,
            "params": ["fleet", "n_chargers", "connection_limit_kw", "allocation", "overflow", "seed", "lot_id"],
            "attrs": ["setpoint_kw", "state"] + [o for o in OUTPUTS if o != "setpoint_kw"],
        },
    },
}


class ParkingConfigError(InputError):
    """Bad ParkingSim/Lot parameters; the message names the parameter and what is allowed."""


def build_fleet(fleet: Any, seed: int = 0):
    """EV list from a ``fleet`` spec (see the module docstring)."""
    if isinstance(fleet, str):
        return preset_fleet(fleet, seed=seed) if fleet in FLEETS else load_fleet_csv(fleet)
    if isinstance(fleet, dict):
        spec = dict(fleet)
        kind = spec.pop("kind", None)
        if kind == "preset":
            spec.setdefault("seed", seed)
            return preset_fleet(spec.pop("name", "joape2024"), **spec)
        if kind == "stochastic":
            spec.setdefault("seed", seed)
            return stochastic_fleet(**spec)
        if kind == "csv":
            return load_fleet_csv(spec["path"])
        raise ParkingConfigError(f"fleet kind={kind!r} is invalid; allowed: 'preset', 'stochastic', 'csv'")
    raise ParkingConfigError(f"fleet={fleet!r} is invalid; allowed: a preset name {FLEETS.names()}, "
                             "a CSV path or a dict with 'kind'")


class ParkingSim(mosaik_api_v3.Simulator):
    """mosaik simulator of parking lots (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(META)
        self.lots: dict[str, ParkingLot] = {}
        self.data: dict[str, dict[str, float]] = {}
        self.state: dict[str, dict[str, Any]] = {}  # output `state`: lot time and, at day starts, the forecast
        self.hours_per_unit = 1.0
        self.step_size = 1

    def init(self, sid, time_resolution: float = 3600.0, step_size: int = 1, **sim_params):
        if not time_resolution > 0:
            raise ParkingConfigError(f"time_resolution={time_resolution!r} must be > 0 s per time unit")
        if int(step_size) != step_size or step_size < 1:
            raise ParkingConfigError(f"step_size={step_size!r} must be a positive integer of time units")
        self.hours_per_unit = float(time_resolution) / 3600.0
        self.step_size = int(step_size)
        if self.step_size * self.hours_per_unit * 60.0 < 1.0 - 1e-9:
            raise ParkingConfigError("a step must last at least one minute (time_resolution x step_size >= 60 s)")
        return self.meta

    def create(self, num, model, fleet="joape2024", n_chargers=None, connection_limit_kw=None,
               allocation="earliest_departure_first", overflow="queue", seed=0, lot_id=None):
        if model != "Lot":
            raise ParkingConfigError(f"model={model!r} is invalid; allowed: 'Lot'")
        entities = []
        if lot_id is not None and (num != 1 or lot_id in self.lots):
            raise ParkingConfigError(f"lot_id={lot_id!r} must be unique and name one entity (num=1)")
        for _ in range(num):
            eid = lot_id or f"Lot_{len(self.lots)}"
            self.lots[eid] = ParkingLot(build_fleet(fleet, seed), n_chargers=n_chargers,
                                        connection_limit_kw=connection_limit_kw, allocation=allocation,
                                        overflow=overflow)
            self.data[eid] = {}
            entities.append({"eid": eid, "type": model})
        return entities

    def step(self, time, inputs, max_advance):
        until_h = (time + self.step_size) * self.hours_per_unit
        for eid, lot in self.lots.items():
            values = inputs.get(eid, {}).get("setpoint_kw", {})
            setpoint = float(sum(float(v) for v in values.values()))
            self.data[eid] = lot.advance(setpoint, until_h)
            self.state[eid] = {"hour": until_h}
            if abs(until_h % 24.0) < 1e-9:  # day-ahead view for the PLO, at day boundaries only
                self.state[eid]["forecast"] = day_ahead_forecast(lot, until_h)
        return time + self.step_size

    def get_data(self, outputs):
        result = {}
        for eid, attrs in outputs.items():
            if eid not in self.data:
                raise ParkingConfigError(f"unknown lot entity {eid!r}; known: {sorted(self.data)}")
            row = self.data[eid]
            result[eid] = {a: self.state.get(eid, {}) if a == "state" else float(row.get(a, 0.0)) for a in attrs}
        return result


def main() -> None:
    """Run as a separate process: ``python -m simulators.parking.simulator HOST:PORT``."""
    mosaik_api_v3.start_simulation(ParkingSim())


if __name__ == "__main__":
    main()
