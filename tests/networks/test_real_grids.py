"""A new user's pandapower nets saved with pandapower.to_json and named by path: pandapower's own case33bw (its
external grid's bus pinned at 1.0-1.0 p.u.), a feeder mixing a tie switch, sectionalisers and lines without
switches on one loop, and a meshed net (refused with one line, exit 2). Real files, real one-day runs."""

from __future__ import annotations

import json
import warnings

import pandapower as pp
import pandapower.networks as pn
import pytest
from mv_nets import tie_and_sectionaliser

from cosim.cli import main
from cosim.config import parse_scenario
from cosim.networks import load_network
from cosim.powerflow.topology import is_radial
from cosim.runner.run import run_scenario

warnings.filterwarnings("ignore", category=FutureWarning)


def _run(tmp_path, net_file, bus: int, reconfigure: bool = True):
    scenario = parse_scenario({
        "name": "real-grid", "network": {"name": str(net_file), "reconfigure": reconfigure},
        "controller": {"name": "eo", "options": {"n_particles": 4, "n_iter": 5}},
        "lots": [{"id": "PL1", "bus": bus, "fleet": "seed000"}], "output_dir": str(tmp_path / "out")})
    summary = run_scenario(scenario, progress=False, plots=False)
    kpis = json.loads((summary.run_dir / "kpis.json").read_text())
    plans = [json.loads(line) for line in (summary.run_dir / "plans.jsonl").read_text().splitlines()]
    return kpis, plans


@pytest.mark.slow
def test_case33bw_as_json_takes_the_load_buses_voltage_band_and_runs_without_fallback(tmp_path):
    net = pn.case33bw()
    slack = int(net.ext_grid.bus.iloc[0])
    assert (net.bus.at[slack, "min_vm_pu"], net.bus.at[slack, "max_vm_pu"]) == (1.0, 1.0)  # what broke it
    path = tmp_path / "case33bw.json"
    pp.to_json(net, str(path))
    r = load_network(str(path)).radial
    load_buses = net.bus.loc[net.load.bus.unique()]
    assert (r.v_min_pu, r.v_max_pu) != (1.0, 1.0)
    assert (r.v_min_pu, r.v_max_pu) == (load_buses.min_vm_pu.max(), load_buses.max_vm_pu.min()) == (0.9, 1.1)
    # no switches: the five lines out of service are the ties, every line a candidate
    assert r.n_bus == 33 and len(r.tie_branches) == 5 and r.fixed_branches == ()
    kpis, plans = _run(tmp_path, path, bus=18)
    assert kpis["fallbacks"] == 0 and kpis["voltage_violation_hours"] == 0
    assert is_radial(r, plans[0]["open_branches"])


@pytest.mark.parametrize("reconfigure", [True, False])
@pytest.mark.slow
def test_tie_switch_and_sectionalisers_convert_and_run_without_fallback(tmp_path, reconfigure):
    path = tmp_path / "mixed.json"
    pp.to_json(tie_and_sectionaliser(), str(path))
    grid = load_network(str(path))
    r = grid.radial
    sw = grid.net.switch
    tie = int(sw.index[sw.name == "tie switch"][0])
    sectionaliser = int(sw.index[sw.name == "line sectionaliser"][0])
    assert sorted(grid.switch_of_branch.values()) == sorted([tie, sectionaliser])
    switchable = set(grid.switch_of_branch)  # branches a switch opens; the bus-bus sectionaliser merges its buses
    assert len(r.loops) == 1 and set(r.loops[0]) == switchable  # candidates: only switchable branches
    assert all(set(loop) <= switchable for loop in r.loops)
    assert set(r.fixed_branches) == set(int(b) for b in r.branch_ids) - switchable  # the lines without switches
    assert (r.v_min_pu, r.v_max_pu) == (0.92, 1.08)  # the load buses', not the busbar's 1.0-1.0
    sectional = next(b for b, s in grid.switch_of_branch.items() if s == sectionaliser)
    assert is_radial(r, [sectional])  # the DSO may open the closed sectionaliser instead of the tie
    kpis, plans = _run(tmp_path, path, bus=5, reconfigure=reconfigure)
    assert kpis["fallbacks"] == 0
    assert all(set(p["open_branches"]) <= switchable and is_radial(r, p["open_branches"]) for p in plans)
    if not reconfigure:
        assert [p["open_branches"] for p in plans] == [list(r.tie_branches)]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.slow
def test_a_meshed_net_with_no_switch_on_a_loop_is_refused_with_one_line_and_exit_2(tmp_path, capsys, command):
    path = tmp_path / "meshed.json"
    pp.to_json(tie_and_sectionaliser(meshed=True), str(path))
    if command == "validate":
        argv = ["validate", "--network", str(path)]
    else:
        scenario = tmp_path / "s.toml"
        scenario.write_text(f'[network]\nname = "{path.name}"\nreconfigure = false\n')
        argv = ["run", str(scenario)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    text = (out + err).strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in text
    assert "closed loop through line 1 (a1-a2), line 2 (a2-a3), line 8 (a1-a3)" in text and "meshed" in text


@pytest.mark.slow
def test_validate_a_net_with_fixed_branches(tmp_path, capsys, monkeypatch):
    import cosim.validate  # noqa: PLC0415

    monkeypatch.setattr(cosim.validate, "SEEDS", 3)
    monkeypatch.setattr(cosim.validate, "BUDGET", (8, 10))
    path = tmp_path / "mixed.json"
    pp.to_json(tie_and_sectionaliser(), str(path))
    assert main(["validate", "--network", str(path), "--hit-rates"]) == 0
    out = capsys.readouterr().out
    assert "voltage limits 0.92-1.08" in out and "-> agree (limit 1e-06)" in out
    assert "radial configurations: 2 (matrix-tree theorem, exact)" in out  # the tie or the sectionaliser open
    assert all(f"    {alg}" in out for alg in ("eo", "pso", "ga", "milp"))
