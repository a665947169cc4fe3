"""Seed 003 study (Neyestani et al. 2015): each model term against a hand calculation, plus a quick smoke run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cosim.errors import InputError
from cosim.powerflow.network_data import RadialNetwork
from cosim.studies.neyestani2015 import study as study
from cosim.studies.neyestani2015.scenarios import (
    HOURS,
    PevScenario,
    PriceScenario,
    battery_classes,
    occupancy,
    reduce_scenarios,
    roulette_wheel,
    wind_power_pu,
)
from cosim.studies.neyestani2015.stage1 import StationLotParams, lot_inputs, profit_terms, solve_stage1
from cosim.studies.neyestani2015.stage2 import (
    Feeder,
    GridParams,
    StationProfile,
    contingency_energy,
    crf,
    eens_of_layout,
    solve_stage2,
)

H = HOURS


def flat_price(energy=0.05, cap=0.0, call=0.0, rho=0.0) -> PriceScenario:
    one = np.ones(H)
    return PriceScenario("test", energy * one, cap * one, call * one, rho * one, one)


# ---------------------------------------------------------------- scenarios

def test_battery_classes_are_24_with_unit_share():
    cap, cons, share = battery_classes()
    assert len(cap) == len(cons) == len(share) == 24
    assert share.sum() == pytest.approx(1.0)


def test_occupancy_counts_midpoint_presence():
    s = occupancy(np.array([8.0, 9.2]), np.array([10.0, 12.0]), np.array([40.0, 60.0]), np.array([0.5, 0.25]))
    assert s.n_pev[8] == 1 and s.n_pev[9] == 2 and s.n_pev[10] == 1 and s.n_pev[12] == 0
    assert s.soc_kwh[9] == pytest.approx(20.0 + 15.0)
    assert s.cap_kwh[11] == pytest.approx(60.0)


def test_roulette_wheel_follows_class_probabilities():
    rng = np.random.default_rng(1)
    edges = np.array([0.0, 1.0, 2.0, 4.0])
    x = roulette_wheel(edges, lambda e: np.clip(e / 4.0, 0, 1), 40_000, rng)  # uniform on [0, 4]
    assert set(np.unique(x)) == {0.5, 1.5, 3.0}
    assert np.mean(x == 3.0) == pytest.approx(0.5, abs=0.01)


def test_wind_power_curve_hand_values():
    p = wind_power_pu(np.array([2.0, 3.0, 12.0, 20.0, 26.0, 7.5]))
    assert p[:5] == pytest.approx([0.0, 0.0, 1.0, 1.0, 0.0])
    assert p[5] == pytest.approx((7.5**3 - 27) / (12**3 - 27))


def test_kmeans_reduction_recovers_two_groups():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 0.1, (30, 3)), rng.normal(5, 0.1, (10, 3))]
    c, prob = reduce_scenarios(x, 2, rng)
    order = np.argsort(c[:, 0])
    assert prob[order] == pytest.approx([0.75, 0.25])
    assert c[order][1] == pytest.approx([5, 5, 5], abs=0.1)


# ---------------------------------------------------------------- stage 1 terms

def test_lot_inputs_scaling_eqs_9_10_14_15():
    n = np.zeros(H)
    soc = np.zeros(H)
    cap = np.zeros(H)
    n[1:4] = [100, 300, 200]
    soc[1:4] = [500, 1500, 900]
    cap[1:4] = [1000, 3000, 2000]
    li = lot_inputs(PevScenario(n, soc, cap), 200)
    assert li.n_pl[1:4] == pytest.approx([100, 200, 200])  # (9)
    assert li.cap[2] == pytest.approx(3000 * 200 / 300)  # (10)
    assert li.arr[1] == pytest.approx(500) and li.arr[2] == pytest.approx(1000 * 200 / 300)  # (14)
    assert li.arr[3] == 0 and li.dep_share[3] == pytest.approx(600 / 1500)  # (15)
    assert li.dep_ref[3] == pytest.approx(600 * 200 / 300)
    assert li.dep_share[4] == pytest.approx(1.0) and li.dep_ref[4] == pytest.approx(900)


def test_profit_terms_hand_calculation():
    lp = StationLotParams(forced_outage_rate=0.1, tariff_g2v=0.2, pay_v2g=0.05, c_dep=0.01)
    price = flat_price(energy=0.05, cap=0.02, call=0.06, rho=0.5)
    p_in = np.zeros(H)
    p_out = np.zeros(H)
    r = np.zeros(H)
    sp = np.zeros(H)
    df = np.zeros(H)
    p_in[0], p_out[1], r[2], sp[3], df[4] = 100, 40, 10, 30, 8
    t = profit_terms(p_in, p_out, r, sp, df, price, lp)
    assert t["energy"] == pytest.approx(0.05 * (40 - 100))
    assert t["reserve"] == pytest.approx(10 * (0.9 * (0.02 + 0.5 * 0.06) - 0.1 * 0.5 * 0.06))
    assert t["owners"] == pytest.approx(0.2 * 30 - 0.05 * 8 - 0.05 * 0.5 * 10 - 0.01 * (40 + 0.5 * 10))


def _constant_lot(cap_kwh: float) -> PevScenario:
    return PevScenario(np.full(H, 10.0), np.full(H, 0.5 * cap_kwh), np.full(H, cap_kwh))


def test_stage1_reserve_limited_by_station_rate():
    # no arrivals/departures; reserve pays 0.02 $/kW h; rate limit 10 x 11 kW binds: 24 h x 110 kW x 0.02 x 0.98
    lp = StationLotParams(forced_outage_rate=0.02)
    r = solve_stage1(_constant_lot(500.0), flat_price(cap=0.02), 10, lp)
    assert r.status == "Optimal"
    assert r.profit == pytest.approx(24 * 110 * 0.02 * 0.98, rel=1e-6)
    assert r.r == pytest.approx(np.full(H, 110.0), abs=1e-6)


def test_stage1_reserve_limited_by_contract_min_soc():
    # SOC <= 200 kWh, contract keeps 0.5 x 200: reserve <= (200 - 100) x 0.95 = 95 kW each hour (eq. 8)
    lp = StationLotParams(forced_outage_rate=0.02)
    r = solve_stage1(_constant_lot(200.0), flat_price(cap=0.02), 10, lp)
    assert r.profit == pytest.approx(24 * 95 * 0.02 * 0.98, rel=1e-6)
    assert np.all(r.soc - r.r / lp.eta_d >= 0.5 * 200 - 1e-6)


def test_stage1_charges_for_departure_surplus():
    # 10 PEVs with 200 kWh (of 400) present in hours 0..11, all leave at hour 12; energy 0.05, owners pay 0.12 for
    # the surplus: the lot fills the batteries, 200 kWh of surplus bought as 200 / 0.95 kWh.
    n = np.zeros(H)
    soc = np.zeros(H)
    cap = np.zeros(H)
    n[:12], soc[:12], cap[:12] = 10, 200, 400
    r = solve_stage1(PevScenario(n, soc, cap), flat_price(), 10, StationLotParams(c_dep=0.01))
    assert r.surplus.sum() == pytest.approx(200.0, abs=1e-6)
    assert r.p_in.sum() == pytest.approx(200 / 0.95, rel=1e-6)
    assert r.profit == pytest.approx(0.12 * 200 - 0.05 * 200 / 0.95, rel=1e-6)
    assert r.slack_kwh == pytest.approx(0.0)


def test_stage1_energy_only_case_has_no_reserve():
    r = solve_stage1(_constant_lot(500.0), flat_price(cap=0.02), 10, StationLotParams(reserve=False))
    assert np.allclose(r.r, 0.0) and r.profit == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- stage 2 terms

def two_bus(r_pu=0.01, x_pu=0.02, p_kw=100.0, q_kvar=0.0, i_max_ka=0.2 / (np.sqrt(3) * 10)) -> RadialNetwork:
    return RadialNetwork("two", 10.0, 1.0, 0, np.array([0]), np.array([1]), np.array([r_pu]), np.array([x_pu]),
                         np.array([0.0, p_kw]), np.array([0.0, q_kvar]), np.array([1]), (),
                         i_max_ka=np.array([i_max_ka]), bus_labels=("0", "1"))


def feeder_for(net: RadialNetwork, price=1.0) -> Feeder:
    return Feeder(np.repeat(net.p_load_kw[None], H, 0), np.repeat(net.q_load_kvar[None], H, 0), np.full(H, price),
                  np.zeros((1, H)), np.zeros((1, H)), np.array([1.0]))


def profile(occ=1.0, soc=30.0, cap=40.0) -> StationProfile:
    return StationProfile(np.zeros(H), np.full(H, soc), np.full(H, cap), np.full(H, occ), 11.0, 0.95)


GP = GridParams(rer_bus="1", excluded=("0",), v_slack_pu=1.0, site_cost_usd=0.0)


def test_loss_term_is_the_tangent_outer_approximation():
    net = two_bus()
    res = solve_stage2(net, np.array([1.0]), feeder_for(net), profile(), 0, "loss", GP)
    a = 200.0 / 3.0  # nearest breakpoints of 7 over [-200, 200] kVA are +-66.7 and +-133.3 (same tangent value at 100)
    c = 0.01 / 1000.0  # r / base [1/kW]
    hand = c * (2 * a * 100.0 - a * a) / (1 - 2 * a * c)  # kW: L = c (2a (100 + L) - a^2), the flow carries the loss
    assert res.loss_kwh_day == pytest.approx(24 * hand, rel=2e-3)
    assert res.costs["loss"] == pytest.approx(24 * hand, rel=2e-3)  # price 1 $/kWh


def test_eens_term_hand_calculation():
    net = two_bus()
    fd, sp = feeder_for(net), profile()
    # one 1-km line: 0.2 failures/yr, 4 h repair, 100 kW lost: 0.2 x 400 = 80 kWh/yr without PL
    assert eens_of_layout(net, np.array([1.0]), fd, sp, np.zeros(2), GP) == pytest.approx(80.0)
    # a station gives min(4 h x 11 kW, (30 - 0.3 x 40) x 0.95) = 17.1 kWh; 10 stations: (400 - 171) x 0.2
    assert contingency_energy(sp, GP, 4) == pytest.approx(np.full(H, 17.1))
    assert eens_of_layout(net, np.array([1.0]), fd, sp, np.array([0, 10]), GP) == pytest.approx(0.2 * 229.0)
    res = solve_stage2(net, np.array([1.0]), fd, sp, 10, "eens", GP)
    assert res.eens_kwh_year == pytest.approx(0.2 * 229.0, rel=1e-6)
    assert res.costs["eens"] == pytest.approx(0.2 * 229.0 * 10.0 / 365.0, rel=1e-6)


def test_voltage_term_buys_the_capacitor_lindistflow_needs():
    # v1^2 = 1 - 2 (r P + x Q) / base must reach 0.98^2 = 0.9604: with r = 0.001, x = 0.1, P = 200 kW the branch may
    # carry Q <= (0.0396 - 0.0004) / 0.2 = 196 kvar, so a 250 kvar load needs 54 kvar plus the reactive loss
    # x (P^2 + Q^2) / base <= 7.8 kvar (the tangent planes under-estimate it)
    net = two_bus(r_pu=0.001, x_pu=0.1, p_kw=200.0, q_kvar=250.0, i_max_ka=1.0 / (np.sqrt(3) * 10))
    gp = replace(GP, cap_fixed_usd=1000.0, cap_usd_per_kvar=10.0)
    res = solve_stage2(net, np.array([1.0]), feeder_for(net), profile(), 0, "volt", gp)
    qc = res.cap_kvar["1"]
    assert 54.0 - 1e-6 <= qc <= 54.0 + 7.8
    assert res.costs["volt"] == pytest.approx((1000.0 + 10.0 * qc) * crf(0.08, 20) / 365.0)


def test_stage2_respects_station_total_and_1mw_limit():
    net = two_bus(i_max_ka=10.0)
    sp = StationProfile(np.full(H, 8.0), np.full(H, 30.0), np.full(H, 40.0), np.ones(H), 11.0, 0.95)
    res = solve_stage2(net, np.array([1.0]), feeder_for(net), sp, 100, "loss", GP)
    assert res.stations == {"1": 100}
    with pytest.raises(ValueError):  # 130 x 8 kW > 1 MW at the only candidate bus
        solve_stage2(net, np.array([1.0]), feeder_for(net), sp, 130, "loss", GP)


def test_saturation_point():
    assert study.saturation_point(np.array([50, 100, 150, 200]), np.array([1.0, 2.0, 2.996, 3.0])) == 150.0


# ---------------------------------------------------------------- smoke

@pytest.mark.slow
def test_quick_run_writes_tables_and_all_milps_optimal(tmp_path):
    res = study.run(tmp_path, quick=True, seed=0)
    assert res["all_optimal"]
    for f in ("stage1_cases.csv", "stage1_sweep.csv", "stage2_allocation.csv", "comparison.csv", "report.md",
              "stage1.png"):
        assert (tmp_path / f).is_file()
    st1 = res["stage1"]
    assert (st1[st1.case == 1].profit_usd.to_numpy() >= st1[st1.case == 2].profit_usd.to_numpy() - 1e-6).all()
    alloc = res["allocation"]
    assert (alloc.layout.str.count(":") >= 1).all()
    assert np.allclose(alloc.loss_kwh_day_model, alloc.loss_kwh_day_bfs, rtol=0.1)
    assert 50 <= res["saturation_stations"] <= 400
    # stage 2 read back from this run's folder (what the docs check does with the last full run): same findings
    again = study.run(tmp_path / "again", quick=True, seed=0, stage2_from=tmp_path)
    pd.testing.assert_frame_equal(again["comparison"], res["comparison"])
    assert set(res["comparison"]["stage"]) == {1, 2}
    with pytest.raises(InputError, match="stage2_allocation.csv: missing"):
        study.run(tmp_path / "none", quick=True, seed=0, stage2_from=tmp_path / "nowhere")
