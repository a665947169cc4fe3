"""The layers of docs/ARCHITECTURE.md, checked on the import graph (every import statement, also those inside
functions), so that a change that crosses a boundary fails here rather than in review."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mosaik.exceptions
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Layers from the bottom up. A module may import its own layer and the layers below it, never above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("cosim.errors", "cosim.timebase", "cosim.registry", "cosim.plugin_loader", "cosim.textio",
                    "cosim.logs", "cosim.progress")),
    ("powerflow", ("cosim.powerflow",)),
    ("networks", ("cosim.networks",)),
    ("optim", ("cosim.optim", "cosim.decision")),
    ("controllers", ("cosim.controllers",)),
    ("exchange", ("cosim.exchange",)),
    ("results", ("cosim.results",)),
    ("simulators", ("simulators",)),
    ("runner", ("cosim.config", "cosim.runner", "cosim.validate")),
    ("applications", ("cosim.sweep", "cosim.studies", "cosim.cli", "cosim")),
]
LIBRARY = ("foundation", "powerflow", "networks", "optim", "controllers", "exchange", "results")


def layer_of(module: str) -> str | None:
    best, best_len = None, -1
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    return best


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported module) of every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if layer_of(base) is None or base == "cosim":  # `from cosim import x`: x is the module that counts
                out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                out.append((node.lineno, base))
    return out


SOURCES = sorted([*ROOT.glob("cosim/**/*.py"), *ROOT.glob("simulators/**/*.py")])
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def violations(sources: list[Path] = SOURCES, root: Path = ROOT) -> list[str]:
    found = []
    for path in sources:
        here = module_name(path, root)
        mine = layer_of(here)
        for line, target in imports(path, root):
            theirs = layer_of(target)
            if theirs is None or target == "cosim":
                continue
            where = f"{path.relative_to(root)}:{line} imports {target}"
            if here.startswith("simulators.") and target.startswith("simulators."):
                if here.split(".")[1] != target.split(".")[1]:
                    found.append(f"{where} (simulators never import each other)")
            elif RANK[theirs] > RANK[mine]:
                found.append(f"{where} ({mine} may not import {theirs})")
    return found


@pytest.mark.slow
def test_the_layers_hold():
    assert violations() == []


def test_library_parts_never_import_simulators_or_mosaik():
    bad = []
    for path in SOURCES:
        if layer_of(module_name(path)) not in LIBRARY:
            continue
        for line, target in imports(path):
            if target.split(".")[0] in ("simulators", "mosaik", "mosaik_api_v3"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert bad == []


@pytest.mark.parametrize("package", ["cosim.controllers", "cosim.optim", "cosim.exchange"])
def test_controllers_optimizers_and_exchange_modes_never_import_mosaik(package):
    files = [p for p in SOURCES if module_name(p).startswith(package)]
    assert files
    assert not [p for p in files for _, t in imports(p) if t.split(".")[0] in ("mosaik", "mosaik_api_v3")]


def test_the_checker_sees_violations(tmp_path):
    """The rules are live: crossing imports in a fake tree (also inside functions, also relative) are reported."""
    bad_sim = tmp_path / "simulators" / "grid" / "bad.py"
    bad_lib = tmp_path / "cosim" / "exchange" / "bad.py"
    for path in (bad_sim, bad_lib):
        path.parent.mkdir(parents=True)
    bad_sim.write_text("def f():\n    from simulators.parking.lot import ParkingLot\n")
    bad_lib.write_text("from ..runner import world\nimport simulators.grid.model\n")
    found = violations([bad_sim, bad_lib], tmp_path)
    assert len(found) == 3, found
    assert any("never import each other" in v for v in found)
    assert any("exchange may not import runner" in v for v in found)
    assert any("exchange may not import simulators" in v for v in found)


@pytest.mark.slow
def test_checking_a_network_name_does_not_import_pandapower():
    code = ("import sys; from cosim.networks import NETWORKS; assert 'ieee69' in NETWORKS; "
            "print('pandapower' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_class_names_are_unique_and_none_shadows_mosaiks():
    names: dict[str, list[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.col_offset == 0:
                names.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}
    assert sorted(set(names) & set(dir(mosaik.exceptions))) == []
