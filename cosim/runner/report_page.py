"""A run's report page (report.html): one self-contained HTML file in the run folder, readable offline.

It holds the run's facts (status, scenario, seed, versions), its KPI table, every figure drawn (referenced by
relative paths under plots/, so the folder can be moved or zipped whole), the timing, a summary of the
DSO/PLO messages and events, and the tables the folder holds. No external URL, no script.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from cosim.results import TABLES, RunFolder
from cosim.results.folder import hour_number
from cosim.runner.figures import Figure, RunTables
from cosim.textio import atomic_write_text

REPORT_PAGE = "report.html"
UNITS = (("_usd_per_kwh", "$/kWh"), ("_kwh", "kWh"), ("_kw", "kW"), ("_kvar", "kvar"), ("_pu", "p.u."),
         ("_usd", "$"), ("_pct", "%"), ("_s", "s"), ("_bytes", "bytes"))
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 60em; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 2em;
     border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img, figure object { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.status-completed { color: #176317; } .status-failed, .status-interrupted, .status-terminated { color: #a11; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def unit_of(name: str) -> str:
    """The unit a KPI or column name carries in its suffix ('' for counts)."""
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "")


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def table_html(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p>none</p>"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            cells.append(f'<td class="num">{_e(_number(v))}</td>' if num else f"<td>{_e(_number(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


FORMATS = ("png", "svg", "pdf")
"""Figure formats a page links, in this order; it shows the first one a browser draws as an image (PNG, SVG)."""


def figure_html(fig: Figure, run_dir: Path) -> str:
    """The figure as an image (its PNG, else its SVG; a PDF alone is embedded) with a link to every format the
    folder holds."""
    files = {f: fig.path.with_suffix(f".{f}") for f in FORMATS if fig.path.with_suffix(f".{f}").is_file()}
    files = files or {fig.path.suffix.lstrip("."): fig.path}
    shown = next((files[f] for f in ("png", "svg") if f in files), None)
    if shown is not None:
        src = shown.relative_to(run_dir).as_posix()
        body = f'<a href="{_e(src)}"><img src="{_e(src)}" alt="{_e(fig.caption)}"></a>'
    else:
        src = next(iter(files.values())).relative_to(run_dir).as_posix()
        body = (f'<object data="{_e(src)}" type="application/pdf" width="100%" height="480">'
                f'<a href="{_e(src)}">{_e(fig.path.name)}</a></object>')
    links = " · ".join(f'<a href="{_e(p.relative_to(run_dir).as_posix())}">{f.upper()}</a>' for f, p in files.items())
    return (f"<figure>{body}<figcaption><b>{_e(fig.path.stem)}</b>: {_e(fig.caption)} "
            f'<span class="formats">({links})</span></figcaption></figure>')


def messages_summary(messages: pd.DataFrame) -> list[dict[str, Any]]:
    """Messages per sender, receiver and kind: how many, bytes, how many were not delivered."""
    if messages.empty or not {"sender", "receiver", "kind"} <= set(messages.columns):
        return []
    delivered = messages["delivered"].astype(str).str.lower().eq("true") if "delivered" in messages else True
    frame = messages.assign(_lost=~delivered if not isinstance(delivered, bool) else False)
    rows = []
    for (sender, receiver, kind), g in frame.groupby(["sender", "receiver", "kind"], sort=True):
        rows.append({"sender": sender, "receiver": receiver, "kind": kind, "messages": int(len(g)),
                     "bytes": int(g["size_bytes"].sum()) if "size_bytes" in g else None,
                     "not delivered": int(g["_lost"].sum()),
                     "hours": f"{hour_number(g['hour'].min())}-{hour_number(g['hour'].max())}" if "hour" in g
                     else "-"})
    return rows


def events_summary(events: pd.DataFrame) -> list[dict[str, Any]]:
    if events.empty or "event" not in events:
        return []
    rows = []
    for event, g in events.groupby("event", sort=True):
        detail = next((str(v) for v in g.get("detail", pd.Series(dtype=str)).dropna()), "")
        rows.append({"event": event, "count": int(len(g)),
                     "first hour": hour_number(g["hour"].min()) if "hour" in g else None,
                     "example": detail[:160]})
    return rows


def tables_summary(folder: RunFolder) -> list[dict[str, Any]]:
    rows = []
    for table in TABLES:
        if not folder.has(table):
            continue
        frame = folder.table(table)
        rows.append({"table": table, "file": folder.table_path(table).name, "rows": int(len(frame)),
                     "columns": ", ".join(map(str, frame.columns))})
    return rows


def timing_rows(timing: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"what": "run (wall clock)", "seconds": timing.get("run_wall_s")},
            {"what": "per simulated day", "seconds": timing.get("wall_s_per_simulated_day")}]
    rows += [{"what": f"simulator {k} (step + get_data)", "seconds": v}
             for k, v in sorted((timing.get("simulator_s") or {}).items(), key=lambda kv: -float(kv[1] or 0))]
    share = timing.get("mosaik_share")
    if share is not None:
        rows.append({"what": "mosaik and set-up (share of the run)", "seconds": f"{100 * float(share):.1f} %"})
    return rows


def write_report_page(folder: RunFolder, manifest: dict[str, Any], figures: list[Figure], tables: RunTables,
                      run_info: dict[str, Any] | None = None, prepared: tuple[str, str] | None = None) -> Path:
    """Write <run>/report.html (atomically) and return its path; `prepared`: `prepare_page`'s answer for the same
    folder, made while the figures were drawn."""
    before, after = prepared or prepare_page(folder, manifest, tables, run_info)
    shown = "".join(figure_html(f, folder.path) for f in figures) or "<p>no figures</p>"
    return atomic_write_text(folder.path / REPORT_PAGE, f"{before}\n{shown}\n{after}\n")


_FIGURES_HERE = "\x00figures\x00"  # where `write_report_page` puts them


def prepare_page(folder: RunFolder, manifest: dict[str, Any], tables: RunTables,
                 run_info: dict[str, Any] | None = None) -> tuple[str, str]:
    """The page's HTML before its figures and after them (everything but the figures, which may not be drawn yet:
    facts, KPIs, messages, events, timing, tables, scenario, versions)."""
    info = {**manifest, **(run_info or {})}
    scenario = manifest.get("scenario") or {}
    name = scenario.get("name") or folder.path.name
    status = str(info.get("status", "unknown"))
    kpis = folder.kpis
    facts = [
        ("folder", folder.path.name), ("status", status), ("scenario file", manifest.get("scenario_file") or "-"),
        ("description", scenario.get("description", "-")), ("network", (scenario.get("network") or {}).get("name")),
        ("controller", (scenario.get("controller") or {}).get("name")),
        ("exchange mode", (scenario.get("exchange") or {}).get("mode", "centralised")),
        ("days", scenario.get("days", 1)), ("step (minutes)", manifest.get("step_minutes", 60)),
        ("seed", manifest.get("seed")),
        ("started (UTC)", manifest.get("started_utc")),
        ("finished (UTC)", info.get("finished_utc") or "not yet (the manifest was not final when this page was "
                                                       "written)"),
        ("last recorded hour", info.get("last_recorded_hour", hour_number(tables.grid["hour"].max()))),
        ("error", info.get("error") or "-"), ("git commit", manifest.get("git_commit", "-")),
    ]
    kpi_rows = [{"KPI": k, "value": v, "unit": unit_of(k)} for k, v in kpis.items()]
    timing = info.get("timing") or {}
    versions = manifest.get("versions") or {}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)}: run report</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(name)}</h1>",
        f'<p>Run <code>{_e(folder.path.name)}</code>: <b class="status-{_e(status)}">{_e(status)}</b>.'
        + (" This page was written as the run ended, before its manifest was final; <code>cosim report "
           f"{_e(folder.path.name)}</code> rebuilds it with the final status and timing." if status == "running"
           else "") + "</p>",
        "<h2>Run</h2>", table_html([{"": k, "value": v} for k, v in facts]),
        "<h2>KPIs</h2>", table_html(kpi_rows, ["KPI", "value", "unit"]) if kpi_rows else "<p>no KPIs (kpis.json)</p>",
        "<h2>Figures</h2>", _FIGURES_HERE,
        "<h2>Messages</h2>", table_html(messages_summary(_safe(folder, "messages"))),
        "<h2>Events</h2>", table_html(events_summary(_safe(folder, "events"))),
        "<h2>Timing</h2>",
        table_html(timing_rows(timing)) if timing else "<p>not recorded yet (the manifest is written when the run "
                                                        "ends; <code>cosim report</code> rebuilds this page)</p>",
        "<h2>Tables</h2>", "<p>Every column is described in results/README.md of the repository.</p>",
        table_html(tables_summary(folder)),
        "<h2>Scenario</h2>", f"<pre>{_e(json.dumps(scenario, indent=2, sort_keys=False))}</pre>",
        "<h2>Versions</h2>", table_html([{"package": k, "version": v} for k, v in versions.items()]),
        "</body></html>",
    ]
    at = parts.index(_FIGURES_HERE)
    return "\n".join(parts[:at]), "\n".join(parts[at + 1:])


def _safe(folder: RunFolder, table: str) -> pd.DataFrame:
    try:
        return folder.table(table)
    except (OSError, ValueError):
        return pd.DataFrame()
