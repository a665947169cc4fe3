"""Where a run's wall time goes: each simulator class wrapped so its step/get_data time is summed.

In-process simulators only (the default); what is left of the wall time is mosaik's own scheduling and
data exchange plus our set-up, reported as `mosaik_share` in the manifest.
"""

from __future__ import annotations

import time
from collections import defaultdict

from simulators.dso.simulator import DsoSim
from simulators.grid.simulator import GridSim
from simulators.market.simulator import MarketSim
from simulators.parking.simulator import ParkingSim
from simulators.plo.simulator import PloSim
from simulators.recorder.simulator import RecorderSim

STEP_SECONDS: dict[str, float] = defaultdict(float)


def reset() -> None:
    STEP_SECONDS.clear()


def timed(cls: type, label: str) -> type:
    """Subclass of a mosaik simulator class that adds its step and get_data time to STEP_SECONDS[label]."""

    class Timed(cls):  # type: ignore[misc, valid-type]
        def step(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return super().step(*args, **kwargs)
            finally:
                STEP_SECONDS[label] += time.perf_counter() - t0

        def get_data(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return super().get_data(*args, **kwargs)
            finally:
                STEP_SECONDS[label] += time.perf_counter() - t0

    Timed.__name__ = Timed.__qualname__ = f"Timed{cls.__name__}"
    return Timed


TimedMarketSim = timed(MarketSim, "market")
TimedParkingSim = timed(ParkingSim, "parking")
TimedGridSim = timed(GridSim, "grid")
TimedPloSim = timed(PloSim, "plo")
TimedDsoSim = timed(DsoSim, "dso")
TimedRecorderSim = timed(RecorderSim, "recorder")
