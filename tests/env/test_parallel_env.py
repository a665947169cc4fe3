"""parallel_env: the DSO and the PLOs as PettingZoo agents of the real co-simulation."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from cosim.env import parallel_env


@pytest.mark.slow
def test_pettingzoo_parallel_api_test_passes(small_scenario):
    env = parallel_env(small_scenario)
    try:
        parallel_api_test(env, num_cycles=30)
    finally:
        env.close()


def plo_episode_start(env, share_action: float, steps: int = 6) -> tuple[list[float], list[np.ndarray]]:
    env.reset(seed=0)
    widths, schedules = [], []
    for _ in range(steps):
        actions = {"DSO": np.zeros(env.action_space("DSO").shape), "PL1": np.array([share_action])}
        obs, _, _, _, infos = env.step(actions)
        lo, hi = infos["DSO"]["ranges_kw"]["PL1"]
        widths.append(hi - lo)
        schedules.append(obs["PL1"][25:49].copy())
    return widths, schedules


def test_a_plo_that_withholds_flexibility_narrows_what_the_dso_sees(small_scenario):
    """The PLO's action is its offer: offering none of its flexibility leaves the DSO a lot range of zero width
    from the next hour on (offering all of it does not); the PLO observes the DSO's schedule message."""
    env = parallel_env(small_scenario)
    try:
        open_widths, schedules = plo_episode_start(env, 1.0)
        closed_widths, _ = plo_episode_start(env, -1.0)
    finally:
        env.close()
    assert max(open_widths) > 1.0
    assert closed_widths == [0.0] * len(closed_widths)
    assert np.any(schedules[0] != 0)


def test_the_env_mode_resolves_by_name_but_is_not_listed_for_compare():
    """cosim.env registers its exchange mode for its own worlds only: `cosim compare` (every listed mode) in the same
    process must not try to build it without the env's bridge."""
    from cosim.env.parallel import MODE_NAME, EnvCentralised  # noqa: PLC0415
    from cosim.exchange.registry import EXCHANGE_MODES  # noqa: PLC0415

    assert EXCHANGE_MODES.resolve(MODE_NAME) is EnvCentralised
    assert MODE_NAME not in EXCHANGE_MODES.names() and MODE_NAME not in list(EXCHANGE_MODES)
    assert {"none", "centralised"} <= set(EXCHANGE_MODES.names())


@pytest.mark.slow
def test_a_plos_reward_is_its_lots_of1_benefit_and_sums_to_the_dsos_of1_term(small_scenario):
    """Each PLO's reward is OF1 (eq. 5) of its lot's decided hour, the controllers' objective: over an episode its
    rewards (without the unmet-energy term) add up to the DSO's episode term `of1_cost_usd` with the sign turned,
    which prices the lot's *measured* hourly power the same way: the lot delivered what was decided, and both
    sides price it with one function."""
    env = parallel_env(small_scenario, reward={"of1_cost_usd": 1.0, "unmet_kwh": 0.0})
    try:
        env.reset(seed=0)
        plo_total, done, terms = 0.0, False, {}
        while not done:  # the DSO's neutral action (mid-range setpoints, topology kept), the PLO offering everything
            actions = {"DSO": np.zeros(env.action_space("DSO").shape), "PL1": np.array([1.0])}
            _, rewards, terminations, _, infos = env.step(actions)
            plo_total += rewards["PL1"]
            done = terminations["DSO"]
            terms = infos["DSO"]["reward_terms"]
    finally:
        env.close()
    assert abs(plo_total) > 1.0  # the lot traded: a real amount of money, not zeros
    assert plo_total == pytest.approx(-terms["of1_cost_usd"], rel=1e-6, abs=1e-6)
