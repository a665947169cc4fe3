"""Fleet generators and loaders: a list of :class:`EV` visits from a seeded stochastic model (seed 003
style) or a CSV file.

Stochastic model (reconstructed from seed 003 §II.B, which gives the ingredients but not the numbers):
arrival and departure times are normal per day (workplace lot by default), daily driven distance is
lognormal, each EV belongs to a battery class (capacity kWh, charger kW, consumption kWh/km, share).
The EV arrives with ``1 - distance * consumption / capacity`` (clipped to ``[soc_floor, 1]``), and its
contract asks for ``contract_soc`` unless that cannot be reached with a dedicated charger in its stay, in
which case the contract is the reachable SOC (owners sign what the lot can deliver). The default classes
are illustrative (seed 003 cites 24 classes from its ref. [14] without listing them).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from cosim.errors import InputError

from .ev import EV, EVSpecError


class FleetFileError(InputError):
    """A fleet CSV file is malformed; the message names the file, row and field."""


@dataclass(frozen=True)
class BatteryClass:
    """One PEV battery class: usable capacity (kWh), charger power (kW), consumption (kWh/km), share."""

    capacity_kwh: float
    charger_kw: float
    kwh_per_km: float
    share: float


DEFAULT_CLASSES: tuple[BatteryClass, ...] = (
    BatteryClass(24.0, 7.4, 0.15, 0.25),   # small city car
    BatteryClass(40.0, 11.0, 0.16, 0.35),  # compact
    BatteryClass(60.0, 11.0, 0.18, 0.25),  # mid-size
    BatteryClass(80.0, 22.0, 0.20, 0.15),  # large
)


def _minutes(hours: np.ndarray) -> np.ndarray:
    return np.round(hours * 60.0) / 60.0


def stochastic_fleet(
    n_per_day: int,
    *,
    seed: int | np.random.Generator = 0,
    days: int = 1,
    arrival_mean_h: float = 8.0,
    arrival_std_h: float = 1.5,
    departure_mean_h: float = 17.5,
    departure_std_h: float = 1.5,
    min_stay_h: float = 0.5,
    distance_lognormal: tuple[float, float] = (np.log(30.0), 0.6),
    classes: Sequence[BatteryClass] = DEFAULT_CLASSES,
    contract_soc: float = 0.8,
    soc_floor: float = 0.05,
    v2g_share: float = 0.7,
    soc_min: float = 0.2,
    eta_charge: float = 0.95,
    eta_discharge: float = 0.95,
) -> list[EV]:
    """Seeded stochastic fleet of ``n_per_day`` EVs for each of ``days`` days, sorted by arrival.

    ``distance_lognormal`` = (mu, sigma) of ln(km/day). Same seed, same fleet; different seed, different fleet.
    """
    if n_per_day < 0 or days < 1:
        raise ValueError(f"n_per_day must be >= 0 and days >= 1, got {n_per_day}, {days}")
    shares = np.array([c.share for c in classes], dtype=float)
    if len(classes) == 0 or np.any(shares < 0) or shares.sum() <= 0:
        raise ValueError("classes must be a non-empty list of BatteryClass with non-negative shares")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = n_per_day * days
    day = np.repeat(np.arange(days), n_per_day).astype(float)
    arr = np.clip(rng.normal(arrival_mean_h, arrival_std_h, n), 0.0, 24.0 - min_stay_h)
    dep = np.clip(rng.normal(departure_mean_h, departure_std_h, n), arr + min_stay_h, 24.0)
    arr, dep = _minutes(arr + 24.0 * day), _minutes(dep + 24.0 * day)
    dep = np.maximum(dep, arr + 1.0 / 60.0)
    cls = rng.choice(len(classes), size=n, p=shares / shares.sum())
    cap = np.array([c.capacity_kwh for c in classes])[cls]
    chg = np.array([c.charger_kw for c in classes])[cls]
    cons = np.array([c.kwh_per_km for c in classes])[cls]
    dist = rng.lognormal(distance_lognormal[0], distance_lognormal[1], n)
    soc_arr = np.clip(1.0 - dist * cons / cap, soc_floor, 1.0)
    reach = np.minimum(1.0, soc_arr + chg * eta_charge * (dep - arr) / cap)
    contract = np.minimum(contract_soc, reach)
    contract = np.floor(contract * 1e9) / 1e9  # keep the contract strictly reachable despite rounding
    v2g = rng.random(n) < v2g_share
    order = np.argsort(arr, kind="stable")
    return [
        EV(f"ev{i:06d}", float(arr[k]), float(dep[k]), float(cap[k]), float(chg[k]), float(soc_arr[k]),
           float(contract[k]), bool(v2g[k]), soc_min if v2g[k] else 0.0, eta_charge, eta_discharge)
        for i, k in enumerate(order)
    ]


_CSV_FIELDS = {f.name: f for f in fields(EV)}
_CSV_REQUIRED = ("id", "arrival_h", "departure_h", "capacity_kwh", "charger_kw", "soc_arrival")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


MAX_FLEET_ROWS = 4_000_000
"""EV visits in one fleet CSV, and in all of a scenario's lots together (`cosim.config`): a city of 10,000 EVs a
day for a year is 3.65 million rows. Counted before the file is parsed (`count_fleet_rows`, streaming), so a
larger file is refused with one line before its memory is used; docs/INPUT_LIMITS.md measures what loading
that many rows takes."""

_CHUNK_BYTES = 1 << 20


def count_fleet_rows(path: str | Path) -> int:
    """Lines of a fleet CSV after its header (an upper bound of its EV rows: blank lines and line breaks inside
    quoted fields count too), read in 1 MiB chunks: the count costs no memory whatever the file's size."""
    path = Path(path)
    lines, last = 0, b""
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK_BYTES):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError as exc:
        raise FleetFileError(f"{path}: cannot read fleet file ({exc.strerror})") from None
    if last not in (b"\n", b""):
        lines += 1  # a last line without its line break
    return max(lines - 1, 0)


def check_fleet_rows(path: str | Path) -> int:
    """The counted rows of `path` (`count_fleet_rows`), refused beyond `MAX_FLEET_ROWS` with one line."""
    n = count_fleet_rows(path)
    if n > MAX_FLEET_ROWS:
        raise FleetFileError(f"{path}: {n:,} lines of EVs after the header; allowed: at most {MAX_FLEET_ROWS:,} "
                             "(a year of 10,000 EVs a day; split the fleet among lots or shorten the period)")
    return n


def load_fleet_csv(path: str | Path) -> list[EV]:
    """Read EVs from a CSV file with a header naming EV fields (id, arrival_h, departure_h, capacity_kwh,
    charger_kw, soc_arrival required; soc_min_departure, v2g_allowed, soc_min, eta_charge, eta_discharge
    optional). Errors name the file, the row (1 = header) and the field. The rows are counted first (at most
    `MAX_FLEET_ROWS`), then read one at a time: the text of the file is never held whole."""
    path = Path(path)
    check_fleet_rows(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:  # utf-8-sig: spreadsheets write a BOM
            return _parse_fleet_rows(path, csv.DictReader(f))
    except OSError as exc:
        raise FleetFileError(f"{path}: cannot read fleet file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise FleetFileError(f"{path}: not a UTF-8 text CSV file ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise FleetFileError(f"{path}: not a readable CSV file ({exc})") from None


def _parse_fleet_rows(path: Path, reader: csv.DictReader) -> list[EV]:
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in _CSV_REQUIRED if f not in header]
    unknown = [h for h in header if h not in _CSV_FIELDS]
    if missing or unknown:
        raise FleetFileError(f"{path}: row 1 (header): missing columns {missing}, unknown columns {unknown}; "
                             f"allowed: {list(_CSV_FIELDS)}")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise FleetFileError(f"{path}: row 1 (header): column(s) {twice} appear more than once")
    evs, seen = [], set()
    for row_no, raw in enumerate(reader, start=2):
        if None in raw:  # more fields than the header has columns: refused, not dropped
            raise FleetFileError(f"{path}: row {row_no}: {len(raw[None])} field(s) more than the header's "
                                 f"{len(header)} column(s) {header}")
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        kwargs: dict[str, object] = {}
        for name, value in row.items():
            if name in ("id", "vehicle_id"):
                kwargs[name] = value
            elif name == "v2g_allowed":
                if value.lower() not in _TRUE | _FALSE:
                    raise FleetFileError(f"{path}: row {row_no}, field v2g_allowed: {value!r} is not a boolean")
                kwargs[name] = value.lower() in _TRUE
            elif value != "" or name in _CSV_REQUIRED:
                try:
                    kwargs[name] = float(value)
                except ValueError:
                    raise FleetFileError(f"{path}: row {row_no}, field {name}: {value!r} is not a number") from None
        try:
            ev = EV(**kwargs)  # type: ignore[arg-type]
        except EVSpecError as exc:
            raise FleetFileError(f"{path}: row {row_no}: {exc}") from None
        if ev.id in seen:
            raise FleetFileError(f"{path}: row {row_no}, field id: duplicate EV id {ev.id!r}")
        seen.add(ev.id)
        evs.append(ev)
    return evs


def save_fleet_csv(evs: Sequence[EV], path: str | Path) -> None:
    """Write EVs to a CSV file that :func:`load_fleet_csv` reads back."""
    names = list(_CSV_FIELDS)
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for ev in evs:
            writer.writerow([repr(getattr(ev, n)) if isinstance(getattr(ev, n), float) else getattr(ev, n)
                             for n in names])
