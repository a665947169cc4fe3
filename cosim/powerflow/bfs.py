"""Batched backward/forward sweep (BFS) power flow for radially operated networks.

Each case of a batch has its own open branches and constant-power loads. The work is done by compiled kernels
(`cosim.powerflow.kernels`, numba) with a case's data in L1 cache: a depth-first search from the slack orders the
buses of the case's spanning tree (children in ascending bus order); the cases are swept 8 at a time in SIMD lanes,
each lane its own case and topology (mixed topologies; consecutive cases with the same open set share one search),
the backward pass a prefix sum over depth-first subtree ranges; plain sweeps, switching to Anderson mixing where
they contract slowly (near voltage collapse), one case at a time. A case's result does not depend on the rest of
its batch (bit for bit; tests/powerflow).
A case stops when the estimated distance of its voltages to the exact solution is below `tol_pu` (see
`kernels`); the default 1e-9 p.u. keeps the flow within 1e-8 p.u. of pandapower's Newton-Raphson on every
built-in network (tests/powerflow).

Two entry points: `solve_radial_batch` (voltages, angles, currents and per-case totals: `BatchFlowResult`) and
`solve_radial_summary` (per-case totals only: losses, voltage extremes, VPD, limit violations, slack power:
`FlowSummary`), which is what an optimiser scoring many candidates needs and skips every per-bus output. For many
small calls on one network, `cosim.powerflow.prepared.PreparedNetwork` gives the same results with less work per
call.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np

from cosim.powerflow.network_data import NetworkDataError, RadialNetwork

DEFAULT_TOL_PU = 1e-9  # estimated distance to the exact solution per case [p.u.]


@cache
def kernels():
    """The compiled kernels (`cosim.powerflow.kernels`), imported on the first flow: importing numba takes ~0.2 s
    that `import cosim.powerflow` (e.g. a scenario check) need not pay."""
    from cosim.powerflow import kernels as k  # noqa: PLC0415 - numba on first use, see above

    return k


class PowerFlowInputError(NetworkDataError):
    """Raised for loads or open-branch arrays the power flow cannot use (shape, NaN/inf, unknown branch)."""


@dataclass
class FlowSummary:
    """Per-case totals of a batch (`solve_radial_summary`); rows are cases, NaN where a case is not radial or did
    not converge.

    Units: loss_kw [kW]; v_min_pu / v_max_pu [p.u.]; vpd_pu = sum over buses of |V - 1| [p.u.];
    v_violation_pu = sum over buses of how far |V| leaves [net.v_min_pu, net.v_max_pu] [p.u.];
    i_violation = sum over branches with a known ampacity of (I / I_max - 1)+; p_slack_kw [kW] and
    q_slack_kvar [kvar] drawn from the slack. sweeps (cases, 2): plain sweeps and Anderson steps per case.
    """

    loss_kw: np.ndarray
    v_min_pu: np.ndarray
    v_max_pu: np.ndarray
    vpd_pu: np.ndarray
    v_violation_pu: np.ndarray
    i_violation: np.ndarray
    p_slack_kw: np.ndarray
    q_slack_kvar: np.ndarray
    converged: np.ndarray
    radial: np.ndarray
    sweeps: np.ndarray = field(repr=False)

    @property
    def ok(self) -> np.ndarray:
        """Cases with a valid solution: radial and converged."""
        return self.converged & self.radial

    @property
    def batch(self) -> int:
        return len(self.converged)

    @property
    def iterations(self) -> int:
        """Most sweeps (plain + Anderson) any case took."""
        return int(self.sweeps.sum(axis=1).max()) if len(self.sweeps) else 0


def _row(name: str, table: str, row: int) -> property:
    """A field of `PackedFlowSummary`: row `row` of its array `table`, a view made when read; assigning writes
    the row."""

    def get(self) -> np.ndarray:
        return getattr(self, table)[row]

    def put(self, value) -> None:
        getattr(self, table)[row] = value

    return property(get, put, doc=f"{name}: row {row} of {table}")


class PackedFlowSummary(FlowSummary):
    """A `FlowSummary` over the kernel's packed outputs (`cosim.powerflow.prepared`): totals (N_SCALARS, cases),
    one row per total in FlowSummary's field order, and flags (2, cases), converged and radial. Each field is a row,
    made when read: numpy takes about 0.15 us per view, and ten of them cost a one-case call more than its
    sweeps' bookkeeping. Reads and writes as a FlowSummary does."""

    def __init__(self, totals: np.ndarray, flags: np.ndarray, sweeps: np.ndarray) -> None:  # noqa: D107
        self._totals = totals
        self._flags = flags
        self.sweeps = sweeps

    loss_kw = _row("loss_kw", "_totals", 0)
    v_min_pu = _row("v_min_pu", "_totals", 1)
    v_max_pu = _row("v_max_pu", "_totals", 2)
    vpd_pu = _row("vpd_pu", "_totals", 3)
    v_violation_pu = _row("v_violation_pu", "_totals", 4)
    i_violation = _row("i_violation", "_totals", 5)
    p_slack_kw = _row("p_slack_kw", "_totals", 6)
    q_slack_kvar = _row("q_slack_kvar", "_totals", 7)
    converged = _row("converged", "_flags", 0)
    radial = _row("radial", "_flags", 1)


@dataclass
class BatchFlowResult:
    """Result of `solve_radial_batch`; rows are cases. Cases that did not converge or are not radial hold NaN.

    Units: vm_pu [p.u.], v_pu complex bus voltages [p.u.], va_deg [degree], i_branch_ka [kA] (0 on open
    branches), loading [fraction of i_max_ka, 1.0 = 100 %], loss_kw [kW], p_slack_kw [kW] and q_slack_kvar
    [kvar] drawn from the slack. va_deg and loading are computed when first read. `summary` holds the per-case
    totals (`FlowSummary`: v_min_pu, vpd_pu, violations, ...).
    """

    vm_pu: np.ndarray
    v_pu: np.ndarray = field(repr=False)
    i_branch_ka: np.ndarray
    i_max_ka: np.ndarray = field(repr=False)
    summary: FlowSummary = field(repr=False)

    @property
    def loss_kw(self) -> np.ndarray:
        return self.summary.loss_kw

    @property
    def p_slack_kw(self) -> np.ndarray:
        return self.summary.p_slack_kw

    @property
    def q_slack_kvar(self) -> np.ndarray:
        return self.summary.q_slack_kvar

    @property
    def converged(self) -> np.ndarray:
        return self.summary.converged

    @property
    def radial(self) -> np.ndarray:
        return self.summary.radial

    @property
    def iterations(self) -> int:
        return self.summary.iterations

    @property
    def ok(self) -> np.ndarray:
        """Cases with a valid solution: radial and converged."""
        return self.summary.ok

    @property
    def batch(self) -> int:
        return len(self.summary.converged)

    @property
    def vmin_pu(self) -> np.ndarray:
        """Lowest bus voltage per case [p.u.] (NaN for invalid cases)."""
        return self.summary.v_min_pu

    @cached_property
    def va_deg(self) -> np.ndarray:
        return np.degrees(np.angle(self.v_pu))

    @cached_property
    def loading(self) -> np.ndarray:
        return self.i_branch_ka / self.i_max_ka[None, :]


@dataclass(frozen=True)
class _Compiled:
    """What the kernels need of one network, built once per RadialNetwork object (its arrays are treated as
    immutable, like the frozen dataclass itself)."""

    lut: np.ndarray  # branch id -> position, -1 where no branch has that id
    adj_ptr: np.ndarray  # CSR adjacency, neighbours in ascending bus order
    adj_bus: np.ndarray
    adj_edge: np.ndarray
    r_pu: np.ndarray
    x_pu: np.ndarray
    base_i_ka: np.ndarray  # per branch (its to-end's level)
    from_bus: np.ndarray
    tap_re: np.ndarray  # off-nominal ratio at the from-end
    tap_im: np.ndarray
    has_taps: bool
    i_max_ka: np.ndarray
    inv_i_max_ka: np.ndarray  # 0 where no ampacity is known
    s_scale: float  # kW -> p.u.
    kw_per_pu: float


_COMPILED: dict[int, tuple[weakref.ref, _Compiled]] = {}


def _compiled(net: RadialNetwork) -> _Compiled:
    hit = _COMPILED.get(id(net))
    if hit is not None and hit[0]() is net:
        return hit[1]
    nb, nbr = net.n_bus, net.n_branch
    ids = np.asarray(net.branch_ids, dtype=np.int64)
    lut = np.full(int(ids.max()) + 2 if len(ids) else 1, -1, dtype=np.int64)
    lut[ids] = np.arange(nbr)
    f, t = np.asarray(net.from_bus, dtype=np.int64), np.asarray(net.to_bus, dtype=np.int64)
    a, b, e = np.r_[f, t], np.r_[t, f], np.r_[np.arange(nbr), np.arange(nbr)]
    order = np.lexsort((e, b, a))  # by bus, then neighbour ascending, then branch position
    i_max = np.asarray(net.i_max_ka, dtype=float)
    with np.errstate(divide="ignore"):
        inv = np.where(np.isfinite(i_max), 1.0 / i_max, 0.0)
    comp = _Compiled(
        lut=lut, adj_ptr=np.r_[0, np.cumsum(np.bincount(a, minlength=nb))].astype(np.int64),
        adj_bus=np.ascontiguousarray(b[order]), adj_edge=np.ascontiguousarray(e[order]),
        r_pu=np.ascontiguousarray(net.r_pu, dtype=float), x_pu=np.ascontiguousarray(net.x_pu, dtype=float),
        base_i_ka=np.ascontiguousarray(net.branch_base_i_ka, dtype=float), from_bus=f,
        tap_re=np.ascontiguousarray(net.tap_ratio.real), tap_im=np.ascontiguousarray(net.tap_ratio.imag),
        has_taps=net.has_taps, i_max_ka=i_max, inv_i_max_ka=inv, s_scale=1.0 / (1000.0 * net.base_mva),
        kw_per_pu=1000.0 * net.base_mva,
    )
    for key in [k for k, (ref, _) in _COMPILED.items() if ref() is None]:
        del _COMPILED[key]
    _COMPILED[id(net)] = (weakref.ref(net), comp)
    return comp


def branch_lookup(net: RadialNetwork) -> np.ndarray:
    """Array mapping a literature branch id to its 0-based position (-1 where no branch has that id)."""
    return _compiled(net).lut


def _open_ids(net: RadialNetwork, open_branches) -> np.ndarray:
    """Open-branch ids as an int64 array (rows, k), checked for type and shape."""
    arr = open_branches if isinstance(open_branches, np.ndarray) else np.asarray(open_branches)
    if arr.size == 0:
        arr = arr.reshape(arr.shape[0] if arr.ndim == 2 else 1, 0)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise PowerFlowInputError(f"open_branches must be integer branch ids of network {net.name!r}, got {arr!r}")
    elif arr.dtype.kind not in "iu":
        raise PowerFlowInputError(f"open_branches must be integer branch ids, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise PowerFlowInputError(f"open_branches must have shape (batch, k) or (k,), got {arr.shape}")
    if arr.dtype != np.int64 or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr, dtype=np.int64)
    return arr


def open_positions(net: RadialNetwork, open_branches, batch: int | None = None) -> np.ndarray:
    """Validate open-branch ids (shape (batch, k) or (k,)) and return their 0-based positions, shape (batch, k)."""
    ids = _open_ids(net, open_branches)
    pos = np.empty(ids.shape, dtype=np.int64)
    bad = kernels().branch_positions(ids, _compiled(net).lut, pos)
    if bad >= 0:
        lut = _compiled(net).lut
        unknown = sorted({int(b) for b in ids.reshape(-1) if not 0 <= b < len(lut) or lut[b] < 0})
        raise PowerFlowInputError(
            f"network {net.name!r} has no branch {unknown}; "
            f"branch ids are {int(net.branch_ids.min())}..{int(net.branch_ids.max())}"
        )
    if batch is not None and pos.shape[0] not in (1, batch):
        raise PowerFlowInputError(f"open_branches has {pos.shape[0]} rows but the batch has {batch} cases")
    return pos


def _loads(net: RadialNetwork, values, name: str) -> np.ndarray:
    arr = values if isinstance(values, np.ndarray) and values.dtype == np.float64 else np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != net.n_bus:
        raise PowerFlowInputError(
            f"{name} must have shape (batch, {net.n_bus}) or ({net.n_bus},) for network {net.name!r}, "
            f"got {np.shape(values)}"
        )
    if not np.isfinite(arr).all():
        rows, cols = np.nonzero(~np.isfinite(arr))
        raise PowerFlowInputError(
            f"{name} must be finite; case {int(rows[0])} bus {net.bus_labels[int(cols[0])]} is {arr[rows[0], cols[0]]}"
        )
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def check_settings(v_slack_pu: float, tol_pu: float, max_iter: int) -> None:
    """The solver's settings: a positive finite slack voltage, a positive tolerance, at least one iteration."""
    if not (np.isfinite(v_slack_pu) and v_slack_pu > 0):
        raise PowerFlowInputError(f"v_slack_pu must be a positive number, got {v_slack_pu}")
    if not tol_pu > 0 or max_iter < 1:
        raise PowerFlowInputError(f"tol_pu must be > 0 and max_iter >= 1, got {tol_pu}, {max_iter}")


def _solve(net, open_branches, p_load_kw, q_load_kvar, v_slack_pu, tol_pu, max_iter, full: bool):
    p = _loads(net, p_load_kw, "p_load_kw")
    q = _loads(net, q_load_kvar, "q_load_kvar")
    pos = open_positions(net, open_branches)
    batch = max(p.shape[0], q.shape[0], pos.shape[0])
    for name, arr in (("p_load_kw", p), ("q_load_kvar", q), ("open_branches", pos)):
        if arr.shape[0] not in (1, batch):
            raise PowerFlowInputError(f"{name} has {arr.shape[0]} rows but the batch has {batch} cases")
    check_settings(v_slack_pu, tol_pu, max_iter)
    K = kernels()
    c = _compiled(net)
    nb, nbr = net.n_bus, net.n_branch
    rows = batch if full else 0
    scal = np.empty((batch, K.N_SCALARS))
    status = np.empty(batch, dtype=np.int8)
    sweeps = np.empty((batch, 2), dtype=np.int32)
    vm = np.empty((rows, nb))
    v = np.empty((rows, nb), dtype=complex)
    i_ka = np.empty((rows, nbr))
    K.solve_cases(pos, p, q, c.adj_ptr, c.adj_bus, c.adj_edge, net.slack_bus, c.r_pu, c.x_pu, c.inv_i_max_ka, nbr,
                  c.s_scale, c.base_i_ka, c.kw_per_pu, float(v_slack_pu), float(net.v_min_pu), float(net.v_max_pu),
                  float(tol_pu), int(max_iter), scal, status, sweeps, vm, v, i_ka, c.from_bus, c.tap_re, c.tap_im,
                  c.has_taps)
    s = scal.T
    summary = FlowSummary(
        loss_kw=s[K.LOSS_KW], v_min_pu=s[K.V_MIN], v_max_pu=s[K.V_MAX], vpd_pu=s[K.VPD], v_violation_pu=s[K.V_VIOL],
        i_violation=s[K.I_VIOL], p_slack_kw=s[K.P_SLACK_KW], q_slack_kvar=s[K.Q_SLACK_KVAR],
        converged=status == K.STATUS_OK, radial=status != K.STATUS_NOT_RADIAL, sweeps=sweeps,
    )
    if not full:
        return summary
    return BatchFlowResult(vm_pu=vm, v_pu=v, i_branch_ka=i_ka, i_max_ka=c.i_max_ka, summary=summary)


def solve_radial_batch(
    net: RadialNetwork,
    open_branches,
    p_load_kw,
    q_load_kvar,
    *,
    v_slack_pu: float = 1.0,
    tol_pu: float = DEFAULT_TOL_PU,
    max_iter: int = 60,
) -> BatchFlowResult:
    """Constant-power load flow of many radial cases at once by backward/forward sweep.

    open_branches: branch ids (literature numbers), shape (batch, k) or (k,) broadcast to the batch.
    p_load_kw / q_load_kvar: bus loads, shape (batch, n_bus) or (n_bus,); negative = injection (e.g. V2G).
    Iterates until the estimated distance of each case's voltages to the exact solution is below tol_pu
    (within max_iter sweeps); a case whose update stops shrinking (no solution, beyond voltage collapse) is
    given up early. Non-converged or non-radial cases are NaN with flags set.
    """
    return _solve(net, open_branches, p_load_kw, q_load_kvar, v_slack_pu, tol_pu, max_iter, full=True)


def solve_radial_summary(
    net: RadialNetwork,
    open_branches,
    p_load_kw,
    q_load_kvar,
    *,
    v_slack_pu: float = 1.0,
    tol_pu: float = DEFAULT_TOL_PU,
    max_iter: int = 60,
) -> FlowSummary:
    """Like `solve_radial_batch` but returns only per-case totals (losses, voltage extremes, VPD, violations of the
    network's voltage band and ampacities, slack power): no per-bus or per-branch arrays are written."""
    return _solve(net, open_branches, p_load_kw, q_load_kvar, v_slack_pu, tol_pu, max_iter, full=False)


@dataclass(frozen=True)
class TreeOrders:
    """Depth-first orders of u topologies (rows); rows that are not radial hold unspecified orders.

    perm[r, k]: bus at preorder position k (k = 0 is the slack); parent[r, k]: position of the parent of
    position k (0 at k = 0); branch[r, k]: 0-based branch feeding position k (0 at k = 0); end[r, k]: one past
    the last position of the subtree rooted at position k (each subtree is a contiguous run of positions).
    """

    radial: np.ndarray
    perm: np.ndarray
    parent: np.ndarray
    branch: np.ndarray
    end: np.ndarray


def tree_orders(net: RadialNetwork, closed: np.ndarray) -> TreeOrders:
    """Radial flag and depth-first orders of each row of a closed-branch mask (u, n_branch), by the same compiled
    search the flow uses (rows that are not radial get the identity order)."""
    closed = np.ascontiguousarray(closed, dtype=bool)
    u, nb = closed.shape[0], net.n_bus
    c = _compiled(net)
    radial = np.empty(u, dtype=bool)
    perm = np.empty((u, nb), dtype=np.int64)
    parent = np.empty((u, nb), dtype=np.int64)
    branch = np.empty((u, nb), dtype=np.int64)
    kernels().tree_order_rows(closed, c.adj_ptr, c.adj_bus, c.adj_edge, net.slack_bus, radial, perm, parent, branch)
    size = np.ones((u, nb), dtype=np.int64)
    rows = np.arange(u)
    for k in range(nb - 1, 0, -1):  # subtree sizes, children before parents
        np.add.at(size, (rows, parent[:, k]), size[:, k])
    return TreeOrders(radial, perm, parent, branch, np.arange(nb)[None, :] + size)


def radial_flags(net: RadialNetwork, open_pos: np.ndarray) -> np.ndarray:
    """Radial flag of each row of open branch positions (rows, k), by the compiled depth-first search."""
    c = _compiled(net)
    out = np.empty(open_pos.shape[0], dtype=bool)
    kernels().radial_rows(np.ascontiguousarray(open_pos, dtype=np.int64), c.adj_ptr, c.adj_bus, c.adj_edge,
                          net.slack_bus, net.n_branch, out)
    return out


def tree_paths(net: RadialNetwork, open_pos: np.ndarray, need_paths: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Radial flag and path matrix of each row of open branch positions, by a breadth-first search from the
    slack that advances all rows one level at a time (numpy; the tests' independent reference for the compiled
    search).

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
