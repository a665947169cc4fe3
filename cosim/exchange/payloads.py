"""What DSO <-> PLO messages carry, as plain JSON-able dicts, and the conversions to and from our types.

- offer (PLO -> DSO), full fleet data: `offer_to_payload(LotOffer)` / `offer_from_payload(...)`;
- offer (PLO -> DSO), the PLO's own schedule: `schedule_offer(...)`;
- schedule (DSO -> PLO): `schedule_payload(setpoints_kw, bus)`;
- signal (DSO -> PLO): `DsoSignal.to_payload()` / `DsoSignal.from_payload(...)` (price adders and kW limits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.controllers.base import LotEconomics, LotOffer

__all__ = ["misreport", "offer_from_payload", "offer_to_payload", "schedule_offer", "schedule_payload"]


def offer_to_payload(offer: LotOffer) -> dict[str, Any]:
    """A lot's full day-ahead offer (its flexibility) as a message payload."""
    return {
        "lot_id": offer.lot_id, "candidate_buses": list(offer.candidate_buses), "n_pev": offer.n_pev,
        "pev_power_kw": offer.pev_power_kw, "pev_battery_kwh": offer.pev_battery_kwh,
        "hour_mode": offer.hour_mode.tolist(), "max_charge_kw": offer.max_charge_kw.tolist(),
        "max_discharge_kw": offer.max_discharge_kw.tolist(), "energy_need_kwh": offer.energy_need_kwh,
        "energy_available_kwh": min(offer.energy_available_kwh, 1e9),
        "need_by_hour_kwh": None if offer.need_by_hour_kwh is None else offer.need_by_hour_kwh.tolist(),
        "economics": {"mu_e": offer.economics.mu_e, "cost_e_usd_per_kwh": offer.economics.cost_e_usd_per_kwh,
                      "cost_ca_usd_per_pev_day": offer.economics.cost_ca_usd_per_pev_day},
    }


def offer_from_payload(payload: dict[str, Any]) -> LotOffer:
    """The `LotOffer` a full offer payload describes."""
    return LotOffer(
        lot_id=payload["lot_id"], candidate_buses=tuple(payload["candidate_buses"]), n_pev=int(payload["n_pev"]),
        pev_power_kw=float(payload["pev_power_kw"]), pev_battery_kwh=float(payload["pev_battery_kwh"]),
        hour_mode=np.asarray(payload["hour_mode"], int), max_charge_kw=np.asarray(payload["max_charge_kw"], float),
        max_discharge_kw=np.asarray(payload["max_discharge_kw"], float),
        economics=LotEconomics(**payload["economics"]), energy_need_kwh=float(payload["energy_need_kwh"]),
        energy_available_kwh=float(payload["energy_available_kwh"]),
        need_by_hour_kwh=(None if payload.get("need_by_hour_kwh") is None
                          else np.asarray(payload["need_by_hour_kwh"], float)),
    )


def schedule_offer(lot_id: str, candidate_buses: tuple[int, ...], schedule_kw: np.ndarray) -> dict[str, Any]:
    """A PLO's own hourly schedule (kW, + charging) offered to the DSO, with where the lot may sit."""
    return {"lot_id": lot_id, "candidate_buses": list(candidate_buses),
            "schedule_kw": np.asarray(schedule_kw, float).tolist()}


def schedule_payload(setpoints_kw: np.ndarray, bus: int | None) -> dict[str, Any]:
    """The DSO's hourly setpoints for one lot (kW, + charging) and the bus it placed the lot at."""
    return {"setpoints_kw": np.asarray(setpoints_kw, float).tolist(), "bus": None if bus is None else int(bus)}


def misreport(payload: dict[str, Any], factor: float) -> dict[str, Any]:
    """The offer a dishonest PLO sends: its flexibility (power bounds, energy it can give) scaled by `factor`."""
    out = dict(payload)
    for key in ("max_charge_kw", "max_discharge_kw"):
        out[key] = [v * factor for v in payload[key]]
    out["energy_available_kwh"] = payload["energy_available_kwh"] * factor
    return out
