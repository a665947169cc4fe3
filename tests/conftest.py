import os
import signal
from pathlib import Path

import pytest
from hypothesis import settings

# A suite started as a background job of a non-interactive shell (`nohup ... &`, some CI runners) inherits SIGINT
# (and under nohup SIGHUP) ignored, and so would every `cosim run` it starts, which rightly leaves an ignored signal
# ignored: the tests that send Ctrl-C or SIGHUP to real processes need them to act as in a terminal. Python's own
# handler here is reset to the default in each child at exec, which Python then turns into KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

# The suite must be reproducible (CI): hypothesis draws the same examples on every run. For a fresh random
# search set HYPOTHESIS_PROFILE=explore (and COSIM_FUZZ_EXAMPLES=2000 for the input fuzzers).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


# The files that hold most of the suite's work, heaviest first (the CPU time, user + sys, of each file run alone:
# `/usr/bin/time pytest -n 0 FILE`, and the summed durations of a whole-suite run, `pytest -n 2 --durations=150`).
# pytest-xdist's `--dist loadfile` hands out whole files in collection order (pyproject: `--no-loadscope-reorder`;
# xdist's default order, most tests first, sends files of a few long tests, such as the docs' recomputation and the
# city, late, where one can run alone beside an idle worker): these go out first, so the cheap files fill both workers'
# ends and they finish together. A file not listed runs after them; a listed path that no longer exists is ignored.
# test_warm.py compiles the kernels when numba's cache is cold (minutes in a fresh checkout), so it goes out early too.
HEAVY_FIRST = (
    "tests/e2e/test_deliverable_plans.py",
    "tests/runner/test_separate_processes.py",
    "tests/test_docs.py",
    "tests/runner/test_warm.py",
    "tests/networks/test_city.py",
    "tests/e2e/test_attacks.py",
    "tests/exchange/test_congested_simbench.py",
    "tests/runner/test_crash_safety.py",
    "tests/sweep/test_sweep.py",
    "tests/simulators/grid/test_fast_engine.py",
    "tests/networks/test_simbench.py",
    "tests/e2e/test_signals.py",
    "tests/runner/test_report.py",
    "tests/runner/test_compare.py",
    "tests/e2e/test_steps_e2e.py",
    "tests/e2e/test_hostile_controllers.py",
    "tests/sweep/test_sweep_safety.py",
    "tests/e2e/test_fallback_reporting.py",
    "tests/exchange/test_admm.py",
    "tests/e2e/test_hourly_control_e2e.py",
    "tests/runner/test_report_signals.py",
    "tests/env/test_training_smoke.py",
    "tests/runner/test_reproducible.py",
    "tests/controllers/test_milp.py",
    "tests/networks/test_stock_grids.py",
    "tests/e2e/test_cosim_e2e.py",
    "tests/simulators/dso/test_dso_agent.py",
)


def _heaviness(item: pytest.Item, rootdir: Path) -> int:
    """The position of the item's file in `HEAVY_FIRST`; every other file after them."""
    try:
        return HEAVY_FIRST.index(item.path.relative_to(rootdir).as_posix())
    except ValueError:
        return len(HEAVY_FIRST)


def pytest_collection_modifyitems(config, items) -> None:
    """A test that recomputes the docs (`docs_recompute`, a minute) is also `slow`: `-m "not slow"` leaves it out.
    The heaviest files run first (`HEAVY_FIRST`); the order within a file, and among the other files, is kept."""
    for item in items:
        if item.get_closest_marker("docs_recompute") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
    rootdir = Path(config.rootpath)
    items.sort(key=lambda item: _heaviness(item, rootdir))  # stable: each file's own order is kept
