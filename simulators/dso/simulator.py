"""mosaik wrapper of `DsoAgent` (event-based): steps when forecasts or PLO offers arrive.

Event-based outputs are non-persistent: open_branches and lot_buses are sent once per day-ahead step and the
grid keeps them until the next one.

One mosaik time unit is one step (`init`'s `time_resolution`: 3600, 1800 or 900 s); a day is steps_per_day steps
(24, 48 or 96) and starts at every time t with t % steps_per_day == 0.
Inputs: load_forecast (p.u. load scaling), price_forecast ($/kWh), one value per step of the coming day, offer (PLO
messages); with step-by-step control (a controller with `revise`) also the grid's last measured step
(time-shifted): losses_kw, v_min_pu, p_grid_kw, grid_open_branches. Each step that is not a day start the DSO then
re-plans (`DsoAgent.hour_step`).
Outputs: to_plo ({lot_id: [messages]}, weak connection back to the PLOs), open_branches (to the grid),
lot_buses ({lot_id: bus}), plan (the day-ahead plan, once per day), messages (log rows).
"""

from __future__ import annotations

from typing import Any

import mosaik_api_v3

from cosim.exchange.messages import ChannelFaults, HourLog
from cosim.textio import to_jsonable
from cosim.timebase import StepClock
from simulators.dso.agent import DsoAgent

META = {
    "type": "event-based",
    "models": {
        "DSO": {
            "public": True,
            "params": ["network", "controller", "controller_options", "objective", "reconfigure", "exchange",
                       "exchange_options", "faults", "seed", "keys", "lots", "plugin_dir", "time_limit_s", "isolation",
                       "switch_operations_per_day", "on_failure", "tracebacks_file"],
            "attrs": ["load_forecast", "bus_load_forecast", "price_forecast", "offer", "to_plo", "open_branches",
                      "lot_buses", "plan", "messages", "events", "losses_kw", "v_min_pu", "p_grid_kw",
                      "grid_open_branches"],
        }
    },
}


class DsoSim(mosaik_api_v3.Simulator):
    def __init__(self) -> None:
        super().__init__(META)
        self.agent: DsoAgent | None = None
        self.out: dict[str, Any] = {}
        self.planned_hour = -1
        self.revised_hour = -1
        self.message_log, self.event_log = HourLog(), HourLog()
        self.clock = StepClock()

    def init(self, sid, time_resolution=3600.0, **sim_params):
        """`time_resolution`: seconds per time unit, one step (3600, 1800 or 900; else a StepError)."""
        self.clock = StepClock.from_time_resolution(time_resolution)
        return self.meta

    def create(self, num, model, network="ieee33", controller="eo", controller_options=None, objective="of3",
               reconfigure=True, exchange="centralised", exchange_options=None, faults=None, seed=0, keys=None,
               lots=None, plugin_dir=None, time_limit_s=None, isolation=True, switch_operations_per_day=0,
               on_failure="fallback", tracebacks_file=None):
        """`controller` and `exchange` are names or dotted paths; `plugin_dir` is where user modules may sit
        (the scenario's folder); `keys` are the DSO's (`AgentKeys.params()`: its private key and every lot's
        public key), None without authentication; `lots` are the registered lots ({lot_id: {candidate_buses,
        connection_limit_kw}}), what offers are checked against; `time_limit_s` (default
        `DEFAULT_TIME_LIMIT_S`) and `isolation` bound and contain the controller (`cosim.controllers.isolation`);
        `switch_operations_per_day`: what hourly revisions may switch per day (0: topology fixed after the
        day-ahead plan); `on_failure`: "fallback" or "stop" at a planning failure; `tracebacks_file`: the file each
        planning failure's traceback is appended to (None: none)."""
        if self.agent is not None or num != 1:
            raise ValueError("one DSO entity per simulator")
        from cosim.controllers.isolation import DEFAULT_TIME_LIMIT_S, ControllerSpec  # noqa: PLC0415
        from cosim.controllers.registry import SEEDED_CONTROLLERS, make_controller  # noqa: PLC0415
        from cosim.exchange.registry import make_exchange_mode  # noqa: PLC0415
        from cosim.networks import load_radial  # noqa: PLC0415 - network data, not the grid simulator

        options = dict(controller_options or {})
        if controller in SEEDED_CONTROLLERS:  # seeded metaheuristics follow the scenario's seed
            options.setdefault("seed", seed)
        mode = make_exchange_mode(exchange, near=plugin_dir, **(exchange_options or {}))
        self.agent = DsoAgent(load_radial(network, near=plugin_dir),
                              make_controller(controller, near=plugin_dir, **options),
                              mode, objective, reconfigure, ChannelFaults(**(faults or {})), seed, keys=keys,
                              lots=lots, time_limit_s=DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s,
                              isolation=isolation, switch_operations_per_day=switch_operations_per_day,
                              on_failure=on_failure, tracebacks_file=tracebacks_file,
                              controller_spec=ControllerSpec(controller, plugin_dir, options), clock=self.clock)
        return [{"eid": "dso", "type": model}]

    def step(self, time, inputs, max_advance):
        inp = inputs.get("dso", {})
        # offers in the order the lots were registered, whichever simulator (one, or one process per PLO) sent them
        # and whenever it answered: the DSO's plans and messages then never depend on the order of delivery
        received = [m for _, batch in sorted((inp.get("offer") or {}).items(), key=self._registered_first)
                    if batch for m in batch]
        messages: list[dict[str, Any]] = []
        self.out = {}
        load = next(iter((inp.get("load_forecast") or {}).values()), None)
        price = next(iter((inp.get("price_forecast") or {}).values()), None)
        bus_load = next(iter((inp.get("bus_load_forecast") or {}).values()), None)  # per bus (profile "simbench")
        if "losses_kw" in inp:  # the grid's step time - 1, measured
            measured = {a: next(iter((inp.get(a) or {}).values()), None)
                        for a in ("losses_kw", "v_min_pu", "p_grid_kw", "grid_open_branches")}
            self.agent.measure_grid(time - 1, measured["losses_kw"], measured["v_min_pu"], measured["p_grid_kw"],
                                    measured["grid_open_branches"])
        day_start = self.clock.is_day_start(time)
        hourly = self.agent.hourly and not day_start and self.revised_hour != time and self.planned_hour != time
        offers = self.agent.accept(time, received, hourly=hourly) if received else {}
        if day_start and self.planned_hour != time:
            if load is None or price is None:
                raise RuntimeError(f"DSO: no load/price forecast at day start (step {time}, hour "
                                   f"{self.clock.hour_of(time):g})")
            self.planned_hour = time
            messages = self.agent.day_ahead(time, offers, load, price, bus_load)
            self.out["open_branches"] = list(self.agent.open_branches)
            self.out["lot_buses"] = dict(self.agent.lot_buses)
            self.out["plan"] = self.agent.plans[-1]
        elif offers and self.planned_hour == time:
            messages = self.agent.revise(time, offers)
            self.out["open_branches"] = list(self.agent.open_branches)
            self.out["plan"] = self.agent.plans[-1]
        elif hourly and load is not None and price is not None:
            self.revised_hour = time
            topology, row = list(self.agent.open_branches), self.agent.plans[-1] if self.agent.plans else None
            messages = self.agent.hour_step(time, offers, load, price, bus_load)
            if list(self.agent.open_branches) != topology:
                self.out["open_branches"] = list(self.agent.open_branches)
            if self.agent.plans and self.agent.plans[-1] is not row:  # a revision was merged into the day's row
                self.out["plan"] = self.agent.plans[-1]
        if messages:
            grouped: dict[str, list] = {}
            for m in messages:
                grouped.setdefault(m["receiver"], []).append(m)
            self.out["to_plo"] = grouped
        rows = self.message_log.add(time, self.agent.channel.drain())
        if rows:
            self.out["messages"] = rows
        events = self.event_log.add(time, self.agent.events)
        self.agent.events.clear()
        if events:
            self.out["events"] = events
        return None

    def _registered_first(self, item: tuple[str, Any]) -> tuple[int, str]:
        """Sort key of an input source "PLO-0.PL2": the lot's place among the registered lots, then the full id."""
        order = list(self.agent.lots) if self.agent is not None else []
        eid = item[0].partition(".")[2]
        return (order.index(eid) if eid in order else len(order)), item[0]

    def get_data(self, outputs):
        return {"dso": {a: to_jsonable(v) for a, v in self.out.items() if a in outputs.get("dso", [])}}
