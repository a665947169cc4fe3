"""Batched backward/forward sweep (BFS) power flow for radially operated networks, vectorised with numpy.

Each case of a batch has its own open branches and constant-power loads. Buses of each case are numbered in
depth-first preorder of its spanning tree, so every subtree is a contiguous run of positions: the backward
sweep (branch current = sum of the load currents below it) is one cumulative sum and a difference, and the
forward sweep (bus voltage = slack voltage minus the drops on its path) is one cumulative sum over the Euler
tour (+drop on entering a subtree, -drop on leaving it). Both cost O(batch x n_bus) per sweep whatever the
topologies. Arrays are laid out (position, case) so each cumulative sum runs across the whole batch at once.
The tree orders come from one breadth-first search advancing all topologies together and are cached per
topology (EO / PSO populations revisit them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order

from cosim.powerflow.network_data import NetworkDataError, RadialNetwork

STALL_WINDOW = 6  # sweeps: a case whose voltage change has not shrunk over this many sweeps is given up


class PowerFlowInputError(NetworkDataError):
    """Raised for loads or open-branch arrays the power flow cannot use (shape, NaN/inf, unknown branch)."""


@dataclass
class BatchFlowResult:
    """Result of `solve_radial_batch`; rows are cases. Cases that did not converge or are not radial hold NaN.

    Units: vm_pu [p.u.], va_deg [degree], i_branch_ka [kA] (0 on open branches), loading [fraction of
    i_max_ka, 1.0 = 100 %], loss_kw [kW], p_slack_kw [kW] and q_slack_kvar [kvar] drawn from the slack.
    """

    vm_pu: np.ndarray
    va_deg: np.ndarray
    i_branch_ka: np.ndarray
    loading: np.ndarray
    loss_kw: np.ndarray
    p_slack_kw: np.ndarray
    q_slack_kvar: np.ndarray
    converged: np.ndarray
    radial: np.ndarray
    iterations: int = 0

    @property
    def ok(self) -> np.ndarray:
        """Cases with a valid solution: radial and converged."""
        return self.converged & self.radial

    @property
    def batch(self) -> int:
        return len(self.converged)

    @property
    def vmin_pu(self) -> np.ndarray:
        """Lowest bus voltage per case [p.u.] (NaN for invalid cases)."""
        return self.vm_pu.min(axis=1)


def branch_lookup(net: RadialNetwork) -> np.ndarray:
    """Array mapping a literature branch id to its 0-based position (-1 where no branch has that id)."""
    ids = np.asarray(net.branch_ids, dtype=int)
    lut = np.full(int(ids.max()) + 2, -1, dtype=int)
    lut[ids] = np.arange(len(ids))
    return lut


def open_positions(net: RadialNetwork, open_branches, batch: int | None = None) -> np.ndarray:
    """Validate open-branch ids (shape (batch, k) or (k,)) and return their 0-based positions, shape (batch, k)."""
    arr = np.asarray(open_branches)
    if arr.size == 0:
        arr = arr.reshape(arr.shape[0] if arr.ndim == 2 else 1, 0)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise PowerFlowInputError(f"open_branches must be integer branch ids of network {net.name!r}, got {arr!r}")
    elif arr.dtype.kind not in "iu":
        raise PowerFlowInputError(f"open_branches must be integer branch ids, got dtype {arr.dtype}")
    arr = arr.astype(int)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise PowerFlowInputError(f"open_branches must have shape (batch, k) or (k,), got {arr.shape}")
    lut = branch_lookup(net)
    bad = (arr < 0) | (arr >= len(lut))
    pos = np.where(bad, -1, lut[np.clip(arr, 0, len(lut) - 1)])
    if np.any(pos < 0):
        unknown = sorted(set(arr[pos < 0].tolist()))
        raise PowerFlowInputError(
            f"network {net.name!r} has no branch {unknown}; "
            f"branch ids are {int(net.branch_ids.min())}..{int(net.branch_ids.max())}"
        )
    if batch is not None and pos.shape[0] not in (1, batch):
        raise PowerFlowInputError(f"open_branches has {pos.shape[0]} rows but the batch has {batch} cases")
    return pos


def _loads(net: RadialNetwork, values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != net.n_bus:
        raise PowerFlowInputError(
            f"{name} must have shape (batch, {net.n_bus}) or ({net.n_bus},) for network {net.name!r}, "
            f"got {np.shape(values)}"
        )
    if not np.all(np.isfinite(arr)):
        rows, cols = np.nonzero(~np.isfinite(arr))
        raise PowerFlowInputError(
            f"{name} must be finite; case {int(rows[0])} bus {net.bus_labels[int(cols[0])]} is {arr[rows[0], cols[0]]}"
        )
    return arr


def tree_paths(net: RadialNetwork, open_pos: np.ndarray, need_paths: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Radial flag and path matrix of each row of open branch positions, by a breadth-first search from the
    slack that advances all rows one level at a time.

    Returns radial (u,) and P (u, n_bus, n_branch) with P[c, b, e] = 1 when closed branch e lies on the
    path from the slack to bus b (rows of non-radial cases are zero). need_paths=False skips P (shape (u, 0, 0)).
    """
    u = open_pos.shape[0]
    nb, nbr, slack = net.n_bus, net.n_branch, net.slack_bus
    f, t = np.asarray(net.from_bus), np.asarray(net.to_bus)
    closed = np.ones((u, nbr), dtype=bool)
    if open_pos.shape[1]:
        np.put_along_axis(closed, open_pos, False, axis=1)
    n_closed = closed.sum(axis=1)
    visited = np.zeros((u, nb), dtype=bool)
    visited[:, slack] = True
    paths = np.zeros((u, nb, nbr) if need_paths else (u, 0, 0), dtype=bool)
    flat = paths.reshape(-1, nbr) if need_paths else paths  # (u * n_bus, n_branch) view: fast row gathers
    for _ in range(nb - 1):
        vf, vt = visited[:, f], visited[:, t]
        grow = closed & (vf != vt)  # closed branch with exactly one end reached so far
        ci, ei = np.nonzero(grow)
        if len(ci) == 0:
            break
        from_reached = vf[ci, ei]
        child = np.where(from_reached, t[ei], f[ei])
        parent = np.where(from_reached, f[ei], t[ei])
        visited[ci, child] = True
        if need_paths:
            rows_child = ci * nb + child
            flat[rows_child] = flat[ci * nb + parent]
            flat[rows_child, ei] = True
    radial = (n_closed == nb - 1) & visited.all(axis=1)
    if need_paths:
        paths[~radial] = False
    return radial, paths.astype(float)


CACHE_MAX_TOPOLOGIES = 16384  # tree orders kept per network graph; the cache is emptied when it is full


@dataclass(frozen=True)
class TreeOrders:
    """Depth-first orders of u topologies (rows), the data one sweep needs; rows that are not radial hold an
    identity order that is never used.

    perm[r, k]: bus at preorder position k (k = 0 is the slack); end[r, k]: one past the last position of the
    subtree rooted at position k; branch[r, k]: 0-based branch feeding position k (0 at k = 0);
    enter[r, k] / leave[r, k]: slots 0..2 n_bus-1 of the Euler tour where that subtree is entered / left.
    """

    radial: np.ndarray
    perm: np.ndarray
    end: np.ndarray
    branch: np.ndarray
    enter: np.ndarray
    leave: np.ndarray


def _sorted_adjacency(net):
    """Per bus: neighbour buses ascending and the branch to each, padded (pad: neighbour 0, branch n_branch)."""
    nb, nbr = net.n_bus, net.n_branch
    f, t = np.asarray(net.from_bus, dtype=np.int64), np.asarray(net.to_bus, dtype=np.int64)
    a, b, e = np.r_[f, t], np.r_[t, f], np.r_[np.arange(nbr), np.arange(nbr)]
    order = np.lexsort((b, a))
    a, b, e = a[order], b[order], e[order]
    deg = np.bincount(a, minlength=nb)
    slot = np.arange(len(a)) - np.r_[0, np.cumsum(deg)][a]
    nbrs = np.zeros((nb, max(int(deg.max()), 1)), dtype=np.int64)
    edges = np.full(nbrs.shape, nbr, dtype=np.int64)
    nbrs[a, slot], edges[a, slot] = b, e
    return nbrs, edges


def _dfs_positions(nbrs: np.ndarray, edges: np.ndarray, cl: np.ndarray, slack: int, mirror: bool):
    """Preorder position of every (case, bus) below its case's slack, from one scipy depth-first search over all
    cases, children in ascending bus order (descending with mirror=True); -1 where a bus is not reached.

    Node c * n_bus + bus; every row holds the same number of entries (open slots point at the node itself,
    which the search skips) plus a last entry that chains each case's slack to the next case's slack, so the
    search finishes a case before it enters the next one and rescans only short rows.
    """
    u = cl.shape[0]
    nb, deg = nbrs.shape
    if mirror:  # node id c * nb + (nb - 1 - bus): ascending ids visit buses in descending order
        nbrs, edges, slack = (nb - 1 - nbrs)[::-1, ::-1], edges[::-1, ::-1], nb - 1 - slack
    n = u * nb
    pad = np.full((nb, 1), cl.shape[1] - 1, dtype=np.int64)  # last column of cl: always open
    step = np.zeros((nb, deg + 1), dtype=np.int32)  # neighbour bus - own bus per slot; last slot: the chain
    step[:, :deg] = nbrs - np.arange(nb)[:, None]
    indices = cl[:, np.hstack([edges, pad])] * step  # (u, nb, deg + 1); open slots point at the node itself
    indices += (np.arange(u, dtype=np.int32) * nb)[:, None, None]
    indices += np.arange(nb, dtype=np.int32)[None, :, None]
    indices[:-1, slack, deg] = np.arange(1, u, dtype=np.int32) * nb + slack
    indptr = np.arange(0, n * (deg + 1) + 1, deg + 1, dtype=np.int32)
    graph = csr_matrix((np.ones(indices.size), indices.reshape(-1), indptr), shape=(n, n))
    order, pred = depth_first_order(graph, slack, directed=True, return_predecessors=True)
    gpos = np.full(n, -1, dtype=np.int64)
    gpos[order] = np.arange(len(order))
    pos = gpos.reshape(u, nb)
    pos = np.where(pos >= 0, pos - pos[:, slack : slack + 1], -1)
    if mirror:
        pos = pos[:, ::-1]
    return pos, pred


def tree_orders(net: RadialNetwork, closed: np.ndarray) -> TreeOrders:
    """Radial flag and depth-first orders of each row of a closed-branch mask (u, n_branch), all rows at once.

    Two depth-first searches (children in ascending, then descending bus order) over all rows joined at a
    super-root, and bus depths by pointer doubling: the subtree of position k ends at n_bus + depth - (its
    position in the mirrored order), since that order is the original postorder reversed.
    """
    nbrs, edges = _sorted_adjacency(net)
    nb, slack = net.n_bus, net.slack_bus
    u, nbr = closed.shape
    perm = np.tile(np.arange(nb, dtype=np.int64), (u, 1))
    end = perm + 1
    branch = np.zeros((u, nb), dtype=np.int64)
    radial = np.zeros(u, dtype=bool)
    rows = np.flatnonzero(closed.sum(axis=1) == nb - 1)  # a spanning tree has exactly n_bus - 1 branches
    if len(rows):
        cl = np.zeros((len(rows), nbr + 1), dtype=bool)  # extra always-open column for the padding slots
        cl[:, :nbr] = closed[rows]
        pre, pred = _dfs_positions(nbrs, edges, cl, slack, mirror=False)
        pre_rev, _ = _dfs_positions(nbrs, edges, cl, slack, mirror=True)
        ok = (pre >= 0).all(axis=1)  # every bus reached: connected, hence a tree
        radial[rows] = ok
        good, pre, pre_rev, pred = rows[ok], pre[ok], pre_rev[ok], pred.reshape(len(rows), nb)[ok]
        n = len(good)
        if n:
            # depth below the slack by pointer doubling over the parents (flat ids within the kept rows)
            base = (np.arange(n) * nb)[:, None]
            src_row = np.flatnonzero(ok)
            parent = pred - (src_row * nb)[:, None] + base
            parent[:, slack] = base[:, 0] + slack
            parent = parent.reshape(-1)
            depth = np.ones(n * nb, dtype=np.int64)
            depth[base[:, 0] + slack] = 0
            ptr = parent
            for _ in range(int(np.ceil(np.log2(max(nb, 2)))) + 1):
                depth = depth + depth[ptr]
                ptr = ptr[ptr]
            depth = depth.reshape(n, nb)
            # branch from each bus to its parent: the closed slot whose neighbour is the parent bus
            par_bus = parent.reshape(n, nb) - base
            bus = np.arange(nb)
            hit = (nbrs[bus][None] == par_bus[:, :, None]) & cl[ok][:, edges]
            feeder = edges[bus[None, :], hit.argmax(axis=2)]
            feeder[:, slack] = 0
            at = (pre + (good * nb)[:, None]).reshape(-1)  # flat (case, position) of each (case, bus)
            perm.reshape(-1)[at] = np.tile(bus, n)
            end.reshape(-1)[at] = (nb + depth - pre_rev).reshape(-1)
            branch.reshape(-1)[at] = feeder.reshape(-1)
    # Euler tour: before entering position k come the leaves of all subtrees ending at or before k
    order = np.argsort(end, axis=1, kind="stable")
    leave = np.empty_like(end)
    np.put_along_axis(leave, order, np.take_along_axis(end, order, axis=1) + np.arange(nb), axis=1)
    n_end = np.zeros((u, nb + 1), dtype=np.int64)
    np.add.at(n_end.reshape(-1), (end + (np.arange(u) * (nb + 1))[:, None]).reshape(-1), 1)
    enter = np.arange(nb) + np.cumsum(n_end, axis=1)[:, :nb]
    return TreeOrders(radial, perm, end, branch, enter, leave)


class _TreeCache:
    """Tree orders of the topologies of one network graph met so far, keyed by the closed-branch bitmask."""

    def __init__(self, n_bus: int) -> None:
        self.slot: dict = {}
        self.dtype = np.int16 if 2 * n_bus < np.iinfo(np.int16).max else np.int32
        self.radial = np.zeros(0, dtype=bool)
        self.data = np.zeros((0, 5, n_bus), dtype=self.dtype)  # perm, end, branch, enter, leave

    def add(self, keys: list, trees: TreeOrders) -> np.ndarray:
        """Store the orders of new topologies; returns their slots."""
        n0 = len(self.slot)
        need = n0 + len(keys)
        if need > len(self.radial):  # grow geometrically
            cap = max(need, 2 * len(self.radial), 64)
            radial = np.zeros(cap, dtype=bool)
            data = np.zeros((cap,) + self.data.shape[1:], dtype=self.dtype)
            radial[:n0], data[:n0] = self.radial[:n0], self.data[:n0]
            self.radial, self.data = radial, data
        self.radial[n0:need] = trees.radial
        self.data[n0:need] = np.stack([trees.perm, trees.end, trees.branch, trees.enter, trees.leave], axis=1)
        for i, k in enumerate(keys):
            self.slot[k] = n0 + i
        return np.arange(n0, need)


_CACHES: OrderedDict = OrderedDict()  # network graph -> _TreeCache, a few graphs at most


def _graph_cache(net: RadialNetwork) -> _TreeCache:
    key = (net.n_bus, net.slack_bus, np.asarray(net.from_bus).tobytes(), np.asarray(net.to_bus).tobytes())
    cache = _CACHES.get(key)
    if cache is None:
        cache = _CACHES[key] = _TreeCache(net.n_bus)
        while len(_CACHES) > 8:
            _CACHES.popitem(last=False)
    return cache


def clear_tree_cache() -> None:
    """Forget all cached tree orders (e.g. to time cold starts)."""
    _CACHES.clear()


def cached_tree_orders(net: RadialNetwork, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tree orders of each row of a closed-branch mask (rows, n_branch), built once per distinct topology.

    Returns radial (rows,), data (rows, 5, n_bus) int64 holding perm, end, branch, enter, leave (see
    `TreeOrders`) per row. Distinct topologies not seen before are built in one `tree_orders` call.
    """
    cache = _graph_cache(net)
    packed = np.packbits(closed, axis=1)
    words = -(-packed.shape[1] // 8)
    padded = np.zeros((len(closed), words * 8), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    codes = padded.view(np.uint64)
    if words == 1:
        uniq, first, inverse = np.unique(codes[:, 0], return_index=True, return_inverse=True)
        keys = uniq.tolist()
    else:
        uniq, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
        keys = list(map(tuple, uniq.tolist()))
    get = cache.slot.get
    slots = np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
    miss = np.flatnonzero(slots < 0)
    inverse = inverse.reshape(-1)
    if len(miss) > CACHE_MAX_TOPOLOGIES // 2:  # a huge batch (e.g. all configurations): build, do not cache
        trees = tree_orders(net, closed[first])
        data = np.stack([trees.perm, trees.end, trees.branch, trees.enter, trees.leave], axis=1)
        return trees.radial[inverse], data[inverse]
    if len(miss):
        if len(cache.slot) + len(miss) > CACHE_MAX_TOPOLOGIES:  # flushing invalidates the hits' slots too
            cache.slot.clear()
            miss = np.arange(len(keys))
        slots[miss] = cache.add([keys[i] for i in miss], tree_orders(net, closed[first[miss]]))
    rows = slots[inverse]
    return cache.radial[rows], cache.data[rows].astype(np.int64)


class _Sweeper:
    """Backward/forward sweeps of a set of radial cases in (position, case) layout with preallocated buffers."""

    def __init__(self, s_pos: np.ndarray, z_pos: np.ndarray, end: np.ndarray, enter: np.ndarray, leave: np.ndarray):
        nb, w = s_pos.shape
        self.s, self.z = s_pos, z_pos
        col = np.arange(w)
        self.end_at = (end * w + col).reshape(-1)
        self.enter_at = (enter * w + col).reshape(-1)
        self.leave_at = (leave * w + col).reshape(-1)
        self.cum = np.zeros((nb + 1, w), dtype=complex)  # row 0 stays 0
        self.tour = np.zeros((2 * nb, w), dtype=complex)
        self.i = np.empty((nb, w), dtype=complex)
        self.zi = np.empty((nb, w), dtype=complex)

    def currents(self, v: np.ndarray) -> np.ndarray:
        """Backward sweep: current into the subtree of each position (position 0: total from the slack)."""
        inner = self.cum[1:]
        np.divide(self.s, v, out=inner)
        np.conjugate(inner, out=inner)
        np.cumsum(inner, axis=0, out=inner)
        np.take(self.cum.reshape(-1), self.end_at, out=self.i.reshape(-1))
        np.subtract(self.i, self.cum[:-1], out=self.i)
        return self.i

    def voltages(self, v: np.ndarray, v0: float, out: np.ndarray) -> np.ndarray:
        """One full sweep from voltages v; writes the new voltages into out."""
        zi = np.multiply(self.z, self.currents(v), out=self.zi).reshape(-1)
        tour = self.tour.reshape(-1)
        tour[self.enter_at] = zi
        tour[self.leave_at] = np.negative(zi, out=zi)
        np.cumsum(self.tour, axis=0, out=self.tour)
        np.take(tour, self.enter_at, out=out.reshape(-1))
        return np.subtract(v0, out, out=out)


class _Anderson:
    """Anderson mixing (depth 2) of the sweep fixed point V = T(V), per case (column), in real arithmetic.

    The next iterate is T(V) minus the combination of the last two changes of T(V) that best cancels the
    residual T(V) - V in least squares; where those changes are (nearly) collinear it falls back to depth 1,
    where they vanish to the plain sweep. Cuts the ~15 (up to 60, near voltage collapse) plain sweeps to <= ~12.
    """

    def __init__(self, x0: np.ndarray) -> None:
        self.x = x0
        self.g = np.empty_like(x0)  # T(x), written by the sweep
        self.f = np.empty_like(x0)  # residual T(x) - x
        self.f_prev = np.zeros_like(x0)
        self.g_prev = np.zeros_like(x0)
        self.df = np.zeros((2,) + x0.shape, dtype=complex)
        self.dg = np.zeros((2,) + x0.shape, dtype=complex)
        self.tmp = np.empty_like(x0)
        self.abs = np.empty(x0.shape)
        self.n = 0  # steps taken

    def residual(self) -> np.ndarray:
        """Max |T(x) - x| per case [p.u.], after the sweep has written T(x) into self.g."""
        np.subtract(self.g, self.x, out=self.f)
        return np.abs(self.f, out=self.abs).max(axis=0)

    def keep(self, cols: np.ndarray) -> None:
        """Restrict the state to the given cases (columns)."""
        for name in ("x", "g", "f", "f_prev", "g_prev", "tmp"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[:, cols]))
        self.df = np.ascontiguousarray(self.df[:, :, cols])
        self.dg = np.ascontiguousarray(self.dg[:, :, cols])
        self.abs = np.empty(self.x.shape)

    def step(self) -> None:
        """Next iterate into self.x from self.g, self.f and the history."""
        g, f, k = self.g, self.f, self.n
        self.n += 1
        if k == 0:
            self.f_prev, self.f = f, self.f_prev
            self.g_prev, self.g, self.x = g, self.x, self.g_prev
            self.x[...] = g
            return
        new, old = k % 2, (k + 1) % 2
        d0, d1 = self.df[new], self.df[old]
        np.subtract(f, self.f_prev, out=d0)
        np.subtract(g, self.g_prev, out=self.dg[new])
        a00, b0 = _dot(d0, d0), _dot(d0, f)
        if k == 1:
            gam0 = np.where(a00 > 0, b0 / a00, 0.0)
            gam1 = np.zeros_like(gam0)
        else:
            a11, a01, b1 = _dot(d1, d1), _dot(d0, d1), _dot(d1, f)
            det = a00 * a11 - a01 * a01
            two = det > 1e-10 * a00 * a11  # well-conditioned 2x2 normal equations
            safe = np.where(two, det, 1.0)
            gam0 = np.where(two, (a11 * b0 - a01 * b1) / safe, np.where(a00 > 0, b0 / np.where(a00 > 0, a00, 1.0), 0.0))
            gam1 = np.where(two, (a00 * b1 - a01 * b0) / safe, 0.0)
        ok = np.isfinite(gam0) & np.isfinite(gam1)
        gam0 = np.where(ok, gam0, 0.0)
        gam1 = np.where(ok, gam1, 0.0)
        x = self.x  # old x is no longer needed
        np.multiply(self.dg[new], gam0, out=self.tmp)
        np.subtract(g, self.tmp, out=x)
        np.multiply(self.dg[old], gam1, out=self.tmp)
        np.subtract(x, self.tmp, out=x)
        self.f_prev, self.f = f, self.f_prev
        self.g_prev, self.g = g, self.g_prev


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Real inner product Re(sum conj(a) b) over axis 0 of two (n, cases) complex arrays."""
    return np.einsum("ij,ij->j", a.view(float), b.view(float)).reshape(-1, 2).sum(axis=1)


def solve_radial_batch(
    net: RadialNetwork,
    open_branches,
    p_load_kw,
    q_load_kvar,
    *,
    v_slack_pu: float = 1.0,
    tol_pu: float = 1e-10,
    max_iter: int = 60,
) -> BatchFlowResult:
    """Constant-power load flow of many radial cases at once by backward/forward sweep.

    open_branches: branch ids (literature numbers), shape (batch, k) or (k,) broadcast to the batch.
    p_load_kw / q_load_kvar: bus loads, shape (batch, n_bus) or (n_bus,); negative = injection (e.g. V2G).
    Iterates until max |dV| < tol_pu per case; a case whose update stops shrinking (no solution, beyond
    voltage collapse) is given up early. Non-converged or non-radial cases are NaN with flags set.
    """
    p = _loads(net, p_load_kw, "p_load_kw")
    q = _loads(net, q_load_kvar, "q_load_kvar")
    batch = max(p.shape[0], q.shape[0])
    pos_raw = open_positions(net, open_branches)
    batch = max(batch, pos_raw.shape[0])
    for name, arr in (("p_load_kw", p), ("q_load_kvar", q), ("open_branches", pos_raw)):
        if arr.shape[0] not in (1, batch):
            raise PowerFlowInputError(f"{name} has {arr.shape[0]} rows but the batch has {batch} cases")
    if not (np.isfinite(v_slack_pu) and v_slack_pu > 0):
        raise PowerFlowInputError(f"v_slack_pu must be a positive number, got {v_slack_pu}")
    if not tol_pu > 0 or max_iter < 1:
        raise PowerFlowInputError(f"tol_pu must be > 0 and max_iter >= 1, got {tol_pu}, {max_iter}")

    nb, nbr = net.n_bus, net.n_branch
    closed = np.ones((pos_raw.shape[0], nbr), dtype=bool)
    if pos_raw.shape[1]:
        np.put_along_axis(closed, pos_raw, False, axis=1)
    radial, data = cached_tree_orders(net, closed)
    radial = np.broadcast_to(radial, (batch,)).copy()
    data = np.broadcast_to(data, (batch,) + data.shape[1:])
    z = np.asarray(net.r_pu, dtype=float) + 1j * np.asarray(net.x_pu, dtype=float)
    s_pu = (np.broadcast_to(p, (batch, nb)) + 1j * np.broadcast_to(q, (batch, nb))) / (1000.0 * net.base_mva)
    converged = np.zeros(batch, dtype=bool)
    v_done = np.empty((nb, batch), dtype=complex)  # converged voltages, (position, case)

    def sweeper(cases: np.ndarray) -> _Sweeper:
        d = data[cases].transpose(1, 2, 0)  # (5, n_bus, cases)
        perm, end, branch, enter, leave = d
        z_pos = z[branch]
        z_pos[0] = 0.0
        return _Sweeper(np.ascontiguousarray(s_pu[cases, perm]), z_pos, end, enter, leave)

    iterations = 0
    work = np.flatnonzero(radial)
    with np.errstate(all="ignore"):
        if len(work):
            sw = sweeper(work)
            it_state = _Anderson(np.full((nb, len(work)), complex(v_slack_pu)))
            live = np.ones(len(work), dtype=bool)
            hist = np.full((STALL_WINDOW, len(work)), np.inf)  # last dv per case, to give up on diverging cases
            for it in range(max_iter):
                iterations = it + 1
                g = sw.voltages(it_state.x, v_slack_pu, it_state.g)
                dv = it_state.residual()
                finite = np.isfinite(dv)
                done = live & finite & (dv < tol_pu)
                if done.any():
                    converged[work[done]] = True
                    v_done[:, work[done]] = g[:, done]
                # not contracting over STALL_WINDOW sweeps: no solution (beyond the voltage-collapse point)
                stalled = (dv >= hist[it % STALL_WINDOW]) if it >= 2 * STALL_WINDOW else np.zeros(len(work), dtype=bool)
                hist[it % STALL_WINDOW] = dv
                live &= ~done & finite & ~stalled
                n_live = int(live.sum())
                if n_live == 0:
                    break
                if n_live < 0.5 * len(work):  # drop finished cases from the working set
                    keep = np.flatnonzero(live)
                    work, hist = work[keep], hist[:, keep]
                    it_state.keep(keep)
                    sw = sweeper(work)
                    live = np.ones(len(work), dtype=bool)
                it_state.step()
    ok = converged & radial

    vm = np.full((batch, nb), np.nan)
    va_deg = np.full((batch, nb), np.nan)
    i_ka = np.full((batch, nbr), np.nan)
    loss = np.full(batch, np.nan)
    p_sl = np.full(batch, np.nan)
    q_sl = np.full(batch, np.nan)
    if np.any(ok):
        idx = np.flatnonzero(ok)
        v = np.ascontiguousarray(v_done[:, idx])
        sw = sweeper(idx)
        i_pos = sw.currents(v)  # p.u. into each subtree; position 0: total drawn from the slack
        d = data[idx].transpose(1, 2, 0)
        perm, branch = d[0], d[2]
        bus_at = (idx * nb + perm).reshape(-1)
        vm.reshape(-1)[bus_at] = np.abs(v).reshape(-1)
        va_deg.reshape(-1)[bus_at] = np.degrees(np.angle(v)).reshape(-1)
        i_ka[idx] = 0.0  # open branches carry no current
        i_abs = np.abs(i_pos[1:])
        i_ka.reshape(-1)[(idx * nbr + branch[1:]).reshape(-1)] = (i_abs * net.base_i_ka).reshape(-1)
        loss[idx] = (i_abs**2 * np.asarray(net.r_pu, dtype=float)[branch[1:]]).sum(axis=0) * net.base_mva * 1000.0
        s_slack = v_slack_pu * np.conj(i_pos[0]) * net.base_mva * 1000.0
        p_sl[idx] = s_slack.real
        q_sl[idx] = s_slack.imag
    loading = i_ka / np.asarray(net.i_max_ka, dtype=float)[None, :]
    return BatchFlowResult(
        vm_pu=vm, va_deg=va_deg, i_branch_ka=i_ka, loading=loading, loss_kw=loss, p_slack_kw=p_sl,
        q_slack_kvar=q_sl, converged=converged, radial=radial, iterations=iterations,
    )
