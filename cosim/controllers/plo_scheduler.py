"""A PLO's own profit-maximising day-ahead schedule (an LP solved by HiGHS through scipy).

Used when the PLO decides for itself: exchange modes `signals`, `iterative` (answering the DSO's price adders
and kW limits) and `none` (market prices only). Aggregate fleet model: per-step charge/discharge power bounds,
a net energy the fleet must receive over the day (contracts) and an energy it may give back.

Steps: the day has as many steps as the price array (24, 48 or 96; `timebase.step_h_of` gives the step in hours);
the offer's arrays, the signal's and the envelope have that many values. Powers are kW per step, energies kW x
step_h, money $/kWh x kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csc_array

from cosim.controllers.ageing import held_hours
from cosim.controllers.base import HOURS, LotOffer
from cosim.controllers.fleet_lp import CALENDAR_KEY, nearest_kw
from cosim.controllers.highs_lp import solve_lp
from cosim.errors import CosimError, ProblemError
from cosim.timebase import StepError, step_h_of


class ScheduleError(CosimError):
    """The PLO's scheduling problem is infeasible (contracts cannot be met within the limits)."""


@dataclass(frozen=True)
class DsoSignal:
    """DSO -> PLO signal: a tariff adder on net import ($/kWh, per step) and kW limits per step (>= 0), one value
    per step of the day."""

    price_adder_usd_per_kwh: np.ndarray
    max_import_kw: np.ndarray
    max_export_kw: np.ndarray

    @classmethod
    def neutral(cls, steps: int = HOURS) -> "DsoSignal":
        """No adder, no limits, over a day of `steps` steps."""
        return cls(np.zeros(steps), np.full(steps, np.inf), np.full(steps, np.inf))

    def to_payload(self) -> dict:
        return {"price_adder_usd_per_kwh": self.price_adder_usd_per_kwh.tolist(),
                "max_import_kw": [min(v, 1e9) for v in self.max_import_kw.tolist()],
                "max_export_kw": [min(v, 1e9) for v in self.max_export_kw.tolist()]}

    @classmethod
    def from_payload(cls, payload: dict) -> "DsoSignal":
        return cls(np.asarray(payload["price_adder_usd_per_kwh"], float), np.asarray(payload["max_import_kw"], float),
                   np.asarray(payload["max_export_kw"], float))


@dataclass(frozen=True)
class ProfitLp:
    """The PLO's profit LP over x = (c, d) (charge, discharge kW, each (n,), n steps of `step_h` hours): min cost'x,
    A_ub x <= b_ub, bounds (the cost already in $ per kW held a step: $/kWh x step_h).

    Its optimum is minus the planned profit; `envelope` says whether the bounds are the lot's envelope's."""

    cost: np.ndarray
    a_ub: np.ndarray
    b_ub: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    envelope: bool
    step_h: float = 1.0


def profit_lp(offer: LotOffer, price_usd_per_kwh: np.ndarray, signal: DsoSignal | None = None,
              eta_discharge: float = 1.0) -> ProfitLp:
    """The LP `plo_profit_schedule` solves (see there): also the PLO's own problem in the ADMM exchange mode. The
    day's steps: the length of `price_usd_per_kwh` (24, 48 or 96); every other array must have as many."""
    price = np.asarray(price_usd_per_kwh, float)
    n = price.shape[0] if price.ndim == 1 else -1
    try:
        dt = step_h_of(n)  # hours per step
    except StepError as exc:
        raise ProblemError(f"lot {offer.lot_id!r}: the PLO's prices must hold one value per step: {exc}") from None
    signal = signal or DsoSignal.neutral(n)
    for name, arr in (("hour_mode", offer.hour_mode), ("max_charge_kw", offer.max_charge_kw),
                      ("max_discharge_kw", offer.max_discharge_kw), ("need_by_hour_kwh", offer.need_by_hour_kwh),
                      ("signal price_adder_usd_per_kwh", signal.price_adder_usd_per_kwh),
                      ("signal max_import_kw", signal.max_import_kw), ("signal max_export_kw", signal.max_export_kw),
                      ("envelope", None if offer.envelope is None else offer.envelope.p_min_kw)):
        if arr is not None and np.shape(arr) != (n,):
            raise ProblemError(f"lot {offer.lot_id!r}: {name} has shape {np.shape(arr)}, the prices {n} steps")
    if offer.envelope is not None and offer.envelope.step_h != dt:
        raise ProblemError(f"lot {offer.lot_id!r}: its envelope is in {offer.envelope.step_h} h steps, the prices "
                           f"in {dt} h steps")
    mu = offer.economics.mu_e
    cost_e = offer.economics.cost_e_usd_per_kwh
    adder = signal.price_adder_usd_per_kwh
    cost = np.concatenate([price / mu + cost_e + adder, -(price - cost_e + adder)])
    wear = offer.economics.wear_usd_per_kwh  # battery wear per battery kWh in or out (0: off)
    calendar = offer.economics.calendar_usd_per_kwh_h  # calendar ageing per battery kWh held an hour (0: off)
    if wear > 0.0 or calendar > 0.0:
        eta_c, eta_d = (offer.envelope.eta_charge, offer.envelope.eta_discharge) if offer.envelope is not None \
            else (mu, eta_discharge)
        held = calendar * held_hours(n, dt)  # $ per battery kWh moved in step h, held (or not) to the day's end
        cost = cost + np.concatenate([(wear + held) * eta_c, (wear - held) / eta_d])
    cost = cost * dt  # $ per kW held a step
    lower_tri = np.tril(np.ones((n, n))) * dt  # kW per step -> kWh so far
    if offer.envelope is not None:  # inside the lot's envelope (see _envelope_schedule)
        env = offer.envelope
        c_max = np.minimum(np.maximum(env.p_max_kw, 0.0), signal.max_import_kw)
        d_max = np.minimum(np.maximum(-env.p_min_kw, 0.0), signal.max_export_kw)
        eye = np.eye(n)
        net = np.hstack([eye, -eye])
        energy = np.hstack([lower_tri * env.eta_charge, -lower_tri / env.eta_discharge])
        return ProfitLp(cost, np.vstack([net, -net, energy, -energy]),
                        np.concatenate([env.p_max_kw, -env.p_min_kw, env.e_max_kwh, -env.e_min_kwh]),
                        np.zeros(2 * n), np.concatenate([c_max, d_max]), True, dt)
    mode = np.asarray(offer.hour_mode)
    c_max = np.where(mode > 0, np.minimum(offer.max_charge_kw, signal.max_import_kw), 0.0)
    d_max = np.where(mode < 0, np.minimum(offer.max_discharge_kw, signal.max_export_kw), 0.0)
    # battery-side energies: charging must cover the contracts (energy_need) and discharging may not take more
    # than the V2G EVs hold above their contracts (energy_available), cumulatively hour by hour. Charged energy
    # is not credited to later discharging: seed 000's overnight and daytime PEVs are different visits.
    a_avail = np.hstack([np.zeros((n, n)), lower_tri / eta_discharge])
    b_avail = np.full(n, offer.energy_available_kwh if np.isfinite(offer.energy_available_kwh) else 1e9)
    need_by = np.zeros(n) if offer.need_by_hour_kwh is None else np.array(offer.need_by_hour_kwh, float)  # a copy
    need_by[-1] = max(need_by[-1], offer.energy_need_kwh)
    a_need = np.hstack([-lower_tri * mu, np.zeros((n, n))])
    return ProfitLp(cost, np.vstack([a_avail, a_need]), np.concatenate([b_avail, -need_by]), np.zeros(2 * n),
                    np.concatenate([c_max, d_max]), False, dt)


def plo_profit_schedule(offer: LotOffer, price_usd_per_kwh: np.ndarray, signal: DsoSignal | None = None,
                        eta_discharge: float = 1.0) -> tuple[np.ndarray, float]:
    """Lot setpoints per step (kW, + charging) maximising the PLO's profit; returns (setpoints, profit $). The day's
    steps and their length come from the prices (`len(price_usd_per_kwh)`: 24, 48 or 96); every sum below is over
    steps and each term is also multiplied by step_h (kW -> kWh).

    Profit = sum_h price_h d_h - (price_h / mu_e + cost_e) c_h - cost_e d_h - adder_h (c_h - d_h)
    - wear (eta_c c_h + d_h / eta_d) (battery wear, `LotEconomics.wear_usd_per_kwh`, 0 unless switched on)
    - k held_h (eta_c c_h - d_h / eta_d) (calendar ageing of the energy the schedule keeps in the batteries,
    k = `LotEconomics.calendar_usd_per_kwh_h`, 0 unless switched on; held_h = `ageing.held_hours`), with
    0 <= c_h <= max_charge, 0 <= d_h <= max_discharge (only in hours whose mode allows it, and within the DSO's
    limits), charged battery energy >= energy_need and discharged energy <= energy_available; with an envelope,
    inside it (net power within [p_min, p_max], cumulative battery energy within [e_min, e_max]).
    """
    lp = profit_lp(offer, price_usd_per_kwh, signal, eta_discharge)
    res = solve_lp(lp.cost, lp.lower, lp.upper, csc_array(lp.a_ub), np.full(lp.b_ub.size, -np.inf), lp.b_ub,
                   as_linprog=True)  # what linprog(method="highs") solves, without its per-call option checks
    if res.status != 0:
        if lp.envelope:
            raise ScheduleError(f"lot {offer.lot_id!r}: no schedule stays inside its envelope within the DSO's "
                                f"limits: {res.message}")
        raise ScheduleError(
            f"lot {offer.lot_id!r}: no schedule meets the contracts ({offer.energy_need_kwh:.1f} kWh needed) within "
            f"the hourly limits: {res.message}"
        )
    n = lp.cost.size // 2
    c, d = res.x[:n], res.x[n:]
    if lp.envelope:
        return follow_fleet(offer, offer.envelope.project(c - d)), float(-res.fun)
    return c - d, float(-res.fun)


def follow_fleet(offer: LotOffer, schedule: np.ndarray) -> np.ndarray:
    """The nearest schedule the lot's EVs can follow together (`fleet_lp.nearest_kw`, kW per step of the fleet's
    step) when the PLO knows its EVs."""
    if offer.fleet is not None:
        fleet = offer.fleet
        if offer.economics.calendar_usd_per_kwh_h > 0.0:  # its EVs' calendar ageing, EV by EV
            fleet = {**fleet, CALENDAR_KEY: offer.economics.calendar_usd_per_kwh_h}
        try:
            return nearest_kw(fleet, schedule)[0]
        except ProblemError:
            pass
    return schedule
