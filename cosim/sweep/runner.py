"""`cosim sweep SWEEP.toml`: run every variation of a scenario as an independent co-simulation, on local
processes (default: all cores) or a Dask distributed cluster (--scheduler), with resume.

Layout of <output>/:  runs/<variation-id>/ (one finished run folder each: grid.csv, lots.csv, kpis.json,
manifest.json ...), sweep.parquet (or sweep.csv without pyarrow), summary.csv, plots/, sweep.json (what was
asked), attempts.jsonl (one line when a variation starts and when it is published).

Resume and atomic writes: a variation runs in runs/.staging-<id>-<random>/ and its run folder is renamed to
runs/<id> only when it has ended, so runs/<id> is always a whole run. A folder whose manifest says "completed"
and whose tables still match the sizes and sha256 sums its manifest keeps (`verify_run`) is never recomputed
nor overwritten; a failed one, one without a manifest, or one whose tables or manifest were changed or
truncated since, is redone; staging and trash folders of killed sweeps are removed at start and at the end.
Two sweeps must not share an output folder at the same time. With --scheduler the output folder must be on a
file system that every worker sees.

Stopping: Ctrl-C or SIGTERM stops the queue at once: running variations are stopped (their partial folders
dropped), finished ones are kept and the table is written with them; one line, exit 130 (143 for SIGTERM);
the same command resumes. Pool workers ignore Ctrl-C (the main process stops them) and end by themselves
when the main process is gone (killed with SIGKILL): none is left running.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
from tqdm import tqdm

from cosim.errors import InputError, RunError, signal_label
from cosim.progress import progress_bar
from cosim.results import MANIFEST, RunFolder
from cosim.results.manifest import StopSignals, current_stops, stop_signal, verify_run
from cosim.results.writer import output_dir_error
from cosim.sweep.report import META_COLUMNS, group_label, label_cell, make_summary_plots, summarise, write_table
from cosim.sweep.spec import Sweep, SweepError, Variation, load_sweep
from cosim.textio import atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["SweepError", "SweepInterrupted", "SweepResult", "load_sweep", "main", "run_sweep", "run_variation",
           "variation_status", "verified_status"]

WORKER_STOP_GRACE_S = 20.0
"""How long stopped workers get to finalise their runs' manifests before they are killed."""


class SweepInterrupted(RunError):
    """A sweep stopped by Ctrl-C or SIGTERM; finished variations are kept (exit 128 + the signal's number)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


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


def verified_status(run_dir: Path, warn: bool = False) -> str | None:
    """`variation_status`, except that a "completed" folder whose tables or manifest changed since the run
    (`verify_run`: sizes and sha256 sums kept in the manifest) counts as "damaged" and is redone."""
    status = variation_status(run_dir)
    if status != "completed":
        return status
    problems = verify_run(run_dir)
    if problems:
        if warn:
            log.warning("%s: %s; running it again", run_dir, "; ".join(problems))
        return "damaged"
    return status


def _log_attempt(runs_dir: Path, vid: str, event: str, **extra: Any) -> None:
    """Append one line to attempts.jsonl (short single writes in append mode do not interleave)."""
    line = json.dumps({"id": vid, "event": event, "pid": os.getpid(), "utc": datetime.now(timezone.utc).isoformat(),
                       **extra})
    with open(runs_dir.parent / "attempts.jsonl", "a") as fh:
        fh.write(line + "\n")


def run_variation(task: VariationTask) -> dict[str, Any]:
    """Run one variation unless runs/<id> already holds a completed, intact run; publish its folder atomically.

    Returns {"id", "status", "ran"}. A failing co-simulation is published with its manifest saying "failed"
    (so it is redone on resume); it never raises for a failed run. A run stopped by a signal (`RunInterrupted`,
    a KeyboardInterrupt) is not published and the stop goes on to the caller, which stops the queue.
    """
    from cosim.runner.run import RunInterrupted, run_scenario  # noqa: PLC0415 - imports mosaik; only on workers

    runs_dir = Path(task.runs_dir)
    vid = task.variation.id
    final = runs_dir / vid
    if verified_status(final) == "completed":
        return {"id": vid, "status": "completed", "ran": False}
    staging = runs_dir / f".staging-{vid}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        _log_attempt(runs_dir, vid, "start")
        scenario = task.variation.scenario()
        try:
            run_scenario(scenario, output_dir=staging, progress=False, plots=task.plots)
        except RunInterrupted:
            raise
        except Exception as exc:  # noqa: BLE001 - RunError or any other: recorded in the manifest, redone later
            _record_failure(staging, exc)
        inner = [p for p in staging.iterdir() if p.is_dir()]
        run_dir = inner[0] if len(inner) == 1 else _record_failure(staging, RuntimeError("no run folder was made"))
        status = variation_status(run_dir) or "failed"
        if verified_status(final) == "completed":  # someone else published it meanwhile: keep theirs
            return {"id": vid, "status": "completed", "ran": False}
        if final.exists():  # a failed, partial or damaged earlier attempt: move it aside, then drop it
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
    """Remove what killed or stopped sweeps leave behind: staging and trash entries under runs/ and temporary
    files of interrupted atomic writes (.<name>.<hex>.tmp) there and in the output folder; returns how many."""
    n = 0
    for folder in (runs_dir, runs_dir.parent):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for p in entries:
            stale = p.name.startswith((".staging-", ".trash-")) if folder == runs_dir else False
            stale = stale or (p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file())
            if not stale:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            n += not p.exists()
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


_MAIN_GONE = threading.Event()  # in a pool worker: the sweep's main process is gone


def _pool_task(task: VariationTask) -> dict[str, Any]:
    """`run_variation` in a pool worker. After a stop (SIGTERM from the main process, or the main process gone)
    the worker ends once the variation has cleaned up, instead of taking the next one from the queue."""
    try:
        with StopSignals():  # this worker is the command's own process: SIGTERM stops its run as in `cosim run`
            return run_variation(task)
    except KeyboardInterrupt as exc:  # a stop outside the co-simulation: nothing to finalise
        os._exit(128 + (stop_signal(exc) or signal.SIGTERM))
    except RunError as exc:
        if getattr(exc, "signum", None) is not None:  # RunInterrupted: its folder was final, then dropped
            os._exit(128 + exc.signum)
        raise
    finally:
        if _MAIN_GONE.is_set():
            os._exit(1)


def _init_worker(main_pid: int) -> None:
    """In each pool worker: ignore Ctrl-C (the terminal sends it to the whole process group; the main process
    decides and stops the workers with SIGTERM) and end with the main process (`_watch_main`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tqdm.set_lock(threading.RLock())  # not tqdm's default multiprocessing lock: a stopped worker leaves no semaphore
    threading.Thread(target=_watch_main, args=(main_pid, os.getppid()), name="cosim-watch-main", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_main(main_pid: int, parent_pid: int, period_s: float = 0.5) -> None:
    """When the sweep's main process is gone (killed, even with SIGKILL; the fork server, this worker's parent,
    then exits too), stop this worker: SIGTERM first, so a running co-simulation finalises its manifest, then
    exit for good after WORKER_STOP_GRACE_S. No worker is left running, duplicating work or waiting forever."""
    while _alive(main_pid) and os.getppid() == parent_pid:
        time.sleep(period_s)
    _MAIN_GONE.set()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(WORKER_STOP_GRACE_S)
    os._exit(1)


def _stop_workers(pool: ProcessPoolExecutor, grace_s: float = WORKER_STOP_GRACE_S) -> None:
    """SIGTERM to every worker of `pool`, SIGKILL to those still there after `grace_s`; then shut it down."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(5)
    pool.shutdown(wait=True, cancel_futures=True)  # joins the pool's threads: its queues are released cleanly


def _run_local(tasks: list[VariationTask], workers: int, report: Callable) -> Iterable[dict[str, Any]]:
    if workers <= 1 or len(tasks) <= 1:
        from cosim.sweep.warm import frozen_heap, warm_process  # noqa: PLC0415

        warm_process(_first_scenario(tasks))
        with frozen_heap():  # what the warm-up loaded is out of each run's garbage collection (cosim.sweep.warm)
            for t in tasks:
                res = run_variation(t)
                report(res)
                yield res
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_pool_context(),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        for fut in as_completed([pool.submit(_pool_task, t) for t in tasks]):
            res = fut.result()
            report(res)
            yield res
    except BrokenProcessPool:  # a worker was killed from outside (SIGKILL, out of memory)
        _stop_workers(pool)
        raise RunError("a sweep worker process died (killed from outside?); finished variations are kept, rerun "
                       "the same command to resume") from None
    except BaseException:  # Ctrl-C, SIGTERM or an error: nothing more starts, running variations are stopped
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _first_scenario(tasks: list[VariationTask]) -> Any:
    """The first variation's scenario (for the warm-up), None when it cannot be read (its run says why)."""
    try:
        return tasks[0].variation.scenario()
    except Exception:  # noqa: BLE001 - checked when the sweep was loaded; the run reports it again
        return None


def _run_dask(tasks: list[VariationTask], client: Any, report: Callable) -> Iterable[dict[str, Any]]:
    from distributed import as_completed as dask_completed  # noqa: PLC0415

    futures = [client.submit(run_variation, t, key=f"cosim-variation-{t.variation.id}-{uuid.uuid4().hex[:6]}",
                             pure=False) for t in tasks]
    try:
        for fut in dask_completed(futures):
            res = fut.result()
            report(res)
            yield res
    except BaseException:  # stop the queue: what has not finished is cancelled on the cluster
        client.cancel(futures)
        raise


def run_sweep(sweep: Sweep, workers: int | None = None, scheduler: str | None = None, client: Any = None,
              quiet: bool = False, limit: int | None = None) -> SweepResult:
    """Run the variations not yet completed (all at most `limit` of them), then write the table and plots.

    Local processes by default (`workers`, default all cores; 1 = in this process); `scheduler` (an address)
    or `client` (a dask.distributed Client) run them on a Dask cluster instead. Ctrl-C or SIGTERM stop the
    queue at once: the table is written with the variations finished so far, then `SweepInterrupted`.
    """
    out = sweep.output_dir
    runs_dir = out / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_dir_error(runs_dir, exc, "sweep output folder") from None
    clean_stale(runs_dir)
    asked = {"name": sweep.name, "base": str(sweep.base), "sweep_file": str(sweep.path),
             "variations": [{"id": v.id, "labels": v.labels} for v in sweep.variations]}
    try:
        atomic_write_text(out / "sweep.json", json.dumps(asked, indent=2, default=str))
    except OSError as exc:
        raise output_dir_error(out, exc, "sweep output folder") from None
    reused = [v.id for v in sweep.variations if verified_status(runs_dir / v.id, warn=True) == "completed"]
    done = set(reused)
    todo = [VariationTask(v, str(runs_dir), sweep.run_plots) for v in sweep.variations if v.id not in done]
    if limit is not None:
        todo = todo[:limit]
    log.info("sweep %s: %d variation(s), %d already completed, %d to run -> %s", sweep.name, len(sweep.variations),
             len(reused), len(todo), out)
    results: list[dict[str, Any]] = []
    try:
        if todo:
            _run_all(sweep, todo, results, workers, scheduler, client, quiet)
    except KeyboardInterrupt as exc:  # Ctrl-C / SIGTERM, in this process or in a variation it ran itself
        raise _interrupted(sweep, runs_dir, results, stop_signal(exc) or signal.SIGINT) from None
    except RunError as exc:
        if getattr(exc, "signum", None) is None:
            raise
        raise _interrupted(sweep, runs_dir, results, exc.signum) from None
    finally:
        clean_stale(runs_dir)
    ran = [r["id"] for r in results if r["ran"]]
    table = collect_table(sweep, runs_dir)
    table_path = write_table(table, out)
    kpis = [k for k in sweep.plot_kpis if k in table.columns]
    atomic_write_text(out / "summary.csv", summarise(table, sweep.label_keys, kpis).to_csv(index=False))
    plots = make_summary_plots(table, sweep.label_keys, kpis, out)
    failed = list(table.loc[~table["status"].isin(["completed"]), "variation_id"])
    return SweepResult(out, table, table_path, plots, ran, reused, failed)


def _run_all(sweep: Sweep, todo: list[VariationTask], results: list[dict[str, Any]], workers: int | None,
             scheduler: str | None, client: Any, quiet: bool) -> None:
    """Run `todo`, appending each result to `results` as it comes (so a stop knows what finished)."""
    with progress_bar(len(todo), f"sweep {sweep.name}", "variations", disable=quiet, line_interval_s=0) as bar:

        def report(res: dict[str, Any]) -> None:
            """One progress step per finished variation, naming it and its status."""
            results.append(res)
            bar.set_postfix_str(f"{res['id']}: {res['status']}", refresh=False)
            bar.update()

        if client is not None or scheduler is not None:
            own = None
            if client is None:
                from distributed import Client  # noqa: PLC0415

                client = own = Client(scheduler)
            try:
                for _ in _run_dask(todo, client, report):
                    pass
            finally:
                if own is not None:
                    own.close()
        else:
            for _ in _run_local(todo, workers or os.cpu_count() or 1, report):
                pass


def _interrupted(sweep: Sweep, runs_dir: Path, results: list[dict[str, Any]], signum: int) -> SweepInterrupted:
    """After a stop: the table of what is finished (no plots), and the one-line error that says so."""
    with current_stops().held():  # a second Ctrl-C must not leave a half-written table (under `cosim sweep`)
        table = collect_table(sweep, runs_dir)
        try:
            table_path = write_table(table, sweep.output_dir)
        except OSError:
            table_path = None
    completed = int((table["status"] == "completed").sum())
    name = signal_label(signum)
    where = f"; table: {table_path}" if table_path else ""
    return SweepInterrupted(f"sweep {sweep.name} stopped by {name}: {completed} of {len(table)} variation(s) "
                            f"completed ({len(results)} finished now){where}; rerun the same command to resume",
                            signum)


def main(argv: list[str] | None = None) -> int:
    """`cosim sweep`: 0 when every variation completed, 1 when some failed (results kept), 2 on bad input,
    130 / 143 when Ctrl-C / SIGTERM stopped it (one line; finished variations kept, the same command resumes)."""
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
        with StopSignals():  # SIGTERM and SIGHUP stop the sweep as Ctrl-C does
            sweep = load_sweep(args.sweep, output_dir=args.output)
            result = run_sweep(sweep, workers=args.workers, scheduler=args.scheduler, quiet=args.quiet)
    except InputError as exc:  # a bad sweep or scenario file, an output folder that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SweepInterrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return exc.exit_code
    except RunError as exc:  # the sweep itself could not go on (a worker killed from outside)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # before the sweep began: nothing was run
        signum = stop_signal(exc) or signal.SIGINT
        print(f"stopped by {signal.Signals(signum).name} before any variation ran", file=sys.stderr)
        return 128 + signum
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
