"""Network builders: sizes, numbering, ties/loops and base-case power flows against literature figures."""

import networkx as nx
import numpy as np
import pandapower as pp
import pytest

from cosim.networks import NETWORKS, load_network
from cosim.networks.ieee13 import IEEE13_BUSES
from cosim.powerflow.network_data import NetworkDataError


def _flow(g):
    pp.runpp(g.net, numba=False)
    return g.net.res_line.pl_mw.sum() * 1000.0, g.net.res_bus.vm_pu.to_numpy()


@pytest.mark.parametrize(
    "name, n_bus, n_branch, ties",
    [("ieee33", 33, 37, (33, 34, 35, 36, 37)), ("ieee69", 69, 73, (69, 70, 71, 72, 73)),
     ("ninebus", 9, 8, ()), ("ieee13", 12, 11, ()), ("dist118", 118, 132, tuple(range(118, 133)))],
)
def test_sizes_ties_and_loops(name, n_bus, n_branch, ties):
    g = load_network(name)
    assert g.n_bus == n_bus and len(g.net.line) == n_branch and g.radial.n_branch == n_branch
    assert g.tie_branches == ties
    assert len(g.loops) == len(ties)
    assert set(g.sectionalising_branches) | set(ties) == set(range(1, n_branch + 1))
    # every branch is a pandapower line switched by in_service; ties start open
    for bid, li in g.line_of_branch.items():
        assert bool(g.net.line.at[li, "in_service"]) == (bid not in ties)
    # base configuration is a spanning tree rooted at bus 1
    assert g.radial.slack_bus == 0
    tree = g.radial.graph(open_branch_ids=ties)
    assert tree.number_of_edges() == n_bus - 1
    assert nx.is_connected(tree)
    for loop in g.loops:
        assert len(set(loop) & set(ties)) == 1


def test_ieee33_base_case():
    losses, vm = _flow(load_network("ieee33"))
    assert losses == pytest.approx(202.7, abs=0.1)
    assert vm.min() == pytest.approx(0.913, abs=0.001) and int(vm.argmin()) + 1 == 18


def test_dist118_base_case_matches_the_literature():
    """Zhang et al. (2007) 118-bus feeder: 22,709.7 kW load, base-case losses 1,298.09 kW, v_min 0.8688 p.u."""
    g = load_network("dist118")
    assert g.radial.p_load_kw.sum() == pytest.approx(22709.72, abs=0.01)
    losses, vm = _flow(g)
    assert losses == pytest.approx(1298.09, abs=0.05)
    assert vm.min() == pytest.approx(0.8688, abs=0.0001)
    k = g.radial.branch_index(132)  # the last tie joins buses 25 and 35
    assert {int(g.radial.from_bus[k]) + 1, int(g.radial.to_bus[k]) + 1} == {25, 35}


def test_ieee69_base_case_and_known_optimum():
    g = load_network("ieee69")
    assert g.radial.p_load_kw.sum() == pytest.approx(3802.1, abs=0.5)
    # tie 69 joins buses 11 and 43; branch k feeds bus k+1
    k = g.radial.branch_index(69)
    assert {int(g.radial.from_bus[k]) + 1, int(g.radial.to_bus[k]) + 1} == {11, 43}
    k = g.radial.branch_index(56)
    assert int(g.radial.to_bus[k]) + 1 == 57
    losses, vm = _flow(g)
    assert losses == pytest.approx(225.0, abs=0.5)
    assert vm.min() == pytest.approx(0.909, abs=0.001)
    opened = {14, 57, 61, 69, 70}
    g.net.line["in_service"] = [b not in opened for b in sorted(g.line_of_branch)]
    losses_opt, vm_opt = _flow(g)
    assert losses_opt == pytest.approx(99.6, abs=0.3)
    assert vm_opt.min() > vm.min()


@pytest.mark.slow
def test_ninebus_levels_match_seed_table():
    paper = np.array([1, 0.9343, 0.9676, 0.9158, 0.9620, 0.8946, 0.9155, 0.8689, 0.9288])  # seed 001, no V2G
    results = {}
    for level in ("low", "medium", "peak"):
        g = load_network("ninebus", load_level=level)
        results[level] = _flow(g)
    assert load_network("ninebus").radial.p_load_kw.sum() == pytest.approx(68_600.0)  # default = peak
    _, vm_peak = results["peak"]
    assert np.abs(vm_peak - paper).max() < 0.02  # documented: within 0.017 p.u. (bus 7)
    assert results["low"][0] < results["medium"][0] < results["peak"][0]
    assert results["peak"][0] == pytest.approx(3916, rel=0.01)
    assert int(vm_peak.argmin()) + 1 == 8
    with pytest.raises(NetworkDataError, match="load_level 'huge'"):
        load_network("ninebus", load_level="huge")
    with pytest.raises(NetworkDataError, match="bad options"):
        load_network("ieee33", load_level="peak")


def test_ieee13_balanced_equivalent():
    g = load_network("ieee13")
    assert g.bus_labels == IEEE13_BUSES and g.bus_labels[0] == "650"
    assert g.radial.p_load_kw.sum() == pytest.approx(3466.0)
    assert g.radial.q_load_kvar.sum() == pytest.approx(2102.0)
    p = dict(zip(g.bus_labels, g.radial.p_load_kw))
    assert p["671"] == pytest.approx(3 * 385 + 170 + (17 + 66 + 117) / 2)  # 692 merged, half the distributed load
    losses, vm = _flow(g)
    assert losses == pytest.approx(136.2, abs=1.0)
    assert vm.min() == pytest.approx(0.911, abs=0.002)
    assert g.bus_labels[int(vm.argmin())] == "652"
    # XFM-1 (branch 3) is near its 500 kVA rating
    assert g.net.res_line.loading_percent.iloc[g.line_of_branch[3]] == pytest.approx(106, abs=2)


def test_registry_and_unknown_name():
    assert {"ieee33", "ieee69", "ninebus", "ieee13"} <= set(NETWORKS)
    with pytest.raises(NetworkDataError, match="unknown network 'nope'"):
        load_network("nope")
