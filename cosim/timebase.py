"""The simulation step: how long one step is, how many make a day, and energy-conserving resampling.

One mosaik time unit is one step (``time_resolution = 60 * step_minutes`` seconds). Day-ahead arrays (prices,
loads, offers, envelopes, plans, predictions) hold one value per step of the day: ``steps_per_day`` values, where
index k covers the hours [k step_h, (k + 1) step_h). Powers stay in kW; a step's energy is its power times
``step_h``. Hourly data keep their meaning at any step: an hourly kW value held over four quarter hours gives the
same energy, an hourly price in $/kWh the same price (``resample``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.errors import InputError

__all__ = ["HOURS_PER_DAY", "STEPS_PER_DAY", "STEP_MINUTES", "StepClock", "resample", "step_h_of", "step_minutes_of",
           "steps_per_day"]

HOURS_PER_DAY = 24
STEP_MINUTES = (60, 30, 15)  # [simulation] step_minutes: what the framework steps in
STEPS_PER_DAY = tuple(HOURS_PER_DAY * 60 // m for m in STEP_MINUTES)  # a day-ahead array's allowed lengths


class StepError(InputError):
    """A step length or a profile resolution the framework cannot step in; the message says what is allowed."""


def steps_per_day(step_minutes: int) -> int:
    """Steps in a day at `step_minutes` (24, 48 or 96)."""
    check_step_minutes(step_minutes)
    return HOURS_PER_DAY * 60 // int(step_minutes)


def check_step_minutes(step_minutes: object) -> int:
    if isinstance(step_minutes, bool) or not isinstance(step_minutes, int) or step_minutes not in STEP_MINUTES:
        raise StepError(f"step_minutes={step_minutes!r} is not allowed; allowed: "
                        f"{', '.join(map(str, STEP_MINUTES))}")
    return step_minutes


def step_minutes_of(n_steps_per_day: int) -> int:
    """The step in minutes of a day of `n_steps_per_day` steps (24 -> 60, 96 -> 15); other lengths refused."""
    n = int(n_steps_per_day)
    if n not in STEPS_PER_DAY:
        raise StepError(f"a day of {n} steps is not allowed; allowed: {', '.join(map(str, STEPS_PER_DAY))} steps")
    return HOURS_PER_DAY * 60 // n


def step_h_of(n_steps_per_day: int) -> float:
    """The step in hours of a day-ahead array of `n_steps_per_day` values (24 -> 1.0, 96 -> 0.25)."""
    step_minutes_of(n_steps_per_day)  # refuses a length that is no allowed day
    return HOURS_PER_DAY / int(n_steps_per_day)


@dataclass(frozen=True)
class StepClock:
    """A run's step: its length, the steps in a day, and the conversions between steps and hours."""

    step_minutes: int = 60

    def __post_init__(self) -> None:
        check_step_minutes(self.step_minutes)

    @property
    def step_h(self) -> float:
        return self.step_minutes / 60.0

    @property
    def steps_per_day(self) -> int:
        return steps_per_day(self.step_minutes)

    @property
    def steps_per_hour(self) -> int:
        return 60 // self.step_minutes

    @property
    def time_resolution_s(self) -> float:
        """Seconds per mosaik time unit: one step."""
        return 60.0 * self.step_minutes

    def hour_of(self, step: int) -> float:
        """The start of step `step` in hours since the run began."""
        return step * self.step_h

    def steps(self, days: int) -> int:
        return self.steps_per_day * int(days)

    def is_day_start(self, step: int) -> bool:
        return step % self.steps_per_day == 0

    @classmethod
    def from_time_resolution(cls, time_resolution_s: float) -> StepClock:
        """The clock of a world whose time unit is `time_resolution_s` seconds (one step)."""
        minutes = float(time_resolution_s) / 60.0
        if not minutes.is_integer() or int(minutes) not in STEP_MINUTES:
            raise StepError(f"time_resolution={time_resolution_s!r} s is not one allowed step; allowed: "
                            f"{', '.join(str(60 * m) for m in STEP_MINUTES)} s")
        return cls(int(minutes))


def resample(values: np.ndarray, from_minutes: int, to_minutes: int, axis: int = 0) -> np.ndarray:
    """Step values (kW, p.u., $/kWh: rates, not energies) from `from_minutes` to `to_minutes` steps along `axis`.

    Finer: each value is held over the shorter steps. Coarser: each longer step gets the mean of the shorter steps
    it covers. Either way the energy (rate x time) over every common interval is conserved exactly; a price
    averaged this way is the time-weighted mean (the energy-weighted one needs the load, which a profile does not
    have). One resolution must divide the other: else a `StepError` saying so."""
    arr = np.asarray(values, dtype=float)
    if from_minutes <= 0 or to_minutes <= 0:
        raise StepError(f"steps must last a positive number of minutes, got {from_minutes} and {to_minutes}")
    if from_minutes == to_minutes:
        return arr
    if from_minutes % to_minutes == 0:
        return np.repeat(arr, from_minutes // to_minutes, axis=axis)
    if to_minutes % from_minutes == 0:
        k = to_minutes // from_minutes
        n = arr.shape[axis]
        if n % k:
            raise StepError(f"{n} steps of {from_minutes} min do not fill whole {to_minutes}-min steps")
        moved = np.moveaxis(arr, axis, 0)
        means = moved.reshape((n // k, k) + moved.shape[1:]).mean(axis=1)
        return np.moveaxis(means, 0, axis)
    raise StepError(f"a profile in {from_minutes}-min steps neither divides nor is a multiple of the "
                    f"simulation's {to_minutes}-min step")
