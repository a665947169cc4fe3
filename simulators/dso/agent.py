"""The DSO's decisions, free of mosaik: it turns forecasts and PLO offers into a day-ahead plan and messages.

At each day-ahead step it calls its exchange mode (`cosim.exchange`), which decides what to plan and what to
tell the PLOs; the agent provides the planning services (a `DayAheadProblem` for its controller, EO by
default, with a safe fallback), checks everything it receives, and signs and logs everything it sends.

Time: the agent runs in its `StepClock`'s steps (60, 30 or 15 minutes). Every `hour` it is handed or records (the
day's start, revisions, events, messages) is a step index (mosaik time); a day is `steps_per_day` steps (24, 48 or
96) and every day-ahead array (forecasts, fixed injections, setpoints, predictions) holds one value per step.
Energies are kW x step_h. plans.jsonl's `day_start_hour` is in hours, next to the run's `step_minutes`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cosim.controllers.base import (
    DayAheadPlan,
    DayAheadProblem,
    GridMeasurement,
    HourState,
    LotMeasurement,
    LotOffer,
    can_revise,
    rolled_plan,
)
from cosim.controllers.envelope import FlexEnvelope
from cosim.controllers.forkserver import active_server
from cosim.controllers.isolation import (
    DEFAULT_TIME_LIMIT_S,
    ControllerFailure,
    ControllerSpec,
    plan_in_process,
    plan_in_worker,
    plan_through,
)
from cosim.controllers.plan_codec import PlanDataError, snapshot
from cosim.controllers.read_only import read_only_problem
from cosim.controllers.validation import check_plan, evaluate_plan
from cosim.errors import InputError, PlanningStopped, one_line
from cosim.exchange.base import DayContext, ExchangeMode, Outgoing
from cosim.exchange.keys import AgentKeys
from cosim.exchange.messages import ChannelFaults, Inbox, MessageChannel
from cosim.exchange.payloads import LotRegistration, PayloadError, check_offer, offer_from_payload
from cosim.networks.converted import flow
from cosim.powerflow.network_data import RadialNetwork
from cosim.timebase import StepClock

log = logging.getLogger("cosim.dso")  # under "cosim": the command line's stderr handler shows its warnings
KEEP_PLAN = "keep_plan_in_force"
"""A revision whose `info` holds this key set to True keeps the plan in force: no merge, no message (the lots keep
the schedules they follow; `cosim.env` uses it when an action leaves everything as it is)."""
ON_FAILURE = ("fallback", "stop")
"""What a planning failure does: fall back and go on (default), or stop the run (`PlanningStopped`)."""


def predict_hourly(net: RadialNetwork, open_branches, p_kw: np.ndarray, q_kvar: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step losses (kW), voltages and substation power of a fixed topology and (n_steps, n_bus) loads (fast
    flow); the name keeps "hourly" (plans' `predicted_hourly`), the rows are the loads' steps."""
    res = flow(net, np.asarray(open_branches, int), p_kw, q_kvar)  # a converted net: its slack voltage, charging
    return {"loss_kw": res.loss_kw, "v_min_pu": res.vm_pu.min(axis=1), "v_max_pu": res.vm_pu.max(axis=1),
            "p_grid_kw": res.p_slack_kw, "vpd": np.abs(res.vm_pu - 1.0).sum(axis=1)}


def _bus_load(value: dict[str, Any] | None, n_steps: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The market's per-bus forecast ({"p_kw", "q_kvar"}: rows = steps) as two (n_steps, n_bus) arrays, or None."""
    if value is None:
        return None
    return np.asarray(value["p_kw"], float)[:n_steps], np.asarray(value["q_kvar"], float)[:n_steps]


def json_safe_summary(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={float(v):.4g}" for k, v in values.items() if isinstance(v, (int, float, np.floating)))


class DsoAgent:
    """The DSO: plans each day with its controller and talks to the PLOs in the given exchange mode."""

    def __init__(self, network: RadialNetwork, controller, mode: ExchangeMode, objective: str = "of3",
                 reconfigure: bool = True, faults: ChannelFaults | float = 0.0, seed: int = 0,
                 keys: AgentKeys | Mapping[str, Any] | None = None,
                 lots: Mapping[str, LotRegistration | Mapping[str, Any]] | None = None,
                 time_limit_s: float = DEFAULT_TIME_LIMIT_S, isolation: bool = True,
                 switch_operations_per_day: int = 0, on_failure: str = "fallback",
                 tracebacks_file: str | Path | None = None, controller_spec: ControllerSpec | None = None,
                 clock: StepClock | None = None) -> None:
        """`keys`: the DSO's own private key and every registered PLO's public key (None: no authentication);
        `lots`: each registered lot's candidate buses and connection limit, what its offers are checked against;
        `time_limit_s`: the controller's deadline per plan; `isolation`: plan in a worker process (see
        `cosim.controllers.isolation`), so no controller can block, exit or crash the run;
        `switch_operations_per_day`: branches the DSO may open or close per day in hourly revisions (each opened
        and each closed branch is one operation; 0: the topology is fixed after the day-ahead plan);
        `on_failure`: "fallback" (each planning failure falls back, with one warning on stderr) or "stop" (the first
        one raises `PlanningStopped`); `tracebacks_file`: where each failure's traceback is appended (the run
        folder's tracebacks.txt; None: nowhere); `controller_spec`: how a worker builds `controller` itself: with it,
        isolated plans go through the run's clean fork server when one is active (`cosim.controllers.forkserver`),
        so the worker never holds this agent's private key; `clock`: the run's step (default 60 minutes): a day is
        its `steps_per_day` steps."""
        if on_failure not in ON_FAILURE:
            raise InputError(f"on_failure {on_failure!r} is not allowed; allowed: {', '.join(ON_FAILURE)}")
        self.on_failure = on_failure
        self.tracebacks_file = Path(tracebacks_file) if tracebacks_file is not None else None
        self._failure_info: tuple[str | None, str | None] = (None, None)  # traceback, user frame of the last failure
        self.clock = clock or StepClock()
        self.n_steps = self.clock.steps_per_day  # a day-ahead array's length
        self.net = network
        self.controller = controller
        self.controller_spec = controller_spec
        self.time_limit_s = float(time_limit_s)
        self.isolation = bool(isolation)
        self.mode = mode
        self.objective = objective
        self.reconfigure = reconfigure
        self.keys = AgentKeys.from_params(keys) if keys else None
        self.channel = MessageChannel("DSO", faults, seed, self.keys)
        self.inbox = Inbox("DSO", self.keys, steps_per_hour=self.clock.steps_per_hour)  # replay window in wall time
        # what offers are checked against, in this run's steps (an offer of another length is refused)
        self.lots = {lot_id: replace(reg, steps_per_day=self.n_steps) if isinstance(reg, LotRegistration)
                     else LotRegistration(tuple(int(b) for b in reg["candidate_buses"]),
                                          float(reg.get("connection_limit_kw", np.inf)),
                                          float(reg.get("power_factor", 1.0)), steps_per_day=self.n_steps)
                     for lot_id, reg in (lots or {}).items()}
        self._last_offers: dict[str, dict[str, Any]] = {}  # each lot's last accepted day-ahead offer
        self._planned_hour: int | None = None
        self.open_branches: tuple[int, ...] = tuple(network.tie_branches)
        self.lot_buses: dict[str, int] = {}
        self.plan: DayAheadPlan | None = None
        self.plans: list[dict[str, Any]] = []
        self.day = DayContext(0, np.ones(self.n_steps), np.zeros(self.n_steps))
        self.round = 0
        self.schedules: dict[str, np.ndarray] = {}
        self._last_feasible = False
        self.events: list[dict[str, Any]] = []  # fallbacks, rejected data, negotiation outcomes
        self.hour = 0  # the step (mosaik time) the DSO is at
        self.hourly = can_revise(controller)  # re-plans every step that is not a day start
        self.switch_operations_per_day = int(switch_operations_per_day)
        self.switch_operations_left = self.switch_operations_per_day
        self.grid_measurement: GridMeasurement | None = None  # the grid's last measured step (per-step control)
        self._hour_forecast: tuple[np.ndarray, np.ndarray] | None = None  # this step's one-day load and price
        self.bus_load: tuple[np.ndarray, np.ndarray] | None = None  # the day's (n_steps, n_bus) kW, kvar
        self._hour_bus_load: tuple[np.ndarray, np.ndarray] | None = None

    # -- the exchange mode drives these two steps ------------------------------------------------------------------
    def day_ahead(self, hour: int, offers: dict[str, dict[str, Any]], load_scaling, price,
                  bus_load: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Plan the day starting at step `hour`; returns the messages for the PLOs (possibly none). The forecasts
        give one value per step (the first steps_per_day are used); `bus_load` ({"p_kw", "q_kvar"}: a row of
        per-bus values per step) replaces load_scaling x the network's bus loads."""
        n = self.n_steps
        self.day = DayContext(hour, np.asarray(load_scaling, float)[:n], np.asarray(price, float)[:n])
        self.bus_load = _bus_load(bus_load, n)
        self.hour = hour
        self.switch_operations_left = self.switch_operations_per_day
        self._planned_hour = hour
        self.round = 0
        self.schedules = {}
        self.plan = None
        return self._send(self.mode.dso_plan_day(self, offers))

    def revise(self, hour: int, offers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """PLOs answered in the same step (a negotiation round): the mode decides what follows."""
        self.hour = hour
        self.round += 1
        return self._send(self.mode.dso_answer(self, offers))

    def hour_step(self, hour: int, offers: dict[str, dict[str, Any]], load_scaling, price,
                  bus_load: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """A step that is not a day start (controllers with `revise` only): the mode's `dso_hour` decides what is
        re-planned and sent; returns the messages for the PLOs."""
        self.hour = hour
        n = self.n_steps
        self._hour_forecast = (np.asarray(load_scaling, float)[:n], np.asarray(price, float)[:n])
        self._hour_bus_load = _bus_load(bus_load, n)
        if self.plan is None:
            return []
        return self._send(self.mode.dso_hour(self, offers), round_=0)

    def measure_grid(self, hour: int, losses_kw, v_min_pu, p_grid_kw, open_branches) -> None:
        """The grid's measured step `hour` (delivered a step late through a time-shifted connection)."""
        if None in (losses_kw, v_min_pu, p_grid_kw):
            return
        self.grid_measurement = GridMeasurement(int(hour), float(losses_kw), float(v_min_pu), float(p_grid_kw),
                                                tuple(int(b) for b in (open_branches or ())))

    # -- planning services for exchange modes ------------------------------------------------------------------------
    def revise_hour(self, offers: dict[str, dict[str, Any]]) -> DayAheadPlan | None:
        """Re-plan the rolling day (steps_per_day steps) from step `self.hour` with the controller's `revise` (see
        `DsoSide`).

        The problem: this step's one-day forecasts; lots with a full offer this hour dispatched at the bus they sit
        at, the other lots fixed at their setpoints in force (rolled); topology free only while switch operations
        are left today (`base_open_branches` = the topology in force). The revision runs in the worker within the
        time limit and is checked like a day-ahead plan; a failure keeps the plan in force ("planning fallback").
        A revised topology that needs more switch operations than are left is re-solved with the topology fixed
        ("switching limit"). The accepted revision is merged into the day's plan from this step on."""
        if not self.hourly or self.plan is None or self._hour_forecast is None:
            return None
        offset = self.hour - self.day.hour
        standing = rolled_plan(self.plan, offset)
        lots, measured = [], {}
        for lot_id, payload in offers.items():
            if "max_charge_kw" not in payload or lot_id not in self.lots:
                continue
            bus = self.lot_buses.get(lot_id, self.lots[lot_id].candidate_buses[0])
            lots.append(offer_from_payload(payload, (bus,)))
            if "measured" in payload:
                m = payload["measured"]
                measured[lot_id] = LotMeasurement(int(m["evs_present"]), float(m["energy_stored_kwh"]),
                                                  float(m["energy_charged_kwh"]))
        dispatched = {lot.lot_id for lot in lots}
        fixed = np.zeros((self.n_steps, self.net.n_bus))
        for lot_id, setpoints in standing.setpoints_kw.items():
            if lot_id not in dispatched and lot_id in self.lot_buses:
                fixed[:, self.lot_buses[lot_id] - 1] += setpoints
        state = HourState(hour=self.hour, day_start=self.day.hour, lots=measured, grid=self.grid_measurement,
                          switch_operations_left=self.switch_operations_left, plan=standing)
        load, price = self._hour_forecast

        def problem(reconfigure: bool) -> DayAheadProblem:
            bus = self._hour_bus_load
            return DayAheadProblem(network=self.net, load_scaling=load, price_usd_per_kwh=price,
                                   lots=self._registered(lots),
                                   bus_load_kw=None if bus is None else bus[0],
                                   bus_load_kvar=None if bus is None else bus[1],
                                   base_open_branches=tuple(self.open_branches), reconfigure=reconfigure,
                                   objective=self.objective, fixed_injection_kw=fixed if fixed.any() else None,
                                   standing_plan=standing)

        free = self.reconfigure and self.switch_operations_left > 0
        rolling = problem(free)
        plan, failure = self._checked(rolling, _Revision(self.controller, state, self.hour))
        if plan is not None and plan.info.get(KEEP_PLAN) is True:  # nothing re-planned: nothing is sent
            return None
        if plan is not None and free:
            operations = len(set(map(int, plan.open_branches)) ^ set(self.open_branches))
            if operations > self.switch_operations_left:
                self._event(self.hour, "switching limit",
                            f"revision at hour {self.hour} needs {operations} switch operation(s), "
                            f"{self.switch_operations_left} left today; re-planned with the topology fixed")
                rolling = problem(False)
                plan, failure = self._checked(rolling, _Revision(self.controller, state, self.hour))
            elif plan is not None:
                self.switch_operations_left -= operations
        if plan is None:
            self._fallback_event(self.hour, f"hourly revision at hour {self.hour}: {failure}; kept the plan in force",
                                 failure)
            return None
        self._merge_revision(plan, offset)
        return plan

    def _merge_revision(self, plan: DayAheadPlan, offset: int) -> None:
        """The day's plan from step `offset` of the day on becomes the revision's (setpoints, predictions,
        topology); recorded (plans.jsonl keeps one merged row per day: what was in force each step)."""
        day = self.plan
        n = self.n_steps - offset
        for lot_id, setpoints in plan.setpoints_kw.items():
            merged = np.asarray(day.setpoints_kw.get(lot_id, np.zeros(self.n_steps)), float).copy()
            merged[offset:] = np.asarray(setpoints, float)[:n]
            day.setpoints_kw[lot_id] = merged
        for key, values in plan.predicted_hourly.items():
            if key in day.predicted_hourly:
                merged = np.asarray(day.predicted_hourly[key], float).copy()
                merged[offset:] = np.asarray(values, float)[:n]
                day.predicted_hourly[key] = merged
        day.open_branches = tuple(int(b) for b in plan.open_branches)
        day.info["revisions"] = int(day.info.get("revisions", 0)) + 1
        day.info["switch_operations_left"] = self.switch_operations_left
        self.open_branches = day.open_branches
        self._record(day, replace=True)

    def plan_with_lots(self, offers: dict[str, dict[str, Any]]) -> DayAheadPlan:
        """The controller dispatches the lots from their full offers (and sites them among their candidates)."""
        lots = []
        for lot_id, payload in offers.items():
            try:
                lots.append(offer_from_payload(payload, self.lots[lot_id].candidate_buses))
            except (InputError, KeyError, TypeError, ValueError) as exc:  # a mode passing offers it never checked
                self._event(self.day.hour, "rejected message", f"offer of {lot_id!r} cannot be planned with "
                                                               f"({type(exc).__name__}: {exc}); planned without it")
        plan = self._solve(self._problem(lots=tuple(lots)))
        self._record(plan)
        return plan

    def plan_around(self, offers: dict[str, dict[str, Any]], replan: bool = True) -> DayAheadPlan:
        """Plan the grid around the lots' own schedules (`schedule_kw` offers); with `replan=False` keep the
        standing plan's topology and only update its schedules and predictions."""
        offers = {lot_id: p for lot_id, p in offers.items() if lot_id in self.lots}
        self.schedules.update({lot_id: np.asarray(p["schedule_kw"], float) for lot_id, p in offers.items()})
        for lot_id in offers:
            self.lot_buses.setdefault(lot_id, self.lots[lot_id].candidate_buses[0])  # where it registered
        if replan or self.plan is None:
            plan = self._solve(self._problem(lots=(), fixed=self._fixed_injections(), standing=self.plan))
        else:
            plan = self.plan
            self._refresh_prediction(plan)
        plan.setpoints_kw = {k: v.copy() for k, v in self.schedules.items()}
        plan.lot_buses = {k: self.lot_buses[k] for k in self.schedules}
        self._record(plan, replace=self.round > 0)
        return plan

    def schedule_change_kw(self, offers: dict[str, dict[str, Any]]) -> float:
        """The largest per-step change (kW) of any lot's offered schedule against the one the DSO holds."""
        return max((float(np.max(np.abs(np.asarray(p["schedule_kw"], float) - self.schedules.get(k, 0.0))))
                    for k, p in offers.items()), default=0.0)

    def end_negotiation(self, converged: bool, detail: str = "") -> None:
        """Record the outcome of the day's negotiation in the plan, the events and (via the plan) the KPIs."""
        if self.plan is not None:
            self.plan.info.update(rounds=self.round, converged=bool(converged))
            self._record(self.plan, replace=True)
        outcome = "converged" if converged else "not converged"
        self._event(self.day.hour, f"negotiation {outcome}",
                    f"{self.round} round(s) in mode {self.mode.name!r}" + (f": {detail}" if detail else ""))

    # -- what the DSO accepts ------------------------------------------------------------------------------------
    def accept(self, hour: int, messages: list[dict[str, Any]], hourly: bool = False) -> dict[str, dict[str, Any]]:
        """Offers that pass every check, by lot id; everything else is dropped with an event.

        Checks, in order: envelope, addressee and signature ("rejected message"); nonce ("duplicate message"
        within the hour, "replayed message" after it); hour and round ("stale message": the day-ahead plan takes
        round 0 of the current hour, a negotiation the answers to its latest round); kind and payload schema
        ("rejected message"; powers beyond the lot's registered connection limit: "implausible offer"); the
        signed `delayed` flag ("late offer"); a second offer of a lot in one batch ("duplicate message").
        For the day-ahead plan, a lot whose offer was set aside is planned with its previous accepted offer
        ("stale offer" when it was late), or without one. Implausible energy figures are clipped
        ("implausible offer"). `hourly`: offers of an hourly revision (round 0 of an hour that is not a day start),
        checked the same way but neither kept for the next day-ahead plan nor replaced by earlier ones.
        """
        expected = self.round + 1 if self._planned_hour == hour else 0
        accepted: dict[str, dict[str, Any]] = {}
        set_aside: list[tuple[str | None, str, str]] = []
        for message in messages:
            verdict = self.inbox.check(message, hour, min_round=expected, max_round=expected)
            if verdict is None:
                verdict = self._check_offer(message)
            sender = message.get("sender") if isinstance(message, dict) else None
            if verdict is None and message["delayed"]:
                verdict = "late offer", f"{sender}: {message['kind']} arrived after the day-ahead gate"
            if verdict is None and sender in accepted:
                verdict = "duplicate message", f"{sender}: a second {message['kind']} in round {expected}; dropped"
            if verdict is None:
                accepted[sender] = self._plausible(hour, sender, message["payload"], jump=not hourly)
            else:
                set_aside.append((sender if isinstance(sender, str) else None, *verdict))
        if expected == 0 and not hourly:
            self._last_offers.update(accepted)
        for sender, event, detail in set_aside:
            if expected == 0 and not hourly and sender in self.lots and sender not in accepted:
                previous = self._last_offers.get(sender)
                if previous is not None:
                    accepted[sender] = previous
                    event = "stale offer" if event == "late offer" else event
                    detail += "; using its previous offer"
                else:
                    detail += "; no previous offer exists, planned without it"
            self._event(hour, event, detail)
        return accepted

    def _check_offer(self, message: dict[str, Any]) -> tuple[str, str] | None:
        """The kind and payload of an authenticated, fresh message from a PLO; (event, why) when they fail."""
        sender, kind, payload = message["sender"], message["kind"], message["payload"]
        if sender not in self.lots:
            return "rejected message", f"{sender!r} is not a registered lot"
        if kind != "offer":
            return "rejected message", f"{sender!r} sent a {kind!r}; PLOs send offers"
        try:
            check_offer(payload, sender, self.lots[sender])
        except PayloadError as exc:
            return exc.event, f"invalid offer from {sender!r}: {exc}"
        problem = self.mode.check_payload(kind, payload)
        return None if problem is None else ("rejected message", f"invalid offer from {sender!r}: {problem}")

    def _plausible(self, hour: int, sender: str, payload: dict[str, Any], jump: bool = True) -> dict[str, Any]:
        """A checked full offer whose energy figures are clipped to what its power can deliver (kW x step_h over its
        steps) and (`jump`) to a jump of at most 50 % (+1 kWh) over the lot's previous day-ahead offer."""
        if "max_charge_kw" not in payload:
            return payload
        out = dict(payload)
        issues = []
        step_h = self.clock.step_h
        deliverable = float(np.sum(np.asarray(out["max_discharge_kw"])[np.asarray(payload["hour_mode"]) < 0])) * step_h
        if payload["energy_available_kwh"] > deliverable + 1e-6:
            issues.append(f"energy_available {payload['energy_available_kwh']:.0f} kWh > "
                          f"{deliverable:.0f} kWh deliverable")
            out["energy_available_kwh"] = deliverable
        mu = float(payload["economics"]["mu_e"])
        reach = np.cumsum(np.where(np.asarray(payload["hour_mode"]) > 0, np.asarray(out["max_charge_kw"]), 0.0)) * mu \
            * step_h  # kWh by the end of each step
        need_by = None if payload["need_by_hour_kwh"] is None else np.asarray(payload["need_by_hour_kwh"], float)
        if payload.get("envelope") is None and (payload["energy_need_kwh"] > reach[-1] + 1e-6 or (
                need_by is not None and np.any(need_by > reach + 1e-6))):
            short = max(payload["energy_need_kwh"] - reach[-1],
                        0.0 if need_by is None else float(np.max(need_by - reach)))
            issues.append(f"contracts need {short:.0f} kWh more than the offered power can charge")
            out["energy_need_kwh"] = min(payload["energy_need_kwh"], float(reach[-1]))
            if need_by is not None:
                out["need_by_hour_kwh"] = np.minimum(need_by, reach).tolist()
        if payload.get("envelope") is not None:  # bounds that cannot hold together: contracts clipped, for this lot
            # payloads carry no step: the envelope is rebuilt at the DSO's own
            offered = FlexEnvelope.from_payload(payload["envelope"], step_h=self.clock.step_h)
            envelope = offered.tightened()
            if envelope.shortfall_kwh > offered.shortfall_kwh + 1e-3:
                issues.append(f"contracts need {envelope.shortfall_kwh - offered.shortfall_kwh:.1f} kWh more than its "
                              "envelope's power bounds can put in")
            out["envelope"] = envelope.to_payload()
        previous = self._last_offers.get(sender) if jump else None
        if previous is not None and "energy_available_kwh" in previous \
                and out["energy_available_kwh"] > 1.5 * previous["energy_available_kwh"] + 1.0:
            issues.append(f"energy_available {out['energy_available_kwh']:.0f} kWh jumps from "
                          f"{previous['energy_available_kwh']:.0f} kWh the day before")
            out["energy_available_kwh"] = previous["energy_available_kwh"]
        if issues:
            self._event(hour, "implausible offer", f"{sender}: " + "; ".join(issues) + " (clipped)")
        return out

    def log_event(self, event: str, detail: str) -> None:
        """An exchange mode's own event at the current step (events.csv, source DSO; the recorder writes its hour)."""
        self._event(self.hour, event, detail)

    def _event(self, hour: int, event: str, detail: str) -> None:
        self.events.append({"hour": hour, "source": "DSO", "event": event, "detail": detail})

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _send(self, outgoing: list[Outgoing], round_: int | None = None) -> list[dict[str, Any]]:
        """Sign, send (through the channel's faults) and log the mode's messages (this step, the day's round or
        `round_`)."""
        round_ = self.round if round_ is None else round_
        return [m for o in outgoing
                for m in self.channel.send(self.hour, o.kind, o.receiver, o.payload, round_, o.summary)]

    def _fixed_injections(self) -> np.ndarray:
        """The lots' own schedules (kW per step) at their buses: (steps_per_day, n_bus)."""
        fixed = np.zeros((self.n_steps, self.net.n_bus))
        for lot_id, schedule in self.schedules.items():
            fixed[:, self.lot_buses[lot_id] - 1] += schedule
        return fixed

    def _registered(self, lots) -> tuple[LotOffer, ...]:
        """The offers with what the DSO registered of each lot (its chargers' power factor)."""
        return tuple(replace(lot, power_factor=self.lots[lot.lot_id].power_factor)
                     if lot.lot_id in self.lots and self.lots[lot.lot_id].power_factor != 1.0 else lot for lot in lots)

    def _problem(self, lots: tuple[LotOffer, ...], fixed: np.ndarray | None = None,
                 standing: DayAheadPlan | None = None) -> DayAheadProblem:
        bus = self.bus_load
        return DayAheadProblem(network=self.net, load_scaling=self.day.load_scaling,
                               bus_load_kw=None if bus is None else bus[0],
                               bus_load_kvar=None if bus is None else bus[1],
                               price_usd_per_kwh=self.day.price_usd_per_kwh, lots=self._registered(lots),
                               base_open_branches=tuple(self.net.tie_branches), reconfigure=self.reconfigure,
                               objective=self.objective, fixed_injection_kw=fixed, standing_plan=standing)

    def _solve(self, problem: DayAheadProblem) -> DayAheadPlan:
        """The controller's plan, run within the time limit and checked before use (`check_plan`); the
        fallback plan when the controller fails or a rule rejects its plan (the event names the rule)."""
        plan, failure = self._checked(problem, self.controller)
        if plan is None:
            plan = self._fallback_plan(problem, failure, self._rejected)
        self.open_branches = tuple(int(b) for b in plan.open_branches)
        self._last_feasible = self._last_feasible or bool(plan.feasible)
        self.lot_buses.update({k: int(v) for k, v in plan.lot_buses.items()})
        self.plan = plan
        return plan

    def _checked(self, problem: DayAheadProblem, controller) -> tuple[DayAheadPlan | None, str]:
        """`controller.plan(problem)` within the time limit (in the worker when isolated), checked (`check_plan`),
        repaired where exact and given the fast flow's predictions when it has none; (None, why) on failure."""
        plan: DayAheadPlan | None = None
        self._rejected = None
        self._failure_info = (None, None)
        try:
            plan = self._run_controller(controller, problem)
            check = check_plan(problem, plan)
            failure = None if check.ok else f"plan rejected, rule {check.failure}"
        except ControllerFailure as exc:
            failure = str(exc)
            self._failure_info = (exc.traceback, exc.where)
        except PlanDataError as exc:  # not plain data: refused before anything reads it
            failure = exc.rejection
        if failure is not None:
            self._rejected = plan if isinstance(plan, DayAheadPlan) else None
            return None, failure
        plan = check.plan
        for repair in check.repairs:
            self._event(self.hour, "plan repaired", repair)
        if "loss_kw" not in (plan.predicted_hourly or {}):  # a plan without predictions: the fast flow's
            evaluate_plan(problem, plan)
        return plan, ""

    def _run_controller(self, controller, problem: DayAheadProblem) -> DayAheadPlan:
        """The controller's plan: in a worker of the run's clean fork server (the controller built from its spec),
        else in a worker forked from here (a fresh plan built from the worker's plain data), else (`isolation =
        False`) in this process: a read-only copy of the problem in, a plain-data snapshot of the plan out, the one
        checked and used."""
        if not self.isolation:
            return snapshot(plan_in_process(controller, read_only_problem(problem), self.time_limit_s))
        server = active_server()
        if server is None or self.controller_spec is None:
            return plan_in_worker(controller, problem, self.time_limit_s)
        revision = (controller.state, controller.hour) if isinstance(controller, _Revision) else None
        return plan_through(server, self.controller_spec, problem, self.time_limit_s, revision)

    def _fallback_plan(self, problem: DayAheadProblem, failure: str, rejected: DayAheadPlan | None) -> DayAheadPlan:
        """Safe action when planning fails: keep the last feasible topology, give lots no schedule (they follow
        their own plans). The event is logged and listed in the run's manifest."""
        open_branches = self.open_branches if self._last_feasible else tuple(self.net.tie_branches)
        p, q = problem.bus_loads_kw()
        plan = DayAheadPlan(open_branches=open_branches, lot_buses=dict(self.lot_buses) or
                            {lot.lot_id: int(lot.candidate_buses[0]) for lot in problem.lots},
                            setpoints_kw={}, feasible=False, controller=getattr(self.controller, "name", "?"),
                            predicted_hourly=predict_hourly(self.net, open_branches, p, q))
        plan.info["fallback"] = f"{failure}; kept open branches {list(open_branches)}, lots on their own schedules"
        detail = plan.info["fallback"]
        if rejected is not None and isinstance(rejected.predicted, dict):
            plan.info["rejected_predicted"] = json_safe_summary(rejected.predicted)
            own = one_line(plan.info["rejected_predicted"])  # what the controller predicted for the plan it gave
            if own:
                detail += f"; the rejected plan's own prediction: {own if len(own) <= 300 else own[:297] + '...'}"
        self._fallback_event(self.day.hour, detail, failure)
        return plan

    def _fallback_event(self, hour: int, detail: str, failure: str) -> None:
        """A planning fallback at `hour`: its event, its block in the tracebacks file and one warning line on
        stderr naming the hour, the cause (exception or rule) and the user's file:line; with `on_failure = "stop"`
        the run ends here instead (`PlanningStopped`, whose message says the same)."""
        self._event(hour, "planning fallback", detail)
        trace, where = self._failure_info
        cause = one_line(failure + (f" at {where}" if where else ""))
        saved = self._append_traceback(hour, cause, trace)
        details = f"; details in {self.tracebacks_file}" if saved else ""
        if self.on_failure == "stop":
            raise PlanningStopped(f"{self.when(hour)}: planning fallback ({cause}); stopped, as [controller] "
                                  f"on_failure = \"stop\" asks{details}", event=dict(self.events[-1]))
        log.warning("%s: planning fallback (%s)%s", self.when(hour), cause, details)

    def _append_traceback(self, hour: int, cause: str, trace: str | None) -> bool:
        """One block (a header line with the hour, the cause, the traceback or why there is none, a blank line)
        appended to the tracebacks file in one write; False when there is no file or it cannot be written."""
        if self.tracebacks_file is None:
            return False
        body = trace if trace else "no traceback: the controller raised nothing (a plan a rule rejected, a time " \
                                   "limit passed, a worker that exited or died)\n"
        block = f"=== {self.when(hour)}: planning fallback ===\ncause: {cause}\n{body.rstrip(chr(10))}\n\n"
        try:
            fd = os.open(self.tracebacks_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(block.encode("utf-8", "replace"))
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError:
            return False
        return True

    def _refresh_prediction(self, plan: DayAheadPlan) -> None:
        if self.bus_load is not None:
            p, q = self.bus_load[0] + self._fixed_injections(), self.bus_load[1]
        else:
            p = np.outer(self.day.load_scaling, self.net.p_load_kw) + self._fixed_injections()
            q = np.outer(self.day.load_scaling, self.net.q_load_kvar)
        plan.predicted_hourly = predict_hourly(self.net, plan.open_branches, p, q)

    def when(self, step: int) -> str:
        """A step for people to read: "hour 24" at 60-minute steps, "step 96 (hour 24)" otherwise."""
        if self.clock.step_minutes == 60:
            return f"hour {step}"
        return f"step {step} (hour {self.clock.hour_of(step):g})"

    def day_start_hours(self) -> int | float:
        """The day's start in hours (plans.jsonl's `day_start_hour`): its step at 60-minute steps (an int, as
        hourly runs always wrote it), step x step_h otherwise."""
        return self.day.hour if self.clock.step_minutes == 60 else self.day.hour * self.clock.step_h

    def _record(self, plan: DayAheadPlan, replace: bool = False) -> None:
        """plans.jsonl's row of `plan` (one per day; `replace`: the day's row so far is replaced)."""
        plan.info["rounds"] = self.round
        row = {
            "day_start_hour": self.day_start_hours(), "step_minutes": self.clock.step_minutes,
            "controller": plan.controller, "exchange": self.mode.name,
            "open_branches": [int(b) for b in plan.open_branches],
            "lot_buses": {k: int(v) for k, v in plan.lot_buses.items()},
            "feasible": bool(plan.feasible), "predicted": {k: float(v) for k, v in plan.predicted.items()},
            "predicted_hourly": {k: np.asarray(v, float).tolist() for k, v in plan.predicted_hourly.items()},
            "setpoints_kw": {k: np.asarray(v, float).tolist() for k, v in plan.setpoints_kw.items()},
            # wall-clock durations are left out, so plans.jsonl is byte-identical for the same seed (the run's
            # timing is in the manifest)
            "info": {k: v for k, v in plan.info.items()
                     if (isinstance(v, (int, float, str, bool)) or _numbers(v) and k != "history")
                     and not k.endswith("wall_s")},
            "history": [] if plan.info.get("revisions") else  # the day-ahead row keeps the optimiser's history
            [float(v) if np.isfinite(v) else None for v in np.asarray(plan.info.get("history", ()), float)],
        }
        if replace and self.plans and self.plans[-1]["day_start_hour"] == row["day_start_hour"]:
            self.plans[-1] = row
        else:
            self.plans.append(row)


def _numbers(value: Any) -> bool:
    """A list of finite numbers (a mode's per-round record, e.g. ADMM's residuals), kept in plans.jsonl's info."""
    return isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           and np.isfinite(v) for v in value)


class _Revision:
    """A controller's `revise(problem, state, hour)` seen as `plan(problem)`, so that an hourly revision runs in the
    same worker, under the same time limit and containment, as a day-ahead plan."""

    def __init__(self, controller, state: HourState, hour: int) -> None:
        self.controller, self.state, self.hour = controller, state, hour
        self.name = getattr(controller, "name", "?")

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        return self.controller.revise(problem, self.state, self.hour)
