"""Warm a sweep's process once, before its first variation, and freeze what the warm-up leaves on the heap.

Why: each run forks its controller workers' server after a full garbage collection (`ForkServer(collect_garbage=
True)`: no earlier run's unreachable objects, its keys among them, go into the server). In a process that has
imported the co-simulation (pandapower, mosaik, scipy, numba: about 265,000 objects) that collection costs about
0.1 s CPU per variation. What the warm-up loads (modules, the network built once per process, the compiled
kernels) lives as long as the process: `gc.freeze` moves it out of the collector's reach, so each run's collection
only walks what the runs themselves made since. Nothing is frozen that a run made: the freeze happens before the
first variation, before any run's keys exist.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Any, Iterator

__all__ = ["freeze_heap", "frozen_heap", "warm_process"]


def warm_process(scenario: Any = None) -> None:
    """Import what a run imports and build `scenario`'s network (the default network without one) and the compiled
    power-flow kernels once in this process; a network that cannot be built is left to the run to report."""
    import numpy as np  # noqa: PLC0415

    import cosim.runner.postprocess  # noqa: F401, PLC0415
    import cosim.runner.run  # noqa: F401, PLC0415
    import cosim.runner.world  # noqa: F401, PLC0415 - mosaik and every simulator
    from cosim.networks import load_radial  # noqa: PLC0415
    from cosim.powerflow.bfs import solve_radial_batch  # noqa: PLC0415

    try:
        net = load_radial(scenario.network if scenario is not None else "ieee33",
                          near=getattr(scenario, "plugin_dir", None))
        solve_radial_batch(net, np.asarray(net.tie_branches), net.p_load_kw[None, :], net.q_load_kvar[None, :])
    except Exception:  # noqa: BLE001 - only a head start: the run checks its network itself and says what is wrong
        pass


_FROZEN_FOR_GOOD: list[int] = []  # set by `freeze_heap`: this process (the pool's preload) stays frozen


def freeze_heap() -> int:
    """Collect, then freeze every object left (`gc.freeze`) for the rest of this process; returns how many are
    frozen."""
    gc.collect()
    gc.freeze()
    _FROZEN_FOR_GOOD.append(gc.get_freeze_count())
    return gc.get_freeze_count()


@contextlib.contextmanager
def frozen_heap() -> Iterator[int]:
    """Collect and freeze for the block, then unfreeze (`gc.unfreeze`: everything, the few hundred objects the
    interpreter itself froze at start-up included, which then cost the collector a glance), so that a library call
    does not keep its caller's objects out of collection; a process frozen for good by `freeze_heap` (the sweep
    pool's preload) is left as it is."""
    if _FROZEN_FOR_GOOD:
        yield gc.get_freeze_count()
        return
    gc.collect()
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
