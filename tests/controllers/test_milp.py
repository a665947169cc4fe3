"""Tests of the exact reference controller `milp` (LinDistFlow MILP with HiGHS)."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from cosim.controllers.base import DayAheadProblem, LotOffer, ProblemError
from cosim.controllers.milp import MilpController, MilpError, evaluate_exact, solve_single_hour_reconfiguration
from cosim.networks import load_network

SCALING = np.array([0.6, 0.55, 0.5, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.0,
                    0.95, 0.9, 0.9, 0.95, 1.0, 1.05, 1.1, 1.05, 0.95, 0.85, 0.75, 0.65])


@pytest.fixture(scope="module")
def grid():
    return load_network("ieee33")


def _pandapower_loss_kw(grid, open_branches) -> float:
    net = copy.deepcopy(grid.net)
    for bid, line in grid.line_of_branch.items():
        net.line.at[line, "in_service"] = bid not in set(open_branches)
    pp.runpp(net)
    return float(net.res_line.pl_mw.sum() * 1000.0)


def _lot(buses=(18,), need_kwh=0.0) -> LotOffer:
    mode = np.zeros(24)
    mode[[0, 1, 2, 3, 4, 5, 22, 23]] = 1
    mode[[17, 18, 19, 20]] = -1
    return LotOffer(
        "L1", tuple(buses), n_pev=50, pev_power_kw=7.0, pev_battery_kwh=40.0, hour_mode=mode,
        max_charge_kw=np.full(24, 300.0), max_discharge_kw=np.full(24, 250.0), energy_need_kwh=need_kwh,
    )


@pytest.mark.slow
def test_ieee33_single_hour_min_loss_is_the_known_optimum(grid):
    res = solve_single_hour_reconfiguration(grid.radial, n_segments=24, model_rel_gap=1e-2)
    assert set(res.open_branches) == {7, 9, 14, 32, 37}
    assert res.loss_kw == pytest.approx(139.55, abs=0.05)
    # the BFS figure agrees with pandapower, and the base case is the literature's 202.7 kW
    assert _pandapower_loss_kw(grid, res.open_branches) == pytest.approx(res.loss_kw, abs=0.01)
    assert _pandapower_loss_kw(grid, grid.tie_branches) == pytest.approx(202.7, abs=0.1)
    # the MILP bound is a lower bound of the linearised (LinDistFlow) losses of the chosen tree
    assert res.bound_kw <= res.model_loss_kw + 1e-6
    assert (res.model_loss_kw - res.bound_kw) / res.model_loss_kw <= 1e-2 + 1e-9


@pytest.mark.slow
def test_fixed_topology_dispatch_keeps_eq6_modes_and_limits(grid):
    lot = _lot()
    pb = DayAheadProblem(grid.radial, SCALING, np.full(24, 0.1), lots=(lot,), reconfigure=False, objective="of3")
    plan = MilpController().plan(pb)
    sp = plan.setpoints_kw["L1"]
    assert plan.feasible and plan.open_branches == tuple(sorted(grid.tie_branches))
    assert sp.shape == (24,)
    assert sp.sum() == pytest.approx(0.0, abs=1e-2)  # eq. 6: as much charged as discharged
    assert np.all(sp[lot.hour_mode == 0] == 0)
    assert np.all(sp[lot.hour_mode > 0] >= -1e-9) and np.all(sp[lot.hour_mode < 0] <= 1e-9)
    assert np.all(sp <= 300.0 + 1e-6) and np.all(sp >= -250.0 - 1e-6)
    assert np.abs(sp).sum() > 1.0  # shifting from peak to valley lowers losses, so the lot is used
    # exact losses are not worse than leaving the lot idle
    p, q = pb.bus_loads_kw()
    idle = evaluate_exact(grid.radial, grid.tie_branches, p, q).loss_kw.sum()
    assert plan.predicted["of3_kwh"] <= idle + 1e-6
    assert plan.predicted["of3_kwh"] == pytest.approx(plan.predicted_hourly["loss_kw"].sum())


@pytest.mark.slow
def test_of2_dispatch_flattens_the_load_curve(grid):
    lot = _lot(need_kwh=600.0)
    pb = DayAheadProblem(grid.radial, SCALING, np.full(24, 0.1), lots=(lot,), reconfigure=False, objective="of2")
    plan = MilpController().plan(pb)
    sp = plan.setpoints_kw["L1"]
    assert sp.sum() == pytest.approx(600.0, abs=1e-2)
    load = pb.load_kw
    assert plan.predicted["of2_kw"] == pytest.approx(np.abs(load.mean() - load - sp).sum())
    assert plan.predicted["of2_kw"] < np.abs(load.mean() - load).sum() - 100.0


@pytest.mark.slow
def test_reconfiguration_with_lot_site_choice_on_two_hours(grid):
    lot = _lot(buses=(18, 33))
    pb = DayAheadProblem(grid.radial, SCALING, np.full(24, 0.1), lots=(lot,), objective="of3")
    plan = MilpController(node_limit=10, n_segments=4, hours=[3, 19], max_rounds=1).plan(pb)  # work, not a clock
    info = plan.info
    assert plan.feasible and plan.controller == "milp"
    assert len(plan.open_branches) == 5 and plan.lot_buses["L1"] in (18, 33)
    sp = plan.setpoints_kw["L1"]
    assert np.all(np.delete(sp, [3, 19]) == 0) and sp.sum() == pytest.approx(0.0, abs=1e-2)
    assert info["milp_bound"] <= info["model_objective"] + 1e-6
    assert info["status"] in ("Optimal", "Solution limit reached") and 1 <= info["nodes"] <= 10
    assert np.isfinite(info["mip_gap"]) and info["wall_s"] > 0
    # reconfiguring beats the base topology in exact losses over the modelled hours
    p, q = pb.bus_loads_kw()
    p = p.copy()
    p[:, plan.lot_buses["L1"] - 1] += sp
    base = evaluate_exact(grid.radial, grid.tie_branches, p[[3, 19]], q[[3, 19]]).loss_kw.sum()
    assert plan.predicted["of3_model_hours_kwh"] < base


def test_bad_settings_and_lots_give_clear_errors(grid):
    with pytest.raises(MilpError, match="n_segments"):
        MilpController(n_segments=1)
    with pytest.raises(MilpError, match="hours"):
        MilpController(hours=[24])
    bad = LotOffer("bad", (5,), 10, 7.0, 40.0, np.zeros(23), np.zeros(24), np.zeros(24))
    pb = DayAheadProblem(grid.radial, SCALING, np.full(24, 0.1), lots=(bad,), reconfigure=False)
    with pytest.raises(ProblemError, match="hour_mode"):
        MilpController().plan(pb)
    with pytest.raises(MilpError, match="bus loads"):
        solve_single_hour_reconfiguration(grid.radial, np.ones(5), np.ones(5))


@pytest.mark.slow
def test_the_reference_is_decided_by_work_not_wall_time(grid):
    """The node limit, not a clock, decides where HiGHS stops: with the limit binding, two solves give the same
    plan, bound, gap and node count to the bit, and a huge time limit changes nothing."""
    kw = dict(n_segments=4, max_rounds=1, node_limit=2)
    first = solve_single_hour_reconfiguration(grid.radial, **kw)
    again = solve_single_hour_reconfiguration(grid.radial, **kw)
    timed = solve_single_hour_reconfiguration(grid.radial, time_limit_s=1e6, **kw)
    assert first.status == "Solution limit reached" and first.nodes == 2  # the work limit bound it
    assert first.gap > 0 and first.bound_kw < first.model_loss_kw  # stopped before optimality: a real gap
    for other in (again, timed):
        assert (other.open_branches, other.loss_kw, other.bound_kw, other.gap, other.nodes, other.status) == (
            first.open_branches, first.loss_kw, first.bound_kw, first.gap, first.nodes, first.status)


def test_work_limits_are_checked(grid):
    for bad in (0, 2.5, True, -1):
        with pytest.raises(MilpError, match="node_limit"):
            MilpController(node_limit=bad)
    with pytest.raises(MilpError, match="time_limit_s"):
        MilpController(time_limit_s=0)
    assert MilpController().time_limit_s is None and MilpController().threads == 1
