"""Many environments in parallel: gymnasium's AsyncVectorEnv runs DsoEnv in 2 processes, and close() ends them."""

from __future__ import annotations

import signal
from functools import partial

import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv

from cosim.env import TRAINING_DAYS, DsoEnv

pytestmark = pytest.mark.slow  # real co-simulations / fresh processes: not in the quick subset


def test_async_vector_env_with_two_processes(small_scenario):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    make = partial(DsoEnv, str(small_scenario), days=TRAINING_DAYS, reseed=True)
    envs = AsyncVectorEnv([make, make], context="spawn")
    processes = list(envs.processes)
    try:
        assert len(processes) == 2 and all(p.is_alive() for p in processes)
        obs, infos = envs.reset(seed=[1, 2])
        assert obs.shape == (2, *envs.single_observation_space.shape)
        assert infos["scenario_seed"][0] != infos["scenario_seed"][1]  # each process draws its own day
        envs.action_space.seed(0)
        for _ in range(3):
            obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert rewards.shape == (2,) and np.all(np.isfinite(rewards)) and not terminated.any()
    finally:
        envs.close()
    for p in processes:
        p.join(timeout=10)
    assert not any(p.is_alive() for p in processes)
    assert {s: signal.getsignal(s) for s in before} == before
