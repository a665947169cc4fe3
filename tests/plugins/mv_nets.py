"""Small pandapower MV nets for the converter tests: transformers, couplers, line and bus-bus switches."""

from __future__ import annotations

import pandapower as pp


def ring_mv(parallel_trafos: bool = True, tie_open: bool = True, unswitched_section: bool = False,
            island: bool = False) -> pp.pandapowerNet:
    """110 kV external grid, two 25 MVA transformers with automatic tap changers (parallel through closed HV and
    MV couplers, or feeding separate MV busbars), two 20 kV cable feeders of 3 sections each joined at their ends
    by a tie line (a switch at both ends, the one at the far end open), loads and PV on every feeder bus, and an
    open bus-bus switch between the two middle buses (a second tie). unswitched_section: feeder 0's second
    section has no switch."""
    net = pp.create_empty_network(sn_mva=1.0)
    hv = [pp.create_bus(net, 110.0, name=f"HV{i}") for i in range(2)]
    mv_bb = [pp.create_bus(net, 20.0, name=f"busbar {i}", min_vm_pu=0.95, max_vm_pu=1.06) for i in range(2)]
    pp.create_ext_grid(net, hv[0], vm_pu=1.02)
    pp.create_switch(net, hv[0], hv[1], et="b", closed=True, name="HV coupler")
    for i in range(2):
        t = pp.create_transformer(net, hv[i], mv_bb[i], std_type="25 MVA 110/20 kV", name=f"T{i}")
        pp.create_switch(net, hv[i], t, et="t", closed=True)
    net.trafo["autoTap"] = True  # on-load tap changers holding the MV busbar (SimBench's flag): the busbar is the slack
    pp.create_switch(net, mv_bb[0], mv_bb[1], et="b", closed=parallel_trafos, name="MV coupler")
    feeders = []
    for f in range(2):
        prev = mv_bb[f]
        buses = []
        for k in range(3):
            b = pp.create_bus(net, 20.0, name=f"F{f} bus {k + 1}", min_vm_pu=0.95, max_vm_pu=1.06)
            ln = pp.create_line(net, prev, b, 1.5, std_type="NA2XS2Y 1x185 RM/25 12/20 kV", name=f"F{f} line {k}")
            if not (unswitched_section and f == 0 and k == 1):
                pp.create_switch(net, prev, ln, et="l", closed=True)
                pp.create_switch(net, b, ln, et="l", closed=True)
            pp.create_load(net, b, p_mw=0.9 + 0.2 * k, q_mvar=0.3, name=f"load F{f}.{k}")
            pp.create_sgen(net, b, p_mw=0.2, q_mvar=0.0, name=f"pv F{f}.{k}")
            buses.append(b)
            prev = b
        feeders.append(buses)
    tie = pp.create_line(net, feeders[0][-1], feeders[1][-1], 2.0, std_type="NA2XS2Y 1x185 RM/25 12/20 kV",
                         name="tie line")
    pp.create_switch(net, feeders[0][-1], tie, et="l", closed=True)
    pp.create_switch(net, feeders[1][-1], tie, et="l", closed=not tie_open, name="tie switch")
    pp.create_switch(net, feeders[0][1], feeders[1][1], et="b", closed=False, name="middle tie")
    if island:
        b = pp.create_bus(net, 20.0, name="lonely")
        pp.create_load(net, b, p_mw=0.1, q_mvar=0.0)
    return net


def meshed_without_switches() -> pp.pandapowerNet:
    """A 20 kV triangle fed by an external grid, no switch anywhere."""
    net = pp.create_empty_network()
    b = [pp.create_bus(net, 20.0, name=f"b{i}") for i in range(3)]
    pp.create_ext_grid(net, b[0])
    for i, j in ((0, 1), (1, 2), (2, 0)):
        pp.create_line(net, b[i], b[j], 1.0, std_type="NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_load(net, b[2], p_mw=1.0, q_mvar=0.2)
    return net


def tie_and_sectionaliser(meshed: bool = False) -> pp.pandapowerNet:
    """A 20 kV net fed by an external grid at its busbar (pinned at 1.0-1.0 p.u., as pandapower's cases do), two
    feeders joined into one loop: feeder A busbar - a1 - a2 - a3 (lines without switches) - closed bus-bus switch
    (a sectionaliser the converter merges) - a4; feeder B busbar - b1 (no switch) - b2 (a closed line switch: the
    sectionaliser); the tie line a4 - b2 with an open switch; a spur a2 - s1 without switch. Load buses have the
    band 0.92-1.08. meshed: one more line without switch between a1 and a3 (a loop no switch can open)."""
    net = pp.create_empty_network(sn_mva=1.0)
    cable = "NA2XS2Y 1x185 RM/25 12/20 kV"
    bb = pp.create_bus(net, 20.0, name="busbar", min_vm_pu=1.0, max_vm_pu=1.0)
    pp.create_ext_grid(net, bb, vm_pu=1.0)
    names = ("a1", "a2", "a3", "a3'", "a4", "b1", "b2", "s1")
    bus = {n: pp.create_bus(net, 20.0, name=n, min_vm_pu=0.92, max_vm_pu=1.08) for n in names}
    bus["busbar"] = bb
    lines = {}
    for f, t, km in (("busbar", "a1", 1.5), ("a1", "a2", 1.2), ("a2", "a3", 1.0), ("a3'", "a4", 1.0),
                     ("busbar", "b1", 2.0), ("b1", "b2", 1.5), ("a4", "b2", 1.8), ("a2", "s1", 0.8)):
        lines[(f, t)] = pp.create_line(net, bus[f], bus[t], km, std_type=cable, name=f"{f}-{t}")
    pp.create_switch(net, bus["a3"], bus["a3'"], et="b", closed=True, name="bus-bus sectionaliser")
    pp.create_switch(net, bus["b2"], lines[("b1", "b2")], et="l", closed=True, name="line sectionaliser")
    pp.create_switch(net, bus["b2"], lines[("a4", "b2")], et="l", closed=False, name="tie switch")
    for n in ("a1", "a2", "a3", "a4", "b1", "b2", "s1"):
        pp.create_load(net, bus[n], p_mw=0.6, q_mvar=0.15, name=f"load {n}")
    if meshed:
        pp.create_line(net, bus["a1"], bus["a3"], 1.1, std_type=cable, name="a1-a3")
    return net
