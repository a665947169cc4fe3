"""The run's manifest: what was run (scenario, seed, versions, commit) and how it ended (status, last hour)."""

from __future__ import annotations

import platform
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from cosim.results.folder import MANIFEST, RunFolder

__all__ = ["finish_manifest", "git_commit", "start_manifest", "versions"]


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
