"""Compiled (numba) kernels of the radial power flow, a case's data in L1 cache.

Per case: open branch ids -> closed-branch mask -> depth-first tree order from the slack (children in ascending
bus order, the order the batched flow has always used) -> backward/forward sweeps in that order -> the outputs
the caller asked for. A batch of at least BLOCK_MIN cases is swept LANES cases at a time, one per SIMD lane, each
lane with its own case and tree (mixed topologies; `_solve_lanes`): a lane whose case converges writes its
outputs and takes the next case, and consecutive cases with the same open set share one tree search. Cases that
slow down (Anderson's job) or fail, and batches below BLOCK_MIN, go one at a time (`_solve_one`). Both do the
same arithmetic in the same order, contraction into fused multiply-adds included (fastmath={"contract"}, nothing
looser), so a case's result does not depend on its batch, bit for bit (tests/powerflow/test_mixed_lanes.py).
Compiled once per machine (`cache=True`, error_model="numpy": no Python exception checks in the loops, a zero
voltage gives inf / NaN and a failed case).

Sweep (the fixed point V = T(V)), positions in depth-first preorder, parent[k] < k, the subtree of position k the
contiguous positions k .. end[k] - 1:
  load current       I_k = conj(S_k / V_k)
  backward           P_0 = 0, P_(k+1) = P_k + I_k             (a prefix sum: contiguous, no scatter; one pass with
                                                               the load currents, P_k + c m contracted to an FMA)
                     J_k = P_end[k] - P_k                      (the current of the branch feeding position k)
  forward            V_k = V_parent(k) - Z_k J_k, k = 1 .. n-1
In the lanes the arrays are position * LANES + lane: load currents and prefix sums are one vector pass over all
lanes (a lane's running sum LANES elements back), the prefix sums at each lane's subtree ends are read by vector
gathers (`simd.gather_lanes`), the drops Z J are a vector pass, and the forward pass reads each lane's parent
voltage (scalar loads: a gather would wait for the stores of the positions just updated).
Transformers (off-nominal ratios t at a branch's from-end) never enter the sweep: for a case's tree, each bus gets a
complex scale c (c = 1 at the slack; c_child = c_parent / t when the ratio sits at the parent's end, c_parent * t
when at the child's), the sweep runs on U = V / c, where a branch's impedance becomes z / |c_to|^2 (c_to: the scale
of the branch's to-end, the side of its series impedance) and powers are unchanged, and the outputs are mapped
back (V = c U, I = J / conj(c_to)). Without ratios every c is 1 and the arithmetic is that of a plain network.

Plain sweeps contract with a ratio rho (about 0.2 on the IEEE 33-bus at nominal load, -> 1 near voltage collapse).
The distance of the sweep's output to the fixed point is then at most  res * rho / (1 - rho)  (res = max |T(V) - V|),
and that estimate, not res itself, is compared with the tolerance. When rho > ANDERSON_ABOVE the case switches to
Anderson mixing (depth 2, real arithmetic), which needs far fewer sweeps near the nose point.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, types
from numba.extending import overload

from cosim.powerflow.simd import GATHER_WIDTH, gather_lanes

STATUS_OK = 0
STATUS_NOT_CONVERGED = 1
STATUS_NOT_RADIAL = 2

# columns of the per-case scalar output
LOSS_KW, V_MIN, V_MAX, VPD, V_VIOL, I_VIOL, P_SLACK_KW, Q_SLACK_KVAR = range(8)
N_SCALARS = 8

STALL_WINDOW = 6  # sweeps: a case whose residual has not shrunk over this many sweeps has no solution
ANDERSON_ABOVE = 0.5  # contraction ratio of plain sweeps above which a case switches to Anderson mixing
ANDERSON_RHO_MIN = 0.9  # contraction assumed in the error bound once a case has switched to Anderson mixing
_JIT = {"cache": True, "error_model": "numpy"}
_FMA = {**_JIT, "fastmath": {"contract"}}  # the sweeps: a * b + c as one fused multiply-add (FMA), same in lanes
RHO_MAX = 0.999  # cap of the contraction estimate in the error bound
# arithmetic per bus and sweep as written below (the benchmark's FLOP count; sqrt and division count as one)
LANES = GATHER_WIDTH  # cases solved side by side, each with its own tree (one AVX-512 register of doubles)
if LANES != 8:  # `_lane_sums` keeps eight accumulators
    raise RuntimeError(f"the lane kernels are written for 8 lanes, GATHER_WIDTH is {LANES}")
BLOCK_MIN = 3  # a batch of at least this many cases goes through the SIMD lanes
FLOPS_PLAIN = 30  # load current 12, prefix sum 2, subtree current 2, forward 8, residual 6 (28 before the prefix
# sum: its subtree-current difference is the 2 more)
FLOPS_ANDERSON = 28  # residual history 4, three inner products 12 (averaged), mixing 8, load-current reuse 4
FLOPS_OUTPUT = 30  # per bus once per converged case: currents at the result 14, |V| and extremes 10, |I| and loss 6


@njit(**_JIT)
def branch_positions(open_ids, lut, out):
    """Positions of open branch ids (rows, k) through the id -> position table; returns the first bad row * k + col
    (an id that is not a branch) or -1."""
    rows, k = open_ids.shape
    n = lut.shape[0]
    for r in range(rows):
        for j in range(k):
            b = open_ids[r, j]
            if b < 0 or b >= n or lut[b] < 0:
                return r * k + j
            out[r, j] = lut[b]
    return -1


@njit(**_JIT)
def _dfs(closed, n_closed, adj_ptr, adj_bus, adj_edge, slack, perm, parent, branch, pos_of, stack_bus, stack_cur):
    """Depth-first preorder of the closed branches of one case from the slack; True when they form a spanning tree.

    perm[k]: bus at position k (k = 0: the slack); parent[k]: position of its parent; branch[k]: branch feeding it.
    """
    nb = adj_ptr.shape[0] - 1
    if n_closed != nb - 1:  # a spanning tree has exactly n_bus - 1 branches
        return False
    for b in range(nb):
        pos_of[b] = -1
    pos_of[slack] = 0
    perm[0] = slack
    parent[0] = 0
    branch[0] = 0
    n = 1
    top = 0
    stack_bus[0] = slack
    stack_cur[0] = adj_ptr[slack]
    while top >= 0:
        b = stack_bus[top]
        cur = stack_cur[top]
        if cur == adj_ptr[b + 1]:
            top -= 1
            continue
        stack_cur[top] = cur + 1
        e = adj_edge[cur]
        nxt = adj_bus[cur]
        if not closed[e] or pos_of[nxt] >= 0:
            continue
        pos_of[nxt] = n
        perm[n] = nxt
        parent[n] = pos_of[b]
        branch[n] = e
        n += 1
        top += 1
        stack_bus[top] = nxt
        stack_cur[top] = adj_ptr[nxt]
    return n == nb


@njit(**_JIT)
def _tree_order(open_pos, row, closed, adj_ptr, adj_bus, adj_edge, slack, perm, parent, branch, pos_of, stack_bus,
                stack_cur):
    """`_dfs` of the case whose open branch positions are open_pos[row]; closed is an all-True scratch mask."""
    n_open = 0
    for j in range(open_pos.shape[1]):
        e = open_pos[row, j]
        if closed[e]:
            closed[e] = False
            n_open += 1
    radial = _dfs(closed, closed.shape[0] - n_open, adj_ptr, adj_bus, adj_edge, slack, perm, parent, branch, pos_of,
                  stack_bus, stack_cur)
    for j in range(open_pos.shape[1]):
        closed[open_pos[row, j]] = True
    return radial


@njit(**_JIT)
def radial_rows(open_pos, adj_ptr, adj_bus, adj_edge, slack, n_branch, out):
    """Radial flag of each row of open branch positions (rows, k)."""
    nb = adj_ptr.shape[0] - 1
    closed = np.ones(n_branch, dtype=np.bool_)
    perm = np.empty(nb, dtype=np.int64)
    parent = np.empty(nb, dtype=np.int64)
    branch = np.empty(nb, dtype=np.int64)
    pos_of = np.empty(nb, dtype=np.int64)
    stack_bus = np.empty(nb, dtype=np.int64)
    stack_cur = np.empty(nb, dtype=np.int64)
    for r in range(open_pos.shape[0]):
        out[r] = _tree_order(open_pos, r, closed, adj_ptr, adj_bus, adj_edge, slack, perm, parent, branch, pos_of,
                             stack_bus, stack_cur)


@njit(**_JIT)
def tree_order_rows(closed, adj_ptr, adj_bus, adj_edge, slack, radial, perm, parent, branch):
    """Radial flag and tree order (perm, parent, branch; see `_dfs`) of each row of a closed-branch mask; rows
    that are not radial get the identity order."""
    nb = adj_ptr.shape[0] - 1
    pos_of = np.empty(nb, dtype=np.int64)
    stack_bus = np.empty(nb, dtype=np.int64)
    stack_cur = np.empty(nb, dtype=np.int64)
    for r in range(closed.shape[0]):
        n_closed = 0
        for e in range(closed.shape[1]):
            n_closed += closed[r, e]
        radial[r] = _dfs(closed[r], n_closed, adj_ptr, adj_bus, adj_edge, slack, perm[r], parent[r], branch[r],
                         pos_of, stack_bus, stack_cur)
        if not radial[r]:
            for k in range(nb):
                perm[r, k] = k
                parent[r, k] = 0
                branch[r, k] = 0


@njit(**_JIT)
def _same_row(a, r1, r2):
    for j in range(a.shape[1]):
        if a[r1, j] != a[r2, j]:
            return False
    return True


@njit(**_JIT)
def _subtree_ends(parent, nb, end):
    """end[k]: one past the last position of the subtree rooted at position k (in preorder a contiguous run)."""
    for k in range(nb):
        end[k] = k + 1
    for k in range(nb - 1, 0, -1):
        j = np.uint64(parent[k])
        end[j] = max(end[j], end[k])  # branch-free: no mispredicted jump per bus


@njit(inline="always", **_FMA)
def _load_current_prefix(x, sr, si, pre, nb):
    """The prefix sums in preorder of the load currents conj(S / V) at voltages x ([re | im] by position), the
    currents summed where they are made, into pre ([re 0..nb | im 0..nb]): a subtree's current is
    pre[end[k]] - pre[k]. Inlined (numba IR) into `_sweep` and `_write_case`, so both keep the arithmetic and order
    of one lane of `_lanes_sweep`."""
    n1 = nb + 1
    pre[0] = 0.0
    pre[n1] = 0.0
    acc_r = 0.0  # the running sums in registers, not re-read from memory: a shorter dependency chain
    acc_i = 0.0
    for k in range(nb):  # one pass: the currents are summed where they are made (contracted: acc + c * m as an FMA)
        a = x[k]
        b = x[nb + k]
        m = 1.0 / (a * a + b * b)
        acc_r = acc_r + (sr[k] * a + si[k] * b) * m  # conj(S / V) = conj(S) V / |V|^2
        acc_i = acc_i + (sr[k] * b - si[k] * a) * m
        pre[k + 1] = acc_r
        pre[n1 + k + 1] = acc_i


@njit(**_FMA)
def _sweep(x, g, pre, sr, si, zr, zx, parent, end, v0, nb):
    """One backward/forward sweep g = T(x) (vectors [re(0..nb-1), im(0..nb-1)]). The backward pass is a prefix sum
    of the load currents in preorder (pre: [re 0..nb | im 0..nb]); position k's subtree current is
    pre[end[k]] - pre[k]. Returns max |g - x| over the buses (inf when not finite). Same arithmetic, in the same
    order, as one lane of `_lanes_sweep`."""
    n1 = nb + 1
    _load_current_prefix(x, sr, si, pre, nb)
    g[0] = v0
    g[nb] = 0.0
    res = 0.0
    total = 0.0  # NaN-propagating twin of res (a comparison drops NaN)
    for k in range(1, nb):
        j = np.uint64(parent[k])  # unsigned indexes: no negative-index wraparound in the loop
        e = np.uint64(end[k])
        ir = pre[e] - pre[k]
        ii = pre[np.uint64(n1) + e] - pre[n1 + k]
        gr = g[j] - (zr[k] * ir - zx[k] * ii)
        gi = g[np.uint64(nb) + j] - (zr[k] * ii + zx[k] * ir)
        d = (gr - x[k]) * (gr - x[k]) + (gi - x[nb + k]) * (gi - x[nb + k])
        g[k] = gr
        g[nb + k] = gi
        total += d
        res = max(res, d)
    return np.sqrt(res) if np.isfinite(total) else np.inf


@njit(**_JIT)
def _lane_sums(dd, n, lane_res, lane_tot):
    """Per lane (LANES = 8), max and sum of dd over the positions 1 .. n / LANES - 1, each lane in position order
    (that of `_sweep`), in sixteen register accumulators: position by position one vector load, add and max for
    all lanes (LLVM packs the eight lanes' chains; a loop per lane reads dd with stride LANES, one scalar add
    chain after another)."""
    r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = 0.0
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = 0.0
    for o in range(LANES, n, LANES):
        d0 = dd[o]
        d1 = dd[o + 1]
        d2 = dd[o + 2]
        d3 = dd[o + 3]
        d4 = dd[o + 4]
        d5 = dd[o + 5]
        d6 = dd[o + 6]
        d7 = dd[o + 7]
        t0 += d0
        t1 += d1
        t2 += d2
        t3 += d3
        t4 += d4
        t5 += d5
        t6 += d6
        t7 += d7
        r0 = max(r0, d0)
        r1 = max(r1, d1)
        r2 = max(r2, d2)
        r3 = max(r3, d3)
        r4 = max(r4, d4)
        r5 = max(r5, d5)
        r6 = max(r6, d6)
        r7 = max(r7, d7)
    lane_res[0], lane_res[1], lane_res[2], lane_res[3] = r0, r1, r2, r3
    lane_res[4], lane_res[5], lane_res[6], lane_res[7] = r4, r5, r6, r7
    lane_tot[0], lane_tot[1], lane_tot[2], lane_tot[3] = t0, t1, t2, t3
    lane_tot[4], lane_tot[5], lane_tot[6], lane_tot[7] = t4, t5, t6, t7


@njit(**_FMA)
def _lanes_sweep(n_pos, vr, vi, cr, ci, pr, pi, sr, si, zr, zx, par, ends, lane_res, lane_tot, ger, gei, dd):
    """One sweep of LANES cases side by side, each with its own tree (mixed topologies): arrays position * LANES +
    lane, par / ends the lane-offset indexes of each position's parent and subtree end (into pr / pi, length
    (n_pos + 1) * LANES). Load currents, prefix sums and voltage drops are contiguous vector passes; the subtree
    ends and, position by position, the parents' new voltages are read by vector gathers (`simd`). ger, gei, dd:
    scratch of n_pos * LANES. lane_res receives max |g - x|^2, lane_tot its NaN-propagating sum. The arithmetic,
    in the same order, of `_sweep` on each lane."""
    n = n_pos * LANES
    for ln in range(LANES):
        pr[ln] = 0.0
        pi[ln] = 0.0
    for i in range(n):  # load currents and their prefix sums per lane in one pass (dependency distance LANES)
        a = vr[i]
        b = vi[i]
        m = 1.0 / (a * a + b * b)
        pr[i + LANES] = pr[i] + (sr[i] * a + si[i] * b) * m
        pi[i + LANES] = pi[i] + (sr[i] * b - si[i] * a) * m
    for o in range(LANES, n, LANES):  # the prefix sums at each position's subtree end
        gather_lanes(ger, pr, ends, o)
        gather_lanes(gei, pi, ends, o)
    for i in range(LANES, n):  # voltage drops Z J over the subtree currents J (the load currents are spent)
        ir = ger[i] - pr[i]
        ii = gei[i] - pi[i]
        cr[i] = zr[i] * ir - zx[i] * ii
        ci[i] = zr[i] * ii + zx[i] * ir
    for i in range(LANES, n):  # forward, in place: a parent's position precedes its children's in every lane
        iu = np.uint64(i)  # scalar loads of the parents' new voltages: a gather would wait for the stores
        j = par[iu]
        gr = vr[j] - cr[iu]
        gi = vi[j] - ci[iu]
        dd[iu] = (gr - vr[iu]) * (gr - vr[iu]) + (gi - vi[iu]) * (gi - vi[iu])
        vr[iu] = gr
        vi[iu] = gi
    _lane_sums(dd, n, lane_res, lane_tot)


@njit(**_JIT)
def _dot(a, b, n2):
    s = 0.0
    for k in range(n2):
        s += a[k] * b[k]
    return s


@njit(**_JIT)
def _solve_one(sr, si, zr, zx, parent, end, nb, v0, tol, max_iter, x, g, pre, f, f_prev, g_prev, df, dg, hist,
               vres, sweeps_row):
    """Sweeps of one case (loads sr / si and impedances zr / zx in position order); True when converged, the
    voltages then in vres ([re | im] by position). sweeps_row receives the plain sweeps and Anderson steps."""
    n2 = 2 * nb
    for k in range(nb):
        x[k] = v0
        x[nb + k] = 0.0
    res_prev = np.inf
    rho_prev = 0.0
    rho_t = 0.0  # contraction ratio of the plain sweeps
    anderson = -1  # Anderson steps taken; -1: plain sweeps
    ok = False
    for it in range(max_iter):
        res = _sweep(x, g, pre, sr, si, zr, zx, parent, end, v0, nb)
        if not np.isfinite(res):
            break
        if anderson < 0:
            sweeps_row[0] += 1
            rho = res / res_prev if it > 0 else 1.0
            rho_t = max(rho, rho_prev) if it > 1 else rho  # the larger of the last two ratios: the safe side
            rho_prev = rho
        else:
            sweeps_row[1] += 1
        est = res * rho_t / (1.0 - rho_t) if rho_t < RHO_MAX else res * RHO_MAX / (1.0 - RHO_MAX)
        if est < tol or res < 1e-15:
            ok = True
            break
        if it >= 2 * STALL_WINDOW and res >= hist[it % STALL_WINDOW]:
            break  # not contracting: no solution (beyond the voltage-collapse point)
        hist[it % STALL_WINDOW] = res
        res_prev = res
        if anderson < 0 and it >= 2 and rho_t > ANDERSON_ABOVE:
            anderson = 0
            # the ratio of the first sweeps understates the asymptotic one near the nose point
            rho_t = max(rho_t, ANDERSON_RHO_MIN)
        if anderson < 0:
            x, g = g, x
            continue
        # Anderson mixing of depth 2 (see the module docstring); x <- g - gam0 dg[new] - gam1 dg[old]
        for k in range(n2):
            f[k] = g[k] - x[k]
        a_n = anderson
        anderson += 1
        if a_n == 0:
            for k in range(n2):
                f_prev[k] = f[k]
                g_prev[k] = g[k]
                dg[0, k] = 0.0  # no history yet: the depth-2 terms are zero until filled
                dg[1, k] = 0.0
            x, g = g, x
            continue
        new = a_n % 2
        old = 1 - new
        d0 = df[new]
        for k in range(n2):
            d0[k] = f[k] - f_prev[k]
            dg[new, k] = g[k] - g_prev[k]
            f_prev[k] = f[k]
            g_prev[k] = g[k]
        a00 = _dot(d0, d0, n2)
        b0 = _dot(d0, f, n2)
        gam1 = 0.0
        if a_n == 1:
            gam0 = b0 / a00 if a00 > 0 else 0.0
        else:
            d1 = df[old]
            a11 = _dot(d1, d1, n2)
            a01 = _dot(d0, d1, n2)
            b1 = _dot(d1, f, n2)
            det = a00 * a11 - a01 * a01
            if det > 1e-10 * a00 * a11:  # well-conditioned 2x2 normal equations
                gam0 = (a11 * b0 - a01 * b1) / det
                gam1 = (a00 * b1 - a01 * b0) / det
            else:
                gam0 = b0 / a00 if a00 > 0 else 0.0
        if not (np.isfinite(gam0) and np.isfinite(gam1)):
            gam0 = 0.0
            gam1 = 0.0
        for k in range(n2):
            x[k] = g[k] - gam0 * dg[new, k] - gam1 * dg[old, k]
    if ok:
        for k in range(n2):
            vres[k] = g[k]
    return ok


@njit(**_FMA)
def _write_case(c, vres, sr, si, perm, branch, end, nb, zr, inv_i_max_ka, iscale, cre, cim, cab, kw_per_pu, v0,
                v_lo, v_hi, pre, scal, vm, v, i_ka):
    """Outputs of a converged case from its scaled voltages vres ([re | im] by position): currents once more from
    them (subtree currents as prefix-sum differences, as in the sweeps), then the per-case totals and the per-bus /
    per-branch arrays that have rows. zr: the scaled resistance, iscale: base current / |c_to| and cre, cim, cab:
    the bus scale c, each by position (see the module docstring)."""
    n1 = nb + 1
    _load_current_prefix(vres, sr, si, pre, nb)
    want_vm = vm.shape[0] > 0
    want_v = v.shape[0] > 0
    want_i = i_ka.shape[0] > 0
    v_min = np.inf
    v_max = 0.0
    vpd = 0.0
    v_viol = 0.0
    for k in range(nb):
        a = vres[k]
        b = vres[nb + k]
        m = np.sqrt(a * a + b * b) * cab[k]
        v_min = min(v_min, m)
        v_max = max(v_max, m)
        vpd += abs(m - 1.0)
        v_viol += max(v_lo - m, 0.0) + max(m - v_hi, 0.0)
        bus = perm[k]
        if want_vm:
            vm[c, bus] = m
        if want_v:
            v[c, bus] = complex(a * cre[k] - b * cim[k], a * cim[k] + b * cre[k])
    loss = 0.0
    i_viol = 0.0
    if want_i:
        i_ka[c, :] = 0.0  # open branches carry no current
    for k in range(1, nb):
        e = end[k]
        ir = pre[e] - pre[k]
        ii = pre[n1 + e] - pre[n1 + k]
        i2 = ir * ir + ii * ii
        br = branch[k]
        loss += i2 * zr[k]
        ia = np.sqrt(i2) * iscale[k]
        i_viol += max(ia * inv_i_max_ka[br] - 1.0, 0.0)
        if want_i:
            i_ka[c, br] = ia
    scal[c, LOSS_KW] = loss * kw_per_pu
    scal[c, V_MIN] = v_min
    scal[c, V_MAX] = v_max
    scal[c, VPD] = vpd
    scal[c, V_VIOL] = v_viol
    scal[c, I_VIOL] = i_viol
    scal[c, P_SLACK_KW] = v0 * pre[nb] * kw_per_pu  # S = V0 conj(I0), V0 real; I0 = every load current
    scal[c, Q_SLACK_KVAR] = -v0 * pre[n1 + nb] * kw_per_pu


@njit(**_JIT)
def _fail_case(c, radial, scal, status, vm, v, i_ka):
    status[c] = STATUS_NOT_CONVERGED if radial else STATUS_NOT_RADIAL
    for j in range(N_SCALARS):
        scal[c, j] = np.nan
    if vm.shape[0] > 0:
        vm[c, :] = np.nan
    if v.shape[0] > 0:
        v[c, :] = np.nan
    if i_ka.shape[0] > 0:
        i_ka[c, :] = np.nan


@njit(**_JIT)
def _scale_tree(perm, parent, branch, nb, r_pu, x_pu, base_i_ka, from_bus, tap_re, tap_im, zr, zx, cre, cim, cab,
                iscale):
    """Bus scales c (cre, cim, |c| in cab) of one tree order from the branches' ratios, and each position's scaled
    impedance (zr, zx) and current scale (iscale = base current / |c_to|); see the module docstring."""
    cre[0] = 1.0
    cim[0] = 0.0
    cab[0] = 1.0
    for k in range(1, nb):
        e = branch[k]
        j = parent[k]
        pr = cre[j]
        pi = cim[j]
        tr = tap_re[e]
        ti = tap_im[e]
        if from_bus[e] == perm[j]:  # ratio at the parent's end: c = c_parent / t; the impedance at the child's
            d = 1.0 / (tr * tr + ti * ti)
            ar = (pr * tr + pi * ti) * d
            ai = (pi * tr - pr * ti) * d
            to2 = ar * ar + ai * ai
        else:  # ratio at the child's end: c = c_parent * t; the impedance at the parent's
            ar = pr * tr - pi * ti
            ai = pr * ti + pi * tr
            to2 = pr * pr + pi * pi
        cre[k] = ar
        cim[k] = ai
        cab[k] = np.sqrt(ar * ar + ai * ai)
        zr[k] = r_pu[e] / to2
        zx[k] = x_pu[e] / to2
        iscale[k] = base_i_ka[e] / np.sqrt(to2)


@njit(**_JIT)
def _case_tree(open_pos, t, closed, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, base_i_ka, from_bus, tap_re,
               tap_im, has_taps, perm, parent, branch, end, zr, zx, cre, cim, cab, iscale, pos_of, stack_bus,
               stack_cur):
    """Tree order of open set open_pos[t] and what the sweeps need of it (see `_dfs`, `_subtree_ends`,
    `_scale_tree`) into the scratch arrays; True when radial."""
    nb = perm.shape[0]
    radial = _tree_order(open_pos, t, closed, adj_ptr, adj_bus, adj_edge, slack, perm, parent, branch, pos_of,
                         stack_bus, stack_cur)
    if not radial:
        return False
    _subtree_ends(parent, nb, end)
    if has_taps:
        _scale_tree(perm, parent, branch, nb, r_pu, x_pu, base_i_ka, from_bus, tap_re, tap_im, zr, zx, cre, cim, cab,
                    iscale)
    else:
        for k in range(1, nb):
            e = np.uint64(branch[k])
            zr[k] = r_pu[e]
            zx[k] = x_pu[e]
            iscale[k] = base_i_ka[e]
    return True


@njit(**_JIT)
def _new_tree(nb):
    """Scratch for `_case_tree`, as views of two allocations (an allocation costs about as much as a bus's sweep)."""
    wi = np.empty(7 * nb, dtype=np.int64)
    wf = np.empty(6 * nb)
    wf[:2 * nb] = 0.0  # zr, zx
    wf[2 * nb:3 * nb] = 1.0  # cre
    wf[3 * nb:4 * nb] = 0.0  # cim
    wf[4 * nb:5 * nb] = 1.0  # cab
    wf[5 * nb:] = 0.0  # iscale
    return (wi[:nb], wi[nb:2 * nb], wi[2 * nb:3 * nb], wi[3 * nb:4 * nb], wf[:nb], wf[nb:2 * nb], wf[2 * nb:3 * nb],
            wf[3 * nb:4 * nb], wf[4 * nb:5 * nb], wf[5 * nb:], wi[4 * nb:5 * nb], wi[5 * nb:6 * nb], wi[6 * nb:])


@njit(**_JIT)
def _lane_idle(ln, nb, v0, vr, vi, sr, si, zr, zx, par, ends):
    """A lane without a case: every position a child of the slack with no load and no impedance (stays at v0)."""
    for k in range(nb):
        i = k * LANES + ln
        vr[i] = v0
        vi[i] = 0.0
        sr[i] = 0.0
        si[i] = 0.0
        zr[i] = 0.0
        zx[i] = 0.0
        par[i] = np.uint64(ln)
        ends[i] = np.uint64((k + 1) * LANES + ln)


@njit(**_JIT)
def _solve_lanes(open_pos, p_kw, q_kvar, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, inv_i_max_ka, n_branch,
                 s_scale, base_i_ka, kw_per_pu, v0, v_lo, v_hi, tol, max_iter, scal, status, sweeps, vm, v, i_ka,
                 from_bus, tap_re, tap_im, has_taps, handed):
    """Plain sweeps of every case, LANES at a time, each lane its own case and tree (mixed topologies): a lane whose
    case converges writes its outputs and takes the next case. Per lane the arithmetic and the stopping rule are
    those of `_solve_one`'s plain sweeps, so a lane's result equals a one-case call bitwise. Cases that slow down
    (Anderson's job) or fail are listed in `handed` for `_solve_one`; returns how many. Consecutive cases with the
    same open set share one tree search."""
    n_cases = scal.shape[0]
    nb = adj_ptr.shape[0] - 1
    n2 = 2 * nb
    closed = np.ones(n_branch, dtype=np.bool_)
    perm, parent, branch, end, zr, zx, cre, cim, cab, iscale, pos_of, stack_bus, stack_cur = _new_tree(nb)
    nl = nb * LANES
    vr = np.empty(nl)
    vi = np.empty(nl)
    cr = np.empty(nl)
    ci = np.empty(nl)
    pr = np.empty(nl + LANES)
    pi = np.empty(nl + LANES)
    sr_s = np.empty(nl)
    si_s = np.empty(nl)
    zr_s = np.empty(nl)
    zx_s = np.empty(nl)
    par_s = np.empty(nl, dtype=np.uint64)
    end_s = np.empty(nl, dtype=np.uint64)
    ger = np.empty(nl)
    gei = np.empty(nl)
    dd = np.empty(nl)
    # per lane, by position: what `_write_case` needs of its case
    l_perm = np.empty((LANES, nb), dtype=np.int64)
    l_branch = np.empty((LANES, nb), dtype=np.int64)
    l_end = np.empty((LANES, nb), dtype=np.int64)
    l_sr = np.empty((LANES, nb))
    l_si = np.empty((LANES, nb))
    l_zr = np.empty((LANES, nb))
    l_cre = np.empty((LANES, nb))
    l_cim = np.empty((LANES, nb))
    l_cab = np.empty((LANES, nb))
    l_iscale = np.empty((LANES, nb))
    lane_case = np.full(LANES, -1, dtype=np.int64)
    lane_it = np.zeros(LANES, dtype=np.int64)
    lane_prev = np.empty(LANES)
    lane_rho = np.zeros((LANES, 2))
    lane_hist = np.empty((LANES, STALL_WINDOW))
    lane_res = np.empty(LANES)
    lane_tot = np.empty(LANES)
    vres = np.empty(n2)
    pre = np.empty(n2 + 2)
    topo_rows = open_pos.shape[0]
    p_rows = p_kw.shape[0]
    q_rows = q_kvar.shape[0]
    for ln in range(LANES):
        _lane_idle(ln, nb, v0, vr, vi, sr_s, si_s, zr_s, zx_s, par_s, end_s)
    n_handed = 0
    next_c = 0
    cached_t = -1
    cached_radial = False
    active = 0
    while True:
        for ln in range(LANES):  # refill the lanes without a case
            if lane_case[ln] >= 0:
                continue
            while next_c < n_cases:
                c = next_c
                next_c += 1
                sweeps[c, 0] = 0
                sweeps[c, 1] = 0
                t = c if topo_rows > 1 else 0
                if cached_t < 0 or (t != cached_t and not _same_row(open_pos, t, cached_t)):
                    cached_radial = _case_tree(open_pos, t, closed, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu,
                                               base_i_ka, from_bus, tap_re, tap_im, has_taps, perm, parent, branch,
                                               end, zr, zx, cre, cim, cab, iscale, pos_of, stack_bus, stack_cur)
                    cached_t = t
                if not cached_radial:
                    _fail_case(c, False, scal, status, vm, v, i_ka)
                    continue
                pc = c if p_rows > 1 else 0
                qc = c if q_rows > 1 else 0
                for k in range(nb):
                    b = perm[k]
                    s_r = p_kw[pc, b] * s_scale
                    s_i = q_kvar[qc, b] * s_scale
                    i = k * LANES + ln
                    sr_s[i] = s_r
                    si_s[i] = s_i
                    vr[i] = v0
                    vi[i] = 0.0
                    zr_s[i] = zr[k]
                    zx_s[i] = zx[k]
                    par_s[i] = np.uint64(parent[k] * LANES + ln)
                    end_s[i] = np.uint64(end[k] * LANES + ln)
                    l_perm[ln, k] = b
                    l_branch[ln, k] = branch[k]
                    l_end[ln, k] = end[k]
                    l_sr[ln, k] = s_r
                    l_si[ln, k] = s_i
                    l_zr[ln, k] = zr[k]
                    l_cre[ln, k] = cre[k]
                    l_cim[ln, k] = cim[k]
                    l_cab[ln, k] = cab[k]
                    l_iscale[ln, k] = iscale[k]
                lane_case[ln] = c
                lane_it[ln] = 0
                lane_prev[ln] = np.inf
                lane_rho[ln, 0] = 0.0
                lane_rho[ln, 1] = 0.0
                active += 1
                break
        if active == 0:
            break
        _lanes_sweep(nb, vr, vi, cr, ci, pr, pi, sr_s, si_s, zr_s, zx_s, par_s, end_s, lane_res, lane_tot, ger, gei, dd)
        for ln in range(LANES):
            c = lane_case[ln]
            if c < 0:
                continue
            it = lane_it[ln]
            lane_it[ln] = it + 1
            res = np.sqrt(lane_res[ln]) if np.isfinite(lane_tot[ln]) else np.inf
            done = False
            hand = False
            if not np.isfinite(res):
                hand = True
            else:
                sweeps[c, 0] += 1
                rho = res / lane_prev[ln] if it > 0 else 1.0
                rho_t = max(rho, lane_rho[ln, 0]) if it > 1 else rho
                lane_rho[ln, 0] = rho
                lane_rho[ln, 1] = rho_t
                est = res * rho_t / (1.0 - rho_t) if rho_t < RHO_MAX else res * RHO_MAX / (1.0 - RHO_MAX)
                if est < tol or res < 1e-15:
                    done = True
                elif (it >= 2 * STALL_WINDOW and res >= lane_hist[ln, it % STALL_WINDOW]) or (
                        it >= 2 and rho_t > ANDERSON_ABOVE) or it == max_iter - 1:
                    hand = True
                else:
                    lane_hist[ln, it % STALL_WINDOW] = res
                    lane_prev[ln] = res
            if done:
                for k in range(nb):
                    vres[k] = vr[k * LANES + ln]
                    vres[nb + k] = vi[k * LANES + ln]
                status[c] = STATUS_OK
                _write_case(c, vres, l_sr[ln], l_si[ln], l_perm[ln], l_branch[ln], l_end[ln], nb, l_zr[ln],
                            inv_i_max_ka, l_iscale[ln], l_cre[ln], l_cim[ln], l_cab[ln], kw_per_pu, v0, v_lo, v_hi,
                            pre, scal, vm, v, i_ka)
            if hand:
                handed[n_handed] = c
                n_handed += 1
            if done or hand:
                lane_case[ln] = -1
                active -= 1
                if next_c >= n_cases:
                    _lane_idle(ln, nb, v0, vr, vi, sr_s, si_s, zr_s, zx_s, par_s, end_s)
    return n_handed


@njit(**_JIT)
def _solve_single(cases, n, open_pos, p_kw, q_kvar, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, inv_i_max_ka,
                  n_branch, s_scale, base_i_ka, kw_per_pu, v0, v_lo, v_hi, tol, max_iter, scal, status, sweeps, vm, v,
                  i_ka, from_bus, tap_re, tap_im, has_taps):
    """Cases cases[:n] one at a time (`_solve_one`: plain sweeps, Anderson mixing where they slow down)."""
    nb = adj_ptr.shape[0] - 1
    n2 = 2 * nb
    closed = np.ones(n_branch, dtype=np.bool_)
    perm, parent, branch, end, zr, zx, cre, cim, cab, iscale, pos_of, stack_bus, stack_cur = _new_tree(nb)
    w = np.empty(13 * n2 + 2 + STALL_WINDOW)  # one allocation, cut into the vectors below
    sr = w[:nb]
    si = w[nb:n2]
    x = w[n2:2 * n2]
    g = w[2 * n2:3 * n2]
    f = w[4 * n2:5 * n2]
    f_prev = w[5 * n2:6 * n2]
    g_prev = w[6 * n2:7 * n2]
    df = w[7 * n2:9 * n2].reshape((2, n2))
    dg = w[9 * n2:11 * n2].reshape((2, n2))
    vres = w[11 * n2:12 * n2]
    hist = w[12 * n2:12 * n2 + STALL_WINDOW]
    pre = w[12 * n2 + STALL_WINDOW:]
    topo_rows = open_pos.shape[0]
    p_rows = p_kw.shape[0]
    q_rows = q_kvar.shape[0]
    cached_t = -1
    radial = False
    for i in range(n):
        c = cases[i]
        sweeps[c, 0] = 0
        sweeps[c, 1] = 0
        t = c if topo_rows > 1 else 0
        if cached_t < 0 or (t != cached_t and not _same_row(open_pos, t, cached_t)):
            radial = _case_tree(open_pos, t, closed, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, base_i_ka,
                                from_bus, tap_re, tap_im, has_taps, perm, parent, branch, end, zr, zx, cre, cim, cab,
                                iscale, pos_of, stack_bus, stack_cur)
            cached_t = t
        if not radial:
            _fail_case(c, False, scal, status, vm, v, i_ka)
            continue
        pc = c if p_rows > 1 else 0
        qc = c if q_rows > 1 else 0
        for k in range(nb):
            b = perm[k]
            sr[k] = p_kw[pc, b] * s_scale
            si[k] = q_kvar[qc, b] * s_scale
        ok = _solve_one(sr, si, zr, zx, parent, end, nb, v0, tol, max_iter, x, g, pre, f, f_prev, g_prev, df,
                        dg, hist, vres, sweeps[c])
        if ok:
            status[c] = STATUS_OK
            _write_case(c, vres, sr, si, perm, branch, end, nb, zr, inv_i_max_ka, iscale, cre, cim, cab, kw_per_pu,
                        v0, v_lo, v_hi, pre, scal, vm, v, i_ka)
        else:
            _fail_case(c, True, scal, status, vm, v, i_ka)


@njit(**_JIT)
def solve_cases(open_pos, p_kw, q_kvar, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, inv_i_max_ka, n_branch,
                s_scale, base_i_ka, kw_per_pu, v0, v_lo, v_hi, tol, max_iter,
                scal, status, sweeps, vm, v, i_ka, from_bus, tap_re, tap_im, has_taps):
    """Solve every case (row of scal). Rows of open_pos / p_kw / q_kvar: 1 (broadcast) or one per case.

    base_i_ka (n_branch,): each branch's base current; from_bus, tap_re / tap_im (n_branch,): its from-end and its
    off-nominal ratio there, read only when has_taps (see the module docstring).

    scal (cases, N_SCALARS) per-case results (columns LOSS_KW ...); status (cases,) STATUS_*; sweeps (cases, 2)
    plain sweeps and Anderson steps taken. vm (cases, n_bus) [p.u.], v (cases, n_bus) complex [p.u.] and i_ka
    (cases, n_branch) [kA] are written when they have rows (pass shape (0, n) to skip them). Cases that are not
    radial or do not converge get NaN everywhere. Batches of at least BLOCK_MIN cases go through `_solve_lanes`
    (LANES cases at a time, mixed topologies), smaller ones and the lanes' slow cases one by one; either way a
    case's result does not depend on the other cases of the batch.
    """
    n_cases = scal.shape[0]
    cases = np.arange(n_cases)
    n = n_cases
    if n_cases >= BLOCK_MIN:
        n = _solve_lanes(open_pos, p_kw, q_kvar, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, inv_i_max_ka,
                         n_branch, s_scale, base_i_ka, kw_per_pu, v0, v_lo, v_hi, tol, max_iter, scal, status, sweeps,
                         vm, v, i_ka, from_bus, tap_re, tap_im, has_taps, cases)
    _solve_single(cases, n, open_pos, p_kw, q_kvar, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, inv_i_max_ka,
                  n_branch, s_scale, base_i_ka, kw_per_pu, v0, v_lo, v_hi, tol, max_iter, scal, status, sweeps, vm, v,
                  i_ka, from_bus, tap_re, tap_im, has_taps)


@njit(**_JIT)
def _find(root, a):
    while root[a] != a:
        root[a] = root[root[a]]
        a = root[a]
    return a


@njit(**_JIT)
def connected_rows(f, t, n_nodes, open_rows, out):
    """For each row of edge positions to open (rows, k): True when the other edges (f[e], t[e]) connect all
    n_nodes nodes (union-find)."""
    n_edges = f.shape[0]
    root = np.empty(n_nodes, dtype=np.int64)
    opened = np.zeros(n_edges, dtype=np.bool_)
    for r in range(open_rows.shape[0]):
        for a in range(n_nodes):
            root[a] = a
        for j in range(open_rows.shape[1]):
            opened[open_rows[r, j]] = True
        parts = n_nodes
        for e in range(n_edges):
            if opened[e]:
                continue
            a = _find(root, f[e])
            b = _find(root, t[e])
            if a != b:
                root[a] = b
                parts -= 1
        for j in range(open_rows.shape[1]):
            opened[open_rows[r, j]] = False
        out[r] = parts == 1


PACKED_HEAD = 6  # ints[:6] of a packed network: n_bus, n_branch, slack, len(lut), has_taps, max_iter
PACKED_FLOATS = 6  # floats[:6]: s_scale, kw_per_pu, v_min_pu, v_max_pu, v_slack_pu, tol_pu
INPUT_OK, INPUT_BAD_BRANCH, INPUT_NOT_FINITE = 0, 1, 2


def as_rows(a):
    """A 1-D array as one row (a view), a 2-D array as it is: in compiled code only (`_as_rows_impl`), so that a
    one-case call passes its 1-D inputs without a Python reshape each."""
    raise NotImplementedError("as_rows is compiled code only")


@overload(as_rows, jit_options={"cache": True})
def _as_rows_impl(a):
    if isinstance(a, types.Array) and a.ndim == 1:
        return lambda a: a.reshape((1, a.shape[0]))
    if isinstance(a, types.Array) and a.ndim == 2:
        return lambda a: a
    return None


@njit(**_JIT)
def _solve_packed(open_ids, p_kw, q_kvar, ints, floats, scal, sweeps, flags, vm, v, i_ka):
    """`solve_cases` of a network packed into two arrays (`cosim.powerflow.prepared`: ints = head, branch-id
    lookup, CSR adjacency, from-ends; floats = head, r, x, 1 / ampacity, base current, ratio re / im; the heads
    hold the settings too), taking branch ids and checking the loads itself. scal (cases, N_SCALARS) receives the
    totals, flags (2, cases) converged (status OK) and radial per case. Returns INPUT_OK, INPUT_BAD_BRANCH (an id
    that is not a branch) or INPUT_NOT_FINITE (a load that is NaN or inf); nothing is solved then."""
    nb = ints[0]
    nbr = ints[1]
    slack = ints[2]
    nlut = ints[3]
    has_taps = ints[4] != 0
    max_iter = ints[5]
    o = PACKED_HEAD
    lut = ints[o:o + nlut]
    o += nlut
    adj_ptr = ints[o:o + nb + 1]
    o += nb + 1
    adj_bus = ints[o:o + 2 * nbr]
    o += 2 * nbr
    adj_edge = ints[o:o + 2 * nbr]
    o += 2 * nbr
    from_bus = ints[o:o + nbr]
    f = PACKED_FLOATS
    r_pu = floats[f:f + nbr]
    x_pu = floats[f + nbr:f + 2 * nbr]
    inv_i_max_ka = floats[f + 2 * nbr:f + 3 * nbr]
    base_i_ka = floats[f + 3 * nbr:f + 4 * nbr]
    tap_re = floats[f + 4 * nbr:f + 5 * nbr]
    tap_im = floats[f + 5 * nbr:f + 6 * nbr]
    for r in range(p_kw.shape[0]):
        for b in range(p_kw.shape[1]):
            if not np.isfinite(p_kw[r, b]):
                return INPUT_NOT_FINITE
    for r in range(q_kvar.shape[0]):
        for b in range(q_kvar.shape[1]):
            if not np.isfinite(q_kvar[r, b]):
                return INPUT_NOT_FINITE
    open_pos = np.empty(open_ids.shape, dtype=np.int64)
    if branch_positions(open_ids, lut, open_pos) >= 0:
        return INPUT_BAD_BRANCH
    status = np.empty(scal.shape[0], dtype=np.int8)
    solve_cases(open_pos, p_kw, q_kvar, adj_ptr, adj_bus, adj_edge, slack, r_pu, x_pu, inv_i_max_ka, nbr, floats[0],
                base_i_ka, floats[1], floats[4], floats[2], floats[3], floats[5], max_iter, scal, status, sweeps, vm,
                v, i_ka, from_bus, tap_re, tap_im, has_taps)
    for c in range(status.shape[0]):
        flags[0, c] = status[c] == STATUS_OK
        flags[1, c] = status[c] != STATUS_NOT_RADIAL
    return INPUT_OK


INPUT_BAD_SHAPE = 3


@njit(**_JIT)
def _packed_shapes(open_ids, p_kw, q_kvar, nb, batch):
    """True when loads have nb columns and open ids, loads (rows) each 1 or batch rows, batch >= 1."""
    if batch < 1 or p_kw.shape[1] != nb or q_kvar.shape[1] != nb:
        return False
    for rows in (open_ids.shape[0], p_kw.shape[0], q_kvar.shape[0]):
        if rows != 1 and rows != batch:
            return False
    return True


_ONE = "int64[::1], float64[::1], float64[::1]"  # one case: 1-D open ids and loads, C order
_ROWS = "int64[:, ::1], float64[:, ::1], float64[:, ::1]"  # cases as rows
_PACK = "int64[::1], float64[::1], float64[:, ::1], int32[:, ::1], boolean[:, ::1]"  # network, totals, sweeps, flags
_PER_BUS = "float64[:, ::1], complex128[:, ::1], float64[:, ::1]"  # vm, v, i_ka


@njit(**_JIT)
def packed_summary(open_ids, p_kw, q_kvar, ints, floats, totals, sweeps, flags):
    """`_solve_packed` with per-case totals only: totals (N_SCALARS, cases), one row per total (LOSS_KW ...);
    inputs 1-D (one case) or 2-D (rows). Eight arguments: numba's dispatch costs ~0.1 us per argument. Returns
    INPUT_BAD_SHAPE when the shapes do not fit totals' batch. See `packed_entry_points` for the types."""
    nb = ints[0]
    ids2, p2, q2 = as_rows(open_ids), as_rows(p_kw), as_rows(q_kvar)
    if not _packed_shapes(ids2, p2, q2, nb, totals.shape[1]):
        return INPUT_BAD_SHAPE
    return _solve_packed(ids2, p2, q2, ints, floats, totals.T, sweeps, flags, np.empty((0, nb)),
                         np.empty((0, nb), dtype=np.complex128), np.empty((0, ints[1])))


@njit(**_JIT)
def packed_full(open_ids, p_kw, q_kvar, ints, floats, totals, sweeps, flags, vm, v, i_ka):
    """`packed_summary` with the per-bus and per-branch outputs vm, v, i_ka (cases, n) as well."""
    ids2, p2, q2 = as_rows(open_ids), as_rows(p_kw), as_rows(q_kvar)
    if not _packed_shapes(ids2, p2, q2, ints[0], totals.shape[1]):
        return INPUT_BAD_SHAPE
    return _solve_packed(ids2, p2, q2, ints, floats, totals.T, sweeps, flags, vm, v, i_ka)


@cache
def packed_entry_points():
    """`packed_summary` and `packed_full`, compiled (or loaded from numba's cache) for int64 ids and float64 C-order
    loads, all 1-D or all 2-D, and for nothing else: other types then raise TypeError in numba's dispatch (the
    caller's cue to convert and check them) instead of compiling another specialisation. Done on the first
    `PreparedNetwork`, not at import: a process that never prepares a network loads none of it."""
    for fn, tail in ((packed_summary, _PACK), (packed_full, f"{_PACK}, {_PER_BUS}")):
        for inputs in (_ONE, _ROWS):
            fn.compile(f"int64({inputs}, {tail})")
        fn.disable_compile()
    return packed_summary, packed_full
