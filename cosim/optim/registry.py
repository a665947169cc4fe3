"""Optimizers by name, so scenarios and the CLI can pick one with a string ("eo", "pso", "ga")."""

from __future__ import annotations

from typing import Callable

from cosim.errors import InputError

from .eo import minimize_eo
from .problem import OptimResult
from .pymoo_adapters import minimize_ga, minimize_pso

__all__ = ["OPTIMIZERS", "UnknownOptimizerError", "get_optimizer"]

#: name -> f(problem, *, n_particles, n_iter, seed, time_limit_s=None) -> OptimResult (single objective, equal
#: budgets; `time_limit_s` stops it through the optimiser's own termination, `OptimResult.timed_out` says so).
OPTIMIZERS: dict[str, Callable[..., OptimResult]] = {
    "eo": minimize_eo,
    "pso": minimize_pso,
    "ga": minimize_ga,
}


class UnknownOptimizerError(InputError):
    """An optimizer name that is not in :data:`OPTIMIZERS`."""


def get_optimizer(name: str) -> Callable[..., OptimResult]:
    """Return the optimizer registered under ``name`` (case-insensitive)."""
    key = str(name).strip().lower()
    try:
        return OPTIMIZERS[key]
    except KeyError:
        raise UnknownOptimizerError(
            f"unknown optimizer {name!r}; available: {', '.join(sorted(OPTIMIZERS))}"
        ) from None
