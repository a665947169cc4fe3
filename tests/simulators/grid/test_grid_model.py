"""GridModel: lots, topology, VPD and bad-input errors on the IEEE 33-bus (and the other nets briefly)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.networks import load_network
from simulators.grid.model import GridError, GridModel, GridNotConverged


@pytest.fixture(scope="module")
def m33():
    return GridModel("ieee33")


def test_base_case_and_power_balance(m33):
    s = m33.step(open_branches=[33, 34, 35, 36, 37])
    assert s.converged and s.open_branches == (33, 34, 35, 36, 37)
    assert s.losses_kw == pytest.approx(202.7, abs=0.1)
    assert s.v_min_pu == pytest.approx(0.913, abs=0.001) and s.bus_vm_pu(18) == pytest.approx(s.v_min_pu)
    assert s.vm_pu[0] == pytest.approx(1.0) and s.v_max_pu == pytest.approx(1.0)
    assert s.p_grid_kw == pytest.approx(s.p_demand_kw + s.losses_kw, abs=1e-3)
    assert s.vpd == pytest.approx(np.abs(s.vm_pu - 1).sum()) and s.vpd > 0
    d = s.to_dict()
    assert all(type(d[k]) is float for k in ("losses_kw", "p_grid_kw", "vpd", "v_min_pu"))
    assert d["open_branches"] == [33, 34, 35, 36, 37] and d["converged"] is True


def test_lots_change_losses_as_expected(m33):
    base = m33.step(open_branches=[33, 34, 35, 36, 37])
    charge = m33.step(lot_power_kw={18: 400.0})
    v2g = m33.step(lot_power_kw={18: -400.0})
    near = m33.step(lot_power_kw={2: 400.0})
    assert charge.losses_kw > base.losses_kw > v2g.losses_kw
    assert charge.v_min_pu < base.v_min_pu < v2g.v_min_pu
    assert near.losses_kw - base.losses_kw < charge.losses_kw - base.losses_kw  # far-end charging costs more
    assert charge.p_lots_kw == 400.0 and v2g.p_lots_kw == -400.0
    assert charge.p_grid_kw == pytest.approx(base.p_demand_kw + 400.0 + charge.losses_kw, abs=1e-3)
    split = m33.step(lot_power_kw={np.int64(18): 400.0})  # numpy integer bus numbers are fine
    assert split.losses_kw == pytest.approx(charge.losses_kw)


def test_load_scaling_and_bus_overrides(m33):
    m33.set_topology([33, 34, 35, 36, 37])
    low = m33.step(load_scaling=0.5)
    high = m33.step(load_scaling=1.0)
    zero = m33.step(load_scaling=0.0)
    assert low.p_demand_kw == pytest.approx(0.5 * high.p_demand_kw)
    assert low.losses_kw < high.losses_kw and zero.losses_kw == pytest.approx(0.0, abs=1e-6)
    assert zero.vpd == pytest.approx(0.0, abs=1e-9)
    over = m33.step(p_load_kw={18: 0.0, 33: 0.0})
    assert over.p_demand_kw == pytest.approx(3715.0 - 90.0 - 60.0)
    assert over.losses_kw < high.losses_kw


def test_open_branches_applied_and_persist(m33):
    base = m33.step(open_branches=[33, 34, 35, 36, 37])
    best = m33.step(open_branches=[37, 32, 14, 9, 7])
    assert best.open_branches == (7, 9, 14, 32, 37)
    assert best.losses_kw == pytest.approx(139.55, abs=0.1)  # Baran & Wu / Goswami optimum
    again = m33.step()
    assert again.open_branches == (7, 9, 14, 32, 37) and again.losses_kw == pytest.approx(best.losses_kw)
    net = m33.network.net
    closed = {int(n) for n in net.line.name[net.line.in_service]}
    assert closed == set(range(1, 38)) - {7, 9, 14, 32, 37}
    assert best.i_ka[list(best.branch_ids).index(7)] == 0.0
    assert base.losses_kw > best.losses_kw


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"open_branches": [33, 34]}, "loop"),
        ({"open_branches": [1, 33, 34, 35, 36, 37]}, "islands bus"),
        ({"open_branches": [99, 33, 34, 35, 36]}, r"no branch\(es\) \[99\]"),
        ({"open_branches": "33"}, "sequence of branch ids"),
        ({"load_scaling": -0.1}, "load_scaling must be >= 0"),
        ({"load_scaling": "high"}, "load_scaling must be a number"),
        ({"load_scaling": float("nan")}, "finite"),
        ({"p_load_kw": {5: -10.0}}, r"p_load_kw\[5\]"),
        ({"p_load_kw": {34: 10.0}}, "unknown bus 34"),
        ({"lot_power_kw": {0: 10.0}}, "unknown bus 0"),
        ({"lot_power_kw": {"6": 10.0}}, "not an integer bus number"),
        ({"lot_power_kw": {6: "ten"}}, r"lot_power_kw\[6\] must be a number"),
        ({"lot_power_kw": [6, 10.0]}, "mapping"),
    ],
)
def test_bad_input_is_named(m33, kwargs, match):
    with pytest.raises(GridError, match=match):
        m33.step(**kwargs)


def test_bad_input_leaves_topology_untouched():
    m = GridModel("ieee33")
    with pytest.raises(GridError):
        m.step(open_branches=[33, 34])
    assert m.step().open_branches == (33, 34, 35, 36, 37)


@pytest.mark.slow
def test_divergence_reported_or_raised():
    m = GridModel("ieee33")
    s = m.step(load_scaling=20.0)
    assert not s.converged and math.isnan(s.losses_kw) and "did not converge" in s.message
    assert s.to_dict()["converged"] is False
    strict = GridModel("ieee33", raise_on_divergence=True)
    with pytest.raises(GridNotConverged, match="load_scaling=20"):
        strict.step(load_scaling=20.0)
    assert m.step().converged  # recovers at the next hour


def test_other_networks_and_given_network_object():
    g = load_network("ninebus", load_level="low")
    m = GridModel(g)
    s = m.step(lot_power_kw={8: -2000.0})
    assert s.converged and s.open_branches == () and s.bus_vm_pu(8) > m.step().bus_vm_pu(8)
    assert g.net.load.p_mw.sum() * 1000 == pytest.approx(53_100.0)  # caller's net untouched
    assert GridModel("ninebus", load_level="medium").step().p_demand_kw == pytest.approx(65_700.0)
    s13 = GridModel("ieee13").step()
    assert s13.losses_kw == pytest.approx(136.2, abs=1.0) and len(s13.vm_pu) == 12
    with pytest.raises(GridError, match="only apply"):
        GridModel(g, load_level="peak")
    s69 = GridModel("ieee69").step(open_branches=[14, 57, 61, 69, 70])
    assert s69.losses_kw == pytest.approx(99.6, abs=0.3)


@settings(max_examples=30, deadline=None)
@given(
    bus=st.integers(min_value=2, max_value=33),
    kw=st.floats(min_value=-800.0, max_value=800.0, allow_nan=False),
    scaling=st.floats(min_value=0.2, max_value=1.5),
)
@pytest.mark.slow
def test_power_balance_and_vpd_invariants(m33, bus, kw, scaling):
    s = m33.step(load_scaling=scaling, lot_power_kw={bus: kw}, open_branches=[33, 34, 35, 36, 37])
    assert s.converged
    assert s.losses_kw >= 0.0
    assert s.p_grid_kw == pytest.approx(s.p_demand_kw + kw + s.losses_kw, abs=1e-2)
    assert s.vpd == pytest.approx(float(np.abs(s.vm_pu - 1.0).sum()))
    assert s.v_min_pu <= s.bus_vm_pu(bus) <= s.v_max_pu
