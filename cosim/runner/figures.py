"""A run's figures, sized and labelled for a paper: one column wide (3.5 in) or two (7.16 in), in the project's
one style (`cosim.runner.figure_style`: font sizes, colour-blind safe palette), every axis with its unit, the
run's steps (60, 30 or 15 minutes) as steps over [hour, hour + step_h) on an axis in hours, limits taken from the
run's network. PNG, PDF or SVG at a chosen dpi.

Each figure is a function `(tables, out) -> Figure | None` over `RunTables` (the recorded tables, `hour` the
steps' starts in hours, `step_h` the run's step from its manifest);
it returns None when the run has nothing for it (no lots, no line ratings, no optimiser history). matplotlib is
imported here only, when figures are drawn (never when a run starts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from cosim.results.folder import as_int_list
from cosim.runner.figure_style import (
    BLACK,
    BLUE,
    COLUMN_IN,
    LIMIT_COLOR,
    LOADING,
    ORANGE,
    PAGE_IN,
    PALETTE,
    SEQUENTIAL,
    STYLE,
    TINY_PT,
    VERMILLION,
    Figure,
    Writer,
    legend_above,
    steps,
    time_axis,
)

__all__ = ["COLUMN_IN", "FIGURES", "PAGE_IN", "STYLE", "Figure", "RunTables", "Writer", "draw_all", "draw_some",
           "figure_functions", "key_label", "kpi_label", "steps", "time_axis", "tree_children", "tree_layout"]
_legend_above = legend_above

V_BAND_PU = (0.9, 1.1)  # voltage band drawn when the run's network is unknown (the converter's default)


KPI_LABELS = {
    "hours": "simulated hours (h)", "energy_losses_kwh": "energy losses (kWh)",
    "energy_from_grid_kwh": "energy from the grid (kWh)", "v_min_pu": "lowest voltage (p.u.)",
    "vpd_pu": "voltage profile deviation (p.u.)", "non_converged_hours": "hours without power flow (h)",
    "plo_profit_usd": "parking-lot profit ($)", "unmet_energy_kwh": "EV energy not delivered (kWh)",
    "lot_energy_charged_kwh": "energy charged by the lots (kWh)",
    "lot_energy_discharged_kwh": "energy discharged by the lots (kWh)",
    "load_curve_deviation_kw": "load-curve deviation (kW)", "planned_energy_losses_kwh": "planned losses (kWh)",
    "max_abs_loss_gap_pct": "largest loss gap, plan vs measured (%)",
    "max_abs_lot_gap_kw": "largest lot-power gap, plan vs measured (kW)", "messages": "messages",
    "message_bytes": "message volume (bytes)", "negotiation_rounds_max": "most negotiation rounds in a day",
    "negotiations_not_converged": "negotiations not converged", "fallbacks": "planning fallbacks",
    "rejected_or_clipped": "messages rejected or clipped", "wall_s": "wall time (s)",
}
UNIT_SUFFIXES = (("_usd_per_kwh", "$/kWh"), ("_kwh", "kWh"), ("_kvar", "kvar"), ("_kw", "kW"), ("_pu", "p.u."),
                 ("_usd", "$"), ("_pct", "%"), ("_s", "s"))


def kpi_label(name: str) -> str:
    """A KPI or column name in words with its unit, e.g. "energy_losses_kwh" -> "energy losses (kWh)"."""
    if name in KPI_LABELS:
        return KPI_LABELS[name]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


def key_label(key: str) -> str:
    """A scenario key in words: "exchange.mode" -> "exchange mode", "controller.name" -> "controller"."""
    parts = key.split(".")
    if len(parts) > 1 and parts[-1] == "name":
        parts = parts[:-1]
    return " ".join(p.replace("_", " ") for p in parts)


@dataclass
class RunTables:
    """What the figures read: the recorded tables (`hour`: each step's start in hours), the plans, the scenario,
    the network, and the run's step in hours (`step_h`: 1.0, 0.5 or 0.25; the manifest's `step_minutes`)."""

    grid: pd.DataFrame
    lots: pd.DataFrame = field(default_factory=pd.DataFrame)
    evs: pd.DataFrame = field(default_factory=pd.DataFrame)
    bus_voltages: pd.DataFrame = field(default_factory=pd.DataFrame)  # long: hour, bus, vm_pu
    lines: pd.DataFrame = field(default_factory=pd.DataFrame)  # long: hour, branch, loading_percent, ...
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    pvr: pd.DataFrame = field(default_factory=pd.DataFrame)
    plans: list[dict[str, Any]] = field(default_factory=list)
    scenario: dict[str, Any] = field(default_factory=dict)
    network: Any = None  # RadialNetwork, or None when the scenario does not say which
    step_h: float = 1.0  # the run's step (h): a row's powers hold over [hour, hour + step_h)


def _step_word(t: RunTables) -> str:
    """How a caption names one row's time: "hour" at 60-minute steps (as before), else e.g. "15-minute step"."""
    return "hour" if t.step_h == 1.0 else f"{round(60 * t.step_h)}-minute step"


def _per_step(t: RunTables) -> str:
    return "hour by hour" if t.step_h == 1.0 else f"{_step_word(t)} by {_step_word(t)}"


def lot_total_kw(tables: RunTables) -> np.ndarray:
    hours = tables.grid["hour"]
    if tables.lots.empty:
        return np.zeros(len(hours))
    return tables.lots.groupby("hour")["p_kw"].sum().reindex(hours).fillna(0.0).to_numpy()


def bus_label(net: Any, bus: int) -> str:
    """A 1-based bus number as the network names it (ieee13's labels, else the number)."""
    labels = getattr(net, "bus_labels", ()) if net is not None else ()
    return str(labels[bus - 1]) if labels and 0 < bus <= len(labels) else str(bus)


# ------------------------------------------------------------------ figures
def load_curve(t: RunTables, w: Writer) -> Figure:
    g = t.grid
    demand = (g["p_grid_kw"] - g["losses_kw"]).to_numpy(float)
    fig, ax = w.figure()
    steps(ax, g["hour"], demand - lot_total_kw(t), t.step_h, label="without lots")
    steps(ax, g["hour"], demand, t.step_h, label="with lots")
    ax.axhline(float(np.mean(demand)), color="grey", ls=":", label="mean (with lots)")
    ax.set_ylabel("demand (kW)")
    time_axis(ax, g["hour"], t.step_h)
    _legend_above(ax)
    return w.save(fig, "load_curve", "Demand of the network's loads (substation power minus losses) with and "
                                     f"without the parking lots' power, {_per_step(t)}; dotted: its mean.")


def losses(t: RunTables, w: Writer) -> Figure:
    g = t.grid
    fig, ax = w.figure()
    half = t.step_h / 2
    ax.bar(g["hour"] + half, g["losses_kw"], width=0.8 * t.step_h, color=BLUE, alpha=0.8,
           label="measured (pandapower)")
    if not t.pvr.empty and "planned_loss_kw" in t.pvr:
        ax.plot(t.pvr["hour"] + half, t.pvr["planned_loss_kw"], ls="none", marker="o", ms=2.5, color=BLACK,
                label="planned (day-ahead flow)")
    ax.set_ylabel("losses (kW)")
    ax.set_ylim(bottom=0)
    time_axis(ax, g["hour"], t.step_h)
    _legend_above(ax, 2)
    total = float(g["losses_kw"].sum()) * t.step_h
    return w.save(fig, "losses", f"Line losses per {_step_word(t)}, measured and as planned a day ahead; "
                                 f"{total:,.1f} kWh in total.")


def voltage_band(t: RunTables) -> tuple[float, float, str]:
    """The voltage band to draw: the run's network's (`v_min_pu`, `v_max_pu`), else `V_BAND_PU`; and where it
    comes from, in words."""
    net = t.network
    if net is not None and getattr(net, "v_min_pu", None) is not None:
        return float(net.v_min_pu), float(net.v_max_pu), f"{getattr(net, 'name', 'the network')}'s limit"
    return V_BAND_PU[0], V_BAND_PU[1], "default limit (network unknown)"


def voltage(t: RunTables, w: Writer) -> Figure:
    g = t.grid
    fig, ax = w.figure()
    steps(ax, g["hour"], g["v_min_pu"], t.step_h, color=BLUE, label="lowest bus voltage")
    if not t.pvr.empty and "planned_v_min_pu" in t.pvr:
        steps(ax, t.pvr["hour"], t.pvr["planned_v_min_pu"], t.step_h, color=BLACK, ls=":", label="planned")
    low, _, source = voltage_band(t)
    ax.axhline(low, color=LIMIT_COLOR, lw=0.9, ls="--", label=f"{low:.2f} p.u. ({source})")
    bottom = min(low, float(np.nanmin(g["v_min_pu"]))) if g["v_min_pu"].notna().any() else low
    ax.set_ylim(bottom - 0.01, max(1.0, float(np.nanmax(g["v_min_pu"])) if g["v_min_pu"].notna().any() else 1.0)
                + 0.005)
    ax.set_ylabel("voltage (p.u.)")
    time_axis(ax, g["hour"], t.step_h)
    _legend_above(ax, 2)
    return w.save(fig, "voltage", f"Lowest bus voltage in each {_step_word(t)}, measured and planned; dashed: the "
                                  f"lower voltage limit, {low:.2f} p.u. ({source}).")


def _heatmap(w: Writer, matrix: np.ndarray, hours: np.ndarray, rows: list[str], row_label: str, cbar_label: str,
             cmap: str, name: str, caption: str, vmin=None, vmax=None, blocked: np.ndarray | None = None,
             blocked_label: str = "", step_h: float = 1.0) -> Figure:
    n = len(rows)
    height = float(np.clip(1.0 + 0.06 * n, 2.0, 6.5))
    fig, ax = w.figure(COLUMN_IN, height)
    x = np.append(hours, hours[-1] + step_h)
    y = np.arange(n + 1) + 0.5
    shown = np.ma.masked_where(blocked, matrix) if blocked is not None else matrix
    mesh = ax.pcolormesh(x, y, shown, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat", rasterized=True)
    if blocked is not None and blocked.any():
        from matplotlib.colors import ListedColormap  # noqa: PLC0415 - matplotlib only when drawn
        from matplotlib.patches import Patch  # noqa: PLC0415 - as above

        ax.pcolormesh(x, y, np.ma.masked_where(~blocked, np.ones_like(matrix)), cmap=ListedColormap(["white"]),
                      hatch="////", edgecolor="0.55", lw=0.0, shading="flat", rasterized=True)
        ax.legend(handles=[Patch(facecolor="white", edgecolor="0.55", hatch="////", label=blocked_label)],
                  loc="lower center", bbox_to_anchor=(0.5, 1.0), borderaxespad=0.2)
    ax.invert_yaxis()
    ax.grid(False)
    every = max(1, int(np.ceil(n / 24)))
    ticks = np.arange(1, n + 1, every)
    ax.set_yticks(ticks, [rows[i - 1] for i in ticks])
    ax.set_ylabel(row_label)
    time_axis(ax, hours, step_h)
    fig.colorbar(mesh, ax=ax, pad=0.02).set_label(cbar_label)
    return w.save(fig, name, caption)


def voltage_heatmap(t: RunTables, w: Writer) -> Figure | None:
    bv = t.bus_voltages
    if bv.empty:
        return None
    wide = bv.pivot_table(index="bus", columns="hour", values="vm_pu", aggfunc="first").sort_index()
    hours = wide.columns.to_numpy(float)
    rows = [bus_label(t.network, int(b)) for b in wide.index]
    low = float(np.nanmin(wide.to_numpy()))
    return _heatmap(w, wide.to_numpy(float), hours, rows, "bus", "voltage (p.u.)", SEQUENTIAL, "voltage_heatmap",
                    f"Voltage of every bus (rows, bus 1 = substation) in every {_step_word(t)}; lowest {low:.3f} p.u.",
                    step_h=t.step_h)


def line_loading_heatmap(t: RunTables, w: Writer) -> Figure | None:
    ln = t.lines
    if ln.empty or "loading_percent" not in ln or not ln["loading_percent"].notna().any():
        return None  # no line has a current rating: loadings are unknown
    wide = ln.pivot_table(index="branch", columns="hour", values="loading_percent", aggfunc="first",
                          dropna=False).sort_index()
    wide = wide[wide.notna().any(axis=1)]
    if "in_service" in ln:
        service = ln.assign(open=~ln["in_service"].astype("boolean").fillna(True).astype(bool))
        opened = service.pivot_table(index="branch", columns="hour", values="open", aggfunc="first")
        opened = opened.reindex(index=wide.index, columns=wide.columns).fillna(False).to_numpy(bool)
    else:
        opened = np.zeros(wide.shape, bool)
    hours = wide.columns.to_numpy(float)
    values = wide.to_numpy(float)
    closed = np.where(opened, np.nan, values)
    top = float(np.nanmax(closed)) if np.isfinite(closed).any() else 0.0
    n_open = int(opened.any(axis=1).sum())
    return _heatmap(w, values, hours, [str(int(b)) for b in wide.index], "branch", "loading (% of rating)", LOADING,
                    "line_loading_heatmap",
                    f"Current of every rated line as a share of its rating, {_per_step(t)}, the colour scale from 0 "
                    f"to the highest loading ({top:.0f} %); open lines hatched ({n_open} line(s) open at some hour), "
                    "unrated lines left out.", vmin=0.0, vmax=max(top, 1e-6), blocked=opened, blocked_label="open",
                    step_h=t.step_h)


def lots(t: RunTables, w: Writer) -> Figure | None:
    if t.lots.empty:
        return None
    fig, (ax, ax2) = w.figure(COLUMN_IN, 3.2, nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for i, (lot_id, df) in enumerate(t.lots.groupby("id")):
        color = PALETTE[i % len(PALETTE)]
        steps(ax, df["hour"], df["p_kw"], t.step_h, color=color, label=str(lot_id))
        if "setpoint_kw" in df and (df["setpoint_kw"] - df["p_kw"]).abs().max() > 1e-6:
            steps(ax, df["hour"], df["setpoint_kw"], t.step_h, color=color, ls=":", lw=0.8)
        steps(ax2, df["hour"], df["evs_present"], t.step_h, color=color)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("power (kW)\n+ charging, − V2G")
    ax2.set_ylabel("EVs present")
    ax2.set_ylim(bottom=0)
    time_axis(ax2, t.lots["hour"], t.step_h)
    ax.set_xlabel("")
    if t.lots["id"].nunique() > 1:
        _legend_above(ax, 4)
    return w.save(fig, "lots", f"Parking lots: mean power in each {_step_word(t)} (dotted: the operator's setpoint "
                               f"where it differs) and the EVs in the lot at any moment of that {_step_word(t)}.")


SOC_BIN = 0.025  # width of a soc_departure histogram bin (2.5 % of the battery)


SOC_FEW_VALUES = 5  # at most this many distinct departure SOCs: one bar each (a histogram would show slivers)


def soc_departure(t: RunTables, w: Writer) -> Figure | None:
    ev = t.evs
    if ev.empty or "soc_departure" not in ev or not ev["soc_departure"].notna().any():
        return None
    left = ev[ev["soc_departure"].notna()]
    fig, ax = w.figure()
    groups = [(str(k), np.round(g["soc_departure"].to_numpy(float), 3)) for k, g in left.groupby("lot_id")]
    contracts = sorted(set(np.round(left.loc[left["soc_contract"] > 0, "soc_contract"].to_numpy(float), 3))) \
        if "soc_contract" in left else []
    values = np.concatenate([g for _, g in groups])
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(groups))]
    distinct = sorted(set(values.tolist()))
    if len(distinct) <= SOC_FEW_VALUES:  # a few exact values (a fixed fleet): one labelled bar per value
        bottom = np.zeros(len(distinct))
        for (lot_id, g), color in zip(groups, colors):
            counts = np.array([int(np.sum(g == v)) for v in distinct])
            ax.bar(range(len(distinct)), counts, bottom=bottom, width=0.6, color=color, label=lot_id)
            bottom += counts
        for i, total in enumerate(bottom):
            ax.annotate(f"{int(total)}", (i, total), textcoords="offset points", xytext=(0, 2), ha="center",
                        va="bottom")
        ax.set_xticks(range(len(distinct)), [f"{v:.2f}" + ("\ncontract" if v in contracts else "")
                                             for v in distinct])
        ax.set_xlim(-0.6, len(distinct) - 0.4)
        ax.set_ylim(0, 1.15 * float(bottom.max()))
        how = f"{len(distinct)} distinct values, one bar each; 'contract': a contract's SOC"
    else:
        lo = float(min([values.min(), *contracts[:3]]))
        start = np.floor(lo / SOC_BIN) * SOC_BIN
        bins = np.arange(start, 1.0 + SOC_BIN + 1e-9, SOC_BIN)  # the last bin holds SOC 1.0 inside the frame
        ax.hist([g for _, g in groups], bins=bins, stacked=True, label=[k for k, _ in groups], color=colors)
        for i, c in enumerate(contracts[:3]):
            ax.axvline(c, color=VERMILLION, ls="--", lw=1.0, zorder=5, label="contract SOC" if i == 0 else None)
        ax.set_xlim(start - SOC_BIN, 1.0 + 2 * SOC_BIN)
        how = f"{100 * SOC_BIN:.1f} % bins; dashed: the contracts' SOC"
    ax.set_xlabel("state of charge at departure (–)")
    ax.set_ylabel("EV visits")
    met = left["contract_met"].astype(str).str.lower().eq("true").mean() if "contract_met" in left else np.nan
    _legend_above(ax, 4)
    return w.save(fig, "soc_departure", f"State of charge of the EVs when they left ({len(left)} visits, {how}); "
                                        f"{100 * float(met):.0f} % of contracts met.")


def plan_vs_reality(t: RunTables, w: Writer) -> Figure | None:
    p = t.pvr
    if p.empty or "planned_loss_kw" not in p:
        return None
    pairs = [("loss_kw", "losses (kW)"), ("lot_kw", "lot power (kW)")]
    pairs = [(k, lab) for k, lab in pairs if f"planned_{k}" in p and p[f"planned_{k}"].notna().any()]
    fig, axes = w.figure(PAGE_IN if len(pairs) > 1 else COLUMN_IN, 2.6, ncols=len(pairs), squeeze=False)
    points = None
    hours = p["hour"].to_numpy(float)
    for ax, (key, label) in zip(axes[0], pairs):
        x, y = p[f"planned_{key}"].to_numpy(float), p[f"actual_{key}"].to_numpy(float)
        points = ax.scatter(x, y, s=10, c=hours, cmap=SEQUENTIAL, edgecolors="none", vmin=hours.min(),
                            vmax=hours.max())
        lo, hi = float(np.nanmin([x.min(), y.min()])), float(np.nanmax([x.max(), y.max()]))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.7, ls="--")
        ax.set(xlabel=f"planned {label}", ylabel=f"measured {label}", aspect="equal")
    if points is not None:
        fig.colorbar(points, ax=list(axes[0]), pad=0.02, fraction=0.04).set_label("hour (h)")
    return w.save(fig, "plan_vs_reality", f"Each {_step_word(t)}'s day-ahead plan against what was measured "
                                          f"(colour: the {_step_word(t)}'s start in hours, colour bar); on the dashed "
                                          "line the plan held.")


def convergence(t: RunTables, w: Writer) -> Figure | None:
    curves = []
    for plan in t.plans:
        hist = plan.get("history") or (plan.get("info") or {}).get("history")
        if isinstance(hist, list) and len(hist) > 1:
            y = np.asarray([np.nan if v is None or abs(float(v)) >= 1e299 else float(v) for v in hist], float)
            curves.append((int(float(plan.get("day_start_hour", 0)) // 24), y))
    if not curves:
        return None
    fig, ax = w.figure()
    for day, y in curves[:10]:
        ax.plot(np.arange(1, len(y) + 1), y, label=f"day {day + 1}")
    objective = (t.plans[-1].get("info") or {}).get("objective", "objective")
    unit = {"of1": "−benefit ($)", "of2": "load-curve deviation (kW)", "of3": "daily losses (kWh)",
            "vpd": "voltage deviation (p.u.)"}.get(str(objective), str(objective))
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"best {unit}")
    if len(curves) > 1:
        _legend_above(ax, 5)
    return w.save(fig, "convergence", "The optimiser's best objective after each iteration of each day's plan.")


def plo_cash_flow(t: RunTables, w: Writer) -> Figure | None:
    led = t.ledger
    if led.empty:
        return None
    key = "id" if "id" in led else "lot_id"
    fig, ax = w.figure()
    for lot_id, df in led.groupby(key):
        bars = ax.bar(df["hour"] + t.step_h / 2, df["profit_usd"], width=0.8 * t.step_h, alpha=0.55,
                      label=f"{lot_id} {'hourly' if t.step_h == 1.0 else 'per step'}")
        ax.plot(df["hour"] + t.step_h, df["cumulative_profit_usd"], "o-", ms=2.5,
                color=bars.patches[0].get_facecolor(), alpha=1.0, label=f"{lot_id} cumulative")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("profit ($)")
    time_axis(ax, led["hour"], t.step_h)
    _legend_above(ax, 2)
    total = float(led["profit_usd"].sum())
    return w.save(fig, "plo_cash_flow", f"Parking-lot operators' profit per {_step_word(t)} and cumulated (end of "
                                        f"{_step_word(t)}); {total:,.2f} $ in total.")


# ------------------------------------------------------------------ network one-line diagram
def tree_children(net: Any, open_ids: set[int]) -> dict[int, list[int]]:
    """Each bus's children in the breadth-first tree from the slack over the closed branches (0-based buses)."""
    adj: dict[int, list[int]] = {}
    for f, to, b in zip(net.from_bus.tolist(), net.to_bus.tolist(), net.branch_ids.tolist()):
        if int(b) not in open_ids:
            adj.setdefault(int(f), []).append(int(to))
            adj.setdefault(int(to), []).append(int(f))
    root = int(net.slack_bus)
    children: dict[int, list[int]] = {}
    seen, queue = {root}, [root]
    while queue:
        n = queue.pop(0)
        for m in adj.get(n, []):
            if m not in seen:
                seen.add(m)
                children.setdefault(n, []).append(m)
                queue.append(m)
    return children


def tree_layout(children: dict[int, list[int]], root: int) -> dict[int, tuple[float, float]]:
    """Positions of a rooted tree as a one-line diagram: x = branches from the root, one row per leaf, a bus on
    the row of its first child (the one with the largest subtree), so that the main feeder is a straight line
    and each lateral branches off below it; drawn with elbow lines, no two branches cross."""
    order, stack = [], [root]
    while stack:  # iterative: a feeder may be a chain of hundreds of buses
        n = stack.pop()
        order.append(n)
        stack.extend(children.get(n, []))
    size: dict[int, int] = {}
    for n in reversed(order):
        size[n] = 1 + sum(size[c] for c in children.get(n, []))
    kids = {n: sorted(children.get(n, []), key=lambda c: (-size[c], c)) for n in order}
    depth, visit, stack = {root: 0}, [], [root]
    while stack:  # depth first, the largest subtree first: each subtree gets a block of consecutive rows
        n = stack.pop()
        visit.append(n)
        for c in kids[n]:
            depth[c] = depth[n] + 1
        stack.extend(reversed(kids[n]))
    pos: dict[int, tuple[float, float]] = {}
    row = 0
    for n in visit:
        if not kids[n]:
            pos[n] = (float(depth[n]), float(row))
            row += 1
    for n in reversed(visit):
        if kids[n]:
            pos[n] = (float(depth[n]), pos[kids[n][0]][1])
    return pos


def network(t: RunTables, w: Writer) -> Figure | None:
    net = t.network
    if net is None:
        return None
    g = t.grid
    last = g["open_branches"].iloc[-1] if "open_branches" in g and len(g) else None
    cells = as_int_list(last)
    open_ids = set(int(b) for b in (cells if cells is not None else net.tie_branches))
    opened = [(int(f), int(to), int(b)) for f, to, b in zip(net.from_bus, net.to_bus, net.branch_ids)
              if int(b) in open_ids]
    root = int(net.slack_bus)
    children = tree_children(net, open_ids)
    pos = tree_layout(children, root)
    for n in range(net.n_bus):  # islanded buses (none in a valid run) in a row of their own
        pos.setdefault(n, (0.0, float(max(y for _, y in pos.values()) + 1)))
    n_rows = int(max(y for _, y in pos.values())) + 1
    depth = int(max(x for x, _ in pos.values())) + 1
    width = PAGE_IN if depth > 12 else COLUMN_IN
    height = float(np.clip(0.55 + 0.19 * n_rows, 1.8, 9.0))
    fig, ax = w.figure(width, height)
    ax.grid(False)
    for parent, kids in children.items():
        x0, y0 = pos[parent]
        for c in kids:
            x1, y1 = pos[c]
            ax.plot([x0, x0, x1], [y0, y1, y1], color="black", lw=0.9, solid_joinstyle="miter", zorder=1)
    placed: list[tuple[float, float]] = []
    for f, to, b in opened:
        (x0, y0), (x1, y1) = pos[f], pos[to]
        ax.plot([x0, x1], [y0, y1], color=VERMILLION, lw=0.8, ls=(0, (3, 2)), zorder=1)
        at_x, at_y = (x0 + x1) / 2, (y0 + y1) / 2
        while any(abs(at_x - px) < 1.2 and abs(at_y - py) < 0.45 for px, py in placed):
            at_y += 0.45  # two ties meeting in one place: the next id below, not on top
        placed.append((at_x, at_y))
        ax.annotate(str(b), (at_x, at_y), textcoords="offset points", xytext=(0, -4), color=VERMILLION,
                    fontsize=TINY_PT, ha="center", va="top", zorder=3)
    xs = np.array([pos[n][0] for n in range(net.n_bus)])
    ys = np.array([pos[n][1] for n in range(net.n_bus)])
    colors, note, at = "white", "", None
    bv = t.bus_voltages
    if not bv.empty and "v_min_pu" in g and g["v_min_pu"].notna().any():
        worst = int(g.loc[g["v_min_pu"].idxmin(), "hour"])
        at = bv[bv["hour"] == worst].set_index("bus")["vm_pu"].reindex(range(1, net.n_bus + 1))
        colors = at.to_numpy(float)
        note = f" at hour {worst} (lowest voltage)"
    small = net.n_bus > 60
    nodes = ax.scatter(xs, ys, s=9 if small else 16, c=colors, cmap=None if isinstance(colors, str) else SEQUENTIAL,
                       edgecolors=BLACK, linewidths=0.4, zorder=2)
    ax.scatter([xs[root]], [ys[root]], s=60, marker="s", c=BLACK, zorder=3)
    ax.annotate("substation", (xs[root], ys[root]), textcoords="offset points", xytext=(-3, 5), fontsize=TINY_PT,
                ha="left")
    lot_buses = (t.plans[-1].get("lot_buses") or {}) if t.plans else {}
    labelled = labelled_buses(net, at, lot_buses, pos)
    prefix = common_prefix([bus_label(net, n + 1) for n in labelled - {root}]) if len(labelled) > 1 else ""
    for n in sorted(labelled - {root}):
        ax.annotate(bus_label(net, n + 1)[len(prefix):], (xs[n], ys[n]), textcoords="offset points", xytext=(2, 3),
                    fontsize=TINY_PT, ha="left", va="bottom", color="0.25")
    for lot_id, bus in lot_buses.items():
        n = int(bus) - 1
        ax.scatter([xs[n]], [ys[n]], s=70, marker="^", facecolors="none", edgecolors=ORANGE,
                   linewidths=1.3, zorder=4)
        ax.annotate(str(lot_id), (xs[n], ys[n]), textcoords="offset points", xytext=(-3, -4), fontsize=SMALL_LOT_PT,
                    color=ORANGE, weight="bold", ha="right", va="top", zorder=5)
    ax.set_xlim(-0.8, depth - 0.2)
    ax.set_ylim(n_rows - 0.5, -0.7)
    ax.axis("off")
    if not isinstance(colors, str):
        fig.colorbar(nodes, ax=ax, pad=0.01, fraction=0.03, shrink=0.9).set_label(f"voltage{note.split(' (')[0]} "
                                                                                   "(p.u.)")
    opened_txt = ", ".join(str(b) for _, _, b in sorted(opened, key=lambda e: e[2])) or "none"
    which = "every bus named" if net.n_bus <= LABEL_ALL_BUSES else \
        f"named: the lots' buses and the {WORST_BUSES} lowest voltages apart from each other"
    if prefix:
        which += f" (names without their common start {prefix.strip()!r})"
    return w.save(fig, "network", f"{getattr(net, 'name', 'network')} as a one-line diagram from the substation "
                                  f"(square), at the last hour: open switches {opened_txt} dashed, parking lots "
                                  f"as triangles; buses coloured by their voltage{note}; {which}.")


LABEL_ALL_BUSES = 40  # a diagram names every bus up to this many; beyond, only those `labelled_buses` picks
WORST_BUSES = 5
SMALL_LOT_PT = 6.5


def labelled_buses(net: Any, voltages: pd.Series | None, lot_buses: dict[str, Any],
                   pos: dict[int, tuple[float, float]] | None = None) -> set[int]:
    """0-based buses whose names a diagram shows: all on a small network; on a larger one (SimBench) the lots'
    buses and the `WORST_BUSES` lowest voltages, each far enough from the names already chosen (`LABEL_GAP`
    branches along its row) that no two names overlap: the worst bus of a feeder's end, not its five last."""
    if net.n_bus <= LABEL_ALL_BUSES:
        return set(range(net.n_bus))
    chosen = {int(b) - 1 for b in lot_buses.values()}
    if voltages is None or not voltages.notna().any():
        return chosen
    worst = 0
    for bus in voltages.dropna().sort_values(kind="stable").index:
        n = int(bus) - 1
        if pos is not None and any(pos[n][1] == pos[c][1] and abs(pos[n][0] - pos[c][0]) < LABEL_GAP
                                   for c in chosen if c in pos):
            continue
        chosen.add(n)
        worst += 1
        if worst == WORST_BUSES:
            break
    return chosen


LABEL_GAP = 4  # branches between two named buses on one row of a diagram (a name is about that long at 6 pt)


def common_prefix(labels: list[str]) -> str:
    """The first word all labels share (e.g. "MV3.101 " of "MV3.101 Bus 84"), left out of a diagram's names, which
    keep the rest ("Bus 84")."""
    prefix = os.path.commonprefix(labels)
    return prefix[: prefix.find(" ") + 1] if " " in prefix else ""



FIGURES: tuple[Callable[[RunTables, Writer], Figure | None], ...] = (
    load_curve, losses, voltage, voltage_heatmap, line_loading_heatmap, lots, soc_departure, plan_vs_reality,
    convergence, plo_cash_flow, network,
)
"""Every figure of a run, in the report's order."""


def figure_functions(tables: RunTables) -> tuple[Callable[[RunTables, Writer], Figure | None], ...]:
    """The run's figures in the report's order (`FIGURES`, a city's own diagram and maps in place of the per-bus
    ones)."""
    from cosim.runner.figures_city import city_figures, is_city  # noqa: PLC0415 - a city's own diagram and maps

    return city_figures(FIGURES) if is_city(tables.network) else FIGURES


def draw_some(tables: RunTables, out: Path, fmt: str = "png", dpi: int = 300,
              places: Iterable[int] | None = None) -> list[tuple[int, Figure]]:
    """Draw the figures at `places` of the report's order (all when None) into `out` (made if needed): (place,
    figure) for each one the tables allow. An iterator is drawn from as the figures go (the run's figure processes
    share one queue of places)."""
    out.mkdir(parents=True, exist_ok=True)
    functions = figure_functions(tables)
    w = Writer(out, fmt, dpi)
    drawn = []
    with w.style():
        for i in range(len(functions)) if places is None else places:
            figure = functions[i](tables, w)
            if figure is not None:
                drawn.append((i, figure))
    return drawn


def draw_all(tables: RunTables, out: Path, fmt: str = "png", dpi: int = 300) -> list[Figure]:
    """Draw every figure the tables allow into `out` (made if needed); the ones drawn, in `FIGURES` order."""
    return [f for _, f in draw_some(tables, out, fmt, dpi)]
