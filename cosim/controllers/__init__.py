"""Pluggable DSO controllers behind one interface (`plan(problem) -> DayAheadPlan`, optionally
`revise(problem, state, hour)` at later steps; day-ahead arrays hold one value per step of the day), plan validation,
isolation, plans as plain data across the boundary
(`plan_codec`), and a registry."""

from cosim.controllers.base import (
    HOURS,
    OBJECTIVES,
    Controller,
    DayAheadPlan,
    DayAheadProblem,
    HourlyController,
    HourState,
    LotEconomics,
    LotOffer,
    ProblemError,
    can_revise,
    step_refusal,
)
from cosim.controllers.registry import CONTROLLERS, known_controllers, make_controller, register_controller

__all__ = [
    "HOURS", "OBJECTIVES", "Controller", "DayAheadPlan", "DayAheadProblem", "HourState", "HourlyController",
    "LotEconomics", "LotOffer", "ProblemError", "CONTROLLERS", "can_revise", "known_controllers", "make_controller",
    "register_controller", "step_refusal",
]
