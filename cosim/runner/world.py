"""Scenario -> one mosaik World: which simulators, which entities, which connections.

Data flow each step (time_resolution = 60 x `[simulation] step_minutes` s: one mosaik time unit is one step of 60,
30 or 15 minutes, a day `scenario.steps_per_day` units; the run lasts `scenario.steps` units):
  market --load_scaling--> grid;  market --forecasts--> DSO, PLOs
  lot --state (start of step, incl. 24-h forecast, one value per step; time-shifted)--> PLO
  PLO --offer--> DSO --to_plo (weak, same-time loop in a group)--> PLO   (day-ahead negotiation rounds)
  PLO --setpoint_kw--> lot --p_kw, q_kvar--> grid connection (bus chosen by the DSO)
  connection --vm_pu (its bus, time-shifted: the previous hour's)--> lot   (a lot whose chargers follow Q(V))
  DSO --open_branches--> grid;  everything --> recorder (CSV files written as the run goes)
With a controller that re-plans step by step (`revise`): the lots send a fresh forecast and their measurements
every step (PLO -> DSO as the exchange mode says, `plo_hourly`) and the grid's measured step reaches the DSO a
step late (grid --losses_kw, v_min_pu, p_grid_kw, open_branches--> DSO, time-shifted).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mosaik

from cosim.config import Scenario, ScenarioFileError
from cosim.exchange.keys import MADE_HERE, new_key_ring
from cosim.exchange.messages import agent_key_ring
from cosim.registry import import_attribute
from cosim.results.folder import TRACEBACKS
from cosim.runner.processes import RunWorld, plo_starter
from cosim.runner.simulators import SIMULATORS, by_name
from cosim.runner.timing import sim_config
from simulators.parking.presets import SEED000_SCHEDULE_FLEETS
from simulators.recorder.simulator import MEMORY_ONLY


@dataclass
class WorldContext:
    """What a simulator's wiring function sees: the world, the scenario, the network model, and the entities
    started so far by simulator name ("Market", "Grid", "Recorder", "DSO": one entity; "Parking", "PLO",
    "Connection": {lot_id: entity}). A wiring function adds its own entities under its simulator's name."""

    world: mosaik.World
    scenario: Scenario
    network: Any  # RadialNetwork of the scenario's network
    entities: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuiltWorld:
    world: mosaik.World
    until: int
    run_dir: Path


def check_buses(scenario: Scenario, n_bus: int) -> None:
    for lot in scenario.lots:
        for bus in lot.candidate_buses:
            if not 1 <= bus <= n_bus:
                where = scenario.path or "<scenario>"
                raise ScenarioFileError(f"{where}: lots ({lot.id}).candidate_buses: bus {bus} does not exist "
                                        f"in network {scenario.network!r} (buses 1..{n_bus})")


def seed000_hour_mode() -> list[int]:
    """Seed 000's lot schedule: +1 charging hours (h1-h8, h21-h24), -1 discharging (h11-h19), 0 idle: 24 hourly
    values at any step (the PLO holds each over the steps of its hour)."""
    from simulators.parking.presets import hour_types  # noqa: PLC0415

    return [{"charge": 1, "discharge": -1, "idle": 0}[t] for t in hour_types()]


def lot_fleet_spec(lot, days: int, near: str | None = None) -> Any:
    """Parking simulator `fleet` parameter of a lot (fleets cover the run's days plus the night after); `near` is
    where a user's fleet module may sit (the scenario's folder)."""
    if lot.fleet_is_csv:
        return {"kind": "csv", "path": lot.fleet}
    return {"kind": "preset", "name": lot.fleet, "days": days + 1, "near": near, **lot.fleet_options}


def lot_economics(lot, scenario: Scenario) -> dict[str, float]:
    """The PLO's economics beyond seed 000's: with ``degradation.wear_cost``, the battery wear per battery kWh of the
    ageing model's cyclic term at the lot's fleet's mean battery (`AgeingModel.wear_usd_per_kwh`); with
    ``degradation.calendar_cost``, the calendar ageing per battery kWh held an hour (`AgeingModel.calendar_cost`)."""
    wear, calendar = (bool(lot.degradation.get(name, False)) for name in ("wear_cost", "calendar_cost"))
    if not (wear or calendar):
        return {}
    from cosim.controllers.ageing import ageing_model  # noqa: PLC0415
    from simulators.parking.simulator import build_fleet  # noqa: PLC0415

    model = ageing_model(lot.degradation)
    economics = {}
    if wear:
        near = str(scenario.plugin_dir) if scenario.plugin_dir else None
        evs = build_fleet(lot_fleet_spec(lot, scenario.days, near), scenario.seed)
        capacity = sum(ev.capacity_kwh for ev in evs) / len(evs) if evs else 60.0
        economics["wear_usd_per_kwh"] = model.wear_usd_per_kwh(capacity)
    if calendar:
        economics["calendar_usd_per_kwh_h"] = model.calendar_cost().usd_per_kwh_h
    return economics


def initial_lot_state(lot_params: dict[str, Any], step_h: float = 1.0) -> dict[str, Any]:
    """The lot's state at step 0 (what the PLO sees before the first step): built from the same fleet spec, its
    day-ahead forecast one value per step of `step_h` hours (the lot simulator's own forecast at that step)."""
    from simulators.parking.forecast import day_ahead_forecast  # noqa: PLC0415
    from simulators.parking.lot import ParkingLot  # noqa: PLC0415
    from simulators.parking.simulator import build_fleet, forecast_view  # noqa: PLC0415

    lot = ParkingLot(build_fleet(lot_params["fleet"], lot_params["seed"]), n_chargers=lot_params["n_chargers"],
                     connection_limit_kw=lot_params["connection_limit_kw"], allocation=lot_params["allocation"])
    view = forecast_view(lot, lot_params.get("forecast_error"), lot_params["seed"], lot_params.get("lot_id", ""))
    step = {} if step_h == 1.0 else {"step_h": step_h}  # hourly: the call as it always was
    return {"forecast": day_ahead_forecast(lot if view is None else view.expected(lot), 0.0, **step)}


def revises_hourly(scenario: Scenario) -> bool:
    """Whether the scenario's controller re-plans step by step (its class has `revise`; the name stays from when
    every step was an hour)."""
    from cosim.controllers.base import can_revise  # noqa: PLC0415
    from cosim.controllers.registry import CONTROLLERS  # noqa: PLC0415

    return can_revise(CONTROLLERS.resolve(scenario.controller, near=scenario.plugin_dir))


def build_world(scenario: Scenario, run_dir: Path, progress: bool = False) -> BuiltWorld:
    """Create the mosaik World of a scenario, with all entities and connections."""
    from cosim.networks import load_radial  # noqa: PLC0415

    radial = load_radial(scenario.network, near=scenario.plugin_dir)  # built once per process, shared
    check_buses(scenario, radial.n_bus)
    # every simulator in process, wrapped to time its own steps (cosim.runner.timing); any of them could equally be
    # started as a process ({"cmd": "python -m simulators.grid.simulator %(addr)s"}), as each PLO is with
    # [exchange] separate_processes (cosim.runner.processes). Each negotiation round is a DSO -> PLO -> DSO
    # same-time loop: mosaik is given room for max_rounds of them.
    config: dict[str, Any] = {**sim_config(), **({"PLO": plo_starter()} if scenario.separate_processes else {})}
    world = RunWorld(config, time_resolution=scenario.clock.time_resolution_s, skip_greetings=True,
                     configure_logging=False, max_loop_iterations=4 * scenario.max_rounds + 20)
    try:
        return _populate(world, scenario, radial, run_dir, progress)
    except BaseException:
        world.shutdown()
        raise


def _populate(world: mosaik.World, scenario: Scenario, radial, run_dir: Path, progress: bool) -> BuiltWorld:
    plugin_dir = str(scenario.plugin_dir) if scenario.plugin_dir else None
    market = world.start("Market").Market(profile=scenario.market_profile, start_day=scenario.start_day,
                                          days=scenario.days + 1, nominal_load_kw=float(radial.p_load_kw.sum()),
                                          forecast_noise=dict(scenario.forecast_noise), seed=scenario.seed,
                                          network=scenario.network, plugin_dir=plugin_dir)
    hourly = revises_hourly(scenario)
    grid_sim = world.start("Grid")
    grid = grid_sim.Grid(network=scenario.network, plugin_dir=plugin_dir, engine=scenario.engine,
                         tap_control=scenario.tap_control)
    parking = world.start("Parking")
    recorder = world.start("Recorder").Recorder(run_dir=str(run_dir),
                                                tables={s.name: s.table for s in SIMULATORS if s.table},
                                                progress_total=scenario.steps if progress else 0)
    kept = MEMORY_ONLY.get(str(run_dir))  # the recorder switched off: the tables it keeps in memory (else None)

    def record(source: Any, name: str, *attrs: Any) -> None:
        """Connect simulator `name`'s entity `source` to the recorder: `attrs` (default: its `recorded` outputs);
        with the recorder switched off, only the scalar ones of a table it keeps, or nothing (the outputs it would
        drop are then never built, nor handed over by mosaik)."""
        spec = by_name(name)
        attrs = attrs or spec.recorded
        if kept is not None:
            scalar = spec.scalar_recorded()
            attrs = tuple(a for a in attrs if (a[0] if isinstance(a, tuple) else a) in scalar) \
                if spec.table in kept else ()
        if attrs:
            world.connect(source, recorder, *attrs)
    exchange_options = {"max_rounds": scenario.max_rounds, **scenario.exchange_options}

    def start_dso(dso_sim: Any, keys: dict[str, Any] | None) -> Any:
        return dso_sim.DSO(
            network=scenario.network, controller=scenario.controller, controller_options=scenario.controller_options,
            time_limit_s=scenario.controller_time_limit_s, isolation=scenario.controller_isolation,
            objective=scenario.objective, reconfigure=scenario.reconfigure, exchange=scenario.exchange,
            exchange_options=exchange_options, faults=scenario.faults, seed=scenario.seed, plugin_dir=plugin_dir,
            keys=keys, switch_operations_per_day=scenario.switch_operations_per_day,
            on_failure=scenario.controller_on_failure, tracebacks_file=str(run_dir / TRACEBACKS),
            lots={lot.id: {"candidate_buses": list(lot.candidate_buses), "connection_limit_kw": lot.connection_limit_kw,
                           "power_factor": lot.plan_power_factor} for lot in scenario.lots})

    def start_plo(plo_sim: Any, lot, keys: dict[str, Any] | None) -> Any:
        return plo_sim.PLO(lot_id=lot.id, candidate_buses=list(lot.candidate_buses), exchange=scenario.exchange,
                           exchange_options=exchange_options, plugin_dir=plugin_dir, faults=scenario.faults,
                           seed=scenario.seed, keys=keys, connection_limit_kw=lot.connection_limit_kw, hourly=hourly,
                           economics=lot_economics(lot, scenario),
                           misreport_probability=scenario.misreport_probability,
                           misreport_factor=scenario.misreport_factor,
                           hour_mode=seed000_hour_mode() if lot.fleet in SEED000_SCHEDULE_FLEETS else None)

    with world.group():
        if scenario.separate_processes:
            dso, plos = _separate_agents(world, scenario, start_dso, start_plo)
        else:
            # Ed25519 keys, fresh for this run from the OS's randomness (or the user's key file), never written
            # anywhere: the DSO gets its private key and every lot's public key, each PLO its own private key and
            # the DSO's public key
            ring = agent_key_ring(["DSO", *(lot.id for lot in scenario.lots)], scenario.key_file) \
                if scenario.authenticate else {}
            dso = start_dso(world.start("DSO"), ring["DSO"].params() if ring else None)
            plo_sim = world.start("PLO")
            plos = {lot.id: start_plo(plo_sim, lot, ring[lot.id].hearing(["DSO"]).params() if ring else None)
                    for lot in scenario.lots}
    world.connect(market, grid, "load_scaling", "element_power")  # element_power: profile "simbench" only
    world.connect(market, dso, ("load_scaling_forecast", "load_forecast"), "price_forecast", "bus_load_forecast")
    record(market, "Market")
    record(grid, "Grid")
    world.connect(dso, grid, "open_branches")
    if hourly:  # the measured step reaches the DSO at the start of the next
        world.connect(grid, dso, "losses_kw", "v_min_pu", "p_grid_kw", ("open_branches", "grid_open_branches"),
                      time_shifted=1)
        # at hour 0 there is no measured hour yet: mosaik 3.7 hands the DSO None (it waits for the first one) and warns
        # that the grid "did not produce output" (initial data for the connection it refuses as "not needed")
        warnings.filterwarnings("ignore", category=UserWarning,
                                message=r"Simulator Grid-\d+'s entity grid did not produce output on its persistent "
                                        r"attribute (losses_kw|v_min_pu|p_grid_kw|open_branches) ")
    record(dso, "DSO", "plan", "messages", "events")
    lots, connections = {}, {}
    for lot_cfg in scenario.lots:
        lot_params = {"fleet": lot_fleet_spec(lot_cfg, scenario.days, plugin_dir), "n_chargers": lot_cfg.n_chargers,
                      "connection_limit_kw": lot_cfg.connection_limit_kw, "allocation": lot_cfg.allocation,
                      "seed": scenario.seed, "lot_id": lot_cfg.id, "hourly_forecast": hourly,
                      "forecast_error": dict(lot_cfg.forecast_error), "power_factor": lot_cfg.power_factor,
                      "degradation": dict(lot_cfg.degradation), "qv": dict(lot_cfg.qv)}
        lot = lots[lot_cfg.id] = parking.Lot(**lot_params)
        plo = plos[lot_cfg.id]
        conn = connections[lot_cfg.id] = grid_sim.Connection(bus=lot_cfg.candidate_buses[0], lot_id=lot_cfg.id)
        world.connect(lot, conn, "p_kw")
        if lot_cfg.power_factor < 1.0 or lot_cfg.qv:  # the chargers' reactive power
            world.connect(lot, conn, "q_kvar")
        if lot_cfg.qv:  # Q(V): the lot reads its bus voltage as the grid measured it in the previous step
            world.connect(conn, lot, ("vm_pu", "v_pu"), time_shifted=True, initial_data={"vm_pu": 1.0})
        world.connect(dso, conn, "lot_buses")
        world.connect(lot, plo, ("state", "lot_state"), time_shifted=True,
                      initial_data={"state": initial_lot_state(lot_params, scenario.clock.step_h)})
        world.connect(market, plo, "price_forecast")
        world.connect(plo, lot, "setpoint_kw", "schedule")
        world.connect(plo, dso, "offer")
        world.connect(dso, plo, ("to_plo", "from_dso"), weak=True)
        record(lot, "Parking")
        record(plo, "PLO", ("setpoint_kw", "plo_setpoint_kw"), "planned_profit_usd", "tariff_usd_per_kwh",
               "messages", "events")
    ctx = WorldContext(world, scenario, radial, {"Market": market, "Grid": grid, "Recorder": recorder, "DSO": dso,
                                                  "Parking": lots, "PLO": plos, "Connection": connections})
    for spec in SIMULATORS:
        if spec.wire is not None:
            import_attribute(spec.wire, f"wiring of simulator {spec.name!r}")(ctx)
    return BuiltWorld(world, scenario.steps, run_dir)


def _separate_agents(world: mosaik.World, scenario: Scenario, start_dso, start_plo) -> tuple[Any, dict[str, Any]]:
    """The DSO and one PLO simulator process per lot (`[exchange] separate_processes`), keys kept apart: each
    PLO process makes its own private key and tells its public key (entity `extra_info`); the DSO's private key
    stays in this process and only its public key goes to the PLOs. With a key file, this process reads it and
    hands each PLO its own key only."""
    dso_sim = world.start("DSO")  # started first, as in process: the same simulator ids, the same results
    plo_sims = {lot.id: world.start("PLO", sim_id=f"PLO-{lot.id}") for lot in scenario.lots}
    if not scenario.authenticate:
        plos = {lot.id: start_plo(plo_sims[lot.id], lot, None) for lot in scenario.lots}
        return start_dso(dso_sim, None), plos
    if scenario.key_file is not None:
        ring = agent_key_ring(["DSO", *(lot.id for lot in scenario.lots)], scenario.key_file)
        plos = {lot.id: start_plo(plo_sims[lot.id], lot, ring[lot.id].hearing(["DSO"]).params())
                for lot in scenario.lots}
        dso_keys = ring["DSO"]
    else:
        dso_keys = new_key_ring(["DSO"])["DSO"]
        plos = {lot.id: start_plo(plo_sims[lot.id], lot, {"owner": lot.id, "private_key": MADE_HERE,
                                                           "public_keys": {"DSO": dso_keys.public_key_hex()}})
                for lot in scenario.lots}
        dso_keys = dso_keys.with_public({lot_id: plo.extra_info["public_key"] for lot_id, plo in plos.items()})
    return start_dso(dso_sim, dso_keys.params()), plos
