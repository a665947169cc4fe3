"""Day-ahead problems at finer steps built from hourly ones (the shared helpers of test_steps_controllers.py and
scripts/measure_step_eo.py): every hourly array held over the steps of its hour (`timebase.resample`), and an
hourly envelope refined so that every hourly schedule inside it, held, is inside the refined one."""

from __future__ import annotations

import dataclasses

import numpy as np

from cosim.controllers import DayAheadProblem, LotOffer
from cosim.controllers.envelope import FlexEnvelope
from cosim.timebase import resample


def held(values: np.ndarray, step_minutes: int) -> np.ndarray:
    """Hourly rates (kW, p.u., $/kWh) held over the steps of each hour (axis 0)."""
    return resample(np.asarray(values, float), 60, step_minutes, axis=0)


def due_by_step(cumulative_kwh: np.ndarray, step_minutes: int) -> np.ndarray:
    """Cumulative energy due by the end of each hour, per step: due at the hour's last step, the previous hour's
    due before it (a deadline is not a rate: holding it would move it earlier)."""
    k = 60 // step_minutes
    cum = np.asarray(cumulative_kwh, float)
    before = np.concatenate([[0.0], cum[:-1]])
    out = np.repeat(before, k)
    out[k - 1::k] = cum
    return out


def refined_envelope(env: FlexEnvelope, step_minutes: int) -> FlexEnvelope:
    """`env` (hourly) at `step_minutes`: power bounds held, cumulative and suffix bounds interpolated linearly between
    the hour ends (a held schedule's cumulative energy is linear within each hour), then tightened."""
    k = 60 // step_minutes
    frac = (np.arange(len(env.p_min_kw) * k) + 1) / k  # hours from the window start to each step's end

    def linear(values: np.ndarray, start: float) -> np.ndarray:
        return np.interp(frac, np.arange(len(values) + 1), np.concatenate([[start], values]))

    suffix = {}
    if env.has_suffix:  # at the window start all of the day is after: the day's final energy's bounds
        suffix = {"gain_max_kwh": linear(env.gain_max_kwh, max(float(env.e_max_kwh[-1]), 0.0)),
                  "drop_max_kwh": linear(env.drop_max_kwh, max(-float(env.e_min_kwh[-1]), 0.0))}
    fine = FlexEnvelope(held(env.p_min_kw, step_minutes), held(env.p_max_kw, step_minutes),
                        linear(env.e_min_kwh, 0.0), linear(env.e_max_kwh, 0.0), env.eta_charge, env.eta_discharge,
                        env.shortfall_kwh, step_h=step_minutes / 60.0, **suffix)
    return fine.tightened()


def refined_problem(problem: DayAheadProblem, step_minutes: int, *, envelope: bool = True) -> DayAheadProblem:
    """`problem` (hourly) at `step_minutes`: prices, load scaling and the offers' kW held, deadlines due at the same
    hour ends, the envelope refined (`refined_envelope`) or dropped."""

    def lot_at(lot: LotOffer) -> LotOffer:
        return dataclasses.replace(
            lot, hour_mode=np.repeat(np.asarray(lot.hour_mode, int), 60 // step_minutes),
            max_charge_kw=held(lot.max_charge_kw, step_minutes), max_discharge_kw=held(lot.max_discharge_kw,
                                                                                        step_minutes),
            need_by_hour_kwh=None if lot.need_by_hour_kwh is None else due_by_step(lot.need_by_hour_kwh,
                                                                                    step_minutes),
            envelope=refined_envelope(lot.envelope, step_minutes) if envelope and lot.envelope is not None
            else None)

    def maybe(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else held(values, step_minutes)

    return dataclasses.replace(
        problem, load_scaling=held(problem.load_scaling, step_minutes),
        price_usd_per_kwh=held(problem.price_usd_per_kwh, step_minutes),
        lots=tuple(lot_at(lot) for lot in problem.lots),
        fixed_injection_kw=maybe(problem.fixed_injection_kw), bus_load_kw=maybe(problem.bus_load_kw),
        bus_load_kvar=maybe(problem.bus_load_kvar), standing_plan=None)
