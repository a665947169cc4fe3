"""Multi-criteria decision tools: TOPSIS ranking (seed 000) and AHP weights (seed 002)."""

from .ahp import RANDOM_INDEX, AhpResult, ahp_weights
from .topsis import DecisionInputError, TopsisResult, topsis

__all__ = ["AhpResult", "DecisionInputError", "RANDOM_INDEX", "TopsisResult", "ahp_weights", "topsis"]
