"""The battery wear cost (`LotEconomics.wear_usd_per_kwh`, `[[lots]] degradation = { wear_cost = true }`): off by
default; on, the PLO's scheduler and the DSO's PLO-benefit objective (of1) charge it on every battery kWh in or out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import cosim.controllers.objectives as obj
from cosim.controllers.base import HOURS, LotEconomics, LotOffer
from cosim.controllers.plo_scheduler import plo_profit_schedule
from cosim.exchange.payloads import LotRegistration, check_offer, offer_from_payload, offer_to_payload

PRICE = np.array([0.06] * 7 + [0.09, 0.11, 0.12] + [0.14] * 9 + [0.12, 0.10, 0.08, 0.07, 0.06])
MODE = np.array([1] * 8 + [0, 0] + [-1] * 9 + [0] + [1] * 4)


def _offer(wear: float = 0.0) -> LotOffer:
    return LotOffer(lot_id="lot1", candidate_buses=(18,), n_pev=20, pev_power_kw=10.0, pev_battery_kwh=40.0,
                    hour_mode=MODE, max_charge_kw=np.full(HOURS, 100.0), max_discharge_kw=np.full(HOURS, 80.0),
                    economics=LotEconomics(mu_e=0.9, cost_e_usd_per_kwh=0.01, wear_usd_per_kwh=wear),
                    energy_need_kwh=200.0, energy_available_kwh=150.0)


def test_off_by_default():
    assert LotEconomics().wear_usd_per_kwh == 0.0


def test_the_scheduler_charges_wear_on_the_battery_energy_moved():
    """A small wear leaves the schedule as it is and costs exactly wear x (mu_e x charged + discharged); a wear above
    what discharging earns stops V2G (the arbitrage no longer pays), while the contracts are still charged."""
    base, profit = plo_profit_schedule(_offer(), PRICE)
    worn, profit_worn = plo_profit_schedule(_offer(0.005), PRICE)
    assert worn == pytest.approx(base)
    moved = 0.9 * np.maximum(base, 0).sum() + np.maximum(-base, 0).sum()
    assert profit - profit_worn == pytest.approx(0.005 * moved)
    assert np.maximum(-base, 0).sum() > 100.0  # V2G pays without wear ...
    costly, _ = plo_profit_schedule(_offer(0.2), PRICE)
    assert np.maximum(-costly, 0).sum() == pytest.approx(0.0, abs=1e-6)  # ... not at 0.2 $/kWh of wear
    assert 0.9 * np.maximum(costly, 0).sum() == pytest.approx(200.0)


def test_of1_subtracts_the_wear_of_the_pev_hours():
    offer = _offer()
    n_ch = np.where(MODE > 0, 5.0, 0.0)[None]
    n_dis = np.where(MODE < 0, 3.0, 0.0)[None]
    plain = obj.of1_benefit_usd(n_ch, n_dis, PRICE, offer)
    worn = obj.of1_benefit_usd(n_ch, n_dis, PRICE, dataclasses.replace(
        offer, economics=dataclasses.replace(offer.economics, wear_usd_per_kwh=0.02)))
    charged_grid_kwh = float(obj.lot_power_kw(n_ch, offer)[0].sum())
    discharged_kwh = -float(obj.lot_power_kw(-n_dis, offer)[0].sum())
    assert plain - worn == pytest.approx(0.02 * (0.9 * charged_grid_kwh + discharged_kwh))


def test_the_dso_receives_the_wear_in_the_offer_only_when_it_is_on():
    on = offer_to_payload(_offer(0.0168))
    check_offer(on, "lot1", LotRegistration((18,), 1000.0))
    assert offer_from_payload(on).economics.wear_usd_per_kwh == 0.0168
    off = offer_to_payload(_offer())
    assert "wear_usd_per_kwh" not in off["economics"]  # the payload of every run without it is as before
    assert offer_from_payload(off).economics.wear_usd_per_kwh == 0.0


def test_the_milp_prices_the_wear_as_of1_does():
    from cosim.controllers.milp.formulation import of1_costs_per_mw  # noqa: PLC0415 - highspy behind it

    offer = _offer()
    worn = dataclasses.replace(offer, economics=dataclasses.replace(offer.economics, wear_usd_per_kwh=0.02))
    (c0, d0), (c1, d1) = of1_costs_per_mw(offer, PRICE), of1_costs_per_mw(worn, PRICE)
    n_ch = np.where(MODE > 0, 5.0, 0.0)[None]
    n_dis = np.where(MODE < 0, 3.0, 0.0)[None]
    # of1's wear for these PEV-hours, against the MILP's per-MW costs times the PEVs' rated MW
    benefit = lambda lot: obj.of1_benefit_usd(n_ch, n_dis, PRICE, lot)[0]  # noqa: E731
    of1_wear = float(benefit(offer) - benefit(worn))
    mw = offer.pev_power_kw / 1000.0
    milp_wear = float(((c1 - c0) * n_ch[0] * mw).sum() + ((d1 - d0) * n_dis[0] * mw).sum())
    assert milp_wear == pytest.approx(of1_wear)
