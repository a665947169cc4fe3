"""The exchange-mode interface: how the DSO and the PLOs share information day-ahead.

One class holds both sides of a mode; the DSO agent and every PLO agent each own an instance (they may run
in different processes). The agents do the rest: they sign, send, log and check every message, apply the
configured channel faults, fall back when planning fails, and record the plan. A mode only decides *what*
is said and *what is done* with what is received, through the hooks below (all have working defaults
except `dso_plan_day`):

PLO side (`plo` is a `PloSide`):
- `plo_offer(plo)`: payload of the PLO's day-ahead offer, or None to send nothing;
- `plo_receive(plo, kind, payload)`: act on a DSO message; return a payload to answer with, or None;
- `plo_hourly(plo)`: what the PLO tells the DSO each hour that is not a day start (hour-by-hour control only),
  or None (default) to send nothing.

Both sides (optional): `check_payload(kind, payload)`: further checks of what is received (a mode's own kinds).

DSO side (`dso` is a `DsoSide`):
- `dso_plan_day(dso, offers)`: plan the day from the offers received; return the messages to send;
- `dso_answer(dso, offers)`: answer offers that arrive in a later round of the same day's negotiation;
- `dso_hour(dso, offers)`: each hour that is not a day start, when the DSO's controller re-plans hour by hour
  (`revise`): re-plan with the hour's offers (those sent by `plo_hourly`) and return the messages to send.

Time: "hour" in these hooks (`DsoSide.hour`, `DayContext.hour`, a schedule's `start_hour`) is the simulation's step
index (the mosaik time), and every day-ahead array holds one value per step of the day (24, 48 or 96). A mode that
follows only hourly steps sets `hourly_only = True`: `check_step` then refuses a day of other than 24 steps with one
line naming the mode (the PLO agent calls it when it is made, before the run starts).

A user's mode subclasses `ExchangeMode`, is named in the scenario by dotted path
(`[exchange] mode = "mymodes:Auction"`, the module may sit beside the scenario file) and needs no other edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from cosim.controllers.base import DayAheadPlan, LotOffer
from cosim.controllers.plo_scheduler import DsoSignal
from cosim.errors import InputError, PluginOptionsError
from cosim.exchange.payloads import schedule_offer
from cosim.powerflow.network_data import RadialNetwork

__all__ = ["DayContext", "DsoSide", "ExchangeMode", "Outgoing", "PloSide"]


@dataclass(frozen=True)
class Outgoing:
    """A message a mode wants sent: kind ("offer", "schedule", "signal" or its own), receiver, payload."""

    kind: str
    receiver: str
    payload: dict[str, Any]
    summary: str = ""


class PloSide(Protocol):
    """What a mode may see and do on the PLO's side (implemented by `simulators.plo.agent.PloAgent`)."""

    lot_id: str
    candidate_buses: tuple[int, ...]
    offer: LotOffer  # the lot's flexibility today (from its forecast)
    schedule_kw: np.ndarray  # the setpoints the PLO will send its lot, (steps_per_day,) kW, + charging

    def full_offer_payload(self) -> dict[str, Any]: ...
    def hourly_offer_payload(self) -> dict[str, Any]: ...
    def follow(self, setpoints_kw: Any, start_hour: int | None = None) -> None: ...
    def answer_signal(self, signal: DsoSignal) -> None: ...


@dataclass(frozen=True)
class DayContext:
    """The day being planned: its first step (mosaik time) and the day's forecasts, one value per step."""

    hour: int
    load_scaling: np.ndarray  # (steps_per_day,) p.u. of the network's nominal load
    price_usd_per_kwh: np.ndarray  # (steps_per_day,)


class DsoSide(Protocol):
    """What a mode may see and do on the DSO's side (implemented by `simulators.dso.agent.DsoAgent`).

    `plan_with_lots` lets the DSO's controller dispatch the lots from full offers; `plan_around` plans the grid
    around the lots' own schedules (offers with `schedule_kw`), re-solving unless `replan=False`; both apply
    the fallback when planning fails and record the plan. `end_negotiation` records the day's outcome; `log_event`
    adds a mode's own event (events.csv) at the current hour.
    `revise_hour` (hour-by-hour control) re-plans the rolling 24 hours from `hour` with the controller's `revise`:
    lots with an hourly full offer are dispatched, the others held at the setpoints in force; it returns the
    accepted revision, or None when the plan in force stays (a failed revision falls back to it, logged)."""

    net: RadialNetwork
    day: DayContext
    hour: int  # the simulated hour the DSO is at
    round: int  # negotiation round of the day (0 = the day-ahead plan)
    schedules: dict[str, np.ndarray]  # lots' own schedules, kW (modes where the PLOs decide)
    plan: DayAheadPlan | None

    def plan_with_lots(self, offers: dict[str, dict[str, Any]]) -> DayAheadPlan: ...
    def plan_around(self, offers: dict[str, dict[str, Any]], replan: bool = True) -> DayAheadPlan: ...
    def schedule_change_kw(self, offers: dict[str, dict[str, Any]]) -> float: ...
    def end_negotiation(self, converged: bool, detail: str = "") -> None: ...
    def log_event(self, event: str, detail: str) -> None: ...
    def revise_hour(self, offers: dict[str, dict[str, Any]]) -> DayAheadPlan | None: ...


class ExchangeMode:
    """Base class of exchange modes. Defaults: PLOs offer their own schedule, follow a DSO schedule, answer a
    price signal with a re-optimised schedule; the DSO records answered schedules and ends the negotiation.

    `max_rounds` bounds a negotiation (rounds after the day-ahead plan); modes that take more options declare
    them as keyword arguments of their own `__init__`.
    """

    name = "custom"
    reveals = ""  # what a PLO tells the DSO in this mode, in words (cosim compare --what exchange)
    hourly_only = False  # True: the mode follows only hourly steps (24 a day); `check_step` refuses others

    def __init__(self, max_rounds: int = 5, **options: Any) -> None:
        if options:
            raise PluginOptionsError(f"exchange mode {self.name!r}: unknown option(s) {sorted(options)}")
        if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
            raise PluginOptionsError(f"exchange mode {self.name!r}: max_rounds must be an integer >= 1, "
                                     f"got {max_rounds!r}")
        self.max_rounds = max_rounds

    def check_step(self, steps_per_day: int) -> None:
        """Refuse a day of `steps_per_day` steps this mode cannot follow (an `InputError` naming the mode)."""
        if self.hourly_only and int(steps_per_day) != 24:
            raise InputError(f"exchange mode {self.name!r} works only with hourly steps ([simulation] step_minutes "
                             f"= 60); this run has {int(steps_per_day)} steps a day (step_minutes = "
                             f"{24 * 60 // int(steps_per_day)}); use exchange mode 'centralised', 'signals' or 'none'")

    # -- PLO side ----------------------------------------------------------------------------------------------
    def plo_offer(self, plo: PloSide) -> dict[str, Any] | None:
        """The PLO's day-ahead offer (default: its own profit-maximising schedule); None sends nothing."""
        return schedule_offer(plo.lot_id, plo.candidate_buses, plo.schedule_kw)

    def plo_receive(self, plo: PloSide, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Act on an authenticated DSO message; return a payload to answer with (an offer), or None."""
        if kind == "schedule":
            plo.follow(payload["setpoints_kw"], payload.get("start_hour"))
        elif kind == "signal":
            plo.answer_signal(DsoSignal.from_payload(payload))
            return schedule_offer(plo.lot_id, plo.candidate_buses, plo.schedule_kw)
        return None

    def plo_hourly(self, plo: PloSide) -> dict[str, Any] | None:
        """What the PLO tells the DSO at the start of each hour that is not a day start, when the DSO re-plans
        hour by hour (default: nothing). Sent, signed and checked as an offer of round 0 of that hour."""
        return None

    def check_payload(self, kind: str, payload: dict[str, Any]) -> str | None:
        """Extra checks of a received payload, after the agent's own (envelope, signature, freshness, and the
        schema of offers, schedules and signals; a kind of the mode's own is only checked to be plain JSON).
        Return why it is invalid, or None; an invalid message is rejected and logged like a bad signature."""
        return None

    # -- DSO side ----------------------------------------------------------------------------------------------
    def dso_plan_day(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        """Plan the day from the accepted offers (by lot id); return the messages for the PLOs."""
        raise NotImplementedError(f"exchange mode {self.name!r} must implement dso_plan_day(dso, offers)")

    def dso_answer(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        """Offers arrived in round `dso.round` >= 1: record them in the plan and end the negotiation."""
        dso.plan_around(offers, replan=False)
        dso.end_negotiation(converged=True, detail="PLOs answered; plan updated with their schedules")
        return []

    def dso_hour(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        """An hour that is not a day start, with a controller that re-plans hourly: re-plan the grid (topology)
        around the lots' setpoints in force; tell the PLOs nothing (default)."""
        dso.revise_hour(offers)
        return []
