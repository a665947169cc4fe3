"""A user's fleet function, named by dotted path ("user_fleet:commuters") in a scenario's `[[lots]] fleet`."""

from __future__ import annotations

from simulators.parking.ev import EV
from simulators.parking.fleet import stochastic_fleet


def commuters(n_per_day: int = 40, *, days: int = 1, seed: int = 0) -> list[EV]:
    """Commuters arriving around 8:00 and leaving around 17:00 (the stochastic preset with other defaults)."""
    return stochastic_fleet(n_per_day, days=days, seed=seed, arrival_mean_h=8.0, arrival_std_h=1.0)
