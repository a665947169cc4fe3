"""ADMM exchange mode: it converges on the default and the congested scenario, with the topology fixed, to within
0.5 % of the same convex model solved as one QP; the co-simulation runs the same rounds through mosaik, logs every
round's residuals and leaves no overload where the PLOs alone overload their laterals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cosim.config import load_scenario
from cosim.exchange.admm import Admm, reference_optimum, run_admm
from cosim.exchange.registry import make_exchange_mode
from cosim.runner.exchange_day import convex_day

GAP_PCT = 0.5


@pytest.fixture(scope="module", params=["default", "congested_ieee33"])
def day(request):
    return request.param, convex_day(load_scenario(f"scenarios/{request.param}.toml"))


@pytest.mark.slow
def test_admm_converges_within_half_a_percent_of_the_one_qp_reference(day):
    name, d = day
    reference = reference_optimum(d.model, d.plos)
    result = run_admm(d.model, d.plos, d.x0, max_rounds=Admm().max_rounds)
    assert result.converged, f"{name}: not converged after {len(result.history) - 1} rounds"
    gap_pct = 100 * (result.objective_usd - reference.objective_usd) / abs(reference.objective_usd)
    assert abs(gap_pct) <= GAP_PCT, f"{name}: ADMM {result.objective_usd:.2f} $ vs reference " \
                                    f"{reference.objective_usd:.2f} $ ({gap_pct:.3f} %)"
    last = result.history[-1]
    assert last["primal_residual_kw"] <= last["eps_primal_kw"] and last["dual_residual_kw"] <= last["eps_dual_kw"]


@pytest.mark.slow
def test_the_congested_day_is_congested_alone_and_not_when_coordinated(day):
    name, d = day
    if name != "congested_ieee33":
        pytest.skip("the default scenario has no line ratings")
    alone = d.model.cost_usd(d.x0)
    coordinated = run_admm(d.model, d.plos, d.x0).grid
    assert alone["overload_kwh"] > 1000.0  # each PLO charging its fleet in the cheapest hours overloads its lateral
    assert coordinated["overload_kwh"] < 1.0


def test_admm_options_are_checked():
    for option, bad in [("rho_usd_per_kw2", 0.0), ("rho_usd_per_kw2", -1.0), ("eps_abs_kw", 0), ("eps_rel", -1e-3),
                        ("eps_rel", float("nan")), ("adaptive_rho", 1)]:
        with pytest.raises(Exception, match=option):
            make_exchange_mode("admm", **{option: bad})


@pytest.mark.slow
def test_admm_in_the_cosimulation_logs_residuals_and_removes_the_overloads(tmp_path):
    """The congested scenario through mosaik in admm mode (its default): residuals every round in events.csv,
    messages.csv and plans.jsonl; converged; no line above its rating; the welfare ledger beside it."""
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    summary = run_scenario(load_scenario("scenarios/congested_ieee33.toml"), output_dir=tmp_path,
                           progress=False, plots=False)
    folder = summary.run_dir
    plan = json.loads((folder / "plans.jsonl").read_text().splitlines()[0])
    info = plan["info"]
    assert info["converged"] is True and info["rounds"] == len(info["admm_primal_residual_kw"]) - 1
    assert len(info["admm_dual_residual_kw"]) == len(info["admm_rho_usd_per_kw2"]) == info["rounds"] + 1
    events = pd.read_csv(folder / "events.csv")
    assert (events["event"] == "admm round").sum() == info["rounds"]
    messages = pd.read_csv(folder / "messages.csv")
    admm = messages[messages["kind"] == "admm"]
    assert len(admm) == 3 * info["rounds"] and admm["summary"].str.contains("primal residual").all()
    assert set(messages[messages["sender"] != "DSO"]["kind"]) == {"offer"}  # PLOs send schedules only
    kpis = summary.kpis
    assert kpis["max_loading_percent"] <= 100.0 + 1e-6
    assert kpis["overload_kvah"] == 0.0 and kpis["unmet_energy_kwh"] == 0.0
    assert kpis["social_cost_usd"] == pytest.approx(kpis["dso_cost_usd"] - sum(
        kpis[f"plo_profit_usd_{lot}"] for lot in ("PL1", "PL2", "PL3")))
    assert np.isfinite(info["admm_grid_cost_usd"])


def test_a_plo_checks_the_dsos_admm_messages():
    """What a PLO accepts from the DSO in admm mode: 24 finite prices and targets and a positive rho, nothing else."""
    mode = Admm()
    good = {"price_usd_per_kwh": [0.0] * 24, "target_kw": [10.0] * 24, "rho_usd_per_kw2": 1e-3}
    assert mode.check_payload("admm", good) is None
    for bad, why in [({**good, "target_kw": [10.0] * 23}, "target_kw"),
                     ({**good, "price_usd_per_kwh": [float("nan")] * 24}, "price_usd_per_kwh"),
                     ({**good, "rho_usd_per_kw2": 0.0}, "rho_usd_per_kw2"),
                     ({**good, "fleet": []}, "unexpected fields ['fleet']")]:
        assert why in mode.check_payload("admm", bad)


@pytest.mark.slow
def test_without_exchange_the_congested_scenario_overloads_its_laterals(tmp_path):
    """`none` on the congested scenario, measured by pandapower: lines above their ratings, a penalty in the DSO's
    cost (the admm run above has none)."""
    import dataclasses  # noqa: PLC0415

    from cosim.runner.run import run_scenario  # noqa: PLC0415

    base = load_scenario("scenarios/congested_ieee33.toml")
    summary = run_scenario(dataclasses.replace(base, exchange="none", max_rounds=5, controller="none",
                                               controller_options={}, controller_isolation=False),
                           output_dir=tmp_path, progress=False, plots=False)
    assert summary.kpis["max_loading_percent"] > 150.0 and summary.kpis["overload_kvah"] > 1000.0
    assert summary.kpis["dso_overload_penalty_usd"] > 1000.0
