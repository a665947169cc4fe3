"""Run a scenario end to end: build the mosaik world, run it, post-process and plot; keep whatever was recorded
when a run fails part-way, and say where it stopped in the manifest."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from cosim.config import Scenario
from cosim.errors import RunError
from cosim.results import RunFolder, finish_manifest, new_run_dir, start_manifest


@dataclass
class RunSummary:
    run_dir: Path
    status: str
    wall_s: float
    kpis: dict[str, float]
    timing: dict | None = None


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception (mosaik wraps simulator errors), for a message users can act on."""
    seen = set()
    while (exc.__cause__ or exc.__context__) is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return exc


def run_scenario(scenario: Scenario, output_dir: str | Path | None = None, progress: bool = True,
                 plots: bool = True) -> RunSummary:
    """Run `scenario` under mosaik; results go to <output_dir>/<scenario>-<timestamp>/."""
    from cosim.networks import load_network  # noqa: PLC0415
    from cosim.runner.world import build_world, check_buses  # noqa: PLC0415 - imports mosaik and all simulators

    n_bus = load_network(scenario.network, near=scenario.plugin_dir).radial.n_bus
    check_buses(scenario, n_bus)  # bad input: fail before any output
    run_dir = new_run_dir(output_dir or scenario.output_dir, scenario.name)
    manifest = start_manifest(run_dir, scenario.raw, str(scenario.path) if scenario.path else None, scenario.seed)
    from cosim.runner import timing  # noqa: PLC0415

    timing.reset()
    t0 = time.perf_counter()
    status, error = "completed", None
    built = None
    try:
        built = build_world(scenario, run_dir, progress=progress)
        built.world.run(until=built.until, print_progress=False)
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user"
    except Exception as exc:  # noqa: BLE001 - any simulator error ends the run; we keep what was recorded
        cause = root_cause(exc)
        status, error = "failed", f"{type(cause).__name__}: {cause}"
        (run_dir / "error.txt").write_text("".join(traceback.format_exception(exc)))
    finally:
        if built is not None:
            try:
                built.world.shutdown()
            except Exception:  # noqa: BLE001 - shutting down a broken world must not hide the first error
                pass
    wall = time.perf_counter() - t0
    sim_seconds = {k: round(v, 4) for k, v in timing.STEP_SECONDS.items()}
    timing_info = {"run_wall_s": round(wall, 3), "simulator_s": sim_seconds,
                   "mosaik_share": round(max(0.0, 1.0 - sum(sim_seconds.values()) / wall), 4) if wall > 0 else None,
                   "wall_s_per_simulated_day": round(wall / max(scenario.days, 1), 3)}
    folder = RunFolder(run_dir)
    last_hour = folder.last_recorded_hour()
    kpis: dict[str, float] = {}
    if last_hour is not None:
        from cosim.runner.postprocess import postprocess  # noqa: PLC0415

        kpis = postprocess(folder, scenario)
        if plots:
            from cosim.runner.report import make_plots  # noqa: PLC0415

            make_plots(run_dir)
    events = folder.events()
    finish_manifest(run_dir, manifest, status, last_hour, error,
                    {"kpis": kpis, "simulated_hours": scenario.hours, "timing": timing_info,
                     "fallbacks": [e for e in events if e["event"] == "planning fallback"],
                     "negotiations": [e for e in events if e["event"].startswith("negotiation")],
                     "data_events": [e for e in events if e["event"] != "planning fallback"
                                     and not e["event"].startswith("negotiation")]})
    if status != "completed":
        where = f"after hour {last_hour}" if last_hour is not None else "before the first hour"
        raise RunError(f"run {status} {where}: {error}. Results recorded so far are in {run_dir}")
    return RunSummary(run_dir, status, wall, kpis, timing_info)
