"""Stage 1 of seed 003: the parking-lot operator's 24-h profit MILP (paper eqs. 2-17), solved with HiGHS.

The paper's equations were lost in the text we have; they are rebuilt from its prose (section III):

* (3) energy market: sum_h lambda_E (p_out - p_in);
* (4) reserve market: r [ (1 - FOR)(lambda_cap + rho lambda_call) - FOR rho lambda_pen ], lambda_pen = lambda_call;
* (5) PEV owners: owners pay lambda_G2V for surplus SOC at departure (16), the lot pays lambda_V2G for the SOC
  deficit at departure (17) and for called reserve energy, plus battery depreciation c_dep (p_out + rho r);
* (6)-(7) rates: p_in <= xi P_st N_pl u, p_out <= xi P_st N_pl (1 - u), p_out + r <= xi P_st N_pl;
* (8) contracts: soc - r / eta_d >= Gamma cap_pl (the reserve can be delivered without breaking min SOCs);
* (9)-(10) N_pl = min(N_s, N_st), cap_pl = cap_s N_pl / N_s;
* (11)-(13) soc(h) = soc(h-1)(1 - d(h)) + eta_c p_in - p_out / eta_d + arr(h), soc_min cap <= soc <= soc_max cap;
* (14) arr(h) = max(0, SOC_s(h) - SOC_s(h-1)) N_pl / N_s; (15) the departing share d(h) = max(0, SOC_s(h-1) -
  SOC_s(h)) / SOC_s(h-1) of the lot's SOC leaves; (16)-(17) surplus - deficit = departed SOC - scaled scenario SOC,
  a binary per hour keeps them exclusive.
The day is cyclic (hour 0 follows hour 23). A penalised slack on the lower SOC bounds keeps the model feasible
for any input; it is reported and is zero in the study runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cosim.optim.linear import LinearModel
from cosim.studies.neyestani2015.scenarios import HOURS, PevScenario, PriceScenario


@dataclass(frozen=True)
class StationLotParams:
    """Lot and contract data (assumed unless marked; see README_neyestani2015.md)."""

    station_kw: float = 11.0  # paper: quick-charging stations of 11 kW
    rate: float = 1.0  # xi: charge / discharge rate of the lot [fraction of station power]
    eta_c: float = 0.95
    eta_d: float = 0.95
    gamma: float = 0.5  # contract: aggregated minimum SOC [fraction of capacity]
    soc_min: float = 0.1
    soc_max: float = 1.0
    forced_outage_rate: float = 0.02
    tariff_g2v: float = 0.12  # $/kWh paid by owners for surplus SOC at departure
    pay_v2g: float = 0.05  # $/kWh paid to owners for SOC deficit at departure and for called reserve energy
    c_dep: float = 0.01  # $/kWh battery depreciation on energy taken from PEVs
    entrance_tariff: float = 1.0  # $/PEV parking tariff (excluded from the profits compared, as in Fig. 9)
    slack_penalty: float = 10.0  # $/kWh on the feasibility slack of the lower SOC bounds
    reserve: bool = True  # case 1 (energy + reserve) or case 2 (energy only)


@dataclass
class LotInputs:
    """The scaled scenario seen by a lot of n_st stations (eqs. 9, 10, 14, 15), hour-indexed arrays."""

    n_pl: np.ndarray
    cap: np.ndarray
    arr: np.ndarray  # kWh arriving
    dep_share: np.ndarray  # fraction of the previous hour's SOC that departs
    dep_ref: np.ndarray  # kWh that departs in the scaled scenario (no lot trading)
    soc_ref: np.ndarray  # scaled scenario SOC (for plots)
    arrivals: np.ndarray  # PEVs arriving (for the entrance tariff)


def lot_inputs(s: PevScenario, n_st: float) -> LotInputs:
    """Scale a district PEV scenario to a lot with n_st stations (eqs. 9, 10, 14, 15; cyclic day)."""
    if n_st <= 0:
        raise ValueError(f"number of stations must be > 0, got {n_st}")
    n_s = np.asarray(s.n_pev, float)
    k = np.where(n_s > 0, np.minimum(n_s, n_st) / np.maximum(n_s, 1e-12), 1.0)
    soc_prev = np.roll(s.soc_kwh, 1)
    k_prev = np.roll(k, 1)
    up = np.maximum(s.soc_kwh - soc_prev, 0.0)
    down = np.maximum(soc_prev - s.soc_kwh, 0.0)
    share = np.where(soc_prev > 0, down / np.maximum(soc_prev, 1e-12), 0.0)
    return LotInputs(n_pl=n_s * k, cap=s.cap_kwh * k, arr=up * k, dep_share=share, dep_ref=down * k_prev,
                     soc_ref=s.soc_kwh * k, arrivals=np.maximum(n_s - np.roll(n_s, 1), 0.0) * k)


@dataclass
class Stage1Result:
    """Optimal lot schedule [kW / kWh per hour] and profit terms [$ per day]."""

    season: str
    n_st: float
    reserve: bool
    p_in: np.ndarray
    p_out: np.ndarray
    r: np.ndarray
    soc: np.ndarray
    surplus: np.ndarray
    deficit: np.ndarray
    inputs: LotInputs
    terms: dict[str, float]
    profit: float  # energy + reserve + owners (no entrance tariff), as in the paper's Fig. 9
    solve_s: float
    status: str
    slack_kwh: float
    n_int: int
    n_vars: int


def profit_terms(p_in, p_out, r, surplus, deficit, price: PriceScenario, lp: StationLotParams) -> dict[str, float]:
    """The objective's terms (eqs. 3-5) for a given schedule [$ per day]; used by the MILP and the tests."""
    lam, cap, call, rho = price.energy, price.reserve_cap, price.reserve_call, price.call_prob
    f = lp.forced_outage_rate
    energy = float(lam @ (np.asarray(p_out) - np.asarray(p_in)))
    reserve = float(((1 - f) * (cap + rho * call) - f * rho * call) @ np.asarray(r))
    owners = float(lp.tariff_g2v * np.sum(surplus) - lp.pay_v2g * np.sum(deficit) - lp.pay_v2g * rho @ np.asarray(r)
                   - lp.c_dep * (np.sum(p_out) + rho @ np.asarray(r)))
    return {"energy": energy, "reserve": reserve, "owners": owners}


def solve_stage1(scen: PevScenario, price: PriceScenario, n_st: float,
                 lp: StationLotParams = StationLotParams()) -> Stage1Result:
    """Maximise the lot's daily profit for one price scenario and n_st stations (exact MILP, HiGHS)."""
    li = lot_inputs(scen, n_st)
    pmax = lp.rate * lp.station_kw * li.n_pl
    big = float(max(li.cap.max(), 1.0)) * 2.0
    lam, f, rho = price.energy, lp.forced_outage_rate, price.call_prob
    reserve_usd_per_kw = ((1 - f) * (price.reserve_cap + rho * price.reserve_call) - f * rho * price.reserve_call
                          - lp.pay_v2g * rho - lp.c_dep * rho)
    # objective: maximise profit = minimise its negative (costs per kW or kWh and hour)
    m = LinearModel()
    H = HOURS
    p_in = m.var(H, 0.0, pmax, cost=lam)
    p_out = m.var(H, 0.0, pmax, cost=lp.c_dep - lam)
    r = m.var(H, 0.0, pmax if lp.reserve else 0.0, cost=-reserve_usd_per_kw)
    soc = m.var(H, 0.0, li.cap * lp.soc_max)
    sp = m.var(H, 0.0, big, cost=-lp.tariff_g2v)
    df = m.var(H, 0.0, big, cost=lp.pay_v2g)
    u = m.var(H, 0.0, 1.0, integer=True)
    y = m.var(H, 0.0, 1.0, integer=True)
    slack = m.var(H, 0.0, np.inf, cost=lp.slack_penalty)
    prev = soc[np.roll(np.arange(H), 1)]
    # rates (6)-(7)
    m.add(p_in - pmax * u <= 0.0)
    m.add(p_out + pmax * u <= pmax)
    m.add(p_out + r <= pmax)
    # SOC balance (11) with departures (15): soc - (1 - d) soc_prev - eta_c p_in + p_out / eta_d = arr
    m.add(soc - (1.0 - li.dep_share) * prev - lp.eta_c * p_in + (1.0 / lp.eta_d) * p_out == li.arr)
    # bounds (12)-(13) and contracts (8), with the feasibility slack
    m.add(soc + slack >= lp.soc_min * li.cap)
    m.add(soc - (1.0 / lp.eta_d) * r + slack >= lp.gamma * li.cap)
    # surplus / deficit at departure (16)-(17): d soc_prev - dep_ref = sp - df, exclusive through y
    m.add(df - sp + li.dep_share * prev == li.dep_ref)
    m.add(sp - big * y <= 0.0)
    m.add(df + big * y <= big)
    sol = m.solve(time_limit_s=120.0, mip_rel_gap=1e-6).require_optimal()
    x = {k: sol[v] for k, v in dict(p_in=p_in, p_out=p_out, r=r, soc=soc, sp=sp, df=df, slack=slack).items()}
    terms = profit_terms(x["p_in"], x["p_out"], x["r"], x["sp"], x["df"], price, lp)
    terms["entrance"] = float(lp.entrance_tariff * li.arrivals.sum())
    profit = terms["energy"] + terms["reserve"] + terms["owners"]
    return Stage1Result(price.season, float(n_st), lp.reserve, x["p_in"], x["p_out"], x["r"], x["soc"], x["sp"],
                        x["df"], li, terms, profit, sol.wall_s, sol.status, float(x["slack"].sum()), m.n_int, m.n_vars)


def energy_only(lp: StationLotParams) -> StationLotParams:
    """Case 2 of the paper: the same lot without the reserve market."""
    return replace(lp, reserve=False)
