"""mosaik wrapper of `PloAgent`: one entity per PLO (hybrid; re-steps at the same step when the DSO answers).

One mosaik time unit is one step of the run: `init`'s ``time_resolution`` (3600, 1800 or 900 s) gives the step
(`cosim.timebase.StepClock`); a day starts at every multiple of `steps_per_day`.
Inputs: lot_state (the lot's state at the start of the step, incl. its day-ahead `forecast`, one value per step;
time-shifted; with `hourly` (step-by-step control) a fresh forecast and the lot's measurements every step, sent on
by the exchange mode's `plo_hourly`),
price_forecast ($/kWh from the market, one per step of the day), from_dso (DSO messages; trigger, weak connection
in a group).
Outputs: offer (list of signed messages to the DSO), setpoint_kw (to the lot), schedule (the day's setpoints from
their start step, to the lot: it shares each step among its EVs by them), planned_profit_usd, messages (log rows,
`hour` = the step).
"""

from __future__ import annotations

from typing import Any

import mosaik_api_v3

from cosim.controllers.base import LotEconomics
from cosim.exchange.messages import ChannelFaults, HourLog
from cosim.exchange.registry import make_exchange_mode
from cosim.textio import to_jsonable
from cosim.timebase import StepClock
from simulators.plo.agent import PloAgent

META = {
    "type": "hybrid",
    "models": {
        "PLO": {
            "public": True,
            "params": ["lot_id", "candidate_buses", "exchange", "exchange_options", "economics", "faults", "seed",
                       "hour_mode", "keys", "misreport_probability", "misreport_factor", "plugin_dir",
                       "connection_limit_kw", "hourly"],
            "attrs": ["lot_state", "price_forecast", "from_dso", "offer", "setpoint_kw", "schedule",
                      "planned_profit_usd", "tariff_usd_per_kwh", "messages", "events"],
            "trigger": ["from_dso"],
            "persistent": ["lot_state", "price_forecast", "from_dso", "setpoint_kw", "schedule",
                           "planned_profit_usd", "tariff_usd_per_kwh"],
            "non-persistent": ["offer", "messages", "events"],
        }
    },
}


class PloSim(mosaik_api_v3.Simulator):
    def __init__(self) -> None:
        super().__init__(META)
        self.agents: dict[str, PloAgent] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, set] = {}
        self.hourly: dict[str, bool] = {}
        self.logs: dict[str, dict[str, HourLog]] = {}
        self.clock = StepClock()

    def init(self, sid, time_resolution=3600.0, **sim_params):
        """The step is the world's time unit (`StepClock.from_time_resolution`: another resolution is refused)."""
        self.clock = StepClock.from_time_resolution(time_resolution)
        return self.meta

    def create(self, num, model, lot_id, candidate_buses, exchange="centralised", exchange_options=None, economics=None,
               faults=None, seed=0, hour_mode=None, keys=None, misreport_probability=0.0, misreport_factor=2.0,
               plugin_dir=None, connection_limit_kw=None, hourly=False):
        """`exchange` is a mode name or dotted path; `plugin_dir` is where a user's mode module may sit; `keys`
        are the PLO's own (`AgentKeys.params()`: its private key, or `keys.MADE_HERE` to make it in this process,
        and the DSO's public key), None without authentication; the entity's `extra_info` then holds the PLO's
        public key; `connection_limit_kw` is the lot's registered limit (DSO schedules are checked
        against it); `hourly`: the DSO re-plans hour by hour (the PLO makes an hourly offer)."""
        if num != 1:
            raise ValueError("create PLO entities one at a time (each has its own lot_id)")
        mode = make_exchange_mode(exchange, near=plugin_dir, **(exchange_options or {}))
        self.agents[lot_id] = PloAgent(lot_id, tuple(candidate_buses), mode, LotEconomics(**(economics or {})),
                                       ChannelFaults(**(faults or {})), seed, hour_mode, keys,
                                       misreport_probability, misreport_factor,
                                       float("inf") if connection_limit_kw is None else float(connection_limit_kw),
                                       step_minutes=self.clock.step_minutes)
        self.seen[lot_id] = set()
        self.hourly[lot_id] = bool(hourly)
        self.logs[lot_id] = {"messages": HourLog(), "events": HourLog()}
        entity: dict[str, Any] = {"eid": lot_id, "type": model}
        if self.agents[lot_id].keys is not None:  # its public key, for the DSO (a key made here: see keys.MADE_HERE)
            entity["extra_info"] = {"public_key": self.agents[lot_id].keys.public_key_hex()}
        return [entity]

    def step(self, time, inputs, max_advance):
        self.outputs = {}
        day = self.clock.steps_per_day
        for eid, agent in self.agents.items():
            inp = inputs.get(eid, {})
            out: dict[str, Any] = {}
            if time % day == 0 and ("day", time) not in self.seen[eid]:
                self.seen[eid].add(("day", time))
                state = _first(inp.get("lot_state"))
                prices = _first(inp.get("price_forecast"))
                if state is None or prices is None:
                    raise RuntimeError(f"PLO {eid}: no lot state or price forecast at day start (step {time})")
                offers = agent.start_day(time, state["forecast"], prices)
                if offers:
                    out["offer"] = offers
            elif self.hourly[eid] and time % day != 0 and ("hour", time) not in self.seen[eid]:
                self.seen[eid].add(("hour", time))
                state = _first(inp.get("lot_state"))
                prices = _first(inp.get("price_forecast"))
                if state and state.get("forecast") is not None and prices is not None:
                    offers = agent.hour_step(time, state["forecast"], prices, state.get("measured"))
                    if offers:
                        out["offer"] = offers
            for message in (_first(inp.get("from_dso")) or {}).get(eid, []):
                replies = agent.receive(time, message)  # the agent drops (and logs) duplicates and replays
                if replies:
                    out["offer"] = replies
            out["setpoint_kw"] = agent.setpoint_kw(time)
            out["schedule"] = {"start_h": float(agent.schedule_start),
                               "kw": [float(v) for v in agent.schedule_kw]}  # the lot dispatches its EVs by it
            out["planned_profit_usd"] = agent.planned_profit_usd
            out["tariff_usd_per_kwh"] = agent.tariff(time)
            rows = self.logs[eid]["messages"].add(time, agent.channel.drain())
            if rows:
                out["messages"] = rows
            events = self.logs[eid]["events"].add(time, agent.events)
            agent.events.clear()
            if events:
                out["events"] = events
            self.outputs[eid] = out
        return time + 1

    def get_data(self, outputs):
        """The requested outputs as plain JSON types; offers go as they are: signed messages are plain JSON by
        construction (`cosim.exchange.messages.wrap` encodes each payload), and a fresh list of fresh messages each
        step, so walking them again (a fleet of EVs, an envelope) would only copy them."""
        return {eid: {a: v if a in _PLAIN_JSON else to_jsonable(v) for a, v in self.outputs.get(eid, {}).items()
                      if a in attrs}
                for eid, attrs in outputs.items()}


_PLAIN_JSON = frozenset({"offer"})
"""Outputs that are plain JSON already (the channel's signed messages)."""


def _first(values: dict[str, Any] | None) -> Any:
    """mosaik delivers {source_id: value}; a PLO has one source per input."""
    if not values:
        return None
    return next(iter(values.values()))
