"""One folder per run under results/: hourly CSV tables appended as the run goes (an interrupted run keeps
what it recorded), JSON-lines day-ahead plans, and a manifest that says how the run ended."""

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

from cosim.exchange.messages import to_jsonable

TABLES = ("grid", "bus_voltages", "lots", "plo", "prices", "messages")


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
            fh = open(self.run_dir / f"{table}.csv", "w", newline="")  # noqa: SIM115 - kept open for the run
            fields = list(dict.fromkeys(k for row in rows for k in row))
            self._files[table] = fh
            self._writers[table] = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            self._writers[table].writeheader()
        writer = self._writers[table]
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        self._files[table].flush()

    def append_json_line(self, name: str, obj: Any) -> None:
        with open(self.run_dir / name, "a") as fh:
            fh.write(json.dumps(to_jsonable(obj)) + "\n")

    def write_json(self, name: str, obj: Any) -> None:
        tmp = self.run_dir / f".{name}.tmp"
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2))
        tmp.replace(self.run_dir / name)

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
    RunWriter(run_dir).write_json("manifest.json", {k: v for k, v in manifest.items() if not k.startswith("_")})
    return manifest


def finish_manifest(run_dir: Path, manifest: dict, status: str, last_hour: int | None, error: str | None = None,
                    extra: dict | None = None) -> None:
    manifest = dict(manifest)
    manifest.update({"status": status, "last_recorded_hour": last_hour, "error": error,
                     "wall_s": round(time.perf_counter() - manifest.pop("_t0"), 3),
                     "finished_utc": datetime.now(timezone.utc).isoformat(), **(extra or {})})
    RunWriter(run_dir).write_json("manifest.json", manifest)
