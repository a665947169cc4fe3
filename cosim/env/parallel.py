"""`parallel_env`: a PettingZoo ParallelEnv of the real co-simulation with the DSO and every PLO as agents.

Agents: "DSO" and one per lot, named by its lot id. Every step (one simulated hour) they act together:
  * the DSO as in `DsoEnv` (same action, observation and reward);
  * each PLO chooses the share of its flexibility it offers the DSO next hour (its action in [-1, 1] -> share
    (a + 1) / 2 of the range between its envelope's lowest and highest power, from the lowest up): the exchange
    mode is its channel. It observes the hour, the price forecast, the last schedule the DSO sent it (the
    messages it receives) and its lot's measurements; its reward is its lot's benefit (OF1, seed 000 eq. 5, the
    objective the controllers use: `reward.lot_benefit_usd`) of the hour's decided setpoint at the hour's forecast
    price, with the economics of the lot's offer, and at the end minus the DSO's `unmet_kwh` weight times the
    contract energy its lot left unmet.
The PLOs' side runs in the PLO agents as the exchange mode `EnvCentralised` (the centralised mode, offers shaped by
the agents' actions, schedules copied to their inbox), so the messages are signed, checked and logged as in any run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from cosim.config import Scenario
from cosim.controllers.base import HOURS
from cosim.controllers.objectives import lot_power_model
from cosim.env.bridge import BRIDGES
from cosim.env.dso_env import DsoEnv
from cosim.env.reward import lot_benefit_usd
from cosim.exchange.base import PloSide
from cosim.exchange.centralised import Centralised

__all__ = ["MODE_NAME", "EnvCentralised", "ParallelCosimEnv", "parallel_env"]

MODE_NAME = "env-centralised"
DSO = "DSO"
PLO_OBS = 1 + 2 * HOURS + 2


class EnvCentralised(Centralised):
    """The centralised mode whose PLOs' hourly offers are shaped by their agents' actions (see the module)."""

    name = "centralised"  # what the DSO and the records see: the centralised mode

    def __init__(self, bridge: str, **options: Any) -> None:
        super().__init__(**options)
        self.bridge = BRIDGES[bridge]

    def plo_hourly(self, plo: PloSide) -> dict[str, Any] | None:
        payload = super().plo_hourly(plo)
        share = self.bridge.offer_share.get(plo.lot_id, 1.0)
        if payload is not None and payload.get("envelope") is not None and share < 1.0:
            env = dict(payload["envelope"])
            lo, hi = np.asarray(env["p_min_kw"], float), np.asarray(env["p_max_kw"], float)
            env["p_max_kw"] = (lo + share * (hi - lo)).tolist()
            payload = {**payload, "envelope": env}
        return payload

    def plo_receive(self, plo: PloSide, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if kind == "schedule":
            self.bridge.received[plo.lot_id] = {"setpoints_kw": list(payload["setpoints_kw"]),
                                                "start_hour": payload.get("start_hour")}
        return super().plo_receive(plo, kind, payload)


def _register() -> None:
    from cosim.exchange.registry import EXCHANGE_MODES  # noqa: PLC0415

    # resolvable by name for the env's own worlds, but not listed: it needs the env's bridge, so `cosim compare`
    # (every listed mode) must not pick it up in a process that imported cosim.env
    EXCHANGE_MODES.register(MODE_NAME, EnvCentralised, listed=False)


_register()


class _DsoWithPlos(DsoEnv):
    plo_agents = True


class ParallelCosimEnv(ParallelEnv):
    """The DSO and the PLOs of `scenario` as agents (see the module); options as `DsoEnv`'s."""

    metadata = {"name": "cosim_dso_plo_v0", "render_modes": []}

    def __init__(self, scenario: Scenario | str | Path | None = None, **options: Any) -> None:
        self.dso = _DsoWithPlos(scenario, **options)
        self.possible_agents = [DSO, *self.dso.lot_ids]
        self.agents: list[str] = []
        self._obs_spaces = {DSO: self.dso.observation_space,
                            **{lot: spaces.Box(-1e6, 1e6, (PLO_OBS,), np.float32) for lot in self.dso.lot_ids}}
        self._act_spaces = {DSO: self.dso.action_space,
                            **{lot: spaces.Box(-1.0, 1.0, (1,), np.float32) for lot in self.dso.lot_ids}}
        self._price = np.zeros(HOURS)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, info = self.dso.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return self._observations(obs), {a: dict(info) if a == DSO else {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        bridge = self.dso.episode.bridge if self.dso.episode is not None else None
        if bridge is not None:
            for lot in self.dso.lot_ids:
                a = float(np.clip(np.nan_to_num(np.asarray(actions.get(lot, [1.0]), float).reshape(-1)[0]), -1, 1))
                bridge.offer_share[lot] = (a + 1.0) / 2.0
        point = self.dso.decision_point
        price = float(point.problem.price_usd_per_kwh[0]) if point is not None else 0.0
        offers = {lot.lot_id: lot for lot in point.problem.lots} if point is not None else {}
        lot_power = lot_power_model(point.problem) if point is not None else "soc_weighted"
        obs, reward, done, truncated, info = self.dso.step(actions[DSO])
        decided = info.get("decided", {}).get("lots", {})
        rewards = {DSO: reward}
        unmet = self._unmet_by_lot() if done else {}
        for lot in self.dso.lot_ids:
            offer, setpoint_kw = offers.get(lot), decided.get(lot, {}).get("setpoint_kw", 0.0)
            benefit = lot_benefit_usd(np.array([setpoint_kw]), offer, np.array([price]), lot_power) \
                if offer is not None else 0.0  # a lot that sent no offer has no economics to price its hour with
            rewards[lot] = benefit - self.dso.weights.unmet_kwh * unmet.get(lot, 0.0)
        observations = self._observations(obs)
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        infos = {a: dict(info) if a == DSO else {"offer_share": self.dso.episode.bridge.offer_share.get(a, 1.0)}
                 for a in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def close(self) -> None:
        self.dso.close()

    def _unmet_by_lot(self) -> dict[str, float]:
        """Each lot's contract energy unmet over the episode (kWh), from the recorded lots table."""
        from cosim.results import RunFolder  # noqa: PLC0415

        lots = RunFolder(self.dso.episode.run_dir).table("lots")
        return {str(k): float(v) for k, v in lots.groupby("id")["unmet_energy_kwh"].sum().items()}

    def _observations(self, dso_obs: np.ndarray) -> dict[str, np.ndarray]:
        out = {DSO: dso_obs}
        point = self.dso.decision_point
        bridge = self.dso.episode.bridge if self.dso.episode is not None else None
        for lot in self.dso.lot_ids:
            obs = np.zeros(PLO_OBS, np.float32)
            if point is not None and bridge is not None:
                obs[0] = (point.hour % 24) / 23.0
                obs[1:1 + HOURS] = point.problem.price_usd_per_kwh * 10.0
                msg = bridge.received.get(lot)
                if msg is not None:
                    kw = np.asarray(msg["setpoints_kw"], float)
                    shift = point.hour - int(msg["start_hour"] or 0)
                    if 0 <= shift < kw.size:
                        rest = kw[shift:][:HOURS]
                        obs[1 + HOURS:1 + HOURS + rest.size] = rest / 1000.0
                m = point.state.lots.get(lot) if point.state is not None else None
                if m is not None:
                    obs[-2:] = (m.evs_present / 100.0, m.energy_stored_kwh / 1000.0)
            out[lot] = np.nan_to_num(obs)
        return out


def parallel_env(scenario: Scenario | str | Path | None = None, **options: Any) -> ParallelCosimEnv:
    """The DSO and every PLO of `scenario` as PettingZoo agents (a `ParallelEnv`)."""
    return ParallelCosimEnv(scenario, **options)
