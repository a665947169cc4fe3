"""Writing a run folder while the run goes: CSV tables appended hour by hour (an interrupted run keeps what it
recorded), JSON-lines plans, and a fresh folder for each run."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cosim.results.folder import PLANS
from cosim.textio import to_jsonable

__all__ = ["RunWriter", "new_run_dir"]


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
