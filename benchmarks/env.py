"""Speed of the learning environment (`cosim.env.DsoEnv`): simulated hours per second of wall time, random policy.

    .venv/bin/python benchmarks/env.py                                   # default and env_ieee33, 3 episodes each
    .venv/bin/python benchmarks/env.py --scenarios scenarios/default.toml --episodes 5

For each scenario, with the pandapower grid, with the fast grid engine, and with the fast engine and the recorder
switched off (the training set-up), it runs `--episodes` episodes (a first episode is timed apart: imports,
compiled kernels), then prints the simulated hours per wall second of the episodes (resets included) and where the
time went: each simulator's step time (`cosim.runner.timing`; the DSO's without the time it waited for the environment),
the environment's own time (policy, observation, reward) and the rest (mosaik, the simulation thread's hand-offs).

EV2Gym comparison: with ev2gym importable (`pip install .[benchmark]`) it also runs EV2Gym's grid case (its 34-bus
feeder, 100 charging stations, its power flow on, see `Ev2GymDays`) with a random policy in the
same process, a simulated day of it after each episode of the training set-up of the last scenario (the two in
alternation: this shared machine's speed drifts by tens of percent within minutes, and alternating shakes both
alike), and prints `env steps/s ratio vs EV2Gym: N.Nx` in simulated hours per wall second (EV2Gym's steps are
15 minutes). Without it, it says so and prints no ratio.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = (("pandapower", True), ("fast", True), ("fast", False))
"""(grid engine, recorder on) per scenario: `cosim run`'s set-up, the fast engine, and the training set-up (fast
engine, recorder off: `DsoEnv(engine="fast", record=False)`); the ratio is the last's."""


def bench_scenario(path: str, episodes: int, seed: int = 0, engine: str = "pandapower",
                   record: bool = True, between: Callable[[], None] | None = None) -> dict[str, float]:
    """The figures of one set-up. `between`: called after each timed episode (EV2Gym's own simulated day, so that
    the two are measured in alternation and a shared machine's changing speed shakes both alike), its time and CPU
    left out of this set-up's."""
    from cosim.env import TRAINING_DAYS, DsoEnv  # noqa: PLC0415
    from cosim.runner import timing  # noqa: PLC0415

    days = TRAINING_DAYS if "env_ieee33" in path else None
    env = DsoEnv(path, days=days, reseed=days is not None, engine=engine, record=record)
    env.action_space.seed(seed)
    t0 = time.perf_counter()
    env.reset(seed=seed)
    first_reset_s = time.perf_counter() - t0
    done = False  # a warm-up episode, timed apart: the fast engine's kernels compile at its first power flow
    while not done:
        done = env.step(env.action_space.sample())[2]
    warmup_s = time.perf_counter() - t0
    env.close()
    timing.reset()
    LP_SECONDS.clear()
    hours, env_s, waiting = 0, 0.0, 0.0
    cpu0 = time.process_time()  # CPU time of this process (all its threads): less shaken by a shared machine's load
    t0 = time.perf_counter()
    resets_s, apart_s, apart_cpu_s = 0.0, 0.0, 0.0
    episode_rates = []  # simulated h per wall second of each episode, its reset included
    for k in range(episodes):
        if between is not None and k:  # after each episode but the last (its world has ended: nothing runs beside)
            t1, c1 = time.perf_counter(), time.process_time()
            between()
            apart_s += time.perf_counter() - t1
            apart_cpu_s += time.process_time() - c1
        t_episode, hours_before = time.perf_counter(), hours
        env.reset(seed=seed + k)
        resets_s += time.perf_counter() - t_episode
        done = False
        while not done:
            t1 = time.perf_counter()
            action = env.action_space.sample()
            t2 = time.perf_counter()
            _, _, done, _, _ = env.step(action)
            env_s += t2 - t1
            hours += 1
        waiting += env.episode.bridge.waiting_s
        episode_rates.append((hours - hours_before) / (time.perf_counter() - t_episode))
    wall = time.perf_counter() - t0 - apart_s
    cpu_s = time.process_time() - cpu0 - apart_cpu_s
    env.close()
    sims = {k: v for k, v in timing.STEP_SECONDS.items()}
    if "dso" in sims:
        sims["dso"] -= waiting
    return {"hours": hours, "wall_s": wall, "lp_s": dict(LP_SECONDS),
            "first_reset_s": first_reset_s, "warmup_s": warmup_s, "resets_s": resets_s,
            "sim_h_per_s": hours / wall, "cpu_ms_per_h": 1000.0 * cpu_s / hours, "episode_rates": episode_rates,
            "parts_s": {"policy": env_s, **sims}}


LP_SECONDS: dict[str, float] = {}


def time_per_ev_lp() -> None:
    """Sum the wall time of the per-EV linear programme (`cosim.controllers.fleet_lp`, HiGHS) the DSO (`check_plan`:
    the nearest schedule the lots' EVs can deliver, `nearest_kw`), the PLO (`follow`: the same for the schedule it
    is sent, `nearest_kw`) and the lot (its per-EV split, `dispatch`) ask for, into LP_SECONDS (a fleet and schedule
    solved before, by anyone, are answered from fleet_lp's kept solutions, at the cost of the look-up)."""
    import cosim.controllers.validation as dso  # noqa: PLC0415
    import simulators.parking.lot as lot  # noqa: PLC0415
    import simulators.plo.agent as plo  # noqa: PLC0415

    for module, label, name in ((dso, "DSO", "nearest_kw"), (plo, "PLO", "nearest_kw"), (lot, "lot", "dispatch")):
        solve = getattr(module, name)

        def timed(*args, _solve=solve, _label=label, **kwargs):
            t0 = time.perf_counter()
            try:
                return _solve(*args, **kwargs)
            finally:
                LP_SECONDS[_label] = LP_SECONDS.get(_label, 0.0) + time.perf_counter() - t0

        setattr(module, name, timed)


class Ev2GymDays:
    """EV2Gym's grid case (`V2Ggrid.yaml`: its 34-bus feeder, its power flow on) with 100 charging stations and a
    random policy, run a simulated day at a time (`day()`, its wall time kept in `day_walls_s`), and its simulated
    hours per wall second: over the days so far (`rate`) and day by day (`day_rates`).

    Its grid model reads its feeder (`data/network_data/node_34`) and its bus-load sampler (`data/augmentor.pkl`),
    both missing from ev2gym 2.0.0's wheel: the feeder's files are then `FEEDER`'s copies of its own, and the
    sampler is `ev2gym_loads.HouseholdLoads` (bus loads from the household profiles the wheel ships, cheaper to draw
    than its copula's, so EV2Gym is if anything faster than with its own), pickled for EV2Gym's own loader. Only
    where that cannot start either does it run without the power flow (a faster EV2Gym than the case asked for).
    `what` says which ran."""

    def __init__(self) -> None:
        import ev2gym  # noqa: PLC0415 - the [benchmark] extra
        import yaml  # noqa: PLC0415 - installed with ev2gym
        from ev2gym.models.ev2gym_env import EV2Gym  # noqa: PLC0415

        self.home = Path(ev2gym.__file__).resolve().parent.parent  # its configs name data files relative to here
        config = yaml.safe_load((self.home / "ev2gym/example_config_files/V2Ggrid.yaml").read_text())
        config.update(number_of_charging_stations=100, simulate_grid=True)
        feeder = _feeder_files(self.home, config["network_info"])
        loads = "its own bus-load sampler"
        with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(self.home):
            path = Path(tmp) / "bench.yaml"
            path.write_text(yaml.safe_dump(config))
            try:
                self.env = EV2Gym(config_file=str(path))
            except FileNotFoundError as exc:  # its grid model needs data/augmentor.pkl, which its wheel lacks
                missing = Path(exc.filename or "?").name
                try:
                    with _household_sampler(Path(tmp)):
                        self.env = EV2Gym(config_file=str(path))
                    loads = (f"bus loads from its residential_loads.csv ({missing}, its sampler, is not in the "
                             "installed ev2gym)")
                except (OSError, ValueError) as why:  # its shipped household table missing or unreadable
                    config.update(simulate_grid=False, number_of_transformers=1)
                    path.write_text(yaml.safe_dump(config))
                    self.env = EV2Gym(config_file=str(path))
                    loads = f"{missing} and its household loads are missing ({why})"
            self.env.reset(seed=0)
        self.step_h = config["timescale"] / 60.0
        self.steps_per_day = round(24.0 / self.step_h)
        grid = f"{config['pf_solver']} power flow ON, {feeder}{loads}" if config["simulate_grid"] else \
            f"power flow OFF: {loads}"
        self.what = f"V2Ggrid.yaml, 100 charging stations, {config['timescale']}-min steps, {grid}"
        self.day_walls_s: list[float] = []

    def day(self) -> None:
        """One simulated day of EV2Gym's steps, timed."""
        with contextlib.chdir(self.home):
            t0 = time.perf_counter()
            for _ in range(self.steps_per_day):
                _, _, done, truncated, _ = self.env.step(self.env.action_space.sample())
                if done or truncated:
                    self.env.reset()
            self.day_walls_s.append(time.perf_counter() - t0)

    @property
    def day_rates(self) -> list[float]:
        return [self.steps_per_day * self.step_h / wall for wall in self.day_walls_s]

    @property
    def rate(self) -> float:
        return len(self.day_walls_s) * self.steps_per_day * self.step_h / sum(self.day_walls_s)


FEEDER = Path(__file__).resolve().parent / "data/ev2gym_node_34"
"""EV2Gym's 34-node feeder files, copied from its repository (MIT; see the folder's README): its wheel lacks them."""


def _feeder_files(home: Path, network_info: dict) -> str:
    """Point EV2Gym's `network_info` at `FEEDER`'s copies of its feeder files where its own are missing; what was
    done, for `Ev2GymDays.what` ("" when its own are there)."""
    copied = []
    for key in ("bus_info_file", "branch_info_file"):
        own = home / network_info[key]
        if not own.is_file() and (FEEDER / own.name).is_file():
            network_info[key] = str(FEEDER / own.name)
            copied.append(own.name)
    return f"its feeder's {' and '.join(copied)} from benchmarks/data/ev2gym_node_34 (not in the installed " \
           "ev2gym), " if copied else ""


@contextlib.contextmanager
def _household_sampler(folder: Path):
    """While EV2Gym builds its grid, its sampler file (`data/augmentor.pkl`) is a pickled
    `ev2gym_loads.HouseholdLoads` in `folder`, read by EV2Gym's own loader; its other files are its own."""
    import pickle  # noqa: PLC0415

    import ev2gym.models.grid as ev2gym_grid  # noqa: PLC0415
    import pkg_resources  # noqa: PLC0415 - what ev2gym's grid module looks its files up with

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # EV2Gym unpickles it by module name
    from ev2gym_loads import HouseholdLoads  # noqa: PLC0415

    table = Path(pkg_resources.resource_filename("ev2gym", "data/residential_loads.csv"))
    HouseholdLoads(table)._households()  # read now: a missing or bad table is refused here
    sampler = folder / "augmentor.pkl"
    sampler.write_bytes(pickle.dumps(HouseholdLoads(table)))

    def resource_filename(package: str, name: str) -> str:
        if (package, name) == ("ev2gym", "data/augmentor.pkl"):
            return str(sampler)
        return pkg_resources.resource_filename(package, name)

    saved = ev2gym_grid.pkg_resources
    ev2gym_grid.pkg_resources = SimpleNamespace(resource_filename=resource_filename)
    try:
        yield
    finally:
        ev2gym_grid.pkg_resources = saved


def _pair_ratios(episode_rates: list[float], day_rates: list[float]) -> np.ndarray:
    """Our rate over EV2Gym's for each episode and the EV2Gym day run right after it (`bench_scenario`'s `between`,
    then the last day after the loop): pairs close in time, so each sees about the same machine."""
    n = min(len(episode_rates), len(day_rates))
    return np.asarray(episode_rates[:n], float) / np.asarray(day_rates[:n], float)


def ev2gym_days() -> Ev2GymDays | None:
    """EV2Gym ready to run (`Ev2GymDays`); None without ev2gym."""
    try:
        return Ev2GymDays()
    except ImportError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+",
                        default=[str(ROOT / "scenarios/default.toml"), str(ROOT / "scenarios/env_ieee33.toml")])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--markdown", default=None, help="also write the figures as a generated docs page")
    args = parser.parse_args()
    time_per_ev_lp()
    ev = ev2gym_days()
    if ev is not None:
        ev.day()  # its warm-up, untimed
        ev.day_walls_s.clear()
    results = {}
    lines: list[str] = []
    print = lambda text: (lines.append(text), builtins.print(text))  # noqa: A001, E731 - the page repeats stdout
    for path in args.scenarios:
        for engine, record in CONFIGS:
            paired = ev is not None and path == args.scenarios[-1] and (engine, record) == CONFIGS[-1]
            r = results[path, engine, record] = bench_scenario(path, args.episodes, engine=engine, record=record,
                                                               between=ev.day if paired else None)
            if paired:
                ev.day()  # as many of its days as of ours: one after each of our episodes
            print(f"{Path(path).stem} ({engine} grid, recorder {'on' if record else 'off'}): {r['hours']} h in "
                  f"{r['wall_s']:.1f} s -> {r['sim_h_per_s']:.2f} simulated h/s "
                  f"(apart: first reset {r['first_reset_s']:.1f} s, warm-up episode {r['warmup_s']:.1f} s); "
                  f"CPU {r['cpu_ms_per_h']:.0f} ms per simulated hour")
            parts = r["parts_s"]
            rest = r["wall_s"] - sum(parts.values())
            print("  where the time went: " + ", ".join(f"{k} {v / r['wall_s']:.0%}" for k, v in
                                                        sorted(parts.items(), key=lambda kv: -kv[1]))
                  + f", rest (mosaik, hand-offs, resets, observations) {rest / r['wall_s']:.0%}")
            print(f"  resets (a fresh mosaik world up to the DSO's first decision; inside the above): "
                  f"{r['resets_s'] / r['wall_s']:.0%}")
            print("  the per-EV linear programme (fleet_lp, HiGHS; inside dso, plo and parking above): "
                  + ", ".join(
                f"{k} {v / r['wall_s']:.0%}" for k, v in sorted(r["lp_s"].items())))
    if ev is None:
        print("EV2Gym: not installed (pip install .[benchmark]); no ratio printed")
    else:
        rate = ev.rate
        ours = results[args.scenarios[-1], *CONFIGS[-1]]["sim_h_per_s"]
        print(f"EV2Gym ({ev.what}): {rate:.2f} simulated h/s, a simulated day of it after each episode of the set-up "
              "below (the two in alternation, in this process)")
        print(f"env steps/s ratio vs EV2Gym: {ours / rate:.1f}x  ({ours / rate:.2f}; {Path(args.scenarios[-1]).stem}, "
              "fast grid, recorder off, against EV2Gym, simulated hours per wall second)")
        pairs = _pair_ratios(results[args.scenarios[-1], *CONFIGS[-1]]["episode_rates"], ev.day_rates)
        if pairs.size:
            print(f"  episode by episode (each against the EV2Gym day right after it): median {np.median(pairs):.2f}x, "
                  f"from {pairs.min():.2f}x to {pairs.max():.2f}x over {pairs.size} pairs (the machine's drift)")
    if args.markdown:
        sys.path.insert(0, str(ROOT / "scripts"))
        from regenerate_docs import generated_page  # noqa: PLC0415

        command = "python " + " ".join(["benchmarks/env.py", *sys.argv[1:]])
        intro = ("Simulated hours per second of wall time of `cosim.env.DsoEnv` with a random policy on this machine "
                 f"({os.cpu_count()} cores, shared), {args.episodes} episode(s) per set-up after a warm-up episode, "
                 "and where the time went (see the benchmark's docstring). Targets (issue 24): at least 1.0x "
                 "EV2Gym and at least 100 simulated hours per second on env_ieee33 with the fast engine.")
        Path(args.markdown).write_text(generated_page(command, "# Speed of the learning environment", intro,
                                                      "```\n" + "\n".join(lines) + "\n```"))


if __name__ == "__main__":
    main()
