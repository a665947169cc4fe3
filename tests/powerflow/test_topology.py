"""Radiality checks, loop encoding/repair, spanning-tree enumeration and the IEEE 33 optimum."""

import dataclasses
import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.networks import load_network
from cosim.powerflow.network_data import RadialNetwork
from cosim.powerflow.topology import (
    TopologyError,
    best_configuration,
    check_radial,
    count_spanning_trees,
    decode_loops,
    enumerate_radial,
    is_radial,
    radial_mask,
    repair,
)


@pytest.fixture(scope="module")
def net():
    return load_network("ieee33").radial


@pytest.fixture(scope="module")
def configs(net):
    return enumerate_radial(net)


def test_base_and_optimum_are_radial(net):
    check_radial(net, net.tie_branches)
    assert is_radial(net, [7, 9, 14, 32, 37])
    assert not is_radial(net, [33, 34, 35, 36])


def test_loop_error_names_the_loop(net):
    with pytest.raises(TopologyError, match=r"loop through branches \[3, 4, 5, 22, 23, 24, 25, 26, 27, 28, 37\]"):
        check_radial(net, [33, 34, 35, 36])


def test_island_error_names_buses(net):
    # opening 17 and 36 cuts bus 18 (end of the main feeder) away: 17 joins 17-18, 36 joins 18-33
    with pytest.raises(TopologyError, match=r"islands bus\(es\) \['18'\]"):
        check_radial(net, [17, 36, 33, 34, 35])


def test_unknown_and_duplicate_errors(net):
    with pytest.raises(TopologyError, match="no branch"):
        check_radial(net, [33, 34, 35, 36, 99])
    with pytest.raises(TopologyError, match="more than once"):
        check_radial(net, [33, 33, 34, 35, 36])
    with pytest.raises(TopologyError, match="no branch"):
        radial_mask(net, [[0, 1, 2, 3, 4]])
    assert issubclass(TopologyError, ValueError)


def test_radial_mask_matches_networkx(net):
    rng = np.random.default_rng(0)
    rows = np.array([rng.choice(net.branch_ids, size=5, replace=False) for _ in range(300)])
    mask = radial_mask(net, rows)
    for row, m in zip(rows, mask):
        assert m == nx.is_tree(nx.Graph(net.graph(row))), row
    assert 0 < mask.sum() < len(rows)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_check_radial_accepts_exactly_the_spanning_trees_whatever_the_number_opened(net, data):
    """`check_radial` answers a radial configuration by the compiled search and builds its networkx graph only to
    name a problem: on any set of distinct switchable branches (none to eight of them), it passes exactly when
    the closed branches form a spanning tree (networkx), and otherwise names a loop or islanded buses."""
    ids = data.draw(st.lists(st.sampled_from([int(b) for b in net.branch_ids]), max_size=8, unique=True))
    g = net.graph(ids)
    tree = nx.is_connected(g) and g.number_of_edges() == net.n_bus - 1  # a spanning tree of the buses
    if tree:
        check_radial(net, ids)
    else:
        with pytest.raises(TopologyError, match="leaves a loop|islands bus"):
            check_radial(net, ids)


def test_spanning_tree_count_matrix_tree_theorem(net, configs):
    assert count_spanning_trees(net) == 50751  # known count for IEEE 33 with all 37 branches switchable
    assert configs.shape == (count_spanning_trees(net), 5)
    assert len(np.unique(configs, axis=0)) == len(configs)
    assert radial_mask(net, configs).all()
    assert np.all(np.diff(configs, axis=1) > 0)  # sorted ids, no duplicates


def test_enumeration_complete_on_small_mesh():
    """Brute force over every open set of a small meshed network gives the same set."""
    f = np.array([0, 1, 2, 3, 1, 4, 2, 0, 5])
    t = np.array([1, 2, 3, 4, 4, 5, 5, 5, 3])
    small = RadialNetwork(
        name="mesh6", base_kv=10.0, base_mva=1.0, slack_bus=0, from_bus=f, to_bus=t, r_pu=np.full(9, 0.01),
        x_pu=np.full(9, 0.01), p_load_kw=np.full(6, 10.0), q_load_kvar=np.full(6, 5.0),
        branch_ids=np.arange(1, 10), tie_branches=(5, 7, 8, 9),
    )
    brute = sorted(c for c in itertools.combinations(range(1, 10), 4) if is_radial(small, c))
    got = [tuple(r) for r in enumerate_radial(small)]
    assert got == brute
    assert len(got) == count_spanning_trees(small)


@settings(max_examples=40, deadline=None)
@given(positions=st.lists(st.floats(0, 1, exclude_max=True), min_size=5, max_size=5), seed=st.integers(0, 2**32 - 1))
def test_decode_then_repair_is_radial(net, positions, seed):
    ids = decode_loops(net, np.array([positions]))
    for j, loop in enumerate(net.loops):
        assert ids[0, j] in loop
    fixed = repair(net, ids, np.random.default_rng(seed))
    assert radial_mask(net, fixed).all()
    if is_radial(net, ids[0]):
        assert np.array_equal(fixed, ids)  # valid choices are kept
    again = repair(net, ids, np.random.default_rng(seed))
    assert np.array_equal(fixed, again)  # deterministic given rng


def test_repair_fixes_duplicates(net):
    fixed = repair(net, [[33, 33, 33, 33, 33]], np.random.default_rng(1))
    assert is_radial(net, fixed[0]) and len(set(fixed[0].tolist())) == 5


def test_optimum_ieee33(net, configs):
    best, loss, vmin = best_configuration(net, net.p_load_kw, net.q_load_kvar, configs)
    assert sorted(best.tolist()) == [7, 9, 14, 32, 37]
    assert loss == pytest.approx(139.55, abs=0.01)
    assert vmin == pytest.approx(0.9378, abs=1e-4)


def test_no_tie_network_has_one_configuration():
    r = load_network("ieee13").radial
    if r.n_branch != r.n_bus - 1:
        pytest.skip("ieee13 is meshed in this registry")
    assert enumerate_radial(r).shape == (1, 0)


def test_compiled_decode_picks_what_numpys_clip_product_and_truncation_pick(net):
    """decode_loops runs one compiled pass; its picks are those of the numpy expression it replaced, at the ends
    of [0, 1) (0, -0.0, 1, just below 1, outside the box) as well as in it."""
    rng = np.random.default_rng(3)
    x = rng.random((4000, len(net.loops)))
    x[:6] = np.array([0.0, -0.0, 1.0, np.nextafter(1.0, 0.0), -0.3, 1.7])[:, None]
    want = np.empty(x.shape, dtype=int)
    clipped = np.clip(x, 0.0, np.nextafter(1.0, 0.0))
    for j, loop in enumerate(net.loops):
        members = np.asarray(loop, dtype=int)
        want[:, j] = members[np.minimum((clipped[:, j] * len(members)).astype(int), len(members) - 1)]
    np.testing.assert_array_equal(decode_loops(net, x), want)
    listed = dataclasses.replace(net, loops=[list(loop) for loop in net.loops])  # lists take the converted key
    np.testing.assert_array_equal(decode_loops(listed, x), want)
