"""Plots of a run folder (rebuilt at any time by `cosim report RUN`): PNG files under <run>/plots/."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd

from cosim.errors import InputError
from cosim.results import RunFolder


class ReportError(InputError):
    """A folder that is not a run folder."""


def _read(folder: RunFolder, table: str) -> pd.DataFrame | None:
    return folder.table(table) if folder.has(table) else None


def make_plots(run_dir: str | Path) -> list[Path]:
    """Write every plot the recorded tables allow; returns the files written."""
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    grid = _read(folder, "grid")
    if grid is None:
        raise ReportError(f"{run_dir} is not a run folder (no grid.csv); run folders live under results/")
    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    lots, ledger, pvr = _read(folder, "lots"), _read(folder, "plo_ledger"), _read(folder, "plan_vs_reality")
    files = [_load_curve(grid, lots, out), _losses(grid, pvr, out), _voltage(grid, pvr, out)]
    if lots is not None and len(lots):
        files.append(_lots(lots, out))
    if ledger is not None and len(ledger):
        files.append(_cash(ledger, out))
    files.append(_network(folder, grid, out))
    return [f for f in files if f is not None]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _load_curve(grid: pd.DataFrame, lots: pd.DataFrame | None, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    demand = grid["p_grid_kw"] - grid["losses_kw"]
    lot_kw = (lots.groupby("hour")["p_kw"].sum().reindex(grid["hour"]).fillna(0).to_numpy()
              if lots is not None and len(lots) else 0)
    ax.step(grid["hour"], demand - lot_kw, where="post", label="load without lots")
    ax.step(grid["hour"], demand, where="post", label="load with lots")
    ax.axhline(float(np.mean(demand)), color="grey", ls=":", label="P_target (mean)")
    ax.set(xlabel="hour", ylabel="kW", title="Load curve")
    ax.legend()
    return _save(fig, out / "load_curve.png")


def _losses(grid: pd.DataFrame, pvr: pd.DataFrame | None, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(grid["hour"], grid["losses_kw"], label="measured (pandapower)", alpha=0.7)
    if pvr is not None:
        ax.plot(pvr["hour"], pvr["planned_loss_kw"], "k.-", label="planned (fast flow)")
    ax.set(xlabel="hour", ylabel="kW", title=f"Losses per hour (total {grid['losses_kw'].sum():.1f} kWh)")
    ax.legend()
    return _save(fig, out / "losses.png")


def _voltage(grid: pd.DataFrame, pvr: pd.DataFrame | None, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(grid["hour"], grid["v_min_pu"], "o-", label="min voltage")
    ax.plot(grid["hour"], grid["v_max_pu"], "s-", label="max voltage", alpha=0.6)
    if pvr is not None:
        ax.plot(pvr["hour"], pvr["planned_v_min_pu"], "k:", label="planned min voltage")
    ax.axhline(0.9, color="red", ls="--", lw=1, label="0.9 p.u. limit")
    ax.set(xlabel="hour", ylabel="p.u.", title="Bus voltage extremes")
    ax.legend()
    return _save(fig, out / "voltage.png")


def _lots(lots: pd.DataFrame, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    ax2 = ax.twinx()
    for lot_id, df in lots.groupby("id"):
        ax.step(df["hour"], df["p_kw"], where="post", label=f"{lot_id} power")
        ax2.plot(df["hour"], df["evs_present"], "--", alpha=0.6, label=f"{lot_id} EVs present")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="hour", ylabel="kW (+ charging, - V2G)", title="Parking lots")
    ax2.set_ylabel("EVs present")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    return _save(fig, out / "lots.png")


def _cash(ledger: pd.DataFrame, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    for lot_id, df in ledger.groupby("lot_id"):
        ax.bar(df["hour"], df["profit_usd"], alpha=0.5, label=f"{lot_id} hourly profit")
        ax.plot(df["hour"], df["cumulative_profit_usd"], "o-", label=f"{lot_id} cumulative")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="hour", ylabel="$", title="PLO cash flow")
    ax.legend(fontsize=8)
    return _save(fig, out / "plo_cash_flow.png")


def _network(folder: RunFolder, grid: pd.DataFrame, out: Path) -> Path | None:
    scenario = folder.manifest.get("scenario")
    if scenario is None:
        return None
    from cosim.networks import load_network  # noqa: PLC0415

    net = load_network(scenario.get("network", {}).get("name", "ieee33")).radial
    open_ids = set(json.loads(grid["open_branches"].iloc[-1])) if "open_branches" in grid else set(net.tie_branches)
    plans = folder.plans()
    lot_buses = plans[-1]["lot_buses"] if plans else {}
    tree = net.graph(open_branch_ids=open_ids)
    pos = nx.kamada_kawai_layout(nx.Graph(tree))
    fig, ax = plt.subplots(figsize=(8, 6))
    closed = [(int(f), int(t)) for f, t, b in zip(net.from_bus, net.to_bus, net.branch_ids) if int(b) not in open_ids]
    opened = [(int(f), int(t)) for f, t, b in zip(net.from_bus, net.to_bus, net.branch_ids) if int(b) in open_ids]
    nx.draw_networkx_edges(nx.Graph(closed), pos, ax=ax, edge_color="black")
    nx.draw_networkx_edges(nx.Graph(opened), pos, ax=ax, edge_color="red", style="dashed")
    volts = _read(folder, "bus_voltages")
    colors = volts.iloc[int(np.argmin(grid["v_min_pu"]))].drop("hour").to_numpy() if volts is not None else None
    nodes = nx.draw_networkx_nodes(nx.Graph(tree), pos, ax=ax, node_size=120,
                                   node_color=colors if colors is not None else "lightblue", cmap="viridis")
    if colors is not None:
        fig.colorbar(nodes, ax=ax, label="voltage at the hour of lowest voltage (p.u.)")
    nx.draw_networkx_labels(nx.Graph(tree), pos, {i: str(i + 1) for i in range(net.n_bus)}, ax=ax, font_size=7)
    for lot_id, bus in lot_buses.items():
        x, y = pos[int(bus) - 1]
        ax.scatter([x], [y], s=400, facecolors="none", edgecolors="orange", linewidths=2.5)
        ax.annotate(lot_id, (x, y), textcoords="offset points", xytext=(8, 8), color="darkorange", weight="bold")
    labels = {(int(f), int(t)): str(int(b))
              for f, t, b in zip(net.from_bus, net.to_bus, net.branch_ids) if int(b) in open_ids}
    nx.draw_networkx_edge_labels(nx.Graph(opened), pos, labels, ax=ax, font_color="red", font_size=7)
    ax.set_title(f"{net.name}: open branches {sorted(open_ids)} (red, dashed); lots circled")
    ax.axis("off")
    return _save(fig, out / "network.png")
