"""Calendar ageing as a cost (`AgeingModel.calendar_cost`, `[[lots]] degradation = { calendar_cost = true }`): its
linearisation against the ageing model, the PLO's scheduler and per-EV dispatch carrying it (EVs charged later,
held at a lower SOC, the same contracts met), the DSO's of1 and MILP costs, the offer, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cosim.controllers.objectives as obj
from cosim.cli import main
from cosim.config import parse_scenario
from cosim.controllers.ageing import AgeingModel, held_hours
from cosim.controllers.base import HOURS, LotEconomics, LotOffer
from cosim.controllers.envelope import envelope_of, plugged_hours
from cosim.controllers.fleet_lp import CALENDAR_KEY, calendar_columns, dispatch
from cosim.controllers.plo_scheduler import plo_profit_schedule
from cosim.exchange.payloads import LotRegistration, PayloadError, check_offer, offer_from_payload, offer_to_payload
from cosim.runner.world import lot_economics
from simulators.parking.ev import EV
from simulators.parking.lot import ParkingLot

MODEL = AgeingModel()
COST = MODEL.calendar_cost()
K = COST.usd_per_kwh_h


def _model_usd(soc, hours, capacity_kwh, age_days=MODEL.age_days):
    """What the ageing model itself charges: `calendar_fraction` at the mean SOC, priced at the battery's cost."""
    return MODEL.calendar_fraction(soc, hours / 24.0, age_days) * capacity_kwh * MODEL.battery_cost_usd_per_kwh


def test_the_linearisation_is_the_model_over_the_soc_range():
    """One hour at SOC s, and any stay at a constant SOC, cost the model's loss to rounding over SOC 0..1 (the model
    is affine in SOC); a SOC path over hours costs the model's loss at its mean SOC."""
    soc = np.linspace(0.0, 1.0, 101)
    for hours in (1.0, 7.5, 24.0):
        linear = COST.usd(soc * 60.0 * hours, 60.0 * hours)
        assert linear == pytest.approx(_model_usd(soc, hours, 60.0), rel=1e-12)
    path = np.random.default_rng(4).uniform(0.05, 0.95, 24)  # a SOC for each hour of a day
    assert COST.usd(path * 40.0, np.full(24, 40.0)).sum() == pytest.approx(_model_usd(path.mean(), 24.0, 40.0),
                                                                          rel=1e-12)
    assert 1e-4 < K < 1e-3  # $ per kWh held an hour: 0.3 cents a kWh over ten hours at 115 $/kWh
    hot = AgeingModel(temperature_k=318.15).calendar_cost()  # from the model's functions, not copied constants
    assert hot.usd_per_kwh_h > 4.0 * K


def test_the_linearisation_error_from_the_battery_age_is_bounded():
    """The LP prices every hour at the run's starting age; a visit d days later ages (1 + d / age)^-0.25 as fast:
    the linear cost is above the model by at most 0.04 % a day into the run (0.034 % at 730 days), over 0..1."""
    soc = np.linspace(0.0, 1.0, 11)
    for day in (1.0, 3.0):
        model = _model_usd(soc, 24.0, 60.0, MODEL.age_days + day)
        linear = COST.usd(soc * 60.0 * 24.0, 60.0 * 24.0)
        assert np.all(linear >= model) and np.all(linear - model <= 4e-4 * day * model)


def test_off_by_default():
    assert LotEconomics().calendar_usd_per_kwh_h == 0.0
    scenario = parse_scenario({"lots": [{"bus": 5, "degradation": {"wear_cost": True}}]})
    assert "calendar_usd_per_kwh_h" not in lot_economics(scenario.lots[0], scenario)
    on = parse_scenario({"lots": [{"bus": 5, "degradation": {"calendar_cost": True, "temperature_k": 308.15}}]})
    assert lot_economics(on.lots[0], on) == {
        "calendar_usd_per_kwh_h": AgeingModel(temperature_k=308.15).calendar_cost().usd_per_kwh_h}


def _evs() -> list[EV]:
    """Three visits, each to be charged full by its departure: the schedule chooses only when."""
    return [EV("a", 0.5, 9.0, 60.0, 11.0, 0.3, soc_min_departure=1.0),
            EV("b", 9.5, 16.0, 40.0, 11.0, 0.2, soc_min_departure=1.0),
            EV("c", 16.5, 23.5, 75.0, 11.0, 0.4, soc_min_departure=1.0)]


PRICE = 0.10 + 1e-4 * np.arange(HOURS)  # rising by less than an hour's calendar cost per kWh (K, 3e-4 $)


def _plan_and_run(calendar_usd_per_kwh_h: float) -> tuple[np.ndarray, float, list[dict]]:
    """The PLO's schedule for `_evs` inside their envelope at `PRICE`, run in a lot: (schedule, planned
    profit, the lot's session rows)."""
    fleet, _ = ParkingLot(_evs()).fleet_view(0.0)
    offer = LotOffer(lot_id="L", candidate_buses=(5,), n_pev=3, pev_power_kw=11.0, pev_battery_kwh=60.0,
                     hour_mode=np.ones(HOURS), max_charge_kw=np.full(HOURS, 11.0), max_discharge_kw=np.zeros(HOURS),
                     economics=LotEconomics(calendar_usd_per_kwh_h=calendar_usd_per_kwh_h),
                     envelope=envelope_of(fleet), fleet=fleet)
    schedule, profit = plo_profit_schedule(offer, PRICE)
    lot = ParkingLot(_evs())
    lot.set_schedule(0.0, schedule)
    for h in range(HOURS):
        lot.advance(float(schedule[h]), h + 1.0)
    return schedule, profit, lot.sessions()


def test_the_scheduler_charges_later_and_holds_a_lower_soc():
    """Prices rising slowly over the day: without the calendar cost each EV is charged as early as it can be; with it
    (holding a kWh an hour costs more than the price rises in an hour), as late as it can be and still be full by
    its departure, so the lot measures less calendar ageing (its own nonlinear model) for the same energy
    delivered by departure."""
    plain, profit_plain, rows_plain = _plan_and_run(0.0)
    late, profit_late, rows_late = _plan_and_run(K)
    contracts_kwh = sum((ev.soc_min_departure - ev.soc_arrival) * ev.capacity_kwh for ev in _evs())
    for rows in (rows_plain, rows_late):
        assert all(r["unmet_energy_kwh"] == pytest.approx(0.0, abs=1e-6) for r in rows)
        assert sum(r["energy_delivered_battery_kwh"] for r in rows) == pytest.approx(contracts_kwh, abs=1e-6)
    hours = np.arange(HOURS)
    assert (late @ hours) / late.sum() > (plain @ hours) / plain.sum() + 2.0  # its energy comes hours later
    assert np.all(np.cumsum(late) <= np.cumsum(plain) + 1e-6)  # never more in the batteries
    lost = [sum(r["capacity_lost_calendar_kwh"] for r in rows) for rows in (rows_plain, rows_late)]
    assert lost[1] < 0.97 * lost[0]
    for late_row, plain_row in zip(rows_late, rows_plain):
        assert late_row["capacity_lost_calendar_kwh"] <= plain_row["capacity_lost_calendar_kwh"] + 1e-12
    # the planned profit carries the calendar cost of the energy charged, held to the day's end
    cost_late = float(PRICE @ late) / 0.9 + 0.125 * late.sum()  # seed 000's charging cost (mu_e, cost_e)
    cost_plain = float(PRICE @ plain) / 0.9 + 0.125 * plain.sum()
    assert profit_late == pytest.approx(-cost_late - K * float(held_hours(HOURS) @ late), rel=1e-9)
    assert profit_plain == pytest.approx(-cost_plain, rel=1e-9)


def test_the_dispatch_cost_is_the_linearised_model_of_the_schedule():
    """`calendar_columns` prices a per-EV dispatch as the linearised model does EV by EV (its SOC-hours while
    plugged); with its per-capacity part, the linearised model is the lot's measured calendar ageing (its nonlinear
    model, minute by minute) within 0.05 %."""
    fleet, _ = ParkingLot(_evs()).fleet_view(0.0)
    schedule, _, rows = _plan_and_run(K)
    per_ev, gap = dispatch({**fleet, CALENDAR_KEY: K}, schedule)
    assert gap == pytest.approx(0.0, abs=1e-6)
    columns, held_anyway_usd = calendar_columns(fleet, K)
    # columns in `_model`'s order: (EV, hour) for each hour an EV is plugged, c then d
    present, _ = plugged_hours(np.asarray(fleet["plug_min"]), np.asarray(fleet["dep_min"]), 0, HOURS)
    ev, hour = np.nonzero(present > 0)
    x = np.concatenate([np.maximum(per_ev[ev, hour], 0.0), np.maximum(-per_ev[ev, hour], 0.0)])
    lp_usd = float(columns @ x) + held_anyway_usd
    # the linearised model EV by EV: energy at each hour end, trapezoid within the hour times the share plugged
    energy = np.asarray(fleet["energy_kwh"])[:, None] + np.cumsum(per_ev, axis=1)  # eta = 1
    start = np.concatenate([np.asarray(fleet["energy_kwh"])[:, None], energy[:, :-1]], axis=1)
    kwh_h = (present * 0.5 * (start + energy)).sum(axis=1)
    assert lp_usd == pytest.approx(K * kwh_h.sum(), rel=1e-12)
    cap_h = np.asarray(fleet["capacity_kwh"]) * present.sum(axis=1)
    linear_usd = COST.usd(kwh_h, cap_h).sum()
    measured_usd = sum(r["capacity_lost_calendar_kwh"] for r in rows) * MODEL.battery_cost_usd_per_kwh
    assert linear_usd == pytest.approx(measured_usd, rel=5e-4)


def test_the_dispatch_gives_energy_beyond_the_contracts_to_the_ev_leaving_first():
    """Two EVs at their contracts, one leaving at 03:00 and one at 20:00, and a schedule that charges 10 kWh more in
    the first hour: with the calendar cost the EV leaving first holds it (3 h, not 20 h); the schedule is met."""
    fleet = {"start_min": 0, "hours": HOURS, "plug_min": [0, 0], "dep_min": [180, 1200], "energy_kwh": [20.0, 20.0],
             "capacity_kwh": [60.0, 60.0], "charger_kw": [11.0, 11.0], "contract_kwh": [20.0, 20.0],
             "floor_kwh": [0.0, 0.0], "v2g": [False, False], "eta_charge": [1.0, 1.0], "eta_discharge": [1.0, 1.0]}
    schedule = np.zeros(HOURS)
    schedule[0] = 10.0
    per_ev, gap = dispatch({**fleet, CALENDAR_KEY: K}, schedule)
    assert gap == pytest.approx(0.0, abs=1e-9)
    assert per_ev[0, 0] == pytest.approx(10.0) and per_ev[1].sum() == pytest.approx(0.0, abs=1e-9)
    columns, held_anyway_usd = calendar_columns(fleet, K)
    assert held_anyway_usd == pytest.approx(K * (20.0 * 3.0 + 20.0 * 20.0))
    blind, _ = dispatch(fleet, schedule)  # without the term the two EVs tie: the solver's choice (here the other)
    assert blind[0, 0] + blind[1, 0] == pytest.approx(10.0)
    assert K * 10.0 * 2.5 == pytest.approx(float(columns[0] * per_ev[0, 0]))  # 2.5 h held (half the first hour)
    assert columns.min() < 0.0 and 0.0 < columns.max() < 0.01  # $ a kW: far below dispatch's throughput cost


def _offer(calendar: float = 0.0) -> LotOffer:
    mode = np.array([1] * 8 + [0, 0] + [-1] * 9 + [0] + [1] * 4)
    return LotOffer(lot_id="lot1", candidate_buses=(18,), n_pev=20, pev_power_kw=10.0, pev_battery_kwh=40.0,
                    hour_mode=mode, max_charge_kw=np.full(HOURS, 100.0), max_discharge_kw=np.full(HOURS, 80.0),
                    economics=LotEconomics(calendar_usd_per_kwh_h=calendar), energy_need_kwh=200.0,
                    energy_available_kwh=150.0)


def test_of1_and_the_milp_price_the_calendar_cost_of_the_pev_hours():
    """The DSO's of1 subtracts k x held hours x the battery energy charged (and adds it for the energy discharged);
    the MILP's per-MW costs give the same $ for the same PEV-hours."""
    from cosim.controllers.milp.formulation import of1_costs_per_mw  # noqa: PLC0415 - highspy behind it

    offer, aged = _offer(), _offer(K)
    n_ch = np.where(offer.hour_mode > 0, 5.0, 0.0)[None]
    n_dis = np.where(offer.hour_mode < 0, 3.0, 0.0)[None]
    price = np.full(HOURS, 0.1)
    lost = float(obj.of1_benefit_usd(n_ch, n_dis, price, offer)[0] - obj.of1_benefit_usd(n_ch, n_dis, price, aged)[0])
    charged = 0.9 * obj.lot_power_kw(n_ch, offer)[0]  # battery kWh per hour (mu_e)
    discharged = -obj.lot_power_kw(-n_dis, offer)[0]
    assert lost == pytest.approx(K * float(held_hours(HOURS) @ (charged - discharged)))
    (c0, d0), (c1, d1) = of1_costs_per_mw(offer, price), of1_costs_per_mw(aged, price)
    mw = offer.pev_power_kw / 1000.0
    assert float(((c1 - c0) * n_ch[0] * mw).sum() + ((d1 - d0) * n_dis[0] * mw).sum()) == pytest.approx(lost)


def test_the_dso_receives_the_calendar_cost_in_the_offer_only_when_it_is_on():
    on = offer_to_payload(_offer(K))
    check_offer(on, "lot1", LotRegistration((18,), 1000.0))
    assert offer_from_payload(on).economics.calendar_usd_per_kwh_h == K
    off = offer_to_payload(_offer())
    assert "calendar_usd_per_kwh_h" not in off["economics"]  # the payload of every run without it is as before
    on["economics"]["calendar_usd_per_kwh_h"] = -1.0
    with pytest.raises(PayloadError, match="economics.calendar_usd_per_kwh_h"):
        check_offer(on, "lot1", LotRegistration((18,), 1000.0))


@pytest.mark.parametrize("value", ['"yes"', "1"])
def test_a_calendar_cost_that_is_not_a_boolean_is_one_line_exit_2(tmp_path: Path, capsys, value):
    path = tmp_path / "s.toml"
    path.write_text(f'[[lots]]\nbus = 5\nfleet = "ev2gym"\ndegradation = {{ calendar_cost = {value} }}\n')
    assert main(["run", str(path), "--quiet", "--output", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and not (tmp_path / "out").exists() and "Traceback" not in captured.err
    assert len(lines) == 1 and str(path) in lines[0] and "lots[0].degradation.calendar_cost" in lines[0], lines
    assert "bool" in lines[0]


def test_the_lot_takes_the_switch_as_the_plo_s_business():
    """The parking simulator builds its ageing model from the same table, the switches left out."""
    from simulators.parking.simulator import ParkingSim  # noqa: PLC0415

    sim = ParkingSim()
    sim.init("Parking")
    sim.create(1, "Lot", fleet={"kind": "preset", "name": "ev2gym", "days": 1}, lot_id="L",
               degradation={"calendar_cost": True, "wear_cost": True, "temperature_k": 308.15})
    assert sim.lots["L"].ageing == AgeingModel(temperature_k=308.15)
