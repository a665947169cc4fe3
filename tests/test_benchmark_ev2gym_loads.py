"""benchmarks/ev2gym_loads.py: the bus loads `benchmarks/env.py` hands EV2Gym's grid model in place of its missing
sampler keep EV2Gym's `sample_data` contract (shape, the weekday it asks for, a slice from `start_step`), each bus
the sum of 10 different households of one day, and survive the pickle EV2Gym's loader reads them from."""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

SOURCE = Path(__file__).resolve().parents[1] / "benchmarks" / "ev2gym_loads.py"
HOUSEHOLDS = 25
WEEKS = 4


@pytest.fixture(scope="module")
def loads_module():
    spec = importlib.util.spec_from_file_location("ev2gym_loads", SOURCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ev2gym_loads"] = module  # pickled by module name, as EV2Gym reads it
    spec.loader.exec_module(module)
    yield module
    del sys.modules["ev2gym_loads"]


DAY_UNIT = 2.0 ** 26  # above any sum of households' bits (2**25): sums stay exact in floats


@pytest.fixture(scope="module")
def table(tmp_path_factory, loads_module):
    """A table whose values say where they come from: household j at a step of day d holds 2**j + d DAY_UNIT, so a
    sum of ten names its households (the bits below DAY_UNIT) and its day."""
    steps = WEEKS * 7 * loads_module.STEPS_PER_DAY
    day = np.arange(steps) // loads_module.STEPS_PER_DAY
    values = (2.0 ** np.arange(HOUSEHOLDS))[None, :] + day[:, None] * DAY_UNIT
    path = tmp_path_factory.mktemp("ev2gym") / "residential_loads.csv"
    np.savetxt(path, values, delimiter=",", fmt="%.1f")
    return path


@pytest.mark.parametrize("start_day", range(7))
@pytest.mark.parametrize("start_step, n_steps", [(0, 96), (37, 120)])
def test_each_bus_sums_ten_households_of_days_of_the_weekday_asked(loads_module, table, start_day, start_step,
                                                                   n_steps):
    n_buses, per_day = 34, loads_module.STEPS_PER_DAY
    data = loads_module.HouseholdLoads(table).sample_data(n_buses, n_steps, start_day, start_step)
    assert data.shape == (n_steps, n_buses)
    n = loads_module.HOUSEHOLDS_PER_BUS
    day = np.floor(data / (n * DAY_UNIT))
    bits = (data - day * n * DAY_UNIT).astype(np.int64)
    assert np.all(bits == bits[:1])  # each bus the same households all along
    assert all(bin(b).count("1") == n for b in bits[0])  # ten different households a bus
    assert np.all(day == day[:, :1])  # every bus on the same day at a step
    first = day[0, 0] - start_step // per_day  # the day the drawn days start on
    assert (loads_module.FIRST_WEEKDAY + first) % 7 == start_day  # a day of the weekday asked for
    np.testing.assert_array_equal(day[:, 0], first + (start_step + np.arange(n_steps)) // per_day)  # in order


def test_the_pickle_carries_the_table_path_and_draws_the_same(loads_module, table):
    sampler = loads_module.HouseholdLoads(table, seed=3)
    before = sampler.sample_data(5, 96, 2)
    blob = pickle.dumps(sampler)
    assert len(blob) < 1000  # the table is read again where it is unpickled, not carried
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.sample_data(5, 96, 2), before)
    assert not np.array_equal(loads_module.HouseholdLoads(table, seed=4).sample_data(5, 96, 2), before)
