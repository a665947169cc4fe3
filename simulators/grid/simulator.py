"""mosaik simulator `GridSim`: a `GridModel` stepped once per simulation step.

Models (mosaik-api-v3, hybrid: self-stepped every step, all inputs are triggers so that event sources such as a
DSO agent sending a topology may connect without warnings). One mosaik time unit is one step
(`time_resolution` 3600, 1800 or 900 s: 60-, 30- or 15-minute steps) and the grid runs one power flow per time
unit; in a world of another resolution (plain mosaik's 1 s) it steps every hour (3600 / time_resolution units);
`step_size` (time units) sets either. Its outputs are powers (kW, kvar) and voltages of the
step, nothing it reports is an energy, so nothing in it depends on the step's length; the discrete tap control
moves the taps within each step's flow:
- "Grid" (params: network, network_kwargs, plugin_dir, engine: "pandapower" (default) or "fast", see
  `simulators.grid.model`) - one per simulator instance.
  Inputs: load_scaling (factor on base demand), lot_power_kw ({bus: kW} mappings, summed over sources),
  open_branches (list of branch ids or a JSON string of one; the current topology is kept when none arrives).
  Outputs: losses_kw, p_grid_kw, q_grid_kvar, v_min_pu, v_max_pu, vpd, vm_pu (list, bus 1 first),
  open_branches (list), converged, max_loading_percent.
- "Connection" (params: bus, 1-based; lot_id, optional) - where one parking lot (or any other device) plugs in.
  Input lot_buses ({lot_id: bus}, e.g. from the DSO when it sites the lot) moves the connection to that bus.
  Inputs p_kw (+ charging, - V2G) and q_kvar (+ absorbed, - injected), each summed over sources; they add to
  the bus's demand. Outputs p_kw, q_kvar and vm_pu of its bus.
  Connect a lot's power to a Connection: `world.connect(lot, conn, ("p_kw", "p_kw"))`.
Every input keeps its last value per source until that source sends a new one (None counts as nothing sent).
Buses are 1-based.
A power flow that does not converge gives converged=False and NaN results instead of aborting the run;
bad inputs (unknown bus/branch, loops, negative demand) raise GridError.
"""

from __future__ import annotations

import json
import math

import mosaik_api_v3

from cosim.timebase import StepClock, StepError
from simulators.grid.model import GridError, GridModel, GridState

GRID_OUTPUTS = (
    "losses_kw", "p_grid_kw", "q_grid_kvar", "v_min_pu", "v_max_pu", "vpd", "vm_pu", "open_branches", "converged",
    "max_loading_percent", "lines",
)
GRID_INPUTS = ("load_scaling", "lot_power_kw", "open_branches", "element_power")

META = {
    "api_version": "3.0",
    "type": "hybrid",  # steps every step by itself, and also when an event input (e.g. a new topology) arrives
    "models": {
        "Grid": {
            "public": True, "params": ["network", "network_kwargs", "plugin_dir", "engine", "tap_control"],
            "attrs": sorted(set(GRID_INPUTS) | set(GRID_OUTPUTS)), "trigger": list(GRID_INPUTS),
        },
        "Connection": {"public": True, "params": ["bus", "lot_id"], "attrs": ["p_kw", "q_kvar", "vm_pu", "lot_buses"],
                       "trigger": ["p_kw", "q_kvar", "lot_buses"]},
    },
}


def parse_open_branches(value) -> list[int]:
    """A list of branch ids from a list/tuple or a JSON string of one; GridError otherwise."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise GridError(f"open_branches: {value!r} is not a JSON list of branch ids") from None
    if not isinstance(value, (list, tuple)):
        raise GridError(f"open_branches must be a list of branch ids, got {value!r}")
    return list(value)


def _bus_key(key) -> int:
    """Bus number from a mapping key; JSON turns int keys into strings, so '6' is accepted too."""
    if isinstance(key, str) and key.strip().lstrip("-").isdigit():
        return int(key)
    if isinstance(key, bool) or not isinstance(key, int):
        raise GridError(f"lot_power_kw: bus {key!r} is not an integer bus number")
    return key


class GridSim(mosaik_api_v3.Simulator):
    """mosaik wrapper of `GridModel` (see the module docstring for models and attributes)."""

    def __init__(self) -> None:
        super().__init__(META)
        self.sid = "Grid"
        self.step_size = 1
        self.grid_eid: str | None = None
        self.model: GridModel | None = None
        self.state: GridState | None = None
        self.conn_bus: dict[str, int] = {}
        self.conn_lot: dict[str, str | None] = {}  # Connection -> lot id whose bus a `lot_buses` input may move
        self._held: dict[tuple[str, str], dict[str, object]] = {}  # (eid, attr) -> {source: last value}

    def init(self, sid, time_resolution: float = 3600.0, step_size: int | None = None, **sim_params):
        """`time_resolution`: seconds per time unit; `step_size` in time units, default `_default_step_size`: 1 in a
        world of the framework's steps (3600, 1800, 900 s: one flow per step), else one hour (a plain mosaik world
        at 1 s steps 3600 units)."""
        if sim_params:
            raise GridError(f"GridSim: unknown simulator parameter(s) {sorted(sim_params)}; known: step_size")
        self.sid = sid
        if step_size is None:
            step_size = _default_step_size(time_resolution)
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise GridError(f"GridSim: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        return self.meta

    def create(self, num: int, model: str, **params):
        if model == "Grid":
            if self.grid_eid is not None or num != 1:
                raise GridError("GridSim holds exactly one Grid entity; start another simulator for another grid")
            network = params.get("network", "ieee33")
            kwargs = params.get("network_kwargs") or {}
            if not isinstance(kwargs, dict):
                raise GridError(f"Grid: network_kwargs must be a mapping, got {kwargs!r}")
            plugin_dir = params.get("plugin_dir")  # where a user's network module may sit (the scenario's folder)
            self.model = GridModel(network, engine=params.get("engine") or "pandapower",
                                   near=plugin_dir if isinstance(network, str) else None,
                                   tap_control=params.get("tap_control") or "fixed", **kwargs)
            self.grid_eid = "grid"
            return [{"eid": self.grid_eid, "type": "Grid"}]
        if model == "Connection":
            if self.model is None:
                raise GridError("GridSim: create the Grid before its Connections")
            bus = params.get("bus")
            self.model._bus_index(bus, "Connection")  # validates the bus number
            out = []
            for _ in range(num):
                eid = f"conn{len(self.conn_bus)}_bus{bus}"
                self.conn_bus[eid] = int(bus)
                self.conn_lot[eid] = params.get("lot_id")
                out.append({"eid": eid, "type": "Connection"})
            return out
        raise GridError(f"GridSim: unknown model {model!r}; models are Grid and Connection")

    def _hold(self, eid: str, attr: str, sources: dict) -> dict[str, object]:
        held = self._held.setdefault((eid, attr), {})
        held.update(sources)
        return held

    def step(self, time, inputs, max_advance=None):
        """Gather the (held) inputs, run one power flow, return the next step time (on the step_size grid)."""
        if self.model is None:
            raise GridError("GridSim: no Grid entity was created")
        inputs = {  # None = nothing sent this step (mosaik fills in None for silent persistent sources)
            eid: {attr: {src: v for src, v in sources.items() if v is not None} for attr, sources in attrs.items()}
            for eid, attrs in inputs.items()
        }
        for eid, attrs in inputs.items():
            for attr, sources in attrs.items():
                self._hold(eid, attr, sources)
        g = self.grid_eid
        scaling = self._held.get((g, "load_scaling"), {})
        if len(scaling) > 1:
            raise GridError(f"Grid.load_scaling has several sources {sorted(scaling)}; connect exactly one")
        load_scaling = next(iter(scaling.values())) if scaling else 1.0
        lots: dict[int, float] = {}
        for src, mapping in self._held.get((g, "lot_power_kw"), {}).items():
            if not isinstance(mapping, dict):
                raise GridError(f"Grid.lot_power_kw from {src} must be a mapping bus -> kW, got {mapping!r}")
            for bus, kw in mapping.items():
                b = _bus_key(bus)
                lots[b] = lots.get(b, 0.0) + _kw(kw, f"lot_power_kw[{bus}] from {src}")
        for eid in self.conn_bus:
            for src, mapping in inputs.get(eid, {}).get("lot_buses", {}).items():
                lot_id = self.conn_lot.get(eid)
                if isinstance(mapping, dict) and lot_id in mapping:
                    bus = mapping[lot_id]
                    self.model._bus_index(bus, f"{eid}.lot_buses[{lot_id}] from {src}")
                    self.conn_bus[eid] = int(bus)
        q_conn: dict[int, float] = {}
        for eid, bus in self.conn_bus.items():
            for src, kw in self._held.get((eid, "p_kw"), {}).items():
                lots[bus] = lots.get(bus, 0.0) + _kw(kw, f"{eid}.p_kw from {src}")
            for src, kvar in self._held.get((eid, "q_kvar"), {}).items():
                q_conn[bus] = q_conn.get(bus, 0.0) + _kw(kvar, f"{eid}.q_kvar from {src}")
        q_load = None
        if q_conn:  # the model takes a bus's whole reactive demand: its scaled base demand plus the connections'
            if getattr(self.model.network, "converted", None):  # its demand is per element, not base x scaling
                raise GridError("Connection.q_kvar: reactive power at a connection is not supported on a converted "
                                f"network ({self.model.network.name!r}); send active power (p_kw) only")
            scale = _kw(load_scaling, "Grid.load_scaling")
            q_load = {bus: float(self.model.base_q_kvar[bus - 1]) * scale + q for bus, q in q_conn.items()}
        open_branches = None
        topo = inputs.get(g, {}).get("open_branches", {})
        if len(topo) > 1:
            raise GridError(f"Grid.open_branches has several sources {sorted(topo)}; connect exactly one")
        if topo:
            open_branches = parse_open_branches(next(iter(topo.values())))
        element = self._held.get((g, "element_power"), {})  # per-element profiles (converted nets)
        self.state = self.model.step(load_scaling=load_scaling, lot_power_kw=lots, q_load_kvar=q_load,
                                     open_branches=open_branches,
                                     element_power=next(iter(element.values())) if element else None)
        return (time // self.step_size + 1) * self.step_size  # stay on the step grid even after a triggered step

    def get_data(self, outputs):
        if self.state is None:
            raise GridError("GridSim: get_data before the first step")
        s = self.state
        scalars = s.to_dict()
        data: dict[str, dict] = {}
        for eid, attrs in outputs.items():
            row = {}
            for attr in attrs:
                if eid == self.grid_eid:
                    if attr == "vm_pu":
                        row[attr] = [float(v) for v in s.vm_pu]
                    elif attr == "lines":  # one row per branch (current, loading where rated)
                        radial = self.model.network.radial
                        row[attr] = s.line_rows(radial.from_bus, radial.to_bus)
                    elif attr in scalars:
                        row[attr] = scalars[attr]
                    else:
                        raise GridError(f"Grid has no output {attr!r}; outputs are {list(GRID_OUTPUTS)}")
                elif eid in self.conn_bus:
                    bus = self.conn_bus[eid]
                    if attr == "vm_pu":
                        row[attr] = float(s.vm_pu[bus - 1])
                    elif attr in ("p_kw", "q_kvar"):
                        row[attr] = float(sum(_kw(v, f"{eid}.{attr}")
                                              for v in self._held.get((eid, attr), {}).values()))
                    else:
                        raise GridError(f"Connection has no output {attr!r}; outputs are p_kw, q_kvar, vm_pu")
                else:
                    raise GridError(f"GridSim: unknown entity {eid!r}")
            data[eid] = row
        return data


def _default_step_size(time_resolution: float) -> int:
    """One time unit where a unit is one of the framework's steps (`cosim.timebase.STEP_MINUTES`); else the units
    in an hour (3600 / time_resolution, which must be whole), as a plain mosaik world at 1 s needs."""
    try:
        StepClock.from_time_resolution(time_resolution)
        return 1
    except StepError:
        hour = 3600.0 / float(time_resolution)
        if hour < 1 or not float(hour).is_integer():
            raise GridError(f"GridSim: time_resolution {time_resolution} s is neither one of the framework's steps "
                            "(3600, 1800, 900 s) nor divides an hour; give step_size") from None
        return int(hour)


def _kw(value, what: str) -> float:
    """A finite float from an input value, or a GridError naming it."""
    if isinstance(value, bool):
        raise GridError(f"{what} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise GridError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise GridError(f"{what} must be finite, got {value!r}")
    return x


if __name__ == "__main__":  # run as a separate process: python -m simulators.grid.simulator HOST:PORT
    mosaik_api_v3.start_simulation(GridSim(), "pandapower grid simulator")
