"""Batched radial power flow: agreement with pandapower runpp, NaN+flag on failure, input errors, broadcasting."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cosim.powerflow.bfs import PowerFlowInputError, solve_radial_batch
from cosim.powerflow.topology import decode_loops, repair
from cosim.validate import runpp_case
from simulators.grid.networks import load_network

AGREE_PU = 1e-6


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
    res = solve_radial_batch(r, [weak, normal], np.stack([5 * r.p_load_kw, r.p_load_kw]), np.stack([5 * r.q_load_kvar, r.q_load_kvar]))
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
        (dict(open_branches=np.zeros((4, 5), int) + [33, 34, 35, 36, 37], p_load_kw=np.zeros((3, 33))), "rows but the batch"),
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


def test_other_registered_networks_agree():
    from simulators.grid.networks import NETWORKS

    for name in NETWORKS:
        g = load_network(name)
        r = g.radial
        res = solve_radial_batch(r, list(r.tie_branches), 0.8 * r.p_load_kw, 0.8 * r.q_load_kvar)
        assert res.ok[0], name
        vm, _, _ = runpp_case(g, r.tie_branches, 0.8 * r.p_load_kw, 0.8 * r.q_load_kvar)
        assert np.abs(vm - res.vm_pu[0]).max() < AGREE_PU, name
