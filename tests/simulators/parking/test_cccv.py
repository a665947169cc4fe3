"""CC-CV charging (`cosim.controllers.cccv`): above its knee an EV's charging power tapers; the lot holds it so, and
the envelope and the per-EV LP plan with the same held-power model, so their plans are delivered."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.controllers.cccv import max_rate_kwh_per_h, reach_kwh, start_for_kwh
from cosim.controllers.envelope import envelope_of
from cosim.controllers.fleet_lp import dispatch
from simulators.parking.ev import EV, EVSpecError
from simulators.parking.lot import ParkingLot


def test_an_ev_near_full_draws_the_tapered_power():
    """60 kWh, 11 kW, knee 0.8, arriving at 90 %: over one hour the lot holds at most the power the CC-CV curve
    allows at the hour's end energy, R (C - E) / (C (1 - knee) + R h) = 11 x 6 / (12 + 11) = 2.87 kW - not the
    charger's 11 kW, nor the 6 kW of room a constant-power battery would take."""
    tapered = ParkingLot([EV("near-full", 0.0, 2.0, 60.0, 11.0, 0.9, knee_soc=0.8)])
    flat = ParkingLot([EV("near-full", 0.0, 2.0, 60.0, 11.0, 0.9)])
    p = tapered.advance(11.0, 1.0)["p_kw"]
    assert p == pytest.approx(11.0 * 6.0 / (12.0 + 11.0), rel=1e-9)
    assert flat.advance(11.0, 1.0)["p_kw"] == pytest.approx(6.0)
    # the held power is within the curve all hour: at the hour's end energy the limit is exactly the power held
    e_end = tapered.energy[0]
    assert e_end == pytest.approx(54.0 + p)
    assert p <= 11.0 * (60.0 - e_end) / (60.0 * 0.2) + 1e-9
    # and below the knee the charger's full power
    low = ParkingLot([EV("low", 0.0, 2.0, 60.0, 11.0, 0.2, knee_soc=0.8)])
    assert low.advance(11.0, 1.0)["p_kw"] == pytest.approx(11.0)


def test_reach_and_must_run_energy_are_inverse():
    e = np.array([10.0, 48.0, 55.0, 59.0])
    for hours in (0.25, 1.0, 3.5):
        top = reach_kwh(e, 60.0, 10.0, 0.8, hours)
        assert np.all(top <= 60.0) and np.all(top >= e)
        assert start_for_kwh(top, 60.0, 10.0, 0.8, hours) == pytest.approx(e, abs=1e-9)
    # knee 1: the constant-power formulas, the same floats
    assert reach_kwh(e, 60.0, 10.0, 1.0, 2.0).tolist() == np.minimum(60.0, e + 20.0).tolist()
    assert max_rate_kwh_per_h(59.0, 60.0, 10.0, 1.0, 1.0) == 1.0


def test_knee_outside_0_1_is_refused():
    with pytest.raises(EVSpecError, match="knee_soc"):
        EV("x", 0.0, 1.0, 60.0, 11.0, 0.5, knee_soc=0.0)
    with pytest.raises(EVSpecError, match="knee_soc"):
        EV("x", 0.0, 1.0, 60.0, 11.0, 0.5, knee_soc=1.2)


def _fleet(seed: int) -> list[EV]:
    rng = np.random.default_rng(seed)
    evs = []
    for i in range(30):
        arr = round(float(rng.uniform(0, 10)) * 60) / 60
        dep = round(min(arr + float(rng.uniform(3, 12)), 23.9) * 60) / 60
        v2g = bool(rng.random() < 0.5)
        evs.append(EV(f"ev{i}", arr, dep, float(rng.choice([40.0, 60.0, 75.0])), float(rng.choice([7.4, 11.0])),
                      float(rng.uniform(0.3, 0.9)), 0.95 if rng.random() < 0.6 else 0.85, v2g, 0.2 if v2g else 0.0,
                      0.95, 0.95, 0.8))
    return evs


@pytest.mark.parametrize("seed", [1, 2])
def test_plans_within_the_tapered_envelope_are_delivered(seed):
    """Contracts above the knee, chargers tapering: a day's plan from the envelope (charge as early as it allows,
    and a price-following plan moved inside) that the per-EV LP delivers is what the lot draws, within 1 kWh over
    the day, and the contracts it misses are exactly those the envelope reported unreachable."""
    lot = ParkingLot(_fleet(seed), connection_limit_kw=200.0)
    fleet, _ = lot.fleet_view(0.0, 24)
    env = envelope_of(fleet)
    wave = 150.0 * np.sin(np.arange(24) / 24.0 * 2.0 * np.pi)
    for wanted in (env.p_max_kw, wave):
        plan = env.project(np.asarray(wanted, float))
        per_ev, _ = dispatch(fleet, plan)
        target = per_ev.sum(axis=0)  # what the EVs can follow of it (0 kWh off for the first)
        run = ParkingLot(lot.evs, connection_limit_kw=200.0)
        run.set_schedule(0.0, target)
        drawn = np.array([run.advance(float(target[h]), h + 1.0)["p_kw"] for h in range(24)])
        assert np.abs(drawn - target).sum() <= 1.0
        unmet = sum(row["unmet_energy_kwh"] or 0.0 for row in run.sessions())
        assert unmet <= env.shortfall_kwh + 1.0
