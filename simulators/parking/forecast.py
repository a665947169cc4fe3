"""The lot's day-ahead view of its own fleet: hourly power bounds and contract energies (perfect foresight).

This is what the PLO offers the DSO. With a deterministic fleet it is exact; with a stochastic one it is the
realised schedule (a perfect forecast), which is the upper bound on the value of information. With a
`ForecastError` the forecast is built from the fleet as the operator expects it (`ForecastView`): arrivals,
departures and energies that differ from the EVs that actually come.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .lot import ParkingLot


def day_ahead_forecast(lot: ParkingLot, start_h: float, hours: int = 24) -> dict[str, object]:
    """Hourly charge/discharge kW bounds and battery-side energies for the window [start_h, start_h + hours).

    max_charge_kw[h] / max_discharge_kw[h]: what the EVs present can take (give: V2G-capable ones, above their
    contracts) in one hour - charger power or battery room, whichever is less - weighted by the share of the
    hour they are present, capped by the connection limit and the chargers.
    energy_need_kwh: energy the EVs leaving inside the window still need for their contracts.
    need_by_hour_kwh[h]: of that, what must be in by the end of hour h (chargers are finite).
    energy_available_kwh: energy V2G EVs present in the window hold above their contract and reserve.
    """
    n_ev = len(lot.evs)
    t0 = int(round(start_h * 60))
    edges = t0 + 60 * np.arange(hours + 1)
    alive = ~lot.gone
    arr = np.maximum(lot.arr_min, lot._t_min)
    dep = lot.dep_min
    overlap = np.clip(np.minimum(dep[:, None], edges[None, 1:]) - np.maximum(arr[:, None], edges[None, :-1]),
                      0, 60) / 60.0
    overlap *= alive[:, None]
    present_count = overlap.sum(axis=0)
    cap_share = (np.minimum(1.0, lot.n_chargers / np.maximum(present_count, 1e-9)) if np.isfinite(lot.n_chargers)
                 else 1.0)
    e_now = np.where(lot.plugged | lot.queued, lot.energy, lot.e_arr)
    # an EV cannot take (give) more in an hour than its charger allows or its battery has room (energy) for
    charge_kw = np.minimum(lot.charger, np.maximum(lot.cap - e_now, 0.0) / lot.eta_c)
    discharge_kw = np.minimum(lot.charger,
                              np.maximum(e_now - np.maximum(lot.e_req, lot.floor), 0.0) * lot.eta_d) * lot.v2g
    max_c = np.minimum((overlap * charge_kw[:, None]).sum(axis=0) * cap_share, lot.limit_kw)
    max_d = np.minimum((overlap * discharge_kw[:, None]).sum(axis=0) * cap_share, lot.limit_kw)
    in_window = alive & (dep > t0) & (arr < edges[-1])
    leaving = in_window & (dep <= edges[-1])
    need = float(np.maximum(lot.e_req - e_now, 0.0)[leaving].sum())
    # must-run curve: battery energy that has to be in by the end of each hour for contracts to stay feasible
    short = np.maximum(lot.e_req - e_now, 0.0) * leaving
    rate = lot.charger * lot.eta_c
    time_left_h = np.maximum(dep[:, None] - edges[None, 1:], 0) / 60.0
    need_by = np.maximum(short[:, None] - rate[:, None] * time_left_h, 0.0).sum(axis=0)
    avail = float(np.maximum(e_now - np.maximum(lot.e_req, lot.floor), 0.0)[in_window & lot.v2g].sum())
    return {
        "max_charge_kw": max_c.tolist(),
        "max_discharge_kw": max_d.tolist(),
        "energy_need_kwh": need,
        "energy_available_kwh": avail,
        "need_by_hour_kwh": need_by.tolist(),
        "n_pev": int(np.ceil(present_count.max())) if n_ev else 0,
        "pev_power_kw": float(np.median(lot.charger)) if n_ev else 0.0,
        "pev_battery_kwh": float(np.median(lot.cap)) if n_ev else 0.0,
        "evs_in_window": int(in_window.sum()),
    }


@dataclass(frozen=True)
class ForecastError:
    """How far the PLO's view of its fleet is from the EVs that come: per EV, drawn once (seeded), Gaussian.

    arrival_sigma_h / departure_sigma_h: standard deviation (hours) of the error of each EV's expected arrival and
    departure time; energy_sigma: relative standard deviation of its expected arrival energy (1 + e, e clipped to
    [-0.9, 0.9], the energy to the battery). An EV's arrival time and energy are known exactly once it has arrived
    (the hourly forecast learns them); its departure time only when it has left. All zero: perfect foresight.
    """

    arrival_sigma_h: float = 0.0
    departure_sigma_h: float = 0.0
    energy_sigma: float = 0.0

    @property
    def any(self) -> bool:
        return self.arrival_sigma_h > 0 or self.departure_sigma_h > 0 or self.energy_sigma > 0


class ForecastView:
    """A lot's fleet as its operator expects it (`ForecastError` draws fixed per EV, seeded by `seed`)."""

    def __init__(self, lot: ParkingLot, error: ForecastError, seed: int = 0, key: str = "") -> None:
        rng = np.random.default_rng([int(seed), 11, sum(map(ord, key))])
        n = len(lot.evs)
        self.error = error
        self.d_arr_min = np.round(rng.normal(0.0, error.arrival_sigma_h, n) * 60.0).astype(np.int64)
        self.d_dep_min = np.round(rng.normal(0.0, error.departure_sigma_h, n) * 60.0).astype(np.int64)
        self.energy_factor = 1.0 + np.clip(rng.normal(0.0, error.energy_sigma, n), -0.9, 0.9)

    def expected(self, lot: ParkingLot) -> ParkingLot:
        """A shallow copy of `lot` whose EVs not yet arrived have the expected arrival times and energies, and whose
        EVs not yet gone have the expected departure times (the lot itself is untouched)."""
        view = copy.copy(lot)
        now = lot._t_min
        coming = (lot.arr_min > now) & ~lot.gone
        arr = np.where(coming, np.maximum(lot.arr_min + self.d_arr_min, now), lot.arr_min)
        dep = np.where(lot.gone, lot.dep_min, np.maximum(lot.dep_min + self.d_dep_min, np.maximum(arr, now) + 1))
        view.arr_min = arr
        view.dep_min = dep
        view.e_arr = np.where(coming, np.minimum(lot.e_arr * self.energy_factor, lot.cap), lot.e_arr)
        return view


def forecast_with_error(lot: ParkingLot, start_h: float, view: ForecastView | None) -> dict[str, object]:
    """`day_ahead_forecast` of the lot as its operator expects it (`view`), or of the lot itself (None)."""
    return day_ahead_forecast(lot if view is None else view.expected(lot), start_h)
