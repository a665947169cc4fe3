"""A run folder's figures (plots/<name>.<png|pdf|svg>) and its report page (report.html), drawn after the run
and rebuilt at any time by `cosim report RUN [--format pdf] [--dpi 600]`.

Format and resolution come from the arguments, else from the scenario's `[output]` section in the manifest,
else PNG at 300 dpi. PNGs are always there: asked for PDF or SVG, the report draws that format and keeps the
PNGs (drawing them where they are missing), so that report.html shows every figure in any browser and links
every format the folder holds. Once a run's manifest is final, `refresh_report_page` rewrites the page with its
status, finish time and timing (the figures stay).

A folder that cannot be read (no grid table, a malformed one) or written (read-only) is a `ReportError` (bad
input: one line, exit code 2), never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cosim.errors import InputError
from cosim.results import Run, RunFolder, compact_sessions
from cosim.runner.figures import Figure, RunTables, draw_some
from cosim.runner.report_page import REPORT_PAGE, prepare_page, write_report_page
from cosim.textio import atomic_write_text

if TYPE_CHECKING:
    from cosim.runner.plot_workers import PlotWorkers

log = logging.getLogger(__name__)

GRID_COLUMNS = ("hour", "p_grid_kw", "losses_kw", "v_min_pu")
NEEDED = {"lots": ("hour", "id", "p_kw", "evs_present"), "plo_ledger": ("hour", "profit_usd", "cumulative_profit_usd"),
          "plan_vs_reality": ("hour", "actual_loss_kw"), "evs": ("lot_id", "ev_id")}
"""Columns the figures read from each optional table (a table without them is bad input, not a bug)."""
FIGURE_FORMATS = ("png", "pdf", "svg")


class ReportError(InputError):
    """A folder whose figures cannot be drawn: not a run folder, a table that cannot be read, or a folder that
    cannot be written."""


def make_plots(run_dir: str | Path, fmt: str | None = None, dpi: int | None = None,
               run_info: dict[str, Any] | None = None, workers: PlotWorkers | None = None) -> list[Path]:
    """Draw every figure the recorded tables allow into <run>/plots/ and write <run>/report.html; returns the
    files written (figures, then the page). `run_info` (status, timing) overrides the manifest's, for a page
    written before the manifest is final. With `workers` (a run's warm figure processes) they draw the figures
    while this process reads the tables for the page; without, or when they are gone, this process draws."""
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir} is not a run folder (no such folder); run folders live under results/")
    manifest = _manifest(folder)
    output = (manifest.get("scenario") or {}).get("output") or {}
    fmt = fmt or output.get("figure_format", "png")
    dpi = int(dpi or output.get("dpi", 300))
    if fmt not in FIGURE_FORMATS:
        raise ReportError(f"figure format {fmt!r} is not allowed; allowed: {', '.join(FIGURE_FORMATS)}")
    if not 50 <= dpi <= 1200:
        raise ReportError(f"dpi must be between 50 and 1200, got {dpi}")
    png_dpi = int(output.get("dpi", 300))
    out = run_dir / "plots"
    try:
        if workers is not None:  # a run's fresh folder: nothing drawn before
            _remove_old(out, fmt)
            launched = workers.launch(run_dir=str(run_dir), fmt=fmt, dpi=dpi, png_dpi=png_dpi)
            tables = read_tables(folder, manifest)  # while they draw, and the page around the figures
            prepared = prepare_page(folder, manifest, tables, run_info)
            drawn = workers.collect() if launched else _draw(tables, out, fmt, dpi, png_dpi)
        else:
            tables = read_tables(folder, manifest)
            _remove_old(out, fmt)
            drawn = _draw(tables, out, fmt, dpi, png_dpi)
            prepared = None
        figures = [f for _, f in drawn]
        stems = {f.path.stem for f in figures}
        for old in out.glob("*.*") if out.is_dir() else ():  # other formats: kept for the figures drawn now
            if old.suffix.lstrip(".") in FIGURE_FORMATS and old.stem not in stems:
                old.unlink()
        write_captions(out, figures)
        page = write_report_page(folder, manifest, figures, tables, run_info, prepared)
    except OSError as exc:
        raise write_error(run_dir, exc) from None
    return [f.path for f in figures] + [page]


def write_error(run_dir: Path, exc: OSError) -> ReportError:
    """The one line for a folder the figures or the page cannot be written into."""
    return ReportError(f"cannot write the figures and {REPORT_PAGE} into {run_dir}: {exc.strerror or exc} "
                       f"({type(exc).__name__})")


def _remove_old(out: Path, fmt: str) -> None:
    """Figures of an earlier report in this format (a figure no longer drawn goes too)."""
    for old in out.glob(f"*.{fmt}") if out.is_dir() else ():
        old.unlink()


def _draw(tables: RunTables, out: Path, fmt: str, dpi: int, png_dpi: int,
          places: Iterable[int] | None = None) -> list[tuple[int, Figure]]:
    """The figures at `places` (all when None) in `fmt`, and their PNGs (the page's images) where `fmt` is another
    format and a PNG is missing."""
    drawn = draw_some(tables, out, fmt, dpi, places)
    if fmt != "png" and any(not (out / f"{f.path.stem}.png").is_file() for _, f in drawn):
        draw_some(tables, out, "png", png_dpi, [i for i, _ in drawn])
    return drawn


def draw_part(run_dir: str, fmt: str, dpi: int, png_dpi: int, places: Iterable[int]) -> list[tuple[int, Figure]]:
    """In a figure process (`cosim.runner.plot_workers`): read the run's tables and draw the figures at `places`
    (taken from the processes' shared queue as it goes)."""
    folder = RunFolder(Path(run_dir))
    return _draw(read_tables(folder, _manifest(folder)), Path(run_dir) / "plots", fmt, dpi, png_dpi, places)


CAPTIONS = "captions.json"
"""plots/captions.json: {figure name: caption}, in the report's order (for `refresh_report_page`)."""


def write_captions(out: Path, figures: list[Figure]) -> None:
    atomic_write_text(out / CAPTIONS, json.dumps({f.path.stem: f.caption for f in figures}, indent=1))


def refresh_report_page(run_dir: str | Path) -> Path | None:
    """Rewrite <run>/report.html from the final manifest (status, finish time, timing) and the figures already in
    plots/ (captions from plots/captions.json); None when the run drew no report."""
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    path = run_dir / "plots" / CAPTIONS
    if not path.is_file() or not (run_dir / REPORT_PAGE).is_file():
        return None
    manifest = _manifest(folder)
    fmt = ((manifest.get("scenario") or {}).get("output") or {}).get("figure_format", "png")
    captions = json.loads(path.read_text(encoding="utf-8"))
    figures = [Figure(run_dir / "plots" / f"{stem}.{fmt}", caption) for stem, caption in captions.items()
               if (run_dir / "plots" / f"{stem}.{fmt}").is_file()]
    grid = _table(folder, "grid")  # all the page reads of the tables (the figures are drawn)
    if grid.empty or "hour" not in grid:
        return None
    return write_report_page(folder, manifest, figures, RunTables(grid=grid))


def _manifest(folder: RunFolder) -> dict[str, Any]:
    try:
        return folder.manifest
    except (OSError, ValueError) as exc:
        raise ReportError(f"{folder.file('manifest.json')} cannot be read: {exc}") from None


def _table(folder: RunFolder, table: str) -> pd.DataFrame:
    try:
        frame = folder.table(table)
    except (OSError, ValueError) as exc:  # ParserError, UnicodeDecodeError, a broken Parquet file
        raise ReportError(f"{folder.table_path(table)} cannot be read: {str(exc).splitlines()[0] if str(exc) else ''}"
                          f" ({type(exc).__name__})") from None
    missing = [c for c in NEEDED.get(table, ()) if c not in frame] if not frame.empty else []
    if missing:
        raise ReportError(f"{folder.table_path(table)} lacks column(s) {missing}; it has {list(frame.columns)}")
    return frame


def read_tables(folder: RunFolder, manifest: dict[str, Any]) -> RunTables:
    """The tables the figures need, checked: the grid table must be there with numeric hourly columns."""
    grid = _table(folder, "grid")
    path = folder.table_path("grid")
    if grid.empty:
        reason = "no recorded hours" if path.is_file() else "no grid table"
        raise ReportError(f"{folder.path} is not a run folder with results ({reason}); run folders live under "
                          "results/")
    missing = [c for c in GRID_COLUMNS if c not in grid]
    if missing:
        raise ReportError(f"{path} lacks column(s) {missing}; it has {list(grid.columns)}")
    for col in GRID_COLUMNS[1:] + ("hour",):
        try:
            grid[col] = pd.to_numeric(grid[col])
        except (ValueError, TypeError):
            raise ReportError(f"{path}: column {col!r} holds values that are not numbers") from None
    run = Run(folder)
    try:
        plans = folder.plans()
        bus_voltages = run.bus_voltages.reset_index(drop=True)
        lines = run.lines.reset_index(drop=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ReportError(f"{folder.path}: the plans or bus voltages cannot be read ({type(exc).__name__}: "
                          f"{exc})") from None
    ledger = _table(folder, "plo_ledger")
    if "lot_id" in ledger and "id" not in ledger:
        ledger = ledger.rename(columns={"lot_id": "id"})
    scenario = manifest.get("scenario") or {}
    return RunTables(grid=grid, lots=_table(folder, "lots"), evs=compact_sessions(_table(folder, "evs")),
                     bus_voltages=bus_voltages, lines=lines, ledger=ledger, pvr=_table(folder, "plan_vs_reality"),
                     plans=plans, scenario=scenario, network=_network(scenario, manifest), step_h=folder.step_h)


def _network(scenario: dict[str, Any], manifest: dict[str, Any]) -> Any:
    """The run's network model (for the one-line diagram), None when the manifest does not name one or it
    cannot be loaded here (a user's network module that is not importable: that figure is left out)."""
    name = (scenario.get("network") or {}).get("name", "ieee33") if scenario else None
    if name is None:
        return None
    from cosim.networks import load_radial  # noqa: PLC0415 - the run built it already

    near = Path(manifest["scenario_file"]).parent if manifest.get("scenario_file") else None
    try:
        return load_radial(name, near=near)
    except InputError as exc:
        log.warning("network diagram left out: %s", exc)
        return None
