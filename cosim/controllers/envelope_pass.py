"""The envelope's forward pass (`FlexEnvelope.project`) and its violation (`FlexEnvelope.violation_kwh`) compiled
with numba: an optimiser projects a population's schedules onto a lot's envelope and measures how far each is
outside at every evaluation, and both run step by step (24 steps of a few numpy calls on 30 values each cost
~0.5 ms; a violation ~0.07 ms of numpy calls; compiled, a few microseconds).

Bit for bit the numpy pass it replaces: every step is the same IEEE operation in the same order, and a clip is
numpy's (``x > lo ? x : lo``, then ``t < hi ? t : hi``, NaN kept), so the chosen bound is the same for equal
values (signed zeros included). The violation sums each row's power excess in numpy's pairwise order
(`_pairwise_sum`, numpy's ``pairwise_sum`` for a contiguous row), its cumulative energy in cumsum's sequential
order, and takes maxima as ``np.maximum`` does (NaN kept, ``a >= b`` keeps a). tests/controllers/test_envelope.py
compares them with the numpy code on drawn schedules and envelopes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["forward_pass", "project_pass", "violation"]


@njit(cache=True, error_model="numpy")
def _clip(x, lo, hi):
    """numpy's clip of one value: NaN stays NaN; else max(x, lo) then min(., hi), ties to the bound."""
    if x != x:
        return x
    t = x if x > lo else lo
    return t if t < hi else hi


@njit(cache=True, error_model="numpy")
def _battery(p, eta_c, eta_d, step_h):
    """Battery kWh of one step at grid power p (kW): `envelope.battery_kwh`'s operations in its order."""
    return (p * eta_c if p >= 0.0 else p / eta_d) * step_h


@njit(cache=True, error_model="numpy")
def _grid(e, eta_c, eta_d, step_h):
    """Grid kW of a step putting e battery kWh in: `envelope.grid_kw`'s operations in its order."""
    return (e / eta_c if e >= 0.0 else e * eta_d) / step_h


@njit(cache=True, error_model="numpy")
def _forward(p, lo_e, hi_e, p_min, p_max, eta_c, eta_d, step_h, out):
    rows, hours = p.shape
    for r in range(rows):
        e = 0.0
        for h in range(hours):
            q = _clip(p[r, h], p_min[h], p_max[h])
            e_new = _clip(e + _battery(q, eta_c, eta_d, step_h), lo_e[r, h], hi_e[r, h])
            q = _clip(_grid(e_new - e, eta_c, eta_d, step_h), p_min[h], p_max[h])
            out[r, h] = q
            e = e + _battery(q, eta_c, eta_d, step_h)


def forward_pass(p: np.ndarray, lo_e: np.ndarray, hi_e: np.ndarray, p_min_kw: np.ndarray, p_max_kw: np.ndarray,
                 eta_charge: float, eta_discharge: float, step_h: float = 1.0) -> np.ndarray:
    """(..., H) schedules `p` (kW, steps of `step_h` hours) clipped step by step to [p_min_kw, p_max_kw] (H,) and
    to cumulative battery energy bounds `lo_e`, `hi_e` (broadcast to p's shape). Inputs are copied to fresh float64
    arrays: one compiled
    signature serves every caller (numba compiles another one for write-protected or strided arrays)."""
    p = np.asarray(p, dtype=float)
    hours = p.shape[-1]
    flat = np.array(p.reshape(-1, hours), dtype=float, order="C")
    lo = np.array(np.broadcast_to(lo_e, p.shape).reshape(-1, hours), dtype=float, order="C")
    hi = np.array(np.broadcast_to(hi_e, p.shape).reshape(-1, hours), dtype=float, order="C")
    out = np.empty_like(flat)
    _forward(flat, lo, hi, np.array(p_min_kw, dtype=float), np.array(p_max_kw, dtype=float), float(eta_charge),
             float(eta_discharge), float(step_h), out)
    return out.reshape(p.shape)


@njit(cache=True, error_model="numpy")
def _max(a, b):
    """numpy's maximum of two values: ``a >= b`` or a NaN keeps a, else b (so a NaN b is kept too)."""
    return a if (a >= b or a != a) else b


@njit(cache=True, error_model="numpy")
def _block_sum(x, start, n):
    """numpy's pairwise sum of ``x[start:start + n]`` for n <= 128 (``pairwise_sum`` in loops_utils.h, unit
    stride): a plain loop below 8 values, else 8 running sums, combined pairwise, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += x[start + i]
        return res
    r0, r1, r2, r3 = x[start], x[start + 1], x[start + 2], x[start + 3]
    r4, r5, r6, r7 = x[start + 4], x[start + 5], x[start + 6], x[start + 7]
    i = 8
    while i < n - (n % 8):
        r0 += x[start + i]
        r1 += x[start + i + 1]
        r2 += x[start + i + 2]
        r3 += x[start + i + 3]
        r4 += x[start + i + 4]
        r5 += x[start + i + 5]
        r6 += x[start + i + 6]
        r7 += x[start + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[start + i]
        i += 1
    return res


@njit(cache=True, error_model="numpy")
def _pairwise_sum(x, start, n):
    """numpy's pairwise sum of ``x[start:start + n]``: above 128 values, the two halves (split at a multiple of 8)
    summed each and added. Without recursion (numba's cache cannot load a recursive function): the halving tree
    walked depth first with explicit stacks, each pair added once both its halves are known."""
    if n <= 128:
        return _block_sum(x, start, n)
    depth = 2 * (64 - 7) + 2  # a stack deep enough for any halving tree of an int64 length
    starts = np.empty(depth, np.int64)
    sizes = np.empty(depth, np.int64)
    stage = np.zeros(depth, np.int64)  # 0: split me, 1: left done, 2: both done
    left = np.empty(depth)
    top = 0
    starts[0], sizes[0], stage[0] = start, n, 0
    value = 0.0
    while top >= 0:
        m = sizes[top]
        if m <= 128:
            value = _block_sum(x, starts[top], m)
            top -= 1
            if top >= 0:  # hand the value to the parent
                if stage[top] == 1:
                    left[top] = value
                else:
                    value = left[top] + value
                    stage[top] = 3
            continue
        half = m // 2
        half -= half % 8
        if stage[top] == 0:  # descend into the left half
            stage[top] = 1
            top += 1
            starts[top], sizes[top], stage[top] = starts[top - 1], half, 0
        elif stage[top] == 1:  # left known: descend into the right half
            stage[top] = 2
            top += 1
            starts[top], sizes[top], stage[top] = starts[top - 1] + half, m - half, 0
        else:  # both known (value holds the sum): hand it up
            top -= 1
            if top >= 0:
                if stage[top] == 1:
                    left[top] = value
                else:
                    value = left[top] + value
                    stage[top] = 3
    return value


@njit(cache=True, error_model="numpy")
def _row_violation(p, r, p_min, p_max, e_min, e_max, gain, drop, has_suffix, eta_c, eta_d, step_h, excess, e):
    """(violation, suffix excess) of row r of `p`, as `FlexEnvelope.violation_kwh` and `suffix_excess_kwh` compute
    them (`excess` and `e`: (H,) scratch)."""
    hours = p.shape[1]
    for h in range(hours):
        x = p[r, h]
        excess[h] = _max(x - p_max[h], 0.0) + _max(p_min[h] - x, 0.0)
        b = _battery(x, eta_c, eta_d, step_h)
        e[h] = b if h == 0 else e[h - 1] + b
    power = _pairwise_sum(excess, 0, hours) * step_h
    below = _max(e_min[0] - e[0], 0.0)
    above = _max(e[0] - e_max[0], 0.0)
    for h in range(1, hours):
        below = _max(below, _max(e_min[h] - e[h], 0.0))
        above = _max(above, _max(e[h] - e_max[h], 0.0))
    late = 0.0
    if has_suffix:
        for h in range(hours):
            after = e[hours - 1] - e[h]
            x = _max(_max(after - gain[h], 0.0), _max(-after - drop[h], 0.0))
            late = x if h == 0 else _max(late, x)
    return power + below + above + late, late


@njit(cache=True, error_model="numpy")
def _violation(p, p_min, p_max, e_min, e_max, gain, drop, has_suffix, eta_c, eta_d, step_h, out):
    hours = p.shape[1]
    excess = np.empty(hours)
    e = np.empty(hours)
    for r in range(p.shape[0]):
        out[r] = _row_violation(p, r, p_min, p_max, e_min, e_max, gain, drop, has_suffix, eta_c, eta_d, step_h,
                                excess, e)[0]


@njit(cache=True, error_model="numpy")
def _project(p, p_min, p_max, e_min, e_max, gain, drop, has_suffix, eta_c, eta_d, step_h, out, outside):
    """`FlexEnvelope.project`'s first step: rows within 1e-9 kWh copied, the others through the forward pass
    within (e_min, e_max); returns the largest suffix excess of the passed rows (0 when none)."""
    rows, hours = p.shape
    excess = np.empty(hours)
    e = np.empty(hours)
    late_max = 0.0
    for r in range(rows):
        v = _row_violation(p, r, p_min, p_max, e_min, e_max, gain, drop, has_suffix, eta_c, eta_d, step_h, excess,
                           e)[0]
        outside[r] = v > 1e-9
        if not outside[r]:
            for h in range(hours):
                out[r, h] = p[r, h]
            continue
        level = 0.0
        for h in range(hours):
            q = _clip(p[r, h], p_min[h], p_max[h])
            e_new = _clip(level + _battery(q, eta_c, eta_d, step_h), e_min[h], e_max[h])
            q = _clip(_grid(e_new - level, eta_c, eta_d, step_h), p_min[h], p_max[h])
            out[r, h] = q
            level = level + _battery(q, eta_c, eta_d, step_h)
        if has_suffix:
            late = _row_violation(out, r, p_min, p_max, e_min, e_max, gain, drop, has_suffix, eta_c, eta_d, step_h,
                                  excess, e)[1]
            late_max = _max(late_max, late)
    return late_max


def _prepared(p, p_min_kw, p_max_kw, e_min_kwh, e_max_kwh, gain_max_kwh, drop_max_kwh):
    """Fresh C-contiguous float64 copies of a kernel's arguments (one compiled signature for every caller)."""
    hours = p.shape[-1]
    none = np.zeros(hours)
    has_suffix = gain_max_kwh is not None
    return (np.array(p.reshape(-1, hours), dtype=float, order="C"), np.array(p_min_kw, dtype=float),
            np.array(p_max_kw, dtype=float), np.array(e_min_kwh, dtype=float), np.array(e_max_kwh, dtype=float),
            np.array(gain_max_kwh, dtype=float) if has_suffix else none,
            np.array(drop_max_kwh, dtype=float) if has_suffix else none, has_suffix)


def violation(p: np.ndarray, p_min_kw: np.ndarray, p_max_kw: np.ndarray, e_min_kwh: np.ndarray,
              e_max_kwh: np.ndarray, gain_max_kwh: np.ndarray | None, drop_max_kwh: np.ndarray | None,
              eta_charge: float, eta_discharge: float, step_h: float = 1.0) -> np.ndarray:
    """(...) kWh by which schedules `p` (..., H) are outside an envelope's bounds (H,): `FlexEnvelope.violation_kwh`
    compiled (power beyond the hourly bounds summed, plus the largest cumulative energy below e_min and above
    e_max, plus the largest suffix excess when `gain_max_kwh` / `drop_max_kwh` are given)."""
    p = np.asarray(p, dtype=float)
    args = _prepared(p, p_min_kw, p_max_kw, e_min_kwh, e_max_kwh, gain_max_kwh, drop_max_kwh)
    out = np.empty(args[0].shape[0])
    _violation(*args, float(eta_charge), float(eta_discharge), float(step_h), out)
    return out[0] if p.ndim == 1 else out.reshape(p.shape[:-1])


def project_pass(p: np.ndarray, p_min_kw: np.ndarray, p_max_kw: np.ndarray, e_min_kwh: np.ndarray,
                 e_max_kwh: np.ndarray, gain_max_kwh: np.ndarray | None, drop_max_kwh: np.ndarray | None,
                 eta_charge: float, eta_discharge: float, step_h: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """`FlexEnvelope.project` up to its suffix step, compiled: (schedules (..., H) with the rows more than 1e-9 kWh
    outside moved through the forward pass within (e_min, e_max), which rows those were (...), the largest
    suffix excess (kWh) among them after the pass)."""
    p = np.asarray(p, dtype=float)
    args = _prepared(p, p_min_kw, p_max_kw, e_min_kwh, e_max_kwh, gain_max_kwh, drop_max_kwh)
    out = np.empty_like(args[0])
    outside = np.empty(args[0].shape[0], dtype=np.bool_)
    late = _project(*args, float(eta_charge), float(eta_discharge), float(step_h), out, outside)
    return out.reshape(p.shape), (outside[0] if p.ndim == 1 else outside.reshape(p.shape[:-1])), float(late)
