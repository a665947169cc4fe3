"""`cosim validate --network <name>`: the checks within 30 s for grids up to 200 buses, larger grids print their
time, the hit-rate study only behind `--hit-rates`."""

from __future__ import annotations

import time

import pandapower as pp
import pytest
from mv_nets import ring_mv

import cosim.validate
from cosim.cli import main

STUDY_LINES = ("    eo ", "    pso ", "    ga ", "    milp ")


def two_feeders(n_bus: int) -> pp.pandapowerNet:
    """A 20 kV net of `n_bus` buses: an external grid at the busbar, two overhead feeders of 0.2 km sections with a
    10 kW load per bus, joined at their ends by a tie line out of service (no switch anywhere: every line is a
    candidate, the tie is open), so one loop of n_bus branches."""
    net = pp.create_empty_network(sn_mva=1.0)
    bb = pp.create_bus(net, 20.0, name="busbar")
    pp.create_ext_grid(net, bb, vm_pu=1.0)
    ends = []
    per_feeder = (n_bus - 1) // 2
    for f in range(2):
        prev = bb
        for k in range(per_feeder + (f == 0) * ((n_bus - 1) % 2)):
            b = pp.create_bus(net, 20.0, name=f"F{f} bus {k + 1}")
            pp.create_line(net, prev, b, 0.2, std_type="48-AL1/8-ST1A 20.0")
            pp.create_load(net, b, p_mw=0.01, q_mvar=0.003)
            prev = b
        ends.append(prev)
    pp.create_line(net, ends[0], ends[1], 0.5, std_type="48-AL1/8-ST1A 20.0", in_service=False)
    net.line["c_nf_per_km"] = 0.0  # no charging: the tie, out of service, is then the same open branch in both models
    assert len(net.bus) == n_bus
    return net


@pytest.mark.slow
@pytest.mark.xdist_group("timing")
def test_the_largest_simbench_grid_is_validated_within_30_s_without_the_study(capsys):
    """SimBench urban (137 buses, the largest registered MV grid) after a warm-up on the small rural grid (numba's
    compilation is a one-off): agreement, counts and the exact optimum, no hit-rate study, under 30 s of this
    process's CPU (CPU, not wall: the test's bound holds on a shared machine; the command is single-threaded)."""
    assert main(["validate", "--network", "simbench:1-MV-rural--0-sw"]) == 0
    capsys.readouterr()
    wall, cpu = time.perf_counter(), time.process_time()
    assert main(["validate", "--network", "simbench:1-MV-urban--0-sw"]) == 0
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = capsys.readouterr().out
    assert cpu < 30.0, f"{cpu:.1f} s CPU ({wall:.1f} s wall)"
    assert "-> agree (limit 1e-06)" in out
    assert "radial configurations: 111,671,536,896,864 (matrix-tree theorem, exact)" in out
    assert "minimum-loss configuration (each group of feeders enumerated: 152,538 flows" in out
    assert "losses 148.29 kW" in out  # the exact optimum docs/VALIDATION.md reports
    assert "--hit-rates (minutes)" in out and not any(line in out for line in STUDY_LINES)
    assert "more than 200" not in out and out.rstrip().splitlines()[-1].startswith("  checked in ")


@pytest.mark.slow
def test_hit_rates_only_behind_the_flag(tmp_path, capsys, monkeypatch):
    """The same JSON net without and with --hit-rates: the study's lines (EO, PSO, GA, the MILP) only with it."""
    monkeypatch.setattr(cosim.validate, "SEEDS", 2)  # the study's size, not its code: 2 seeds of 8 x 10
    monkeypatch.setattr(cosim.validate, "BUDGET", (8, 10))
    path = tmp_path / "ring.json"
    pp.to_json(ring_mv(parallel_trafos=False), str(path))
    assert main(["validate", "--network", str(path)]) == 0
    out = capsys.readouterr().out
    assert "-> agree (limit 1e-06)" in out and "--hit-rates (minutes)" in out
    assert not any(line in out for line in STUDY_LINES) and "hits" not in out
    assert main(["validate", "--network", str(path), "--hit-rates"]) == 0
    out = capsys.readouterr().out
    assert all(line in out for line in STUDY_LINES) and "reconfiguration at base load: 2 seeds" in out
    assert "--hit-rates (minutes)" not in out


@pytest.mark.slow
def test_a_grid_over_200_buses_says_so_and_prints_its_time(tmp_path, capsys):
    path = tmp_path / "long.json"
    pp.to_json(two_feeders(211), str(path))
    assert main(["validate", "--network", str(path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"{path}: 211 buses") and "(built in " in lines[0]
    assert "  211 buses, more than 200: the checks may take longer than 30 s; each prints its time" in lines
    assert "radial configurations: 211 (matrix-tree theorem, exact)" in out
    assert lines[-1].startswith("  checked in ") and lines[-1].endswith(" s")


def test_hit_rates_on_a_registered_network_is_one_line_and_exit_2(capsys):
    assert main(["validate", "--network", "ieee33", "--hit-rates"]) == 2
    out = capsys.readouterr().out
    assert out == "cosim validate: error: --hit-rates: only for a converted net (--network simbench:<code> or a " \
                  "pandapower JSON file)\n"
