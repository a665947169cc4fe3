"""Learning environments over the real co-simulation: `DsoEnv` (Gymnasium; the DSO is the agent) and
`parallel_env` (PettingZoo; the DSO and every PLO are agents). See README "Learning controllers"."""

from cosim.env.days import EVALUATION_DAYS, TRAINING_DAYS
from cosim.env.dso_env import SUPPORTED_EXCHANGE_MODES, DsoEnv
from cosim.env.errors import EnvConfigError
from cosim.env.parallel import ParallelCosimEnv, parallel_env
from cosim.env.reward import RewardWeights

__all__ = ["EVALUATION_DAYS", "SUPPORTED_EXCHANGE_MODES", "TRAINING_DAYS", "DsoEnv", "EnvConfigError",
           "ParallelCosimEnv", "RewardWeights", "parallel_env"]
