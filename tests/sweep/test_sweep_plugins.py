"""A sweep's variations find user modules beside the base scenario (no PYTHONPATH), and relative key files."""

from __future__ import annotations

import shutil
from pathlib import Path

from cosim.sweep.spec import parse_sweep

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def test_variations_find_plug_ins_beside_the_base_scenario(tmp_path, monkeypatch):
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(PLUGINS / "user_controller.py", study / "my_controllers.py")
    shutil.copy(PLUGINS / "user_exchange.py", study / "my_modes.py")
    base = study / "base.toml"
    base.write_text('[[lots]]\nid = "PL1"\nbus = 18\n')
    monkeypatch.chdir(tmp_path)
    sweep = parse_sweep({"base": str(base), "grid": {
        "controller.name": ["my_controllers:FlatChargeController", "eo"],
        "exchange.mode": ["my_modes:CappedSchedules", "centralised"]}}, where="sweep.toml", path=tmp_path / "s.toml")
    assert len(sweep.variations) == 4
    for variation in sweep.variations:
        scenario = variation.scenario()
        assert scenario.plugin_dir == study.resolve()
