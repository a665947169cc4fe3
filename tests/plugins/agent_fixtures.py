"""Builders shared by the mosaik-free agent tests (DSO agent, PLO agent, PLO scheduler).

Nothing here imports mosaik or a `simulators/*/simulator.py`: the agents are built directly from the
network data, the controller and exchange-mode registries, and a lot's day-ahead forecast (either the
realistic one of a seed-000 fleet in a `ParkingLot`, or a small hand-written one).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from cosim.controllers import make_controller
from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem
from cosim.exchange import make_exchange_mode
from cosim.exchange.messages import MessageChannel, agent_keys
from simulators.dso.agent import DsoAgent
from simulators.plo.agent import PloAgent

LOTS: dict[str, int] = {"lot1": 18, "lot2": 25}  # lot id -> bus (IEEE 33)
LIMIT_KW = 1000.0  # registered connection limit of every lot
# cheap nights, expensive afternoons (a time-of-use shape) and a load curve that peaks in the evening
PRICE = np.array([0.06] * 7 + [0.09, 0.11, 0.12] + [0.14] * 9 + [0.12, 0.10, 0.08, 0.07, 0.06])
LOAD_SCALING = 0.75 + 0.25 * np.sin((np.arange(HOURS) - 9) / HOURS * 2 * np.pi)
# seed 000's lot schedule: charge h1-h8 and h21-h24, discharge h11-h19, idle otherwise
SEED000_HOUR_MODE = [1] * 8 + [0, 0] + [-1] * 9 + [0] + [1] * 4
BASE_WU_OPEN = (7, 9, 14, 32, 37)  # a radial IEEE-33 topology other than the tie switches (Baran & Wu)
EO_FAST = {"n_particles": 5, "n_iter": 5, "seed": 0}


@lru_cache(maxsize=1)
def ieee33():
    from cosim.networks import load_network  # noqa: PLC0415

    return load_network("ieee33").radial


@lru_cache(maxsize=8)
def _fleet_forecast(n_pevs: int, start_h: float, limit_kw: float) -> dict[str, Any]:
    from simulators.parking.forecast import day_ahead_forecast  # noqa: PLC0415
    from simulators.parking.lot import ParkingLot  # noqa: PLC0415
    from simulators.parking.presets import preset_fleet  # noqa: PLC0415

    lot = ParkingLot(preset_fleet("joape2024", n_pevs=n_pevs, days=2, seed=0), n_chargers=100,
                     connection_limit_kw=limit_kw, allocation="earliest_departure_first")
    return day_ahead_forecast(lot, start_h)


def fleet_forecast(n_pevs: int = 10, start_h: float = 0.0, limit_kw: float = LIMIT_KW) -> dict[str, Any]:
    """The realistic 24-h forecast of a seed-000 fleet (what `cosim.runner.world.initial_lot_state` builds)."""
    return copy.deepcopy(_fleet_forecast(n_pevs, float(start_h), float(limit_kw)))


def simple_forecast(max_charge_kw: float = 100.0, max_discharge_kw: float = 80.0, need_kwh: float = 200.0,
                    available_kwh: float = 150.0, need_by_hour_kwh=None, **extra: Any) -> dict[str, Any]:
    """A small hand-written forecast with the keys `offer_from_forecast` reads."""
    out = {"max_charge_kw": [float(max_charge_kw)] * HOURS, "max_discharge_kw": [float(max_discharge_kw)] * HOURS,
           "energy_need_kwh": float(need_kwh), "energy_available_kwh": float(available_kwh),
           "need_by_hour_kwh": need_by_hour_kwh, "n_pev": 20, "pev_power_kw": 10.0, "pev_battery_kwh": 40.0}
    out.update(extra)
    return out


def keys_for(lot_ids=tuple(LOTS)) -> dict[str, str]:
    return agent_keys(["DSO", *lot_ids], seed=0)


def plo_keys(keys: dict[str, str], lot_id: str) -> dict[str, str]:
    """What a PLO holds: its own key and the DSO's (as `cosim.runner.world` hands them out)."""
    return {k: v for k, v in keys.items() if k in (lot_id, "DSO")}


def make_dso(mode: str = "centralised", controller: Any = "eo", mode_options: dict | None = None,
             keys: dict[str, str] | None = None, controller_options: dict | None = None, **kw: Any) -> DsoAgent:
    if isinstance(controller, str):
        options = dict(EO_FAST if controller == "eo" and controller_options is None else controller_options or {})
        controller = make_controller(controller, **options)
    kw.setdefault("lot_limits_kw", {lot: LIMIT_KW for lot in LOTS})
    return DsoAgent(ieee33(), controller, make_exchange_mode(mode, **(mode_options or {})),
                    keys=keys_for() if keys is None else keys, **kw)


def make_plos(mode: str = "centralised", keys: dict[str, str] | None = None, mode_options: dict | None = None,
              hour_mode=SEED000_HOUR_MODE, **kw: Any) -> dict[str, PloAgent]:
    keys = keys_for() if keys is None else keys
    return {lot: PloAgent(lot, (bus,), make_exchange_mode(mode, **(mode_options or {})), keys=plo_keys(keys, lot),
                          hour_mode=hour_mode, **kw)
            for lot, bus in LOTS.items()}


def offers_from_plos(plos: dict[str, PloAgent], forecast: dict[str, Any], hour: int = 0,
                     price=PRICE) -> list[dict[str, Any]]:
    """Every PLO starts its day on `forecast`; their signed offers, in lot order."""
    return [m for plo in plos.values() for m in plo.start_day(hour, forecast, price)]


def message(sender: str, receiver: str, kind: str, payload: dict[str, Any], key: str | None,
            hour: int = 0, round_: int = 0) -> dict[str, Any]:
    """One message as `sender`'s channel signs it with `key` (None: unsigned)."""
    (m,) = MessageChannel(sender, 0.0, 0, key).send(hour, kind, receiver, payload, round_)
    return m


def deliver(plos: dict[str, PloAgent], messages: list[dict[str, Any]], hour: int = 0) -> list[dict[str, Any]]:
    """Hand the DSO's messages to their receivers; the PLOs' answers."""
    return [reply for m in messages for reply in plos[m["receiver"]].receive(hour, m)]


def event_names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


class ScriptedController:
    """A DSO controller whose successive `plan` calls follow a script: each step is a callable(problem) that
    returns a plan or raises. Records the problems it was given."""

    name = "scripted"

    def __init__(self, *steps: Callable[[DayAheadProblem], DayAheadPlan]) -> None:
        self.steps = list(steps)
        self.problems: list[DayAheadProblem] = []

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        self.problems.append(problem)
        return self.steps[min(len(self.problems), len(self.steps)) - 1](problem)


def flat_plan(open_branches, feasible: bool = True, kw: float = 5.0) -> Callable[[DayAheadProblem], DayAheadPlan]:
    """A step giving each lot a flat `kw` schedule at its first candidate bus, with the given topology."""
    def step(problem: DayAheadProblem) -> DayAheadPlan:
        return DayAheadPlan(open_branches=tuple(open_branches),
                            lot_buses={lot.lot_id: lot.candidate_buses[0] for lot in problem.lots},
                            setpoints_kw={lot.lot_id: np.full(HOURS, kw) for lot in problem.lots},
                            feasible=feasible, controller="scripted", predicted={"of3_kwh": 1.0})
    return step


def raising(exc: Exception) -> Callable[[DayAheadProblem], DayAheadPlan]:
    def step(problem: DayAheadProblem) -> DayAheadPlan:
        raise exc
    return step
