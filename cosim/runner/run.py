"""Run a scenario end to end: build the mosaik world, run it, post-process and plot; keep whatever was recorded
when a run fails part-way, and say where it stopped in the manifest.

However the run ends, its manifest is finalised with the status, the phase it stopped in and the last
recorded hour: "completed"; "failed" (any exception, `sys.exit` in user code, a full disk: error.txt holds the
traceback); "stopped" (the first planning fallback of a run with `[controller] on_failure = "stop"`: the
manifest's `error` names the hour and the cause, tracebacks.txt holds the controller's traceback);
"interrupted" (Ctrl-C) or "terminated" (SIGTERM, SIGHUP), in any phase (start-up, simulation,
post-processing, plotting). A run that did not complete raises `RunError` (`RunInterrupted` for a signal,
`PlanningStopped` for a stopped run: CLI exit 3) after its folder is final.

Signals belong to the command line: `cosim run` installs `cosim.results.manifest.StopSignals`, and the run turns
them into exceptions only while a phase runs; while the run folder is made and the final manifest written they
wait, and a signal that arrives once the final manifest is written no longer changes the run's outcome (the
manifest records the exit code it stands for, `StopSignals.final_exit_code`, which the command line exits with).
Called as a library, `run_scenario` installs no handler: Ctrl-C (Python's KeyboardInterrupt) still ends the run
"interrupted"; other signals keep whatever disposition the caller gave them.

Controller workers: the run starts its fork server (`cosim.controllers.forkserver`) before the world (and with it
the run's keys) exists; the DSO's isolated plans are forked from it, so no worker holds the DSO's private key. The
server, its worker and everything the worker started are killed when the simulation ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim.config import Scenario
from cosim.errors import InputError, PlanningStopped, RunError, one_line
from cosim.results import RunFolder, finish_manifest, new_run_dir, start_manifest
from cosim.results.manifest import (
    StopSignals,
    current_stops,
    reserve_space,
    stop_exception,
    stop_signal,
    write_error_file,
)
from cosim.results.writer import output_dir_error, trim_to_whole_lines

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    run_dir: Path
    status: str
    wall_s: float
    kpis: dict[str, float]
    timing: dict | None = None


class RunInterrupted(RunError):
    """A run stopped by a signal (Ctrl-C: SIGINT; SIGTERM; SIGHUP); its folder and manifest are final. The
    command line exits with 128 + the signal's number, as a shell does for a process a signal ended."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception (mosaik wraps simulator errors), for a message users can act on."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if inner is None:
            break
        exc = inner
    return exc


@dataclass
class _Outcome:
    """How the run is going: the first stop or error wins; later ones (a second Ctrl-C) change nothing."""

    status: str = "completed"
    phase: str = "start-up"
    error: str | None = None
    details: str | None = None  # traceback, for error.txt
    signum: int | None = None
    received: list[int] = field(default_factory=list)  # stop signals this process received (StopSignals)
    fallback: dict | None = None  # the planning fallback that stopped the run (on_failure = "stop")
    handlers: bool = True  # the command line's StopSignals are in force (else a KeyboardInterrupt is Ctrl-C)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def enter(self, phase: str) -> None:
        if self.ok:
            self.phase = phase

    def stop(self, exc: BaseException) -> None:
        if not self.ok:
            return
        signum = stop_signal(exc)
        if signum is None:
            signum = stop_signal(root_cause(exc))  # a Ctrl-C that mosaik wrapped
        if signum is not None and (signum in self.received or not self.handlers and signum == signal.SIGINT):
            # under the command line's handlers a KeyboardInterrupt raised by code is an error; without them
            # (a library call) Python's own SIGINT handler raised it
            self.signum = signum
            self.status = "interrupted" if signum == signal.SIGINT else "terminated"
            name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
            self.error = f"stopped by {name} during {self.phase}"
            return
        cause = root_cause(exc)
        if isinstance(cause, PlanningStopped):  # asked for: the reason is the message, no Python traceback
            self.status = "stopped"
            self.error = one_line(str(cause))
            self.fallback = cause.event
            return
        self.status = "failed"
        self.error = one_line(f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__)
        self.details = "".join(traceback.format_exception(exc))


def run_scenario(scenario: Scenario, output_dir: str | Path | None = None, progress: bool = True,
                 plots: bool | None = None) -> RunSummary:
    """Run `scenario` under mosaik; results go to <output_dir>/<scenario>-<timestamp>/.

    `plots`: draw plots/ and report.html at the end (None: the scenario's `[output] plots`, true by default). Without
    them no figure process is started, and the manifest's `figures` says they were not made (`cosim report` makes
    them later from the tables).

    Installs no signal handler (the command line does, see the module's docstring); whatever ends the call, the
    run's controller workers and their processes are gone when it returns or raises."""
    if plots is None:
        plots = scenario.output.plots
    stops = current_stops()
    stops.final_exit_code = None
    with stops.held():
        with stops.raising():  # before any output: a signal simply ends the call
            from cosim.networks import load_radial  # noqa: PLC0415
            from cosim.runner.world import check_buses  # noqa: PLC0415 - imports mosaik and all simulators

            radial = load_radial(scenario.network, near=scenario.plugin_dir)  # once per process, shared
            check_buses(scenario, radial.n_bus)  # bad input: fail before any output
            _warm_up(radial)
        run_dir, manifest = _open_run_dir(scenario, output_dir)  # signals held: never a folder without manifest
        with _worker_server(scenario) as server, _plot_workers(plots) as plotter:  # before the run's keys exist
            return _run(scenario, run_dir, manifest, stops, progress, plots, server, plotter)


def _warm_up(radial: Any) -> None:
    """One fast power flow on the run's network, so the compiled kernels are loaded once here, before the fork
    server is forked: every controller worker then starts with them (instead of loading them from disk's cache)."""
    import numpy as np  # noqa: PLC0415

    from cosim.powerflow import solve_radial_batch  # noqa: PLC0415

    try:
        solve_radial_batch(radial, np.asarray(radial.tie_branches), radial.p_load_kw, radial.q_load_kvar)
    except Exception:  # noqa: BLE001 - only a head start; the run checks the network itself
        pass


def _worker_server(scenario: Scenario) -> Any:
    """The run's fork server for its isolated controller (activated for the DSO), or nothing when plans run in
    process."""
    if not scenario.controller_isolation:
        return contextlib.nullcontext()
    from cosim.controllers.isolation import ControllerSpec, worker_server  # noqa: PLC0415

    return worker_server(ControllerSpec(scenario.controller, str(scenario.plugin_dir) if scenario.plugin_dir else None))


def _plot_workers(plots: bool) -> Any:
    """The run's figure processes (`cosim.runner.plot_workers`), warming up while it simulates; nothing without
    plots. Closed when the figures are drawn, and whatever ends the run."""
    if not plots:
        return contextlib.nullcontext()
    from cosim.runner.plot_workers import PlotWorkers  # noqa: PLC0415 - no matplotlib in this process

    return PlotWorkers()


def _open_run_dir(scenario: Scenario, output_dir: str | Path | None) -> tuple[Path, dict]:
    """A fresh run folder with its first manifest and its reserved space; `OutputDirError` when it cannot be
    written (nothing is left behind then)."""
    run_dir = new_run_dir(output_dir or scenario.output_dir, scenario.name)
    try:
        manifest = start_manifest(run_dir, scenario.raw, str(scenario.path) if scenario.path else None,
                                  scenario.seed, scenario.step_minutes)
        reserve_space(run_dir)
    except OSError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise output_dir_error(run_dir, exc, "run folder") from None
    return run_dir, manifest


def _run(scenario: Scenario, run_dir: Path, manifest: dict, stops: StopSignals, progress: bool,
         plots: bool, server: Any, plotter: Any = None) -> RunSummary:
    from cosim.runner import timing  # noqa: PLC0415 - with the world below: mosaik and the simulators
    from cosim.runner.world import build_world  # noqa: PLC0415

    timing.reset()
    t0 = time.perf_counter()
    outcome = _Outcome(received=stops.received, handlers=stops.installed)
    built = None
    try:
        with stops.raising(), _activated(server):
            built = build_world(scenario, run_dir, progress=progress)
            outcome.enter("simulation")
            built.world.run(until=built.until, print_progress=False)
            if stops.received:  # mosaik catches a Ctrl-C inside its loop and returns as if it had finished
                raise stop_exception(stops.received[0])
    except BaseException as exc:  # noqa: BLE001 - any error or stop ends the run; we keep what was recorded
        outcome.stop(exc)
    if server is not None:
        server.close()  # the simulation is over: no worker, nor anything it started, goes on
    if built is not None:
        _shutdown(built.world, stopped=not outcome.ok)
    wall = time.perf_counter() - t0
    timing_info = _timing_info(timing.STEP_SECONDS, wall, scenario.days)
    folder = RunFolder(run_dir)
    last_hour = _last_hour(folder)
    kpis: dict[str, float] = {}
    outcome.enter("post-processing")
    if last_hour is not None:
        try:
            with stops.raising():
                from cosim.runner.postprocess import postprocess  # noqa: PLC0415

                kpis = postprocess(folder, scenario)
                if plots and outcome.ok:
                    from cosim.runner.report import make_plots  # noqa: PLC0415 - matplotlib

                    outcome.enter("plotting")
                    make_plots(run_dir, run_info={"status": outcome.status, "timing": timing_info}, workers=plotter)
                    if plotter is not None:
                        plotter.close()  # done: no figure process waits through the rest of the run
        except BaseException as exc:  # noqa: BLE001 - as above; a failed run's post-processing may fail again
            outcome.stop(exc)
    if stops.pending:  # a signal held back since the last phase (report.html written, say): the run stops here
        outcome.stop(stop_exception(stops.pending.pop(0)))
    _finish(run_dir, manifest, outcome, folder, last_hour, kpis, timing_info, scenario.hours, plots)
    # the manifest is final: a signal from now on (held until the caller's next raising block) changes nothing
    if plots and outcome.ok:
        _refresh_page(run_dir)
    if not outcome.ok:
        where = f"after hour {last_hour}" if last_hour is not None else "before the first hour"
        message = f"run {outcome.status} {where}: {outcome.error}. Results recorded so far are in {run_dir}"
        if outcome.signum is not None:
            error: RunError = RunInterrupted(message, outcome.signum)
        elif outcome.status == "stopped":
            error = PlanningStopped(message, outcome.fallback)
        else:
            error = RunError(message)
        stops.final_exit_code = getattr(error, "exit_code", 1)
        raise error
    stops.final_exit_code = 0
    stops.pending.clear()
    return RunSummary(run_dir, outcome.status, wall, kpis, timing_info)


FIGURES_MADE = "plots/ and report.html"
FIGURES_OFF = ("not made (plots off: [output] plots = false, cosim run --no-plots or run_scenario(plots=False)); "
               "`cosim report <run_dir>` draws them from the tables")
FIGURES_STOPPED = ("not made, or not all (the run did not complete); `cosim report <run_dir>` draws what the recorded "
                   "tables allow")


def _figures_note(plots: bool, completed: bool) -> str:
    """The manifest's `figures`: whether the run drew its figures and report.html, and if not, why and how to."""
    if not plots:
        return FIGURES_OFF
    return FIGURES_MADE if completed else FIGURES_STOPPED


def _refresh_page(run_dir: Path) -> None:
    """report.html again, now with the final manifest (status, finish time, timing); a page that cannot be
    rewritten keeps the one drawn with the figures (`cosim report` rebuilds it)."""
    from cosim.runner.report import refresh_report_page  # noqa: PLC0415 - matplotlib's side

    try:
        refresh_report_page(run_dir)
    except (OSError, InputError) as exc:
        log.warning("report.html not refreshed with the final manifest: %s", exc)


def _activated(server: Any) -> Any:
    """The block in which the DSO's isolated plans go through `server` (nothing without one)."""
    return server.activated() if server is not None else contextlib.nullcontext()


def _shutdown(world: Any, stopped: bool) -> None:
    """Shut the world down; after a stop, first cancel the simulators' tasks that the stop left waiting (else
    asyncio reports each one as "Task was destroyed but it is pending!" when it is collected)."""
    loop = getattr(world, "loop", None)
    if stopped and loop is not None and not loop.is_closed() and not loop.is_running():
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        except BaseException:  # noqa: BLE001 - a task re-raising the error or sys.exit that already ended the run
            pass
    try:
        world.shutdown()
    except BaseException:  # noqa: BLE001 - shutting down a broken world must not hide the first error
        pass


def _last_hour(folder: RunFolder) -> float | None:
    try:
        return folder.last_recorded_hour()
    except (OSError, ValueError):
        return None


def _timing_info(step_seconds: dict[str, float], wall: float, days: int) -> dict[str, Any]:
    sim_seconds = {k: round(v, 4) for k, v in step_seconds.items()}
    return {"run_wall_s": round(wall, 3), "simulator_s": sim_seconds,
            "mosaik_share": round(max(0.0, 1.0 - sum(sim_seconds.values()) / wall), 4) if wall > 0 else None,
            "wall_s_per_simulated_day": round(wall / max(days, 1), 3)}


def _finish(run_dir: Path, manifest: dict, outcome: _Outcome, folder: RunFolder, last_hour: float | None,
            kpis: dict[str, float], timing_info: dict[str, Any], hours: int, plots: bool = True) -> None:
    """The final manifest (then error.txt), with every stop signal held back meanwhile."""
    if not outcome.ok:  # a table that pandas was writing when the run stopped: keep its whole lines only
        for path in sorted(run_dir.glob("*.csv")):
            trim_to_whole_lines(path)
        trim_to_whole_lines(folder.file("plans.jsonl"))
    try:
        events = folder.events()
    except (OSError, ValueError):
        events = []
    extra: dict[str, Any] = {
        "kpis": kpis, "simulated_hours": hours, "timing": timing_info,
        "fallbacks": [e for e in events if e.get("event") == "planning fallback"]
        + ([outcome.fallback] if outcome.fallback else []),  # the one that stopped the run never reached events.csv
        "figures": _figures_note(plots, outcome.ok),
        "negotiations": [e for e in events if str(e.get("event")).startswith("negotiation")],
        "data_events": [e for e in events if e.get("event") != "planning fallback"
                        and not str(e.get("event")).startswith("negotiation")]}
    if not outcome.ok:
        extra["stopped_in"] = outcome.phase
        extra["signal"] = signal.Signals(outcome.signum).name if outcome.signum is not None else None
    try:
        finish_manifest(run_dir, manifest, outcome.status, last_hour, outcome.error, extra)
    except OSError as exc:
        raise RunError(f"run {outcome.status}, and its manifest could not be written ({exc}); the results "
                       f"recorded are in {run_dir}") from None
    if outcome.details:
        write_error_file(run_dir, f"{outcome.error} (during {outcome.phase})", outcome.details)
