"""A run's figures at a city's size (more than `CITY_BUSES` buses): one row per feeder, one node per LV grid.

At 272 buses (the reduced city) or 10,453 (the full MV+LV net) a row per bus or a dot per bus says nothing. Here:

* the network diagram collapses each LV grid (the buses below `LV_KV_MAX` joined by LV branches, the reduced
  model's one node) into one node on its transformer, coloured by the grid's worst voltage over the day, with a
  second panel coloured by its worst loading (its transformer and lines); MV buses stay as they are;
* the heat maps aggregate per feeder (a subtree leaving a substation busbar): its lowest bus voltage and its most
  loaded rated branch, hour by hour.

`cosim.runner.figures.draw_all` uses these in place of its per-bus diagram and heat maps for such networks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cosim.results.folder import as_int_list
from cosim.runner.figure_style import BLACK, LOADING, PAGE_IN, SEQUENTIAL, TINY_PT, Figure, Writer
from cosim.runner.figures import tree_children

__all__ = ["CITY_BUSES", "city_figures", "feeder_of_bus", "is_city", "lv_group_of_bus"]

CITY_BUSES = 150
"""Above this many buses a run's figures are drawn per feeder and per LV grid."""
LV_KV_MAX = 1.0


def is_city(net: Any) -> bool:
    return net is not None and int(getattr(net, "n_bus", 0)) > CITY_BUSES


def lv_group_of_bus(net: Any) -> np.ndarray:
    """(n_bus,) the LV grid of each bus (buses below LV_KV_MAX joined by branches between two of them), -1 above."""
    kv = np.asarray(net.bus_kv, float)
    group = np.full(net.n_bus, -1, dtype=int)
    lv = kv < LV_KV_MAX
    parent = np.arange(net.n_bus)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for f, t in zip(net.from_bus.tolist(), net.to_bus.tolist()):
        if lv[f] and lv[t]:
            parent[find(f)] = find(t)
    roots = {}
    for b in np.flatnonzero(lv):
        group[b] = roots.setdefault(find(int(b)), len(roots))
    return group


def feeder_of_bus(net: Any, open_ids: set[int]) -> tuple[np.ndarray, list[str]]:
    """(n_bus,) feeder index of each bus (-1: a substation busbar) and the feeders' names (their first bus). The
    substation busbars: the slack and the MV buses reached from it through transformers or zero-impedance branches
    alone; each branch from a busbar to another bus starts a feeder."""
    children = tree_children(net, open_ids)
    kind = {}
    for f, t, r, x, tap in zip(net.from_bus.tolist(), net.to_bus.tolist(), net.r_pu, net.x_pu, net.tap_ratio):
        kind[(f, t)] = kind[(t, f)] = (r == 0 and x == 0) or abs(tap - 1) > 1e-12
    kv = np.asarray(net.bus_kv, float)
    busbar = {int(net.slack_bus)}
    stack = [int(net.slack_bus)]
    while stack:
        n = stack.pop()
        for c in children.get(n, []):
            if kind[(n, c)] and kv[c] >= LV_KV_MAX:
                busbar.add(c)
                stack.append(c)
    feeder = np.full(net.n_bus, -1, dtype=int)
    names: list[str] = []
    for n in sorted(busbar):
        for c in children.get(n, []):
            if c in busbar:
                continue
            idx = len(names)
            names.append(str(net.bus_labels[c]) if len(net.bus_labels) else str(c + 1))
            stack = [c]
            while stack:
                m = stack.pop()
                feeder[m] = idx
                stack.extend(children.get(m, []))
    return feeder, names


def _open_ids(t) -> set[int]:
    g = t.grid
    cells = as_int_list(g["open_branches"].iloc[-1]) if "open_branches" in g and len(g) else None
    return set(int(b) for b in (cells if cells is not None else t.network.tie_branches))


def _per_feeder(long: pd.DataFrame, key: str, value: str, feeder: np.ndarray, how: str) -> pd.DataFrame:
    """A long table (hour, key, value) reduced per feeder: rows = feeders, columns = hours."""
    df = long[["hour", key, value]].dropna()
    df = df.assign(feeder=feeder[df[key].to_numpy(int) - 1] if key == "bus" else df[key].map(feeder))
    df = df[df.feeder >= 0]
    return df.pivot_table(index="feeder", columns="hour", values=value, aggfunc=how).sort_index()


def city_voltage_heatmap(t, w: Writer) -> Figure | None:
    from cosim.runner.figures import _heatmap  # noqa: PLC0415

    if t.bus_voltages.empty:
        return None
    feeder, names = feeder_of_bus(t.network, _open_ids(t))
    wide = _per_feeder(t.bus_voltages, "bus", "vm_pu", feeder, "min")
    low = float(np.nanmin(wide.to_numpy()))
    return _heatmap(w, wide.to_numpy(float), wide.columns.to_numpy(float), [names[i] for i in wide.index], "feeder",
                    "lowest voltage (p.u.)", SEQUENTIAL, "voltage_heatmap",
                    f"Lowest bus voltage of each feeder (rows: {len(wide)} feeders, named by their first bus) in "
                    f"every hour; lowest {low:.3f} p.u.", step_h=t.step_h)


def city_loading_heatmap(t, w: Writer) -> Figure | None:
    from cosim.runner.figures import _heatmap  # noqa: PLC0415

    ln = t.lines
    if ln.empty or "loading_percent" not in ln or not ln["loading_percent"].notna().any():
        return None
    net = t.network
    bus_feeder, names = feeder_of_bus(net, _open_ids(t))
    branch_feeder = {int(b): int(max(bus_feeder[f], bus_feeder[to]))
                     for f, to, b in zip(net.from_bus, net.to_bus, net.branch_ids)}
    wide = _per_feeder(ln, "branch", "loading_percent", branch_feeder, "max")
    top = float(np.nanmax(wide.to_numpy())) if np.isfinite(wide.to_numpy(float)).any() else 0.0
    return _heatmap(w, wide.to_numpy(float), wide.columns.to_numpy(float), [names[i] for i in wide.index], "feeder",
                    "highest loading (% of rating)", LOADING, "line_loading_heatmap",
                    f"Most loaded rated branch (line or transformer) of each feeder ({len(wide)} feeders) in every "
                    f"hour, 0 to {top:.0f} %.", vmin=0.0, vmax=max(top, 1e-6), step_h=t.step_h)


def city_network(t, w: Writer) -> Figure | None:
    """The one-line diagram with each LV grid collapsed into one node (see the module docstring)."""
    from cosim.runner.figures import tree_layout  # noqa: PLC0415

    net = t.network
    group = lv_group_of_bus(net)
    node = np.arange(net.n_bus)
    for gi in range(group.max() + 1):  # an LV grid's node: its bus nearest the substation (the busbar)
        members = np.flatnonzero(group == gi)
        fed = [int(t_) if group[t_] == gi else int(f) for f, t_ in zip(net.from_bus, net.to_bus)
               if (group[f] == gi) != (group[t_] == gi)]
        node[members] = fed[0] if fed and group[fed[0]] == gi else members.min()
    open_ids = _open_ids(t)
    children = tree_children(net, open_ids)
    collapsed = {n: sorted({int(node[c]) for c in kids if node[c] != node[n]}) for n, kids in children.items()
                 if node[n] == n}
    pos = tree_layout(collapsed, int(net.slack_bus))
    v_worst = pd.Series(np.nan, index=range(net.n_bus))
    if not t.bus_voltages.empty:
        v = t.bus_voltages.groupby("bus")["vm_pu"].min()
        v_worst.loc[v.index.to_numpy(int) - 1] = v.to_numpy(float)
    load_worst = pd.Series(np.nan, index=range(net.n_bus))
    if not t.lines.empty and "loading_percent" in t.lines:
        peak = t.lines.groupby("branch")["loading_percent"].max()
        for f, to, b in zip(net.from_bus, net.to_bus, net.branch_ids):
            if int(b) in peak.index and np.isfinite(peak[int(b)]):
                n = int(node[to]) if group[to] >= 0 or node[to] != node[f] else int(node[f])
                load_worst[n] = np.nanmax([load_worst[n], peak[int(b)]])
    shown = sorted(pos)
    per_node_v = {n: float(np.nanmin(v_worst[node == n])) if np.isfinite(v_worst[node == n]).any() else np.nan
                  for n in shown}
    fig, axes = w.figure(PAGE_IN, float(np.clip(0.6 + 0.02 * len(shown), 3.0, 9.0)), ncols=2)
    xs = np.array([pos[n][0] for n in shown])
    ys = np.array([pos[n][1] for n in shown])
    is_lv = np.array([group[n] >= 0 for n in shown])
    for ax, values, cmap, label in ((axes[0], [per_node_v[n] for n in shown], SEQUENTIAL, "worst voltage (p.u.)"),
                                    (axes[1], [load_worst[n] for n in shown], LOADING, "worst loading (%)")):
        ax.grid(False)
        for parent, kids in collapsed.items():
            x0, y0 = pos[parent]
            for c in kids:
                x1, y1 = pos[c]
                ax.plot([x0, x0, x1], [y0, y1, y1], color="0.5", lw=0.4, zorder=1)
        vals = np.asarray(values, float)
        sc = None
        for mask, marker in ((~is_lv, "o"), (is_lv, "s")):
            if mask.any():
                sc = ax.scatter(xs[mask], ys[mask], c=vals[mask], cmap=cmap, s=7, marker=marker,
                                vmin=np.nanmin(vals) if np.isfinite(vals).any() else None,
                                vmax=np.nanmax(vals) if np.isfinite(vals).any() else None,
                                edgecolors=BLACK, linewidths=0.2, zorder=2)
        ax.invert_yaxis()
        ax.axis("off")
        ax.set_title(label, fontsize=TINY_PT + 1)
        if sc is not None:
            fig.colorbar(sc, ax=ax, pad=0.01, fraction=0.04, shrink=0.8)
    n_lv = int(group.max() + 1)
    return w.save(fig, "network", f"{getattr(net, 'name', 'network')}: one-line diagram with each of its {n_lv} LV "
                                  f"grids collapsed into one node (squares) on its transformer, MV buses as dots; "
                                  "left coloured by the worst voltage over the day (an LV grid: of its buses the "
                                  "run records), right by the worst loading of the branch feeding the node (an LV "
                                  "grid: its transformer or lines).")


def city_figures(figures: tuple[Callable, ...]) -> tuple[Callable, ...]:
    """`figures` with the per-bus diagram and heat maps replaced by the city's (same names, same order)."""
    swap = {"network": city_network, "voltage_heatmap": city_voltage_heatmap,
            "line_loading_heatmap": city_loading_heatmap}
    return tuple(swap.get(f.__name__, f) for f in figures)

