"""Day-ahead controllers on the IEEE 33-bus with the seed-000 lot (placeholder load/price built from the paper's
facts)."""

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

import cosim.controllers.objectives as obj
from cosim.controllers import DayAheadPlan, DayAheadProblem, LotOffer, make_controller
from cosim.controllers.objectives import target_band_kw
from cosim.controllers.rule import threshold_counts
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.errors import PluginNotFoundError, PluginOptionsError
from cosim.networks.ieee33 import ieee33
from cosim.powerflow.topology import is_radial

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"  # the user plug-ins the tests name, as beside a scenario

NET = ieee33().radial
_SHAPE = np.array([0.45, 0.42, 0.40, 0.40, 0.42, 0.48, 0.55, 0.62, 0.74, 0.76, 0.85, 0.90, 0.95, 0.98, 1.0, 0.97,
                   0.93, 0.9, 0.88, 0.75, 0.65, 0.6, 0.55, 0.5])
# mean 2112.9, peak 3800
LOAD_KW = 2112.9 + (3800 - 2112.9) / (_SHAPE.max() - _SHAPE.mean()) * (_SHAPE - _SHAPE.mean())
PRICE = 0.08 + 0.5 * (LOAD_KW - LOAD_KW.min()) / np.ptp(LOAD_KW)
MODE = np.array([1] * 8 + [0, 0] + [-1] * 9 + [0] + [1] * 4)


def lot(cands=(18,)):
    return LotOffer("lot1", tuple(cands), 100, 10.0, 10.0, MODE, np.where(MODE > 0, 1000.0, 0.0),
                    np.where(MODE < 0, 1000.0, 0.0))


def problem(objective="of3", reconfigure=True, lots=None, **options):
    return DayAheadProblem(NET, LOAD_KW / NET.p_load_kw.sum(), PRICE, (lot((6, 18, 28)),) if lots is None else lots,
                           reconfigure=reconfigure, objective=objective, options=options)


def _check_plan(plan: DayAheadPlan, prob: DayAheadProblem, daily_cap=True):
    assert plan.feasible
    assert plan.predicted["v_min_pu"] >= NET.v_min_pu
    for key in ("of1_usd", "of2_kw", "of3_kwh", "vpd", "v_min_pu"):
        assert np.isfinite(plan.predicted[key])
    for key in ("loss_kw", "v_min_pu", "p_grid_kw"):
        assert plan.predicted_hourly[key].shape == (24,)
    assert plan.predicted["of3_kwh"] == pytest.approx(plan.predicted_hourly["loss_kw"].sum())
    # grid supplies load + lot + losses
    lot_kw = sum(plan.setpoints_kw.values()) if plan.setpoints_kw else np.zeros(24)
    assert np.allclose(plan.predicted_hourly["p_grid_kw"], LOAD_KW + lot_kw + plan.predicted_hourly["loss_kw"],
                       atol=1e-3)
    for lo in prob.lots:
        sp = plan.setpoints_kw[lo.lot_id]
        assert np.all(sp[MODE == 0] == 0) and np.all(sp[MODE > 0] >= 0) and np.all(sp[MODE < 0] <= 0)
        # PEV-hours behind the kW: a charging PEV draws P (1 - SOC) / mu_e, a discharging one gives P SOC
        kw_ch = float(obj.lot_power_kw(np.ones(1), lo)[0])
        kw_dis = -float(obj.lot_power_kw(-np.ones(1), lo)[0])
        n_ch, n_dis = sp.clip(min=0).sum() / kw_ch, (-sp).clip(min=0).sum() / kw_dis
        assert n_ch == pytest.approx(n_dis)  # eq. 6: as many PEVs charged as discharged
        assert np.allclose(np.round(sp.clip(min=0) / kw_ch), sp.clip(min=0) / kw_ch)  # whole PEVs each hour
        if daily_cap:
            assert n_ch <= lo.n_pev + 1e-9  # daily cap (literal eq. 6)
        assert plan.lot_buses[lo.lot_id] in lo.candidate_buses


@pytest.mark.parametrize("name", ["eo", "pso", "ga"])
def test_metaheuristics_return_feasible_plans(name):
    prob = problem("of3")
    plan = make_controller(name, n_particles=8, n_iter=6, seed=1).plan(prob)
    _check_plan(plan, prob)
    assert plan.controller == name and plan.info["evaluations"] > 0 and plan.info["seed"] == 1


def test_eo_improves_on_base_and_is_deterministic():
    prob = problem("of3")
    base = make_controller("none").plan(prob)
    a = make_controller("eo", n_particles=10, n_iter=15, seed=3).plan(prob)
    b = make_controller("eo", n_particles=10, n_iter=15, seed=3).plan(prob)
    assert a.predicted["of3_kwh"] < base.predicted["of3_kwh"]
    assert a.open_branches == b.open_branches and a.predicted["of3_kwh"] == b.predicted["of3_kwh"]
    assert is_radial(NET, a.open_branches)


def test_of1_case_prefers_profit():
    prob = problem("of1", reconfigure=False)
    plan = make_controller("eo", n_particles=10, n_iter=15, seed=0).plan(prob)
    _check_plan(plan, prob)
    assert plan.predicted["of1_usd"] > 0
    assert plan.open_branches == NET.tie_branches


def test_none_is_base_case():
    prob = problem("of2", reconfigure=False)
    plan = make_controller("none").plan(prob)
    _check_plan(plan, prob)
    assert plan.open_branches == (33, 34, 35, 36, 37)
    assert np.all(plan.setpoints_kw["lot1"] == 0)
    assert plan.predicted["of2_kw"] == pytest.approx(np.abs(LOAD_KW - LOAD_KW.mean()).sum())


def test_rule_band_logic():
    prob = problem("of2", reconfigure=False, daily_pev_cap=None)
    lo, tgt, hi = target_band_kw(LOAD_KW, 0.05)
    n = threshold_counts(prob)[0]
    below, above = LOAD_KW < lo, LOAD_KW > hi
    assert np.all(n[~below & ~above] == 0)  # idle inside the band
    assert np.all(n[below & (MODE > 0)] >= 0) and np.all(n[above & (MODE < 0)] <= 0)
    assert np.all(n[(MODE == 0)] == 0)
    assert n.clip(min=0).sum() == (-n).clip(min=0).sum() > 0
    # without eq. 6 trimming each hour fills towards P_target (no overshoot beyond half a PEV)
    raw = threshold_counts(prob, balance=False)[0]
    act = raw != 0
    assert np.all(np.abs(LOAD_KW[act] + 10 * raw[act] - tgt) <= np.abs(LOAD_KW[act] - tgt))
    plan = make_controller("rule").plan(prob)
    _check_plan(plan, prob, daily_cap=False)
    assert plan.predicted["of2_kw"] < make_controller("none").plan(prob).predicted["of2_kw"]


def test_no_decision_left_gives_base_plan():
    prob = problem("of3", reconfigure=False, lots=())
    plan = make_controller("eo", n_particles=5, n_iter=2).plan(prob)
    assert plan.feasible and plan.open_branches == NET.tie_branches and plan.setpoints_kw == {}


def test_infeasible_is_reported_honestly():
    tight = DayAheadProblem(NET, LOAD_KW / NET.p_load_kw.sum() * 1.6, PRICE, (), reconfigure=False)
    plan = make_controller("none").plan(tight)
    assert not plan.feasible and plan.predicted["cv"] > 0


def test_vector_problem_encode_decode_roundtrip():
    vp = DayAheadVectorProblem(problem("of2"))
    counts = np.zeros((1, 24), int)
    counts[0, 2], counts[0, 14] = 40, -40
    x = vp.encode(open_ids=(7, 9, 14, 32, 37), lot_buses=(28,), counts=counts)
    open_ids, buses, n = vp.decode(x[None, :])
    assert tuple(open_ids[0]) == (7, 9, 14, 32, 37) and buses[0, 0] == 28 and np.array_equal(n[0], counts)
    ev = vp.evaluate(np.random.default_rng(0).random((7, vp.n_var)))
    assert ev.f.shape == (7,) and ev.cv.shape == (7,) and np.all(ev.cv >= 0)


def test_make_controller_dotted_path_and_errors():
    ctrl = make_controller("user_controller:FlatChargeController", near=PLUGINS, kw=2.0)
    assert type(ctrl).__name__ == "FlatChargeController" and ctrl.kw == 2.0
    assert ctrl.plan(problem()).feasible
    with pytest.raises(PluginNotFoundError, match="known: .*eo.*rule"):
        make_controller("nope")
    with pytest.raises(PluginNotFoundError, match="has no attribute"):
        make_controller("user_controller:Missing", near=PLUGINS)
    with pytest.raises(PluginNotFoundError, match="neither beside the scenario"):
        make_controller("no_such_pkg.mod:X", near=PLUGINS)
    with pytest.raises(PluginOptionsError, match="unknown option"):
        make_controller("eo", n_particle=3)
    with pytest.raises(PluginOptionsError, match="bad options"):
        make_controller("user_controller:FlatChargeController", near=PLUGINS, watts=3)


@pytest.mark.parametrize("path", ["subprocess:Popen", "os:system", "json:loads", "builtins:exec"])
def test_names_that_are_not_controller_classes_are_refused_before_anything_is_called(path):
    with pytest.raises(PluginNotFoundError, match="not a controller class|has no plan"):
        make_controller(path, args=["touch", "/tmp/cosim-should-not-exist"])


@pytest.mark.parametrize("name", ["eo", "pso", "ga"])
def test_time_limit_stops_the_optimiser_and_the_plan_stays_honest(name):
    prob = problem("of3")
    t0 = time.perf_counter()
    plan = make_controller(name, n_particles=8, n_iter=100_000, seed=2, time_limit_s=0.3).plan(prob)
    wall = time.perf_counter() - t0
    assert plan.info["timed_out"] is True and plan.info["time_limit_s"] == 0.3
    assert 8 <= plan.info["evaluations"] < 8 * 100_000 and wall < 10.0
    # the plan is the re-evaluated best candidate: its flags and KPIs are those of x_best itself
    again = DayAheadVectorProblem(prob).plan_from_x(plan.info["x_best"])
    assert again.feasible == plan.feasible and again.open_branches == plan.open_branches
    assert again.predicted["of3_kwh"] == pytest.approx(plan.predicted["of3_kwh"])


def test_generous_time_limit_changes_nothing():
    prob = problem("of3")
    free = make_controller("eo", n_particles=6, n_iter=5, seed=3).plan(prob)
    timed = make_controller("eo", n_particles=6, n_iter=5, seed=3, time_limit_s=600).plan(prob)
    assert timed.info["timed_out"] is False and free.info["timed_out"] is False
    assert timed.info["evaluations"] == free.info["evaluations"] == 30
    assert timed.predicted["objective"] == free.predicted["objective"] and timed.open_branches == free.open_branches
    with pytest.raises(ValueError, match="time_limit_s"):
        make_controller("pso", time_limit_s=-1)


def test_a_standing_plan_seeds_the_search_so_a_negotiation_round_never_makes_it_worse():
    net = ieee33().radial
    base = DayAheadProblem(network=net, load_scaling=np.ones(24), price_usd_per_kwh=np.full(24, 0.1), objective="of3")
    good = make_controller("eo", n_particles=10, n_iter=30, seed=0).plan(base)
    weak = make_controller("eo", n_particles=4, n_iter=2, seed=1)
    assert weak.plan(base).predicted["of3_kwh"] > good.predicted["of3_kwh"]  # alone, the small budget does worse
    again = weak.plan(dataclasses.replace(base, standing_plan=good))
    assert again.predicted["of3_kwh"] <= good.predicted["of3_kwh"] + 1e-9
    # same input, same plan: the controller's randomness is not re-drawn between rounds
    assert weak.plan(dataclasses.replace(base, standing_plan=good)).open_branches == again.open_branches


@pytest.mark.parametrize("name", ["eo", "pso", "ga"])
@pytest.mark.parametrize("options, field", [({"n_particles": 0}, "n_particles"), ({"n_iter": 0}, "n_iter"),
                                            ({"n_iter": 2.5}, "n_iter"), ({"time_limit_s": 0}, "time_limit_s"),
                                            ({"seed": -1}, "seed")])
def test_budgets_that_cannot_run_are_refused_when_the_controller_is_built(name, options, field):
    with pytest.raises(PluginOptionsError, match=f"controller '{name}': {field} must be"):
        make_controller(name, **options)
