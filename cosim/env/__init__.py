"""Learning environments over the real co-simulation: `DsoEnv` (Gymnasium), the DSO as the agent."""

from cosim.env.dso_env import SUPPORTED_EXCHANGE_MODES, DsoEnv, EnvConfigError
from cosim.env.reward import RewardWeights

__all__ = ["SUPPORTED_EXCHANGE_MODES", "DsoEnv", "EnvConfigError", "RewardWeights"]
