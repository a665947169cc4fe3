"""`cosim compare` shows itself: the full table (every row and column), its folder, the variants side by side."""

from pathlib import Path

import pandas as pd

from cosim.runner.compare import COLUMNS, compare_exchange_modes

SCENARIO = """
name = "small"
[network]
name = "ieee33"
[controller]
name = "eo"
options = { n_particles = 6, n_iter = 4 }
[[lots]]
id = "PL1"
candidate_buses = [6, 18]
fleet = "seed000"
"""


def test_comparison_prints_everything_and_draws_the_variants(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SCENARIO)
    result = compare_exchange_modes(path, tmp_path / "out", modes=("centralised", "signals", "none"))
    text = str(result)
    assert text.startswith(f"results: {result.folder}") and "..." not in text
    header = text.splitlines()[2]
    assert all(c in header for c in ("exchange", *COLUMNS, "run_dir"))
    assert all(m in text for m in ("centralised", "signals", "none"))
    assert {Path(p).name for p in result.figures} == {"exchange_modes_kpis.png", "exchange_modes_hourly.png"}
    assert all(p.is_file() and p.parent == result.folder for p in result.figures)
    table = pd.read_csv(result.folder / "exchange_modes.csv")
    assert table["exchange"].tolist() == ["centralised", "signals", "none"]
    assert all((result.folder / d / "report.html").is_file() for d in table["run_dir"])
