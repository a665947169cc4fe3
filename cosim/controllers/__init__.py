"""Pluggable day-ahead DSO controllers behind one interface (`plan(problem) -> DayAheadPlan`) and a registry."""

from cosim.controllers.base import (
    HOURS,
    OBJECTIVES,
    Controller,
    DayAheadPlan,
    DayAheadProblem,
    LotEconomics,
    LotOffer,
    ProblemError,
)
from cosim.controllers.registry import CONTROLLERS, known_controllers, make_controller, register_controller

__all__ = [
    "HOURS", "OBJECTIVES", "Controller", "DayAheadPlan", "DayAheadProblem", "LotEconomics", "LotOffer",
    "ProblemError", "CONTROLLERS", "known_controllers", "make_controller", "register_controller",
]
