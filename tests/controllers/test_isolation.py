"""No controller can block, exit or crash the DSO: plans run in a worker process with a time limit."""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest
from agent_fixtures import LOAD_SCALING, PRICE, ieee33
from user_controller import (
    BloatedController,
    CrashingController,
    ExitingController,
    FloodingController,
    InterruptingController,
    SleepingController,
)

from cosim.controllers import DayAheadProblem, make_controller
from cosim.controllers.isolation import ControllerFailure, plan_in_process, plan_in_worker


@pytest.fixture(scope="module")
def problem() -> DayAheadProblem:
    return DayAheadProblem(network=ieee33(), load_scaling=LOAD_SCALING, price_usd_per_kwh=PRICE)


def test_a_plan_comes_back_from_the_worker_unchanged(problem):
    controller = make_controller("eo", n_particles=4, n_iter=3, seed=0)
    here, there = controller.plan(problem), plan_in_worker(controller, problem, 60.0)
    assert here.open_branches == there.open_branches
    assert here.predicted["of3_kwh"] == pytest.approx(there.predicted["of3_kwh"], rel=1e-12)
    np.testing.assert_allclose(here.predicted_hourly["loss_kw"], there.predicted_hourly["loss_kw"])


def test_a_blocking_controller_is_stopped_at_its_time_limit(problem):
    t0 = time.perf_counter()
    with pytest.raises(ControllerFailure, match="within time_limit_s = 0.5 s"):
        plan_in_worker(SleepingController(), problem, 0.5)
    assert time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize("controller, reason", [(ExitingController(), r"sys.exit\(3\)"),
                                                (InterruptingController(), "raised KeyboardInterrupt"),
                                                (CrashingController(), "worker died")])
def test_exits_interrupts_and_crashes_inside_a_plan_are_contained(problem, controller, reason):
    with pytest.raises(ControllerFailure, match=reason):
        plan_in_worker(controller, problem, 30.0)


@pytest.mark.parametrize("controller", [FloodingController(), BloatedController()], ids=["flooding", "bloated"])
def test_a_plan_above_the_message_limit_fails_before_the_dso_holds_it(problem, controller):
    """A controller that writes a 1 TiB length into its pipe and streams zeros, or returns 64 MiB + 8 bytes in
    `info`: the plan fails at once with its size, the DSO's process reads at most the 8-byte length, and the
    flooding worker is killed (the call returns long before its 60 s time limit)."""
    t0 = time.perf_counter()
    with pytest.raises(ControllerFailure, match=r"bytes, above the limit of 67,108,864 bytes"):
        plan_in_worker(controller, problem, 60.0)
    assert time.perf_counter() - t0 < 30.0


def test_in_process_plans_contain_exits_and_check_the_limit_afterwards(problem):
    with pytest.raises(ControllerFailure, match=r"sys.exit\(3\)"):
        plan_in_process(ExitingController(), problem, 10.0)
    with pytest.raises(ControllerFailure, match="beyond time_limit_s"):
        plan_in_process(make_controller("eo", n_particles=4, n_iter=3), problem, 1e-9)


def _plan_in_a_daemon(problem, queue):
    controller = make_controller("eo", n_particles=4, n_iter=2, seed=0)
    queue.put(plan_in_worker(controller, problem, 60.0).open_branches)


def test_works_inside_a_daemonic_process_such_as_a_dask_worker(problem):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    daemon = ctx.Process(target=_plan_in_a_daemon, args=(problem, queue), daemon=True)
    daemon.start()
    try:
        assert len(queue.get(timeout=60)) == 5
    finally:
        daemon.join(10)
    assert daemon.exitcode == 0


@pytest.mark.slow
def test_a_worker_solves_with_highs_after_the_run_process_did(problem):
    """HiGHS keeps a global thread pool: a worker forked after the run's process had solved a MILP inherited it
    without its threads and waited for ever on its first solve (a MILP plan hung until its time limit). The worker
    now drops the inherited pool; the second plan, forked after the first solve in this process, comes back."""
    controller = make_controller("milp", time_limit_s=5.0, n_segments=2, hours=[18, 19])
    plan_in_process(controller, problem, 60.0)  # HiGHS's pool now lives in this process
    t0 = time.perf_counter()
    plan = plan_in_worker(controller, problem, 30.0)
    assert plan.controller == "milp" and time.perf_counter() - t0 < 25.0


def test_a_plan_comes_back_at_once_and_the_controllers_children_die_with_its_worker(problem, tmp_path):
    """A controller whose child holds the worker's pipe: its plan was discarded as a timeout (the parent read to the
    end of the pipe) and the child outlived the run. Now the plan comes back at once (the message has a length)
    and the worker's process group is killed with the child in it."""
    from user_controller import ForkingController  # noqa: PLC0415 - the plug-in, as a scenario names it

    pid_file = tmp_path / "child.pid"
    t0 = time.perf_counter()
    plan = plan_in_worker(ForkingController(str(pid_file)), problem, 20.0)
    assert plan.controller == "forking" and time.perf_counter() - t0 < 10.0
    child = int(pid_file.read_text())
    deadline = time.perf_counter() + 2.0
    while time.perf_counter() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the controller's child {child} outlived its worker")
