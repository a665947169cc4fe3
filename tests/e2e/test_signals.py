"""Workers die with the run, exit codes agree with manifests, and signals belong to the command line (issue 21,
items 3, 7 and 9): real `cosim run` processes, a real plug-in module beside the scenario whose controller starts
processes of its own (a forked child holding the worker's pipe, a grandchild and a child in sessions of their own),
and real signals sent from outside while the worker plans or right after report.html is written. The grid steps with
the fast engine: the processes and signals are the subject, and a `cosim run` that never imports pandapower saves
about 1.5 s of CPU."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from run_processes import rule_day_toml

from cosim.config import load_scenario
from cosim.runner.run import RunInterrupted, run_scenario

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "tests" / "plugins" / "lifecycle_plugin.py"
STATUS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "terminated"}

LIFECYCLE_TOML = """name = "lifecycle"
days = 1
seed = 0
[network]
name = "ieee33"
reconfigure = false
engine = "fast"
[controller]
name = "lifecycle_plugin:Lifecycle"
options = {{ folder = "{folder}", block = {block} }}
time_limit_s = {limit}
"""

RULE_TOML = rule_day_toml("late", engine="fast")


def _scenario(folder: Path, block: bool = True, limit: float = 120) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PLUGIN, folder / PLUGIN.name)
    path = folder / "s.toml"
    path.write_text(LIFECYCLE_TOML.format(folder=folder, block=str(block).lower(), limit=limit))
    return path


def _cosim_run(scenario: Path, out: Path, plots: bool = False) -> subprocess.Popen:
    """`cosim run` as a process; without figures (no figure process) unless the test watches for report.html."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "cosim.cli", "run", str(scenario), "--quiet", "--output", str(out),
                             *([] if plots else ["--no-plots"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _recorded(folder: Path) -> dict[str, tuple[int, str]]:
    """{role: (pid, start time)} of the processes the controller started (and its worker and server)."""
    out = {}
    for line in (folder / "pids.txt").read_text().splitlines():
        role, pid, start = line.split()
        out[role] = (int(pid), start)
    return out


def _alive(pid: int, start: str) -> bool:
    """Whether that very process still runs (a zombie has ended; a reused pid is another process)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == start


def _left_after(procs: dict[str, tuple[int, str]], seconds: float) -> list[str]:
    """The roles still running once `seconds` have passed (polled, so it returns as soon as none is left)."""
    deadline = time.monotonic() + seconds
    while True:
        left = [role for role, (pid, start) in procs.items() if _alive(pid, start)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def _kill_leftovers(procs: dict[str, tuple[int, str]]) -> None:
    for pid, start in procs.values():
        if _alive(pid, start):
            os.kill(pid, signal.SIGKILL)


def _wait_for(path: Path, proc: subprocess.Popen | None, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run ended before {path.name}: {proc.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {path.name} within {seconds} s")
        time.sleep(0.005)


def _manifest(out: Path) -> dict:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return json.loads((run_dir / "manifest.json").read_text())


@pytest.mark.slow
def test_a_real_signal_while_the_worker_plans_leaves_no_process_of_the_run_within_2_s(tmp_path):
    """SIGTERM, SIGINT and SIGHUP to `cosim run` while its worker plans: the worker, the fork server, the
    worker's forked child, the child's grandchild in a session of its own and the worker's own session child are
    all gone within 2 s; the exit code is 128 + the signal and the manifest says interrupted / terminated."""
    cases = {}
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        folder = tmp_path / signal.Signals(signum).name
        cases[signum] = (folder, _cosim_run(_scenario(folder), folder / "out"))
    recorded: dict[int, dict[str, tuple[int, str]]] = {}
    try:
        for signum, (folder, proc) in cases.items():  # all three planning (idle) before the first signal
            _wait_for(folder / "planning", proc)
            recorded[signum] = _recorded(folder)
        for signum, (folder, proc) in cases.items():
            assert set(recorded[signum]) == {"worker", "server", "child", "grandchild", "session"}
            assert all(_alive(*p) for p in recorded[signum].values())
            proc.send_signal(signum)
            left = _left_after({**recorded[signum], "cosim run": (proc.pid, _start_of(proc.pid))}, 2.0)
            assert not left, f"{signal.Signals(signum).name}: still running 2 s after the signal: {left}"
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 128 + signum, err
            manifest = _manifest(folder / "out")
            assert manifest["status"] == STATUS[signum] and manifest["signal"] == signal.Signals(signum).name
            assert manifest["stopped_in"] == "simulation" and "Traceback" not in err
    finally:  # leftovers first: they hold the run's stdout and stderr
        for folder, _ in cases.values():
            if (folder / "pids.txt").exists():
                _kill_leftovers(_recorded(folder))
        for folder, proc in cases.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=60)


def _start_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[19]


@pytest.mark.slow
def test_a_plan_whose_forked_grandchild_holds_the_pipe_is_used_and_its_processes_die_with_the_worker(tmp_path):
    """The controller returns a valid plan while its forked child holds the worker's pipe (it used to be discarded
    as a timeout): the run completes without a fallback well within the time limit, and every process the
    controller started is gone as soon as the worker has ended (before the run does)."""
    folder = tmp_path / "returns"
    proc = _cosim_run(_scenario(folder, block=False, limit=60), folder / "out")
    try:
        _wait_for(folder / "planning", proc)
        recorded = _recorded(folder)
        assert not _left_after({k: v for k, v in recorded.items() if k != "server"}, 10.0)
        _, err = proc.communicate(timeout=180)
    finally:  # leftovers first: they hold the run's stdout and stderr
        _kill_leftovers(_recorded(folder) if (folder / "pids.txt").exists() else {})
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    manifest = _manifest(folder / "out")
    assert manifest["status"] == "completed" and manifest["fallbacks"] == []
    assert manifest["wall_s"] < 60 and not _left_after(recorded, 0)


@pytest.mark.slow
def test_exit_code_and_manifest_agree_for_a_sigterm_right_after_report_html(tmp_path):
    """A real SIGTERM from outside the moment report.html appears (and 20 ms, 100 ms later; three runs at once): the
    exit code and the manifest agree, 143 with "terminated" or 0 with "completed" (a line then says the signal
    came after the manifest was final), never -15 nor 143 with "completed"."""
    runs = {}
    for delay_s in (0.0, 0.02, 0.1):
        folder = tmp_path / f"delay-{delay_s}"
        folder.mkdir()
        (folder / "s.toml").write_text(RULE_TOML)
        runs[delay_s] = (folder / "out", _cosim_run(folder / "s.toml", folder / "out", plots=True))
    try:
        due: dict[float, float] = {}
        deadline = time.monotonic() + 300
        while len(due) < len(runs) or any(t is not None for t in due.values()):
            for delay_s, (out, proc) in runs.items():
                if delay_s not in due and list(out.glob("*/report.html")):
                    due[delay_s] = time.monotonic() + delay_s
                if due.get(delay_s) is not None and time.monotonic() >= due[delay_s]:
                    proc.send_signal(signal.SIGTERM)
                    due[delay_s] = None
                assert delay_s in due or proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no report.html"
            time.sleep(0.001)
        for delay_s, (out, proc) in runs.items():
            _, err = proc.communicate(timeout=60)
            status = _manifest(out)["status"]
            assert (proc.returncode, status) in ((143, "terminated"), (0, "completed")), \
                (delay_s, proc.returncode, status, err)
            assert "Traceback" not in err
            if proc.returncode == 0 and "SIGTERM" in err:
                assert "after the run's manifest was final" in err
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.mark.slow
def test_a_library_call_installs_no_signal_handler_and_a_ctrl_c_still_kills_its_workers(tmp_path):
    """`run_scenario` as a library: the caller's handlers stay in force before, during (seen from another thread
    while the worker plans) and after the run. A real SIGINT (Python's own KeyboardInterrupt) while the worker
    plans ends the run "interrupted", and every process the controller started is gone within 2 s."""
    folder = tmp_path / "library"
    scenario = load_scenario(_scenario(folder), {"output_dir": str(folder / "out")})

    def mine(signum, frame):  # the caller's own handlers, which the run must leave alone
        raise AssertionError("the caller's handler ran")

    watched = (signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in watched}
    for s in watched:
        signal.signal(s, mine)
    during: dict[int, object] = {}
    sent_at: list[float] = []

    def interrupt() -> None:
        _wait_for(folder / "planning", None)
        during.update({s: signal.getsignal(s) for s in (*watched, signal.SIGINT)})
        sent_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    try:
        thread.start()
        with pytest.raises(RunInterrupted) as info:
            run_scenario(scenario, progress=False, plots=False)
        thread.join(10)
        after = {s: signal.getsignal(s) for s in (*watched, signal.SIGINT)}
        assert during == {signal.SIGTERM: mine, signal.SIGHUP: mine, signal.SIGINT: signal.default_int_handler}
        assert after == during
        recorded = _recorded(folder)
        assert not _left_after(recorded, max(0.0, sent_at[0] + 2.0 - time.monotonic()))
        assert info.value.exit_code == 130 and _manifest(folder / "out")["status"] == "interrupted"
    finally:
        for s, old in before.items():
            signal.signal(s, old)
        if (folder / "pids.txt").exists():
            _kill_leftovers(_recorded(folder))


@pytest.mark.slow
def test_a_sigkilled_run_takes_its_fork_server_and_worker_with_it(tmp_path):
    """The documented SIGKILL limit: a SIGKILLed `cosim run` can clean up nothing itself, but the kernel kills its
    fork server and the planning worker with it (PR_SET_PDEATHSIG). What the controller itself started (its
    children, their sessions) is orphaned to init and may survive: the test kills those itself."""
    folder = tmp_path / "kill"
    proc = _cosim_run(_scenario(folder), folder / "out")
    recorded = {}
    try:
        _wait_for(folder / "planning", proc)
        recorded = _recorded(folder)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL  # (the orphans still hold its stdout: no communicate)
        assert not _left_after({k: recorded[k] for k in ("server", "worker")}, 2.0)
        assert _manifest(folder / "out")["status"] == "running"  # the limit: no one finalised it
    finally:
        if proc.poll() is None:
            proc.kill()
        _kill_leftovers(recorded)
        proc.communicate(timeout=60)
