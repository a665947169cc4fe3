"""One day of a scenario as the ADMM mode sees it, built outside the co-simulation: the convex grid model (the
day's forecasts, a fixed topology, the lots at fixed buses) and each PLO's private problem from the same fleet
forecast its agent builds at hour 0. The tests and scripts/exchange_study.py measure ADMM against the one-QP
reference on it (`cosim.exchange.admm.run_admm`, `reference_optimum`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.config import Scenario, ScenarioFileError
from cosim.controllers.base import HOURS, LotEconomics
from cosim.exchange.admm import PloProx
from cosim.exchange.lindistflow import LinDistFlowModel

__all__ = ["ConvexDay", "convex_day"]


@dataclass
class ConvexDay:
    """The grid model, the PLOs' problems and their own profit schedules (ADMM's start), lot ids in order."""

    model: LinDistFlowModel
    plos: list[PloProx]
    x0: np.ndarray
    lot_ids: list[str]


def convex_day(scenario: Scenario, open_branches: tuple[int, ...] | None = None) -> ConvexDay:
    """Day 0 of `scenario` with `open_branches` (default: the network's ties) and each lot at its first candidate
    bus (where the PLO-decided modes put it). Hourly only, as the ADMM mode: a scenario in shorter steps is refused
    (`ScenarioFileError`, one line naming `simulation.step_minutes`)."""
    if scenario.step_minutes != 60:
        raise ScenarioFileError(f"{scenario.path or '<scenario>'}: simulation.step_minutes: {scenario.step_minutes} "
                                "is not allowed for the ADMM mode's convex day (hourly only); allowed: 60")
    from cosim.networks import load_network  # noqa: PLC0415 - pandapower
    from cosim.runner.world import initial_lot_state, lot_fleet_spec, seed000_hour_mode  # noqa: PLC0415
    from simulators.market.profiles import load_market  # noqa: PLC0415
    from simulators.parking.presets import SEED000_SCHEDULE_FLEETS  # noqa: PLC0415
    from simulators.plo.agent import offer_from_forecast  # noqa: PLC0415

    radial = load_network(scenario.network, near=scenario.plugin_dir).radial
    plugin_dir = str(scenario.plugin_dir) if scenario.plugin_dir else None
    market = load_market(scenario.market_profile, days=scenario.days + 1, start_day=scenario.start_day,
                         nominal_load_kw=float(radial.p_load_kw.sum()), network=scenario.network,
                         near=plugin_dir).day(0)
    if market.bus_p_kw is not None:
        p, q = market.bus_p_kw[:HOURS], market.bus_q_kvar[:HOURS]
    else:
        p, q = np.outer(market.load_scaling, radial.p_load_kw), np.outer(market.load_scaling, radial.q_load_kvar)
    price = market.energy_price[:HOURS]
    plos, x0 = [], []
    for lot in scenario.lots:
        params = {"fleet": lot_fleet_spec(lot, scenario.days, plugin_dir), "n_chargers": lot.n_chargers,
                  "connection_limit_kw": lot.connection_limit_kw, "allocation": lot.allocation, "seed": scenario.seed,
                  "lot_id": lot.id, "forecast_error": dict(lot.forecast_error)}
        forecast = dict(initial_lot_state(params)["forecast"])
        if lot.fleet in SEED000_SCHEDULE_FLEETS:
            forecast["hour_mode"] = seed000_hour_mode()
        offer = offer_from_forecast(lot.id, tuple(lot.candidate_buses), forecast, price, LotEconomics())
        prox = PloProx(offer, price)
        plos.append(prox)
        x0.append(prox.solve(np.zeros(HOURS), np.zeros(HOURS), 1e-9)[0])
    ties = tuple(radial.tie_branches) if open_branches is None else tuple(open_branches)
    model = LinDistFlowModel(radial, ties, p, q, price, [lot.candidate_buses[0] - 1 for lot in scenario.lots])
    return ConvexDay(model, plos, np.array(x0), [lot.id for lot in scenario.lots])
