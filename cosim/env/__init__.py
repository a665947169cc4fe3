"""Learning environments over the real co-simulation: `DsoEnv` (Gymnasium), the DSO as the agent."""

from cosim.env.days import EVALUATION_DAYS, TRAINING_DAYS
from cosim.env.dso_env import SUPPORTED_EXCHANGE_MODES, DsoEnv, EnvConfigError
from cosim.env.reward import RewardWeights

__all__ = ["EVALUATION_DAYS", "SUPPORTED_EXCHANGE_MODES", "TRAINING_DAYS", "DsoEnv", "EnvConfigError",
           "RewardWeights"]
