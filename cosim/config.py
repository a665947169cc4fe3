"""Scenario files (TOML) -> typed, validated `Scenario`. Every error names the file, the field and what is allowed."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXCHANGE_MODES = ("centralised", "signals", "iterative", "none")
OBJECTIVES = ("of1", "of2", "of3", "vpd")


class ScenarioError(ValueError):
    """A scenario file that cannot be run as written."""


@dataclass(frozen=True)
class LotConfig:
    """One parking lot and its operator (PLO)."""

    id: str
    bus: int | None  # 1-based bus; None = the DSO chooses among candidate_buses
    candidate_buses: tuple[int, ...]
    fleet: str  # fleet preset name ("seed000", "stochastic") or CSV path
    n_chargers: int
    connection_limit_kw: float
    allocation: str
    fleet_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: what to simulate and how the DSO and PLOs talk."""

    name: str
    path: Path | None
    network: str
    reconfigure: bool
    market_profile: str  # prices and load curve: "seed000", "seasonal:<season>" or a CSV path
    seasons: tuple[str, ...]  # with market profile "seasonal": one co-simulation per season
    days: int
    start_day: int
    seed: int
    controller: str
    objective: str
    controller_options: dict[str, Any]
    exchange: str
    max_rounds: int
    faults: dict[str, float]  # ChannelFaults: loss, duplicate, tamper, delay probabilities per message
    misreport_probability: float  # a PLO over-reports its flexibility (bad-data injection) on a given day
    misreport_factor: float
    authenticate: bool  # sign every DSO/PLO message with HMAC-SHA256 per-agent keys
    secret: str | None  # root secret the keys are derived from (default: derived from the seed)
    lots: tuple[LotConfig, ...]
    output_dir: Path
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def hours(self) -> int:
        return 24 * self.days


DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.toml"

SEASONS = ("winter", "spring", "summer", "autumn")
_TOP_KEYS = {"name", "description", "days", "start_day", "seed", "output_dir", "network", "market",
             "controller", "exchange", "lots"}


SECTION_KEYS = {
    "network": {"name", "reconfigure"},
    "market": {"profile", "seasons"},
    "controller": {"name", "objective", "options"},
    "exchange": {"mode", "max_rounds", "loss_probability", "duplicate_probability", "tamper_probability",
                 "delay_probability", "misreport_probability", "misreport_factor", "authenticate", "secret"},
}
LOT_KEYS = {"id", "bus", "candidate_buses", "fleet", "fleet_options", "n_chargers", "connection_limit_kw", "allocation"}


class _Reader:
    """Typed access to a TOML table with error messages that name the file and the field."""

    def __init__(self, where: str, table: dict[str, Any], prefix: str = "", known: set[str] | None = None) -> None:
        if known is not None and set(table) - known:
            raise ScenarioError(f"{where}: {prefix}{sorted(set(table) - known)[0]}: unknown key; allowed: {sorted(known)}")
        self.where, self.table, self.prefix = where, table, prefix

    def fail(self, key: str, msg: str) -> ScenarioError:
        return ScenarioError(f"{self.where}: {self.prefix}{key}: {msg}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., allowed: tuple | None = None) -> Any:
        if key not in self.table:
            if default is ...:
                raise self.fail(key, "is required")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be {names}, got {value!r}")
        if allowed is not None and value not in allowed:
            raise self.fail(key, f"{value!r} is not allowed; allowed: {', '.join(map(str, allowed))}")
        return value

    def positive(self, key: str, kind: type, default: Any = ..., minimum: float = 0, strict: bool = True) -> Any:
        value = self.get(key, kind, default)
        if value is not None and (value <= minimum if strict else value < minimum):
            raise self.fail(key, f"must be {'>' if strict else '>='} {minimum}, got {value!r}")
        return value

    def sub(self, key: str) -> "_Reader":
        table = self.get(key, dict, {})
        return _Reader(self.where, table, f"{self.prefix}{key}.", SECTION_KEYS.get(key))


def load_scenario(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario TOML file (default: scenarios/default.toml)."""
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    for key, value in (overrides or {}).items():
        raw[key] = value
    return parse_scenario(raw, where=str(path), path=path)


def parse_scenario(raw: dict[str, Any], where: str = "<scenario>", path: Path | None = None) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML)."""
    from simulators.grid.networks import NETWORKS  # noqa: PLC0415 - registry lookup only

    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    top = _Reader(where, raw)
    net = top.sub("network")
    market = top.sub("market")
    ctrl = top.sub("controller")
    exch = top.sub("exchange")
    network = net.get("name", str, "ieee33", allowed=tuple(sorted(NETWORKS)))
    lots = _parse_lots(top, raw.get("lots", []))
    ids = [lot.id for lot in lots]
    if len(set(ids)) != len(ids):
        raise top.fail("lots", f"lot ids must be unique, got {ids}")
    return Scenario(
        name=top.get("name", str, path.stem if path else "scenario"),
        path=path,
        network=network,
        reconfigure=net.get("reconfigure", bool, True),
        market_profile=_market_profile(market, path),
        seasons=_seasons(market),
        days=top.positive("days", int, 1),
        start_day=top.positive("start_day", int, 0, strict=False),
        seed=top.positive("seed", int, 0, strict=False),
        controller=ctrl.get("name", str, "eo"),
        objective=ctrl.get("objective", str, "of3", allowed=OBJECTIVES),
        controller_options=ctrl.get("options", dict, {}),
        exchange=exch.get("mode", str, "centralised", allowed=EXCHANGE_MODES),
        max_rounds=exch.positive("max_rounds", int, 5),
        faults={name: _probability(exch, f"{name}_probability") for name in ("loss", "duplicate", "tamper", "delay")},
        misreport_probability=_probability(exch, "misreport_probability"),
        misreport_factor=exch.positive("misreport_factor", float, 2.0),
        authenticate=exch.get("authenticate", bool, True),
        secret=exch.get("secret", str, None),
        lots=tuple(lots),
        output_dir=Path(top.get("output_dir", str, "results")),
        raw=raw,
    )


def _market_profile(market: _Reader, path: Path | None) -> str:
    profile = market.get("profile", str, "seed000")
    if profile in ("seed000", "seasonal") or profile.startswith("seasonal:"):
        return profile
    csv = Path(profile)
    if not csv.is_absolute() and path is not None and not csv.exists():
        csv = path.parent / csv
    if not csv.is_file():
        raise market.fail("profile", f"{profile!r} is neither 'seed000', 'seasonal[:<season>]' nor an existing CSV file")
    return str(csv)


def _seasons(market: _Reader) -> tuple[str, ...]:
    seasons = market.get("seasons", list, [])
    for s in seasons:
        if s not in SEASONS:
            raise market.fail("seasons", f"{s!r} is not a season; allowed: {', '.join(SEASONS)}")
    profile = market.table.get("profile", "seed000")
    if profile == "seasonal" and not seasons:
        raise market.fail("seasons", "profile 'seasonal' needs a list of seasons, e.g. [\"winter\", \"summer\"]")
    if seasons and profile != "seasonal":
        raise market.fail("seasons", "is only used with profile = \"seasonal\"")
    return tuple(seasons)


def allocation_rules() -> tuple[str, ...]:
    from simulators.parking.allocation import ALLOCATION_RULES  # noqa: PLC0415 - registry lookup only

    return tuple(sorted(ALLOCATION_RULES))


def _probability(reader: _Reader, key: str) -> float:
    value = reader.get(key, float, 0.0)
    if not 0.0 <= value <= 1.0:
        raise reader.fail(key, f"must be a probability in [0, 1], got {value}")
    return value


def _parse_lots(top: _Reader, lots_raw: Any) -> list[LotConfig]:
    if not isinstance(lots_raw, list):
        raise top.fail("lots", "must be an array of tables ([[lots]])")
    lots = []
    for i, table in enumerate(lots_raw):
        if not isinstance(table, dict):
            raise top.fail(f"lots[{i}]", "must be a table")
        r = _Reader(top.where, table, f"lots[{i}].", LOT_KEYS)
        bus = r.get("bus", int, None)
        candidates = tuple(r.get("candidate_buses", list, [] if bus is None else [bus]))
        if bus is None and not candidates:
            raise r.fail("bus", "give either bus or candidate_buses")
        if not all(isinstance(b, int) and b >= 1 for b in candidates) or (bus is not None and bus < 1):
            raise r.fail("candidate_buses", f"buses are 1-based integers, got {list(candidates) or bus}")
        lots.append(
            LotConfig(
                id=r.get("id", str, f"PL{i + 1}"),
                bus=bus,
                candidate_buses=candidates,
                fleet=r.get("fleet", str, "seed000"),
                n_chargers=r.positive("n_chargers", int, 100),
                connection_limit_kw=r.positive("connection_limit_kw", float, 1000.0),
                allocation=r.get("allocation", str, "earliest_departure_first", allocation_rules()),
                fleet_options=r.get("fleet_options", dict, {}),
            )
        )
    return lots
