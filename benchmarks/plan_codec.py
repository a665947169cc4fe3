"""Cost of sending a plan across the plug-in boundary as plain data (`cosim.controllers.plan_codec`) against pickle.

The default scenario's controller (EO 30 x 500, OF3) plans seed 000's day-ahead problem (scenario 4:
reconfiguration + one lot) once; then its plan is sent through each path `--repeats` times, interleaved in blocks,
and the median per plan is printed: `pickle.dumps` + `pickle.loads` (what the worker's pipe carried before),
`encode_plan` + `decode` (what it carries now), and `snapshot` (the in-process copy of `isolation = false`), with
the message sizes. Usage:

    .venv/bin/python benchmarks/plan_codec.py --repeats 2000
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import time
from typing import Any, Callable


def _median_us(fn: Callable[[], Any], repeats: int, block: int = 50) -> list[float]:
    """Per-call wall times (µs) of `fn`, timed in blocks of `block` calls."""
    out = []
    for _ in range(max(1, repeats // block)):
        t0 = time.perf_counter()
        for _ in range(block):
            fn()
        out.append((time.perf_counter() - t0) / block * 1e6)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2000, help="calls per path (median of blocks of 50 reported)")
    ap.add_argument("--n-particles", type=int, default=30)
    ap.add_argument("--n-iter", type=int, default=500)
    args = ap.parse_args(argv)

    from cosim.controllers.metaheuristic import EOController  # noqa: PLC0415 - after the arguments are read
    from cosim.controllers.plan_codec import decode, encode_plan, snapshot  # noqa: PLC0415
    from cosim.studies.joape2024.study import seed000_problem  # noqa: PLC0415 - pandapower

    plan = EOController(n_particles=args.n_particles, n_iter=args.n_iter, seed=0).plan(seed000_problem(4, "of3"))
    paths = {"pickle dumps + loads": lambda: pickle.loads(pickle.dumps(plan)),
             "encode_plan + decode": lambda: decode(encode_plan(plan)),
             "snapshot (in process)": lambda: snapshot(plan)}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(5):  # interleaved: load on a shared machine hits every path alike
        for name, fn in paths.items():
            times[name] += _median_us(fn, args.repeats // 5)
    sizes = {"pickle dumps + loads": len(pickle.dumps(plan)), "encode_plan + decode": len(encode_plan(plan))}
    print(f"EO {args.n_particles} x {args.n_iter} plan of seed 000's day-ahead problem (scenario 4, OF3): "
          f"{len(plan.setpoints_kw)} lot(s), {len(plan.predicted_hourly)} hourly predictions, "
          f"{len(plan.info.get('history', ()))} history values; {args.repeats} calls per path; pid {os.getpid()}, "
          f"{os.cpu_count()} CPUs")
    header = f"{'path':<24}{'median µs':>11}{'min µs':>9}{'bytes':>8}"
    print(header)
    print("-" * len(header))
    for name, ts in times.items():
        size = f"{sizes[name]:8d}" if name in sizes else f"{'-':>8}"
        print(f"{name:<24}{statistics.median(ts):11.1f}{min(ts):9.1f}{size}")


if __name__ == "__main__":
    main()
