"""After a run: the PLOs' ledgers, plan versus reality, the per-EV visits and the run's KPIs, from the recorded
tables; then the tables' final form (unknown values empty, Parquet when the scenario asks for it).

Every table has one row per step (60, 30 or 15 minutes; `hour` is the step's start in hours). Powers are kW means
over the step: an energy KPI is a sum of kW x `step_h` (kWh); the lots' energies are already per step (kWh);
counts of hours (`hours`, `non_converged_hours`, `voltage_violation_hours`) are steps x `step_h`, and the
voltage-profile deviation and load-curve deviation are weighted by `step_h` too, so that an hourly input held
over four quarter hours gives the hourly run's figures. Days are `hour // 24`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cosim.config import Scenario
from cosim.controllers.base import HOURS, LotEconomics
from cosim.controllers.objectives import of2_lcd_kw
from cosim.results import KPIS, RunFolder, compact_sessions
from cosim.results.folder import as_int_list, hour_number
from cosim.runner.welfare import welfare_kpis


def column(table: pd.DataFrame, name: str, old: str) -> pd.Series:
    """A column by its name, or by the name it had before the tables' names carried units (older runs)."""
    return table[name] if name in table else table[old]


def plo_ledger(lots: pd.DataFrame, prices: pd.DataFrame, economics: LotEconomics,
               parking_fee_usd_per_kwh: float = 0.0, plo: pd.DataFrame | None = None,
               step_h: float = 1.0) -> pd.DataFrame:
    """Cash flow of each PLO per step ($) from its lot's metered energies (kWh in the step) and the market price.

    revenue = price x energy sold (V2G); charging cost = price x energy bought; degradation = cost_e x
    (bought + sold) (seed 000's wear cost); fixed = cost_ca per PEV-day present (x step_h / 24 per step); fees =
    parking fee x energy
    bought; DSO tariff = the DSO's price adder x net energy bought (signals / iterative modes; `plo` table).
    profit = revenue + fees - charging - degradation - fixed - DSO tariff.
    """
    price = pd.DataFrame({"hour": prices["hour"], "price": column(prices, "energy_price_usd_per_kwh", "energy_price")})
    df = lots.merge(price, on="hour", how="left")
    if plo is not None and "tariff_usd_per_kwh" in plo:
        df = df.merge(plo[["hour", "id", "tariff_usd_per_kwh"]], on=["hour", "id"], how="left")
    tariff = df["tariff_usd_per_kwh"].fillna(0.0) if "tariff_usd_per_kwh" in df else 0.0
    ledger = pd.DataFrame({"hour": df["hour"], "id": df["id"]})
    ledger["revenue_usd"] = df["price"] * df["energy_discharged_kwh"]
    ledger["charging_cost_usd"] = df["price"] * df["energy_charged_kwh"]
    ledger["degradation_cost_usd"] = economics.cost_e_usd_per_kwh * (df["energy_charged_kwh"]
                                                                     + df["energy_discharged_kwh"])
    ledger["fixed_cost_usd"] = economics.cost_ca_usd_per_pev_day * df["evs_present"] * step_h / 24.0
    ledger["parking_fees_usd"] = parking_fee_usd_per_kwh * df["energy_charged_kwh"]
    ledger["dso_tariff_usd"] = tariff * (df["energy_charged_kwh"] - df["energy_discharged_kwh"])
    ledger["profit_usd"] = (ledger.revenue_usd + ledger.parking_fees_usd - ledger.charging_cost_usd
                            - ledger.degradation_cost_usd - ledger.fixed_cost_usd - ledger.dso_tariff_usd)
    ledger["cumulative_profit_usd"] = ledger.groupby("id")["profit_usd"].cumsum()
    return ledger


def day_and_step(hour: float, step_h: float) -> tuple[float, int]:
    """The start (hours) of the day holding the step that starts at `hour`, and that step's index in its day."""
    day_start = float(hour) // HOURS * HOURS
    return day_start, int(round((float(hour) - day_start) / step_h))


def _plans_by_day(plans: list[dict]) -> dict[float, dict]:
    """The last plan of each day by its `day_start_hour` (hours)."""
    return {float(p["day_start_hour"]): p for p in plans}


def _at(series: list | None, k: int) -> float | None:
    return series[k] if series and 0 <= k < len(series) else None


def planned_hourly(plans: list[dict], key: str, hours: np.ndarray, step_h: float = 1.0) -> np.ndarray:
    """A planned series over the run's steps (`hours`: each step's start in hours) from the (last) plan of each day:
    its `predicted_hourly[key]` holds one value per step of the day."""
    out = np.full(len(hours), np.nan)
    by_day = _plans_by_day(plans)
    for i, h in enumerate(hours):
        day_start, k = day_and_step(h, step_h)
        value = _at((by_day.get(day_start) or {}).get("predicted_hourly", {}).get(key), k)
        if value is not None:
            out[i] = value
    return out


def planned_lot_kw(plans: list[dict], hours: np.ndarray, step_h: float = 1.0) -> list[float]:
    """The lots' planned power (kW, all lots) at each step: the sum of the day's plan's setpoints at that step."""
    by_day = _plans_by_day(plans)
    out = []
    for h in hours:
        day_start, k = day_and_step(h, step_h)
        setpoints = (by_day.get(day_start) or {}).get("setpoints_kw", {}).values()
        out.append(sum(v for v in (_at(sp, k) for sp in setpoints) if v is not None))
    return out


def negotiation_kpis(plans: list[dict]) -> dict[str, int]:
    """Rounds of the longest day-ahead negotiation and how many negotiations ended without converging."""
    infos = [p.get("info", {}) for p in plans]
    return {"negotiation_rounds_max": max((int(i.get("rounds", 0)) for i in infos), default=0),
            "negotiations_not_converged": sum(1 for i in infos if i.get("converged") is False)}


def switch_operations(open_branches: pd.Series) -> int:
    """Branches opened or closed over the run: the changes of grid.csv's `open_branches` from hour to hour (each
    opened and each closed branch counts one; the first recorded hour's topology is the starting state)."""
    sets = [frozenset(cells) for cells in map(as_int_list, open_branches) if cells is not None]
    return int(sum(len(a ^ b) for a, b in zip(sets, sets[1:])))


def voltage_violation_hours(grid: pd.DataFrame, scenario: Scenario, step_h: float = 1.0) -> float:
    """Hours whose lowest or highest bus voltage is outside the network's limits (v_min_pu, v_max_pu): the steps
    outside x step_h (an int at 60-minute steps)."""
    from cosim.networks import load_radial  # noqa: PLC0415 - built by the run already

    net = load_radial(scenario.network, near=scenario.plugin_dir)
    low = grid["v_min_pu"] < float(net.v_min_pu) - 1e-9
    high = grid["v_max_pu"] > float(net.v_max_pu) + 1e-9 if "v_max_pu" in grid else False
    return hour_number(int((low | high).sum()) * step_h)


def has_line_ratings(scenario: Scenario) -> bool:
    """Whether any line of the scenario's network has a current rating (else its loadings are unknown)."""
    from cosim.networks import load_radial  # noqa: PLC0415 - built by the run already

    limits = load_radial(scenario.network, near=scenario.plugin_dir).i_max_ka
    return limits is not None and bool(np.any(np.isfinite(limits) & (np.asarray(limits) < 9999)))


def finish_tables(folder: RunFolder, scenario: Scenario) -> None:
    """The recorded tables' final form: one row per EV visit in evs.csv (the lots send each visit's row every
    hour it is in the lot), grid.csv's max_loading_percent empty (unknown) where it is 0 % throughout on a
    network without line ratings."""
    if folder.has("evs"):
        folder.write_table("evs", compact_sessions(folder.table("evs")))
    grid = folder.table("grid")
    loading = grid["max_loading_percent"] if "max_loading_percent" in grid else None
    # the grid model reports 0 % for lines without a rating: all zeros on a network without ratings is unknown
    if loading is not None and loading.notna().any() and (loading.fillna(0.0) == 0.0).all() \
            and not has_line_ratings(scenario):
        grid["max_loading_percent"] = np.nan
        folder.write_table("grid", grid)


UNDELIVERED_KW = 1.0
UNDELIVERED_SHARE = 0.05
"""A lot-hour whose delivered power misses its setpoint by more than both is reported ("setpoint not delivered")."""


def add_undelivered_events(folder: RunFolder, lots: pd.DataFrame) -> int:
    """Append a "setpoint not delivered" event to events.csv for every lot-step whose power missed its setpoint
    (EVs absent, batteries full or empty, contracts): a plan the lot cannot follow never passes silently."""
    tolerance_kw = np.maximum(UNDELIVERED_KW, UNDELIVERED_SHARE * lots["setpoint_kw"].abs())
    missed = lots[lots["undelivered_kw"].abs() > tolerance_kw]
    if missed.empty:
        return 0
    hours = missed["hour"].astype(int) if bool((missed["hour"] % 1 == 0).all()) else missed["hour"]
    rows = pd.DataFrame({"hour": hours, "source": missed["id"], "event": "setpoint not delivered",
                         "detail": [f"{r.id}: delivered {r.p_kw:.1f} kW of a {r.setpoint_kw:.1f} kW setpoint"
                                    for r in missed.itertuples()]})
    events = folder.table("events")
    merged = pd.concat([events, rows], ignore_index=True) if len(events) else rows
    folder.write_table("events", merged.sort_values("hour", kind="stable"))
    return len(rows)


def grid_kpis(grid: pd.DataFrame, scenario: Scenario, step_h: float = 1.0) -> dict[str, float]:
    """The KPIs measured at the grid, from its table (also what a learning episode without the recorder reports):
    energies are the steps' kW x `step_h` (kWh); `vpd_pu` the steps' deviations x `step_h` (p.u. summed over
    hours); hour counts are steps x `step_h`."""
    return {
        "hours": hour_number(len(grid) * step_h),
        "energy_losses_kwh": float(grid["losses_kw"].sum()) * step_h,
        "energy_from_grid_kwh": float(grid["p_grid_kw"].sum()) * step_h,
        "v_min_pu": float(grid["v_min_pu"].min()),
        "vpd_pu": float(column(grid, "vpd_pu", "vpd").sum()) * step_h,
        "non_converged_hours": hour_number(int((~grid["converged"].astype(bool)).sum()) * step_h),
        "voltage_violation_hours": voltage_violation_hours(grid, scenario, step_h),
    }


def lot_energy_kpis(lots: pd.DataFrame) -> dict[str, float]:
    """The lots' energy KPIs from their table: unmet contract energy, energy charged and discharged (kWh; the
    table's energies are already per step, so no step length enters)."""
    return {"unmet_energy_kwh": float(lots["unmet_energy_kwh"].sum()),
            "lot_energy_charged_kwh": float(lots["energy_charged_kwh"].sum()),
            "lot_energy_discharged_kwh": float(lots["energy_discharged_kwh"].sum())}


def load_curve_deviation_kw(grid: pd.DataFrame, lots: pd.DataFrame, step_h: float = 1.0) -> float:
    """OF2 as measured (seed 000 eq. 7 with eq. 8's target, `objectives.of2_lcd_kw`), summed over the run's days:
    each day's system load without the lots (the grid's import less its losses and the lots' power) against that
    day's mean, with the lots' power added to the curve; each step's deviation weighted by `step_h` (kW summed
    over hours, as at 60-minute steps). Steps whose flow did not converge are left out."""
    ok = grid["p_grid_kw"].notna() & grid["losses_kw"].notna()
    hours = grid.loc[ok, "hour"].to_numpy(float if step_h != 1.0 else int)
    lot_kw = (lots.groupby("hour")["p_kw"].sum().reindex(hours, fill_value=0.0).to_numpy(float)
              if not lots.empty else np.zeros(len(hours)))
    load_kw = (grid.loc[ok, "p_grid_kw"] - grid.loc[ok, "losses_kw"]).to_numpy(float) - lot_kw
    days = hours // HOURS
    return float(sum(of2_lcd_kw(load_kw[days == d], lot_kw[days == d]) for d in np.unique(days))) * step_h


def postprocess(folder: RunFolder, scenario: Scenario) -> dict[str, float]:
    """Write plo_ledger.csv, plan_vs_reality.csv, the final evs.csv and kpis.json (and convert the tables to
    Parquet with `[output] format = "parquet"`); return the KPIs."""
    finish_tables(folder, scenario)
    step_h = scenario.clock.step_h
    grid, lots, prices = folder.table("grid"), folder.table("lots"), folder.table("prices")
    plans = folder.plans()
    kpis: dict[str, float] = grid_kpis(grid, scenario, step_h)
    if "max_loading_percent" in grid:  # lines and transformers with a rating; unknown (null) when none is rated
        loading = pd.to_numeric(grid["max_loading_percent"], errors="coerce").to_numpy(float)
        kpis["max_loading_percent"] = float(np.nanmax(loading)) if np.isfinite(loading).any() else None
    if "open_branches" in grid:
        kpis["switch_operations"] = switch_operations(grid["open_branches"])
    ledger = None
    if not lots.empty and not prices.empty:
        plo = folder.table("plo") if folder.has("plo") else None
        ledger = plo_ledger(lots, prices, LotEconomics(), plo=plo, step_h=step_h)
        folder.write_table("plo_ledger", ledger)
        kpis["plo_profit_usd"] = float(ledger["profit_usd"].sum())
        kpis.update(lot_energy_kpis(lots))
    if folder.has("evs"):  # battery ageing of the visits that ended (cosim.controllers.ageing)
        evs = folder.table("evs")
        if "battery_degradation_usd" in evs:
            kpis["battery_degradation_usd"] = float(pd.to_numeric(evs["battery_degradation_usd"],
                                                                  errors="coerce").fillna(0.0).sum())
            kpis["battery_capacity_lost_kwh"] = float(pd.to_numeric(evs["capacity_lost_kwh"],
                                                                    errors="coerce").fillna(0.0).sum())
    if not prices.empty:  # the welfare ledger (cosim.runner.welfare)
        from cosim.networks import load_radial  # noqa: PLC0415 - built by the run already

        net = load_radial(scenario.network, near=scenario.plugin_dir)
        table = lambda name: folder.table(name) if folder.has(name) else pd.DataFrame()  # noqa: E731
        kpis.update(welfare_kpis(net, grid, prices, table("lines"), table("bus_voltages"), lots, ledger, step_h))
    kpis["load_curve_deviation_kw"] = load_curve_deviation_kw(grid, lots, step_h)
    lot_total = lots.groupby("hour")["p_kw"].sum() if not lots.empty else pd.Series(dtype=float)
    if plans:
        hours = grid["hour"].to_numpy()
        pvr = pd.DataFrame({"hour": hours})
        for key, actual in (("loss_kw", grid["losses_kw"]), ("v_min_pu", grid["v_min_pu"]),
                            ("p_grid_kw", grid["p_grid_kw"])):
            pvr[f"planned_{key}"] = planned_hourly(plans, key, hours, step_h)
            pvr[f"actual_{key}"] = actual.to_numpy()
        pvr["loss_gap_pct"] = 100 * (pvr.actual_loss_kw - pvr.planned_loss_kw) / pvr.planned_loss_kw
        pvr["planned_lot_kw"] = planned_lot_kw(plans, hours, step_h)
        pvr["actual_lot_kw"] = lot_total.reindex(hours).fillna(0.0).to_numpy()
        folder.write_table("plan_vs_reality", pvr)
        planned = pvr["planned_loss_kw"].to_numpy(float)
        # a plan without predictions has no planned losses: unknown (null), never 0
        kpis["planned_energy_losses_kwh"] = float(np.nansum(planned)) * step_h if np.isfinite(planned).any() else None
        gaps = np.abs(pvr["loss_gap_pct"].to_numpy(float))
        kpis["max_abs_loss_gap_pct"] = float(np.nanmax(gaps)) if np.isfinite(gaps).any() else None
        kpis["max_abs_lot_gap_kw"] = float(np.max(np.abs(pvr["planned_lot_kw"] - pvr["actual_lot_kw"])))
    if not lots.empty and "undelivered_kw" in lots:
        kpis["undelivered_energy_kwh"] = float(lots["undelivered_kw"].clip(lower=0.0).sum()) * step_h
        add_undelivered_events(folder, lots)
    msgs = folder.table("messages")
    kpis["messages"] = int(len(msgs))
    kpis["message_bytes"] = int(msgs["size_bytes"].sum()) if len(msgs) else 0
    kpis.update(negotiation_kpis(plans))
    last_of_day = {p["day_start_hour"]: p for p in plans}  # hourly revisions are merged into each day's last row
    kpis["plan_revisions"] = sum(int((p.get("info") or {}).get("revisions", 0)) for p in last_of_day.values())
    events = folder.table("events")
    kind = events["event"] if len(events) else pd.Series(dtype=str)
    kpis["fallbacks"] = int((kind == "planning fallback").sum())
    kpis["rejected_or_clipped"] = int(kind.isin(["rejected message", "implausible offer", "stale offer",
                                                  "late offer", "duplicate message", "replayed message",
                                                  "stale message"]).sum())
    folder.write_json(KPIS, kpis)
    folder.convert_tables(scenario.output.format)
    return kpis
