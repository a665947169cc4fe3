"""The parking-lot operator's decisions, free of mosaik: what it offers the DSO and which setpoint it sends its lot.

What it says and how it reacts to the DSO is decided by its exchange mode (`cosim.exchange`); the agent builds
the lot's day-ahead offer from its forecast, keeps its own profit-maximising schedule as the fallback, checks
every DSO message and signs and logs every message it sends.

Time: the agent's "hour" arguments and its messages' ``hour`` field are the simulation's step index (the mosaik
time); a day is `steps_per_day` steps (24, 48 or 96: `cosim.timebase.StepClock`), and every day-ahead array it
builds, sends or takes (offer, envelope, schedule, tariff) holds one value per step.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from cosim.controllers.base import HOURS, LotEconomics, LotOffer
from cosim.controllers.envelope import FlexEnvelope, envelope_of, unreachable_kwh
from cosim.controllers.fleet_lp import DELIVERY_TOLERANCE_KWH, nearest_kw
from cosim.controllers.plo_scheduler import DsoSignal, ScheduleError, plo_profit_schedule
from cosim.errors import InputError, ProblemError
from cosim.exchange.base import ExchangeMode
from cosim.exchange.keys import AgentKeys
from cosim.exchange.messages import ChannelFaults, Inbox, MessageChannel
from cosim.exchange.payloads import (
    LotRegistration,
    PayloadError,
    check_json,
    check_schedule,
    check_signal,
    measured_payload,
    misreport,
    offer_to_payload,
)
from cosim.timebase import StepClock


def offer_from_forecast(lot_id: str, candidate_buses: tuple[int, ...], forecast: dict[str, Any],
                        price_forecast: np.ndarray, economics: LotEconomics) -> LotOffer:
    """Turn the lot's day-ahead availability forecast (one value per step) into the offer a DSO controller
    understands.

    Steps where the forecast gives no mode are charge steps when the price is below the day's median and
    discharge steps above it (a plain arbitrage policy); seed 000's fleet preset gives its own schedule.
    """
    mode = forecast.get("hour_mode")
    if mode is None:
        price = np.asarray(price_forecast, float)
        mode = np.where(price <= np.median(price), 1, -1)
    mode = np.asarray(mode, dtype=int)
    max_charge = np.asarray(forecast["max_charge_kw"], float)
    max_discharge = np.asarray(forecast["max_discharge_kw"], float)
    envelope = None
    if forecast.get("fleet") is not None:  # the operator's envelope: its EVs under its charge/discharge policy
        envelope = policy_envelope(forecast["fleet"], mode)
        max_charge = np.maximum(envelope.p_max_kw, 0.0)
        max_discharge = np.maximum(-envelope.p_min_kw, 0.0)
    return LotOffer(
        lot_id=lot_id,
        candidate_buses=tuple(candidate_buses),
        n_pev=int(forecast["n_pev"]),
        pev_power_kw=float(forecast["pev_power_kw"]),
        pev_battery_kwh=float(forecast["pev_battery_kwh"]),
        hour_mode=mode,
        max_charge_kw=max_charge,
        max_discharge_kw=max_discharge,
        envelope=envelope,
        fleet=forecast.get("fleet"),
        economics=economics,
        energy_need_kwh=float(forecast.get("energy_need_kwh", 0.0)),
        energy_available_kwh=float(forecast.get("energy_available_kwh", np.inf)),
        need_by_hour_kwh=(None if forecast.get("need_by_hour_kwh") is None
                          else np.asarray(forecast["need_by_hour_kwh"], float)),
    )


def policy_envelope(fleet: dict[str, Any], hour_mode: np.ndarray) -> FlexEnvelope:
    """The lot's envelope with its EVs charging only in charge steps and discharging only in discharge steps
    (`envelope_of` the lot's `fleet` forecast, whose ``step_minutes`` says the step), unless that policy would cost
    contracts (more shortfall than physics alone): then the physical envelope, with a note. A policy that misses no
    contract (no shortfall: the physical envelope's is never below 0) needs no physical envelope to compare with.

    The policy's envelope is not built when the contracts it cannot reach (`unreachable_kwh`, a fraction of the
    envelope's cost and never above its shortfall) already exceed the physical envelope's shortfall: the usual case
    of a price policy that leaves too few charge steps; the note then says how much at least."""
    at_least = unreachable_kwh(fleet, hour_mode)
    restricted = None
    if at_least is None or at_least <= 1e-6:
        restricted = envelope_of(fleet, hour_mode)
        if restricted.shortfall_kwh <= 1e-6:
            return restricted
    physical = envelope_of(fleet)
    if restricted is None and at_least > physical.shortfall_kwh + 1e-6:
        return _without_policy(physical, f"at least {at_least - physical.shortfall_kwh:.1f}")
    restricted = restricted if restricted is not None else envelope_of(fleet, hour_mode)
    if restricted.shortfall_kwh > physical.shortfall_kwh + 1e-6:
        return _without_policy(physical, f"{restricted.shortfall_kwh - physical.shortfall_kwh:.1f}")
    return restricted


def _without_policy(physical: FlexEnvelope, missed_kwh: str) -> FlexEnvelope:
    """The physical envelope, with the note that the hour modes would miss `missed_kwh` kWh of contracts."""
    return replace(physical, notes=physical.notes + (
        f"hour modes would miss {missed_kwh} kWh of contracts: offered without them",))


class PloAgent:
    """One PLO: builds its day-ahead offer, answers DSO messages, and gives its lot a setpoint every step."""

    def __init__(self, lot_id: str, candidate_buses: tuple[int, ...], mode: ExchangeMode,
                 economics: LotEconomics | None = None, faults: ChannelFaults | float = 0.0, seed: int = 0,
                 hour_mode: list[int] | None = None, keys: AgentKeys | Mapping[str, Any] | None = None,
                 misreport_probability: float = 0.0, misreport_factor: float = 2.0,
                 connection_limit_kw: float = math.inf, step_minutes: int = 60) -> None:
        """`keys`: the PLO's own private key and the DSO's public key (None: no authentication);
        `candidate_buses` and `connection_limit_kw`: what the lot registered, what DSO schedules are checked
        against; `hour_mode`: the PLO's own policy, 24 hourly values (held over the steps of each hour) or one per
        step; `step_minutes`: the run's step (60, 30 or 15). A mode that works only hourly refuses other steps
        (`ExchangeMode.check_step`)."""
        self.clock = StepClock(step_minutes)
        n = self.clock.steps_per_day
        mode.check_step(n)
        self.lot_id = lot_id
        self.candidate_buses = tuple(candidate_buses)
        self.registration = LotRegistration(self.candidate_buses, float(connection_limit_kw), steps_per_day=n)
        self.mode = mode
        self.economics = economics or LotEconomics()
        self.keys = AgentKeys.from_params(keys) if keys else None
        self.channel = MessageChannel(lot_id, faults, seed, self.keys)
        self.inbox = Inbox(lot_id, self.keys, self.clock.steps_per_hour)
        self.round = 0  # the negotiation round the PLO is at today (that of its last offer)
        self.misreport_probability = misreport_probability
        self.misreport_factor = misreport_factor
        self._rng = np.random.default_rng([seed, 7, sum(map(ord, lot_id))])
        self.events: list[dict[str, Any]] = []
        self.offer: LotOffer | None = None
        self.price_forecast = np.zeros(n)
        self.schedule_kw = np.zeros(n)  # setpoints of the current day, kW (+ charging), one per step
        self.day_start = 0
        self.schedule_start = 0  # the step of schedule_kw[0] (the day start, or a revision's step)
        self.hourly_offer: LotOffer | None = None  # this step's rolling day-ahead offer (step-by-step control)
        self.measured: dict[str, Any] | None = None  # this step's measurements of the lot
        self.planned_profit_usd = 0.0
        self.tariff_usd_per_kwh = np.zeros(n)
        self.hour_mode = None if hour_mode is None else per_step_mode(hour_mode, n)  # its charge/discharge policy

    @property
    def steps_per_day(self) -> int:
        return self.clock.steps_per_day

    # -- services for exchange modes -------------------------------------------------------------------------------
    def full_offer_payload(self) -> dict[str, Any]:
        """The lot's whole flexibility (power bounds, energy needs, PEV data) as an offer payload."""
        return offer_to_payload(self.offer)

    def hourly_offer_payload(self) -> dict[str, Any]:
        """The lot's flexibility for the day from now (its fresh forecast) and its measurements, as an offer."""
        payload = offer_to_payload(self.hourly_offer)
        if self.measured is not None:
            payload["measured"] = self.measured
        return payload

    def follow(self, setpoints_kw: Any, start_hour: int | None = None) -> None:
        """Take the DSO's schedule (kW, + charging, one per step) as the lot's setpoints, from step `start_hour`
        (a revised schedule) or from the day start, moved inside the lot's own envelope (`FlexEnvelope.project`)
        and, its EVs known, to the nearest schedule they can follow together (`fleet_lp.nearest_kw`): what its EVs
        cannot take is never asked of them, and the clipping is logged."""
        schedule = np.asarray(setpoints_kw, float)
        offer = self.offer if start_hour is None or start_hour == self.day_start else self.hourly_offer
        envelope = None if offer is None else offer.envelope
        if envelope is not None and schedule.shape == (envelope.hours,):
            inside = envelope.project(schedule)
            if offer.fleet is not None:  # its EVs, together: the nearest schedule some per-EV dispatch delivers
                try:
                    nearest, gap = nearest_kw(offer.fleet, inside)
                    inside = nearest if gap > DELIVERY_TOLERANCE_KWH else inside
                except ProblemError:
                    pass
            moved = np.abs(inside - schedule)
            if float(moved.max()) > 1e-3:
                self.events.append({"hour": self.day_start if start_hour is None else int(start_hour),
                                    "source": self.lot_id, "event": "schedule clipped",
                                    "detail": f"the DSO's schedule asks up to {float(moved.max()):.1f} kW more than "
                                              "the lot's EVs can take in hour(s) "
                                              f"{np.flatnonzero(moved > 1e-3).tolist()}; the lot follows the nearest "
                                              "schedule inside its envelope"})
            schedule = inside
        self.schedule_kw = schedule
        self.schedule_start = self.day_start if start_hour is None else int(start_hour)

    def _report_envelope(self, hour: int, offer: LotOffer) -> None:
        """Log, for this lot alone, contracts its EVs cannot reach and policy hours it had to drop."""
        envelope = offer.envelope
        if envelope is None:
            return
        if envelope.shortfall_kwh > 1e-3:
            self.events.append({"hour": hour, "source": self.lot_id, "event": "contracts beyond the fleet",
                                "detail": f"{envelope.shortfall_kwh:.1f} kWh of contracts no charger can reach in time "
                                          "(queue, charger power, stay); the offer asks only what can be reached"})
        for note in envelope.notes:
            self.events.append({"hour": hour, "source": self.lot_id, "event": "envelope note", "detail": note})

    def answer_signal(self, signal: DsoSignal) -> None:
        """Re-optimise the PLO's own schedule against the DSO's price adders (paid on net import) and kW limits."""
        self.tariff_usd_per_kwh = signal.price_adder_usd_per_kwh
        self.schedule_kw = self.own_schedule(signal)

    def own_schedule(self, signal: DsoSignal | None = None) -> np.ndarray:
        """The PLO's profit-maximising schedule for the current offer (idle when infeasible, with an event)."""
        try:
            schedule, self.planned_profit_usd = plo_profit_schedule(self.offer, self.price_forecast, signal)
        except ScheduleError as exc:
            self.events.append({"hour": self.day_start, "source": self.lot_id, "event": "PLO schedule infeasible",
                                "detail": f"{exc}; the lot stays idle"})
            schedule, self.planned_profit_usd = np.zeros(self.steps_per_day), 0.0
        return schedule

    # -- steps -----------------------------------------------------------------------------------------------------
    def start_day(self, hour: int, forecast: dict[str, Any], price_forecast) -> list[dict[str, Any]]:
        """Day-ahead step: build the offer; returns the messages for the DSO (none if the mode says nothing)."""
        self.day_start = self.schedule_start = hour
        self.round = 0
        self.price_forecast = np.asarray(price_forecast, float)[:self.steps_per_day]
        if self.hour_mode is not None:
            forecast = {**forecast, "hour_mode": self.hour_mode}
        self.offer = offer_from_forecast(self.lot_id, self.candidate_buses, forecast, self.price_forecast,
                                         self.economics)
        self._report_envelope(hour, self.offer)
        self.tariff_usd_per_kwh = np.zeros(self.steps_per_day)  # DSO price adders of the day (signal-based modes)
        self.schedule_kw = self.own_schedule()  # fallback if the DSO never answers
        payload = self.mode.plo_offer(self)
        if payload is None:
            return []
        if "max_charge_kw" in payload and self.misreport_probability > 0 \
                and self._rng.random() < self.misreport_probability:
            payload = misreport(payload, self.misreport_factor)  # bad-data injection by a dishonest PLO
            self.events.append({"hour": hour, "source": self.lot_id, "event": "misreported offer",
                                "detail": f"flexibility x{self.misreport_factor}"})
        return self.channel.send(hour, "offer", "DSO", payload, 0, f"{self.mode.name} offer")

    def hour_step(self, hour: int, forecast: dict[str, Any], price_forecast, measured: dict[str, Any] | None = None
                  ) -> list[dict[str, Any]]:
        """A step that is not a day start (step-by-step control): the rolling offer from the lot's fresh day-ahead
        forecast (the PLO's own charge/discharge policy rolled to this step); the mode decides what is sent."""
        offset = hour - self.day_start
        if self.hour_mode is not None:
            forecast = {**forecast, "hour_mode": np.roll(np.asarray(self.hour_mode, int), -offset).tolist()}
        self.hourly_offer = offer_from_forecast(self.lot_id, self.candidate_buses, forecast,
                                                np.asarray(price_forecast, float)[:self.steps_per_day],
                                                self.economics)
        self.measured = None if measured is None else measured_payload(
            measured.get("evs_present", 0), measured.get("energy_stored_kwh", 0.0),
            measured.get("energy_charged_kwh", 0.0))
        payload = self.mode.plo_hourly(self)
        if payload is None:
            return []
        self.round = 0  # a step's exchange is round 0 of its step
        return self.channel.send(hour, "offer", "DSO", payload, 0, f"{self.mode.name} hourly offer")

    def receive(self, hour: int, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Take a DSO message; returns the mode's answer (a revised offer) or nothing.

        Messages are checked before the mode sees them: envelope, addressee and signature, sender (the DSO
        only), nonce (duplicates, replays), hour and round (stale), the payload's schema (a schedule within the
        lot's registered connection limit and candidate buses, a signal of finite prices and limits), and the
        signed `delayed` flag. A message that fails is ignored and logged; the lot keeps its schedule."""
        verdict = self.inbox.check(message, hour, min_round=self.round)
        if verdict is None:
            verdict = self._check_payload(message)
        if verdict is None and message["delayed"]:
            verdict = "rejected message", f"{message['kind']} arrived after the day-ahead gate"
        if verdict is not None:
            self.events.append({"hour": hour, "source": self.lot_id, "event": verdict[0], "detail": verdict[1]})
            return []
        self.round = message["round"]
        reply = self.mode.plo_receive(self, message["kind"], message["payload"])
        if reply is None:
            return []
        self.round = message["round"] + 1
        return self.channel.send(hour, "offer", "DSO", reply, self.round, "revised schedule")

    def _check_payload(self, message: dict[str, Any]) -> tuple[str, str] | None:
        sender, kind, payload = message["sender"], message["kind"], message["payload"]
        if sender != "DSO":
            return "rejected message", f"{kind} from {sender!r}: a PLO takes messages from the DSO only"
        try:
            if kind == "offer":
                raise PayloadError("the DSO does not send offers")
            if kind == "schedule":
                check_schedule(payload, self.lot_id, self.registration)
            elif kind == "signal":
                check_signal(payload, self.steps_per_day)
            else:
                check_json(payload)
        except PayloadError as exc:
            return "rejected message", f"invalid {kind} from the DSO: {exc}"
        problem = self.mode.check_payload(kind, payload)
        return None if problem is None else ("rejected message", f"invalid {kind} from the DSO: {problem}")

    def tariff(self, hour: int) -> float:
        """The DSO's price adder for step `hour` ($/kWh on net import; 0 without signals)."""
        return float(self.tariff_usd_per_kwh[(hour - self.day_start) % self.steps_per_day])

    def setpoint_kw(self, hour: int) -> float:
        """The lot setpoint for step `hour` (kW, + charging)."""
        return float(self.schedule_kw[(hour - self.schedule_start) % self.steps_per_day])


def per_step_mode(hour_mode: Any, steps_per_day: int) -> list[int]:
    """The PLO's charge (+1) / discharge (-1) / idle (0) policy, one value per step: 24 hourly values are held over
    the steps of each hour; `steps_per_day` values are taken as they are; any other length is refused."""
    mode = [int(v) for v in hour_mode]
    if len(mode) == steps_per_day:
        return mode
    if len(mode) == HOURS:
        return np.repeat(np.asarray(mode, int), steps_per_day // HOURS).tolist()
    raise InputError(f"hour_mode: {HOURS} hourly values or {steps_per_day} per-step values expected, "
                       f"got {len(mode)}")
