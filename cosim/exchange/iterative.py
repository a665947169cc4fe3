"""Iterative: signals and re-optimised schedules go back and forth until the schedules stop changing."""

from __future__ import annotations

from typing import Any

from cosim.exchange.base import DsoSide, Outgoing
from cosim.exchange.signals import Signals


class Iterative(Signals):
    """As `signals`, but the DSO re-plans its topology around every answer and signals again, until no lot's
    schedule moves by more than `tolerance_kw` in any hour (converged) or `max_rounds` answers have come
    (not converged). Either outcome is recorded in the plan (`info.rounds`, `info.converged`), in events.csv
    and in the KPIs."""

    name = "iterative"

    def __init__(self, max_rounds: int = 5, signal_gain: float = 1.0, tolerance_kw: float = 1.0) -> None:
        super().__init__(max_rounds, signal_gain)
        self.tolerance_kw = float(tolerance_kw)

    def dso_answer(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        change_kw = dso.schedule_change_kw(offers)
        dso.plan_around(offers, replan=True)
        if change_kw <= self.tolerance_kw:
            dso.end_negotiation(True, f"schedules moved by at most {change_kw:.2f} kW "
                                      f"(tolerance {self.tolerance_kw:g} kW)")
            return []
        if dso.round >= self.max_rounds:
            dso.end_negotiation(False, f"schedules still moved by {change_kw:.1f} kW "
                                       f"after max_rounds = {self.max_rounds}")
            return []
        return self.signals(dso)
