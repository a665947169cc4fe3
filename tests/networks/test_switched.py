"""Converting pandapower nets with transformers and switches (cosim.networks.switched) on small nets: the slack
busbar, couplers, switch branches, the flow against runpp on the original and converted nets, and refusals."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp
import pytest
from mv_nets import meshed_without_switches, ring_mv, tie_and_sectionaliser

from cosim.networks import load_network
from cosim.networks.converted import ConvertedNetwork, count_radial, exact_optimum, flow
from cosim.networks.switched import convert_switched, converted_net, run_original, set_open_branches
from cosim.powerflow.network_data import NetworkDataError
from cosim.powerflow.topology import count_spanning_trees, enumerate_radial

warnings.filterwarnings("ignore", category=FutureWarning)


def _original_vm(grid, open_ids, p_scale: float = 1.0) -> tuple[np.ndarray, float]:
    net = copy.deepcopy(grid.net)
    net.load["p_mw"] *= p_scale
    net.load["q_mvar"] *= p_scale
    net.sgen["p_mw"] *= p_scale
    set_open_branches(net, grid, open_ids)
    res = run_original(net, grid.oltc_trafos, grid.radial.v_slack_pu, tol_pu=1e-11, tolerance_mva=1e-11)
    assert res.converged
    vm = np.full(grid.n_bus, np.nan)
    for bus, k in grid.position_of_bus.items():
        vm[k] = net.res_bus.vm_pu.at[bus]
    return vm, float(net.res_line.pl_mw.sum() * 1e3)


@pytest.mark.slow
def test_parallel_transformers_and_couplers_become_one_slack_busbar():
    net = ring_mv(parallel_trafos=True)
    grid = convert_switched(net, "ring")
    r = grid.radial
    assert isinstance(r, ConvertedNetwork) and grid.converted and grid.net is net
    # HV buses gone, busbars merged into bus 1; 6 feeder buses; 6 sections + tie line + middle bus-bus tie
    assert r.n_bus == 7 and r.bus_labels[0] == "busbar 0" and r.n_branch == 8
    assert r.v_slack_pu == pytest.approx(1.02)  # no set-point in the file: the external grid's voltage
    assert (r.v_min_pu, r.v_max_pu) == (0.95, 1.06)
    assert r.section_s_max_kva.tolist() == [50000.0] and grid.dropped_switches == ()
    assert len(r.loops) == 2 and r.tie_branches == (7, 8)  # the transformer loop is no loop of the model
    k = r.branch_index(8)  # the open bus-bus switch: a branch of zero impedance, no charging
    assert r.r_pu[k] == r.x_pu[k] == 0 and r.charging_y_pu[k] == 0
    assert grid.switch_of_branch[7] == int(net.switch.index[net.switch.name == "tie switch"][0])
    assert count_radial(r) == count_spanning_trees(r) == len(enumerate_radial(r))


@pytest.mark.slow
def test_separate_busbars_give_two_sections_and_the_open_coupler_is_never_a_candidate():
    grid = convert_switched(ring_mv(parallel_trafos=False), "ring")
    r = grid.radial
    coupler = int(grid.net.switch.index[grid.net.switch.name == "MV coupler"][0])
    assert grid.dropped_switches == (coupler,) and coupler not in grid.switch_of_branch.values()
    assert r.section_s_max_kva.tolist() == [25000.0, 25000.0]
    assert sorted(r.slack_section[r.slack_section >= 0].tolist()) == [0, 1]
    assert len(r.loops) == 2


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.slow
def test_fast_flow_matches_runpp_on_the_original_and_the_converted_net(parallel):
    grid = convert_switched(ring_mv(parallel_trafos=parallel), "ring")
    r = grid.radial
    for open_ids, scale in ((list(r.tie_branches), 1.0), ([2, 8], 0.4), ([6, 8], 1.6)):
        fast = flow(r, open_ids, r.p_load_kw * scale, r.q_load_kvar * scale)
        vm, loss = _original_vm(grid, open_ids, scale)
        assert np.abs(vm - fast.vm_pu[0]).max() < 1e-8
        assert fast.loss_kw[0] == pytest.approx(loss, rel=1e-3)  # open lines' stubs add a few W in pandapower
        conv = converted_net(grid)
        set_open_branches(conv, grid, open_ids, converted=True)
        pp.create_loads(conv, range(1, r.n_bus), p_mw=r.p_load_kw[1:] * scale / 1e3,
                        q_mvar=r.q_load_kvar[1:] * scale / 1e3)
        pp.runpp(conv, tolerance_mva=1e-11)
        assert np.abs(conv.res_bus.vm_pu.to_numpy() - fast.vm_pu[0]).max() < 1e-8


def test_charging_changes_the_losses_and_one_solve_is_close():
    r = convert_switched(ring_mv(), "ring").radial
    exact = flow(r, list(r.tie_branches), r.p_load_kw, r.q_load_kvar)
    one = flow(r, list(r.tie_branches), r.p_load_kw, r.q_load_kvar, max_solves=1)
    assert r.has_charging
    assert np.abs(one.vm_pu - exact.vm_pu).max() < 1e-4 < np.abs(one.vm_pu - exact.vm_pu).max() * 1e6


@pytest.mark.slow
def test_exact_optimum_by_groups_of_feeders_matches_full_enumeration():
    r = convert_switched(ring_mv(), "ring").radial
    configs = enumerate_radial(r)
    losses = flow(r, configs, r.p_load_kw, r.q_load_kvar).loss_kw
    open_ids, loss, _ = exact_optimum(r)
    assert loss == pytest.approx(losses.min(), rel=1e-9)
    assert sorted(open_ids.tolist()) == sorted(configs[int(np.argmin(losses))].tolist())


def test_exact_optimum_on_ieee33_is_the_literature_one():
    r = load_network("ieee33").radial
    open_ids, loss, _ = exact_optimum(r)
    assert open_ids.tolist() == [7, 9, 14, 32, 37] and loss == pytest.approx(139.55, abs=0.01)


def test_a_line_net_without_switches_uses_in_service_ties():
    net = meshed_without_switches()
    net.line.at[2, "in_service"] = False
    grid = convert_switched(net, "triangle")
    assert grid.radial.tie_branches == (3,) and grid.switch_of_branch == {}
    set_open_branches(grid.net, grid, [1])
    assert grid.net.line.in_service.tolist() == [False, True, True]


@pytest.mark.parametrize("make, message", [
    (meshed_without_switches, r"not radial in the base state: a closed loop through line 0, line 1, line 2"),
    (lambda: tie_and_sectionaliser(meshed=True),
     r"closed loop through line 1 \(a1-a2\), line 2 \(a2-a3\), line 8 \(a1-a3\); no switch on the loop, so the net "
     r"is meshed"),
    (lambda: ring_mv(island=True), r"island: lonely"),
    (lambda: ring_mv(tie_open=False), r"not radial in the base state: a closed loop through .*tie line"),
])
@pytest.mark.slow
def test_unconvertible_nets_are_refused_with_one_line(make, message):
    with pytest.raises(NetworkDataError, match=message) as info:
        convert_switched(make(), "bad")
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_unsupported_elements_and_two_external_grids_feeding_one_tree_are_refused():
    net = ring_mv()
    pp.create_gen(net, 3, p_mw=1.0)
    with pytest.raises(NetworkDataError, match=r"element type\(s\) gen \(1\) are not supported"):
        convert_switched(net, "bad")
    net = ring_mv()
    pp.create_ext_grid(net, 3)
    with pytest.raises(NetworkDataError, match="two substations in one tree: .* transformer 0 and external grid 1 "
                                               "both feed the tree of busbar 0"):
        convert_switched(net, "bad")


@pytest.mark.slow
def test_json_files_by_path(tmp_path, monkeypatch):
    good = tmp_path / "ring.json"
    pp.to_json(ring_mv(), str(good))
    grid = load_network(str(good))
    assert grid.converted and grid.radial.n_bus == 7
    monkeypatch.chdir(tmp_path)
    assert load_network("ring.json").radial.tie_branches == (7, 8)
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(NetworkDataError, match="is JSON but not a pandapower net"):
        load_network("other.json")
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(NetworkDataError, match="not a pandapower JSON net"):
        load_network("broken.json")
    pp.to_json(meshed_without_switches(), str(tmp_path / "mesh.json"))
    with pytest.raises(NetworkDataError, match="not radial in the base state"):
        load_network("mesh.json")
    with pytest.raises(NetworkDataError, match="does not exist"):
        load_network("missing.json")


def test_buses_no_switch_can_feed_and_without_elements_are_left_out():
    net = ring_mv()
    a, b = pp.create_bus(net, 20.0), pp.create_bus(net, 20.0)
    pp.create_line(net, a, b, 1.0, std_type="NA2XS2Y 1x185 RM/25 12/20 kV")
    grid = convert_switched(net, "ring")
    assert (grid.radial.n_bus, grid.radial.n_branch) == (7, 8) and a not in grid.position_of_bus


@pytest.mark.parametrize("content, message", [
    (None, "not radial in the base state"), ('{"_class": "dict"}', "is JSON but not a pandapower net")])
@pytest.mark.slow
def test_cosim_run_refuses_bad_nets_with_one_line_and_exit_2(tmp_path, capsys, content, message):
    from cosim.cli import main  # noqa: PLC0415 - the command line, in process

    net_file = tmp_path / "net.json"
    if content is None:
        pp.to_json(meshed_without_switches(), str(net_file))
    else:
        net_file.write_text(content)
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'[network]\nname = "{net_file.name}"\n')
    assert main(["run", str(scenario)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.slow
def test_validate_a_json_net_and_refuse_an_unknown_code(tmp_path, capsys, monkeypatch):
    import cosim.validate  # noqa: PLC0415
    from cosim.validate import main  # noqa: PLC0415

    monkeypatch.setattr(cosim.validate, "SEEDS", 3)
    monkeypatch.setattr(cosim.validate, "BUDGET", (8, 10))
    path = tmp_path / "ring.json"
    pp.to_json(ring_mv(parallel_trafos=False), str(path))
    assert main(["--network", str(path), "--hit-rates"]) == 0
    out = capsys.readouterr().out
    assert "-> agree (limit 1e-06)" in out and "radial configurations: 19 (matrix-tree theorem, exact)" in out
    assert "couplers never operated: switch(es) [3]" in out
    assert "minimum-loss configuration (each group of feeders enumerated" in out
    assert all(f"    {alg}" in out for alg in ("eo", "pso", "ga", "milp"))
    assert main(["--network", "simbench:1-XX-nope--0-sw"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("cosim validate: error: unknown SimBench code") and len(out.strip().splitlines()) == 1


def test_a_line_without_switch_on_a_loop_is_fixed_and_never_a_candidate():
    from cosim.optim.reconfiguration import ReconfigurationProblem  # noqa: PLC0415
    from cosim.powerflow.topology import TopologyError, check_radial, is_radial, repair  # noqa: PLC0415

    grid = convert_switched(ring_mv(unswitched_section=True), "ring")
    r = grid.radial
    fixed = next(b for b, li in grid.line_of_branch.items() if grid.net.line.at[li, "name"] == "F0 line 1")
    assert r.fixed_branches == (fixed,) and fixed not in grid.switch_of_branch
    assert all(fixed not in loop for loop in r.loops) and len(r.loops) == 2
    configs = enumerate_radial(r)
    assert len(configs) == count_radial(r) == count_spanning_trees(r) and not np.isin(configs, fixed).any()
    assert not is_radial(r, [fixed, 8])
    with pytest.raises(TopologyError, match=rf"branch\(es\) \[{fixed}\] have no switch"):
        check_radial(r, [fixed, 8])
    rows = repair(r, np.array([[fixed, 8], [fixed, fixed], [7, 8]]), np.random.default_rng(0))
    assert not np.isin(rows, fixed).any() and all(is_radial(r, row) for row in rows)
    prob = ReconfigurationProblem(r)
    x = np.random.default_rng(1).uniform(-1, 1, (200, prob.n_var))
    assert not np.isin(prob.decode(x), fixed).any()
    assert not np.isin(exact_optimum(r)[0], fixed).any()


def test_voltage_limits_come_from_the_load_buses_never_the_slack():
    net = tie_and_sectionaliser()  # busbar pinned at 1.0-1.0, load buses 0.92-1.08
    assert (lambda r: (r.v_min_pu, r.v_max_pu))(convert_switched(net, "t").radial) == (0.92, 1.08)
    net.bus.loc[net.bus.name != "busbar", ["min_vm_pu", "max_vm_pu"]] = np.nan
    r = convert_switched(net, "t").radial
    assert (r.v_min_pu, r.v_max_pu) == (0.9, 1.1)  # none given: the default band
    net.load["in_service"] = False
    net.bus.loc[net.bus.name == "s1", ["min_vm_pu", "max_vm_pu"]] = (0.95, 1.05)
    r = convert_switched(net, "t").radial
    assert (r.v_min_pu, r.v_max_pu) == (0.95, 1.05)  # no load: every bus but the slack
    net.bus.loc[net.bus.name == "s1", ["min_vm_pu", "max_vm_pu"]] = (1.0, 1.0)
    with pytest.raises(NetworkDataError, match=r"voltage band min_vm_pu 1 \.\. max_vm_pu 1 p\.u\. is empty"):
        convert_switched(net, "t")


def test_an_empty_bus_behind_an_open_switch_is_left_out_and_a_loaded_one_refused():
    net = tie_and_sectionaliser()
    s1 = int(net.bus.index[net.bus.name == "s1"][0])
    spare = pp.create_bus(net, 20.0, name="spare")
    line = pp.create_line(net, s1, spare, 0.5, std_type="NA2XS2Y 1x185 RM/25 12/20 kV", name="spare cable")
    pp.create_switch(net, spare, line, et="l", closed=False)
    grid = convert_switched(net, "t")
    assert spare not in grid.position_of_bus and line not in grid.line_of_branch.values()
    assert grid.radial.n_bus == 8 and len(grid.radial.loops) == 1
    pp.create_load(net, spare, p_mw=0.1, q_mvar=0.0)
    with pytest.raises(NetworkDataError, match=r"bus\(es\) spare are not fed: an island"):
        convert_switched(net, "t")
