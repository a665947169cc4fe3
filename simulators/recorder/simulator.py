"""mosaik collector that writes everything it receives to the run folder as it arrives (event-based).

Which table a source goes to is given by `tables` ({simulator id prefix: table}); `messages` rows go to the
message log, `plan` to plans.jsonl and `vm_pu` lists to bus_voltages.csv. With `progress_total` (hours) > 0 it
also shows the run's progress in simulated hours (`cosim.progress`: a bar on a terminal, lines in a log).
"""

from __future__ import annotations

from typing import Any

import mosaik_api_v3
from tqdm import tqdm

from cosim.progress import progress_bar
from cosim.results import RunWriter

META = {"type": "event-based", "models": {"Recorder": {"public": True,
                                                        "params": ["run_dir", "tables", "progress_total"],
                                                        "attrs": [], "any_inputs": True}}}


class RecorderSim(mosaik_api_v3.Simulator):
    def __init__(self) -> None:
        super().__init__(META)
        self.writer: RunWriter | None = None
        self.tables: dict[str, str] = {}
        self.last_hour = -1
        self.seen_rows: set[tuple] = set()
        self.bar: tqdm | None = None

    def init(self, sid, time_resolution=3600.0, **sim_params):
        return self.meta

    def create(self, num, model, run_dir, tables, progress_total=0):
        if int(progress_total) > 0:
            self.bar = progress_bar(int(progress_total), "co-simulation", "h")
        self.writer = RunWriter(run_dir)
        self.tables = dict(tables)
        return [{"eid": "recorder", "type": model}]

    def step(self, time, inputs, max_advance):
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for attr, sources in inputs.get("recorder", {}).items():
            for src, value in sources.items():
                sim_id, _, eid = src.partition(".")
                if attr in ("messages", "events"):  # an hour's rows so far, each with a `seq`: keep each once
                    fresh = [r for r in value if (src, attr, r.get("seq")) not in self.seen_rows]
                    self.seen_rows.update((src, attr, r.get("seq")) for r in fresh)
                    self.writer.append(attr, [{k: v for k, v in r.items() if k != "seq"} for r in fresh])
                elif attr == "plan":
                    self.writer.append_plan(value)
                elif attr == "vm_pu":
                    self.writer.append("bus_voltages",
                                       [{"hour": time, **{f"v{i + 1}": v for i, v in enumerate(value)}}])
                else:
                    table = self.tables.get(sim_id.split("-")[0], sim_id)
                    rows.setdefault((table, eid), {"hour": time, "id": eid})[attr] = value
        for (table, _), row in sorted(rows.items()):
            self.writer.append(table, [row])
        if self.bar is not None and time != self.last_hour:
            self.bar.update(min(time + 1, self.bar.total) - self.bar.n)  # hours done so far
        self.last_hour = time
        return None

    def finalize(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer:
            self.writer.close()

    def get_data(self, outputs):
        return {}
