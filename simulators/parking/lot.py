"""SimPy model of one parking lot: EVs arrive, plug in, charge/discharge under the operator's setpoint, leave.

Time: SimPy's clock counts minutes; arrival and departure times are rounded to whole minutes. SimPy
handles arrival/departure events; between two events the set of plugged EVs is fixed and each EV's power
is held constant over the interval, chosen in closed form with numpy over all EVs (no minute loop).

Rules (the operator sets ``setpoint_kw`` at the grid side, + charging / - discharging):

* Stations: at most ``n_chargers`` EVs are plugged. With ``overflow="queue"`` (default) further arrivals
  wait unplugged in arrival order and plug in when a station frees (a waiting EV is "present" and its
  energy counts as stored); with ``overflow="refuse"`` they are turned away (``evs_refused``) and never
  enter the lot's accounting. Departures at a minute are handled before arrivals at the same minute.
* Contract priority over setpoint ("must-run"): over each interval every EV must end at or above the
  lowest energy from which its charger at full power still reaches its contract by departure; if that
  needs charging, the lot charges it whatever the setpoint, and reports the deviation in
  ``undelivered_kw`` (setpoint minus actual) and ``mustrun_kw``.
* Hard limits: SOC stays in ``[soc_min, 1]`` for V2G EVs (an EV below ``soc_min`` is never discharged),
  non-V2G EVs are never discharged, chargers' kW and the lot's ``connection_limit_kw`` are never
  exceeded. When must-run charging exceeds the connection limit, the limited power goes to must-run EVs
  by the allocation rule and the shortfall shows up as ``unmet_energy_kwh`` at departure, never hidden.
* CC-CV: an EV with a knee SOC below 1 (`EV.knee_soc`) charges at most at the power the curve allows at the
  energy it reaches by the end of its part of the step, held constant (`cosim.controllers.cccv`): the envelope's and
  the per-EV LP's model, so their plans are what the lot can draw.
* Ageing: at departure each visit's calendar and cyclic capacity loss (`cosim.controllers.ageing`), a vehicle's
  battery carrying its throughput to its later visits (`EV.vehicle_id`); reactive power: ``q_kvar`` =
  abs(p) tan(acos(power_factor)), absorbed, or with a Q(V) curve (`qv_curve`, `simulators.parking.reactive`) the
  curve's q at the step's p and ``bus_v_pu``, the bus voltage its simulator last measured (the previous step's).
* The setpoint is the step's mean power: at the start of a step the lot shares setpoint x step among the EVs that
  will be plugged in it (the allocation rule, within each EV's charger over its part of the step, room, reserve and
  must-run), and each EV takes its share at an even pace while plugged. What the EVs cannot take is not carried
  into the next step.

Step outputs: powers are means over the step (kW), energies sums over it (kWh). ``evs_present`` counts the
EVs in the lot at any moment of the step (plugged or waiting), so that it agrees with the step's mean power
(a car that leaves at 07:30 counts in the step 07:00-08:00; one arriving exactly at the step's end counts in
the next step); ``evs_plugged`` and ``evs_waiting`` are the state at the end of the step. Counts are integers.
``step_sessions()`` gives one row per EV visit touched in the step (see ``session_row``).

Energy accounting holds per EV and for the lot:
``grid_in * eta_charge - grid_out / eta_discharge = energy_departed - energy_arrived + delta stored``.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import simpy

from cosim.controllers.ageing import CELL_AH, AgeingModel
from cosim.controllers.cccv import has_taper, max_rate_kwh_per_h, must_run_kwh, reach_kwh
from cosim.controllers.envelope import plugged_windows
from cosim.controllers.fleet_lp import dispatch
from cosim.errors import InputError, ProblemError

from .allocation import AllocationRule, fill_in_order, get_allocation, uses_laxity
from .ev import EV
from .reactive import QVCurve

EPS_KWH = 1e-9  # shortfalls below this are rounding, reported as 0


class LotConfigError(InputError):
    """Bad lot parameters or a bad call (e.g. time going backwards)."""


class ParkingLot:
    """One parking lot holding a fleet of EV visits (see the module docstring for the rules)."""

    def __init__(
        self,
        evs: Sequence[EV],
        *,
        n_chargers: int | None = None,
        connection_limit_kw: float | None = None,
        allocation: str | AllocationRule = "least_laxity_first",
        overflow: str = "queue",
        ageing: AgeingModel | None = None,
        power_factor: float = 1.0,
        qv_curve: QVCurve | None = None,
    ) -> None:
        if n_chargers is not None and (isinstance(n_chargers, bool) or int(n_chargers) != n_chargers or n_chargers < 0):
            raise LotConfigError(f"n_chargers={n_chargers!r} is invalid; allowed: a non-negative integer or None")
        if connection_limit_kw is not None and not (connection_limit_kw >= 0):
            raise LotConfigError(f"connection_limit_kw={connection_limit_kw!r} is invalid; allowed: >= 0 kW or None")
        if isinstance(power_factor, bool) or not isinstance(power_factor, (int, float)) \
                or not 0.0 < power_factor <= 1.0:
            raise LotConfigError(f"power_factor={power_factor!r} is invalid; allowed: a power factor in (0, 1]")
        # the chargers draw reactive power at a fixed power factor, absorbing it both ways (lagging while charging,
        # under-excited while feeding in, which counters the voltage rise): q = |p| tan(acos(pf))
        self.q_per_p = math.tan(math.acos(float(power_factor)))
        self.qv_curve = qv_curve  # Q(V) droop instead of the fixed power factor
        self.bus_v_pu = 1.0  # the bus voltage the Q(V) curve reads (set before each step; nominal until measured)
        if overflow not in ("queue", "refuse"):
            raise LotConfigError(f"overflow={overflow!r} is invalid; allowed: 'queue', 'refuse'")
        ids = [ev.id for ev in evs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise LotConfigError(f"duplicate EV id {dup!r} in the fleet")
        self.allocation: AllocationRule = get_allocation(allocation) if isinstance(allocation, str) else allocation
        self.n_chargers = math.inf if n_chargers is None else int(n_chargers)
        self.limit_kw = math.inf if connection_limit_kw is None else float(connection_limit_kw)
        self.overflow = overflow
        order = sorted(range(len(evs)), key=lambda i: (round(evs[i].arrival_h * 60), i))
        self.evs: list[EV] = [evs[i] for i in order]
        col = lambda name: np.array([getattr(ev, name) for ev in self.evs], dtype=float)  # noqa: E731
        self.cap = col("capacity_kwh")
        self.charger = col("charger_kw")
        self.eta_c = col("eta_charge")
        self.eta_d = col("eta_discharge")
        self.knee = col("knee_soc")  # CC-CV knee SOC (1 = constant power), `cosim.controllers.cccv`
        self.v2g = np.array([ev.v2g_allowed for ev in self.evs], dtype=bool)
        self.floor = col("soc_min") * self.cap
        self.e_req = col("soc_min_departure") * self.cap
        self.e_arr = col("soc_arrival") * self.cap
        self.arr_min = np.round(col("arrival_h") * 60.0).astype(np.int64)
        self.dep_min = np.maximum(np.round(col("departure_h") * 60.0).astype(np.int64), self.arr_min + 1)
        self.dep_h = self.dep_min / 60.0
        n = len(self.evs)
        self.energy = self.e_arr.copy()  # battery energy (kWh), meaningful while present
        self.plugged = np.zeros(n, bool)
        self.queued = np.zeros(n, bool)
        self.gone = np.zeros(n, bool)  # departed or refused
        self.refused = np.zeros(n, bool)
        self.unmet_kwh = np.zeros(n)  # contract shortfall at departure
        self.grid_in = np.zeros(n)  # lifetime grid-side kWh per EV
        self.grid_out = np.zeros(n)
        # battery ageing per visit (`cosim.controllers.ageing`): SOC-hours while present, the visit's SOC range,
        # and at departure the capacity lost; a vehicle's battery carries its throughput to its later visits
        self.ageing = ageing or AgeingModel()
        self.vehicle = [ev.vehicle for ev in self.evs]
        self.soc_h = np.zeros(n)
        self.soc_lo = self.e_arr / self.cap
        self.soc_hi = self.soc_lo.copy()
        self.lost_cal_kwh = np.full(n, np.nan)  # NaN until the EV leaves
        self.lost_cyc_kwh = np.full(n, np.nan)
        self.vehicle_lost_kwh = np.full(n, np.nan)  # the vehicle's loss over its visits so far, at this departure
        self._vehicle_ah: dict[str, float] = {}
        self._vehicle_lost: dict[str, float] = {}
        self._queue: list[int] = []  # waiting EVs in arrival order
        self._n_plugged = 0
        self._dep_order = np.argsort(self.dep_min, kind="stable")
        self._pa = 0  # next arrival (index into arrival-sorted EVs)
        self._pd = 0  # next departure (index into _dep_order)
        self._t_min = 0  # minute up to which energy has been integrated
        self._setpoint = 0.0
        self._schedule_key: tuple | None = None  # the operator's schedule (start minute, kW per step, step minutes)
        self._schedule_kw: np.ndarray | None = None  # that schedule as given (the key's kW are rounded, to compare)
        self._preferred: tuple[int, np.ndarray] | None = None  # (start minute, (n, H) grid kWh per EV and step)
        self._view = None  # how the operator expects the fleet (forecast errors), for the per-EV plan
        self._plan_kwh = np.zeros(len(evs))  # each EV's share of the step's energy (grid kWh, `_plan_step`)
        self._plan_end_min = np.zeros(len(evs), dtype=np.int64)  # when its part of the step ends
        self._idx = np.zeros(0, np.int64)  # plugged EV indices
        self._step_end_min = 0  # minute at which the current step ends
        self._reset_step()
        self.env = simpy.Environment()
        self.env.process(self._events())

    # ------------------------------------------------------------------ events
    @property
    def now_h(self) -> float:
        """Hours integrated so far since the start of the run."""
        return self._t_min / 60.0

    def _events(self):
        n = len(self.evs)
        while True:
            ta = self.arr_min[self._pa] if self._pa < n else None
            td = self.dep_min[self._dep_order[self._pd]] if self._pd < n else None
            if ta is None and td is None:
                return
            t = min(x for x in (ta, td) if x is not None)
            yield self.env.timeout(t - self.env.now)
            self._integrate_to(int(t))
            changed = False
            while self._pd < n and self.dep_min[self._dep_order[self._pd]] == t:
                changed |= self._depart(int(self._dep_order[self._pd]))
                self._pd += 1
            while self._pa < n and self.arr_min[self._pa] == t:
                changed |= self._arrive(self._pa)
                self._pa += 1
            if changed:  # plugged EVs in departure order: cheap sorting for departure-based rules
                self._idx = self._dep_order[self.plugged[self._dep_order]]

    def _arrive(self, i: int) -> bool:
        self.s_arrivals += 1
        if self._n_plugged < self.n_chargers:
            self.plugged[i] = True
            self._n_plugged += 1
        elif self.overflow == "queue":
            self.queued[i] = True
            self._queue.append(i)
        else:
            self.refused[i] = self.gone[i] = True
            self._step_refused[i] = True
            self.s_refused += 1
            self.s_arrivals -= 1
            return False
        if self.arr_min[i] < self._step_end_min:  # in the lot for part of this step
            self._seen[i] = True
        self.s_e_arrived += self.e_arr[i]
        return True

    def _depart(self, i: int) -> bool:
        if self.gone[i]:
            return False  # refused on arrival
        self.gone[i] = True
        if self.plugged[i]:
            self.plugged[i] = False
            self._n_plugged -= 1
        else:
            self.queued[i] = False
            self._queue.remove(i)
        self._age(i)
        shortfall = self.e_req[i] - self.energy[i]
        self.unmet_kwh[i] = shortfall if shortfall > EPS_KWH else 0.0
        self.s_unmet += self.unmet_kwh[i]
        self.s_e_departed += self.energy[i]
        self.s_departures += 1
        while self._queue and self._n_plugged < self.n_chargers:
            j = self._queue.pop(0)
            self.queued[j] = False
            self.plugged[j] = True
            self._n_plugged += 1
        return True

    def _age(self, i: int) -> None:
        """Capacity EV `i` lost over its visit (calendar at its mean SOC, cyclic by its battery throughput and SOC
        swing), added to its vehicle's."""
        model, cap, v = self.ageing, self.cap[i], self.vehicle[i]
        stay_h = (self.dep_min[i] - self.arr_min[i]) / 60.0
        mean_soc = self.soc_h[i] / stay_h if stay_h > 0 else self.energy[i] / cap
        age = model.age_days + self.arr_min[i] / 1440.0
        prior = float(model.prior_throughput_ah(cap)) + self._vehicle_ah.get(v, 0.0)
        throughput = self.grid_in[i] * self.eta_c[i] + self.grid_out[i] / self.eta_d[i]
        self.lost_cal_kwh[i] = float(model.calendar_fraction(mean_soc, stay_h / 24.0, age)) * cap
        self.lost_cyc_kwh[i] = float(model.cyclic_fraction(throughput, cap, self.soc_hi[i] - self.soc_lo[i],
                                                           prior)) * cap
        self._vehicle_ah[v] = self._vehicle_ah.get(v, 0.0) + throughput / cap * CELL_AH
        self._vehicle_lost[v] = self._vehicle_lost.get(v, 0.0) + self.lost_cal_kwh[i] + self.lost_cyc_kwh[i]
        self.vehicle_lost_kwh[i] = self._vehicle_lost[v]

    # ------------------------------------------------------------------ physics
    def _bounds(self, idx: np.ndarray, dt: float, t1_h: float):
        """Per-EV grid-side kW bounds (lo, hi) for an interval of ``dt`` h ending at ``t1_h``."""
        e, cap, ch = self.energy[idx], self.cap[idx], self.charger[idx]
        ec, ed = self.eta_c[idx], self.eta_d[idx]
        knee = self.knee[idx]
        # CC-CV: a power held to the end of the EV's part of the step (the envelope's and the per-EV LP's hours)
        held_h = np.maximum(self._plan_end_min[idx] / 60.0 - (t1_h - dt), dt)
        hi = np.where(knee < 1.0, np.minimum(max_rate_kwh_per_h(e, cap, ch * ec, knee, held_h),
                                             (cap - e) / dt) / ec,
                      np.maximum(np.minimum(ch, (cap - e) / (ec * dt)), 0.0))
        upper = e + hi * ec * dt
        # lowest energy still reaching the contract
        need = must_run_kwh(self.e_req[idx], cap, ch * ec, knee, t1_h, self.dep_h[idx])
        base = np.where(self.v2g[idx], np.minimum(e, self.floor[idx]), e)
        low = np.maximum(np.maximum(need, base), e - ch * dt / ed)
        low = np.minimum(low, upper)
        lo = np.where(low >= e, (low - e) / (ec * dt), (low - e) * ed / dt)
        return np.minimum(lo, hi), hi

    def _laxities(self, idx: np.ndarray, t1_h: float, dt: float) -> dict[str, np.ndarray]:
        """Per-EV laxities (hours) after an interval of `dt` h ending at `t1_h` if idle in it, and how fast power
        in the interval moves them (kW per hour of laxity; the same for charging and discharging): charge laxity =
        hours left minus the hours its charger needs to fill its room; discharge laxity = hours left minus the
        hours its charger needs to give what it holds above the lowest energy from which it still reaches its
        contract (and above its V2G reserve). Energy and room an EV takes away at departure are lost first, so the
        least laxity goes first both ways (see `allocation.least_laxity_first`)."""
        charger = self.charger[idx]
        rate = charger * self.eta_c[idx]  # battery kWh per hour, charging
        give = charger / self.eta_d[idx]  # battery kWh per hour, discharging
        left = np.maximum(self.dep_h[idx] - t1_h, 0.0)
        e = self.energy[idx]
        keep = np.maximum(self.floor[idx], must_run_kwh(self.e_req[idx], self.cap[idx], rate, self.knee[idx], t1_h,
                                                        self.dep_h[idx]))
        slope = charger / dt
        short = np.maximum(self.e_req[idx] - e, 0.0)  # battery kWh still due for the contract
        return {"contract_laxity_h": left - short / rate, "contract_kw": short / self.eta_c[idx] / dt,
                "charge_laxity_h": left - (self.cap[idx] - e) / rate,
                "discharge_laxity_h": left - np.maximum(e - keep, 0.0) / give,
                "charge_slope_kw_per_h": slope, "discharge_slope_kw_per_h": slope}

    def _integrate_to(self, t_min: int) -> None:
        """Apply the current setpoint from the last integrated minute to ``t_min``."""
        if t_min <= self._t_min:
            return
        dt = (t_min - self._t_min) / 60.0
        self._t_min = t_min
        if self._queue:  # waiting EVs age at their SOC too
            q = np.asarray(self._queue, np.int64)
            self.soc_h[q] += self.energy[q] / self.cap[q] * dt
        idx = self._idx
        if idx.size == 0:
            return
        lo, hi = self._bounds(idx, dt, t_min / 60.0)
        slo = float(lo.sum())
        # each EV at the pace of its share of the step (`_plan_step`), within what it can do in this interval
        left_h = np.maximum(self._plan_end_min[idx] - (t_min - dt * 60.0), dt * 60.0) / 60.0
        due = self._plan_kwh[idx] - (self._step_in[idx] - self._step_out[idx])
        p = np.clip(due / left_h, lo, hi)
        total = float(p.sum())
        if abs(total) > self.limit_kw + 1e-9:  # the connection limit: the EVs whose part of the step ends first go
            sign = 1.0 if total > 0 else -1.0  # first (the others can catch up later in the step)
            if sign * slo > self.limit_kw:  # must-run above the connection limit: shared among must-run EVs only
                p = self._allocate(idx, np.zeros_like(lo), np.maximum(lo, 0.0), self.limit_kw, dt, t_min / 60.0)
            else:
                base = np.where(sign * p > 0, np.clip(0.0, lo, hi), p) * sign  # what must run, or goes the other way
                room = np.maximum(sign * p - base, 0.0)
                order = np.argsort(self._plan_end_min[idx], kind="stable")
                p = sign * fill_in_order(base, room, self.limit_kw - float(base.sum()), order)
        ec, ed = self.eta_c[idx], self.eta_d[idx]
        e = self.energy[idx]
        e_new = np.clip(e + np.where(p >= 0.0, p * ec * dt, p / ed * dt), 0.0, self.cap[idx])
        de = e_new - e
        g_in = np.where(de > 0.0, de / ec, 0.0)
        g_out = np.where(de < 0.0, -de * ed, 0.0)
        self.energy[idx] = e_new
        soc0, soc1 = e / self.cap[idx], e_new / self.cap[idx]
        self.soc_h[idx] += 0.5 * (soc0 + soc1) * dt
        self.soc_lo[idx] = np.minimum(self.soc_lo[idx], soc1)
        self.soc_hi[idx] = np.maximum(self.soc_hi[idx], soc1)
        self.grid_in[idx] += g_in
        self.grid_out[idx] += g_out
        self._step_in[idx] += g_in
        self._step_out[idx] += g_out
        self.s_batt_in += float(de[de > 0].sum())
        self.s_batt_out += float(-de[de < 0].sum())
        self.s_mustrun_kwh += float(np.maximum(lo, 0.0).sum()) * dt if total >= slo else total * dt

    def _allocate(self, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float, dt: float,
                  t1_h: float) -> np.ndarray:
        """The allocation rule's share of `total` kW among EVs `idx` over `dt` h (lo <= p <= hi)."""
        if uses_laxity(self.allocation):
            return self.allocation(lo, hi, total, self.dep_h[idx], **self._laxities(idx, t1_h, dt))
        return self.allocation(lo, hi, total, self.dep_h[idx])

    def fleet_view(self, start_h: float, hours: int = 24, energy_kwh: np.ndarray | None = None,
                   step_minutes: int = 60) -> tuple[dict[str, object], np.ndarray]:
        """The EVs of the window of `hours` steps of `step_minutes` from `start_h` as
        `cosim.controllers.envelope.fleet_envelope` (and the per-EV LP) take them, JSON-able, and their indices in the
        lot: each EV's plugged window from the lot's queue (at most `n_chargers` plugged, the rest waiting in arrival
        order, or turned away with ``overflow = "refuse"``), its battery energy now (or on arrival), capacity,
        charger, contract and reserve. The dict's ``hours`` counts steps; ``step_minutes`` is in it only when the
        step is not 60 minutes (an hourly fleet is as before)."""
        t0 = int(round(start_h * 60))
        e_now = np.where(self.plugged | self.queued, self.energy, self.e_arr) if energy_kwh is None else energy_kwh
        plug, dep = plugged_windows(self.arr_min, self.dep_min, self.n_chargers, now_min=self._t_min,
                                    plugged=self.plugged, queue=list(self._queue), gone=self.gone,
                                    refuse=self.overflow == "refuse")
        # EVs in the window, plugged or not (one that never gets a charger still has a contract: its shortfall counts)
        keep = np.flatnonzero(~self.gone & (dep > t0) & (np.maximum(self.arr_min, t0) < t0 + step_minutes * hours))
        fleet = {"start_min": t0, "hours": int(hours), "plug_min": plug[keep].tolist(), "dep_min": dep[keep].tolist(),
                 "energy_kwh": e_now[keep].tolist(), "capacity_kwh": self.cap[keep].tolist(),
                 "charger_kw": self.charger[keep].tolist(), "contract_kwh": self.e_req[keep].tolist(),
                 "floor_kwh": self.floor[keep].tolist(), "v2g": self.v2g[keep].tolist(),
                 "eta_charge": self.eta_c[keep].tolist(), "eta_discharge": self.eta_d[keep].tolist(),
                 "connection_limit_kw": float(min(self.limit_kw, 1e9))}
        if has_taper(self.knee):  # CC-CV knees, only when some EV tapers (the payload is as before otherwise)
            fleet["knee_soc"] = self.knee[keep].tolist()
        if step_minutes != 60:  # `hours` counts steps of this length
            fleet["step_minutes"] = int(step_minutes)
        return fleet, keep

    def set_schedule(self, start_h: float, schedule_kw: Sequence[float], view=None, step_minutes: int = 60) -> None:
        """The operator's schedule (kW, one value per step of `step_minutes` from `start_h`): the lot then shares
        each step's energy among its EVs as the per-EV plan that delivers the whole schedule best does
        (`fleet_lp.dispatch`, solved from the lot's state when the schedule starts, and again each step when the
        operator's view of the fleet (`view`, forecast errors) differs from the EVs that come). Without a schedule,
        the allocation rule alone."""
        key = (int(round(start_h * 60)), tuple(round(float(v), 9) for v in schedule_kw), int(step_minutes))
        if key != self._schedule_key:
            self._schedule_key, self._preferred, self._view = key, None, view
            self._schedule_kw = np.array(schedule_kw, dtype=float)

    def _preferred_kwh(self, t0: int, t1: int) -> np.ndarray | None:
        """(n,) grid kWh each EV should take in the step [t0, t1) by the per-EV plan of the operator's schedule."""
        if self._schedule_key is None:
            return None
        start, _, step = self._schedule_key
        kw = self._schedule_kw
        if t1 - t0 != step:
            return None
        k = (t0 - start) // step
        if (t0 - start) % step or not 0 <= k < len(kw):
            return None
        if self._preferred is None or self._view is not None:  # solve from now on (again, under forecast errors)
            source = self if self._view is None else self._view.expected(self)
            fleet, keep = source.fleet_view(t0 / 60.0, len(kw) - k, step_minutes=step)
            try:
                per_ev, _ = dispatch(fleet, kw[k:])  # as given: the operator's own solve of it is then reused
            except ProblemError:
                return None
            plan = np.zeros((len(self.evs), len(kw) - k))
            plan[keep] = per_ev
            self._preferred = (t0, plan)
        solved_at, plan = self._preferred
        column = (t0 - solved_at) // step
        return plan[:, column] if 0 <= column < plan.shape[1] else None

    def _plan_step(self, t0: int, t1: int) -> None:
        """Share the step's energy (setpoint x step) among the EVs that will be plugged in it: each EV's lowest and
        highest energy for the step (its charger over the part of the step it is plugged - from the lot's queue -,
        its room and reserve, and the must-run charging that keeps its contract reachable by the step's end), and
        the allocation rule for the rest. Each EV then takes its share at an even pace while plugged (so it never
        falls behind its must-run path), and an EV leaving or arriving mid-step counts only for its part."""
        n = len(self.evs)
        self._plan_kwh = np.zeros(n)
        self._plan_end_min = np.full(n, t1, dtype=np.int64)
        dt = (t1 - t0) / 60.0
        plug, dep = plugged_windows(self.arr_min, self.dep_min, self.n_chargers, now_min=t0, plugged=self.plugged,
                                    queue=list(self._queue), gone=self.gone, refuse=self.overflow == "refuse")
        start, end = np.maximum(plug, t0), np.minimum(dep, t1)
        idx = np.flatnonzero((end > start) & ~self.gone)
        if idx.size == 0:
            return
        self._plan_end_min[idx] = end[idx]
        present = (end[idx] - start[idx]) / 60.0
        e, cap, ch = self.energy[idx], self.cap[idx], self.charger[idx]
        ec, ed = self.eta_c[idx], self.eta_d[idx]
        rate, knee = ch * ec, self.knee[idx]
        high = reach_kwh(e, cap, rate, knee, present)
        need = must_run_kwh(self.e_req[idx], cap, rate, knee, end[idx] / 60.0, self.dep_h[idx])
        base = np.where(self.v2g[idx], np.minimum(e, self.floor[idx]), e)
        low = np.minimum(np.maximum(np.maximum(need, base), e - ch / ed * present), high)
        to_grid = lambda d: np.where(d >= 0.0, d / ec, d * ed)  # noqa: E731
        lo, hi = to_grid(low - e) / dt, to_grid(high - e) / dt  # kW over the whole step
        lo = np.minimum(lo, hi)
        total = min(max(self._setpoint, float(lo.sum())), float(hi.sum()))
        total = min(max(total, -self.limit_kw), self.limit_kw)
        if total < float(lo.sum()):
            hi, lo = np.maximum(lo, 0.0), np.zeros_like(lo)
        preferred = self._preferred_kwh(t0, t1)
        if preferred is None:
            self._plan_kwh[idx] = self._allocate(idx, lo, hi, total, dt, t1 / 60.0) * dt
            return
        # the per-EV plan's shares, within this step's bounds; the allocation rule moves them by what is left over
        share = np.clip(preferred[idx] / dt, lo, hi)
        delta = self._allocate(idx, lo - share, hi - share, total - float(share.sum()), dt, t1 / 60.0)
        self._plan_kwh[idx] = (share + delta) * dt

    # ------------------------------------------------------------------ stepping
    def _reset_step(self) -> None:
        n = len(self.evs)
        self._step_in = np.zeros(n)
        self._step_out = np.zeros(n)
        self.s_e_arrived = self.s_e_departed = self.s_unmet = 0.0
        self.s_batt_in = self.s_batt_out = self.s_mustrun_kwh = 0.0
        self.s_arrivals = self.s_departures = self.s_refused = 0
        self._seen = self.plugged | self.queued  # EVs in the lot at some moment of the step
        self._step_refused = np.zeros(n, bool)

    def advance(self, setpoint_kw: float, until_h: float) -> dict[str, float]:
        """Run the lot to ``until_h`` (hours since start, rounded to minutes) holding ``setpoint_kw``
        (grid side, + charging / - discharging); return this step's outputs as Python floats (counts as ints)."""
        if not math.isfinite(setpoint_kw):
            raise LotConfigError(f"setpoint_kw={setpoint_kw!r} is invalid; allowed: a finite number of kW")
        until_min = int(round(until_h * 60.0))
        if until_min <= self._t_min:
            raise LotConfigError(f"until_h={until_h!r} must be at least one minute after the lot time "
                                 f"{self.now_h!r} h")
        t0 = self._t_min
        e0 = self.stored_kwh()
        self._step_end_min = until_min
        self._reset_step()
        self._setpoint = float(setpoint_kw)
        self._plan_step(t0, until_min)
        self.env.run(until=until_min + 0.5)  # +0.5 min: events at until_min belong to this step
        self._integrate_to(until_min)
        dt = (until_min - t0) / 60.0
        return self._outputs(dt, e0)

    def stored_kwh(self) -> float:
        """Battery energy of the EVs present (plugged or waiting), kWh."""
        return float(self.energy[self.plugged | self.queued].sum())

    def ev_report(self) -> list[dict[str, object]]:
        """Per-EV state so far: id, status ('due', 'waiting', 'plugged', 'departed', 'refused'), energy
        (kWh, battery), lifetime grid kWh in/out and contract shortfall at departure (kWh)."""
        status = np.where(self.refused, "refused", np.where(self.gone, "departed", np.where(
            self.plugged, "plugged", np.where(self.queued, "waiting", "due"))))
        return [{"id": ev.id, "status": str(status[i]), "energy_kwh": float(self.energy[i]),
                 "grid_in_kwh": float(self.grid_in[i]), "grid_out_kwh": float(self.grid_out[i]),
                 "unmet_energy_kwh": float(self.unmet_kwh[i])} for i, ev in enumerate(self.evs)]

    def session_row(self, i: int) -> dict[str, object]:
        """The visit of EV ``i`` so far, one row (times in hours since the start of the run, energies in kWh).

        status: 'due' (not arrived), 'waiting', 'plugged', 'departed' or 'refused'.
        energy_requested_kwh: battery energy the contract asks to add (``soc_min_departure`` - ``soc_arrival``,
        times the capacity, at least 0). energy_delivered_grid_kwh / energy_discharged_grid_kwh: grid-side energy
        into / out of this EV over the visit (they add up to the lot's ``energy_charged_kwh`` /
        ``energy_discharged_kwh``); energy_delivered_battery_kwh / energy_discharged_battery_kwh: the same on the
        battery side (grid in x eta_charge, grid out / eta_discharge), comparable with energy_requested_kwh.
        soc_departure, unmet_energy_kwh and contract_met are None (unknown) until the EV leaves; a refused visit
        has contract_met False and no unmet energy (it counts in ``evs_refused``).
        Battery ageing (`cosim.controllers.ageing`), None until the EV leaves: capacity_lost_kwh (calendar + cyclic,
        also apart), vehicle_capacity_lost_kwh (its vehicle's loss over its visits so far), battery_degradation_usd
        (the loss at the model's battery price).
        """
        return self._session_rows([i])[0]

    def _session_rows(self, indices: list[int]) -> list[dict[str, object]]:
        """`session_row` of each EV in `indices`: the lot's arrays read once as Python lists (the same floats, the
        same arithmetic), not a numpy scalar per figure."""
        if not indices:
            return []
        at = np.asarray(indices, np.int64)
        gone, refused, plugged, queued = (a[at].tolist() for a in (self.gone, self.refused, self.plugged, self.queued))
        arr, dep, cap, v2g = (a[at].tolist() for a in (self.arr_min, self.dep_min, self.cap, self.v2g))
        energy, e_req, e_arr = (a[at].tolist() for a in (self.energy, self.e_req, self.e_arr))
        grid_in, grid_out, eta_c, eta_d = (a[at].tolist()
                                           for a in (self.grid_in, self.grid_out, self.eta_c, self.eta_d))
        unmets, cal, cyc, vehicle_lost = (a[at].tolist() for a in (self.unmet_kwh, self.lost_cal_kwh, self.lost_cyc_kwh,
                                                                    self.vehicle_lost_kwh))
        price = self.ageing.battery_cost_usd_per_kwh
        rows = []
        for k, i in enumerate(indices):
            ev = self.evs[i]
            departed = bool(gone[k] and not refused[k])
            status = ("refused" if refused[k] else "departed" if departed else "plugged" if plugged[k]
                      else "waiting" if queued[k] else "due")
            unmet = unmets[k]
            rows.append({
                "ev_id": ev.id, "status": status, "arrival_h": arr[k] / 60.0,
                "departure_h": dep[k] / 60.0, "capacity_kwh": cap[k],
                "v2g_allowed": bool(v2g[k]), "soc_arrival": float(ev.soc_arrival),
                "soc_contract": float(ev.soc_min_departure),
                "soc_departure": energy[k] / cap[k] if departed else None,
                "energy_requested_kwh": float(max(e_req[k] - e_arr[k], 0.0)),
                "energy_delivered_grid_kwh": grid_in[k],
                "energy_delivered_battery_kwh": grid_in[k] * eta_c[k],
                "energy_discharged_grid_kwh": grid_out[k],
                "energy_discharged_battery_kwh": grid_out[k] / eta_d[k],
                "unmet_energy_kwh": unmet if departed else None,
                "contract_met": (unmet <= EPS_KWH) if departed else (False if refused[k] else None),
                "vehicle_id": self.vehicle[i],
                "capacity_lost_kwh": cal[k] + cyc[k] if departed else None,
                "capacity_lost_calendar_kwh": cal[k] if departed else None,
                "capacity_lost_cyclic_kwh": cyc[k] if departed else None,
                "vehicle_capacity_lost_kwh": vehicle_lost[k] if departed else None,
                "battery_degradation_usd": float((cal[k] + cyc[k]) * price) if departed else None,
            })
        return rows

    def step_sessions(self) -> list[dict[str, object]]:
        """``session_row`` of every EV in the lot at some moment of the last step, or refused in it: the rows
        whose figures the step may have changed (an EV's last row is its visit's final one)."""
        return self._session_rows(np.flatnonzero(self._seen | self._step_refused).tolist())

    def sessions(self) -> list[dict[str, object]]:
        """``session_row`` of every EV that has arrived (or been refused) so far."""
        return self._session_rows(np.flatnonzero(self.refused | self.gone | self.plugged | self.queued).tolist())

    def _flex(self):
        idx = self._idx
        t = self.now_h
        e, cap, ch = self.energy[idx], self.cap[idx], self.charger[idx]
        ec, ed = self.eta_c[idx], self.eta_d[idx]
        rem = np.maximum(self.dep_h[idx] - t, 0.0)
        knee = self.knee[idx]
        flex_c = np.where(knee < 1.0, reach_kwh(e, cap, ch * ec, knee, rem) - e, np.minimum(cap - e, ch * ec * rem))
        # discharge x (battery side) at full power, then recharge at full power before departure:
        # e - x + ch*ec*(rem - x*ed/ch) >= e_req  ->  x <= (e + ch*ec*rem - e_req) / (1 + ec*ed)
        x = np.minimum.reduce([(e + ch * ec * rem - self.e_req[idx]) / (1.0 + ec * ed),
                               e - self.floor[idx], ch * rem / ed])
        flex_d = np.where(self.v2g[idx], np.maximum(x, 0.0), 0.0)
        return flex_c, flex_d, ch

    def reactive_kvar(self, p_kw: float) -> float:
        """The chargers' reactive power (kvar, + absorbed) at active power `p_kw`: the Q(V) curve's at `bus_v_pu`,
        else |p| tan(acos(power_factor))."""
        if self.qv_curve is not None:
            return float(self.qv_curve.q_kvar(p_kw, self.bus_v_pu))
        return abs(p_kw) * self.q_per_p

    def _outputs(self, dt: float, e0: float) -> dict[str, float | int]:
        flex_c, flex_d, ch = self._flex()
        e_in, e_out = float(self._step_in.sum()), float(self._step_out.sum())
        p = (e_in - e_out) / dt
        return {
            "p_kw": p,
            "q_kvar": self.reactive_kvar(p),
            "setpoint_kw": self._setpoint,
            "undelivered_kw": self._setpoint - p,
            "mustrun_kw": self.s_mustrun_kwh / dt,
            "evs_present": int(np.count_nonzero(self._seen)),
            "evs_plugged": int(self._n_plugged),
            "evs_waiting": len(self._queue),
            "evs_charging": int(np.count_nonzero(self._step_in > EPS_KWH)),
            "evs_discharging": int(np.count_nonzero(self._step_out > EPS_KWH)),
            "evs_arrived": int(self.s_arrivals),
            "evs_departed": int(self.s_departures),
            "evs_refused": int(self.s_refused),
            "energy_stored_kwh": self.stored_kwh(),
            "energy_stored_start_kwh": e0,
            "energy_arrived_kwh": float(self.s_e_arrived),
            "energy_departed_kwh": float(self.s_e_departed),
            "flex_charge_kwh": float(flex_c.sum()),
            "flex_discharge_kwh": float(flex_d.sum()),
            "max_charge_kw": float(min(self.limit_kw, ch[flex_c > EPS_KWH].sum())),
            "max_discharge_kw": float(min(self.limit_kw, ch[flex_d > EPS_KWH].sum())),
            "energy_charged_kwh": e_in,
            "energy_discharged_kwh": e_out,
            "throughput_kwh": float(self.s_batt_in + self.s_batt_out),
            "battery_charged_kwh": float(self.s_batt_in),
            "battery_discharged_kwh": float(self.s_batt_out),
            "unmet_energy_kwh": float(self.s_unmet),
        }
