"""The read-only copy of a problem that a controller planning in the DSO's own process gets (`isolation = false`).

A controller in the DSO's process could change the problem its plan is checked against: widen a lot's
`max_charge_kw` in place, or replace a frozen offer's field with `object.__setattr__`, and have its 1000 kW plan
pass unclipped. It gets a deep copy instead, every numpy array in it write-protected (lot offers and the network
are frozen dataclasses already): what it changes stays in its copy, and the DSO checks the plan against its own.
A controller in a worker process needs none: the worker's memory is its own copy.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from cosim.controllers.base import DayAheadProblem

__all__ = ["read_only_problem"]


def read_only_problem(problem: DayAheadProblem) -> DayAheadProblem:
    """A deep copy of `problem` whose numpy arrays are all write-protected."""
    copied = copy.deepcopy(problem)
    _protect(copied, set())
    return copied


def _protect(value: Any, seen: set[int]) -> None:
    """Write-protect every numpy array reachable from `value` through dataclass fields, dicts, lists and tuples."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _protect(getattr(value, f.name), seen)
    elif isinstance(value, dict):
        for item in value.values():
            _protect(item, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _protect(item, seen)
