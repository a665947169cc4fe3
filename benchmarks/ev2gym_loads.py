"""Bus loads for EV2Gym's grid model where its load sampler is missing (`benchmarks/env.py`'s EV2Gym comparison).

EV2Gym's power flow (`ev2gym.models.grid.PowerGrid`) draws each day's bus loads from a copula fitted to its
authors' data, pickled as `data/augmentor.pkl`; ev2gym 2.0.0's wheel ships neither the pickle nor the data it was
fitted on, so its grid case cannot start as installed. `HouseholdLoads` offers the same `sample_data` call from the
household profiles the wheel does ship (`data/residential_loads.csv`: a year of 15-minute loads of 25 households,
the data EV2Gym's transformers draw their own inflexible loads from): each bus the sum of 10 of them, as an EV2Gym
transformer's, from a day of the same weekday. EV2Gym scales whatever it is given to [0, 1] and then to its
feeder's nominal bus loads, so the flows stay in its feeder's range; drawing is a slice of a table, cheaper than the
copula's sampling, so an EV2Gym run on these loads is, if anything, faster than EV2Gym with its own.

The class lives in its own module because EV2Gym unpickles its sampler by module and class name (`__main__` is
read as its own `ev2gym.models.data_augment`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STEPS_PER_DAY = 96  # 15-minute steps
FIRST_WEEKDAY = 5  # the table starts on 2022-01-01, a Saturday (Monday = 0, as `datetime.weekday`)
HOUSEHOLDS_PER_BUS = 10  # as each EV2Gym transformer's inflexible load


class HouseholdLoads:
    """EV2Gym's `DataGenerator.sample_data` from its shipped household profiles (see the module docstring)."""

    def __init__(self, table_csv: str | Path, seed: int = 0) -> None:
        self.table_csv = str(table_csv)
        self.seed = int(seed)
        self._table: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return {"table_csv": self.table_csv, "seed": self.seed}  # the table is read again where it is unpickled

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["table_csv"], state["seed"])

    def _households(self) -> np.ndarray:
        if self._table is None:
            self._table = np.loadtxt(self.table_csv, delimiter=",", ndmin=2)  # (steps of a year, households)
        return self._table

    def sample_data(self, n_buses: int, n_steps: int, start_day: int, start_step: int = 0) -> np.ndarray:
        """(n_steps, n_buses) loads from step `start_step` of a day with weekday `start_day` (Monday = 0)."""
        table = self._households()
        days = -(-(start_step + n_steps) // STEPS_PER_DAY)
        rng = np.random.default_rng([self.seed, start_day])
        first = (start_day - FIRST_WEEKDAY) % 7 + 7 * int(rng.integers(table.shape[0] // (7 * STEPS_PER_DAY) - 1))
        rows = (first * STEPS_PER_DAY + np.arange(days * STEPS_PER_DAY)) % table.shape[0]
        picks = np.stack([rng.choice(table.shape[1], HOUSEHOLDS_PER_BUS, replace=False) for _ in range(n_buses)])
        loads = table[rows][:, picks].sum(axis=2)  # (steps, buses)
        return loads[start_step:start_step + n_steps]
