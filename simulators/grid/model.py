"""Plain-Python grid model: one step's loads, parking-lot powers and switch states in, a
`GridState` out. No mosaik here, so controllers, studies and tests can use it directly.

Buses are addressed by their 1-based literature numbers (bus 1 = substation / slack), branches by their
literature ids (e.g. 1..37 for the IEEE 33-bus). Parking-lot power is active power in kW, + = charging (a
load), - = V2G injection; its reactive power is neglected (seed 000).

A converted net (SimBench, a user's JSON file: `GridNetwork.converted`) is run as the ORIGINAL pandapower net:
open branches are applied to its switches (`cosim.networks.switched.set_open_branches`), its loads and static
generators keep their own rows (scaled by load_scaling, or each set to its own value by `element_power`), lots
and per-bus overrides go to one extra load per radial bus (at the bus's lowest-numbered pandapower bus), and each
step's flow moves the transformers' taps until the MV busbar sits at the set-point (`run_original`; only nets
whose transformers hold their busbar: elsewhere transformers are branches with their taps as given, and their
losses, currents and loadings are the branch's). Results are reported per radial bus; `max_loading_percent`
includes the transformers.

Two engines (`ENGINES`, the scenario's `[network] engine`): "pandapower" runs pandapower's runpp on the net as
above; "fast" runs the compiled radial flow of the network's radial model (`simulators.grid.fast_flow`) and
reports the same `GridState` (a built-in line feeder is then built without pandapower, which is not imported).
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

import networkx as nx
import numpy as np

from cosim.errors import InputError
from cosim.networks import LINE_DATA, load_network, load_radial
from cosim.powerflow.network_data import NetworkDataError, RadialNetwork
from simulators.grid.fast_flow import ENGINES, FastFlow, FastResult, Substation

if TYPE_CHECKING:
    from cosim.networks import GridNetwork


@dataclass(frozen=True)
class RadialGrid:
    """A built-in line feeder as the fast engine needs it: its radial model only (no pandapower net)."""

    name: str
    radial: RadialNetwork
    converted = False

    @property
    def tie_branches(self) -> tuple[int, ...]:
        return self.radial.tie_branches


class GridError(InputError):
    """Bad input to the grid model: unknown bus or branch, negative load, non-radial topology, ..."""


class GridNotConverged(GridError):
    """pandapower's power flow did not converge for the given inputs (only raised on request)."""


@dataclass(frozen=True)
class GridState:
    """Result of one power flow (one simulation step). Arrays are indexed 0-based: vm_pu[0] is bus 1."""

    vm_pu: np.ndarray  # voltage magnitude per bus, p.u., bus 1..n
    branch_ids: np.ndarray  # literature branch id of each entry of i_ka / loading_percent
    i_ka: np.ndarray  # branch current magnitude, kA (0 for open branches)
    loading_percent: np.ndarray  # current / ampacity, % (NaN where no ampacity is known: unknown, not 0)
    losses_kw: float  # total active losses of the lines (and of transformers modelled as branches), kW
    p_grid_kw: float  # active power drawn from the substation, kW
    q_grid_kvar: float  # reactive power drawn from the substation, kvar
    p_demand_kw: float  # total base demand this step, kW (without lots)
    p_lots_kw: float  # total parking-lot power, kW (+ charging, - V2G)
    v_min_pu: float
    v_max_pu: float
    vpd: float  # voltage profile deviation, seed 000 eq. 17 for one step: sum over buses of |V - 1|, p.u.
    open_branches: tuple[int, ...]
    converged: bool = True
    message: str = field(default="")
    trafo_loading_percent: float = math.nan  # most loaded HV/MV transformer (converted nets), % of its rating

    def line_rows(self, from_bus: np.ndarray, to_bus: np.ndarray) -> list[dict]:
        """One row per branch (the recorder's `lines` table): branch id, its 1-based buses, current (kA),
        loading (% of its rating; None where it has none) and whether it is in service (closed)."""
        open_ids = set(int(b) for b in self.open_branches)
        return [{"branch": int(b), "from_bus": int(f) + 1, "to_bus": int(t) + 1,
                 "i_ka": None if not math.isfinite(i) else float(i),
                 "loading_percent": None if not math.isfinite(x) else float(x), "in_service": int(b) not in open_ids}
                for b, f, t, i, x in zip(self.branch_ids, from_bus, to_bus, self.i_ka, self.loading_percent)]

    def bus_vm_pu(self, bus: int) -> float:
        """Voltage magnitude (p.u.) of a 1-based bus number."""
        if not 1 <= int(bus) <= len(self.vm_pu):
            raise GridError(f"unknown bus {bus}; buses are numbered 1..{len(self.vm_pu)}")
        return float(self.vm_pu[int(bus) - 1])

    def max_loading_percent(self) -> float | None:
        """The most loaded rated line or transformer, %; None when nothing is rated (unknown, not 0)."""
        rated = [*self.loading_percent[np.isfinite(self.loading_percent)], self.trafo_loading_percent]
        rated = [float(v) for v in rated if math.isfinite(v)]
        return max(rated) if rated else None

    def to_dict(self) -> dict:
        """Scalar results as plain Python values (JSON-safe), plus open_branches as a list."""
        return {
            "losses_kw": float(self.losses_kw), "p_grid_kw": float(self.p_grid_kw),
            "q_grid_kvar": float(self.q_grid_kvar), "p_demand_kw": float(self.p_demand_kw),
            "p_lots_kw": float(self.p_lots_kw),
            "v_min_pu": float(self.v_min_pu), "v_max_pu": float(self.v_max_pu), "vpd": float(self.vpd),
            "max_loading_percent": self.max_loading_percent(),
            "open_branches": [int(b) for b in self.open_branches], "converged": bool(self.converged),
        }


def _number(value, what: str) -> float:
    """A finite real number, or a GridError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GridError(f"{what} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise GridError(f"{what} must be finite, got {value!r}")
    return x


class GridModel:
    """A network's pandapower net driven step by step (one flow per simulation step).

    One pandapower load per bus carries that bus's demand plus its parking-lot power. The topology (set of
    open branches) persists between steps until a new one is given; it starts at the network's base
    configuration (its tie branches open).

    Non-convergence: by default `step` returns a state with converged=False and NaN results (so a
    co-simulation can log the step and go on); with raise_on_divergence=True it raises GridNotConverged.
    """

    def __init__(self, network, raise_on_divergence: bool = False, engine: str = "pandapower",
                 near: str | None = None, tol_pu: float | None = None, oltc_tol_pu: float = 1e-7,
                 tolerance_mva: float | None = None, tap_control: str = "fixed", **network_kwargs) -> None:
        """network: a name (built here, once; `near`: the scenario's folder) or a GridNetwork (copied: the model
        rewrites its loads and switch states). engine: "pandapower" or "fast" (`ENGINES`). tol_pu: the fast
        flow's stopping distance (p.u., default `cosim.powerflow.bfs.DEFAULT_TOL_PU`); oltc_tol_pu: how close the
        pandapower path's tap changers bring a converted net's busbar to its set-point (p.u.); tolerance_mva:
        runpp's mismatch tolerance (MVA; None: pandapower's default, 1e-8). tap_control: "fixed" (taps as given)
        or "discrete" (pandapower's DiscreteTapControl; pandapower engine only)."""
        if engine not in ENGINES:
            raise GridError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        self.engine = engine
        self.oltc_tol_pu = float(oltc_tol_pu)
        self._runpp = dict(self.RUNPP_OPTIONS, **({} if tolerance_mva is None else {"tolerance_mva": tolerance_mva}))
        if isinstance(network, str):
            try:
                if engine == "fast" and network in LINE_DATA and not network_kwargs:  # no pandapower at all
                    network = RadialGrid(network, load_radial(network, near=near))
                else:
                    network = load_network(network, near=near, **network_kwargs)  # a fresh copy, ours to change
            except NetworkDataError as exc:
                raise GridError(str(exc)) from None
        elif hasattr(network, "net") and hasattr(network, "radial"):  # a GridNetwork
            if network_kwargs:
                raise GridError(f"network options {sorted(network_kwargs)} only apply when the network "
                                "is given by name")
            network = copy.deepcopy(network)  # the model rewrites loads and switch states
        else:
            raise GridError(f"network must be a network name or a GridNetwork, got {type(network).__name__}")
        self.network = network
        self.raise_on_divergence = raise_on_divergence
        self.tap_control = tap_control
        if tap_control != "fixed":
            if engine != "pandapower":
                raise GridError(f"tap_control {tap_control!r} needs engine 'pandapower' (the fast engine keeps taps "
                                "as given)")
            from cosim.networks.taps import add_discrete_tap_control  # noqa: PLC0415

            if not network.converted:
                raise GridError(f"tap_control {tap_control!r} applies to converted nets (SimBench, JSON), not "
                                f"{network.name!r}")
            add_discrete_tap_control(network, tap_control)
        if engine == "fast" and getattr(network, "connection_buses", ()):  # a reduced model (cosim.networks.reduction)
            raise GridError(f"engine 'fast' steps the network's own radial model, and {network.name!r} is a reduced "
                            "model of a larger net: use engine 'pandapower' to run the full net")
        radial = network.radial
        self._fast = FastFlow(radial, **({} if tol_pu is None else {"tol_pu": tol_pu})) if engine == "fast" else None
        self._substation = Substation(network) if engine == "fast" and network.converted and \
            network.oltc_trafos else None
        self.n_bus = radial.n_bus
        self.base_p_kw = radial.p_load_kw.astype(float).copy()
        self.base_q_kvar = radial.q_load_kvar.astype(float).copy()
        self._branch_ids = np.asarray(radial.branch_ids, dtype=int)
        if network.converted:
            self._init_elements(network)
        else:
            self._line_pos = np.arange(len(self._branch_ids))
            self._trafo_pos = np.zeros(0, dtype=int)
            if engine == "pandapower":
                import pandapower as pp  # noqa: PLC0415 - only this engine needs it

                # one load per bus, in bus order, so that setting loads is a vector assignment
                net = network.net
                net.load.drop(net.load.index, inplace=True)
                pp.create_loads(
                    net, list(net.bus.index), p_mw=self.base_p_kw / 1000.0, q_mvar=self.base_q_kvar / 1000.0,
                    name=[f"bus{i + 1}" for i in range(self.n_bus)],
                )
                self._line_idx = np.array([network.line_of_branch[int(b)] for b in self._branch_ids])
        self._known_branches = set(int(b) for b in self._branch_ids)
        self.open_branches: tuple[int, ...] = ()
        self.set_topology(network.tie_branches)
        self._hour = 0

    def _init_elements(self, network: GridNetwork) -> None:
        """Converted net: keep its loads and generators, add one (empty) load per radial bus for lots and overrides."""
        net = network.net
        self._load_p0 = net.load.p_mw.to_numpy(float).copy()
        self._load_q0 = net.load.q_mvar.to_numpy(float).copy()
        self._sgen_p0 = net.sgen.p_mw.to_numpy(float).copy()
        self._sgen_q0 = net.sgen.q_mvar.to_numpy(float).copy()
        pos = network.position_of_bus
        self._load_pos = np.array([pos.get(int(b), -1) for b in net.load.bus], dtype=int)
        self._sgen_pos = np.array([pos.get(int(b), -1) for b in net.sgen.bus], dtype=int)
        self._load_on = net.load.in_service.to_numpy(bool) & (self._load_pos >= 0)
        self._sgen_on = net.sgen.in_service.to_numpy(bool) & (self._sgen_pos >= 0)
        rep: dict[int, int] = {}
        for bus, k in sorted(pos.items()):
            rep.setdefault(k, bus)
        self._rep_bus = np.array(getattr(network, "connection_buses", None) or [rep[k] for k in range(self.n_bus)],
                                 dtype=int)
        if self._substation is not None:  # which busbar section each element at the busbar belongs to (-1: none)
            sec = self._substation.section_of_bus
            self._load_sec = np.array([sec.get(int(b), -1) for b in net.load.bus], dtype=int)
            self._sgen_sec = np.array([sec.get(int(b), -1) for b in net.sgen.bus], dtype=int)
            self._rep_sec = sec.get(int(self._rep_bus[network.radial.slack_bus]), 0)
        if self.engine == "pandapower":
            import pandapower as pp  # noqa: PLC0415 - only this engine needs it

            self._extra = np.asarray(pp.create_loads(net, self._rep_bus, p_mw=0.0, q_mvar=0.0,
                                                     name=[f"cosim bus{i + 1}" for i in range(self.n_bus)]))
        self._line_pos = np.array([k for k, b in enumerate(self._branch_ids) if int(b) in network.line_of_branch],
                                  dtype=int)
        self._line_idx = np.array([network.line_of_branch[int(self._branch_ids[k])] for k in self._line_pos],
                                  dtype=int)
        # transformers as branches (`cosim.networks.substations`): their current (LV side) and loading are the
        # branch's, their losses count (a parallel group: the first one's current times the group's size)
        self._trafo_pos = np.array([k for k, b in enumerate(self._branch_ids) if int(b) in network.trafo_of_branch],
                                   dtype=int)
        self._trafo_idx = np.array([network.trafo_of_branch[int(self._branch_ids[k])] for k in self._trafo_pos],
                                   dtype=int)
        self._trafo_count = np.array([len(network.parallel_trafos.get(int(self._branch_ids[k]), (0,)))
                                      for k in self._trafo_pos], dtype=float)

    def _set_elements(self, load_scaling: float, element_power) -> tuple[np.ndarray, np.ndarray]:
        """Converted net: set every load and generator (scaled base, or its own value from `element_power`);
        returns their per-bus sums (kW, kvar; generators negative)."""
        net = self.network.net
        if element_power is None:
            values = (self._load_p0 * load_scaling, self._load_q0 * load_scaling, self._sgen_p0 * load_scaling,
                      self._sgen_q0 * load_scaling)
        else:
            values = self._element_values(element_power)
        n_load = len(self._load_p0)
        if self.engine == "pandapower":  # the fast engine takes the per-bus sums only
            net.load.iloc[:n_load, net.load.columns.get_loc("p_mw")] = values[0]
            net.load.iloc[:n_load, net.load.columns.get_loc("q_mvar")] = values[1]
            net.sgen["p_mw"] = values[2]
            net.sgen["q_mvar"] = values[3]
        p = np.zeros(self.n_bus)
        q = np.zeros(self.n_bus)
        scale_l = net.load.scaling.to_numpy(float)[:n_load]
        scale_s = net.sgen.scaling.to_numpy(float)
        on_l, on_s = self._load_on, self._sgen_on
        np.add.at(p, self._load_pos[on_l], 1000.0 * values[0][on_l] * scale_l[on_l])
        np.add.at(q, self._load_pos[on_l], 1000.0 * values[1][on_l] * scale_l[on_l])
        np.add.at(p, self._sgen_pos[on_s], -1000.0 * values[2][on_s] * scale_s[on_s])
        np.add.at(q, self._sgen_pos[on_s], -1000.0 * values[3][on_s] * scale_s[on_s])
        if self._substation is not None:  # the busbar's own elements, per section (complex kVA)
            bb = np.zeros(self._substation.n_sec, complex)
            ml, ms = on_l & (self._load_sec >= 0), on_s & (self._sgen_sec >= 0)
            np.add.at(bb, self._load_sec[ml], 1000.0 * (values[0][ml] + 1j * values[1][ml]) * scale_l[ml])
            np.add.at(bb, self._sgen_sec[ms], -1000.0 * (values[2][ms] + 1j * values[3][ms]) * scale_s[ms])
            self._busbar_kva = bb
        return p, q

    def _element_values(self, element_power) -> tuple[np.ndarray, ...]:
        if not isinstance(element_power, Mapping):
            raise GridError(f"element_power must be a mapping of load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar, "
                            f"got {type(element_power).__name__}")
        out = []
        for key, n in (("load_p_mw", len(self._load_p0)), ("load_q_mvar", len(self._load_p0)),
                       ("sgen_p_mw", len(self._sgen_p0)), ("sgen_q_mvar", len(self._sgen_p0))):
            try:
                arr = np.asarray(element_power[key], dtype=float).reshape(-1)
            except KeyError:
                raise GridError(f"element_power has no {key!r}") from None
            except (TypeError, ValueError):
                raise GridError(f"element_power[{key!r}] must be a list of numbers") from None
            if len(arr) != n or not np.all(np.isfinite(arr)):
                raise GridError(f"element_power[{key!r}] must hold {n} finite values (one per row of the net's "
                                f"{key.split('_')[0]} table), got {len(arr)}")
            out.append(arr)
        return tuple(out)

    # ---- topology -------------------------------------------------------------------------------------
    def check_topology(self, open_branches: Sequence[int]) -> tuple[int, ...]:
        """Validated, sorted tuple of open branch ids; GridError for unknown ids, loops or islanded buses."""
        if isinstance(open_branches, (str, bytes)) or not hasattr(open_branches, "__iter__"):
            raise GridError(f"open_branches must be a sequence of branch ids, got {open_branches!r}")
        ids = []
        for b in open_branches:
            if isinstance(b, bool) or not isinstance(b, numbers.Integral):
                if isinstance(b, float) and b.is_integer():
                    b = int(b)
                else:
                    raise GridError(f"open_branches: branch id {b!r} is not an integer")
            ids.append(int(b))
        unknown = sorted(set(ids) - self._known_branches)
        if unknown:
            raise GridError(
                f"network {self.network.name!r} has no branch(es) {unknown}; branches are "
                f"{min(self._known_branches)}..{max(self._known_branches)}"
            )
        g = self.network.radial.graph(open_branch_ids=ids)
        slack = self.network.radial.slack_bus
        fed = nx.node_connected_component(g, slack)
        if len(fed) < self.n_bus:
            islanded = sorted(i + 1 for i in set(range(self.n_bus)) - fed)
            shown = ", ".join(map(str, islanded[:10])) + (f", ... ({len(islanded)} buses)"
                                                          if len(islanded) > 10 else "")
            raise GridError(f"opening branches {sorted(set(ids))} islands bus(es) {shown} from the substation")
        n_loops = g.number_of_edges() - (self.n_bus - 1)
        if n_loops > 0:
            raise GridError(
                f"opening branches {sorted(set(ids))} leaves {n_loops} loop(s) closed: the network must be radial "
                f"(open one branch in each fundamental loop; ties are {list(self.network.tie_branches)})"
            )
        return tuple(sorted(set(ids)))

    def set_topology(self, open_branches: Sequence[int]) -> None:
        """Open exactly the given branches (all others closed) after checking radiality."""
        ids = self.check_topology(open_branches)
        if self.engine == "fast":  # the flow takes the open branches as they are
            pass
        elif self.network.converted:
            from cosim.networks.switched import set_open_branches  # noqa: PLC0415 - pandapower

            # the original net: its switches (lines stay in service)
            set_open_branches(self.network.net, self.network, ids)
        else:
            in_service = ~np.isin(self._branch_ids, ids)
            self.network.net.line.loc[self._line_idx, "in_service"] = in_service
        self.open_branches = ids

    # ---- loads ----------------------------------------------------------------------------------------
    def _bus_index(self, bus, what: str) -> int:
        if isinstance(bus, bool) or not isinstance(bus, numbers.Integral):
            raise GridError(f"{what}: bus {bus!r} is not an integer bus number (1..{self.n_bus})")
        if not 1 <= int(bus) <= self.n_bus:
            raise GridError(f"{what}: unknown bus {bus}; network {self.network.name!r} has buses 1..{self.n_bus}")
        return int(bus) - 1

    def _demand(self, load_scaling, p_load_kw, q_load_kvar, base: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-bus demand (kW, kvar): `base` (this step's own per-bus values) or the base loads times load_scaling,
        with the buses given in p_load_kw / q_load_kvar replaced."""
        scaling = _number(load_scaling, "load_scaling")
        if scaling < 0:
            raise GridError(f"load_scaling must be >= 0 (a negative base load is not allowed), got {load_scaling!r}")
        p = self.base_p_kw * scaling if base is None else base[0].copy()
        q = self.base_q_kvar * scaling if base is None else base[1].copy()
        given_q = set()
        for bus, val in (q_load_kvar or {}).items():
            k = self._bus_index(bus, "q_load_kvar")
            q[k] = _number(val, f"q_load_kvar[{bus}]")
            given_q.add(k)
        for bus, val in (p_load_kw or {}).items():
            k = self._bus_index(bus, "p_load_kw")
            x = _number(val, f"p_load_kw[{bus}]")
            if x < 0:
                raise GridError(f"p_load_kw[{bus}] = {val!r}: a base load must be >= 0 "
                                "(use lot_power_kw for injections)")
            p[k] = x
            if k not in given_q:  # keep the bus's base power factor
                q[k] = x * self.base_q_kvar[k] / self.base_p_kw[k] if self.base_p_kw[k] > 0 else 0.0
        return p, q

    def _lots(self, lot_power_kw) -> np.ndarray:
        lots = np.zeros(self.n_bus)
        if lot_power_kw is None:
            return lots
        if not isinstance(lot_power_kw, Mapping):
            raise GridError(f"lot_power_kw must be a mapping bus -> kW, got {type(lot_power_kw).__name__}")
        for bus, val in lot_power_kw.items():
            lots[self._bus_index(bus, "lot_power_kw")] += _number(val, f"lot_power_kw[{bus}]")
        return lots

    # ---- one step -------------------------------------------------------------------------------------
    def step(
        self, load_scaling: float = 1.0, p_load_kw: Mapping[int, float] | None = None,
        q_load_kvar: Mapping[int, float] | None = None, lot_power_kw: Mapping[int, float] | None = None,
        open_branches: Sequence[int] | None = None, element_power: Mapping[str, Sequence[float]] | None = None,
    ) -> GridState:
        """Run one power flow.

        load_scaling: factor on every bus's base demand (>= 0). p_load_kw / q_load_kvar: {bus: kW / kvar}
        replacing that bus's demand this step (not scaled; q follows the base power factor if only p is
        given). lot_power_kw: {bus: kW}, + charging, - V2G. open_branches: branch ids to open (None keeps the
        current topology). Buses are 1-based (1 = substation). element_power (converted nets only): this step's
        p_mw / q_mvar of every load and static generator ({"load_p_mw": [...], "load_q_mvar": [...],
        "sgen_p_mw": [...], "sgen_q_mvar": [...]}, in the order of the net's tables), replacing load_scaling.
        """
        for name, m in (("p_load_kw", p_load_kw), ("q_load_kvar", q_load_kvar)):
            if m is not None and not isinstance(m, Mapping):
                raise GridError(f"{name} must be a mapping bus -> value, got {type(m).__name__}")
        if self.network.converted:
            scaling = _number(load_scaling, "load_scaling")
            own = self._set_elements(scaling, element_power)
            p, q = self._demand(load_scaling, p_load_kw, q_load_kvar, base=own)
        else:
            if element_power is not None:
                raise GridError(f"element_power applies to converted nets (SimBench, JSON), not {self.network.name!r}")
            p, q = self._demand(load_scaling, p_load_kw, q_load_kvar)
        lots = self._lots(lot_power_kw)
        if open_branches is not None:
            self.set_topology(open_branches)
        self._hour += 1
        if self.engine == "fast":
            return self._fast_state(p, q, lots, load_scaling)
        net = self.network.net
        if self.network.converted:  # the elements carry their own power; the extra loads carry lots and overrides
            net.load.loc[self._extra, "p_mw"] = (p - own[0] + lots) / 1000.0
            net.load.loc[self._extra, "q_mvar"] = (q - own[1]) / 1000.0
        else:
            net.load["p_mw"] = (p + lots) / 1000.0
            net.load["q_mvar"] = q / 1000.0
        converged, message = self._run_converted(net) if self.network.converted else self._run(net)
        if not converged:
            return self._diverged(p, lots, load_scaling, message)
        if self.network.converted:
            vm = net.res_bus.vm_pu.loc[self._rep_bus].to_numpy(float)
            trafo_loading = float(np.nanmax(net.res_trafo.loading_percent)) if len(net.res_trafo) else math.nan
        else:
            vm = net.res_bus.vm_pu.to_numpy(float)
            trafo_loading = math.nan
        res_line = net.res_line.loc[self._line_idx]
        i_ka = np.zeros(len(self._branch_ids))
        loading = np.full(len(self._branch_ids), np.nan)  # unknown where a branch has no rating
        i_ka[self._line_pos] = np.nan_to_num(res_line.i_ka.to_numpy(float))
        max_i = net.line.loc[self._line_idx, "max_i_ka"].to_numpy(float)
        line_loading = np.nan_to_num(res_line.loading_percent.to_numpy(float))
        loading[self._line_pos] = np.where(max_i >= 9999, np.nan, line_loading)
        losses_kw = float(np.nansum(net.res_line.pl_mw.to_numpy(float)) * 1000.0)
        if self.network.converted and len(self._trafo_pos):
            res_trafo = net.res_trafo.loc[self._trafo_idx]
            i_ka[self._trafo_pos] = np.nan_to_num(res_trafo.i_lv_ka.to_numpy(float)) * self._trafo_count
            loading[self._trafo_pos] = res_trafo.loading_percent.to_numpy(float)
            losses_kw += float(np.nansum(net.res_trafo.pl_mw.to_numpy(float)) * 1000.0)
        return GridState(
            vm_pu=vm, branch_ids=self._branch_ids.copy(), i_ka=i_ka, loading_percent=loading,
            losses_kw=losses_kw,
            p_grid_kw=float(net.res_ext_grid.p_mw.sum() * 1000.0),
            q_grid_kvar=float(net.res_ext_grid.q_mvar.sum() * 1000.0),
            p_demand_kw=float(p.sum()), p_lots_kw=float(lots.sum()),
            v_min_pu=float(vm.min()), v_max_pu=float(vm.max()), vpd=float(np.abs(vm - 1.0).sum()),
            open_branches=self.open_branches, converged=True, message=message, trafo_loading_percent=trafo_loading,
        )

    def _diverged(self, p: np.ndarray, lots: np.ndarray, load_scaling, message: str) -> GridState:
        """NaN results with converged=False (or GridNotConverged when asked to raise)."""
        detail = (f"power flow did not converge (step {self._hour}, load_scaling={load_scaling}, demand "
                  f"{p.sum():.1f} kW, lots {lots.sum():.1f} kW, open {list(self.open_branches)}): {message}")
        if self.raise_on_divergence:
            raise GridNotConverged(detail)
        nan_b = np.full(len(self._branch_ids), np.nan)
        return GridState(
            np.full(self.n_bus, np.nan), self._branch_ids.copy(), nan_b, nan_b.copy(), math.nan, math.nan, math.nan,
            float(p.sum()), float(lots.sum()), math.nan, math.nan, math.nan, self.open_branches, False, detail,
        )

    def _fast_state(self, p: np.ndarray, q: np.ndarray, lots: np.ndarray, load_scaling) -> GridState:
        """The fast engine's step: the compiled flow of the radial model, reported as the pandapower path reports
        (currents of lines and transformers only, a line's current the larger of its two ends')."""
        res = self._fast.solve(self.open_branches, p + lots, q)
        if not res.converged:
            return self._diverged(p, lots, load_scaling, "the radial flow did not converge (fast engine)")
        i_ka, loading = self._fast_branches(res)
        p_grid, q_grid, trafo_loading = res.p_slack_kw, res.q_slack_kvar, math.nan
        if self._substation is not None:
            slack = self.network.radial.slack_bus
            busbar = self._busbar_kva.copy()  # the elements; overrides and lots at the busbar: its extra load's
            busbar[self._rep_sec] += complex(p[slack] + lots[slack], q[slack]) - busbar.sum()
            p_grid, q_grid, trafo_loading = self._substation.results(res, self.open_branches, busbar)
        if len(self._trafo_pos):
            trafo_loading = float(np.nanmax([trafo_loading, *loading[self._trafo_pos]]))
        vm = np.array(res.vm_pu)
        return GridState(
            vm_pu=vm, branch_ids=self._branch_ids.copy(), i_ka=i_ka, loading_percent=loading, losses_kw=res.loss_kw,
            p_grid_kw=p_grid, q_grid_kvar=q_grid, p_demand_kw=float(p.sum()), p_lots_kw=float(lots.sum()),
            v_min_pu=float(vm.min()), v_max_pu=float(vm.max()), vpd=float(np.abs(vm - 1.0).sum()),
            open_branches=self.open_branches, converged=True, message="", trafo_loading_percent=trafo_loading,
        )

    def _fast_branches(self, res: FastResult) -> tuple[np.ndarray, np.ndarray]:
        """(current kA, loading %) per branch as pandapower reports them: a line's current is the larger of its
        ends' (its charging included; an open line's is its energised stub's), a transformer branch's the series
        current, a switch's 0; loading NaN where a branch has no rating."""
        r = self.network.radial
        n = len(self._branch_ids)
        i_ka = np.zeros(n)
        pos = np.r_[self._line_pos, self._trafo_pos].astype(int)
        i_ka[pos] = res.i_ka[pos]
        charging = getattr(r, "charging_y_pu", None)
        if charging is not None and np.any(charging != 0):
            v = res.v_pu
            f, t = np.asarray(r.from_bus), np.asarray(r.to_bus)
            lp = np.asarray(self._line_pos, dtype=int)
            is_open = np.isin(self._branch_ids[lp], self.open_branches)
            z = r.r_pu[lp] + 1j * r.x_pu[lp]
            half = charging[lp] / 2.0
            closed = ~is_open & (z != 0)
            base = r.branch_base_i_ka[lp]
            # the series current: the flow's magnitude (summed from the loads, well conditioned) in the direction of
            # the voltage drop over the impedance (a short line's drop divides a solver's 1e-9 p.u. by a tiny z)
            i_s = np.zeros(len(lp), complex)
            drop = (v[f[lp][closed]] - v[t[lp][closed]]) / z[closed]
            i_s[closed] = res.i_ka[lp][closed] / base[closed] * np.exp(1j * np.angle(drop))
            end = np.maximum(np.abs(i_s + half * v[f[lp]]), np.abs(i_s - half * v[t[lp]]))
            stub_bus = r.stub_bus[lp]
            stub = np.where(stub_bus >= 0, np.abs(r.stub_y_pu[lp] * v[np.maximum(stub_bus, 0)]), 0.0)
            i_ka[lp] = np.where(is_open, stub, np.where(closed, end, i_ka[lp] / base)) * base
        with np.errstate(divide="ignore", invalid="ignore"):
            loading = np.where(np.isfinite(r.i_max_ka), i_ka / r.i_max_ka * 100.0, np.nan)
        return i_ka, loading

    def _run_converted(self, net) -> tuple[bool, str]:
        """runpp on the original net, taps moved to the set-point (flat start, then DC-initialised); (converged,
        message: why the busbar is off its set-point, if it is)."""
        from pandapower.powerflow import LoadflowNotConverged  # noqa: PLC0415 - this engine only

        from cosim.networks.switched import run_original  # noqa: PLC0415 - pandapower

        message = ""
        for init in ("flat", "dc"):
            try:
                oltc = run_original(net, self.network.oltc_trafos, float(self.network.radial.v_slack_pu),
                                    tol_pu=self.oltc_tol_pu, init=init,
                                    run_control=self.tap_control != "fixed", **self._runpp)
                return True, oltc.message
            except LoadflowNotConverged as exc:
                message = str(exc) or "LoadflowNotConverged"
        return False, message

    #: pandapower's own Newton-Raphson whatever is installed (with lightsim2grid present, runpp would switch to it)
    RUNPP_OPTIONS = {"numba": False, "max_iteration": 30, "calculate_voltage_angles": True, "lightsim2grid": False}
    #: pandapower's recycle: only the loads changed since the last converged flow, so its internal model (bus
    #: types, admittance matrix) is reused and Newton-Raphson starts from the last voltages (about half the time
    #: of a full runpp on the IEEE 33-bus; docs/VALIDATION.md)
    RECYCLE = {"bus_pq": True, "trafo": False, "gen": False}

    def _run(self, net) -> tuple[bool, str]:
        """runpp, recycled while the topology is that of the last converged flow; else (first step, new topology,
        a recycled flow that failed) from scratch: a flat start, then a DC-initialised retry; (converged, message).
        Only loads may change between recycled flows (what `step` changes besides the topology)."""
        import pandapower as pp  # noqa: PLC0415 - this engine only
        from pandapower.powerflow import LoadflowNotConverged  # noqa: PLC0415
        if getattr(self, "_recycled_topology", None) == self.open_branches:
            try:
                pp.runpp(net, recycle=self.RECYCLE, **self._runpp)
                return True, ""
            except LoadflowNotConverged:
                pass  # start again from scratch
        self._recycled_topology = None
        net["_ppc"] = None  # nothing of an earlier flow is reused
        for init in ("flat", "dc"):
            try:
                pp.runpp(net, init=init, recycle=self.RECYCLE, **self._runpp)
                self._recycled_topology = self.open_branches
                return True, ""
            except LoadflowNotConverged as exc:
                message = str(exc) or "LoadflowNotConverged"
        return False, message
