"""Decoding the lot-dispatch part of a decision vector into integer PEV counts per lot and step.

Each lot gets one continuous variable in [0, 1] per step in which its offer allows action (hour_mode != 0 and
some power); it maps to 0..n_max(h) PEVs, + charging in charge steps, - discharging in discharge steps. The day
has as many steps as the offer's arrays (24, 48 or 96).
Eq. 6 (PEVs charged over the day = PEVs discharged, optionally <= a daily capacity) is enforced BY
CONSTRUCTION: the side with more PEV-hours is scaled down to the other (largest-remainder rounding), so every
decoded plan satisfies it and the optimiser never wastes evaluations on that constraint.
The decoding runs compiled (`dispatch_pass`: the same integers as `decode_counts_numpy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.controllers.base import HOURS, LotOffer, ProblemError
from cosim.controllers.objectives import pev_kw
from cosim.timebase import StepError, step_h_of


@dataclass(frozen=True)
class LotDispatchLayout:
    """Where a lot may act: steps (0-based) with a decision variable, their sign and PEV bound."""

    lot: LotOffer
    hours: np.ndarray  # (k,) 0-based steps with a variable
    sign: np.ndarray  # (k,) +1 charge, -1 discharge
    n_max: np.ndarray  # (k,) PEVs allowed in that hour
    daily_cap: float  # eq. 6 cap on PEVs charged (= discharged) over the day; inf = none
    balance: bool  # enforce eq. 6 equality
    n_steps: int = HOURS  # steps in the lot's day (the length of its offer's arrays: 24, 48 or 96)

    @property
    def n_var(self) -> int:
        return len(self.hours)


def hourly_pev_limit(lot: LotOffer, model: str = "soc_weighted") -> np.ndarray:
    """(n,) PEVs the lot may engage each step: min(n_pev, offered kW / kW per PEV) in the allowed direction, with
    the kW per PEV of lot power `model` (`objectives.pev_kw`), so the decoded setpoints stay within the offer."""
    mode = np.asarray(lot.hour_mode, int)
    n = mode.shape[0] if mode.ndim == 1 else -1
    try:
        step_h_of(n)
    except StepError:
        n = -1
    if n < 0 or not np.all(np.isin(mode, (-1, 0, 1))):
        raise ProblemError(f"lot {lot.lot_id!r}: hour_mode must be 24, 48 or 96 values (one per step) in -1/0/+1, "
                           f"got shape {mode.shape}")
    if lot.pev_power_kw <= 0:
        raise ProblemError(f"lot {lot.lot_id!r}: pev_power_kw must be > 0, got {lot.pev_power_kw}")
    kw_ch, kw_dis = pev_kw(lot, model)  # kW a PEV draws (gives) in the hour, as in objectives.lot_power_kw
    per_pev = np.where(mode > 0, max(kw_ch, 1e-9), max(kw_dis, 1e-9))
    kw = np.where(mode > 0, np.asarray(lot.max_charge_kw, float),
                  np.where(mode < 0, np.asarray(lot.max_discharge_kw, float), 0.0))
    return np.minimum(np.floor(np.maximum(kw, 0.0) / per_pev + 1e-9), lot.n_pev).astype(int)


def make_layout(lot: LotOffer, *, balance: bool = True, daily_cap: float | None = None,
                model: str = "soc_weighted") -> LotDispatchLayout:
    """Layout for one lot; `daily_cap` None = no daily cap (hourly capacity only); `model`: lot power model."""
    limit = hourly_pev_limit(lot, model)
    hours = np.flatnonzero(limit > 0)
    sign = np.asarray(lot.hour_mode, int)[hours]
    return LotDispatchLayout(lot, hours, sign, limit[hours], np.inf if daily_cap is None else float(daily_cap), balance,
                             len(limit))


def apportion(n: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale non-negative integer rows `n` (m, k) down to integer rows summing to `target` (m,) <= row sums.

    Largest-remainder rounding keeps every entry <= its original value.
    """
    n = np.asarray(n, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    total = n.sum(axis=1)
    if np.any(target > total):
        raise ValueError("apportion: target exceeds the row total")
    if np.array_equal(target, total):  # nothing to take away (the smaller side of eq. 6): the rows as they are
        return n.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(total[:, None] > 0, n * (target / np.maximum(total, 1))[:, None], 0.0)
    f = np.floor(q + 1e-12).astype(np.int64)
    f = np.minimum(f, n)
    rem = target - f.sum(axis=1)
    order = np.argsort(-(q - f), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n.shape[1])[None, :].repeat(n.shape[0], 0), axis=1)
    return f + (ranks < rem[:, None]).astype(np.int64)


def balance_counts(n_ch: np.ndarray, n_dis: np.ndarray, daily_cap: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 6 by construction: reduce the larger daily total (and both to `daily_cap`) so the totals match."""
    tot_c, tot_d = n_ch.sum(axis=1), n_dis.sum(axis=1)
    target = np.minimum(tot_c, tot_d)
    if np.isfinite(daily_cap):
        target = np.minimum(target, int(daily_cap))
    return apportion(n_ch, target), apportion(n_dis, target)


def decode_counts(x: np.ndarray, layout: LotDispatchLayout) -> np.ndarray:
    """(pop, k) positions in [0, 1] -> (pop, n) signed PEV counts (+ charging, - discharging). Compiled
    (`dispatch_pass.decode`: the same integers as `decode_counts_numpy`) for finite positions; the numpy decoding
    otherwise (a NaN has no count)."""
    x = np.asarray(x, float)
    if not np.all(np.isfinite(x)):
        return decode_counts_numpy(x, layout)
    from cosim.controllers.dispatch_pass import decode  # noqa: PLC0415 - numba on first use

    return decode(x, layout.n_max, layout.sign, layout.hours, layout.n_steps, layout.balance, layout.daily_cap)


def decode_counts_numpy(x: np.ndarray, layout: LotDispatchLayout) -> np.ndarray:
    """`decode_counts` in numpy (the reference of the compiled one)."""
    x = np.clip(np.asarray(x, float), 0.0, 1.0)
    pop = x.shape[0]
    n = np.minimum(np.floor(x * (layout.n_max + 1)), layout.n_max).astype(np.int64)
    ch = np.where(layout.sign > 0, n, 0)
    dis = np.where(layout.sign < 0, n, 0)
    if layout.balance or np.isfinite(layout.daily_cap):
        if layout.balance:
            ch, dis = balance_counts(ch, dis, layout.daily_cap)
        else:
            cap = int(layout.daily_cap)
            ch = apportion(ch, np.minimum(ch.sum(1), cap))
            dis = apportion(dis, np.minimum(dis.sum(1), cap))
    out = np.zeros((pop, layout.n_steps), dtype=np.int64)
    out[:, layout.hours] = ch - dis
    return out


def encode_counts(counts: np.ndarray, layout: LotDispatchLayout) -> np.ndarray:
    """Inverse of `decode_counts` for a feasible (balanced) count plan: (pop, n) -> (pop, k) positions."""
    counts = np.atleast_2d(np.asarray(counts, float))
    n = np.abs(counts[:, layout.hours])
    return np.clip((n + 0.5) / (layout.n_max + 1), 0.0, 1.0)


def split_counts(signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed counts -> (charging, discharging) counts, both >= 0."""
    return np.maximum(signed, 0), np.maximum(-signed, 0)
