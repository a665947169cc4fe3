"""Crash safety of the run folder's writer and manifest (issue 12, item 4): whole lines only, a race-free run-folder
name, output-folder problems as one-line input errors, checksums that catch changed tables, a manifest and
error.txt that are written even on a full disk, stop signals that are raised or held."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cosim.results import MANIFEST, RunFolder, RunWriter, finish_manifest, new_run_dir, start_manifest
from cosim.results.manifest import (
    RESERVE,
    StopSignals,
    Terminated,
    release_space,
    reserve_space,
    stop_signal,
    verify_run,
    write_error_file,
)
from cosim.results.writer import OutputDirError, trim_to_whole_lines

# ---------------------------------------------------------------- whole lines


class _FailingFile:
    """A raw file whose write stores only part of the data, then fails as a full disk does."""

    def __init__(self, fh, fail_after: int, error: BaseException) -> None:
        self.fh, self.fail_after, self.error = fh, fail_after, error

    def write(self, data) -> int:
        if self.fail_after <= 0:
            raise self.error
        n = self.fh.write(bytes(data[: self.fail_after]))
        self.fail_after -= n
        return n

    def __getattr__(self, name):
        return getattr(self.fh, name)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   OSError(errno.EFBIG, "File too large"), KeyboardInterrupt()])
def test_a_write_that_fails_part_way_leaves_whole_lines_only(tmp_path, error):
    writer = RunWriter(tmp_path)
    writer.append("grid", [{"hour": 0, "losses_kw": 1.5}])
    writer.append("grid", [{"hour": 1, "losses_kw": 2.5}])
    whole = (tmp_path / "grid.csv").read_bytes()
    writer._files["grid.csv"] = _FailingFile(writer._files["grid.csv"], 7, error)  # half of hour 2's line
    with pytest.raises(type(error)) as info:
        writer.append("grid", [{"hour": 2, "losses_kw": 3.25}, {"hour": 2, "losses_kw": 4.0}])
    if isinstance(error, OSError):
        assert info.value.errno == error.errno and info.value.filename == str(tmp_path / "grid.csv")
    assert (tmp_path / "grid.csv").read_bytes() == whole  # hour 2 is not there at all, not half
    writer._files["grid.csv"] = writer._files["grid.csv"].fh
    writer.append("grid", [{"hour": 3, "losses_kw": 5.0}])  # the run's next hour goes on from the last whole line
    writer.close()
    assert list(pd.read_csv(tmp_path / "grid.csv")["hour"]) == [0, 1, 3]


def test_each_append_reaches_the_file_at_once(tmp_path):
    writer = RunWriter(tmp_path)
    writer.append("lots", [{"hour": 0, "id": "PL1", "p_kw": 10.0}])
    writer.append_plan({"day_start_hour": 0})
    # read while the writer is still open: nothing waits in a buffer
    assert (tmp_path / "lots.csv").read_text().splitlines() == ["hour,id,p_kw", "0,PL1,10.0"]
    assert json.loads((tmp_path / "plans.jsonl").read_text()) == {"day_start_hour": 0}
    writer.close()


def test_trim_to_whole_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n3,")
    assert trim_to_whole_lines(path) and path.read_bytes() == b"a,b\n1,2\n"
    assert not trim_to_whole_lines(path) and path.read_bytes() == b"a,b\n1,2\n"
    path.write_bytes(b"no newline at all")
    assert trim_to_whole_lines(path) and path.read_bytes() == b""
    assert not trim_to_whole_lines(tmp_path / "missing.csv")


# ---------------------------------------------------------------- run folders


def _claim(args: tuple[str, float, int]) -> list[str]:
    out, start_at, n = args
    time.sleep(max(0.0, start_at - time.time()))  # every process starts at the same instant
    return [new_run_dir(out, "race").name for _ in range(n)]


@pytest.mark.slow
def test_concurrent_processes_never_share_or_fail_to_get_a_run_folder(tmp_path):
    """Issue 12: 7 of 180 concurrent runs failed with FileExistsError. 6 processes x 30 folders, same second."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        names = pool.map(_claim, [(str(tmp_path), time.time() + 3.0, 30)] * 6)
    flat = [n for batch in names for n in batch]
    assert len(flat) == 180 and len(set(flat)) == 180
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(flat)


def test_output_folder_problems_are_input_errors_that_name_the_folder(tmp_path):
    (tmp_path / "a-file").write_text("x")
    cases = {tmp_path / "a-file": "is a file, not a folder", tmp_path / "a-file" / "sub": "inside a file",
             Path("/proc/cosim-test-x"): "cannot be created there"}
    for out, words in cases.items():
        with pytest.raises(OutputDirError, match=words) as info:
            new_run_dir(out, "s")
        assert str(out) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(OutputDirError, match="too long for a run-folder name"):
        new_run_dir(tmp_path / "out", "n" * 300)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# ---------------------------------------------------------------- manifest


def _finished_run(tmp_path: Path) -> Path:
    run_dir = new_run_dir(tmp_path, "run")
    manifest = start_manifest(run_dir, {"name": "run"}, None, 0)
    writer = RunWriter(run_dir)
    writer.append("grid", [{"hour": h, "losses_kw": h / 2} for h in range(3)])
    writer.append_plan({"day_start_hour": 0})
    writer.close()
    RunFolder(run_dir).write_json("kpis.json", {"energy_losses_kwh": 1.5})
    finish_manifest(run_dir, manifest, "completed", 2, None, {"kpis": {"energy_losses_kwh": 1.5}})
    return run_dir


@pytest.mark.slow
def test_the_manifest_keeps_size_and_sha256_of_every_table(tmp_path):
    run_dir = _finished_run(tmp_path)
    manifest = json.loads((run_dir / MANIFEST).read_text())
    assert set(manifest["tables"]) == {"grid.csv", "kpis.json", "plans.jsonl"}
    assert manifest["tables"]["grid.csv"]["bytes"] == (run_dir / "grid.csv").stat().st_size
    assert len(manifest["tables"]["grid.csv"]["sha256"]) == 64
    assert verify_run(run_dir) == []


@pytest.mark.parametrize("damage, words", [
    (lambda d: (d / "grid.csv").write_bytes((d / "grid.csv").read_bytes()[:-5]), "grid.csv has"),
    (lambda d: (d / "grid.csv").unlink(), "grid.csv is missing"),
    (lambda d: (d / "kpis.json").write_text((d / "kpis.json").read_text().replace("1.5", "9.5")),
     "kpis.json was changed"),
    (lambda d: (d / MANIFEST).write_text((d / MANIFEST).read_text().replace('"energy_losses_kwh": 1.5',
                                                                           '"energy_losses_kwh": 0.5')),
     "manifest.json was changed"),
])
@pytest.mark.slow
def test_verify_run_finds_truncated_deleted_and_edited_files(tmp_path, damage, words):
    run_dir = _finished_run(tmp_path)
    damage(run_dir)
    problems = verify_run(run_dir)
    assert any(words in p for p in problems), problems


@pytest.mark.slow
def test_a_manifest_without_checksums_is_not_trusted(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"status": "completed"}))
    assert "no checksums" in verify_run(tmp_path)[0]
    (tmp_path / MANIFEST).write_text("{half")
    assert "cannot be read" in verify_run(tmp_path)[0]


def test_the_reserve_is_given_back_before_the_final_manifest(tmp_path):
    run_dir = new_run_dir(tmp_path, "r")
    manifest = start_manifest(run_dir, {}, None, 0)
    reserve_space(run_dir, 4096)
    assert (run_dir / RESERVE).stat().st_size == 4096
    finish_manifest(run_dir, manifest, "failed", None, "boom")
    assert not (run_dir / RESERVE).exists()
    release_space(run_dir)  # twice is harmless


def test_a_manifest_that_does_not_fit_is_written_short_in_place(tmp_path, monkeypatch):
    run_dir = new_run_dir(tmp_path, "r")
    manifest = start_manifest(run_dir, {"name": "r", "big": "x" * 2000}, None, 7)

    def full_disk(self, name, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunFolder, "write_json", full_disk)
    finish_manifest(run_dir, manifest, "failed", 5, "OSError: [Errno 28] No space left on device",
                    {"stopped_in": "simulation"})
    short = json.loads((run_dir / MANIFEST).read_text())
    assert short["status"] == "failed" and short["last_recorded_hour"] == 5 and short["seed"] == 7
    assert short["stopped_in"] == "simulation" and "No space left" in short["error"]
    assert "did not fit" in short["manifest_error"]


@pytest.mark.slow
def test_error_txt_starts_with_the_reason_and_never_ends_up_empty(tmp_path):
    assert write_error_file(tmp_path, "OSError: boom", "Traceback ...\nOSError: boom\n")
    assert (tmp_path / "error.txt").read_text().splitlines()[0] == "OSError: boom"
    # a file-size limit that lets the reason through but not the traceback: the reason stays, alone
    code = ("import resource, sys; from pathlib import Path; from cosim.results.manifest import write_error_file; "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)); "
            "sys.exit(0 if not write_error_file(Path(sys.argv[1]), 'OSError: [Errno 28] disk full', 'T' * 5000) "
            "else 3)")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run([sys.executable, "-c", code, str(small)], check=True, timeout=60, cwd=Path(__file__).parents[1])
    assert (small / "error.txt").read_text() == "OSError: [Errno 28] disk full\n"


# ---------------------------------------------------------------- stop signals


def test_stop_signals_raise_or_wait_and_restore_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals(raising=False) as stops:
        signal.raise_signal(signal.SIGTERM)  # held: only noted
        assert stops.pending == [signal.SIGTERM]
        with pytest.raises(Terminated) as info:
            with stops.raising():  # a held signal interrupts the next raising block on entry
                pytest.fail("not reached")
        assert stop_signal(info.value) == signal.SIGTERM and stops.pending == []
        with pytest.raises(KeyboardInterrupt) as info:
            with stops.raising():
                signal.raise_signal(signal.SIGINT)
                time.sleep(1)
        assert stop_signal(info.value) == signal.SIGINT
        assert stops.received == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) == before
    assert stop_signal(ValueError()) is None


def test_stop_signals_leave_an_ignored_signal_ignored():
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with StopSignals():
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: nothing raised
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


_STOP_IN_CALLBACK = """
import ctypes, sys, time
from cosim.results.manifest import StopSignals

libc = ctypes.CDLL(None)
COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def compare(a, b):  # Python called from C: an exception here can only be printed, as in numba's cache loader
    if not started:
        started.append(1)
        print("in a callback", flush=True)
        time.sleep(5)  # the signal lands here
    return 0


started = []


class HalfBuilt:  # as asyncio's loop: its finaliser needs what __init__ had not made when the stop came
    def __init__(self):
        time.sleep(0.2)
        self.pipe = 1

    def __del__(self):
        self.pipe


def make_then_await():  # as mosaik creating an entity: a stop between making its coroutine and awaiting it leaves
    from mosaik.async_scenario import AsyncModelMock  # it never awaited ("coroutine ... was never awaited")

    creation = AsyncModelMock.create(None, 1)
    print("building", flush=True)
    time.sleep(5)
    return creation


def build_world():  # as cosim's build_world: a mosaik world the stop cuts short before its shutdown warns when
    import mosaik  # collected ("AsyncWorld was never shut down")

    world = mosaik.World({}, skip_greetings=True, configure_logging=False)
    print("building", flush=True)
    time.sleep(5)
    world.shutdown()


with StopSignals() as stops:
    try:
        with stops.raising():
            print("ready", flush=True)
            if sys.argv[1] == "callback":
                libc.qsort((ctypes.c_int * 10)(), 10, 4, COMPARE(compare))
                time.sleep(5)  # in plain Python again: the stop must arrive here
            elif sys.argv[1] == "world":
                build_world()
            elif sys.argv[1] == "coroutine":
                make_then_await()
            else:
                print("building", flush=True)
                while True:
                    HalfBuilt()
            print("the stop was lost", flush=True)
            sys.exit(0)
    except KeyboardInterrupt as exc:
        print("stopped by", type(exc).__name__, file=sys.stderr)
        sys.exit(130)
"""


@pytest.mark.parametrize("where, signum", [("callback", signal.SIGINT), ("callback", signal.SIGTERM),
                                           ("finaliser", signal.SIGTERM), ("world", signal.SIGINT),
                                           ("coroutine", signal.SIGINT)])
def test_a_stop_python_can_only_print_still_stops_and_prints_no_traceback(tmp_path, where, signum):
    """A real signal to a real process while Python runs a ctypes callback (numba loads its cache so: a Ctrl-C
    there printed 'Exception ignored on calling ctypes callback function' and a traceback, and the stop was lost),
    while an object is half built (a sweep worker stopped inside asyncio's loop constructor printed its
    finaliser's AttributeError) or while a mosaik world is (a sweep worker stopped there printed mosaik's
    "AsyncWorld was never shut down" warning as the world was collected, a serial sweep Python's "coroutine
    'AsyncModelMock.create' was never awaited"): the stop arrives, and stderr holds one line."""
    proc = subprocess.Popen([sys.executable, "-c", _STOP_IN_CALLBACK, where], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    try:
        assert proc.stdout.readline() == "ready\n"
        assert proc.stdout.readline() in ("in a callback\n", "building\n")
        time.sleep(0.1)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:  # a lost stop leaves the child running: it must not outlive the test
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, (out, err)
    assert err.splitlines() == [f"stopped by {'KeyboardInterrupt' if signum == signal.SIGINT else 'Terminated'}"]


@pytest.mark.parametrize("name, folder", [("a\nb", "a_b"), ("-rf", "rf"), ("../up", "_up"), ("x/y\\z", "x_y_z"),
                                          ("\x00", "_"), ("--", "run")])
def test_scenario_names_become_safe_folder_names(tmp_path, name, folder):
    """A scenario name with a newline made a run folder whose name held the newline."""
    from cosim.results.writer import new_run_dir  # noqa: PLC0415 - the writer, as the runner calls it

    run_dir = new_run_dir(tmp_path, name)
    assert run_dir.parent == tmp_path and run_dir.name.startswith(folder + "-") and run_dir.is_dir()
    assert all(ord(ch) >= 32 for ch in run_dir.name) and not run_dir.name.startswith(("-", "."))
