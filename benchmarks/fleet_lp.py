"""The per-EV linear programme (`cosim.controllers.fleet_lp.dispatch`) on its real instances: size and time a solve.

    .venv/bin/python benchmarks/fleet_lp.py                      # env_ieee33, 2 episodes after a warm-up one
    .venv/bin/python benchmarks/fleet_lp.py --episodes 1 --repeat 5

It runs `cosim.env.DsoEnv` on the scenario (fast grid, recorder off, random policy) and keeps every LP the
environment solves (the DSO's plan check, the PLO's and the lot's dispatch: `fleet_lp._dispatch`, the solves the
kept-solution cache did not answer). It then solves each again `--repeat` times and prints the LP's size (columns,
rows, nonzeros, simplex iterations) and the CPU time per solve, the model building apart from HiGHS's part
(`highs_lp.solve_lp`). With `--reference` it also times the dense formulation before the sparse one on the same
instances (tests/controllers/fleet_lp_reference.py, through `linprog`) and prints the largest difference of the
deviation (kWh) between the two.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def capture(scenario: str, episodes: int) -> list[tuple[dict, np.ndarray]]:
    """(fleet, schedule kW) of every per-EV LP the environment solves in `episodes` episodes after a warm-up one."""
    from cosim.controllers import fleet_lp  # noqa: PLC0415
    from cosim.env import TRAINING_DAYS, DsoEnv  # noqa: PLC0415

    seen: list[tuple[dict, np.ndarray]] = []
    solve = fleet_lp._dispatch

    def keep(fleet: dict, p: np.ndarray):
        seen.append((dict(fleet), np.array(p, float)))
        return solve(fleet, p)

    fleet_lp._dispatch = keep
    days = TRAINING_DAYS if "env_ieee33" in scenario else None
    env = DsoEnv(scenario, days=days, reseed=days is not None, engine="fast", record=False)
    try:
        for episode in range(episodes + 1):
            if episode == 1:
                seen.clear()  # the warm-up episode's LPs are not counted
            env.reset(seed=episode)
            env.action_space.seed(episode)
            done = False
            while not done:
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                done = terminated or truncated
    finally:
        env.close()
        fleet_lp._dispatch = solve
    return seen


def measure(instances: list, repeat: int) -> dict[str, float]:
    """Mean size and CPU ms per solve (all, HiGHS's part) of `fleet_lp._dispatch` over `instances`, best of
    `repeat`."""
    from cosim.controllers import fleet_lp, highs_lp  # noqa: PLC0415

    sizes, spent = [], [0.0]
    solve = highs_lp.solve_lp

    def timed(cost, col_lower, col_upper, a, row_lower, row_upper):
        sizes.append((cost.size, row_lower.size, a.nnz))
        start = time.process_time()
        out = solve(cost, col_lower, col_upper, a, row_lower, row_upper)
        spent[0] += time.process_time() - start
        return out

    fleet_lp.solve_lp = timed
    best, best_highs = np.inf, np.inf
    try:
        for _ in range(repeat):
            spent[0] = 0.0
            start = time.process_time()
            for fleet, p in instances:
                fleet_lp._dispatch(fleet, p)
            best = min(best, time.process_time() - start)
            best_highs = min(best_highs, spent[0])
    finally:
        fleet_lp.solve_lp = solve
    n = len(instances)
    cols, rows, nnz = np.mean(sizes, axis=0)
    return {"ms": 1e3 * best / n, "highs_ms": 1e3 * best_highs / n, "cols": cols, "rows": rows, "nnz": nnz}


def measure_reference(instances: list, repeat: int) -> tuple[float, float]:
    """CPU ms per solve of the dense formulation (best of `repeat`) and its largest deviation difference (kWh)."""
    sys.path.insert(0, str(ROOT))
    from cosim.controllers import fleet_lp  # noqa: PLC0415
    from tests.controllers.fleet_lp_reference import reference_dispatch  # noqa: PLC0415

    best = np.inf
    for _ in range(repeat):
        start = time.process_time()
        gaps = [reference_dispatch(fleet, p)[1] for fleet, p in instances]
        best = min(best, time.process_time() - start)
    ours = [fleet_lp._dispatch(fleet, p)[1] for fleet, p in instances]
    return 1e3 * best / len(instances), float(np.max(np.abs(np.subtract(ours, gaps)), initial=0.0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "env_ieee33.toml"))
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", action="store_true", help="also time the dense formulation before")
    args = parser.parse_args(argv)
    instances = capture(args.scenario, args.episodes)
    if not instances:
        print("no per-EV LP solved in these episodes")
        return 0
    m = measure(instances, args.repeat)
    print(f"per-EV LP: {len(instances)} solves in {args.episodes} episode(s); {m['cols']:.0f} columns, "
          f"{m['rows']:.0f} rows, {m['nnz']:.0f} nonzeros on average")
    print(f"  fleet_lp.dispatch: {m['ms']:.2f} ms CPU per solve (HiGHS, solve_lp: {m['highs_ms']:.2f} ms; model "
          f"building and the rest {m['ms'] - m['highs_ms']:.2f} ms)")
    if args.reference:
        ms, gap = measure_reference(instances, args.repeat)
        print(f"  dense formulation before, through linprog: {ms:.2f} ms CPU per solve ({ms / m['ms']:.1f}x); "
              f"largest deviation difference {gap:.1e} kWh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
