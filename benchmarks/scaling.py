"""How wall time and peak memory grow with simulated days, EVs per lot, lots, network size and sweep workers.

Each case runs in a fresh Python process (so peak RSS is that case's own), after a one-day warm-up run
outside the clock (imports and network build are a one-off per process, not growth); cases of up to 7 days
take the best of 3 runs. The workers axis is a sweep from a cold start, set-up included. All cases use the
"rule" controller without reconfiguration (cheap and deterministic: we measure the co-simulation, not an
optimiser's budget) and seeded stochastic fleets. Figures are printed as ratios to the smallest case of
each axis, all measured in this one run.

    .venv/bin/python benchmarks/scaling.py            # days 1/7/30, EVs 100/1000, lots 1/4, networks, workers 1/2
    .venv/bin/python benchmarks/scaling.py --full     # adds 365 days, 10,000 EVs a day and 16 lots
    .venv/bin/python benchmarks/scaling.py --day      # only the simulated day and the sweep costs (below)
    .venv/bin/python benchmarks/scaling.py --city     # only the city: SimBench urban MV+LV (scaling_city.py)

The simulated day (issue 23): CPU of a 4-day run of the default scenario (EO 30 x 500) minus a 1-day run, so that
start-up cancels, in a fresh process after a 1-day warm-up run, counted in "runpp calls": the median CPU time of
20 `pandapower.runpp` calls on `case33bw()` (numba off, no recycling) in that same process. Each engine of the
grid simulator that the scenario's `[network] engine` accepts is measured. The sweep costs: sweeps of the
default scenario (1 and 4 one-day variations, one worker, each in a fresh process from its start, imports
included; the least CPU of 2 processes per size); a variation costs the CPU difference per added variation, and
the fixed cost is the rest.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUSES = {"ieee33": [18, 25, 31, 33, 6, 10, 14, 22, 29, 12, 16, 20, 24, 28, 30, 32],
         "ieee69": [27, 50, 65, 69, 9, 18, 35, 46, 58, 61, 12, 22, 40, 53, 63, 67],
         "dist118": [50, 70, 90, 110, 20, 30, 40, 60, 80, 100, 10, 25, 45, 65, 85, 105],
         # SimBench MV grids (original nets operated through their switches): the scenarios' lot buses first
         "simbench:1-MV-rural--0-sw": [52, 62, 92, 13], "simbench:1-MV-semiurb--0-sw": [90, 96, 12, 3],
         "simbench:1-MV-urban--0-sw": [78, 61, 9, 36], "simbench:1-MV-comm--0-sw": [83, 34, 59, 22]}
SIMBENCH_MV = [name for name in BUSES if name.startswith("simbench:")]


def scenario_raw(days: int = 1, evs: int = 100, lots: int = 1, network: str = "ieee33", seed: int = 0,
                 out: str = "results") -> dict[str, Any]:
    """A scenario dict: `lots` lots of `evs` stochastic EVs a day each, rule controller, no reconfiguration."""
    return {"name": "scaling", "days": days, "seed": seed, "output_dir": out,
            "network": {"name": network, "reconfigure": False}, "market": {"profile": "seed000"},
            "controller": {"name": "rule"}, "exchange": {"mode": "centralised"},
            "lots": [{"id": f"PL{i + 1}", "bus": BUSES[network][i], "fleet": "stochastic",
                      "fleet_options": {"n_per_day": evs}, "n_chargers": max(100, evs // 2),
                      "connection_limit_kw": 1000.0} for i in range(lots)]}


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def run_case(case: dict[str, Any]) -> dict[str, float]:
    """In this (fresh) process: one co-simulation, or a sweep of `variations` one-day runs on `workers`."""
    if "day_engine" in case:
        return simulated_day_case(case["day_engine"])
    if "sweep_variations" in case:
        return sweep_cost_case(case["sweep_variations"])
    with tempfile.TemporaryDirectory() as tmp:
        if "workers" in case:  # a user's sweep from a cold start: imports and set-up are inside the clock
            from cosim.sweep.runner import run_sweep  # noqa: PLC0415
            from cosim.sweep.spec import parse_sweep  # noqa: PLC0415

            base = Path(tmp) / "base.toml"
            base.write_text(_toml(scenario_raw()))
            sweep = parse_sweep({"base": str(base), "grid": {"seed": list(range(case["variations"]))}},
                                output_dir=Path(tmp) / "sweep")
            t0 = time.perf_counter()
            result = run_sweep(sweep, workers=case["workers"], quiet=True)
            wall = time.perf_counter() - t0
            assert not result.failed, result.table[["variation_id", "error"]]
        else:
            from cosim.config import parse_scenario  # noqa: PLC0415
            from cosim.runner.run import run_scenario  # noqa: PLC0415

            # one-off set-up (imports, network build, first-call costs) outside the clock: a 1-day warm-up run
            run_scenario(parse_scenario(scenario_raw(network=case["network"], out=tmp)), progress=False, plots=False)
            sc = parse_scenario(scenario_raw(case["days"], case["evs"], case["lots"], case["network"], out=tmp))
            wall = float("inf")
            for _ in range(1 if case["days"] > 7 else 3):  # short cases: best of 3 (the machine may be shared)
                t0 = time.perf_counter()
                run_scenario(sc, progress=False, plots=False)
                wall = min(wall, time.perf_counter() - t0)
    return {"wall_s": wall, "peak_rss_mb": max(peak_rss_mb(), peak_rss_mb(resource.RUSAGE_CHILDREN))}


DAY_RUNPP_TARGET = {"pandapower": 30.0, "fast": 15.0}  # issue 23: a simulated day in runpp calls, at most
SWEEP_VARIATIONS = 4  # the larger sweep of the sweep costs (the smaller has one variation)
SWEEP_REPEATS = 2  # fresh processes per sweep size; the least CPU counts (a shared machine only adds)


def cpu_s() -> float:
    """CPU seconds of this process and of its children that have ended (controller workers, sweep workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def runpp_cpu_s(calls: int = 20) -> float:
    """Issue 23's unit: the median CPU time of `calls` pandapower.runpp on case33bw (numba off, no recycling)."""
    import pandapower as pp  # noqa: PLC0415
    import pandapower.networks as pn  # noqa: PLC0415

    net = pn.case33bw()
    pp.runpp(net, numba=False)  # first call: pandapower's own one-off set-up, outside the unit
    times = []
    for _ in range(calls):
        t0 = time.process_time()
        pp.runpp(net, numba=False, recycle=None)
        times.append(time.process_time() - t0)
    return float(statistics.median(times))


def default_scenario(days: int, engine: str | None = None) -> Any:
    """The default scenario for `days` days (and the grid engine `engine`, when given)."""
    from cosim.config import load_scenario  # noqa: PLC0415

    overrides: dict[str, Any] = {"days": days}
    if engine is not None:
        overrides["network"] = {"name": "ieee33", "reconfigure": True, "engine": engine}
    return load_scenario(ROOT / "scenarios" / "default.toml", overrides=overrides)


def engine_available(engine: str) -> bool:
    """Whether the scenario accepts `[network] engine = engine` (the fast engine lands separately)."""
    from cosim.errors import InputError  # noqa: PLC0415

    if engine == "pandapower":
        return True
    try:
        default_scenario(1, engine)
    except InputError:
        return False
    return True


def simulated_day_case(engine: str, repeats: int = 2) -> dict[str, float]:
    """In this (fresh) process: the CPU of a simulated day (4-day minus 1-day run, the least of `repeats` each)
    with the grid engine `engine`, and the runpp unit measured here too."""
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    eng = None if engine == "pandapower" else engine
    with tempfile.TemporaryDirectory() as tmp:
        run_scenario(default_scenario(1, eng), output_dir=tmp, progress=False, plots=False)  # warm-up
        cpu = {1: float("inf"), 4: float("inf")}
        for _ in range(repeats):
            for days in (1, 4):
                c0 = cpu_s()
                run_scenario(default_scenario(days, eng), output_dir=tmp, progress=False, plots=False)
                cpu[days] = min(cpu[days], cpu_s() - c0)
    day = (cpu[4] - cpu[1]) / 3.0
    return {"day_cpu_s": day, "run1_cpu_s": cpu[1], "runpp_cpu_s": runpp_cpu_s()}


def sweep_cost_case(variations: int) -> dict[str, float]:
    """In this (fresh) process: a sweep of `variations` one-day default-scenario runs (seeds 0, 1, ...) on one
    worker; the CPU of the whole process from its start (imports included), and the runpp unit after it."""
    from cosim.sweep.runner import run_sweep  # noqa: PLC0415
    from cosim.sweep.spec import parse_sweep  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        sweep = parse_sweep({"base": str(ROOT / "scenarios" / "default.toml"),
                             "grid": {"seed": list(range(variations))}}, output_dir=Path(tmp) / "sweep")
        result = run_sweep(sweep, workers=1, quiet=True)
        assert not result.failed, result.table[["variation_id", "error"]]
        total = cpu_s()
    return {"cpu_s": total, "runpp_cpu_s": runpp_cpu_s()}


def day_section() -> None:
    """Print the simulated day of each engine and the sweep costs (issue 23, items 1 and 6)."""
    print("simulated day: default scenario (EO 30 x 500), CPU of a 4-day minus a 1-day run, fresh process each")
    day_s: float | None = None
    for engine in ("pandapower", "fast"):
        if not engine_available(engine):
            print(f"  engine {engine!r}: not available ([network] engine is not accepted yet)")
            continue
        r = measure({"day_engine": engine})
        calls = r["day_cpu_s"] / r["runpp_cpu_s"]
        if engine == "pandapower":
            day_s = r["day_cpu_s"]
        target = DAY_RUNPP_TARGET[engine]
        print(f"  engine {engine!r}: simulated day = {calls:.1f} runpp calls ({r['day_cpu_s']:.3f} s CPU; "
              f"runpp = {1000 * r['runpp_cpu_s']:.2f} ms CPU; target <= {target:.0f}: "
              f"{'met' if calls <= target else 'missed'})")
        sys.stdout.flush()
    one, more = (min((measure({"sweep_variations": n})["cpu_s"] for _ in range(SWEEP_REPEATS)))
                 for n in (1, SWEEP_VARIATIONS))
    per = (more - one) / (SWEEP_VARIATIONS - 1)
    fixed = one - per
    print(f"sweep of one-day default-scenario variations, one worker, CPU from a cold start (1 and "
          f"{SWEEP_VARIATIONS} variations, the least of {SWEEP_REPEATS} fresh processes each)")
    print(f"  a variation = {per:.3f} s CPU; minus the simulated day = {per - (day_s or float('nan')):+.3f} s "
          f"(target <= +0.2: {'met' if day_s is not None and per - day_s <= 0.2 else 'missed'})")
    print(f"  a sweep's fixed cost = {fixed:.3f} s CPU (target <= 3: {'met' if fixed <= 3.0 else 'missed'})")
    sys.stdout.flush()


def _toml(raw: dict[str, Any]) -> str:
    """Just enough TOML for `scenario_raw` dicts (scalars, arrays of ints, inline tables, arrays of tables)."""
    def val(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return json.dumps(v)

    lines = [f"{k} = {val(v)}" for k, v in raw.items() if not isinstance(v, (dict, list))]
    for k, v in raw.items():
        if isinstance(v, dict):
            lines += [f"[{k}]", *[f"{kk} = {val(x)}" for kk, x in v.items()]]
    for lot in raw["lots"]:
        lines += ["[[lots]]", *[f"{kk} = {val(x)}" for kk, x in lot.items()]]
    return "\n".join(lines) + "\n"


def measure(case: dict[str, Any]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="add 365 days, 10,000 EVs a day and 16 lots")
    parser.add_argument("--day", action="store_true", help="only the simulated day and the sweep costs")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--city", action="store_true", help="only the city section (benchmarks/scaling_city.py)")
    parser.add_argument("--markdown", type=Path, default=None, metavar="DOC",
                        help="with --city: write the city's figures as block 'city-scaling' of DOC")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    if args.city:
        return _city(args.markdown)
    day_section()
    if args.day:
        return 0
    print()
    small = {"days": 1, "evs": 100, "lots": 1, "network": "ieee33"}
    axes = {
        "simulated days": ("days", [1, 7, 30] + ([365] if args.full else [])),
        "EVs per lot a day": ("evs", [100, 1000] + ([10000] if args.full else [])),
        "lots": ("lots", [1, 4] + ([16] if args.full else [])),
        "network (buses)": ("network", ["ieee33", "ieee69", "dist118", *SIMBENCH_MV]),
    }
    print("controller 'rule', no reconfiguration, stochastic fleets, one process per case; ratios to the first row")
    for title, (key, values) in axes.items():
        rows = [(v, measure({**small, key: v})) for v in values]
        _print_axis(title, rows)
    rows = [(w, measure({"workers": w, "variations": 8})) for w in (1, 2)]
    _print_axis("sweep workers (8 one-day variations from a cold start; peak = largest single process)", rows)
    print(f"  host check: 2 CPU-bound processes run {host_parallelism():.2f}x as fast as 1 (2.00 = two free cores)")
    return 0


def _city(markdown: Path | None = None) -> int:
    """The city section (benchmarks/scaling_city.py), in a fresh process: its peak memory is the city's own;
    with `markdown`, its figures also become block 'city-scaling' of that document (command and commit first)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scaling_city import city_markdown, print_city  # noqa: PLC0415 - beside this script

    proc = subprocess.run([sys.executable, "-c", "import json, sys; sys.path.insert(0, 'benchmarks'); "
                           "from scaling_city import city_figures; print(json.dumps(city_figures()))"],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"the city case failed:\n{proc.stderr[-3000:]}")
    fig = json.loads(proc.stdout.strip().splitlines()[-1])
    print_city(fig)
    if markdown is not None:
        sys.path.insert(0, str(ROOT / "scripts"))
        from regenerate_docs import commit, replace_block  # noqa: PLC0415 - the docs' block helpers

        command = "benchmarks/scaling.py " + " ".join(sys.argv[1:])
        markdown.write_text(replace_block(markdown.read_text(), "city-scaling",
                                          city_markdown(fig, command.strip(), commit())))
        print(f"wrote block 'city-scaling' of {markdown}")
    return 0


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - t0


def host_parallelism() -> float:
    """Speed-up of 2 CPU-bound pure-Python processes over 1 on this host (2.0 = two real cores free)."""
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    one = _spin(10_000_000)
    with ProcessPoolExecutor(2) as pool:
        two = max(pool.map(_spin, [10_000_000] * 2))
    return 2 * one / two


def _print_axis(title: str, rows: list[tuple[Any, dict[str, float]]]) -> None:
    w0, m0 = rows[0][1]["wall_s"], rows[0][1]["peak_rss_mb"]
    print(f"\n{title}")
    print(f"  {'value':>10} {'wall s':>9} {'x':>6} {'peak MB':>9} {'x':>6}")
    for value, r in rows:
        print(f"  {value!s:>10} {r['wall_s']:9.2f} {r['wall_s'] / w0:6.2f} {r['peak_rss_mb']:9.0f} "
              f"{r['peak_rss_mb'] / m0:6.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
