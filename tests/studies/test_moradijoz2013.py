"""Seed 002 study: model terms against hand calculations, GA vs exhaustive, smoke run."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.studies import allocation as ac
from cosim.studies.moradijoz2013 import study as m13

P = ac.LotParams()  # Table 2: 15 kW, 50 kWh, SOC 0.3/0.45/0.7 at 25/25/50 %


def test_charge_time_eq1():
    assert ac.charge_time_h(0.3, 50.0, 15.0) == pytest.approx(35.0 / 15.0)
    assert ac.charge_time_h(0.7, 50.0, 15.0) == pytest.approx(1.0)


def test_lot_power_eq2():
    assert ac.lot_power_kw(975, 15.0) == pytest.approx(14625.0)  # seed 001's "total capacity" of Table 3


def test_charging_stages_fig3():
    power, dur = ac.charging_stages(100, P)
    # all 100 EVs for 1 h (SOC 0.7 full), then 50 until 1.833 h, then 25 until 2.333 h
    assert power == pytest.approx([1500.0, 750.0, 375.0])
    assert dur == pytest.approx([1.0, 0.8333333, 0.5])


def test_revenue_and_costs_eq3_to_7():
    n = 975
    assert ac.v2g_revenue(n, P) == pytest.approx(0.5 * 14625 * 200)
    assert ac.capital_cost(n, P) == pytest.approx(304 * 975)
    assert ac.purchased_energy_price(P) == pytest.approx(0.05 / 0.85 + 0.225)
    assert ac.v2g_energy_cost(n, P) == pytest.approx((0.05 / 0.85 + 0.225) * 14625 * 200)
    # one charging cycle: 975 * (0.25*35 + 0.25*27.5 + 0.5*15) kWh at 0.05/0.85 $/kWh
    assert ac.driving_energy_cost(n, P) == pytest.approx(0.05 / 0.85 * 975 * 23.125)


def test_availability_scales_v2g_but_not_capital():
    p80 = ac.LotParams(availability=0.8)
    assert ac.v2g_revenue(100, p80) == pytest.approx(0.8 * ac.v2g_revenue(100, P))
    assert ac.capital_cost(100, p80) == pytest.approx(ac.capital_cost(100, P))


def test_bad_params_raise_clear_error():
    with pytest.raises(ac.AllocationInputError, match="availability"):
        ac.LotParams(availability=1.5)
    with pytest.raises(ac.AllocationInputError, match="soc_shares"):
        ac.LotParams(soc_shares=(0.5, 0.5, 0.5))


def test_ens_cost_eq8_single_branch():
    rel = ac.ReliabilityParams(failure_rate_per_km_yr=0.2, t_res_h=1.0, t_rep_h=4.0, c_ens=1.0)
    down = np.array([[0.0, 1.0]])
    load = np.array([0.0, 1000.0])
    no_lot = ac.ens_cost(load, np.zeros((1, 2)), np.zeros((1, 2)), down, down, np.array([2.0]), rel)
    assert no_lot[0] == pytest.approx(0.4 * (1000 * 1 + 1000 * 4))
    # lot of 300 kW holding 600 kWh: backup min(300 kW * 4 h, 600 kWh) = 600 kWh
    with_lot = ac.ens_cost(load, np.array([[0.0, 300.0]]), np.array([[0.0, 600.0]]), down, down, np.array([2.0]), rel)
    assert with_lot[0] == pytest.approx(0.4 * (5000 - 600))


def test_loss_benefit_eq10():
    assert ac.loss_benefit(0.07, 100.0, 80.0, 200.0) == pytest.approx(0.07 * 20 * 200)


def test_objective_eq12_signs():
    terms = {k: np.array([float(i + 1)]) for i, k in enumerate(ac.TERMS)}
    assert ac.objective(terms, np.ones(6))[0] == pytest.approx(1 - (2 + 3 + 4) + 5 + 6)
    with pytest.raises(ac.AllocationInputError):
        ac.objective(terms, np.ones(5))


def test_ahp_weights_eq13_14_match_paper():
    assert m13.weights(1) == pytest.approx(np.full(6, 1 / 6))
    assert m13.weights(2) == pytest.approx(m13.PAPER_W2, abs=1e-4)


@pytest.fixture(scope="module")
def model():
    return m13.model_for(1.0, "peak")


def test_downstream_matrix_ninebus(model):
    # branch 1 is section 1-2 and feeds buses 2 and 6; branch 5 (2-6) only bus 6
    assert np.flatnonzero(model.down[0]).tolist() == [1, 5]
    assert np.flatnonzero(model.down[4]).tolist() == [5]


def test_model_no_lot_is_zero_and_injection_cuts_loss(model):
    c = np.zeros((2, 9))
    c[1, 5] = 100  # 1.5 MW at bus 6 (end of feeder 1-2-6)
    ev = model.evaluate(c)
    for k in ac.TERMS:
        assert ev[k][0] == pytest.approx(0.0, abs=1e-6)
    assert ev["dc_loss_dis"][1] > 0 and ev["dc_ns"][1] > 0 and ev["cv"][1] == 0
    assert ev["vm_v2g"][1, 5] > model.base_voltages()[5]
    with pytest.raises(ac.AllocationInputError):
        model.evaluate(np.zeros((1, 8)))


def test_exhaustive_beats_random_and_ga_matches_it(model):
    w = m13.weights(1)
    k_ex, f_ex = m13.exhaustive(model, w)
    rng = np.random.default_rng(1)
    k_rand = rng.integers(0, 16, size=(200, 3))
    ev = model.evaluate(m13.counts_from_levels(k_rand))
    f_rand = np.where(ev["cv"] <= 0, ac.objective(ev, w), -np.inf)
    assert f_ex >= f_rand.max() - 1e-6
    k_ga, f_ga, _ = m13.run_ga(model, w, pop=20, n_gen=40, seed=0)
    assert f_ga <= f_ex + 1e-6
    assert f_ga == pytest.approx(f_ex, rel=1e-9)
    assert k_ga.tolist() == k_ex.tolist()


@pytest.mark.slow
def test_smoke_run(tmp_path):
    res = m13.run(tmp_path, quick=True, seed=0)
    for name in ("tables.csv", "tables.md", "fig5_availability.csv", "fig5_availability.png", "fig6_voltages.png"):
        assert (tmp_path / name).is_file()
    assert set(res["cases"]) == {"table3", "table6"}
    assert res["cases"]["table3"]["f_ga"] <= res["cases"]["table3"]["f_exhaustive"] + 1e-6
    # Fig. 5: benefit rises with availability and turns negative at low availability
    assert 0.0 < res["fig5_zero_availability"] < 1.0
    assert "diff_pct" in res["table"].columns
    # the line-rating assumption is stated beside the figures that rest on it, and in their evidence
    assert "line ratings of 1.25 x each line's no-lot peak current" in (tmp_path / "tables.md").read_text()
    ev = res["paper_vs_ours"].set_index("quantity")["evidence"]
    assert ev["table3: peak-power benefit $"].startswith("assumed") and "line ratings" in ev["table3: EVs at bus 6"]


def test_line_thermal_limit_bounds_the_lot_size():
    """Assumed ampacities (1.25 x each line's largest current without lots) make large lots infeasible where
    no voltage limit does; without the limit the same allocation is feasible."""
    limited = ac.AllocationModel(params=ac.LotParams(p_v_kw=100.0, es_kwh=100.0), voltage_rule="strict",
                                 with_reliability=False)
    free = ac.AllocationModel(params=ac.LotParams(p_v_kw=100.0, es_kwh=100.0), voltage_rule="strict",
                              with_reliability=False, ampacity_headroom=None)
    assert ac.AMPACITY_HEADROOM == 1.25 and np.isinf(free.i_max_ka).all()
    base = np.max([b.i_branch_ka[0] for b in limited._base.values()], axis=0)
    assert np.allclose(limited.i_max_ka, 1.25 * base)
    counts = np.zeros((3, 9))
    counts[1, 1], counts[2, 1] = 25, 375  # 2.5 MW and 37.5 MW at bus 2
    ev, ev_free = limited.evaluate(counts), free.evaluate(counts)
    loading = ev["line_loading"]
    assert loading[0].max() < 1.0 / 1.25 + 1e-9 and loading[1].max() < 1.0 < loading[2].max()
    assert (ev_free["line_loading"] == 0).all()
    overload = np.clip(loading - 1.0, 0, None).sum(axis=1)  # the thermal part of cv, on top of the voltages'
    assert np.allclose(ev["cv"] - ev_free["cv"], overload) and overload[2] > 0 and overload[1] == 0
    with pytest.raises(ac.AllocationInputError, match="ampacity_headroom"):
        ac.AllocationModel(ampacity_headroom=0.0)
