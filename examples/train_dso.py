"""Train a DSO policy on the real co-simulation and compare it with the built-in controllers on held-out days.

    .venv/bin/python examples/train_dso.py                                  # PPO with the [train] extra, else CEM
    .venv/bin/python examples/train_dso.py --algo ppo cem --steps 2000 --markdown docs/LEARNING.md

Training: `cosim.env.DsoEnv` on scenarios/env_ieee33.toml, each episode a day drawn from `TRAINING_DAYS` with a
fresh seed (fleet, forecast errors), in the training set-up (the fast grid engine, the recorder off:
`DsoEnv(engine="fast", record=False)`). `--algo ppo` uses stable-baselines3's PPO on CPU torch (`pip install
.[train]`); without it the script says so and trains with the numpy cross-entropy method (`cosim.env.cem`).
Evaluation: every day of `EVALUATION_DAYS` (other dates than training's), the learned policy in the environment
and `cosim run` with `eo`, `mpc` and `none` on the same day and seed: energy losses, voltage-violation hours,
unmet energy (the KPIs `cosim run` reports), a table (stdout, and `--markdown`) and a figure (`--figure`).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KPIS = ("energy_losses_kwh", "voltage_violation_hours", "unmet_energy_kwh")
EVAL_SEED = 1000


def train_ppo(scenario, steps: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    from stable_baselines3 import PPO  # noqa: PLC0415 - the [train] extra

    from cosim.env import TRAINING_DAYS, DsoEnv  # noqa: PLC0415

    env = DsoEnv(scenario, days=TRAINING_DAYS, reseed=True, engine="fast", record=False)
    model = PPO("MlpPolicy", env, n_steps=240, batch_size=60, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=steps)
    env.close()
    return lambda obs: model.predict(obs, deterministic=True)[0]


def train_cem(scenario, steps: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    from cosim.env import TRAINING_DAYS, DsoEnv  # noqa: PLC0415
    from cosim.env.cem import train_cem as cem  # noqa: PLC0415

    env = DsoEnv(scenario, days=TRAINING_DAYS, reseed=True, engine="fast", record=False)
    population = 6
    generations = max(1, steps // (24 * population))
    result = cem(env, generations=generations, population=population, elite=2, seed=seed)
    env.close()
    for g, h in enumerate(result.history):
        print(f"  CEM generation {g}: mean return {h['mean']:.1f}, best {h['best']:.1f}")
    return result.best.act


def evaluate_policy(scenario, act, days) -> list[dict[str, float]]:
    from cosim.env import DsoEnv  # noqa: PLC0415

    rows = []
    for profile, day in days:
        env = DsoEnv(replace(scenario, market_profile=profile, start_day=day, seed=EVAL_SEED))
        obs, _ = env.reset(seed=0)
        done = False
        while not done:
            obs, _, done, _, _ = env.step(np.clip(np.asarray(act(obs), np.float32), -1.0, 1.0))
        rows.append({k: env.kpis()[k] for k in KPIS})
        env.close()
    return rows


def evaluate_controller(scenario, name: str, days, out: Path) -> list[dict[str, float]]:
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    options: dict[str, Any] = {"none": {}, "eo": dict(scenario.controller_options),
                               "mpc": {**scenario.controller_options, "revise_n_iter": 20}}[name]
    rows = []
    for profile, day in days:
        s = replace(scenario, market_profile=profile, start_day=day, seed=EVAL_SEED, controller=name,
                    controller_options=options)
        rows.append({k: run_scenario(s, output_dir=out, progress=False, plots=False).kpis[k] for k in KPIS})
    return rows


def table(results: dict[str, list[dict[str, float]]], n_days: int) -> str:
    """The comparison as a markdown table: each KPI's mean over the days and the losses' gap to `eo` (%)."""
    eo = np.mean([r["energy_losses_kwh"] for r in results["eo"]]) if "eo" in results else None
    lines = ["| policy | days | " + " | ".join(f"{k} (mean)" for k in KPIS) + " | losses vs eo |",
             "|---|---|" + "---|" * (len(KPIS) + 1)]
    for name, rows in results.items():
        means = [np.mean([r[k] for r in rows]) for k in KPIS]
        gap = f"{means[0] / eo - 1:+.1%}" if eo else "-"
        lines.append(f"| {name} | {n_days} | " + " | ".join(f"{m:.2f}" for m in means) + f" | {gap} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios/env_ieee33.toml"))
    parser.add_argument("--algo", nargs="+", choices=("ppo", "cem"), default=["ppo"],
                        help="one or more: each is trained and evaluated")
    parser.add_argument("--steps", type=int, default=20_000, help="training steps (simulated hours)")
    parser.add_argument("--eval-days", type=int, default=None, help="first N held-out days (default: all)")
    parser.add_argument("--controllers", nargs="*", default=["eo", "mpc", "none"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "results" / "train_dso"))
    parser.add_argument("--figure", default=None, help="PNG of the comparison")
    parser.add_argument("--markdown", default=None, help="write the comparison as a generated docs page")
    args = parser.parse_args()

    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.env import EVALUATION_DAYS  # noqa: PLC0415

    scenario = load_scenario(args.scenario)
    algos = list(dict.fromkeys(args.algo))
    if "ppo" in algos:
        try:
            import stable_baselines3  # noqa: F401, PLC0415
        except ImportError:
            print("stable-baselines3 / torch not installed (pip install .[train]): training with the numpy "
                  "cross-entropy method instead")
            algos = list(dict.fromkeys(["cem" if a == "ppo" else a for a in algos]))
    days = EVALUATION_DAYS[:args.eval_days] if args.eval_days else EVALUATION_DAYS
    out = Path(args.out)
    results: dict[str, list[dict[str, float]]] = {}
    train_s: dict[str, float] = {}
    for algo in algos:
        t0 = time.perf_counter()
        act = (train_ppo if algo == "ppo" else train_cem)(scenario, args.steps, args.seed)
        train_s[algo] = time.perf_counter() - t0
        print(f"trained {algo} for {args.steps} steps in {train_s[algo]:.0f} s")
        results[f"learned ({algo})"] = evaluate_policy(scenario, act, days)
    for name in args.controllers:
        results[name] = evaluate_controller(scenario, name, days, out)
    text = table(results, len(days))
    print(text)
    if args.figure:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig, axes = plt.subplots(1, len(KPIS), figsize=(4 * len(KPIS), 3.2))
        for ax, k in zip(axes, KPIS):
            ax.bar(list(results), [np.mean([r[k] for r in rows]) for rows in results.values()])
            ax.set_title(k, fontsize=9)
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=120)
    if args.markdown:
        sys.path.insert(0, str(ROOT / "scripts"))
        from regenerate_docs import generated_page  # noqa: PLC0415

        command = "python " + " ".join(["examples/train_dso.py", *sys.argv[1:]])
        trained = ", ".join(f"{a} ({train_s[a]:.0f} s of training on this machine)" for a in algos)
        intro = (f"DSO policies trained for {args.steps} simulated hours each with {trained} on "
                 "`scenarios/env_ieee33.toml`'s training days (fast grid engine, recorder off), against `cosim run` "
                 f"with each built-in controller on {len(days)} held-out days (`cosim.env.EVALUATION_DAYS`, seed "
                 f"{EVAL_SEED}): mean energy losses (kWh/day), voltage-violation hours, unmet contract energy "
                 "(kWh/day), and the losses' gap to `eo`.")
        Path(args.markdown).write_text(generated_page(command, "# Learned DSO policy against the controllers",
                                                      intro, text))


if __name__ == "__main__":
    main()
