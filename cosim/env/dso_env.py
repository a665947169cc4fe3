"""`DsoEnv`: a Gymnasium environment in which an agent is the DSO of the real co-simulation.

One step is one simulated hour. The agent's action is the DSO's decision for that hour (`cosim.env.spaces`): the
topology (radial by construction; the day's switch-operation limit enforced), at a day's first step each lot's
bus, and each lot's power scaled over what it can take at that step. The observation is what the DSO receives
under the centralised exchange mode. The reward (`cosim.env.reward`) is the negative of a weighted sum of the
measured hour's losses and voltage violation (and, at the episode's end, of the contract energy left unmet and,
where weighted, of OF1, OF2 and VPD over the episode).

The world is the one `cosim run` builds, run in a thread (`cosim.env.episode`); the DSO asks the environment
where it would ask its controller (`cosim.env.bridge`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from cosim.config import Scenario, load_scenario
from cosim.controllers.base import HOURS, DayAheadPlan
from cosim.env.bridge import DecisionPoint
from cosim.env.episode import Episode
from cosim.env.errors import EnvConfigError
from cosim.env.reward import LotLedger, RewardWeights
from cosim.env.spaces import ActionLayout, ObservationLayout, step_range_kw

__all__ = ["DsoEnv", "EnvConfigError", "SUPPORTED_EXCHANGE_MODES"]

SUPPORTED_EXCHANGE_MODES = ("centralised",)
KEEP_PLAN = "keep_plan_in_force"  # simulators.dso.agent.KEEP_PLAN: a revision that keeps the plan in force
KEEP_TOLERANCE_KW = 1e-6  # an hourly setpoint this close to the schedule in force keeps it
"""Modes in which the DSO dispatches the lots hour by hour, the hooks the environment needs."""


def as_scenario(scenario: Scenario | str | Path | None) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def check_drivable(scenario: Scenario) -> None:
    """Refuse, in one line, a scenario whose DSO the environment cannot decide for."""
    where = scenario.path or "<scenario>"
    if scenario.exchange not in SUPPORTED_EXCHANGE_MODES:
        raise EnvConfigError(f"{where}: exchange.mode {scenario.exchange!r} cannot be driven by cosim.env (it needs "
                             f"the DSO to dispatch the lots hour by hour); allowed: "
                             f"{', '.join(SUPPORTED_EXCHANGE_MODES)}")
    if scenario.separate_processes:
        raise EnvConfigError(f"{where}: exchange.separate_processes = true cannot be driven by cosim.env; "
                             "allowed: false")
    if scenario.step_minutes != 60:  # actions, observations and rewards are laid out per hour (HOURS)
        raise EnvConfigError(f"{where}: simulation.step_minutes = {scenario.step_minutes} cannot be driven by "
                             "cosim.env (its actions and observations are hourly); allowed: 60")


def check_days(days: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """The days as (profile, start day) pairs; one line naming what is wrong otherwise."""
    out = []
    for item in days:
        ok = isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str) \
            and isinstance(item[1], int) and not isinstance(item[1], bool) and item[1] >= 0
        if not ok:
            raise EnvConfigError(f"days: {item!r}; allowed: (market profile, start day >= 0) pairs")
        out.append((item[0], int(item[1])))
    if not out:
        raise EnvConfigError("days: empty; allowed: a non-empty list of (market profile, start day) pairs")
    return tuple(out)


class DsoEnv(gym.Env):
    """The DSO of `scenario` (a `Scenario`, a TOML path, or None for the default), decided by an agent.

    `reward`: weights of the reward's terms (`RewardWeights`' fields, e.g. {"losses_kwh": 1.0}); `days`: the
    (market profile, start day) pairs `reset` draws each episode's day from (`cosim.env.days`; None: the scenario's
    own); `reseed`: `reset` also draws the scenario's seed (fleets, forecast errors), so each episode is a fresh day
    of the scenario's distributions. The same `reset(seed=...)` gives the same episode. `engine`: the grid's power
    flow ("pandapower" or "fast", `[network] engine`; None: the scenario's). `record` False switches the recorder
    off for training: no files; the last step's reward and `kpis()` then come from the grid's and lots' rows kept in
    memory (`cosim.env.tally`, the measured KPIs only)."""

    metadata = {"render_modes": []}
    plo_agents = False  # the PLOs' offers decided outside too (cosim.env.parallel)

    def __init__(self, scenario: Scenario | str | Path | None = None, *, reward: dict[str, float] | None = None,
                 days: Sequence[tuple[str, int]] | None = None, reseed: bool = False, engine: str | None = None,
                 record: bool = True) -> None:
        from cosim.networks import load_network  # noqa: PLC0415
        from simulators.grid.fast_flow import ENGINES  # noqa: PLC0415

        self.base = as_scenario(scenario)
        check_drivable(self.base)
        if engine is not None:
            if engine not in ENGINES:
                raise EnvConfigError(f"engine = {engine!r}; allowed: {', '.join(ENGINES)}")
            self.base = replace(self.base, engine=engine)
        self.record = bool(record)
        self.weights = RewardWeights.from_dict(reward or {}, where="reward")
        self.days = None if days is None else check_days(days)
        self.reseed = bool(reseed)
        self.net = load_network(self.base.network, near=self.base.plugin_dir).radial
        self.lot_ids = [lot.id for lot in self.base.lots]
        self.layout = ActionLayout(self.net, [(lot.id, tuple(lot.candidate_buses)) for lot in self.base.lots],
                                   self.base.reconfigure)
        self.obs_layout = ObservationLayout(self.net, self.lot_ids, self.layout)
        self.action_space = spaces.Box(-1.0, 1.0, (self.layout.size,), np.float32)
        self.observation_space = spaces.Box(-1e6, 1e6, (self.obs_layout.size,), np.float32)
        self.episode: Episode | None = None
        self.scenario: Scenario | None = None  # this episode's draw
        self._point: DecisionPoint | None = None
        self._done = True
        self._clipped = 0
        self._schedules: dict[str, tuple[int, np.ndarray]] = {}
        self._buses: dict[str, int] = {}
        self._last: dict[str, Any] = {}
        self._ledger = LotLedger()  # the prices and offers the DSO was given, for the reward's OF1

    # -- Gymnasium API -----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._end_episode()
        self.scenario = self._draw()
        self.episode = Episode(self.scenario, plo_agents=self.plo_agents, record=self.record)
        self._point = self.episode.next_point()
        if self._point is None:
            raise RuntimeError("the co-simulation ended before the DSO's first decision")
        self._done, self._clipped, self._schedules, self._buses = False, 0, {}, {}
        self._ledger = LotLedger()
        return self.obs_layout.encode(self._point), self._info()

    def step(self, action):
        if self._done or self.episode is None:
            raise ResetNeeded("step() after the end of an episode (or before reset()): call reset() first")
        a = np.asarray(action, dtype=float).reshape(-1)
        if a.shape != (self.layout.size,):
            raise ValueError(f"action has shape {np.shape(action)}; the action space is {self.action_space.shape}")
        bad = ~np.isfinite(a) | (a < -1.0) | (a > 1.0)
        n_bad = int(bad.sum())
        if n_bad:  # the documented convention: clip, count, warn in info
            self._clipped += n_bad
            a = np.clip(np.nan_to_num(a, nan=0.0), -1.0, 1.0)
        self._last = {}
        self._ledger.note(self._point.problem, self._point.hour)
        self.episode.answer(lambda point: self._decode(a, point))
        point = self.episode.next_point()
        hour = self._point.hour
        if point is None:
            self._done = True
            terms = self._final_terms(hour)
        else:
            terms = self.weights.measured_terms(point.state.grid if point.state else None, self.net)
        reward = -float(sum(terms.values()))
        self._point = point
        info = self._info()
        info.update(decided=self._last, reward_terms=terms)
        if n_bad:
            info["warning"] = f"{n_bad} action value(s) outside [-1, 1] (or not finite) were clipped"
        obs = self.obs_layout.encode(point)
        return obs, reward, self._done, False, info

    def close(self) -> None:
        self._end_episode()
        super().close()

    # -- helpers -----------------------------------------------------------------------------------------------
    def kpis(self) -> dict[str, float]:
        """The KPIs `cosim run` reports, computed from this episode's recorded tables by the same post-processing
        (call after the episode's last step, before `reset` or `close`)."""
        if self.episode is None or not self._done:
            raise ResetNeeded("kpis() needs a finished episode")
        if self.episode.tables is not None:  # the recorder was off: the rows kept in memory
            from cosim.env.tally import measured_kpis, tables  # noqa: PLC0415

            return measured_kpis(*tables(self.episode.tables), self.episode.scenario)
        from cosim.results import RunFolder  # noqa: PLC0415
        from cosim.runner.postprocess import postprocess  # noqa: PLC0415

        return postprocess(RunFolder(self.episode.run_dir), self.episode.scenario)

    @property
    def decision_point(self) -> DecisionPoint | None:
        """What the DSO faces now (the problem it would hand its controller); None after the episode."""
        return self._point

    def _final_terms(self, hour: int) -> dict[str, float]:
        """The last step's reward terms: from the recorded tables, or from the rows kept in memory."""
        if self.episode.tables is None:
            return self.weights.final_terms(self.episode.run_dir, hour, self.net, self._ledger)
        from cosim.env.tally import tables  # noqa: PLC0415

        return self.weights.final_terms_of(*tables(self.episode.tables), hour, self.net, ledger=self._ledger)

    def _draw(self) -> Scenario:
        s = self.base
        if self.days is not None:
            profile, day = self.days[int(self.np_random.integers(len(self.days)))]
            s = replace(s, market_profile=profile, start_day=day)
        if self.reseed:
            s = replace(s, seed=int(self.np_random.integers(0, 2**31 - 1)))
        return s

    def _end_episode(self) -> None:
        if self.episode is not None:
            self.episode.close()
            self.episode = None
        self._done = True

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"clipped_actions": self._clipped}
        p = self._point
        if p is not None:
            info.update(hour=p.hour, day_ahead=p.day_ahead,
                        ranges_kw={lot.lot_id: step_range_kw(lot) for lot in p.problem.lots})
        if self.scenario is not None:
            info.update(market_profile=self.scenario.market_profile, start_day=self.scenario.start_day,
                        scenario_seed=self.scenario.seed)
        return info

    def _decode(self, a: np.ndarray, point: DecisionPoint) -> DayAheadPlan:
        """The DSO's plan for `point` from action `a` (runs in the simulation's thread, inside the controller call)."""
        problem, layout = point.problem, self.layout
        base = tuple(int(b) for b in problem.base_open_branches)
        topology, limited = base, False
        if layout.reconf is not None and self.base.reconfigure:
            wanted = layout.topology(a)
            ops = len(set(wanted) ^ set(base))
            if point.day_ahead or (problem.reconfigure and ops <= point.state.switch_operations_left):
                topology = wanted
            else:  # no switch operation left today for this change: the topology in force stays
                limited = ops > 0
        index = {lot_id: i for i, lot_id in enumerate(self.lot_ids)}
        buses, setpoints, decided = {}, {}, {}
        unchanged = not point.day_ahead and topology == base
        for offer in problem.lots:
            i = index[offer.lot_id]
            lo, hi = step_range_kw(offer)
            if point.day_ahead:
                self._buses[offer.lot_id] = layout.bus(a, i) if len(offer.candidate_buses) > 1 \
                    else int(offer.candidate_buses[0])
                schedule = layout.day_schedule(a, i, offer)
            else:
                schedule = self._rest_of_day(offer.lot_id, point.hour)
                p0 = layout.setpoint(a, i, lo, hi)
                if abs(p0 - schedule[0]) > KEEP_TOLERANCE_KW:
                    unchanged = False
                    schedule[0] = p0
                if offer.envelope is not None:  # the hours after this one (and past the day's schedule, zeros)
                    schedule = offer.envelope.tightened().project(schedule)  # inside the envelope, as checked
            buses[offer.lot_id] = self._buses.get(offer.lot_id, int(offer.candidate_buses[0]))
            setpoints[offer.lot_id] = schedule
            decided[offer.lot_id] = {"bus": buses[offer.lot_id], "setpoint_kw": float(schedule[0]),
                                     "range_kw": (lo, hi)}
        if not unchanged:
            self._schedules.update({lot_id: (point.hour, s) for lot_id, s in setpoints.items()})
        self._last = {"open_branches": list(topology), "switch_limited": limited, "lots": decided,
                      "kept_plan_in_force": unchanged}
        plan = DayAheadPlan(open_branches=topology, lot_buses=buses, setpoints_kw=setpoints, feasible=True,
                            controller="env")
        if unchanged:  # the DSO then sends nothing: the lots keep following the schedules they have
            plan.info[KEEP_PLAN] = True
        return plan

    def _rest_of_day(self, lot_id: str, hour: int) -> np.ndarray:
        """The lot's schedule in force, from `hour` on (zeros where there is none): the hours after this one."""
        start, schedule = self._schedules.get(lot_id, (hour, np.zeros(HOURS)))
        shift = hour - start
        if not 0 <= shift < HOURS:
            return np.zeros(HOURS)
        return np.concatenate([schedule[shift:], np.zeros(shift)])
