"""A plan's wire format across the plug-in boundary: plain data only, so nothing a controller returns runs code in
the DSO's process.

The controller's worker turns its plan into plain data and bytes (`encode_plan`; a failure into `encode_error`); the
DSO's process reads them back into a fresh `DayAheadPlan` (`decode`). The bytes are a JSON header (null, booleans,
numbers, strings, lists and objects, nothing else) and then the arrays' raw little-endian bytes, each described in the
header by its dtype (float64, int64 or bool) and shape. Reading them builds dicts, tuples, str, int, float, bool and
read-only numpy arrays, and nothing else: no pickle, no class named by the sender, no code of the sender's.

What a plan may hold (`PLAIN`): None, bool, int (|x| < 2**63), float, str, lists and tuples (read back as tuples),
dicts with str keys, numpy arrays of bool, integer or floating dtype (read back as bool, int64, float64; a 0-d array
as its number) and numpy numbers (read back as Python numbers), nested at most `MAX_DEPTH` levels. Anything else (a
user object in `info`, a set, an array of objects) is refused where the plan is converted, with a `PlanDataError`
naming the field (`info['payload']`): the DSO falls back. The refused object is never called, pickled or printed.
`setpoints_kw` and `predicted_hourly` values, and `open_branches`, are read once (`np.array(value, dtype=float)`,
`tuple(value)`), so an array-like that changes between reads gives the values of that one read, and those are the
values checked and used.

`snapshot(plan)` is the same conversion without the bytes, for plans made in the DSO's own process (`isolation =
false`): the plan checked and used is a copy the controller holds no reference to, its arrays write-protected.
`check_plan` then checks what each field holds (`cosim.controllers.validation`).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cosim.controllers.base import DayAheadPlan
from cosim.errors import CosimError

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "PLAIN", "PlanDataError", "WorkerError", "decode", "encode_error", "encode_plan",
           "snapshot"]

PLAIN = "None, bool, int, float, str, lists, dicts with str keys and numeric arrays"
"""What a plan may hold, as the refusals say it."""
MAX_DEPTH = 32
"""Containers nested deeper than this are refused (a list that holds itself, a hostile header)."""
MAX_ITEMS = 1_000_000
"""Items read from one sequence (open_branches or a list) at most: an endless iterator is refused, not followed."""
_MAGIC = b"CPL1"  # format and version of the worker's message
_HEADER = 8  # bytes of the header's length after the magic
_INT_LIMIT = 2**63
_FIELDS = ("open_branches", "lot_buses", "setpoints_kw", "feasible", "predicted", "predicted_hourly", "controller",
           "info")
_NUMBERS = ("setpoints_kw", "predicted_hourly")  # mappings of arrays read once as float
_DTYPES = {"<f8": np.dtype("<f8"), "<i8": np.dtype("<i8"), "|b1": np.dtype("|b1")}
_NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


class PlanDataError(CosimError):
    """A plan that is not plain data (raised where it is converted), or a message that is not a plan (raised where it
    is read); the message names the field. `rule` is the check it fails ("plain-data", or "type" for an object that
    is no `DayAheadPlan`), `rejection` the line a fallback gives, as `check_plan`'s rules do."""

    def __init__(self, message: str, rule: str = "plain-data") -> None:
        super().__init__(message)
        self.rule = rule

    @property
    def rejection(self) -> str:
        return f"plan rejected, rule {self.rule}: {self}"


@dataclass(frozen=True)
class WorkerError:
    """A controller's failure as its worker reports it: a one-line reason, the formatted traceback or None, and the
    user's frame ("file:line in function") or None."""

    reason: str
    traceback: str | None = None
    where: str | None = None


# ---- plan -> plain data ---------------------------------------------------------------------------------------------
class _Writer:
    """Turns values into JSON-compatible nodes, the arrays set aside (node ["a", index])."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def array(self, value: np.ndarray, path: str) -> list[Any]:
        kind = value.dtype.kind
        if kind == "b":
            target = np.dtype("|b1")
        elif kind in "iu":
            if kind == "u" and value.size and int(value.max()) >= _INT_LIMIT:
                raise PlanDataError(f"{path} holds integers of 2**63 or more; allowed: {PLAIN}")
            target = np.dtype("<i8")
        elif kind == "f":
            target = np.dtype("<f8")
        else:
            raise PlanDataError(f"{path} is an array of dtype {value.dtype.name}, not of numbers; allowed: {PLAIN}")
        self.arrays.append(np.array(value, dtype=target, order="C", copy=True, subok=False))
        return ["a", len(self.arrays) - 1]

    def numbers(self, value: Any, path: str) -> Any:
        """An array field (one lot's setpoints, one hourly prediction): read once as floats; what is not numbers at
        all is kept as plain data for the check to name."""
        try:
            arr = np.array(value, dtype=float, copy=True, subok=False)
        except (TypeError, ValueError, OverflowError):
            return self.plain(value, path)
        return self.array(arr, path) if arr.ndim else self.plain(value, path)

    def plain(self, value: Any, path: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise PlanDataError(f"{path} is nested more than {MAX_DEPTH} levels deep")
        if value is None or value is True or value is False:
            return value
        if isinstance(value, np.generic):  # before str, int, float: np.str_ and np.float64 are subclasses of them
            if isinstance(value, (np.bool_, np.integer, np.floating)):
                return self.plain(value.item(), path, depth)
            if isinstance(value, np.str_):
                return str.__str__(value)
            raise PlanDataError(f"{path} holds a numpy {type(value).__name__}, not a number; allowed: {PLAIN}")
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, int):  # bool is handled above
            number = int.__index__(value)
            if not -_INT_LIMIT < number < _INT_LIMIT:
                raise PlanDataError(f"{path} holds an integer beyond 2**63 ({number.bit_length()} bits)")
            return number
        if isinstance(value, float):
            number = float.__float__(value)
            return number if math.isfinite(number) else ["f", repr(number)]
        if isinstance(value, np.ndarray):
            if value.ndim == 0 and value.dtype.kind in "biuf":
                return self.plain(value.item(), path, depth)
            return self.array(value, path)
        if isinstance(value, (list, tuple)):
            return ["l", [self.plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(_items(value, path))]]
        if isinstance(value, dict):
            return self.mapping(value, path, depth)
        raise PlanDataError(f"{path} holds a {type(value).__name__} object; a plan holds plain data only: {PLAIN}")

    def mapping(self, value: Any, path: str, depth: int = 0, numbers: bool = False) -> Any:
        if not isinstance(value, dict):
            return self.plain(value, path, depth)
        pairs = []
        for key, item in list(value.items()):
            if not isinstance(key, str):
                raise PlanDataError(f"{path} has a key of type {type(key).__name__}; keys are str")
            key = str.__str__(key)
            inner = f"{path}[{key!r}]"
            pairs.append([key, self.numbers(item, inner) if numbers else self.plain(item, inner, depth + 1)])
        return ["d", pairs]


def _items(value: Any, path: str) -> tuple[Any, ...]:
    """The items of a sequence, read once, at most `MAX_ITEMS`."""
    items = tuple(itertools.islice(iter(value), MAX_ITEMS + 1))
    if len(items) > MAX_ITEMS:
        raise PlanDataError(f"{path} has more than {MAX_ITEMS:,} items")
    return items


def _to_plain(plan: Any) -> tuple[dict[str, Any], list[np.ndarray]]:
    """(the plan's fields as JSON-compatible nodes, its arrays), each field read once."""
    if not isinstance(plan, DayAheadPlan):
        raise PlanDataError(f"the controller returned a {type(plan).__name__}, not a DayAheadPlan", rule="type")
    writer = _Writer()
    fields: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(plan, name)
        if name == "open_branches" and not isinstance(value, (str, bytes, dict, np.ndarray)) and value is not None:
            try:
                value = _items(value, name)  # any iterable of ids, read once (a set, a generator, a custom sequence)
            except TypeError:
                pass  # not iterable: kept as it is, for the check to name
        fields[name] = writer.mapping(value, name, numbers=name in _NUMBERS) if name in (
            "lot_buses", "setpoints_kw", "predicted", "predicted_hourly", "info") else writer.plain(value, name)
    return fields, writer.arrays


# ---- plain data -> plan ---------------------------------------------------------------------------------------------
def _node(node: Any, arrays: list[np.ndarray], path: str, depth: int = 0) -> Any:
    """A value from a JSON-compatible node: dicts, tuples, str, int, float, bool, None and read-only arrays only."""
    if depth > MAX_DEPTH:
        raise PlanDataError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    if node is None or type(node) in (bool, str):
        return node
    if type(node) is int:
        if not -_INT_LIMIT < node < _INT_LIMIT:
            raise PlanDataError(f"{path} holds an integer beyond 2**63")
        return node
    if type(node) is float:
        return node
    if type(node) is not list or len(node) != 2 or type(node[0]) is not str:
        raise PlanDataError(f"{path}: not a value of the plan format")
    tag, body = node
    if tag == "l" and type(body) is list:
        return tuple(_node(v, arrays, f"{path}[{i}]", depth + 1) for i, v in enumerate(body))
    if tag == "d" and type(body) is list:
        out: dict[str, Any] = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str or pair[0] in out:
                raise PlanDataError(f"{path}: not a mapping of the plan format")
            out[pair[0]] = _node(pair[1], arrays, f"{path}[{pair[0]!r}]", depth + 1)
        return out
    if tag == "a" and type(body) is int and 0 <= body < len(arrays):
        return arrays[body]
    if tag == "f" and type(body) is str and body in _NON_FINITE:
        return _NON_FINITE[body]
    raise PlanDataError(f"{path}: not a value of the plan format")


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _from_plain(fields: Any, arrays: list[np.ndarray]) -> DayAheadPlan:
    """A fresh plan from its fields' nodes (`_to_plain`'s, or a message's)."""
    if type(fields) is not dict or set(fields) != set(_FIELDS):
        raise PlanDataError("the plan's fields are not those of a DayAheadPlan")
    return DayAheadPlan(**{name: _node(fields[name], arrays, name) for name in _FIELDS})


def snapshot(plan: Any) -> DayAheadPlan:
    """A fresh copy of `plan` made of plain data, its arrays copied and write-protected (plans made in the DSO's own
    process); raises `PlanDataError` naming the field that is not plain data, or saying what an array-like of the
    controller's raised when it was read."""
    try:
        fields, arrays = _to_plain(plan)
    except PlanDataError:
        raise
    except (SystemExit, Exception) as exc:  # noqa: BLE001 - user code (an array-like) ran while the plan was read
        raise PlanDataError(f"the plan could not be read ({type(exc).__name__}: {exc})") from None
    return _from_plain(fields, [_read_only(a) for a in arrays])


# ---- bytes ----------------------------------------------------------------------------------------------------------
def _message(header: dict[str, Any], arrays: list[np.ndarray] = ()) -> bytes:
    header = {**header, "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays]}
    text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode("ascii")
    return b"".join([_MAGIC, len(text).to_bytes(_HEADER, "big"), text, *(a.tobytes() for a in arrays)])


def encode_plan(plan: Any) -> bytes:
    """The message for `plan` (in the worker); raises `PlanDataError` naming the field that is not plain data."""
    fields, arrays = _to_plain(plan)
    return _message({"kind": "plan", "fields": fields}, arrays)


def encode_error(reason: str, traceback: str | None = None, where: str | None = None) -> bytes:
    """The message for a controller that failed: a reason, its traceback and its user frame, plain strings."""
    return _message({"kind": "error", "reason": str(reason), "traceback": None if traceback is None else str(traceback),
                     "where": None if where is None else str(where)})


def _refuse_constant(name: str) -> float:
    raise PlanDataError(f"the message holds {name}, which the plan format writes otherwise")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise PlanDataError("the message holds an integer beyond 2**63")
    return int(text)


def decode(data: bytes) -> DayAheadPlan | WorkerError:
    """A fresh plan, or the worker's error, from a message of `encode_plan` or `encode_error`; raises `PlanDataError`
    for anything else. Builds plain values only: nothing in `data` is run."""
    try:
        return _decode(memoryview(data))
    except PlanDataError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError, UnicodeDecodeError) as exc:
        raise PlanDataError(f"the worker's message is not a plan ({type(exc).__name__})") from None


def _decode(data: memoryview) -> DayAheadPlan | WorkerError:
    if bytes(data[:len(_MAGIC)]) != _MAGIC or len(data) < len(_MAGIC) + _HEADER:
        raise PlanDataError("the worker's message is not in the plan format")
    start = len(_MAGIC) + _HEADER
    end = start + int.from_bytes(data[len(_MAGIC):start], "big")
    if end > len(data):
        raise PlanDataError("the worker's message is shorter than its header says")
    header = json.loads(bytes(data[start:end]).decode("ascii"), parse_constant=_refuse_constant, parse_int=_parse_int)
    if type(header) is not dict or type(header.get("arrays")) is not list:
        raise PlanDataError("the worker's message has no header")
    arrays = _arrays(header["arrays"], data[end:])
    if header.get("kind") == "error":
        reason, trace, where = header.get("reason"), header.get("traceback"), header.get("where")
        if type(reason) is not str or not all(v is None or type(v) is str for v in (trace, where)) or arrays:
            raise PlanDataError("the worker's error message is not plain text")
        return WorkerError(reason, trace, where)
    if header.get("kind") != "plan":
        raise PlanDataError("the worker's message is neither a plan nor an error")
    return _from_plain(header.get("fields"), arrays)


def _arrays(specs: list[Any], body: memoryview) -> list[np.ndarray]:
    """The arrays `specs` describes, read from `body` (which they must fill exactly), copied and write-protected."""
    arrays, offset = [], 0
    for spec in specs:
        if type(spec) is not dict or spec.get("dtype") not in _DTYPES or type(spec.get("shape")) is not list:
            raise PlanDataError("an array of the worker's message has no dtype or shape of the plan format")
        dtype, shape = _DTYPES[spec["dtype"]], spec["shape"]
        if len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
            raise PlanDataError("an array of the worker's message has a shape that is not a list of sizes")
        count = math.prod(shape)
        size = count * dtype.itemsize
        if offset + size > len(body):
            raise PlanDataError("the worker's message is shorter than its arrays")
        arr = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
        if dtype.kind == "b" and bytes(body[offset:offset + size]).strip(b"\0\1"):
            raise PlanDataError("a bool array of the worker's message holds bytes other than 0 and 1")
        arrays.append(_read_only(arr))
        offset += size
    if offset != len(body):
        raise PlanDataError("the worker's message is longer than its arrays")
    return arrays
