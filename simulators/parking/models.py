"""EV models (battery, charger, efficiency, CC-CV knee) from EV2Gym's shipped specifications, and a fleet of
vehicles that come back day after day.

Data: `scenarios/data/ev_models/ev_specs_v2g_enabled2024.json`, copied unchanged from the ev2gym 2.0.0 wheel
(`ev2gym/data/`, MIT licence, see that folder's README and LICENSE.txt): the eight V2G-capable EV models most
registered in the Netherlands in 2024, each with its registrations, usable battery (kWh), AC charge and discharge
power (kW) and charger efficiency by current. Per model we take: the battery, the AC charge power (the lot's
chargers are AC; every model discharges at the same power), the three-phase charge efficiency at 16 A (11 kW at
3 x 230 V; EV2Gym's figure for that current, used both ways), the registrations as the model's share, and the
knee `cosim.controllers.cccv.DEFAULT_KNEE_SOC` (0.8): the file has no per-model knee, EV2Gym draws each EV's
``transition_soc`` uniformly in [0.7, 0.9], whose mean that is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosim.controllers.cccv import DEFAULT_KNEE_SOC, reach_clock_kwh

from .ev import EV

EV_SPECS = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "ev_models" / "ev_specs_v2g_enabled2024.json"
EFFICIENCY_AMPS = 16  # the current whose three-phase efficiency the model's charger uses (11 kW at 3 x 230 V)
KWH_PER_KM = 0.186  # consumption of every model (EV2Gym's degradation model's figure)


@dataclass(frozen=True)
class EVModel:
    """One EV model: usable battery (kWh), AC charger (kW, both ways), charger efficiency, CC-CV knee, share."""

    name: str
    capacity_kwh: float
    charger_kw: float
    eta: float
    knee_soc: float
    share: float


def load_ev_models(path: str | Path = EV_SPECS, knee_soc: float = DEFAULT_KNEE_SOC) -> list[EVModel]:
    """The EV models of an EV2Gym specifications file (see the module), shares from their registrations."""
    specs = json.loads(Path(path).read_text(encoding="utf-8"))
    total = sum(float(s["number_of_registrations"]) for s in specs.values())
    models = []
    for name, s in specs.items():
        amps = list(s["ch_current"])
        eta = float(s["3ph_ch_efficiency"][amps.index(EFFICIENCY_AMPS)]) / 100.0
        models.append(EVModel(name, float(s["battery_capacity"]), float(s["max_ac_charge_power"]), eta,
                              float(knee_soc), float(s["number_of_registrations"]) / total))
    return models


def ev2gym_fleet(
    n_vehicles: int = 50,
    *,
    days: int = 1,
    seed: int = 0,
    knee_soc: float = DEFAULT_KNEE_SOC,
    arrival_mean_h: float = 8.0,
    arrival_std_h: float = 1.0,
    departure_mean_h: float = 17.5,
    departure_std_h: float = 1.0,
    commute_km_mean: float = 40.0,
    commute_km_std: float = 15.0,
    contract_soc: float = 0.8,
    soc_floor: float = 0.1,
    v2g_share: float = 1.0,
    soc_min: float = 0.3,
) -> list[EV]:
    """`n_vehicles` vehicles of the EV2Gym models (drawn by their shares, seeded), each visiting the lot every day
    (a workplace: arrival and departure normal, clipped to the day) with its own battery: visit ids
    ``veh0007-d2``, vehicle id ``veh0007``. Each vehicle has its own daily round trip (km, normal, at least 5 km),
    driven between two visits: it arrives with what its last visit promised (the contract; on the first day,
    ``contract_soc``) less that trip at `KWH_PER_KM`, no lower than `soc_floor`. The contract asks
    ``contract_soc`` unless a dedicated charger cannot reach it in the stay (then what it reaches)."""
    if n_vehicles < 1 or days < 1:
        raise ValueError(f"n_vehicles and days must be >= 1, got {n_vehicles}, {days}")
    rng = np.random.default_rng(seed)
    models = load_ev_models(knee_soc=knee_soc)
    pick = rng.choice(len(models), size=n_vehicles, p=np.array([m.share for m in models]))
    trip_km = np.maximum(rng.normal(commute_km_mean, commute_km_std, n_vehicles), 5.0)
    v2g = rng.random(n_vehicles) < v2g_share
    promised = np.full(n_vehicles, float(contract_soc))
    evs: list[EV] = []
    for d in range(days):
        arr = np.clip(rng.normal(arrival_mean_h, arrival_std_h, n_vehicles), 0.0, 23.0)
        dep = np.clip(rng.normal(departure_mean_h, departure_std_h, n_vehicles), arr + 1.0, 24.0)
        for v in range(n_vehicles):
            m = models[pick[v]]
            a, b = round((24.0 * d + arr[v]) * 60) / 60, round((24.0 * d + dep[v]) * 60) / 60
            soc = max(float(soc_floor), promised[v] - trip_km[v] * KWH_PER_KM / m.capacity_kwh)
            ev = EV(f"veh{v:04d}-d{d}", a, b, m.capacity_kwh, m.charger_kw, soc, 0.0, bool(v2g[v]),
                    soc_min if v2g[v] else 0.0, m.eta, m.eta, m.knee_soc, f"veh{v:04d}")
            reach = float(np.floor(min(1.0, _reach_soc(ev)) * 1e9) / 1e9)
            contract = min(float(contract_soc), reach)
            evs.append(EV(ev.id, a, b, m.capacity_kwh, m.charger_kw, soc, contract, bool(v2g[v]),
                          soc_min if v2g[v] else 0.0, m.eta, m.eta, m.knee_soc, ev.vehicle_id))
            promised[v] = contract
    evs.sort(key=lambda ev: ev.arrival_h)
    return evs


def _reach_soc(ev: EV) -> float:
    """The SOC a dedicated charger at full (tapered) power reaches in the visit."""
    return float(reach_clock_kwh(ev.energy_arrival_kwh, ev.capacity_kwh, ev.charger_kw * ev.eta_charge, ev.knee_soc,
                                 ev.arrival_h, ev.departure_h)) / ev.capacity_kwh
