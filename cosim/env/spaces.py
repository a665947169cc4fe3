"""The DSO environment's action and observation vectors, and how an action becomes the DSO's plan.

Action (every entry in [-1, 1]; `ActionLayout`):
  * one entry per fundamental loop (networks with reconfiguration): the position of the open branch along the
    loop's members; decoded exactly as EO decodes it (`ReconfigurationProblem.decode`, repaired to stay radial), so
    a loop can never be closed;
  * one entry per lot: its bus among its candidate buses (read at the first step of a day only: a day-ahead
    decision);
  * one entry per lot: its power this hour, -1 the lowest and +1 the highest the lot can take at this step given
    the energy it has already taken (its envelope, tightened: `step_range_kw`); ignored at a day's first step;
  * 24 entries per lot, read at a day's first step only: the day's schedule, hour h scaled over the envelope's
    power bounds of hour h, then moved inside the envelope (`FlexEnvelope.project`). It is the schedule the lot
    follows until an hourly entry changes an hour; the hours after a changed hour keep it (moved inside the
    envelope again).
Observation (`ObservationLayout`): only what the DSO receives in the centralised mode at that hour: the hour of the
day, its 24-h load-scaling and price forecasts, the grid's last measured hour (losses, lowest voltage, substation
power; zeros before the first), the switch operations left today, the topology in force, and each lot's offer: its
envelope's 24-h bounds and its measurements (EVs present, energy stored).
"""

from __future__ import annotations

import numpy as np

from cosim.controllers.base import HOURS, LotOffer
from cosim.controllers.envelope import grid_kw
from cosim.env.bridge import DecisionPoint
from cosim.optim.reconfiguration import ReconfigurationProblem
from cosim.powerflow.network_data import RadialNetwork

__all__ = ["ActionLayout", "ObservationLayout", "step_range_kw"]

OBS_BOUND = 1e6  # observations are scaled to O(1); the box is wide so that no real value leaves it


def step_range_kw(offer: LotOffer) -> tuple[float, float]:
    """The lowest and highest power (kW, grid side, + charging) the lot can take in the offer's first hour, given
    the energy it has already taken: the tightened envelope's power bounds and cumulative-energy bounds of hour 0
    (without an envelope, the offer's hour-0 charge and discharge limits)."""
    env = offer.envelope
    if env is None:
        return -float(offer.max_discharge_kw[0]), float(offer.max_charge_kw[0])
    t = env.tightened()
    lo = max(float(t.p_min_kw[0]), float(grid_kw(np.asarray(t.e_min_kwh[0]), t.eta_charge, t.eta_discharge)))
    hi = min(float(t.p_max_kw[0]), float(grid_kw(np.asarray(t.e_max_kwh[0]), t.eta_charge, t.eta_discharge)))
    return lo, max(lo, hi)


def hour_bounds_kw(offer: LotOffer) -> tuple[np.ndarray, np.ndarray]:
    """(24,) lowest and highest power of each hour of the offer (its envelope's power bounds)."""
    if offer.envelope is not None:
        return _fit(offer.envelope.p_min_kw), _fit(offer.envelope.p_max_kw)
    return -np.asarray(offer.max_discharge_kw, float), np.asarray(offer.max_charge_kw, float)


class ActionLayout:
    """Slices of the flat action vector (see the module) for a network and its lots."""

    def __init__(self, net: RadialNetwork, lots: list[tuple[str, tuple[int, ...]]], reconfigure: bool) -> None:
        self.net = net
        self.lots = lots
        self.reconf = ReconfigurationProblem(net, encoding="position") if reconfigure and net.loops else None
        self.n_topology = self.reconf.n_loops if self.reconf is not None else 0
        self.n_lots = len(lots)
        self.size = self.n_topology + 2 * self.n_lots + HOURS * self.n_lots

    def topology(self, action: np.ndarray) -> tuple[int, ...]:
        pos = (np.asarray(action[:self.n_topology], float) + 1.0) / 2.0
        return tuple(int(b) for b in self.reconf.decode(pos[None, :])[0])

    def bus(self, action: np.ndarray, i: int) -> int:
        candidates = self.lots[i][1]
        x = (float(action[self.n_topology + i]) + 1.0) / 2.0
        return int(candidates[min(int(x * len(candidates)), len(candidates) - 1)])

    def setpoint(self, action: np.ndarray, i: int, lo_kw: float, hi_kw: float) -> float:
        x = (float(action[self.n_topology + self.n_lots + i]) + 1.0) / 2.0
        return lo_kw + x * (hi_kw - lo_kw)

    def day_schedule(self, action: np.ndarray, i: int, offer: LotOffer) -> np.ndarray:
        """The lot's day schedule (kW, 24 h) from its day-ahead entries, inside its envelope."""
        start = self.n_topology + 2 * self.n_lots + HOURS * i
        x = (np.asarray(action[start:start + HOURS], float) + 1.0) / 2.0
        lo, hi = hour_bounds_kw(offer)
        schedule = lo + x * (hi - lo)
        return schedule if offer.envelope is None else offer.envelope.tightened().project(schedule)

    # -- the inverse: what a policy that replays a plan sends --------------------------------------------------
    def encode_topology(self, open_branches) -> np.ndarray:
        """Action entries whose decoding opens exactly `open_branches` (one per loop, assigned loop by loop)."""
        if self.reconf is None:
            return np.zeros(0)
        order = _assign(self.reconf.loops, [int(b) for b in open_branches])
        return 2.0 * self.reconf.encode(order) - 1.0

    def encode_bus(self, i: int, bus: int) -> float:
        candidates = list(self.lots[i][1])
        return 2.0 * (candidates.index(int(bus)) + 0.5) / len(candidates) - 1.0

    def day_schedule_slice(self, i: int) -> slice:
        start = self.n_topology + 2 * self.n_lots + HOURS * i
        return slice(start, start + HOURS)

    @staticmethod
    def encode_setpoint(p_kw, lo_kw, hi_kw):
        """Action value(s) for power `p_kw` over [lo_kw, hi_kw] (arrays or numbers); 0 where the range is empty."""
        p, lo, hi = (np.asarray(v, float) for v in (p_kw, lo_kw, hi_kw))
        width = hi - lo
        out = np.where(width > 0, 2.0 * (p - lo) / np.where(width > 0, width, 1.0) - 1.0, 0.0)
        return float(out) if out.ndim == 0 else out


def _assign(loops, open_ids: list[int]) -> list[int]:
    """`open_ids` ordered so that the j-th lies in loop j (a matching, found by backtracking)."""
    def go(j: int, left: list[int]) -> list[int] | None:
        if j == len(loops):
            return []
        for b in left:
            if b in loops[j]:
                rest = go(j + 1, [c for c in left if c != b])
                if rest is not None:
                    return [b, *rest]
        return None
    found = go(0, open_ids)
    if found is None:
        raise ValueError(f"open branches {open_ids} are not one per fundamental loop")
    return found


class ObservationLayout:
    """The flat observation vector (see the module)."""

    def __init__(self, net: RadialNetwork, lot_ids: list[str], layout: ActionLayout) -> None:
        self.net, self.lot_ids, self.layout = net, lot_ids, layout
        self.size = 1 + 2 * HOURS + 3 + 1 + layout.n_topology + len(lot_ids) * (4 * HOURS + 2)

    def encode(self, point: DecisionPoint | None) -> np.ndarray:
        obs = np.zeros(self.size, np.float32)
        if point is None:
            return obs
        p = point.problem
        parts: list[np.ndarray] = [np.array([(point.hour % 24) / 23.0]), p.load_scaling, p.price_usd_per_kwh * 10.0]
        grid = point.state.grid if point.state is not None else None
        parts.append(np.array([grid.losses_kw / 100.0, grid.v_min_pu, grid.p_grid_kw / 1000.0]) if grid
                     else np.zeros(3))
        parts.append(np.array([point.state.switch_operations_left if point.state is not None else 0.0]))
        if self.layout.reconf is not None:
            try:
                parts.append(self.layout.encode_topology(p.base_open_branches))
            except ValueError:
                parts.append(np.zeros(self.layout.n_topology))
        offers = {lot.lot_id: lot for lot in p.lots}
        measured = point.state.lots if point.state is not None else {}
        for lot_id in self.lot_ids:
            offer = offers.get(lot_id)
            if offer is None or offer.envelope is None:
                parts.append(np.zeros(4 * HOURS))
            else:
                e = offer.envelope
                parts.extend(_fit(a) / 1000.0 for a in (e.p_min_kw, e.p_max_kw, e.e_min_kwh, e.e_max_kwh))
            m = measured.get(lot_id)
            parts.append(np.array([m.evs_present / 100.0, m.energy_stored_kwh / 1000.0]) if m else np.zeros(2))
        obs[:] = np.clip(np.nan_to_num(np.concatenate(parts)), -OBS_BOUND, OBS_BOUND)  # unmeasured: 0
        return obs


def _fit(a: np.ndarray) -> np.ndarray:
    """24 values: an envelope's arrays cut or padded (with their last value)."""
    a = np.asarray(a, float)[:HOURS]
    return np.concatenate([a, np.full(HOURS - a.size, a[-1] if a.size else 0.0)])
