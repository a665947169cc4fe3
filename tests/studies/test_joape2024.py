"""Seed 000 study end to end with a tiny budget; paper data transcribed consistently."""

import numpy as np
import pandas as pd
import pytest

from cosim.controllers import objectives as obj
from cosim.controllers.dispatch import hourly_pev_limit
from cosim.controllers.metaheuristic import EOController, contract_counts
from cosim.controllers.validation import evaluate_plan
from cosim.studies.joape2024 import study as study
from simulators.market import seed000 as s0


def test_paper_tables_are_consistent():
    assert len(study.STATES) == 9 and set(study.PAPER) == set(study.STATES)
    assert sorted(v["rank"] for v in study.PAPER.values()) == list(range(1, 10))
    # the paper's text: scenario 2 lowers OF2 by 10,480.6 kW and OF3 by 84.2 kW against scenario 1
    assert study.PAPER[(1, None)]["of2"] - study.PAPER[(2, 2)]["of2"] == pytest.approx(10480.6)
    assert study.PAPER[(1, None)]["of3"] - study.PAPER[(2, 3)]["of3"] == pytest.approx(84.2)


def test_inputs_match_paper_facts():
    load, price = study.seed000_inputs()
    assert load.mean() == pytest.approx(2112.9, abs=0.05) and load.max() == pytest.approx(3800.0)
    assert np.abs(load - load.mean()).sum() == pytest.approx(16067.0, abs=1.0)
    assert price.shape == (24,) and np.all(price > 0)
    lot = study.seed000_lot_offer()
    assert lot.hour_mode[:8].tolist() == [1] * 8 and lot.hour_mode[10:19].tolist() == [-1] * 9
    assert lot.hour_mode[[8, 9, 19]].tolist() == [0, 0, 0]


@pytest.mark.slow
def test_study_runs_end_to_end(tmp_path):
    res = study.run_study(n_particles=6, n_iter=4, seed=0, out_dir=tmp_path)
    t2, t3 = res.table2, res.table3
    assert len(t2) == 9 and len(t3) == 9 and t2.feasible.all()
    base = t2[t2.state == "S1"].iloc[0]
    assert base.of2_kw == pytest.approx(16067.0, abs=1.0)  # the reconstructed curve's base LCD
    assert abs(base.of3_diff_pct) < 10 and abs(base.vpd_diff_pct) < 10
    assert base.open_lines == (33, 34, 35, 36, 37)
    assert (t2[t2.scenario == 3].of3_kwh < base.of3_kwh).all()  # reconfiguration lowers losses
    assert (t2[t2.scenario == 2].open_lines == (33, 34, 35, 36, 37)).all()
    assert sorted(t3["rank"]) == list(range(1, 10)) and t3.closeness.between(0, 1).all()
    for name in ("table2.csv", "table2.md", "table3.csv", "table3.md", "hourly.csv", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0
    back = pd.read_csv(tmp_path / "table2.csv")
    assert back.of2_paper.tolist() == [study.PAPER[k]["of2"] for k in study.STATES]
    assert "S4-C2" in (tmp_path / "table3.md").read_text()
    assert res.wall_s > 0 and res.settings["n_iter"] == 4


def test_helpers():
    assert study.diff_pct(110.0, 100.0) == pytest.approx(10.0)
    assert np.isnan(study.diff_pct(1.0, None))
    assert study.gap_pct(90.0, 100.0, "of1") == pytest.approx(10.0)  # less benefit = worse
    assert study.gap_pct(110.0, 100.0, "of3") == pytest.approx(10.0)
    with pytest.raises(ValueError, match="scenario must be"):
        study.seed000_problem(5)
    with pytest.raises(ValueError, match="eq6 must be"):
        study.seed000_problem(2, eq6="weekly")


@pytest.mark.slow
def test_cli_runs_with_several_seeds_and_keeps_the_best(tmp_path, capsys):
    out = tmp_path / "study"
    assert study.main(["--quick", "--particles", "4", "--iterations", "3", "--seeds", "2", "--seed", "5",
                       "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Seed 000 (Farhan et al., JOAPE 2024): paper vs ours")
    assert "| S4-C2 OF1 benefit ($) | 60.3 |" in printed and f"results: {out}" in printed
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    assert figures == {"fig05_benefit", "fig06_load_curve", "fig07_losses", "fig08_min_voltage", "fig09_losses_case3",
                       "fig10_pevs", "fig11_configuration_ours", "fig11_configuration_paper"}
    table = pd.read_csv(out / "paper_vs_ours.csv")
    assert list(table.columns) == ["quantity", "paper", "ours", "difference", "evidence"]
    assert "Fig. 10 S4-C2 PEVs at 07:00" in set(table["quantity"])
    ev = table.set_index("quantity")["evidence"]
    assert ev["S1 OF2 LCD (kW)"].startswith("fitted") and ev["S2-C1 OF1 benefit ($)"].startswith("calibrated")
    assert ev["S2-C2 OF2 LCD (kW)"] == "independent" and ev["S4-C3 OF3 losses (kWh)"] == "independent"  # hourly
    assert study.evidence("S2-C2", "OF2 LCD (kW)", "daily").startswith("by construction")
    # matches that could not have come out otherwise are labelled so
    for q in ("S4-C2 OF2 LCD (kW)", "S2-C1 OF3 losses (kWh)", "S4-C1 lot bus", "S4-C1 open lines",
              "S3-C2 OF3 losses (kWh)", "Fig. 5 S4-C2 hours without benefit"):
        assert ev[q].startswith("by construction"), q
    t3 = pd.read_csv(out / "table3.csv").set_index("state")  # at this budget S1 need not be the anti-ideal point
    assert ev["S1 TOPSIS rank"].startswith("by construction (worst") == (t3.loc["S1", "closeness"] == 0.0)
    t2 = pd.read_csv(out / "table2.csv")
    opt = t2[t2.scenario > 1]
    assert set(opt.seed) <= {5, 6} and (opt.evaluations == 2 * 4 * 3).all()
    assert "best of 2 seeds" in (out / "summary.md").read_text()


def test_topsis_ranks_that_cannot_differ_are_labelled_by_construction():
    """The anti-ideal point (worst on every criterion) ranks last whatever the weights; identical states are ordered
    by row order; only the others' ranks are evidence."""
    states = ["S1", "S2-C1", "S3-C2", "S3-C3", "S4-C1"]
    of1, of2, of3 = [np.nan, 400.0, np.nan, np.nan, 300.0], [16000.0, 8000.0, 9000.0, 9000.0, 7000.0], \
        [1800.0, 1600.0, 1200.0, 1200.0, 1300.0]
    close, rank = study.rank_states(np.array(of1), np.array(of2), np.array(of3))
    t3 = pd.DataFrame({"state": states, "of1_usd": of1, "of2_kw": of2, "of3_kwh": of3, "closeness": close,
                       "rank": rank})
    ev = study.topsis_evidence(t3)
    assert close[0] == 0.0 and rank[0] == 5 and ev["S1"].startswith("by construction (worst on every criterion")
    assert ev["S3-C2"] == "by construction (the same values as S3-C3: the tie is broken by row order)"
    assert ev["S2-C1"] == ev["S4-C1"] == "independent"


def test_best_of_seeds_picks_the_best_plan():
    prob = study.seed000_problem(3, "of3")
    best = study.best_of_seeds(prob, "eo", 4, 3, [0, 1, 2])
    singles = [study.make_controller("eo", n_particles=4, n_iter=3, seed=s).plan(prob) for s in (0, 1, 2)]
    assert best.predicted["objective"] == min(p.predicted["objective"] for p in singles if p.feasible)
    assert best.info["seeds_tried"] == [0, 1, 2] and best.info["evaluations_all_seeds"] == 36


@pytest.mark.parametrize("argv", [["--eq6", "weekly"], ["--seeds", "0"], ["--controller", "nope"]])
def test_cli_rejects_bad_options(argv, tmp_path):
    with pytest.raises(SystemExit) as exc:
        study.main(argv + ["--out", str(tmp_path)])
    assert exc.value.code == 2


@pytest.mark.slow
def test_hourly_data_behind_the_figures_adds_up_to_table2():
    res = study.run_study(n_particles=6, n_iter=4, seed=1)
    hourly = study.hourly_table(res)
    assert len(hourly) == 24 * 9 and hourly["hour"].tolist()[:3] == [1, 2, 3]
    for label, plan in res.plans.items():
        rows = hourly[hourly["state"] == label]
        assert rows["loss_kw"].sum() == pytest.approx(plan.predicted["of3_kwh"], rel=1e-9)
        if plan.lot_buses:  # the hourly benefit (Fig. 5) adds up to OF1, the PEV counts (Fig. 10) to the lot power
            assert rows["benefit_usd"].sum() == pytest.approx(plan.predicted["of1_usd"], rel=1e-9)
            assert (rows["pevs"].abs() <= 100).all() and ((rows["pevs"] > 0) == (rows["lot_kw"] > 0)).all()
        else:
            assert rows["pevs"].isna().all()
    rows = {r["quantity"]: r for r in study.paper_rows(res)}
    assert rows["Fig. 6 P_target (kW)"]["ours"] == pytest.approx(2112.9, abs=0.05)
    assert rows["S1 open lines"]["ours"] == (33, 34, 35, 36, 37)


def test_hourly_loss_lower_bound_is_below_every_shared_configuration(monkeypatch):
    problem = study.seed000_problem(3, "of3")
    configs = study.enumerate_radial(problem.network)
    best = np.flatnonzero((np.sort(configs, axis=1) == [7, 9, 14, 32, 37]).all(axis=1))
    subset = np.concatenate([configs[best], configs[::1000]])
    monkeypatch.setattr(study, "enumerate_radial", lambda net: subset)
    bound = study.hourly_loss_lower_bound(problem, chunk=25)
    assert bound["configs"] == len(subset) and bound["peak_hour"] == int(np.argmax(problem.load_kw)) + 1
    assert np.isfinite(bound["lower_bound_kwh"])
    assert bound["lower_bound_kwh"] == pytest.approx(bound["hourly_min_kw"].sum())
    vp = study.DayAheadVectorProblem(problem)
    ev = vp.evaluate_plans(np.sort(subset[:1], axis=1), np.zeros((1, 0), int), np.zeros((1, 0, 24), int))
    daily = float(vp.plan_from_plans(ev, 0, controller="x").predicted["of3_kwh"])
    assert bound["lower_bound_kwh"] <= daily + 1e-6 and daily == pytest.approx(1207.36, abs=0.01)
    with pytest.raises(ValueError, match="without lots"):
        study.hourly_loss_lower_bound(study.seed000_problem(2, "of3"))


def test_both_readings_of_eq6_have_their_own_price_fitted_to_of1():
    load, daily = study.seed000_inputs("daily")
    _, hourly = study.seed000_inputs("hourly")
    assert s0.best_case1_benefit(daily) == pytest.approx(424.7, abs=0.01)
    assert s0.best_case1_benefit_hourly(hourly) == pytest.approx(424.7, abs=0.01)
    assert hourly.max() < daily.max() and np.argmax(hourly) == np.argmax(daily) == np.argmax(load)
    assert np.allclose(hourly, s0.reconstruct_price_hourly(load), atol=1e-6)  # the shipped file is the fit
    assert study.DEFAULT_EQ6 == "hourly" and study.build_parser().parse_args([]).eq6 == "hourly"
    assert study.seed000_problem(2, "of2", eq6="hourly").options["daily_pev_cap"] is None
    assert study.seed000_problem(2, "of2", eq6="daily").options["daily_pev_cap"] == "n_pev"


def test_of2_is_a_real_optimisation_under_the_hourly_reading():
    """Under the daily reading every lot state has the same OF2 (by construction); under the hourly one the lot
    states' OF2 differ, and the OF2 case beats the OF1 case on OF2."""
    def plans(eq6):
        return {c: study.best_of_seeds(study.seed000_problem(2, study.CASE_OBJECTIVE[c], eq6=eq6), "eo", 10, 15, [0])
                for c in (1, 2)}

    daily = plans("daily")
    assert daily[1].predicted["of2_kw"] == pytest.approx(daily[2].predicted["of2_kw"], rel=1e-9)
    hourly = plans("hourly")
    of2 = {c: hourly[c].predicted["of2_kw"] for c in (1, 2)}
    assert all(p.feasible for p in hourly.values())
    assert abs(of2[1] - of2[2]) > 100.0 and of2[2] < of2[1]
    assert of2[2] < daily[2].predicted["of2_kw"] - 1000.0  # more PEV-hours flatten the curve further


def test_lot_power_models_eq9_and_soc_weighted():
    """Eq. 9's lot power (10 kW per PEV) is an option; the SOC-weighted model (8.33 / 7 kW) stays the default.
    The same PEV counts give the same OF1 (eq. 1-2 energies) but a different grid load, hence OF2 / losses."""
    lot = study.seed000_lot_offer()
    counts = np.array([[3.0, -2.0, 0.0]])
    assert np.allclose(obj.lot_power_kw(counts, lot, "paper"), [[30.0, -20.0, 0.0]])
    assert np.allclose(obj.lot_power_kw(counts, lot), [[3 * 7.5 / 0.9, -14.0, 0.0]])
    with pytest.raises(ValueError, match="lot power model"):
        obj.lot_power_kw(counts, lot, "eq9")
    with pytest.raises(ValueError, match="lot_power must be"):
        study.seed000_problem(2, lot_power="eq9")
    assert study.build_parser().parse_args([]).lot_power == "soc_weighted"
    x = {}
    for model in obj.LOT_POWER_MODELS:
        vp = study.DayAheadVectorProblem(study.seed000_problem(2, "of2", eq6="hourly", lot_power=model))
        n = np.zeros((1, 1, 24), int)
        n[0, 0, :8], n[0, 0, 10:18] = 50, -50  # 400 PEV-hours each way
        ev = vp.evaluate_plans(np.array([[33, 34, 35, 36, 37]]), np.array([[18]]), n)
        x[model] = ev
    assert x["paper"].of1_usd[0] == pytest.approx(x["soc_weighted"].of1_usd[0])
    assert np.allclose(x["paper"].lot_kw[0, 0, :8], 500.0) and np.allclose(x["paper"].lot_kw[0, 0, 10:18], -500.0)
    assert x["paper"].of2_kw[0] != pytest.approx(x["soc_weighted"].of2_kw[0], rel=1e-3)


@pytest.mark.slow
def test_study_runs_with_eq9_lot_power(tmp_path):
    res = study.run_study(n_particles=4, n_iter=3, seed=0, lot_power="paper")
    assert res.settings["lot_power"] == "paper" and res.table2.feasible.all()
    hourly = study.hourly_table(res)
    lot_rows = hourly[hourly.state == "S2-C1"]
    charging = lot_rows[lot_rows.lot_kw > 0]
    assert np.allclose(charging.lot_kw, 10.0 * charging.pevs.astype(float))  # 10 kW per PEV at the grid


@pytest.mark.parametrize("model", ["paper", "soc_weighted"])
def test_lot_power_model_carried_through_controllers(model):
    """One kW <-> PEV conversion (objectives.pev_kw) for the evaluation, the dispatch bounds, EO's warm start and
    evaluate_plan: under "paper" the plan's setpoints are P^PEV x n (10 kW x whole PEVs), evaluate_plan reproduces
    the controller's own predictions, and the contract warm start is feasible under both models."""
    problem = study.seed000_problem(2, "of1", lot_power=model)
    lot = problem.lots[0]
    kw_ch, kw_dis = obj.pev_kw(lot, model)
    assert (kw_ch, kw_dis) == ((10.0, 10.0) if model == "paper" else pytest.approx((7.5 / 0.9, 7.0)))
    limit = hourly_pev_limit(lot, model)  # within the offer in kW under the model
    assert np.all(limit * np.where(np.asarray(lot.hour_mode) > 0, kw_ch, kw_dis) <= np.maximum(
        np.asarray(lot.max_charge_kw), np.asarray(lot.max_discharge_kw)) + 1e-6)
    warm = contract_counts(problem)[0]
    assert obj.contract_violation_kwh(obj.lot_power_kw(warm, lot, model), lot) == pytest.approx(0.0, abs=1e-6)
    vp = study.DayAheadVectorProblem(problem)
    x0 = vp.encode(counts=contract_counts(problem))
    assert vp.plan_from_x(x0[None, :]).feasible
    plan = EOController(n_particles=6, n_iter=4, seed=0).plan(problem)
    assert plan.feasible
    sp = np.asarray(plan.setpoints_kw[lot.lot_id], float)
    n = obj.lot_counts(sp, lot, model)
    assert np.allclose(n, np.round(n)) and np.allclose(obj.lot_power_kw(np.round(n), lot, model), sp)
    if model == "paper":
        assert np.allclose(sp, 10.0 * np.round(sp / 10.0)) and np.any(sp != 0)
    before = dict(plan.predicted)
    evaluate_plan(problem, plan)
    for key in ("of1_usd", "of2_kw", "of3_kwh", "vpd", "objective"):
        assert plan.predicted[key] == pytest.approx(before[key], rel=1e-9, abs=1e-9), key
