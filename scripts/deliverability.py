"""Are the DSO's plans deliverable? Every shipped scenario with every built-in controller (small budgets, one day,
perfect forecasts): energy the lots did not deliver against their setpoints, and contract energy missed against
what the fleet could not reach in any case (the envelopes' shortfall).

    .venv/bin/python scripts/deliverability.py [--scenarios default,seed000_s4_both] [--controllers eo,milp]
                                               [--n-chargers 20] [--markdown docs/DELIVERABILITY.md]

Prints one row per run; with --markdown writes the table (with the command and the commit) to that file. The test
suite runs the same function on a subset (tests/e2e/test_deliverable_plans.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cosim.config import ScenarioFileError, parse_scenario, read_toml  # noqa: E402
from cosim.runner.run import run_scenario  # noqa: E402
from cosim.textio import markdown_table  # noqa: E402

# small budgets: the point is deliverability, not optimality
CONTROLLERS: dict[str, dict] = {
    "eo": {"name": "eo", "options": {"n_particles": 6, "n_iter": 8, "seed": 0}},
    "pso": {"name": "pso", "options": {"n_particles": 6, "n_iter": 8, "seed": 0}},
    "ga": {"name": "ga", "options": {"n_particles": 6, "n_iter": 8, "seed": 0}},
    "rule": {"name": "rule", "options": {}},
    "milp": {"name": "milp", "options": {"time_limit_s": 20.0, "n_segments": 4}},
    "mpc": {"name": "mpc", "options": {"n_particles": 4, "n_iter": 3, "seed": 0}},
    "plo-lp": {"name": "eo", "options": {"n_particles": 4, "n_iter": 2, "seed": 0}, "mode": "signals"},
}
SCENARIOS = ("default", "data_quality", "seed000_s1_base", "seed000_s2_lot", "seed000_s3_reconf", "seed000_s4_both",
             "simbench_mv_comm", "simbench_mv_rural", "simbench_mv_semiurb", "simbench_mv_urban")


def deliverability(scenario: str, controller: str, out: Path, n_chargers: int | None = None) -> dict:
    """One run of `scenario` (a file name under scenarios/ without .toml) with `controller` (a `CONTROLLERS` key):
    the lots' undelivered energy (kWh, setpoint above what was delivered, summed over hours), contract energy
    missed at departures, and the envelopes' shortfall (contracts the fleet cannot reach whatever the plan)."""
    spec = dict(CONTROLLERS[controller])
    mode = spec.pop("mode", None)
    path = ROOT / "scenarios" / f"{scenario}.toml"
    raw = read_toml(path, ScenarioFileError, "scenario file")
    raw.update(days=1, controller=spec, output_dir=str(out))
    raw.pop("seasons", None)
    if mode is not None:
        raw["exchange"] = {**raw.get("exchange", {}), "mode": mode}
    if n_chargers is not None:
        raw["lots"] = [{**lot, "n_chargers": n_chargers} for lot in raw.get("lots", [])]
    scen = parse_scenario(raw, where=str(path), path=path)
    t0 = time.perf_counter()
    summary = run_scenario(scen, progress=False, plots=False)
    wall = time.perf_counter() - t0
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    events = pd.read_csv(summary.run_dir / "events.csv") if (summary.run_dir / "events.csv").is_file() \
        else pd.DataFrame(columns=["event", "detail"])
    short = events[events["event"] == "contracts beyond the fleet"]["detail"].str.extract(r"^([0-9.]+) kWh")[0]
    n_lot_days = max(len(scen.lots), 1) * scen.days
    undelivered = float(lots["undelivered_kw"].clip(lower=0).sum()) if len(lots) else 0.0
    per_lot = (lots.assign(u=lots["undelivered_kw"].clip(lower=0)).groupby("id")["u"].sum().max()
               if len(lots) else 0.0)
    return {"scenario": scenario, "controller": controller, "lots": len(scen.lots),
            "n_chargers": "as scenario" if n_chargers is None else n_chargers,
            "undelivered_kwh": round(undelivered, 3), "undelivered_max_lot_day_kwh": round(float(per_lot), 3),
            "unmet_kwh": round(float(summary.kpis.get("unmet_energy_kwh") or 0.0), 3),
            "shortfall_kwh": round(float(short.astype(float).sum()) if len(short) else 0.0, 3),
            "fallbacks": int(summary.kpis.get("fallbacks") or 0),
            "repairs": int((events["event"] == "plan repaired").sum()), "lot_days": n_lot_days,
            "wall_s": round(wall, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--controllers", default=",".join(CONTROLLERS))
    parser.add_argument("--n-chargers", type=int, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios.split(","):
            for controller in args.controllers.split(","):
                row = deliverability(scenario, controller, Path(tmp), args.n_chargers)
                print(json.dumps(row), flush=True)
                rows.append(row)
    if args.markdown:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        table = markdown_table(rows)
        cmd = "python scripts/deliverability.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.markdown.write_text(f"<!-- generated by `{cmd}` at commit {commit} -->\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
