"""The docs' generated blocks agree with the code (scripts/regenerate_docs.py --check, in CI).

The recomputation (`regen.expected_blocks`: every study of `STUDY_ARGS`, the full run's cells read from
docs/generated/full-run) takes about 50 s on two cores (47-49 s measured); its tests carry the `docs_recompute`
marker, so CI (`.ci/run`, the whole suite) runs them and a local run may skip them with `-m "not docs_recompute"`.
The other tests here check the comparison itself on hand-made blocks in seconds.
"""

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
_spec = importlib.util.spec_from_file_location("regenerate_docs", ROOT / "scripts" / "regenerate_docs.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)
from docs_compare import compare_block, mask  # noqa: E402 - beside regenerate_docs.py

NUMBER = re.compile(r"\d(?:[\d,]*\d)?(?:\.\d+)?")


# the recomputation (`expected`, a minute and a half on a loaded machine) once, on one pytest-xdist worker
pytestmark = pytest.mark.xdist_group("docs_recompute")  # loadfile keeps it on one worker (pyproject)


@pytest.fixture(scope="session")
def expected():
    """The generated blocks as the code makes them now: recomputed once per worker (session scope: under xdist a
    worker runs other modules' tests between this module's, which tore a module fixture down and recomputed it)."""
    return regen.expected_blocks()


@pytest.mark.docs_recompute
def test_docs_agree_with_the_code(expected):
    problems = regen.compare(expected)
    assert problems == [], "docs and code disagree; rerun scripts/regenerate_docs.py:\n" + "\n".join(problems)


def _copies(tmp_path: Path) -> dict[Path, Path]:
    """Each docs file of `BLOCKS` copied into tmp_path: original path -> copy."""
    out = {}
    for i, path in enumerate(regen.BLOCKS):
        out[path] = tmp_path / f"{i}_{path.name}"
        shutil.copyfile(path, out[path])
    return out


def _edit_everywhere(copies: dict[Path, Path], old: str, new: str) -> int:
    """Replace `old` by `new` in every generated block of every copy (the same edit in every file); how many."""
    n = 0
    for path, copy in copies.items():
        text = copy.read_text()
        for name in regen.BLOCKS[path]:
            body = regen.read_block(text, name)
            n += body.count(old)
            text = regen.replace_block(text, name, body.replace(old, new))
        copy.write_text(text)
    return n


def _read(copies: dict[Path, Path]) -> dict[Path, str]:
    return {path: copy.read_text() for path, copy in copies.items()}


@pytest.mark.docs_recompute
@pytest.mark.parametrize("block, row, column", [
    ("seed000-table2", "S4-C3", "OF3 kWh (paper)"),  # S4-C3's OF3, an EO cell, in Table 2 and the README
    ("seed002-paper-vs-ours", "table4: total benefit $", "ours"),  # seed 002's Table 4 total
    ("seed003-paper-vs-ours", "profit saturates at (stations, case 1)", "ours"),  # seed 003's stage 1
])
def test_an_edited_cell_fails_the_check_even_when_edited_in_every_file(expected, tmp_path, block, row, column):
    copies = _copies(tmp_path)
    path = next(p for p, names in regen.BLOCKS.items() if block in names)
    table = regen.parse_table(regen.read_block(path.read_text(), block))
    shown = NUMBER.search(table.set_index(table.columns[0]).loc[row, column]).group(0)
    assert _edit_everywhere(copies, shown, "699.0") >= 1
    problems = regen.compare(expected, _read(copies))
    assert problems and any("699.0" in p for p in problems), problems


@pytest.mark.docs_recompute
def test_an_edited_status_sentence_fails_the_check(expected, tmp_path):
    copies = _copies(tmp_path)
    status = regen.read_block(regen.VALIDATION.read_text(), "papers-status")
    s3 = next(line for line in status.splitlines() if "| S3 losses |" in line)
    assert _edit_everywhere(copies, s3, s3.replace("no plan below", "the paper's figure is within reach of")) == 1
    problems = regen.compare(expected, _read(copies))
    assert any("papers-status" in p and "within reach" in p for p in problems), problems


@pytest.mark.docs_recompute
def test_editing_any_recomputed_number_fails_the_check(expected):
    """Every number of every generated block (timings, commits and dates aside), changed in its last digit
    everywhere it appears in any generated block of any file (the same edit made consistently), is caught."""
    texts = {path: path.read_text() for path in regen.BLOCKS}
    tokens = sorted({m.group(0) for path, names in regen.BLOCKS.items() for name in names
                     for m in NUMBER.finditer(mask(regen.read_block(texts[path], name)))})
    assert len(tokens) > 200
    for token in tokens:
        edited = token[:-1] + str((int(token[-1]) + 1) % 10)
        pattern = re.compile(rf"(?<![\d.,]){re.escape(token)}(?![\d])")
        new = {}
        for path, text in texts.items():
            for name in regen.BLOCKS[path]:
                text = regen.replace_block(text, name, pattern.sub(edited, regen.read_block(text, name)))
            new[path] = text
        assert regen.compare(expected, new), f"{token} -> {edited} everywhere passed the check"


def test_timings_commits_and_dates_are_masked_and_nothing_else():
    def block(command: str, commit: str, day: str, wall: int, timing: str, value: str) -> str:
        return (f"_Generated by `scripts/regenerate_docs.py` from `{command}` at commit `{commit}` "
                f"({day}; run time {wall} s, a timing). Do not edit by hand: rerun the script._\n\n"
                f"| state | value | time s (timing) |\n|---|---|---|\n| S1 | {value} | {timing} |\n\n"
                f"The value is {value}.\n")

    docs = block("cosim study x", "abc123", "2026-01-01", 200, "60.1", "1,167.7")
    assert compare_block("b", docs, block("cosim study x", "def456 + uncommitted changes in 3 files",
                                          "2026-12-05", 31, "12.0", "1,167.7")) == []
    problems = compare_block("b", docs, block("cosim study x", "abc123", "2026-01-01", 200, "60.1", "1,167.8"))
    assert problems == ["b, row 'S1', column 'value': docs '1,167.7', code '1,167.8'",
                        "b, line 7, sentence 1: docs 'The value is 1,167.7.', code 'The value is 1,167.8.'"]
    assert compare_block("b", docs, block("cosim study y", "abc123", "2026-01-01", 200, "60.1", "1,167.7"))
    assert any("missing timing" in p for p in compare_block(
        "b", block("cosim study x", "a", "2026-01-01", 1, "", "1"), block("cosim study x", "a", "2026-01-01", 1,
                                                                           "2.0", "1")))
    assert any("no provenance line" in p for p in compare_block("b", "| a |\n|---|\n| 1 |\n", "| a |\n|---|\n| 1 |\n"))


def test_blocks_are_replaced_between_their_markers_only():
    text = "intro\n<!-- BEGIN generated:a -->\nold\n<!-- END generated:a -->\nmiddle\n" \
           "<!-- BEGIN generated:b -->\nkeep\n<!-- END generated:b -->\n"
    new = regen.replace_block(text, "a", "| x |\n|---|\n| 1 |")
    assert regen.read_block(new, "a") == "| x |\n|---|\n| 1 |\n" and regen.read_block(new, "b") == "keep\n"
    assert new.startswith("intro\n") and "middle\n" in new and regen.block_names(new) == ["a", "b"]
    with pytest.raises(regen.DocsError, match="'c' is missing"):
        regen.replace_block(text, "c", "x")


def test_every_generated_block_names_its_command_and_commit_and_the_full_run_is_recorded():
    for path, names in regen.BLOCKS.items():
        for name in names:
            first = regen.read_block(path.read_text(), name).splitlines()[0]
            assert first.startswith("_Generated by `scripts/regenerate_docs.py` from ") and "at commit `" in first
    full = regen.load_full()
    assert set(full) == set(regen.FULL_ARGS)
    for name, study in (("seed000-exact", "joape2024"), ("seed003-paper-vs-ours", "neyestani2015")):
        path = next(p for p, names in regen.BLOCKS.items() if name in names)
        body = regen.read_block(path.read_text(), name)
        assert f"(`{full[study]['command']}`), last full run at commit `{full[study]['commit']}`" in body


def test_every_reliability_row_is_a_test():
    """docs/RELIABILITY.md names real tests: every `path::name` in it is a test function in that file."""
    text = (ROOT / "docs" / "RELIABILITY.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "::" in line]
    assert len(rows) >= 30
    for row in rows:
        current = None
        for path, name in re.findall(r"`(?:(tests/[\w/]+\.py))?::(\w+)`", row):
            current = path or current
            assert current and f"def {name}(" in (ROOT / current).read_text(), f"{current}::{name}"
