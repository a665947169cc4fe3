"""The one style in which every study reports (`cosim study <name>`): its paper-vs-ours table, one row per
quantity (quantity, paper, ours, difference, evidence), written as paper_vs_ours.csv / .md in the study's folder
and printed as a Markdown table followed by the folder's path.

difference: (ours - paper) / |paper| in % for numbers, "same" / "differs" for anything else (open lines, a
bus, a yes/no finding), "-" where either side is missing (the paper gives no figure, or we do not compute it).

evidence: what an agreement is worth. "independent" (nothing in our inputs was tuned to this figure), or how it
holds by construction: "fitted" (an equality or target of a fit to the paper's numbers), "calibrated" (an
assumed input chosen to hit it), "assumed" (it rests on parameters the paper does not give); a short reason may
follow. A headline total names its terms here. "-" where a study does not say (every shipped study does).

The studies reproduce papers that plan in hours: they build their own hourly scenarios (60-minute steps) and take
no scenario file, so no `[simulation] step_minutes` reaches a paper table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cosim.textio import atomic_write_text, markdown_table

COLUMNS = ("quantity", "paper", "ours", "difference", "evidence")
TABLE = "paper_vs_ours"


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and not math.isfinite(float(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def difference(ours: Any, paper: Any) -> str:
    """How ours differs from the paper's figure (see the module docstring)."""
    if _missing(ours) or _missing(paper):
        return "-"
    if _is_number(ours) and _is_number(paper):
        if float(paper) == 0.0:
            return "same" if float(ours) == 0.0 else "-"
        return f"{100.0 * (float(ours) - float(paper)) / abs(float(paper)):+.1f} %"
    return "same" if cell(ours) == cell(paper) else "differs"


def cell(value: Any) -> str:
    """A table cell: "-" when missing, numbers to 4 significant digits (one decimal from 10 up, thousands
    separated), lists as 7-9-14, booleans as yes / no."""
    if _missing(value):
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if _is_number(value):
        x = float(value)
        if x.is_integer() and abs(x) < 1e6 and isinstance(value, (int, np.integer)):
            return f"{int(x):,}"
        return f"{x:,.1f}" if abs(x) >= 1000 else f"{x:.4g}"
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value) if value else "-"
    return str(value)


def paper_vs_ours(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The table from rows with quantity, paper and ours (and a difference of their own, where it is not a
    plain % difference, and their evidence: see the module docstring)."""
    out = []
    for row in rows:
        out.append({"quantity": row["quantity"], "paper": row.get("paper"), "ours": row.get("ours"),
                    "difference": row.get("difference") or difference(row.get("ours"), row.get("paper")),
                    "evidence": row.get("evidence") or "-"})
    return pd.DataFrame(out, columns=list(COLUMNS))


def report(title: str, table: pd.DataFrame, out_dir: str | Path) -> str:
    """Write paper_vs_ours.csv / .md into `out_dir` and return the text a study prints."""
    out = Path(out_dir)
    shown = table.assign(paper=table["paper"].map(cell), ours=table["ours"].map(cell))
    md = markdown_table(shown, cell=cell)
    atomic_write_text(out / f"{TABLE}.csv", table.to_csv(index=False))
    atomic_write_text(out / f"{TABLE}.md", f"# {title}: paper vs ours\n\n{md}\n")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return f"{title}: paper vs ours\n\n{md}\n\nresults: {out} ({len(files)} files: {', '.join(files)})"
