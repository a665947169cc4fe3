"""mosaik collector that writes everything it receives to the run folder as it arrives (event-based).

Which table a source goes to is given by `tables` ({simulator id prefix: table}), one row per step and entity
(`hour`, `id`, one column per attribute; the attributes in `COLUMN_NAMES` are renamed so that every column
name carries its unit). An attribute whose value is a list of rows (dicts: `messages`, `events`, a lot's `evs`,
a grid's `lines`) goes to the table of that name, each row with the `hour` unless it has its own; rows with a
`seq` are written once however often they are sent. `plan` goes to plans.jsonl and a `vm_pu` list to
bus_voltages.csv in long form (`hour`, `bus` 1-based, `vm_pu`). With `progress_total` (steps) > 0 it also
shows the run's progress in simulated steps (`cosim.progress`: a bar on a terminal, lines in a log; the unit reads
"h" at 60-minute steps, "step" otherwise).

Time: one mosaik time unit is one step (`init`'s `time_resolution`, 3600, 1800 or 900 s). Every table's `hour`
column is the step's start in hours (time x step_h): an int at 60-minute steps (hourly output unchanged), a float
such as 0.25 otherwise. The `hour` of a row-valued attribute's own rows (messages, events: the agents' step indices)
is converted the same way.

Switched off (`MEMORY_ONLY`, the learning environments' `record=False`): a run folder registered there gets no
files; the recorder keeps only the scalar rows of the tables named there, in memory, and drops everything else
(messages, events, EV rows, plans, bus voltages), so a training episode pays no CSV writing.
"""

from __future__ import annotations

import numbers
from typing import Any

import mosaik_api_v3
from tqdm import tqdm

from cosim.progress import progress_bar
from cosim.results import RunWriter
from cosim.timebase import StepClock

META = {"type": "event-based", "models": {"Recorder": {"public": True,
                                                        "params": ["run_dir", "tables", "progress_total"],
                                                        "attrs": [], "any_inputs": True}}}


COLUMN_NAMES = {  # mosaik attribute -> column: units in every name
    "vpd": "vpd_pu",
    "energy_price": "energy_price_usd_per_kwh",
    "reserve_capacity_price": "reserve_capacity_price_usd_per_kw",
    "reserve_call_price": "reserve_call_price_usd_per_kwh",
}


MEMORY_ONLY: dict[str, dict[str, list[dict[str, Any]]]] = {}
"""Run folders (str) whose recorder writes nothing: {run_dir: {table: rows}}, the rows of the named tables kept in
memory as the run goes (the caller registers the folder before the world starts and removes it afterwards)."""


def is_rows(value: Any) -> bool:
    """A list of rows (dicts), e.g. messages or EV visits: written as rows of their own table."""
    return isinstance(value, list) and bool(value) and all(isinstance(r, dict) for r in value)


class RecorderSim(mosaik_api_v3.Simulator):
    def __init__(self) -> None:
        super().__init__(META)
        self.writer: RunWriter | None = None
        self.tables: dict[str, str] = {}
        self.last_hour = -1
        self.seen_rows: set[tuple] = set()
        self.bar: tqdm | None = None
        self.memory: dict[str, list[dict[str, Any]]] | None = None  # switched off: the kept tables' rows
        self.clock = StepClock()

    def init(self, sid, time_resolution=3600.0, **sim_params):
        """`time_resolution`: seconds per time unit, one step (3600, 1800 or 900; else a StepError)."""
        self.clock = StepClock.from_time_resolution(time_resolution)
        return self.meta

    def hour_of(self, step: Any) -> Any:
        """The start of step `step` in hours: the step itself at 60-minute steps (an int stays an int), step x
        step_h otherwise; a value that is not an integer step (None, text) is left as it is."""
        if self.clock.step_minutes == 60 or isinstance(step, bool) or not isinstance(step, numbers.Integral):
            return step
        return int(step) * self.clock.step_h

    def create(self, num, model, run_dir, tables, progress_total=0):
        """`progress_total`: the run's steps (0: no progress shown)."""
        if int(progress_total) > 0:
            # the first step holds the run's one-off costs: the time left is estimated from the steps after it
            unit = "h" if self.clock.step_minutes == 60 else "step"
            self.bar = progress_bar(int(progress_total), "co-simulation", unit, one_off_steps=1)
        self.memory = MEMORY_ONLY.get(str(run_dir))
        if self.memory is None:
            self.writer = RunWriter(run_dir)
        self.tables = dict(tables)
        return [{"eid": "recorder", "type": model}]

    def step(self, time, inputs, max_advance):
        if self.memory is not None:
            self._keep_in_memory(time, inputs)
            return None
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        hour = self.hour_of(time)
        # mosaik's order of attributes and sources depends on the hash seed: sorted, a table's columns and rows
        # come out in the same order in every run (byte-identical results for the same seed); sorted by simulator
        # type and entity, the same whether the lots' PLOs share one simulator or each runs its own
        for attr, sources in sorted(inputs.get("recorder", {}).items()):
            for src, value in sorted(sources.items(), key=_source_order):
                sim_id, _, eid = src.partition(".")
                if attr in ("messages", "events", "evs", "lines") and not value:
                    continue  # no rows this time
                if is_rows(value):  # rows with a `seq` (an hour's messages so far) are kept once each
                    fresh = [r for r in value if "seq" not in r or (src, attr, r["seq"]) not in self.seen_rows]
                    self.seen_rows.update((src, attr, r["seq"]) for r in fresh if "seq" in r)
                    self.writer.append(attr, [{"hour": hour, **{k: self.hour_of(v) if k == "hour" else v
                                                                for k, v in r.items() if k != "seq"}}
                                              for r in fresh])
                elif attr == "plan":
                    self.writer.append_plan(value)
                elif attr == "vm_pu":
                    self.writer.append("bus_voltages", [{"hour": hour, "bus": i + 1, "vm_pu": v}
                                                        for i, v in enumerate(value)])
                else:
                    table = self.tables.get(sim_id.split("-")[0], sim_id)
                    rows.setdefault((table, eid), {"hour": hour, "id": eid})[COLUMN_NAMES.get(attr, attr)] = value
        for (table, _), row in sorted(rows.items()):
            self.writer.append(table, [row])
        if self.bar is not None and time != self.last_hour:
            self.bar.update(min(time + 1, self.bar.total) - self.bar.n)  # steps done so far
        self.last_hour = time
        return None

    def _keep_in_memory(self, time: int, inputs: dict[str, Any]) -> None:
        """Switched off: the scalar attributes of the kept tables, one row per step and entity, nothing written."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for attr, sources in sorted(inputs.get("recorder", {}).items()):
            for src, value in sorted(sources.items(), key=_source_order):
                sim_id, _, eid = src.partition(".")
                table = self.tables.get(sim_id.split("-")[0], sim_id)
                if table in self.memory and not isinstance(value, (list, dict)):
                    rows.setdefault((table, eid), {"hour": self.hour_of(time), "id": eid})[
                        COLUMN_NAMES.get(attr, attr)] = value
        for (table, _), row in sorted(rows.items()):
            self.memory[table].append(row)

    def finalize(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer:
            self.writer.close()

    def get_data(self, outputs):
        return {}


def _source_order(item: tuple[str, Any]) -> tuple[str, str, str]:
    """Sort key of a source: "PLO-0.PL2" or "PLO-PL2.PL2" -> ("PLO", "PL2", full id): simulator type, entity."""
    sim_id, _, eid = item[0].partition(".")
    return sim_id.split("-", 1)[0], eid, item[0]
