"""Figures of a comparison (exchange modes, data quality, control, seasons): one bar panel per KPI, the variants
side by side from zero with their 95 % intervals, and the hourly curves of every variant, each with its own
colour, line style and marker."""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cosim.runner.figure_style import (
    PAGE_IN,
    SMALL_PT,
    Writer,
    bars_with_ci,
    series_style,
    step_h_of,
    steps,
    time_axis,
)
from cosim.runner.figures import kpi_label
from cosim.runner.uncertainty import CI_HIGH, CI_LOW, differs


def shown_columns(table: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns worth a panel: they differ between rows beyond rounding noise, or have an interval of width
    > 0 (the same everywhere, and known exactly: the table says it)."""
    shown = []
    for c in columns:
        if c not in table:
            continue
        width = (pd.to_numeric(table.get(c + CI_HIGH), errors="coerce")
                 - pd.to_numeric(table.get(c + CI_LOW), errors="coerce")) if c + CI_HIGH in table else None
        if differs(table[c]) or (width is not None and bool((width > 0).any())):
            shown.append(c)
    return shown


def bar_panels(w: Writer, table: pd.DataFrame, label: str, columns: Sequence[str], title: str) -> Any:
    """A page-wide figure, three panels a row, one per shown column (`shown_columns`); None when none is shown."""
    cols = shown_columns(table, columns)
    if not cols:
        return None
    names = [str(v) for v in table[label]]
    ncol = min(3, len(cols))
    nrow = -(-len(cols) // ncol)
    fig, axes = w.figure(PAGE_IN, 1.8 * nrow + 0.5, nrows=nrow, ncols=ncol, squeeze=False)
    for ax, c in zip(axes.flat, cols):
        low = table[c + CI_LOW] if c + CI_LOW in table else None
        high = table[c + CI_HIGH] if c + CI_HIGH in table else None
        bars_with_ci(ax, names, pd.to_numeric(table[c], errors="coerce"), low, high)
        ax.set_title(textwrap.fill(kpi_label(c), 34), fontsize=SMALL_PT)
    for ax in list(axes.flat)[len(cols):]:
        ax.axis("off")
    seeds = int(table["seeds"].max()) if "seeds" in table and len(table) else 1
    note = f"; mean over {seeds} seeds, 95 % interval" if seeds > 1 else ""
    fig.suptitle(title + note)
    fig.tight_layout()
    return fig


def hourly_panels(w: Writer, frames: dict[str, tuple[list[pd.DataFrame], list[pd.DataFrame]]]) -> Any:
    """Losses, lowest voltage and lot power hour by hour, one curve per variant (the mean over its runs), each
    with its own colour, line style and marker, so that curves on top of each other stay visible."""
    fig, axes = w.figure(PAGE_IN, 4.4, nrows=3, sharex=True)
    hours = None
    for i, (name, (grids, lots)) in enumerate(frames.items()):
        grid = pd.concat(grids).groupby("hour")[["losses_kw", "v_min_pu"]].mean()
        lot_kw = [lot.groupby("hour")["p_kw"].sum() if not lot.empty else pd.Series(dtype=float) for lot in lots]
        lot_mean = pd.concat(lot_kw, axis=1).mean(axis=1).reindex(grid.index).fillna(0.0) if lot_kw else \
            pd.Series(0.0, index=grid.index)
        style = series_style(i)
        marker = {"marker": style["marker"], "markevery": max(1, len(grid) // 12), "ms": 3.5,
                  "markerfacecolor": "none" if i % 2 else style["color"]}
        for ax, values in zip(axes, (grid["losses_kw"], grid["v_min_pu"], lot_mean)):
            h = grid.index.to_numpy(float)
            steps(ax, h, values.to_numpy(float), color=style["color"], ls=style["ls"], lw=1.0, zorder=3 + i,
                  label=name if ax is axes[0] else None)
            ax.plot(h + step_h_of(h) / 2, values.to_numpy(float), ls="none", color=style["color"], zorder=3 + i,
                    **marker)
        hours = grid.index.to_numpy(float)
    axes[0].set_ylabel("losses (kW)")
    axes[1].set_ylabel("lowest voltage (p.u.)")
    axes[2].set_ylabel("lot power (kW)")
    if hours is not None:
        time_axis(axes[2], np.asarray(hours))
    from matplotlib.lines import Line2D  # noqa: PLC0415 - matplotlib only when drawn

    handles = [
        Line2D([], [], color=series_style(i)["color"], ls=series_style(i)["ls"], marker=series_style(i)["marker"],
            markerfacecolor="none" if i % 2 else series_style(i)["color"]) for i in range(len(frames))]
    axes[0].legend(handles, list(frames), loc="lower left", bbox_to_anchor=(0.0, 1.02, 1.0, 0.2), mode="expand",
                   ncol=min(len(frames), 6))
    return fig
