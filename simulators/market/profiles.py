"""Load and validate the price / load profile CSVs in scenarios/data and bundle them as `MarketData`, per step.

Named profiles (see scenarios/README.md for where each number comes from):

* ``"seed000"``: seed 000's reconstructed 24-h load curve (kW) and price ($/kWh); no reserve market
  (reserve prices and call probability are 0). Repeats every day.
* ``"seasonal:<winter|spring|summer|autumn>"`` (or ``"seasonal"`` with ``season=...``): a representative
  week (168 h, Monday first) of simbench MV-urban load (p.u. of annual peak) and Netherlands 2019
  day-ahead prices with reserve columns; EUR/MWh converted at `USD_PER_EUR`. Repeats every week.
* a path to a CSV with ``hour`` (1..N) and ``energy_price_usd_per_kwh``, optionally ``load_scaling``,
  ``load_kw``, ``reserve_capacity_price_usd_per_kw``, ``reserve_call_price_usd_per_kwh``, ``call_probability``;
  or, for a profile in steps other than hours, ``minute`` (the step's start: 0, s, 2 s, ... for an s-minute step)
  instead of ``hour``.
* ``"simbench"`` or ``"simbench:<price profile>"`` (a SimBench network, "simbench:<code>", only): the grid's own
  profile set, every load and static generator its own SimBench profile (its native 15-minute values at 15-minute
  steps, their means at 30 or 60, `cosim.networks.simbench.element_profiles`), step 0 starts 1 January 2016 00:00,
  8,784 hours (repeats yearly); prices (and reserve columns) from the named price profile (any of the above; default
  ``seed000``), its load columns unused. `MarketData.element_power` holds the per-element values (MW, Mvar,
  what the grid simulator applies to the original net), `bus_p_kw` / `bus_q_kvar` their sums per bus of the
  radial model (generators negative; the DSO's forecast), `load_scaling` the loads' total (generators left out,
  so it stays >= 0) as p.u. of the nominal load (default, or where the given one is not positive: the loads'
  p_mw summed).

Hour h is the hour ending at h o'clock; arrays are 0-based (index 0 = hour 1). Longer horizons wrap.

Steps: `load_market(..., step_minutes=m)` returns one value per m-minute step (index k covers the hours
[k m / 60, (k + 1) m / 60)). A profile in longer steps (hourly data at 15 minutes) is held over the shorter steps, one
in shorter steps is averaged over each longer one (`cosim.timebase.resample`: prices keep their $/kWh, loads their
energy); a profile whose step neither divides the simulation's step nor is a multiple of it is refused
(`ProfileError` naming the file).
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from cosim.errors import InputError
from cosim.timebase import HOURS_PER_DAY, StepError, check_step_minutes, resample

DATA_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data"
USD_PER_EUR = 1.12  # 2019 average ECB reference rate (1.1195), rounded
SEASONS = ("winter", "spring", "summer", "autumn")
SEED000_NOMINAL_LOAD_KW = 3715.0  # IEEE 33-bus total nominal load, the base of seed 000's scaling


class ProfileError(InputError):
    """A profile file or name is wrong; the message names the file, row and field."""


class ProfileStepError(ProfileError, StepError):
    """A profile whose step the simulation cannot run in (neither a divisor nor a multiple of its step)."""


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs of a CSV file, with clear errors for missing files."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: spreadsheets write a BOM
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = []
            for r in reader:
                if None in r:  # more fields than the header has columns: refused, not dropped
                    raise ProfileError(f"{path}, line {reader.line_num}: {len(r[None])} field(s) more than the "
                                       f"header's {len(header)} column(s) {header}")
                rows.append((reader.line_num, {(k or "").strip(): (v or "").strip() if isinstance(v, str) else v
                                               for k, v in r.items()}))
    except FileNotFoundError:
        raise ProfileError(f"profile file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ProfileError(f"profile file {path} cannot be read: {exc}") from None
    if not header:
        raise ProfileError(f"profile file {path} is empty (a header row is needed)")
    return header, rows


def _number(path: Path, line: int, field: str, text: object, *, nonneg: bool = False,
            upper: float | None = None) -> float:
    if text is None or text == "":
        raise ProfileError(f"{path}, line {line}, field {field!r}: value is missing")
    try:
        val = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ProfileError(f"{path}, line {line}, field {field!r}: {text!r} is not a number") from None
    if not math.isfinite(val):
        raise ProfileError(f"{path}, line {line}, field {field!r}: {text!r} is not a finite number")
    if nonneg and val < 0:
        raise ProfileError(f"{path}, line {line}, field {field!r}: {val} is negative (must be >= 0)")
    if upper is not None and val > upper:
        raise ProfileError(f"{path}, line {line}, field {field!r}: {val} exceeds {upper}")
    return val


def read_hourly_table(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (),
    nonneg: Sequence[str] = (), probability: Sequence[str] = (), group: str | None = None, only: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Validated numeric columns of an hourly CSV, per group (one group "" when `group` is None).

    Each group must hold hours 1..N exactly once (N = its row count). Errors name file, line and field. A row
    with more fields than the header, or a column named twice, is refused; with `only`, so is any column that is
    neither `hour`, `group`, `required` nor `optional` (a user's file: nothing in it is dropped silently).
    """
    return _read_indexed(Path(path), required, optional, nonneg, probability, group, only, "hour")[0]


def read_step_table(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (),
    nonneg: Sequence[str] = (), probability: Sequence[str] = (), group: str | None = None, only: bool = False,
) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """`read_hourly_table` for a CSV indexed by ``hour`` (1..N, step 60 minutes) or by ``minute`` (each row's start:
    0, s, 2 s, ... without gaps, the step s read from the rows); returns the columns and the step in minutes."""
    return _read_indexed(Path(path), required, optional, nonneg, probability, group, only, None)


def _read_indexed(path: Path, required: Sequence[str], optional: Sequence[str], nonneg: Sequence[str],
                  probability: Sequence[str], group: str | None, only: bool,
                  index: str | None) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """The table by `index` ("hour": 1..N; "minute": 0, s, 2 s, ...; None: the one its header has) and its step in
    minutes; a file read and checked before with the same arguments, unchanged since, is answered from
    `_read_version` (fresh copies of its arrays)."""
    try:
        stat = path.stat()
    except OSError:  # a missing file: `_read_rows` says so
        return _read_indexed_file(path, required, optional, nonneg, probability, group, only, index)
    tables, step = _read_version(str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns,
                                 tuple(required), tuple(optional), tuple(nonneg), tuple(probability), group, only,
                                 index)
    return {g: {c: v.copy() for c, v in cols.items()} for g, cols in tables.items()}, step


@functools.lru_cache(maxsize=8)
def _read_version(path: str, inode: int, size: int, mtime_ns: int, ctime_ns: int, *args) \
        -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """One version of a file (path, inode, size, modification and change times) read and checked, kept: a learning
    environment's reset reads the same market file again each episode (about 0.4 ms a simulated hour of
    env_ieee33's when parsed each time). A file changed on disk is another version, read again; a refused one is
    not kept (its error is raised again)."""
    return _read_indexed_file(Path(path), *args)


def _read_indexed_file(path: Path, required: Sequence[str], optional: Sequence[str], nonneg: Sequence[str],
                       probability: Sequence[str], group: str | None, only: bool,
                       index: str | None) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """`_read_indexed` from the file itself."""
    header, rows = _read_rows(path)
    if index is None:  # "minute" when the header has it and no "hour"; both is ambiguous
        if "minute" in header and "hour" in header:
            raise ProfileError(f"{path}: give either an 'hour' or a 'minute' column, not both")
        index = "minute" if "minute" in header else "hour"
    need = [index, *required] + ([group] if group else [])
    missing = [c for c in need if c not in header]
    if missing:
        raise ProfileError(f"{path}: missing column(s) {missing}; the header has {header}")
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ProfileError(f"{path}: column(s) {twice} appear more than once in the header")
    allowed = [index, *([group] if group else []), *required, *optional]
    unknown = [c for c in header if c not in allowed]
    if only and unknown:  # refused rather than ignored: a misspelt optional column would fall back to defaults
        raise ProfileError(f"{path}: unknown column(s) {unknown}; allowed: {allowed}")
    cols = [c for c in [*required, *optional] if c in header]
    first = 1 if index == "hour" else 0
    groups: dict[str, dict[int, tuple[int, dict[str, float]]]] = {}
    for line, row in rows:
        key = row.get(group, "") if group else ""
        if group and not key:
            raise ProfileError(f"{path}, line {line}, field {group!r}: value is missing")
        h_text = row.get(index)
        try:
            at = int(str(h_text))
        except ValueError:
            raise ProfileError(f"{path}, line {line}, field {index!r}: {h_text!r} is not an integer {index}") from None
        if at < first:
            raise ProfileError(f"{path}, line {line}, field {index!r}: {at} ({index}s count from {first})")
        seen = groups.setdefault(key, {})
        if at in seen:
            raise ProfileError(f"{path}, line {line}, field {index!r}: {index} {at} duplicated "
                               f"(first on line {seen[at][0]}){' in ' + group + ' ' + key if group else ''}")
        vals = {c: _number(path, line, c, row.get(c), nonneg=c in nonneg,
                           upper=1.0 if c in probability else None) for c in cols}
        for c in probability:
            if c in vals and vals[c] < 0:
                raise ProfileError(f"{path}, line {line}, field {c!r}: {vals[c]} is not a probability in [0, 1]")
        seen[at] = (line, vals)
    if not groups:
        raise ProfileError(f"{path}: no data rows")
    out: dict[str, dict[str, np.ndarray]] = {}
    steps: set[int] = set()
    for key, seen in groups.items():
        where = f" ({group} {key})" if group else ""
        if index == "hour":
            n = max(seen)
            gaps = _first_gaps(seen, n) if len(seen) != n else []
            if gaps:
                raise ProfileError(f"{path}: hour(s) {gaps[:10]} missing{where}; hours must run 1..{n} without gaps")
            order = list(range(1, n + 1))
            steps.add(60)
        else:
            order = sorted(seen)
            steps.add(_minute_step(path, order, where))
        out[key] = {c: np.array([seen[h][1][c] for h in order]) for c in cols}
    if len(steps) > 1:
        raise ProfileError(f"{path}: the groups' minutes run in different steps {sorted(steps)}; use one step")
    return out, steps.pop()


def _minute_step(path: Path, minutes: list[int], where: str) -> int:
    """The step of sorted row starts 0, s, 2 s, ... (minutes), or a ProfileError naming the first one out of line."""
    if len(minutes) < 2:
        raise ProfileError(f"{path}: a profile by 'minute' needs at least two rows to tell its step{where}")
    step = minutes[1] - minutes[0]
    bad = next((m for i, m in enumerate(minutes) if m != i * step), None)
    if bad is not None:
        raise ProfileError(f"{path}, field 'minute': minute {bad} is out of line{where}; minutes must run 0, {step}, "
                           f"{2 * step}, ... without gaps (the step is the first two rows' difference)")
    return step


def _first_gaps(seen: dict[int, object], n: int, limit: int = 10) -> list[int]:
    """Up to `limit` hours of 1..n missing from `seen` (without building 1..n: a typo like hour 10**9 stays cheap)."""
    gaps, expected = [], 1
    for h in sorted(seen):
        gaps.extend(range(expected, min(h, expected + limit - len(gaps))))
        if len(gaps) >= limit:
            break
        expected = h + 1
    return gaps[:limit]


def load_profile(path: str | Path, column: str | None = None) -> np.ndarray:
    """One validated hourly column (index 0 = hour 1); default: the only non-hour column.

    Load columns (names starting with ``load``) must be >= 0; prices may be negative.
    """
    path = Path(path)
    header, _ = _read_rows(path)
    if column is None:
        value_cols = [c for c in header if c != "hour"]
        if len(value_cols) != 1:
            raise ProfileError(f"{path}: name the column to read, one of {value_cols}")
        column = value_cols[0]
    nonneg = [column] if column.startswith("load") else []
    return read_hourly_table(path, [column], nonneg=nonneg)[""][column]


@dataclass(frozen=True)
class MarketData:
    """Market and load signals, one value per step of `step_minutes` (rows = steps; index 0 = the step starting
    00:00 of day 0; at 60 minutes the hour ending 01:00). Rates throughout (kW, p.u., $/kWh): a step's energy is
    its power times its length."""

    name: str
    energy_price: np.ndarray  # $/kWh
    reserve_capacity_price: np.ndarray  # $/kW per hour of reserve offered
    reserve_call_price: np.ndarray  # $/kWh of reserve energy delivered when called
    call_probability: np.ndarray  # probability (0..1) that offered reserve is called in that step
    load_scaling: np.ndarray  # p.u. of the network's nominal load
    nominal_load_kw: float  # kW that load_scaling = 1 stands for
    # profile "simbench" only: per element and per bus of the grid, rows = steps
    element_power: dict[str, np.ndarray] | None = None  # load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar
    bus_p_kw: np.ndarray | None = None  # (steps, n_bus) net load per bus of the radial model, generators negative
    bus_q_kvar: np.ndarray | None = None
    step_minutes: int = 60  # what one row covers

    def __post_init__(self) -> None:
        n = len(self.energy_price)
        for field in ("reserve_capacity_price", "reserve_call_price", "call_probability", "load_scaling"):
            if len(getattr(self, field)) != n:
                raise ProfileError(f"market {self.name!r}: {field} has {len(getattr(self, field))} steps, "
                                   f"energy_price has {n}")
        for field, arr in [("bus_p_kw", self.bus_p_kw), ("bus_q_kvar", self.bus_q_kvar),
                           *((f"element_power[{k}]", v) for k, v in (self.element_power or {}).items())]:
            if arr is not None and len(arr) != n:
                raise ProfileError(f"market {self.name!r}: {field} has {len(arr)} steps, energy_price has {n}")
        if isinstance(self.step_minutes, bool) or not isinstance(self.step_minutes, int) or self.step_minutes < 1:
            raise ProfileError(f"market {self.name!r}: step_minutes must be a positive whole number of minutes, got "
                               f"{self.step_minutes!r}")
        # a network whose generators exceed its loads has a negative nominal (net) load
        if not math.isfinite(self.nominal_load_kw) or self.nominal_load_kw == 0:
            raise ProfileError(f"market {self.name!r}: nominal_load_kw must be a non-zero number, got "
                               f"{self.nominal_load_kw}")

    @property
    def n_steps(self) -> int:
        return len(self.energy_price)

    @property
    def n_hours(self) -> float:
        """The hours the profile covers (an int where they are whole)."""
        minutes = self.n_steps * self.step_minutes
        return minutes // 60 if minutes % 60 == 0 else minutes / 60

    @property
    def steps_per_day(self) -> int:
        return HOURS_PER_DAY * 60 // self.step_minutes

    @property
    def load_kw(self) -> np.ndarray:
        return self.load_scaling * self.nominal_load_kw

    def at(self, step: int) -> dict[str, float]:
        """All signals of one step (0-based, wraps past the end) as plain floats."""
        i = int(step) % self.n_steps
        return {
            "energy_price": float(self.energy_price[i]),
            "reserve_capacity_price": float(self.reserve_capacity_price[i]),
            "reserve_call_price": float(self.reserve_call_price[i]),
            "call_probability": float(self.call_probability[i]),
            "load_scaling": float(self.load_scaling[i]),
            "load_kw": float(self.load_kw[i]),
        }

    def window(self, start: int, steps: int = 24) -> "MarketData":
        """`steps` steps from 0-based step `start`, wrapping past the end (e.g. day d = window(d x steps_per_day,
        steps_per_day))."""
        if steps < 1:
            raise ProfileError(f"window length must be >= 1 step, got {steps}")
        idx = (int(start) + np.arange(steps)) % self.n_steps
        return self._rows(lambda arr: arr[idx], self.step_minutes)

    def day(self, d: int) -> "MarketData":
        """Day d (0-based) of the profile: steps_per_day steps."""
        return self.window(self.steps_per_day * int(d), self.steps_per_day)

    def at_step(self, step_minutes: int) -> "MarketData":
        """The same signals in steps of `step_minutes` (`cosim.timebase.resample`: held over shorter steps, averaged
        over longer ones; energy and mean price conserved). A `StepError` where the steps neither divide nor are
        multiples of each other, or the rows do not fill whole longer steps."""
        if step_minutes == self.step_minutes:
            return self
        return self._rows(lambda arr: resample(arr, self.step_minutes, step_minutes, axis=0), step_minutes)

    def _rows(self, take, step_minutes: int) -> "MarketData":
        """A copy with `take` applied to every per-step array (rows first)."""
        return MarketData(self.name, take(self.energy_price), take(self.reserve_capacity_price),
                          take(self.reserve_call_price), take(self.call_probability), take(self.load_scaling),
                          self.nominal_load_kw,
                          None if self.element_power is None else {k: take(v) for k, v in self.element_power.items()},
                          None if self.bus_p_kw is None else take(self.bus_p_kw),
                          None if self.bus_q_kvar is None else take(self.bus_q_kvar), step_minutes)


def _seed000(data_dir: Path, nominal_load_kw: float | None) -> MarketData:
    load = load_profile(data_dir / "seed000_load_kw.csv", "load_kw")
    price = load_profile(data_dir / "seed000_price.csv", "energy_price_usd_per_kwh")
    if len(load) != len(price):
        raise ProfileError(f"seed000: load has {len(load)} hours, price {len(price)}")
    zero = np.zeros(len(price))
    base = SEED000_NOMINAL_LOAD_KW if nominal_load_kw is None else nominal_load_kw
    # The curve is defined against the 33-bus's 3715 kW; nominal_load_kw only changes what p.u. means in kW.
    return MarketData("seed000", price, zero, zero.copy(), zero.copy(), load / SEED000_NOMINAL_LOAD_KW, base)


def _seasonal(data_dir: Path, season: str, nominal_load_kw: float | None) -> MarketData:
    if season not in SEASONS:
        raise ProfileError(f"unknown season {season!r}; allowed: {', '.join(SEASONS)}")
    path = data_dir / "seasonal_week.csv"
    tables = read_hourly_table(
        path, ["load_pu", "energy_price_eur_per_mwh", "reserve_capacity_price_eur_per_mw_h",
               "reserve_call_price_eur_per_mwh", "call_probability"],
        nonneg=["load_pu", "reserve_capacity_price_eur_per_mw_h"], probability=["call_probability"], group="season")
    if season not in tables:
        raise ProfileError(f"{path}: no rows for season {season!r}; it has {sorted(tables)}")
    t = tables[season]
    k = USD_PER_EUR / 1000.0  # EUR/MWh -> $/kWh (and EUR/MW/h -> $/kW/h)
    return MarketData(f"seasonal:{season}", t["energy_price_eur_per_mwh"] * k,
                      t["reserve_capacity_price_eur_per_mw_h"] * k, t["reserve_call_price_eur_per_mwh"] * k,
                      t["call_probability"], t["load_pu"],
                      SEED000_NOMINAL_LOAD_KW if nominal_load_kw is None else nominal_load_kw)


def _from_file(path: Path, nominal_load_kw: float | None) -> MarketData:
    opt = ["load_scaling", "load_kw", "reserve_capacity_price_usd_per_kw", "reserve_call_price_usd_per_kwh",
           "call_probability"]
    tables, step_minutes = read_step_table(path, ["energy_price_usd_per_kwh"], opt, nonneg=["load_scaling", "load_kw"],
                                           probability=["call_probability"], only=True)
    t = tables[""]
    n = len(t["energy_price_usd_per_kwh"])
    base = SEED000_NOMINAL_LOAD_KW if nominal_load_kw is None else nominal_load_kw
    if "load_scaling" in t:
        scaling = t["load_scaling"]
    elif "load_kw" in t:
        scaling = t["load_kw"] / base
    else:
        scaling = np.ones(n)
    zero = np.zeros(n)
    return MarketData(path.stem, t["energy_price_usd_per_kwh"], t.get("reserve_capacity_price_usd_per_kw", zero),
                      t.get("reserve_call_price_usd_per_kwh", zero.copy()), t.get("call_probability", zero.copy()),
                      scaling, base, step_minutes=step_minutes)


SIMBENCH_PROFILE = "simbench"


def _simbench(price_name: str, network: str | None, near, season: str | None, nominal_load_kw: float | None,
              data_dir: Path, step_minutes: int) -> MarketData:
    """Profile "simbench[:<price profile>]": the SimBench grid's own per-element profiles at `step_minutes` (native
    15-minute values, or their means), prices from elsewhere (resampled to the step)."""
    from cosim.networks import load_network  # noqa: PLC0415 - pandapower and simbench only for this profile
    from cosim.networks.simbench import PREFIX, element_profiles  # noqa: PLC0415

    if not isinstance(network, str) or not network.startswith(PREFIX):
        raise ProfileError(f"market profile {SIMBENCH_PROFILE!r} takes the grid's own SimBench profiles: the "
                           f"network must be 'simbench:<code>', got {network!r}")
    if price_name == SIMBENCH_PROFILE or price_name.startswith(SIMBENCH_PROFILE + ":"):
        raise ProfileError(f"market profile 'simbench:{price_name}': name a price profile after 'simbench:'")
    try:
        grid = load_network(network, near=near)
        prof = element_profiles(network[len(PREFIX):], step_minutes)
    except ValueError as exc:  # NetworkDataError
        raise ProfileError(f"market profile {SIMBENCH_PROFILE!r}: {exc}") from None
    net = grid.net
    n_steps = prof.n_steps
    bus_p = np.zeros((n_steps, grid.n_bus))
    bus_q = np.zeros((n_steps, grid.n_bus))
    loads_kw = np.zeros(n_steps)  # the loads alone: load_scaling stays >= 0 where generation exceeds load
    loads_base_kw = 0.0
    for table, p_mw, q_mvar, sign in (("load", prof.load_p_mw, prof.load_q_mvar, 1.0),
                                      ("sgen", prof.sgen_p_mw, prof.sgen_q_mvar, -1.0)):
        df = net[table]
        for j, (bus, scaling, on) in enumerate(zip(df.bus, df.scaling, df.in_service)):
            k = grid.position_of_bus.get(int(bus))
            if on and k is not None:
                bus_p[:, k] += sign * 1000.0 * float(scaling) * p_mw[:, j]
                bus_q[:, k] += sign * 1000.0 * float(scaling) * q_mvar[:, j]
                if table == "load":
                    loads_kw += 1000.0 * float(scaling) * p_mw[:, j]
                    loads_base_kw += 1000.0 * float(scaling) * float(df.p_mw.iloc[j])
    prices = load_market(price_name, season=season, data_dir=data_dir, step_minutes=step_minutes)
    idx = np.arange(n_steps) % prices.n_steps
    nominal = loads_base_kw if nominal_load_kw is None or nominal_load_kw <= 0 else float(nominal_load_kw)
    return MarketData(
        f"{SIMBENCH_PROFILE}:{prices.name}", prices.energy_price[idx], prices.reserve_capacity_price[idx],
        prices.reserve_call_price[idx], prices.call_probability[idx], loads_kw / nominal, nominal,
        {"load_p_mw": prof.load_p_mw, "load_q_mvar": prof.load_q_mvar, "sgen_p_mw": prof.sgen_p_mw,
         "sgen_q_mvar": prof.sgen_q_mvar}, bus_p, bus_q, step_minutes)


def load_market(name_or_path: str | Path, season: str | None = None, days: int | None = None,
                start_day: int = 0, nominal_load_kw: float | None = None,
                data_dir: str | Path | None = None, network: str | None = None,
                near: str | Path | None = None, step_minutes: int = 60) -> MarketData:
    """MarketData for a named profile or a CSV path in steps of `step_minutes` (60, 30 or 15); with `days`, exactly
    days x steps_per_day steps from `start_day`.

    `nominal_load_kw` sets what load_scaling = 1 means in kW (default 3715 kW, the IEEE 33-bus; for "simbench"
    the network's base net load). `network` (and `near`, the scenario's folder) name the grid whose own
    profiles "simbench" reads. Hourly data are held over the steps of each hour; a profile whose step neither
    divides `step_minutes` nor is a multiple of it is refused (one line naming the file).
    """
    try:
        check_step_minutes(step_minutes)
    except StepError as exc:
        raise ProfileStepError(f"market profile {str(name_or_path)!r}: {exc}") from None
    ddir = Path(data_dir) if data_dir is not None else DATA_DIR
    name = str(name_or_path)
    if name == SIMBENCH_PROFILE or name.startswith(SIMBENCH_PROFILE + ":"):
        md = _simbench(name.partition(":")[2] or "seed000", network, near, season, nominal_load_kw, ddir,
                       step_minutes)
    elif name == "seed000":
        md = _seed000(ddir, nominal_load_kw)
    elif name == "seasonal" or name.startswith("seasonal:"):
        s = name.partition(":")[2] or season
        if not s:
            raise ProfileError(f"profile {name!r} needs a season: one of {', '.join(SEASONS)}")
        if season is not None and s != season:
            raise ProfileError(f"profile {name!r} conflicts with season={season!r}")
        md = _seasonal(ddir, s, nominal_load_kw)
    elif name.endswith(".csv") or Path(name).exists():
        md = _from_file(Path(name), nominal_load_kw)
    else:
        raise ProfileError(f"unknown market profile {name!r}; use 'seed000', "
                           f"'seasonal:<{'|'.join(SEASONS)}>', 'simbench[:<price profile>]' or a path to a .csv file")
    if days is not None:
        if int(days) < 1:
            raise ProfileError(f"days must be >= 1, got {days}")
        if int(start_day) < 0:
            raise ProfileError(f"start_day must be >= 0, got {start_day}")
    try:
        md = md.at_step(step_minutes)
    except StepError as exc:
        raise ProfileStepError(f"market profile {name}: {exc}; allowed: a profile step that divides "
                           f"{step_minutes} minutes or is a multiple of it") from None
    if days is not None:
        md = md.window(md.steps_per_day * int(start_day), md.steps_per_day * int(days))
    return md
