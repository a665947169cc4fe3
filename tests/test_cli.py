"""The `cosim` command line: bad input is exit code 2 with one line `cosim <cmd>: error: ...` naming the file and
field (no traceback, no run folder); `cosim validate` checks every network and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cosim.cli import main
from cosim.networks import NETWORKS

BAD_LOT = "days = 1\n[[lots]]\nid = \"A\"\nbus = 5\nn_chargers = -3\n"


def _cosim(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cosim.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"cosim {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.slow
def test_run_and_report_bad_input_as_processes(tmp_path):
    """Real processes (the exit status a shell sees); started together to share the import time."""
    (tmp_path / "bad.toml").write_text(BAD_LOT)
    run = _cosim("run", "bad.toml", "--quiet", cwd=tmp_path)
    report = _cosim("report", "not-a-run-dir", cwd=tmp_path)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2, err
    line = _one_error_line(err, "run")
    assert "bad.toml" in line and "lots[0].n_chargers" in line and "-3" in line
    assert out == "" and not (tmp_path / "results").exists()
    out, err = report.communicate(timeout=120)
    assert report.returncode == 2, err
    assert "not-a-run-dir" in _one_error_line(err, "report")


@pytest.mark.parametrize("text, field", [
    ("days = \"two\"\n", "days: must be int"),
    ("[exchange]\nmode = \"carrier pigeon\"\n", "exchange.mode: unknown exchange mode 'carrier pigeon'"),
    ("[market]\nprofile = \"seasonal:monsoon\"\n", "market.profile"),
    ("[controller]\nname = \"nosuch\"\n", "controller.name: unknown controller 'nosuch'"),
    ("[controller]\nname = \"eo\"\noptions = { bogus = 1 }\n", "controller.options"),
    ("[[lots]]\nbus = 5\nfleet = \"missing.csv\"\n", "lots[0].fleet"),
    ("[[lots]]\nbus = 5\nconnection_limit_kw = inf\n", "lots[0].connection_limit_kw: must be a finite number"),
    ("[[lots]]\nbus = 5\nfleet = \"stochastic\"\nfleet_options = { n_per_hour = 3 }\n", "lots[0].fleet_options"),
    ("name = \"a/b\"\n", "name:"),
    ("days = 100000\n", "days: must be <= "),
    ("[output]\nplots = \"no\"\n", "output.plots: must be bool, got 'no'"),
    ("[network\nname = 1", "not valid TOML"),
])
def test_run_bad_scenario_exit_2_names_file_and_field(tmp_path, capsys, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err, "run")
    assert str(path) in line and field in line, line
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_run_bad_csv_content_is_caught_before_the_run(tmp_path, capsys):
    (tmp_path / "prices.csv").write_text("hour,energy_price_usd_per_kwh\n1,0.1\n3,0.2\n")
    (tmp_path / "fleet.csv").write_text("id,arrival_h,departure_h,capacity_kwh,charger_kw,soc_arrival\n"
                                        "a,8,7,40,11,0.3\n")
    (tmp_path / "p.toml").write_text("[market]\nprofile = \"prices.csv\"\n")
    (tmp_path / "f.toml").write_text("[[lots]]\nbus = 5\nfleet = \"fleet.csv\"\n")
    assert main(["run", str(tmp_path / "p.toml"), "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err, "run")
    assert "market.profile" in line and "prices.csv" in line and "hour(s) [2] missing" in line
    assert main(["run", str(tmp_path / "f.toml"), "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err, "run")
    assert "lots[0].fleet" in line and "fleet.csv: row 2" in line and "departure_h" in line


def test_run_missing_file_and_bad_days_override(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err, "run")
    assert main(["run", "--days", "0", "--quiet"]) == 2  # the default scenario with a bad override
    assert "days: must be > 0" in _one_error_line(capsys.readouterr().err, "run")


def test_compare_and_sweep_reject_bad_files(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text(BAD_LOT)
    assert main(["compare", str(tmp_path / "bad.toml"), "--output", str(tmp_path / "cmp")]) == 2
    assert "lots[0].n_chargers" in _one_error_line(capsys.readouterr().err, "compare")
    assert main(["sweep", str(tmp_path / "nosuch.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nosuch.toml" in err and "does not exist" in err


@pytest.mark.slow
def test_report_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run folder" in _one_error_line(capsys.readouterr().err, "report")


@pytest.mark.parametrize("argv", [["study", "nosuch"], [], ["frobnicate"], ["run", "--days", "x"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    if argv[:1] == ["study"]:
        assert "invalid choice: 'nosuch'" in err and "joape2024" in err


@pytest.mark.slow
def test_validate_runs_and_exits_0(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    for name in NETWORKS:
        assert f"{name}:" in out
    assert out.count("-> agree") == len(NETWORKS) and "DISAGREE" not in out


@pytest.mark.slow
def test_validate_one_network_exhaustive(capsys):
    """`cosim validate --network ieee69 --exhaustive`: the 69-bus optimum of all 407,924 radial configurations."""
    assert main(["validate", "--network", "ieee69", "--exhaustive"]) == 0
    out = capsys.readouterr().out
    assert "ieee69:" in out and "ieee33:" not in out and "-> agree" in out
    assert "radial configurations: 407,924" in out and "open [14, 55, 61, 69, 70], losses 99.62 kW" in out


def test_validate_unknown_network_exits_2(capsys):
    assert main(["validate", "--network", "nosuch"]) == 2
    assert "unknown network 'nosuch'" in capsys.readouterr().out
