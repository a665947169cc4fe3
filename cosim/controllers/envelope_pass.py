"""The envelope's forward pass (`FlexEnvelope.project`) compiled with numba: an optimiser projects a population's
schedules onto a lot's envelope at every evaluation, and the pass runs hour by hour (24 steps of a few numpy calls
on 30 values each cost ~0.5 ms; compiled, a few microseconds).

Bit for bit the numpy pass it replaces: every step is the same IEEE operation in the same order, and a clip is
numpy's (``x > lo ? x : lo``, then ``t < hi ? t : hi``, NaN kept), so the chosen bound is the same for equal
values (signed zeros included). tests/controllers/test_envelope.py compares the two on random schedules.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["forward_pass"]


@njit(cache=True, error_model="numpy")
def _clip(x, lo, hi):
    """numpy's clip of one value: NaN stays NaN; else max(x, lo) then min(., hi), ties to the bound."""
    if x != x:
        return x
    t = x if x > lo else lo
    return t if t < hi else hi


@njit(cache=True, error_model="numpy")
def _battery(p, eta_c, eta_d):
    return p * eta_c if p >= 0.0 else p / eta_d


@njit(cache=True, error_model="numpy")
def _grid(e, eta_c, eta_d):
    return e / eta_c if e >= 0.0 else e * eta_d


@njit(cache=True, error_model="numpy")
def _forward(p, lo_e, hi_e, p_min, p_max, eta_c, eta_d, out):
    rows, hours = p.shape
    for r in range(rows):
        e = 0.0
        for h in range(hours):
            q = _clip(p[r, h], p_min[h], p_max[h])
            e_new = _clip(e + _battery(q, eta_c, eta_d), lo_e[r, h], hi_e[r, h])
            q = _clip(_grid(e_new - e, eta_c, eta_d), p_min[h], p_max[h])
            out[r, h] = q
            e = e + _battery(q, eta_c, eta_d)


def forward_pass(p: np.ndarray, lo_e: np.ndarray, hi_e: np.ndarray, p_min_kw: np.ndarray, p_max_kw: np.ndarray,
                 eta_charge: float, eta_discharge: float) -> np.ndarray:
    """(..., H) schedules `p` clipped hour by hour to [p_min_kw, p_max_kw] (H,) and to cumulative battery energy
    bounds `lo_e`, `hi_e` (broadcast to p's shape). Inputs are copied to fresh float64 arrays: one compiled
    signature serves every caller (numba compiles another one for write-protected or strided arrays)."""
    p = np.asarray(p, dtype=float)
    hours = p.shape[-1]
    flat = np.array(p.reshape(-1, hours), dtype=float, order="C")
    lo = np.array(np.broadcast_to(lo_e, p.shape).reshape(-1, hours), dtype=float, order="C")
    hi = np.array(np.broadcast_to(hi_e, p.shape).reshape(-1, hours), dtype=float, order="C")
    out = np.empty_like(flat)
    _forward(flat, lo, hi, np.array(p_min_kw, dtype=float), np.array(p_max_kw, dtype=float), float(eta_charge),
             float(eta_discharge), out)
    return out.reshape(p.shape)
