"""End-to-end: real mosaik co-simulations of small scenarios (short budgets), results on disk, failures kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandapower
import pandas as pd
import pytest
from pandapower.powerflow import LoadflowNotConverged

from cosim.config import ScenarioFileError, load_scenario, parse_scenario
from cosim.runner.run import RunError, run_scenario
from simulators.grid import model as grid_model

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"  # the user plug-ins the tests name, as beside a scenario

LOT = {"id": "PL1", "candidate_buses": [18, 25, 31], "fleet": "seed000", "n_chargers": 100,
       "connection_limit_kw": 1000.0}


def scenario(tmp_path, **over):
    raw = {"name": "t", "days": 1, "seed": 0, "network": {"name": "ieee33", "reconfigure": True},
           "market": {"profile": "seed000"},
           "controller": {"name": "eo", "objective": "of3", "options": {"n_particles": 6, "n_iter": 4}},
           "exchange": {"mode": "centralised"}, "lots": [dict(LOT)], "output_dir": str(tmp_path)}
    raw.update(over)
    return parse_scenario(raw, plugin_folder=PLUGINS)


def base_case(tmp_path):
    """The base case: no controller, no lot, the ieee33 topology as it is."""
    return scenario(tmp_path, controller={"name": "none"}, lots=[], network={"name": "ieee33", "reconfigure": False})


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """One run of the base case, with its figures, shared read-only by the tests that need a clean base day."""
    return run_scenario(base_case(tmp_path_factory.mktemp("base")), progress=False)


@pytest.mark.slow
def test_base_case_losses_match_plan_and_files_exist(base_run):
    summary = base_run
    run = summary.run_dir
    for name in ("grid.csv", "bus_voltages.csv", "prices.csv", "plans.jsonl", "plan_vs_reality.csv", "kpis.json",
                 "manifest.json", "plots/load_curve.png", "plots/losses.png", "plots/voltage.png", "plots/network.png"):
        assert (run / name).is_file(), name
    grid = pd.read_csv(run / "grid.csv")
    assert list(grid["hour"]) == list(range(24))
    pvr = pd.read_csv(run / "plan_vs_reality.csv")
    # deterministic loads, perfect forecasts: pandapower's hourly losses equal the fast-flow plan to 0.1 %
    assert np.all(np.abs(pvr["loss_gap_pct"]) < 0.1)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["last_recorded_hour"] == 23
    assert summary.kpis["energy_losses_kwh"] == pytest.approx(grid["losses_kw"].sum())


@pytest.mark.slow
def test_centralised_run_with_lot_logs_messages_and_ledger(tmp_path):
    summary = run_scenario(scenario(tmp_path), progress=False, plots=False)
    run = summary.run_dir
    msgs = pd.read_csv(run / "messages.csv")
    assert set(msgs["kind"]) >= {"offer"}
    assert (msgs["size_bytes"] > 0).all()
    lots = pd.read_csv(run / "lots.csv")
    assert len(lots) == 24 and (lots["id"] == "PL1").all()
    ledger = pd.read_csv(run / "plo_ledger.csv")
    assert ledger["profit_usd"].sum() == pytest.approx(summary.kpis["plo_profit_usd"])
    assert summary.kpis["unmet_energy_kwh"] == pytest.approx(lots["unmet_energy_kwh"].sum())
    plan = json.loads((run / "plans.jsonl").read_text().splitlines()[0])
    grid = pd.read_csv(run / "grid.csv")
    assert json.loads(grid["open_branches"].iloc[5]) == sorted(plan["open_branches"])


@pytest.mark.parametrize("mode", ["signals", "iterative", "none"])
@pytest.mark.slow
def test_exchange_modes_run(tmp_path, mode):
    summary = run_scenario(scenario(tmp_path, exchange={"mode": mode, "max_rounds": 3}), progress=False, plots=False)
    msgs = summary.run_dir / "messages.csv"
    ledger = pd.read_csv(summary.run_dir / "plo_ledger.csv")
    if mode == "none":
        assert summary.kpis["messages"] == 0
        assert (ledger["dso_tariff_usd"] == 0).all()
    else:
        kinds = set(pd.read_csv(msgs)["kind"])
        assert {"offer", "signal"} <= kinds
        plo = pd.read_csv(summary.run_dir / "plo.csv")
        lots = pd.read_csv(summary.run_dir / "lots.csv")
        # the PLO settles the DSO's price adder on its net import, hour by hour
        expected = plo["tariff_usd_per_kwh"] * (lots["energy_charged_kwh"] - lots["energy_discharged_kwh"])
        assert np.allclose(ledger["dso_tariff_usd"], expected)
        assert plo["tariff_usd_per_kwh"].abs().max() > 0
    assert summary.kpis["hours"] == 24


@pytest.mark.slow
def test_user_controller_from_scenario_file(tmp_path):
    shutil.copy(PLUGINS / "user_controller.py", tmp_path)  # beside the scenario file
    path = tmp_path / "user.toml"
    path.write_text(f"""
name = "user"
output_dir = "{tmp_path}"
[network]
name = "ieee33"
[controller]
name = "user_controller:FlatChargeController"
options = {{ kw = 120.0 }}
[[lots]]
id = "PL1"
bus = 18
fleet = "seed000"
""")
    summary = run_scenario(load_scenario(path), progress=False, plots=False)
    lots = pd.read_csv(summary.run_dir / "lots.csv")
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert plan["controller"] == "flat-charge" and summary.kpis["fallbacks"] == 0
    assert max(plan["setpoints_kw"]["PL1"]) == pytest.approx(120.0)
    assert (lots["p_kw"] >= -1e-9).all()  # this controller never discharges


@pytest.mark.slow
def test_a_flat_charge_too_small_for_the_contracts_is_not_used(tmp_path):
    """40 kW in the charging hours cannot meet seed 000's contracts: the energy rule rejects the plan."""
    raw = {"name": "user", "output_dir": str(tmp_path), "lots": [{"id": "PL1", "bus": 18, "fleet": "seed000"}],
           "controller": {"name": "user_controller:FlatChargeController", "options": {"kw": 40.0}}}
    summary = run_scenario(parse_scenario(raw, plugin_folder=PLUGINS), progress=False, plots=False)
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    assert "plan rejected, rule energy: lot 'PL1' misses its contracts" in manifest["fallbacks"][0]["detail"]


@pytest.mark.slow
def test_failing_controller_falls_back_and_is_recorded(tmp_path):
    sc = scenario(tmp_path, controller={"name": "user_controller:BrokenController"})
    summary = run_scenario(sc, progress=False, plots=False)
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["fallbacks"] and "crashed on purpose" in manifest["fallbacks"][0]["detail"]
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert json.loads(grid["open_branches"].iloc[0]) == [33, 34, 35, 36, 37]


@pytest.mark.slow
def test_run_failing_part_way_keeps_recorded_hours(tmp_path, monkeypatch):
    real_step = grid_model.GridModel.step
    calls = {"n": 0}

    def failing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 6:
            raise OSError("grid server went away")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(grid_model.GridModel, "step", failing_step)
    sc = scenario(tmp_path, controller={"name": "none"}, lots=[])
    with pytest.raises(RunError, match="grid server went away"):
        run_scenario(sc, progress=False)
    run = next(tmp_path.glob("t-*"))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    grid = pd.read_csv(run / "grid.csv")
    assert len(grid) >= 5 and manifest["last_recorded_hour"] == int(grid["hour"].max())


@pytest.mark.parametrize("raw, message", [
    ({"bogus": 1}, "unknown top-level key"),
    ({"exchange": {"mode": "telepathy"}}, "exchange.mode: unknown exchange mode 'telepathy'"),
    ({"days": 0}, "days: must be > 0"),
    ({"lots": [{"id": "A", "bus": 0}]}, "lots[0].candidate_buses"),
    ({"network": {"name": "ieee999"}}, "network.name: 'ieee999' is not allowed"),
    ({"lots": [{"id": "A", "bus": 3, "allocation": "random"}]}, "lots[0].allocation"),
])
def test_bad_scenarios_name_the_field(raw, message):
    with pytest.raises(ScenarioFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(raw, where="x.toml")


@pytest.mark.slow
def test_bus_outside_network_is_a_clear_error(tmp_path):
    sc = scenario(tmp_path, lots=[{**LOT, "candidate_buses": [40]}])
    with pytest.raises(ScenarioFileError, match="bus 40 does not exist"):
        run_scenario(sc, progress=False)


@pytest.mark.slow
def test_bad_data_is_caught_and_tampered_messages_rejected(tmp_path):
    sc = scenario(tmp_path, days=2, exchange={"mode": "centralised", "misreport_probability": 1.0,
                                              "misreport_factor": 3.0, "tamper_probability": 0.0})
    summary = run_scenario(sc, progress=False, plots=False)
    events = pd.read_csv(summary.run_dir / "events.csv")
    implausible = events[events["event"] == "implausible offer"]
    assert len(implausible) >= 1 and "beyond the registered 1000 kW" in implausible["detail"].iloc[0]
    tampered = scenario(tmp_path, exchange={"mode": "centralised", "tamper_probability": 1.0})
    summary = run_scenario(tampered, progress=False, plots=False)
    events = pd.read_csv(summary.run_dir / "events.csv")
    assert (events["event"] == "rejected message").any()
    assert events.loc[events["event"] == "rejected message", "detail"].str.contains("bad signature").all()


def _clean_and_faulty(tmp_path, monkeypatch, patch, clean_run):
    """The base scenario's clean run (`clean_run`), then the same scenario with a fault injected by `patch`; return
    both grid tables."""
    clean = pd.read_csv(clean_run.run_dir / "grid.csv")
    patch(monkeypatch)
    faulty_summary = run_scenario(base_case(tmp_path), output_dir=tmp_path / "faulty", progress=False, plots=False)
    return clean, pd.read_csv(faulty_summary.run_dir / "grid.csv"), faulty_summary


@pytest.mark.slow
def test_non_converging_power_flow_is_recorded_and_the_run_continues(tmp_path, monkeypatch, base_run):
    def patch(mp):
        real = pandapower.runpp  # the grid model imports pandapower where its engine runs it
        calls = {"n": 0}

        def runpp(net, *args, **kwargs):
            calls["n"] += 1
            if 5 <= calls["n"] <= 7:  # every attempt of hour 4 fails (recycled, flat start, DC start)
                raise LoadflowNotConverged("injected non-convergence")
            return real(net, *args, **kwargs)

        mp.setattr(pandapower, "runpp", runpp)

    clean, faulty, summary = _clean_and_faulty(tmp_path, monkeypatch, patch, base_run)
    assert summary.kpis["non_converged_hours"] == 1 and len(faulty) == 24
    assert not bool(faulty.loc[4, "converged"]) and np.isnan(faulty.loc[4, "losses_kw"])
    pd.testing.assert_frame_equal(clean.iloc[:4], faulty.iloc[:4])  # hours before the fault unchanged
    pd.testing.assert_frame_equal(clean.iloc[5:].reset_index(drop=True), faulty.iloc[5:].reset_index(drop=True))


@pytest.mark.slow
def test_infeasible_plan_is_not_applied(tmp_path):
    sc = scenario(tmp_path, controller={"name": "user_controller:InfeasibleController"})
    summary = run_scenario(sc, progress=False, plots=False)
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    assert summary.kpis["fallbacks"] == 1
    assert "infeasible plan" in manifest["fallbacks"][0]["detail"]
    grid = pd.read_csv(summary.run_dir / "grid.csv")
    assert json.loads(grid["open_branches"].iloc[0]) == [33, 34, 35, 36, 37]  # not the rejected 7-9-14-32-37


@pytest.mark.slow
def test_iterative_negotiation_logs_every_round_and_plan_matches_reality(tmp_path):
    lots = [dict(LOT, id="PL1", candidate_buses=[18]), dict(LOT, id="PL2", candidate_buses=[30])]
    sc = scenario(tmp_path, lots=lots, exchange={"mode": "iterative", "max_rounds": 4})
    summary = run_scenario(sc, progress=False, plots=False)
    msgs = pd.read_csv(summary.run_dir / "messages.csv")
    rounds = msgs.loc[msgs["kind"] == "signal", "round"]
    assert rounds.max() >= 1  # more than one negotiation round inside hour 0 (mosaik same-time loop)
    assert set(msgs["sender"]) == {"DSO", "PL1", "PL2"}
    assert len(msgs) == len(msgs.drop_duplicates())  # each message logged once
    pvr = pd.read_csv(summary.run_dir / "plan_vs_reality.csv")
    # deterministic EVs and perfect forecasts: measured hourly losses equal the plan's to 0.1 %
    assert np.all(np.abs(pvr["loss_gap_pct"]) < 0.1)
    assert summary.kpis["unmet_energy_kwh"] == pytest.approx(0.0, abs=1e-6)
    # the outcome of the negotiation is visible: rounds and convergence in the plan, events and KPIs
    plan = json.loads((summary.run_dir / "plans.jsonl").read_text().splitlines()[0])
    events = pd.read_csv(summary.run_dir / "events.csv")
    outcome = events[events["event"].str.startswith("negotiation")]
    assert len(outcome) == 1 and outcome["hour"].iloc[0] == 0
    assert plan["info"]["rounds"] == rounds.max() + 1 == summary.kpis["negotiation_rounds_max"]
    converged = plan["info"]["converged"]
    assert outcome["event"].iloc[0] == ("negotiation converged" if converged else "negotiation not converged")
    assert summary.kpis["negotiations_not_converged"] == (0 if converged else 1)
    assert converged or plan["info"]["rounds"] == 4  # only max_rounds ends a negotiation that does not converge
