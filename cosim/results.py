"""One folder per run under results/: hourly CSV tables appended as the run goes (an interrupted run keeps
what it recorded), JSON-lines day-ahead plans, and a manifest that says how the run ended.

`RunFolder` owns the folder's file names and readers (tables, plans, manifest, KPIs, last recorded hour);
`load_run(path)` opens one. `RunWriter` appends to it while a run goes.
"""

from __future__ import annotations

import csv
import json
import platform
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from cosim.errors import InputError
from cosim.textio import atomic_write_text, to_jsonable

MANIFEST = "manifest.json"
KPIS = "kpis.json"
PLANS = "plans.jsonl"
ERROR = "error.txt"
TABLES = ("grid", "bus_voltages", "lots", "plo", "prices", "dso", "messages", "events", "plo_ledger", "plan_vs_reality")
"""Tables a run folder may hold (<name>.csv): recorded hour by hour, or written by post-processing."""


class RunFolder:
    """A run's results folder: where each file is and how to read it. Tables are also attributes
    (`folder.grid`, `folder.lots`, ...): a DataFrame, empty when the run did not write that table."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def table_path(self, table: str) -> Path:
        return self.path / f"{table}.csv"

    def has(self, table: str) -> bool:
        return self.table_path(table).is_file()

    def table(self, table: str) -> pd.DataFrame:
        """The table as a DataFrame (empty when missing or empty)."""
        path = self.table_path(table)
        if not path.is_file():
            return pd.DataFrame()
        try:
            return pd.read_csv(path)
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

    def _json(self, name: str) -> dict[str, Any]:
        path = self.file(name)
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def manifest(self) -> dict[str, Any]:
        return self._json(MANIFEST)

    @property
    def kpis(self) -> dict[str, Any]:
        return self._json(KPIS)

    def events(self) -> list[dict[str, Any]]:
        return self.table("events").to_dict("records")

    def last_recorded_hour(self) -> int | None:
        """The last simulated hour with a row in grid.csv, None before the first."""
        if not self.has("grid"):
            return None
        try:
            hours = pd.read_csv(self.table_path("grid"), usecols=["hour"])["hour"]
        except (ValueError, pd.errors.EmptyDataError):
            return None
        return int(hours.max()) if len(hours) else None

    def write_table(self, table: str, frame: pd.DataFrame) -> Path:
        path = self.table_path(table)
        frame.to_csv(path, index=False)
        return path

    def write_json(self, name: str, obj: Any) -> Path:
        """Write `obj` as JSON, atomically (a reader never sees half a file)."""
        return atomic_write_text(self.path / name, json.dumps(to_jsonable(obj), indent=2))


def load_run(path: str | Path) -> RunFolder:
    """Open a run folder (results/<scenario>-<timestamp>/); an `InputError` when `path` is not one."""
    folder = RunFolder(path)
    if not folder.path.is_dir() or not folder.file(MANIFEST).is_file():
        raise InputError(f"{folder.path} is not a run folder (no {MANIFEST}); run folders live under results/")
    return folder


class RunWriter:
    """Appends rows to results/<run-id>/<table>.csv, flushing each hour; writes plans and the manifest."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, Any] = {}
        self._writers: dict[str, csv.DictWriter] = {}

    def append(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if table not in self._writers:
            fh = open(self.run_dir / f"{table}.csv", "w", newline="")
            fields = list(dict.fromkeys(k for row in rows for k in row))
            self._files[table] = fh
            self._writers[table] = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            self._writers[table].writeheader()
        writer = self._writers[table]
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        self._files[table].flush()

    def append_plan(self, plan: dict[str, Any]) -> None:
        with open(self.run_dir / PLANS, "a") as fh:
            fh.write(json.dumps(to_jsonable(plan)) + "\n")

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        self._writers.clear()


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(to_jsonable(value))
    return to_jsonable(value)


def new_run_dir(output_dir: str | Path, scenario_name: str) -> Path:
    """results/<scenario>-<UTC timestamp>[-n], never reusing an existing folder."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path(output_dir) / f"{scenario_name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    path.mkdir(parents=True)
    return path


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("mosaik", "mosaik-api-v3", "pandapower", "simpy", "numpy", "pandas", "pymoo", "highspy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def start_manifest(run_dir: Path, scenario_raw: dict[str, Any], scenario_path: str | None, seed: int) -> dict:
    manifest = {"status": "running", "started_utc": datetime.now(timezone.utc).isoformat(), "scenario": scenario_raw,
                "scenario_file": scenario_path, "seed": seed, "versions": versions(), "git_commit": git_commit(),
                "_t0": time.perf_counter()}
    RunFolder(run_dir).write_json(MANIFEST, {k: v for k, v in manifest.items() if not k.startswith("_")})
    return manifest


def finish_manifest(run_dir: Path, manifest: dict, status: str, last_hour: int | None, error: str | None = None,
                    extra: dict | None = None) -> None:
    manifest = dict(manifest)
    manifest.update({"status": status, "last_recorded_hour": last_hour, "error": error,
                     "wall_s": round(time.perf_counter() - manifest.pop("_t0"), 3),
                     "finished_utc": datetime.now(timezone.utc).isoformat(), **(extra or {})})
    RunFolder(run_dir).write_json(MANIFEST, manifest)
