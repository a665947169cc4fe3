"""The lot's per-EV plan solves the operator's schedule as sent, so the operator's own solve of it (the DSO's
`check_plan`, the PLO's `follow`) is the one the lot uses: fleet_lp answers it from its kept solutions."""

from __future__ import annotations

import numpy as np
import pytest

import cosim.controllers.fleet_lp as fleet_lp
from cosim.controllers.envelope import envelope_of
from simulators.parking.ev import EV
from simulators.parking.lot import ParkingLot


def _evs(seed: int) -> list[EV]:
    rng = np.random.default_rng(seed)
    evs = []
    for i in range(20):
        arr = round(float(rng.uniform(0, 8)) * 60) / 60
        dep = round(min(arr + float(rng.uniform(3, 12)), 23.9) * 60) / 60
        v2g = bool(rng.random() < 0.5)
        evs.append(EV(f"ev{i}", arr, dep, 60.0, 11.0, float(rng.uniform(0.3, 0.8)), 0.9, v2g, 0.2 if v2g else 0.0))
    return evs


@pytest.fixture
def solves(monkeypatch):
    """How many times HiGHS is asked (the real solve, counted)."""
    count = [0]
    real = fleet_lp._dispatch

    def counted(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(fleet_lp, "_dispatch", counted)
    return count


@pytest.mark.parametrize("seed", [3, 4])
def test_the_lot_uses_the_operators_solve_of_its_schedule(seed, solves):
    lot = ParkingLot(_evs(seed), connection_limit_kw=150.0)
    fleet, keep = lot.fleet_view(0.0, 24)
    wave = 120.0 * np.sin(np.arange(24) / 24.0 * 2.0 * np.pi) + 1e-10 / 3.0
    schedule = envelope_of(fleet).project(wave)
    assert np.any(schedule != np.round(schedule, 9))  # more digits than the lot's key keeps
    per_ev, _ = fleet_lp.dispatch(fleet, schedule)  # the operator's check
    asked = solves[0]
    lot.set_schedule(0.0, [float(v) for v in schedule])  # as the PLO simulator hands it over
    out = lot.advance(float(schedule[0]), 1.0)
    assert solves[0] == asked  # answered from the kept solution
    assert np.array_equal(lot._preferred[1][keep, 0], per_ev[:, 0])  # the very plan the operator checked
    assert np.isfinite(out["p_kw"])


def test_a_schedule_sent_again_is_not_solved_again(solves):
    lot = ParkingLot(_evs(5), connection_limit_kw=150.0)
    fleet, _ = lot.fleet_view(0.0, 24)
    schedule = envelope_of(fleet).project(np.full(24, 40.0))
    lot.set_schedule(0.0, schedule)
    lot.advance(float(schedule[0]), 1.0)
    first = solves[0]
    lot.set_schedule(0.0, schedule + 1e-12)  # the same schedule within the key's 9 decimals: the one in force
    lot.advance(float(schedule[1]), 2.0)
    assert solves[0] == first
    assert np.array_equal(lot._schedule_kw, schedule)
