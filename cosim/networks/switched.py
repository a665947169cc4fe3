"""Pandapower nets with HV/MV transformers and switches (SimBench MV grids, a user's JSON file) -> the radial model.

`convert_switched(net, name)` converts the net once into a `ConvertedNetwork` (per-unit branches, bus loads,
slack voltage, line charging, substation ratings) and returns a `GridNetwork` whose `net` is the ORIGINAL
pandapower net: the grid simulator runs pandapower on it and applies the DSO's open branches to its switches.

Two kinds of net. Where the transformers hold their MV busbar at a set-point (one external grid, only transformers
right below it, each marked automatic: `autoTap`, SimBench's on-load tap changers) that busbar is the slack, as
described below. Every other net (no such flag, several external grids, MV/LV transformers) takes its transformers
as branches with the taps as given, any number of voltage levels and of substations: `cosim.networks.substations`.

Decisions (each one keeps the radial model exact against pandapower on the original net; `cosim validate
--network NAME` measures it):

* **Transformers: the MV network below them, the slack at their MV busbar.** The HV/MV transformers of SimBench
  have on-load tap changers holding their MV side at a set-point (`autoTap`, `autoTapSetp` = 1.025 p.u.);
  in operation the MV busbar voltage is that set-point whatever the load or the topology, so it is the
  slack of the MV model (`v_slack_pu`; the external grid's `vm_pu` where a net gives no set-point). The grid
  simulator and `cosim validate` run the original net with each transformer's tap moved continuously until
  its MV bus sits at the set-point (`run_original`), as the tap changer would. Series impedances from the HV
  bus were the alternative: exact against pandapower with fixed taps, but where the transformers feed separate
  busbar sections (1-MV-urban--0-sw) a tie between their feeders closes a loop through both transformers,
  and the transformers, which the DSO does not switch, would become members of feeder loops.
* **Parallel transformers and busbar couplers become one slack busbar.** Buses joined by closed bus-bus
  switches are one bus (couplers are not operated by the DSO); every transformer's MV busbar is merged into
  the slack. The loop of parallel transformers (rural: HV coupler switch 0 and MV coupler switch 5 closed)
  thus vanishes, and a coupler left open between two sections (urban: switches 7 and 8) joins the slack to
  itself: it is dropped and never a reconfiguration candidate. The transformers' rating stays as a limit
  per section (the buses joined by closed couplers on their MV side): `section_s_max_kva`.
* **Switches are the reconfigurable branches.** A line with a switch at either end is one branch, opened by
  one switch (the one open in the file, else the one at its to-bus end): it stays energised from the other end
  and its charging stays in the model as a stub. An open bus-bus switch between two buses is a branch of zero
  impedance. The branches open in the file form the base open set (the ties); closed line switches are
  sectionalisers, closed branches the DSO may open as long as the feeders stay radial. A line without a switch
  is a fixed branch (`fixed_branches`): it may lie on a loop that a switch elsewhere on the loop opens, and is
  never a reconfiguration candidate (each loop lists its switchable branches only). Buses the file leaves
  de-energised behind open switches without any load or generator (a spare cable) are left out, with the
  branches reaching them. A net without any line or bus-bus switch follows the built-in networks' convention
  instead: every line is a branch switched through `in_service` and the lines out of service are the ties.
* **Static generators are negative loads** (their own p and q, at the bus they sit on); loads and static
  generators keep their own rows in the original net (the grid simulator gives each its own profile).
* **Limits:** the voltage band from `min_vm_pu` / `max_vm_pu` of the load buses (buses with in-service loads;
  without any, every bus but the slack busbar), the tightest over those that give one, DEFAULT_V_MIN_PU /
  DEFAULT_V_MAX_PU where none does; never the slack's (pandapower's cases pin the external grid's bus at
  1.0-1.0 p.u.); line ampacity `max_i_ka * df * parallel`, transformer rating `sn_mva` summed over each section.

Refused with one line (`NetworkDataError`): element types the model cannot hold (generators with voltage
control, 3-winding transformers, ...), no external grid, a transformer whose rated voltages do not match its
buses (`transformers.check_levels`), lines or loads on the HV side (busbar held at a set-point), feeders
that are not radial in the base state (the message names the loop; a meshed net: a closed loop without any
switch) or buses no switch state can feed (the island), and an empty voltage band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandapower as pp

from cosim.networks.converted import ConvertedNetwork
from cosim.networks.converter import GridNetwork
from cosim.networks.transformers import check_levels
from cosim.powerflow.network_data import NetworkDataError

__all__ = ["UNSUPPORTED_ELEMENTS", "OltcResult", "convert_switched", "converted_net", "run_original"]

UNSUPPORTED_ELEMENTS = ("gen", "trafo3w", "impedance", "ward", "xward", "dcline", "storage", "motor", "shunt",
                        "asymmetric_load", "asymmetric_sgen", "svc", "ssc", "tcsc", "vsc", "load_dc", "source_dc")
"""In-service rows of these pandapower tables make a net unconvertible (the radial model has no place for them)."""
DEFAULT_V_MIN_PU, DEFAULT_V_MAX_PU = 0.9, 1.1
"""Voltage limits where a net's buses give none (EN 50160's +-10 %)."""
NO_RATING_KA = 9999.0


class _UnionFind:
    def __init__(self, items) -> None:
        self.parent = {int(i): int(i) for i in items}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _in_service(df) -> np.ndarray:
    return df["in_service"].to_numpy(bool) if "in_service" in df.columns else np.ones(len(df), bool)


def _fail(name: str, msg: str) -> NetworkDataError:
    return NetworkDataError(f"network {name!r}: {msg}")


def _check_elements(net, name: str) -> list[int]:
    """The in-service external grids (at least one); errors for tables the model cannot hold."""
    bad = [f"{t} ({int(_in_service(net[t]).sum())})" for t in UNSUPPORTED_ELEMENTS
           if t in net and len(net[t]) and _in_service(net[t]).any()]
    if bad:
        raise _fail(name, f"in-service element type(s) {', '.join(bad)} are not supported; a converted net holds "
                          "buses, lines, 2-winding transformers, switches, loads, static generators and "
                          "external grids")
    eg = net.ext_grid[_in_service(net.ext_grid)]
    if not len(eg):
        raise _fail(name, "has no in-service external grid (the substation feeding the net)")
    return [int(i) for i in eg.index]


def _label(net, bus: int) -> str:
    name = net.bus.at[bus, "name"] if "name" in net.bus.columns else None
    return str(name) if isinstance(name, str) and name.strip() else f"bus {bus}"


def _line_label(net, li: int) -> str:
    name = net.line.at[li, "name"] if "name" in net.line.columns else None
    return f"line {li}" + (f" ({name})" if isinstance(name, str) and name.strip() else "")


@dataclass
class _Branch:
    kind: str  # "line" or "switch"
    index: int  # pandapower line or switch index
    f: int  # pandapower buses (representatives resolved later)
    t: int
    open: bool
    switch: int | None  # the switch that opens it (None: in_service, or a line without switch)
    switchable: bool
    open_end_bus: int | None = None  # pandapower bus at which the branch is opened


def convert_switched(net: pp.pandapowerNet, name: str, description: str = "") -> GridNetwork:
    """The radial model of a pandapower net (see the module docstring); `net` is kept as the original."""
    egs = _check_elements(net, name)
    buses = net.bus.index[_in_service(net.bus)].to_numpy(int)
    live = set(int(b) for b in buses)
    for e in egs:
        if int(net.ext_grid.at[e, "bus"]) not in live:
            raise _fail(name, f"external grid {e}'s bus {int(net.ext_grid.at[e, 'bus'])} is out of service")
    eg_bus = int(net.ext_grid.at[egs[0], "bus"])
    uf = _UnionFind(buses)
    sw = net.switch
    sw_bb = sw[(sw.et == "b")]
    for s, row in sw_bb.iterrows():
        if bool(row.closed) and int(row.bus) in live and int(row.element) in live:
            uf.union(int(row.bus), int(row.element))
    section_uf = {b: uf.find(b) for b in live}  # before the transformers' MV busbars are merged

    # transformers: in service with every transformer switch closed
    trafo_sw = sw[sw.et == "t"]
    trafos = []
    for ti, tr in net.trafo.iterrows():
        if not bool(tr.in_service):
            continue
        if not bool(trafo_sw[trafo_sw.element == ti].closed.all()):
            continue
        if int(tr.hv_bus) not in live or int(tr.lv_bus) not in live:
            continue
        trafos.append(int(ti))
    for ti in trafos:
        check_levels(net, ti, name)
    if not _busbar_held(net, trafos, egs, uf):
        from cosim.networks.substations import convert_branches  # noqa: PLC0415 - one job per module

        return convert_branches(net, name, description, egs, trafos, uf, live)
    hv_group = uf.find(eg_bus)
    if trafos:
        for ti in trafos:
            if uf.find(int(net.trafo.at[ti, "hv_bus"])) != hv_group:
                raise _fail(name, f"transformer {ti}'s HV bus {int(net.trafo.at[ti, 'hv_bus'])} is not the "
                                  "external grid's busbar: only HV/MV transformers below the external grid are "
                                  "supported (HV lines and MV/LV transformers are not modelled)")
            if uf.find(int(net.trafo.at[ti, "lv_bus"])) == hv_group:
                raise _fail(name, f"transformer {ti} joins the external grid's busbar to itself")
        lv_buses = [int(net.trafo.at[ti, "lv_bus"]) for ti in trafos]
        for b in lv_buses[1:]:
            uf.union(lv_buses[0], b)
        slack_group = uf.find(lv_buses[0])
        v_slack = _set_point(net, trafos, name)
    else:
        slack_group = hv_group
        v_slack = float(net.ext_grid.vm_pu[_in_service(net.ext_grid)].iloc[0])
        hv_group = None

    switched_mode = bool(len(sw[(sw.et == "l")]) or len(sw_bb[~sw_bb.closed.astype(bool)]))
    branches, dropped = _branches(net, name, uf, live, hv_group, switched_mode)

    # buses: the groups reached from the slack with every branch closed
    fed, groups, elements_at = _fed_groups(net, name, uf, live, branches, slack_group, hv_group,
                                           "no line or switch can connect it to the substation")
    if hv_group is not None:
        hv_loaded = sorted(set(groups[hv_group]) & elements_at)
        if hv_loaded:
            raise _fail(name, f"loads or generators at the HV busbar ({_label(net, hv_loaded[0])}) are not "
                              "supported: the model is the MV network below the transformers")
    branches = [br for br in branches if uf.find(br.f) in fed]  # empty islands (no element) are left out
    # buses the file leaves de-energised (behind open switches) that hold no element, e.g. a spare cable: left
    # out with the branches reaching them (a de-energised bus with loads stays, and is refused as an island)
    closed = nx.Graph()
    closed.add_nodes_from(fed)
    closed.add_edges_from((uf.find(br.f), uf.find(br.t)) for br in branches if not br.open)
    energised = nx.node_connected_component(closed, slack_group)
    fed = {grp for grp in fed if grp in energised or set(groups[grp]) & elements_at}
    branches = [br for br in branches if uf.find(br.f) in fed and uf.find(br.t) in fed]
    order = [slack_group] + sorted((grp for grp in fed if grp != slack_group), key=lambda grp: min(groups[grp]))
    pos_of_group = {grp: i for i, grp in enumerate(order)}
    position_of_bus = {b: pos_of_group[uf.find(b)] for b in live if uf.find(b) in pos_of_group}
    labels = tuple(_label(net, min(groups[grp])) for grp in order)
    kv = {float(net.bus.at[b, "vn_kv"]) for b in position_of_bus}
    if len(kv) != 1:
        raise _fail(name, f"the MV network has buses at several nominal voltages {sorted(kv)} kV; only one "
                          "voltage level below the substation is supported")
    base_kv = kv.pop()
    base_mva = float(net.sn_mva)
    radial = _radial(net, name, branches, position_of_bus, base_kv, base_mva, v_slack, labels,
                     _sections(net, trafos, section_uf, slack_group, uf, branches, position_of_bus))
    line_of_branch = {k + 1: br.index for k, br in enumerate(branches) if br.kind == "line"}
    switch_of_branch = {k + 1: br.switch for k, br in enumerate(branches) if br.switch is not None}
    desc = description or f"{name}: {radial.n_bus} buses, {radial.n_branch} branches, {len(radial.loops)} loops"
    return GridNetwork(name, net, radial, line_of_branch, desc, switch_of_branch=switch_of_branch,
                       position_of_bus=position_of_bus, oltc_trafos=tuple(trafos), dropped_switches=tuple(dropped))


def _busbar_held(net, trafos: list[int], egs: list[int], uf: _UnionFind) -> bool:
    """True for a net whose transformers hold their MV busbar (the slack) at a set-point: one external grid, and
    either no transformer or only transformers right below it marked automatic (`autoTap`, SimBench's on-load
    tap changers). Every other net takes its transformers as branches with the taps as given
    (`cosim.networks.substations`)."""
    if len(egs) != 1:
        return False
    if not trafos:
        return True
    eg_group = uf.find(int(net.ext_grid.at[egs[0], "bus"]))
    auto = net.trafo.get("autoTap")
    if auto is None:
        return False
    for ti in trafos:
        flag = auto.at[ti]
        automatic = isinstance(flag, (bool, int, float, np.bool_, np.integer, np.floating)) and flag == flag and flag
        if not automatic or uf.find(int(net.trafo.at[ti, "hv_bus"])) != eg_group:
            return False
    return True


def _set_point(net, trafos: list[int], name: str) -> float:
    """The MV busbar voltage the transformers' tap changers hold: `autoTapSetp` (SimBench) where given, else the
    external grid's voltage."""
    tr = net.trafo.loc[trafos]
    if "autoTapSetp" in tr.columns and tr.autoTapSetp.notna().all():
        values = set(float(v) for v in tr.autoTapSetp)
        if len(values) > 1:
            raise _fail(name, f"the transformers hold different MV set-points {sorted(values)}; one slack busbar "
                              "needs one set-point")
        v = values.pop()
    else:
        v = float(net.ext_grid.vm_pu[_in_service(net.ext_grid)].iloc[0])
    if tr.tap_step_percent.isna().any() or (tr.tap_step_percent == 0).any():
        raise _fail(name, "a transformer without a tap changer (tap_step_percent) cannot hold its MV busbar at "
                          "the set-point")
    return v


def _finite(value, default: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _fed_groups(net, name: str, uf: _UnionFind, live: set[int], branches: list[_Branch], slack_group: int,
                skip: int | None, unreachable: str) -> tuple[set[int], dict[int, list[int]], set[int]]:
    """(the bus groups a slack reaches with every branch closed, the live buses of every group, the buses with loads
    or generators). A group with loads or generators that no branch can reach is an island: one line saying so
    (`unreachable`: by what it cannot be connected); `skip` is a group exempt from that check."""
    g = nx.MultiGraph()
    g.add_node(slack_group)
    for k, br in enumerate(branches):
        g.add_edge(uf.find(br.f), uf.find(br.t), key=k)
    fed = nx.node_connected_component(g, slack_group)
    groups: dict[int, list[int]] = {}
    for b in live:
        groups.setdefault(uf.find(b), []).append(b)
    elements_at = _element_buses(net)
    for grp, members in groups.items():
        if grp in fed or grp == skip:
            continue
        loaded = sorted(set(members) & elements_at)
        if loaded:
            raise _fail(name, f"island: {_label(net, loaded[0])} (pandapower bus {loaded[0]}) has loads or "
                              f"generators but {unreachable}")
    return fed, groups, elements_at


def _element_buses(net) -> set[int]:
    out: set[int] = set()
    for table in ("load", "sgen"):
        df = net[table]
        out |= set(int(b) for b in df.bus[_in_service(df)])
    return out


def _branches(net, name: str, uf: _UnionFind, live: set[int], hv_group: int | None,
              switched_mode: bool) -> tuple[list[_Branch], list[int]]:
    """Lines and open bus-bus switches as branches; switches dropped as substation couplers."""
    sw = net.switch
    line_sw = sw[sw.et == "l"]
    by_line: dict[int, list[int]] = {}
    for s, row in line_sw.iterrows():
        by_line.setdefault(int(row.element), []).append(int(s))
    branches: list[_Branch] = []
    dropped: list[int] = []
    for li, ln in net.line.iterrows():
        f, t = int(ln.from_bus), int(ln.to_bus)
        if f not in live or t not in live:
            continue
        if not switched_mode:
            branches.append(_Branch("line", int(li), f, t, not bool(ln.in_service), None, True))
        elif not bool(ln.in_service):
            continue
        else:
            sws = by_line.get(int(li), [])
            open_sws = [s for s in sws if not bool(sw.at[s, "closed"])]
            at_to = [s for s in sws if int(sw.at[s, "bus"]) == t]
            chosen = open_sws[0] if open_sws else (at_to[0] if at_to else (sws[0] if sws else None))
            end = int(sw.at[chosen, "bus"]) if chosen is not None else None
            branches.append(_Branch("line", int(li), f, t, bool(open_sws), chosen, bool(sws), end))
        br = branches[-1]
        gf, gt = uf.find(f), uf.find(t)
        if hv_group is not None and hv_group in (gf, gt):
            raise _fail(name, f"{_line_label(net, int(li))} is on the HV side of the transformers; the model is "
                              "the MV network below them")
        if gf == gt:  # both ends on one busbar after merging couplers: a loop through the substation
            if not br.open:
                raise _fail(name, f"{_line_label(net, int(li))} joins {_label(net, f)} and {_label(net, t)}, which "
                                  "are one busbar (closed couplers or the transformers' MV side): a closed loop "
                                  "through the substation")
            branches.pop()
            if br.switch is not None:
                dropped.append(br.switch)
    for s, row in sw[(sw.et == "b") & ~sw.closed.astype(bool)].iterrows():
        a, b = int(row.bus), int(row.element)
        if a not in live or b not in live:
            continue
        ga, gb = uf.find(a), uf.find(b)
        if ga == gb or (hv_group is not None and hv_group in (ga, gb)):
            dropped.append(int(s))  # a coupler between sections of one busbar: never a candidate
            continue
        branches.append(_Branch("switch", int(s), a, b, True, int(s), True, b))
    if not branches:
        raise _fail(name, "has no line below the substation")
    return branches, dropped


def _sections(net, trafos, section_uf, slack_group, uf, branches, position_of_bus):
    """(slack_section per branch, rating per section in kVA, section names)."""
    sec_of_group: dict[int, int] = {}
    rating: list[float] = []
    for ti in trafos:
        grp = section_uf[int(net.trafo.at[ti, "lv_bus"])]
        if grp not in sec_of_group:
            sec_of_group[grp] = len(rating)
            rating.append(0.0)
        rating[sec_of_group[grp]] += 1000.0 * float(net.trafo.at[ti, "sn_mva"]) * float(net.trafo.at[ti, "parallel"])
    members = {g: [t for t in trafos if section_uf[int(net.trafo.at[t, "lv_bus"])] == g] for g in sec_of_group}
    names = tuple(f"transformer(s) {', '.join(map(str, members[g]))}" for g in sec_of_group)
    slack_section = np.full(len(branches), -1, dtype=int)
    for k, br in enumerate(branches):
        for end in (br.f, br.t):
            if uf.find(end) == slack_group and section_uf[end] in sec_of_group:
                slack_section[k] = sec_of_group[section_uf[end]]
    return slack_section, np.asarray(rating, float), names


def _radial(net, name, branches, position_of_bus, base_kv, base_mva, v_slack, labels, sections) -> ConvertedNetwork:
    zb = base_kv**2 / base_mva
    nbr = len(branches)
    f = np.array([position_of_bus[br.f] for br in branches], dtype=int)
    t = np.array([position_of_bus[br.t] for br in branches], dtype=int)
    r = np.zeros(nbr)
    x = np.zeros(nbr)
    y = np.zeros(nbr, complex)
    stub = np.zeros(nbr, complex)
    stub_bus = np.full(nbr, -1, dtype=int)
    i_max = np.full(nbr, np.inf)
    omega = 2.0 * math.pi * float(net.f_hz)
    for k, br in enumerate(branches):
        if br.kind != "line":
            continue
        r[k], x[k], y[k], stub[k], stub_bus[k], i_max[k] = line_pu(net, br, zb, omega, position_of_bus)
    p, q = bus_loads_kw(net, position_of_bus, len(labels))
    v_min, v_max = _voltage_band(net, name, position_of_bus)
    slack_section, s_max, sec_names = sections
    ties = tuple(k + 1 for k, br in enumerate(branches) if br.open)
    fixed = tuple(k + 1 for k, br in enumerate(branches) if not br.switchable)
    _check_base_state(net, name, branches, f, t, labels)
    return ConvertedNetwork(
        name=name, base_kv=base_kv, base_mva=base_mva, slack_bus=0, from_bus=f, to_bus=t, r_pu=r, x_pu=x,
        p_load_kw=p, q_load_kvar=q, branch_ids=np.arange(1, nbr + 1), tie_branches=ties, i_max_ka=i_max,
        v_min_pu=v_min, v_max_pu=v_max, bus_labels=labels, fixed_branches=fixed, v_slack_pu=v_slack,
        charging_y_pu=y, stub_y_pu=stub, stub_bus=stub_bus, slack_section=slack_section, section_s_max_kva=s_max,
        section_names=sec_names,
    )


def line_pu(net, br: _Branch, zb_ohm: float, omega: float, position_of_bus: dict[int, int]
            ) -> tuple[float, float, complex, complex, int, float]:
    """A line branch's (r, x, charging y, open-end stub y, stub bus, rating kA), in p.u. on `zb_ohm`: parallel
    circuits in parallel, the stub the pi section seen from the energised end when the branch's switch is open
    (stub bus -1 without charging), the rating max_i_ka x df x parallel (inf without one)."""
    ln = net.line.loc[br.index]
    par = float(ln.parallel)
    length = float(ln.length_km)
    r = float(ln.r_ohm_per_km) * length / par / zb_ohm
    x = float(ln.x_ohm_per_km) * length / par / zb_ohm
    g_s = _finite(ln.get("g_us_per_km", 0.0), 0.0) * 1e-6
    y = (g_s + 1j * omega * float(ln.c_nf_per_km) * 1e-9) * length * par * zb_ohm
    stub, stub_bus = 0j, -1
    if y != 0:
        stub = y / 2.0 + (y / 2.0) / (1.0 + (r + 1j * x) * y / 2.0)
        stub_bus = position_of_bus[br.t if br.open_end_bus == br.f else br.f]
    rating = _finite(ln.max_i_ka, np.inf) * _finite(ln.get("df", 1.0), 1.0) * par
    i_max = rating if np.isfinite(rating) and rating > 0 and float(ln.max_i_ka) < NO_RATING_KA else np.inf
    return r, x, y, stub, stub_bus, i_max


def bus_loads_kw(net, position_of_bus: dict[int, int], n_bus: int) -> tuple[np.ndarray, np.ndarray]:
    """(p kW, q kvar) per bus: in-service loads minus in-service static generators, each at its scaling."""
    p = np.zeros(n_bus)
    q = np.zeros(n_bus)
    for table, sign in (("load", 1.0), ("sgen", -1.0)):
        df = net[table][_in_service(net[table])]
        for bus, pm, qm, sc in zip(df.bus, df.p_mw, df.q_mvar, df.scaling):
            k = position_of_bus[int(bus)]
            p[k] += sign * float(pm) * float(sc) * 1000.0
            q[k] += sign * float(qm) * float(sc) * 1000.0
    return p, q


def _voltage_band(net, name: str, position_of_bus: dict[int, int]) -> tuple[float, float]:
    """(v_min, v_max) of the load buses (see the module docstring), never the slack busbar's."""
    loads = net.load[_in_service(net.load)]
    buses = sorted({int(b) for b in loads.bus if int(b) in position_of_bus})
    if not buses:
        buses = sorted(b for b, k in position_of_bus.items() if k != 0)
    band = []
    for col, default, pick in (("min_vm_pu", DEFAULT_V_MIN_PU, max), ("max_vm_pu", DEFAULT_V_MAX_PU, min)):
        values = net.bus.loc[buses, col].astype(float) if col in net.bus.columns else []
        values = [float(v) for v in values if math.isfinite(float(v))]
        band.append(pick(values) if values else default)
    if not band[0] < band[1]:
        raise _fail(name, f"the load buses' voltage band min_vm_pu {band[0]:g} .. max_vm_pu {band[1]:g} p.u. is "
                          "empty; give them a band such as 0.9 .. 1.1")
    return band[0], band[1]


def _branch_text(net, br: _Branch) -> str:
    if br.kind == "line":
        return _line_label(net, br.index)
    if br.kind == "trafo":
        return f"transformer {br.index}"
    if br.kind == "source":
        return f"external grid {br.index}"
    return f"switch {br.index}"


def _check_base_state(net, name: str, branches: list[_Branch], f: np.ndarray, t: np.ndarray,
                      labels: tuple[str, ...]) -> None:
    """The file's switch states must leave every bus fed along exactly one path (slack = bus 0)."""
    g = nx.MultiGraph()
    g.add_nodes_from(range(len(labels)))
    for k, br in enumerate(branches):
        if not br.open:
            g.add_edge(int(f[k]), int(t[k]), key=k)
    comps = list(nx.connected_components(g))
    if len(comps) > 1:
        island = sorted(b for c in comps if 0 not in c for b in c)
        shown = ", ".join(labels[b] for b in island[:5]) + (f", ... ({len(island)} buses)" if len(island) > 5 else "")
        raise _fail(name, f"in the base state (the file's switch states) bus(es) {shown} are not fed: an island; "
                          "close a switch that connects it")
    if g.number_of_edges() != len(labels) - 1:
        members = sorted({int(k) for _, _, k in nx.find_cycle(g)})
        shown = ", ".join(_branch_text(net, branches[k]) for k in members[:8]) + (", ..." if len(members) > 8 else "")
        if not any(br.switch is not None for br in branches):  # no switch at all: lines switched by in_service
            hint = "the net has no switches: take one of its lines out of service (the tie)"
        elif not any(branches[k].switchable for k in members):
            hint = ("no switch on the loop, so the net is meshed whatever the switches do: add an open switch on the "
                    "loop or take one of its lines out of service")
        else:
            hint = "open one of its switches"
        raise _fail(name, f"the feeders are not radial in the base state: a closed loop through {shown}; {hint}")


@dataclass(frozen=True)
class OltcResult:
    converged: bool
    solves: int
    message: str = ""


def run_original(net, oltc_trafos, v_set_pu: float, tol_pu: float = 1e-8, max_solves: int = 20,
                 **runpp_kwargs) -> OltcResult:
    """runpp on the original net with the transformers' taps moved continuously until their MV buses sit at
    `v_set_pu` (the on-load tap changers' set-point; the same update as pandapower's ContinuousTapControl).

    Taps stay within tap_min..tap_max; a tap at its limit ends the loop (converged=False, with a message).
    Raises LoadflowNotConverged when runpp does not converge.
    """
    runpp_kwargs.setdefault("lightsim2grid", False)  # pandapower's own Newton-Raphson, whatever is installed
    if not len(oltc_trafos):
        pp.runpp(net, **runpp_kwargs)
        return OltcResult(True, 1)
    idx = list(oltc_trafos)
    tr = net.trafo
    if "tap_changer_type" in tr.columns:  # pandapower >= 3 applies a tap only with a changer type
        missing = [i for i in idx if not isinstance(tr.at[i, "tap_changer_type"], str)]
        if missing:
            tr["tap_changer_type"] = tr.tap_changer_type.astype(object)
            tr.loc[missing, "tap_changer_type"] = "Ratio"
    if tr.tap_pos.dtype.kind != "f":
        tr["tap_pos"] = tr.tap_pos.astype(float)
    tr.loc[idx, "tap_pos"] = tr.loc[idx, "tap_pos"].fillna(tr.loc[idx, "tap_neutral"].fillna(0.0))
    step = tr.loc[idx, "tap_step_percent"].to_numpy(float) / 100.0
    side = np.where(tr.loc[idx, "tap_side"].astype(str).to_numpy() == "lv", -1.0, 1.0)
    t_nom = (tr.loc[idx, "vn_lv_kv"].to_numpy(float) / tr.loc[idx, "vn_hv_kv"].to_numpy(float)
             * net.bus.loc[tr.loc[idx, "hv_bus"], "vn_kv"].to_numpy(float)
             / net.bus.loc[tr.loc[idx, "lv_bus"], "vn_kv"].to_numpy(float))
    lo = tr.loc[idx, "tap_min"].to_numpy(float)
    hi = tr.loc[idx, "tap_max"].to_numpy(float)
    lv = tr.loc[idx, "lv_bus"].to_numpy(int)
    slope = -step * t_nom * side  # d(V_lv)/d(tap) of an ideal ratio change, refined by secant steps
    prev: tuple[np.ndarray, np.ndarray] | None = None
    for solve in range(1, max_solves + 1):
        pp.runpp(net, **runpp_kwargs)
        dv = net.res_bus.vm_pu.loc[lv].to_numpy(float) - v_set_pu
        if np.all(np.abs(dv) < tol_pu):
            return OltcResult(True, solve)
        old = tr.loc[idx, "tap_pos"].to_numpy(float)
        if prev is not None:
            d_tap, d_dv = old - prev[0], dv - prev[1]
            ok = (np.abs(d_tap) > 1e-9) & (d_dv * slope / np.where(d_tap == 0, 1.0, d_tap) > 0)
            slope = np.where(ok, d_dv / np.where(ok, d_tap, 1.0), slope)
        prev = (old, dv)
        new = np.clip(old - dv / slope, lo, hi)
        if np.allclose(new, old, rtol=0, atol=1e-12):
            return OltcResult(False, solve, f"tap changer(s) of transformer(s) {idx} at their limit; MV busbar "
                                            f"at {net.res_bus.vm_pu.loc[lv].round(4).tolist()} p.u., set-point "
                                            f"{v_set_pu}")
        tr.loc[idx, "tap_pos"] = new
        runpp_kwargs["init"] = "results"
    return OltcResult(False, max_solves, f"tap changers did not settle within {max_solves} power flows")


def converted_net(grid: GridNetwork) -> pp.pandapowerNet:
    """The radial model as a pandapower net (for `cosim validate`): one bus per radial bus, the external grid at the
    slack at `v_slack_pu`, one line per line branch (same r, x, charging; a line switch at the end the branch is
    opened at), one bus-bus switch per zero-impedance branch (switch column `branch_id`), no loads (add them per
    case)."""
    r: ConvertedNetwork = grid.radial
    out = pp.create_empty_network(name=f"{r.name} (converted)", sn_mva=r.base_mva, f_hz=float(grid.net.f_hz))
    buses = pp.create_buses(out, r.n_bus, vn_kv=r.base_kv, name=list(r.bus_labels))
    pp.create_ext_grid(out, int(buses[0]), vm_pu=r.v_slack_pu, va_degree=0.0)
    zb = r.base_kv**2 / r.base_mva
    omega = 2.0 * math.pi * float(grid.net.f_hz)
    for k, bid in enumerate(r.branch_ids):
        f, t = int(buses[r.from_bus[k]]), int(buses[r.to_bus[k]])
        if r.r_pu[k] == 0 and r.x_pu[k] == 0:
            s = pp.create_switch(out, f, t, et="b", closed=True, name=f"branch {int(bid)}")
            out.switch.at[s, "branch_id"] = int(bid)
            continue
        y = r.charging_y_pu[k] / zb
        li = pp.create_line_from_parameters(
            out, f, t, length_km=1.0, r_ohm_per_km=r.r_pu[k] * zb, x_ohm_per_km=r.x_pu[k] * zb,
            c_nf_per_km=y.imag / omega * 1e9, g_us_per_km=y.real * 1e6,
            max_i_ka=float(r.i_max_ka[k]) if np.isfinite(r.i_max_ka[k]) else NO_RATING_KA, name=f"branch {int(bid)}")
        end = int(buses[r.stub_bus[k]]) if r.stub_bus[k] >= 0 else t
        open_at = t if end == f else f
        s = pp.create_switch(out, open_at, li, et="l", closed=True, name=f"branch {int(bid)}")
        out.switch.at[s, "branch_id"] = int(bid)
    return out


def set_open_branches(net, grid: GridNetwork, open_ids, converted: bool = False) -> None:
    """Apply a set of open branches to the original net (`converted=False`) or to `converted_net(grid)`:
    every switch of a branch closed, then the one that opens each open branch opened (lines without switches,
    in nets that have none, through in_service)."""
    open_set = {int(b) for b in np.asarray(open_ids).reshape(-1)}
    if converted:  # converted_net's switches carry their branch id
        net.switch["closed"] = [int(b) not in open_set for b in net.switch.branch_id]
        return
    sw = net.switch
    for bid, s in grid.switch_of_branch.items():
        li = grid.line_of_branch.get(bid)
        if li is not None:
            sw.loc[(sw.et == "l") & (sw.element == li), "closed"] = True
        sw.at[s, "closed"] = bid not in open_set
    for bid, li in grid.line_of_branch.items():
        if bid not in grid.switch_of_branch:
            net.line.at[li, "in_service"] = bid not in open_set
