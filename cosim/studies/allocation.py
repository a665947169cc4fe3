"""Shared model of the parking-lot allocation studies (seeds 001 and 002) on the 9-bus 33 kV network.

Terms (seed 002 numbering): lot power (eq. 1-2), V2G revenue and costs (eq. 3-7), reliability benefit from
energy not supplied with the lot as a backup source (eq. 8-9), loss benefit over load levels (eq. 10-11) and
the weighted objective (eq. 12). `AllocationModel.evaluate` scores a batch of allocations (EV count per bus)
with one batched radial power flow per operating state. Money in $ per year, power kW, energy kWh, time h.

Reading choices where the papers are silent (see cosim/studies/README_allocation.md):
- the lot discharges P_park = a * n * P_v for t_disp hours at the level where the price peak lies (peak load),
  and recharges that energy / mu_conv plus the driving energy at the light level, at P_park;
- eq. 5 is one charging cycle of the fleet (its sum over the Fig. 3 stages) times `driving_cycles_per_year` (1);
- reliability: a fault on branch b interrupts its whole feeder for t_res and the buses below b for t_rep;
  lots below b feed those buses during repair up to their power and stored energy (a * n * ES);
- voltage limits are checked in the V2G (discharge) state only; rule 'strict' (v_min..v_max) or 'no_worse'
  (no bus may fall below min(v_min, its voltage without the lot), none above v_max);
- line thermal limits (seed 002 eq. 16's current limit): neither paper nor the network data give ampacities, so
  each line's ampacity is assumed to be `ampacity_headroom` (AMPACITY_HEADROOM = 1.25) times the largest current
  it carries without lots over the three load levels (lines sized for their load with a 25 % margin). Checked
  in both the V2G and the recharge state; `ampacity_headroom=None` switches the limit off.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cosim.errors import InputError
from cosim.networks import load_network
from cosim.powerflow.bfs import solve_radial_batch
from cosim.powerflow.network_data import RadialNetwork

__all__ = [
    "AllocationInputError", "LotParams", "LoadLevel", "LOAD_LEVELS", "ReliabilityParams", "charge_time_h",
    "lot_power_kw", "charging_stages", "v2g_revenue", "capital_cost", "driving_energy_cost",
    "purchased_energy_price", "v2g_energy_cost", "ens_cost", "loss_benefit", "objective", "AllocationModel",
    "TERMS", "pct_diff", "sum_of_terms", "AMPACITY_HEADROOM", "LINE_RATINGS",
]

AMPACITY_HEADROOM = 1.25
"""Assumed line ampacity / the line's largest current without lots (see the module docstring)."""

LINE_RATINGS = f"assumed line ratings of {AMPACITY_HEADROOM:g} x each line's no-lot peak current"
"""The line-rating assumption in words, as the studies' tables and evidence labels state it."""

TERMS = ("r", "cf_cap", "cf_driving", "cf_v2g", "dc_ns", "dc_loss")
"""Order of the six terms of eq. 12 (and of the AHP weight vector)."""


class AllocationInputError(InputError):
    """Bad parameter or allocation for the parking-lot allocation model."""


@dataclass(frozen=True)
class LotParams:
    """Vehicle and economic data (seed 002 Table 2; seed 001 parameter table)."""

    p_v_kw: float = 15.0  # charge / discharge rate of one EV
    es_kwh: float = 50.0  # battery size of one EV
    soc_levels: tuple[float, ...] = (0.3, 0.45, 0.7)  # initial SOC levels (Table 1/2)
    soc_shares: tuple[float, ...] = (0.25, 0.25, 0.5)  # share of vehicles at each level
    c_d: float = 0.225  # degradation cost, $/kWh
    c_ac: float = 304.0  # annualised capital cost, $/year per vehicle
    mu_conv: float = 0.85  # inverter efficiency
    price_off: float = 0.05  # off-peak price, $/kWh
    price_peak: float = 0.5  # peak price paid for V2G energy, $/kWh
    t_disp_h: float = 200.0  # V2G hours per year
    availability: float = 1.0  # share of contracted EVs present
    driving_cycles_per_year: float = 1.0  # how many times eq. 5's charging cycle is paid per year

    def __post_init__(self) -> None:
        for name in ("p_v_kw", "es_kwh", "mu_conv", "t_disp_h"):
            if not float(getattr(self, name)) > 0:
                raise AllocationInputError(f"LotParams.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("c_d", "c_ac", "price_off", "price_peak", "driving_cycles_per_year"):
            if not float(getattr(self, name)) >= 0:
                raise AllocationInputError(f"LotParams.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.availability) <= 1.0:
            raise AllocationInputError(f"LotParams.availability must be in [0, 1], got {self.availability!r}")
        if self.mu_conv > 1.0:
            raise AllocationInputError(f"LotParams.mu_conv must be <= 1, got {self.mu_conv!r}")
        if len(self.soc_levels) != len(self.soc_shares) or not self.soc_levels:
            raise AllocationInputError("LotParams.soc_levels and soc_shares must be non-empty and of equal length")
        if any(not 0.0 <= s < 1.0 for s in self.soc_levels):
            raise AllocationInputError(f"LotParams.soc_levels must be in [0, 1), got {self.soc_levels}")
        if any(s < 0 for s in self.soc_shares) or abs(sum(self.soc_shares) - 1.0) > 1e-9:
            raise AllocationInputError(f"LotParams.soc_shares must be >= 0 and sum to 1, got {self.soc_shares}")


@dataclass(frozen=True)
class LoadLevel:
    """A load level: network load column, energy price ($/kWh) and duration (h/year)."""

    name: str
    price: float
    hours: float


LOAD_LEVELS = {
    "light": LoadLevel("low", 0.035, 2190.0),
    "medium": LoadLevel("medium", 0.049, 4745.0),
    "peak": LoadLevel("peak", 0.07, 1825.0),
}
"""Seed 001's table (seed 002 cites the same source [17]); `name` is the ninebus load_level."""


@dataclass(frozen=True)
class ReliabilityParams:
    """Eq. 8 data. The seeds give none (seed 002 cites [17,26]); values are assumed, see the README."""

    failure_rate_per_km_yr: float = 0.2  # gamma_b
    t_res_h: float = 1.0  # fault location and switching
    t_rep_h: float = 4.0  # repair
    c_ens: float = 1.0  # C_inj, $/kWh of energy not supplied (all levels)
    c_equip: float = 0.0  # C_Equip, $/year

    def __post_init__(self) -> None:
        for name in ("failure_rate_per_km_yr", "t_res_h", "t_rep_h", "c_ens", "c_equip"):
            if not float(getattr(self, name)) >= 0:
                raise AllocationInputError(f"ReliabilityParams.{name} must be >= 0, got {getattr(self, name)!r}")


# ---------------------------------------------------------------- eq. 1-7 (per lot, vectorised over n)
def charge_time_h(soc, es_kwh: float, p_v_kw: float):
    """Eq. 1: hours to charge one EV from `soc` to full at p_v_kw."""
    return (1.0 - np.asarray(soc, dtype=float)) * es_kwh / p_v_kw


def lot_power_kw(n, p_v_kw: float):
    """Eq. 2: power of a lot of n EVs all charging or discharging at p_v_kw (kW)."""
    return np.asarray(n, dtype=float) * p_v_kw


def charging_stages(n, p: LotParams) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 3 staircase of a lot charging n EVs from their initial SOC: stage k runs while the EVs with the
    k-th longest remaining time still charge. Returns power (..., K) in kW and durations (K,) in h."""
    order = np.argsort(p.soc_levels)[::-1]  # highest SOC finishes first
    t = charge_time_h(np.asarray(p.soc_levels)[order], p.es_kwh, p.p_v_kw)
    shares = np.asarray(p.soc_shares)[order]
    still = np.cumsum(shares[::-1])[::-1]  # share still charging during stage k
    dur = np.diff(np.concatenate([[0.0], t]))
    power = lot_power_kw(np.asarray(n, dtype=float)[..., None] * still, p.p_v_kw)
    return power, dur


def v2g_revenue(n, p: LotParams):
    """Eq. 3: r = Pr_P * P_park * t_disp with P_park from the available EVs (a * n)."""
    return p.price_peak * lot_power_kw(p.availability * np.asarray(n, dtype=float), p.p_v_kw) * p.t_disp_h


def capital_cost(n, p: LotParams):
    """Eq. 4: CF_cap = c_ac * PC with the capacity PC = contracted EVs (independent of availability)."""
    return p.c_ac * np.asarray(n, dtype=float)


def driving_energy_cost(n, p: LotParams):
    """Eq. 5: Pr_off / mu_conv * sum_k P_parkch(k) t(k) for the available EVs, times cycles per year."""
    power, dur = charging_stages(p.availability * np.asarray(n, dtype=float), p)
    return p.price_off / p.mu_conv * (power * dur).sum(axis=-1) * p.driving_cycles_per_year


def purchased_energy_price(p: LotParams) -> float:
    """Eq. 7: Pr_pe = Pr_off / mu_conv + c_d ($/kWh)."""
    return p.price_off / p.mu_conv + p.c_d


def v2g_energy_cost(n, p: LotParams):
    """Eq. 6: CF_pu,V2G = Pr_pe * P_park * t_disp."""
    return purchased_energy_price(p) * lot_power_kw(p.availability * np.asarray(n, dtype=float), p.p_v_kw) * p.t_disp_h


def objective(terms: dict[str, np.ndarray], weights) -> np.ndarray:
    """Eq. 12: w1 r - (w2 CF_cap + w3 CF_driving + w4 CF_V2G) + w5 DC_NS + w6 DC_loss (to maximise)."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (6,):
        raise AllocationInputError(f"weights must have 6 entries {TERMS}, got shape {w.shape}")
    return (w[0] * terms["r"] - (w[1] * terms["cf_cap"] + w[2] * terms["cf_driving"] + w[3] * terms["cf_v2g"])
            + w[4] * terms["dc_ns"] + w[5] * terms["dc_loss"])


# ---------------------------------------------------------------- eq. 8-11 (network terms)
def downstream_matrix(net: RadialNetwork) -> np.ndarray:
    """D[b, k] = 1 when bus k is fed through branch b (bus k lies below b), for a radial net without ties."""
    nb, nbr = net.n_bus, net.n_branch
    parent = np.full(nb, -1)
    branch_to = np.full(nb, -1)
    for e, (f, t) in enumerate(zip(net.from_bus, net.to_bus)):
        parent[t], branch_to[t] = f, e
    d = np.zeros((nbr, nb))
    for k in range(nb):
        node = k
        while node != net.slack_bus and node >= 0:
            d[branch_to[node], k] = 1.0
            node = parent[node]
    return d


def ens_cost(load_kw: np.ndarray, lot_kw: np.ndarray, lot_kwh: np.ndarray, down: np.ndarray, feeder: np.ndarray,
             length_km: np.ndarray, rel: ReliabilityParams, hours_share: float = 1.0) -> np.ndarray:
    """Eq. 8 for one load level (C_inj * sum_b gamma_b L_b (P_res t_res + P_rep t_rep) + C_Equip), scaled by the
    level's share of the year. During repair the lots below the fault feed min(load, power * t_rep, energy).

    load_kw (n_bus,), lot_kw / lot_kwh (batch, n_bus), down / feeder (n_branch, n_bus) 0/1 matrices.
    """
    p_res = feeder @ load_kw  # (n_branch,) load lost while the fault is located
    p_rep = down @ load_kw  # (n_branch,) load below the fault during repair
    e_lost = p_res * rel.t_res_h + p_rep * rel.t_rep_h
    backup = np.minimum(np.minimum(p_rep[None, :], lot_kw @ down.T) * rel.t_rep_h, lot_kwh @ down.T)
    gl = rel.failure_rate_per_km_yr * length_km
    return hours_share * (rel.c_ens * ((e_lost[None, :] - backup) * gl[None, :]).sum(axis=1) + rel.c_equip)


def loss_benefit(price: float, loss_kw: np.ndarray, loss_v2g_kw: np.ndarray, hours) -> np.ndarray:
    """Eq. 10-11: Price(j) * (loss(j) - loss_V2G(j)) with losses as energy over `hours` (kW * h)."""
    return price * (np.asarray(loss_kw) - np.asarray(loss_v2g_kw)) * np.asarray(hours)


def pct_diff(ours: float, paper: float) -> float:
    """(ours - paper) / |paper| in %, NaN when the paper's figure is 0 or missing."""
    if paper is None or not np.isfinite(paper) or paper == 0:
        return float("nan")
    return 100.0 * (ours - paper) / abs(paper)


def sum_of_terms(rows: pd.DataFrame, terms: tuple[tuple[str, str], ...]) -> str:
    """The evidence of a headline total: each term's difference to the paper, e.g. "sum of loss -94 %, ...".
    `rows`: a paper-vs-ours table indexed by quantity (columns ours, paper); `terms`: (label, quantity) pairs."""
    return "sum of " + ", ".join(f"{name} {pct_diff(rows.loc[q, 'ours'], rows.loc[q, 'paper']):+.0f} %"
                                 for name, q in terms)


@dataclass
class AllocationModel:
    """Scores allocations (EV counts per bus) on the 9-bus network: all six terms of eq. 12, voltages, cv.

    discharge_level / charge_level: where the lot delivers V2G power (price peak) and recharges.
    voltage_rule: 'strict' or 'no_worse' (see the module docstring); with_reliability=False gives dc_ns = 0.
    ampacity_headroom: assumed ampacity per line / its largest current without lots (None: no thermal limit).
    """

    params: LotParams = field(default_factory=LotParams)
    rel: ReliabilityParams = field(default_factory=ReliabilityParams)
    discharge_level: str = "peak"
    charge_level: str = "light"
    voltage_rule: str = "no_worse"
    with_reliability: bool = True
    power_factor: float | None = None
    ampacity_headroom: float | None = AMPACITY_HEADROOM

    def __post_init__(self) -> None:
        for name in (self.discharge_level, self.charge_level):
            if name not in LOAD_LEVELS:
                raise AllocationInputError(f"load level {name!r} is not one of {sorted(LOAD_LEVELS)}")
        if self.voltage_rule not in ("strict", "no_worse"):
            raise AllocationInputError(f"voltage_rule {self.voltage_rule!r} must be 'strict' or 'no_worse'")
        kw = {} if self.power_factor is None else {"power_factor": self.power_factor}
        self.grids = {k: load_network("ninebus", load_level=lv.name, **kw) for k, lv in LOAD_LEVELS.items()}
        self.nets = {k: g.radial for k, g in self.grids.items()}
        ref = self.nets["peak"]
        self.n_bus = ref.n_bus
        self.length_km = self.grids["peak"].net.line.length_km.to_numpy(float)
        self.down = downstream_matrix(ref)
        first = self.down.copy()  # feeder of branch b = everything below the feeder's first branch
        for b in range(ref.n_branch):
            heads = [e for e in range(ref.n_branch) if self.down[e, ref.to_bus[b]] and ref.from_bus[e] == ref.slack_bus]
            first[b] = self.down[heads[0]]
        self.feeder = first
        self._base = {k: self._flow(k, np.zeros((1, self.n_bus))) for k in self.nets}  # same solver settings as cases
        if self.ampacity_headroom is not None and not self.ampacity_headroom > 0:
            raise AllocationInputError(f"ampacity_headroom must be > 0 or None, got {self.ampacity_headroom!r}")
        base_i = np.max([np.asarray(b.i_branch_ka[0], float) for b in self._base.values()], axis=0)
        self.i_max_ka = (np.full(ref.n_branch, np.inf) if self.ampacity_headroom is None
                         else self.ampacity_headroom * base_i)
        """Assumed ampacity per branch (kA, radial branch order; inf without a thermal limit)."""

    def base_voltages(self, level: str = "peak") -> np.ndarray:
        return self._base[level].vm_pu[0]

    def base_loss_kw(self, level: str) -> float:
        return float(self._base[level].loss_kw[0])

    def _flow(self, level: str, extra_kw: np.ndarray):
        net = self.nets[level]
        return solve_radial_batch(net, np.zeros((0,), int), net.p_load_kw[None, :] + extra_kw, net.q_load_kvar,
                                  tol_pu=1e-9)

    def evaluate(self, counts) -> dict[str, np.ndarray]:
        """counts (batch, n_bus) EVs per bus (0 = no lot) -> terms (batch,), 'vm_v2g' (batch, n_bus), 'cv' (batch,)."""
        n = np.atleast_2d(np.asarray(counts, dtype=float))
        if n.shape[1] != self.n_bus:
            raise AllocationInputError(f"counts must have {self.n_bus} columns (one per bus), got shape {n.shape}")
        if np.any(n < 0) or not np.all(np.isfinite(n)):
            raise AllocationInputError("counts must be finite and >= 0")
        p = self.params
        total = n.sum(axis=1)
        out = {
            "r": v2g_revenue(total, p), "cf_cap": capital_cost(total, p), "cf_driving": driving_energy_cost(total, p),
            "cf_v2g": v2g_energy_cost(total, p),
        }
        p_lot = lot_power_kw(p.availability * n, p.p_v_kw)  # (batch, n_bus)
        dis = self._flow(self.discharge_level, -p_lot)
        e_drv = (driving_energy_cost(total, p) * p.mu_conv / p.price_off) if p.price_off > 0 else 0.0 * total
        ptot = p_lot.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            h_ch = np.where(ptot > 0, p.t_disp_h / p.mu_conv + e_drv / np.where(ptot > 0, ptot, 1.0), 0.0)
        ch = self._flow(self.charge_level, p_lot)
        lv_d, lv_c = LOAD_LEVELS[self.discharge_level], LOAD_LEVELS[self.charge_level]
        out["dc_loss_dis"] = loss_benefit(lv_d.price, self.base_loss_kw(self.discharge_level), dis.loss_kw, p.t_disp_h)
        out["dc_loss_ch"] = loss_benefit(lv_c.price, self.base_loss_kw(self.charge_level), ch.loss_kw, h_ch)
        out["dc_loss"] = out["dc_loss_dis"] + out["dc_loss_ch"]
        dc_ns = np.zeros(len(n))
        c_ns = np.zeros(len(n))
        if self.with_reliability:
            lot_kwh = p.availability * n * p.es_kwh
            for lv in LOAD_LEVELS.values():
                share = lv.hours / 8760.0
                load = self.nets[[k for k, v in LOAD_LEVELS.items() if v is lv][0]].p_load_kw
                no_lot = ens_cost(load, np.zeros((1, self.n_bus)), np.zeros((1, self.n_bus)), self.down, self.feeder,
                                  self.length_km, self.rel, share)
                with_lot = ens_cost(load, p_lot, lot_kwh, self.down, self.feeder, self.length_km, self.rel, share)
                dc_ns += no_lot - with_lot
                c_ns += with_lot
        out["dc_ns"] = dc_ns
        out["c_ns_v2g"] = c_ns
        out["peak_power_benefit"] = out["r"] - out["cf_cap"] - out["cf_driving"] - out["cf_v2g"]
        out["total_benefit"] = out["peak_power_benefit"] + out["dc_loss"] + out["dc_ns"]
        vm = dis.vm_pu
        net = self.nets[self.discharge_level]
        if self.voltage_rule == "strict":
            lo = np.full(self.n_bus, net.v_min_pu)
        else:
            lo = np.minimum(net.v_min_pu, self.base_voltages(self.discharge_level)) - 1e-9
        cv = np.clip(lo[None, :] - vm, 0, None).sum(axis=1) + np.clip(vm - net.v_max_pu, 0, None).sum(axis=1)
        loading = np.maximum(np.asarray(dis.i_branch_ka, float), np.asarray(ch.i_branch_ka, float)) / self.i_max_ka
        out["line_loading"] = loading  # (batch, n_branch): current / assumed ampacity, worse of the two states
        cv = cv + np.clip(loading - 1.0, 0, None).sum(axis=1)
        out["cv"] = np.where(dis.ok & ch.ok, cv, np.inf)
        out["vm_v2g"] = vm
        out["loss_dis_kw"] = dis.loss_kw
        return out


def study_main(argv, name: str, description: str, run: Callable[..., dict], quick_help: str) -> int:
    """Command line of an allocation study: --out, --quick, --seed; prints its paper-vs-ours table (the `run`'s
    "paper_vs_ours") and its folder, in the style every study shares (`cosim.runner.paper_table`)."""
    from cosim.runner.paper_table import report  # noqa: PLC0415 - presentation, only for the command line

    ap = argparse.ArgumentParser(prog=f"cosim study {name}", description=description)
    ap.add_argument("--out", default=f"results/study-{name}")
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    res = run(args.out, quick=args.quick, seed=args.seed)
    print(report(description.split(" as code")[0], res["paper_vs_ours"], Path(args.out)))
    return 0 if res else 1
