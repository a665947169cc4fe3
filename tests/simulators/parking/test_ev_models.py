"""The `ev2gym` fleet preset: EV2Gym's shipped EV models (scenarios/data/ev_models, MIT) as vehicles that come back
every day with their own battery."""

from __future__ import annotations

import collections
import hashlib
import json

import pytest

from simulators.parking.ev import EV
from simulators.parking.models import EV_SPECS, KWH_PER_KM, ev2gym_fleet, load_ev_models
from simulators.parking.presets import preset_fleet


def test_the_data_ships_with_its_source_and_licence():
    folder = EV_SPECS.parent
    licence = (folder / "LICENSE.txt").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2024 Stavros Orfanoudakis" in licence
    readme = (folder / "README.md").read_text()
    assert hashlib.sha256(EV_SPECS.read_bytes()).hexdigest() in readme  # the README names the very file shipped
    assert "ev2gym 2.0.0" in readme.replace("`", "") and "MIT" in readme


def test_models_are_the_files_with_their_registration_shares():
    specs = json.loads(EV_SPECS.read_text())
    models = load_ev_models()
    assert [m.name for m in models] == list(specs)
    assert sum(m.share for m in models) == pytest.approx(1.0)
    peugeot = next(m for m in models if m.name == "Peugeot 208")
    assert (peugeot.capacity_kwh, peugeot.charger_kw, peugeot.eta, peugeot.knee_soc) == (46.3, 7.4, 0.9, 0.8)
    assert {m.capacity_kwh for m in models} == {float(s["battery_capacity"]) for s in specs.values()}


def test_vehicles_come_back_every_day_with_their_own_battery():
    evs = preset_fleet("ev2gym", n_vehicles=30, days=3, seed=4)
    assert all(isinstance(ev, EV) for ev in evs) and len(evs) == 90
    visits = collections.defaultdict(list)
    for ev in evs:
        visits[ev.vehicle_id].append(ev)
    assert len(visits) == 30 and all(len(v) == 3 for v in visits.values())
    for vehicle in visits.values():
        vehicle.sort(key=lambda ev: ev.arrival_h)
        assert len({(ev.capacity_kwh, ev.charger_kw, ev.knee_soc) for ev in vehicle}) == 1  # one car, one model
        assert [int(ev.arrival_h // 24) for ev in vehicle] == [0, 1, 2]
        for before, after in zip(vehicle, vehicle[1:]):  # it left with its contract and drove its commute
            assert after.soc_arrival <= before.soc_min_departure + 1e-12
            assert after.soc_arrival >= 0.1 - 1e-12
        assert all(ev.contract_feasible() for ev in vehicle)
    models = {m.capacity_kwh for m in load_ev_models()}
    assert {ev.capacity_kwh for ev in evs} <= models and len({ev.capacity_kwh for ev in evs}) > 2
    assert KWH_PER_KM == 0.186


def test_the_knee_and_the_seed():
    assert {ev.knee_soc for ev in ev2gym_fleet(5, knee_soc=0.9)} == {0.9}
    assert ev2gym_fleet(10, seed=1) == ev2gym_fleet(10, seed=1) != ev2gym_fleet(10, seed=2)
