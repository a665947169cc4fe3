"""What a run's figures and report.html cost, and how much of it a `cosim run` still waits for (issue 23, item 4).

One default-scenario run folder (run here without plots, or `--run-dir`) is drawn in three ways:

- **in one process, cold** (the run's way before the figure processes, and `cosim report`'s way): a fresh Python
  process that already holds what a run holds (pandas, the run's tables' modules, the network) imports the report
  module, matplotlib with it, and calls `make_plots`; the time from the import to the page.
- **in one process, warm** (matplotlib already imported): `make_plots` again, with where its time goes (reading the
  tables, each figure's drawing and its `savefig`, the page).
- **the run's way**: `PlotWorkers` started (a fork server that imports matplotlib and warms up), left `--warm-s`
  seconds (the simulation that a run overlaps them with; the default scenario simulates for longer), then
  `make_plots(workers=...)` and `close()`: what the run waits for once its tables are final. Also without the
  warm-up time (started and used at once): a run shorter than the warm-up. The run draws in one process per
  core it may use, up to `PROCESSES` (4); where this machine has fewer cores, `PROCESSES` processes are measured too,
  sharing them: their wall time means nothing then, their CPU on the critical path is what a machine with that
  many free cores waits.

"CPU on the critical path": the CPU seconds of the run's process while it waits plus the slowest drawing process's
(its own count from its fork): the wall time where each process has a core of its own, which a loaded
machine (this one is shared) does not give. It leaves out the workers' fork and the pipe's latency.

The unit: a bare matplotlib `savefig` of one empty 3.5 x 2.3 in figure to PNG at 300 dpi, in this process (the
median of 20, after one). Every figure is printed in seconds and in that unit, all measured in this one run; the
machine's load average at the start and the end is printed beside them.

    .venv/bin/python benchmarks/plots.py [--run-dir RUN] [--repeats 5] [--markdown docs/VALIDATION.md]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cosim.runner.plot_workers import PROCESSES, processes_wanted

ROOT = Path(__file__).resolve().parent.parent
BLOCK = "plots-benchmark"
TARGET_S = 0.4  # issue 23, item 4: plots and report.html in at most 0.4 s

COLD = """
import sys, time
import pandas  # what the run's process holds when it draws
import cosim.results
from cosim.networks import load_radial
load_radial({network!r})
t0, c0 = time.perf_counter(), time.process_time()
from cosim.runner.report import make_plots
make_plots(sys.argv[1])
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def default_run(out: Path) -> Path:
    """A run folder of the default scenario, drawn without plots (the benchmark draws them)."""
    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    scenario = load_scenario(ROOT / "scenarios" / "default.toml")
    return run_scenario(scenario, output_dir=out, progress=False, plots=False).run_dir


def unit_s() -> float:
    """The median time of a bare savefig of one empty column-wide figure to PNG at 300 dpi, in this process."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    times = []
    for _ in range(21):
        fig = plt.figure(figsize=(3.5, 2.3))
        t0 = time.perf_counter()
        fig.savefig(io.BytesIO(), dpi=300, format="png")
        times.append(time.perf_counter() - t0)
        plt.close(fig)
    return statistics.median(times[1:])


def cold_s(run_dir: Path, network: str, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of `make_plots` in a fresh process, matplotlib's import included."""
    code = COLD.format(network=network)
    walls, cpus = [], []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True, check=True,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall, cpu = done.stdout.strip().splitlines()[-1].split()
        walls.append(float(wall))
        cpus.append(float(cpu))
    return statistics.median(walls), statistics.median(cpus)


def warm_breakdown(run_dir: Path, repeats: int) -> tuple[float, float, dict[str, float]]:
    """Median (wall, CPU) seconds of `make_plots` in this process (matplotlib imported), and where the wall time of
    the last call went: reading the tables, each figure's drawing and its savefig, the page and the rest."""
    from cosim.runner import figure_style, report  # noqa: PLC0415

    totals, cpus, parts = [], [], {}
    for _ in range(repeats + 1):
        parts = {}
        original_save = figure_style.Writer.save
        original_read = report.read_tables

        def save(self, fig, name, caption, _orig=original_save):
            t0 = time.perf_counter()
            try:
                return _orig(self, fig, name, caption)
            finally:
                parts[f"savefig {name}"] = time.perf_counter() - t0

        def read(*args, _orig=original_read):
            t0 = time.perf_counter()
            try:
                return _orig(*args)
            finally:
                parts["read the tables"] = time.perf_counter() - t0

        figure_style.Writer.save, report.read_tables = save, read
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            report.make_plots(run_dir)
            totals.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        finally:
            figure_style.Writer.save, report.read_tables = original_save, original_read
    parts["figures' drawing, the page and the rest"] = totals[-1] - sum(parts.values())
    return statistics.median(totals[1:]), statistics.median(cpus[1:]), parts


def workers_s(run_dir: Path, repeats: int, warm_s: float, processes: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds the run waits for its figures: `make_plots(workers=...)` and `close()`, `warm_s`
    after the figure processes started. CPU: this process's CPU in that time plus the slowest figure worker's (the
    wall time where each process has a core of its own)."""
    from cosim.runner.plot_workers import PlotWorkers  # noqa: PLC0415
    from cosim.runner.report import make_plots  # noqa: PLC0415

    walls, cpus = [], []
    for _ in range(repeats):
        workers = PlotWorkers(processes).start()
        try:
            time.sleep(warm_s)
            t0, c0 = time.perf_counter(), time.process_time()
            make_plots(run_dir, workers=workers)
            workers.close()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0 + max(workers.cpu_s))
        finally:
            workers.close()
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, default=None, help="a run folder of the default scenario (default: run "
                                                               "one now, without plots, into a temporary folder)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warm-s", type=float, default=5.0, help="seconds the figure processes warm up (a run's "
                                                              "simulation) before they draw")
    ap.add_argument("--markdown", type=Path, default=None, metavar="DOC",
                    help=f"also write the figures as block {BLOCK!r} of DOC")
    args = ap.parse_args()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-plots-") as tmp:
        run_dir = args.run_dir or default_run(Path(tmp))
        if args.run_dir is None:
            print(f"default scenario run (no plots) in {run_dir}")
        from cosim.results import RunFolder  # noqa: PLC0415

        network = ((RunFolder(run_dir).manifest.get("scenario") or {}).get("network") or {}).get("name", "ieee33")
        cold = cold_s(run_dir, network, args.repeats)
        unit = unit_s()
        warm_wall, warm_cpu, parts = warm_breakdown(run_dir, args.repeats)
        n = processes_wanted()
        run_wait = workers_s(run_dir, args.repeats, args.warm_s, n)
        at_once = workers_s(run_dir, args.repeats, 0.0, n)
        most = workers_s(run_dir, args.repeats, args.warm_s, PROCESSES) if PROCESSES > n else None
        n_figures = len(list((run_dir / "plots").glob("*.png")))
    rows = [("in one process, cold (matplotlib's import included; `cosim report`)", *cold),
            ("in one process, warm (matplotlib imported)", warm_wall, warm_cpu),
            (f"the run waits: {n} drawing processes (this machine's cores), {args.warm_s:g} s after their start",
             *run_wait),
            (f"the run waits: {n} drawing processes used at once (their warm-up not overlapped)", at_once[0],
             float("nan"))]
    if most is not None:
        rows.append((f"the run waits: {PROCESSES} drawing processes (a machine with {PROCESSES} free cores: the CPU "
                     "column; here they share the cores)", *most))
    print(f"unit: a bare savefig of an empty 3.5 x 2.3 in figure, PNG at 300 dpi = {1000 * unit:.1f} ms")
    print(f"{n_figures} figures and report.html, median of {args.repeats}; wall, and CPU on the critical path:")
    for what, wall, cpu in rows:
        print(f"  {what}: wall {wall:.3f} s = {wall / unit:.0f} units; CPU {cell(cpu)} s = {cell(cpu / unit, 0)} "
              "units")
    print("where the warm in-process wall time goes (its last call):")
    for what, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {what}: {seconds:.3f} s")
    print(target_line(run_wait, most, cold))
    load_end = os.getloadavg()[0]
    print(f"load average {load_start:.1f} at the start, {load_end:.1f} at the end ({os.cpu_count()} cores)")
    if args.markdown is not None:
        write_markdown(args, rows, unit, parts, n_figures, target_line(run_wait, most, cold), load_start, load_end)
        print(f"wrote block {BLOCK!r} of {args.markdown}")


def cell(value: float, digits: int = 3) -> str:
    """A figure, or "-" where it is not measured (the warm-up's CPU of figure processes used at once)."""
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def target_line(run_wait: tuple[float, float], most: tuple[float, float] | None, cold: tuple[float, float]) -> str:
    """Issue 23's target against the run's wait (wall and critical-path CPU) and the cold in-process cost."""
    wall, cpu = run_wait
    text = (f"Issue 23's target (plots and report.html in at most {TARGET_S} s, or in a background process the run "
            f"waits for): the figures are drawn in background processes that warm up while the run simulates; here "
            f"the run waits {wall:.3f} s wall ({wall / cold[0]:.2f}x the cold in-process {cold[0]:.3f} s) and "
            f"{cpu:.3f} s CPU on its critical path ({cpu / cold[1]:.2f}x the cold in-process {cold[1]:.3f} s CPU)")
    if most is not None:
        text += (f"; with {PROCESSES} processes {most[1]:.3f} s CPU on the critical path "
                 f"({most[1] / cold[1]:.2f}x), {TARGET_S} s {'met' if most[1] <= TARGET_S else 'missed'} there")
    return text + f"; {TARGET_S} s {'met' if wall <= TARGET_S else 'missed'} in wall time on this machine."


def write_markdown(args: Any, rows: list[tuple[str, float, float]], unit: float, parts: dict[str, float],
                   n_figures: int, target: str, load_start: float, load_end: float) -> None:
    """The figures of this run as block BLOCK of args.markdown (the command and the commit first)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from regenerate_docs import commit, replace_block  # noqa: PLC0415 - the docs' block helpers

    command = "benchmarks/plots.py " + " ".join(sys.argv[1:])
    lines = [f"_Generated by `{command.strip()}` at commit `{commit()}` ({time.strftime('%Y-%m-%d', time.gmtime())}; "
             f"{os.cpu_count()} cores shared with other jobs, load average {load_start:.1f} at the start and "
             f"{load_end:.1f} at the end; the median of {args.repeats}). Do not edit by hand: rerun the command._", "",
             f"The default scenario's {n_figures} figures and report.html. Unit: a bare matplotlib savefig of an "
             f"empty 3.5 x 2.3 in figure to PNG at 300 dpi in the same process, {1000 * unit:.1f} ms. CPU: on the "
             "critical path (the run's process plus the slowest figure process: the wall time where each has a "
             "core of its own, as on a quiet machine).", "",
             "| how | wall (s) | wall (units) | CPU (s) | CPU (units) |", "|---|---|---|---|---|"]
    lines += [f"| {what} | {wall:.3f} | {wall / unit:.0f} | {cell(cpu)} | {cell(cpu / unit, 0)} |"
              for what, wall, cpu in rows]
    lines += ["", "Where the warm in-process wall time goes: " + ", ".join(
        f"{what} {seconds:.3f} s" for what, seconds in sorted(parts.items(), key=lambda kv: -kv[1])) + ".", "",
        target]
    path = args.markdown
    path.write_text(replace_block(path.read_text(), BLOCK, "\n".join(lines)))


if __name__ == "__main__":
    main()
