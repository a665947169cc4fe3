"""The city: SimBench's urban MV+LV grid (10,453 buses), its reduced model (each LV grid aggregated at its MV/LV
transformer), the city scenario's lots and a few simulated hours of it (the grid simulator on the full net)."""

from __future__ import annotations

import json
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

from cosim.networks import load_network, load_radial
from cosim.networks.converted import flow
from cosim.networks.reduction import reduce_grid
from cosim.networks.reduction_gap import reduction_gap, summary

pytestmark = pytest.mark.slow  # real co-simulations / fresh processes: not in the quick subset

warnings.filterwarnings("ignore", category=FutureWarning)
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "city_mvlv_urban.toml"
CODE = "1-MVLV-urban-all-0-sw"


@pytest.fixture(scope="module")
def city():
    full = load_network(f"simbench:{CODE}")
    reduced, reduction = reduce_grid(full)
    return full, reduced, reduction


def test_the_reduced_city_keeps_the_mv_network_and_one_node_per_lv_grid(city):
    full, reduced, reduction = city
    r, f = reduced.radial, full.radial
    assert f.n_bus == 10453 and reduction.n_lv_grids == 133 and r.n_bus == 272
    # every MV branch keeps its id (a plan opens the same switches), every tie is an MV one
    assert set(r.branch_ids.tolist()) <= set(f.branch_ids.tolist())
    assert r.tie_branches == f.tie_branches and len(r.tie_branches) == 15
    assert set(reduction.lv_trafo_branch.tolist()) <= set(reduced.trafo_of_branch)
    # loads summed, not lost; every pandapower bus maps onto a reduced node
    assert r.p_load_kw.sum() == pytest.approx(f.p_load_kw.sum(), rel=1e-12)
    assert set(reduced.position_of_bus) == set(full.position_of_bus)
    # an LV node's lots connect at its transformer's LV busbar (0.4 kV)
    net = full.net
    for node, bid in zip(reduction.lv_node, reduction.lv_trafo_branch):
        assert reduced.connection_buses[node] == int(net.trafo.at[full.trafo_of_branch[int(bid)], "lv_bus"])
        assert float(net.bus.at[reduced.connection_buses[node], "vn_kv"]) == 0.4


def test_the_reductions_error_is_measured_per_lv_grid(city):
    """The same loads on both models: the MV voltages agree within 1e-3 p.u.; an LV grid's worst bus sits up to
    0.03 p.u. below its node (the LV lines the reduction drops); the transformers' loadings agree within 2 pp."""
    full, reduced, reduction = city
    f, r = full.radial, reduced.radial
    res_f = flow(f, f.tie_branches, f.p_load_kw, f.q_load_kvar)
    res_r = flow(r, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    mv = reduction.lv_grid_of_bus < 0
    assert np.abs(res_f.vm_pu[0, mv] - res_r.vm_pu[0, reduction.node_of_bus[mv]]).max() < 1e-3
    rows = reduction_gap(f, r, reduction, f.tie_branches, f.p_load_kw, f.q_load_kvar)
    gaps = summary(rows)
    assert gaps["lv_grids"] == 133
    assert all(row.dv_pu >= -1e-3 for row in rows)  # the plan sees an LV grid at its busbar: never below reality
    assert 0.01 < gaps["max_dv_pu"] < 0.03 and gaps["max_d_trafo_pct"] < 2.0


def test_the_city_scenario_has_100_lots_and_10000_evs_at_mv_and_lv_buses(city):
    _, reduced, reduction = city
    data = tomllib.loads(SCENARIO.read_text())
    lots = data["lots"]
    assert data["network"]["name"] == f"simbench:{CODE}:reduced" and data["network"]["reconfigure"]
    assert len(lots) >= 100 and sum(lot["fleet_options"]["n_per_day"] for lot in lots) >= 10_000
    buses = {lot["bus"] - 1 for lot in lots}
    lv = set(reduction.lv_node.tolist())
    assert buses & lv and buses - lv  # lots at LV grids' nodes and at MV buses
    assert all(1 <= lot["bus"] <= reduced.n_bus for lot in lots)


def test_the_city_scenario_file_is_what_the_script_writes(city):
    sys.path.insert(0, str(ROOT / "scripts"))
    from city_scenario import scenario_text  # noqa: PLC0415

    assert SCENARIO.read_text() == scenario_text("urban")


def test_a_few_hours_of_the_city_run_the_full_net_with_the_dsos_reduced_plan(tmp_path):
    """The city at a small budget (EO 2 x 2, plans in process), three simulated hours: a full day takes minutes
    (README, "A whole city"). The grid simulator runs pandapower on the full MV+LV net every hour."""
    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.runner.world import build_world  # noqa: PLC0415

    scenario = load_scenario(SCENARIO, {"output_dir": str(tmp_path), "controller": {
        "name": "eo", "isolation": False, "options": {"n_particles": 2, "n_iter": 2}}})
    assert len(scenario.lots) >= 100
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    built = build_world(scenario, run_dir)
    try:
        built.world.run(until=3, print_progress=False)
    finally:
        built.world.shutdown()
    import pandas as pd  # noqa: PLC0415

    grid = pd.read_csv(run_dir / "grid.csv")
    plan = json.loads((run_dir / "plans.jsonl").read_text().splitlines()[0])
    assert len(grid) == 3 and grid["converged"].all()
    assert all(json.loads(o) == plan["open_branches"] for o in grid["open_branches"])
    lots = pd.read_csv(run_dir / "lots.csv")
    assert lots["id"].nunique() == len(scenario.lots) and len(lots) == 3 * len(scenario.lots)
    # the figures at this size: one node per LV grid, heat maps per feeder
    from cosim.runner.figures import RunTables, draw_all  # noqa: PLC0415
    from cosim.runner.figures_city import feeder_of_bus, is_city  # noqa: PLC0415

    net = load_radial(scenario.network)  # the run's own model, built once in this process (no deep copy)
    tables = RunTables(grid=grid, bus_voltages=pd.read_csv(run_dir / "bus_voltages.csv"),
                       lines=pd.read_csv(run_dir / "lines.csv"), plans=[plan], network=net)
    assert is_city(net)
    drawn = {f.path.stem: f for f in draw_all(tables, tmp_path / "plots", dpi=60)}
    feeder, names = feeder_of_bus(net, set(plan["open_branches"]))
    assert (feeder < 0).sum() == 3 and len(names) == 11  # the HV slack and two MV busbars; 11 MV feeders
    assert "133 LV grids collapsed" in drawn["network"].caption
    assert f"{len(names)} feeders" in drawn["voltage_heatmap"].caption


def test_reducing_a_grid_without_lv_grids_is_one_line_and_exit_2(capsys):
    from cosim.cli import main  # noqa: PLC0415

    assert main(["validate", "--network", "simbench:1-MV-rural--0-sw:reduced"]) == 2
    captured = capsys.readouterr()
    err = (captured.out + captured.err).strip()
    assert len(err.splitlines()) == 1 and "has no LV grid (no bus below 1 kV) to reduce" in err
    assert "Traceback" not in err
