"""Writing a run folder while the run goes: CSV tables appended hour by hour (an interrupted run keeps what it
recorded), JSON-lines plans, and a fresh folder for each run.

Tables hold whole lines only. Each append (one simulated hour of one table) is formatted in memory and written
with unbuffered writes, so it reaches the OS at once; when a write fails part-way (disk full, a file-size limit,
a signal raised in between), the file is cut back to where that append began before the error goes on.
`trim_to_whole_lines` does the same for a file another writer left (a table that pandas was writing when the
disk filled up).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from cosim.errors import InputError
from cosim.results.folder import PLANS
from cosim.textio import to_jsonable

__all__ = ["OutputDirError", "RunWriter", "new_run_dir", "trim_to_whole_lines"]


class OutputDirError(InputError):
    """A results folder that cannot be made or written (a file, a read-only file system, a name too long)."""


class RunWriter:
    """Appends rows to results/<run-id>/<table>.csv and plans to plans.jsonl; each append is written whole, at
    once (no buffering), or not at all."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, BinaryIO] = {}  # file name -> raw (unbuffered) file
        self._sizes: dict[str, int] = {}  # file name -> bytes written whole so far
        self._fields: dict[str, list[str]] = {}  # table -> CSV columns, fixed by its first append

    def append(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append `rows` to <table>.csv (its header first, from the first rows' keys in the order given)."""
        if not rows:
            return
        buf = io.StringIO()
        fields = self._fields.get(table)
        new = fields is None
        if new:
            fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        self._write(f"{table}.csv", buf.getvalue().encode("utf-8"))
        self._fields[table] = fields

    def append_plan(self, plan: dict[str, Any]) -> None:
        self._write(PLANS, (json.dumps(to_jsonable(plan)) + "\n").encode("utf-8"))

    def _write(self, name: str, data: bytes) -> None:
        fh = self._files.get(name)
        if fh is None:
            fh = self._files[name] = open(self.run_dir / name, "wb", buffering=0)
            self._sizes[name] = 0
        start = self._sizes[name]
        try:
            view = memoryview(data)
            while view:
                view = view[fh.write(view):]
        except OSError as exc:  # a full disk or a size limit: drop this append's partial line, say which file
            _cut(fh, start)
            raise OSError(exc.errno, exc.strerror, str(self.run_dir / name)) from None
        except BaseException:  # a signal raised in between: the same, the stop goes on
            _cut(fh, start)
            raise
        self._sizes[name] = start + len(data)

    def close(self) -> None:
        for fh in self._files.values():
            try:
                fh.close()
            except OSError:  # nothing is buffered: closing cannot lose data, only report an old error
                pass
        self._files.clear()
        self._sizes.clear()
        self._fields.clear()


def _cut(fh: BinaryIO, size: int) -> None:
    """Cut `fh` back to `size` bytes (where the failed append began); best effort, shrinking needs no space."""
    try:
        os.ftruncate(fh.fileno(), size)
        fh.seek(size)
    except (OSError, ValueError):
        pass


def trim_to_whole_lines(path: str | Path) -> bool:
    """Cut a text file after its last newline (drop a partial last line); True when something was cut."""
    path = Path(path)
    try:
        with open(path, "r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            pos, keep = size, 0
            while pos > 0:
                step = min(pos, 1 << 16)
                fh.seek(pos - step)
                chunk = fh.read(step)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    keep = pos - step + nl + 1
                    break
                pos -= step
            if keep == size:
                return False
            fh.truncate(keep)
            return True
    except OSError:
        return False


_PLAIN = (str, int, bool, type(None))


def _cell(value: Any) -> Any:
    """A CSV cell: plain values as they are (the common case, checked by exact type, so numpy scalars and
    non-finite floats still go through `to_jsonable`), containers as JSON."""
    kind = type(value)
    if kind in _PLAIN or (kind is float and math.isfinite(value)):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(to_jsonable(value))
    return to_jsonable(value)


_REASONS = {errno.EROFS: "is on a read-only file system", errno.EACCES: "is not writable (permission denied)",
            errno.EPERM: "is not writable (operation not permitted)", errno.ENOSPC: "is on a full disk",
            errno.EDQUOT: "is on a disk whose quota is used up", errno.ENOENT: "cannot be created there",
            errno.ENOTDIR: "is inside a file, not a folder", errno.EEXIST: "is a file, not a folder",
            errno.ELOOP: "is a symbolic link loop", errno.ENAMETOOLONG: "has a name too long for the file system"}


def output_dir_error(path: Path, exc: OSError, what: str = "results folder") -> OutputDirError:
    """One line saying why `path` cannot hold results (it names the path and what it is)."""
    reason = _REASONS.get(exc.errno or 0, f"cannot be written ({exc.strerror or exc})")
    if exc.errno == errno.EEXIST and path.is_dir():
        reason = "exists already"
    return OutputDirError(f"{what} {path} {reason} [{errno.errorcode.get(exc.errno or 0, exc.errno)}]")


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def safe_folder_name(name: str) -> str:
    """A scenario name as a folder name: control characters (a newline ...), path separators and NUL become "_",
    and leading dashes and dots go (a folder called "-rf" or ".." is a trap for whoever lists it)."""
    cleaned = "".join("_" if (ord(ch) < 32 or ord(ch) == 127 or ch in "/\\") else ch for ch in str(name))
    cleaned = cleaned.lstrip("-.")
    return cleaned or "run"


def new_run_dir(output_dir: str | Path, scenario_name: str) -> Path:
    """results/<scenario>-<UTC timestamp>[-n], never reusing an existing folder.

    Race-free: the folder is claimed with one `mkdir` (atomic), and a name another process claimed first moves
    on to the next `-n`. A folder that cannot be made (`output_dir` is a file, on a read-only file system, under
    /proc, a scenario name too long for a folder name) is an `OutputDirError` (bad input), before any output.
    """
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_dir_error(out, exc, "output folder") from None
    if not out.is_dir():
        raise OutputDirError(f"output folder {out} is not a folder")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{safe_folder_name(scenario_name)}-{stamp}"
    limit = _name_max(out) - 8  # room for "-<n>"
    if len(base.encode("utf-8", "surrogatepass")) > limit:
        raise OutputDirError(f"scenario name {scenario_name[:40]!r}... is too long for a run-folder name "
                             f"({len(scenario_name)} characters; at most {limit - len(stamp) - 1} fit under {out})")
    n = 1
    while True:
        path = out / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            raise output_dir_error(path, exc, "run folder") from None
        return path
