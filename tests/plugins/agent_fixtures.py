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
from cosim.exchange.keys import AgentKeys, new_key_ring
from cosim.exchange.messages import sign, wrap
from cosim.exchange.payloads import LotRegistration
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


def keys_for(lot_ids=tuple(LOTS)) -> dict[str, AgentKeys]:
    """Fresh Ed25519 keys of the DSO and the lots, each agent's with every public key (a key ring)."""
    return new_key_ring(["DSO", *lot_ids])


def plo_keys(keys: dict[str, AgentKeys], lot_id: str) -> AgentKeys:
    """What a PLO holds: its own private key and the DSO's public key (as `cosim.runner.world` hands them out)."""
    return keys[lot_id].hearing(["DSO"])


def registrations(**limits_kw: float) -> dict[str, LotRegistration]:
    """The lots as the DSO registered them: bus of `LOTS`, `LIMIT_KW` unless given (e.g. lot1=300.0)."""
    return {lot: LotRegistration((bus,), limits_kw.get(lot, LIMIT_KW)) for lot, bus in LOTS.items()}


def make_dso(mode: str = "centralised", controller: Any = "eo", mode_options: dict | None = None,
             keys: dict[str, AgentKeys] | None = None, controller_options: dict | None = None, **kw: Any) -> DsoAgent:
    """A DSO agent on IEEE 33 with the lots of `LOTS` registered; `keys={}`: without authentication. Plans run
    in the test's process (`isolation=False`) unless asked, so scripted controllers keep what they record."""
    kw.setdefault("isolation", False)
    if isinstance(controller, str):
        options = dict(EO_FAST if controller == "eo" and controller_options is None else controller_options or {})
        controller = make_controller(controller, **options)
    kw.setdefault("lots", registrations())
    keys = keys_for() if keys is None else keys
    return DsoAgent(ieee33(), controller, make_exchange_mode(mode, **(mode_options or {})),
                    keys=keys["DSO"] if keys else None, **kw)


def make_plos(mode: str = "centralised", keys: dict[str, AgentKeys] | None = None, mode_options: dict | None = None,
              hour_mode=SEED000_HOUR_MODE, **kw: Any) -> dict[str, PloAgent]:
    """The PLOs of `LOTS`, each with its own keys; `keys={}`: without authentication."""
    keys = keys_for() if keys is None else keys
    kw.setdefault("connection_limit_kw", LIMIT_KW)
    return {lot: PloAgent(lot, (bus,), make_exchange_mode(mode, **(mode_options or {})),
                          keys=plo_keys(keys, lot) if keys else None, hour_mode=hour_mode, **kw)
            for lot, bus in LOTS.items()}


def offers_from_plos(plos: dict[str, PloAgent], forecast: dict[str, Any], hour: int = 0,
                     price=PRICE) -> list[dict[str, Any]]:
    """Every PLO starts its day on `forecast`; their signed offers, in lot order."""
    return [m for plo in plos.values() for m in plo.start_day(hour, forecast, price)]


def message(sender: str, receiver: str, kind: str, payload: dict[str, Any], key: AgentKeys | None,
            hour: int = 0, round_: int = 0, delayed: bool = False) -> dict[str, Any]:
    """One message from `sender` signed with `key`'s private key (None: unsigned). Any key may sign any envelope,
    so tests can forge: `message("DSO", "lot2", ..., keys["lot1"])` is lot1 signing "as the DSO"."""
    m = wrap(kind, sender, receiver, payload, round_, hour, delayed)
    return sign(m, key) if key is not None else m


def lot_offer(keys: dict[str, AgentKeys], hour: int = 0, sender: str = "lot1", forecast=None,
              mode: str = "centralised", **payload_changes: Any) -> dict[str, Any]:
    """`sender`'s day-ahead offer as its PLO sends it (signed with its own key; unsigned with `keys={}`), with
    payload fields changed before signing (what a dishonest but authenticated PLO could send)."""
    plos = make_plos(mode, keys)
    (m,) = plos[sender].start_day(hour, forecast or fleet_forecast(n_pevs=10), PRICE)
    if payload_changes:
        m = message(sender, "DSO", "offer", {**m["payload"], **payload_changes}, keys.get(sender), hour)
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
    """A step giving each lot `kw` in its charging hours (0 otherwise) at its first candidate bus, with the given
    topology."""
    def step(problem: DayAheadProblem) -> DayAheadPlan:
        return DayAheadPlan(open_branches=tuple(open_branches),
                            lot_buses={lot.lot_id: lot.candidate_buses[0] for lot in problem.lots},
                            setpoints_kw={lot.lot_id: np.where(lot.hour_mode > 0, kw, 0.0) for lot in problem.lots},
                            feasible=feasible, controller="scripted", predicted={"of3_kwh": 1.0})
    return step


def raising(exc: Exception) -> Callable[[DayAheadProblem], DayAheadPlan]:
    def step(problem: DayAheadProblem) -> DayAheadPlan:
        raise exc
    return step
