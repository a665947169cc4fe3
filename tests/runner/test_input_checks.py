"""Input gaps of issue 12 (item 6): each is refused before any output with one line naming the file and the
field or column (CLI exit 2), instead of a run that crashes late, gives NaN KPIs or drops data silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cosim.cli import main
from cosim.config import MAX_LOAD_SCALING, MAX_NAME_BYTES, MAX_PRICE_USD_PER_KWH, ScenarioFileError, parse_scenario
from cosim.sweep.runner import main as sweep_main
from cosim.sweep.spec import SweepError, load_sweep
from simulators.market.profiles import ProfileError, load_market
from simulators.parking.fleet import FleetFileError, load_fleet_csv

EV_HEADER = "id,arrival_h,departure_h,capacity_kwh,charger_kw,soc_arrival"


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("cosim run: error: "), err
    return lines[0]


def _run_fails(tmp_path: Path, scenario: str, capsys) -> str:
    path = tmp_path / "s.toml"
    path.write_text(scenario)
    assert main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not (tmp_path / "out").exists()  # nothing written
    line = _one_error_line(captured.err)
    assert str(path) in line
    return line


def _prices(tmp_path: Path, cell: str, column: str = "energy_price_usd_per_kwh", name: str = "p.csv") -> Path:
    rows = "".join(f"{h},{cell if h == 5 else '0.1'}\n" for h in range(1, 25))
    (tmp_path / name).write_text(f"hour,{column}\n{rows}" if column == "energy_price_usd_per_kwh" else
                                 f"hour,energy_price_usd_per_kwh,{column}\n"
                                 + "".join(f"{h},0.1,{cell if h == 5 else '1.0'}\n" for h in range(1, 25)))
    return tmp_path / name


def test_stochastic_fleet_without_its_options_is_exit_2_before_any_output(tmp_path, capsys):
    line = _run_fails(tmp_path, '[[lots]]\nbus = 5\nfleet = "stochastic"\n', capsys)
    assert "lots[0].fleet_options" in line and "n_per_day" in line


@pytest.mark.parametrize("column, cell, words", [
    ("energy_price_usd_per_kwh", "1e308", "energy_price_usd_per_kwh: 1e+308 is outside the plausible range"),
    ("energy_price_usd_per_kwh", "-2e4", "energy_price_usd_per_kwh: -20000 is outside the plausible range"),
    ("load_scaling", "1e6", "load_scaling / load_kw: 1e+06 is outside the plausible range |x| <= 100 p.u."),
    ("load_kw", "1e9", "load_scaling / load_kw"),
    ("reserve_call_price_usd_per_kwh", "1e300", "reserve_call_price_usd_per_kwh"),
])
def test_huge_finite_numbers_in_a_profile_are_refused_with_one_line(tmp_path, capsys, column, cell, words):
    """Before: a price of 1e308 or a load scaling of 1e6 ran to the end and gave NaN KPIs with exit 0."""
    csv = _prices(tmp_path, cell, column)
    line = _run_fails(tmp_path, f'[market]\nprofile = "{csv.name}"\n', capsys)
    assert "market.profile" in line and str(csv) in line and "hour 5" in line and words in line, line


def test_numbers_at_the_documented_bounds_are_accepted(tmp_path):
    price = _prices(tmp_path, str(MAX_PRICE_USD_PER_KWH), name="price.csv")
    scaling = _prices(tmp_path, str(MAX_LOAD_SCALING), "load_scaling", name="scaling.csv")
    for csv in (price, scaling):
        parse_scenario({"market": {"profile": str(csv)}, "lots": []}, where="s.toml")


@pytest.mark.parametrize("text, words", [
    ("hour,energy_price_usd_per_kwh,colour\n1,0.1,red\n", "unknown column(s) ['colour']"),
    ("hour,energy_price_usd_per_kwh,load_scalling\n1,0.1,1.0\n", "unknown column(s) ['load_scalling']"),
    ("hour,energy_price_usd_per_kwh\n1,0.1\n2,0.2,9\n", "line 3: 1 field(s) more than the header's 2 column(s)"),
    ("hour,energy_price_usd_per_kwh,energy_price_usd_per_kwh\n1,0.1,0.2\n", "appear more than once"),
])
def test_extra_columns_and_fields_in_a_profile_are_refused_not_dropped(tmp_path, capsys, text, words):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(ProfileError) as info:
        load_market(tmp_path / "p.csv")
    assert words in str(info.value) and str(tmp_path / "p.csv") in str(info.value)
    line = _run_fails(tmp_path, '[market]\nprofile = "p.csv"\n', capsys)
    assert "market.profile" in line and words in line


@pytest.mark.parametrize("text, words", [
    (f"{EV_HEADER},colour\na,8,17,40,11,0.3,red\n", "unknown columns ['colour']"),
    (f"{EV_HEADER}\na,8,17,40,11,0.3,0.9\n", "row 2: 1 field(s) more than the header's 6 column(s)"),
    (f"{EV_HEADER},id\na,8,17,40,11,0.3,b\n", "column(s) ['id'] appear more than once"),
])
def test_extra_columns_and_fields_in_a_fleet_are_refused_not_dropped(tmp_path, capsys, text, words):
    (tmp_path / "f.csv").write_text(text)
    with pytest.raises(FleetFileError) as info:
        load_fleet_csv(tmp_path / "f.csv")
    assert words in str(info.value) and str(tmp_path / "f.csv") in str(info.value)
    line = _run_fails(tmp_path, '[[lots]]\nbus = 5\nfleet = "f.csv"\n', capsys)
    assert "lots[0].fleet" in line and words in line


@pytest.fixture
def odd_paths(tmp_path):
    """A directory named like a CSV, and a symbolic link loop."""
    (tmp_path / "dir.csv").mkdir()
    os.symlink(tmp_path / "loop-b", tmp_path / "loop-a")
    os.symlink(tmp_path / "loop-a", tmp_path / "loop-b")
    return {"dir.csv": "is a directory, not a file", "loop-a": "is a symbolic link loop"}


def test_a_directory_or_a_symlink_loop_is_reported_as_what_it_is(tmp_path, capsys, odd_paths):
    for name, words in odd_paths.items():
        for scenario, field in ((f'[market]\nprofile = "{name}"\n', "market.profile"),
                                (f'[[lots]]\nbus = 5\nfleet = "{name}"\n', "lots[0].fleet")):
            line = _run_fails(tmp_path, scenario, capsys)
            assert field in line and words in line and "does not exist" not in line, line
        assert main(["run", str(tmp_path / name), "--quiet"]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"scenario file {tmp_path / name} {words}" in line
        with pytest.raises(SweepError, match=words):
            load_sweep(tmp_path / name)
        assert sweep_main([str(tmp_path / name), "--quiet"]) == 2
        assert words in capsys.readouterr().err
        (tmp_path / "sweep.toml").write_text(f'base = "{name}"\n')
        with pytest.raises(SweepError, match=f"base: .*{words}"):
            load_sweep(tmp_path / "sweep.toml")


def test_a_missing_file_still_says_it_does_not_exist(tmp_path, capsys):
    line = _run_fails(tmp_path, '[market]\nprofile = "nope.csv"\n', capsys)
    assert "neither" in line and "nope.csv" in line
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)


def test_a_scenario_name_too_long_for_a_folder_is_refused_at_input():
    with pytest.raises(ScenarioFileError, match=f"name: is used as a folder name and may have at most "
                                                f"{MAX_NAME_BYTES} bytes, got 300"):
        parse_scenario({"name": "n" * 300, "lots": []}, where="s.toml")
    parse_scenario({"name": "n" * MAX_NAME_BYTES, "lots": []}, where="s.toml")


@pytest.mark.parametrize("row, words", [
    ("a,17,8,40,11,0.3", "row 2: EV 'a': departure_h=8.0 is invalid; allowed: at least one minute after"),
    ("a,8,17,-40,11,0.3", "row 2: EV 'a': capacity_kwh=-40.0 is invalid; allowed: > 0 kWh"),
    ("a,8,17,40,-11,0.3", "row 2: EV 'a': charger_kw=-11.0 is invalid; allowed: > 0 kW"),
    ("a,8,17,40,11,1.4", "row 2: EV 'a': soc_arrival=1.4 is invalid; allowed: a SOC between 0 and 1"),
])
def test_envelope_inputs_that_cannot_hold_are_refused_when_the_fleet_is_read(tmp_path, capsys, row, words):
    """A departure before its arrival, negative bounds, or energy beyond the battery cannot make an envelope: the
    run is refused with one line naming the file, the row and the field, exit 2, before any output."""
    (tmp_path / "f.csv").write_text(f"{EV_HEADER}\n{row}\n")
    line = _run_fails(tmp_path, '[[lots]]\nbus = 5\nfleet = "f.csv"\n', capsys)
    assert "lots[0].fleet" in line and str(tmp_path / "f.csv") in line and words in line  # nothing written


def test_a_deeply_nested_scenario_is_one_line_not_a_recursion_error(tmp_path, capsys):
    """A 3,000-level nested TOML array gave a RecursionError traceback and exit 1."""
    line = _run_fails(tmp_path, "x = " + "[" * 3000 + "]" * 3000 + "\n", capsys)
    assert "nests 3000 levels" in line and "at most 32" in line
