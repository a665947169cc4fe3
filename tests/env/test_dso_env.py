"""DsoEnv's Gymnasium contract: the env checker, determinism, the bad-input conventions, radial topologies."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

from cosim.config import load_scenario
from cosim.env import TRAINING_DAYS, DsoEnv, EnvConfigError
from cosim.powerflow.topology import is_radial
from cosim.results import RunFolder
from tests.env.conftest import write_small


def run_episode(env: DsoEnv, seed: int) -> tuple[list[np.ndarray], list[float]]:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, rewards, done = [obs], [], False
    while not done:
        obs, reward, done, _, _ = env.step(env.action_space.sample())
        observations.append(obs)
        rewards.append(reward)
    return observations, rewards


def test_gymnasium_env_checker_passes(small_scenario):
    env = DsoEnv(small_scenario)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.slow
def test_same_seed_same_episode_and_reset_draws_another_day(small_scenario):
    env = DsoEnv(small_scenario, days=TRAINING_DAYS, reseed=True)
    try:
        first = run_episode(env, seed=11)
        fallbacks = [e for e in RunFolder(env.episode.run_dir).events() if e.get("event") == "planning fallback"]
        _, info = env.reset(seed=11)
        again = run_episode(env, seed=11)
        other_info = env.reset(seed=12)[1]
    finally:
        env.close()
    assert len(first[1]) == 24
    assert fallbacks == []  # every random action became a plan the DSO accepted
    np.testing.assert_array_equal(np.array(first[0]), np.array(again[0]))
    assert first[1] == again[1]
    assert (info["market_profile"], info["start_day"], info["scenario_seed"]) != \
        (other_info["market_profile"], other_info["start_day"], other_info["scenario_seed"])


def test_out_of_space_action_is_clipped_with_a_counted_warning(small_scenario):
    env = DsoEnv(small_scenario)
    try:
        env.reset(seed=0)
        action = np.zeros(env.action_space.shape)
        action[0], action[-1] = 5.0, np.nan
        _, _, _, _, info = env.step(action)
        assert info["clipped_actions"] == 2
        assert "2 action value(s) outside [-1, 1]" in info["warning"]
        _, _, _, _, info = env.step(np.full(env.action_space.shape, -3.0))
        assert info["clipped_actions"] == 2 + env.action_space.shape[0]
    finally:
        env.close()


def test_step_after_the_end_raises_gymnasiums_error(small_scenario):
    env = DsoEnv(small_scenario)
    try:
        with pytest.raises(ResetNeeded):
            env.step(env.action_space.sample())
        run_episode(env, seed=0)
        with pytest.raises(ResetNeeded):
            env.step(env.action_space.sample())
    finally:
        env.close()


@pytest.mark.parametrize("mode", ["signals", "none", "admm"])
def test_a_mode_without_hourly_dispatch_is_refused_in_one_line(tmp_path, mode):
    path = write_small(tmp_path, mode)
    with pytest.raises(EnvConfigError) as err:
        DsoEnv(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and f"exchange.mode {mode!r}" in message
    assert "allowed: centralised" in message


def test_bad_reward_and_days_options_are_refused_in_one_line(small_scenario):
    with pytest.raises(EnvConfigError, match=r"reward.speed: unknown reward term; allowed: losses_kwh"):
        DsoEnv(small_scenario, reward={"speed": 1.0})
    with pytest.raises(EnvConfigError, match=r"reward.losses_kwh = -1.0; allowed: a finite number >= 0"):
        DsoEnv(small_scenario, reward={"losses_kwh": -1.0})
    with pytest.raises(EnvConfigError, match=r"days: \('seasonal:winter', -1\); allowed"):
        DsoEnv(small_scenario, days=[("seasonal:winter", -1)])


def test_every_action_opens_a_radial_topology(small_scenario):
    env = DsoEnv(small_scenario)
    rng = np.random.default_rng(0)
    layout = env.layout
    for a in rng.uniform(-1.0, 1.0, (300, layout.size)):
        assert is_radial(env.net, layout.topology(a))
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * layout.n_topology)).reshape(layout.n_topology, -1).T
    for c in corners:
        assert is_radial(env.net, layout.topology(np.concatenate([c, np.zeros(layout.size - layout.n_topology)])))


def test_switch_operation_limit_keeps_the_day_ahead_topology(small_scenario):
    """The scenario allows no switch operation after the day-ahead plan: later topologies asked for are refused."""
    assert load_scenario(small_scenario).switch_operations_per_day == 0
    env = DsoEnv(small_scenario)
    try:
        env.reset(seed=0)
        day = np.zeros(env.action_space.shape)
        _, _, _, _, info = env.step(day)
        topology = info["decided"]["open_branches"]
        other = np.ones(env.action_space.shape) * 0.9
        assert env.layout.topology(other) != tuple(topology)
        _, _, _, _, info = env.step(other)
        assert info["decided"]["switch_limited"] and info["decided"]["open_branches"] == topology
    finally:
        env.close()


def test_no_signal_handler_is_installed(small_scenario):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    env = DsoEnv(small_scenario)
    try:
        env.reset(seed=0)
        env.step(env.action_space.sample())
        assert {s: signal.getsignal(s) for s in before} == before
    finally:
        env.close()
    assert {s: signal.getsignal(s) for s in before} == before


def test_reset_and_close_mid_episode_end_the_simulation_thread(small_scenario):
    def sim_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("cosim-env-")]

    env = DsoEnv(small_scenario)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    first = sim_threads()
    assert len(first) == 1
    env.reset(seed=1)  # the unfinished episode is aborted, its world shut down
    assert not first[0].is_alive() and len(sim_threads()) == 1
    run_dir = env.episode.run_dir
    env.close()
    assert sim_threads() == [] and not run_dir.exists()
