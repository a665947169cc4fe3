"""A controller planning in the DSO's own process (`isolation = false`) gets a read-only copy of the problem: what it
changes never reaches the problem its plan is checked against."""

from __future__ import annotations

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, SEED000_HOUR_MODE, fleet_forecast, ieee33

from cosim.controllers import DayAheadProblem, LotEconomics
from cosim.controllers.read_only import read_only_problem
from simulators.plo.agent import offer_from_forecast


@pytest.fixture
def problem() -> DayAheadProblem:
    forecast = {**fleet_forecast(n_pevs=10), "hour_mode": SEED000_HOUR_MODE}
    offer = offer_from_forecast("PL1", (18, 25), forecast, PRICE, LotEconomics())
    return DayAheadProblem(network=ieee33(), load_scaling=LOAD_SCALING, price_usd_per_kwh=PRICE, lots=(offer,))


def test_the_copy_is_write_protected_and_changing_it_leaves_the_problem_alone(problem):
    before = problem.lots[0].max_charge_kw.copy()
    copy = read_only_problem(problem)
    lot = copy.lots[0]
    for arr in (lot.max_charge_kw, lot.hour_mode, lot.envelope.p_max_kw, copy.load_scaling, copy.network.r_pu):
        with pytest.raises(ValueError, match="read-only"):
            arr[:] = 1000.0
    object.__setattr__(lot, "max_charge_kw", np.full(24, 1000.0))  # around the frozen dataclass
    object.__setattr__(lot, "envelope", None)
    lot.fleet["charger_kw"] = [1e6]
    copy.options["anything"] = 1
    original = problem.lots[0]
    np.testing.assert_array_equal(original.max_charge_kw, before)
    assert original.envelope is not None and original.fleet["charger_kw"] != [1e6] and "anything" not in problem.options
