"""Pluggable rules that share a lot's power among its plugged EVs, and a registry by name.

A rule gets per-EV bounds ``lo <= hi`` (average grid-side kW over the coming interval, + charging,
- discharging; ``lo`` already holds each EV's must-run charging), the lot total ``total_kw`` with
``sum(lo) <= total_kw <= sum(hi)``, and the EVs' departure hours; it returns per-EV kW within the bounds
summing to ``total_kw``. Rules are vectorised with numpy (no Python loop over EVs).
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from cosim.errors import InputError


class AllocationRule(Protocol):
    def __call__(self, lo: np.ndarray, hi: np.ndarray, total_kw: float, departure_h: np.ndarray) -> np.ndarray: ...


def uses_laxity(rule: AllocationRule) -> bool:
    """Whether `rule` takes the EVs' laxities (keywords ``charge_laxity_h``, ``discharge_laxity_h``)."""
    return bool(getattr(rule, "uses_laxity", False))


class UnknownAllocationError(InputError):
    """The allocation rule name is not registered."""


ALLOCATION_RULES: dict[str, AllocationRule] = {}


def register_allocation(*names: str) -> Callable[[AllocationRule], AllocationRule]:
    """Decorator: register a rule under one or more names."""
    def deco(rule: AllocationRule) -> AllocationRule:
        for name in names:
            ALLOCATION_RULES[name] = rule
        return rule
    return deco


def get_allocation(name: str) -> AllocationRule:
    """The rule registered under ``name``; a clear error lists the known names otherwise."""
    try:
        return ALLOCATION_RULES[name]
    except KeyError:
        raise UnknownAllocationError(f"unknown allocation rule {name!r}; known: {sorted(ALLOCATION_RULES)}") from None


def fill_in_order(start: np.ndarray, room: np.ndarray, amount: float, order: np.ndarray) -> np.ndarray:
    """Add `amount` (>= 0) to `start`, giving each EV up to its `room`, in the given priority order."""
    if amount <= 0.0:
        return start.copy()
    if amount >= room.sum():
        return start + room
    before = np.cumsum(room[order]) - room[order]
    inc = np.empty_like(start)
    inc[order] = np.clip(amount - before, 0.0, room[order])
    return start + inc


@register_allocation("earliest_departure_first", "edf")
def earliest_departure_first(lo: np.ndarray, hi: np.ndarray, total_kw: float, departure_h: np.ndarray) -> np.ndarray:
    """Start every EV idle (or at its must-run charging); charging power above that goes to the earliest-
    departing EVs first, discharging comes from the latest-departing EVs first. No EV discharges while
    another charges by choice, so the lot never cycles energy between its own EVs."""
    if lo.size == 0:
        return lo.copy()
    base = np.clip(0.0, lo, hi)
    extra = total_kw - base.sum()
    order = np.argsort(departure_h, kind="stable")  # fast when already sorted (the lot passes them so)
    if extra >= 0.0:
        return fill_in_order(base, hi - base, extra, order)
    return -fill_in_order(-base, base - lo, -extra, order[::-1])


@register_allocation("least_laxity_first", "llf")
def least_laxity_first(lo: np.ndarray, hi: np.ndarray, total_kw: float, departure_h: np.ndarray, *,
                       charge_laxity_h: np.ndarray | None = None, discharge_laxity_h: np.ndarray | None = None,
                       charge_slope_kw_per_h: np.ndarray | None = None,
                       discharge_slope_kw_per_h: np.ndarray | None = None,
                       contract_laxity_h: np.ndarray | None = None,
                       contract_kw: np.ndarray | None = None) -> np.ndarray:
    """The lot's default rule: least laxity first, shared as a fluid (water-filling).

    Every EV starts idle (or at its must-run charging, which keeps its contract reachable). Charging above that
    goes first towards the contracts (up to `contract_kw`, what each EV still needs), raising the lowest contract
    laxities first - hours left minus the hours its charger needs to reach its contract - so that no EV is left to
    catch up later at full power while another was filled beyond its contract; then it raises the lowest charge
    laxities first - hours left after the interval minus the hours its charger needs to
    fill its room; charging an EV at p kW for the interval raises its laxity by p / `charge_slope_kw_per_h` -
    until they meet at one level: energy goes where the room would otherwise be lost (EVs about to leave, EVs
    with more room than their charger can fill) and is spread, so every charger keeps as much power as it can for
    the hours after. Discharging likewise raises the lowest discharge laxities first - hours left minus the hours
    its charger needs to give what it holds above the lowest energy that still reaches its contract - so the energy
    an EV would take away when it leaves is used first. No EV discharges while another charges by choice. Without
    laxities it is `earliest_departure_first`."""
    if lo.size == 0:
        return lo.copy()
    base = np.clip(0.0, lo, hi)
    extra = total_kw - base.sum()
    if extra >= 0.0:
        if charge_laxity_h is None or charge_slope_kw_per_h is None:
            return earliest_departure_first(lo, hi, total_kw, departure_h)
        first = np.zeros_like(base)
        if contract_laxity_h is not None and contract_kw is not None:
            first = _water_fill(contract_laxity_h, charge_slope_kw_per_h,
                                np.clip(contract_kw - base, 0.0, hi - base), extra)
        return base + first + _water_fill(charge_laxity_h, charge_slope_kw_per_h, hi - base - first,
                                          extra - float(first.sum()))
    if discharge_laxity_h is None or discharge_slope_kw_per_h is None:
        return earliest_departure_first(lo, hi, total_kw, departure_h)
    return base - _water_fill(discharge_laxity_h, discharge_slope_kw_per_h, base - lo, -extra)


def _water_fill(level_h: np.ndarray, slope: np.ndarray, room: np.ndarray, amount: float) -> np.ndarray:
    """x_i = clip((lam - level_i) * slope_i, 0, room_i) with sum x = `amount` (0 <= amount <= sum room): the
    lowest levels rise first until they meet. lam by bisection on the (monotone) total, to 1e-9 of the amount."""
    room = np.maximum(room, 0.0)
    if amount >= room.sum():
        return room.copy()
    if amount <= 0.0:
        return np.zeros_like(room)
    slope = np.maximum(slope, 1e-12)
    lo_lam = float(level_h.min())
    hi_lam = float(np.max(level_h + room / slope))
    for _ in range(100):
        mid = 0.5 * (lo_lam + hi_lam)
        if np.clip((mid - level_h) * slope, 0.0, room).sum() < amount:
            lo_lam = mid
        else:
            hi_lam = mid
        if hi_lam - lo_lam < 1e-12:
            break
    x = np.clip((hi_lam - level_h) * slope, 0.0, room)
    return x * (amount / x.sum()) if x.sum() > 0 else x


least_laxity_first.uses_laxity = True  # type: ignore[attr-defined]


@register_allocation("equal_share", "equal")
def equal_share(lo: np.ndarray, hi: np.ndarray, total_kw: float, departure_h: np.ndarray) -> np.ndarray:
    """The same kW for every EV, clipped to its bounds (water-filling: find lam with
    sum(clip(lam, lo, hi)) = total_kw), solved exactly by sorting the breakpoints."""
    n = lo.size
    if n == 0:
        return lo.copy()
    slo, shi = np.sort(lo), np.sort(hi)
    cands = np.concatenate([slo, shi])
    cands.sort()
    # g(lam) = sum(lo) + sum_{lo_i < lam}(lam - lo_i) - sum_{hi_i < lam}(lam - hi_i)
    clo = np.concatenate([[0.0], np.cumsum(slo)])
    chi = np.concatenate([[0.0], np.cumsum(shi)])
    klo = np.searchsorted(slo, cands, side="left")
    khi = np.searchsorted(shi, cands, side="left")
    g = slo.sum() + (klo * cands - clo[klo]) - (khi * cands - chi[khi])
    j = int(np.searchsorted(g, total_kw, side="left"))
    if j == 0:
        lam = cands[0]
    elif j >= g.size:
        lam = cands[-1]
    else:
        g0, g1 = g[j - 1], g[j]
        lam = cands[j] if g1 == g0 else cands[j - 1] + (total_kw - g0) * (cands[j] - cands[j - 1]) / (g1 - g0)
    return np.clip(lam, lo, hi)
