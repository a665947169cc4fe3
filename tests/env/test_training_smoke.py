"""A few hundred steps of training in CI, without torch: the cross-entropy method over the real co-simulation."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.env import DsoEnv
from cosim.env.cem import episode_return, train_cem

pytestmark = pytest.mark.slow  # real co-simulations / fresh processes: not in the quick subset


def test_cross_entropy_method_trains_for_a_few_hundred_steps(small_scenario):
    env = DsoEnv(small_scenario)
    try:
        result = train_cem(env, generations=2, population=4, elite=2, seed=0)
        again, _ = episode_return(env, result.best, result.best_seed)
    finally:
        env.close()
    assert result.steps == 2 * 4 * 24
    assert len(result.history) == 2 and all(np.isfinite(list(h.values())).all() for h in result.history)
    assert result.best_return >= max(h["best"] for h in result.history) - 1e-9
    assert again == result.best_return  # the policy found replays to the same return (same seed, same day)
