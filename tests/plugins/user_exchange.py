"""A user-written exchange mode, named by dotted path ("user_exchange:CappedSchedules") in the tests.

It is the README's recipe: subclass `ExchangeMode`, override the hooks that differ, nothing else to edit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.exchange import DsoSide, ExchangeMode, Outgoing
from cosim.exchange.payloads import schedule_payload


class CappedSchedules(ExchangeMode):
    """Each PLO offers its own schedule; the DSO caps every hour at `cap_kw` (either direction), plans the grid
    around the capped schedules and sends them back; the PLOs follow (the default `plo_receive`)."""

    name = "capped"

    def __init__(self, max_rounds: int = 5, cap_kw: float = 100.0) -> None:
        super().__init__(max_rounds)
        self.cap_kw = float(cap_kw)

    def dso_plan_day(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        capped = {lot_id: {**offer, "schedule_kw": np.clip(offer["schedule_kw"], -self.cap_kw, self.cap_kw).tolist()}
                  for lot_id, offer in offers.items()}
        plan = dso.plan_around(capped)
        return [Outgoing("schedule", lot_id, schedule_payload(plan.setpoints_kw[lot_id], plan.lot_buses[lot_id]),
                         f"own schedule capped at {self.cap_kw:g} kW") for lot_id in capped]
