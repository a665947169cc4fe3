"""Every study prints its paper-vs-ours table and its folder in one style, and writes the table beside its files."""

import pandas as pd
import pytest

from cosim.runner.paper_table import cell, difference, paper_vs_ours
from cosim.studies import STUDIES


@pytest.mark.parametrize("name", ["arabi2025", "moradijoz2013", "neyestani2015"])
@pytest.mark.slow
def test_each_study_prints_in_the_same_style(name, tmp_path, capsys):
    out = tmp_path / name
    assert STUDIES.resolve(name)(["--quick", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Seed 00") and lines[0].endswith(": paper vs ours")
    assert lines[2] == "| quantity | paper | ours | difference | evidence |"
    assert lines[-1].startswith(f"results: {out} (") and "paper_vs_ours.md" in lines[-1]
    table = pd.read_csv(out / "paper_vs_ours.csv")
    assert list(table.columns) == ["quantity", "paper", "ours", "difference", "evidence"]
    assert len(table) == len(lines) - 6
    evidence = table["evidence"].astype(str)
    assert (evidence != "-").all(), "every row states its evidence"
    assert evidence.str.match(r"^(independent|fitted|calibrated|assumed|by construction|sum of)").all()


def test_cells_and_differences():
    assert difference(110.0, 100.0) == "+10.0 %" and difference(None, 3.0) == "-" and difference(1.0, 0.0) == "-"
    assert difference((7, 9), (7, 9)) == "same" and difference("no", "yes") == "differs"
    assert [cell(v) for v in (16067.0, 23.93, 0.9404, None, float("nan"), (7, 11), True, 1200)] == \
        ["16,067.0", "23.93", "0.9404", "-", "-", "7-11", "yes", "1,200"]
    table = paper_vs_ours([{"quantity": "rank", "paper": 1, "ours": 5, "difference": "+4 places"},
                           {"quantity": "x", "paper": 2.0, "ours": 1.0}])
    assert table["difference"].tolist() == ["+4 places", "-50.0 %"]
