"""The DSO's per-plan overhead in a real run: the wall time from asking the run's fork server for a plan
(`plan_through`) to having it back, minus the controller's own `plan()` time measured inside the worker, and what
of it building the controller from its spec and unpickling the problem take (issue 23, item 1: should the
controller be built once per run and plan workers forked from it?).

    .venv/bin/python benchmarks/plan_overhead.py            # the default scenario (EO 30 x 500), 4 days
    .venv/bin/python benchmarks/plan_overhead.py --days 2

A 1-day warm-up run first (imports, network, kernels), then the measured run; one line per plan, then medians.
The worker's timings are written by a timed copy of `_Requested.plan` (the same three steps: unpickle, build,
plan) installed before the run's fork server is forked, so every worker runs it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _timed_requested_plan(log: Path):
    """`_Requested.plan`, timing its steps into `log` (one JSON line per plan, perf_counter clock)."""
    def plan(self: Any, problem: Any) -> Any:
        import pickle  # noqa: PLC0415

        from cosim.controllers.registry import make_controller  # noqa: PLC0415

        t0 = time.perf_counter()
        spec, problem, revision = pickle.loads(self.request)
        t1 = time.perf_counter()
        controller = make_controller(spec.name, near=spec.near, **dict(spec.options))
        t2 = time.perf_counter()
        result = controller.plan(problem) if revision is None else controller.revise(problem, *revision)
        t3 = time.perf_counter()
        with open(log, "a") as fh:
            fh.write(json.dumps({"unpickle_s": t1 - t0, "build_s": t2 - t1, "plan_s": t3 - t2}) + "\n")
        return result
    return plan


def measure(days: int) -> list[dict[str, float]]:
    """Per plan of a `days`-day default run: ask-to-back wall, the worker's unpickle, build and plan times."""
    import cosim.controllers.isolation as isolation  # noqa: PLC0415
    import simulators.dso.agent as agent  # noqa: PLC0415
    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    asked: list[float] = []
    through = agent.plan_through

    def timed_through(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return through(*args, **kwargs)
        finally:
            asked.append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "plans.jsonl"
        isolation._Requested.plan = _timed_requested_plan(log)
        agent.plan_through = timed_through
        scenario = ROOT / "scenarios" / "default.toml"
        run_scenario(load_scenario(scenario, overrides={"days": 1}), output_dir=tmp, progress=False, plots=False)
        asked.clear()
        log.write_text("")
        run_scenario(load_scenario(scenario, overrides={"days": days}), output_dir=tmp, progress=False, plots=False)
        inner = [json.loads(line) for line in log.read_text().splitlines()]
    return [{"asked_s": a, **i} for a, i in zip(asked, inner)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=4, help="days of the measured run (one plan a day)")
    args = parser.parse_args(argv)
    rows = measure(args.days)
    for r in rows:
        print(f"  plan {1000 * r['plan_s']:8.1f} ms; asked-to-back {1000 * r['asked_s']:8.1f} ms; overhead "
              f"{1000 * (r['asked_s'] - r['plan_s']):6.1f} ms (unpickling the problem {1000 * r['unpickle_s']:.1f} ms, "
              f"building the controller {1000 * r['build_s']:.2f} ms)")
    med = {k: statistics.median(r[k] for r in rows) for k in ("unpickle_s", "build_s")}
    over = statistics.median(r["asked_s"] - r["plan_s"] for r in rows)
    print(f"per-plan overhead, median of {len(rows)} plans: {1000 * over:.1f} ms wall, of which building the "
          f"controller {1000 * med['build_s']:.2f} ms and unpickling the problem {1000 * med['unpickle_s']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
