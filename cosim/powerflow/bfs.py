"""Batched backward/forward sweep (BFS) power flow for radially operated networks, vectorised with numpy.

Each case of a batch has its own open branches and constant-power loads. For a radial topology the
backward sweep (branch current = sum of the load currents below it) and the forward sweep (bus voltage =
slack voltage minus the drops on its path) are two products with the path matrix P of the spanning tree
(P[b, e] = 1 when branch e is on the path slack -> b): I_branch = P^T I_load, V = V0 - P (z * I_branch).
The path matrices of all topologies of a batch are
found by one breadth-first search that advances all cases together; identical topologies are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.powerflow.network_data import NetworkDataError, RadialNetwork


STALL_WINDOW = 6  # sweeps: a case whose voltage change has not shrunk over this many sweeps is given up
GROUPED_MAX_TOPOLOGIES = 4  # up to this many distinct topologies: one 2-D product per topology per sweep


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
            f"network {net.name!r} has no branch {unknown}; branch ids are {int(net.branch_ids.min())}..{int(net.branch_ids.max())}"
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
            f"{name} must have shape (batch, {net.n_bus}) or ({net.n_bus},) for network {net.name!r}, got {np.shape(values)}"
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


def _real_matmul(mats: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Stacked real matrices (m, a, b) times complex vectors (m, b) -> (m, a), via a zero-copy (re, im) view."""
    vec = np.ascontiguousarray(vec, dtype=complex)
    out = np.matmul(mats, vec.view(np.float64).reshape(vec.shape[0], vec.shape[1], 2))
    return out.view(complex)[..., 0]


def _branch_currents(i_load, rows, paths, grouped, inverse, paths_u) -> np.ndarray:
    """Backward sweep: current of each branch = sum of the load currents of the buses it feeds (P^T I)."""
    if grouped:
        out = np.empty((len(rows), paths_u.shape[2]), dtype=complex)
        topo = inverse[rows]
        for g in np.unique(topo):
            sel = topo == g
            out[sel] = i_load[sel] @ paths_u[g]
        return out
    return _real_matmul(paths.transpose(0, 2, 1), i_load)  # transposed view: no copy


def _voltage_drops(zi, rows, paths, grouped, inverse, paths_u) -> np.ndarray:
    """Forward sweep: drop from the slack to each bus = sum of z * I over the branches on its path (P zI)."""
    if grouped:
        out = np.empty((len(rows), paths_u.shape[1]), dtype=complex)
        topo = inverse[rows]
        for g in np.unique(topo):
            sel = topo == g
            out[sel] = zi[sel] @ paths_u[g].T
        return out
    return _real_matmul(paths, zi)


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
    # unique topologies: the set of open branches, sorted
    uniq, inverse = np.unique(np.sort(pos_raw, axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if pos_raw.shape[0] == 1:
        inverse = np.zeros(batch, dtype=int)
    # many cases per topology -> 2-D products per topology; else stacked products with each case's path matrix
    grouped = len(uniq) <= GROUPED_MAX_TOPOLOGIES and len(uniq) * 8 <= batch
    if not grouped:  # path matrices per case, in case order (no gather of big arrays later)
        uniq = np.sort(np.broadcast_to(pos_raw, (batch, pos_raw.shape[1])), axis=1)
        inverse = np.arange(batch)
    radial_u, paths_u = tree_paths(net, uniq)
    z = net.r_pu + 1j * net.x_pu

    s_pu = (np.broadcast_to(p, (batch, nb)) + 1j * np.broadcast_to(q, (batch, nb))) / (1000.0 * net.base_mva)
    radial = radial_u[inverse].copy()
    v = np.full((batch, nb), complex(v_slack_pu))
    converged = np.zeros(batch, dtype=bool)

    active = np.flatnonzero(radial)
    iterations = 0
    with np.errstate(all="ignore"):
        # `work` = rows held in compressed copies of the path matrices; re-gathered only when the active
        # set has shrunk enough, since gathering (batch, n_bus, n_branch) every iteration would dominate
        work = active
        work_paths = None if grouped or len(work) == batch else paths_u[work]
        if not grouped and len(work) == batch:
            work_paths = paths_u
        live = np.ones(len(work), dtype=bool)
        hist = np.full((STALL_WINDOW, len(work)), np.inf)  # last dv per row, to give up on diverging cases
        for it in range(max_iter):
            if not live.any():
                break
            iterations = it + 1
            va = v[work]
            i_load = np.conj(s_pu[work] / va)
            i_br = _branch_currents(i_load, work, work_paths, grouped, inverse, paths_u)
            v_new = v_slack_pu - _voltage_drops(i_br * z[None, :], work, work_paths, grouped, inverse, paths_u)
            dv = np.abs(v_new - va).max(axis=1)
            upd = work[live]
            v[upd] = v_new[live]
            finite = np.isfinite(dv)
            done = live & finite & (dv < tol_pu)
            converged[work[done]] = True
            # not contracting over STALL_WINDOW sweeps: no solution (beyond the voltage-collapse point)
            stalled = (dv >= hist[it % STALL_WINDOW]) if it >= 2 * STALL_WINDOW else np.zeros(len(work), dtype=bool)
            hist[it % STALL_WINDOW] = dv
            live &= ~done & finite & ~stalled
            if 0 < live.sum() < 0.5 * len(work):
                keep_rows = np.flatnonzero(live)
                work = work[keep_rows]
                hist = hist[:, keep_rows]
                if not grouped:
                    work_paths = work_paths[keep_rows]
                live = np.ones(len(work), dtype=bool)
    ok = converged & radial

    vm = np.full((batch, nb), np.nan)
    va_deg = np.full((batch, nb), np.nan)
    i_ka = np.full((batch, nbr), np.nan)
    loss = np.full(batch, np.nan)
    p_sl = np.full(batch, np.nan)
    q_sl = np.full(batch, np.nan)
    if np.any(ok):
        idx = np.flatnonzero(ok)
        vm[idx] = np.abs(v[idx])
        va_deg[idx] = np.degrees(np.angle(v[idx]))
        i_load = np.conj(s_pu[idx] / v[idx])
        i_br = _branch_currents(i_load, idx, None if grouped else paths_u[idx], grouped, inverse, paths_u)  # p.u., exactly 0 on open branches
        i_ka[idx] = np.abs(i_br) * net.base_i_ka
        loss[idx] = (np.abs(i_br) ** 2 * net.r_pu[None, :]).sum(axis=1) * net.base_mva * 1000.0
        s_slack = v_slack_pu * np.conj(i_load.sum(axis=1)) * net.base_mva * 1000.0
        p_sl[idx] = s_slack.real
        q_sl[idx] = s_slack.imag
    loading = i_ka / np.asarray(net.i_max_ka, dtype=float)[None, :]
    return BatchFlowResult(
        vm_pu=vm, va_deg=va_deg, i_branch_ka=i_ka, loading=loading, loss_kw=loss, p_slack_kw=p_sl,
        q_slack_kvar=q_sl, converged=converged, radial=radial, iterations=iterations,
    )
