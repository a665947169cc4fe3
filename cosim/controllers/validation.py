"""Every plan is checked before the DSO uses it, whoever wrote the controller, and evaluated with the fast flow.

`check_plan(problem, plan)` applies the rules below in order. n is the problem's steps in the day
(`DayAheadProblem.steps_per_day`: 24, 48 or 96); "hour" below means a step. A repair that is exact (clipping a
setpoint to the step's offered bounds) is applied and listed; any other failure names the rule, and the DSO falls back
(last feasible topology, lots on their own schedules).

| rule | what is checked | on failure |
|---|---|---|
| `plain-data` | every field plain data (`plan_codec`; checked where the plan is converted) | fallback |
| `type` | a `DayAheadPlan` (open_branches, lot_buses, setpoints_kw, feasible) | fallback |
| `feasible` | a bool (`True` or `False`, not an array), and the controller says the plan is feasible | fallback |
| `fields` | `controller` a str; `info` a dict with str keys, none of the DSO's own, `history` numbers | fallback |
| `predictions` | `predicted`: finite numbers; `predicted_hourly`: n finite numbers each (str keys) | fallback |
| `topology` | known integer branch ids (a list), radial (no loop, no island); fixed without reconfiguring | fallback |
| `lots` | dicts `lot_buses`, `setpoints_kw`; setpoints and buses for the problem's lots only (one each) | fallback |
| `setpoints` | n finite numbers per lot | fallback |
| `bus` | each lot at one of its candidate buses (an integer) | fallback |
| `bounds` | within the hour's power bounds (the lot's envelope, `LotOffer.envelope`, else its offer) | clipped |
| `energy` | cumulative energy within the envelope: above e_max clipped hour by hour; below e_min | fallback |
|          | with the lot's EVs known (centralised): the nearest schedule a per-EV dispatch delivers | clipped |
|          | (contracts missed) refused. Without one: need_by_hour_kwh, energy_need_kwh, available | fallback |

No rule raises, whatever a field holds: a field of the wrong type or shape is a failure naming the field. A plan
that passes is normalised in place to what was checked (open_branches a tuple of int, lot_buses int, setpoints and
hourly predictions write-protected float arrays, predictions float), so the checked values are the values used. The
DSO checks a fresh copy of plain data (`cosim.controllers.plan_codec`), never the controller's own objects.

`evaluate_plan(problem, plan)` fills `plan.predicted` and `plan.predicted_hourly` with the fast flow, so
plan-versus-reality works for any controller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cosim.controllers import objectives as obj
from cosim.controllers.base import DayAheadPlan, DayAheadProblem, LotOffer
from cosim.controllers.fleet_lp import DELIVERY_TOLERANCE_KWH, fleet_step_h, nearest_kw
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.errors import ProblemError
from cosim.powerflow.topology import TopologyError, check_radial

__all__ = ["PlanCheck", "check_plan", "evaluate_plan", "lot_bounds_kw"]

TOLERANCE_KW = 1e-6
"""Setpoints this close to a bound are numerical noise, not a violation (no repair is logged)."""
TOLERANCE_KWH = 1e-3
"""Contract energy shortfalls below this are numerical noise."""


@dataclass
class PlanCheck:
    """The outcome of `check_plan`: the plan to use (possibly repaired) or the rule that failed."""

    plan: DayAheadPlan | None
    failure: str | None = None  # "rule: what is wrong"
    repairs: list[str] = field(default_factory=list)  # exact repairs applied, one line each

    @property
    def ok(self) -> bool:
        return self.failure is None


def lot_bounds_kw(lot: LotOffer) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) setpoint bounds per step (kW, + charging): the envelope's power bounds when the offer has
    one, else from the offer's max_charge_kw / max_discharge_kw and hour modes."""
    if lot.envelope is not None:
        return lot.envelope.p_min_kw.copy(), lot.envelope.p_max_kw.copy()
    mode = np.asarray(lot.hour_mode)
    upper = np.where(mode > 0, np.asarray(lot.max_charge_kw, float), 0.0)
    lower = np.where(mode < 0, -np.asarray(lot.max_discharge_kw, float), 0.0)
    return lower, upper


def _step_word(step_h: float) -> str:
    """How a failure line names a step: "hour" at hourly steps (the lines as they always were), else "step"."""
    return "hour" if step_h == 1.0 else "step"


def _fail(rule: str, detail: str) -> PlanCheck:
    return PlanCheck(None, f"{rule}: {detail}")


def check_plan(problem: DayAheadProblem, plan: object) -> PlanCheck:
    """Check `plan` against `problem` (rules in the module docstring); returns the plan to use or the failure."""
    if not isinstance(plan, DayAheadPlan):
        return _fail("type", f"the controller returned a {type(plan).__name__}, not a DayAheadPlan")
    if not isinstance(plan.feasible, (bool, np.bool_)):
        return _fail("feasible", f"feasible must be True or False, got {_what(plan.feasible)}")
    if not plan.feasible:
        return _fail("feasible", "the controller returned an infeasible plan")
    failure = _other_fields(plan)
    if failure:
        return _fail("fields", failure)
    n = problem.steps_per_day
    predictions, failure = _predictions(plan, n)
    if failure:
        return _fail("predictions", failure)
    net = problem.network
    open_ids, failure = _branch_ids(plan.open_branches)
    if failure:
        return _fail("topology", failure)
    try:
        check_radial(net, open_ids)
    except (TopologyError, TypeError, ValueError, IndexError) as exc:
        return _fail("topology", str(exc))
    if not problem.reconfigure and sorted(open_ids) != sorted(int(b) for b in problem.base_open_branches):
        return _fail("topology", f"opens {sorted(open_ids)} but reconfiguration is off "
                                 f"(base {sorted(problem.base_open_branches)})")
    lots = {lot.lot_id: lot for lot in problem.lots}
    for name in ("setpoints_kw", "lot_buses"):
        failure = _str_keys(getattr(plan, name), name, none_ok=True)
        if failure:
            return _fail("lots", failure)
    setpoints = dict(plan.setpoints_kw or {})
    buses = dict(plan.lot_buses or {})
    unknown = sorted(str(k) for k in set(setpoints) | set(buses) if k not in lots)
    if lots and unknown:
        return _fail("lots", f"unknown lot(s) {unknown}; the problem's lots are {sorted(lots)}")
    missing = sorted(k for k in lots if k not in setpoints)
    if missing:
        return _fail("lots", f"no setpoints for lot(s) {missing}")
    # a problem without lots to dispatch: entries for other lots (their sites, their schedules) are kept, checked
    checked: dict[str, np.ndarray] = {}
    for lot_id in [k for k in setpoints if k not in lots]:
        sp, failure = _hourly(setpoints[lot_id], f"setpoints_kw[{lot_id!r}]", n)
        if failure:
            return _fail("setpoints", failure)
        checked[lot_id] = sp
    for lot_id in [k for k in buses if k not in lots]:
        if not _integer(buses[lot_id]) or not 1 <= int(buses[lot_id]) <= net.n_bus:
            return _fail("bus", f"lot {lot_id!r} at bus {buses[lot_id]!r}, not a bus of the network (1..{net.n_bus})")
        buses[lot_id] = int(buses[lot_id])
    repairs: list[str] = []
    for lot_id, lot in lots.items():
        try:
            sp = np.asarray(setpoints[lot_id], dtype=float)
        except (TypeError, ValueError, OverflowError):
            return _fail("setpoints", f"lot {lot_id!r}: setpoints are not numbers")
        if sp.shape != (n,) or not np.all(np.isfinite(sp)):
            return _fail("setpoints", f"lot {lot_id!r}: need {n} finite numbers, got shape {sp.shape}"
                                      + ("" if sp.shape != (n,) else " with NaN or infinity"))
        bus = buses.get(lot_id)
        if not _integer(bus) or int(bus) not in lot.candidate_buses:
            return _fail("bus", f"lot {lot_id!r} at bus {bus!r}, not one of its candidates {list(lot.candidate_buses)}")
        lower, upper = lot_bounds_kw(lot)
        clipped = np.clip(sp, lower, upper)
        worst = float(np.max(np.abs(clipped - sp)))
        if worst > TOLERANCE_KW:
            hours = [int(h) for h in np.flatnonzero(np.abs(clipped - sp) > TOLERANCE_KW)]
            repairs.append(f"bounds: lot {lot_id!r} clipped to its offered bounds in "
                           f"{_step_word(problem.step_h)}(s) {hours} (by up to {worst:.1f} kW)")
        if lot.envelope is not None:
            clipped, failure, repair = _within_envelope(lot_id, lot, clipped)
            if failure:
                return _fail("energy", failure)
            if repair:
                repairs.append(repair)
        if lot.fleet is not None:  # EV by EV: the nearest schedule some per-EV dispatch delivers
            clipped, repair = _deliverable(lot_id, lot, clipped)
            if repair:
                repairs.append(repair)
        checked[lot_id] = clipped
        short = float(obj.contract_violation_kwh(clipped, lot, problem.step_h))
        if short > TOLERANCE_KWH:
            return _fail("energy", f"lot {lot_id!r} misses its contracts by {short:.1f} kWh (energy charged by each "
                                   f"hour below need_by_hour_kwh, or discharged beyond energy_available_kwh)")
    # what was checked is what is used: the plan holds the checked values from here on
    plan.open_branches, plan.feasible = tuple(open_ids), True
    plan.lot_buses = {**buses, **{lot_id: int(buses[lot_id]) for lot_id in lots}}
    plan.setpoints_kw = {k: _frozen(checked[k]) for k in setpoints}  # the plan's order
    plan.predicted, plan.predicted_hourly = predictions
    if repairs:
        evaluate_plan(problem, plan)  # the predictions must describe the plan that is used
    return PlanCheck(plan, None, repairs)


def _what(value: object) -> str:
    """What `value` is, for a failure line (its type, an array's shape), without calling anything of it."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return str(float(value))
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _integer(value: object) -> bool:
    """An integer (Python or numpy, not a bool), or a float that is one (an id a numpy float array carried)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isfinite(value)) and float(value).is_integer()


def _number(value: object) -> bool:
    """A finite real number (Python or numpy, not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and bool(np.isfinite(float(value)))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, dtype=float)
    arr.setflags(write=False)
    return arr


def _str_keys(value: object, name: str, none_ok: bool = False) -> str:
    """"" when `value` is a dict with str keys (or None where allowed), else what is wrong."""
    if value is None and none_ok:
        return ""
    if not isinstance(value, dict):
        return f"{name} must be a dict, got {_what(value)}"
    bad = [type(k).__name__ for k in value if not isinstance(k, str)]
    return f"{name} has keys of type {bad[0]}; keys are str" if bad else ""


DSO_INFO = ("fallback", "rejected_predicted", "revisions", "switch_operations_left")
"""Keys of `plan.info` that the DSO writes itself (a fallback's reason, the day's revisions): no plan may bring them."""


def _other_fields(plan: DayAheadPlan) -> str:
    """The fields no other rule reads: `controller` (a str) and `info` (a dict with str keys, none of the DSO's own;
    `history`, which plans.jsonl records, numbers in one dimension)."""
    if not isinstance(plan.controller, str):
        return f"controller must be a str, got {_what(plan.controller)}"
    failure = _str_keys(plan.info, "info")
    if failure:
        return failure
    own = [k for k in DSO_INFO if k in plan.info]
    if own:
        return f"info[{own[0]!r}] is the DSO's own entry ({', '.join(DSO_INFO)}); a plan cannot bring it"
    if "history" in plan.info:
        history = plan.info["history"]
        arr = history if isinstance(history, np.ndarray) else None
        if arr is None and isinstance(history, (list, tuple)) and all(_real(v) for v in history):
            arr = np.asarray(history, dtype=float)
        if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iuf":
            return f"info['history'] must be numbers in one dimension (the optimiser's history), got {_what(history)}"
    return ""


def _real(value: object) -> bool:
    """A real number, finite or not (Python or numpy, not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _predictions(plan: DayAheadPlan, n: int) -> tuple[tuple[dict[str, float], dict[str, np.ndarray]], str]:
    """((predicted as floats, predicted_hourly as write-protected float arrays of `n` steps), "") or (({}, {}),
    what is wrong)."""
    for name in ("predicted", "predicted_hourly"):
        failure = _str_keys(getattr(plan, name), name)
        if failure:
            return ({}, {}), failure
    predicted: dict[str, float] = {}
    for key, value in plan.predicted.items():
        if not _number(value):
            return ({}, {}), f"predicted[{key!r}] must be a finite number, got {_what(value)}"
        predicted[key] = float(value)
    hourly: dict[str, np.ndarray] = {}
    for key, value in plan.predicted_hourly.items():
        arr, failure = _hourly(value, f"predicted_hourly[{key!r}]", n)
        if failure:
            return ({}, {}), failure
        hourly[key] = arr
    return (predicted, hourly), ""


def _hourly(value: object, name: str, n: int) -> tuple[np.ndarray, str]:
    """(`value` as n write-protected floats, "") or (empty, what is wrong): an array or list of n finite numbers (one
    per step of the problem's day)."""
    arr = value if isinstance(value, np.ndarray) else None
    if arr is None and isinstance(value, (list, tuple)) and all(_real(v) for v in value):
        try:
            arr = np.asarray(value, dtype=float)
        except OverflowError:  # an int beyond float (a plan built in Python; the codec refuses those)
            arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        return np.zeros(0), f"{name} must be {n} finite numbers, got {_what(value)}"
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        return np.zeros(0), (f"{name} must be {n} finite numbers, got shape {arr.shape}"
                             + ("" if arr.shape != (n,) else " with NaN or infinity"))
    return _frozen(arr), ""


def _branch_ids(value: object) -> tuple[list[int], str]:
    """(the open branches as ints, "") or ([], what is wrong): a list, tuple or 1-d array of integers."""
    if isinstance(value, np.ndarray):
        items = list(value) if value.ndim == 1 else None
    else:
        items = list(value) if isinstance(value, (list, tuple)) else None
    if items is None:
        return [], f"open_branches must be a list of branch ids, got {_what(value)}"
    bad = [x for x in items if not _integer(x)]
    if bad:
        return [], f"open_branches must be integer branch ids, got {_what(bad[0])}"
    return [int(x) for x in items], ""


def _within_envelope(lot_id: str, lot: LotOffer, sp: np.ndarray) -> tuple[np.ndarray, str, str]:
    """Setpoints (already within the hourly bounds) against the envelope's cumulative and suffix energy bounds:
    (setpoints, failure, repair). Energy beyond what the EVs can store, or asked after the EVs that could take it
    have left, is clipped away hour by hour (`FlexEnvelope.project`), provided the clipping only shrinks hours
    towards idle; a schedule that puts less energy in than the contracts need by some hour is refused - adding
    charging the DSO did not plan is not a repair."""
    env = lot.envelope
    word = _step_word(env.step_h)
    e = env.energy_kwh(sp)
    below = env.e_min_kwh - e
    if float(below.max()) > TOLERANCE_KWH:
        h = int(np.argmax(below))
        return sp, (f"lot {lot_id!r} misses its contracts: {float(below[h]):.1f} kWh below the energy its EVs need by "
                    f"the end of {word} {h} (envelope e_min_kwh)"), ""
    above = e - env.e_max_kwh
    late = float(env.suffix_excess_kwh(sp))
    if float(above.max()) <= TOLERANCE_KWH and late <= TOLERANCE_KWH:
        return sp, "", ""
    projected = env.project(sp)
    grows = (projected > np.maximum(sp, 0.0) + TOLERANCE_KW) | (projected < np.minimum(sp, 0.0) - TOLERANCE_KW)
    if float(env.violation_kwh(projected)) > TOLERANCE_KWH or np.any(grows):
        h = int(np.argmax(above))
        what = (f"puts {float(above[h]):.1f} kWh more into its EVs than they can store by the end of {word} {h} "
                "(envelope e_max_kwh)" if above[h] > TOLERANCE_KWH else
                f"asks {late:.1f} kWh of charging or discharging after EVs that could take it have left "
                "(envelope gain_max_kwh / drop_max_kwh)")
        return sp, f"lot {lot_id!r} {what}, and no clipping keeps its contracts", ""
    hours = [int(h) for h in np.flatnonzero(np.abs(projected - sp) > TOLERANCE_KW)]
    worst = float(np.max(np.abs(projected - sp)))
    return projected, "", (f"energy: lot {lot_id!r} clipped to what its EVs can store in {word}(s) {hours} "
                           f"(by up to {worst:.1f} kW)")


def _deliverable(lot_id: str, lot: LotOffer, sp: np.ndarray) -> tuple[np.ndarray, str]:
    """With the lot's EVs known (`LotOffer.fleet`), the schedule itself or, when no per-EV dispatch delivers it
    (the envelope is the sum of each EV's bounds, wider than what the EVs can do together), the nearest one that
    some dispatch does (`fleet_lp.nearest_kw`: contracts kept EV by EV)."""
    try:
        nearest, gap = nearest_kw(lot.fleet, sp)
    except ProblemError:
        return sp, ""
    if gap <= DELIVERY_TOLERANCE_KWH:
        return sp, ""
    hours = [int(h) for h in np.flatnonzero(np.abs(nearest - sp) > TOLERANCE_KW)]
    return nearest, (f"energy: lot {lot_id!r} clipped to what its EVs can follow together in "
                     f"{_step_word(fleet_step_h(lot.fleet))}(s) {hours} "
                     f"({gap:.1f} kWh of the plan no per-EV dispatch delivers)")


def _counts(setpoints_kw: np.ndarray, lot: LotOffer, model: str = "soc_weighted") -> np.ndarray:
    """Signed (fractional) PEV counts whose grid power is `setpoints_kw` under lot power `model`
    (`objectives.lot_counts`, the inverse of `objectives.lot_power_kw`)."""
    return obj.lot_counts(setpoints_kw, lot, model)


def evaluate_plan(problem: DayAheadProblem, plan: DayAheadPlan) -> DayAheadPlan:
    """Fill `plan.predicted` (of1_usd, of2_kw, of3_kwh, vpd, v_min_pu, v_max_pu, cv, objective) and
    `plan.predicted_hourly` (loss_kw, v_min_pu, p_grid_kw, load_kw, lot_kw) with the fast flow; returns `plan`.

    The plan must pass `check_plan`'s structural rules (radial topology, n setpoints per lot, candidate buses)."""
    vp = DayAheadVectorProblem(problem)
    open_ids = np.asarray([sorted(int(b) for b in plan.open_branches)])
    lot_buses = np.asarray([[int(plan.lot_buses[lot.lot_id]) for lot in problem.lots]], dtype=int).reshape(1, -1)
    model = vp.lot_power  # the problem's lot power model, as the controllers used it
    counts = np.asarray([[_counts(plan.setpoints_kw[lot.lot_id], lot, model) for lot in problem.lots]]).reshape(
        1, len(problem.lots), problem.steps_per_day)
    evaluated = vp.plan_from_plans(vp.evaluate_plans(open_ids, lot_buses, counts), 0)
    plan.predicted, plan.predicted_hourly = evaluated.predicted, evaluated.predicted_hourly
    return plan
