"""The project's one figure style: sizes for a two-column paper, font sizes set once, a colour-blind safe palette,
and the drawing helpers every figure shares (hourly steps, the time axis, bars from zero with error bars, clean
tick labels). Run figures, comparisons, seasons, sweeps and studies all draw through `Writer`.

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), told apart by people with any
common colour-vision deficiency; where colour carries a quantity it is a perceptually uniform colour map
(viridis, cividis) with a colour bar. Lines of a comparison also differ by line style and marker, so that
curves on top of each other stay visible and the figure reads in grey scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

COLUMN_IN = 3.5  # one column of a two-column paper (IEEE: 3.5 in)
PAGE_IN = 7.16  # both columns
FONT_PT = 8  # text, axis labels and titles
SMALL_PT = 7  # ticks, legends, panel titles
TINY_PT = 6  # annotations inside a diagram (bus and branch names)

BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, BLACK = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, BLACK)
"""Okabe-Ito, in the order series take it."""
LIMIT_COLOR = VERMILLION  # network limits (voltage band, ratings)
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "x", "P", "*")
SEQUENTIAL = "viridis"  # a quantity over hours or buses (voltage, hour of day)
LOADING = "cividis"  # line loading (% of rating)

STYLE = {
    "font.size": FONT_PT, "axes.titlesize": FONT_PT, "axes.labelsize": FONT_PT, "xtick.labelsize": SMALL_PT,
    "ytick.labelsize": SMALL_PT, "legend.fontsize": SMALL_PT, "figure.titlesize": FONT_PT,
    "legend.frameon": False, "lines.linewidth": 1.1, "lines.markersize": 3,
    "axes.prop_cycle": f"cycler('color', {list(PALETTE)!r})",
    "image.cmap": SEQUENTIAL, "errorbar.capsize": 3,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "grid.linewidth": 0.5, "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",  # text stays text (editable, searchable)
    "text.parse_math": False,  # "$" is dollars, not TeX
}
"""matplotlib rc parameters of every figure (`Writer.style()`)."""


def series_style(i: int) -> dict[str, Any]:
    """The i-th series of a comparison: its colour, line style and marker (each cycles on its own)."""
    return {"color": PALETTE[i % len(PALETTE)], "ls": LINESTYLES[i % len(LINESTYLES)],
            "marker": MARKERS[i % len(MARKERS)]}


@dataclass
class Figure:
    """A figure written to disk and what it shows (the report page uses the caption)."""

    path: Path
    caption: str


class Writer:
    """Saves figures in one format and resolution under `out` (matplotlib's Agg backend, the project style).
    With `keep=True` a saved figure stays open in `kept[name]` (for tests that read its axes)."""

    def __init__(self, out: Path, fmt: str = "png", dpi: int = 300, keep: bool = False) -> None:
        import matplotlib  # noqa: PLC0415 - matplotlib loads only when figures are drawn

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415 - as above

        self.plt = plt
        self.out, self.fmt, self.dpi, self.keep = Path(out), fmt, dpi, keep
        self.kept: dict[str, Any] = {}

    def figure(self, width: float = COLUMN_IN, height: float = 2.3, **kwargs):
        return self.plt.subplots(figsize=(width, height), **kwargs)

    def save(self, fig, name: str, caption: str) -> Figure:
        path = self.out / f"{name}.{self.fmt}"
        try:
            fig.savefig(path, dpi=self.dpi, format=self.fmt, **_save_options(self.fmt))
        finally:
            if self.keep:
                self.kept[name] = fig
            else:
                self.plt.close(fig)
        return Figure(path, caption)

    def style(self):
        """The project style (`STYLE`), for everything drawn inside the `with`."""
        return self.plt.rc_context(STYLE)


PNG_COMPRESS_LEVEL = 3
"""zlib level of a PNG (Pillow's default: 6): the same pixels, encoded faster into slightly larger files."""


def _save_options(fmt: str) -> dict[str, Any]:
    """Reproducible files: no creation date in PDF / SVG (the same run draws the same bytes); PNGs compressed at
    `PNG_COMPRESS_LEVEL`."""
    if fmt == "pdf":
        return {"metadata": {"CreationDate": None}}
    if fmt == "svg":
        return {"metadata": {"Date": None}}
    if fmt == "png":
        return {"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}}
    return {}


STEPS_H = (1.0, 0.5, 0.25)  # the simulation steps in hours (cosim.timebase.STEP_MINUTES / 60)


def step_h_of(hours) -> float:
    """The step (h) of a table's `hour` column (each step's start in hours): the longest allowed step that fits the
    smallest gap between distinct starts; 1.0 when there is no gap to read (one row)."""
    starts = np.unique(np.asarray(hours, float))
    starts = starts[np.isfinite(starts)]
    if len(starts) < 2:
        return 1.0
    gap = float(np.min(np.diff(starts)))
    return next((s for s in STEPS_H if s <= gap + 1e-9), STEPS_H[-1])


def steps(ax, hours, values, step_h: float | None = None, **kwargs):
    """Per-step values as steps: the step starting at hour h holds its value over [h, h + step_h) (step_h: the
    run's step in hours; None reads it from `hours`)."""
    hours = np.asarray(hours, float)
    values = np.asarray(values, float)
    if not len(hours):
        return None
    x = np.append(hours, hours[-1] + (step_h_of(hours) if step_h is None else step_h))
    y = np.append(values, values[-1])
    return ax.step(x, y, where="post", **kwargs)



def time_axis(ax, hours, step_h: float | None = None) -> None:
    """x axis in hours since the start (the steps' starts in `hours`, any step): ticks every 3 h for a day, every
    24 h beyond."""
    hours = np.asarray(hours, float)
    if not len(hours):
        return
    end = float(hours.max()) + (step_h_of(hours) if step_h is None else step_h)
    step = 3 if end <= 24 else (6 if end <= 48 else 24 * max(1, int(end // (24 * 8))))
    ax.set_xlim(float(hours.min()), end)
    ax.set_xticks(np.arange(float(hours.min()), end + 0.1, step))
    ax.set_xlabel("time (h)")


def legend_above(ax, ncol: int = 3, handles=None, labels=None) -> None:
    kwargs = {} if handles is None else {"handles": handles, "labels": labels}
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=ncol, borderaxespad=0.2, handlelength=1.6,
              columnspacing=1.2, **kwargs)


def bars_with_ci(ax, names: Sequence[str], means: Sequence[float], low: Sequence[float] | None = None,
                 high: Sequence[float] | None = None) -> None:
    """One bar per name from zero (the axis always holds 0), coloured by the palette, with the 95 % interval as an
    error bar where it is known."""
    x = np.arange(len(names))
    m = np.asarray(means, float)
    ax.bar(x, np.nan_to_num(m), color=[PALETTE[i % len(PALETTE)] for i in range(len(names))], width=0.7)
    if low is not None and high is not None:
        lo, hi = np.asarray(low, float), np.asarray(high, float)
        known = np.isfinite(lo) & np.isfinite(hi)
        if known.any():
            ax.errorbar(x[known], m[known], yerr=[m[known] - lo[known], hi[known] - m[known]], fmt="none",
                        ecolor=BLACK, elinewidth=0.8, capsize=3)
    bottom, top = ax.get_ylim()
    ax.set_ylim(min(bottom, 0.0), max(top, 0.0))
    ax.axhline(0.0, color=BLACK, lw=0.5)
    ax.set_xticks(x, list(names), rotation=30 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center")


def tick_text(value: Any, missing: str = "default") -> str:
    """A value as a tick label: whole floats without ".0" (6.0 -> "6"), other floats in 4 significant digits,
    NaN and None as `missing` (a key a variation does not set: the base scenario's value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if isinstance(value, (float, np.floating)):
        return f"{int(value)}" if float(value).is_integer() else f"{float(value):.4g}"
    if isinstance(value, np.integer):
        return str(int(value))
    text = str(value)
    return missing if text in ("nan", "None", "") else text
