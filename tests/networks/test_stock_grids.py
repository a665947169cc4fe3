"""pandapower's stock networks as a new user brings them (pandapower.to_json, then the file's path): each converts
(transformers as branches, taps as given, several substations), its fast flow agrees with pandapower's runpp on
the original net (tolerance_mva = 1e-10) and with power-grid-model (error_tolerance 1e-12) within 1e-8 p.u. on
random radial configurations and loads; two of them run a real one-day co-simulation with a lot and
reconfiguration. Bad input: a transformer on the wrong level, two substations in one tree (one line, exit 2)."""

from __future__ import annotations

import copy
import json
import warnings

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from cosim.cli import main
from cosim.config import parse_scenario
from cosim.networks import load_network
from cosim.networks.converted import flow
from cosim.networks.stock import STOCK_GRIDS, lot_for, save_stock_grid
from cosim.networks.switched import set_open_branches
from cosim.powerflow.topology import decode_loops, is_radial, repair
from cosim.runner.run import run_scenario

AGREE_PU = 1e-8
SIZES = {  # buses, branches (transformers), loops, substations: the converted model
    "case33bw": (33, 37, 0, 5), "mv_oberrhein": (178, 183, 2, 6), "cigre_mv": (15, 17, 2, 3),
    "cigre_mv_der": (15, 17, 2, 3), "kerber_landnetz_kabel_1": (18, 17, 1, 0), "dickert_lv": (3, 2, 1, 0),
    "dickert_lv_long": (62, 61, 1, 0),
}


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stock")
    return {name: save_stock_grid(name, folder) for name in STOCK_GRIDS}


def _original(grid, open_ids, load_scale, sgen_scale):
    """runpp (tolerance_mva 1e-10) on a copy of the original net with the branches open and every load and static
    generator scaled: (vm, va per radial bus, p and q per radial bus in kW / kvar)."""
    net = copy.deepcopy(grid.net)
    set_open_branches(net, grid, open_ids)
    for table, scale in (("load", load_scale), ("sgen", sgen_scale)):
        net[table]["p_mw"] = net[table].p_mw.to_numpy(float) * scale
        net[table]["q_mvar"] = net[table].q_mvar.to_numpy(float) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, tolerance_mva=1e-10, calculate_voltage_angles=True, numba=False, lightsim2grid=False,
                 max_iteration=30)
    n = grid.n_bus
    vm, va, p, q = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n), np.zeros(n)
    for bus, k in grid.position_of_bus.items():
        vm[k], va[k] = net.res_bus.vm_pu.at[bus], net.res_bus.va_degree.at[bus]
    for table, sign in (("load", 1.0), ("sgen", -1.0)):
        df = net[table][net[table].in_service]
        for bus, pm, qm, sc in zip(df.bus, df.p_mw, df.q_mvar, df.scaling):
            p[grid.position_of_bus[int(bus)]] += sign * pm * sc * 1000.0
            q[grid.position_of_bus[int(bus)]] += sign * qm * sc * 1000.0
    losses_kw = (net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()) * 1000.0
    return vm, va, p, q, losses_kw


@pytest.mark.parametrize("name", STOCK_GRIDS)
@pytest.mark.slow
def test_converts_and_the_fast_flow_agrees_with_runpp_and_power_grid_model(stock, name):
    grid = load_network(str(stock[name]))
    r = grid.radial
    n_bus, n_branch, n_trafo, n_loops = SIZES[name]
    assert (r.n_bus, r.n_branch, len(grid.trafo_of_branch), len(r.loops)) == (n_bus, n_branch, n_trafo, n_loops)
    rng = np.random.default_rng(3)
    base = np.asarray(r.tie_branches, int)[None, :]
    rows = np.vstack([base, repair(r, decode_loops(r, rng.random((3, len(r.loops)))), rng)]) if r.loops else base
    cases = [_original(grid, rows[i], rng.uniform(0.2, 1.2, len(grid.net.load)),
                       rng.uniform(0.0, 1.0, len(grid.net.sgen))) for i in range(len(rows))]
    p = np.array([c[2] for c in cases])
    q = np.array([c[3] for c in cases])
    res = flow(r, rows, p, q)
    assert res.ok.all()
    for i, (vm, va, _, _, losses_kw) in enumerate(cases):
        assert np.abs(vm - res.vm_pu[i]).max() < AGREE_PU, name
        assert np.abs(va - res.va_deg[i]).max() < 1e-6, name  # phase shifts (Dyn5: 150 degrees) included
        assert res.loss_kw[i] == pytest.approx(losses_kw, rel=1e-7, abs=1e-6)  # lines, transformers, iron
    pytest.importorskip("power_grid_model")
    from cosim.powerflow.references import PgmBatch  # noqa: PLC0415 - after the optional-dependency check

    pgm = PgmBatch(r, r.v_slack_pu, shunts=True)
    vm_pgm = pgm.solve(pgm.update(rows, p, q), tol_pu=1e-12)
    assert np.abs(vm_pgm - res.vm_pu).max() < AGREE_PU, name


@pytest.mark.slow
def test_mv_oberrhein_has_two_substations_and_a_tie_between_their_trees_is_a_candidate(stock):
    grid = load_network(str(stock["mv_oberrhein"]))
    r = grid.radial
    assert sorted(grid.trafo_of_branch.values()) == [114, 142]
    at_slack = [b for b, t in grid.trafo_of_branch.items() if 0 in (r.from_bus[b - 1], r.to_bus[b - 1])]
    assert len(at_slack) == 2  # each transformer roots its own tree below the external grids' busbar
    tree = r.graph(open_branch_ids=r.tie_branches)
    below = tree.copy()
    below.remove_node(0)
    assert nx.number_connected_components(below) == 2  # two trees in the base state
    # the ties whose loop runs through the slack join the two trees: closing one and opening a branch of its loop
    # is radial (the reconfiguration moves buses between substations); closing it alone is not
    joining = [t for t in r.tie_branches if 0 in nx.shortest_path(tree, int(r.from_bus[t - 1]), int(r.to_bus[t - 1]))]
    assert joining
    tie = joining[0]
    others = [b for b in r.tie_branches if b != tie]
    assert not is_radial(r, others)
    loop = r.loops[r.tie_branches.index(tie)]
    moved = [sorted([*others, b]) for b in loop if b != tie]
    assert moved and all(is_radial(r, row) for row in moved)
    res = flow(r, np.array(moved), r.p_load_kw, r.q_load_kvar)
    assert res.ok.all()


def _run(tmp_path, path, lot: dict):
    scenario = parse_scenario({
        "name": "stock-grid", "network": {"name": str(path), "reconfigure": True},
        "controller": {"name": "eo", "options": {"n_particles": 4, "n_iter": 5}},
        "lots": [lot], "output_dir": str(tmp_path / "out")})
    summary = run_scenario(scenario, progress=False, plots=False)
    kpis = json.loads((summary.run_dir / "kpis.json").read_text())
    plans = [json.loads(line) for line in (summary.run_dir / "plans.jsonl").read_text().splitlines()]
    return kpis, plans


@pytest.mark.parametrize("name", ["mv_oberrhein", "dickert_lv_long"])
@pytest.mark.slow
def test_a_day_with_a_lot_and_reconfiguration_runs_without_fallback(tmp_path, stock, name):
    grid = load_network(str(stock[name]))
    r = grid.radial
    base = flow(r, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    kpis, plans = _run(tmp_path, stock[name], lot_for(r, base.vm_pu[0]))
    assert kpis["fallbacks"] == 0
    assert all(is_radial(r, p["open_branches"]) for p in plans)


@pytest.mark.slow
def test_a_transformer_on_the_wrong_level_is_one_line_and_exit_2(tmp_path, capsys):
    net = pn.create_dickert_lv_network(trafo_type_name="0.25 MVA 10/0.4 kV")  # a 10 kV transformer on 20 kV
    path = tmp_path / "wrong_level.json"
    pp.to_json(net, str(path))
    assert main(["validate", "--network", str(path)]) == 2
    out, err = capsys.readouterr()
    text = (out + err).strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in text
    assert "transformer 0" in text and "vn_hv_kv 10 kV does not match its HV bus 0 at vn_kv 20 kV" in text


@pytest.mark.slow
def test_two_substations_in_one_tree_is_one_line_and_exit_2(tmp_path, capsys):
    net = pn.mv_oberrhein()
    net.switch["closed"] = True  # every tie closed: both transformers feed one tree
    path = tmp_path / "closed_ties.json"
    pp.to_json(net, str(path))
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'[network]\nname = "{path.name}"\nreconfigure = false\n')
    assert main(["run", str(scenario)]) == 2
    out, err = capsys.readouterr()
    text = (out + err).strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in text
    assert "two substations in one tree" in text and "transformer 114 and transformer 142" in text


def _hv_line_above_a_transformer():
    net = pn.create_cigre_network_mv()
    hv = pp.create_bus(net, 110.0, name="HV 2")
    pp.create_line_from_parameters(net, 0, hv, 5.0, 0.1, 0.4, 10.0, 0.5, name="HV line")
    net.trafo.at[0, "hv_bus"] = hv
    return net


def _line_between_levels():
    net = pn.create_dickert_lv_network()
    pp.create_line_from_parameters(net, 0, 2, 0.1, 0.2, 0.1, 0.0, 0.2, name="20 kV to 0.4 kV")
    return net


def _parallel_at_different_taps():
    from mv_nets import ring_mv  # noqa: PLC0415 - the converter tests' nets

    net = ring_mv()
    net.trafo["autoTap"] = False  # taps as given: the two parallel transformers as one branch ...
    net.trafo.at[1, "tap_pos"] = 2  # ... unless their ratios differ
    return net


@pytest.mark.parametrize("make, message", [
    (_hv_line_above_a_transformer, r"line 15 \(HV line\) is on the HV side of the substation transformers \(at 110 "
                                   r"kV with external grid 0\)"),
    (_line_between_levels, r"line 1 \(20 kV to 0.4 kV\) joins buses at 20 and 0.4 kV"),
    (_parallel_at_different_taps, r"transformers 0 and 1 run in parallel at different ratios"),
])
@pytest.mark.slow
def test_hv_lines_and_lines_between_levels_are_refused_with_one_line(tmp_path, capsys, make, message):
    import re  # noqa: PLC0415

    path = tmp_path / "bad.json"
    pp.to_json(make(), str(path))
    assert main(["validate", "--network", str(path)]) == 2
    out, err = capsys.readouterr()
    text = (out + err).strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in text
    assert re.search(message, text), text
