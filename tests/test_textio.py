"""cosim.textio: one Markdown table and atomic writes that never leave a temp or a partial file."""

import collections
import math
import os

import numpy as np
import pandas as pd
import pytest

from cosim import textio
from cosim.textio import atomic_write_bytes, atomic_write_text, markdown_table


def test_markdown_table_of_frame_and_rows():
    df = pd.DataFrame({"mode": ["none", "iterative"], "loss_kwh": [1783.7123, float("nan")], "n": [3, 4]})
    assert markdown_table(df) == ("| mode | loss_kwh | n |\n|---|---|---|\n"
                                  "| none | 1784 | 3 |\n| iterative | - | 4 |")
    rows = [{"a": 0.5, "b": None}, {"a": 2.25, "b": "x"}]
    assert markdown_table(rows, ".1f") == "| a | b |\n|---|---|\n| 0.5 | - |\n| 2.2 | x |"
    assert markdown_table(df[["n"]], cell=lambda v: f"<{v}>").endswith("| <3> |\n| <4> |")


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "table.csv"
    atomic_write_text(path, "a,b\n1,2\n")
    atomic_write_bytes(path, b"a,b\n3,4\n")
    assert path.read_text() == "a,b\n3,4\n"
    assert os.listdir(path.parent) == ["table.csv"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    atomic_write_text(path, '{"status": "completed"}')

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(textio.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, '{"status": "fail')
    assert path.read_text() == '{"status": "completed"}'  # never a partial file
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_format_cell():
    assert textio.format_cell(math.inf) == "inf"
    assert textio.format_cell(pd.NA) == "-"
    assert textio.format_cell(12345.678, ",.1f") == "12,345.7"


def _jsonable_reference(value):
    """`to_jsonable` as it was written first, element by element: the fast paths must give exactly this."""
    if isinstance(value, dict):
        return {str(k): _jsonable_reference(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable_reference(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable_reference(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else (1e300 if value > 0 else -1e300)
    return value


def _same(a, b) -> bool:
    """Equal values of the same types all the way down, floats bit for bit (so -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and (a == b or a != a and b != b)
    return a == b


def test_to_jsonable_fast_paths_give_what_the_element_by_element_walk_gives():
    rng = np.random.default_rng(3)
    floats = rng.normal(size=(4, 5))
    odd = np.array([1.0, np.inf, -np.inf, np.nan, -0.0, 0.0])
    cases = [
        floats, floats[:, 1], floats.T, floats.astype(np.float32), floats.astype(np.float16), odd, odd.reshape(2, 3),
        np.arange(6, dtype=np.int32).reshape(2, 3), np.array([True, False]), np.array([], float), np.array(2.5),
        np.array(np.inf), np.array([1 + 2j]), np.array(["a", "b"]), np.array([{"x": np.inf}, None], dtype=object),
        np.longdouble(1.5), np.array([1.5], dtype=np.longdouble), np.float64(np.inf), np.int64(3), np.bool_(True),
        [1.0, math.inf, -math.inf, math.nan, -0.0, 2, True, None, "s", np.float64(1.25), np.int8(2), (1, 2.0)],
        (np.nan, [np.array([1.0, np.nan])]), {1: np.inf, "a": {"b": [np.array([0.5]), np.float32(0.1)]}},
        collections.OrderedDict(z=1.0, a=np.array([2.0])), {"k": collections.OrderedDict(x=[np.inf])},
        {"kw": rng.normal(size=24).tolist(), "mode": rng.integers(-1, 2, 24), "name": "PL1", "n": 3},
        3.5, math.inf, -math.inf, math.nan, 7, "text", None, False,
    ]
    for case in cases:
        assert _same(textio.to_jsonable(case), _jsonable_reference(case)), case
