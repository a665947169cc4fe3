"""A dependency-free trainer for `DsoEnv`: the cross-entropy method over a linear policy (numpy only).

The policy is a = tanh(W obs + b) (`LinearPolicy`). Each generation draws `population` parameter vectors from a
Gaussian, runs one episode with each (the same seed for every candidate of a generation, so they face the same
day), keeps the best `elite` and refits the Gaussian to them. It is what the smoke test trains in CI (no torch);
examples/train_dso.py uses stable-baselines3's PPO when the `[train]` extra is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CemResult", "LinearPolicy", "episode_return", "train_cem"]


@dataclass
class LinearPolicy:
    """a = tanh(W obs + b), W (n_act, n_obs), b (n_act,), flattened into one parameter vector."""

    n_obs: int
    n_act: int
    theta: np.ndarray

    @classmethod
    def zeros(cls, n_obs: int, n_act: int) -> LinearPolicy:
        return cls(n_obs, n_act, np.zeros(n_act * (n_obs + 1)))

    def act(self, obs: np.ndarray) -> np.ndarray:
        w = self.theta[:self.n_act * self.n_obs].reshape(self.n_act, self.n_obs)
        b = self.theta[self.n_act * self.n_obs:]
        return np.tanh(w @ np.asarray(obs, float) + b).astype(np.float32)


def episode_return(env, policy: LinearPolicy, seed: int) -> tuple[float, int]:
    """One episode's total reward and its steps."""
    obs, _ = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, done, truncated, _ = env.step(policy.act(obs))
        total += reward
        steps += 1
        done = done or truncated
    return total, steps


@dataclass
class CemResult:
    best: LinearPolicy
    best_return: float
    best_seed: int
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)  # per generation: mean, best, elite mean


def train_cem(env, generations: int, population: int, elite: int, seed: int = 0, sigma: float = 0.3,
              weight_scale: float = 0.05) -> CemResult:
    """Train a linear policy on `env` with the cross-entropy method (see the module); `weight_scale` shrinks the
    initial spread of W against that of b (observations are O(1) but many)."""
    if not 1 <= elite <= population:
        raise ValueError(f"elite must be in 1..population ({population}), got {elite}")
    rng = np.random.default_rng(seed)
    n_obs, n_act = env.observation_space.shape[0], env.action_space.shape[0]
    mean = np.zeros(n_act * (n_obs + 1))
    std = np.full(mean.size, sigma)
    std[:n_act * n_obs] *= weight_scale
    best: tuple[float, np.ndarray, int] | None = None
    steps = 0
    history = []
    for g in range(generations):
        episode_seed = seed + g
        thetas = mean + std * rng.standard_normal((population, mean.size))
        thetas[0] = mean  # the current mean is always a candidate
        returns = []
        for theta in thetas:
            r, n = episode_return(env, LinearPolicy(n_obs, n_act, theta), episode_seed)
            returns.append(r)
            steps += n
        returns_a = np.asarray(returns)
        order = np.argsort(-returns_a)[:elite]
        mean, std = thetas[order].mean(axis=0), np.maximum(thetas[order].std(axis=0), 1e-3)
        if best is None or returns_a[order[0]] > best[0]:
            best = (float(returns_a[order[0]]), thetas[order[0]].copy(), episode_seed)
        history.append({"mean": float(returns_a.mean()), "best": float(returns_a.max()),
                        "elite_mean": float(returns_a[order].mean())})
    assert best is not None
    return CemResult(LinearPolicy(n_obs, n_act, best[1]), best[0], best[2], steps, history)
