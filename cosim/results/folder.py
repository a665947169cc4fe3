"""A run's results folder: the file names, the raw readers (`RunFolder`) and `load_run` for users (`Run`).

Files hold the start of each step in hours: `hour` is the hours since the run's start, each row covering
[hour, hour + step_h) ("step beginning"); integers at the default 60-minute step, 0, 0.25, 0.5, ... at 15 minutes.
The step is the manifest's `step_minutes` (`RunFolder.step_minutes`; a folder written before it was recorded is
hourly). `load_run` turns hours into timestamps: the scenario's `[output] start_date` (default
`DEFAULT_START_DATE`) at 00:00 plus `hour` hours, as a DatetimeIndex named `time`. Tables are CSV, streamed
while the run goes; a run with `[output] format = "parquet"` converts them to <table>.parquet at its end.
Both are read the same way.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from cosim.errors import InputError
from cosim.textio import atomic_write_bytes, atomic_write_text, to_jsonable

__all__ = ["DEFAULT_START_DATE", "ERROR", "KPIS", "MANIFEST", "PLANS", "TABLES", "TRACEBACKS", "Run", "RunFolder",
           "compact_sessions", "load_run"]

MANIFEST = "manifest.json"
KPIS = "kpis.json"
PLANS = "plans.jsonl"
ERROR = "error.txt"
TRACEBACKS = "tracebacks.txt"
"""One block per planning fallback, appended as the run goes: "=== hour H: planning fallback ===", "cause: ..." (the
exception or the rule, and the user's file:line), then the traceback (or why there is none) and a blank line."""
TABLES = ("grid", "bus_voltages", "lines", "lots", "evs", "plo", "prices", "messages", "events",
          "plo_ledger", "plan_vs_reality")
"""Tables a run folder may hold (<name>.csv or <name>.parquet): recorded hour by hour, or written by
post-processing. Every column is described in results/README.md (a test checks it). The DSO records no table of
its own: its decisions are in plans.jsonl, messages.csv and events.csv."""
BOOL_COLUMNS = {"grid": ("converged",), "lines": ("in_service",), "evs": ("v2g_allowed", "contract_met"),
                "messages": ("delivered",)}
"""True / False columns, read as pandas' nullable `boolean` (an empty cell: unknown), CSV or Parquet alike."""
LIST_COLUMNS = {"grid": ("open_branches",)}
"""Columns holding a list of integers: JSON text in CSV (one cell), a list in Parquet; read as Python lists."""
RENAMED = {"evs": {"energy_delivered_kwh": "energy_delivered_grid_kwh",
                   "energy_discharged_kwh": "energy_discharged_grid_kwh"}}
"""Columns of runs written before a rename: read under their new names."""
TABLE_SUFFIXES = (".parquet", ".csv")
DEFAULT_START_DATE = "2024-01-01"
"""Calendar date of hour 0 when the scenario gives no `[output] start_date` (a label only)."""
SESSION_KEYS = ("lot_id", "ev_id")
_TRACEBACK_HEADER = re.compile(r"=== hour (\d+(?:\.\d+)?): planning fallback ===$")  # 23.75 at 15 minutes


class RunFolder:
    """A run's results folder: where each file is and how to read it, as recorded (hours as numbers, no index).
    Tables are also attributes (`folder.grid`, `folder.lots`, ...): a DataFrame, empty when the run did not
    write that table. `load_run` gives the same tables with timestamps (`Run`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def table_path(self, table: str) -> Path:
        """The table's file: <table>.parquet when the run converted it, else <table>.csv (which may not exist)."""
        parquet = self.path / f"{table}.parquet"
        return parquet if parquet.is_file() else self.path / f"{table}.csv"

    def has(self, table: str) -> bool:
        return self.table_path(table).is_file()

    def table(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The table as a DataFrame (empty when missing or empty); `columns` reads only those."""
        path = self.table_path(table)
        if not path.is_file():
            return pd.DataFrame()
        if path.suffix == ".parquet":
            return typed(table, pd.read_parquet(path, columns=columns))
        try:
            return typed(table, pd.read_csv(path, usecols=columns))
        except pd.errors.EmptyDataError:
            return pd.DataFrame()

    def __getattr__(self, name: str) -> Any:
        if name in TABLES:
            return self.table(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def plans(self) -> list[dict[str, Any]]:
        """The day-ahead plans, one per day (the last revision of each negotiation)."""
        path = self.file(PLANS)
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def tracebacks(self) -> list[dict[str, Any]]:
        """The planning fallbacks' blocks of tracebacks.txt, in order: {"hour", "cause", "text"} (text: the whole
        block); empty when the run had none."""
        path = self.file(TRACEBACKS)
        if not path.is_file():
            return []
        blocks: list[dict[str, Any]] = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
            match = _TRACEBACK_HEADER.match(line)
            if match:
                blocks.append({"hour": hour_number(match.group(1)), "cause": "", "text": line})
            elif blocks:
                blocks[-1]["text"] += line
                if line.startswith("cause: ") and not blocks[-1]["cause"]:
                    blocks[-1]["cause"] = line[len("cause: "):].rstrip("\n")
        for block in blocks:
            block["text"] = block["text"].rstrip("\n") + "\n"
        return blocks

    def _json(self, name: str) -> dict[str, Any]:
        path = self.file(name)
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def manifest(self) -> dict[str, Any]:
        return self._json(MANIFEST)

    @property
    def kpis(self) -> dict[str, Any]:
        return self._json(KPIS)

    @property
    def start_date(self) -> pd.Timestamp:
        """Midnight of the date of hour 0: the scenario's `[output] start_date`, else `DEFAULT_START_DATE`."""
        scenario = self.manifest.get("scenario") or {}
        date = (scenario.get("output") or {}).get("start_date", DEFAULT_START_DATE)
        return pd.Timestamp(date).normalize()

    @property
    def step_minutes(self) -> int:
        """The run's simulation step in minutes: the manifest's `step_minutes`, 60 for folders written before it
        was recorded (or without a readable manifest)."""
        try:
            value = self.manifest.get("step_minutes", 60)
        except (OSError, ValueError):
            return 60
        return int(value) if isinstance(value, int) and not isinstance(value, bool) and value in (60, 30, 15) else 60

    @property
    def step_h(self) -> float:
        """The run's step in hours (1.0, 0.5 or 0.25): what a step's kW are multiplied by to give its kWh."""
        return self.step_minutes / 60.0

    def events(self) -> list[dict[str, Any]]:
        return self.table("events").to_dict("records")

    def last_recorded_hour(self) -> float | None:
        """The start (in hours) of the last simulated step with a row in the grid table, None before the first: an
        int when it is a whole hour (always at 60-minute steps), else a float such as 23.75."""
        if not self.has("grid"):
            return None
        try:
            hours = self.table("grid", columns=["hour"])["hour"]
        except (ValueError, KeyError, pd.errors.EmptyDataError):
            return None
        return hour_number(hours.max()) if len(hours) else None

    def write_table(self, table: str, frame: pd.DataFrame) -> Path:
        """Write `frame` as <table>.csv, atomically (list columns as JSON text); a <table>.parquet of an earlier
        conversion is removed."""
        frame = frame.copy()
        for col in LIST_COLUMNS.get(table, ()):
            if col in frame:
                frame[col] = frame[col].map(_json_list)
        path = atomic_write_text(self.path / f"{table}.csv", frame.to_csv(index=False))
        (self.path / f"{table}.parquet").unlink(missing_ok=True)
        return path

    def write_json(self, name: str, obj: Any) -> Path:
        """Write `obj` as JSON, atomically (a reader never sees half a file)."""
        return atomic_write_text(self.path / name, json.dumps(to_jsonable(obj), indent=2))

    def convert_tables(self, fmt: str) -> list[Path]:
        """Rewrite every CSV table as <table>.parquet (fmt "parquet"; each file atomically, the CSV removed once
        its Parquet copy is whole); "csv" leaves the folder as it is. Returns the files written."""
        if fmt == "csv":
            return []
        if fmt != "parquet":
            raise InputError(f"table format {fmt!r} is not allowed; allowed: csv, parquet")
        written = []
        for table in TABLES:
            csv = self.path / f"{table}.csv"
            if not csv.is_file():
                continue
            frame = self.table(table)
            path = atomic_write_bytes(self.path / f"{table}.parquet", frame.to_parquet(index=False))
            csv.unlink()
            written.append(path)
        return written


def hour_number(value: Any) -> float:
    """An hour as written to tables and the manifest: an int when whole (60-minute steps stay byte-identical), else
    a float (0.25)."""
    number = float(value)
    return int(number) if number.is_integer() else number


def as_int_list(value: Any) -> list[int] | None:
    """A list cell (grid's `open_branches`) from JSON text (CSV), an array (Parquet) or a list; None when unknown;
    a ValueError when it is not a list of whole numbers."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    cells = json.loads(value) if isinstance(value, str) else value
    if isinstance(cells, (str, bytes, dict)) or not hasattr(cells, "__iter__"):
        raise ValueError(f"open branches {value!r} are not a list of branch numbers")
    return [int(v) for v in cells]


def _json_list(value: Any) -> Any:
    cells = as_int_list(value)
    return None if cells is None else json.dumps(cells)


def typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A table as read, with the columns of runs before a rename under their new names (`RENAMED`), True / False
    columns as nullable booleans (`BOOL_COLUMNS`) and list columns as lists (`LIST_COLUMNS`)."""
    if frame.empty:
        return frame
    frame = frame.rename(columns={old: new for old, new in RENAMED.get(table, {}).items()
                                  if old in frame and new not in frame})
    for col in BOOL_COLUMNS.get(table, ()):
        if col in frame and frame[col].dtype != "boolean":
            values = frame[col].map(lambda v: None if v is None or (isinstance(v, float) and v != v)
                                    else (v if isinstance(v, bool) else str(v).strip().lower() == "true"))
            frame[col] = values.astype("boolean")
    for col in LIST_COLUMNS.get(table, ()):
        if col in frame:
            frame[col] = frame[col].map(as_int_list).astype(object)
    return frame


def compact_sessions(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-EV visits table from the rows the lots sent hour by hour (an EV's row each hour it was in the
    lot, with the `hour` the recorder added): the last row of each visit, ordered by arrival."""
    if rows.empty or not set(SESSION_KEYS) <= set(rows.columns):
        return rows
    last = rows.drop_duplicates(list(SESSION_KEYS), keep="last").drop(columns=["hour"], errors="ignore")
    order = [c for c in ("arrival_h", *SESSION_KEYS) if c in last.columns]
    return last.sort_values(order, kind="stable").reset_index(drop=True)


class Run:
    """A run's results as pandas objects: what `cosim.load_run(path)` returns.

    Per-step tables (`grid`, `lots`, `prices`, `plo`, `plo_ledger`, `plan_vs_reality`, `messages`, `events`) have a
    DatetimeIndex `time` (the step's beginning, from `start_date`) and keep the `hour` column (the step's start in
    hours: integers at 60-minute steps, `step_minutes` in the manifest).
    `bus_voltages` (time, hour, bus, vm_pu) and `lines` (time, hour, branch, ..., loading_percent) are in long form.
    `evs` has one row per EV visit, with `arrival` and `departure` as timestamps. `plans` has one row per day-ahead
    plan (indexed by the day's start), `kpis` and `manifest` are dicts, `tracebacks` the planning fallbacks' blocks
    of tracebacks.txt (`RunFolder.tracebacks`). Missing tables are
    empty DataFrames. `folder` reads the files as recorded (`RunFolder`).
    """

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self.path = folder.path

    def __repr__(self) -> str:
        status = self.manifest.get("status", "?")
        return f"Run({str(self.path)!r}, status={status!r}, tables={self.tables()})"

    def tables(self) -> list[str]:
        """The tables this run wrote."""
        return [t for t in TABLES if self.folder.has(t)]

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return self.folder.manifest

    @cached_property
    def kpis(self) -> dict[str, Any]:
        return self.folder.kpis

    @cached_property
    def start_date(self) -> pd.Timestamp:
        return self.folder.start_date

    @cached_property
    def step_minutes(self) -> int:
        """The run's simulation step (60, 30 or 15 minutes; 60 for folders written before it was recorded)."""
        return self.folder.step_minutes

    def timestamps(self, hours: Any) -> pd.DatetimeIndex:
        """Hours since the run's start (numbers) as timestamps: `start_date` + hours."""
        return pd.DatetimeIndex(self.start_date + pd.to_timedelta(pd.Series(hours, dtype=float), unit="h"),
                                name="time")

    def _hourly(self, table: str) -> pd.DataFrame:
        frame = self.folder.table(table)
        if frame.empty or "hour" not in frame:
            return frame
        if table == "plo_ledger" and "lot_id" in frame and "id" not in frame:
            frame = frame.rename(columns={"lot_id": "id"})  # written before the tables agreed on `id`
        first = [c for c in ("hour", "id") if c in frame]
        frame = frame[first + [c for c in frame.columns if c not in first]]
        return frame.set_index(self.timestamps(frame["hour"]))

    grid = cached_property(lambda self: self._hourly("grid"))
    lots = cached_property(lambda self: self._hourly("lots"))
    prices = cached_property(lambda self: self._hourly("prices"))
    plo = cached_property(lambda self: self._hourly("plo"))
    plo_ledger = cached_property(lambda self: self._hourly("plo_ledger"))
    plan_vs_reality = cached_property(lambda self: self._hourly("plan_vs_reality"))
    messages = cached_property(lambda self: self._hourly("messages"))
    events = cached_property(lambda self: self._hourly("events"))
    tracebacks = cached_property(lambda self: self.folder.tracebacks())  # planning fallbacks' tracebacks.txt blocks
    lines = cached_property(lambda self: self._hourly("lines"))

    @cached_property
    def bus_voltages(self) -> pd.DataFrame:
        """Long form: one row per hour and bus (1-based), `vm_pu`."""
        frame = self.folder.table("bus_voltages")
        if frame.empty or "hour" not in frame:
            return frame
        if "bus" not in frame:  # wide (v1..vN), as written before the long form
            frame = frame.melt(id_vars="hour", var_name="bus", value_name="vm_pu")
            frame["bus"] = frame["bus"].str.lstrip("v").astype(int)
            frame = frame.sort_values(["hour", "bus"], kind="stable").reset_index(drop=True)
        return frame.set_index(self.timestamps(frame["hour"]))

    @cached_property
    def evs(self) -> pd.DataFrame:
        """One row per EV visit (see results/README.md), `arrival` / `departure` as timestamps."""
        frame = compact_sessions(self.folder.table("evs"))
        if frame.empty:
            return frame
        for col in ("arrival", "departure"):
            if f"{col}_h" in frame:
                frame.insert(frame.columns.get_loc(f"{col}_h"), col, self.timestamps(frame[f"{col}_h"]).to_numpy())
        return frame

    @cached_property
    def plans(self) -> pd.DataFrame:
        """One row per day-ahead plan, indexed by the day's start: `day_start_hour`, controller, exchange, open
        branches and lot buses (lists / dicts), feasible, the predicted KPIs as `predicted_<name>` and the plan's
        `info` as `info_<name>`; the hourly predictions and setpoints stay in `folder.plans()`."""
        rows = []
        for plan in self.folder.plans():
            row = {k: v for k, v in plan.items() if k not in ("predicted", "info", "predicted_hourly", "setpoints_kw",
                                                               "history")}
            row.update({f"predicted_{k}": v for k, v in (plan.get("predicted") or {}).items()})
            row.update({f"info_{k}": v for k, v in (plan.get("info") or {}).items()})
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty or "day_start_hour" not in frame:
            return frame
        return frame.set_index(self.timestamps(frame["day_start_hour"]))


def load_run(path: str | Path) -> Run:
    """Open a run folder (results/<scenario>-<timestamp>/) as a `Run`; an `InputError` when `path` is not one."""
    folder = RunFolder(path)
    if not folder.path.is_dir() or not folder.file(MANIFEST).is_file():
        raise InputError(f"{folder.path} is not a run folder (no {MANIFEST}); run folders live under results/")
    return Run(folder)
