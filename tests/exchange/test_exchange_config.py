"""The scenario's [exchange] section and the identities it depends on: key files, the retired `secret`,
max_rounds bounds and lot ids (a lot must never be able to pass for the DSO)."""

from __future__ import annotations

import pytest

from cosim.config import ScenarioFileError, load_scenario, parse_scenario
from cosim.exchange.keys import write_key_file

LOT = {"id": "PL1", "bus": 18}


def parse(exchange=None, lots=None, where="s.toml"):
    return parse_scenario({"exchange": exchange or {}, "lots": lots if lots is not None else [dict(LOT)]},
                          where=where)


@pytest.mark.parametrize("lot_id", ["DSO", "dso", "Dso"])
def test_a_lot_cannot_take_the_dsos_identity(lot_id):
    with pytest.raises(ScenarioFileError, match=r"^s\.toml: lots\[0\]\.id: .*the DSO's own identity"):
        parse(lots=[{**LOT, "id": lot_id}])


@pytest.mark.parametrize("lot_id", ["", " ", "PL 1", "PL1\n", "1PL", "a/b", "a.b", "é", "x" * 65, "PL1;rm"])
def test_lot_ids_must_be_safe_identifiers(lot_id):
    with pytest.raises(ScenarioFileError, match=r"lots\[0\]\.id: ") as info:
        parse(lots=[{**LOT, "id": lot_id}])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("lot_id", ["PL1", "lot_2", "North-Lot", "x" * 64])
def test_ordinary_lot_ids_pass(lot_id):
    assert parse(lots=[{**LOT, "id": lot_id}]).lots[0].id == lot_id


def test_max_rounds_is_bounded_with_one_line():
    assert parse({"mode": "iterative", "max_rounds": 200}).max_rounds == 200
    for bad, why in [(201, "must be <= 200"), (0, "must be > 0"), (1.5, "must be int")]:
        with pytest.raises(ScenarioFileError, match=f"exchange.max_rounds: {why}") as info:
            parse({"mode": "iterative", "max_rounds": bad})
        assert "\n" not in str(info.value)


def test_secret_is_refused_with_the_way_forward():
    with pytest.raises(ScenarioFileError, match="exchange.secret: is no longer used.*key_file"):
        parse({"secret": "hunter2"})


def test_no_key_file_means_fresh_keys(tmp_path):
    scenario = parse()
    assert scenario.authenticate is True and scenario.key_file is None
    assert "secret" not in scenario.raw.get("exchange", {})


def test_key_file_relative_to_the_scenario_file(tmp_path):
    write_key_file(tmp_path / "keys.toml", ["DSO", "PL1"])
    path = tmp_path / "s.toml"
    path.write_text('[exchange]\nkey_file = "keys.toml"\n[[lots]]\nid = "PL1"\nbus = 18\n')
    assert load_scenario(path).key_file == tmp_path / "keys.toml"


@pytest.mark.parametrize("setup, why", [
    (lambda p: write_key_file(p, ["DSO"]), "no key for agent(s) ['PL1']"),
    (lambda p: write_key_file(p, ["DSO", "PL1"]).chmod(0o644), "chmod 600"),
    (lambda p: None, "does not exist"),
], ids=["missing-agent", "world-readable", "missing-file"])
def test_bad_key_files_are_one_line_errors(tmp_path, setup, why):
    setup(tmp_path / "keys.toml")
    with pytest.raises(ScenarioFileError) as info:
        parse({"key_file": str(tmp_path / "keys.toml")})
    assert str(info.value).startswith("s.toml: exchange.key_file: ") and why in str(info.value)
    assert "\n" not in str(info.value)


def test_key_file_needs_authentication(tmp_path):
    keys = write_key_file(tmp_path / "keys.toml", ["DSO", "PL1"])
    with pytest.raises(ScenarioFileError, match="exchange.key_file: is only used with authenticate = true"):
        parse({"authenticate": False, "key_file": str(keys)})


def test_max_rounds_inside_the_modes_options_is_one_line_not_a_traceback(tmp_path, capsys):
    """`[exchange] options = { max_rounds = 40 }` passed max_rounds twice (a TypeError traceback, exit 1)."""
    from cosim.cli import main  # noqa: PLC0415 - the command line, as a user runs it

    path = tmp_path / "s.toml"
    path.write_text('[exchange]\nmode = "iterative"\noptions = { max_rounds = 40 }\n')
    assert main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exchange.options" in err[0] and "max_rounds belongs beside mode" in err[0]
    assert "Traceback" not in err[0] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("toml, field, why", [
    ('mode = "iterative"\nmax_rounds = 3\nmax_rounds = 4\n', "line 4", "max_rounds is given twice"),
    ('mode = "iterative"\noptions = { tolerance_kw = -1.0 }\n', "exchange.options",
     "tolerance_kw must be a number >= 0"),
    ('mode = "iterative"\noptions = { prox_usd_per_kw2 = -1e-3 }\n', "exchange.options", "prox_usd_per_kw2"),
    ('mode = "admm"\noptions = { rho_usd_per_kw2 = 0.0 }\n', "exchange.options",
     "rho_usd_per_kw2 must be a number > 0"),
    ('mode = "admm"\noptions = { eps_abs_kw = -0.1 }\n', "exchange.options", "eps_abs_kw must be a number > 0"),
    ('mode = "admm"\noptions = { eps_rel = 0 }\n', "exchange.options", "eps_rel must be a number > 0"),
    ('mode = "signals"\noptions = { tolerance_kw = 1.0 }\n', "exchange.options", "tolerance_kw"),
    ('mode = "admm"\noptions = { signal_gain = 1.0 }\n', "exchange.options", "signal_gain"),
    ('mode = "none"\noptions = { rho_usd_per_kw2 = 1.0 }\n', "exchange.options", "rho_usd_per_kw2"),
], ids=["max-rounds-twice", "negative-tolerance", "negative-prox", "zero-rho", "negative-eps-abs", "zero-eps-rel",
        "signals-tolerance", "admm-signal-gain", "none-rho"])
def test_bad_exchange_options_are_one_line_exit_2(tmp_path, capsys, toml, field, why):
    """Each names the file and field, exit 2, nothing written, no traceback (a negative tolerance_kw was accepted)."""
    from cosim.cli import main  # noqa: PLC0415

    path = tmp_path / "s.toml"
    path.write_text("[exchange]\n" + toml)
    assert main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and field in err[0] and why in err[0], err
    assert "Traceback" not in err[0] and not (tmp_path / "out").exists()


def test_max_rounds_defaults_to_the_modes_own():
    assert parse({"mode": "admm"}).max_rounds == 100
    assert parse({"mode": "iterative"}).max_rounds == 40
    assert parse({"mode": "signals"}).max_rounds == 5
    assert parse({"mode": "admm", "max_rounds": 40}).max_rounds == 40
