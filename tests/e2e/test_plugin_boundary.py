"""The plug-in boundary with real module files: a dotted name in a scenario runs only code beside the scenario
(loaded by path, sys.path untouched), an installed package's `cosim.plugins` entry point or a built-in; anything
else is refused before import, and a broken plug-in is one line with its file and line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cosim.config import ScenarioFileError, load_scenario
from cosim.controllers.registry import make_controller
from cosim.errors import PluginNotFoundError
from cosim.networks import load_network
from cosim.runner.run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # the framework only: the tests' plug-in folder is not importable

# Optional libraries some dependency tries to import during a run; none is installed here, so a file of that name
# on sys.path would be imported (on the old main, 11 of these were: the scenario's folder was appended to sys.path)
OPTIONAL = ("shapely", "polars", "geopandas", "igraph", "plotly", "ortools", "openpyxl", "xlsxwriter", "seaborn",
            "pyproj", "orjson", "fastparquet", "numexpr", "bottleneck", "tabulate", "tables", "torch", "pint")

SCENARIO = """
name = "boundary"
output_dir = "{out}"
[network]
name = "{network}"
reconfigure = false
[controller]
name = "{controller}"
[[lots]]
id = "PL1"
bus = 18
fleet = "seed000"
"""


def _scenario(folder: Path, network: str = "ieee33", controller: str = "none") -> Path:
    path = folder / "s.toml"
    path.write_text(SCENARIO.format(out=folder / "out", network=network, controller=controller))
    return path


def _cosim_run(path: Path) -> subprocess.CompletedProcess:
    """`cosim run` as a user types it in the scenario's folder: the installed console script (`python -m` would put
    the working folder on sys.path itself; then the run starts elsewhere)."""
    script = Path(sys.executable).parent / "cosim"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "cosim.cli"]
    return subprocess.run([*command, "run", str(path), "--days", "1", "--quiet", "--no-plots"],
                          cwd=path.parent if script.is_file() else ROOT, capture_output=True, text=True, env=ENV,
                          timeout=300)


def _planted(folder: Path, name: str, marker: Path, line: str = "") -> None:
    """A module file that leaves `marker` when anything imports it."""
    (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n{line}")


@pytest.mark.parametrize("name", ["pytest:main", "pip:main", "cosim.cli:main", "numpy:zeros", "pandapower:runpp"])
@pytest.mark.slow
def test_a_name_outside_the_scenarios_folder_is_refused_before_import_and_runs_nothing(tmp_path, name):
    """`pytest:main` with a conftest.py beside the scenario ran pytest and the conftest; `cosim.cli:main` was a
    3,000-line RecursionError. Now: exit 2, one line saying how to wrap it, nothing imported, no run folder."""
    marker = tmp_path / "conftest-ran"
    _planted(tmp_path, "conftest", marker)
    path = _scenario(tmp_path, network=name)
    proc = _cosim_run(path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "RecursionError" not in proc.stderr and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"cosim run: error: {path}: network.name: ") and "wrap it" in lines[0]
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_refused_modules_are_never_imported(tmp_path):
    """Refused BEFORE import: in a fresh interpreter, checking the scenarios leaves pytest and pip unimported."""
    paths = []
    for name in ("pytest:main", "pip:main"):
        folder = tmp_path / name.partition(":")[0]
        folder.mkdir()
        paths.append(str(_scenario(folder, network=name)))
    code = textwrap.dedent(f"""
        import json, sys
        from cosim.config import ScenarioFileError, load_scenario
        refused = 0
        for path in {paths!r}:
            try:
                load_scenario(path)
            except ScenarioFileError:
                refused += 1
        print(json.dumps([refused, "pytest" in sys.modules, "pip" in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert json.loads(out.stdout) == [2, False, False], out.stderr


@pytest.mark.slow
def test_files_named_like_optional_libraries_beside_a_scenario_are_never_imported(tmp_path):
    """A run that names a plug-in beside the scenario, with 18 files named like optional libraries beside it:
    the run completes and none of them is imported (each would leave a marker)."""
    (tmp_path / "flat.py").write_text((PLUGINS / "user_controller.py").read_text())
    for name in OPTIONAL:
        _planted(tmp_path, name, tmp_path / f"imported-{name}", "raise ImportError('planted')\n")
    proc = _cosim_run(_scenario(tmp_path, controller="flat:FlatChargeController"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("imported-*")) == []


@pytest.mark.slow
def test_sys_path_is_unchanged_after_a_run_naming_plugins_beside_the_scenario(tmp_path):
    (tmp_path / "flat.py").write_text((PLUGINS / "user_controller.py").read_text())
    (tmp_path / "ring.py").write_text((PLUGINS / "user_network.py").read_text())
    before = list(sys.path)
    path = _scenario(tmp_path, network="ring:ring5", controller="flat:FlatChargeController")
    scenario = load_scenario(path, overrides={"lots": [{"id": "PL1", "bus": 3}]})  # ring5 has 5 buses
    summary = run_scenario(scenario, progress=False, plots=False)
    assert summary.kpis["hours"] == 24
    assert sys.path == before
    assert "flat" not in sys.modules and "ring" not in sys.modules  # loaded under private names only


def test_a_package_folder_beside_the_scenario_works_with_relative_imports(tmp_path):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("DEFAULT_KW = 7.0\n")
    (package / "flat.py").write_text(
        (PLUGINS / "user_controller.py").read_text()
        + "\nfrom .helpers import DEFAULT_KW  # a sibling, imported relatively\n"
        + "\n\nclass FlatCharge(FlatChargeController):\n"
          "    def __init__(self, kw: float = DEFAULT_KW):\n        super().__init__(kw)\n")
    ctrl = make_controller("mypkg.flat:FlatCharge", near=tmp_path)
    assert type(ctrl).__name__ == "FlatCharge" and ctrl.kw == 7.0
    scenario = load_scenario(_scenario(tmp_path, controller="mypkg.flat:FlatCharge"))
    assert scenario.controller == "mypkg.flat:FlatCharge"
    with pytest.raises(PluginNotFoundError, match="package 'mypkg' beside the scenario has no module 'mypkg.nope'"):
        make_controller("mypkg.nope:X", near=tmp_path)
    (tmp_path / "bare").mkdir()
    with pytest.raises(PluginNotFoundError, match="has no __init__.py"):
        make_controller("bare.flat:X", near=tmp_path)


def test_a_re_export_beside_the_scenario_is_refused(tmp_path):
    (tmp_path / "wrapper.py").write_text("from pytest import main\n")
    with pytest.raises(PluginNotFoundError, match="'main' is defined in '_pytest.config', not in .*wrapper.py"):
        load_network("wrapper:main", near=tmp_path)


def _distribution(site: Path, entry_points: str) -> None:
    """An installed distribution as importlib.metadata finds it: a package and its *.dist-info folder."""
    (site / "coolplug").mkdir(parents=True)
    (site / "coolplug" / "__init__.py").write_text("")
    (site / "coolplug" / "ctrl.py").write_text((PLUGINS / "user_controller.py").read_text())
    info = site / "coolplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: coolplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_an_entry_point_of_an_installed_package_is_a_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _distribution(site, "[cosim.plugins]\ncool = coolplug.ctrl:FlatChargeController\n")
    monkeypatch.syspath_prepend(str(site))  # as if pip had installed it
    by_value = make_controller("coolplug.ctrl:FlatChargeController", kw=3.0)
    by_name = make_controller("cool", kw=4.0)
    assert type(by_value).__name__ == type(by_name).__name__ == "FlatChargeController"
    assert (by_value.kw, by_name.kw) == (3.0, 4.0)
    with pytest.raises(PluginNotFoundError, match="neither beside .* nor declared by an installed package"):
        make_controller("coolplug.ctrl:BrokenController")  # in the package, but not declared
    study = tmp_path / "study"
    study.mkdir()
    assert load_scenario(_scenario(study, controller="cool")).controller == "cool"


@pytest.mark.parametrize("body, line, error", [
    ("import numpy\n\ndef broken(:\n    pass\n", 3, "SyntaxError"),
    ("import numpy\nimport no_such_module_here\n", 2, "ModuleNotFoundError"),
    ("X = 1\nY = 1 / 0\n", 2, "ZeroDivisionError"),
])
@pytest.mark.slow
def test_a_broken_plugin_module_is_one_line_with_its_file_and_line_exit_2(tmp_path, body, line, error):
    (tmp_path / "broken.py").write_text(body)
    proc = _cosim_run(_scenario(tmp_path, controller="broken:Controller"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"{tmp_path / 'broken.py'}:{line}: {error}" in lines[0] and "controller.name" in lines[0]


def test_a_builder_is_checked_by_signature_before_the_call_and_by_result_after(tmp_path):
    marker = tmp_path / "called"
    (tmp_path / "nets.py").write_text(textwrap.dedent(f"""
        def strict(size: int = 3):
            open({str(marker)!r}, "w").close()

        def wrong():
            return "not a network"
    """))
    with pytest.raises(ValueError, match="bad options"):
        load_network("nets:strict", near=tmp_path, load_level=2.0)
    assert not marker.exists()  # refused by its signature, never called
    with pytest.raises(ValueError, match="returned a str, not a GridNetwork"):
        load_network("nets:wrong", near=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ScenarioFileError, match="network.name: .*neither beside"):  # not beside this scenario
        load_scenario(_scenario(elsewhere, network="nets:strict"))


def test_from_python_the_plugin_object_itself_is_taken(tmp_path):
    """`make_controller`, `load_network` and `preset_fleet` take the class or function itself, checked as a name."""
    (tmp_path / "mine.py").write_text((PLUGINS / "user_controller.py").read_text()
                                      + (PLUGINS / "user_network.py").read_text().replace("from __future__ import "
                                                                                           "annotations\n", "")
                                      + "\n\ndef few(*, days: int = 1, seed: int = 0):\n    return []\n")
    controller_class = make_controller("mine:FlatChargeController", near=tmp_path, kw=2.0).__class__
    ctrl = make_controller(controller_class, kw=5.0)
    assert type(ctrl) is controller_class and ctrl.kw == 5.0
    assert make_controller(ctrl) is ctrl  # an instance with plan(), as it is
    ring5 = load_network("mine:ring5", near=tmp_path)
    from cosim.networks import NETWORKS  # noqa: PLC0415

    assert load_network(NETWORKS.resolve("mine:ring5", near=tmp_path)).radial.n_bus == ring5.radial.n_bus
    from simulators.parking.presets import FLEETS, preset_fleet  # noqa: PLC0415

    assert preset_fleet(FLEETS.resolve("mine:few", near=tmp_path), days=2, seed=0) == []
    with pytest.raises(PluginNotFoundError, match="not a controller class"):
        make_controller(print)
