"""The PLO at 30- and 15-minute steps: it learns the step from mosaik's time_resolution, starts a day every
steps_per_day time units, and offers, schedules and sets points with one value per step."""

import json

import numpy as np
import pytest
from agent_fixtures import PRICE, SEED000_HOUR_MODE

from cosim.controllers.fleet_lp import deliverable, dispatch
from cosim.errors import InputError
from cosim.exchange import make_exchange_mode
from cosim.exchange.payloads import LotRegistration, check_offer
from cosim.timebase import StepError, resample
from simulators.parking.fleet import stochastic_fleet
from simulators.parking.forecast import day_ahead_forecast
from simulators.parking.lot import ParkingLot
from simulators.plo.agent import PloAgent
from simulators.plo.simulator import PloSim

LOT = "lot1"


def _forecast(step_minutes: int, start_h: float = 0.0) -> dict:
    lot = ParkingLot(stochastic_fleet(20, seed=4, days=2), n_chargers=20, connection_limit_kw=300.0)
    return day_ahead_forecast(lot, start_h, 24 * 60 // step_minutes, step_minutes)


@pytest.mark.parametrize("resolution, steps_per_day", [(3600, 24), (1800, 48), (900, 96)])
def test_plo_sim_learns_the_step_from_time_resolution(resolution, steps_per_day):
    sim = PloSim()
    sim.init("PLO", time_resolution=resolution)
    sim.create(1, "PLO", lot_id=LOT, candidate_buses=[18], exchange="centralised", hour_mode=SEED000_HOUR_MODE)
    agent = sim.agents[LOT]
    assert sim.clock.steps_per_day == steps_per_day and agent.steps_per_day == steps_per_day
    assert agent.registration.steps_per_day == steps_per_day and len(agent.hour_mode) == steps_per_day


def test_plo_sim_refuses_what_it_cannot_step_in():
    with pytest.raises(StepError, match=r"time_resolution=600 s is not one allowed step; allowed: 3600, 1800, 900 s"):
        PloSim().init("PLO", time_resolution=600)
    sim = PloSim()
    sim.init("PLO", time_resolution=900)
    with pytest.raises(InputError, match=r"exchange mode 'admm' works only with hourly steps"):
        sim.create(1, "PLO", lot_id=LOT, candidate_buses=[18], exchange="admm")


def test_plo_sim_runs_a_day_of_quarter_hours():
    """A real PloSim at time_resolution = 900 s: the day starts at time 0 and again at 96, the lot's schedule has
    96 setpoints, each step's setpoint is its own."""
    sim = PloSim()
    sim.init("PLO", time_resolution=900)
    sim.create(1, "PLO", lot_id=LOT, candidate_buses=[18], exchange="none", hour_mode=SEED000_HOUR_MODE)
    prices = resample(PRICE, 60, 15).tolist()
    inputs = {LOT: {"lot_state": {"lot": {"forecast": _forecast(15)}}, "price_forecast": {"m": prices}}}
    assert sim.step(0, inputs, 10**9) == 1
    out = sim.get_data({LOT: ["schedule", "setpoint_kw"]})[LOT]
    assert len(out["schedule"]["kw"]) == 96 and out["schedule"]["start_h"] == 0.0
    setpoints = [out["setpoint_kw"]]
    for t in range(1, 96):
        sim.step(t, {LOT: {}}, 10**9)
        setpoints.append(sim.get_data({LOT: ["setpoint_kw"]})[LOT]["setpoint_kw"])
    assert setpoints == pytest.approx(out["schedule"]["kw"])
    assert ("day", 96) not in sim.seen[LOT]
    sim.step(96, {LOT: {"lot_state": {"lot": {"forecast": _forecast(15, 24.0)}}, "price_forecast": {"m": prices}}},
             10**9)
    assert ("day", 96) in sim.seen[LOT]


def test_plo_offer_at_15_minutes_passes_a_96_step_dso():
    plo = PloAgent(LOT, (18,), make_exchange_mode("centralised"), hour_mode=SEED000_HOUR_MODE,
                   connection_limit_kw=300.0, step_minutes=15)
    (message,) = plo.start_day(0, _forecast(15), resample(PRICE, 60, 15))
    payload = message["payload"]
    assert len(payload["envelope"]["p_max_kw"]) == 96 and len(plo.schedule_kw) == 96
    check_offer(payload, LOT, LotRegistration((18,), 300.0, steps_per_day=96))
    assert np.all(np.isfinite(plo.schedule_kw))


@pytest.mark.parametrize("step_minutes", [60, 30, 15])
def test_a_clipped_schedule_is_the_dispatchs_lot_power_in_kw_at_every_step(step_minutes):
    """A schedule the EVs cannot follow is replaced by the nearest one some per-EV dispatch delivers: that
    dispatch's kWh per step divided by the step's hours (kW), so the followed schedule moves the dispatch's energy
    and the EVs can deliver it exactly, at any step."""
    steps = 24 * 60 // step_minutes
    plo = PloAgent(LOT, (18,), make_exchange_mode("centralised"), connection_limit_kw=300.0,
                   step_minutes=step_minutes)
    plo.start_day(0, _forecast(step_minutes), resample(PRICE, 60, step_minutes))
    fleet = plo.offer.fleet
    asked = np.random.default_rng(0).choice([-1.0, 1.0], steps) * 300.0  # full charge and discharge in turn
    per_ev_kwh, gap_kwh = dispatch(fleet, plo.offer.envelope.project(asked))
    assert gap_kwh > 0.05  # the envelope's projection alone is not deliverable: the per-EV dispatch decides
    plo.follow(asked)
    step_h = step_minutes / 60.0
    np.testing.assert_allclose(plo.schedule_kw * step_h, per_ev_kwh.sum(axis=0), atol=1e-9)
    assert deliverable(fleet, plo.schedule_kw) <= 1e-6


def test_the_offers_a_plo_sim_hands_out_are_plain_json():
    """`get_data` passes the offer messages on as the channel made them: plain JSON (what a JSON round trip keeps
    exactly), with no numpy left from the lot's forecast."""
    sim = PloSim()
    sim.init("PLO", time_resolution=3600)
    sim.create(1, "PLO", lot_id=LOT, candidate_buses=[18], exchange="centralised", hour_mode=SEED000_HOUR_MODE)
    forecast = {k: np.asarray(v) if isinstance(v, list) else v for k, v in _forecast(60).items()}
    sim.step(0, {LOT: {"lot_state": {"lot": {"forecast": forecast}}, "price_forecast": {"m": PRICE}}}, 10**9)
    [message] = sim.get_data({LOT: ["offer"]})[LOT]["offer"]
    assert json.loads(json.dumps(message)) == message
    assert "max_charge_kw" in message["payload"] and message["payload"]["fleet"] is not None

    def plain(value):
        if isinstance(value, dict):
            return all(type(k) is str and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return type(value) in (str, int, float, bool, type(None))

    assert plain(message)
