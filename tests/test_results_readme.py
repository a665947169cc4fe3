"""results/README.md documents every column of every table a run writes, each with its unit: a real run's tables
(and the predictions of its plans) are read back and each column looked up in its table's section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cosim.config import parse_scenario
from cosim.results import TABLES, RunFolder, load_run
from cosim.runner.run import run_scenario

README = Path(__file__).resolve().parents[1] / "results" / "README.md"


def documented(section: str) -> dict[str, str]:
    """{column: unit} from the markdown tables of the README section headed `### <section>`."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^### {re.escape(section)}\b.*?$(.*?)(?=^##)", text, flags=re.M | re.S)
    assert match, f"results/README.md has no section '### {section}'"
    columns = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or cells[0] in ("column", "") or set(cells[0]) <= set("-"):
            continue
        for name in re.findall(r"`([^`]+)`", cells[0]):
            columns[name] = cells[1]
    return columns


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    scenario = parse_scenario({
        "name": "columns", "output_dir": str(tmp_path_factory.mktemp("runs")), "network": {"name": "ieee33"},
        "controller": {"name": "rule"}, "exchange": {"mode": "signals"},
        "lots": [{"id": "PL1", "bus": 18, "fleet": "stochastic", "fleet_options": {"n_per_day": 20}}]})
    return run_scenario(scenario, progress=False, plots=False).run_dir


@pytest.mark.slow
def test_every_column_of_every_table_is_documented_with_its_unit(run):
    folder = RunFolder(run)
    written = [t for t in TABLES if folder.has(t)]
    assert {"grid", "bus_voltages", "lines", "lots", "evs", "plo", "prices", "messages", "events", "plo_ledger",
            "plan_vs_reality"} <= set(written)
    missing = []
    for table in written:
        docs = documented(f"{table}.csv")
        for column in folder.table(table).columns:
            if not docs.get(column):
                missing.append(f"{table}.csv: {column}")
    assert not missing, f"columns without a documented unit in results/README.md: {missing}"


@pytest.mark.slow
def test_the_plans_predictions_have_units(run):
    docs = documented("plans.jsonl")
    predicted = [c for c in load_run(run).plans.columns if c.startswith("predicted_")]
    assert "predicted_vpd" in predicted and "predicted_cv" in predicted and "predicted_objective" in predicted
    assert all(docs.get(c) for c in predicted), [c for c in predicted if not docs.get(c)]
    assert docs["predicted_vpd"] == "p.u."


def test_the_parser_sees_a_missing_column():
    assert "energy_delivered_grid_kwh" in documented("evs.csv")
    assert "energy_delivered_kwh" not in documented("evs.csv")  # the old name is not a column any more


@pytest.mark.slow
def test_lists_and_booleans_keep_their_types_in_csv_and_parquet(run, tmp_path):
    import shutil  # noqa: PLC0415

    import pyarrow.parquet as pq  # noqa: PLC0415

    copy = Path(shutil.copytree(run, tmp_path / "copy"))
    for folder in (RunFolder(run), RunFolder(copy)):
        if folder.path == copy:
            folder.convert_tables("parquet")
            schema = pq.read_schema(copy / "grid.parquet")
            assert str(schema.field("open_branches").type).startswith("list<")  # a list, not JSON text
            assert str(pq.read_schema(copy / "evs.parquet").field("contract_met").type) == "bool"
        grid, evs = folder.table("grid"), folder.table("evs")
        assert all(isinstance(v, list) and all(isinstance(b, int) for b in v) for v in grid["open_branches"])
        assert str(evs["contract_met"].dtype) == "boolean" and str(grid["converged"].dtype) == "boolean"
        assert evs["contract_met"].notna().any()
