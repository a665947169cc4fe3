"""Sweep files (TOML) -> the list of variations of a base scenario, each with a stable id and its own scenario.

A sweep file names a base scenario and varies its keys, written as dotted paths into the scenario TOML
("controller.name", "exchange.mode", "seed", "lots.0.bus", "days"; an integer segment indexes an array):

    name = "example"
    base = "../default.toml"            # relative to this file (default: scenarios/default.toml)
    output_dir = "results/sweeps/example"
    run_plots = false                   # per-variation plots (slow); the sweep's summary plots are always made
    [set]                               # applied to every variation
    "controller.options" = { n_particles = 6, n_iter = 4 }
    [grid]                              # cartesian product of these lists
    seed = [0, 1, 2]
    "controller.name" = ["eo", "rule"]
    [[variations]]                      # and/or an explicit list (each crossed with the grid)
    "exchange.mode" = "signals"

Nested tables work too ([grid.controller] name = [...]); in [set] and [[variations]] a table value is merged
key by key into the base. A base whose market profile is "seasonal" with a list of seasons becomes one
variation per season (column "season"). A variation's id hashes the resolved scenario, so the same
configuration always lands in the same folder and a changed base scenario gets new folders.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim.config import DEFAULT_SCENARIO, Scenario, ScenarioFileError, parse_scenario, path_problem, read_toml
from cosim.errors import InputError

_SWEEP_KEYS = {"name", "description", "base", "output_dir", "run_plots", "set", "grid", "variations", "plot_kpis"}
DEFAULT_PLOT_KPIS = ("energy_losses_kwh", "vpd_pu", "v_min_pu", "plo_profit_usd", "unmet_energy_kwh")


class SweepError(InputError):
    """A sweep file that cannot be run as written."""


@dataclass(frozen=True)
class Variation:
    """One co-simulation of the sweep: the varied keys (table columns) and the resolved scenario TOML dict."""

    id: str  # folder name: readable slug + hash of the resolved scenario
    labels: dict[str, Any]  # dotted key -> value, as varied (plus "season" for seasonal bases)
    raw: dict[str, Any]  # the full scenario dict after overrides, as `parse_scenario` takes it
    plugin_dir: str | None = None  # the base scenario's folder: user modules named by dotted path sit there

    def scenario(self) -> Scenario:
        return parse_scenario(copy.deepcopy(self.raw), where=f"variation {self.id}",
                              plugin_folder=None if self.plugin_dir is None else Path(self.plugin_dir))


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file."""

    name: str
    path: Path | None
    base: Path
    output_dir: Path
    run_plots: bool
    plot_kpis: tuple[str, ...]
    variations: tuple[Variation, ...] = field(repr=False)

    @property
    def label_keys(self) -> list[str]:
        return list(dict.fromkeys(k for v in self.variations for k in v.labels))


def load_sweep(path: str | Path, output_dir: str | Path | None = None) -> Sweep:
    """Read a sweep TOML file; every variation is validated as a scenario before anything runs."""
    path = Path(path)
    if not _is_file(path):
        raise SweepError(f"sweep file {path} {path_problem(path) or 'cannot be read'}")
    raw = read_toml(path, SweepError, "sweep file")
    return parse_sweep(raw, where=str(path), path=path, output_dir=output_dir)


def parse_sweep(raw: dict[str, Any], where: str = "<sweep>", path: Path | None = None,
                output_dir: str | Path | None = None) -> Sweep:
    """Validate a sweep given as a dict; expand it into variations (grid x list x seasons)."""
    unknown = set(raw) - _SWEEP_KEYS
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_SWEEP_KEYS)}")
    base = _base_path(raw.get("base"), where, path)
    try:
        base_raw = tomllib.loads(base.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{where}: base scenario {base} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{where}: base scenario {base} cannot be read ({exc})") from None
    name = _typed(raw, "name", str, path.stem if path else "sweep", where)
    for key in ("set", "grid"):
        _typed(raw, key, dict, {}, where)
    common = flatten(raw.get("set", {}), lists_are_leaves=False)
    grid = flatten(raw.get("grid", {}), lists_are_leaves=True)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: grid.{key}: must be a non-empty array of values, got {values!r}")
    listed = _typed(raw, "variations", list, [], where)
    for i, entry in enumerate(listed):
        if not isinstance(entry, dict):
            raise SweepError(f"{where}: variations[{i}]: must be a table, got {entry!r}")
    listed = [flatten(entry, lists_are_leaves=False) for entry in listed] or [{}]
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] or [{}]
    variations: list[Variation] = []
    for entry in listed:
        for combo in combos:
            labels = {**entry, **combo}
            scenario_raw = copy.deepcopy(base_raw)
            for key, value in {**common, **labels}.items():
                try:
                    set_dotted(scenario_raw, key, value)
                except (KeyError, IndexError, TypeError) as exc:
                    raise SweepError(f"{where}: key {key!r}: {exc}") from None
            variations.extend(_expand_seasons(scenario_raw, labels))
    scenario_dir = base.parent
    variations = [dataclasses.replace(v, plugin_dir=str(scenario_dir.resolve())) for v in variations]
    for v in variations:
        _resolve_relative_paths(v.raw, scenario_dir)
        try:
            v.scenario()
        except ScenarioFileError as exc:
            raise SweepError(f"{where}: variation {v.labels}: {exc}") from None
    ids = [v.id for v in variations]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SweepError(f"{where}: variations {dupes} resolve to the same scenario; remove the duplicates")
    plot_kpis = tuple(_typed(raw, "plot_kpis", list, list(DEFAULT_PLOT_KPIS), where))
    out = (Path(output_dir) if output_dir is not None
           else Path(_typed(raw, "output_dir", str, f"results/sweeps/{name}", where)))
    return Sweep(name=name, path=path, base=base, output_dir=out,
                 run_plots=_typed(raw, "run_plots", bool, False, where),
                 plot_kpis=plot_kpis, variations=tuple(variations))


def flatten(table: dict[str, Any], lists_are_leaves: bool, prefix: str = "") -> dict[str, Any]:
    """{"controller": {"name": x}} -> {"controller.name": x}; keys already dotted are kept as written."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and (lists_are_leaves or value):
            out.update(flatten(value, lists_are_leaves, f"{full}."))
        else:
            out[full] = value
    return out


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set raw[a][b][0][c] = value for key "a.b.0.c"; missing tables are created, arrays must be long enough."""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit():
                raise TypeError(f"{'.'.join(parts[:i])} is an array; index it with a number, not {part!r}")
            idx = int(part)
            if idx >= len(node):
                raise IndexError(f"{'.'.join(parts[:i])} has {len(node)} element(s); index {idx} is out of range")
            if last:
                node[idx] = copy.deepcopy(value)
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
            else:
                node = node.setdefault(part, {})
        else:
            raise TypeError(f"{'.'.join(parts[:i])} is a value ({node!r}), not a table or an array")


def variation_id(labels: dict[str, Any], scenario_raw: dict[str, Any]) -> str:
    """Readable slug of the varied values + 10 hex digits of the resolved scenario's hash (stable across runs)."""
    content = {k: v for k, v in scenario_raw.items() if k not in ("name", "description", "output_dir")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:10]
    slug = "_".join(f"{k.split('.')[-1]}-{_short(v)}" for k, v in labels.items())
    slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", slug).strip("_")[:60] or "base"
    return f"{slug}-{digest}"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _expand_seasons(scenario_raw: dict[str, Any], labels: dict[str, Any]) -> list[Variation]:
    market = scenario_raw.get("market", {})
    if not isinstance(market, dict) or market.get("profile") != "seasonal" or not market.get("seasons"):
        return [Variation(variation_id(labels, scenario_raw), dict(labels), scenario_raw)]
    out = []
    for season in market["seasons"]:
        one = copy.deepcopy(scenario_raw)
        one["market"]["profile"] = f"seasonal:{season}"
        del one["market"]["seasons"]
        lab = {**labels, "season": season}
        out.append(Variation(variation_id(lab, one), lab, one))
    return out


def _resolve_relative_paths(scenario_raw: dict[str, Any], scenario_dir: Path) -> None:
    """CSV paths in the base are relative to the base file; make them absolute so any worker can read them."""
    market = scenario_raw.get("market")
    if isinstance(market, dict) and isinstance(market.get("profile"), str):
        prof = market["profile"]
        if prof.endswith(".csv") and not Path(prof).is_absolute() and _is_file(scenario_dir / prof):
            market["profile"] = str((scenario_dir / prof).resolve())
    exchange = scenario_raw.get("exchange")
    if isinstance(exchange, dict) and isinstance(exchange.get("key_file"), str):
        key_file = exchange["key_file"]
        if not Path(key_file).is_absolute() and _is_file(scenario_dir / key_file):
            exchange["key_file"] = str((scenario_dir / key_file).resolve())
    for lot in scenario_raw.get("lots", []) if isinstance(scenario_raw.get("lots"), list) else []:
        fleet = lot.get("fleet") if isinstance(lot, dict) else None
        if isinstance(fleet, str) and fleet.endswith(".csv") and not Path(fleet).is_absolute() \
                and _is_file(scenario_dir / fleet):
            lot["fleet"] = str((scenario_dir / fleet).resolve())


def _is_file(p: Path) -> bool:
    """Path.is_file() that says False instead of raising for names the OS refuses (too long, NUL byte)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def _base_path(base: Any, where: str, path: Path | None) -> Path:
    if base is None:
        return DEFAULT_SCENARIO
    if not isinstance(base, str):
        raise SweepError(f"{where}: base: must be a path to a scenario TOML file, got {base!r}")
    p = Path(base)
    if not p.is_absolute() and path is not None and not _is_file(p):
        p = path.parent / p
    if not _is_file(p):
        raise SweepError(f"{where}: base: scenario file {base!r} {path_problem(p) or 'cannot be read'}")
    return p.resolve()


def _typed(raw: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = raw.get(key, default)
    if not isinstance(value, kind):
        raise SweepError(f"{where}: {key}: must be {kind.__name__}, got {value!r}")
    return value
