"""Are the DSO's plans deliverable? One run of a shipped scenario with a built-in controller (small budgets, one day,
perfect forecasts): the energy the lots did not deliver against their setpoints (both ways), and the contract energy
missed against what the fleet could not reach whatever the plan (the envelopes' shortfall).

`scripts/deliverability.py` runs the whole table for docs/DELIVERABILITY.md; tests/e2e/test_deliverable_plans.py a
subset.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from cosim.config import ScenarioFileError, parse_scenario, read_toml
from cosim.runner.run import run_scenario

ROOT = Path(__file__).resolve().parents[2]

# small budgets: the point is deliverability, not optimality
CONTROLLERS: dict[str, dict[str, Any]] = {
    "eo": {"name": "eo", "options": {"n_particles": 6, "n_iter": 8, "seed": 0}},
    "pso": {"name": "pso", "options": {"n_particles": 6, "n_iter": 8, "seed": 0}},
    "ga": {"name": "ga", "options": {"n_particles": 6, "n_iter": 8, "seed": 0}},
    "rule": {"name": "rule", "options": {}},
    "milp": {"name": "milp", "options": {"time_limit_s": 10.0, "n_segments": 4}},
    "mpc": {"name": "mpc", "options": {"n_particles": 4, "n_iter": 3, "seed": 0}},
    "plo-lp": {"name": "eo", "options": {"n_particles": 4, "n_iter": 2, "seed": 0}, "mode": "signals"},
}
# every shipped scenario with a lot (seed000_s1_base and seed000_s3_reconf have none)
SCENARIOS = ("default", "data_quality", "seasonal", "seed000_s2_lot", "seed000_s4_both", "simbench_mv_comm",
             "simbench_mv_rural", "simbench_mv_semiurb", "simbench_mv_urban")
SHORTFALL = re.compile(r"^([0-9.]+) kWh")


def deliverability(scenario: str, controller: str, out: Path, n_chargers: int | None = None) -> dict[str, Any]:
    """One day of `scenario` (a file under scenarios/, without .toml) with `controller` (a `CONTROLLERS` key),
    optionally with every lot's `n_chargers` set: one row of figures (kWh unless named)."""
    spec = dict(CONTROLLERS[controller])
    mode = spec.pop("mode", None)
    path = ROOT / "scenarios" / f"{scenario}.toml"
    raw = read_toml(path, ScenarioFileError, "scenario file")
    raw.update(days=1, controller=spec, output_dir=str(out))
    if isinstance(raw.get("market"), dict) and raw["market"].get("seasons"):  # one day of its first season
        market = {k: v for k, v in raw["market"].items() if k != "seasons"}
        market["profile"] = f"{market.get('profile', 'seasonal')}:{raw['market']['seasons'][0]}"
        raw["market"] = market
    if mode is not None:
        raw["exchange"] = {**raw.get("exchange", {}), "mode": mode}
    if n_chargers is not None:
        raw["lots"] = [{**lot, "n_chargers": n_chargers} for lot in raw.get("lots", [])]
    scen = parse_scenario(raw, where=str(path), path=path)
    t0 = time.perf_counter()
    summary = run_scenario(scen, progress=False, plots=False)
    wall = time.perf_counter() - t0
    run_dirs = [summary.run_dir] if (summary.run_dir / "lots.csv").is_file() else \
        sorted(p for p in summary.run_dir.iterdir() if (p / "lots.csv").is_file())
    lots = pd.concat([pd.read_csv(d / "lots.csv") for d in run_dirs] or  # a scenario without lots: nothing to deliver
                     [pd.DataFrame(columns=["hour", "id", "undelivered_kw"])], ignore_index=True)
    events = pd.concat([pd.read_csv(d / "events.csv") for d in run_dirs if (d / "events.csv").is_file()] or
                       [pd.DataFrame(columns=["hour", "source", "event", "detail"])], ignore_index=True)
    short = events[events["event"] == "contracts beyond the fleet"]["detail"].str.extract(SHORTFALL)[0]
    step_h = scen.clock.step_h  # kW over a step of step_h hours: kWh
    gap = lots.assign(under=lots["undelivered_kw"].clip(lower=0) * step_h, any=lots["undelivered_kw"].abs() * step_h)
    per_lot_day = gap.assign(day=gap["hour"] // 24).groupby(["id", "day"])[["under", "any"]].sum()
    unmet = float(sum(pd.read_csv(d / "evs.csv")["unmet_energy_kwh"].fillna(0).sum() for d in run_dirs
                      if (d / "evs.csv").is_file()))
    return {"scenario": scenario, "controller": controller,
            "n_chargers": "scenario's" if n_chargers is None else n_chargers, "lot_days": len(per_lot_day),
            "undelivered_kwh": round(float(gap["under"].sum()), 3),
            "worst_lot_day_kwh": round(float(per_lot_day["any"].max()) if len(per_lot_day) else 0.0, 3),
            "unmet_kwh": round(unmet, 3),
            "unreachable_kwh": round(float(short.astype(float).sum()) if len(short) else 0.0, 3),
            "fallbacks": int((events["event"] == "planning fallback").sum()),
            # of which a lot's energy or bounds were the reason (the others: the grid, e.g. voltage limits)
            "lot_fallbacks": int(((events["event"] == "planning fallback")
                                  & events["detail"].str.contains("rule (?:energy|bounds)", regex=True)).sum()),
            "repairs": int((events["event"] == "plan repaired").sum()), "wall_s": round(wall, 1)}
