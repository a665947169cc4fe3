"""Small pandapower MV nets for the converter tests: transformers, couplers, line and bus-bus switches."""

from __future__ import annotations

import pandapower as pp


def ring_mv(parallel_trafos: bool = True, tie_open: bool = True, unswitched_section: bool = False,
            island: bool = False) -> pp.pandapowerNet:
    """110 kV external grid, two 25 MVA transformers (parallel through closed HV and MV couplers, or feeding
    separate MV busbars), two 20 kV cable feeders of 3 sections each joined at their ends by a tie line (a switch
    at both ends, the one at the far end open), loads and PV on every feeder bus, and an open bus-bus switch
    between the two middle buses (a second tie). unswitched_section: feeder 0's second section has no switch."""
    net = pp.create_empty_network(sn_mva=1.0)
    hv = [pp.create_bus(net, 110.0, name=f"HV{i}") for i in range(2)]
    mv_bb = [pp.create_bus(net, 20.0, name=f"busbar {i}", min_vm_pu=0.95, max_vm_pu=1.06) for i in range(2)]
    pp.create_ext_grid(net, hv[0], vm_pu=1.02)
    pp.create_switch(net, hv[0], hv[1], et="b", closed=True, name="HV coupler")
    for i in range(2):
        t = pp.create_transformer(net, hv[i], mv_bb[i], std_type="25 MVA 110/20 kV", name=f"T{i}")
        pp.create_switch(net, hv[i], t, et="t", closed=True)
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
