"""The lot's day-ahead view of its own fleet: power bounds and contract energies per step (perfect foresight).

This is what the PLO offers the DSO. With a deterministic fleet it is exact; with a stochastic one it is the
realised schedule (a perfect forecast), which is the upper bound on the value of information. With a
`ForecastError` (Gaussian) or an `ElaadnlForecastError` (typical EVs drawn from the ElaadNL distributions shipped
in `scenarios/data/elaadnl/`) the forecast is built from the fleet as the operator expects it (`ForecastView`):
arrivals, departures and energies that differ from the EVs that actually come.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cosim.controllers.cccv import has_taper, must_run_kwh
from cosim.timebase import check_step_minutes, steps_per_day

from .lot import ParkingLot


def fleet_forecast(lot: ParkingLot, start_h: float, hours: int = 24, energy_kwh: np.ndarray | None = None,
                   step_minutes: int = 60) -> dict[str, object]:
    """The EVs of the window of `hours` steps of `step_minutes` from `start_h` as the operator needs them for its
    envelope (`ParkingLot.fleet_view`)."""
    return lot.fleet_view(start_h, hours, energy_kwh, step_minutes)[0]


def day_ahead_forecast(lot: ParkingLot, start_h: float, hours: int | None = None, step_minutes: int = 60, *,
                       step_h: float | None = None) -> dict[str, object]:
    """Charge/discharge kW bounds and battery-side energies per step for the window of `hours` steps of
    `step_minutes` (or `step_h` hours: 1.0, 0.5, 0.25) from `start_h`; `hours` None: a day of steps (24, 48 or 96).
    The names keep "hour"; the values are per step.

    max_charge_kw[k] / max_discharge_kw[k]: what the EVs present can take (give: V2G-capable ones, above their
    contracts) in step k - charger power or battery room over the step, whichever is less - weighted by the share
    of the step they are present, capped by the connection limit and the chargers.
    energy_need_kwh: energy the EVs leaving inside the window still need for their contracts.
    need_by_hour_kwh[k]: of that, what must be in by the end of step k (chargers are finite).
    energy_available_kwh: energy V2G EVs present in the window hold above their contract and reserve.
    """
    if step_h is not None:
        step_minutes = int(round(step_h * 60.0))
    step_minutes = check_step_minutes(int(step_minutes))
    hours = steps_per_day(step_minutes) if hours is None else int(hours)
    n_ev = len(lot.evs)
    step_h = step_minutes / 60.0
    t0 = int(round(start_h * 60))
    edges = t0 + step_minutes * np.arange(hours + 1)
    alive = ~lot.gone
    arr = np.maximum(lot.arr_min, lot._t_min)
    dep = lot.dep_min
    overlap = np.clip(np.minimum(dep[:, None], edges[None, 1:]) - np.maximum(arr[:, None], edges[None, :-1]),
                      0, step_minutes) / step_minutes  # share of each step the EV is present
    overlap *= alive[:, None]
    present_count = overlap.sum(axis=0)
    cap_share = (np.minimum(1.0, lot.n_chargers / np.maximum(present_count, 1e-9)) if np.isfinite(lot.n_chargers)
                 else 1.0)
    e_now = np.where(lot.plugged | lot.queued, lot.energy, lot.e_arr)
    # an EV cannot take (give) more in a step than its charger allows or its battery has room (energy) for
    charge_kw = np.minimum(lot.charger, np.maximum(lot.cap - e_now, 0.0) / lot.eta_c / step_h)
    discharge_kw = np.minimum(lot.charger,
                              np.maximum(e_now - np.maximum(lot.e_req, lot.floor), 0.0) * lot.eta_d / step_h) * lot.v2g
    max_c = np.minimum((overlap * charge_kw[:, None]).sum(axis=0) * cap_share, lot.limit_kw)
    max_d = np.minimum((overlap * discharge_kw[:, None]).sum(axis=0) * cap_share, lot.limit_kw)
    in_window = alive & (dep > t0) & (arr < edges[-1])
    leaving = in_window & (dep <= edges[-1])
    need = float(np.maximum(lot.e_req - e_now, 0.0)[leaving].sum())
    # must-run curve: battery energy that has to be in by the end of each step for contracts to stay feasible
    short = np.maximum(lot.e_req - e_now, 0.0) * leaving
    rate = lot.charger * lot.eta_c
    time_left_h = np.maximum(dep[:, None] - edges[None, 1:], 0) / 60.0
    need_by = np.maximum(short[:, None] - rate[:, None] * time_left_h, 0.0)
    if has_taper(lot.knee):  # CC-CV: the energy each EV must hold at each step's end, charging tapered after it
        late = must_run_kwh(lot.e_req[:, None], lot.cap[:, None], rate[:, None], lot.knee[:, None],
                            edges[None, 1:] / 60.0, dep[:, None] / 60.0)
        tapered = np.maximum(late - e_now[:, None], 0.0) * leaving[:, None]
        need_by = np.where((lot.knee < 1.0)[:, None], np.maximum(need_by, tapered), need_by)
    need_by = need_by.sum(axis=0)
    avail = float(np.maximum(e_now - np.maximum(lot.e_req, lot.floor), 0.0)[in_window & lot.v2g].sum())
    fleet = fleet_forecast(lot, start_h, hours, e_now, step_minutes)
    return {
        "fleet": fleet,
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


ELAADNL_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "elaadnl"
ELAADNL_SEGMENTS = ("private", "public", "workplace")


@dataclass(frozen=True)
class ElaadnlForecastError:
    """The PLO expects a typical EV of an ElaadNL `segment` ("private", "public", "workplace") in place of a seeded
    `share` (in [0, 1]) of its EVs: for each of them, drawn once, an arrival time of day (on the EV's actual arrival
    day), a connection time (departure = arrival + connection time) and an energy demand (kWh to the battery in the
    session: expected arrival energy = contract energy - demand, clipped to [0, capacity]), each from the segment's
    weekday distribution (`scenarios/data/elaadnl/`). The other EVs are forecast exactly. As with `ForecastError`,
    an EV's arrival time and energy are known exactly once it has arrived; its departure (its actual arrival + the
    drawn connection time) only when it has left. share 0: perfect foresight.
    """

    segment: str = "workplace"
    share: float = 0.0

    @property
    def any(self) -> bool:
        return self.share > 0


@lru_cache(maxsize=None)
def elaadnl_distributions(segment: str) -> dict[str, np.ndarray]:
    """The segment's ElaadNL weekday distributions: `arrival_p` (96 quarter-hour probabilities from 00:00, sum 1) and
    the percentile tables `percent` (0..100), `connection_h` and `energy_kwh` (the value that `percent` % of the
    charging events reach or exceed)."""
    if segment not in ELAADNL_SEGMENTS:
        raise ValueError(f"segment={segment!r}; allowed: {', '.join(ELAADNL_SEGMENTS)}")
    arrival = pd.read_csv(ELAADNL_DIR / "distribution-of-arrival.csv")
    connection = pd.read_csv(ELAADNL_DIR / "distribution-of-connection-time.csv")
    energy = pd.read_csv(ELAADNL_DIR / "distribution-of-energy-demand.csv")
    p = arrival[segment].to_numpy(float)
    return {"arrival_p": p / p.sum(), "percent": connection.iloc[:, 0].to_numpy(float),
            "connection_h": connection[segment].to_numpy(float), "energy_kwh": energy[segment].to_numpy(float)}


def draw_elaadnl(rng: np.random.Generator, segment: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n ElaadNL EVs of `segment`: arrival minute of day (a quarter-hour drawn by its probability, uniform inside
    it), connection time (minutes, >= 1) and energy demand (kWh), the last two by inverse-percentile sampling
    (linear between the table's whole percents)."""
    dist = elaadnl_distributions(segment)
    slot = rng.choice(96, size=n, p=dist["arrival_p"])
    arrival_min = slot * 15 + rng.integers(0, 15, n)
    # value(percent) falls as percent rises (percent % of the events reach it): percent uniform on [0, 100]
    # gives the value's distribution
    connection_h = np.interp(rng.uniform(0.0, 100.0, n), dist["percent"], dist["connection_h"])
    energy_kwh = np.interp(rng.uniform(0.0, 100.0, n), dist["percent"], dist["energy_kwh"])
    return arrival_min.astype(np.int64), np.maximum(np.round(connection_h * 60.0), 1).astype(np.int64), energy_kwh


class ForecastView:
    """A lot's fleet as its operator expects it (`ForecastError` or `ElaadnlForecastError` draws fixed per EV,
    seeded by `seed`)."""

    def __init__(self, lot: ParkingLot, error: ForecastError | ElaadnlForecastError, seed: int = 0,
                 key: str = "") -> None:
        n = len(lot.evs)
        self.error = error
        if isinstance(error, ElaadnlForecastError):
            rng = np.random.default_rng([int(seed), 12, sum(map(ord, key))])
            self.typical = rng.uniform(size=n) < error.share  # the EVs the operator takes for typical ones
            minute_of_day, self.connection_min, self.demand_kwh = draw_elaadnl(rng, error.segment, n)
            self.typical_arr_min = (lot.arr_min // 1440) * 1440 + minute_of_day
            return
        rng = np.random.default_rng([int(seed), 11, sum(map(ord, key))])
        self.d_arr_min = np.round(rng.normal(0.0, error.arrival_sigma_h, n) * 60.0).astype(np.int64)
        self.d_dep_min = np.round(rng.normal(0.0, error.departure_sigma_h, n) * 60.0).astype(np.int64)
        self.energy_factor = 1.0 + np.clip(rng.normal(0.0, error.energy_sigma, n), -0.9, 0.9)

    def expected(self, lot: ParkingLot) -> ParkingLot:
        """A shallow copy of `lot` whose EVs not yet arrived have the expected arrival times and energies, and whose
        EVs not yet gone have the expected departure times (the lot itself is untouched)."""
        view = copy.copy(lot)
        now = lot._t_min
        coming = (lot.arr_min > now) & ~lot.gone
        if isinstance(self.error, ElaadnlForecastError):
            typical = self.typical
            arr = np.where(coming & typical, np.maximum(self.typical_arr_min, now), lot.arr_min)
            dep = np.where(lot.gone | ~typical, lot.dep_min,
                           np.maximum(arr + self.connection_min, np.maximum(arr, now) + 1))
            e_typical = np.clip(lot.e_req - self.demand_kwh, 0.0, lot.cap)
            view.arr_min, view.dep_min = arr, dep
            view.e_arr = np.where(coming & typical, e_typical, lot.e_arr)
            return view
        arr = np.where(coming, np.maximum(lot.arr_min + self.d_arr_min, now), lot.arr_min)
        dep = np.where(lot.gone, lot.dep_min, np.maximum(lot.dep_min + self.d_dep_min, np.maximum(arr, now) + 1))
        view.arr_min = arr
        view.dep_min = dep
        view.e_arr = np.where(coming, np.minimum(lot.e_arr * self.energy_factor, lot.cap), lot.e_arr)
        return view


def forecast_with_error(lot: ParkingLot, start_h: float, view: ForecastView | None, step_minutes: int = 60
                        ) -> dict[str, object]:
    """`day_ahead_forecast` of the lot as its operator expects it (`view`), or of the lot itself (None), over a day
    of `step_minutes` steps."""
    return day_ahead_forecast(lot if view is None else view.expected(lot), start_h, step_minutes=step_minutes)
