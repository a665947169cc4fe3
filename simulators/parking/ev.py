"""One EV visit to a parking lot and its charging contract, validated on construction.

Times are float hours since the start of the run (the lot rounds them to whole minutes); energies in kWh,
powers in kW (grid side), SOC as a fraction of ``capacity_kwh``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cosim.controllers.cccv import reach_clock_kwh
from cosim.errors import InputError

MINUTE_H = 1.0 / 60.0


class EVSpecError(InputError):
    """An EV field holds a value the model cannot use; the message names the EV id, field and value."""


def _is_real(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


@dataclass(frozen=True)
class EV:
    """One EV's stay in the lot and the contract signed with the parking-lot operator (PLO).

    Contract: the lot promises ``soc_min_departure`` at ``departure_h`` (it may charge beyond that) and,
    only when ``v2g_allowed``, may discharge the battery down to ``soc_min`` (reserve floor) provided the
    contract can still be met by departure at full charger power.
    """

    id: str
    arrival_h: float  # hours since the start of the run
    departure_h: float  # hours since the start of the run, at least one minute after arrival
    capacity_kwh: float  # usable battery energy, > 0
    charger_kw: float  # charger/discharger limit at the grid side, > 0
    soc_arrival: float  # 0..1
    soc_min_departure: float = 0.0  # contract: SOC promised at departure, 0..1
    v2g_allowed: bool = False
    soc_min: float = 0.0  # V2G reserve floor, 0..1
    eta_charge: float = 1.0  # grid -> battery efficiency, (0, 1]
    eta_discharge: float = 1.0  # battery -> grid efficiency, (0, 1]
    knee_soc: float = 1.0  # CC-CV: charging power tapers linearly to 0 above this SOC, (0, 1]; 1 = constant power
    vehicle_id: str = ""  # the vehicle (its own battery) making this visit; "" = a vehicle of its own (the visit id)

    def __post_init__(self) -> None:
        def bad(field: str, value: object, allowed: str) -> EVSpecError:
            return EVSpecError(f"EV {self.id!r}: {field}={value!r} is invalid; allowed: {allowed}")

        if not isinstance(self.id, str) or not self.id:
            raise EVSpecError(f"EV id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.vehicle_id, str):
            raise bad("vehicle_id", self.vehicle_id, "a string (empty: the visit's own id)")
        for field in ("arrival_h", "departure_h", "capacity_kwh", "charger_kw", "soc_arrival",
                      "soc_min_departure", "soc_min", "eta_charge", "eta_discharge", "knee_soc"):
            value = getattr(self, field)
            if not _is_real(value):
                raise bad(field, value, "a finite number")
            object.__setattr__(self, field, float(value))
        if not isinstance(self.v2g_allowed, (bool,)) and self.v2g_allowed not in (0, 1):
            raise bad("v2g_allowed", self.v2g_allowed, "True or False")
        object.__setattr__(self, "v2g_allowed", bool(self.v2g_allowed))
        if self.arrival_h < 0:
            raise bad("arrival_h", self.arrival_h, ">= 0 h (hours since the start of the run)")
        if self.departure_h - self.arrival_h < MINUTE_H - 1e-9:  # a difference: robust for huge hour values
            raise bad("departure_h", self.departure_h,
                      f"at least one minute after arrival_h={self.arrival_h!r}")
        if self.capacity_kwh <= 0:
            raise bad("capacity_kwh", self.capacity_kwh, "> 0 kWh")
        if self.charger_kw <= 0:
            raise bad("charger_kw", self.charger_kw, "> 0 kW")
        for field in ("soc_arrival", "soc_min_departure", "soc_min"):
            value = getattr(self, field)
            if not 0.0 <= value <= 1.0:
                raise bad(field, value, "a SOC between 0 and 1")
        for field in ("eta_charge", "eta_discharge"):
            value = getattr(self, field)
            if not 0.0 < value <= 1.0:
                raise bad(field, value, "an efficiency in (0, 1]")
        if not 0.0 < self.knee_soc <= 1.0:
            raise bad("knee_soc", self.knee_soc, "a knee SOC in (0, 1] (1 = no taper)")

    @property
    def vehicle(self) -> str:
        """The vehicle making this visit (its battery ages across its visits)."""
        return self.vehicle_id or self.id

    @property
    def energy_arrival_kwh(self) -> float:
        """Battery energy brought into the lot (kWh)."""
        return self.soc_arrival * self.capacity_kwh

    @property
    def energy_required_kwh(self) -> float:
        """Battery energy promised at departure (kWh)."""
        return self.soc_min_departure * self.capacity_kwh

    def contract_feasible(self) -> bool:
        """True when a dedicated charger at full power (tapered above the knee) reaches the contract between arrival
        and departure."""
        reach = float(reach_clock_kwh(self.energy_arrival_kwh, self.capacity_kwh, self.charger_kw * self.eta_charge,
                                      self.knee_soc, self.arrival_h, self.departure_h))
        return min(reach, self.capacity_kwh) >= self.energy_required_kwh - 1e-9
