"""What DSO <-> PLO messages carry, as plain JSON-able dicts, and the conversions to and from our types.

- offer (PLO -> DSO), full fleet data: `offer_to_payload(LotOffer)` / `offer_from_payload(...)`;
- offer (PLO -> DSO), the PLO's own schedule: `schedule_offer(...)`;
- schedule (DSO -> PLO): `schedule_payload(setpoints_kw, bus)`;
- signal (DSO -> PLO): `DsoSignal.to_payload()` / `DsoSignal.from_payload(...)` (price adders and kW limits).

Every received payload is checked against its schema before anything uses it (`check_offer`, `check_schedule`,
`check_signal`, `check_json` for a user mode's own kinds): field names, types, one value per step of the day
(the receiver's `LotRegistration.steps_per_day`: 24, 48 or 96; names such as `hour_mode` and `need_by_hour_kwh`
keep "hour" but hold one value per step), finite numbers, buses within the lot's registered candidates and
powers within its registered connection limit (`LotRegistration`). A payload that fails raises `PayloadError`;
the receiver rejects the message, logs why, and goes on with what it knew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cosim.controllers.base import HOURS, LotEconomics, LotOffer
from cosim.controllers.envelope import FlexEnvelope
from cosim.errors import InputError
from cosim.timebase import HOURS_PER_DAY, STEPS_PER_DAY, step_h_of, step_minutes_of

__all__ = ["FULL_OFFER_FIELDS", "SCHEDULE_OFFER_FIELDS", "LotRegistration", "PayloadError", "check_envelope",
           "check_fleet", "check_json", "check_offer", "check_schedule", "check_signal", "envelope_from_payload",
           "measured_payload", "misreport", "offer_from_payload", "offer_to_payload", "schedule_offer",
           "schedule_payload"]

FULL_OFFER_FIELDS = frozenset({"lot_id", "candidate_buses", "n_pev", "pev_power_kw", "pev_battery_kwh", "hour_mode",
                               "max_charge_kw", "max_discharge_kw", "energy_need_kwh", "energy_available_kwh",
                               "need_by_hour_kwh", "economics", "envelope", "fleet"})
SCHEDULE_OFFER_FIELDS = frozenset({"lot_id", "candidate_buses", "schedule_kw"})
SCHEDULE_FIELDS = frozenset({"setpoints_kw", "bus", "start_hour"})
MEASURED_FIELDS = frozenset({"evs_present", "energy_stored_kwh", "energy_charged_kwh"})
SIGNAL_FIELDS = frozenset({"price_adder_usd_per_kwh", "max_import_kw", "max_export_kw"})
ECONOMICS_FIELDS = frozenset({"mu_e", "cost_e_usd_per_kwh", "cost_ca_usd_per_pev_day", "wear_usd_per_kwh",
                              "calendar_usd_per_kwh_h"})
AGEING_COST_FIELDS = ("wear_usd_per_kwh", "calendar_usd_per_kwh_h")  # in an offer's economics only when switched on
ENVELOPE_FIELDS = frozenset({"p_min_kw", "p_max_kw", "e_min_kwh", "e_max_kwh", "eta_charge", "eta_discharge",
                             "shortfall_kwh", "gain_max_kwh", "drop_max_kwh"})
NO_LIMIT_KW = 1e9  # how "no limit" travels (JSON has no infinity)
MAX_PRICE_USD_PER_KWH = 1e6
MAX_PEVS = 1_000_000
TOLERANCE_KW = 1e-6
MAX_INT = 2**53  # integers in payloads: what a float holds exactly (a 401-digit JSON integer is refused, not raised)


class PayloadError(InputError):
    """A received payload that breaks its schema. `event` is how the receiver logs it: "rejected message", or
    "implausible offer" for powers beyond the lot's registered connection limit."""

    def __init__(self, message: object, event: str = "rejected message") -> None:
        super().__init__(message)
        self.event = event


@dataclass(frozen=True)
class LotRegistration:
    """What the DSO knows of a lot before any message: where it may sit and how much power its connection takes."""

    candidate_buses: tuple[int, ...]
    connection_limit_kw: float = math.inf
    power_factor: float = 1.0  # its chargers' power factor: the DSO's plans add their reactive power
    steps_per_day: int = HOURS  # the receiver's day in steps (24, 48, 96): the length every day-ahead array has

    def __post_init__(self) -> None:
        if isinstance(self.steps_per_day, bool) or self.steps_per_day not in STEPS_PER_DAY:
            raise InputError(f"LotRegistration.steps_per_day={self.steps_per_day!r} is not allowed; allowed: "
                             f"{', '.join(map(str, sorted(STEPS_PER_DAY)))}")

    @property
    def step_minutes(self) -> int:
        return step_minutes_of(self.steps_per_day)


def _fields(payload: Any, allowed: frozenset[str], what: str, optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(payload, dict):
        raise PayloadError(f"{what}: a {type(payload).__name__}, not a table")
    missing = sorted(allowed - optional - set(payload))
    extra = sorted(map(str, set(payload) - allowed))
    if missing:
        raise PayloadError(f"{what}: missing field(s) {missing}")
    if extra:
        raise PayloadError(f"{what}: unknown field(s) {extra}")


def _number(value: Any, name: str, low: float = -math.inf, high: float = math.inf, integer: bool = False) -> float:
    kinds = (int,) if integer else (int, float)
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise PayloadError(f"{name}: {'an integer' if integer else 'a number'} expected, got {_short(value)}")
    if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:  # valid JSON, but no float holds it exactly
        raise PayloadError(f"{name}: integer out of range ({value.bit_length()} bits)")
    if not math.isfinite(value):
        raise PayloadError(f"{name}: not a finite number ({value!r})")
    if not low <= value <= high:
        raise PayloadError(f"{name}: {value!r} outside [{low:g}, {high:g}]")
    return value


def _hourly(value: Any, name: str, low: float = -math.inf, high: float = math.inf, integer: bool = False,
            n: int = HOURS) -> np.ndarray:
    """`n` values, one per step of the day (24 hourly ones at 60-minute steps)."""
    if not isinstance(value, list) or len(value) != n:
        size = len(value) if isinstance(value, list) else type(value).__name__
        what = "24 hourly values" if n == HOURS else f"{n} values (one per {step_minutes_of(n)}-min step)"
        raise PayloadError(f"{name}: {what} expected, got {size}")
    checked = _numbers(value, low, high, integer)
    if checked is not None:
        return checked
    return np.array([_number(v, f"{name}[{h}]", low, high, integer) for h, v in enumerate(value)],
                    dtype=int if integer else float)


_INTS, _NUMBERS = frozenset({int}), frozenset({int, float})


def _numbers(values: list[Any], low: float = -math.inf, high: float = math.inf,
             integer: bool = False) -> np.ndarray | None:
    """`values` as an array when every one passes `_number` (checked at once); None when one may not, and the
    caller checks them one by one for the first failure and its message.

    At once: only exact ints (and floats), so no bool and no subclass; ints below 2**53 in size, where a float
    holds them exactly, so the float comparisons are the exact ones `_number` makes."""
    kinds = set(map(type, values))
    if not kinds <= (_INTS if integer else _NUMBERS):
        return None
    try:
        arr = np.array(values, dtype=float)
    except OverflowError:  # an int beyond any float
        return None
    if not (np.isfinite(arr).all() and (arr >= low).all() and (arr <= high).all()):
        return None
    if int in kinds and not (np.abs(arr) < MAX_INT).all():
        return None
    return np.array(values, dtype=int) if integer else arr


def _each_number(values: list[Any], name: str, low: float = -math.inf, high: float = math.inf,
                 integer: bool = False) -> None:
    """Every value of a list (of any length) as `_number` checks it: at once, or one by one where one may fail."""
    if _numbers(values, low, high, integer) is None:
        for v in values:
            _number(v, name, low, high, integer)


def _within_limit(value: Any, name: str, lot_id: str, limit_kw: float, negative: bool = False,
                  n: int = HOURS) -> np.ndarray:
    """`n` finite powers (one per step), >= 0 (or any sign when `negative`), whose size is within the registered
    limit."""
    arr = _hourly(value, name, -math.inf if negative else 0.0, n=n)
    worst = float(np.max(np.abs(arr)))
    if worst > limit_kw + TOLERANCE_KW:
        raise PayloadError(f"{name} up to {worst:.0f} kW beyond the registered {limit_kw:.0f} kW of {lot_id!r}",
                           event="implausible offer")
    return arr


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _buses(value: Any, lot_id: str, registered: tuple[int, ...]) -> None:
    if not isinstance(value, list) or not value:
        raise PayloadError(f"candidate_buses: a non-empty list expected, got {_short(value)}")
    buses = [int(_number(b, "candidate_buses[]", 1, math.inf, integer=True)) for b in value]
    outside = sorted(set(buses) - set(registered))
    if outside or len(set(buses)) != len(buses):
        raise PayloadError(f"candidate_buses {buses} not within the registered {list(registered)} of {lot_id!r}")


def check_offer(payload: Any, sender: str, lot: LotRegistration) -> None:
    """A PLO's offer (full or schedule) from `sender`, for its own lot, within what the lot registered."""
    if not isinstance(payload, dict):
        raise PayloadError(f"offer: a {type(payload).__name__}, not a table")
    full = "max_charge_kw" in payload
    _fields(payload, FULL_OFFER_FIELDS | {"measured"} if full else SCHEDULE_OFFER_FIELDS,
            "full offer" if full else "offer", optional=frozenset({"measured", "envelope", "fleet"}))
    if payload["lot_id"] != sender:
        raise PayloadError(f"{sender!r} offered for lot {_short(payload['lot_id'])}")
    _buses(payload["candidate_buses"], sender, lot.candidate_buses)
    limit, n = lot.connection_limit_kw, lot.steps_per_day
    if not full:
        _within_limit(payload["schedule_kw"], "schedule_kw", sender, limit, negative=True, n=n)
        return
    _number(payload["n_pev"], "n_pev", 0, MAX_PEVS, integer=True)
    _number(payload["pev_power_kw"], "pev_power_kw", 0.0, 1e4)
    _number(payload["pev_battery_kwh"], "pev_battery_kwh", 0.0, 1e4)
    _hourly(payload["hour_mode"], "hour_mode", -1, 1, integer=True, n=n)
    max_energy_kwh = HOURS_PER_DAY * limit  # a day at the connection limit
    _number(payload["energy_need_kwh"], "energy_need_kwh", 0.0, max_energy_kwh)
    _number(payload["energy_available_kwh"], "energy_available_kwh", 0.0, NO_LIMIT_KW)
    if payload["need_by_hour_kwh"] is not None:
        _hourly(payload["need_by_hour_kwh"], "need_by_hour_kwh", 0.0, max_energy_kwh, n=n)
    economics = payload["economics"]
    _fields(economics, ECONOMICS_FIELDS, "economics", optional=frozenset(AGEING_COST_FIELDS))
    for name in AGEING_COST_FIELDS:
        if name in economics:
            _number(economics[name], f"economics.{name}", 0.0, MAX_PRICE_USD_PER_KWH)
    _number(economics["mu_e"], "economics.mu_e", 1e-3, 1.0)
    _number(economics["cost_e_usd_per_kwh"], "economics.cost_e_usd_per_kwh", 0.0, MAX_PRICE_USD_PER_KWH)
    _number(economics["cost_ca_usd_per_pev_day"], "economics.cost_ca_usd_per_pev_day", 0.0, MAX_PRICE_USD_PER_KWH)
    for key in ("max_charge_kw", "max_discharge_kw"):
        _within_limit(payload[key], key, sender, limit, n=n)
    if payload.get("envelope") is not None:
        check_envelope(payload["envelope"], sender, limit, n)
    if payload.get("fleet") is not None:
        check_fleet(payload["fleet"], limit, n)
    if "measured" in payload:  # an hourly offer's measurements (`measured_payload`)
        measured = payload["measured"]
        _fields(measured, MEASURED_FIELDS, "measured")
        _number(measured["evs_present"], "measured.evs_present", 0, MAX_PEVS, integer=True)
        _number(measured["energy_stored_kwh"], "measured.energy_stored_kwh", 0.0, MAX_PEVS * 1e4)
        _number(measured["energy_charged_kwh"], "measured.energy_charged_kwh", 0.0, max_energy_kwh)


def check_envelope(payload: Any, lot_id: str, limit_kw: float, n: int = HOURS) -> None:
    """A lot's flexibility envelope, `n` steps (the receiver's day): `n` finite power bounds within the registered
    connection limit (p_min <= p_max), `n` cumulative energy bounds within 24 h of that limit (e_min <= e_max),
    efficiencies in (0, 1], a shortfall >= 0, and optionally `n` suffix bounds each (gain_max_kwh, drop_max_kwh,
    >= 0). Whether the bounds can all hold together is the DSO's to resolve (`FlexEnvelope.tightened`); the
    envelope carries no step: the receiver rebuilds it with its own."""
    _fields(payload, ENVELOPE_FIELDS, "envelope", optional=frozenset({"gain_max_kwh", "drop_max_kwh"}))
    if ("gain_max_kwh" in payload) != ("drop_max_kwh" in payload):
        raise PayloadError("envelope: gain_max_kwh and drop_max_kwh come together")
    p_min = _within_limit(payload["p_min_kw"], "envelope.p_min_kw", lot_id, limit_kw, negative=True, n=n)
    p_max = _within_limit(payload["p_max_kw"], "envelope.p_max_kw", lot_id, limit_kw, negative=True, n=n)
    if np.any(p_min > p_max + TOLERANCE_KW):
        raise PayloadError(f"envelope: p_min_kw above p_max_kw in hour(s) {np.flatnonzero(p_min > p_max).tolist()}")
    energy = HOURS_PER_DAY * min(limit_kw, NO_LIMIT_KW)  # a day at the connection limit, kWh
    e_min = _hourly(payload["e_min_kwh"], "envelope.e_min_kwh", -energy, energy, n=n)
    e_max = _hourly(payload["e_max_kwh"], "envelope.e_max_kwh", -energy, energy, n=n)
    if np.any(e_min > e_max + TOLERANCE_KW):
        raise PayloadError(f"envelope: e_min_kwh above e_max_kwh in hour(s) {np.flatnonzero(e_min > e_max).tolist()}")
    _number(payload["eta_charge"], "envelope.eta_charge", 1e-3, 1.0)
    _number(payload["eta_discharge"], "envelope.eta_discharge", 1e-3, 1.0)
    _number(payload["shortfall_kwh"], "envelope.shortfall_kwh", 0.0, energy)
    for key in ("gain_max_kwh", "drop_max_kwh"):
        if key in payload:
            _hourly(payload[key], f"envelope.{key}", 0.0, energy, n=n)


FLEET_NUMBERS = ("energy_kwh", "capacity_kwh", "charger_kw", "contract_kwh", "floor_kwh", "eta_charge",
                 "eta_discharge")
FLEET_FIELDS = frozenset({"start_min", "hours", "plug_min", "dep_min", "v2g", "connection_limit_kw", "knee_soc",
                          "step_minutes", *FLEET_NUMBERS})
# CC-CV knees (`cosim.controllers.cccv`), in (0, 1], absent: no taper; step_minutes, absent: 60 (`hours` then
# counts steps of that length)
FLEET_OPTIONAL = frozenset({"knee_soc", "step_minutes"})
FLEET_SCALARS = frozenset({"start_min", "hours", "connection_limit_kw", "step_minutes"})
MAX_KWH = 1e4  # one EV's battery or charger, at most


def check_fleet(payload: Any, limit_kw: float, n: int = HOURS) -> None:
    """A lot's EVs behind its envelope (`ParkingLot.fleet_view`): equal-length lists of at most `MAX_PEVS` EVs, whole
    minutes with each plug-in before its departure, finite energies and powers in [0, 1e4], efficiencies in
    (0, 1], booleans for V2G, a window of the receiver's `n` steps (`hours` counts steps; `step_minutes`, 60 when
    absent, is the receiver's step), a connection limit within the registered one."""
    _fields(payload, FLEET_FIELDS, "fleet", optional=FLEET_OPTIONAL)
    _number(payload["start_min"], "fleet.start_min", 0, math.inf, integer=True)
    _number(payload["hours"], "fleet.hours", n, n, integer=True)
    step = step_minutes_of(n)
    if payload.get("step_minutes", 60) != step or isinstance(payload.get("step_minutes"), bool):
        raise PayloadError(f"fleet.step_minutes: {step} expected (the receiver's step), "
                           f"got {_short(payload.get('step_minutes', 60))}")
    _number(payload["connection_limit_kw"], "fleet.connection_limit_kw", 0.0, min(limit_kw, NO_LIMIT_KW) + 1e-6)
    sizes = {len(payload[k]) if isinstance(payload[k], list) else -1
             for k in FLEET_FIELDS - FLEET_SCALARS if k in payload}
    if len(sizes) != 1 or -1 in sizes or next(iter(sizes)) > MAX_PEVS:
        raise PayloadError(f"fleet: lists of one length up to {MAX_PEVS} expected")
    for key in ("plug_min", "dep_min"):
        _each_number(payload[key], f"fleet.{key}[]", 0, math.inf, integer=True)
    if any(p > d for p, d in zip(payload["plug_min"], payload["dep_min"])):
        raise PayloadError("fleet: an EV plugs in after its departure")
    for key in FLEET_NUMBERS:
        low = 1e-3 if key.startswith("eta") else 0.0
        high = 1.0 if key.startswith("eta") else MAX_KWH
        _each_number(payload[key], f"fleet.{key}[]", low, high)
    _each_number(payload.get("knee_soc", []), "fleet.knee_soc[]", 1e-3, 1.0)
    if not all(isinstance(v, bool) for v in payload["v2g"]):
        raise PayloadError("fleet.v2g: booleans expected")


def check_schedule(payload: Any, lot_id: str, lot: LotRegistration) -> None:
    """The DSO's schedule for `lot_id`: one setpoint per step of the lot's day (`steps_per_day`) within its
    connection limit, a bus among its candidates."""
    _fields(payload, SCHEDULE_FIELDS, "schedule", optional=frozenset({"start_hour"}))
    if "start_hour" in payload:  # a revised schedule: its first setpoint is for this step (mosaik time)
        _number(payload["start_hour"], "start_hour", 0, math.inf, integer=True)
    _within_limit(payload["setpoints_kw"], "setpoints_kw", lot_id, lot.connection_limit_kw, negative=True,
                  n=lot.steps_per_day)
    bus = payload["bus"]
    if bus is not None and (not isinstance(bus, int) or isinstance(bus, bool) or bus not in lot.candidate_buses):
        raise PayloadError(f"bus {_short(bus)} is not among the registered candidates {list(lot.candidate_buses)} "
                           f"of {lot_id!r}")


def check_signal(payload: Any, n: int = HOURS) -> None:
    """The DSO's price adders ($/kWh) and import / export limits (kW, >= 0; 1e9 = none), one per step of the
    receiver's day (`n` steps) each."""
    _fields(payload, SIGNAL_FIELDS, "signal")
    _hourly(payload["price_adder_usd_per_kwh"], "price_adder_usd_per_kwh", -MAX_PRICE_USD_PER_KWH,
            MAX_PRICE_USD_PER_KWH, n=n)
    for key in ("max_import_kw", "max_export_kw"):
        _hourly(payload[key], key, 0.0, NO_LIMIT_KW, n=n)


def check_json(payload: Any, name: str = "payload", depth: int = 0) -> None:
    """A user mode's own payload: JSON values only (tables with text keys, lists, text, booleans, finite numbers)."""
    if depth > 16:
        raise PayloadError(f"{name}: nested too deeply")
    if isinstance(payload, dict):
        for key, value in payload.items():
            if not isinstance(key, str):
                raise PayloadError(f"{name}: key {_short(key)} is not text")
            check_json(value, f"{name}.{key}", depth + 1)
    elif isinstance(payload, list):
        for i, value in enumerate(payload):
            check_json(value, f"{name}[{i}]", depth + 1)
    elif isinstance(payload, int) and not isinstance(payload, bool) and not -MAX_INT <= payload <= MAX_INT:
        raise PayloadError(f"{name}: integer out of range ({payload.bit_length()} bits)")
    elif isinstance(payload, float) and not math.isfinite(payload):
        raise PayloadError(f"{name}: not a finite number ({payload!r})")
    elif payload is not None and not isinstance(payload, (str, int, float, bool)):
        raise PayloadError(f"{name}: a {type(payload).__name__} is not a JSON value")


def offer_to_payload(offer: LotOffer) -> dict[str, Any]:
    """A lot's full day-ahead offer (its flexibility) as a message payload."""
    economics = {"mu_e": offer.economics.mu_e, "cost_e_usd_per_kwh": offer.economics.cost_e_usd_per_kwh,
                 "cost_ca_usd_per_pev_day": offer.economics.cost_ca_usd_per_pev_day}
    for name in AGEING_COST_FIELDS:  # the battery ageing costs, only when switched on
        if getattr(offer.economics, name) > 0.0:
            economics[name] = getattr(offer.economics, name)
    return {
        "lot_id": offer.lot_id, "candidate_buses": list(offer.candidate_buses), "n_pev": offer.n_pev,
        "pev_power_kw": offer.pev_power_kw, "pev_battery_kwh": offer.pev_battery_kwh,
        "hour_mode": offer.hour_mode.tolist(), "max_charge_kw": offer.max_charge_kw.tolist(),
        "max_discharge_kw": offer.max_discharge_kw.tolist(), "energy_need_kwh": offer.energy_need_kwh,
        "energy_available_kwh": min(offer.energy_available_kwh, NO_LIMIT_KW),
        "need_by_hour_kwh": None if offer.need_by_hour_kwh is None else offer.need_by_hour_kwh.tolist(),
        "economics": economics,
        "envelope": None if offer.envelope is None else offer.envelope.to_payload(),
        "fleet": offer.fleet,
    }


def offer_from_payload(payload: dict[str, Any], candidate_buses: tuple[int, ...] | None = None) -> LotOffer:
    """The `LotOffer` a full offer payload describes; `candidate_buses`, when given, are where the lot may sit
    (the DSO passes the lot's registered candidates: an offer cannot move a lot)."""
    buses = tuple(payload["candidate_buses"]) if candidate_buses is None else tuple(candidate_buses)
    return LotOffer(
        lot_id=payload["lot_id"], candidate_buses=buses, n_pev=int(payload["n_pev"]),
        pev_power_kw=float(payload["pev_power_kw"]), pev_battery_kwh=float(payload["pev_battery_kwh"]),
        hour_mode=np.asarray(payload["hour_mode"], int), max_charge_kw=np.asarray(payload["max_charge_kw"], float),
        max_discharge_kw=np.asarray(payload["max_discharge_kw"], float),
        economics=LotEconomics(**payload["economics"]), energy_need_kwh=float(payload["energy_need_kwh"]),
        energy_available_kwh=float(payload["energy_available_kwh"]),
        need_by_hour_kwh=(None if payload.get("need_by_hour_kwh") is None
                          else np.asarray(payload["need_by_hour_kwh"], float)),
        envelope=None if payload.get("envelope") is None else envelope_from_payload(payload["envelope"]),
        fleet=payload.get("fleet"),
    )


def envelope_from_payload(payload: dict[str, Any]) -> FlexEnvelope:
    """The `FlexEnvelope` of an envelope payload, tightened, at the receiver's step: a payload carries no step, and
    a checked one has the receiver's number of steps (`check_envelope`), so its length gives the step
    (`timebase.step_h_of`: 24 -> 1 h, 48 -> 0.5 h, 96 -> 0.25 h; another length is a `StepError`)."""
    return FlexEnvelope.from_payload(payload, step_h=step_h_of(len(payload["p_min_kw"]))).tightened()


def schedule_offer(lot_id: str, candidate_buses: tuple[int, ...], schedule_kw: np.ndarray) -> dict[str, Any]:
    """A PLO's own schedule (kW, + charging, one value per step of the day) offered to the DSO, with where the lot
    may sit."""
    return {"lot_id": lot_id, "candidate_buses": list(candidate_buses),
            "schedule_kw": np.asarray(schedule_kw, float).tolist()}


def schedule_payload(setpoints_kw: np.ndarray, bus: int | None, start_hour: int | None = None) -> dict[str, Any]:
    """The DSO's setpoints for one lot (kW, + charging, one per step) and the bus it placed the lot at; a revised
    schedule (step-by-step control) names the step (mosaik time) its first setpoint is for."""
    out = {"setpoints_kw": np.asarray(setpoints_kw, float).tolist(), "bus": None if bus is None else int(bus)}
    if start_hour is not None:
        out["start_hour"] = int(start_hour)
    return out


def measured_payload(evs_present: int, energy_stored_kwh: float, energy_charged_kwh: float) -> dict[str, Any]:
    """A lot's measurements at the start of a step, carried by a step's full offer as its `measured` field."""
    return {"evs_present": int(evs_present), "energy_stored_kwh": max(0.0, float(energy_stored_kwh)),
            "energy_charged_kwh": max(0.0, float(energy_charged_kwh))}


def misreport(payload: dict[str, Any], factor: float) -> dict[str, Any]:
    """The offer a dishonest PLO sends: its flexibility (power bounds, energy it can give) scaled by `factor`."""
    out = dict(payload)
    for key in ("max_charge_kw", "max_discharge_kw"):
        out[key] = [v * factor for v in payload[key]]
    out["energy_available_kwh"] = payload["energy_available_kwh"] * factor
    if payload.get("envelope") is not None:  # wider power bounds, more room, and contracts that look easier
        env = dict(payload["envelope"])
        for key in ("p_min_kw", "p_max_kw", "e_max_kwh"):
            env[key] = [v * factor for v in env[key]]
        env["e_min_kwh"] = [min(v, v * factor) for v in env["e_min_kwh"]]
        env["e_max_kwh"] = [max(lo, hi) for lo, hi in zip(env["e_min_kwh"], env["e_max_kwh"])]
        out["envelope"] = env
    if payload.get("fleet") is not None:  # EVs with bigger chargers and batteries than they have
        fleet = dict(payload["fleet"])
        for key in ("charger_kw", "capacity_kwh"):
            fleet[key] = [min(v * factor, MAX_KWH) for v in fleet[key]]
        out["fleet"] = fleet
    return out
