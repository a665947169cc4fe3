"""The DSO's decisions, free of mosaik: it turns forecasts and PLO offers into a day-ahead plan and messages.

At each day-ahead step it calls its exchange mode (`cosim.exchange`), which decides what to plan and what to
tell the PLOs; the agent provides the planning services (a `DayAheadProblem` for its controller, EO by
default, with a safe fallback), checks everything it receives, and signs and logs everything it sends.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem, LotOffer
from cosim.controllers.isolation import DEFAULT_TIME_LIMIT_S, ControllerFailure, plan_in_process, plan_in_worker
from cosim.controllers.validation import check_plan, evaluate_plan
from cosim.errors import InputError
from cosim.exchange.base import DayContext, ExchangeMode, Outgoing
from cosim.exchange.keys import AgentKeys
from cosim.exchange.messages import ChannelFaults, Inbox, MessageChannel
from cosim.exchange.payloads import LotRegistration, PayloadError, check_offer, offer_from_payload
from cosim.powerflow.bfs import solve_radial_batch
from cosim.powerflow.network_data import RadialNetwork


def predict_hourly(net: RadialNetwork, open_branches, p_kw: np.ndarray, q_kvar: np.ndarray) -> dict[str, np.ndarray]:
    """Hourly losses, voltages and substation power of a fixed topology and (24, n_bus) loads (fast flow)."""
    res = solve_radial_batch(net, np.asarray(open_branches, int), p_kw, q_kvar)
    return {"loss_kw": res.loss_kw, "v_min_pu": res.vm_pu.min(axis=1), "v_max_pu": res.vm_pu.max(axis=1),
            "p_grid_kw": res.p_slack_kw, "vpd": np.abs(res.vm_pu - 1.0).sum(axis=1)}


def json_safe_summary(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={float(v):.4g}" for k, v in values.items() if isinstance(v, (int, float, np.floating)))


class DsoAgent:
    """The DSO: plans each day with its controller and talks to the PLOs in the given exchange mode."""

    def __init__(self, network: RadialNetwork, controller, mode: ExchangeMode, objective: str = "of3",
                 reconfigure: bool = True, faults: ChannelFaults | float = 0.0, seed: int = 0,
                 keys: AgentKeys | Mapping[str, Any] | None = None,
                 lots: Mapping[str, LotRegistration | Mapping[str, Any]] | None = None,
                 time_limit_s: float = DEFAULT_TIME_LIMIT_S, isolation: bool = True) -> None:
        """`keys`: the DSO's own private key and every registered PLO's public key (None: no authentication);
        `lots`: each registered lot's candidate buses and connection limit, what its offers are checked against;
        `time_limit_s`: the controller's deadline per plan; `isolation`: plan in a worker process (see
        `cosim.controllers.isolation`), so no controller can block, exit or crash the run."""
        self.net = network
        self.controller = controller
        self.time_limit_s = float(time_limit_s)
        self.isolation = bool(isolation)
        self.mode = mode
        self.objective = objective
        self.reconfigure = reconfigure
        self.keys = AgentKeys.from_params(keys) if keys else None
        self.channel = MessageChannel("DSO", faults, seed, self.keys)
        self.inbox = Inbox("DSO", self.keys)
        self.lots = {lot_id: reg if isinstance(reg, LotRegistration) else LotRegistration(
                         tuple(int(b) for b in reg["candidate_buses"]), float(reg.get("connection_limit_kw", np.inf)))
                     for lot_id, reg in (lots or {}).items()}
        self._last_offers: dict[str, dict[str, Any]] = {}  # each lot's last accepted day-ahead offer
        self._planned_hour: int | None = None
        self.open_branches: tuple[int, ...] = tuple(network.tie_branches)
        self.lot_buses: dict[str, int] = {}
        self.plan: DayAheadPlan | None = None
        self.plans: list[dict[str, Any]] = []
        self.day = DayContext(0, np.ones(HOURS), np.zeros(HOURS))
        self.round = 0
        self.schedules: dict[str, np.ndarray] = {}
        self._last_feasible = False
        self.events: list[dict[str, Any]] = []  # fallbacks, rejected data, negotiation outcomes

    # -- the exchange mode drives these two steps ------------------------------------------------------------------
    def day_ahead(self, hour: int, offers: dict[str, dict[str, Any]], load_scaling, price) -> list[dict[str, Any]]:
        """Plan the day starting at `hour`; returns the messages for the PLOs (possibly none)."""
        self.day = DayContext(hour, np.asarray(load_scaling, float)[:HOURS], np.asarray(price, float)[:HOURS])
        self._planned_hour = hour
        self.round = 0
        self.schedules = {}
        self.plan = None
        return self._send(self.mode.dso_plan_day(self, offers))

    def revise(self, hour: int, offers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """PLOs answered in the same hour (a negotiation round): the mode decides what follows."""
        self.round += 1
        return self._send(self.mode.dso_answer(self, offers))

    # -- planning services for exchange modes ------------------------------------------------------------------------
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
        """The largest hourly change (kW) of any lot's offered schedule against the one the DSO holds."""
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
    def accept(self, hour: int, messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Offers that pass every check, by lot id; everything else is dropped with an event.

        Checks, in order: envelope, addressee and signature ("rejected message"); nonce ("duplicate message"
        within the hour, "replayed message" after it); hour and round ("stale message": the day-ahead plan takes
        round 0 of the current hour, a negotiation the answers to its latest round); kind and payload schema
        ("rejected message"; powers beyond the lot's registered connection limit: "implausible offer"); the
        signed `delayed` flag ("late offer"); a second offer of a lot in one batch ("duplicate message").
        For the day-ahead plan, a lot whose offer was set aside is planned with its previous accepted offer
        ("stale offer" when it was late), or without one. Implausible energy figures are clipped
        ("implausible offer").
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
                accepted[sender] = self._plausible(hour, sender, message["payload"])
            else:
                set_aside.append((sender if isinstance(sender, str) else None, *verdict))
        if expected == 0:
            self._last_offers.update(accepted)
        for sender, event, detail in set_aside:
            if expected == 0 and sender in self.lots and sender not in accepted:
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

    def _plausible(self, hour: int, sender: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A checked full offer whose energy figures are clipped to what its power can deliver and to a jump of at
        most 50 % (+1 kWh) over the lot's previous offer."""
        if "max_charge_kw" not in payload:
            return payload
        out = dict(payload)
        issues = []
        deliverable = float(np.sum(np.asarray(out["max_discharge_kw"])[np.asarray(payload["hour_mode"]) < 0]))
        if payload["energy_available_kwh"] > deliverable + 1e-6:
            issues.append(f"energy_available {payload['energy_available_kwh']:.0f} kWh > "
                          f"{deliverable:.0f} kWh deliverable")
            out["energy_available_kwh"] = deliverable
        previous = self._last_offers.get(sender)
        if previous is not None and "energy_available_kwh" in previous \
                and out["energy_available_kwh"] > 1.5 * previous["energy_available_kwh"] + 1.0:
            issues.append(f"energy_available {out['energy_available_kwh']:.0f} kWh jumps from "
                          f"{previous['energy_available_kwh']:.0f} kWh the day before")
            out["energy_available_kwh"] = previous["energy_available_kwh"]
        if issues:
            self._event(hour, "implausible offer", f"{sender}: " + "; ".join(issues) + " (clipped)")
        return out

    def _event(self, hour: int, event: str, detail: str) -> None:
        self.events.append({"hour": hour, "source": "DSO", "event": event, "detail": detail})

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _send(self, outgoing: list[Outgoing]) -> list[dict[str, Any]]:
        """Sign, send (through the channel's faults) and log the mode's messages."""
        return [m for o in outgoing
                for m in self.channel.send(self.day.hour, o.kind, o.receiver, o.payload, self.round, o.summary)]

    def _fixed_injections(self) -> np.ndarray:
        fixed = np.zeros((HOURS, self.net.n_bus))
        for lot_id, schedule in self.schedules.items():
            fixed[:, self.lot_buses[lot_id] - 1] += schedule
        return fixed

    def _problem(self, lots: tuple[LotOffer, ...], fixed: np.ndarray | None = None,
                 standing: DayAheadPlan | None = None) -> DayAheadProblem:
        return DayAheadProblem(network=self.net, load_scaling=self.day.load_scaling,
                               price_usd_per_kwh=self.day.price_usd_per_kwh, lots=lots,
                               base_open_branches=tuple(self.net.tie_branches), reconfigure=self.reconfigure,
                               objective=self.objective, fixed_injection_kw=fixed, standing_plan=standing)

    def _solve(self, problem: DayAheadProblem) -> DayAheadPlan:
        """The controller's plan, run within the time limit and checked before use (`check_plan`); the
        fallback plan when the controller fails or a rule rejects its plan (the event names the rule)."""
        run = plan_in_worker if self.isolation else plan_in_process
        plan: DayAheadPlan | None = None
        try:
            plan = run(self.controller, problem, self.time_limit_s)
            check = check_plan(problem, plan)
            failure = None if check.ok else f"plan rejected, rule {check.failure}"
        except ControllerFailure as exc:
            failure = str(exc)
        if failure is not None:
            plan = self._fallback_plan(problem, failure, plan if isinstance(plan, DayAheadPlan) else None)
        else:
            plan = check.plan
            for repair in check.repairs:
                self._event(self.day.hour, "plan repaired", repair)
            if "loss_kw" not in (plan.predicted_hourly or {}):  # a plan without predictions: the fast flow's
                evaluate_plan(problem, plan)
        self.open_branches = tuple(int(b) for b in plan.open_branches)
        self._last_feasible = self._last_feasible or bool(plan.feasible)
        self.lot_buses.update({k: int(v) for k, v in plan.lot_buses.items()})
        self.plan = plan
        return plan

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
        if rejected is not None:
            plan.info["rejected_predicted"] = json_safe_summary(rejected.predicted)
        self._event(self.day.hour, "planning fallback", plan.info["fallback"])
        return plan

    def _refresh_prediction(self, plan: DayAheadPlan) -> None:
        p = np.outer(self.day.load_scaling, self.net.p_load_kw) + self._fixed_injections()
        q = np.outer(self.day.load_scaling, self.net.q_load_kvar)
        plan.predicted_hourly = predict_hourly(self.net, plan.open_branches, p, q)

    def _record(self, plan: DayAheadPlan, replace: bool = False) -> None:
        plan.info["rounds"] = self.round
        row = {
            "day_start_hour": self.day.hour, "controller": plan.controller, "exchange": self.mode.name,
            "open_branches": [int(b) for b in plan.open_branches],
            "lot_buses": {k: int(v) for k, v in plan.lot_buses.items()},
            "feasible": bool(plan.feasible), "predicted": {k: float(v) for k, v in plan.predicted.items()},
            "predicted_hourly": {k: np.asarray(v, float).tolist() for k, v in plan.predicted_hourly.items()},
            "setpoints_kw": {k: np.asarray(v, float).tolist() for k, v in plan.setpoints_kw.items()},
            "info": {k: v for k, v in plan.info.items() if isinstance(v, (int, float, str, bool))},
            "history": [float(v) if np.isfinite(v) else None for v in np.asarray(plan.info.get("history", ()), float)],
        }
        if replace and self.plans and self.plans[-1]["day_start_hour"] == self.day.hour:
            self.plans[-1] = row
        else:
            self.plans.append(row)
