"""The controllers and optimisers at 30- and 15-minute steps (issue 25 item 1, part A).

The default scenario's day-2 problem (test_plan_pinned.py) is refined to 96 quarter-hour steps by holding every
hourly value over its four quarters (`steps_fixtures.refined_problem`); units are then checked against the hourly
problem: the same plan held gives the same objectives (kW x step_h), the rule controller moves the same daily
energy, EO returns a deliverable plan of 96 setpoints, and the checks refuse what breaks the 96-step envelope.
Envelopes and the per-EV LP are built from drawn fleets at 60 and 15 minutes (hypothesis)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim.controllers import DayAheadPlan, DayAheadProblem, LotOffer
from cosim.controllers import objectives as obj
from cosim.controllers.base import step_refusal
from cosim.controllers.envelope import FlexEnvelope, envelope_of, fleet_envelope
from cosim.controllers.fleet_lp import deliverable, dispatch
from cosim.controllers.metaheuristic import EOController
from cosim.controllers.milp import MilpController
from cosim.controllers.mpc import MpcController
from cosim.controllers.plo_scheduler import plo_profit_schedule
from cosim.controllers.rule import NoneController, RuleController
from cosim.controllers.validation import check_plan, evaluate_plan
from cosim.errors import ProblemError
from cosim.networks.ieee33 import ieee33

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (the tests import by path)
from steps_fixtures import due_by_step, held, refined_problem  # noqa: E402
from test_plan_pinned import default_day_problem  # noqa: E402
from test_plo_scheduler import MODE, PRICE, make_offer  # noqa: E402


@pytest.fixture(scope="module")
def hourly() -> DayAheadProblem:
    return default_day_problem()


@pytest.fixture(scope="module")
def quarter(hourly) -> DayAheadProblem:
    return refined_problem(hourly, 15)


# ---- the problem ---------------------------------------------------------------------------------------------

def test_a_problem_holds_24_48_or_96_steps_and_says_its_step(hourly):
    for minutes, n in ((60, 24), (30, 48), (15, 96)):
        p = refined_problem(hourly, minutes)
        assert (p.steps_per_day, p.step_h) == (n, minutes / 60.0)
    net = ieee33().radial
    with pytest.raises(ProblemError, match="one value per step of the day.*allowed: 24, 48, 96 steps"):
        DayAheadProblem(net, np.ones(72), np.ones(72))
    with pytest.raises(ProblemError, match="load_scaling must be 96 finite numbers, got shape \\(24,\\)"):
        DayAheadProblem(net, np.ones(24), np.ones(96))


def test_an_offer_of_another_length_than_the_problems_day_is_refused(hourly, quarter):
    mixed = dataclasses.replace(quarter, lots=hourly.lots)
    with pytest.raises(ProblemError, match="lot 'PL1': hour_mode must hold 96 values .* got shape \\(24,\\)"):
        RuleController().plan(mixed)
    wrong_env = dataclasses.replace(quarter, lots=(dataclasses.replace(quarter.lots[0],
                                                                       envelope=hourly.lots[0].envelope),))
    with pytest.raises(ProblemError, match="its envelope covers 24 steps of 1.0 h, the problem's day 96 steps"):
        RuleController().plan(wrong_env)


# ---- units: the same plan held scores the same ------------------------------------------------------------------

def test_an_hourly_plan_held_over_quarter_hours_scores_the_same_objectives(hourly, quarter):
    """of1 ($ = price x kW x step_h), of2 and vpd (each step weighs step_h), of3 (kWh = loss kW x step_h): the
    flow sees the same loads in each quarter, so every step's losses and voltages are the hour's."""
    plan = EOController(n_particles=10, n_iter=5, seed=0).plan(hourly)
    held_plan = evaluate_plan(quarter, DayAheadPlan(plan.open_branches, dict(plan.lot_buses),
                                                    {"PL1": held(plan.setpoints_kw["PL1"], 15)}, True))
    for key in ("of1_usd", "of2_kw", "of3_kwh", "vpd", "v_min_pu", "v_max_pu"):
        assert held_plan.predicted[key] == pytest.approx(plan.predicted[key], rel=1e-12, abs=1e-12), key
    np.testing.assert_array_equal(held_plan.predicted_hourly["loss_kw"][3::4], plan.predicted_hourly["loss_kw"])
    assert held_plan.predicted_hourly["loss_kw"].shape == (96,)


def test_the_rule_controller_moves_the_same_daily_energy_at_15_minutes(hourly, quarter):
    """Seed 000's band rule on held loads and prices: the lot's daily energy (kW x step_h) is the hourly one's; the
    losses differ only where the envelope's quarter-hour projection spreads an hour's energy differently."""
    a, b = RuleController().plan(hourly), RuleController().plan(quarter)
    assert b.setpoints_kw["PL1"].shape == (96,)
    assert float(b.setpoints_kw["PL1"].sum()) * 0.25 == pytest.approx(float(a.setpoints_kw["PL1"].sum()), rel=1e-12)
    assert b.predicted["of3_kwh"] == pytest.approx(a.predicted["of3_kwh"], rel=1e-3)
    # without an envelope (the offer's kW bounds and deadlines only) every quarter is its hour: the same plan
    a = RuleController().plan(dataclasses.replace(hourly, lots=(dataclasses.replace(hourly.lots[0], envelope=None),)))
    b = RuleController().plan(refined_problem(hourly, 15, envelope=False))
    np.testing.assert_allclose(b.setpoints_kw["PL1"], held(a.setpoints_kw["PL1"], 15), rtol=0, atol=1e-9)
    assert b.predicted["of3_kwh"] == pytest.approx(a.predicted["of3_kwh"], rel=1e-12)
    assert b.predicted["of1_usd"] == pytest.approx(a.predicted["of1_usd"], rel=1e-12)


def test_the_base_case_has_the_hourly_losses_at_every_step(hourly):
    for minutes in (30, 15):
        a, b = NoneController().plan(hourly), NoneController().plan(refined_problem(hourly, minutes))
        assert b.predicted["of3_kwh"] == pytest.approx(a.predicted["of3_kwh"], rel=1e-12)
        assert len(b.setpoints_kw["PL1"]) == 24 * 60 // minutes


# ---- EO and the checks at 96 steps --------------------------------------------------------------------------

def test_eo_returns_a_valid_deliverable_plan_of_96_steps(quarter):
    plan = EOController(n_particles=10, n_iter=20, seed=0).plan(quarter)
    env = quarter.lots[0].envelope
    sp = plan.setpoints_kw["PL1"]
    assert plan.feasible and sp.shape == (96,) and plan.predicted_hourly["loss_kw"].shape == (96,)
    assert float(env.violation_kwh(sp)) <= 1e-6  # inside the envelope: the EVs can take it
    check = check_plan(quarter, plan)
    assert check.ok and check.repairs == []
    # the contracts' energy is in the batteries by the end of the day
    assert float(env.energy_kwh(sp)[-1]) >= float(env.e_min_kwh[-1]) - 1e-6


def test_a_plan_breaking_the_96_step_envelope_is_refused(quarter):
    base = EOController(n_particles=10, n_iter=5, seed=0).plan(quarter)
    short = dict(base.setpoints_kw)
    short["PL1"] = np.minimum(short["PL1"], 0.0)  # no charging: the contracts are missed
    bad = DayAheadPlan(base.open_branches, dict(base.lot_buses), short, True)
    check = check_plan(quarter, bad)
    assert not check.ok and check.failure.startswith("energy: lot 'PL1' misses its contracts")
    assert "below the energy its EVs need by the end of step " in check.failure  # a step, not an hour
    hourly_sized = DayAheadPlan(base.open_branches, dict(base.lot_buses), {"PL1": np.zeros(24)}, True)
    assert check_plan(quarter, hourly_sized).failure == (
        "setpoints: lot 'PL1': need 96 finite numbers, got shape (24,)")
    with_hourly_predictions = DayAheadPlan(base.open_branches, dict(base.lot_buses), dict(base.setpoints_kw), True,
                                           predicted_hourly={"loss_kw": np.zeros(24)})
    assert check_plan(quarter, with_hourly_predictions).failure == (
        "predictions: predicted_hourly['loss_kw'] must be 96 finite numbers, got shape (24,)")


@pytest.mark.slow
def test_the_milp_at_half_hours_finds_the_hourly_optimum_of_a_held_problem():
    """A fixed-topology dispatch (OF3, a 600 kWh contract): at 48 half-hour steps the MILP's model optimum (kWh =
    MW x step_h) is the hourly one within HiGHS's tolerances, the contract's energy is kW x step_h, and the plan
    is evaluated over the 48 steps."""
    net = ieee33().radial
    scaling = np.array([0.6, 0.55, 0.5, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.0,
                        0.95, 0.9, 0.9, 0.95, 1.0, 1.05, 1.1, 1.05, 0.95, 0.85, 0.75, 0.65])
    mode = np.zeros(24)
    mode[[0, 1, 2, 3, 4, 5, 22, 23]], mode[[17, 18, 19, 20]] = 1, -1
    lot = LotOffer("L1", (18,), n_pev=50, pev_power_kw=7.0, pev_battery_kwh=40.0, hour_mode=mode,
                   max_charge_kw=np.full(24, 300.0), max_discharge_kw=np.full(24, 250.0), energy_need_kwh=600.0)
    hourly = DayAheadProblem(net, scaling, np.linspace(0.05, 0.2, 24), lots=(lot,), reconfigure=False, objective="of3")
    half = refined_problem(hourly, 30)
    a, b = MilpController().plan(hourly), MilpController().plan(half)
    assert a.feasible and b.feasible and b.setpoints_kw["L1"].shape == (48,)
    assert b.info["model_objective"] == pytest.approx(a.info["model_objective"], rel=1e-6)
    assert b.predicted["of3_kwh"] == pytest.approx(a.predicted["of3_kwh"], rel=1e-6)
    assert float(b.setpoints_kw["L1"].sum()) * 0.5 == pytest.approx(600.0, abs=1e-2)
    assert b.predicted["of3_kwh"] == pytest.approx(float(b.predicted_hourly["loss_kw"].sum()) * 0.5)


def test_a_controller_that_plans_hourly_only_is_refused_in_one_line():
    """`step_refusal`: a controller declaring HOURLY_ONLY (a user's, written for 24 setpoints) gets one line naming
    it before a run at 30 or 15 minutes; the built-in controllers all follow the step."""

    class Hourly:
        name = "my-hourly"
        HOURLY_ONLY = True

    assert step_refusal(Hourly(), 96) == (
        "controller 'my-hourly' plans in hourly steps only; this problem has 96 steps a day ([simulation] "
        "step_minutes = 15): use step_minutes = 60 or another controller")
    assert step_refusal(Hourly(), 24) is None
    for ctrl in (MilpController(), MpcController(), MpcController(engine="milp"), EOController(), RuleController(),
                 NoneController()):
        assert step_refusal(ctrl, 48) is None


# ---- objectives and the PLO's own LP ---------------------------------------------------------------------------

def test_objectives_weigh_each_step_by_its_length():
    loss = np.arange(24.0)
    assert obj.of3_loss_kwh(held(loss, 15), 0.25) == pytest.approx(obj.of3_loss_kwh(loss))
    load = 1000.0 + 100 * np.sin(np.arange(24))
    lot = np.linspace(-50, 50, 24)
    assert obj.of2_lcd_kw(held(load, 30), held(lot, 30), 0.5) == pytest.approx(obj.of2_lcd_kw(load, lot))
    offer = make_offer()
    n_ch, n_dis = np.maximum(MODE, 0) * 3.0, np.maximum(-MODE, 0) * 2.0
    assert obj.of1_benefit_usd(held(n_ch, 15), held(n_dis, 15), held(PRICE, 15), offer, 0.25) == pytest.approx(
        obj.of1_benefit_usd(n_ch, n_dis, PRICE, offer), rel=1e-12)


@pytest.mark.parametrize("minutes", [30, 15])
def test_the_plos_profit_lp_at_finer_steps_plans_the_hourly_energy_and_profit(minutes):
    k = 60 // minutes
    need_by = np.minimum(np.cumsum(np.where(MODE > 0, 30.0, 0.0)), 200.0)
    offer = make_offer(need_by=need_by)
    fine = dataclasses.replace(offer, hour_mode=np.repeat(MODE, k), max_charge_kw=held(offer.max_charge_kw, minutes),
                               max_discharge_kw=held(offer.max_discharge_kw, minutes),
                               need_by_hour_kwh=due_by_step(need_by, minutes))
    kw, profit = plo_profit_schedule(offer, PRICE)
    kw_fine, profit_fine = plo_profit_schedule(fine, held(PRICE, minutes))
    assert kw_fine.shape == (24 * k,)
    assert profit_fine == pytest.approx(profit, rel=1e-9)
    charged = lambda p, h: float(np.maximum(p, 0).sum() * h)  # noqa: E731
    assert charged(kw_fine, minutes / 60) == pytest.approx(charged(kw, 1.0), rel=1e-9)
    with pytest.raises(ProblemError, match="hour_mode has shape \\(24,\\), the prices 96 steps"):
        plo_profit_schedule(offer, held(PRICE, 15))


# ---- envelopes and the per-EV LP from fleets -------------------------------------------------------------------

@st.composite
def fleets(draw, taper: bool = False, limit: bool = True):
    """A lot's EVs whose windows fall on hour edges (plug and departure on the hour) over a 24-hour window, with one
    efficiency pair (EVs of different efficiencies make the lot's envelope an approximation at any step)."""
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    plug = rng.integers(-2, 22, n) * 60
    dep = np.maximum(plug, 0) + rng.integers(1, 10, n) * 60
    cap = rng.uniform(30, 80, n)
    e0 = cap * rng.uniform(0.1, 0.7, n)
    fleet = {"start_min": 0, "hours": 24, "plug_min": plug.tolist(), "dep_min": dep.tolist(),
             "energy_kwh": e0.tolist(), "capacity_kwh": cap.tolist(),
             "charger_kw": rng.choice([3.7, 7.4, 11.0, 22.0], n).tolist(),
             "contract_kwh": np.minimum(cap, e0 + rng.uniform(0, 45, n)).tolist(), "floor_kwh": (0.2 * cap).tolist(),
             "v2g": (rng.random(n) < 0.5).tolist(), "eta_charge": [float(rng.choice([0.9, 0.95]))] * n,
             "eta_discharge": [float(rng.choice([0.9, 0.95]))] * n,
             "connection_limit_kw": float(rng.choice([40.0, 1e9])) if limit else 1e9}
    if taper:
        fleet["knee_soc"] = rng.uniform(0.6, 1.0, n).tolist()
    return fleet, rng.uniform(-40, 60, 24)


def at(fleet: dict, minutes: int) -> dict:
    return {**fleet, "hours": 24 * 60 // minutes, "step_minutes": minutes}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.sampled_from([30, 15]))
def test_an_envelope_at_finer_steps_holds_every_hourly_schedule_and_the_same_energies(case, minutes):
    """Constant-power EVs, windows on hour edges: the finer envelope has the hourly one's shortfall and final
    energies, at each hour end it is no tighter, and every schedule inside the hourly envelope, held over the
    finer steps, puts the same energy in by every hour end (kW x step_h) and is inside it."""
    fleet, wish = case
    k = 60 // minutes
    hourly, fine = envelope_of(fleet), envelope_of(at(fleet, minutes))
    assert (hourly.step_h, fine.step_h, fine.hours) == (1.0, minutes / 60, 24 * k)
    assert fine.shortfall_kwh == pytest.approx(hourly.shortfall_kwh, abs=1e-9)
    assert fine.final_range_kwh() == pytest.approx(hourly.final_range_kwh(), abs=1e-6)
    assert np.all(fine.e_min_kwh[k - 1::k] <= hourly.e_min_kwh + 1e-6)
    assert np.all(fine.e_max_kwh[k - 1::k] >= hourly.e_max_kwh - 1e-6)
    p = hourly.project(wish)
    assert float(hourly.violation_kwh(p)) <= 1e-6
    np.testing.assert_allclose(fine.energy_kwh(np.repeat(p, k))[k - 1::k], hourly.energy_kwh(p), atol=1e-9)
    assert float(fine.violation_kwh(np.repeat(p, k))) <= 1e-6


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(taper=True, limit=False))
def test_with_a_taper_finer_steps_reach_at_least_the_hourly_energy(case):
    """CC-CV EVs: the held-power model over quarter hours is closer to the curve, so the quarter-hour envelope
    reaches at least the hourly one's energy by every hour end, and clips no more of the contracts (without a
    connection limit: one applied every quarter hour is tighter than one applied to the hour's mean)."""
    fleet, _ = case
    hourly, fine = envelope_of(fleet), envelope_of(at(fleet, 15))
    assert fine.shortfall_kwh <= hourly.shortfall_kwh + 1e-6
    assert np.all(fine.e_max_kwh[3::4] >= hourly.e_max_kwh - 1e-6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_the_per_ev_lp_delivers_a_held_schedule_at_least_as_well_as_the_hourly_one(case):
    """Constant-power EVs: the per-EV LP at quarter hours (grid kWh per EV and step) contains every hourly dispatch
    held, so its gap (kWh) is no larger; its lot energy per step is the schedule's kW x step_h where it delivers.
    (With a taper the quarter-hour LP reaches more of each contract, and asks for it: no such order.)"""
    fleet, wish = case
    p = envelope_of(fleet).project(wish)
    gap_hourly = deliverable(fleet, p)
    per_ev, gap = dispatch(at(fleet, 15), np.repeat(p, 4))
    assert per_ev.shape == (len(fleet["energy_kwh"]), 96)
    assert gap <= gap_hourly + 1e-6
    if gap <= 1e-9:
        np.testing.assert_allclose(per_ev.sum(axis=0), np.repeat(p, 4) * 0.25, atol=1e-6)


def test_envelopes_refuse_a_step_the_framework_does_not_have():
    z = np.zeros(24)
    with pytest.raises(ProblemError, match="FlexEnvelope.step_h=0.2 must be one of 1.0, 0.5, 0.25"):
        FlexEnvelope(z, z, z, z, step_h=0.2)
    one = {"start_min": 0, "hours": 96, "plug_min": [0], "dep_min": [600], "energy_kwh": [10.0],
           "capacity_kwh": [50.0], "charger_kw": [11.0], "contract_kwh": [30.0], "floor_kwh": [5.0], "v2g": [False],
           "eta_charge": [0.9], "eta_discharge": [0.9], "step_minutes": 15}
    with pytest.raises(ProblemError, match="the fleet is in 15-min steps, not 60"):
        envelope_of(one, step_minutes=60)
    env = envelope_of(one, step_minutes=15)
    assert env.step_h == 0.25 and env.hours == 96
    # ten hours at 11 kW x 0.9 reach the 20 kWh contract: within the envelope, at most 11 kW a quarter hour
    assert env.shortfall_kwh == 0.0 and float(env.p_max_kw.max()) == pytest.approx(11.0)
    again = FlexEnvelope.from_payload(env.to_payload(), step_h=0.25)  # the receiver's own step
    assert again.step_h == 0.25 and again.to_payload() == env.to_payload()
    assert FlexEnvelope.from_payload(env.to_payload()).step_h == 1.0  # the payload does not carry the step
    direct = fleet_envelope(**{k: np.asarray(v) if isinstance(v, list) else v for k, v in one.items()})
    assert direct.to_payload() == env.to_payload() and direct.step_h == 0.25


def test_the_readme_controller_example_plans_a_checked_96_step_plan(hourly, quarter):
    """The README's user-controller example, run as printed, on the hourly and the quarter-hour problem: both plans
    hold one setpoint per step and pass the checks (contracts and envelope included)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
    from test_readme_controller import readme_example  # noqa: PLC0415 - the README's block, read as the e2e test does

    _, code, _ = readme_example()
    space: dict = {}
    exec(compile(code, "README.md", "exec"), space)  # noqa: S102 - the README's own example
    for problem in (hourly, quarter):
        plan = space["FlatCharge"]().plan(problem)
        check = check_plan(problem, plan)
        assert check.ok, check.failure
        assert plan.setpoints_kw["PL1"].shape == (problem.steps_per_day,)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 0.95), st.floats(0.5, 0.95), st.floats(0.25, 10.0), st.sampled_from([0.5, 0.25]))
def test_the_taper_held_over_shorter_steps_reaches_more_and_inverts(soc, knee, hours, step_h):
    """CC-CV held power (`cccv`): cut into quarter or half hours a span reaches at least what hourly steps reach
    (the held rate is closer to the curve), never past the capacity, and the must-run energy inverts the reach."""
    from cosim.controllers.cccv import reach_clock_kwh, reach_kwh, start_for_kwh  # noqa: PLC0415

    cap, rate = 60.0, 10.0
    hourly = float(reach_kwh(soc * cap, cap, rate, knee, hours, fraction_first=False))
    fine = float(reach_kwh(soc * cap, cap, rate, knee, hours, fraction_first=False, step_h=step_h))
    assert hourly - 1e-9 <= fine <= cap + 1e-9
    if fine < cap - 1e-6:
        back = float(start_for_kwh(fine, cap, rate, knee, hours, fraction_first=False, step_h=step_h))
        assert back == pytest.approx(soc * cap, abs=1e-6)
    # on the clock: from 7.3 h the first step is the part up to the next step edge
    assert float(reach_clock_kwh(soc * cap, cap, rate, knee, 7.3, 7.3 + hours, step_h=step_h)) >= float(
        reach_clock_kwh(soc * cap, cap, rate, knee, 7.3, 7.3 + hours)) - 1e-9
