"""Non-optimising day-ahead controllers: seed 000's threshold rule (eq. 9-10) and the base case.

Both keep the base topology and put each lot at its first candidate bus (or `lot_buses={lot_id: bus}`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cosim.controllers import objectives as obj
from cosim.controllers.base import DayAheadPlan, DayAheadProblem, ProblemError
from cosim.controllers.dispatch import balance_counts, hourly_pev_limit, split_counts
from cosim.controllers.vector_problem import DayAheadVectorProblem, daily_pev_cap


def _fixed_sites(problem: DayAheadProblem, lot_buses: dict[str, int] | None) -> np.ndarray:
    buses = []
    for lot in problem.lots:
        bus = int((lot_buses or {}).get(lot.lot_id, lot.candidate_buses[0]))
        if bus not in lot.candidate_buses:
            raise ProblemError(f"lot {lot.lot_id!r}: bus {bus} is not among its candidate buses {lot.candidate_buses}")
        buses.append(bus)
    return np.asarray(buses, dtype=int)[None, :]


def _evaluate_fixed(problem: DayAheadProblem, counts: np.ndarray, lot_buses, name: str, t0: float,
                    info: dict[str, Any]) -> DayAheadPlan:
    vp = DayAheadVectorProblem(problem)
    ev = vp.evaluate_plans(vp.base_open[None, :], _fixed_sites(problem, lot_buses), counts[None, :, :])
    plan = vp.plan_from_plans(ev, 0, controller=name)
    plan.info.update(info, evaluations=1, wall_s=time.perf_counter() - t0, seed=None)
    return plan


def threshold_counts(problem: DayAheadProblem, fill: str = "target", balance: bool = True) -> np.ndarray:
    """(n_lots, n) signed PEV counts by eq. 9-10: charge below P_target_min, discharge above P_target_max, one
    count per step of the problem's day (n = `steps_per_day`).

    Lots act only in steps their offer allows that direction. fill="target": as many PEVs as bring the
    curve (load + earlier lots) nearest to P_target; fill="full": every PEV allowed. With `balance`, eq. 6
    is then met by trimming the larger daily total (largest-remainder scaling).
    """
    if fill not in ("target", "full"):
        raise ProblemError(f"rule controller: fill must be 'target' or 'full', got {fill!r}")
    problem.check_lot_steps()
    p_min, p_t, p_max = obj.target_band_kw(problem.load_kw, problem.target_band)
    curve = problem.load_kw.astype(float).copy()
    out = np.zeros((len(problem.lots), problem.steps_per_day), dtype=np.int64)
    for j, lot in enumerate(problem.lots):
        limit = hourly_pev_limit(lot, obj.lot_power_model(problem))
        mode = np.asarray(lot.hour_mode, int)
        if fill == "full":
            want = limit.astype(float)
        else:
            want = np.minimum(np.rint(np.abs(p_t - curve) / lot.pev_power_kw), limit)
        charge = (mode > 0) & (curve < p_min)
        discharge = (mode < 0) & (curve > p_max)
        n = np.where(charge, want, 0) - np.where(discharge, want, 0)
        if balance:
            n_ch, n_dis = split_counts(n.astype(np.int64)[None, :])
            cap = daily_pev_cap(problem, lot)
            n_ch, n_dis = balance_counts(n_ch, n_dis, np.inf if cap is None else cap)
            n = (n_ch - n_dis)[0]
        out[j] = n
        curve = curve + n * lot.pev_power_kw
    return out


class RuleController:
    """Seed 000's band rule (eq. 9-10) on the base topology; no optimisation."""

    name = "rule"

    def __init__(self, fill: str = "target", balance: bool = True, lot_buses: dict[str, int] | None = None) -> None:
        if fill not in ("target", "full"):
            raise ValueError(f"rule controller: fill must be 'target' or 'full', got {fill!r}")
        self.fill, self.balance, self.lot_buses = fill, bool(balance), lot_buses

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        t0 = time.perf_counter()
        counts = threshold_counts(problem, self.fill, self.balance)
        p_min, p_t, p_max = obj.target_band_kw(problem.load_kw, problem.target_band)
        return _evaluate_fixed(problem, counts, self.lot_buses, self.name, t0,
                               {"p_target_kw": p_t, "p_target_min_kw": p_min, "p_target_max_kw": p_max,
                                "fill": self.fill})


class NoneController:
    """The base case: no lot power, base topology (seed 000's scenario 1)."""

    name = "none"

    def __init__(self, lot_buses: dict[str, int] | None = None) -> None:
        self.lot_buses = lot_buses

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        t0 = time.perf_counter()
        counts = np.zeros((len(problem.lots), problem.steps_per_day), dtype=np.int64)
        return _evaluate_fixed(problem, counts, self.lot_buses, self.name, t0, {})
