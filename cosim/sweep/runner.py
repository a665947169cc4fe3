"""`cosim sweep SWEEP.toml`: run every variation of a scenario as an independent co-simulation, on local
processes (default: all cores) or a Dask distributed cluster (--scheduler), with resume.

Layout of <output>/:  runs/<variation-id>/ (one finished run folder each: grid.csv, lots.csv, kpis.json,
manifest.json ...), sweep.parquet (or sweep.csv without pyarrow), summary.csv, plots/, sweep.json (what was
asked), attempts.jsonl (one line when a variation starts and when it is published).

Resume and atomic writes: a variation runs in runs/.staging-<id>-<random>/ and its run folder is renamed to
runs/<id> only when it has ended, so runs/<id> is always a whole run. A folder whose manifest says "completed"
is never recomputed nor overwritten; a failed one, or one without a manifest, is redone; leftover staging
folders of killed sweeps are removed at start. Two sweeps must not share an output folder at the same time.
With --scheduler the output folder must be on a file system that every worker sees.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from cosim.config import ScenarioFileError
from cosim.progress import progress_bar
from cosim.results import MANIFEST, RunFolder
from cosim.sweep.report import META_COLUMNS, group_label, label_cell, make_summary_plots, summarise, write_table
from cosim.sweep.spec import Sweep, SweepError, Variation, load_sweep
from cosim.textio import atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["SweepError", "SweepResult", "load_sweep", "main", "run_sweep", "run_variation", "variation_status"]


@dataclass(frozen=True)
class VariationTask:
    """What a worker needs to run one variation (plain data: pickles to any process or Dask worker)."""

    variation: Variation
    runs_dir: str
    plots: bool


@dataclass
class SweepResult:
    """What a sweep produced: the combined table, where it lies, and which variations ran now or were reused."""

    output_dir: Path
    table: pd.DataFrame
    table_path: Path
    plots: list[Path]
    ran: list[str]  # variation ids run by this call
    reused: list[str]  # variation ids already completed before this call
    failed: list[str]


def variation_status(run_dir: Path) -> str | None:
    """The status in a run folder's manifest ("completed", "failed", ...), None without a readable manifest."""
    try:
        return RunFolder(run_dir).manifest.get("status")
    except (OSError, ValueError):
        return None


def _log_attempt(runs_dir: Path, vid: str, event: str, **extra: Any) -> None:
    """Append one line to attempts.jsonl (short single writes in append mode do not interleave)."""
    line = json.dumps({"id": vid, "event": event, "pid": os.getpid(), "utc": datetime.now(timezone.utc).isoformat(),
                       **extra})
    with open(runs_dir.parent / "attempts.jsonl", "a") as fh:
        fh.write(line + "\n")


def run_variation(task: VariationTask) -> dict[str, Any]:
    """Run one variation unless runs/<id> already holds a completed run; publish its folder atomically.

    Returns {"id", "status", "ran"}. A failing co-simulation is published with its manifest saying "failed"
    (so it is redone on resume); it never raises for a failed run.
    """
    from cosim.runner.run import run_scenario  # noqa: PLC0415 - imports mosaik; only on workers

    runs_dir = Path(task.runs_dir)
    vid = task.variation.id
    final = runs_dir / vid
    if variation_status(final) == "completed":
        return {"id": vid, "status": "completed", "ran": False}
    staging = runs_dir / f".staging-{vid}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    _log_attempt(runs_dir, vid, "start")
    try:
        scenario = task.variation.scenario()
        try:
            run_scenario(scenario, output_dir=staging, progress=False, plots=task.plots)
        except Exception as exc:  # noqa: BLE001 - RunError or any other: recorded in the manifest, redone later
            _record_failure(staging, exc)
        inner = [p for p in staging.iterdir() if p.is_dir()]
        run_dir = inner[0] if len(inner) == 1 else _record_failure(staging, RuntimeError("no run folder was made"))
        status = variation_status(run_dir) or "failed"
        if variation_status(final) == "completed":  # someone else published it meanwhile: keep theirs
            return {"id": vid, "status": "completed", "ran": False}
        if final.exists():  # a failed or partial earlier attempt: move it aside, then drop it
            trash = runs_dir / f".trash-{vid}-{uuid.uuid4().hex[:8]}"
            final.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(run_dir, final)
        _log_attempt(runs_dir, vid, "published", status=status)
        return {"id": vid, "status": status, "ran": True}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _record_failure(staging: Path, exc: BaseException) -> Path:
    """Make sure the staging area holds one run folder with a "failed" manifest that says why."""
    inner = [p for p in staging.iterdir() if p.is_dir()]
    run_dir = inner[0] if inner else staging / "failed"
    run_dir.mkdir(exist_ok=True)
    if variation_status(run_dir) in (None, "running"):
        RunFolder(run_dir).write_json(MANIFEST, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    return run_dir


def clean_stale(runs_dir: Path) -> int:
    """Remove staging and trash folders left by killed sweeps; returns how many."""
    n = 0
    if runs_dir.is_dir():
        for p in runs_dir.iterdir():
            if p.is_dir() and p.name.startswith((".staging-", ".trash-")):
                shutil.rmtree(p, ignore_errors=True)
                n += 1
    return n


def collect_table(sweep: Sweep, runs_dir: Path) -> pd.DataFrame:
    """One row per variation, in sweep order, read from the published run folders (so it is the same table
    whichever machine ran which variation)."""
    rows = []
    for v in sweep.variations:
        final = runs_dir / v.id
        try:
            manifest = RunFolder(final).manifest or {"status": "missing"}
        except (OSError, ValueError):
            manifest = {"status": "missing"}
        row: dict[str, Any] = {"variation_id": v.id, "status": manifest.get("status", "missing"),
                               "wall_s": manifest.get("wall_s"), "run_dir": f"runs/{v.id}",
                               "error": manifest.get("error") or ""}
        row.update({k: label_cell(v.labels.get(k)) for k in sweep.label_keys})
        row["group"] = group_label(v.labels)
        row.update(manifest.get("kpis") or {})
        rows.append(row)
    table = pd.DataFrame(rows)
    front = ["variation_id", *sweep.label_keys, "group", *[c for c in META_COLUMNS if c != "variation_id"]]
    return table[front + [c for c in table.columns if c not in front]]


def _pool_context() -> Any:
    """Fork server with the co-simulation preloaded where the platform has one (workers start warm), else spawn."""
    if "forkserver" in get_all_start_methods():
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["cosim.sweep.preload"])
        return ctx
    return get_context("spawn")


def _run_local(tasks: list[VariationTask], workers: int, report: Callable) -> Iterable[dict[str, Any]]:
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            res = run_variation(t)
            report(res)
            yield res
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_pool_context()) as pool:
        for fut in as_completed([pool.submit(run_variation, t) for t in tasks]):
            res = fut.result()
            report(res)
            yield res


def _run_dask(tasks: list[VariationTask], client: Any, report: Callable) -> Iterable[dict[str, Any]]:
    from distributed import as_completed as dask_completed  # noqa: PLC0415

    futures = [client.submit(run_variation, t, key=f"cosim-variation-{t.variation.id}-{uuid.uuid4().hex[:6]}",
                             pure=False) for t in tasks]
    for fut in dask_completed(futures):
        res = fut.result()
        report(res)
        yield res


def run_sweep(sweep: Sweep, workers: int | None = None, scheduler: str | None = None, client: Any = None,
              quiet: bool = False, limit: int | None = None) -> SweepResult:
    """Run the variations not yet completed (all at most `limit` of them), then write the table and plots.

    Local processes by default (`workers`, default all cores; 1 = in this process); `scheduler` (an address)
    or `client` (a dask.distributed Client) run them on a Dask cluster instead.
    """
    out = sweep.output_dir
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(runs_dir)
    asked = {"name": sweep.name, "base": str(sweep.base), "sweep_file": str(sweep.path),
             "variations": [{"id": v.id, "labels": v.labels} for v in sweep.variations]}
    atomic_write_text(out / "sweep.json", json.dumps(asked, indent=2, default=str))
    reused = [v.id for v in sweep.variations if variation_status(runs_dir / v.id) == "completed"]
    done = set(reused)
    todo = [VariationTask(v, str(runs_dir), sweep.run_plots) for v in sweep.variations if v.id not in done]
    if limit is not None:
        todo = todo[:limit]
    log.info("sweep %s: %d variation(s), %d already completed, %d to run -> %s", sweep.name, len(sweep.variations),
             len(reused), len(todo), out)
    ran: list[str] = []
    if todo:
        with progress_bar(len(todo), f"sweep {sweep.name}", "variations", disable=quiet, line_interval_s=0) as bar:

            def report(res: dict[str, Any]) -> None:
                """One progress step per finished variation, naming it and its status."""
                bar.set_postfix_str(f"{res['id']}: {res['status']}", refresh=False)
                bar.update()

            if client is not None or scheduler is not None:
                own = None
                if client is None:
                    from distributed import Client  # noqa: PLC0415

                    client = own = Client(scheduler)
                try:
                    results = list(_run_dask(todo, client, report))
                finally:
                    if own is not None:
                        own.close()
            else:
                results = list(_run_local(todo, workers or os.cpu_count() or 1, report))
        ran = [r["id"] for r in results if r["ran"]]
    table = collect_table(sweep, runs_dir)
    table_path = write_table(table, out)
    kpis = [k for k in sweep.plot_kpis if k in table.columns]
    atomic_write_text(out / "summary.csv", summarise(table, sweep.label_keys, kpis).to_csv(index=False))
    plots = make_summary_plots(table, sweep.label_keys, kpis, out)
    failed = list(table.loc[~table["status"].isin(["completed"]), "variation_id"])
    return SweepResult(out, table, table_path, plots, ran, reused, failed)


def main(argv: list[str] | None = None) -> int:
    """`cosim sweep`: 0 when every variation completed, 1 when some failed (results kept), 2 on bad input."""
    parser = argparse.ArgumentParser(prog="cosim sweep", description="run a grid or list of scenario variations")
    parser.add_argument("sweep", help="sweep TOML file (see scenarios/sweeps/)")
    parser.add_argument("--scheduler", default=None, help="address of a dask.distributed scheduler (tcp://host:8786)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    parser.add_argument("--output", default=None, help="output folder (default: the sweep file's output_dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be >= 1, got {args.workers}", file=sys.stderr)
        return 2
    try:
        sweep = load_sweep(args.sweep, output_dir=args.output)
        result = run_sweep(sweep, workers=args.workers, scheduler=args.scheduler, quiet=args.quiet)
    except (SweepError, ScenarioFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"table: {result.table_path}  ({len(result.table)} variation(s): {len(result.ran)} run now, "
          f"{len(result.reused)} reused, {len(result.failed)} not completed)")
    for p in result.plots:
        print(p)
    if result.failed:
        log.warning("not completed: %s (rerun the same command to redo them)", ", ".join(result.failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
