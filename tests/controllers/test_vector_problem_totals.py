"""An optimiser's f and cv from the flow's per-case totals (`DayAheadVectorProblem.evaluate_totals`) are bit for bit
those of the full evaluation, plans outside the voltage band included."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cosim.controllers import DayAheadProblem, LotOffer
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.networks.ieee33 import ieee33

NET = ieee33().radial
MODE = np.array([1] * 8 + [0, 0] + [-1] * 9 + [0] + [1] * 4)
LOAD = np.linspace(0.6, 1.2, 24)
PRICE = np.linspace(0.05, 0.3, 24)


def problem(objective: str, net=NET) -> DayAheadProblem:
    lot = LotOffer("lot1", (6, 18, 28), 100, 10.0, 10.0, MODE, np.where(MODE > 0, 1000.0, 0.0),
                   np.where(MODE < 0, 1000.0, 0.0))
    return DayAheadProblem(net, LOAD, PRICE, (lot,), reconfigure=True, objective=objective)


@pytest.mark.parametrize("objective", ["of1", "of2", "of3"])
def test_totals_give_the_full_evaluations_f_and_cv_bit_for_bit(objective):
    vp = DayAheadVectorProblem(problem(objective))
    assert vp.totals_suffice
    rng = np.random.default_rng(7)
    outside = 0
    for it in range(12):
        X = vp.lower + (vp.upper - vp.lower) * rng.random((30, vp.n_var))
        if it % 2:  # the lot at full power: plans outside the voltage band, solved again for their violation
            X[:, vp.n_topo:] = rng.choice([0.0, 1.0], X[:, vp.n_topo:].shape)
        decoded = vp.decode(X)
        ev = vp.evaluate_plans(*decoded)
        f, cv = vp.evaluate_totals(*decoded)
        assert f.tobytes() == ev.f.tobytes() and cv.tobytes() == ev.cv.tobytes()
        outside += int(np.sum(np.isfinite(ev.cv) & (ev.cv > 0)))
    assert outside > 0  # the comparison covered plans with a violation
    assert vp.evaluate(X).f.tobytes() == ev.f.tobytes()  # what the optimiser gets


def test_a_vpd_objective_or_a_reachable_ampacity_takes_the_full_evaluation():
    assert not DayAheadVectorProblem(problem("vpd")).totals_suffice
    rated = dataclasses.replace(NET, i_max_ka=np.full(NET.n_branch, 0.4))
    assert not DayAheadVectorProblem(problem("of3", rated)).totals_suffice
