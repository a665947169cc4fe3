"""Scenario files (TOML) -> typed, validated `Scenario`. Every error names the file, the field and what is allowed."""

from __future__ import annotations

import dataclasses
import datetime
import errno
import inspect
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cosim.controllers.base import OBJECTIVES
from cosim.controllers.isolation import DEFAULT_TIME_LIMIT_S
from cosim.errors import InputError, PluginNotFoundError
from cosim.results.folder import DEFAULT_START_DATE
from cosim.timebase import STEP_MINUTES, StepClock, StepError, check_step_minutes, steps_per_day
from simulators.grid.fast_flow import ENGINES as GRID_ENGINES
from simulators.market.profiles import SEASONS


class ScenarioFileError(InputError):
    """A scenario file that cannot be run as written; the message is one line naming the file and the field."""


@dataclass(frozen=True)
class LotConfig:
    """One parking lot and its operator (PLO)."""

    id: str
    bus: int | None  # 1-based bus; None = the DSO chooses among candidate_buses
    candidate_buses: tuple[int, ...]
    fleet: str  # fleet preset name ("seed000", "stochastic"), a user's "module:function", or a CSV path
    n_chargers: int
    connection_limit_kw: float
    allocation: str
    fleet_options: dict[str, Any] = field(default_factory=dict)
    fleet_is_csv: bool = False  # decided once when the scenario is read: `fleet` is a CSV file, not a function
    # how the PLO's forecast of its EVs differs from those that come: {arrival_sigma_h, departure_sigma_h,
    # energy_sigma} (simulators.parking.forecast.ForecastError) or {source = "elaadnl", segment, share}
    # (ElaadnlForecastError); empty = perfect foresight
    forecast_error: dict[str, Any] = field(default_factory=dict)
    # the chargers' power factor, (0, 1]: they draw q_kvar = |p_kw| tan(acos(pf)) (absorbed) from the grid
    power_factor: float = 1.0
    # the chargers' reactive power: "pf" (the fixed power factor above) or "qv" (a Q(V) droop curve, `qv` its
    # `simulators.parking.reactive.QVCurve` fields, read from the qv_* keys with their defaults)
    reactive: str = "pf"
    qv: dict[str, float] = field(default_factory=dict)
    # battery ageing (`cosim.controllers.ageing.AgeingModel` parameters, each >= 0), `wear_cost` and `calendar_cost`:
    # whether the PLO's scheduler and the DSO's objective price the cyclic wear and the calendar ageing (off by default)
    degradation: dict[str, Any] = field(default_factory=dict)

    @property
    def plan_power_factor(self) -> float:
        """The power factor the DSO plans the lot with: its own, or under Q(V) the curve's bound (full absorption at
        the minimum power factor: the worst case for the lower voltage limit; README, "Reactive power")."""
        return float(self.qv["min_power_factor"]) if self.reactive == "qv" else self.power_factor


TABLE_FORMATS = ("csv", "parquet")
FIGURE_FORMATS = ("png", "pdf", "svg")


@dataclass(frozen=True)
class OutputOptions:
    """[output]: how a run's tables and figures are written.

    Tables are always streamed as CSV while the run goes (a crash keeps every hour recorded); with format =
    "parquet" they are converted to Parquet at the end. start_date is the calendar date of hour 0 in the
    timestamps `cosim.load_run` gives (each hour labelled by its beginning); it is a label only, the data
    come from the market profile and `start_day`. plots = false leaves out the figures and report.html (and
    the background figure processes that draw them): a run for its tables only; `cosim report` draws them later.
    """

    format: str = "csv"  # tables: "csv" or "parquet"
    figure_format: str = "png"  # figures: "png", "pdf" or "svg"
    dpi: int = 300  # raster resolution of figures (PNG, and images inside PDF / SVG)
    start_date: str = DEFAULT_START_DATE  # ISO date of hour 0
    plots: bool = True  # draw plots/ and report.html at the end of the run (false: tables only; `cosim report` later)


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
    controller_time_limit_s: float  # the controller's deadline per plan (s); past it the DSO falls back
    controller_isolation: bool  # plan in a worker process: no controller can block, exit or crash the run
    exchange: str  # exchange mode: a built-in name or a dotted path to a user's ExchangeMode subclass
    max_rounds: int
    exchange_options: dict[str, Any]  # the mode's own options (e.g. signal_gain, tolerance_kw)
    faults: dict[str, float]  # ChannelFaults: loss, duplicate, tamper, delay probabilities per message
    misreport_probability: float  # a PLO over-reports its flexibility (bad-data injection) on a given day
    misreport_factor: float
    authenticate: bool  # sign every DSO/PLO message with per-agent Ed25519 keys
    key_file: Path | None  # the agents' private keys (default: fresh keys from the OS's randomness each run)
    lots: tuple[LotConfig, ...]
    output_dir: Path
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    plugin_folder: Path | None = None  # where user modules sit when it is not the scenario file's folder (sweeps)
    output: OutputOptions = field(default_factory=OutputOptions)
    switch_operations_per_day: int = 0  # branches hourly revisions may open or close a day (0: topology fixed)
    forecast_noise: dict[str, float] = field(default_factory=dict)  # market forecasts: {load_sigma, price_sigma}
    controller_on_failure: str = "fallback"  # a planning failure: "fallback" (go on) or "stop" (end the run, exit 3)
    separate_processes: bool = False  # each PLO agent in a process of its own (cosim.runner.processes)
    engine: str = "pandapower"  # the grid simulator's power flow: "pandapower" (runpp) or "fast" (compiled radial)
    tap_control: str = "fixed"  # transformers' taps in the grid simulator: "fixed" (as given) or "discrete"
    step_minutes: int = 60  # [simulation] step_minutes: one step (one mosaik time unit) is 60, 30 or 15 minutes

    @property
    def hours(self) -> int:
        return 24 * self.days

    @property
    def clock(self) -> StepClock:
        return StepClock(self.step_minutes)

    @property
    def steps_per_day(self) -> int:
        return self.clock.steps_per_day

    @property
    def steps(self) -> int:
        """The run's steps (mosaik time units): days x steps_per_day."""
        return self.clock.steps(self.days)

    @property
    def plugin_dir(self) -> Path | None:
        """Where modules named by dotted path may sit (controllers, exchange modes, networks, fleets): the scenario
        file's folder, or the base scenario's folder for a sweep's variations."""
        if self.plugin_folder is not None:
            return self.plugin_folder
        return self.path.parent if self.path else None


DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.toml"

MAX_NAME_BYTES = 200  # a scenario's name starts its run folder's name (<name>-<timestamp>[-n], at most 255 bytes)
MAX_PRICE_USD_PER_KWH = 1e4  # |price| in a profile CSV, $/kWh: > 2,000 times the EU day-ahead cap (4 EUR/kWh)
MAX_LOAD_SCALING = 100.0  # p.u. of the network's nominal load (a load_kw column: of 3715 kW); no feeder carries more
MAX_DAYS = 3660  # ten years of hourly steps; beyond that a run is a typo, not a study
MAX_START_DAY = 100_000
TAP_CONTROL = ("fixed", "discrete")  # [network] tap_control
ON_FAILURE = ("fallback", "stop")  # [controller] on_failure (simulators.dso.agent.ON_FAILURE)
MAX_TIME_LIMIT_S = 86_400.0  # a day-ahead plan due more than a day later is a typo
MAX_ROUNDS = 200  # negotiation rounds a day; the world allows mosaik enough same-time loop iterations
MAX_SWITCH_OPERATIONS = 1000  # a day's switch operations; more is a typo
MAX_FORECAST_SIGMA = 1.0  # relative 24-h-ahead forecast error (simulators.market.forecast_noise.MAX_SIGMA)
MAX_EV_TIME_SIGMA_H = 12.0  # hours of arrival / departure forecast error
MAX_LOTS = 2000  # [[lots]] in a scenario: twice a city of 1,000 lots; docs/INPUT_LIMITS.md measures the memory
_TOP_KEYS = {"name", "description", "days", "start_day", "seed", "output_dir", "network", "market",
             "controller", "exchange", "lots", "output", "simulation"}


SECTION_KEYS = {
    "simulation": {"step_minutes"},
    "network": {"name", "reconfigure", "engine", "tap_control"},
    "market": {"profile", "seasons", "forecast_noise"},
    "controller": {"name", "objective", "options", "time_limit_s", "isolation", "switch_operations_per_day",
                   "on_failure"},
    "output": {"format", "figure_format", "dpi", "start_date", "plots"},
    "exchange": {"mode", "options", "max_rounds", "loss_probability", "duplicate_probability", "tamper_probability",
                 "delay_probability", "misreport_probability", "misreport_factor", "authenticate", "key_file",
                 "secret", "separate_processes"},
}
REACTIVE_MODES = ("pf", "qv")  # [[lots]] reactive
QV_KEYS = ("v1_pu", "v2_pu", "v3_pu", "v4_pu", "min_power_factor", "max_kvar")  # [[lots]] qv_<key>
LOT_KEYS = {"id", "bus", "candidate_buses", "fleet", "fleet_options", "n_chargers", "connection_limit_kw", "allocation",
            "forecast_error", "power_factor", "degradation", "reactive", *(f"qv_{k}" for k in QV_KEYS)}


class _Reader:
    """Typed access to a TOML table with error messages that name the file and the field."""

    def __init__(self, where: str, table: dict[str, Any], prefix: str = "", known: set[str] | None = None) -> None:
        if known is not None and set(table) - known:
            raise ScenarioFileError(f"{where}: {prefix}{sorted(set(table) - known)[0]}: unknown key; "
                                    f"allowed: {sorted(known)}")
        self.where, self.table, self.prefix = where, table, prefix

    def fail(self, key: str, msg: str) -> ScenarioFileError:
        return ScenarioFileError(f"{self.where}: {self.prefix}{key}: {msg}")

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
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value!r}")
        if allowed is not None and value not in allowed:
            raise self.fail(key, f"{value!r} is not allowed; allowed: {', '.join(map(str, allowed))}")
        return value

    def positive(self, key: str, kind: type, default: Any = ..., minimum: float = 0, strict: bool = True,
                 maximum: float | None = None) -> Any:
        value = self.get(key, kind, default)
        if value is not None and (value <= minimum if strict else value < minimum):
            raise self.fail(key, f"must be {'>' if strict else '>='} {minimum}, got {value!r}")
        if value is not None and maximum is not None and value > maximum:
            raise self.fail(key, f"must be <= {maximum}, got {value!r}")
        return value

    def text(self, key: str, default: Any = ..., what: str = "a non-empty string") -> Any:
        """A non-empty string without NUL characters (names, ids, paths)."""
        value = self.get(key, str, default)
        if value is not None and (not value.strip() or "\x00" in value):
            raise self.fail(key, f"must be {what}, got {value!r}")
        return value

    def sub(self, key: str) -> "_Reader":
        table = self.get(key, dict, {})
        return _Reader(self.where, table, f"{self.prefix}{key}.", SECTION_KEYS.get(key))


MAX_TOML_BYTES = 10_000_000  # a scenario or sweep file: ten thousand lots are under 2 MB
MAX_TOML_DEPTH = 32  # nested arrays / inline tables (a scenario needs 4; Python's TOML reader recurses per level)


def _nesting(text: str) -> int:
    """The deepest nesting of [ and { in `text` outside strings and comments (a quick upper bound)."""
    depth = deepest = 0
    quote = ""
    comment = escaped = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif escaped:
            escaped = False
        elif quote:
            escaped = quote == '"' and ch == "\\"
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def read_toml(path: Path, error: type[InputError], what: str) -> dict[str, Any]:
    """The TOML table in `path`; a file that is not UTF-8 TOML, cannot be read, is larger than `MAX_TOML_BYTES` or
    nests deeper than `MAX_TOML_DEPTH` raises `error` in one line."""
    try:
        if path.stat().st_size > MAX_TOML_BYTES:
            raise error(f"{path}: {what} larger than {MAX_TOML_BYTES // 1_000_000} MB; allowed: at most that")
        text = path.read_text(encoding="utf-8")
        depth = _nesting(text)
        if depth > MAX_TOML_DEPTH:
            raise error(f"{path}: {what} nests {depth} levels of arrays or tables; allowed: at most {MAX_TOML_DEPTH}")
        return tomllib.loads(text)
    except RecursionError:  # a nesting the quick count missed (inline tables in arrays, ...)
        raise error(f"{path}: {what} nests too deeply; allowed: at most {MAX_TOML_DEPTH} levels") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}{_given_twice(text, exc)}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def _given_twice(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """For "Cannot overwrite a value": the key on the offending line, given twice (e.g. `max_rounds`)."""
    found = re.search(r"at line (\d+)", str(exc))
    if "overwrite" not in str(exc) or not found:
        return ""
    line = int(found.group(1))
    key = text.splitlines()[line - 1].partition("=")[0].strip() if line <= len(text.splitlines()) else ""
    return f"; {key} is given twice, allowed: once" if key and "\n" not in key and len(key) < 80 else ""


def load_scenario(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario TOML file (default: scenarios/default.toml)."""
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    problem = path_problem(path)
    if problem:
        raise ScenarioFileError(f"scenario file {path} {problem}")
    raw = read_toml(path, ScenarioFileError, "scenario file")
    for key, value in (overrides or {}).items():
        raw[key] = value
    return parse_scenario(raw, where=str(path), path=path)


def parse_scenario(raw: dict[str, Any], where: str = "<scenario>", path: Path | None = None,
                   plugin_folder: Path | None = None) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML)."""
    if not isinstance(raw, dict):
        raise ScenarioFileError(f"{where}: a scenario must be a table of keys, got {type(raw).__name__}")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ScenarioFileError(f"{where}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    top = _Reader(where, raw)
    step_minutes = _step_minutes(top.sub("simulation"))
    net = top.sub("network")
    market = top.sub("market")
    ctrl = top.sub("controller")
    exch = top.sub("exchange")
    near = plugin_folder if plugin_folder is not None else (path.parent if path else None)
    network = net.text("name", "ieee33")
    engine, tap_control = _engine(net, network), _tap_control(net, network)  # from the name: before a city is built
    _check_network(net, network, near)
    top.get("description", str, "")
    name = top.text("name", path.stem if path else "scenario")
    if any(c in name for c in "/\\") or name.strip() in (".", ".."):
        raise top.fail("name", f"is used as a folder name and must not contain '/' or '\\', got {name!r}")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise top.fail("name", f"is used as a folder name and may have at most {MAX_NAME_BYTES} bytes, got "
                               f"{len(name.encode('utf-8', 'surrogatepass'))} ({name[:30]!r}...)")
    days = top.positive("days", int, 1, maximum=MAX_DAYS)
    seed = top.positive("seed", int, 0, strict=False)
    lots = _parse_lots(top, raw.get("lots", []), path, near, days)
    from cosim.networks import is_converted_name  # noqa: PLC0415 - lazy, as in _network

    for i, lot in enumerate(lots):  # a converted net's connections take active power only
        if lot.reactive == "qv" and is_converted_name(network):
            raise ScenarioFileError(f"{where}: lots[{i}].reactive: 'qv' needs reactive power at the lot's "
                                    f"connection, which the converted network {network!r} does not take; "
                                    "allowed there: 'pf' with power_factor 1.0")
        if lot.power_factor < 1.0 and is_converted_name(network):
            raise ScenarioFileError(f"{where}: lots[{i}].power_factor: {lot.power_factor!r} needs reactive power at "
                                    f"the lot's connection, which the converted network {network!r} does not take; "
                                    "allowed there: 1.0")
    ids = [lot.id for lot in lots]
    if len(set(ids)) != len(ids):
        raise top.fail("lots", f"lot ids must be unique, got {ids}")
    controller, controller_options = _controller(ctrl, seed, near)
    exchange, max_rounds, exchange_options = _exchange(exch, near)
    authenticate = exch.get("authenticate", bool, True)
    key_file = _key_file(exch, authenticate, ids, path)
    seasons = _seasons(market)
    check_step(where, step_minutes, controller, exchange, seasons, near)
    return Scenario(
        name=name,
        path=path,
        plugin_folder=plugin_folder,
        network=network,
        reconfigure=net.get("reconfigure", bool, True),
        tap_control=tap_control,
        market_profile=_market_profile(market, path, network, step_minutes),
        seasons=seasons,
        days=days,
        start_day=top.positive("start_day", int, 0, strict=False, maximum=MAX_START_DAY),
        seed=seed,
        controller=controller,
        objective=ctrl.get("objective", str, "of3", allowed=OBJECTIVES),
        controller_options=controller_options,
        controller_time_limit_s=ctrl.positive("time_limit_s", float, DEFAULT_TIME_LIMIT_S, maximum=MAX_TIME_LIMIT_S),
        controller_isolation=ctrl.get("isolation", bool, True),
        controller_on_failure=ctrl.get("on_failure", str, "fallback", allowed=ON_FAILURE),
        exchange=exchange,
        max_rounds=max_rounds,
        exchange_options=exchange_options,
        faults={name: _probability(exch, f"{name}_probability") for name in ("loss", "duplicate", "tamper", "delay")},
        misreport_probability=_probability(exch, "misreport_probability"),
        misreport_factor=exch.positive("misreport_factor", float, 2.0),
        authenticate=authenticate,
        key_file=key_file,
        separate_processes=exch.get("separate_processes", bool, False),
        engine=engine,
        step_minutes=step_minutes,
        lots=tuple(lots),
        output_dir=Path(top.text("output_dir", "results", "a non-empty folder path")),
        raw=raw,
        output=_output(top.sub("output")),
        switch_operations_per_day=ctrl.positive("switch_operations_per_day", int, 0, strict=False,
                                                maximum=MAX_SWITCH_OPERATIONS),
        forecast_noise=_sigmas(market, "forecast_noise", {"load_sigma": MAX_FORECAST_SIGMA,
                                                          "price_sigma": MAX_FORECAST_SIGMA}),
    )


def check_step(where: str, step_minutes: int, controller: str, exchange: str, seasons: tuple[str, ...],
               near: Path | None = None) -> None:
    """Refuse, in one line naming `simulation.step_minutes`, what only works in hourly steps: a controller class that
    declares `HOURLY_ONLY` (`cosim.controllers.base.step_refusal`; every built-in follows the step), an exchange mode
    that declares `hourly_only` (`iterative`, `admm`), multi-season runs (also for the variants a comparison makes of
    a scenario, `cosim.runner.compare`). Plug-ins named by dotted path are resolved `near` the scenario."""
    if step_minutes == 60:
        return
    from cosim.controllers.base import step_refusal  # noqa: PLC0415 - the registries load plug-ins only here
    from cosim.controllers.registry import CONTROLLERS  # noqa: PLC0415
    from cosim.exchange.registry import EXCHANGE_MODES  # noqa: PLC0415

    field = f"{where}: simulation.step_minutes: {step_minutes}"
    if step_refusal(CONTROLLERS.resolve(controller, near=near), steps_per_day(step_minutes)):
        raise ScenarioFileError(f"{field} is not allowed with controller.name {controller!r}, which plans in hours "
                                "only (its class declares HOURLY_ONLY); allowed with it: 60")
    if getattr(EXCHANGE_MODES.resolve(exchange, near=near), "hourly_only", False):
        modes = ", ".join(name for name in EXCHANGE_MODES.names()
                          if not getattr(EXCHANGE_MODES.resolve(name), "hourly_only", False))
        raise ScenarioFileError(f"{field} is not allowed with exchange.mode {exchange!r}, which exchanges hourly "
                                f"arrays only; allowed with it: 60 (modes following the step: {modes})")
    if seasons:
        raise ScenarioFileError(f"{field} is not allowed with market.seasons (multi-season runs are hourly only); "
                                "allowed with seasons: 60, or one season as market.profile = \"seasonal:<season>\"")


def _step_minutes(sim: _Reader) -> int:
    """`[simulation] step_minutes`: one of `cosim.timebase.STEP_MINUTES` (an integer; 60 when not given)."""
    value = sim.table.get("step_minutes", 60)
    try:
        return check_step_minutes(value)
    except StepError:
        raise sim.fail("step_minutes", f"{value!r} is not allowed; allowed: {', '.join(map(str, STEP_MINUTES))} "
                                       "(minutes, an integer)") from None


def _output(out: _Reader) -> OutputOptions:
    start = out.text("start_date", OutputOptions.start_date, "an ISO date such as \"2024-01-01\"")
    try:
        datetime.date.fromisoformat(start)
    except ValueError:
        raise out.fail("start_date", f"must be an ISO date such as \"2024-01-01\", got {start!r}") from None
    return OutputOptions(format=out.get("format", str, "csv", allowed=TABLE_FORMATS),
                         figure_format=out.get("figure_format", str, "png", allowed=FIGURE_FORMATS),
                         dpi=out.positive("dpi", int, OutputOptions.dpi, minimum=50, strict=False, maximum=1200),
                         start_date=start, plots=out.get("plots", bool, True))


def with_output(scenario: Scenario, **changes: Any) -> Scenario:
    """`scenario` with some [output] options changed (e.g. from the command line), in its raw table too, so that
    the manifest records what was used; the values are checked as in a scenario file."""
    raw = {**scenario.raw, "output": {**scenario.raw.get("output", {}), **changes}}
    output = _output(_Reader(str(scenario.path or "<scenario>"), raw["output"], "output.", SECTION_KEYS["output"]))
    return dataclasses.replace(scenario, raw=raw, output=output)


def with_on_failure(scenario: Scenario, on_failure: str) -> Scenario:
    """`scenario` with `[controller] on_failure` set (`cosim run --strict`: "stop"), in its raw table too, so that
    the manifest records what was used; checked as in a scenario file."""
    raw = {**scenario.raw, "controller": {**scenario.raw.get("controller", {}), "on_failure": on_failure}}
    ctrl = _Reader(str(scenario.path or "<scenario>"), raw["controller"], "controller.", SECTION_KEYS["controller"])
    return dataclasses.replace(scenario, raw=raw,
                               controller_on_failure=ctrl.get("on_failure", str, "fallback", allowed=ON_FAILURE))


def _market_profile(market: _Reader, path: Path | None, network: str | None = None, step_minutes: int = 60) -> str:
    from simulators.market.profiles import SIMBENCH_PROFILE, load_market  # noqa: PLC0415 - validates before a run

    profile = market.text("profile", "seed000")
    if profile in ("seed000", "seasonal"):
        return profile
    if profile == SIMBENCH_PROFILE or profile.startswith(SIMBENCH_PROFILE + ":"):  # the grid's own profiles
        try:
            load_market(profile, days=1, network=network, near=path.parent if path else None,
                        step_minutes=step_minutes)
        except ValueError as exc:  # ProfileError: not a SimBench network, an unknown price profile
            raise market.fail("profile", str(exc)) from None
        return profile
    if profile.startswith("seasonal:"):
        if profile.partition(":")[2] not in SEASONS:
            raise market.fail("profile", f"{profile!r}: unknown season; allowed: "
                                         f"{', '.join('seasonal:' + s for s in SEASONS)}")
        return profile
    csv = _data_file(profile, path)
    if csv is None:
        raise market.fail("profile", _not_a_file(profile, path) or f"{profile!r} is neither 'seed000', "
                                     "'seasonal[:<season>]' nor an existing CSV file")
    try:
        data = load_market(csv, step_minutes=step_minutes)
    except ValueError as exc:  # ProfileError: names the CSV's line and column (or a step the run cannot take)
        raise market.fail("profile", str(exc)) from None
    _plausible_market(market, csv, data)
    return str(csv)


def _plausible_market(market: _Reader, csv: Path, data: Any) -> None:
    """Refuse finite but absurd numbers (a price of 1e308 $/kWh, a load 1e6 times the nominal one): they overflow
    the power flow and the KPIs to NaN. Bounds: MAX_PRICE_USD_PER_KWH, MAX_LOAD_SCALING."""
    import numpy as np  # noqa: PLC0415 - with the profile reader above

    checks = [("energy_price_usd_per_kwh", data.energy_price, MAX_PRICE_USD_PER_KWH, "$/kWh"),
              ("reserve_capacity_price_usd_per_kw", data.reserve_capacity_price, MAX_PRICE_USD_PER_KWH, "$/kW"),
              ("reserve_call_price_usd_per_kwh", data.reserve_call_price, MAX_PRICE_USD_PER_KWH, "$/kWh"),
              ("load_scaling / load_kw", data.load_scaling, MAX_LOAD_SCALING, "p.u.")]
    for column, values, bound, unit in checks:
        bad = np.flatnonzero(np.abs(np.asarray(values, dtype=float)) > bound)
        if len(bad):
            hour = int(bad[0]) + 1
            raise market.fail("profile", f"{csv}, hour {hour}, {column}: {float(values[bad[0]]):.6g} is outside the "
                                         f"plausible range |x| <= {bound:g} {unit}")


def path_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a file, in words ("does not exist", "is a directory, not a file", "is a
    symbolic link loop", ...); None for a regular file."""
    try:
        path.stat()
    except ValueError:
        return "is not a valid path (it holds a NUL character)"
    except OSError as exc:
        reasons = {errno.ELOOP: "is a symbolic link loop (too many levels of symbolic links)",
                   errno.ENAMETOOLONG: "has a name too long for the file system",
                   errno.EACCES: "cannot be accessed (permission denied)",
                   errno.ENOTDIR: "does not exist (a part of its path is a file, not a folder)"}
        if exc.errno == errno.ENOENT:
            return "is a broken symbolic link (its target does not exist)" if path.is_symlink() else "does not exist"
        return reasons.get(exc.errno or 0, f"cannot be read ({exc.strerror or exc})")
    if path.is_dir():
        return "is a directory, not a file"
    if not path.is_file():
        return "is not a regular file (a device, a pipe or a socket)"
    return None


def _not_a_file(name: str, scenario_path: Path | None) -> str | None:
    """What a data-file name in a scenario points to when that is something other than a file (a directory, a
    symbolic link loop, ...); None when nothing by that name exists (the caller says what was expected)."""
    try:
        candidates = [Path(name)]
        if not candidates[0].is_absolute() and scenario_path is not None:
            candidates.append(scenario_path.parent / name)
        for file in candidates:
            if file.is_symlink() or file.exists():
                return f"{name!r}: {file} {path_problem(file)}"
    except (OSError, ValueError):
        return None
    return None


def _data_file(name: str, scenario_path: Path | None) -> Path | None:
    """An existing file named in a scenario (absolute, relative to the working folder or to the scenario file)."""
    try:
        file = Path(name)
        if not file.is_absolute() and scenario_path is not None and not file.exists():
            file = scenario_path.parent / file
        return file if file.is_file() else None
    except (OSError, ValueError):  # a name too long for the file system, a NUL character, ...
        return None


def _controller(ctrl: _Reader, seed: int, near: Path | None) -> tuple[str, dict[str, Any]]:
    """Controller name and options, checked by building the controller once (as the DSO will)."""
    from cosim.controllers.registry import SEEDED_CONTROLLERS, make_controller  # noqa: PLC0415 - lazy

    name = ctrl.text("name", "eo")
    options = ctrl.get("options", dict, {})
    trial = dict(options)
    if name in SEEDED_CONTROLLERS:
        trial.setdefault("seed", seed)
    try:
        make_controller(name, near=near, **trial)
    except PluginNotFoundError as exc:
        raise ctrl.fail("name", str(exc)) from None
    except InputError as exc:  # the controller rejects its options
        raise ctrl.fail("options", str(exc)) from None
    return name, options


def _engine(net: _Reader, network: str) -> str:
    """[network] engine: "pandapower" or "fast"; a reduced model (`simbench:<code>:reduced`) runs its full net, which
    only the pandapower engine steps."""
    value = net.get("engine", str, "pandapower", allowed=GRID_ENGINES)
    if value == "fast" and network.endswith(":reduced"):
        raise net.fail("engine", f"'fast' steps the network's own radial model, and {network!r} is a reduced model "
                                 "whose full net the grid simulator runs: use engine = \"pandapower\"")
    return value


def _tap_control(net: _Reader, network: str) -> str:
    """[network] tap_control: "fixed" (taps as given) or "discrete" (pandapower's DiscreteTapControl on every
    transformer with a tap changer, converted nets only: cosim.networks.taps)."""
    from cosim.networks import is_converted_name  # noqa: PLC0415 - lazy

    value = net.get("tap_control", str, "fixed")
    if value not in TAP_CONTROL:
        raise net.fail("tap_control", f"{value!r} is not allowed; allowed: {', '.join(TAP_CONTROL)}")
    if value != "fixed" and not is_converted_name(network):
        raise net.fail("tap_control", f"{value!r} applies to SimBench grids and pandapower JSON files, not "
                                      f"{network!r}")
    if value != "fixed" and net.get("engine", str, "pandapower") != "pandapower":
        raise net.fail("tap_control", f"{value!r} needs engine = \"pandapower\" (the fast engine keeps taps as given)")
    return value


def _check_network(net: _Reader, name: str, near: Path | None) -> None:
    """[network] name: a built-in network (checked without importing pandapower), "simbench:<code>" or a pandapower
    JSON file (converted here, so that a bad code or net fails before any output), or a dotted path to a user's
    builder."""
    from cosim.networks import NAME_FORMS, NETWORKS, is_converted_name, load_radial  # noqa: PLC0415 - lazy

    if name in NETWORKS:
        return
    if is_converted_name(name):
        try:
            load_radial(name, near=near)  # built once per process: the run uses this one
        except InputError as exc:  # NetworkDataError: an unknown code, not a pandapower net, a meshed net, ...
            raise net.fail("name", str(exc)) from None
        return
    if not NETWORKS.is_dotted(name):
        raise net.fail("name", f"{name!r} is not allowed; allowed: {', '.join(NETWORKS.names())}, {NAME_FORMS}")
    try:
        NETWORKS.resolve(name, near=near)
    except PluginNotFoundError as exc:
        raise net.fail("name", str(exc)) from None


def _exchange(exch: _Reader, near: Path | None) -> tuple[str, int, dict[str, Any]]:
    """Exchange mode, max_rounds and the mode's options, checked by building the mode once (as the agents will)."""
    from cosim.exchange.registry import make_exchange_mode  # noqa: PLC0415 - lazy

    mode = exch.text("mode", "centralised")
    max_rounds = exch.positive("max_rounds", int, None, maximum=MAX_ROUNDS)  # None: the mode's own default
    options = exch.get("options", dict, {})
    if "max_rounds" in options:  # it is the framework's setting, beside `mode` (passing it twice was a TypeError)
        raise exch.fail("options", "max_rounds belongs beside mode ([exchange] max_rounds = N), not in options")
    try:
        built = make_exchange_mode(mode, near=near, **options) if max_rounds is None else \
            make_exchange_mode(mode, near=near, max_rounds=max_rounds, **options)
    except PluginNotFoundError as exc:
        raise exch.fail("mode", str(exc)) from None
    except InputError as exc:
        raise exch.fail("options", str(exc)) from None
    if max_rounds is None:  # e.g. 5 for signals and iterative, 100 for admm
        max_rounds = min(int(getattr(built, "max_rounds", 5)), MAX_ROUNDS)
    return mode, max_rounds, options


def _key_file(exch: _Reader, authenticate: bool, lot_ids: list[str], path: Path | None) -> Path | None:
    """`exchange.key_file`: the agents' Ed25519 private keys (checked: private to its owner, one key for the DSO
    and each lot, no other). `exchange.secret` (the old HMAC root secret) is refused: it was shared by every
    agent and copied into the manifest."""
    if "secret" in exch.table:
        raise exch.fail("secret", "is no longer used: messages are signed with Ed25519 keys made fresh for each "
                                  "run; to use keys of your own, name a key file: key_file = \"keys.toml\"")
    name = exch.text("key_file", None, "a path to a key file")
    if name is None:
        return None
    if not authenticate:
        raise exch.fail("key_file", "is only used with authenticate = true")
    from cosim.exchange.keys import load_key_file  # noqa: PLC0415 - cryptography only when a key file is named

    try:
        file = Path(name).expanduser()
        if not file.is_absolute() and path is not None:
            file = path.parent / file
        load_key_file(file, ["DSO", *lot_ids])
    except RuntimeError:  # "~user" without such a user
        raise exch.fail("key_file", f"{name!r}: cannot expand the home folder") from None
    except InputError as exc:  # KeyFileError: never shows a key
        raise exch.fail("key_file", str(exc)) from None
    return file


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


def _sigmas(reader: _Reader, key: str, limits: dict[str, float]) -> dict[str, float]:
    """A table of forecast-error standard deviations (each a number in [0, its limit]); empty when absent."""
    table = reader.get(key, dict, {})
    out = {}
    for name, value in table.items():
        field_name = f"{key}.{name}"
        if name not in limits:
            raise reader.fail(field_name, f"unknown key; allowed: {', '.join(sorted(limits))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0.0 <= value <= limits[name]:
            raise reader.fail(field_name, f"must be a number in [0, {limits[name]:g}], got {value!r}")
        out[name] = float(value)
    return out


def _ev_forecast_error(reader: _Reader) -> dict[str, Any]:
    """A lot's `forecast_error`: Gaussian sigmas, or {source = "elaadnl", segment, share} (ElaadNL draws)."""
    table = reader.get("forecast_error", dict, {})
    if table.get("source", "gaussian") == "gaussian":
        sigmas = {k: v for k, v in table.items() if k != "source"}
        return _sigmas(_Reader(reader.where, {"forecast_error": sigmas}, reader.prefix), "forecast_error",
                       {"arrival_sigma_h": MAX_EV_TIME_SIGMA_H, "departure_sigma_h": MAX_EV_TIME_SIGMA_H,
                        "energy_sigma": 0.9})
    if table["source"] != "elaadnl":
        raise reader.fail("forecast_error.source", f"must be 'gaussian' or 'elaadnl', got {table['source']!r}")
    sub = _Reader(reader.where, table, f"{reader.prefix}forecast_error.", {"source", "segment", "share"})
    from simulators.parking.forecast import ELAADNL_SEGMENTS  # noqa: PLC0415 - the segments the data has

    share = sub.get("share", float)
    if not 0.0 <= share <= 1.0:
        raise sub.fail("share", f"must be a number in [0, 1], got {share!r}")
    return {"source": "elaadnl", "segment": sub.get("segment", str, ..., ELAADNL_SEGMENTS), "share": share}


def allocation_rules() -> tuple[str, ...]:
    from simulators.parking.allocation import ALLOCATION_RULES  # noqa: PLC0415 - registry lookup only

    return tuple(sorted(ALLOCATION_RULES))


def _probability(reader: _Reader, key: str) -> float:
    value = reader.get(key, float, 0.0)
    if not 0.0 <= value <= 1.0:
        raise reader.fail(key, f"must be a probability in [0, 1], got {value}")
    return value


def _preset_rows(fleet: str, options: dict[str, Any], days: int) -> int:
    """EV visits a built-in preset makes for a run of `days` (0 for a user's fleet function: its own business)."""
    def number(key: str, default: float) -> float:
        value = options.get(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return max(float(value), 0.0) if ok else 0.0  # a bad value is refused when the fleet is built

    built = days + 1  # a lot's fleet covers the run's days and the night after (cosim.runner.world.lot_fleet_spec)
    if fleet in ("seed000", "joape2024"):
        return int(number("n_pevs", 100) * (2 * built + 1))  # a night and a day visit a day, and the first night
    if fleet == "stochastic":
        return int(number("n_per_day", 0) * built)
    if fleet == "ev2gym":
        return int(number("n_vehicles", 50) * built)
    return 0


def _fleet(r: _Reader, path: Path | None, near: Path | None,
           csv_rows: dict[Path, int] | None = None) -> tuple[str, dict[str, Any], bool]:
    """Fleet preset or CSV path (checked by reading it, once per file: `csv_rows` holds the files read and their
    rows) and the preset's options (checked by name)."""
    from simulators.parking.fleet import load_fleet_csv  # noqa: PLC0415 - validates a user's CSV before any run
    from simulators.parking.presets import FLEETS  # noqa: PLC0415

    fleet = r.text("fleet", "seed000")
    options = r.get("fleet_options", dict, {})
    if fleet in FLEETS or FLEETS.is_dotted(fleet) and _data_file(fleet, path) is None:
        try:
            params = inspect.signature(FLEETS.resolve(fleet, near=near)).parameters
        except PluginNotFoundError as exc:
            raise r.fail("fleet", str(exc)) from None
        except (TypeError, ValueError):  # a callable without a signature
            raise r.fail("fleet", f"{fleet!r}: not a fleet function (..., days, seed) -> list[EV]") from None
        if not {"days", "seed"} <= set(params) and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise r.fail("fleet", f"{fleet!r}: a fleet function takes the keywords days and seed")
        unknown = sorted(set(options) - set(params))
        if unknown:
            raise r.fail("fleet_options", f"unknown option(s) {unknown} for fleet {fleet!r}; allowed: {sorted(params)}")
        missing = sorted(k for k, p in params.items() if p.default is p.empty and k not in options
                         and k not in ("days", "seed") and p.kind is not p.VAR_KEYWORD)
        if missing:
            raise r.fail("fleet_options", f"fleet {fleet!r} needs option(s) {missing}, e.g. "
                                          f"fleet_options = {{ {missing[0]} = ... }}")
        knee = options.get("knee_soc", 1.0)
        if "knee_soc" in options and (isinstance(knee, bool) or not isinstance(knee, (int, float))
                                      or not 0.0 < float(knee) <= 1.0):
            raise r.fail("fleet_options", f"knee_soc={knee!r} is invalid; allowed: a knee SOC in (0, 1] (1 = no taper)")
        return fleet, options, False
    csv = _data_file(fleet, path)
    if csv is None:
        raise r.fail("fleet", _not_a_file(fleet, path)
                     or f"{fleet!r} is neither a preset ({', '.join(FLEETS.names())}) nor an existing CSV file")
    if options:
        raise r.fail("fleet_options", "only apply to preset fleets, not to a CSV fleet")
    csv_rows = {} if csv_rows is None else csv_rows
    if csv not in csv_rows:
        try:
            csv_rows[csv] = len(load_fleet_csv(csv))  # rows counted first: a file beyond the limit is not parsed
        except ValueError as exc:  # FleetFileError: names the CSV's row and field, or the row limit
            raise r.fail("fleet", str(exc)) from None
    return str(csv), options, True


LOT_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _lot_id(r: _Reader, i: int) -> str:
    """A lot id names its PLO in every message, file and mosaik entity: a letter, then up to 63 letters, digits,
    '_' or '-'; never "DSO" (the DSO's identity: a lot by that name could sign as the DSO)."""
    lot_id = r.text("id", f"PL{i + 1}")
    if not LOT_ID_PATTERN.fullmatch(lot_id):
        raise r.fail("id", f"must start with a letter, then letters, digits, '_' or '-' (at most 64 in all), "
                           f"got {lot_id!r}")
    if lot_id.upper() == "DSO":
        raise r.fail("id", f"{lot_id!r} is the DSO's own identity; choose another lot id")
    return lot_id


def _parse_lots(top: _Reader, lots_raw: Any, path: Path | None = None, near: Path | None = None,
                days: int = 1) -> list[LotConfig]:
    """The lots, at most `MAX_LOTS` (counted before any is read), whose fleets hold at most
    `simulators.parking.fleet.MAX_FLEET_ROWS` EV visits together (CSV rows, and presets' visits over `days`)."""
    from simulators.parking.fleet import MAX_FLEET_ROWS  # noqa: PLC0415

    if not isinstance(lots_raw, list):
        raise top.fail("lots", "must be an array of tables ([[lots]])")
    if len(lots_raw) > MAX_LOTS:
        raise top.fail("lots", f"{len(lots_raw):,} lots; allowed: at most {MAX_LOTS:,} ([[lots]] tables in a "
                               "scenario)")
    lots: list[LotConfig] = []
    csv_rows: dict[Path, int] = {}
    total_rows = 0
    for i, table in enumerate(lots_raw):
        if not isinstance(table, dict):
            raise top.fail(f"lots[{i}]", "must be a table")
        r = _Reader(top.where, table, f"lots[{i}].", LOT_KEYS)
        bus = r.get("bus", int, None)
        candidates = tuple(r.get("candidate_buses", list, [] if bus is None else [bus]))
        if bus is None and not candidates:
            raise r.fail("bus", "give either bus or candidate_buses")
        if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in candidates) \
                or (bus is not None and bus < 1):
            raise r.fail("candidate_buses", f"buses are 1-based integers, got {list(candidates) or bus}")
        fleet, fleet_options, fleet_is_csv = _fleet(r, path, near, csv_rows)
        total_rows += csv_rows[Path(fleet)] if fleet_is_csv else _preset_rows(fleet, fleet_options, days)
        if total_rows > MAX_FLEET_ROWS:
            raise r.fail("fleet", f"the lots' fleets up to this one hold {total_rows:,} EV visits over {days} day(s); "
                                  f"allowed: at most {MAX_FLEET_ROWS:,} in a scenario (a year of 10,000 EVs a day)")
        lots.append(
            LotConfig(
                id=_lot_id(r, i),
                bus=bus,
                candidate_buses=candidates,
                fleet=fleet,
                n_chargers=r.positive("n_chargers", int, 100),
                connection_limit_kw=r.positive("connection_limit_kw", float, 1000.0),
                allocation=r.get("allocation", str, "least_laxity_first", allocation_rules()),
                fleet_options=fleet_options,
                fleet_is_csv=fleet_is_csv,
                forecast_error=_ev_forecast_error(r),
                power_factor=r.positive("power_factor", float, 1.0, maximum=1.0),
                degradation=_degradation(r),
                **_reactive(r),
            )
        )
    return lots


def _reactive(r: _Reader) -> dict[str, Any]:
    """A lot's `reactive` mode and, for "qv", its curve (`QVCurve` fields from the qv_* keys, defaults filled in):
    each breakpoint in `QV_V_RANGE_PU`, v1 < v2 <= v3 < v4, min_power_factor in (0, 1], max_kvar > 0. A qv_* key
    under "pf", or power_factor under "qv", is refused: it would be silently ignored."""
    from simulators.parking.reactive import QV_DEFAULTS, QV_V_RANGE_PU  # noqa: PLC0415

    mode = r.get("reactive", str, "pf", REACTIVE_MODES)
    given = [f"qv_{k}" for k in QV_KEYS if f"qv_{k}" in r.table]
    if mode == "pf":
        if given:
            raise r.fail(given[0], "applies to reactive = 'qv' only; set reactive = 'qv' or remove it")
        return {"reactive": mode, "qv": {}}
    if "power_factor" in r.table:
        raise r.fail("power_factor", "applies to reactive = 'pf' only; under 'qv' the curve's limit is "
                                     "qv_min_power_factor")
    lo, hi = QV_V_RANGE_PU
    qv: dict[str, float] = {}
    for key in ("v1_pu", "v2_pu", "v3_pu", "v4_pu"):
        qv[key] = r.get(f"qv_{key}", float, QV_DEFAULTS[key])
        if not lo <= qv[key] <= hi:
            raise r.fail(f"qv_{key}", f"must be in [{lo}, {hi}] p.u., got {qv[key]!r}")
    for a, b, rel in (("v1_pu", "v2_pu", "<"), ("v2_pu", "v3_pu", "<="), ("v3_pu", "v4_pu", "<")):
        if not (qv[a] < qv[b] if rel == "<" else qv[a] <= qv[b]):
            raise r.fail(f"qv_{b}" if f"qv_{b}" in r.table else f"qv_{a}",
                         f"breakpoints must rise: qv_v1_pu < qv_v2_pu <= qv_v3_pu < qv_v4_pu, got qv_{a} = {qv[a]} "
                         f"and qv_{b} = {qv[b]}")
    qv["min_power_factor"] = r.positive("qv_min_power_factor", float, QV_DEFAULTS["min_power_factor"], maximum=1.0)
    if "qv_max_kvar" in r.table:
        qv["max_kvar"] = r.positive("qv_max_kvar", float)
    return {"reactive": mode, "qv": qv}


def _degradation(r: _Reader) -> dict[str, Any]:
    """A lot's `degradation` table: `AgeingModel` parameters (each a finite number >= 0) and the cost switches
    `wear_cost` and `calendar_cost` (bools)."""
    from cosim.controllers.ageing import COST_SWITCHES, AgeingModel  # noqa: PLC0415

    table = dict(r.get("degradation", dict, {}))
    known = {f.name for f in fields(AgeingModel)} | set(COST_SWITCHES)
    sub = _Reader(r.where, table, f"{r.prefix}degradation.", known)
    for name in COST_SWITCHES:
        if name in table:
            sub.get(name, bool)
    for name in known - set(COST_SWITCHES):
        if name in table:
            value = sub.get(name, float)
            if value < 0:
                raise sub.fail(name, f"must be >= 0 (a degradation parameter), got {value!r}")
    for name in ("age_days", "temperature_k"):
        if name in table and table[name] == 0:
            raise sub.fail(name, "must be > 0")
    return table
