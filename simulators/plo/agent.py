"""The parking-lot operator's decisions, free of mosaik: what it offers the DSO and which setpoint it sends its lot.

Exchange modes (see cosim.config.EXCHANGE_MODES):
- centralised: the PLO shares its fleet data (hourly power bounds, energy needs, PEV counts and SOC shares)
  and follows the DSO's hourly schedule;
- signals / iterative: the PLO offers its own profit-maximising schedule, then re-optimises it against the
  DSO's price adders and kW limits (one round, or until the plans stop changing);
- none: the PLO talks to nobody and runs its own profit-maximising schedule on market prices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.controllers.base import HOURS, LotEconomics, LotOffer
from cosim.controllers.plo_scheduler import DsoSignal, ScheduleError, plo_profit_schedule
from cosim.exchange.messages import ChannelFaults, MessageChannel, verify


def offer_from_forecast(lot_id: str, candidate_buses: tuple[int, ...], forecast: dict[str, Any],
                        price_forecast: np.ndarray, economics: LotEconomics) -> LotOffer:
    """Turn the lot's 24-h availability forecast into the offer a DSO controller understands.

    Hours where the forecast gives no mode are charge hours when the price is below the day's median and
    discharge hours above it (a plain arbitrage policy); seed 000's fleet preset gives its own schedule.
    """
    mode = forecast.get("hour_mode")
    if mode is None:
        price = np.asarray(price_forecast, float)
        mode = np.where(price <= np.median(price), 1, -1)
    return LotOffer(
        lot_id=lot_id,
        candidate_buses=tuple(candidate_buses),
        n_pev=int(forecast["n_pev"]),
        pev_power_kw=float(forecast["pev_power_kw"]),
        pev_battery_kwh=float(forecast["pev_battery_kwh"]),
        hour_mode=np.asarray(mode, dtype=int),
        max_charge_kw=np.asarray(forecast["max_charge_kw"], float),
        max_discharge_kw=np.asarray(forecast["max_discharge_kw"], float),
        economics=economics,
        energy_need_kwh=float(forecast.get("energy_need_kwh", 0.0)),
        energy_available_kwh=float(forecast.get("energy_available_kwh", np.inf)),
        need_by_hour_kwh=None if forecast.get("need_by_hour_kwh") is None else np.asarray(forecast["need_by_hour_kwh"], float),
    )


def offer_to_payload(offer: LotOffer) -> dict[str, Any]:
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
    return LotOffer(
        lot_id=payload["lot_id"], candidate_buses=tuple(payload["candidate_buses"]), n_pev=int(payload["n_pev"]),
        pev_power_kw=float(payload["pev_power_kw"]), pev_battery_kwh=float(payload["pev_battery_kwh"]),
        hour_mode=np.asarray(payload["hour_mode"], int), max_charge_kw=np.asarray(payload["max_charge_kw"], float),
        max_discharge_kw=np.asarray(payload["max_discharge_kw"], float),
        economics=LotEconomics(**payload["economics"]), energy_need_kwh=float(payload["energy_need_kwh"]),
        energy_available_kwh=float(payload["energy_available_kwh"]),
        need_by_hour_kwh=None if payload.get("need_by_hour_kwh") is None else np.asarray(payload["need_by_hour_kwh"], float),
    )


def misreport(payload: dict[str, Any], factor: float) -> dict[str, Any]:
    """The offer a dishonest PLO sends: its flexibility (power bounds, energy it can give) scaled by `factor`."""
    out = dict(payload)
    for key in ("max_charge_kw", "max_discharge_kw"):
        out[key] = [v * factor for v in payload[key]]
    out["energy_available_kwh"] = payload["energy_available_kwh"] * factor
    return out


class PloAgent:
    """One PLO: builds its day-ahead offer, answers DSO messages, and gives its lot a setpoint every hour."""

    def __init__(self, lot_id: str, candidate_buses: tuple[int, ...], exchange: str,
                 economics: LotEconomics | None = None, faults: ChannelFaults | float = 0.0, seed: int = 0,
                 hour_mode: list[int] | None = None, keys: dict[str, str] | None = None,
                 misreport_probability: float = 0.0, misreport_factor: float = 2.0) -> None:
        self.lot_id = lot_id
        self.candidate_buses = tuple(candidate_buses)
        self.exchange = exchange
        self.economics = economics or LotEconomics()
        self.keys = keys or {}  # own key (to sign) and the DSO's (to check what it receives)
        self.channel = MessageChannel(lot_id, faults, seed, self.keys.get(lot_id))
        self.misreport_probability = misreport_probability
        self.misreport_factor = misreport_factor
        self._rng = np.random.default_rng([seed, 7, sum(map(ord, lot_id))])
        self.events: list[dict[str, Any]] = []
        self.offer: LotOffer | None = None
        self.price_forecast = np.zeros(HOURS)
        self.schedule_kw = np.zeros(HOURS)  # setpoints of the current day, kW (+ charging)
        self.day_start = 0
        self.planned_profit_usd = 0.0
        self.tariff_usd_per_kwh = np.zeros(HOURS)
        self.notes: list[str] = []
        self.hour_mode = None if hour_mode is None else list(hour_mode)  # the PLO's own charge/discharge policy

    def own_schedule(self, signal: DsoSignal | None = None) -> np.ndarray:
        """The PLO's profit-maximising schedule for the current offer (idle when infeasible, with a note)."""
        try:
            schedule, self.planned_profit_usd = plo_profit_schedule(self.offer, self.price_forecast, signal)
        except ScheduleError as exc:
            self.notes.append(str(exc))
            schedule = np.zeros(HOURS)
        return schedule

    def start_day(self, hour: int, forecast: dict[str, Any], price_forecast) -> list[dict[str, Any]]:
        """Day-ahead step: build the offer; returns the messages for the DSO (none in mode `none` or if lost)."""
        self.day_start = hour
        self.price_forecast = np.asarray(price_forecast, float)[:HOURS]
        if self.hour_mode is not None:
            forecast = {**forecast, "hour_mode": self.hour_mode}
        self.offer = offer_from_forecast(self.lot_id, self.candidate_buses, forecast, self.price_forecast, self.economics)
        self.tariff_usd_per_kwh = np.zeros(HOURS)  # DSO price adders of the day (signals / iterative modes)
        self.schedule_kw = self.own_schedule()  # fallback if the DSO never answers
        if self.exchange == "none":
            return []
        payload = offer_to_payload(self.offer)
        if self.misreport_probability > 0 and self._rng.random() < self.misreport_probability:
            payload = misreport(payload, self.misreport_factor)  # bad-data injection by a dishonest PLO
            self.events.append({"hour": hour, "source": self.lot_id, "event": "misreported offer",
                                "detail": f"flexibility x{self.misreport_factor}"})
        if self.exchange in ("signals", "iterative"):
            payload = {"lot_id": self.lot_id, "candidate_buses": list(self.candidate_buses),
                       "schedule_kw": self.schedule_kw.tolist()}
        return self.channel.send(hour, "offer", "DSO", payload, 0, f"{self.exchange} offer")

    def receive(self, hour: int, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Take a DSO message; returns a revised offer (iterative / signals) or nothing.

        Messages that are not for this lot, not signed by the DSO, or late are ignored and logged."""
        problem = verify(message, self.lot_id, {"DSO": self.keys["DSO"]}) if self.keys else None
        if problem is None and message.get("delayed"):
            problem = "arrived after the day-ahead gate"
        if problem is not None:
            self.events.append({"hour": hour, "source": self.lot_id, "event": "rejected message", "detail": problem})
            return []
        payload = message["payload"]
        if message["kind"] == "schedule":
            self.schedule_kw = np.asarray(payload["setpoints_kw"], float)
            return []
        if message["kind"] == "signal":
            signal = DsoSignal.from_payload(payload)
            self.tariff_usd_per_kwh = signal.price_adder_usd_per_kwh  # what the PLO pays the DSO on net import
            self.schedule_kw = self.own_schedule(signal)
            payload = {"lot_id": self.lot_id, "candidate_buses": list(self.candidate_buses),
                       "schedule_kw": self.schedule_kw.tolist()}
            return self.channel.send(hour, "offer", "DSO", payload, message["round"] + 1, "revised schedule")
        return []

    def tariff(self, hour: int) -> float:
        """The DSO's price adder for simulated hour `hour` ($/kWh on net import; 0 without signals)."""
        return float(self.tariff_usd_per_kwh[(hour - self.day_start) % HOURS])

    def setpoint_kw(self, hour: int) -> float:
        """The lot setpoint for simulated hour `hour` (kW, + charging)."""
        return float(self.schedule_kw[(hour - self.day_start) % HOURS])
