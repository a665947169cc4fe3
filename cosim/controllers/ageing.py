"""Battery ageing per EV visit: calendar and cyclic capacity loss, and what it costs.

Model: Schmalstieg, Käbitz, Ecker and Sauer, "A holistic aging model for Li(NiMnCo)O2 based 18650 lithium-ion
batteries", J. Power Sources 257 (2014) 325-334, as EV2Gym 2.0.0 uses it (`ev2gym/models/ev.py`,
`EV.get_battery_degradation`, MIT licence; the constants below are EV2Gym's, which are the paper's):

* calendar: capacity fraction lost ``alpha(V) t^0.75`` (t in days), ``alpha = (e0 V - e1) exp(-e2 / theta)``;
  over a visit of ``T`` days, on a battery ``T_acc`` days old, the increment ``alpha 0.75 T / T_acc^0.25``;
* cyclic: ``beta(V, DoD) Q^0.5`` (Q: charge throughput of one cell, Ah), ``beta = z0 (V_half - z1)^2 + z2 +
  z3 DoD``; over a visit moving ``Q`` Ah on a battery that has moved ``Q_acc``, ``beta 0.5 Q / Q_acc^0.5``;
* the cell voltage from SOC: ``V = 3.3324 + 0.8263 SOC`` V (V: the visit's mean SOC; V_half: at SOC 0.5);
  a 2.05 Ah cell at 25 °C.

Where this differs from EV2Gym (and why): throughput per cell uses each EV's own capacity (EV2Gym divides by
78 kWh for all); the visit's depth of discharge is its SOC swing (highest minus lowest SOC while in the lot;
EV2Gym uses twice the mean absolute deviation of its per-step SOCs, which the lot's event-based physics does
not sample); a vehicle's battery ages across its visits (``T_acc`` = its age at the start of the run plus the time
since; ``Q_acc`` = the throughput of its age at ``km_per_year`` plus what its earlier visits moved), EV2Gym
resets at each visit. The loss is a fraction of the capacity; it is priced at ``battery_cost_usd_per_kwh``
(BloombergNEF's 2024 battery price survey: 115 $/kWh, the mean pack price). The lot does not shrink a battery
during the run (of the order of 1e-4 of its capacity a day).

As costs a linear programme can carry (switched on per lot, `COST_SWITCHES`): the cyclic term per battery kWh in
or out (`AgeingModel.wear_usd_per_kwh`), and the calendar term per kWh held in a battery for one hour
(`AgeingModel.calendar_cost`, a `CalendarCost`). The calendar linearisation: over one hour at SOC ``s`` an EV of
capacity ``C`` loses ``C f(s)`` with ``f(s) = calendar_fraction(s, 1/24, age_days)``; the chord of ``f`` through
the ends of the SOC range [0, 1], ``f(s) ~ f0 + f1 s``, priced at ``battery_cost_usd_per_kwh``, gives
``cost/h = C base + k E`` ($, E the battery energy in kWh): ``base = price f0`` per kWh of capacity and
``k = price f1`` per kWh held. Its error against the model: none in SOC (the cell voltage is affine in SOC and
``alpha`` affine in the voltage, so the chord is the model itself while ``e0 V > e1``, i.e. at every SOC >= 0);
the age is the run's start (``age_days``): a visit starting ``d`` days later ages ``(1 + d / age_days)^-0.25``
times as fast, 0.034 % less a day at 730 days; and the LP carries energies at hour ends (trapezoid within the
hour, exact at constant power in the hour as the lot integrates). `tests/controllers/test_calendar_cost.py` bounds
each against `calendar_fraction`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from cosim.errors import InputError

# Schmalstieg et al. 2014, as in EV2Gym 2.0.0
E0, E1, E2 = 7.543e6, 23.75e6, 6976.0  # calendar: alpha = (e0 V - e1) exp(-e2 / theta), per day^0.75
Z0, Z1, Z2, Z3 = 7.348e-3, 3.667, 7.6e-4, 4.081e-3  # cyclic: beta = z0 (V - z1)^2 + z2 + z3 DoD, per Ah^0.5
V_MIN, K_V = 3.3324, 0.8263  # cell voltage (V) = V_MIN + K_V SOC
CELL_AH = 2.05  # the 18650 cell the parameters were fitted on


COST_SWITCHES = ("wear_cost", "calendar_cost")
"""Keys of a lot's `degradation` table that are no `AgeingModel` parameter but switch a cost term on (booleans, off
by default; the PLO's business): the cyclic wear per kWh moved and the calendar ageing per kWh held."""


class AgeingError(InputError):
    """A degradation parameter the model cannot use; the message names it and what is allowed."""


@dataclass(frozen=True)
class CalendarCost:
    """Calendar ageing linearised in the battery energy (see the module): an EV of capacity C holding E kWh for one
    hour loses ``C base_usd_per_kwh_cap_h + usd_per_kwh_h E`` ($)."""

    base_usd_per_kwh_cap_h: float  # $ per kWh of capacity per hour at SOC 0
    usd_per_kwh_h: float  # $ per battery kWh held for one hour (the slope; what an LP's decisions see)

    def usd(self, energy_kwh_h: np.ndarray, capacity_kwh_h: np.ndarray) -> np.ndarray:
        """$ of holding `energy_kwh_h` (battery kWh x hours held) in batteries of `capacity_kwh_h` (kWh x hours)."""
        return self.base_usd_per_kwh_cap_h * np.asarray(capacity_kwh_h, float) \
            + self.usd_per_kwh_h * np.asarray(energy_kwh_h, float)


@dataclass(frozen=True)
class AgeingModel:
    """Per-visit capacity loss of an EV battery (see the module): parameters, all >= 0."""

    battery_cost_usd_per_kwh: float = 115.0  # BloombergNEF 2024 mean pack price
    age_days: float = 730.0  # battery age at the start of the run (EV2Gym: 2 years)
    km_per_year: float = 15000.0  # driving before the run, for its throughput (EV2Gym)
    kwh_per_km: float = 0.186  # consumption (EV2Gym)
    temperature_k: float = 298.15  # cell temperature (EV2Gym: 25 °C)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise AgeingError(f"{f.name}={value!r} is invalid; allowed: a finite number >= 0")
            object.__setattr__(self, f.name, float(value))
        if self.age_days <= 0 or self.temperature_k <= 0:
            raise AgeingError("age_days and temperature_k must be > 0")

    def prior_throughput_ah(self, capacity_kwh: np.ndarray) -> np.ndarray:
        """Q_acc at the start of the run: one cell's Ah over the battery's age of driving (charge and discharge)."""
        cap = np.asarray(capacity_kwh, float)
        return 2.0 * self.age_days * self.km_per_year / 365.0 * self.kwh_per_km * CELL_AH / cap

    def calendar_fraction(self, mean_soc: np.ndarray, days: np.ndarray, age_days: np.ndarray) -> np.ndarray:
        """Capacity fraction lost to calendar ageing over `days` at `mean_soc`, on a battery `age_days` old."""
        v = V_MIN + K_V * np.asarray(mean_soc, float)
        alpha = np.maximum(E0 * v - E1, 0.0) * math.exp(-E2 / self.temperature_k)
        return alpha * 0.75 * np.asarray(days, float) / np.maximum(np.asarray(age_days, float), 1e-9) ** 0.25

    def cyclic_fraction(self, throughput_kwh: np.ndarray, capacity_kwh: np.ndarray, dod: np.ndarray,
                        prior_ah: np.ndarray) -> np.ndarray:
        """Capacity fraction lost to cycling `throughput_kwh` (battery side, in plus out) at depth `dod`, on a
        battery whose cells have moved `prior_ah`."""
        v_half = V_MIN + K_V * 0.5
        beta = Z0 * (v_half - Z1) ** 2 + Z2 + Z3 * np.asarray(dod, float)
        q = np.asarray(throughput_kwh, float) / np.asarray(capacity_kwh, float) * CELL_AH
        return beta * 0.5 * q / np.sqrt(np.maximum(np.asarray(prior_ah, float), 1e-9))

    def wear_usd_per_kwh(self, capacity_kwh: float, dod: float = 0.5) -> float:
        """The cyclic term's marginal cost of one battery kWh in or out (at depth `dod`, on a battery of the
        run's starting age): the linear wear cost the PLO's scheduler and the DSO's objective can add."""
        lost = self.cyclic_fraction(1.0, capacity_kwh, dod, self.prior_throughput_ah(capacity_kwh)) * capacity_kwh
        return float(lost) * self.battery_cost_usd_per_kwh

    def calendar_cost(self) -> CalendarCost:
        """The calendar term as an LP's cost: the chord of one hour's `calendar_fraction` over SOC 0..1, on a
        battery of the run's starting age, priced at `battery_cost_usd_per_kwh` (see the module for its error)."""
        f_lo, f_hi = (float(self.calendar_fraction(soc, 1.0 / 24.0, self.age_days)) for soc in (0.0, 1.0))
        return CalendarCost(self.battery_cost_usd_per_kwh * f_lo, self.battery_cost_usd_per_kwh * (f_hi - f_lo))


def held_hours(hours: int, step_h: float = 1.0) -> np.ndarray:
    """(hours,) hours a battery kWh moved in step h (of `hours` steps of `step_h` hours) stays in a lot's batteries
    to the end of the window: the rest of step h (half of it, at even power) and every later step. A lot-level LP
    does not know when each EV leaves: for a given energy per EV, the hours after its departure add the same to every
    hour's price, so the schedule's timing
    is priced as it would be EV by EV (`fleet_lp.calendar_columns`)."""
    return (hours - np.arange(hours) - 0.5) * step_h


def ageing_model(degradation: dict) -> AgeingModel:
    """The `AgeingModel` of a lot's `degradation` table (its cost switches, `COST_SWITCHES`, left out)."""
    return AgeingModel(**{k: v for k, v in degradation.items() if k not in COST_SWITCHES})
