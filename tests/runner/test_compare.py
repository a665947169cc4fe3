"""`cosim compare` shows itself: the full table (every row and column), its folder, the variants side by side;
with --replications, each variant over several scenario seeds with its mean and 95 % interval per KPI."""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from cosim.cli import main
from cosim.config import parse_scenario
from cosim.runner.compare import COLUMNS, DIAGNOSTIC_COLUMNS, compare_exchange_modes, replication
from cosim.runner.compare_figures import bar_panels, hourly_panels
from cosim.runner.figure_style import Writer
from cosim.runner.uncertainty import t_interval

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
[output]
dpi = 60
"""

STOCHASTIC = """
name = "drawn"
[network]
name = "ieee33"
reconfigure = false
[controller]
name = "rule"
[[lots]]
id = "PL1"
bus = 18
fleet = "stochastic"
fleet_options = { n_per_day = 20 }
[output]
dpi = 60
"""


@pytest.mark.slow
def test_comparison_prints_everything_and_draws_the_variants(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SCENARIO)
    result = compare_exchange_modes(path, tmp_path / "out", modes=("centralised", "signals", "none"))
    text = str(result)
    assert text.startswith(f"results: {result.folder}") and "..." not in text
    header = text.splitlines()[2]
    assert all(c in header for c in ("exchange", "seeds", *COLUMNS, *DIAGNOSTIC_COLUMNS))
    assert header.index("rejected_or_clipped") < header.index("message_bytes")  # KPIs first, then diagnostics
    assert all(m in text for m in ("centralised", "signals", "none"))
    assert {Path(p).name for p in result.figures} == {"exchange_modes_kpis.png", "exchange_modes_diagnostics.png",
                                                      "exchange_modes_hourly.png"}
    assert all(p.is_file() and p.parent == result.folder for p in result.figures)
    table = pd.read_csv(result.folder / "exchange_modes.csv")
    assert table["exchange"].tolist() == ["centralised", "signals", "none"] and (table["seeds"] == 1).all()
    assert table["energy_losses_kwh_ci95_low"].isna().all()  # one seed: no interval
    runs = pd.read_csv(result.folder / "exchange_modes_runs.csv")
    assert all((result.folder / d / "report.html").is_file() for d in runs["run_dir"])


def _replicated(tmp_path, text):
    """Three seeds in one mode; the runs' own figures left out (`[output] plots = false`: about 1.3 s of CPU a run),
    the comparison's figures still drawn."""
    path = tmp_path / "s.toml"
    path.write_text(text + "plots = false\n")  # in [output], the last table of STOCHASTIC
    return compare_exchange_modes(path, tmp_path / "out", modes=("centralised",), replications=3)


@pytest.mark.slow
def test_a_scenario_that_draws_shows_its_spread(tmp_path):
    result = _replicated(tmp_path, STOCHASTIC)
    runs = pd.read_csv(result.folder / "exchange_modes_runs.csv")
    assert runs["seed"].tolist() == [0, 1, 2] and runs["run_dir"].nunique() == 3
    row = result.table.iloc[0]
    assert row["seeds"] == 3
    kpi = "energy_losses_kwh"
    assert row[f"{kpi}_ci95_low"] < row[kpi] < row[f"{kpi}_ci95_high"]
    expected = t_interval(runs[kpi])
    assert row[f"{kpi}_ci95_high"] == pytest.approx(expected.high) and expected.high - expected.low > 0
    assert "±" in str(result)


@pytest.mark.slow
def test_a_scenario_that_draws_nothing_shows_none(tmp_path):
    result = _replicated(tmp_path, STOCHASTIC.replace('"stochastic"', '"seed000"').replace(
        "fleet_options = { n_per_day = 20 }", ""))
    row = result.table.iloc[0]
    for kpi in ("energy_losses_kwh", "plo_profit_usd", "v_min_pu"):
        assert row[f"{kpi}_ci95_low"] == row[kpi] == row[f"{kpi}_ci95_high"]  # width 0


def test_replications_vary_the_scenario_seed_not_the_optimiser_seed(tmp_path):
    base = parse_scenario({"name": "r", "seed": 7, "controller": {"name": "eo"}})
    third = replication(base, 2)
    assert third.seed == 9 and third.controller_options["seed"] == 7
    own = dataclasses.replace(base, controller_options={"seed": 3})
    assert replication(own, 1).controller_options["seed"] == 3
    rule = dataclasses.replace(base, controller="rule", controller_options={})
    assert "seed" not in replication(rule, 1).controller_options


def test_bars_start_at_zero_with_error_bars(tmp_path):
    table = pd.DataFrame({"mode": ["a", "b"], "seeds": [3, 3], "v_min_pu": [0.93, 0.95],
                          "v_min_pu_ci95_low": [0.92, 0.949], "v_min_pu_ci95_high": [0.94, 0.951],
                          "load_curve_deviation_kw": [1000.0, 1000.0001]})
    w = Writer(tmp_path, keep=True)
    with w.style():
        fig = bar_panels(w, table, "mode", ("v_min_pu", "load_curve_deviation_kw"), "KPIs")
        w.save(fig, "kpis", "")
    (ax,) = [a for a in w.kept["kpis"].axes if a.get_title()]  # rounding noise (1e-4 kW) gets no panel
    assert ax.get_ylim()[0] == 0.0 and "lowest voltage" in ax.get_title()
    assert len(ax.containers) == 2  # the bars and their error bars


@pytest.mark.parametrize("value", ["0", "many", "-3"])
def test_bad_replications_is_one_line(tmp_path, capsys, value):
    assert main(["compare", "--replications", value, "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--replications" in err and "1 to 1000" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_hourly_curves_on_top_of_each_other_stay_apart(tmp_path):
    grid = pd.DataFrame({"hour": range(24), "losses_kw": 50.0, "v_min_pu": 0.95})
    lots = pd.DataFrame({"hour": range(24), "id": "PL1", "p_kw": 10.0})
    frames = {m: ([grid], [lots]) for m in ("centralised", "signals", "iterative", "none")}
    w = Writer(tmp_path, keep=True)
    with w.style():
        w.save(hourly_panels(w, frames), "hourly", "")
    ax = w.kept["hourly"].axes[0]
    curves = [ln for ln in ax.get_lines() if ln.get_linestyle() != "None"]
    marks = [ln for ln in ax.get_lines() if ln.get_linestyle() == "None"]
    assert len(curves) == len(marks) == 4  # identical values: each still drawn, with its own style and marker
    assert len({ln.get_linestyle() for ln in curves}) == 4 and len({ln.get_marker() for ln in marks}) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(frames)
