"""Where a learning environment meets the DSO: a controller whose decisions come from outside the simulation.

`EnvController` is an ordinary controller plug-in (`plan(problem)`, `revise(problem, state, hour)`; no mosaik): the
DSO agent calls it exactly where it would call EO or MPC. Each call becomes a `DecisionPoint` handed to the
environment through its `Bridge`, and the call blocks until the environment answers with a plan (built from the
agent's action). The co-simulation runs in its own thread (`cosim.env.episode`), so the whole world, mosaik
included, is the one `cosim run` builds: nothing is copied.

The bridge is found by key (`controller_options = {"bridge": key}`): the DSO builds its controller from the
scenario's name and plain options, in this process (`controller_isolation = False`).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from cosim.controllers.base import DayAheadPlan, DayAheadProblem, HourState

__all__ = ["BRIDGES", "CONTROLLER_NAME", "Bridge", "DecisionPoint", "EnvController", "EpisodeAborted", "open_bridge"]

CONTROLLER_NAME = "env"  # registered below, in the processes that import cosim.env


class EpisodeAborted(BaseException):
    """Raised inside the simulation when the environment ends an episode early (reset, close): a BaseException, so
    that the DSO's containment (which turns a controller's Exception into a planning fallback) lets it end the
    world instead."""


@dataclass(frozen=True)
class DecisionPoint:
    """One call of the DSO's controller: the day-ahead plan (`state` None) or an hourly revision."""

    hour: int  # simulated hour the decision is for (index 0 of the problem's arrays)
    problem: DayAheadProblem
    state: HourState | None = None

    @property
    def day_ahead(self) -> bool:
        return self.state is None


Decoder = Callable[[DecisionPoint], DayAheadPlan]


class Bridge:
    """Two queues between the simulation thread and the environment: decision points out, plans in."""

    def __init__(self) -> None:
        self.points: queue.Queue[tuple[str, Any]] = queue.Queue()  # ("decide", point) | ("done", error or None)
        self.plans: queue.Queue[tuple[str, Any]] = queue.Queue()  # ("plan", decoder) | ("abort", None)
        self._decoder: Decoder | None = None
        self._hour: int | None = None
        self._next_day: int = 0
        self._last_was_day_ahead = False
        # the PLOs' side (cosim.env.parallel): each lot's share of its flexibility it offers next, and the last DSO
        # schedule it received (its inbox); written by the environment, read in the simulation thread
        self.offer_share: dict[str, float] = {}
        self.waiting_s = 0.0  # time the simulation spent waiting for the environment (inside the DSO's step)
        self.received: dict[str, dict[str, Any]] = {}

    def day_ahead_hour(self) -> int:
        """The hour of a day-ahead call: the next day start (a second call for the same day keeps its hour)."""
        if self._last_was_day_ahead and self._hour is not None:
            return self._hour
        hour = self._next_day
        self._next_day += 24
        return hour

    def decide(self, point: DecisionPoint) -> DayAheadPlan:
        """Called in the simulation thread: the plan for `point`. A second call for the same hour (the DSO re-plans
        with the topology fixed) reuses the environment's answer for that hour without asking again."""
        if point.hour != self._hour or self._decoder is None:
            self.points.put(("decide", point))
            t0 = time.perf_counter()
            kind, decoder = self.plans.get()
            self.waiting_s += time.perf_counter() - t0
            if kind == "abort":
                raise EpisodeAborted("episode ended by the environment")
            self._decoder, self._hour = decoder, point.hour
        self._last_was_day_ahead = point.day_ahead
        return self._decoder(point)


BRIDGES: dict[str, Bridge] = {}
_keys = itertools.count()
_lock = threading.Lock()


def open_bridge() -> tuple[str, Bridge]:
    """A fresh bridge and the key its controller finds it by."""
    with _lock:
        key = f"bridge-{next(_keys)}"
        BRIDGES[key] = Bridge()
    return key, BRIDGES[key]


class EnvController:
    """The DSO's controller when an environment decides (see the module)."""

    name = "env"

    def __init__(self, bridge: str) -> None:
        if bridge not in BRIDGES:
            raise ValueError(f"no environment bridge {bridge!r} in this process (EnvController is built by "
                             "cosim.env, in process)")
        self.bridge = BRIDGES[bridge]

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        return self.bridge.decide(DecisionPoint(self.bridge.day_ahead_hour(), problem))

    def revise(self, problem: DayAheadProblem, state: HourState, hour: int) -> DayAheadPlan:
        return self.bridge.decide(DecisionPoint(int(hour), problem, state))


def _register() -> None:
    from cosim.controllers.registry import register_controller  # noqa: PLC0415

    register_controller(CONTROLLER_NAME, EnvController)


_register()
