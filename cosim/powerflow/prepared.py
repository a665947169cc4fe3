"""A network prepared once for many small power-flow calls (a simulator's hour, a plan's few candidates).

`solve_radial_batch` / `solve_radial_summary` check and convert their inputs in Python on every call, which for
one IEEE 33-bus case costs more than the flow itself. `PreparedNetwork` packs the network's kernel inputs into two
arrays once (the settings included) and makes one compiled call per batch (`kernels.packed_summary` /
`packed_full`, eight and eleven arguments) that looks the branch ids up, checks the loads and shapes and takes a
one-case call's 1-D inputs itself. Types are checked by numba's dispatch (the kernels are compiled for int64 ids
and float64 loads in C order only); anything else goes through `bfs`'s conversions. Results are those of
`solve_radial_batch` / `solve_radial_summary` bit for bit (the same compiled solver, a test); bad input raises the same
`PowerFlowInputError` with the same message (the checks of `bfs` run again to word it).
"""

from __future__ import annotations

import numpy as np

from cosim.powerflow.bfs import (
    DEFAULT_TOL_PU,
    BatchFlowResult,
    FlowSummary,
    PackedFlowSummary,
    PowerFlowInputError,
    _compiled,
    _solve,
    check_settings,
    kernels,
)
from cosim.powerflow.network_data import RadialNetwork


class PreparedNetwork:
    """One network's kernel inputs, packed once; `summary` and `batch` solve cases like `solve_radial_summary` and
    `solve_radial_batch` (same arguments, same results) with less work per call.

    The network's arrays are read here once: a RadialNetwork is immutable, build a new PreparedNetwork for another.
    """

    def __init__(self, net: RadialNetwork, *, v_slack_pu: float = 1.0, tol_pu: float = DEFAULT_TOL_PU,
                 max_iter: int = 60) -> None:
        check_settings(v_slack_pu, tol_pu, max_iter)
        k = kernels()
        c = _compiled(net)
        head = [net.n_bus, net.n_branch, net.slack_bus, len(c.lut), int(c.has_taps), int(max_iter)]
        assert len(head) == k.PACKED_HEAD
        self.ints = np.ascontiguousarray(np.concatenate([head, c.lut, c.adj_ptr, c.adj_bus, c.adj_edge, c.from_bus]),
                                         dtype=np.int64)
        fhead = [c.s_scale, c.kw_per_pu, float(net.v_min_pu), float(net.v_max_pu), float(v_slack_pu), float(tol_pu)]
        assert len(fhead) == k.PACKED_FLOATS
        self.floats = np.ascontiguousarray(np.concatenate([fhead, c.r_pu, c.x_pu, c.inv_i_max_ka, c.base_i_ka,
                                                           c.tap_re, c.tap_im]), dtype=np.float64)
        self.net = net
        self.n_bus = net.n_bus
        self.n_branch = net.n_branch
        self.i_max_ka = c.i_max_ka
        self.v_slack_pu = float(v_slack_pu)
        self.tol_pu = float(tol_pu)
        self.max_iter = int(max_iter)
        self._summary_call, self._full_call = k.packed_entry_points()
        self._n_scalars = k.N_SCALARS
        self._bad_shape = k.INPUT_BAD_SHAPE

    def _call(self, ids, p, q, full: bool):
        """One compiled call on the inputs as they are: the kernels' signatures take int64 ids and float64 loads in
        C order, all 1-D (one case) or all 2-D (rows), and the kernel checks the shapes. None when they do not fit
        (numba's dispatch raises TypeError, or the shapes are refused): the caller converts or checks them."""
        try:
            batch = 1 if p.ndim == 1 else max(ids.shape[0], p.shape[0], q.shape[0])
            totals = np.empty((self._n_scalars, batch))  # one row per total
            sweeps = np.empty((batch, 2), dtype=np.int32)
            flags = np.empty((2, batch), dtype=np.bool_)
            if full:
                vm = np.empty((batch, self.n_bus))
                v = np.empty((batch, self.n_bus), dtype=complex)
                i_ka = np.empty((batch, self.n_branch))
                code = self._full_call(ids, p, q, self.ints, self.floats, totals, sweeps, flags, vm, v, i_ka)
            else:
                code = self._summary_call(ids, p, q, self.ints, self.floats, totals, sweeps, flags)
        except (AttributeError, IndexError, TypeError, ValueError):  # not arrays, or not of the compiled types
            return None
        if code == self._bad_shape:
            return None
        if code:  # a bad branch id or a load that is not finite: bfs words the error (and raises it)
            _solve(self.net, ids, p, q, self.v_slack_pu, self.tol_pu, self.max_iter, full)
            raise PowerFlowInputError(f"input the kernel refused (code {code}) passed the checks of bfs")
        summary = PackedFlowSummary(totals, flags, sweeps)
        if not full:
            return summary
        return BatchFlowResult(vm_pu=vm, v_pu=v, i_branch_ka=i_ka, i_max_ka=self.i_max_ka, summary=summary)

    def _slow(self, open_branches, p_load_kw, q_load_kvar, full: bool):
        """Inputs the compiled call did not take: a mix of one row and rows as rows, anything else through bfs."""
        ids, p, q = open_branches, p_load_kw, q_load_kvar
        if type(ids) is np.ndarray and type(p) is np.ndarray and type(q) is np.ndarray and max(
                ids.ndim, p.ndim, q.ndim) == 2:  # a mix of one row and rows: all as rows
            got = self._call(np.atleast_2d(ids), np.atleast_2d(p), np.atleast_2d(q), full)
            if got is not None:
                return got
        # the full checks and conversions (and their messages), then the same solver
        return _solve(self.net, open_branches, p_load_kw, q_load_kvar, self.v_slack_pu, self.tol_pu, self.max_iter,
                      full)

    def summary(self, open_branches, p_load_kw, q_load_kvar) -> FlowSummary:
        """`solve_radial_summary(net, open_branches, p_load_kw, q_load_kvar)` with this object's settings. Fast path:
        numpy arrays, ids int64, loads float64, C order, all 1-D or all 2-D; anything else goes through `bfs`'s
        conversions."""
        got = self._call(open_branches, p_load_kw, q_load_kvar, False)
        return got if got is not None else self._slow(open_branches, p_load_kw, q_load_kvar, False)

    def batch(self, open_branches, p_load_kw, q_load_kvar) -> BatchFlowResult:
        """`solve_radial_batch(net, open_branches, p_load_kw, q_load_kvar)` with this object's settings."""
        got = self._call(open_branches, p_load_kw, q_load_kvar, True)
        return got if got is not None else self._slow(open_branches, p_load_kw, q_load_kvar, True)
