"""Pandapower nets -> the per-unit `RadialNetwork` the fast flow, the controllers and the studies use.

Every branch of a built-in network is a pandapower line, switchable through `in_service`; branch numbers
follow the literature. Buses are kept in literature order, so position 0 is bus 1 (the substation / slack).
Data files live in scenarios/data/networks/ (see the README there for sources and simplifications).
"""

from __future__ import annotations

import importlib.abc
import sys
from dataclasses import dataclass, field

import numpy as np

from cosim.networks.lines import DATA_DIR, NO_LIMIT_KA, LineData, read_network_csv
from cosim.powerflow.network_data import NetworkDataError, RadialNetwork


class _RefuseMatplotlib(importlib.abc.MetaPathFinder):
    """Import hook that refuses `matplotlib` while pandapower is being imported (see `_import_pandapower`)."""

    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"{name}: not loaded while pandapower is imported (cosim.networks.converter)")
        return None


def _import_pandapower():
    """pandapower, imported without matplotlib when this is the first import of either.

    pandapower's __init__ imports its plotting helpers, which import matplotlib.pyplot inside try/except
    ImportError blocks (only there: pandapower.plotting and pandapower.control.util.auxiliary): ~0.35 s of every
    run's start-up for figures made after the run. Refusing matplotlib during that import keeps it out until
    whoever draws imports it; pandapower's own plotting helpers then see matplotlib as missing in this process
    (nothing in cosim uses them). Should pandapower fail to import this way, it is imported as usual.
    """
    if "pandapower" in sys.modules or "matplotlib" in sys.modules:
        import pandapower  # noqa: PLC0415 - already loaded (or matplotlib is): nothing to defer

        return pandapower
    hook = _RefuseMatplotlib()
    sys.meta_path.insert(0, hook)
    try:
        import pandapower  # noqa: PLC0415 - under the hook, see above

        return pandapower
    except ImportError:  # a pandapower that needs matplotlib at import: drop the half-imported modules, retry
        for name in [n for n in sys.modules if n == "pandapower" or n.startswith("pandapower.")]:
            del sys.modules[name]
        sys.meta_path.remove(hook)
        hook = None
        import pandapower  # noqa: PLC0415 - the plain import

        return pandapower
    finally:
        if hook is not None:
            sys.meta_path.remove(hook)


pp = _import_pandapower()

__all__ = ["DATA_DIR", "NO_LIMIT_KA", "GridNetwork", "build_line_network", "line_network", "radial_from_pandapower",
           "read_network_csv"]



@dataclass
class GridNetwork:
    """A pandapower net, its radial per-unit model and which lines are which branch number."""

    name: str
    net: pp.pandapowerNet
    radial: RadialNetwork
    line_of_branch: dict[int, int]  # branch id -> pandapower line index
    description: str = ""
    # converted nets (cosim.networks.switched): `net` is the original net, operated through its switches
    switch_of_branch: dict[int, int] = field(default_factory=dict)  # branch id -> the switch that opens it
    position_of_bus: dict[int, int] = field(default_factory=dict)  # pandapower bus -> 0-based radial bus
    oltc_trafos: tuple[int, ...] = ()  # transformers whose tap changers hold the slack busbar at v_slack_pu
    dropped_switches: tuple[int, ...] = ()  # open switches never operated (couplers within a busbar)
    trafo_of_branch: dict[int, int] = field(default_factory=dict)  # branch id -> pandapower transformer (a branch)
    parallel_trafos: dict[int, tuple[int, ...]] = field(default_factory=dict)  # branch id -> transformers merged
    # the pandapower bus where each radial bus's lots and overrides connect; () = its lowest-numbered pandapower bus
    # (a reduced model, `cosim.networks.reduction`: an LV grid's node connects at its transformer's LV busbar)
    connection_buses: tuple[int, ...] = ()

    @property
    def converted(self) -> bool:
        """True for a converted net: buses merged, loads and generators kept as pandapower elements."""
        return bool(self.position_of_bus)

    @property
    def tie_branches(self) -> tuple[int, ...]:
        return self.radial.tie_branches

    @property
    def sectionalising_branches(self) -> tuple[int, ...]:
        """Closed branches the DSO may open (not ties, not fixed: a line without a switch is never opened)."""
        skip = set(self.radial.tie_branches) | set(self.radial.fixed_branches)
        return tuple(int(b) for b in self.radial.branch_ids if int(b) not in skip)

    @property
    def loops(self) -> tuple[tuple[int, ...], ...]:
        return self.radial.loops

    @property
    def bus_labels(self) -> tuple[str, ...]:
        """Literature names of the buses in 1-based order (e.g. '650', '632', ... for the IEEE 13-node)."""
        return self.radial.bus_labels

    @property
    def n_bus(self) -> int:
        return self.radial.n_bus


def radial_from_pandapower(
    net: pp.pandapowerNet, name: str, branch_ids: list[int], tie_branches: tuple[int, ...], v_min_pu: float = 0.9,
    v_max_pu: float = 1.05, bus_labels: tuple[str, ...] = (),
) -> RadialNetwork:
    """Per-unit branch-bus model of a pandapower net made only of lines, loads and one ext_grid."""
    if len(net.trafo) or len(net.ext_grid) != 1:
        raise NetworkDataError(f"network {name!r}: only line-only nets with one ext_grid are supported")
    base_mva = float(net.sn_mva)
    base_kv = float(net.bus.vn_kv.iloc[0])
    zb = base_kv**2 / base_mva
    bus_pos = {int(b): i for i, b in enumerate(net.bus.index)}
    line = net.line
    r_ohm = (line.r_ohm_per_km * line.length_km / line.parallel).to_numpy(float)
    x_ohm = (line.x_ohm_per_km * line.length_km / line.parallel).to_numpy(float)
    p = np.zeros(len(net.bus))
    q = np.zeros(len(net.bus))
    for _, ld in net.load[net.load.in_service].iterrows():
        p[bus_pos[int(ld.bus)]] += ld.p_mw * ld.scaling * 1000.0
        q[bus_pos[int(ld.bus)]] += ld.q_mvar * ld.scaling * 1000.0
    i_max = line.max_i_ka.to_numpy(float)
    i_max = np.where(i_max >= 9999, np.inf, i_max)
    return RadialNetwork(
        name=name, base_kv=base_kv, base_mva=base_mva, slack_bus=bus_pos[int(net.ext_grid.bus.iloc[0])],
        from_bus=np.array([bus_pos[int(b)] for b in line.from_bus]),
        to_bus=np.array([bus_pos[int(b)] for b in line.to_bus]),
        r_pu=r_ohm / zb, x_pu=x_ohm / zb, p_load_kw=p, q_load_kvar=q, branch_ids=np.asarray(branch_ids, dtype=int),
        tie_branches=tuple(tie_branches), i_max_ka=i_max, v_min_pu=v_min_pu, v_max_pu=v_max_pu,
        bus_labels=tuple(bus_labels),
    )


def build_line_network(
    name: str, labels: list[str], base_kv: float, sn_mva: float, branches: list[tuple],
    loads: dict[str, tuple[float, float]], ties: tuple[int, ...], v_min_pu: float, v_max_pu: float, description: str,
) -> GridNetwork:
    """Make a line-only pandapower net from literature data.

    branches: (branch_id, from_label, to_label, r_ohm, x_ohm, length_km, max_i_ka); loads: label -> (kW, kvar).
    Buses are created in `labels` order, the first one being the slack (ext_grid at 1.0 p.u.).
    """
    net = pp.create_empty_network(name=name, sn_mva=sn_mva)
    bus_ids = pp.create_buses(net, len(labels), vn_kv=base_kv, name=[str(lab) for lab in labels])
    idx = {lab: int(b) for lab, b in zip(labels, bus_ids)}
    pp.create_ext_grid(net, idx[labels[0]], vm_pu=1.0, va_degree=0.0)
    for bid, f, t, *_ in branches:
        if f not in idx or t not in idx:
            raise NetworkDataError(f"network {name!r}: branch {bid} joins unknown bus {f if f not in idx else t}")
    branch_ids = [int(b[0]) for b in branches]
    length = np.array([b[5] for b in branches], dtype=float)
    pp.create_lines_from_parameters(  # vectorised: one create call per table keeps building fast
        net, [idx[b[1]] for b in branches], [idx[b[2]] for b in branches], length_km=length,
        r_ohm_per_km=np.array([b[3] for b in branches]) / length,
        x_ohm_per_km=np.array([b[4] for b in branches]) / length,
        c_nf_per_km=0.0, max_i_ka=np.array([b[6] for b in branches], dtype=float), name=[str(b) for b in branch_ids],
        in_service=np.array([b not in ties for b in branch_ids]),
    )
    loaded = [(lab, p, q) for lab, (p, q) in loads.items() if p or q]
    if loaded:
        pp.create_loads(
            net, [idx[x[0]] for x in loaded], p_mw=np.array([x[1] for x in loaded]) / 1000.0,
            q_mvar=np.array([x[2] for x in loaded]) / 1000.0, name=[str(x[0]) for x in loaded],
        )
    radial = radial_from_pandapower(net, name, branch_ids, ties, v_min_pu, v_max_pu, tuple(str(x) for x in labels))
    return GridNetwork(name, net, radial, {b: int(i) for b, i in zip(branch_ids, net.line.index)}, description)


def line_network(d: LineData) -> GridNetwork:
    """`build_line_network` of a feeder's `LineData`."""
    return build_line_network(d.name, d.labels, d.base_kv, d.sn_mva, d.branches, d.loads, d.ties, d.v_min_pu,
                              d.v_max_pu, d.description)
