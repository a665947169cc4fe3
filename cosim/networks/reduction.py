"""A reduced model of an MV+LV grid: every LV grid aggregated at its MV/LV transformer, the MV network kept.

A city DSO operates the MV switches; its ~10,000 LV buses matter to it through what each LV grid draws and how much
its transformer can carry. The reduction keeps, of a converted MV+LV grid (`cosim.networks.switched`):

* every bus at or above `LV_KV_MAX` (the HV slack, the MV buses) and every branch between two of them (MV lines,
  switches, HV/MV transformers), with their branch ids: a plan on the reduced model opens the same switches;
* each MV/LV transformer, with its impedance, ratio and rating (the LV grid's hosting limit), ending at one node that
  stands for its whole LV grid: the transformer's LV busbar (0.4 kV);
* each LV grid's loads, generators, line charging and shunts summed at that node (the LV lines' series impedance is
  dropped: their voltage drop and losses are the reduction's error, measured by `cosim.networks.reduction_gap`);
* one voltage band for every bus, the loosest of the net's own (see `_loosest_band`).

Bus numbers change (about 280 buses instead of 10,453 on SimBench's urban MV+LV grid), branch ids do not. The
reduced `GridNetwork` keeps the ORIGINAL pandapower net: the grid simulator runs the full MV+LV net through it
(every load and generator its own element), with the lots and per-bus overrides of an LV grid's node connected at
that grid's LV busbar (`connection_buses`). Its `position_of_bus` maps every pandapower bus to its reduced node, so
per-bus forecasts (the market's) come out aggregated.

Network name: "simbench:<code>:reduced" (`REDUCED_SUFFIX`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import networkx as nx
import numpy as np

from cosim.networks.converted import ConvertedNetwork
from cosim.networks.converter import GridNetwork
from cosim.powerflow.network_data import NetworkDataError

__all__ = ["LV_KV_MAX", "REDUCED_SUFFIX", "Reduction", "reduce_grid", "split_reduced"]

LV_KV_MAX = 1.0
"""Buses below this nominal voltage (kV) are LV and aggregated at their transformer."""
REDUCED_SUFFIX = ":reduced"


def split_reduced(code: str) -> tuple[str, bool]:
    """("1-MVLV-urban-all-0-sw", True) for "1-MVLV-urban-all-0-sw:reduced"; the code unchanged otherwise."""
    if code.endswith(REDUCED_SUFFIX):
        return code[: -len(REDUCED_SUFFIX)], True
    return code, False


@dataclass(frozen=True)
class Reduction:
    """How a full model's buses map onto the reduced one (0-based positions)."""

    node_of_bus: np.ndarray  # (n_full,) reduced position of each full-model bus
    lv_grid_of_bus: np.ndarray  # (n_full,) LV grid index of each full bus, -1 for MV/HV buses
    lv_trafo_branch: np.ndarray  # (n_lv_grids,) branch id of each LV grid's transformer
    lv_node: np.ndarray  # (n_lv_grids,) reduced position of each LV grid's node

    @property
    def n_lv_grids(self) -> int:
        return len(self.lv_trafo_branch)

    def aggregate(self, values: np.ndarray, n_reduced: int) -> np.ndarray:
        """Per-bus values (..., n_full) summed onto the reduced buses (..., n_reduced)."""
        values = np.asarray(values, float)
        out = np.zeros((*values.shape[:-1], n_reduced))
        np.add.at(out, (..., self.node_of_bus), values)
        return out


def _lv_grids(r: ConvertedNetwork, trafo_ids: set[int]) -> tuple[np.ndarray, list[int], list[int]]:
    """(LV grid of each bus or -1, each LV grid's transformer branch position, its LV-end bus)."""
    lv = r.bus_kv < LV_KV_MAX
    g = nx.Graph()
    g.add_nodes_from(np.flatnonzero(lv).tolist())
    feeders: dict[int, tuple[int, int]] = {}  # LV-end bus -> (branch position, LV-end bus)
    for k in range(r.n_branch):
        f, t = int(r.from_bus[k]), int(r.to_bus[k])
        if lv[f] and lv[t]:
            g.add_edge(f, t)
        elif lv[f] != lv[t]:
            if int(r.branch_ids[k]) not in trafo_ids:
                raise NetworkDataError(f"network {r.name!r}: branch {int(r.branch_ids[k])} joins an LV bus to a "
                                       "higher level without a transformer")
            end = t if lv[t] else f
            feeders[end] = (k, end)
    grid_of = np.full(r.n_bus, -1, dtype=int)
    trafo_pos, lv_end = [], []
    for comp in sorted(nx.connected_components(g), key=min):
        ends = sorted(set(comp) & set(feeders))
        if len(ends) != 1:
            where = r.bus_labels[min(comp)]
            raise NetworkDataError(f"network {r.name!r}: the LV grid at {where} is fed by {len(ends)} transformers; "
                                   "the reduction aggregates each LV grid at exactly one")
        grid_of[list(comp)] = len(trafo_pos)
        trafo_pos.append(feeders[ends[0]][0])
        lv_end.append(ends[0])
    return grid_of, trafo_pos, lv_end


def reduce_grid(full: GridNetwork) -> tuple[GridNetwork, Reduction]:
    """The reduced model of a converted MV+LV grid (see the module docstring) and its bus map."""
    r = full.radial
    if not isinstance(r, ConvertedNetwork):
        raise NetworkDataError(f"network {full.name!r} is not a converted pandapower net; nothing to reduce")
    grid_of, trafo_pos, lv_end = _lv_grids(r, set(full.trafo_of_branch))
    if not trafo_pos:
        raise NetworkDataError(f"network {full.name!r} has no LV grid (no bus below {LV_KV_MAX:g} kV) to reduce")
    keep_bus = (grid_of < 0)
    keep_bus[lv_end] = True
    new_pos = np.cumsum(keep_bus) - 1
    node_of_bus = new_pos.copy()
    in_lv = grid_of >= 0
    node_of_bus[in_lv] = new_pos[np.asarray(lv_end)[grid_of[in_lv]]]
    n_red = int(keep_bus.sum())
    lv_branch = in_lv[r.from_bus] & in_lv[r.to_bus]
    keep_br = ~lv_branch
    kb = np.flatnonzero(keep_br)
    open_ids = set(int(b) for b in r.tie_branches)
    # what the dropped LV branches leave at their grid's node: the charging of a closed one, the stub of an open one
    shunt = np.zeros(n_red, complex)
    np.add.at(shunt, node_of_bus, r.bus_shunt_y_pu)
    dropped = np.flatnonzero(lv_branch)
    is_open = np.isin(r.branch_ids[dropped], list(open_ids))
    np.add.at(shunt, node_of_bus[r.from_bus[dropped]], np.where(is_open, r.stub_y_pu[dropped],
                                                                r.charging_y_pu[dropped]))
    p = np.zeros(n_red)
    q = np.zeros(n_red)
    np.add.at(p, node_of_bus, r.p_load_kw)
    np.add.at(q, node_of_bus, r.q_load_kvar)
    ids = set(int(b) for b in r.branch_ids[kb])
    band = _loosest_band(full, r)
    labels = tuple(r.bus_labels[b] if grid_of[b] < 0 else f"LV grid of {r.bus_labels[b]}"
                   for b in np.flatnonzero(keep_bus))
    stub_bus = r.stub_bus[kb]
    reduced = ConvertedNetwork(
        name=full.name + REDUCED_SUFFIX, base_kv=r.base_kv, base_mva=r.base_mva,
        slack_bus=int(node_of_bus[r.slack_bus]),
        from_bus=node_of_bus[r.from_bus[kb]], to_bus=node_of_bus[r.to_bus[kb]], r_pu=r.r_pu[kb], x_pu=r.x_pu[kb],
        p_load_kw=p, q_load_kvar=q, branch_ids=r.branch_ids[kb].copy(),
        tie_branches=tuple(b for b in r.tie_branches if b in ids), i_max_ka=r.i_max_ka[kb], v_min_pu=band[0],
        v_max_pu=band[1], bus_labels=labels, fixed_branches=tuple(b for b in r.fixed_branches if b in ids),
        bus_kv=r.bus_kv[keep_bus], tap_ratio=r.tap_ratio[kb], v_slack_pu=r.v_slack_pu,
        charging_y_pu=r.charging_y_pu[kb], stub_y_pu=r.stub_y_pu[kb],
        stub_bus=np.where(stub_bus >= 0, node_of_bus[np.maximum(stub_bus, 0)], -1),
        slack_section=r.slack_section[kb], section_s_max_kva=r.section_s_max_kva, section_names=r.section_names,
        bus_shunt_y_pu=shunt)
    position = {int(b): int(node_of_bus[k]) for b, k in full.position_of_bus.items()}
    connection = _connection_buses(full, node_of_bus, n_red, trafo_pos)
    red = replace(
        full, name=reduced.name, radial=reduced,
        line_of_branch={b: li for b, li in full.line_of_branch.items() if b in ids},
        description=(f"{full.name} reduced: {n_red} buses ({len(trafo_pos)} LV grids aggregated at their "
                     f"transformers), {reduced.n_branch} branches; the grid simulator runs the full net"),
        switch_of_branch={b: s for b, s in full.switch_of_branch.items() if b in ids}, position_of_bus=position,
        trafo_of_branch={b: t for b, t in full.trafo_of_branch.items() if b in ids},
        parallel_trafos={b: t for b, t in full.parallel_trafos.items() if b in ids}, connection_buses=connection)
    return red, Reduction(node_of_bus.astype(int), grid_of, r.branch_ids[trafo_pos].astype(int),
                          node_of_bus[lv_end].astype(int))


def _loosest_band(full: GridNetwork, r: ConvertedNetwork) -> tuple[float, float]:
    """(v_min, v_max) of the reduced model: the loosest of the buses' own bands (SimBench: 0.9 .. 1.1 p.u. in its LV
    grids, 0.965 .. 1.055 at MV). The model holds one band for all buses, and the full model's (the tightest load
    bus's: 0.965 .. 1.01) no reduced node can meet (an LV node sits at the LV grid's busbar, 0.94 p.u. at the
    nominal loads); what the LV grids' buses reach in reality is `reduction_gap`'s table."""
    bus = full.net.bus
    mins = bus.min_vm_pu.astype(float).dropna() if "min_vm_pu" in bus.columns else []
    maxs = bus.max_vm_pu.astype(float).dropna() if "max_vm_pu" in bus.columns else []
    return (min(float(mins.min()), r.v_min_pu) if len(mins) else r.v_min_pu,
            max(float(maxs.max()), r.v_max_pu) if len(maxs) else r.v_max_pu)


def _connection_buses(full: GridNetwork, node_of_bus: np.ndarray, n_red: int, trafo_pos: list[int]
                      ) -> tuple[int, ...]:
    """The pandapower bus where each reduced node's lots connect: the lowest-numbered pandapower bus of an MV
    node (as for any converted net); an LV grid's node: its transformer's LV busbar."""
    out: dict[int, int] = {}
    for bus, k in sorted(full.position_of_bus.items()):
        out.setdefault(int(node_of_bus[k]), int(bus))
    net = full.net
    for k in trafo_pos:
        ti = full.trafo_of_branch[int(full.radial.branch_ids[k])]
        lv_bus = int(net.trafo.at[ti, "lv_bus"])
        out[int(node_of_bus[full.position_of_bus[lv_bus]])] = lv_bus
    return tuple(out[k] for k in range(n_red))
