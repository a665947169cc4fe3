"""The run's manifest: what was run (scenario, seed, versions, commit) and how it ended (status, last hour), and
what it produced (size and sha256 of every table, so a resumed sweep can tell a run's folder is still whole).

A manifest always tells the truth, however the run ends:

- `StopSignals`: installed by the command line (`cosim run`, `cosim sweep`), never by the library: SIGTERM (and
  SIGHUP) raise `Terminated` in the main thread, as Ctrl-C raises KeyboardInterrupt, so the run stops through
  the same `except` and finalises its manifest; a run (`current_stops()`) holds them back while its folder is
  made and while its final manifest is written, and records the exit code that manifest stands for.
- `reserve_space` keeps a little disk space aside from the start; `finish_manifest` frees it first, so the
  final manifest and error.txt still fit on a disk the run has filled. Should even that fail, a short
  manifest (status, last hour, error) is written over the first one in place, which needs no new space.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from cosim.results.folder import ERROR, KPIS, MANIFEST, PLANS, RunFolder
from cosim.textio import to_jsonable

__all__ = ["RESERVE", "SIGNALS", "StopSignals", "Terminated", "current_stops", "finish_manifest", "git_commit",
           "release_space", "reserve_space", "start_manifest", "stop_exception", "stop_signal", "table_checksums",
           "verify_run", "versions", "write_error_file"]

RESERVE = ".reserve"
"""A file of zeros the run keeps from its start and deletes before writing its final manifest."""
RESERVE_BYTES = 16 * 1024  # a final manifest of a few days' run and error.txt fit; longer ones fall back
CHECKSUM_KEY = "content_sha256"


# ---------------------------------------------------------------- signals


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP received: the run stops like on Ctrl-C (a KeyboardInterrupt, so every `except
    KeyboardInterrupt` that cleans up after Ctrl-C also does so here) and says which signal in its manifest."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_signal(exc: BaseException) -> int | None:
    """The signal a stop exception stands for (SIGINT for a plain KeyboardInterrupt), None for anything else."""
    if isinstance(exc, KeyboardInterrupt):
        return int(getattr(exc, "signum", signal.SIGINT))
    return None


def stop_exception(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal raises: KeyboardInterrupt for SIGINT, `Terminated` for the others."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals that stop a run (Ctrl-C, kill, a closed terminal)."""


RESEND_S = 0.02
"""How long after a stop lost in a callback it is sent again: enough for the callback to return to the caller."""

_INSTALLED: list["StopSignals"] = []  # the handlers in force in this process, innermost last


def current_stops() -> "StopSignals":
    """The `StopSignals` the command line installed in this process, or an inert one (used as a library: no handler
    is installed, a run holds and notes nothing; Ctrl-C arrives as Python's own KeyboardInterrupt)."""
    return _INSTALLED[-1] if _INSTALLED else StopSignals(raising=True, install=False)


class StopSignals:
    """Turns SIGINT, SIGTERM and SIGHUP into exceptions (`stop_exception`) in the main thread, or holds them.

    `with StopSignals() as stops:` installs the handlers (the previous ones come back on exit; a signal the process
    ignores stays ignored) and a `sys.unraisablehook` (`_unraisable`): a stop raised where Python can only print it
    (a ctypes callback, such as numba's cache loader; a finaliser) is delivered again instead of lost, and once a
    stop has come, what the objects it cut short print as they are collected is dropped (their exceptions, and their
    warnings, such as mosaik's "AsyncWorld was never shut down" for a world a stop cut short while it was built:
    `warnings.showwarning` is wrapped too), so a stopped process says one line, never a traceback. While "raising" a
    signal raises at once; while "held" it is only noted in `pending`, so a critical step (writing the final
    manifest) finishes, and the next `raising()` block raises it on entry. Every signal received is also in
    `received`. Outside the main thread it does nothing (signals only reach that one). `final_exit_code`: the exit
    code the last run's final manifest stands for (set by the run once its manifest is written). `exit_after=True`
    (a command that owns its process): on exit, instead of the previous handlers, a stop signal ends the process at
    once with `final_exit_code`, so no signal between the command's end and the interpreter's can turn a completed
    run into exit 143 or -15.
    """

    def __init__(self, raising: bool = True, install: bool = True, exit_after: bool = False) -> None:
        self._raising = raising
        self._install = install
        self._exit_after = exit_after
        self.received: list[int] = []
        self.pending: list[int] = []
        self.final_exit_code: int | None = None
        self._before: dict[int, Any] = {}
        self._hook_before: Any = None
        self._show_before: Any = None
        self._resent: set[int] = set()

    @property
    def installed(self) -> bool:
        """Whether this object's handlers are in force (False for the inert one of a library call)."""
        return self in _INSTALLED

    def _exit_now(self, signum: int, frame: Any) -> None:
        os._exit(self.final_exit_code if self.final_exit_code is not None else 128 + signum)

    def _handler(self, signum: int, frame: Any) -> None:
        if signum in self._resent:  # `_unraisable` sent it again: received once
            self._resent.discard(signum)
        else:
            self.received.append(signum)
        if self._raising:
            self._raising = False  # a second signal while this one unwinds is noted, not raised over it
            raise stop_exception(signum)
        self.pending.append(signum)

    def _unraisable(self, info: Any) -> None:
        """`sys.unraisablehook` while installed: a stop that Python could only print is sent again a moment later
        from another thread (sent from here it would be raised in this hook or the same callback again); once a
        stop was received, the rest is dropped (objects the stop cut short, such as a half-built asyncio loop,
        fail in their finalisers); else Python's own hook."""
        signum = stop_signal(info.exc_value) if info.exc_value is not None else None
        if signum is not None and signum in self.received:
            self._raising = True  # the handler had turned raising off for the unwinding that never happened
            self._resent.add(signum)
            resend = threading.Timer(RESEND_S, os.kill, (os.getpid(), signum))
            resend.daemon = True
            resend.start()
        elif not self.received:
            (self._hook_before or sys.__unraisablehook__)(info)

    def _showwarning(self, *args: Any, **kwargs: Any) -> None:
        """`warnings.showwarning` while installed: dropped once a stop was received (what the objects the stop cut
        short warn as they are collected), else the one before."""
        if not self.received:
            (self._show_before or _show_default)(*args, **kwargs)

    def __enter__(self) -> "StopSignals":
        if self._install and threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                old = signal.getsignal(s)
                if old is not signal.SIG_IGN:
                    self._before[s] = old
                    signal.signal(s, self._handler)
            self._hook_before = sys.unraisablehook
            sys.unraisablehook = self._unraisable
            self._show_before = warnings.showwarning
            warnings.showwarning = self._showwarning
            _INSTALLED.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, old in self._before.items():
            signal.signal(s, self._exit_now if self._exit_after else old if old is not None else signal.SIG_DFL)
        self._before.clear()
        if self in _INSTALLED:
            _INSTALLED.remove(self)
            if sys.unraisablehook == self._unraisable:  # a stopped process keeps it: collection goes on after this
                sys.unraisablehook = _drop_unraisable if self.received else self._hook_before
            if warnings.showwarning == self._showwarning:  # the same for warnings
                warnings.showwarning = _drop_warning if self.received else self._show_before

    def _mode(self, raising: bool) -> contextlib.AbstractContextManager:
        @contextlib.contextmanager
        def mode() -> Iterator[None]:
            before = self._raising
            if raising and self.pending:
                signum = self.pending[0]
                self.pending.clear()
                raise stop_exception(signum)
            self._raising = raising
            try:
                yield
            finally:
                self._raising = before
        return mode()

    def raising(self) -> contextlib.AbstractContextManager:
        """A block that a stop signal interrupts (one held back before it interrupts it on entry)."""
        return self._mode(True)

    def held(self) -> contextlib.AbstractContextManager:
        """A block that no stop signal interrupts (they wait in `pending`)."""
        return self._mode(False)


def _drop_unraisable(info: Any) -> None:
    """The hook a process keeps once a stop signal ended its command: it is stopping; finalisers stay quiet."""


def _drop_warning(*args: Any, **kwargs: Any) -> None:
    """The `warnings.showwarning` a process keeps once a stop signal ended its command (see `_drop_unraisable`)."""


_show_default = warnings.showwarning
"""Python's own `warnings.showwarning`, for a wrapper installed over nothing else."""


# ---------------------------------------------------------------- disk space


def reserve_space(run_dir: Path, nbytes: int = RESERVE_BYTES) -> None:
    """Set `nbytes` of disk space aside in run_dir/.reserve (real blocks, not a sparse file)."""
    path = run_dir / RESERVE
    with open(path, "wb", buffering=0) as fh:
        try:
            os.posix_fallocate(fh.fileno(), 0, nbytes)
        except (AttributeError, OSError):  # no fallocate here (tmpfs has it, some file systems do not): write
            fh.write(bytes(nbytes))


def release_space(run_dir: Path) -> None:
    try:
        (run_dir / RESERVE).unlink(missing_ok=True)
    except OSError:
        pass


# ---------------------------------------------------------------- manifest


def versions() -> dict[str, str]:
    """Python's and the main packages' versions (a copy: the lookup, ~40 ms, is made once per process)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
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


def start_manifest(run_dir: Path, scenario_raw: dict[str, Any], scenario_path: str | None, seed: int,
                   step_minutes: int = 60) -> dict:
    """The run's first manifest (status "running"); `step_minutes` is the simulation's step, at the top level so
    that postprocessing, figures and `load_run` read the step from the folder alone (`RunFolder.step_minutes`)."""
    manifest = {"status": "running", "started_utc": datetime.now(timezone.utc).isoformat(), "scenario": scenario_raw,
                "scenario_file": scenario_path, "seed": seed, "step_minutes": int(step_minutes), "pid": os.getpid(),
                "versions": versions(), "git_commit": git_commit(), "_t0": time.perf_counter()}
    RunFolder(run_dir).write_json(MANIFEST, {k: v for k, v in manifest.items() if not k.startswith("_")})
    return manifest


def _is_table(path: Path) -> bool:
    return path.is_file() and (path.suffix in (".csv", ".parquet") or path.name in (KPIS, PLANS))


def table_checksums(run_dir: Path) -> dict[str, dict[str, Any]]:
    """{file name: {"bytes", "sha256"}} of every table (*.csv, *.parquet), kpis.json and plans.jsonl."""
    out = {}
    for path in sorted(run_dir.iterdir()):
        if _is_table(path):
            out[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return out


def _content_hash(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != CHECKSUM_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def finish_manifest(run_dir: Path, manifest: dict, status: str, last_hour: float | None, error: str | None = None,
                    extra: dict | None = None) -> dict[str, Any]:
    """Write the final manifest (status, last recorded hour: the start of the last recorded step in hours, an int at
    60-minute steps; error, checksums of the tables); returns it.

    Frees the run's reserved space first. When the whole manifest cannot be written (the disk is full), a
    short one with the status, last hour and error is written over the first manifest in place."""
    release_space(run_dir)
    final = {k: v for k, v in manifest.items() if not k.startswith("_")}
    final.update({"status": status, "last_recorded_hour": last_hour, "error": error,
                  "wall_s": round(time.perf_counter() - manifest.get("_t0", time.perf_counter()), 3),
                  "finished_utc": datetime.now(timezone.utc).isoformat(), **(extra or {})})
    try:
        final["tables"] = table_checksums(run_dir)
    except OSError as exc:
        final["tables_error"] = f"{type(exc).__name__}: {exc}"
    final = to_jsonable(final)
    final[CHECKSUM_KEY] = _content_hash(final)
    try:
        RunFolder(run_dir).write_json(MANIFEST, final)
    except OSError as exc:
        short = {k: final.get(k) for k in ("status", "last_recorded_hour", "error", "seed", "step_minutes",
                                           "scenario_file", "started_utc", "finished_utc", "stopped_in")}
        short["manifest_error"] = f"the full manifest did not fit: {type(exc).__name__}: {exc}"
        _overwrite(run_dir / MANIFEST, json.dumps(short, indent=2).encode())
    return final


def _overwrite(path: Path, data: bytes) -> None:
    """Write `data` over the file's first bytes and cut it there (reuses the file's blocks on a full disk)."""
    with open(path, "r+b" if path.exists() else "wb", buffering=0) as fh:
        view = memoryview(data)
        while view:
            view = view[fh.write(view):]
        fh.truncate(len(data))
        os.fsync(fh.fileno())


def write_error_file(run_dir: Path, reason: str, details: str) -> bool:
    """error.txt: the one-line `reason` first, then `details` (the traceback). On a full disk the file keeps the
    reason alone, or is removed when not even that fits (the reason is also in the manifest). True when whole."""
    path = run_dir / ERROR
    head = (reason.rstrip("\n") + "\n").encode("utf-8", "replace")
    try:
        fh = open(path, "wb", buffering=0)
    except OSError:
        return False
    with fh:
        try:
            fh.write(head)
        except OSError:
            fh.close()
            path.unlink(missing_ok=True)
            return False
        try:
            view = memoryview(("\n" + details).encode("utf-8", "replace"))
            while view:
                view = view[fh.write(view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fh.fileno(), len(head))
            return False
    return True


def verify_run(run_dir: Path) -> list[str]:
    """What is wrong with a finished run folder, checked against its manifest: an edited manifest, or a table
    (CSV, kpis.json, plans.jsonl) that is missing or whose size or sha256 differs. Empty when it is whole."""
    path = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST} cannot be read ({type(exc).__name__})"]
    if not isinstance(manifest, dict):
        return [f"{MANIFEST} is not a JSON object"]
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or CHECKSUM_KEY not in manifest:
        return [f"{MANIFEST} holds no checksums (made by an older version)"]
    problems = []
    if _content_hash(manifest) != manifest[CHECKSUM_KEY]:
        problems.append(f"{MANIFEST} was changed after the run")
    for name, expected in sorted(tables.items()):
        if Path(name).name != name or name.startswith("."):
            problems.append(f"{name!r} is not a table of this folder")
            continue
        file = Path(run_dir) / name
        if not file.is_file():
            problems.append(f"{name} is missing")
            continue
        size, expected = file.stat().st_size, expected if isinstance(expected, dict) else {}
        if size != expected.get("bytes"):
            problems.append(f"{name} has {size} bytes, the run wrote {expected.get('bytes')}")
            continue
        if _sha256(file) != expected.get("sha256"):
            problems.append(f"{name} was changed after the run (sha256 differs)")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
