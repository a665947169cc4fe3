"""Seed 000 study end to end with a tiny budget; paper data transcribed consistently."""

import numpy as np
import pandas as pd
import pytest

from cosim.studies.joape2024 import study as study


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
    assert list(table.columns) == ["quantity", "paper", "ours", "difference"]
    assert "Fig. 10 S4-C2 PEVs at 07:00" in set(table["quantity"])
    t2 = pd.read_csv(out / "table2.csv")
    opt = t2[t2.scenario > 1]
    assert set(opt.seed) <= {5, 6} and (opt.evaluations == 2 * 4 * 3).all()
    assert "best of 2 seeds" in (out / "summary.md").read_text()


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
