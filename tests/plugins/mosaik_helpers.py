"""Test-only mosaik simulators: a source of per-hour values and a monitor recording every input."""

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
