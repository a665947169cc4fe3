"""A lot whose chargers follow a Q(V) droop in a real co-simulation (ieee33, one day, a small fleet): each hour the
lot sends the curve's q at its power and at the voltage the grid measured at its bus the hour before (nominal at
hour 0), and that q reaches the grid: the recorded voltages are pandapower's with the lot's recorded p and q, and
injecting it raises the bus voltage against the same day at unity pf."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cosim.config import parse_scenario
from cosim.networks import load_network
from cosim.runner.run import run_scenario
from cosim.validate import runpp_case
from simulators.parking.reactive import QVCurve

pytestmark = pytest.mark.slow  # real co-simulations: not in the quick subset (about 5 s each once compiled)

BUS = 18
QV = {"qv_v1_pu": 0.93, "qv_v2_pu": 0.96}  # inside this feeder's daily range, so the curve's three parts all occur


def _run(tmp_path, name: str, reactive: dict):
    """The lot's table, the measured voltage at its bus hour by hour, and the run folder."""
    scenario = parse_scenario({
        "name": name, "days": 1, "output_dir": str(tmp_path), "network": {"name": "ieee33", "engine": "fast"},
        "controller": {"name": "none"}, "exchange": {"mode": "none"},
        "lots": [{"id": "PL1", "bus": BUS, "fleet": "ev2gym", "fleet_options": {"n_vehicles": 8}, "n_chargers": 8,
                  "connection_limit_kw": 200.0, **reactive}]})
    run_dir = run_scenario(scenario, progress=False, plots=False).run_dir
    volts = pd.read_csv(run_dir / "bus_voltages.csv")
    v = volts[volts["bus"] == BUS].sort_values("hour")["vm_pu"].to_numpy()
    return pd.read_csv(run_dir / "lots.csv").sort_values("hour"), v, run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qv")
    return _run(tmp, "qv", {"reactive": "qv", **QV}), _run(tmp, "unity", {})


def test_the_lots_q_follows_the_curve_of_the_previous_hours_voltage(runs):
    (lots, v, _), _ = runs
    curve = QVCurve(v1_pu=QV["qv_v1_pu"], v2_pu=QV["qv_v2_pu"])
    p, q = lots["p_kw"].to_numpy(), lots["q_kvar"].to_numpy()
    assert len(p) == len(v) == 24
    previous = np.r_[1.0, v[:-1]]  # the one-step lag: hour 0 reads the nominal voltage
    assert q == pytest.approx(curve.q_kvar(p, previous), abs=1e-9)
    limit = curve.limit_kvar(p)
    busy = np.abs(p) > 1.0
    assert np.any(busy & (q == 0.0)) and np.any(busy & (q < 0.0) & (q > -limit + 1e-6))  # dead band and slope
    assert np.any(busy & np.isclose(q, -limit, rtol=1e-12, atol=0.0))  # saturated: full injection
    # the same-hour voltage would give another q somewhere: the lag is real, not a coincidence of flat voltages
    assert not np.allclose(q, curve.q_kvar(p, v), atol=1e-6)


def test_the_grids_voltages_are_pandapowers_with_the_lots_q(runs):
    (lots, _, run_dir), _ = runs
    grid = load_network("ieee33")
    net = grid.radial
    scaling = pd.read_csv(run_dir / "prices.csv").sort_values("hour")["load_scaling"].to_numpy()
    volts = pd.read_csv(run_dir / "bus_voltages.csv")
    busy = np.flatnonzero(np.abs(lots["q_kvar"].to_numpy()) > 1.0)
    assert len(busy) >= 3
    for h in busy:  # a real pandapower runpp on the same net, the same loads and the lot's p and q at its bus
        p, q = net.p_load_kw * scaling[h], net.q_load_kvar * scaling[h]
        p[BUS - 1] += lots["p_kw"].iloc[h]
        q[BUS - 1] += lots["q_kvar"].iloc[h]
        vm, _, _ = runpp_case(grid, net.tie_branches, p, q)
        recorded = volts[volts["hour"] == h].sort_values("bus")["vm_pu"].to_numpy()
        assert recorded == pytest.approx(vm, abs=1e-6)


def test_the_injected_q_raises_the_bus_voltage(runs):
    (lots, v, _), (unity, v1, _) = runs
    assert lots["p_kw"].to_numpy() == pytest.approx(unity["p_kw"].to_numpy())  # no controller: the same power
    injecting = lots["q_kvar"].to_numpy() < -1.0
    assert injecting.any() and np.all(v[injecting] > v1[injecting])
    assert np.allclose(v[lots["q_kvar"].to_numpy() == 0.0], v1[lots["q_kvar"].to_numpy() == 0.0], atol=1e-12)
    assert (unity["q_kvar"] == 0.0).all()
