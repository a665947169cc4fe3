"""The seed-000 parking lot (Farhan et al., JOAPE 2024, §3.1) as a fleet of EV visits, and its hour types.

What the paper gives: 100 PEVs of 10 kW each; charging hours h1-h8 and h21-h24, discharging hours
h11-h19, idle hours h9, h10, h20 ("as the PEVs are absent"); Table 1 SOC distributions for the charging
state (0.0 40 %, 0.2 20 %, 0.3 20 %, 0.5 10 %, 1.0 10 %) and the discharging state (0.0 10 %, 0.4 10 %,
0.6 20 %, 0.8 30 %, 1.0 30 %); mu_e = 0.9. Hours are 1-based, hour h = the hour ending at h:00.

Our reconstruction (the paper has no EV-level model):
* Battery 10 kWh per 10 kW charger: eq. (1)-(3) price one hour of a PEV's power times its SOC (or
  1 - SOC), i.e. a PEV holds P_PEV x 1 h of energy, so one hour at full power (dis)charges it fully.
* Each PEV makes two visits a day, matching the hour types: an overnight visit 20:00 -> 08:00 next day
  (present in the charging hours h21-h24, h1-h8) arriving with the charging-state SOC, and a daytime visit
  10:00 -> 19:00 (present in the discharging hours h11-h19) arriving with the discharging-state SOC. The
  lot is empty in the idle hours h9, h10, h20. On day 0 the overnight visit that began the evening
  before is present from 00:00 (arrival at 0 h with the charging-state SOC).
* SOCs are assigned in the exact Table 1 proportions (with 100 PEVs: 40 at 0.0, 20 at 0.2, ...), shuffled
  over PEVs by the seed.
* eta_charge = mu_e = 0.9 (the paper divides the charging price by mu_e); eta_discharge = 1.0 (its
  revenue has no discharge loss). All PEVs allow V2G with soc_min = 0.
* Contracts: overnight visits must leave full (soc_min_departure = 1.0, the paper charges 1 - SOC);
  daytime visits have none (0.0: the paper sells their SOC). Both are parameters.
"""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from cosim.errors import PluginNotFoundError, PluginOptionsError
from cosim.registry import Registry

from .ev import EV

CHARGE_HOURS = tuple(range(1, 9)) + tuple(range(21, 25))
DISCHARGE_HOURS = tuple(range(11, 20))
CHARGE_STATE_SOC = ((0.0, 0.40), (0.2, 0.20), (0.3, 0.20), (0.5, 0.10), (1.0, 0.10))
DISCHARGE_STATE_SOC = ((0.0, 0.10), (0.4, 0.10), (0.6, 0.20), (0.8, 0.30), (1.0, 0.30))
N_PEVS = 100
P_PEV_KW = 10.0
CAPACITY_KWH = 10.0
MU_E = 0.9


def hour_type(hour: int) -> str:
    """'charge', 'discharge' or 'idle' for a 1-based hour of the day (hour h ends at h:00)."""
    if not 1 <= hour <= 24 or int(hour) != hour:
        raise ValueError(f"hour={hour!r} is invalid; allowed: an integer 1..24 (hour ending)")
    if hour in CHARGE_HOURS:
        return "charge"
    return "discharge" if hour in DISCHARGE_HOURS else "idle"


def hour_types() -> list[str]:
    """The 24 hour types, index 0 = h1 (00:00-01:00)."""
    return [hour_type(h) for h in range(1, 25)]


def _table_socs(table: tuple[tuple[float, float], ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """n SOCs in the table's proportions (largest-remainder rounding), shuffled."""
    socs = np.array([s for s, _ in table])
    shares = np.array([w for _, w in table]) * n
    counts = np.floor(shares).astype(int)
    for k in np.argsort(-(shares - counts), kind="stable")[: n - counts.sum()]:
        counts[k] += 1
    out = np.repeat(socs, counts)
    rng.shuffle(out)
    return out


def joape2024_fleet(
    n_pevs: int = N_PEVS,
    *,
    days: int = 1,
    seed: int = 0,
    p_pev_kw: float = P_PEV_KW,
    capacity_kwh: float = CAPACITY_KWH,
    night_contract_soc: float = 1.0,
    day_contract_soc: float = 0.0,
    eta_charge: float = MU_E,
    eta_discharge: float = 1.0,
) -> list[EV]:
    """The seed-000 fleet as EV visits over ``days`` days (see the module docstring)."""
    if n_pevs < 1 or days < 1:
        raise ValueError(f"n_pevs and days must be >= 1, got {n_pevs}, {days}")
    rng = np.random.default_rng(seed)
    evs: list[EV] = []

    def add(kind: str, d: int, arr: float, dep: float, table, contract: float) -> None:
        socs = _table_socs(table, n_pevs, rng)
        for k in range(n_pevs):
            evs.append(EV(f"pev{k:03d}-d{d}-{kind}", arr, dep, capacity_kwh, p_pev_kw, float(socs[k]),
                          contract, True, 0.0, eta_charge, eta_discharge))

    add("night", -1, 0.0, 8.0, CHARGE_STATE_SOC, night_contract_soc)
    for d in range(days):
        add("day", d, 24.0 * d + 10.0, 24.0 * d + 19.0, DISCHARGE_STATE_SOC, day_contract_soc)
        add("night", d, 24.0 * d + 20.0, 24.0 * d + 32.0, CHARGE_STATE_SOC, night_contract_soc)
    return evs


FLEETS: Registry[Callable[..., list[EV]]] = Registry("fleet preset", {
    "seed000": "simulators.parking.presets:joape2024_fleet",
    "joape2024": "simulators.parking.presets:joape2024_fleet",
    "stochastic": "simulators.parking.fleet:stochastic_fleet",
    "ev2gym": "simulators.parking.models:ev2gym_fleet",
}, check=lambda obj: None if callable(obj) else "is not a fleet function (..., days, seed) -> list[EV]")
"""Fleet presets by name (``ev2gym``: EV2Gym's EV models, vehicles that come back every day,
`simulators.parking.models`), or a user's fleet function by dotted path "module:function" (it takes `days` and
`seed` and returns a list of `EV`); other fleet values are CSV paths."""

SEED000_SCHEDULE_FLEETS = ("seed000", "joape2024")
"""Presets with seed 000's fixed charge / discharge hours (the PLO follows that schedule)."""


def preset_fleet(name: str | Callable[..., list[EV]], near: str | None = None, **kwargs) -> list[EV]:
    """Fleet of a named preset (``joape2024`` alias ``seed000``, ``stochastic``), of a user's fleet function
    ("module:function"; `near`: the folder its module may sit in, the scenario's) or, from Python, of the fleet
    function itself. The function is checked by its signature before it is called (the options must fit its
    parameters) and by its result after (a list of `EV`)."""
    build = FLEETS.resolve(name, near=near)
    label = name if isinstance(name, str) else getattr(name, "__qualname__", repr(name))
    try:
        inspect.signature(build).bind(**kwargs)
    except (TypeError, ValueError) as exc:
        raise PluginOptionsError(f"fleet preset {label!r}: bad options {sorted(kwargs)} ({exc})") from None
    evs = build(**kwargs)
    if not isinstance(evs, list) or not all(isinstance(ev, EV) for ev in evs):
        raise PluginNotFoundError(f"fleet preset {label!r}: returned a {type(evs).__name__}, not a list of EV")
    return evs
