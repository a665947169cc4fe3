"""Optimizers on one vectorised problem interface: EO (ours), PSO / GA / NSGA-II (pymoo).

The MILP modelling layer (HiGHS through highspy) is the submodule `cosim.optim.linear`.
"""

from .eo import EO_DEFAULTS, minimize_eo
from .problem import (
    Evaluation,
    FunctionProblem,
    OptimResult,
    ProblemError,
    VectorProblem,
    check_problem,
    check_time_limit,
    evaluate_checked,
    feasibility_order,
    is_better,
)
from .pymoo_adapters import ParetoResult, minimize_ga, minimize_pso, pareto_nsga2
from .registry import OPTIMIZERS, UnknownOptimizerError, get_optimizer

__all__ = [
    "EO_DEFAULTS",
    "Evaluation",
    "FunctionProblem",
    "OPTIMIZERS",
    "OptimResult",
    "ParetoResult",
    "ProblemError",
    "UnknownOptimizerError",
    "VectorProblem",
    "check_problem",
    "check_time_limit",
    "evaluate_checked",
    "feasibility_order",
    "get_optimizer",
    "is_better",
    "minimize_eo",
    "minimize_ga",
    "minimize_pso",
    "pareto_nsga2",
]
