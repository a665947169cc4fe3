"""A run's results folder: the file names, the readers (`RunFolder`) and `load_run` for users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from cosim.errors import InputError
from cosim.textio import atomic_write_text, to_jsonable

__all__ = ["ERROR", "KPIS", "MANIFEST", "PLANS", "TABLES", "RunFolder", "load_run"]

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
