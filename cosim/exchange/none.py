"""None: no information is exchanged; each PLO runs its own profit-maximising schedule on market prices."""

from __future__ import annotations

from typing import Any

from cosim.exchange.base import DsoSide, ExchangeMode, Outgoing, PloSide


class NoExchange(ExchangeMode):
    """The PLOs talk to nobody; the DSO plans its topology without knowing the lots (the baseline that shows
    what information is worth)."""

    name = "none"
    reveals = "nothing"

    def plo_offer(self, plo: PloSide) -> dict[str, Any] | None:
        return None

    def dso_plan_day(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        dso.plan_around(offers)
        return []
