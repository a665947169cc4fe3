"""Exact reference controller `milp`: LinDistFlow MILP (HiGHS) for reconfiguration + lot dispatch.

`formulation` builds the model, `refinement` solves it with cut refinement, `evaluation` judges a plan with the
exact flow; `single_hour` (minimum-loss reconfiguration of one hour) and `controller` (`MilpController`) use them.
"""

from cosim.controllers.milp.controller import MilpController
from cosim.controllers.milp.evaluation import ExactEvaluation, evaluate_exact
from cosim.controllers.milp.formulation import VOLTAGE_PENALTY_KW_PER_PU2
from cosim.controllers.milp.refinement import MilpError, MilpResult, solve_milp
from cosim.controllers.milp.single_hour import ReconfigurationResult, solve_single_hour_reconfiguration

__all__ = [
    "ExactEvaluation",
    "MilpController",
    "MilpError",
    "MilpResult",
    "ReconfigurationResult",
    "VOLTAGE_PENALTY_KW_PER_PU2",
    "evaluate_exact",
    "solve_milp",
    "solve_single_hour_reconfiguration",
]
