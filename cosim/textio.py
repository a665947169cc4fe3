"""Text output shared by runs, sweeps and studies: Markdown tables and atomic file writes.

`markdown_table` is hand-written because pandas' `to_markdown` needs the optional `tabulate` package.
The atomic writes put the data in a temporary file of the same folder, fsync it and `os.replace` it onto
the target, so a reader (or a resumed sweep) sees the old file or the whole new one, never a partial one.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["atomic_write_bytes", "atomic_write_text", "format_cell", "markdown_table", "to_jsonable"]

MISSING = "-"
"""How a missing value (None, NaN, pd.NA) shows in a table."""


def format_cell(value: Any, float_format: str = ".4g") -> str:
    """One table cell: floats with `float_format`, missing values (None, NaN, pd.NA) as "-", anything else as `str`."""
    if value is None or value is pd.NA:
        return MISSING
    if isinstance(value, (float, np.floating)):
        return MISSING if math.isnan(value) else format(float(value), float_format)
    return str(value)


def markdown_table(table: pd.DataFrame | Iterable[Mapping[str, Any]], float_format: str = ".4g",
                   cell: Callable[[Any], str] | None = None) -> str:
    """A GitHub-Markdown pipe table of a DataFrame or of rows (dicts; columns in first-seen order), no trailing
    newline. Cells go through `cell` when given, else `format_cell(value, float_format)`."""
    df = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    fmt = cell or (lambda v: format_cell(v, float_format))
    lines = ["| " + " | ".join(str(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False, name=None)]
    return "\n".join(lines)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (temp file in the same folder, fsync, `os.replace`); makes the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # unique: concurrent writers never share it
    try:
        with open(tmp, "xb") as fh:  # plain open, so the file gets the usual permissions (mkstemp's are 0600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


_PLAIN = frozenset({str, int, bool, type(None)})
"""Exact types `to_jsonable` returns as they are (a float is checked for inf and NaN first)."""
_isfinite = math.isfinite


def to_jsonable(value: Any) -> Any:
    """numpy arrays/scalars -> lists/floats, recursively (mosaik needs plain JSON types); inf becomes +-1e300, NaN
    None (numpy scalars pass as their `item()`).

    Fast paths, each giving what the element-by-element walk gives: an array of numbers is one `tolist()`
    (checked for inf/NaN at once), and plain scalars in a list or dict are kept without a call each. Messages
    are encoded at every hand-off, so this runs on every payload of every step."""
    kind = type(value)
    if kind is dict:
        return {k if type(k) is str else str(k): v if type(v) in _PLAIN or type(v) is float and _isfinite(v)
                else to_jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN or type(v) is float and _isfinite(v) else to_jsonable(v) for v in value]
    if kind is float:
        return value if _isfinite(value) else _non_finite(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, np.ndarray):
        return _array(value)
    return _other(value)


def _array(arr: np.ndarray) -> Any:
    """An array as nested lists: integers and booleans as they are, floats at once when all are finite."""
    kind = arr.dtype.kind
    if kind in "biu" or kind == "f" and arr.dtype.itemsize <= 8 and bool(np.isfinite(arr).all()):
        return arr.tolist()
    return to_jsonable(arr.tolist())


def _non_finite(value: float) -> float | None:
    return None if math.isnan(value) else (1e300 if value > 0 else -1e300)


def _other(value: Any) -> Any:
    """Subclasses of the plain containers and numbers, numpy scalars and anything else (kept as it is)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return _non_finite(value)
    return value
