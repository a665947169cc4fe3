"""The DSO's decisions, free of mosaik: it turns forecasts and PLO offers into a day-ahead plan and messages.

At each day-ahead step it calls its exchange mode (`cosim.exchange`), which decides what to plan and what to
tell the PLOs; the agent provides the planning services (a `DayAheadProblem` for its controller, EO by
default, with a safe fallback), checks everything it receives, and signs and logs everything it sends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem, LotOffer
from cosim.exchange.base import DayContext, ExchangeMode, Outgoing
from cosim.exchange.messages import ChannelFaults, MessageChannel, verify
from cosim.exchange.payloads import offer_from_payload
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
                 keys: dict[str, str] | None = None, lot_limits_kw: dict[str, float] | None = None) -> None:
        self.net = network
        self.controller = controller
        self.mode = mode
        self.objective = objective
        self.reconfigure = reconfigure
        self.keys = keys or {}  # the DSO's own key and every registered PLO's
        self.channel = MessageChannel("DSO", faults, seed, self.keys.get("DSO"))
        self.lot_limits_kw = dict(lot_limits_kw or {})  # registered connection limit of each lot (kW)
        self._last_offers: dict[str, dict[str, Any]] = {}
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
        lots = tuple(offer_from_payload(p) for p in offers.values())
        plan = self._solve(self._problem(lots=lots))
        self._record(plan)
        return plan

    def plan_around(self, offers: dict[str, dict[str, Any]], replan: bool = True) -> DayAheadPlan:
        """Plan the grid around the lots' own schedules (`schedule_kw` offers); with `replan=False` keep the
        standing plan's topology and only update its schedules and predictions."""
        self.schedules.update({lot_id: np.asarray(p["schedule_kw"], float) for lot_id, p in offers.items()})
        for lot_id, payload in offers.items():
            self.lot_buses.setdefault(lot_id, int(payload["candidate_buses"][0]))
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
        """Offers that pass authentication and plausibility, by lot id; everything else is logged.

        Unknown or forged senders and offers for another lot are rejected; duplicates are dropped; a late
        (delayed) offer is replaced by the lot's previous accepted offer; implausible flexibility is clipped
        to the lot's registered connection limit and to what the offered power can deliver.
        """
        accepted: dict[str, dict[str, Any]] = {}
        for message in messages:
            problem = verify(message, "DSO", self.keys) if self.keys else None
            if problem is None and message["payload"].get("lot_id") != message["sender"]:
                problem = f"{message['sender']!r} offered for lot {message['payload'].get('lot_id')!r}"
            if problem is not None:
                self._event(hour, "rejected message", problem)
                continue
            sender = message["sender"]
            if message.get("delayed"):
                if sender in self._last_offers and message["kind"] == "offer" and message["round"] == 0:
                    accepted[sender] = self._last_offers[sender]
                    self._event(hour, "stale offer", f"{sender}: offer arrived late; using its previous offer")
                else:
                    self._event(hour, "late offer", f"{sender}: offer arrived late and no previous offer exists")
                continue
            if sender in accepted:
                self._event(hour, "duplicate message", f"{sender}: duplicate {message['kind']} dropped")
                continue
            accepted[sender] = self._plausible(hour, sender, message["payload"])
        for sender, payload in accepted.items():
            if "max_charge_kw" in payload:
                self._last_offers[sender] = payload
        return accepted

    def _plausible(self, hour: int, sender: str, payload: dict[str, Any]) -> dict[str, Any]:
        if "max_charge_kw" not in payload:
            return payload
        out = dict(payload)
        limit = self.lot_limits_kw.get(sender, np.inf)
        issues = []
        for key in ("max_charge_kw", "max_discharge_kw"):
            arr = np.asarray(payload[key], float)
            if np.any(arr > limit + 1e-6) or np.any(arr < 0):
                issues.append(f"{key} up to {arr.max():.0f} kW beyond the registered {limit:.0f} kW")
                out[key] = np.clip(arr, 0.0, limit).tolist()
        deliverable = float(np.sum(np.asarray(out["max_discharge_kw"])[np.asarray(payload["hour_mode"]) < 0]))
        if payload["energy_available_kwh"] > deliverable + 1e-6:
            issues.append(f"energy_available {payload['energy_available_kwh']:.0f} kWh > "
                          f"{deliverable:.0f} kWh deliverable")
            out["energy_available_kwh"] = deliverable
        previous = self._last_offers.get(sender)
        if previous is not None and out["energy_available_kwh"] > 1.5 * previous["energy_available_kwh"] + 1.0:
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
        try:
            plan = self.controller.plan(problem)
            failure = None if plan.feasible else "the controller returned an infeasible plan"
        except Exception as exc:  # noqa: BLE001 - a failing controller must not stop the grid
            plan, failure = None, f"the controller raised {type(exc).__name__}: {exc}"
        if failure is not None:
            plan = self._fallback_plan(problem, failure, plan)
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
        }
        if replace and self.plans and self.plans[-1]["day_start_hour"] == self.day.hour:
            self.plans[-1] = row
        else:
            self.plans.append(row)
