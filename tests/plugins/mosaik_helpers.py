"""Test-only mosaik simulators: a source of per-hour values, a monitor recording every input, a constant setpoint
source and an event-based sink keeping each step's inputs as a row."""

import mosaik_api_v3


class Source(mosaik_api_v3.Simulator):
    """Test-only time-based source: entity 'src' outputs per-hour values from lists given at creation."""

    def __init__(self):
        super().__init__({"type": "hybrid", "models": {"Src": {
            "public": True, "params": ["series"], "attrs": ["p_kw", "lots", "topo", "scale"],
            "trigger": [], "non-persistent": ["lots", "topo"],  # events: sent only in some hours
        }}})
        self.series = {}

    def create(self, num, model, series):
        eid = f"src{len(self.series)}"
        self.series[eid] = series
        return [{"eid": eid, "type": model}]

    def step(self, time, inputs, max_advance):
        self.time = time
        return time + 1

    def get_data(self, outputs):
        out = {}
        for eid, attrs in outputs.items():
            row = {}
            for a in attrs:
                seq = self.series[eid].get(a)
                if seq is not None and self.time < len(seq) and seq[self.time] is not None:
                    row[a] = seq[self.time]
            out[eid] = row
        return out


class Monitor(mosaik_api_v3.Simulator):
    """Test-only sink recording every input it receives: RECORD[(time, entity, attr)] = value."""

    RECORD: dict = {}

    def __init__(self):
        super().__init__({"type": "time-based",
                          "models": {"Mon": {"public": True, "params": [], "attrs": [], "any_inputs": True}}})

    def create(self, num, model):
        return [{"eid": "mon", "type": model}]

    def step(self, time, inputs, max_advance):
        for attrs in inputs.values():
            for attr, sources in attrs.items():
                for src, val in sources.items():
                    Monitor.RECORD[(time, src.split(".")[-1], attr)] = val
        return time + 1

    def get_data(self, outputs):
        return {}


class ConstantSetpoint(mosaik_api_v3.Simulator):
    """Test-only source: each entity emits a constant ``setpoint_kw`` every time unit."""

    def __init__(self):
        super().__init__({"type": "time-based", "models": {
            "Source": {"public": True, "params": ["value"], "attrs": ["setpoint_kw"]}}})
        self.values = {}

    def create(self, num, model, value=0.0):
        out = []
        for _ in range(num):
            eid = f"src{len(self.values)}"
            self.values[eid] = float(value)
            out.append({"eid": eid, "type": model})
        return out

    def step(self, time, inputs, max_advance):
        return time + 1

    def get_data(self, outputs):
        return {eid: {"setpoint_kw": self.values[eid]} for eid in outputs}


class RowSink(mosaik_api_v3.Simulator):
    """Test-only event-based sink: ROWS gets one row per step it is stepped, {"time", attr: value} (one source)."""

    ROWS: list = []

    def __init__(self):
        super().__init__({"type": "event-based", "models": {
            "Sink": {"public": True, "params": [], "attrs": [], "any_inputs": True}}})

    def create(self, num, model):
        return [{"eid": "sink", "type": model}]

    def step(self, time, inputs, max_advance):
        row = {"time": time}
        for attrs in inputs.values():
            for attr, values in attrs.items():
                (row[attr],) = values.values()
        RowSink.ROWS.append(row)
        return None

    def get_data(self, outputs):
        return {}
