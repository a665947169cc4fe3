"""Radiality checks, loop-based encoding of open branches, and exhaustive enumeration of radial configurations.

A configuration is the set of open branches (literature ids); it is radial when the closed branches form a
spanning tree (connected, no loop), i.e. exactly n_branch - n_bus + 1 distinct branches open and connected.
"""

from __future__ import annotations

import functools
import itertools
import math
import time

import networkx as nx
import numpy as np
from numba import njit
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cosim.powerflow.bfs import kernels, open_positions, radial_flags, solve_radial_summary
from cosim.powerflow.network_data import NetworkDataError, RadialNetwork, contract_fixed


class TopologyError(NetworkDataError):
    """Raised when a set of open branches does not leave a radial (tree) network, or names unknown branches."""


def n_open_radial(net: RadialNetwork) -> int:
    """How many branches a radial configuration opens: n_branch - n_bus + 1 (= number of fundamental loops)."""
    return net.n_branch - net.n_bus + 1


def _positions(net: RadialNetwork, open_ids) -> np.ndarray:
    try:
        return open_positions(net, open_ids)
    except NetworkDataError as exc:
        raise TopologyError(str(exc)) from None


def check_radial(net: RadialNetwork, open_ids) -> None:
    """Raise TopologyError naming the problem (unknown branch, duplicate, a remaining loop, isolated buses).

    A radial configuration (every plan checked) is told by the compiled search (`radial_flags`, microseconds); the
    networkx graph is built only to name what is wrong."""
    ids = [int(b) for b in np.asarray(open_ids).reshape(-1)]
    pos = _positions(net, ids)
    dup = sorted({b for b in ids if ids.count(b) > 1})
    if dup:
        raise TopologyError(f"network {net.name!r}: branch(es) {dup} opened more than once in {ids}")
    fixed = sorted(set(ids) & set(net.fixed_branches))
    if fixed:
        raise TopologyError(f"network {net.name!r}: branch(es) {fixed} have no switch and cannot be opened")
    if radial_flags(net, pos.reshape(1, -1))[0]:
        return
    g = net.graph(open_branch_ids=ids)
    comps = list(nx.connected_components(g))
    if len(comps) > 1:
        isolated = sorted(b for c in comps if net.slack_bus not in c for b in c)
        labels = [net.bus_labels[b] for b in isolated]
        raise TopologyError(
            f"network {net.name!r}: opening {sorted(ids)} islands bus(es) {labels} from the slack bus "
            f"{net.bus_labels[net.slack_bus]}"
        )
    if g.number_of_edges() != net.n_bus - 1:
        cycle = nx.find_cycle(g)
        branches = sorted(int(k) for _, _, k in cycle)
        raise TopologyError(
            f"network {net.name!r}: opening {sorted(ids)} leaves a loop through branches {branches}; "
            f"a radial configuration opens exactly {n_open_radial(net)} branches, one more in that loop"
        )


def is_radial(net: RadialNetwork, open_ids) -> bool:
    """True when opening `open_ids` leaves a spanning tree; unknown branch ids still raise TopologyError."""
    return bool(radial_mask(net, np.asarray(open_ids).reshape(1, -1))[0])


def radial_mask(net: RadialNetwork, open_batch) -> np.ndarray:
    """Vectorised radiality of each row of open branch ids (shape (batch, k)); bool array (batch,). A row that
    opens a fixed branch (`net.fixed_branches`, no switch) is not a radial configuration of the network."""
    pos = _positions(net, open_batch)
    ok = radial_flags(net, pos)
    if net.fixed_branches and pos.size:
        ok &= ~np.isin(pos, net.branch_indices(net.fixed_branches)).any(axis=1)
    return ok


def decode_loops(net: RadialNetwork, positions) -> np.ndarray:
    """Map continuous positions in [0, 1) (shape (pop, n_loops)) to one branch id of each fundamental loop."""
    x = np.asarray(positions, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    n_loops = len(net.loops)
    if x.ndim != 2 or x.shape[1] != n_loops:
        raise TopologyError(f"positions must have shape (pop, {n_loops}) for network {net.name!r}, "
                            f"got {np.shape(positions)}")
    if not np.all(np.isfinite(x)):
        raise TopologyError("positions must be finite numbers in [0, 1)")
    try:  # loops as tuples of ids (ReconfigurationProblem's) are their own key
        table, lengths = _loop_table(net.loops)
    except TypeError:  # lists
        table, lengths = _loop_table(tuple(tuple(int(b) for b in loop) for loop in net.loops))
    out = np.empty(x.shape, dtype=np.int64)
    _pick_members(np.ascontiguousarray(x), table, lengths, np.nextafter(1.0, 0.0), out)
    return out.astype(int, copy=False)


@functools.lru_cache(maxsize=64)
def _loop_table(loops: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Members of each loop as the rows of a padded table (n_loops, longest loop), and each loop's length."""
    lengths = np.array([len(loop) for loop in loops], dtype=np.int64)
    table = np.zeros((len(loops), int(lengths.max(initial=0))), dtype=np.int64)
    for j, loop in enumerate(loops):
        table[j, : len(loop)] = [int(b) for b in loop]
    return table, lengths


@njit(cache=True)
def _pick_members(x, table, lengths, top, out):
    """out[i, j] = loop j's member at position x[i, j] (clipped to [0, top]): member int(x * length), at most the
    last; the same IEEE operations as numpy's clip, product and truncation."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            v = v if v > 0.0 else 0.0
            v = v if v < top else top
            k = int(v * lengths[j])
            out[i, j] = table[j, k if k < lengths[j] - 1 else lengths[j] - 1]


def _repair_row(net: RadialNetwork, row: list[int], rng: np.random.Generator) -> list[int]:
    """Open branches one loop at a time, keeping a choice when it cuts a remaining loop, else re-choosing."""
    g = net.graph()
    chosen: list[int] = []
    ends = {int(b): (int(f), int(t)) for f, t, b in zip(net.from_bus, net.to_bus, net.branch_ids)}
    fixed = set(net.fixed_branches)

    def removable(b: int) -> bool:
        f, t = ends[b]
        if b in chosen or b in fixed or not g.has_edge(f, t, key=b):
            return False
        g.remove_edge(f, t, key=b)
        still = nx.has_path(g, f, t)
        g.add_edge(f, t, key=b)
        return still

    for j, loop in enumerate(net.loops):
        want = row[j] if j < len(row) else None
        if want is not None and removable(want):
            pick = want
        else:
            cands = [b for b in loop if removable(b)]
            if not cands:  # the loop was already cut by an earlier choice: cut any remaining loop instead
                cands = sorted(k for _, _, k in list(g.edges(keys=True)) if removable(k))
            pick = int(cands[int(rng.integers(len(cands)))])
        chosen.append(pick)
        g.remove_edge(*ends[pick], key=pick)
    return chosen


def repair(net: RadialNetwork, open_ids, rng: np.random.Generator) -> np.ndarray:
    """Return radial open ids (pop, n_loops): radial rows unchanged, others re-chosen loop by loop.

    Duplicates and choices that leave a loop closed are replaced by a random branch of the same loop that
    still cuts a loop; deterministic given rng. Unknown branch ids raise TopologyError.
    """
    arr = np.asarray(open_ids)
    if arr.ndim == 1:
        arr = arr[None, :]
    k = n_open_radial(net)
    if arr.ndim != 2 or arr.shape[1] != k:
        raise TopologyError(f"open_ids must have shape (pop, {k}) for network {net.name!r}, got {np.shape(open_ids)}")
    _positions(net, arr)  # unknown ids are an error, not something to repair
    out = arr.astype(int).copy()
    ok = radial_mask(net, out)
    for i in np.flatnonzero(~ok):
        out[i] = _repair_row(net, [int(b) for b in out[i]], rng)
    return out


def count_spanning_trees(net: RadialNetwork) -> int:
    """Number of spanning trees (= radial configurations) by Kirchhoff's matrix-tree theorem; fixed branches
    (no switch) stay closed: the trees of the network with them contracted."""
    net = contract_fixed(net)
    lap = np.zeros((net.n_bus, net.n_bus))
    for f, t in zip(net.from_bus, net.to_bus):
        if f != t:
            lap[f, f] += 1
            lap[t, t] += 1
            lap[f, t] -= 1
            lap[t, f] -= 1
    keep = np.delete(np.arange(net.n_bus), net.slack_bus)
    return int(round(np.linalg.det(lap[np.ix_(keep, keep)])))


def _components(n: int, f: np.ndarray, t: np.ndarray) -> tuple[int, np.ndarray]:
    m = coo_matrix((np.ones(len(f)), (f, t)), shape=(n, n))
    return connected_components(m, directed=False)


def enumerate_radial(net: RadialNetwork) -> np.ndarray:
    """All radial configurations as sorted open branch ids, shape (n_configs, n_open), rows sorted.

    Complete and duplicate-free: bridges (in no loop) always stay closed and are contracted; chains of
    series branches become super-edges of a small kernel graph; every spanning tree of the network is one
    spanning tree of the kernel (open super-edges) times one open branch chosen inside each open super-edge.
    Fixed branches (no switch) are never opened: the network is enumerated with them contracted.
    """
    net = contract_fixed(net)
    nbr = net.n_branch
    f_all, t_all = np.asarray(net.from_bus), np.asarray(net.to_bus)
    ncomp, _ = _components(net.n_bus, f_all, t_all)
    if ncomp != 1:
        raise TopologyError(f"network {net.name!r} is not connected with all branches closed; "
                            "it has no radial configuration")
    # 1. bridges: removing the branch disconnects the network
    bridge = np.zeros(nbr, dtype=bool)
    for e in range(nbr):
        sel = np.arange(nbr) != e
        bridge[e] = _components(net.n_bus, f_all[sel], t_all[sel])[0] > 1
    # 2. contract bridges
    _, label = (_components(net.n_bus, f_all[bridge], t_all[bridge]) if bridge.any()
                else (net.n_bus, np.arange(net.n_bus)))
    cyc = np.flatnonzero(~bridge)
    k_open = n_open_radial(net)
    if len(cyc) == 0:
        return np.zeros((1, 0), dtype=int)
    adj: dict[int, list[int]] = {}
    for e in cyc:
        for node in (label[f_all[e]], label[t_all[e]]):
            adj.setdefault(int(node), []).append(int(e))
    # 3. kernel nodes: degree != 2 (self-loops count twice)
    kernel = [n for n, es in adj.items() if len(es) != 2]
    if not kernel:
        kernel = [next(iter(adj))]
    kernel_set = set(kernel)
    used: set[int] = set()
    supers: list[tuple[int, int, list[int]]] = []  # (kernel a, kernel b, branch positions in the chain)
    for a in kernel:
        for e0 in adj[a]:
            if e0 in used:
                continue
            chain, node, e = [], a, e0
            while True:
                chain.append(e)
                used.add(e)
                u, w = int(label[f_all[e]]), int(label[t_all[e]])
                node = w if u == node else u
                if node in kernel_set:
                    break
                e = next(x for x in adj[node] if x != e)
            supers.append((a, node, chain))
    loops_ = [s for s in supers if s[0] == s[1]]
    edges = [s for s in supers if s[0] != s[1]]
    kid = {n: i for i, n in enumerate(kernel)}
    n_open_kernel = len(edges) - (len(kernel) - 1)
    # 4. kernel spanning trees: open `n_open_kernel` super-edges so that the rest is connected; each gives the
    # cartesian product of one branch per opened chain (built as arrays, not tuples)
    blocks: list[np.ndarray] = []
    ka = np.array([kid[s[0]] for s in edges], dtype=int)
    kb = np.array([kid[s[1]] for s in edges], dtype=int)
    ids = np.asarray(net.branch_ids, dtype=np.int64)
    n_combos = math.comb(len(edges), n_open_kernel)
    combos = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(len(edges)), n_open_kernel)),
                         dtype=np.int64, count=n_combos * n_open_kernel).reshape(n_combos, n_open_kernel)
    spanning = np.empty(len(combos), dtype=bool)
    kernels().connected_rows(ka.astype(np.int64), kb.astype(np.int64), len(kernel), combos, spanning)
    for opened in combos[spanning].tolist():
        groups = [ids[edges[i][2]] for i in opened] + [ids[s[2]] for s in loops_]
        grids = np.meshgrid(*groups, indexing="ij")
        blocks.append(np.stack([g.reshape(-1) for g in grids], axis=1))
    if not blocks:
        return np.zeros((0, k_open), dtype=int)
    out = np.sort(np.concatenate(blocks), axis=1)
    return out[np.lexsort(out.T[::-1])].astype(int)


SCREEN_TOL_PU = 1e-6  # first pass of best_configuration: ~4 sweeps fewer per configuration
SCREEN_MARGIN = 1e-3  # relative loss margin: configurations this close to the screened best are solved again


def best_configuration(
    net: RadialNetwork, p_kw, q_kvar, configs: np.ndarray | None = None, chunk: int | None = None
) -> tuple[np.ndarray, float, float]:
    """Minimum-loss radial configuration by evaluating every config with the batched flow.

    Returns (open branch ids, loss [kW], lowest bus voltage [p.u.]); non-converged configs are skipped. Only
    per-case totals are computed (`solve_radial_summary`), in chunks of `chunk` configurations, first at
    SCREEN_TOL_PU (a voltage error of 1e-6 p.u. moves a loss by ~2e-6 of itself); every configuration within
    SCREEN_MARGIN of the screened best is then solved again at the default tolerance, and the best of those is
    returned, so the answer is that of a search at the default tolerance.
    """
    if configs is None:
        configs = enumerate_radial(net)
    configs = np.asarray(configs, dtype=np.int64)
    if chunk is None:
        chunk = 1 << 16
    loss = np.empty(len(configs))
    for s in range(0, len(configs), chunk):
        part = configs[s : s + chunk]
        res = solve_radial_summary(net, part, p_kw, q_kvar, tol_pu=SCREEN_TOL_PU)
        loss[s : s + chunk] = np.where(res.ok, res.loss_kw, np.inf)
    if len(loss) == 0 or not np.isfinite(loss.min()):
        raise TopologyError(f"network {net.name!r}: no configuration converged at these loads")
    near = np.flatnonzero(loss <= loss.min() * (1.0 + SCREEN_MARGIN))
    res = solve_radial_summary(net, configs[near], p_kw, q_kvar)
    exact = np.where(res.ok, res.loss_kw, np.inf)
    i = int(np.argmin(exact))
    if not np.isfinite(exact[i]):
        raise TopologyError(f"network {net.name!r}: no configuration converged at these loads")
    return configs[near[i]].copy(), float(exact[i]), float(res.v_min_pu[i])


def timed_exhaustive_optimum(net: RadialNetwork) -> dict:
    """Enumerate every radial configuration and find the minimum-loss one at nominal load, timing both steps
    (what `cosim validate` and benchmarks/powerflow.py report)."""
    t0 = time.perf_counter()
    configs = enumerate_radial(net)
    t_enum = time.perf_counter() - t0
    t0 = time.perf_counter()
    best, loss, vmin = best_configuration(net, net.p_load_kw, net.q_load_kvar, configs)
    return {"n_configs": len(configs), "enum_s": t_enum, "open": best, "loss_kw": loss, "vmin_pu": vmin,
            "best_s": time.perf_counter() - t0}
