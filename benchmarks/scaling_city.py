"""The city section of benchmarks/scaling.py (`--city`): SimBench's urban MV+LV grid against its own unit, a warm
`pandapower.runpp` of the full city net (its second call, CPU time of this process), all measured in one process:

* one fast flow of the full city (`ConvertedNetwork.flow`, second call, CPU): target at least 20x faster;
* a simulated hour of scenarios/city_mvlv_urban.toml averaged over its day (`run_scenario`, CPU time of this
  process and its children / 24; set-up and network conversion outside, in `load_scenario`): target at most 10
  runpp calls;
* the run's peak memory (largest resident set of this process or a child): target at most 4 GB.
"""

from __future__ import annotations

import resource
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CITY_SCENARIO = ROOT / "scenarios" / "city_mvlv_urban.toml"
CODE = "1-MVLV-urban-all-0-sw"
TARGETS = {"fast_flow_speedup": 20.0, "hour_in_runpp_calls": 10.0, "peak_gb": 4.0}


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _second_call_cpu_s(call) -> float:
    call()
    t0 = time.process_time()
    call()
    return time.process_time() - t0


def city_figures(eo_options: dict[str, int] | None = None) -> dict[str, Any]:
    """The figures of the module docstring (run in a fresh process: the peak memory is the city's own)."""
    import pandapower as pp  # noqa: PLC0415

    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.networks import load_network  # noqa: PLC0415
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    warnings.filterwarnings("ignore")
    full = load_network(f"simbench:{CODE}")
    net, r = full.net, full.radial
    runpp_s = _second_call_cpu_s(lambda: pp.runpp(net, calculate_voltage_angles=True, lightsim2grid=False))
    fast_s = _second_call_cpu_s(lambda: r.flow(r.tie_branches, r.p_load_kw, r.q_load_kvar))
    with tempfile.TemporaryDirectory() as tmp:
        overrides: dict[str, Any] = {"output_dir": tmp}
        if eo_options:
            overrides["controller"] = {"name": "eo", "options": eo_options}
        scenario = load_scenario(CITY_SCENARIO, overrides)
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        summary = run_scenario(scenario, progress=False, plots=False)
        cpu, wall = _cpu_s() - cpu0, time.perf_counter() - wall0
    peak_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    hour_s = cpu / scenario.hours
    return {"buses": r.n_bus, "lots": len(scenario.lots), "evs_per_day": sum(lot.fleet_options.get("n_per_day", 0)
                                                                              for lot in scenario.lots),
            "runpp_ms": 1000 * runpp_s, "fast_flow_ms": 1000 * fast_s, "fast_flow_speedup": runpp_s / fast_s,
            "hour_cpu_s": hour_s, "hour_in_runpp_calls": hour_s / runpp_s, "day_wall_s": wall,
            "peak_gb": peak_mb / 1024, "fallbacks": summary.kpis.get("fallbacks")}


def print_city(fig: dict[str, Any]) -> None:
    """The city section, ratios against the warm runpp and each target."""
    print(f"\ncity: SimBench {CODE} ({fig['buses']} buses), {fig['lots']} lots, {fig['evs_per_day']} EVs a day; "
          f"unit: a warm pandapower.runpp of the full net, {fig['runpp_ms']:.1f} ms CPU")
    print(f"  one fast flow of the full city  {fig['fast_flow_ms']:8.2f} ms CPU   {fig['fast_flow_speedup']:6.1f}x "
          f"faster than runpp (target >= {TARGETS['fast_flow_speedup']:g}x)")
    print(f"  a simulated hour (day mean)     {fig['hour_cpu_s']:8.2f} s CPU    {fig['hour_in_runpp_calls']:6.1f} "
          f"runpp calls (target <= {TARGETS['hour_in_runpp_calls']:g}); the day took {fig['day_wall_s']:.0f} s wall, "
          f"{fig['fallbacks']} planning fallback(s)")
    print(f"  peak memory                     {fig['peak_gb']:8.2f} GB        (target <= {TARGETS['peak_gb']:g} GB)")


def city_markdown(fig: dict[str, Any], command: str, commit: str) -> str:
    """The city figures as a Markdown block: the command, the commit and the machine's load first."""
    import os  # noqa: PLC0415

    load = os.getloadavg()[0]
    rows = [("one fast flow of the full city", f"{fig['fast_flow_ms']:.2f} ms CPU",
             f"{fig['fast_flow_speedup']:.1f}x faster than runpp", f">= {TARGETS['fast_flow_speedup']:g}x",
             fig["fast_flow_speedup"] >= TARGETS["fast_flow_speedup"]),
            ("a simulated hour (day mean)", f"{fig['hour_cpu_s']:.2f} s CPU",
             f"{fig['hour_in_runpp_calls']:.1f} runpp calls", f"<= {TARGETS['hour_in_runpp_calls']:g}",
             fig["hour_in_runpp_calls"] <= TARGETS["hour_in_runpp_calls"]),
            ("peak memory", f"{fig['peak_gb']:.2f} GB", "-", f"<= {TARGETS['peak_gb']:g} GB",
             fig["peak_gb"] <= TARGETS["peak_gb"])]
    lines = [f"_Generated by `{command}` at commit `{commit}` ({time.strftime('%Y-%m-%d', time.gmtime())}; "
             f"{os.cpu_count()} cores shared with other jobs, load average {load:.1f} at the end; CPU times of this "
             "process and its children). Do not edit by hand: rerun the command._", "",
             f"SimBench `{CODE}`: {fig['buses']} buses, {fig['lots']} lots, {fig['evs_per_day']} EVs a day; the unit "
             f"is a warm `pandapower.runpp` of the full net, {fig['runpp_ms']:.1f} ms CPU. The day took "
             f"{fig['day_wall_s']:.0f} s wall with {fig['fallbacks']} planning fallback(s).", "",
             "| figure | measured | as a ratio | target | met |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {'yes' if ok else 'no'} |" for a, b, c, d, ok in rows]
    return "\n".join(lines)
