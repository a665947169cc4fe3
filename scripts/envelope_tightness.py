"""How close is a lot's envelope (4 x 24 bounds plus the suffix bounds) to what its EVs can really do?

For a few lots (the default scenario's seed-000 lot, the same with 20 chargers, SimBench-style stochastic lots), the
per-EV linear programme (`cosim.controllers.fleet_lp`, every EV its own charge and discharge) is the reference:

* per hour, the largest charging and discharging power, and the energy range at each hour end: the envelope's
  bounds are sums of per-EV extremes, so these match (checked);
* the largest energy shift between two hours, max p(b) - p(a) over every ordered pair of hours, in the envelope
  and in the per-EV LP: where the envelope is larger it overstates the fleet, where smaller it gives flexibility up;
* random directions: the envelope's extreme schedule in each (clipped inside by `FlexEnvelope.project`), how far it
  is from anything the EVs can do (per-EV LP) and from what the lot then delivers (the SimPy-free lot model run
  hour by hour with the schedule as setpoints).

    .venv/bin/python scripts/envelope_tightness.py [--directions 40] [--markdown docs/ENVELOPE.md]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cosim.controllers.envelope import FlexEnvelope  # noqa: E402
from cosim.controllers.fleet_lp import deliverable, max_schedule_kwh  # noqa: E402
from cosim.textio import markdown_table  # noqa: E402
from simulators.parking.fleet import stochastic_fleet  # noqa: E402
from simulators.parking.forecast import envelope_of, fleet_forecast  # noqa: E402
from simulators.parking.lot import ParkingLot  # noqa: E402
from simulators.parking.presets import preset_fleet  # noqa: E402

LOTS = {
    "seed000, 100 chargers (default)": lambda: ParkingLot(preset_fleet("seed000", seed=0), n_chargers=100,
                                                          connection_limit_kw=1000.0),
    "seed000, 20 chargers": lambda: ParkingLot(preset_fleet("seed000", seed=0), n_chargers=20,
                                               connection_limit_kw=1000.0),
    "stochastic 150 EVs, 80 chargers": lambda: ParkingLot(stochastic_fleet(150, seed=0, days=2), n_chargers=80,
                                                          connection_limit_kw=1000.0),
    "stochastic 100 EVs, no V2G": lambda: ParkingLot(stochastic_fleet(100, seed=1, days=2, v2g_share=0.0),
                                                     connection_limit_kw=1000.0),
}


def envelope_max(env: FlexEnvelope, w: np.ndarray) -> tuple[float, np.ndarray]:
    """max w . p over the envelope (charge c and discharge d per hour, as the per-EV LP has them)."""
    H = env.hours
    tri = np.tril(np.ones((H, H)))
    eye = np.eye(H)
    net = np.hstack([eye, -eye])
    energy = np.hstack([tri * env.eta_charge, -tri / env.eta_discharge])
    rows = [net, -net, energy, -energy]
    rhs = [env.p_max_kw, -env.p_min_kw, env.e_max_kwh, -env.e_min_kwh]
    if env.has_suffix:
        after = energy[-1][None, :] - energy
        rows += [after, -after]
        rhs += [env.gain_max_kwh, env.drop_max_kwh]
    bounds = list(zip(np.zeros(2 * H), np.concatenate([np.maximum(env.p_max_kw, 0), np.maximum(-env.p_min_kw, 0)])))
    res = linprog(-np.concatenate([w, -w]), A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=bounds,
                  method="highs")
    x = res.x
    return float(-res.fun), x[:H] - x[H:]


def lot_delivers(make, schedule: np.ndarray) -> float:
    """kWh between `schedule` and what a fresh lot delivers with it as hourly setpoints."""
    lot = make()
    return float(sum(abs(lot.advance(float(schedule[h]), h + 1.0)["p_kw"] - schedule[h]) for h in range(24)))


def measure(name: str, make, directions: int, rng: np.random.Generator) -> dict:
    lot = make()
    fleet = fleet_forecast(lot, 0.0)
    env = envelope_of(fleet)
    hourly_ok = all(envelope_max(env, np.eye(24)[h])[0] <= max_schedule_kwh(fleet, np.eye(24)[h]) + 1e-3
                    for h in range(24))
    shifts_env, shifts_lp = [], []
    for a in range(24):
        for b in range(24):
            if a == b:
                continue
            w = np.zeros(24)
            w[b], w[a] = 1.0, -1.0
            shifts_env.append(envelope_max(env, w)[0])
            shifts_lp.append(max_schedule_kwh(fleet, w))
    se, sl = np.array(shifts_env), np.array(shifts_lp)
    lp_gap, lot_gap = [], []
    for _ in range(directions):
        w = rng.normal(size=24)
        p = env.project(envelope_max(env, w)[1])
        lp_gap.append(deliverable(fleet, p))
        lot_gap.append(lot_delivers(make, p))
    lp_gap, lot_gap = np.array(lp_gap), np.array(lot_gap)
    return {"lot": name, "EVs": len(fleet["plug_min"]), "unreachable_kwh": round(env.shortfall_kwh, 1),
            "hourly_bounds_within_per_EV": hourly_ok,
            "largest_shift_envelope_kwh": round(float(se.max()), 1),
            "largest_shift_per_EV_kwh": round(float(sl.max()), 1),
            "pairs_overstated_pct": round(100 * float(np.mean(se > sl + 1e-3)), 1),
            "pairs_given_up_pct": round(100 * float(np.mean(se < sl - 1e-3)), 1),
            "shift_given_up_mean_pct": round(100 * float(np.mean(np.maximum(sl - se, 0) / np.maximum(sl, 1e-9))), 1),
            "shift_overstated_max_kwh": round(float(np.max(se - sl)), 1),
            "random_extremes": directions,
            "deliverable_per_EV_pct": round(100 * float(np.mean(lp_gap <= 1.0)), 1),
            "per_EV_gap_mean_kwh": round(float(lp_gap.mean()), 1),
            "lot_delivers_pct": round(100 * float(np.mean(lot_gap <= 1.0)), 1),
            "lot_gap_mean_kwh": round(float(lot_gap.mean()), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directions", type=int, default=40)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for name, make in LOTS.items():
        row = measure(name, make, args.directions, rng)
        print(row, flush=True)
        rows.append(row)
    if args.markdown:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        cmd = "python scripts/envelope_tightness.py " + " ".join(sys.argv[1:] if argv is None else argv)
        table = markdown_table([{k: v for k, v in r.items()} for r in rows])
        args.markdown.write_text(f"<!-- generated by `{cmd}` at commit {commit} -->\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
