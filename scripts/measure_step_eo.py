"""EO's day-ahead plan of the default scenario's day at 60-, 30- and 15-minute steps: wall time and result.

The problem is tests/controllers/data/default_day_problem.json (the DSO's EO problem of day 2 of
scenarios/default.toml), refined to 48 and 96 steps by holding each hour's values (tests/controllers/steps_fixtures.py).
EO runs with the default budget (30 particles x 500 iterations, seed 0); each step is timed `--repeat` times after
one warm-up plan (numba compilation), and the fastest wall time is printed.

    PYTHONPATH=. python scripts/measure_step_eo.py [--n-iter 500] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "controllers"))

from steps_fixtures import refined_problem  # noqa: E402
from test_plan_pinned import default_day_problem  # noqa: E402

from cosim.controllers.metaheuristic import EOController  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=500)
    parser.add_argument("--n-particles", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    hourly = default_day_problem()
    print("| step (min) | steps | EO wall time (s) | evaluations | of3 (kWh) | feasible |")
    print("|---|---|---|---|---|---|")
    for minutes in (60, 30, 15):
        problem = hourly if minutes == 60 else refined_problem(hourly, minutes)
        EOController(n_particles=args.n_particles, n_iter=2, seed=0).plan(problem)  # compile, warm the caches
        best, plan = float("inf"), None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            plan = EOController(n_particles=args.n_particles, n_iter=args.n_iter, seed=0).plan(problem)
            best = min(best, time.perf_counter() - t0)
        print(f"| {minutes} | {problem.steps_per_day} | {best:.2f} | {plan.info['evaluations']} | "
              f"{plan.predicted['of3_kwh']:.2f} | {plan.feasible} |")


if __name__ == "__main__":
    main()
