"""Seed 000 objective terms (eq. 1-17) and eq. 6 decoding against hand calculations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.controllers import objectives as obj
from cosim.controllers.base import LotOffer
from cosim.controllers.dispatch import apportion, balance_counts, decode_counts, make_layout
from cosim.controllers.objectives import contract_violation_kwh, lot_power_kw


def _lot(**kw):
    mode = np.zeros(24, int)
    mode[0:8] = 1
    mode[20:24] = 1
    mode[10:19] = -1
    base = dict(lot_id="L", candidate_buses=(18,), n_pev=100, pev_power_kw=10.0, pev_battery_kwh=10.0, hour_mode=mode,
                max_charge_kw=np.full(24, 1000.0), max_discharge_kw=np.full(24, 1000.0))
    base.update(kw)
    return LotOffer(**base)


def test_soc_factors_table1():
    lot = _lot()
    # discharge: 0*.1 + .4*.1 + .6*.2 + .8*.3 + 1*.3 = 0.70 ; charge: 1 - (0*.4 + .2*.2 + .3*.2 + .5*.1 + 1*.1) = 0.75
    assert obj.soc_discharge_factor(lot.soc_discharge_levels, lot.soc_discharge_shares) == pytest.approx(0.70)
    assert obj.soc_charge_factor(lot.soc_charge_levels, lot.soc_charge_shares) == pytest.approx(0.75)


def test_of1_by_hand():
    lot = _lot()
    price = np.full(24, 0.1)
    price[2] = 0.08
    price[14] = 0.9
    n_ch = np.zeros((1, 24))
    n_dis = np.zeros((1, 24))
    n_ch[0, 2] = 100
    n_dis[0, 14] = 100
    revenue = 0.9 * 10 * 100 * 0.70  # 630 $
    cost1 = (0.08 / 0.9 + 0.125) * 10 * 100 * 0.75  # 160.4167 $
    cost2 = 0.432 * 200  # 86.4 $
    assert obj.lot_revenue_usd(n_dis, price, 10.0, 0.7)[0] == pytest.approx(revenue)
    assert obj.lot_charging_cost_usd(n_ch, price, 10.0, 0.75, 0.9, 0.125)[0] == pytest.approx(cost1)
    assert obj.lot_usage_cost_usd(n_ch, n_dis, 0.432)[0] == pytest.approx(cost2)
    assert obj.of1_benefit_usd(n_ch, n_dis, price, lot)[0] == pytest.approx(revenue - cost1 - cost2)


def test_of2_sign_and_band():
    load = np.array([1000.0] * 12 + [3000.0] * 12)  # mean 2000
    assert obj.p_target_kw(load) == 2000.0
    assert obj.target_band_kw(load, 0.05) == pytest.approx((1900.0, 2000.0, 2100.0))
    assert obj.of2_lcd_kw(load, np.zeros((1, 24)))[0] == pytest.approx(24 * 1000.0)
    lot = np.zeros((2, 24))
    lot[0, :12] = 500.0  # charging in the valley fills it: 12 * 500 less deviation
    lot[1, :12] = -500.0  # discharging in the valley deepens it
    assert obj.of2_lcd_kw(load, lot).tolist() == pytest.approx([18000.0, 30000.0])


def test_losses_vpd_and_limits_by_hand():
    loss = np.array([[1.0] * 24, [2.5] * 24])
    assert obj.of3_loss_kwh(loss).tolist() == [24.0, 60.0]
    vm = np.ones((1, 24, 3))
    vm[0, 5] = [1.0, 0.95, 0.88]
    vm[0, 6] = [1.0, 1.06, 0.99]
    assert obj.vpd_pu(vm)[0] == pytest.approx(0.05 + 0.12 + 0.06 + 0.01)
    assert obj.voltage_violation_pu(vm, 0.9, 1.05)[0] == pytest.approx(0.02 + 0.01)
    i = np.zeros((1, 24, 2))
    i[0, 3] = [0.3, 5.0]
    assert obj.current_violation(i, np.array([0.2, np.inf]))[0] == pytest.approx(0.5)
    n_ch, n_dis = np.array([[3, 2] + [0] * 22]), np.array([[0, 0, 4] + [0] * 21])
    assert obj.pev_balance_violation(n_ch, n_dis)[0] == 1
    # hour 3: 4 > 3; day: 5 > 4
    assert obj.pev_capacity_violation(n_ch, n_dis, np.full(24, 3), daily_cap=4)[0] == pytest.approx(1 + 1)


def test_decode_enforces_eq6_daily_cap():
    lay = make_layout(_lot(), daily_cap=100)
    x = np.random.default_rng(1).random((50, lay.n_var))
    n = decode_counts(x, lay)
    ch, dis = np.maximum(n, 0).sum(1), np.maximum(-n, 0).sum(1)
    assert np.all(ch == dis) and np.all(ch <= 100) and np.all(ch > 0)
    assert np.all(n[:, 8:10] == 0) and np.all(n[:, 19] == 0)  # idle hours
    assert np.all(n[:, 10:19] <= 0) and np.all(n[:, :8] >= 0)
    assert np.all(decode_counts(np.zeros((1, lay.n_var)), lay) == 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=12, max_size=12), st.lists(st.integers(0, 100), min_size=9, max_size=9))
def test_balance_invariants(ch, dis):
    c, d = balance_counts(np.array([ch]), np.array([dis]))
    assert c.sum() == d.sum() == min(sum(ch), sum(dis))
    assert np.all(c <= np.array(ch)) and np.all(d <= np.array(dis)) and np.all(c >= 0)


def test_apportion_by_hand():
    out = apportion(np.array([[10, 10, 0, 5]]), np.array([10]))
    assert out.tolist() == [[4, 4, 0, 2]]


def test_lot_power_and_contracts_by_hand():
    mode = np.zeros(24, int)
    lot = LotOffer("L", (2,), 100, 10.0, 10.0, mode, np.full(24, 1000.0), np.full(24, 1000.0),
                   energy_need_kwh=750.0, energy_available_kwh=700.0,
                   need_by_hour_kwh=np.r_[np.zeros(6), np.full(18, 600.0)])
    counts = np.zeros(24)
    counts[2], counts[12] = 40, -50
    kw = lot_power_kw(counts, lot)
    # charging: 40 PEVs x 10 kW x (1 - 0.25) / 0.9 = 333.33 kW; discharging: 50 x 10 x 0.70 = 350 kW
    assert kw[2] == pytest.approx(40 * 10 * 0.75 / 0.9)
    assert kw[12] == pytest.approx(-350.0)
    # battery energy by hour 5: 40 x 7.5 = 300 kWh < 600 due -> short 300; by the day's end 300 < 750 -> 450
    assert contract_violation_kwh(kw, lot) == pytest.approx(450.0)
    counts[12] = -120  # discharging 840 kWh > 700 available: 140 kWh more
    assert contract_violation_kwh(lot_power_kw(counts, lot), lot) == pytest.approx(450.0 + 140.0)
