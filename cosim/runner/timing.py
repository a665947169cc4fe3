"""Where a run's wall time goes: each simulator class wrapped so its step/get_data time is summed.

The wrappers are made on demand from `cosim.runner.simulators.SIMULATORS`: mosaik imports
"cosim.runner.timing:Timed<Name>" and gets the simulator `<Name>` wrapped. In-process simulators only (the
default); what is left of the wall time is mosaik's own scheduling and data exchange plus our set-up,
reported as `mosaik_share` in the manifest.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from cosim.registry import import_attribute
from cosim.runner.simulators import SIMULATORS

STEP_SECONDS: dict[str, float] = defaultdict(float)
_WRAPPED: dict[str, type] = {}


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


def sim_config() -> dict[str, dict[str, str]]:
    """mosaik's SIM_CONFIG: every simulator of the table, in process, behind its timing wrapper."""
    return {spec.name: {"python": f"{__name__}:Timed{spec.name}"} for spec in SIMULATORS}


def forget(name: str) -> None:
    """Drop the wrapped class of simulator `name`: the next run wraps its table entry anew."""
    _WRAPPED.pop(f"Timed{name}", None)


def __getattr__(name: str) -> Any:
    """`Timed<Name>`: the simulator `<Name>` of the table, wrapped (made once)."""
    spec = next((s for s in SIMULATORS if name == f"Timed{s.name}"), None)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _WRAPPED:
        _WRAPPED[name] = timed(import_attribute(spec.target, "simulator"), spec.label)
    return _WRAPPED[name]
