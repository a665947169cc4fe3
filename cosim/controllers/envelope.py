"""A lot's flexibility envelope: what its EVs can take, step by step and cumulated over the day.

An envelope holds, for the H steps of a window (each `step_h` hours long: 1, 0.5 or 0.25; kW grid side,
+ charging; kWh battery side, net into the fleet):

* ``p_min_kw[h] <= p[h] <= p_max_kw[h]`` - the lot's power in step h;
* ``e_min_kwh[h] <= E[h] <= e_max_kwh[h]`` - the net battery energy put into the fleet from the window start to the
  end of step h, ``E[h] = sum_{k<=h} b(p[k])`` with ``b(p) = eta_charge p step_h`` for charging and
  ``p step_h / eta_discharge`` for discharging (at hourly steps kW and kWh per step are the same numbers).

`fleet_envelope` builds it from the EVs the lot expects (each EV's plugged window, battery room, charger, contract
and V2G reserve), as the sum of each EV's own bounds: ``e_min`` sums the EVs' lowest energy paths (discharge as
early as allowed, then charge as late as the contract allows), ``e_max`` their highest (charge as early as
possible). An EV's energy leaves with it: after its departure its share of ``E`` is frozen, and the suffix
bounds (`FlexEnvelope.gain_max_kwh`, `drop_max_kwh`: what the EVs still present after each hour can take or give)
keep a plan from counting, late in the day, on room or energy that has driven away. Contracts no EV could reach
are clipped to what its charger can put in, and the shortfall is reported (`FlexEnvelope.shortfall_kwh`), never
silently planned for.

`tightened` makes the bounds consistent (every ``E[h]`` inside them can be reached and continued), so that
`project` - a forward pass that clips each hour to what keeps the rest of the day feasible - never dead-ends, and
`violation_kwh` measures how far a schedule is outside. Everything works on (..., H) arrays; the
projection's forward pass and the violation run compiled (`envelope_pass`: an optimiser's hot loop), bit for bit
the numpy methods kept beside them (`_project_numpy`, `_violation_kwh_numpy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cosim.controllers.cccv import has_taper, max_rate_kwh_per_h, reach_kwh, start_for_kwh
from cosim.errors import ProblemError
from cosim.timebase import STEP_MINUTES, check_step_minutes

__all__ = ["FlexEnvelope", "battery_kwh", "envelope_of", "fleet_envelope", "grid_kw", "plugged_hours",
           "plugged_windows", "unreachable_kwh"]

TOLERANCE_KWH = 1e-6
_TIGHTENED = "_tightened_envelope"  # where `FlexEnvelope.tightened` keeps its answer (not a field)


STEP_HOURS = tuple(m / 60.0 for m in STEP_MINUTES)
"""The step lengths an envelope may have (hours)."""


def battery_kwh(p_kw: np.ndarray, eta_charge: float, eta_discharge: float, step_h: float = 1.0) -> np.ndarray:
    """Battery-side energy of one step of `step_h` hours at grid power `p_kw` (+ charging): ``eta_c p step_h`` or
    ``p step_h / eta_d``."""
    p = np.asarray(p_kw, float)
    return np.where(p >= 0.0, p * eta_charge, p / eta_discharge) * step_h


def grid_kw(e_kwh: np.ndarray, eta_charge: float, eta_discharge: float, step_h: float = 1.0) -> np.ndarray:
    """Inverse of `battery_kwh`: the grid power whose step puts `e_kwh` into (takes it from) the batteries."""
    e = np.asarray(e_kwh, float)
    return np.where(e >= 0.0, e / eta_charge, e * eta_discharge) / step_h


@dataclass(frozen=True)
class FlexEnvelope:
    """Per-step power bounds (kW, grid side) and cumulative battery-energy bounds (kWh) of a lot; see the module.
    `step_h` is the step in hours (kWh per kW-step); a payload does not carry it: the receiver rebuilds the
    envelope with its own step (`from_payload`)."""

    p_min_kw: np.ndarray
    p_max_kw: np.ndarray
    e_min_kwh: np.ndarray
    e_max_kwh: np.ndarray
    eta_charge: float = 1.0
    eta_discharge: float = 1.0
    shortfall_kwh: float = 0.0  # contract energy no EV could take (clipped out of e_min)
    # energy that can still be put in (taken out) after the end of hour t, by the EVs present then: what leaves
    # with an EV cannot be charged (discharged) later. None: no such bound
    gain_max_kwh: np.ndarray | None = None
    drop_max_kwh: np.ndarray | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)
    step_h: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.step_h, bool) or not isinstance(self.step_h, (int, float)) \
                or float(self.step_h) not in STEP_HOURS:
            raise ProblemError(f"FlexEnvelope.step_h={self.step_h!r} must be one of "
                               f"{', '.join(str(h) for h in STEP_HOURS)} (hours)")
        object.__setattr__(self, "step_h", float(self.step_h))
        arrays = {}
        for name in ("p_min_kw", "p_max_kw", "e_min_kwh", "e_max_kwh"):
            arr = np.array(getattr(self, name), dtype=float)  # a copy: an envelope never shares its arrays
            if arr.ndim != 1 or not np.all(np.isfinite(arr)):
                raise ProblemError(f"FlexEnvelope.{name} must be a 1-D array of finite numbers")
            arr.setflags(write=False)
            arrays[name] = arr
            object.__setattr__(self, name, arr)
        for name in ("gain_max_kwh", "drop_max_kwh"):
            if getattr(self, name) is not None:
                arr = np.array(getattr(self, name), dtype=float)
                if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr < -1e-9):
                    raise ProblemError(f"FlexEnvelope.{name} must be a 1-D array of finite numbers >= 0")
                arr = np.maximum(arr, 0.0)
                arr.setflags(write=False)
                arrays[name] = arr
                object.__setattr__(self, name, arr)
        if (self.gain_max_kwh is None) != (self.drop_max_kwh is None):
            raise ProblemError("FlexEnvelope: give gain_max_kwh and drop_max_kwh together")
        sizes = {a.size for a in arrays.values()}
        if len(sizes) != 1:
            raise ProblemError(f"FlexEnvelope arrays must have one length, got {sorted(sizes)}")
        for name in ("eta_charge", "eta_discharge"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < float(value) <= 1.0):
                raise ProblemError(f"FlexEnvelope.{name}={value!r} must be in (0, 1]")
            object.__setattr__(self, name, float(value))
        if np.any(self.p_min_kw > self.p_max_kw + 1e-9):
            raise ProblemError("FlexEnvelope: p_min_kw above p_max_kw")
        if np.any(self.e_min_kwh > self.e_max_kwh + 1e-9):
            raise ProblemError("FlexEnvelope: e_min_kwh above e_max_kwh")

    @property
    def hours(self) -> int:
        """The steps the envelope covers (hours at hourly steps; the name is kept for its callers)."""
        return int(self.p_min_kw.size)

    def energy_kwh(self, p_kw: np.ndarray) -> np.ndarray:
        """(..., H) cumulative net battery energy of schedules `p_kw` (..., H)."""
        return np.cumsum(battery_kwh(p_kw, self.eta_charge, self.eta_discharge, self.step_h), axis=-1)

    def _b(self, p: np.ndarray | float) -> np.ndarray:
        return battery_kwh(p, self.eta_charge, self.eta_discharge, self.step_h)

    @property
    def has_suffix(self) -> bool:
        return self.gain_max_kwh is not None

    def final_range_kwh(self) -> tuple[float, float]:
        """The energy the day can end at (the last hour's cumulative energy), all bounds taken together."""
        lo, hi = float(self.e_min_kwh[-1]), float(self.e_max_kwh[-1])
        if self.has_suffix:
            lo = max(lo, float(np.max(self.e_min_kwh - self.drop_max_kwh)))
            hi = min(hi, float(np.min(self.e_max_kwh + self.gain_max_kwh)))
        return lo, max(lo, hi)

    def _pinned_bounds(self, final_kwh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., H) cumulative bounds of schedules that end at `final_kwh` (...): the suffix bounds become
        bounds on each hour's cumulative energy."""
        final = np.asarray(final_kwh, float)[..., None]
        lo = np.broadcast_to(self.e_min_kwh, final.shape[:-1] + (self.hours,)).copy()
        hi = np.broadcast_to(self.e_max_kwh, lo.shape).copy()
        if self.has_suffix:
            lo = np.maximum(lo, final - self.gain_max_kwh)
            hi = np.minimum(hi, final + self.drop_max_kwh)
        lo[..., -1] = hi[..., -1] = final[..., 0]
        return lo, hi

    def _tighten(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Consistent (..., H) cumulative bounds (forward: what can be reached; backward: what the hours after need)
        and the largest amount (...) by which a lower bound had to drop for that (0: consistent)."""
        lo, hi = np.array(lo, float), np.array(hi, float)
        first_lo = lo.copy()
        b_lo, b_hi = self._b(self.p_min_kw), self._b(self.p_max_kw)
        if lo.ndim == 1:  # one set of bounds: the same passes on Python floats, without a numpy call per hour
            lo, hi = _tighten_one(lo.tolist(), hi.tolist(), b_lo.tolist(), b_hi.tolist())
            return lo, hi, np.max(np.maximum(first_lo - lo, 0.0), axis=-1)
        reach_lo = np.zeros(lo.shape[:-1])
        reach_hi = np.zeros(lo.shape[:-1])
        for h in range(self.hours):
            reach_lo, reach_hi = reach_lo + b_lo[h], reach_hi + b_hi[h]
            lo[..., h] = np.maximum(np.minimum(lo[..., h], reach_hi), reach_lo)
            hi[..., h] = np.maximum(np.minimum(hi[..., h], reach_hi), lo[..., h])
            reach_lo, reach_hi = lo[..., h], hi[..., h]
        for h in range(self.hours - 1, 0, -1):
            lo[..., h - 1] = np.maximum(lo[..., h - 1], lo[..., h] - b_hi[h])
            hi[..., h - 1] = np.minimum(hi[..., h - 1], hi[..., h] - b_lo[h])
            lo[..., h - 1] = np.minimum(lo[..., h - 1], hi[..., h - 1])
        dropped = np.max(np.maximum(first_lo - lo, 0.0), axis=-1)
        return lo, hi, dropped

    def tightened(self) -> FlexEnvelope:
        """The same set of schedules, with cumulative bounds that every point can reach and continue from (a forward
        pass for what the hours before can reach, a backward pass for what the hours after need, and the suffix
        bounds applied with the day's possible final energies). Bounds that cannot hold together are resolved in
        favour of the power bounds: ``e_min`` drops to what can be reached, the dropped energy added to
        `shortfall_kwh` (a contract no plan can keep is reported, not planned for).

        Kept on the envelope once made (an envelope is immutable: frozen, its arrays read-only): the environment,
        the DSO's checks and the PLO ask the same envelope several times a step."""
        kept = self.__dict__.get(_TIGHTENED)
        if kept is not None:
            return kept
        tightened = self._tightened()
        object.__setattr__(self, _TIGHTENED, tightened)
        return tightened

    def _tightened(self) -> FlexEnvelope:
        """`tightened`, computed."""
        lo, hi = self.e_min_kwh.copy(), self.e_max_kwh.copy()
        if self.has_suffix:
            f_lo, f_hi = self.final_range_kwh()
            lo = np.maximum(lo, f_lo - self.gain_max_kwh)
            hi = np.minimum(hi, f_hi + self.drop_max_kwh)
            hi = np.maximum(hi, lo)
        lo, hi, dropped = self._tighten(lo, hi)
        dropped = float(max(dropped, np.max(np.maximum(self.e_min_kwh - lo, 0.0), initial=0.0)))
        shortfall = self.shortfall_kwh + (dropped if dropped > TOLERANCE_KWH else 0.0)
        return self._with_bounds(lo, hi, shortfall)

    def _with_bounds(self, e_min_kwh: np.ndarray, e_max_kwh: np.ndarray, shortfall_kwh: float) -> FlexEnvelope:
        """``replace(self, e_min_kwh=..., e_max_kwh=..., shortfall_kwh=...)`` without `__post_init__`'s checks, for
        the bounds `tightened` derives from this checked envelope: finite, one per step and e_min <= e_max by
        construction. Every array a read-only copy, as `__post_init__` makes them (an envelope never shares its
        arrays); the values are those `replace` gives (tested)."""
        out = object.__new__(FlexEnvelope)
        fields = {k: v for k, v in self.__dict__.items() if k != _TIGHTENED}
        for name, value in (("e_min_kwh", e_min_kwh), ("e_max_kwh", e_max_kwh)) + tuple(
                (k, fields[k]) for k in ("p_min_kw", "p_max_kw", "gain_max_kwh", "drop_max_kwh")
                if fields[k] is not None):
            arr = np.array(value, dtype=float)
            arr.setflags(write=False)
            fields[name] = arr
        fields["shortfall_kwh"] = shortfall_kwh
        out.__dict__.update(fields)
        return out

    def project(self, p_kw: np.ndarray) -> np.ndarray:
        """(..., H) schedules moved inside the envelope: hour by hour, each hour clipped to its power bounds and to
        what keeps the cumulative energy within its (tightened) bounds. Where that leaves charging (discharging)
        after the EVs that could take (give) it have left, the day's final energy is pinned where it can be (moved
        towards ``e_min``'s if need be), which turns the suffix bounds into bounds on each hour's energy, and the
        pass is repeated. Schedules already inside are returned unchanged; call on a `tightened` envelope."""
        from cosim.controllers.envelope_pass import project_pass  # noqa: PLC0415 - numba on first use

        p = np.array(p_kw, dtype=float)
        out, outside, late_kwh = project_pass(p, self.p_min_kw, self.p_max_kw, self.e_min_kwh, self.e_max_kwh,
                                              self.gain_max_kwh, self.drop_max_kwh, self.eta_charge,
                                              self.eta_discharge, self.step_h)  # compiled: `_project_numpy` to here
        if not self.has_suffix or late_kwh <= TOLERANCE_KWH:
            return out
        if p.ndim > 1:
            out[outside] = self._pinned(out[outside])
            return out
        return self._pinned(out)

    def _project_numpy(self, p_kw: np.ndarray) -> np.ndarray:
        """`project` in numpy (the reference of the compiled one)."""
        p = np.array(p_kw, dtype=float)
        outside = self._violation_kwh_numpy(p) > 1e-9
        if not np.any(outside):
            return p
        if p.ndim > 1 and not np.all(outside):
            p[outside] = self._project_numpy(p[outside])
            return p
        p = self._project_within_numpy(p, np.broadcast_to(self.e_min_kwh, p.shape),
                                       np.broadcast_to(self.e_max_kwh, p.shape))
        if not self.has_suffix or float(np.max(self.suffix_excess_kwh(p), initial=0.0)) <= TOLERANCE_KWH:
            return p
        return self._pinned(p)

    def _pinned(self, p: np.ndarray) -> np.ndarray:
        """`project`'s suffix step on schedules (..., H) that passed the forward pass: each day's final energy
        pinned where it can be (towards ``e_min``'s if need be) and the pass repeated within the bounds that
        makes of the suffix bounds."""
        f_lo, f_hi = self.final_range_kwh()
        wanted = np.clip(self.energy_kwh(p)[..., -1], f_lo, f_hi)
        lo_e, hi_e = np.empty(p.shape), np.empty(p.shape)
        todo = np.ones(p.shape[:-1], bool)
        for k in range(9):  # from the schedule's own final energy towards the lowest final, the first that holds
            final = wanted + (f_lo - wanted) * (k / 8.0)
            lo_k, hi_k, dropped = self._tighten(*self._pinned_bounds(final))
            take = todo & ((dropped <= TOLERANCE_KWH) | (k == 8))
            lo_e[take], hi_e[take] = lo_k[take], hi_k[take]
            todo &= ~take
            if not np.any(todo):
                break
        return self._project_within(p, lo_e, hi_e)

    def _project_within(self, p: np.ndarray, lo_e: np.ndarray, hi_e: np.ndarray) -> np.ndarray:
        """The forward pass: each hour clipped to its power bounds and to cumulative bounds (..., H); compiled
        (`envelope_pass.forward_pass`), bit for bit `_project_within_numpy`."""
        from cosim.controllers.envelope_pass import forward_pass  # noqa: PLC0415 - numba on first use

        return forward_pass(p, lo_e, hi_e, self.p_min_kw, self.p_max_kw, self.eta_charge, self.eta_discharge,
                            self.step_h)

    def _project_within_numpy(self, p: np.ndarray, lo_e: np.ndarray, hi_e: np.ndarray) -> np.ndarray:
        """The forward pass in numpy (the reference of the compiled one)."""
        e = np.zeros(p.shape[:-1])
        out = np.empty_like(p)
        for h in range(self.hours):
            q = np.clip(p[..., h], self.p_min_kw[h], self.p_max_kw[h])
            e_new = np.clip(e + self._b(q), lo_e[..., h], hi_e[..., h])
            q = np.clip(grid_kw(e_new - e, self.eta_charge, self.eta_discharge, self.step_h), self.p_min_kw[h],
                        self.p_max_kw[h])
            out[..., h] = q
            e = e + self._b(q)
        return out

    def violation_kwh(self, p_kw: np.ndarray) -> np.ndarray:
        """(...) how far schedules are outside: kWh beyond the power bounds (kW x step_h summed over steps) plus the
        largest cumulative energy below ``e_min`` and above ``e_max`` (plus `suffix_excess_kwh`). 0 inside. Compiled
        (`envelope_pass.violation`), bit for bit `_violation_kwh_numpy`."""
        from cosim.controllers.envelope_pass import violation  # noqa: PLC0415 - numba on first use

        return violation(p_kw, self.p_min_kw, self.p_max_kw, self.e_min_kwh, self.e_max_kwh, self.gain_max_kwh,
                         self.drop_max_kwh, self.eta_charge, self.eta_discharge, self.step_h)

    def _violation_kwh_numpy(self, p_kw: np.ndarray) -> np.ndarray:
        """`violation_kwh` in numpy (the reference of the compiled one)."""
        p = np.asarray(p_kw, float)
        power = (np.maximum(p - self.p_max_kw, 0.0) + np.maximum(self.p_min_kw - p, 0.0)).sum(axis=-1) * self.step_h
        e = self.energy_kwh(p)
        below = np.maximum(self.e_min_kwh - e, 0.0).max(axis=-1)
        above = np.maximum(e - self.e_max_kwh, 0.0).max(axis=-1)
        return power + below + above + self.suffix_excess_kwh(p)

    def suffix_excess_kwh(self, p_kw: np.ndarray) -> np.ndarray:
        """(...) the largest energy a schedule puts in (takes out) after some hour beyond what the EVs present after
        it can take (give); 0 without suffix bounds."""
        if not self.has_suffix:
            return np.zeros(np.shape(p_kw)[:-1])
        e = self.energy_kwh(p_kw)
        after = e[..., -1:] - e
        return np.maximum(np.maximum(after - self.gain_max_kwh, 0.0), np.maximum(-after - self.drop_max_kwh, 0.0)
                          ).max(axis=-1)

    def to_payload(self) -> dict[str, object]:
        out = {"p_min_kw": self.p_min_kw.tolist(), "p_max_kw": self.p_max_kw.tolist(),
               "e_min_kwh": self.e_min_kwh.tolist(), "e_max_kwh": self.e_max_kwh.tolist(),
               "eta_charge": self.eta_charge, "eta_discharge": self.eta_discharge,
               "shortfall_kwh": self.shortfall_kwh}
        if self.has_suffix:
            out.update(gain_max_kwh=self.gain_max_kwh.tolist(), drop_max_kwh=self.drop_max_kwh.tolist())
        return out

    @classmethod
    def from_payload(cls, payload: dict[str, object], step_h: float = 1.0) -> FlexEnvelope:
        """The envelope of a payload (`to_payload`), at the receiver's own step `step_h` (hours)."""
        keys = ("p_min_kw", "p_max_kw", "e_min_kwh", "e_max_kwh", "eta_charge", "eta_discharge", "shortfall_kwh",
                "gain_max_kwh", "drop_max_kwh")
        return cls(**{k: payload[k] for k in keys if k in payload}, step_h=step_h)


def _tighten_one(lo: list[float], hi: list[float], b_lo: list[float],
                 b_hi: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """`FlexEnvelope._tighten`'s two passes for one set of (H,) bounds, in Python floats: bit for bit the numpy
    passes, some ten times faster on a day's 24-96 steps. Bit for bit: IEEE sums, and the bounds are finite (no NaN),
    where ``np.maximum(a, b)`` is ``a if a > b else b`` (of equal values, such as -0.0 and 0.0, both give the second
    argument); likewise `np.minimum`."""
    reach_lo = reach_hi = 0.0
    for h in range(len(lo)):  # x if x > y else y: np.maximum(x, y); x if x < y else y: np.minimum(x, y)
        reach_lo, reach_hi = reach_lo + b_lo[h], reach_hi + b_hi[h]
        x = lo[h] if lo[h] < reach_hi else reach_hi
        lo[h] = low = x if x > reach_lo else reach_lo
        x = hi[h] if hi[h] < reach_hi else reach_hi
        hi[h] = x if x > low else low
        reach_lo, reach_hi = low, hi[h]
    for h in range(len(lo) - 1, 0, -1):
        x, y = lo[h - 1], lo[h] - b_hi[h]
        low = x if x > y else y
        x, y = hi[h - 1], hi[h] - b_lo[h]
        hi[h - 1] = high = x if x < y else y
        lo[h - 1] = low if low < high else high
    return np.array(lo, float), np.array(hi, float)


def plugged_windows(arr_min: np.ndarray, dep_min: np.ndarray, n_chargers: float, *, now_min: int = 0,
                    plugged: np.ndarray | None = None, queue: list[int] | None = None,
                    gone: np.ndarray | None = None, refuse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(plug_min, dep_min) of each EV: when it gets a charger (the lot's queue: at most `n_chargers` plugged,
    waiting EVs plug in arrival order as chargers free, departures at a minute before arrivals) and when it
    leaves. An EV that leaves before a charger frees never plugs (plug_min = dep_min). `plugged`, `queue` (indices
    in arrival order) and `gone` give the lot's state at `now_min`; EVs arrive at ``max(arr_min, now_min)``. With
    `refuse`, an EV that finds no free charger is turned away (never plugs) instead of waiting."""
    arr = np.maximum(np.asarray(arr_min, np.int64), now_min)
    dep = np.asarray(dep_min, np.int64)
    n = arr.size
    plugged = np.zeros(n, bool) if plugged is None else np.asarray(plugged, bool)
    gone = np.zeros(n, bool) if gone is None else np.asarray(gone, bool)
    plug = np.where(plugged, now_min, dep).astype(np.int64)
    plug[gone] = dep[gone]
    if not np.isfinite(n_chargers):
        coming = ~gone & ~plugged
        plug[coming] = np.minimum(arr[coming], dep[coming])
        return plug, dep
    waiting = list(queue or [])
    in_queue = set(waiting)
    # the event loop below runs on Python ints and lists: indexing numpy arrays one element at a time is slower
    arr_at, dep_at, gone_at, plugged_at = arr.tolist(), dep.tolist(), gone.tolist(), plugged.tolist()
    coming = [i for i in np.argsort(arr, kind="stable").tolist()
              if not gone_at[i] and not plugged_at[i] and i not in in_queue]
    held = np.flatnonzero(plugged & ~gone).tolist()
    free = int(n_chargers) - len(held)
    events: list[tuple[int, int, int]] = [(dep_at[i], 0, i) for i in held]
    events += [(dep_at[i], 0, int(i)) for i in waiting]
    events += [(arr_at[i], 1, i) for i in coming]
    events += [(dep_at[i], 0, i) for i in coming]
    events.sort()
    state = dict.fromkeys(held, "plugged")
    state.update(dict.fromkeys(waiting, "waiting"))
    plug_at = plug.tolist()
    for t, kind, i in events:
        if kind == 0:  # a departure
            s = state.pop(i, None)
            if s == "plugged":
                free += 1
            elif s == "waiting":
                waiting.remove(i)
            while free > 0 and waiting:
                j = waiting.pop(0)
                state[j] = "plugged"
                plug_at[j] = t
                free -= 1
        else:  # an arrival
            if dep_at[i] <= t:
                continue
            if free > 0:
                state[i] = "plugged"
                plug_at[i] = t
                free -= 1
            elif not refuse:
                state[i] = "waiting"
                waiting.append(i)
    return np.minimum(np.array(plug_at, np.int64), dep), dep


def _hour_overlap(start_min: np.ndarray, end_min: np.ndarray, edges_min: np.ndarray) -> np.ndarray:
    """(n, H) hours each interval [start, end) overlaps each step [edges[h], edges[h+1])."""
    lo = np.maximum(start_min[:, None], edges_min[None, :-1])
    hi = np.minimum(end_min[:, None], edges_min[None, 1:])
    return np.clip(hi - lo, 0, None) / 60.0


def plugged_hours(plug_min: np.ndarray, dep_min: np.ndarray, start_min: int, hours: int, *,
                  step_minutes: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Each EV's plugged hours in each step of the window from `start_min` ((n, hours); `hours` counts STEPS of
    `step_minutes`, the window's edges are ``start_min + step_minutes k``; an EV plugged before the window counts
    from its start) and its plugged hours after the window's end ((n,)). Both in hours, whatever the step."""
    edges = start_min + int(step_minutes) * np.arange(hours + 1, dtype=np.int64)
    plug = np.maximum(np.asarray(plug_min, np.int64), start_min)
    dep = np.asarray(dep_min, np.int64)
    present = _hour_overlap(plug, np.maximum(dep, plug), edges)
    after = np.maximum(dep - np.maximum(plug, edges[-1]), 0) / 60.0
    return present, after


def fleet_envelope(*, start_min: int, hours: int, plug_min: np.ndarray, dep_min: np.ndarray,
                   energy_kwh: np.ndarray, capacity_kwh: np.ndarray, charger_kw: np.ndarray,
                   contract_kwh: np.ndarray, floor_kwh: np.ndarray, v2g: np.ndarray, eta_charge: np.ndarray,
                   eta_discharge: np.ndarray, connection_limit_kw: float = np.inf,
                   charge_allowed: np.ndarray | None = None,
                   discharge_allowed: np.ndarray | None = None,
                   knee_soc: np.ndarray | None = None, step_minutes: int = 60) -> FlexEnvelope:
    """The lot's envelope over ``hours`` STEPS of `step_minutes` (60, 30, 15; the keyword keeps its old name) from
    `start_min` (edges ``start_min + step_minutes k``), from each EV's plugged window [plug, dep) in
    minutes, its battery energy at the window start (or on arrival), capacity, charger (kW, grid side), contract
    (battery kWh due at departure), V2G reserve floor and permission, and efficiencies; EVs outside the window
    simply contribute nothing. `charge_allowed` / `discharge_allowed` ((hours,) booleans, default all) are the
    operator's policy: the EVs charge (discharge) only in those steps, each EV's paths and bounds follow it (time
    after the window allows both). `knee_soc` ((n,), default 1 = constant power): each EV's CC-CV knee; above it the
    charging power tapers (`cosim.controllers.cccv`) and every path and bound uses the held-power model step by
    step (an inner approximation of the curve, the one the lot holds). Returns the `tightened` envelope (its
    `step_h` = step_minutes / 60). The EVs' paths are built in hours plugged, so they do not depend on the step;
    only the power bounds (kWh per step / step_h) and the envelope's resolution do."""
    step_minutes = check_step_minutes(int(step_minutes))
    step_h = step_minutes / 60.0
    end = start_min + step_minutes * hours
    plug = np.asarray(plug_min, np.int64)
    dep = np.asarray(dep_min, np.int64)
    e0 = np.asarray(energy_kwh, float)
    cap = np.asarray(capacity_kwh, float)
    eta_c = np.asarray(eta_charge, float)
    eta_d = np.asarray(eta_discharge, float)
    ch = np.asarray(charger_kw, float) * eta_c  # battery kWh per plugged hour, charging
    dis = np.asarray(charger_kw, float) / eta_d  # battery kWh per plugged hour, discharging
    v2g = np.asarray(v2g, bool)
    n = e0.size
    if n == 0:
        zeros = np.zeros(hours)
        return FlexEnvelope(zeros, zeros, zeros, zeros, step_h=step_h)
    present, after = plugged_hours(plug, dep, start_min, hours, step_minutes=step_minutes)
    plug = np.maximum(plug, start_min)  # EVs already plugged count from the window start
    allow_c = np.ones(hours, bool) if charge_allowed is None else np.asarray(charge_allowed, bool)
    allow_d = np.ones(hours, bool) if discharge_allowed is None else np.asarray(discharge_allowed, bool)
    present_c, present_d = present * allow_c[None, :], present * allow_d[None, :]
    zero = np.zeros((n, 1))
    cum = np.concatenate([zero, np.cumsum(present_c, axis=1)], axis=1)  # (n, H+1) charging hours so far
    cum_d = np.concatenate([zero, np.cumsum(present_d, axis=1)], axis=1)  # discharging hours so far
    total = cum[:, -1] + after  # hours it may charge until departure (may end after the window)
    knee = np.ones(n) if knee_soc is None else np.asarray(knee_soc, float)
    if has_taper(knee):
        return _tapered_envelope(present_c, present_d, after, cum, cum_d, e0, cap, ch, dis, eta_c, eta_d, v2g, knee,
                                 np.asarray(contract_kwh, float), np.asarray(floor_kwh, float), dep <= end,
                                 float(connection_limit_kw), step_h)
    contract = np.asarray(contract_kwh, float)
    reach, shortfall = _reach_kwh(e0, cap, ch, total, contract, dep <= end)
    need = np.minimum(contract, reach)
    need = np.maximum(need, 0.0)
    # highest path: charge from plug-in at full power up to the battery's capacity (what an EV takes leaves with it:
    # the suffix bounds below keep later hours from counting on it)
    top = cap
    upper = np.minimum(top[:, None], e0[:, None] + ch[:, None] * cum)
    upper = np.maximum(upper, np.minimum(e0, top)[:, None])
    # lowest path: discharge from plug-in at full power down to the reserve (V2G EVs), else hold; then charge as
    # late as the contract allows
    base_floor = np.where(v2g, np.minimum(e0, np.asarray(floor_kwh, float)), e0)
    low_dis = np.maximum(base_floor[:, None], e0[:, None] - np.where(v2g, dis, 0.0)[:, None] * cum_d)
    alap = need[:, None] - ch[:, None] * (total[:, None] - cum)
    lower = np.minimum(np.maximum(low_dis, alap), upper)
    return _sum_paths(lower, upper, d_hi_from_lower=ch[:, None] * present_c, gain=None, alap_end=alap[:, -1],
                      present_d=present_d, cum=cum, cum_d=cum_d, e0=e0, top=top, ch=ch, dis=dis, eta_c=eta_c,
                      eta_d=eta_d, v2g=v2g, base_floor=base_floor, shortfall=shortfall,
                      connection_limit_kw=float(connection_limit_kw), step_h=step_h)


def _reach_kwh(e0: np.ndarray, cap: np.ndarray, ch: np.ndarray, hours_left: np.ndarray, contract: np.ndarray,
               leaves: np.ndarray) -> tuple[np.ndarray, float]:
    """Constant power: what each EV reaches by its departure (battery kWh; charging at full power for the
    `hours_left` it may charge), and the contract energy the EVs leaving in the window cannot reach (kWh)."""
    reach = np.minimum(cap, e0 + ch * hours_left)
    return reach, float(np.maximum(contract - reach, 0.0)[leaves].sum())


def unreachable_kwh(fleet: dict[str, Any], hour_mode: np.ndarray | None = None) -> float | None:
    """The contract energy (kWh) the EVs of a fleet (as `envelope_of` takes it) leaving in the window cannot reach,
    charging at full power in every step the policy allows (all without `hour_mode`): the shortfall
    `envelope_of(fleet, hour_mode)` starts from, before `FlexEnvelope.tightened` adds the energy the lot's bounds
    drop, so never above its `shortfall_kwh` (the same arithmetic: `_reach_kwh`). A fraction of the envelope's
    cost; None for a fleet with CC-CV knees (its reach is built step by step with the envelope)."""
    if has_taper(np.asarray(fleet.get("knee_soc", ()), float)):
        return None
    minutes = check_step_minutes(int(fleet.get("step_minutes", 60)))
    start, hours = int(fleet["start_min"]), int(fleet["hours"])
    dep = np.asarray(fleet["dep_min"], np.int64)
    if dep.size == 0:
        return 0.0
    present, after = plugged_hours(np.asarray(fleet["plug_min"], np.int64), dep, start, hours, step_minutes=minutes)
    if hour_mode is not None:
        present = present * (np.asarray(hour_mode, int) > 0)[None, :]
    eta_c = np.asarray(fleet["eta_charge"], float)
    total = np.cumsum(present, axis=1)[:, -1] + after  # as `fleet_envelope`'s cum[:, -1] + after
    return _reach_kwh(np.asarray(fleet["energy_kwh"], float), np.asarray(fleet["capacity_kwh"], float),
                      np.asarray(fleet["charger_kw"], float) * eta_c, total, np.asarray(fleet["contract_kwh"], float),
                      dep <= start + minutes * hours)[1]


def _tapered_envelope(present_c, present_d, after, cum, cum_d, e0, cap, ch, dis, eta_c, eta_d, v2g, knee, contract,
                      floor, leaves, connection_limit_kw, step_h) -> FlexEnvelope:
    """`fleet_envelope` for a fleet where some EV tapers above its knee: the same paths, built hour by hour with
    the held-power model (`cosim.controllers.cccv`): the highest path charges at the highest held rate each hour,
    the lowest reaches the contract by charging that way as late as it can, and each hour's highest change is the
    highest held rate from the lowest state (the most room)."""
    n, hours = present_c.shape
    rate = ch  # battery kWh per plugged hour at full power
    top = cap
    upper = np.empty((n, hours + 1))
    upper[:, 0] = np.minimum(e0, top)
    for h in range(hours):
        upper[:, h + 1] = upper[:, h] + present_c[:, h] * max_rate_kwh_per_h(upper[:, h], cap, rate, knee,
                                                                               present_c[:, h])
    upper = np.maximum(upper, np.minimum(e0, top)[:, None])
    # what a dedicated charger reaches by departure: on through the window, then the hours after it
    reach = np.minimum(cap, upper[:, -1] + np.maximum(
        reach_kwh(upper[:, -1], cap, rate, knee, after, fraction_first=False, step_h=step_h) - upper[:, -1], 0.0))
    need = np.maximum(np.minimum(contract, reach), 0.0)
    shortfall = float(np.maximum(contract - reach, 0.0)[leaves].sum())
    alap = np.empty((n, hours + 1))
    alap[:, hours] = start_for_kwh(need, cap, rate, knee, after, fraction_first=False, step_h=step_h)
    for h in range(hours - 1, -1, -1):
        alap[:, h] = start_for_kwh(alap[:, h + 1], cap, rate, knee, present_c[:, h])
    base_floor = np.where(v2g, np.minimum(e0, floor), e0)
    low_dis = np.maximum(base_floor[:, None], e0[:, None] - np.where(v2g, dis, 0.0)[:, None] * cum_d)
    lower = np.minimum(np.maximum(low_dis, alap), upper)
    d_hi = present_c * max_rate_kwh_per_h(lower[:, :-1], cap[:, None], rate[:, None], knee[:, None], present_c)
    # what each EV can still add in the window after hour t from its lowest state, hour by hour as above
    gain = np.zeros((n, hours))
    for t in range(hours):
        e = lower[:, t + 1].copy()
        for h in range(t + 1, hours):
            e = e + present_c[:, h] * max_rate_kwh_per_h(e, cap, rate, knee, present_c[:, h])
        gain[:, t] = np.minimum(e, top) - lower[:, t + 1]
    return _sum_paths(lower, upper, d_hi_from_lower=d_hi, gain=gain, alap_end=alap[:, -1], present_d=present_d,
                      cum=cum, cum_d=cum_d, e0=e0, top=top, ch=ch, dis=dis, eta_c=eta_c, eta_d=eta_d, v2g=v2g,
                      base_floor=base_floor, shortfall=shortfall, connection_limit_kw=connection_limit_kw,
                      step_h=step_h)


def _sum_paths(lower, upper, *, d_hi_from_lower, gain, alap_end, present_d, cum, cum_d, e0, top, ch, dis, eta_c,
               eta_d, v2g, base_floor, shortfall, connection_limit_kw, step_h=1.0) -> FlexEnvelope:
    """The lot's envelope from each EV's lowest and highest paths ((n, H+1) battery kWh at the step ends):
    `d_hi_from_lower` ((n, H)) is the most each EV can add in hour h from its lowest state, `gain` ((n, H), None:
    the constant-power formula) what it can still add after hour h from its lowest state."""
    # hourly power bounds: an EV's lowest and highest change in hour h, from anywhere between its paths
    d_hi = np.minimum(d_hi_from_lower, upper[:, 1:] - lower[:, :-1])
    d_lo = np.maximum(-np.where(v2g, dis, 0.0)[:, None] * present_d, lower[:, 1:] - upper[:, :-1])
    d_lo = np.minimum(d_lo, d_hi)
    to_grid = lambda d: np.where(d >= 0.0, d / eta_c[:, None], d * eta_d[:, None])  # noqa: E731
    p_max = to_grid(d_hi).sum(axis=0) / step_h  # grid kWh in the step -> kW
    p_min = to_grid(d_lo).sum(axis=0) / step_h
    limit = float(connection_limit_kw)
    if np.isfinite(limit):
        p_max, p_min = np.minimum(p_max, limit), np.maximum(p_min, -limit)
        p_min = np.minimum(p_min, p_max)
    # one efficiency pair for the lot: the fleet's lowest (kWh bounds shrink by the spread when EVs differ)
    ec, ed = float(eta_c.min()), float(eta_d.min())
    e_min = (lower[:, 1:] - e0[:, None]).sum(axis=0)
    if eta_c.max() > ec + 1e-12 or eta_d.max() > ed + 1e-12:  # EVs of different efficiencies: e_min in the lot's
        d = lower[:, 1:] - e0[:, None]  # units (grid kWh x ec in, / ed out), so that a schedule meeting each EV's
        e_min = np.where(d > 0, d * (ec / eta_c)[:, None], d * (eta_d / ed)[:, None]).sum(axis=0)  # own path meets it
    e_max = (upper[:, 1:] - e0[:, None]).sum(axis=0)
    if eta_c.max() > ec + 1e-12:  # an EV with a better charger efficiency stores more per kW: keep e_max safe
        e_max = np.where(e_max > 0, e_max * ec / float(eta_c.max()), e_max)
    # suffix bounds: from its lowest state at the end of hour t an EV can still take (from its highest, give) only
    # what its charger reaches before it leaves; an EV gone by then, nothing
    start_lo, start_hi = lower[:, 1:], upper[:, 1:]
    if gain is None:
        gain = np.minimum(top[:, None], start_lo + ch[:, None] * (cum[:, -1:] - cum[:, 1:])) - start_lo
    final_low = np.maximum(np.maximum(base_floor, alap_end)[:, None],
                           start_hi - np.where(v2g, dis, 0.0)[:, None] * (cum_d[:, -1:] - cum_d[:, 1:]))
    drop = start_hi - np.minimum(final_low, start_hi)
    gain_max = np.maximum(gain, 0.0).sum(axis=0) * (ec / float(eta_c.max()))
    drop_max = drop.sum(axis=0)
    b_hi = np.where(p_max >= 0.0, p_max * ec, p_max / ed) * step_h  # and no more than the power bounds allow after t
    b_lo = np.where(p_min >= 0.0, p_min * ec, p_min / ed) * step_h
    gain_max = np.minimum(gain_max, np.concatenate([np.cumsum(b_hi[::-1])[::-1][1:], [0.0]]))
    drop_max = np.minimum(drop_max, np.concatenate([np.cumsum(-b_lo[::-1])[::-1][1:], [0.0]]))
    env = FlexEnvelope(p_min, p_max, e_min, np.maximum(e_max, e_min), ec, ed, shortfall,
                       np.maximum(gain_max, 0.0), np.maximum(drop_max, 0.0), step_h=step_h)
    return env.tightened()


def envelope_of(fleet: dict[str, Any], hour_mode: np.ndarray | None = None, *,
                step_minutes: int | None = None) -> FlexEnvelope:
    """The envelope of a lot's EVs as `ParkingLot.fleet_view` gives them (JSON-able lists), under a charge (+1) /
    discharge (-1) / idle (0) policy per step when `hour_mode` is given. The step: `step_minutes`, else the
    fleet's own "step_minutes" key, else 60 (the fleet's "hours" counts steps); both given must agree."""
    kw = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in fleet.items()}
    if step_minutes is not None:
        if "step_minutes" in kw and int(kw["step_minutes"]) != int(step_minutes):
            raise ProblemError(f"envelope_of: the fleet is in {kw['step_minutes']}-min steps, not {step_minutes}")
        kw["step_minutes"] = int(step_minutes)
    if hour_mode is not None:
        mode = np.asarray(hour_mode, int)
        kw.update(charge_allowed=mode > 0, discharge_allowed=mode < 0)
    return fleet_envelope(**kw)
