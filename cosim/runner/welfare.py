"""The welfare ledger of a run: what the DSO pays, what each PLO earns, and their sum, from the measured tables.

    dso_cost_usd    = energy price x measured losses (kWh)
                    + OVERLOAD x kVA-hours of line current above its rating (sqrt(3) V_kV (I - I_max),
                      per line-step x step_h)
                    + VOLTAGE x p.u.-hours outside the voltage band (per bus-step x step_h, slack bus excluded)
                    + UNMET x kWh of EV contracts not delivered
                    - the DSO's tariff revenue (price adders and ADMM prices the PLOs paid: a transfer)
    plo_profit_usd  = each lot's profit in plo_ledger.csv (its DSO tariff paid included), and their sum
    social_cost_usd = dso_cost_usd - plo_profit_usd (transfers between them cancel)

The penalties are `cosim.exchange.penalties` (the ADMM mode's grid model uses the same). Lines without a rating
add no overload; transformers are not in lines.csv and add none. `value_of_information_usd` of a mode is the
social cost of `none` minus the mode's, on the same scenario and seed (`cosim compare --what exchange`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cosim.exchange.penalties import OVERLOAD_USD_PER_KWH, UNMET_USD_PER_KWH, VOLTAGE_USD_PER_PU_H
from cosim.powerflow.network_data import RadialNetwork

__all__ = ["welfare_kpis"]


def welfare_kpis(net: RadialNetwork, grid: pd.DataFrame, prices: pd.DataFrame, lines: pd.DataFrame,
                 voltages: pd.DataFrame, lots: pd.DataFrame, ledger: pd.DataFrame | None,
                 step_h: float = 1.0) -> dict[str, float]:
    """The ledger's KPIs (see the module): dso_cost_usd and its parts, plo_profit_usd_<lot>, social_cost_usd.
    The tables have one row per step of `step_h` hours: losses (kW), excess currents and voltages are integrated
    as value x step_h (kWh, kVA-hours, p.u.-hours); the lots' unmet energy is already kWh."""
    price = prices.drop_duplicates("hour").set_index("hour")["energy_price_usd_per_kwh"]
    losses_usd = float((grid.set_index("hour")["losses_kw"] * price.reindex(grid["hour"]).to_numpy()).sum()) * step_h
    over_kvah = 0.0
    if len(lines) and "i_ka" in lines:
        i_max = pd.Series(np.asarray(net.i_max_ka, float), index=np.asarray(net.branch_ids, int))
        limit = i_max.reindex(lines["branch"].astype(int)).to_numpy()
        excess = np.where(np.isfinite(limit), np.maximum(lines["i_ka"].to_numpy(float) - limit, 0.0), 0.0)
        over_kvah = float(np.sqrt(3.0) * net.base_kv * 1000.0 * np.nansum(excess)) * step_h
    out_pu_h = 0.0
    if len(voltages):
        vm = voltages[voltages["bus"] != net.slack_bus + 1]["vm_pu"].to_numpy(float)
        out_pu_h = float(np.nansum(np.maximum(net.v_min_pu - vm, 0.0) + np.maximum(vm - net.v_max_pu, 0.0))) * step_h
    unmet_kwh = float(lots["unmet_energy_kwh"].sum()) if len(lots) else 0.0
    tariff_usd = float(ledger["dso_tariff_usd"].sum()) if ledger is not None and len(ledger) else 0.0
    kpis = {"dso_losses_cost_usd": losses_usd, "overload_kvah": over_kvah,
            "dso_overload_penalty_usd": OVERLOAD_USD_PER_KWH * over_kvah, "voltage_outside_pu_h": out_pu_h,
            "dso_voltage_penalty_usd": VOLTAGE_USD_PER_PU_H * out_pu_h,
            "dso_unmet_penalty_usd": UNMET_USD_PER_KWH * unmet_kwh, "dso_tariff_revenue_usd": tariff_usd}
    kpis["dso_cost_usd"] = (losses_usd + kpis["dso_overload_penalty_usd"] + kpis["dso_voltage_penalty_usd"]
                            + kpis["dso_unmet_penalty_usd"] - tariff_usd)
    profit = 0.0
    if ledger is not None and len(ledger):
        for lot_id, value in ledger.groupby("id")["profit_usd"].sum().items():
            kpis[f"plo_profit_usd_{lot_id}"] = float(value)
            profit += float(value)
    kpis["social_cost_usd"] = kpis["dso_cost_usd"] - profit
    return kpis


def with_value_of_information(table: pd.DataFrame, label: str = "exchange", baseline: str = "none") -> pd.DataFrame:
    """`table` (one row per mode, `social_cost_usd`) with `value_of_information_usd`: the social cost of `baseline`
    minus each row's (same scenario, same seed: the same draws); empty without a baseline row."""
    out = table.copy()
    base = out.loc[out[label] == baseline, "social_cost_usd"]
    social = pd.to_numeric(out["social_cost_usd"], errors="coerce")
    out["value_of_information_usd"] = float(base.iloc[0]) - social if len(base) else np.nan
    return out
