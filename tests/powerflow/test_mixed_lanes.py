"""The kernel's mixed-topology SIMD lanes and the prepared-network entry point.

Every case of a batch, whatever the topologies beside it, must give the bits a one-case call gives (the lanes and
the one-case sweeps share their arithmetic, contraction into FMA included); the subtree currents of the prefix-sum
backward pass must be those the branches carry (power balance and pandapower); `PreparedNetwork` must return what
`solve_radial_batch` / `solve_radial_summary` return, bit for bit, and refuse bad input with their messages.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.networks import load_network
from cosim.powerflow import kernels
from cosim.powerflow.bfs import FlowSummary, PowerFlowInputError, solve_radial_batch, solve_radial_summary
from cosim.powerflow.prepared import PreparedNetwork
from cosim.powerflow.topology import decode_loops, repair


@pytest.fixture(scope="module")
def net():
    return load_network("ieee33").radial


def mixed_cases(r, n, rng, level_hi=4.0):
    """n random radial topologies (every case its own) with loads from light to beyond the nose point."""
    open_ids = repair(r, decode_loops(r, rng.random((n, len(r.loops)))), rng)
    level = rng.uniform(0.2, level_hi, size=n)
    p = r.p_load_kw * level[:, None] * rng.uniform(0.8, 1.2, size=(n, r.n_bus))
    q = r.q_load_kvar * level[:, None]
    return open_ids, p, q


def assert_same_bits(one, res, i):
    np.testing.assert_array_equal(one.summary.sweeps[0], res.summary.sweeps[i])
    np.testing.assert_array_equal(one.vm_pu[0], res.vm_pu[i])
    np.testing.assert_array_equal(one.v_pu[0], res.v_pu[i])
    np.testing.assert_array_equal(one.i_branch_ka[0], res.i_branch_ka[i])
    for name in ("loss_kw", "v_min_pu", "v_max_pu", "vpd_pu", "v_violation_pu", "i_violation", "p_slack_kw",
                 "q_slack_kvar"):
        np.testing.assert_array_equal(getattr(one.summary, name), getattr(res.summary, name)[i:i + 1])


def test_mixed_topologies_in_lanes_equal_one_case_calls_bitwise(net):
    """41 cases, each its own topology (lanes refilled as cases converge, Anderson and failed cases handed over):
    each equals its one-case call, which runs the scalar one-case sweeps, bit for bit."""
    rng = np.random.default_rng(11)
    open_ids, p, q = mixed_cases(net, 41, rng)
    assert len({tuple(sorted(row)) for row in open_ids.tolist()}) > 30
    res = solve_radial_batch(net, open_ids, p, q)
    assert 0 < (~res.ok).sum() and (res.summary.sweeps[:, 1] > 0).any() and res.ok.sum() > 10
    for i in range(41):
        assert_same_bits(solve_radial_batch(net, open_ids[i], p[i], q[i]), res, i)


def test_a_case_gives_the_same_bits_in_any_batch(net):
    """One case alone, first, last and in the middle of mixed batches of several sizes (lane positions differ)."""
    rng = np.random.default_rng(12)
    open_ids, p, q = mixed_cases(net, 30, rng, level_hi=1.5)
    first = int(np.flatnonzero(solve_radial_summary(net, open_ids, p, q).ok)[0])
    open_ids[[0, first]], p[[0, first]], q[[0, first]] = open_ids[[first, 0]], p[[first, 0]], q[[first, 0]]
    alone = solve_radial_batch(net, open_ids[0], p[0], q[0])
    assert alone.ok[0]
    for size, at in ((3, 0), (9, 8), (17, 5), (30, 29)):
        idx = np.r_[np.arange(1, size), 0] if at == size - 1 else np.insert(np.arange(1, size), at, 0)
        res = solve_radial_batch(net, open_ids[idx], p[idx], q[idx])
        assert_same_bits(alone, res, int(np.flatnonzero(idx == 0)[0]))


def test_fma_contraction_is_compiled_in_the_sweeps():
    """The sweeps carry fastmath={"contract"} (FMA) and nothing looser: no reassociation, which would change the
    lanes' sums against the one-case path."""
    assert kernels._FMA["fastmath"] == {"contract"}
    for fn in (kernels._sweep, kernels._lanes_sweep, kernels._write_case):
        assert fn.targetoptions.get("fastmath") == {"contract"}


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(3, 25))
def test_prefix_sum_currents_balance_the_power(seed, n):
    """Property: on mixed batches, the slack's power equals the loads plus the branch losses I^2 R (the subtree
    currents of the prefix-sum backward pass), and every converged case satisfies the fixed point (one more
    sweep of its voltages moves them by less than the tolerance)."""
    r = load_network("ieee33").radial
    rng = np.random.default_rng(seed)
    open_ids, p, q = mixed_cases(r, n, rng, level_hi=1.5)
    res = solve_radial_batch(r, open_ids, p, q)
    ok = res.ok
    assert ok.any()
    np.testing.assert_allclose(res.p_slack_kw[ok], p[ok].sum(axis=1) + res.loss_kw[ok], rtol=1e-9)
    i_pu = res.i_branch_ka[ok] / np.asarray(r.branch_base_i_ka)[None, :]
    loss = (i_pu ** 2 * np.asarray(r.r_pu)[None, :]).sum(axis=1) * 1000.0 * r.base_mva
    np.testing.assert_allclose(loss, res.loss_kw[ok], rtol=1e-9)
    # the fixed point: V_k = V_parent - Z I_k with I_k the current of the branch feeding k
    v = res.v_pu[ok]
    s = (p[ok] + 1j * q[ok]) / (1000.0 * r.base_mva)
    load_i = np.conj(s / v)
    f, t = np.asarray(r.from_bus), np.asarray(r.to_bus)
    z = np.asarray(r.r_pu) + 1j * np.asarray(r.x_pu)
    for row, case in enumerate(np.flatnonzero(ok)):
        closed = np.ones(r.n_branch, dtype=bool)
        closed[[int(np.flatnonzero(np.asarray(r.branch_ids) == b)[0]) for b in open_ids[case]]] = False
        inj = load_i[row].copy()  # Kirchhoff: branch currents from the loads' currents, leaves first
        depth = {r.slack_bus: 0}
        edges = [e for e in np.flatnonzero(closed)]
        adj = {b: [] for b in range(r.n_bus)}
        for e in edges:
            adj[f[e]].append((t[e], e))
            adj[t[e]].append((f[e], e))
        order, parent_edge, stack = [], {}, [r.slack_bus]
        while stack:
            b = stack.pop()
            order.append(b)
            for nb_, e in adj[b]:
                if nb_ not in depth:
                    depth[nb_] = depth[b] + 1
                    parent_edge[nb_] = (b, e)
                    stack.append(nb_)
        for b in reversed(order[1:]):
            pb, e = parent_edge[b]
            inj[pb] += inj[b]
            drop = v[row, pb] - v[row, b]
            np.testing.assert_allclose(drop, z[e] * inj[b], rtol=0, atol=1e-8)


def test_prepared_network_equals_the_batch_functions_bitwise(net):
    prepared = PreparedNetwork(net)
    rng = np.random.default_rng(13)
    open_ids, p, q = mixed_cases(net, 20, rng)
    for rows in (slice(0, 1), slice(0, 2), slice(0, 20)):
        a, b = prepared.batch(open_ids[rows], p[rows], q[rows]), solve_radial_batch(net, open_ids[rows], p[rows],
                                                                                     q[rows])
        for name in ("vm_pu", "v_pu", "i_branch_ka", "loss_kw", "p_slack_kw", "converged", "radial"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(a.summary.sweeps, b.summary.sweeps)
        sa, sb = prepared.summary(open_ids[rows], p[rows], q[rows]), solve_radial_summary(net, open_ids[rows],
                                                                                          p[rows], q[rows])
        for name in ("loss_kw", "v_min_pu", "v_max_pu", "vpd_pu", "v_violation_pu", "i_violation", "p_slack_kw",
                     "q_slack_kvar", "converged", "radial", "sweeps"):
            np.testing.assert_array_equal(getattr(sa, name), getattr(sb, name))
    # broadcasting, lists and other dtypes take the checked path with the same results
    one = prepared.summary(list(net.tie_branches), net.p_load_kw.tolist(), net.q_load_kvar)
    assert one.loss_kw[0] == solve_radial_summary(net, net.tie_branches, net.p_load_kw, net.q_load_kvar).loss_kw[0]
    both = prepared.summary(np.asarray(net.tie_branches, dtype=np.int64), np.tile(net.p_load_kw, (2, 1)),
                            net.q_load_kvar)
    assert both.batch == 2 and both.loss_kw[0] == both.loss_kw[1] == one.loss_kw[0]


@pytest.mark.parametrize(("change", "match"), [
    ({"open": [38, 7, 9, 14, 32]}, r"no branch \[38\]"),
    ({"p_nan": True}, r"p_load_kw must be finite; case 0 bus"),
    ({"q_inf": True}, r"q_load_kvar must be finite"),
    ({"p_shape": True}, r"p_load_kw must have shape"),
])
def test_prepared_network_refuses_bad_input_with_the_same_message(net, change, match):
    prepared = PreparedNetwork(net)
    ids = np.asarray(change.get("open", net.tie_branches), dtype=np.int64)
    p = np.array(net.p_load_kw, dtype=float)
    q = np.array(net.q_load_kvar, dtype=float)
    if change.get("p_nan"):
        p[4] = np.nan
    if change.get("q_inf"):
        q[2] = np.inf
    if change.get("p_shape"):
        p = p[:-1]
    with pytest.raises(PowerFlowInputError, match=match):
        prepared.summary(ids, p, q)
    with pytest.raises(PowerFlowInputError, match=match):
        solve_radial_summary(net, ids, p, q)


def test_prepared_network_refuses_bad_settings(net):
    with pytest.raises(PowerFlowInputError, match="v_slack_pu must be a positive number"):
        PreparedNetwork(net, v_slack_pu=0.0)
    with pytest.raises(PowerFlowInputError, match="tol_pu must be > 0"):
        PreparedNetwork(net, tol_pu=0.0)


def test_prepared_summary_fields_read_and_write_as_a_flow_summary(net):
    """PreparedNetwork's summary makes each field (a row of the kernel's packed totals) when read; assigning a field
    (as cosim.networks.converted does with loss_kw) writes it."""
    prepared = PreparedNetwork(net)
    ids = np.asarray(net.tie_branches, dtype=np.int64)
    got = prepared.summary(ids, np.array(net.p_load_kw, dtype=float), np.array(net.q_load_kvar, dtype=float))
    want = solve_radial_summary(net, ids, net.p_load_kw, net.q_load_kvar)
    assert isinstance(got, FlowSummary) and got.batch == 1 and bool(got.ok[0])
    got.loss_kw = got.loss_kw + 1.5
    assert got.loss_kw[0] == want.loss_kw[0] + 1.5
    assert got.v_min_pu[0] == want.v_min_pu[0] and "loss_kw" in repr(got)


@pytest.mark.parametrize("form", ["int32 ids", "strided loads", "read-only loads", "one row of ids, rows of loads",
                                  "a list of ids"])
def test_prepared_network_takes_other_array_forms_with_the_same_bits(net, form):
    """Inputs outside the compiled signatures (numba's dispatch refuses them) go through bfs's conversions, with
    the bits of solve_radial_summary."""
    prepared = PreparedNetwork(net)
    rng = np.random.default_rng(5)
    open_ids, p, q = mixed_cases(net, 4, rng)
    if form == "int32 ids":
        open_ids = open_ids.astype(np.int32)
    elif form == "strided loads":
        p = np.repeat(p, 2, axis=0)[::2]
    elif form == "read-only loads":
        q = q.copy()
        q.flags.writeable = False
    elif form == "one row of ids, rows of loads":
        open_ids = open_ids[0]
    else:
        open_ids = open_ids.tolist()
    got, want = prepared.summary(open_ids, p, q), solve_radial_summary(net, open_ids, p, q)
    for name in ("loss_kw", "v_min_pu", "vpd_pu", "q_slack_kvar", "converged", "radial", "sweeps"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_prepared_network_refuses_rows_that_do_not_match_the_batch(net):
    prepared = PreparedNetwork(net)
    rng = np.random.default_rng(6)
    open_ids, p, q = mixed_cases(net, 3, rng)
    with pytest.raises(PowerFlowInputError, match="q_load_kvar has 2 rows but the batch has 3 cases"):
        prepared.summary(open_ids, p, q[:2])
