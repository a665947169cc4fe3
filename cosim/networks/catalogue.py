"""Test networks as pandapower nets paired with their per-unit `RadialNetwork` for the fast power flow.

Every branch is a pandapower line, switchable through `in_service`; branch numbers follow the literature.
Buses are kept in literature order, so position 0 is bus 1 (the substation / slack). Data files live in
scenarios/data/networks/ (see the README there for sources and simplifications).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd

from cosim.powerflow.network_data import NetworkDataError, RadialNetwork

DATA_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "networks"
"""Folder holding the network data files (CSV) shipped with the repository."""

NO_LIMIT_KA = 99999.0
"""Ampacity written into pandapower where the source gives none (read back as 'no limit')."""


@dataclass
class GridNetwork:
    """A pandapower net, its radial per-unit model and which lines are which branch number."""

    name: str
    net: pp.pandapowerNet
    radial: RadialNetwork
    line_of_branch: dict[int, int]  # branch id -> pandapower line index
    description: str = ""

    @property
    def tie_branches(self) -> tuple[int, ...]:
        return self.radial.tie_branches

    @property
    def sectionalising_branches(self) -> tuple[int, ...]:
        ties = set(self.radial.tie_branches)
        return tuple(int(b) for b in self.radial.branch_ids if int(b) not in ties)

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
        from_bus=np.array([bus_pos[int(b)] for b in line.from_bus]), to_bus=np.array([bus_pos[int(b)] for b in line.to_bus]),
        r_pu=r_ohm / zb, x_pu=x_ohm / zb, p_load_kw=p, q_load_kvar=q, branch_ids=np.asarray(branch_ids, dtype=int),
        tie_branches=tuple(tie_branches), i_max_ka=i_max, v_min_pu=v_min_pu, v_max_pu=v_max_pu,
        bus_labels=tuple(bus_labels),
    )


def _read_csv(filename: str, columns: list[str]) -> pd.DataFrame:
    """Read a shipped network CSV and check that it has the expected columns."""
    path = DATA_DIR / filename
    if not path.is_file():
        raise NetworkDataError(f"network data file {path} is missing")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise NetworkDataError(f"{path}: missing column(s) {missing}; expected {columns}")
    return df


def _build(
    name: str, labels: list[str], base_kv: float, sn_mva: float, branches: list[tuple], loads: dict[str, tuple[float, float]],
    ties: tuple[int, ...], v_min_pu: float, v_max_pu: float, description: str,
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
        r_ohm_per_km=np.array([b[3] for b in branches]) / length, x_ohm_per_km=np.array([b[4] for b in branches]) / length,
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


def ieee33() -> GridNetwork:
    """IEEE 33-bus (Baran & Wu 1989) from pandapower: branches 1..32 sectionalising, 33..37 ties (open)."""
    net = pn.case33bw()
    branch_ids = list(range(1, len(net.line) + 1))
    ties = (33, 34, 35, 36, 37)
    net.line["name"] = [str(b) for b in branch_ids]
    net.line["in_service"] = [b not in ties for b in branch_ids]
    radial = radial_from_pandapower(net, "ieee33", branch_ids, ties)
    return GridNetwork(
        "ieee33", net, radial, {b: int(i) for b, i in zip(branch_ids, net.line.index)},
        "IEEE 33-bus, 12.66 kV (Baran & Wu 1989, pandapower case33bw)",
    )


NINEBUS_LEVELS = {"low": "p_low_mw", "medium": "p_medium_mw", "peak": "p_peak_mw"}
NINEBUS_POWER_FACTOR = 0.9
"""Load power factor of the 9-bus net: the seeds give MW only; 0.9 lagging reproduces seed 001's
'without V2G' voltage table within 0.02 p.u. (see scenarios/data/networks/README.md)."""


def ninebus(load_level: str = "peak", power_factor: float = NINEBUS_POWER_FACTOR) -> GridNetwork:
    """9-bus 33 kV radial network of seeds 001/002 (four feeders from substation bus 1); no tie lines.

    load_level: 'peak' (level 3, default), 'medium' (level 2) or 'low' (level 1); the load of each
    section in the seed's table sits at the section's receiving bus.
    """
    if load_level not in NINEBUS_LEVELS:
        raise NetworkDataError(f"ninebus: load_level {load_level!r} is not one of {sorted(NINEBUS_LEVELS)}")
    if not 0.0 < float(power_factor) <= 1.0:
        raise NetworkDataError(f"ninebus: power_factor {power_factor!r} must be in (0, 1]")
    df = _read_csv("ninebus.csv", ["section_id", "from_bus", "to_bus", "r_ohm", "x_ohm", "length_km", *NINEBUS_LEVELS.values()])
    df = df.sort_values("to_bus")  # branch k feeds bus k+1, as in the 33- and 69-bus numbering
    tan_phi = np.tan(np.arccos(float(power_factor)))
    labels = [str(i) for i in range(1, 10)]
    branches = [
        (k, str(r.from_bus), str(r.to_bus), float(r.r_ohm), float(r.x_ohm), float(r.length_km), NO_LIMIT_KA)
        for k, r in enumerate(df.itertuples(), start=1)
    ]
    col = NINEBUS_LEVELS[load_level]
    loads = {str(r.to_bus): (1000.0 * getattr(r, col), 1000.0 * getattr(r, col) * tan_phi) for r in df.itertuples()}
    return _build(
        "ninebus", labels, 33.0, 100.0, branches, loads, (), 0.9, 1.1,
        f"9-bus 33 kV (seeds 001/002), {load_level} load, pf {power_factor}",
    )


IEEE69_TIES = (69, 70, 71, 72, 73)


def _csv_network(name: str, n_bus: int, kv: float, description: str) -> GridNetwork:
    """A line-only feeder from <name>.csv (branch_id, from_bus, to_bus, r_ohm, x_ohm, tie) and <name>_loads.csv
    (bus, p_kw, q_kvar), buses numbered 1..n_bus, base 10 MVA; rows with tie = 1 start open."""
    br = _read_csv(f"{name}.csv", ["branch_id", "from_bus", "to_bus", "r_ohm", "x_ohm", "tie"])
    ld = _read_csv(f"{name}_loads.csv", ["bus", "p_kw", "q_kvar"])
    ties = tuple(int(b) for b in br.branch_id[br.tie == 1])
    branches = [
        (int(r.branch_id), str(r.from_bus), str(r.to_bus), float(r.r_ohm), float(r.x_ohm), 1.0, NO_LIMIT_KA)
        for r in br.itertuples()
    ]
    loads = {str(r.bus): (float(r.p_kw), float(r.q_kvar)) for r in ld.itertuples()}
    labels = [str(i) for i in range(1, n_bus + 1)]
    return _build(name, labels, kv, 10.0, branches, loads, ties, 0.9, 1.05, description)


def ieee69() -> GridNetwork:
    """IEEE 69-bus, 12.66 kV, base 10 MVA (Baran & Wu 1989 via MATPOWER case69): branches 1..68 sectionalising
    (branch k feeds bus k+1), 69..73 the tie lines 11-43, 13-21, 15-46, 50-59, 27-65 (open)."""
    return _csv_network("ieee69", 69, 12.66, "IEEE 69-bus, 12.66 kV (Baran & Wu 1989)")


def dist118() -> GridNetwork:
    """118-bus 11 kV distribution feeder of Zhang, Fu & Zhang (2007) via MATPOWER case118zh, base 10 MVA:
    branches 1..117 sectionalising (file order), 118..132 its 15 tie lines (open). 22.7 MW of load: the
    larger feeder for scaling studies."""
    return _csv_network("dist118", 118, 11.0, "118-bus 11 kV distribution feeder (Zhang et al. 2007, MATPOWER case118zh)")


IEEE13_BUSES = ("650", "632", "633", "634", "645", "646", "671", "680", "684", "611", "652", "675")
"""Bus order of the balanced IEEE 13-node equivalent (1-based numbers 1..12); 692 is merged into 671."""
IEEE13_KV = 4.16
IEEE13_XFM = {"kva": 500.0, "r_pct": 1.1, "x_pct": 2.0}
"""XFM-1 (633-634, 4.16/0.48 kV) kept at 4.16 kV as in seed 003: its series impedance becomes a line."""
FT_PER_MILE = 5280.0
KM_PER_MILE = 1.609344


def _ieee13_positive_sequence(cfg: pd.Series) -> tuple[float, float, float]:
    """Balanced equivalent (r, x in ohm/mile, ampacity in A) of one IEEE 13-node line configuration.

    Three-phase: positive sequence Zs - Zm (means of self and mutual terms). n < 3 phases: carrying the
    same total power balanced over three phases gives 3/n times less current per phase, so the impedance
    is scaled by 3/n and the ampacity by n/3 - keeping the loaded phases' losses, drops and loading.
    """
    ph = str(cfg.phases)
    z = {}
    for a in "abc":
        for b in "abc":
            key = a + b if a + b in ("aa", "ab", "ac", "bb", "bc", "cc") else b + a
            z[a + b] = complex(cfg[f"r_{key}"], cfg[f"x_{key}"])
    used = [p.lower() for p in ph]
    n = len(used)
    zs = np.mean([z[p + p] for p in used])
    zm = np.mean([z[p + q] for p in used for q in used if p != q]) if n > 1 else 0.0
    z1 = (zs - zm) * (3.0 / n)
    return float(z1.real), float(z1.imag), float(cfg.ampacity_a) * n / 3.0


def ieee13() -> GridNetwork:
    """Balanced single-phase equivalent of the IEEE 13-node feeder (4.16 kV) as used by seed 003; radial, no ties.

    Bus numbers 1..12 are IEEE13_BUSES (1 = 650, the substation). Regulator omitted (slack at 1.0 p.u.),
    switch 671-692 closed (692 merged into 671), XFM-1 a series impedance at 4.16 kV, shunt capacitors and
    line charging omitted, all loads constant PQ summed over phases. See the data README.
    """
    cfgs = _read_csv("ieee13_configs.csv", ["config", "phases", "ampacity_a"]).astype({"config": str}).set_index("config")
    lines = _read_csv("ieee13_lines.csv", ["branch_id", "from_bus", "to_bus", "config", "length_ft"]).astype(
        {"from_bus": str, "to_bus": str, "config": str}
    )
    loads_df = _read_csv("ieee13_loads.csv", ["bus", "phase", "p_kw", "q_kvar"]).astype({"bus": str})
    branches = []
    for r in lines.itertuples():
        if r.config == "XFM-1":
            zb = IEEE13_KV**2 / (IEEE13_XFM["kva"] / 1000.0)
            r_ohm, x_ohm = IEEE13_XFM["r_pct"] / 100 * zb, IEEE13_XFM["x_pct"] / 100 * zb
            length_km, max_i_ka = 1.0, IEEE13_XFM["kva"] / (np.sqrt(3) * IEEE13_KV) / 1000.0
        else:
            if r.config not in cfgs.index:
                raise NetworkDataError(f"ieee13_lines.csv: branch {r.branch_id} uses unknown config {r.config!r}")
            r_mi, x_mi, amp = _ieee13_positive_sequence(cfgs.loc[r.config])
            miles = float(r.length_ft) / FT_PER_MILE
            r_ohm, x_ohm, length_km, max_i_ka = r_mi * miles, x_mi * miles, miles * KM_PER_MILE, amp / 1000.0
        branches.append((int(r.branch_id), r.from_bus, r.to_bus, r_ohm, x_ohm, length_km, max_i_ka))
    loads = {b: [0.0, 0.0] for b in IEEE13_BUSES}
    for r in loads_df.itertuples():
        if r.bus == "692":
            targets = {"671": 1.0}
        elif "-" in r.bus:  # distributed load along a line: half at each end
            a, b = r.bus.split("-")
            targets = {a: 0.5, b: 0.5}
        else:
            targets = {r.bus: 1.0}
        for bus, share in targets.items():
            if bus not in loads:
                raise NetworkDataError(f"ieee13_loads.csv: unknown bus {r.bus!r}")
            loads[bus][0] += share * float(r.p_kw)
            loads[bus][1] += share * float(r.q_kvar)
    return _build(
        "ieee13", list(IEEE13_BUSES), IEEE13_KV, 5.0, branches, {k: tuple(v) for k, v in loads.items()}, (),
        0.9, 1.05, "IEEE 13-node feeder, balanced equivalent, 4.16 kV (seed 003 simplifications)",
    )


NETWORKS: dict[str, Callable[..., GridNetwork]] = {"ieee33": ieee33, "ieee69": ieee69, "ninebus": ninebus, "ieee13": ieee13,
                                                   "dist118": dist118}


_BUILT: dict[tuple, GridNetwork] = {}


def load_network(name: str, **kwargs) -> GridNetwork:
    """Build a network by name (keyword options go to its builder, e.g. ninebus load_level); clear errors.

    Each (name, options) is built once per process (pandapower's case loaders take seconds) and a deep
    copy is returned, so callers may change loads and switch states freely.
    """
    try:
        builder = NETWORKS[name]
    except (KeyError, TypeError):
        raise NetworkDataError(f"unknown network {name!r}; known networks: {', '.join(sorted(NETWORKS))}") from None
    try:
        key = (name, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:
        key = None
    if key is None or key not in _BUILT:
        try:
            built = builder(**kwargs)
        except TypeError as exc:
            raise NetworkDataError(f"network {name!r}: bad options {sorted(kwargs)} ({exc})") from None
        if key is None:
            return built
        _BUILT[key] = built
    return copy.deepcopy(_BUILT[key])
