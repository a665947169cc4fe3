"""The read-only copy of a problem that a controller planning in the DSO's own process gets (`isolation = false`).

A controller in the DSO's process could change the problem its plan is checked against: widen a lot's
`max_charge_kw` in place, or replace a frozen offer's field with `object.__setattr__`, and have its 1000 kW plan
pass unclipped. It gets a deep copy instead, every numpy array in it write-protected (lot offers and the network
are frozen dataclasses already): what it changes stays in its copy, and the DSO checks the plan against its own.
A controller in a worker process needs none: the worker's memory is its own copy.

The copy is made in one pass that copies and protects together (this runs every step of an hourly controller):
an array is copied at C speed, a list or tuple of plain numbers and strings at once (a lot's fleet holds a dozen
per-EV lists), dicts and dataclass instances (their whole `__dict__`, cached attributes included) level by level;
anything else (subclasses, objects with their own `__deepcopy__`, slotted classes) goes through `copy.deepcopy` and
the protection walk. Objects reached twice are copied once, as `deepcopy` does.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from cosim.controllers.base import DayAheadProblem

__all__ = ["read_only_problem"]

_ATOMIC = frozenset({int, float, bool, str, bytes, complex, type(None)})
"""Immutable types that a copy may share (`copy.deepcopy` shares them too)."""


def read_only_problem(problem: DayAheadProblem) -> DayAheadProblem:
    """A deep copy of `problem` whose numpy arrays are all write-protected."""
    return _frozen_copy(problem, {})


def _frozen_copy(value: Any, memo: dict[int, Any]) -> Any:
    """A deep copy of `value` with every numpy array in it a write-protected copy; `memo` maps the id of each
    object copied so far to its copy (the originals stay alive in the problem meanwhile)."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    done = memo.get(id(value))
    if done is not None:
        return done
    if kind is np.ndarray and not value.dtype.hasobject:
        out: Any = value.copy()
        out.setflags(write=False)
    elif kind is list:
        if _ATOMIC.issuperset(map(type, value)):
            out = list(value)
        else:
            out = memo[id(value)] = []  # in the memo before its items: a list that holds itself is copied once
            out.extend(_frozen_copy(v, memo) for v in value)
    elif kind is tuple:
        out = value if _ATOMIC.issuperset(map(type, value)) else tuple(_frozen_copy(v, memo) for v in value)
    elif kind is dict:
        out = memo[id(value)] = {}
        out.update((k, _frozen_copy(v, memo)) for k, v in value.items())
    elif dataclasses.is_dataclass(kind) and not hasattr(kind, "__slots__") and not hasattr(kind, "__deepcopy__"):
        out = memo[id(value)] = kind.__new__(kind)
        out.__dict__.update((k, _frozen_copy(v, memo)) for k, v in value.__dict__.items())
    elif isinstance(value, np.generic):  # numpy scalars are immutable
        out = value
    else:
        out = copy.deepcopy(value)
        _protect(out, set())
    memo[id(value)] = out
    return out


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
