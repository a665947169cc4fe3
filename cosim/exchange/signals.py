"""Signals: the PLOs offer their own schedules; the DSO answers once with price adders and kW limits."""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.controllers.plo_scheduler import DsoSignal
from cosim.errors import PluginOptionsError
from cosim.exchange.base import DsoSide, ExchangeMode, Outgoing


class Signals(ExchangeMode):
    """Each PLO offers its own profit-maximising schedule; the DSO plans its topology around them and sends
    price adders that flatten the net load (`signal_gain` x mean price x relative deviation from the mean)
    and import limits where the plan predicts voltages below the network's limit. Each PLO re-optimises once
    against them; the DSO records the answers and the negotiation ends. Follows the step: one adder and limit per
    step of the day (as many as the day's prices)."""

    name = "signals"
    reveals = "its own schedule"

    def __init__(self, max_rounds: int = 5, signal_gain: float = 1.0) -> None:
        super().__init__(max_rounds)
        if not isinstance(signal_gain, (int, float)) or isinstance(signal_gain, bool) or not np.isfinite(signal_gain) \
                or signal_gain < 0:
            raise PluginOptionsError(f"exchange mode {self.name!r}: signal_gain must be a number >= 0, "
                                     f"got {signal_gain!r}")
        self.signal_gain = float(signal_gain)
        self._adder: np.ndarray | None = None

    def dso_plan_day(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        self.check_step(len(dso.day.price_usd_per_kwh))  # `iterative` follows only hourly steps
        dso.plan_around(offers)
        self._adder = None
        return self.signals(dso) if offers else []

    def signals(self, dso: DsoSide) -> list[Outgoing]:
        """Price adders that flatten the net load, and import limits that keep voltages within limits.

        Across the rounds of one negotiation the adder is damped (mean of the previous and the new target), so
        that iterative signalling settles instead of oscillating."""
        scaling, price = dso.day.load_scaling, dso.day.price_usd_per_kwh
        bus_load = getattr(dso, "bus_load", None)  # per-bus forecasts (profile "simbench")
        base = scaling * float(dso.net.p_load_kw.sum()) if bus_load is None else bus_load[0].sum(axis=1)
        n = len(price)  # steps in the day
        net_load = base + sum(dso.schedules.values(), np.zeros(n))
        mean = float(net_load.mean())
        target = self.signal_gain * float(price.mean()) * (net_load - mean) / max(mean, 1e-9)
        adder = target if dso.round == 0 or self._adder is None else 0.5 * (self._adder + target)
        self._adder = adder
        predicted = dso.plan.predicted_hourly if dso.plan else {}
        v_min_pu = np.asarray(predicted.get("v_min_pu", np.full(n, np.inf)))
        out = []
        for lot_id, schedule in dso.schedules.items():
            max_import_kw = np.where(v_min_pu < dso.net.v_min_pu, np.maximum(schedule, 0.0) * 0.5, np.inf)
            signal = DsoSignal(adder, max_import_kw, np.full(n, np.inf))
            out.append(Outgoing("signal", lot_id, signal.to_payload(), "price adders + limits"))
        return out
