"""Batched radial power flow: agreement with pandapower runpp and power-grid-model, NaN+flag on failure, input
errors, broadcasting, the compiled tree orders."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers import objectives as obj
from cosim.networks import NETWORKS, load_network
from cosim.powerflow.bfs import (
    PowerFlowInputError,
    open_positions,
    solve_radial_batch,
    solve_radial_summary,
    tree_orders,
    tree_paths,
)
from cosim.powerflow.topology import decode_loops, repair
from cosim.validate import runpp_case

AGREE_PU = 1e-8  # the flow's default tolerance keeps it this close to pandapower's Newton-Raphson


@pytest.fixture(scope="module")
def grid():
    return load_network("ieee33")


def random_cases(net, n, rng, negative=True):
    open_ids = repair(net, decode_loops(net, rng.random((n, len(net.loops)))), rng)
    scale = rng.uniform(0.0, 1.5, size=(n, net.n_bus))
    p = net.p_load_kw * scale
    q = net.q_load_kvar * scale
    if negative:  # a few parking lots injecting (V2G)
        lots = rng.integers(1, net.n_bus, size=(n, 3))
        np.put_along_axis(p, lots, -rng.uniform(50, 400, size=(n, 3)), axis=1)
    return open_ids, p, q


def assert_matches_runpp(grid, open_row, p, q, res_row_vm, res_row_va, loss_kw):
    ref = runpp_case(grid, open_row, p, q)
    assert ref is not None, "runpp did not converge where the fast flow did"
    vm, va, loss = ref
    assert np.abs(vm - res_row_vm).max() < AGREE_PU
    assert np.abs(va - res_row_va).max() < 1e-4
    assert loss_kw == pytest.approx(loss, rel=1e-6, abs=1e-6)


def test_base_case_ieee33(grid):
    r = grid.radial
    res = solve_radial_batch(r, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    assert res.ok.all() and res.batch == 1
    assert res.loss_kw[0] == pytest.approx(202.68, abs=0.01)
    assert res.vmin_pu[0] == pytest.approx(0.9131, abs=1e-4)
    # slack power balances loads + losses
    assert res.p_slack_kw[0] == pytest.approx(r.p_load_kw.sum() + res.loss_kw[0], rel=1e-9)
    # open branches carry no current, closed ones do
    ties = r.tie_indices
    assert np.all(res.i_branch_ka[0, ties] == 0) and np.all(np.delete(res.i_branch_ka[0], ties) > 0)


@pytest.mark.slow
def test_random_batch_agrees_with_runpp(grid):
    r = grid.radial
    rng = np.random.default_rng(1)
    open_ids, p, q = random_cases(r, 40, rng)
    res = solve_radial_batch(r, open_ids, p, q)
    assert res.ok.sum() >= 30
    checked = 0
    for i in np.flatnonzero(res.ok)[:12]:
        assert_matches_runpp(grid, open_ids[i], p[i], q[i], res.vm_pu[i], res.va_deg[i], res.loss_kw[i])
        checked += 1
    assert checked == 12


def test_each_case_equals_its_single_solve(grid):
    r = grid.radial
    open_ids, p, q = random_cases(r, 20, np.random.default_rng(2))
    res = solve_radial_batch(r, open_ids, p, q)
    for i in range(0, 20, 5):
        one = solve_radial_batch(r, open_ids[i], p[i], q[i])
        np.testing.assert_allclose(one.vm_pu[0], res.vm_pu[i], atol=1e-12, equal_nan=True)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
@pytest.mark.slow
def test_hypothesis_agreement(grid, seed):
    r = grid.radial
    rng = np.random.default_rng(seed)
    open_ids, p, q = random_cases(r, 1, rng)
    res = solve_radial_batch(r, open_ids, p, q)
    ref = runpp_case(grid, open_ids[0], p[0], q[0])
    if res.ok[0]:
        assert ref is not None
        assert np.abs(ref[0] - res.vm_pu[0]).max() < AGREE_PU
    else:
        assert np.all(np.isnan(res.vm_pu[0])) and not res.converged[0]


def test_grouped_topologies_match_per_case(grid):
    """3 topologies x 80 hours takes the grouped path; it must give the same numbers as per-case solving."""
    r = grid.radial
    rng = np.random.default_rng(3)
    open_ids, p, q = random_cases(r, 240, rng)
    topo = np.repeat(open_ids[:3], 80, axis=0)
    res = solve_radial_batch(r, topo, p, q)
    for i in (0, 50, 239):
        one = solve_radial_batch(r, topo[i], p[i], q[i])
        np.testing.assert_allclose(one.vm_pu[0], res.vm_pu[i], atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(one.loss_kw, res.loss_kw[i], rtol=1e-12, equal_nan=True)


def test_nonconvergence_is_nan_and_flagged(grid):
    r = grid.radial
    weak = [2, 3, 6, 8, 9]  # long feeder path
    normal = list(r.tie_branches)
    res = solve_radial_batch(r, [weak, normal], np.stack([5 * r.p_load_kw, r.p_load_kw]),
                             np.stack([5 * r.q_load_kvar, r.q_load_kvar]))
    assert not res.converged[0] and res.converged[1]
    assert list(res.ok) == [False, True]
    for arr in (res.vm_pu[0], res.va_deg[0], res.i_branch_ka[0], res.loading[0]):
        assert np.all(np.isnan(arr))
    assert np.isnan(res.loss_kw[0]) and np.isnan(res.p_slack_kw[0]) and np.isnan(res.q_slack_kvar[0])
    assert np.isfinite(res.loss_kw[1])


def test_non_radial_is_nan_and_flagged(grid):
    r = grid.radial
    res = solve_radial_batch(r, [[33, 34, 35, 36, 36], [1, 33, 34, 35, 36]], r.p_load_kw, r.q_load_kvar)
    assert not res.radial.any() and not res.ok.any()
    assert np.all(np.isnan(res.vm_pu)) and np.all(np.isnan(res.loss_kw))


def test_broadcasting(grid):
    r = grid.radial
    p = np.stack([r.p_load_kw, 0.5 * r.p_load_kw, 1.2 * r.p_load_kw])
    res = solve_radial_batch(r, r.tie_branches, p, r.q_load_kvar)
    assert res.vm_pu.shape == (3, r.n_bus) and res.i_branch_ka.shape == (3, r.n_branch)
    assert res.loss_kw[1] < res.loss_kw[0] < res.loss_kw[2]
    many_topo = solve_radial_batch(r, [[33, 34, 35, 36, 37], [7, 9, 14, 32, 37]], r.p_load_kw, r.q_load_kvar)
    assert many_topo.batch == 2 and many_topo.loss_kw[1] < many_topo.loss_kw[0]


def test_loading_uses_i_max(grid):
    r = grid.radial
    res = solve_radial_batch(r, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    np.testing.assert_allclose(res.loading[0], res.i_branch_ka[0] / r.i_max_ka)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(p_load_kw=np.full(33, np.nan)), "p_load_kw must be finite"),
        (dict(q_load_kvar=np.r_[np.zeros(32), np.inf]), "q_load_kvar must be finite; case 0 bus 33"),
        (dict(p_load_kw=np.zeros(10)), r"p_load_kw must have shape \(batch, 33\)"),
        (dict(open_branches=[33, 34, 35, 36, 99]), "no branch"),
        (dict(open_branches=np.zeros((4, 5), int) + [33, 34, 35, 36, 37], p_load_kw=np.zeros((3, 33))),
         "rows but the batch"),
        (dict(open_branches=["a"] * 5), "integer branch ids"),
    ],
)
def test_bad_input_errors(grid, kwargs, match):
    r = grid.radial
    args = dict(open_branches=list(r.tie_branches), p_load_kw=r.p_load_kw, q_load_kvar=r.q_load_kvar)
    args.update(kwargs)
    with pytest.raises(PowerFlowInputError, match=match):
        solve_radial_batch(r, args["open_branches"], args["p_load_kw"], args["q_load_kvar"])
    assert issubclass(PowerFlowInputError, ValueError)


@pytest.mark.slow
def test_other_registered_networks_agree():
    for name in NETWORKS:
        g = load_network(name)
        r = g.radial
        res = solve_radial_batch(r, list(r.tie_branches), 0.8 * r.p_load_kw, 0.8 * r.q_load_kvar)
        assert res.ok[0], name
        vm, _, _ = runpp_case(g, r.tie_branches, 0.8 * r.p_load_kw, 0.8 * r.q_load_kvar)
        assert np.abs(vm - res.vm_pu[0]).max() < AGREE_PU, name


# --- the depth-first tree orders, their cache and the Anderson-accelerated sweeps ---------------------------


def _preorder(r, closed_row):
    """Reference depth-first preorder (children in ascending bus order) by plain recursion."""
    adj = {b: [] for b in range(r.n_bus)}
    for e in np.flatnonzero(closed_row):
        f, t = int(r.from_bus[e]), int(r.to_bus[e])
        adj[f].append((t, e))
        adj[t].append((f, e))
    order, seen = [], set()

    def visit(b, parent, branch):
        seen.add(b)
        order.append((b, parent, branch))
        for nxt, e in sorted(adj[b]):
            if nxt not in seen:
                visit(nxt, b, e)

    visit(r.slack_bus, -1, -1)
    return order


@pytest.mark.parametrize("name", ["ieee33", "ieee69", "dist118"])
@pytest.mark.slow
def test_tree_orders_subtrees_are_the_buses_each_branch_feeds(name):
    r = load_network(name).radial
    rng = np.random.default_rng(5)
    open_ids = repair(r, decode_loops(r, rng.random((25, len(r.loops)))), rng)
    pos = np.sort(open_positions(r, open_ids), axis=1)
    closed = np.ones((len(pos), r.n_branch), dtype=bool)
    np.put_along_axis(closed, pos, False, axis=1)
    closed[0] = True  # every branch closed: loops, not radial
    tr = tree_orders(r, closed)
    radial_ref, paths = tree_paths(r, pos)
    assert not tr.radial[0] and np.array_equal(tr.radial[1:], radial_ref[1:]) and tr.radial[1:].all()
    for c in range(1, len(pos)):
        assert tr.perm[c, 0] == r.slack_bus and sorted(tr.perm[c].tolist()) == list(range(r.n_bus))
        ref = _preorder(r, closed[c])  # the order the flow has always used
        assert tr.perm[c].tolist() == [b for b, _, _ in ref]
        assert tr.branch[c, 1:].tolist() == [e for _, _, e in ref[1:]]
        assert tr.perm[c, tr.parent[c, 1:]].tolist() == [p for _, p, _ in ref[1:]]
        for k in range(1, r.n_bus):
            e = tr.branch[c, k]
            assert closed[c, e]
            fed = set(np.flatnonzero(paths[c, :, e]).tolist())  # buses whose slack path uses branch e
            assert set(tr.perm[c, k : tr.end[c, k]].tolist()) == fed


def test_repeated_topologies_give_identical_results(grid):
    """Consecutive cases with the same open set reuse one tree order; results equal solving each case alone."""
    r = grid.radial
    open_ids, p, q = random_cases(r, 48, np.random.default_rng(6))
    topo = np.repeat(open_ids[:4], 12, axis=0)
    topo[13] = topo[13][::-1]  # the same set in another order: a new search, the same tree
    res = solve_radial_batch(r, topo, p, q)
    for i in (0, 11, 12, 13, 14, 47):
        one = solve_radial_batch(r, topo[i], p[i], q[i])
        np.testing.assert_array_equal(one.converged[0], res.converged[i])
        np.testing.assert_array_equal(one.vm_pu[0], res.vm_pu[i])
        np.testing.assert_array_equal(one.i_branch_ka[0], res.i_branch_ka[i])


@pytest.mark.parametrize("scale", [3.4, 3.6])
def test_near_voltage_collapse_agrees_with_runpp(grid, scale):
    """Close to the nose point plain sweeps contract slowly (up to ~60 sweeps); Anderson mixing must still land
    on pandapower's (high-voltage) solution."""
    r = grid.radial
    p, q = scale * r.p_load_kw, scale * r.q_load_kvar
    res = solve_radial_batch(r, r.tie_branches, p, q)
    assert res.ok[0] and res.vmin_pu[0] < 0.6 and res.iterations <= 40
    vm, _, loss = runpp_case(grid, r.tie_branches, p, q)
    assert np.abs(vm - res.vm_pu[0]).max() < AGREE_PU
    assert res.loss_kw[0] == pytest.approx(loss, rel=1e-6)


def test_summary_equals_the_totals_of_the_full_result(grid):
    """The light entry point computes the same per-case totals as the objectives do from the full result."""
    r = grid.radial
    open_ids, p, q = random_cases(r, 60, np.random.default_rng(8))
    p[:20] *= 1.6  # push some cases out of the voltage band
    full = solve_radial_batch(r, open_ids, p, q)
    light = solve_radial_summary(r, open_ids, p, q)
    np.testing.assert_array_equal(light.ok, full.ok)
    assert 10 < full.ok.sum() < 60  # some cases fail, most converge
    ok = full.ok
    vm, i_ka = full.vm_pu[ok], full.i_branch_ka[ok]
    np.testing.assert_allclose(light.loss_kw[ok], full.loss_kw[ok], rtol=1e-13)
    np.testing.assert_allclose(light.v_min_pu[ok], vm.min(axis=1), rtol=1e-15)
    np.testing.assert_allclose(light.v_max_pu[ok], vm.max(axis=1), rtol=1e-15)
    np.testing.assert_allclose(light.vpd_pu[ok], np.abs(vm - 1.0).sum(axis=1), rtol=1e-12)
    v_viol = obj.voltage_violation_pu(vm[:, None, :], r.v_min_pu, r.v_max_pu)
    assert (v_viol > 0).any()
    np.testing.assert_allclose(light.v_violation_pu[ok], v_viol, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(light.i_violation[ok], obj.current_violation(i_ka[:, None, :], r.i_max_ka),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(light.p_slack_kw[ok], full.p_slack_kw[ok], rtol=1e-15)
    assert np.isnan(light.loss_kw[~ok]).all() and np.isnan(light.v_min_pu[~ok]).all()


def test_angles_and_loading_follow_from_voltages_and_currents(grid):
    r = grid.radial
    res = solve_radial_batch(r, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    np.testing.assert_allclose(res.va_deg, np.degrees(np.angle(res.v_pu)))
    np.testing.assert_allclose(res.vm_pu, np.abs(res.v_pu), rtol=1e-15)
    assert res.va_deg[0, r.slack_bus] == 0.0 and np.abs(res.va_deg).max() < 1.0


def test_open_positions_and_errors_do_not_depend_on_the_call_history(grid):
    """The per-network data is cached per RadialNetwork object; a second network with other branch ids must not
    see the first one's lookup table."""
    r = grid.radial
    np.testing.assert_array_equal(open_positions(r, [33, 1]), [[32, 0]])
    other = load_network("ieee69").radial
    np.testing.assert_array_equal(open_positions(other, [73, 1]), [[72, 0]])
    with pytest.raises(PowerFlowInputError, match=r"no branch \[38\]"):
        open_positions(r, [38])
    assert open_positions(other, [38]).shape == (1, 1)


def test_simd_lanes_equal_one_case_calls_bitwise(grid):
    """Runs of cases with one open set go through the SIMD lanes (8 at a time, hand-over to the one-case path for
    slow or failing cases); every output must equal a one-case call bit for bit, whatever the batch."""
    r = grid.radial
    rng = np.random.default_rng(9)
    open_ids, _, _ = random_cases(r, 3, rng)
    topo = np.repeat(open_ids, 21, axis=0)  # runs of 21: two full blocks of 8 and one of 5
    level = np.tile(np.linspace(0.2, 4.0, 21), 3)  # light loads to beyond the nose point
    p = r.p_load_kw * level[:, None] * rng.uniform(0.8, 1.2, size=(63, r.n_bus))
    q = r.q_load_kvar * level[:, None]
    res = solve_radial_batch(r, topo, p, q)
    assert 0 < (~res.ok).sum() and (res.summary.sweeps[:, 1] > 0).any()  # failures and Anderson cases included
    for i in range(63):
        one = solve_radial_batch(r, topo[i], p[i], q[i])
        np.testing.assert_array_equal(one.summary.sweeps[0], res.summary.sweeps[i])
        np.testing.assert_array_equal(one.vm_pu[0], res.vm_pu[i])
        np.testing.assert_array_equal(one.v_pu[0], res.v_pu[i])
        np.testing.assert_array_equal(one.i_branch_ka[0], res.i_branch_ka[i])
        np.testing.assert_array_equal(one.loss_kw, res.loss_kw[i : i + 1])
