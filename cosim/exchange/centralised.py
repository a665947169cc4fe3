"""Centralised: the PLOs share their fleet data and the DSO dispatches the lots with the grid."""

from __future__ import annotations

from typing import Any

from cosim.exchange.base import DsoSide, ExchangeMode, Outgoing, PloSide
from cosim.exchange.payloads import schedule_payload


class Centralised(ExchangeMode):
    """Each PLO sends its lot's flexibility (power bounds per step, energy needs, PEV counts and SOC shares); the
    DSO's controller plans topology, lot sites and lot dispatch together and sends each PLO its schedule (one
    setpoint per step) and bus. When planning falls back, no schedule is sent: each PLO keeps its own plan.
    Follows the step: every array has the day's steps (24, 48 or 96).

    Step by step (a controller with `revise`): each PLO sends its lot's fresh day-ahead offer and measurements at
    the start of every step; the DSO re-plans the rolling day and sends each lot its revised schedule (from
    this step on). A failed revision sends nothing: the schedules in force stay."""

    name = "centralised"
    reveals = "fleet data: envelope, EVs (windows, energies, chargers, contracts), PEV counts, SOC shares"

    def plo_offer(self, plo: PloSide) -> dict[str, Any] | None:
        return plo.full_offer_payload()

    def plo_hourly(self, plo: PloSide) -> dict[str, Any] | None:
        return plo.hourly_offer_payload()

    def dso_hour(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        plan = dso.revise_hour(offers)
        if plan is None:
            return []
        return [Outgoing("schedule", lot_id, schedule_payload(plan.setpoints_kw[lot_id], plan.lot_buses.get(lot_id),
                                                              start_hour=dso.hour), "revised setpoints")
                for lot_id in offers if lot_id in plan.setpoints_kw]

    def dso_plan_day(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        plan = dso.plan_with_lots(offers)
        if plan.info.get("fallback"):
            return []
        return [Outgoing("schedule", lot_id, schedule_payload(setpoints, plan.lot_buses.get(lot_id)),
                         "hourly setpoints")
                for lot_id, setpoints in plan.setpoints_kw.items()]
