"""SimBench MV grids by name: sizes and substations as converted, the fast flow against pandapower on the original
net, exact optima, and the refusals of unknown codes."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from cosim.config import ScenarioFileError, parse_scenario
from cosim.networks import load_network
from cosim.networks.converted import count_radial, exact_optimum, flow
from cosim.networks.simbench import MV_CODES
from cosim.networks.switched import run_original, set_open_branches
from cosim.powerflow.network_data import NetworkDataError

warnings.filterwarnings("ignore", category=FutureWarning)

# code: (radial buses, branches, loops, sections, couplers dropped, original net as given: kW lines + transformers)
SIZES = {
    "1-MV-rural--0-sw": (94, 99, 6, 1, 0, 220.48),
    "1-MV-semiurb--0-sw": (114, 121, 8, 1, 0, 187.33),
    "1-MV-urban--0-sw": (137, 149, 13, 2, 2, 294.14),
    "1-MV-comm--0-sw": (103, 110, 8, 1, 0, 307.62),
}


def _original(grid, open_ids, oltc=True):
    net = copy.deepcopy(grid.net)
    if open_ids is not None:
        set_open_branches(net, grid, open_ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_original(net, grid.oltc_trafos if oltc else (), grid.radial.v_slack_pu, tol_pu=1e-11,
                           tolerance_mva=1e-11)
    vm = np.array([net.res_bus.vm_pu.at[min(b for b, k in grid.position_of_bus.items() if k == i)]
                   for i in range(grid.n_bus)])
    return net, vm, res


@pytest.mark.parametrize("code", MV_CODES)
@pytest.mark.slow
def test_mv_grids_convert_and_the_fast_flow_matches_runpp_on_the_original_net(code):
    grid = load_network(f"simbench:{code}")
    r = grid.radial
    n_bus, n_branch, n_loops, n_sections, n_dropped, loss_as_given = SIZES[code]
    assert (r.n_bus, r.n_branch, len(r.loops), len(r.section_s_max_kva), len(grid.dropped_switches)) == \
        (n_bus, n_branch, n_loops, n_sections, n_dropped)
    assert r.v_slack_pu == 1.025 and (r.v_min_pu, r.v_max_pu) == (0.965, 1.055)
    # the file's open switches are the base open set (the substation couplers excepted)
    n_open = int((~grid.net.switch.closed).sum())
    assert len(r.tie_branches) == n_open - n_dropped
    net, _, _ = _original(grid, None, oltc=False)  # the net as SimBench gives it (the base state)
    assert (net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()) * 1e3 == pytest.approx(loss_as_given, abs=0.01)
    fast = flow(r, list(r.tie_branches), r.p_load_kw, r.q_load_kvar)
    net, vm, res = _original(grid, list(r.tie_branches))
    assert res.converged and np.abs(vm - fast.vm_pu[0]).max() < 1e-6
    assert fast.loss_kw[0] == pytest.approx(net.res_line.pl_mw.sum() * 1e3, rel=1e-4)


@pytest.mark.slow
def test_rural_parallel_transformers_are_one_slack_busbar_and_urban_keeps_two_sections():
    rural = load_network("simbench:1-MV-rural--0-sw")
    # HV buses 0, 1 (coupler switch 0) and MV buses 2, 3 (coupler switch 5) with both transformers: no loop left
    assert {rural.position_of_bus[b] for b in (2, 3)} == {0} and 0 not in rural.position_of_bus
    assert rural.radial.section_s_max_kva.tolist() == [50000.0]
    assert len(rural.radial.loops) == len(rural.radial.tie_branches) == 6
    urban = load_network("simbench:1-MV-urban--0-sw")
    assert sorted(urban.dropped_switches) == [7, 8]  # the open couplers between the two transformers' busbars
    assert urban.radial.section_s_max_kva.tolist() == [63000.0, 63000.0]
    assert {int(urban.switch_of_branch[b]) for b in (148, 149)} == {9, 10}  # open bus-bus switches: ties


@pytest.mark.slow
def test_a_reconfigured_urban_grid_with_a_lot_matches_the_original_net():
    grid = load_network("simbench:1-MV-urban--0-sw")
    r = grid.radial
    opened, _, _ = exact_optimum(r)
    p = r.p_load_kw * 0.6
    p[77] += 2000.0  # bus 78 (MV3.101 Bus 84)
    fast = flow(r, opened, p, r.q_load_kvar * 0.6)
    net = copy.deepcopy(grid.net)
    net.load["p_mw"] *= 0.6
    net.load["q_mvar"] *= 0.6
    net.sgen["p_mw"] *= 0.6
    import pandapower as pp  # noqa: PLC0415 - as the grid model adds a lot

    pp.create_load(net, min(b for b, k in grid.position_of_bus.items() if k == 77), p_mw=2.0)
    set_open_branches(net, grid, opened)
    assert run_original(net, grid.oltc_trafos, r.v_slack_pu, tol_pu=1e-11, tolerance_mva=1e-11).converged
    vm = np.array([net.res_bus.vm_pu.at[b] for b in sorted(grid.position_of_bus) if grid.position_of_bus[b] == 77])
    assert abs(vm[0] - fast.vm_pu[0, 77]) < 1e-6
    # the lines the DSO opens stay in service: only switches change
    assert net.line.in_service.all() and int((~net.switch.closed).sum()) == len(opened) + len(grid.dropped_switches)


@pytest.mark.slow
def test_exact_optima_and_counts_of_rural_and_urban():
    rural = load_network("simbench:1-MV-rural--0-sw").radial
    assert count_radial(rural) == 5_569_200
    open_ids, loss, flows = exact_optimum(rural)
    assert loss == pytest.approx(116.21, abs=0.01) and flows < 400
    base = flow(rural, list(rural.tie_branches), rural.p_load_kw, rural.q_load_kvar).loss_kw[0]
    assert base == pytest.approx(179.87, abs=0.01)
    assert count_radial(load_network("simbench:1-MV-urban--0-sw").radial) == 111_671_536_896_864


def test_unknown_codes_are_one_line_errors_before_anything_runs(tmp_path):
    with pytest.raises(NetworkDataError, match=r"unknown SimBench code '1-MV-nowhere--0-sw'; the MV grids"):
        load_network("simbench:1-MV-nowhere--0-sw")
    with pytest.raises(ScenarioFileError, match=r"network.name: unknown SimBench code") as info:
        parse_scenario({"network": {"name": "simbench:nope"}, "lots": [], "output_dir": str(tmp_path)})
    assert "\n" not in str(info.value)
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(ScenarioFileError, match=r"network.name: network file .* is JSON but not a pandapower net"):
        parse_scenario({"network": {"name": str(tmp_path / "x.json")}, "lots": [], "output_dir": str(tmp_path)})
