"""The day-ahead problem a DSO controller solves, the plan it returns, and the controller interface.

Controllers are plain objects (no mosaik): `plan(problem) -> DayAheadPlan`. Day-ahead arrays hold one value per
step of the day (`cosim.timebase`): n = `DayAheadProblem.steps_per_day` values (24, 48 or 96), index k covering the
hours [k step_h, (k+1) step_h) (at hourly steps, the papers' "hour k+1"). Power is kW, + = lot charging; a step's
energy is kW x `step_h`. Fields named "hour" / "hourly" keep their names and mean "step" / "per step".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cosim.controllers.envelope import FlexEnvelope
from cosim.errors import ProblemError
from cosim.powerflow.network_data import RadialNetwork
from cosim.timebase import StepError, step_h_of

HOURS = 24
"""Hours in a day (for code that really means hours; a day-ahead array's length is `steps_per_day`)."""


@dataclass(frozen=True)
class LotEconomics:
    """Seed 000 economics: charging efficiency mu_e, equipment wear cost_e ($/kWh), per-PEV daily cost_ca ($)."""

    mu_e: float = 0.9
    cost_e_usd_per_kwh: float = 0.125
    cost_ca_usd_per_pev_day: float = 0.432
    # battery wear per battery kWh in or out ($/kWh; `cosim.controllers.ageing`): 0 unless the lot's
    # `degradation.wear_cost` is on; the PLO's scheduler and the DSO's PLO-benefit objective then price it
    wear_usd_per_kwh: float = 0.0
    # calendar ageing per battery kWh held for one hour ($/kWh/h; `AgeingModel.calendar_cost`): 0 unless the lot's
    # `degradation.calendar_cost` is on; the same two then price the energy the schedule keeps in the batteries
    # (x step_h per step held)
    calendar_usd_per_kwh_h: float = 0.0


@dataclass(frozen=True)
class LotOffer:
    """What a PLO tells the DSO day-ahead about its lot (its flexibility), per step of the day.

    Every array holds one value per step (the problem's `steps_per_day`: 24, 48 or 96; the names say "hour" for
    compatibility). `hour_mode[k]` is +1 (charging allowed), -1 (discharging allowed) or 0 (idle), as seed 000's
    schedule. `max_charge_kw` / `max_discharge_kw` (>= 0) bound the lot's power each step; `energy_need_kwh` is the net
    energy the fleet must receive over the day (contracts), `energy_available_kwh` what it may give back.
    `envelope` (a `FlexEnvelope`), when given, is what the EVs can really take: every plan must lie inside it.
    """

    lot_id: str
    candidate_buses: tuple[int, ...]  # 1-based bus numbers where the lot may sit (one = fixed site)
    n_pev: int  # PEVs the lot can serve (capacity, eq. 6)
    pev_power_kw: float
    pev_battery_kwh: float
    hour_mode: np.ndarray  # (n,) per step in {-1, 0, +1}
    max_charge_kw: np.ndarray  # (n,) per step
    max_discharge_kw: np.ndarray  # (n,) per step
    soc_charge_levels: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.2, 0.3, 0.5, 1.0]))
    soc_charge_shares: np.ndarray = field(default_factory=lambda: np.array([0.4, 0.2, 0.2, 0.1, 0.1]))
    soc_discharge_levels: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.4, 0.6, 0.8, 1.0]))
    soc_discharge_shares: np.ndarray = field(default_factory=lambda: np.array([0.1, 0.1, 0.2, 0.3, 0.3]))
    economics: LotEconomics = field(default_factory=LotEconomics)
    energy_need_kwh: float = 0.0
    energy_available_kwh: float = float("inf")
    need_by_hour_kwh: np.ndarray | None = None  # (n,) cumulative battery energy due by the end of each step
    # what the lot's EVs can really take (`cosim.controllers.envelope`): per-step kW bounds and cumulative battery
    # kWh bounds; when given, plans are checked against it (and the older fields above only describe the offer)
    envelope: FlexEnvelope | None = None
    # the EVs behind the envelope (`ParkingLot.fleet_view`: each EV's window, energy, room, charger, contract):
    # the PLO's own data, which it shares in the centralised mode; with it, plans are checked EV by EV
    # (`cosim.controllers.fleet_lp`)
    fleet: dict[str, Any] | None = None
    # the chargers' power factor (the DSO's registration of the lot): the plan's flow adds q = |p| tan(acos(pf))
    power_factor: float = 1.0


@dataclass(frozen=True)
class DayAheadProblem:
    """Everything a DSO controller needs for one day: network, forecasts, lot offers and what may change."""

    network: RadialNetwork
    load_scaling: np.ndarray  # (n,) p.u. of the network's nominal bus loads, one per step (n = steps_per_day)
    price_usd_per_kwh: np.ndarray  # (n,) energy price per step
    lots: tuple[LotOffer, ...] = ()
    base_open_branches: tuple[int, ...] = ()
    reconfigure: bool = True  # may the controller change the open branches?
    objective: str = "of3"  # "of1" PLO benefit, "of2" load-curve deviation, "of3" losses, "vpd"
    target_band: float = 0.05  # +- share of the mean load forming seed 000's P_target band (eq. 9-10)
    options: dict[str, Any] = field(default_factory=dict)
    fixed_injection_kw: np.ndarray | None = None  # (n, n_bus) kW of lots the DSO does not dispatch (+ = load)
    standing_plan: DayAheadPlan | None = None  # the plan in force (negotiation rounds): a warm start, not a bound
    # per-bus forecasts (the grid's own per-element profiles): replace load_scaling x the network's bus loads
    bus_load_kw: np.ndarray | None = None  # (n, n_bus) kW, generators negative
    bus_load_kvar: np.ndarray | None = None  # (n, n_bus) kvar

    def __post_init__(self) -> None:
        price = np.asarray(self.price_usd_per_kwh, dtype=float)
        n = price.shape[0] if price.ndim == 1 else -1
        try:
            step_h_of(n)
        except StepError as exc:
            raise ProblemError(f"DayAheadProblem.price_usd_per_kwh must hold one value per step of the day: {exc}, "
                               f"got shape {price.shape}") from None
        for name in ("load_scaling", "price_usd_per_kwh"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ProblemError(f"DayAheadProblem.{name} must be {n} finite numbers, got shape {arr.shape}")
            object.__setattr__(self, name, arr)
        if self.fixed_injection_kw is not None:
            fixed = np.asarray(self.fixed_injection_kw, dtype=float)
            if fixed.shape != (n, self.network.n_bus) or not np.all(np.isfinite(fixed)):
                raise ProblemError("DayAheadProblem.fixed_injection_kw must be finite, "
                                   f"shape ({n}, {self.network.n_bus})")
            object.__setattr__(self, "fixed_injection_kw", fixed)
        for name in ("bus_load_kw", "bus_load_kvar"):
            if getattr(self, name) is not None:
                arr = np.asarray(getattr(self, name), dtype=float)
                if arr.shape != (n, self.network.n_bus) or not np.all(np.isfinite(arr)):
                    raise ProblemError(f"DayAheadProblem.{name} must be finite, shape ({n}, {self.network.n_bus})")
                object.__setattr__(self, name, arr)
        if (self.bus_load_kw is None) != (self.bus_load_kvar is None):
            raise ProblemError("DayAheadProblem: give bus_load_kw and bus_load_kvar together")
        if np.any(self.load_scaling < 0):
            raise ProblemError("DayAheadProblem.load_scaling must be >= 0 every step")
        if self.objective not in OBJECTIVES:
            raise ProblemError(f"unknown objective {self.objective!r}; allowed: {', '.join(OBJECTIVES)}")
        if not self.base_open_branches:
            object.__setattr__(self, "base_open_branches", tuple(self.network.tie_branches))
        for lot in self.lots:
            for bus in lot.candidate_buses:
                if not 1 <= int(bus) <= self.network.n_bus:
                    raise ProblemError(
                        f"lot {lot.lot_id!r}: candidate bus {bus} does not exist (buses 1..{self.network.n_bus})"
                    )

    def check_lot_steps(self) -> None:
        """A `ProblemError` naming the lot and the array when an offer's arrays (or its envelope) do not hold one
        value per step of the problem's day (the evaluation's check; a controller may check its own way first)."""
        n = self.steps_per_day
        for lot in self.lots:
            for name in ("hour_mode", "max_charge_kw", "max_discharge_kw", "need_by_hour_kwh"):
                arr = getattr(lot, name)
                if arr is not None and np.shape(arr) != (n,):
                    raise ProblemError(f"lot {lot.lot_id!r}: {name} must hold {n} values (one per step of the "
                                       f"problem's day), got shape {np.shape(arr)}")
            if lot.envelope is not None and (lot.envelope.hours != n or lot.envelope.step_h != self.step_h):
                raise ProblemError(f"lot {lot.lot_id!r}: its envelope covers {lot.envelope.hours} steps of "
                                   f"{lot.envelope.step_h} h, the problem's day {n} steps of {self.step_h} h")

    @property
    def steps_per_day(self) -> int:
        """Values in each day-ahead array: 24, 48 or 96 (`cosim.timebase`)."""
        return int(self.price_usd_per_kwh.shape[0])

    @property
    def step_h(self) -> float:
        """The step in hours (1.0, 0.5, 0.25): a step's energy is its kW x step_h."""
        return step_h_of(self.steps_per_day)

    @property
    def load_kw(self) -> np.ndarray:
        """(n,) total system load forecast in kW, without dispatchable lots (fixed lot schedules included)."""
        base = self.load_scaling * float(self.network.p_load_kw.sum()) if self.bus_load_kw is None \
            else self.bus_load_kw.sum(axis=1)
        return base if self.fixed_injection_kw is None else base + self.fixed_injection_kw.sum(axis=1)

    def bus_loads_kw(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, n_bus) active and reactive bus loads (kW, kvar): base loads plus fixed lot schedules, no dispatchable
        lots."""
        if self.bus_load_kw is not None:
            p, q = self.bus_load_kw.copy(), self.bus_load_kvar.copy()
        else:
            p, q = np.outer(self.load_scaling, self.network.p_load_kw), np.outer(self.load_scaling,
                                                                                self.network.q_load_kvar)
        if self.fixed_injection_kw is not None:
            p = p + self.fixed_injection_kw
        return p, q


OBJECTIVES = ("of1", "of2", "of3", "vpd")


@dataclass
class DayAheadPlan:
    """A controller's answer: topology, lot sites, per-step lot setpoints (kW, + charging) and predicted KPIs.

    What each field must hold (`cosim.controllers.validation.check_plan` checks every one; a field that does not is
    a fallback naming it): `open_branches` integer branch ids; `lot_buses` lot id -> integer bus; `setpoints_kw` lot
    id -> n finite numbers (n = the problem's steps_per_day); `feasible` a bool; `predicted` str -> finite number;
    `predicted_hourly` str -> n finite numbers (one per step); `controller` a str; `info` str -> plain data.
    Everything is plain data (None, bool, int, float, str, lists, dicts with str keys, numeric numpy arrays): a plan
    crosses into the DSO's process as such
    (`cosim.controllers.plan_codec`), and the DSO checks and uses that fresh copy, never the controller's objects."""

    open_branches: tuple[int, ...]
    lot_buses: dict[str, int]
    setpoints_kw: dict[str, np.ndarray]  # lot_id -> (n,) kW per step
    feasible: bool
    predicted: dict[str, float] = field(default_factory=dict)  # of1_usd, of2_kw, of3_kwh, vpd, v_min_pu ...
    predicted_hourly: dict[str, np.ndarray] = field(default_factory=dict)  # loss_kw, v_min_pu, p_grid_kw (n,)
    controller: str = ""
    info: dict[str, Any] = field(default_factory=dict)  # evaluations, wall_s, seed, optimizer history ...


@runtime_checkable
class Controller(Protocol):
    """A day-ahead DSO controller."""

    name: str

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan: ...


@dataclass(frozen=True)
class LotMeasurement:
    """What a lot's operator reported of its lot at the start of the step (measured, not forecast)."""

    evs_present: int  # EVs in the lot during the last step
    energy_stored_kwh: float  # battery energy of the EVs present at the start of the step
    energy_charged_kwh: float  # grid-side energy charged since the day started


@dataclass(frozen=True)
class GridMeasurement:
    """The grid's last measured step (the grid simulator's figures, one step old)."""

    hour: int  # the measured step (its index in mosaik time: a step, not an hour, at 30 or 15 minutes)
    losses_kw: float
    v_min_pu: float
    p_grid_kw: float
    open_branches: tuple[int, ...]


@dataclass(frozen=True)
class HourState:
    """What the DSO knows at simulated step `hour` (the step index, mosaik time) besides the rolling problem:
    measurements and its limits.

    `lots` holds the lots whose operators reported this step (exchange modes decide who reports what);
    `grid` is None before the first measured hour; `switch_operations_left` is how many branches the DSO may
    still open or close today (a revised plan that needs more keeps the current topology); `plan` is the plan in
    force, its per-step arrays rolled to start at `hour` (a warm start, as `DayAheadProblem.standing_plan`)."""

    hour: int
    day_start: int
    lots: dict[str, LotMeasurement] = field(default_factory=dict)
    grid: GridMeasurement | None = None
    switch_operations_left: int = 0
    plan: DayAheadPlan | None = None


@runtime_checkable
class HourlyController(Controller, Protocol):
    """A controller that also re-plans at steps that are not a day start (model-predictive control).

    `revise(problem, state, hour)` gets a rolling one-day problem (`steps_per_day` steps) that starts at simulated
    step `hour` (index 0 of its arrays is step `hour`), built from fresh offers and forecasts, and the measured
    `state`; it returns a plan for those steps. The plan is checked and contained exactly like a day-ahead plan
    (validation, time limit, fallback); the DSO applies its first steps until the next revision. Controllers without
    `revise` keep
    the day-ahead plan all day."""

    def revise(self, problem: DayAheadProblem, state: HourState, hour: int) -> DayAheadPlan: ...


def step_refusal(controller: Any, steps_per_day: int) -> str | None:
    """The one line refusing `controller` for a day of `steps_per_day` steps when it plans in hourly steps only (a
    truthy `HOURLY_ONLY` attribute: the MILP, MPC with the MILP engine), else None. A scenario check can call it
    before the run; the controller itself raises it as a `ProblemError` when handed such a problem."""
    if steps_per_day == HOURS or not getattr(controller, "HOURLY_ONLY", False):
        return None
    name = getattr(controller, "name", type(controller).__name__)
    return (f"controller {name!r} plans in hourly steps only; this problem has {steps_per_day} steps a day "
            f"([simulation] step_minutes = {HOURS * 60 // steps_per_day}): use step_minutes = 60 or another "
            "controller")


def can_revise(controller: Any) -> bool:
    """Whether `controller` re-plans step by step (has a callable `revise`)."""
    return callable(getattr(controller, "revise", None))


def rolled_plan(plan: DayAheadPlan, offset: int) -> DayAheadPlan:
    """`plan` with its per-step arrays (setpoints, per-step predictions) rolled to start `offset` steps later (the
    steps past its end repeat its first ones: a day-periodic guess)."""
    return DayAheadPlan(open_branches=tuple(plan.open_branches), lot_buses=dict(plan.lot_buses),
                        setpoints_kw={k: np.roll(np.asarray(v, float), -offset) for k, v in plan.setpoints_kw.items()},
                        feasible=plan.feasible, predicted=dict(plan.predicted),
                        predicted_hourly={k: np.roll(np.asarray(v, float), -offset)
                                          for k, v in plan.predicted_hourly.items()},
                        controller=plan.controller, info={})
