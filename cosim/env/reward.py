"""The DSO environment's reward: the negative of a weighted sum of measured terms, each computed with the
objective functions the controllers use (`cosim.controllers.objectives`), never a copy of their formulas.

Hourly terms, from the grid's measurement of the hour the step decided (the DSO receives it at the start of the
next hour; the last hour's comes from the grid table):
  * `losses_kwh` (OF3, eq. 11, one hour: `of3_loss_kwh`) the hour's energy losses, kWh;
  * `voltage_pu` (eq. 16 as a violation, `voltage_violation_pu`) how far the hour's lowest voltage lies below the
    network's band, p.u. (the DSO measures the lowest voltage only);
  * `non_converged` a fixed penalty for an hour whose power flow did not converge (nothing measured).
Episode terms, given at the episode's last step (from the episode's grid and lots tables: recorded, or the rows
kept in memory when the recorder is off):
  * `unmet_kwh` the contract energy the lots left unmet at departures, kWh (the lots report it as EVs leave);
  * `of1_cost_usd` minus the PLOs' benefit (OF1, eq. 5, `of1_benefit_usd`), $: needs each lot's hourly power,
    which the DSO does not measure (it gets the energy charged only), so from the lots table's `p_kw`;
  * `of2_kw` the load-curve deviation (OF2, eq. 7, `of2_lcd_kw`) per day, kW: its target is the day's mean load
    (eq. 8), known only when the day is over; from the grid and lots tables;
  * `vpd_pu` the voltage-profile deviation (eq. 17, `vpd_pu`), p.u.: needs every bus's voltage, which the DSO does
    not measure; from the recorded bus voltages (see `vpd_term_pu` for the recorder switched off).
Every term is >= 0 except `of1_cost_usd`, which is negative when the lots earn more than they pay (OF1 is a
benefit, maximised: a clipped or shifted version would hide it). New terms default to weight 0, so the default
reward is losses, undervoltage, non-convergence and unmet energy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cosim.controllers.base import HOURS, DayAheadProblem, GridMeasurement, LotOffer
from cosim.controllers.dispatch import split_counts
from cosim.controllers.objectives import (
    lot_counts,
    lot_power_model,
    of1_benefit_usd,
    of2_lcd_kw,
    of3_loss_kwh,
    voltage_violation_pu,
    vpd_pu,
)
from cosim.env.errors import EnvConfigError
from cosim.powerflow.network_data import RadialNetwork

__all__ = ["LotLedger", "RewardWeights", "lot_benefit_usd", "of1_cost_term_usd", "of2_term_kw", "vpd_term_pu"]


@dataclass
class LotLedger:
    """What the DSO was told of the lots during an episode, for OF1: the energy price of each decided hour (the
    first hour of the price forecast it was given at that hour: exact without market forecast noise, within
    sigma / sqrt(24) with it), each lot's latest offer (its economics, PEV power and SOC shares) and the lot power
    model of its problems (`objectives.lot_power_model`)."""

    prices_usd_per_kwh: dict[int, float] = field(default_factory=dict)
    offers: dict[str, LotOffer] = field(default_factory=dict)
    lot_power: str = "soc_weighted"

    def note(self, problem: DayAheadProblem, hour: int) -> None:
        """Keep what the DSO's problem at `hour` says of the hour's price and of the lots."""
        self.prices_usd_per_kwh[int(hour)] = float(problem.price_usd_per_kwh[0])
        self.offers.update((lot.lot_id, lot) for lot in problem.lots)
        self.lot_power = lot_power_model(problem)


def of1_cost_term_usd(lots: pd.DataFrame, ledger: LotLedger) -> float:
    """Minus OF1 (eq. 5) over the episode, summed over the lots ($). Each lot's measured grid-side power per hour
    (lots table `p_kw`) becomes signed PEV counts by `objectives.lot_counts` (the inverse of `lot_power_kw`, as the
    controllers convert setpoints), split into charging and discharging; priced at the hour's price and costed
    with the lot's offer (`LotLedger`). Hours the DSO decided nothing for (no price) and lots that never offered
    are left out."""
    total = 0.0
    if lots.empty:
        return total
    for lot_id, rows in lots.groupby("id", sort=True):
        offer = ledger.offers.get(str(lot_id))
        rows = rows[rows["hour"].isin(list(ledger.prices_usd_per_kwh))]
        if offer is None or rows.empty:
            continue
        price = np.array([ledger.prices_usd_per_kwh[int(h)] for h in rows["hour"]])
        total -= lot_benefit_usd(rows["p_kw"].fillna(0.0).to_numpy(float), offer, price, ledger.lot_power)
    return total


def lot_benefit_usd(p_kw: np.ndarray, offer: LotOffer, price_usd_per_kwh: np.ndarray, lot_power: str) -> float:
    """OF1 (eq. 5) of one lot's hourly grid-side powers ($): signed PEV counts by `objectives.lot_counts` (the
    inverse of `lot_power_kw`, as the controllers convert setpoints), split into charging and discharging, priced at
    each hour's price and costed with the lot's offer (its economics, PEV power and SOC shares)."""
    n_ch, n_dis = split_counts(lot_counts(np.asarray(p_kw, float), offer, lot_power))
    return float(of1_benefit_usd(n_ch, n_dis, np.asarray(price_usd_per_kwh, float), offer))


def of2_term_kw(grid: pd.DataFrame, lots: pd.DataFrame) -> float:
    """OF2 (eq. 7) per day of the episode (hours 0-23, 24-47, ...), summed (kW). P_lot(h): the lots' measured
    power (lots table `p_kw`, summed over lots); P_load(h): the system's measured load without the lots, the
    substation's power less the losses and the lots (grid table `p_grid_kw - losses_kw`, less P_lot); the day's
    target is the mean of P_load (eq. 8). Hours whose power flow did not converge are left out."""
    ok = np.isfinite(grid["p_grid_kw"].to_numpy(float)) & np.isfinite(grid["losses_kw"].to_numpy(float))
    g = grid[ok]
    if g.empty:
        return 0.0
    hours = g["hour"].to_numpy(int)
    lot_by_hour = lots.groupby("hour")["p_kw"].sum() if not lots.empty else pd.Series(dtype=float)
    lot_kw = lot_by_hour.reindex(hours, fill_value=0.0).fillna(0.0).to_numpy(float)
    load_kw = g["p_grid_kw"].to_numpy(float) - g["losses_kw"].to_numpy(float) - lot_kw
    day = hours // HOURS
    return float(sum(of2_lcd_kw(load_kw[day == d], lot_kw[day == d]) for d in np.unique(day)))


def vpd_term_pu(grid: pd.DataFrame, bus_voltages: pd.DataFrame | None) -> float:
    """VPD (eq. 17) over the episode's converged hours (p.u.): `objectives.vpd_pu` on the recorded bus voltages
    (bus_voltages table, hours x buses). The switched-off recorder keeps no bus voltages (`bus_voltages` None):
    then the grid table's `vpd_pu`, the grid simulator's eq. 17 of each hour (the same sum over its buses), summed
    over the hours (equal to 1e-12, tests/env/test_reward.py)."""
    if bus_voltages is not None and not bus_voltages.empty:
        vm = bus_voltages.pivot(index="hour", columns="bus", values="vm_pu").to_numpy(float)
        return float(vpd_pu(vm[np.isfinite(vm).all(axis=1)]))
    hourly = grid["vpd_pu"].to_numpy(float) if "vpd_pu" in grid else np.zeros(0)
    return float(hourly[np.isfinite(hourly)].sum())


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward's terms (reward = -sum weight x term; the terms in the module's docstring)."""

    losses_kwh: float = 1.0
    voltage_pu: float = 1000.0
    unmet_kwh: float = 1.0
    non_converged: float = 1000.0  # an hour whose power flow did not converge (no losses or voltage measured)
    of1_cost_usd: float = 0.0  # per $ of the PLOs' net cost (minus OF1), at the episode's end
    of2_kw: float = 0.0  # per kW of load-curve deviation (OF2), at the episode's end
    vpd_pu: float = 0.0  # per p.u. of voltage-profile deviation (eq. 17), at the episode's end

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str) -> RewardWeights:
        names = [f.name for f in fields(cls)]
        for key, value in values.items():
            if key not in names:
                raise EnvConfigError(f"{where}.{key}: unknown reward term; allowed: {', '.join(names)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise EnvConfigError(f"{where}.{key} = {value!r}; allowed: a finite number >= 0")
        return cls(**{k: float(v) for k, v in values.items()})

    def measured_terms(self, grid: GridMeasurement | None, net: RadialNetwork) -> dict[str, float]:
        """The weighted terms of one measured hour (none before the first measurement)."""
        if grid is None:
            return {}
        return self._grid_terms(grid.losses_kw, grid.v_min_pu, net)

    def _grid_terms(self, losses_kw: float, v_min_pu: float, net: RadialNetwork) -> dict[str, float]:
        if not (np.isfinite(losses_kw) and np.isfinite(v_min_pu)):
            return {"non_converged": self.non_converged}
        losses = float(of3_loss_kwh(np.array([losses_kw])))
        voltage = float(voltage_violation_pu(np.array([[v_min_pu]]), net.v_min_pu, np.inf))
        return {"losses_kwh": self.losses_kwh * losses, "voltage_pu": self.voltage_pu * voltage}

    def final_terms(self, run_dir: Path, hour: int, net: RadialNetwork | None = None,
                    ledger: LotLedger | None = None) -> dict[str, float]:
        """The last hour's terms, read from the episode's recorded tables, plus the episode terms."""
        from cosim.results import RunFolder  # noqa: PLC0415

        folder = RunFolder(run_dir)
        voltages = folder.table("bus_voltages") if self.vpd_pu > 0 else None
        return self.final_terms_of(folder.table("grid"), folder.table("lots"), hour, net, ledger=ledger,
                                   bus_voltages=voltages)

    def final_terms_of(self, grid: pd.DataFrame, lots: pd.DataFrame, hour: int, net: RadialNetwork | None = None,
                       *, ledger: LotLedger | None = None,
                       bus_voltages: pd.DataFrame | None = None) -> dict[str, float]:
        """The last hour's terms from the grid and lots tables (recorded, or kept in memory), plus the episode
        terms: the unmet energy, and OF1, OF2 and VPD where their weights are > 0 (OF1 needs `ledger`)."""
        row = grid[grid["hour"] == hour]
        terms: dict[str, float] = {}
        if len(row) and net is not None:
            terms = self._grid_terms(float(row["losses_kw"].iloc[0]), float(row["v_min_pu"].iloc[0]), net)
        terms["unmet_kwh"] = self.unmet_kwh * float(lots["unmet_energy_kwh"].sum())
        if self.of1_cost_usd > 0 and ledger is not None:
            terms["of1_cost_usd"] = self.of1_cost_usd * of1_cost_term_usd(lots, ledger)
        if self.of2_kw > 0:
            terms["of2_kw"] = self.of2_kw * of2_term_kw(grid, lots)
        if self.vpd_pu > 0:
            terms["vpd_pu"] = self.vpd_pu * vpd_term_pu(grid, bus_voltages)
        return terms
