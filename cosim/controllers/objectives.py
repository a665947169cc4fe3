"""Seed 000's objectives and constraint measures, vectorised over a population of day plans x n steps.

Shapes: `n_ch`, `n_dis` are PEV counts (pop, n) (>= 0, one lot; sum lots yourself), powers (pop, n) in kW,
voltages (pop, n, n_bus) in p.u., currents (pop, n, n_branch) in kA, n = steps in the day (24, 48, 96). Every
function returns (pop,).

Steps: every function that turns a per-step quantity into a daily one takes `step_h` (the step in hours, default 1.0
= hourly, where every figure is as before): energies and money are kW x step_h (a PEV counted in a step is engaged
for step_h hours, and eq. 1-3's "one hour at full power" becomes step_h of it), and OF2 and VPD weight each step by
step_h (they sum over the day's hours), so an hourly plan held over finer steps scores the same.

Reconstruction of the garbled eq. 1-3 (what the PDF extraction lost, and how we read it):

* eq. 1  Revenue = sum_{h in discharge hours} price(h) * P_disch^lot(h) * sum_l SOC_l * lambda_l, where the
  stacked "P_disch^ParkingLot over P^PEV x n" is the definition P_disch^lot(h) = P^PEV * n_disch(h): a
  discharging PEV with state of charge SOC_l (share lambda_l of the fleet) gives back SOC_l of one hour at
  full power. With Table 1 the factor is sum SOC*lambda = 0.70 -> 7 kWh per 10-kW PEV-hour.
* eq. 2  Cost_1 = sum_{h in charge hours} (price(h) / mu_e + cost_e) * P^PEV * n_ch(h) * (1 - sum_c SOC_c *
  lambda_c): a charging PEV takes what it lacks (1 - SOC) up to one hour at full power, bought through
  chargers of efficiency mu_e, plus equipment wear cost_e per kWh. Table 1 -> 1 - 0.25 = 0.75 -> 7.5 kWh.
* eq. 3  Cost_2 = sum_h cost_ca * (n_ch(h) + n_disch(h)): the per-PEV daily usage cost for every PEV engaged.
* eq. 5  OF1 = Revenue - Cost_1 - Cost_2 ($, maximised).

The lot's grid power (`lot_power_kw`, + charging adds load, - discharging) is SOC-weighted by default, consistent
with the energies of eq. 1-2: P^PEV (1 - sum SOC lambda) / mu_e per charging PEV and P^PEV sum SOC lambda per
discharging one. Eq. 9's full P^PEV * n (10 kW per PEV instead of 8.33 / 7 kW) is model="paper", chosen per
problem by `problem.options["lot_power"]` (`lot_power_model`). `pev_kw` is the one conversion kW <-> PEVs
(`lot_power_kw`, its inverse `lot_counts`); the evaluation (`cosim.controllers.vector_problem`), the dispatch
bounds (`dispatch.hourly_pev_limit`), EO's warm starts (`metaheuristic.contract_counts`, `standing_seed`) and
`validation.evaluate_plan` all use it with the problem's model.
"""

from __future__ import annotations

import numpy as np

from cosim.controllers.ageing import held_hours


def soc_discharge_factor(levels: np.ndarray, shares: np.ndarray) -> float:
    """Expected share of one hour at full power a discharging PEV gives back: sum SOC * lambda (eq. 1)."""
    return float(np.dot(np.asarray(levels, float), np.asarray(shares, float)))


def soc_charge_factor(levels: np.ndarray, shares: np.ndarray) -> float:
    """Expected share of one hour at full power a charging PEV takes: 1 - sum SOC * lambda (eq. 2)."""
    return 1.0 - float(np.dot(np.asarray(levels, float), np.asarray(shares, float)))


def lot_revenue_usd(n_dis: np.ndarray, price_usd_per_kwh: np.ndarray, pev_power_kw: float,
                    discharge_factor: float, step_h: float = 1.0) -> np.ndarray:
    """Eq. 1: money the lot earns selling discharged energy at each step's price ($)."""
    return np.asarray(n_dis, float) @ np.asarray(price_usd_per_kwh, float) * pev_power_kw * discharge_factor * step_h


def lot_charging_cost_usd(
    n_ch: np.ndarray, price_usd_per_kwh: np.ndarray, pev_power_kw: float, charge_factor: float, mu_e: float,
    cost_e_usd_per_kwh: float, step_h: float = 1.0,
) -> np.ndarray:
    """Eq. 2: energy bought for charging at price/mu_e plus equipment wear cost_e per kWh ($)."""
    unit = np.asarray(price_usd_per_kwh, float) / mu_e + cost_e_usd_per_kwh  # $/kWh
    return np.asarray(n_ch, float) @ unit * pev_power_kw * charge_factor * step_h


def lot_usage_cost_usd(n_ch: np.ndarray, n_dis: np.ndarray, cost_ca_usd_per_pev: float,
                       step_h: float = 1.0) -> np.ndarray:
    """Eq. 3: cost_ca for every PEV engaged in charging or discharging in any hour ($); a PEV counted in a step of
    `step_h` hours counts step_h of it (seed 000 counts PEV-hours: a PEV held over four quarter hours counts once)."""
    return cost_ca_usd_per_pev * (np.asarray(n_ch, float).sum(axis=-1) + np.asarray(n_dis, float).sum(axis=-1)
                                  ) * step_h


LOT_POWER_MODELS = ("soc_weighted", "paper")
"""How PEV counts become the lot's grid power (`lot_power_kw`); "soc_weighted" is the default everywhere."""


def lot_power_model(problem) -> str:
    """The lot power model a `DayAheadProblem` asks for: `problem.options["lot_power"]` (default "soc_weighted")."""
    model = (getattr(problem, "options", None) or {}).get("lot_power", "soc_weighted")
    if model not in LOT_POWER_MODELS:
        raise ValueError(f"options['lot_power'] must be one of {LOT_POWER_MODELS}, got {model!r}")
    return model


def pev_kw(lot, model: str = "soc_weighted") -> tuple[float, float]:
    """(kW one charging PEV draws, kW one discharging PEV gives), both >= 0, at the grid under `model`.

    The one source of truth for kW <-> PEVs: `lot_power_kw`, `lot_counts` and every controller go through it."""
    if model not in LOT_POWER_MODELS:
        raise ValueError(f"lot power model must be one of {LOT_POWER_MODELS}, got {model!r}")
    if model == "paper":
        return float(lot.pev_power_kw), float(lot.pev_power_kw)
    charge_kw = lot.pev_power_kw * soc_charge_factor(lot.soc_charge_levels, lot.soc_charge_shares) / lot.economics.mu_e
    discharge_kw = lot.pev_power_kw * soc_discharge_factor(lot.soc_discharge_levels, lot.soc_discharge_shares)
    return float(charge_kw), float(discharge_kw)


def lot_power_kw(counts: np.ndarray, lot, model: str = "soc_weighted") -> np.ndarray:
    """Grid-side lot power (kW, + charging) of signed PEV counts per hour.

    model="soc_weighted" (default, consistent with eq. 1-3's energies): a charging PEV takes P x (1 - SOC) in the
    hour at the battery, bought as that / mu_e from the grid; a discharging PEV gives P x SOC (expected over Table
    1's shares). The co-simulated lot then sees setpoints it can physically follow, and OF3's losses are those of
    the energy the PLO is paid for. model="paper": eq. 9 as printed, P^PEV x n in both directions (10 kW per PEV
    for seed 000), whatever the SOC; eq. 1-2's energies (and so OF1) stay SOC-weighted, as in the paper.
    """
    charge_kw, discharge_kw = pev_kw(lot, model)
    counts = np.asarray(counts, float)
    return np.where(counts > 0, counts * charge_kw, counts * discharge_kw)


def lot_counts(setpoints_kw: np.ndarray, lot, model: str = "soc_weighted") -> np.ndarray:
    """Inverse of `lot_power_kw`: signed (fractional) PEV counts whose grid power is `setpoints_kw` under `model`."""
    charge_kw, discharge_kw = pev_kw(lot, model)
    sp = np.asarray(setpoints_kw, float)
    return np.where(sp > 0, sp / max(charge_kw, 1e-9), sp / max(discharge_kw, 1e-9))


def contract_violation_kwh(lot_kw: np.ndarray, lot, step_h: float = 1.0) -> np.ndarray:
    """kWh by which a lot schedule (..., n) (kW per step of `step_h` hours) is outside what its EVs can take. With an
    envelope (`LotOffer.envelope`): `FlexEnvelope.violation_kwh` (power beyond the per-step bounds, cumulative
    energy below e_min or above e_max; the envelope's own step). Without: battery energy charged by the end of each
    step below `need_by_hour_kwh` (and `energy_need_kwh` by the end of the day), plus energy discharged beyond
    `energy_available_kwh`."""
    lot_kw = np.asarray(lot_kw, float)
    if getattr(lot, "envelope", None) is not None:
        return lot.envelope.violation_kwh(lot_kw)
    need_by = (np.zeros(lot_kw.shape[-1]) if lot.need_by_hour_kwh is None
               else np.asarray(lot.need_by_hour_kwh, float).copy())
    need_by[-1] = max(need_by[-1], lot.energy_need_kwh)
    charged = np.cumsum(np.clip(lot_kw, 0.0, None) * lot.economics.mu_e * step_h, axis=-1)
    short = np.maximum(need_by - charged, 0.0).max(axis=-1)
    discharged = np.clip(-lot_kw, 0.0, None).sum(axis=-1) * step_h
    excess = np.maximum(discharged - lot.energy_available_kwh, 0.0) if np.isfinite(lot.energy_available_kwh) else 0.0
    return short + excess


def of1_benefit_usd(n_ch: np.ndarray, n_dis: np.ndarray, price_usd_per_kwh: np.ndarray, lot,
                    step_h: float = 1.0) -> np.ndarray:
    """Eq. 5: PLO benefit = revenue - charging cost - usage cost ($) for one `LotOffer`, counts and prices per step
    of `step_h` hours; with a battery wear cost (`LotEconomics.wear_usd_per_kwh` > 0, off by default) also minus
    wear x the battery energy charged and discharged; with a calendar ageing cost
    (`LotEconomics.calendar_usd_per_kwh_h` > 0, off by default) also minus its price x the battery energy charged in
    step h (plus, discharged: minus) x the hours it stays to the day's end (`ageing.held_hours`)."""
    eco = lot.economics
    rev = lot_revenue_usd(n_dis, price_usd_per_kwh, lot.pev_power_kw,
                          soc_discharge_factor(lot.soc_discharge_levels, lot.soc_discharge_shares), step_h)
    c1 = lot_charging_cost_usd(n_ch, price_usd_per_kwh, lot.pev_power_kw,
                               soc_charge_factor(lot.soc_charge_levels, lot.soc_charge_shares), eco.mu_e,
                               eco.cost_e_usd_per_kwh, step_h)
    c2 = lot_usage_cost_usd(n_ch, n_dis, eco.cost_ca_usd_per_pev_day, step_h)
    if eco.wear_usd_per_kwh > 0.0:  # battery wear on the battery energy moved (eq. 2's and eq. 1's energies)
        wear = np.full(np.shape(price_usd_per_kwh), eco.wear_usd_per_kwh)
        c1 = c1 + lot_charging_cost_usd(n_ch, wear, lot.pev_power_kw, soc_charge_factor(
            lot.soc_charge_levels, lot.soc_charge_shares), 1.0, 0.0, step_h)
        c2 = c2 + lot_revenue_usd(n_dis, wear, lot.pev_power_kw,
                                  soc_discharge_factor(lot.soc_discharge_levels, lot.soc_discharge_shares), step_h)
    if eco.calendar_usd_per_kwh_h > 0.0:  # calendar ageing of those energies, held to the day's end
        held = eco.calendar_usd_per_kwh_h * held_hours(np.shape(price_usd_per_kwh)[-1], step_h)
        c1 = c1 + lot_charging_cost_usd(n_ch, held, lot.pev_power_kw, soc_charge_factor(
            lot.soc_charge_levels, lot.soc_charge_shares), 1.0, 0.0, step_h)
        c2 = c2 - lot_revenue_usd(n_dis, held, lot.pev_power_kw,
                                  soc_discharge_factor(lot.soc_discharge_levels, lot.soc_discharge_shares), step_h)
    return rev - c1 - c2


def p_target_kw(load_kw: np.ndarray) -> float:
    """Eq. 8: the flat target = mean hourly system load (kW), lots excluded."""
    return float(np.mean(np.asarray(load_kw, float)))


def target_band_kw(load_kw: np.ndarray, band: float) -> tuple[float, float, float]:
    """(P_target_min, P_target, P_target_max) in kW: the mean load -+ `band` share of it (seed 000: 5 %)."""
    t = p_target_kw(load_kw)
    return t * (1.0 - band), t, t * (1.0 + band)


def of2_lcd_kw(load_kw: np.ndarray, lot_kw: np.ndarray, step_h: float = 1.0) -> np.ndarray:
    """Eq. 7: load-curve deviation sum_h |P_target - P_load(h) - P_lot(h)| (kW summed over hours: each step of
    `step_h` hours weighs step_h).

    P_lot is + when the lot charges, so a charging lot raises the curve towards the target in a valley.
    """
    load = np.asarray(load_kw, float)
    return np.abs(p_target_kw(load) - load - np.asarray(lot_kw, float)).sum(axis=-1) * step_h


def of3_loss_kwh(loss_kw: np.ndarray, step_h: float = 1.0) -> np.ndarray:
    """Eq. 11: daily energy losses = sum of each step's losses x its length (kW x step_h = kWh)."""
    return np.asarray(loss_kw, float).sum(axis=-1) * step_h


def vpd_pu(vm_pu: np.ndarray, step_h: float = 1.0) -> np.ndarray:
    """Eq. 17: voltage-profile deviation sum_h sum_b |V_b(h) - 1| (p.u.) over all buses incl. the slack (each step
    of `step_h` hours weighs step_h)."""
    return np.abs(np.asarray(vm_pu, float) - 1.0).sum(axis=(-2, -1)) * step_h


def voltage_violation_pu(vm_pu: np.ndarray, v_min_pu: float, v_max_pu: float) -> np.ndarray:
    """Eq. 16 as a violation: sum over hours and buses of how far V leaves [v_min, v_max] (p.u.; 0 = feasible)."""
    v = np.asarray(vm_pu, float)
    return (np.maximum(v_min_pu - v, 0.0) + np.maximum(v - v_max_pu, 0.0)).sum(axis=(-2, -1))


def current_violation(i_ka: np.ndarray, i_max_ka: np.ndarray) -> np.ndarray:
    """Branch current limits as a violation: sum over hours and branches of relative overload (I/I_max - 1)+."""
    i = np.abs(np.asarray(i_ka, float))
    imax = np.asarray(i_max_ka, float)
    if np.all(i <= imax):  # every term is exactly 0 (I <= I_max gives I / I_max <= 1; NaN takes the long way)
        return np.zeros(i.shape[:-2])
    ratio = np.where(np.isfinite(imax), i / np.where(np.isfinite(imax), imax, 1.0), 0.0)
    return np.maximum(ratio - 1.0, 0.0).sum(axis=(-2, -1))


def pev_balance_violation(n_ch: np.ndarray, n_dis: np.ndarray) -> np.ndarray:
    """Eq. 6 (first line) as a violation: |PEVs charged over the day - PEVs discharged over the day|."""
    return np.abs(np.asarray(n_ch, float).sum(axis=-1) - np.asarray(n_dis, float).sum(axis=-1))


def pev_capacity_violation(n_ch: np.ndarray, n_dis: np.ndarray, n_max_per_hour: np.ndarray,
                           daily_cap: float = np.inf) -> np.ndarray:
    """Eq. 6 (second line) as a violation: PEVs above the hourly limit, plus the daily total above `daily_cap`."""
    n_ch, n_dis = np.asarray(n_ch, float), np.asarray(n_dis, float)
    hourly = np.maximum(n_ch + n_dis - np.asarray(n_max_per_hour, float), 0.0).sum(axis=-1)
    daily = (np.maximum(np.maximum(n_ch.sum(axis=-1), n_dis.sum(axis=-1)) - daily_cap, 0.0)
             if np.isfinite(daily_cap) else 0.0)
    return hourly + daily
