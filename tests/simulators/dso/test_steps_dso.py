"""The DSO at 15-minute steps: its day is 96 steps, its plausibility checks count energy as kW x step_h, its
predictions run per step, plans.jsonl records the day's start in hours with the step, and the lots' registrations
carry the step. An hourly-constant day held over quarter hours gives the hourly day's energies."""

from __future__ import annotations

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, LOTS, PRICE, fleet_forecast, ieee33, keys_for, make_dso, make_plos

from cosim.controllers.base import DayAheadPlan
from cosim.exchange.base import DayContext
from cosim.timebase import StepClock, StepError
from simulators.dso.agent import predict_hourly
from simulators.dso.simulator import DsoSim

QUARTER = StepClock(15)
PER_STEP = ("hour_mode", "max_charge_kw", "max_discharge_kw")


def _hourly_offer() -> dict:
    keys = keys_for()
    (m,) = make_plos("centralised", keys)["lot1"].start_day(0, fleet_forecast(n_pevs=10), PRICE)
    return dict(m["payload"])


def _in_quarters(payload: dict) -> dict:
    """The same offer in quarter hours: each hour's powers held over its four quarters (the contracts due by the end
    of each quarter: the hour's, so at most what the hour delivers)."""
    out = dict(payload, envelope=None)
    for key in PER_STEP:
        out[key] = np.repeat(np.asarray(payload[key]), 4).tolist()
    if payload["need_by_hour_kwh"] is not None:
        out["need_by_hour_kwh"] = np.repeat(np.asarray(payload["need_by_hour_kwh"], float), 4).tolist()
    return out


def test_deliverable_energy_is_kw_times_step_h():
    hourly_offer = dict(_hourly_offer(), envelope=None)
    deliverable_kwh = float(np.sum(np.asarray(hourly_offer["max_discharge_kw"])[
        np.asarray(hourly_offer["hour_mode"]) < 0]))
    assert deliverable_kwh > 0
    too_much = dict(hourly_offer, energy_available_kwh=deliverable_kwh + 1000.0)
    hourly = make_dso(keys={})._plausible(0, "lot1", too_much)
    quarters = make_dso(keys={}, clock=QUARTER)._plausible(0, "lot1", _in_quarters(too_much))
    assert hourly["energy_available_kwh"] == pytest.approx(deliverable_kwh, rel=1e-12)
    assert quarters["energy_available_kwh"] == pytest.approx(deliverable_kwh, rel=1e-12)  # not 4x: kW x 0.25 h
    # a need beyond what the charging steps can put in (kW x step_h x mu_e) is clipped to it, at either step
    reach_kwh = float(np.sum(np.where(np.asarray(hourly_offer["hour_mode"]) > 0, hourly_offer["max_charge_kw"],
                                      0.0))) * float(hourly_offer["economics"]["mu_e"])
    assert reach_kwh > 0
    beyond = dict(hourly_offer, energy_need_kwh=1.5 * reach_kwh, need_by_hour_kwh=None)
    for clock, payload in ((StepClock(60), beyond), (QUARTER, _in_quarters(beyond))):
        dso = make_dso(keys={}, clock=clock)
        assert dso._plausible(0, "lot1", payload)["energy_need_kwh"] == pytest.approx(reach_kwh, rel=1e-12)
        assert [e["event"] for e in dso.events] == ["implausible offer"]


def test_predictions_per_quarter_hour_keep_the_hourly_loss_energy():
    net = ieee33()
    p = np.outer(LOAD_SCALING, net.p_load_kw)
    q = np.outer(LOAD_SCALING, net.q_load_kvar)
    hourly = predict_hourly(net, net.tie_branches, p, q)
    quarters = predict_hourly(net, net.tie_branches, np.repeat(p, 4, axis=0), np.repeat(q, 4, axis=0))
    assert quarters["loss_kw"].shape == (96,)
    assert quarters["loss_kw"] == pytest.approx(np.repeat(hourly["loss_kw"], 4), rel=1e-12)
    assert quarters["loss_kw"].sum() * QUARTER.step_h == pytest.approx(hourly["loss_kw"].sum(), rel=1e-12)


@pytest.mark.parametrize("clock, start_step, start_hour", [(StepClock(60), 24, 24), (QUARTER, 96, 24.0),
                                                           (StepClock(30), 48, 24.0)])
def test_plans_record_the_day_start_in_hours_and_the_step(clock, start_step, start_hour):
    dso = make_dso(keys={}, clock=clock)
    n = clock.steps_per_day
    assert dso.n_steps == n and all(reg.steps_per_day == n for reg in dso.lots.values())
    assert sorted(dso.lots) == sorted(LOTS)
    dso.day = DayContext(start_step, np.ones(n), np.zeros(n))
    plan = DayAheadPlan((33, 34, 35, 36, 37), {}, {}, True, predicted_hourly={"loss_kw": np.ones(n)})
    dso._record(plan)
    row = dso.plans[-1]
    assert row["day_start_hour"] == start_hour and type(row["day_start_hour"]) is type(start_hour)
    assert row["step_minutes"] == clock.step_minutes and len(row["predicted_hourly"]["loss_kw"]) == n
    dso._record(plan, replace=True)  # the day's row is replaced, not appended
    assert len(dso.plans) == 1


def test_the_simulator_learns_the_step_and_refuses_others():
    sim = DsoSim()
    sim.init("DSO-0", time_resolution=900)
    assert sim.clock == QUARTER
    with pytest.raises(StepError, match="allowed: 3600, 1800, 900 s"):
        DsoSim().init("DSO-0", time_resolution=300)


def _plan_a_day(time_resolution: int, load: np.ndarray, price: np.ndarray) -> list[dict]:
    sim = DsoSim()
    sim.init("DSO-0", time_resolution=time_resolution)
    sim.create(1, "DSO", network="ieee33", controller="none", lots={}, isolation=False)
    plans = []
    n = len(load)
    for t in (0, 1, n, n + 1):
        sim.step(t, {"dso": {"load_forecast": {"M.m": load.tolist()}, "price_forecast": {"M.m": price.tolist()}}},
                 10 * n)
        out = sim.get_data({"dso": ["plan", "open_branches"]})["dso"]
        if "plan" in out:
            plans.append(out["plan"])
    return plans


def test_a_96_step_day_is_planned_at_each_day_start():
    hourly = _plan_a_day(3600, LOAD_SCALING, PRICE)
    quarters = _plan_a_day(900, np.repeat(LOAD_SCALING, 4), np.repeat(PRICE, 4))
    assert [p["day_start_hour"] for p in hourly] == [0, 24]  # a plan at each day start only
    assert [p["day_start_hour"] for p in quarters] == [0.0, 24.0]
    assert all(p["step_minutes"] == 15 for p in quarters)
    loss_h = np.asarray(hourly[0]["predicted_hourly"]["loss_kw"])
    loss_q = np.asarray(quarters[0]["predicted_hourly"]["loss_kw"])
    assert loss_q.shape == (96,)
    assert loss_q.sum() * 0.25 == pytest.approx(loss_h.sum(), rel=1e-9)  # the day's loss energy, kWh
