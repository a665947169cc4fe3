"""Limits on inputs (docs/INPUT_LIMITS.md measures the memory each implies): fleet rows, number of lots, TOML size
and nesting. Beyond a limit: one line, exit 2, before the memory is used; within them: a city of 1,000 lots and
10,000 EVs a day for a year, and a year of 15-minute values."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cosim.config import MAX_LOTS, MAX_TOML_BYTES, MAX_TOML_DEPTH, ScenarioFileError, parse_scenario, read_toml
from simulators.parking.fleet import MAX_FLEET_ROWS, FleetFileError, count_fleet_rows, load_fleet_csv

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HEADER = "id,arrival_h,departure_h,capacity_kwh,charger_kw,soc_arrival\n"


def _cosim_run(path: Path) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", "run", str(path), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, env=ENV, timeout=120)
    return proc, time.perf_counter() - t0


@pytest.mark.slow
def test_a_fleet_beyond_the_row_limit_is_one_line_exit_2_before_it_is_parsed(tmp_path):
    """4,000,001 rows (48 MB): parsing them would take minutes and about 1.7 GB; counting them takes a moment."""
    fleet = tmp_path / "city.csv"
    with fleet.open("w") as f:
        f.write(HEADER)
        f.write("a,0,9,1,1,0\n" * (MAX_FLEET_ROWS + 1))
    assert count_fleet_rows(fleet) == MAX_FLEET_ROWS + 1
    path = tmp_path / "s.toml"
    path.write_text(f'[[lots]]\nid = "PL1"\nbus = 18\nfleet = "{fleet}"\n')
    proc, wall_s = _cosim_run(path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"lots[0].fleet: {fleet}: 4,000,001 lines of EVs after the header; allowed: at most 4,000,000" in lines[0]
    assert wall_s < 30  # the rows were counted, never parsed (each row of this file is a duplicate id 'a')


def test_rows_are_counted_without_reading_the_file_whole_and_read_one_at_a_time(tmp_path):
    fleet = tmp_path / "f.csv"
    fleet.write_text(HEADER + "a,1,9,40,11,0.5\nb,2,10,40,11,0.5")  # no line break after the last row
    assert count_fleet_rows(fleet) == 2 and [ev.id for ev in load_fleet_csv(fleet)] == ["a", "b"]
    (tmp_path / "bad.csv").write_bytes(HEADER.encode() + b"a,1,9,40,11,0.5\n\xff\xfe,1,9,40,11,0.5\n")
    with pytest.raises(FleetFileError, match="not a UTF-8 text CSV file"):
        load_fleet_csv(tmp_path / "bad.csv")


def test_the_lots_fleets_together_are_limited_before_any_is_built():
    lot = {"bus": 18, "fleet": "stochastic", "fleet_options": {"n_per_day": 10_000}}
    lots = [{"id": f"L{i}", **lot} for i in range(2)]
    with pytest.raises(ScenarioFileError, match=r"lots\[1\]\.fleet: the lots' fleets up to this one hold 7,320,000 "
                                                r"EV visits over 365 day\(s\); allowed: at most 4,000,000"):
        parse_scenario({"days": 365, "lots": lots}, where="s.toml")


@pytest.mark.slow
def test_a_scenario_beyond_the_lot_limit_is_one_line_exit_2(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("".join(f'[[lots]]\nid = "L{i}"\nbus = 18\n' for i in range(MAX_LOTS + 1)))
    proc, wall_s = _cosim_run(path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].endswith(f"{path}: lots: 2,001 lots; allowed: at most 2,000 ([[lots]] tables in a scenario)")
    assert wall_s < 30


def test_the_limits_admit_a_city_of_1000_lots_and_10000_evs_a_day_for_a_year():
    lots = [{"id": f"L{i}", "bus": 2 + i % 32, "fleet": "stochastic", "fleet_options": {"n_per_day": 10}}
            for i in range(1000)]
    scenario = parse_scenario({"days": 365, "lots": lots, "controller": {"name": "none"}}, where="city.toml")
    assert len(scenario.lots) == 1000 and 10 * 1000 * 366 <= MAX_FLEET_ROWS


def test_toml_limits_admit_a_city_with_a_year_of_15_minute_values(tmp_path):
    """1,000 lots, each with a year of quarter-hour values inline (35,040 numbers): within the size and nesting
    limits (a scenario needs 4 levels; a file of nested values a few more)."""
    quarter_hours = 365 * 96
    year = "[" + ", ".join("0.25" for _ in range(quarter_hours)) + "]"
    path = tmp_path / "city.toml"
    path.write_text(f"days = 365\nprofile_15min = {year}\n"
                    + "".join(f'[[lots]]\nid = "L{i}"\nbus = 18\nforecast = {{ kw = [[1.0, 2.0]] }}\n'
                              for i in range(1000)))
    assert path.stat().st_size < MAX_TOML_BYTES and MAX_TOML_DEPTH >= 4
    raw = read_toml(path, ScenarioFileError, "scenario file")
    assert len(raw["profile_15min"]) == quarter_hours and len(raw["lots"]) == 1000
