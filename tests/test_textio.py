"""cosim.textio: one Markdown table and atomic writes that never leave a temp or a partial file."""

import math
import os

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
