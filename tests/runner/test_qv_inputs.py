"""Bad Q(V) input (`[[lots]] reactive = "qv"` and its qv_* fields): one line naming the file and the field, exit 2,
before any output, from the real CLI; good values are read with the curve's defaults filled in."""

from __future__ import annotations

import pytest
from cli_checks import run_fails as _run_fails

from cosim.config import parse_scenario

LOT = '[[lots]]\nbus = 18\nfleet = "ev2gym"\n'
QV = LOT + 'reactive = "qv"\n'


@pytest.mark.parametrize("extra, words", [
    (LOT + 'reactive = "volt-var"\n', ["lots[0].reactive", "'volt-var'", "allowed: pf, qv"]),
    (LOT + "reactive = 1\n", ["lots[0].reactive", "must be str"]),
    (LOT + "qv_v1_pu = 0.9\n", ["lots[0].qv_v1_pu", "reactive = 'qv' only"]),
    (QV + "power_factor = 0.9\n", ["lots[0].power_factor", "reactive = 'pf' only", "qv_min_power_factor"]),
    (QV + "qv_v1_pu = 0.99\n", ["lots[0].qv_v1_pu", "must rise", "qv_v1_pu = 0.99"]),
    (QV + "qv_v3_pu = 0.97\n", ["lots[0].qv_v3_pu", "must rise"]),
    (QV + "qv_v4_pu = 1.01\n", ["lots[0].qv_v4_pu", "must rise"]),
    (QV + "qv_v4_pu = 2.0\n", ["lots[0].qv_v4_pu", "[0.5, 1.5] p.u."]),
    (QV + 'qv_v2_pu = "0.98"\n', ["lots[0].qv_v2_pu", "must be float"]),
    (QV + "qv_v2_pu = nan\n", ["lots[0].qv_v2_pu", "finite"]),
    (QV + "qv_min_power_factor = 0.0\n", ["lots[0].qv_min_power_factor", "> 0"]),
    (QV + "qv_min_power_factor = 1.5\n", ["lots[0].qv_min_power_factor", "<= 1.0"]),
    (QV + "qv_max_kvar = -5\n", ["lots[0].qv_max_kvar", "> 0"]),
    (QV + "qv_slope = 3\n", ["lots[0].qv_slope", "unknown key"]),
])
def test_bad_qv_input_is_one_line_exit_2(tmp_path, capsys, extra, words):
    line = _run_fails(tmp_path, extra, capsys)
    for word in words:
        assert word in line, line


@pytest.mark.slow
def test_qv_on_a_converted_network_is_refused(tmp_path, capsys):
    line = _run_fails(tmp_path, '[network]\nname = "simbench:1-MV-rural--0-sw"\n'
                      + QV.replace("bus = 18", "bus = 52"), capsys)
    assert "lots[0].reactive" in line and "converted network" in line


def test_good_values_are_read_with_the_curves_defaults():
    lot = parse_scenario({"lots": [{"bus": 18, "reactive": "qv", "qv_v4_pu": 1.05, "qv_max_kvar": 50}]}).lots[0]
    assert lot.reactive == "qv" and lot.qv == {"v1_pu": 0.92, "v2_pu": 0.98, "v3_pu": 1.02, "v4_pu": 1.05,
                                               "min_power_factor": 0.9, "max_kvar": 50.0}
    assert lot.plan_power_factor == 0.9  # the DSO plans it at the curve's bound
    plain = parse_scenario({"lots": [{"bus": 18, "power_factor": 0.95}]}).lots[0]
    assert plain.reactive == "pf" and plain.qv == {} and plain.plan_power_factor == 0.95
