"""mosaik (API v3) wrapper: ``ParkingSim`` with model ``Lot``, one entity per parking lot.

Time-based. When the world's ``time_resolution`` (seconds per mosaik time unit) is one of the framework's steps
(`cosim.timebase.STEP_MINUTES`: 3600, 1800 or 900 s), one time unit is one step and the lot steps one unit by
default; at another resolution it steps one hour by default (``3600 / time_resolution`` units, a whole number).
``step_size`` (in time units, at least one minute long) sets another step. Unknown simulator parameters are
refused, as GridSim does. The day-ahead arrays (forecast, schedule) hold one value per step of the day when the
step is a framework step (24, 48 or 96 values), else 24 hourly values.

Input ``setpoint_kw`` (grid side, + charging / - discharging) is summed over all senders; with no input in a
step the setpoint is 0 kW (idle, must-run charging still happens). Input ``schedule`` ({"start_h": time units of
its first step, "kw": setpoints, one per step}) is the operator's day: the lot shares each step's energy among its
EVs by the per-EV plan that delivers it (`ParkingLot.set_schedule`). Outputs are the step's figures from
:meth:`ParkingLot.advance` (powers as Python floats, means over the step; energies in kWh of the step, kW x step_h;
counts as ints; ``evs_present`` counts the EVs in the lot at any moment of the step), ``evs``: one row per EV visit
touched in the step (:meth:`ParkingLot.session_row` plus ``lot_id``; an EV's last row is its visit's final state),
and ``state``: the lot time (``hour``, in hours) and, at each day boundary, its day-ahead ``forecast``
(:func:`day_ahead_forecast`, one value per step of the day) for its operator; with ``hourly_forecast`` a fresh
forecast every step and ``measured`` (``evs_present``, ``energy_stored_kwh``, ``energy_charged_kwh`` since the day
started), for step-by-step control. ``forecast_error`` (Gaussian: {arrival_sigma_h, departure_sigma_h,
energy_sigma}; or ElaadNL: {source = "elaadnl", segment, share}; see :class:`ForecastError`) makes the forecast
differ from the EVs that come.

``fleet`` is a preset name (``"joape2024"``), a CSV path, or a dict ``{"kind": "preset"|"stochastic"|"csv",
...}`` whose other keys go to :func:`preset_fleet`, :func:`stochastic_fleet` or :func:`load_fleet_csv`
(``path``). ``seed`` seeds presets and stochastic fleets unless the dict sets its own.

``power_factor`` (default 1) is the chargers' power factor: output ``q_kvar`` = |p_kw| tan(acos(pf)), absorbed.
``qv`` (a table of `simulators.parking.reactive.QVCurve` fields) sets ``q_kvar`` by a Q(V) droop instead, from input
``v_pu``: the lot's bus voltage, which the world sends time-shifted (the previous step's measurement); a NaN (the
grid's flow did not converge) keeps the last measured voltage.
``degradation`` holds `cosim.controllers.ageing.AgeingModel` parameters (and ``wear_cost`` and ``calendar_cost``,
the PLO's business): each visit's capacity loss is in its ``evs`` rows.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

import mosaik_api_v3

from cosim.controllers.ageing import COST_SWITCHES, AgeingModel
from cosim.errors import InputError
from cosim.timebase import STEP_MINUTES

from .fleet import load_fleet_csv, stochastic_fleet
from .forecast import ELAADNL_SEGMENTS, ElaadnlForecastError, ForecastError, ForecastView, forecast_with_error
from .lot import ParkingLot
from .presets import FLEETS, preset_fleet
from .reactive import qv_curve

OUTPUTS = [
    "p_kw", "q_kvar", "setpoint_kw", "undelivered_kw", "mustrun_kw", "evs_present", "evs_plugged", "evs_waiting",
    "evs_charging", "evs_discharging", "evs_arrived", "evs_departed", "evs_refused", "energy_stored_kwh",
    "energy_stored_start_kwh", "energy_arrived_kwh", "energy_departed_kwh", "flex_charge_kwh",
    "flex_discharge_kwh", "max_charge_kw", "max_discharge_kw", "energy_charged_kwh", "energy_discharged_kwh",
    "throughput_kwh", "battery_charged_kwh", "battery_discharged_kwh", "unmet_energy_kwh",
]
COUNTS = {o for o in OUTPUTS if o.startswith("evs_")}  # integers; every other output is a float

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Lot": {
            "public": True,
            "params": ["fleet", "n_chargers", "connection_limit_kw", "allocation", "overflow", "seed", "lot_id",
                       "hourly_forecast", "forecast_error", "power_factor", "degradation", "qv"],
            "attrs": ["setpoint_kw", "schedule", "v_pu", "state", "evs"] + [o for o in OUTPUTS if o != "setpoint_kw"],
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
        if kind == "preset":  # a named preset or a user's fleet function ("module:function", found `near`)
            spec.setdefault("seed", seed)
            return preset_fleet(spec.pop("name", "joape2024"), near=spec.pop("near", None), **spec)
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
        self.data: dict[str, dict[str, float | int]] = {}
        # output `evs`: the visits touched in the last step, made when first asked for (None: not yet) from the lot
        # as the step left it (a run without a recorder never asks)
        self.sessions: dict[str, list[dict[str, Any]] | None] = {}
        self.state: dict[str, dict[str, Any]] = {}  # output `state`: lot time and, at day starts, the forecast
        self.hourly: dict[str, bool] = {}  # lots whose operator gets a forecast and measurements every hour
        self.views: dict[str, ForecastView | None] = {}  # the operator's view of its fleet (forecast errors)
        self.charged_today: dict[str, float] = {}
        self.hours_per_unit = 1.0
        self.step_size = 1
        self.day_step_minutes = 60  # the step of the day-ahead arrays (forecast, schedule): the lot's step if allowed

    def init(self, sid, time_resolution: float = 3600.0, step_size: int | None = None, **sim_params):
        """``step_size`` in mosaik time units; default one unit when ``time_resolution`` is a framework step
        (3600, 1800 or 900 s), else one hour (``3600 / time_resolution`` units)."""
        if sim_params:
            raise ParkingConfigError(f"ParkingSim: unknown simulator parameter(s) {sorted(sim_params)}; "
                                     "known: step_size")
        if isinstance(time_resolution, bool) or not isinstance(time_resolution, (int, float)) \
                or not time_resolution > 0:
            raise ParkingConfigError(f"time_resolution={time_resolution!r} must be > 0 s per time unit")
        if step_size is None and float(time_resolution) in {60.0 * m for m in STEP_MINUTES}:
            step_size = 1  # one mosaik time unit is one step of the run
        if step_size is None:
            hour = 3600.0 / float(time_resolution)
            if hour < 1 or not hour.is_integer():
                raise ParkingConfigError(f"time_resolution={time_resolution!r} s does not divide an hour into whole "
                                         "time units; give step_size")
            step_size = int(hour)
        if isinstance(step_size, bool) or int(step_size) != step_size or step_size < 1:
            raise ParkingConfigError(f"step_size={step_size!r} must be a positive integer of time units")
        self.hours_per_unit = float(time_resolution) / 3600.0
        self.step_size = int(step_size)
        if self.step_size * self.hours_per_unit * 60.0 < 1.0 - 1e-9:
            raise ParkingConfigError("a step must last at least one minute (time_resolution x step_size >= 60 s)")
        step_minutes = self.step_size * self.hours_per_unit * 60.0
        allowed = any(abs(step_minutes - m) < 1e-9 for m in STEP_MINUTES)
        self.day_step_minutes = int(round(step_minutes)) if allowed else 60
        return self.meta

    def create(self, num, model, fleet="joape2024", n_chargers=None, connection_limit_kw=None,
               allocation="least_laxity_first", overflow="queue", seed=0, lot_id=None, hourly_forecast=False,
               forecast_error=None, power_factor=1.0, degradation=None, qv=None):
        if model != "Lot":
            raise ParkingConfigError(f"model={model!r} is invalid; allowed: 'Lot'")
        entities = []
        if lot_id is not None and (num != 1 or lot_id in self.lots):
            raise ParkingConfigError(f"lot_id={lot_id!r} must be unique and name one entity (num=1)")
        for _ in range(num):
            eid = lot_id or f"Lot_{len(self.lots)}"
            ageing = {k: v for k, v in (degradation or {}).items() if k not in COST_SWITCHES}
            try:
                ageing_model = AgeingModel(**ageing)
            except TypeError:
                raise ParkingConfigError(f"degradation: unknown key(s) {sorted(ageing)}; allowed: "
                                         f"{[f.name for f in fields(AgeingModel)]}, "
                                         f"{', '.join(COST_SWITCHES)}") from None
            self.lots[eid] = ParkingLot(build_fleet(fleet, seed), n_chargers=n_chargers,
                                        connection_limit_kw=connection_limit_kw, allocation=allocation,
                                        overflow=overflow, ageing=ageing_model, power_factor=power_factor,
                                        qv_curve=qv_curve(qv))
            self.data[eid] = {}
            self.sessions[eid] = []
            self.hourly[eid] = bool(hourly_forecast)
            self.views[eid] = forecast_view(self.lots[eid], forecast_error, seed, eid)
            self.charged_today[eid] = 0.0
            entities.append({"eid": eid, "type": model})
        return entities

    def step(self, time, inputs, max_advance):
        until_h = (time + self.step_size) * self.hours_per_unit
        for eid, lot in self.lots.items():
            values = inputs.get(eid, {}).get("setpoint_kw", {})
            setpoint = float(sum(float(v) for v in values.values()))
            for schedule in inputs.get(eid, {}).get("schedule", {}).values():  # the operator's day (one sender)
                if isinstance(schedule, dict) and schedule.get("kw"):
                    lot.set_schedule(float(schedule["start_h"]) * self.hours_per_unit,
                                     schedule["kw"], self.views[eid], self.day_step_minutes)
            for v_pu in inputs.get(eid, {}).get("v_pu", {}).values():  # the bus voltage the Q(V) curve reads
                if v_pu is not None and math.isfinite(float(v_pu)):  # NaN (no converged flow): keep the last one
                    lot.bus_v_pu = float(v_pu)
            self.data[eid] = lot.advance(setpoint, until_h)
            self.sessions[eid] = None
            self.state[eid] = {"hour": until_h}
            day_start = abs(until_h % 24.0) < 1e-9
            self.charged_today[eid] = 0.0 if day_start else \
                self.charged_today[eid] + float(self.data[eid].get("energy_charged_kwh", 0.0))
            if day_start or self.hourly[eid]:  # day-ahead view for the PLO (every step for step-by-step control)
                self.state[eid]["forecast"] = forecast_with_error(lot, until_h, self.views[eid],
                                                                  self.day_step_minutes)
            if self.hourly[eid]:
                self.state[eid]["measured"] = {"evs_present": int(self.data[eid].get("evs_present", 0)),
                                               "energy_stored_kwh": float(self.data[eid].get("energy_stored_kwh", 0)),
                                               "energy_charged_kwh": self.charged_today[eid]}
        return time + self.step_size

    def get_data(self, outputs):
        result = {}
        for eid, attrs in outputs.items():
            if eid not in self.data:
                raise ParkingConfigError(f"unknown lot entity {eid!r}; known: {sorted(self.data)}")
            result[eid] = {a: self._value(eid, a) for a in attrs}
        return result

    def _value(self, eid: str, attr: str) -> Any:
        if attr == "state":
            return self.state.get(eid, {})
        if attr == "evs":
            if self.sessions[eid] is None:  # the lot is as the step left it until the next step
                self.sessions[eid] = [{"ev_id": row["ev_id"], "lot_id": eid, **row}
                                      for row in self.lots[eid].step_sessions()]
            return self.sessions[eid]
        value = self.data[eid].get(attr, 0)
        return int(value) if attr in COUNTS else float(value)


def forecast_view(lot: ParkingLot, forecast_error: Any, seed: int, key: str) -> ForecastView | None:
    """The operator's view of `lot` for `forecast_error`, or None (perfect foresight): Gaussian
    ({arrival_sigma_h, departure_sigma_h, energy_sigma}, each >= 0; `source = "gaussian"` optional) or ElaadNL
    ({source = "elaadnl", segment = "private" | "public" | "workplace", share in [0, 1]})."""
    if not forecast_error:
        return None
    if not isinstance(forecast_error, dict):
        raise ParkingConfigError(f"forecast_error={forecast_error!r} must be a table of arrival_sigma_h, "
                                 "departure_sigma_h, energy_sigma or of source = 'elaadnl', segment, share")
    table = dict(forecast_error)
    source = table.pop("source", "gaussian")
    if source == "elaadnl":
        unknown = sorted(set(table) - {"segment", "share"})
        if unknown:
            raise ParkingConfigError(f"forecast_error: unknown key(s) {unknown} for source 'elaadnl'; allowed: "
                                     "source, segment, share")
        missing = sorted({"segment", "share"} - set(table))
        if missing:
            raise ParkingConfigError(f"forecast_error.{missing[0]} is required for source 'elaadnl'")
        elaadnl = ElaadnlForecastError(**table)
        if elaadnl.segment not in ELAADNL_SEGMENTS:
            raise ParkingConfigError(f"forecast_error.segment={elaadnl.segment!r} is invalid; allowed: "
                                     f"{', '.join(ELAADNL_SEGMENTS)}")
        share = elaadnl.share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ParkingConfigError(f"forecast_error.share={share!r} must be a number in [0, 1]")
        return ForecastView(lot, elaadnl, seed, key) if elaadnl.any else None
    if source != "gaussian":
        raise ParkingConfigError(f"forecast_error.source={source!r} is invalid; allowed: 'gaussian', 'elaadnl'")
    try:
        error = ForecastError(**table)
    except TypeError:
        raise ParkingConfigError(f"forecast_error: unknown key(s) {sorted(forecast_error)}; allowed: "
                                 "arrival_sigma_h, departure_sigma_h, energy_sigma") from None
    for name in ("arrival_sigma_h", "departure_sigma_h", "energy_sigma"):
        value = getattr(error, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise ParkingConfigError(f"forecast_error.{name}={value!r} must be a finite number >= 0")
    return ForecastView(lot, error, seed, key) if error.any else None


def main() -> None:
    """Run as a separate process: ``python -m simulators.parking.simulator HOST:PORT``."""
    mosaik_api_v3.start_simulation(ParkingSim())


if __name__ == "__main__":
    main()
