"""Bad lot-physics input (issue 25): a knee SOC outside (0, 1], a negative degradation parameter, a power factor
outside (0, 1] - one line naming the file and the field, exit 2, before any output."""

from __future__ import annotations

import pytest
from cli_checks import run_fails as _run_fails

from cosim.config import parse_scenario

LOT = '[[lots]]\nbus = 5\nfleet = "ev2gym"\n'


@pytest.mark.parametrize("extra, words", [
    ("fleet_options = { knee_soc = 0.0 }", ["lots[0].fleet_options", "knee_soc=0.0", "(0, 1]"]),
    ("fleet_options = { knee_soc = 1.5 }", ["lots[0].fleet_options", "knee_soc=1.5", "(0, 1]"]),
    ("degradation = { battery_cost_usd_per_kwh = -100 }", ["lots[0].degradation.battery_cost_usd_per_kwh", ">= 0"]),
    ("degradation = { kwh_per_km = -0.2 }", ["lots[0].degradation.kwh_per_km", ">= 0"]),
    ("degradation = { wear_cost = 1 }", ["lots[0].degradation.wear_cost", "bool"]),
    ("degradation = { cycles = 3 }", ["lots[0].degradation.cycles", "unknown key"]),
    ("power_factor = 0.0", ["lots[0].power_factor", "> 0"]),
    ("power_factor = 1.2", ["lots[0].power_factor", "<= 1.0"]),
    ("power_factor = -0.9", ["lots[0].power_factor", "> 0"]),
])
def test_bad_lot_physics_is_one_line_exit_2(tmp_path, capsys, extra, words):
    line = _run_fails(tmp_path, LOT + extra + "\n", capsys)
    for word in words:
        assert word in line, line


def test_the_knee_in_a_fleet_csv_names_the_file_row_and_field(tmp_path, capsys):
    (tmp_path / "f.csv").write_text("id,arrival_h,departure_h,capacity_kwh,charger_kw,soc_arrival,knee_soc\n"
                                    "a,1,5,60,11,0.5,0\n")
    line = _run_fails(tmp_path, '[[lots]]\nbus = 5\nfleet = "f.csv"\n', capsys)
    assert "f.csv" in line and "row 2" in line and "knee_soc" in line


@pytest.mark.slow
def test_a_power_factor_on_a_converted_network_is_refused(tmp_path, capsys):
    line = _run_fails(tmp_path, '[network]\nname = "simbench:1-MV-rural--0-sw"\n' + LOT.replace("bus = 5", "bus = 52")
                      + "power_factor = 0.95\n", capsys)
    assert "lots[0].power_factor" in line and "converted network" in line and "allowed there: 1.0" in line


def test_good_values_are_read():
    s = parse_scenario({"lots": [{"bus": 5, "fleet": "ev2gym", "power_factor": 0.95,
                                  "fleet_options": {"knee_soc": 1.0},
                                  "degradation": {"wear_cost": True, "battery_cost_usd_per_kwh": 0}}]})
    lot = s.lots[0]
    assert lot.power_factor == 0.95 and lot.degradation == {"wear_cost": True, "battery_cost_usd_per_kwh": 0}
    assert parse_scenario({"lots": [{"bus": 5}]}).lots[0].power_factor == 1.0
