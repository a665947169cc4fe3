"""Pandapower nets with transformers as branches and any number of substations -> the radial model.

`cosim.networks.switched.convert_switched` hands a net here unless its transformers hold their MV busbar at a
set-point (SimBench's automatic tap changers: that busbar is then the slack). Here:

* **Transformers are branches**, never switched: ratio, series impedance and magnetising shunt as pandapower models
  them, with the taps as given (`cosim.networks.transformers`); each bus in per unit on its own level's base, so
  MV and LV levels (any number) sit in one model.
* **Substations.** The slack is the first external grid's busbar. Further external grids at the same voltage
  join it (ideal sources at one voltage are one node); one at another voltage is a fixed branch of zero
  impedance from the slack with the ratio of the two voltages. Each branch leaving the slack (a transformer below
  an external grid, or a line where the external grid feeds the level directly) roots a tree of its own: a radial
  configuration (a spanning tree through the slack) feeds every bus from exactly one substation, so a tie between
  two trees is an ordinary reconfiguration candidate and closing it without opening another branch is refused as
  a loop ("two substations in one tree").
* **Refused with one line** besides what `switched` refuses: lines on the external grid's level where that level
  feeds transformers (HV lines above the substations), lines joining two voltage levels, a transformer whose
  rated voltages do not match its buses (`transformers.check_levels`), a transformer with both ends on one
  busbar, external grids at different voltages on one busbar.
"""

from __future__ import annotations

import cmath
import math

import networkx as nx
import numpy as np

from cosim.networks.converted import ConvertedNetwork
from cosim.networks.converter import GridNetwork
from cosim.networks.switched import (
    _Branch,
    _branches,
    _check_base_state,
    _fail,
    _fed_groups,
    _finite,
    _in_service,
    _label,
    _line_label,
    _UnionFind,
    _voltage_band,
    bus_loads_kw,
    line_pu,
)
from cosim.networks.transformers import TrafoBranch, trafo_branch

__all__ = ["convert_branches"]

NO_RATING_KA = 9999.0


def _ext_voltage(net, e: int) -> complex:
    vm = float(net.ext_grid.at[e, "vm_pu"])
    va = _finite(net.ext_grid.at[e, "va_degree"], 0.0) if "va_degree" in net.ext_grid.columns else 0.0
    return cmath.rect(vm, math.radians(va))


def _hv_lines(net, name: str, egs: list[int], trafos: list[int], live: set[int]) -> None:
    """Refuse lines on an external grid's level where that level feeds transformers (HV lines above them)."""
    hv_buses = {int(net.trafo.at[t, "hv_bus"]) for t in trafos}
    g = nx.Graph()
    lines = net.line[_in_service(net.line)]
    for li, ln in lines.iterrows():
        f, t = int(ln.from_bus), int(ln.to_bus)
        if f in live and t in live:
            g.add_edge(f, t, line=int(li))
    sw = net.switch[(net.switch.et == "b") & net.switch.closed.astype(bool)]
    for a, b in zip(sw.bus, sw.element):
        if int(a) in live and int(b) in live:
            g.add_edge(int(a), int(b), line=None)
    for e in egs:
        bus = int(net.ext_grid.at[e, "bus"])
        kv = float(net.bus.at[bus, "vn_kv"])
        if bus not in g:
            continue
        level = {b for b in nx.node_connected_component(g, bus) if float(net.bus.at[b, "vn_kv"]) == kv}
        if not level & hv_buses:
            continue
        found = sorted(d["line"] for a, b, d in g.edges(level, data=True) if d["line"] is not None
                       and a in level and b in level)
        if found:
            raise _fail(name, f"{_line_label(net, found[0])} is on the HV side of the substation transformers (at "
                              f"{kv:g} kV with external grid {e}); the model starts at the external grid's busbar: "
                              "HV lines above the substations are not supported")


def _parallel_merged(net, name: str, data: list[TrafoBranch], uf: _UnionFind) -> list[TrafoBranch]:
    """Transformers between the same two busbars as one branch (impedances in parallel, shunts and ratings
    summed); refused where their ratios differ (a circulating current the radial model cannot hold)."""
    groups: dict[tuple[int, int], list[TrafoBranch]] = {}
    for tb in data:
        hv, lv = uf.find(tb.hv_bus), uf.find(tb.lv_bus)
        if hv == lv:
            raise _fail(name, f"transformer {tb.index} joins {_label(net, tb.hv_bus)} to itself (one busbar "
                              "through closed switches)")
        groups.setdefault((hv, lv), []).append(tb)
    out = []
    for members in groups.values():
        first = members[0]
        for other in members[1:]:
            if abs(other.ratio - first.ratio) > 1e-12 * abs(first.ratio):
                raise _fail(name, f"transformers {first.index} and {other.index} run in parallel at different "
                                  f"ratios ({abs(first.ratio):.6g} and {abs(other.ratio):.6g} p.u.: taps or "
                                  "ratings differ); give them the same tap position")
        if len(members) == 1:
            out.append(first)
            continue
        z = 1.0 / sum(1.0 / tb.z_pu for tb in members)
        out.append(TrafoBranch(first.index, first.hv_bus, first.lv_bus, first.ratio, z,
                               sum(tb.y_hv_pu for tb in members), sum(tb.y_lv_pu for tb in members),
                               sum(tb.i_max_ka for tb in members), tuple(tb.index for tb in members)))
    return out


def _substation_of(net, br: _Branch, egs: list[int], slack_buses: set[int]) -> str:
    """The substation a branch leaving the slack belongs to (for messages)."""
    if br.kind == "trafo":
        return f"transformer {br.index}"
    if br.kind == "source":
        return f"external grid {br.index}"
    end = br.f if br.f in slack_buses else br.t
    for e in egs:
        if int(net.ext_grid.at[e, "bus"]) == end:
            return f"external grid {e}"
    return f"external grid {egs[0]}"


def _check_substations(net, name: str, branches: list[_Branch], f: np.ndarray, t: np.ndarray, labels: tuple[str, ...],
                       egs: list[int], slack_buses: set[int]) -> None:
    """In the base state (the file's switch states) each tree below the slack must be fed from one substation:
    two closed branches from the slack into one tree that belong to different substations are refused."""
    g = nx.MultiGraph()
    g.add_nodes_from(range(1, len(labels)))
    for k, br in enumerate(branches):
        if not br.open and f[k] != 0 and t[k] != 0:
            g.add_edge(int(f[k]), int(t[k]), key=k)
    tree_of = {b: i for i, comp in enumerate(nx.connected_components(g)) for b in comp}
    seen: dict[int, tuple[int, str]] = {}
    for k, br in enumerate(branches):
        if br.open or (f[k] != 0) == (t[k] != 0):
            continue
        tree = tree_of[int(f[k] if f[k] != 0 else t[k])]
        sub = _substation_of(net, br, egs, slack_buses)
        if tree in seen and seen[tree][1] != sub:
            from cosim.networks.switched import _branch_text  # noqa: PLC0415 - its message helper

            def text(b: _Branch, s: str) -> str:
                return f"{s} ({_branch_text(net, b)})" if b.kind == "line" else s

            bus = labels[int(f[k] if f[k] != 0 else t[k])]
            raise _fail(name, f"two substations in one tree: in the base state (the file's switch states) "
                              f"{text(branches[seen[tree][0]], seen[tree][1])} and {text(br, sub)} both feed the "
                              f"tree of {bus}; open a switch between them so that each substation feeds its own "
                              "tree")
        seen.setdefault(tree, (k, sub))


def convert_branches(net, name: str, description: str, egs: list[int], trafos: list[int], uf: _UnionFind,
                     live: set[int]) -> GridNetwork:
    """The radial model with transformers as branches (see the module docstring)."""
    _hv_lines(net, name, egs, trafos, live)
    slack_bus = int(net.ext_grid.at[egs[0], "bus"])
    v0 = _ext_voltage(net, egs[0])
    sources: list[tuple[int, complex]] = []  # (external grid, ratio) of sources at another voltage
    for e in egs[1:]:
        bus = int(net.ext_grid.at[e, "bus"])
        v = _ext_voltage(net, e)
        if abs(v - v0) <= 1e-12:
            uf.union(slack_bus, bus)
        elif uf.find(bus) == uf.find(slack_bus):
            raise _fail(name, f"external grids {egs[0]} and {e} sit on one busbar at different voltages "
                              f"({abs(v0):g} and {abs(v):g} p.u.)")
        else:
            sources.append((e, v0 / v))
    slack_group = uf.find(slack_bus)
    switched_mode = bool(len(net.switch[net.switch.et == "l"])
                         or len(net.switch[(net.switch.et == "b") & ~net.switch.closed.astype(bool)]))
    branches, dropped = _branches(net, name, uf, live, None, switched_mode)
    data: dict[int, TrafoBranch] = {}
    for tb in _parallel_merged(net, name, [trafo_branch(net, ti, name) for ti in trafos], uf):
        data[len(branches)] = tb
        branches.append(_Branch("trafo", tb.index, tb.hv_bus, tb.lv_bus, False, None, False))
    ratio_of: dict[int, complex] = {}
    for e, ratio in sources:
        ratio_of[len(branches)] = ratio
        branches.append(_Branch("source", e, slack_bus, int(net.ext_grid.at[e, "bus"]), False, None, False))
    for br in branches:
        if br.kind == "line" and float(net.bus.at[br.f, "vn_kv"]) != float(net.bus.at[br.t, "vn_kv"]):
            raise _fail(name, f"{_line_label(net, br.index)} joins buses at {float(net.bus.at[br.f, 'vn_kv']):g} "
                              f"and {float(net.bus.at[br.t, 'vn_kv']):g} kV; a line stays on one voltage level")

    fed, groups, elements_at = _fed_groups(net, name, uf, live, branches, slack_group, None,
                                           "no line, switch or transformer can connect it to a substation")
    closed = nx.Graph()
    closed.add_nodes_from(fed)
    closed.add_edges_from((uf.find(br.f), uf.find(br.t)) for br in branches if not br.open)
    energised = nx.node_connected_component(closed, slack_group)
    fed = {grp for grp in fed if grp in energised or set(groups[grp]) & elements_at}
    keep = [k for k, br in enumerate(branches) if uf.find(br.f) in fed and uf.find(br.t) in fed]
    data = {keep.index(k): tb for k, tb in data.items() if k in keep}
    ratio_of = {keep.index(k): r for k, r in ratio_of.items() if k in keep}
    branches = [branches[k] for k in keep]
    order = [slack_group] + sorted((grp for grp in fed if grp != slack_group), key=lambda grp: min(groups[grp]))
    pos_of_group = {grp: i for i, grp in enumerate(order)}
    position_of_bus = {b: pos_of_group[uf.find(b)] for b in live if uf.find(b) in pos_of_group}
    labels = tuple(_label(net, min(groups[grp])) for grp in order)
    bus_kv = np.array([float(net.bus.at[min(groups[grp]), "vn_kv"]) for grp in order])
    slack_buses = {b for b, k in position_of_bus.items() if k == 0}
    radial = _radial(net, name, branches, position_of_bus, bus_kv, abs(v0), labels, data, ratio_of, egs, slack_buses)
    line_of_branch = {k + 1: br.index for k, br in enumerate(branches) if br.kind == "line"}
    switch_of_branch = {k + 1: br.switch for k, br in enumerate(branches) if br.switch is not None}
    trafo_of_branch = {k + 1: br.index for k, br in enumerate(branches) if br.kind == "trafo"}
    parallel = {k + 1: data[k].members for k in data if len(data[k].members) > 1}
    n_sub = len(egs) - len(sources) if not trafos else sum(
        1 for br in branches if br.kind == "trafo" and position_of_bus[br.f] == 0)
    desc = description or (f"{name}: {radial.n_bus} buses, {radial.n_branch} branches ({len(trafo_of_branch)} "
                           f"transformer(s)), {len(radial.loops)} loops, {max(n_sub, 1)} substation(s)")
    return GridNetwork(name, net, radial, line_of_branch, desc, switch_of_branch=switch_of_branch,
                       position_of_bus=position_of_bus, oltc_trafos=(), dropped_switches=tuple(dropped),
                       trafo_of_branch=trafo_of_branch, parallel_trafos=parallel)


def _radial(net, name: str, branches: list[_Branch], position_of_bus: dict[int, int], bus_kv: np.ndarray,
            v_slack: float, labels: tuple[str, ...], data: dict[int, TrafoBranch],
            ratio_of: dict[int, complex], egs: list[int], slack_buses: set[int]) -> ConvertedNetwork:
    base_mva = float(net.sn_mva)
    nbr, nb = len(branches), len(labels)
    f = np.array([position_of_bus[br.f] for br in branches], dtype=int)
    t = np.array([position_of_bus[br.t] for br in branches], dtype=int)
    r, x = np.zeros(nbr), np.zeros(nbr)
    tap = np.ones(nbr, complex)
    y = np.zeros(nbr, complex)
    stub = np.zeros(nbr, complex)
    stub_bus = np.full(nbr, -1, dtype=int)
    i_max = np.full(nbr, np.inf)
    shunt = np.zeros(nb, complex)
    omega = 2.0 * math.pi * float(net.f_hz)
    for k, br in enumerate(branches):
        if br.kind == "trafo":
            tb = data[k]
            r[k], x[k], tap[k] = tb.z_pu.real, tb.z_pu.imag, tb.ratio
            shunt[f[k]] += tb.y_hv_pu
            shunt[t[k]] += tb.y_lv_pu
            i_max[k] = tb.i_max_ka
            continue
        if br.kind == "source":
            tap[k] = ratio_of[k]
            continue
        if br.kind != "line":
            continue
        zb = bus_kv[f[k]] ** 2 / base_mva  # each line on its own level's base
        r[k], x[k], y[k], stub[k], stub_bus[k], i_max[k] = line_pu(net, br, zb, omega, position_of_bus)
    p, q = bus_loads_kw(net, position_of_bus, nb)
    v_min, v_max = _voltage_band(net, name, position_of_bus)
    _check_substations(net, name, branches, f, t, labels, egs, slack_buses)
    _check_base_state(net, name, branches, f, t, labels)
    return ConvertedNetwork(
        name=name, base_kv=float(bus_kv[0]), base_mva=base_mva, slack_bus=0, from_bus=f, to_bus=t, r_pu=r, x_pu=x,
        p_load_kw=p, q_load_kvar=q, branch_ids=np.arange(1, nbr + 1),
        tie_branches=tuple(k + 1 for k, br in enumerate(branches) if br.open), i_max_ka=i_max, v_min_pu=v_min,
        v_max_pu=v_max, bus_labels=labels, fixed_branches=tuple(k + 1 for k, br in enumerate(branches)
                                                                  if not br.switchable),
        v_slack_pu=v_slack, charging_y_pu=y, stub_y_pu=stub, stub_bus=stub_bus, bus_kv=bus_kv, tap_ratio=tap,
        bus_shunt_y_pu=shunt,
    )
