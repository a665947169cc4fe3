"""IEEE 33-bus feeder (Baran & Wu 1989), from pandapower's case33bw."""

from __future__ import annotations

import pandapower.networks as pn

from cosim.networks.converter import GridNetwork, radial_from_pandapower


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
