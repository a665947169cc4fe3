"""The docs' generated validation tables agree with the code (scripts/regenerate_docs.py --check, in CI).

A quick subset of the figures is recomputed (seed 000's base case and scenario-3 screen, seed 002's exhaustive
Table 3 optimum, seed 001's exhaustive scenario-1 optimum; ~20 s) and compared with the generated blocks of
docs/VALIDATION.md and the studies' READMEs within 0.1 % (or 0.051, a printed cell's rounding)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("regenerate_docs", ROOT / "scripts" / "regenerate_docs.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)


def test_docs_agree_with_the_code():
    problems = regen.check()
    assert problems == [], "docs and code disagree; rerun scripts/regenerate_docs.py:\n" + "\n".join(problems)


def test_the_check_catches_a_wrong_figure():
    doc, block, quantity = regen.README_000, "seed000-paper-vs-ours", "S1 OF3 losses (kWh)"
    table = regen.parse_table(regen.read_block(doc.read_text(), block)).set_index("quantity")
    shown = regen.parse_number(table.loc[quantity, "ours"])
    assert regen.check(lambda: [(doc, block, quantity, shown)]) == []
    problems = regen.check(lambda: [(doc, block, quantity, shown * 1.01)])
    assert len(problems) == 1 and quantity in problems[0]


def test_blocks_are_replaced_between_their_markers_only():
    text = "intro\n<!-- BEGIN generated:a -->\nold\n<!-- END generated:a -->\nmiddle\n" \
           "<!-- BEGIN generated:b -->\nkeep\n<!-- END generated:b -->\n"
    new = regen.replace_block(text, "a", "| x |\n|---|\n| 1 |")
    assert regen.read_block(new, "a") == "| x |\n|---|\n| 1 |\n" and regen.read_block(new, "b") == "keep\n"
    assert new.startswith("intro\n") and "middle\n" in new and regen.block_names(new) == ["a", "b"]
    with pytest.raises(regen.DocsError, match="'c' is missing"):
        regen.replace_block(text, "c", "x")
    assert regen.parse_number("16,067.0 (16,067.0)") == 16067.0 and regen.parse_number("-8.2 %") == -8.2
    assert regen.close(1207.4, 1207.3644) and not regen.close(1207.4, 1210.0)


def test_every_reliability_row_is_a_test():
    """docs/RELIABILITY.md names real tests: every `path::name` in it is a test function in that file."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "RELIABILITY.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "::" in line]
    assert len(rows) >= 30
    for row in rows:
        current = None
        for path, name in re.findall(r"`(?:(tests/[\w/]+\.py))?::(\w+)`", row):
            current = path or current
            assert current and f"def {name}(" in (root / current).read_text(), f"{current}::{name}"
