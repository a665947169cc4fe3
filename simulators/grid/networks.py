"""Test networks as pandapower nets paired with their per-unit `RadialNetwork` for the fast power flow.

Every branch is a pandapower line, switchable through `in_service`; branch numbers follow the literature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from cosim.powerflow.network_data import NetworkDataError, RadialNetwork


@dataclass
class GridNetwork:
    """A pandapower net, its radial per-unit model and which lines are which branch number."""

    name: str
    net: pp.pandapowerNet
    radial: RadialNetwork
    line_of_branch: dict[int, int]  # branch id -> pandapower line index

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


def radial_from_pandapower(
    net: pp.pandapowerNet, name: str, branch_ids: list[int], tie_branches: tuple[int, ...], v_min_pu: float = 0.9,
    v_max_pu: float = 1.05,
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
    )


def ieee33() -> GridNetwork:
    """IEEE 33-bus (Baran & Wu 1989) from pandapower: branches 1..32 sectionalising, 33..37 ties (open)."""
    net = pn.case33bw()
    branch_ids = list(range(1, len(net.line) + 1))
    ties = (33, 34, 35, 36, 37)
    net.line["name"] = [str(b) for b in branch_ids]
    net.line["in_service"] = [b not in ties for b in branch_ids]
    radial = radial_from_pandapower(net, "ieee33", branch_ids, ties)
    return GridNetwork("ieee33", net, radial, {b: int(i) for b, i in zip(branch_ids, net.line.index)})


NETWORKS: dict[str, Callable[[], GridNetwork]] = {"ieee33": ieee33}


def load_network(name: str) -> GridNetwork:
    """Build a network by name; clear error listing the known names."""
    try:
        builder = NETWORKS[name]
    except KeyError:
        raise NetworkDataError(f"unknown network {name!r}; known networks: {', '.join(sorted(NETWORKS))}") from None
    return builder()
