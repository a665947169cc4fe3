"""CC-CV charging: an EV's maximum charging power tapers linearly to 0 between its knee SOC and a full battery.

The curve (the two-stage battery model of acnportal, `acnsim/models/battery.py`, which EV2Gym 2.0.0 adapts in
`ev2gym/models/ev.py`, `EV._charge`, with its default ``transition_soc = 0.8``): below the knee the battery takes
its charger's full power (constant current), above it the battery-side limit falls linearly in SOC to 0 at 100 %
(constant voltage):

    r_max(E) = R * min(1, (C - E) / (C (1 - knee)))      R = charger_kw * eta_charge (battery kWh per hour)

``knee = 1`` is the constant-power model (no taper).

Held power: the lot holds each EV's power constant over an interval of ``h`` hours (between events), and a
constant battery rate ``r`` is possible over the whole interval exactly when it is within the limit at the
interval's end energy (the limit only falls as the battery fills): ``r <= r_max(E + r h)``, i.e.

    r <= min(R, R (C - E) / (C (1 - knee) + R h)).

That is `max_rate_kwh_per_h`. It is an inner approximation of the curve (what a charger following the curve
continuously could put in is more), and the same one the envelope and the per-EV LP use step by step
(`cosim.controllers.envelope`, `cosim.controllers.fleet_lp`), so a plan they make is one the lot can hold. The
functions that cut a span into held steps take the step (`step_h`, hours: 1, 0.5 or 0.25; default 1.0, the
hourly steps): shorter steps hold closer to the curve, so they reach more.
With ``knee = 1`` every function here gives the constant-power formulas exactly (the same floats).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_KNEE_SOC", "has_taper", "max_rate_kwh_per_h", "must_run_kwh", "reach_clock_kwh", "reach_kwh",
           "start_for_kwh"]

DEFAULT_KNEE_SOC = 0.8
"""EV2Gym's default ``transition_soc`` (and acnportal's example); the knee the shipped EV models use."""


def has_taper(knee_soc: np.ndarray | float | None) -> bool:
    """True when some EV's knee is below 1 (its power tapers)."""
    return knee_soc is not None and bool(np.any(np.asarray(knee_soc, float) < 1.0))


def max_rate_kwh_per_h(energy_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, hours):
    """The highest constant battery-side rate (kWh per hour, >= 0) an EV can hold for `hours` from `energy_kwh`
    (see the module): the charger, the room, and the taper at the interval's end energy."""
    e, cap = np.asarray(energy_kwh, float), np.asarray(capacity_kwh, float)
    rate, knee, h = np.asarray(rate_kwh_per_h, float), np.asarray(knee_soc, float), np.asarray(hours, float)
    room = cap - e
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = np.minimum(rate, np.where(h > 0, room / h, np.inf))  # constant power: charger and room
        taper = np.minimum(rate, rate * room / (cap * (1.0 - knee) + rate * h))
    return np.maximum(np.where(knee < 1.0, taper, flat), 0.0)


def _steps(left, fraction_first: bool, step_h: float = 1.0):
    """The next step (hours) of a span cut into whole steps of `step_h` hours and one fraction (first or last)."""
    if fraction_first:
        return np.where(left > 1e-12, left - np.maximum(np.ceil(left / step_h - 1e-12) - 1.0, 0.0) * step_h, 0.0)
    return np.where(left > 1e-12, np.minimum(left, step_h), 0.0)


def reach_kwh(energy_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, hours, fraction_first: bool = True,
              step_h: float = 1.0):
    """Battery energy after `hours` of charging at the highest held rate, in steps of at most `step_h` hours (the
    fraction first, or last: clock steps from where the span starts), as the envelope's steps are: at most the
    capacity."""
    e = np.array(energy_kwh, float)
    cap = np.asarray(capacity_kwh, float)
    rate, knee, h = np.asarray(rate_kwh_per_h, float), np.asarray(knee_soc, float), np.asarray(hours, float)
    flat = np.minimum(cap, e + rate * h)
    if not has_taper(knee):
        return np.broadcast_to(flat, np.broadcast(e, cap, rate, h).shape).astype(float)
    e = np.broadcast_to(e, np.broadcast(e, cap, rate, knee, h).shape).copy()
    left = np.broadcast_to(np.maximum(h, 0.0), e.shape).astype(float)
    while np.any(left > 1e-12):
        step = _steps(left, fraction_first, step_h)
        e = e + step * max_rate_kwh_per_h(e, cap, rate, knee, step)
        left = left - step
    return np.where(knee < 1.0, np.minimum(e, cap), flat)


def _start_one(target, cap, rate, knee, h):
    """The lowest energy from which one held step of `h` hours reaches `target` (the inverse of one step)."""
    flat = target - rate * h
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = cap * (1.0 - knee)
        tapered = np.where(tail > 0, (target * (tail + rate * h) - rate * h * cap) / tail, -np.inf)
    return np.where(knee < 1.0, np.maximum(flat, tapered), flat)


def start_for_kwh(target_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, hours, fraction_first: bool = True,
                  step_h: float = 1.0):
    """The lowest battery energy from which charging at the highest held rate for `hours` (steps of `step_h` hours,
    the earliest step the fraction, or the last) still reaches `target_kwh`: the must-run energy."""
    target = np.asarray(target_kwh, float)
    cap = np.asarray(capacity_kwh, float)
    rate, knee, h = np.asarray(rate_kwh_per_h, float), np.asarray(knee_soc, float), np.asarray(hours, float)
    flat = target - rate * h
    if not has_taper(knee):
        return np.broadcast_to(flat, np.broadcast(target, rate, h).shape).astype(float)
    x = np.broadcast_to(target, np.broadcast(target, cap, rate, knee, h).shape).copy()
    left = np.broadcast_to(np.maximum(h, 0.0), x.shape).astype(float)
    while np.any(left > 1e-12):  # backward from the end: the last step first
        step = _steps(left, not fraction_first, step_h)
        x = np.where(left > 1e-12, _start_one(x, cap, rate, knee, step), x)
        left = left - step
    return np.where(knee < 1.0, x, flat)


def reach_clock_kwh(energy_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, from_h, to_h, step_h: float = 1.0):
    """`reach_kwh` from `from_h` to `to_h` (hours since the start of the run) in clock steps of `step_h` hours, as the
    envelope and the per-EV LP count them: the part of the first step, whole steps, the part of the last."""
    t0, t1 = np.asarray(from_h, float), np.asarray(to_h, float)
    first = np.minimum(np.ceil(t0 / step_h - 1e-9) * step_h - t0, np.maximum(t1 - t0, 0.0))
    e = reach_kwh(energy_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, np.maximum(first, 0.0), step_h=step_h)
    return reach_kwh(e, capacity_kwh, rate_kwh_per_h, knee_soc, np.maximum(t1 - t0 - first, 0.0),
                     fraction_first=False, step_h=step_h)


def must_run_kwh(target_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, now_h, departure_h, step_h: float = 1.0):
    """`start_for_kwh` from `now_h` to `departure_h` (hours since the start of the run) in clock steps of `step_h`
    hours (the envelope's and the per-EV LP's steps): the lowest energy at `now_h` that still reaches
    `target_kwh`."""
    now, dep = np.asarray(now_h, float), np.asarray(departure_h, float)
    span = np.maximum(dep - now, 0.0)
    flat = np.asarray(target_kwh, float) - np.asarray(rate_kwh_per_h, float) * span
    if not has_taper(knee_soc):
        return flat
    last = np.minimum(dep - np.floor(dep / step_h + 1e-9) * step_h, span)  # the part of the departure's own step
    x = start_for_kwh(target_kwh, capacity_kwh, rate_kwh_per_h, knee_soc, last, step_h=step_h)
    x = start_for_kwh(x, capacity_kwh, rate_kwh_per_h, knee_soc, span - last, fraction_first=True, step_h=step_h)
    return np.where(np.asarray(knee_soc, float) < 1.0, x, flat)
