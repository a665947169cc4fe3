"""GridModel on a converted net: pandapower runs the ORIGINAL net, the DSO's open branches go to its switches, its
loads and generators keep their rows (scaled, or each its own value), lots sit at their bus, and the transformers'
loading counts in max_loading_percent."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from mv_nets import ring_mv

from cosim.networks.converted import flow
from cosim.networks.switched import convert_switched
from simulators.grid.model import GridError, GridModel

warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture
def model() -> GridModel:
    return GridModel(convert_switched(ring_mv(), "ring"))


@pytest.mark.slow
def test_steps_match_the_fast_flow_and_keep_lines_in_service(model):
    r = model.network.radial
    state = model.step(load_scaling=0.8, lot_power_kw={3: 600.0}, open_branches=[2, 8])
    p = r.p_load_kw * 0.8
    p[2] += 600.0
    fast = flow(r, [2, 8], p, r.q_load_kvar * 0.8)
    assert state.converged and np.abs(state.vm_pu - fast.vm_pu[0]).max() < 1e-6
    assert state.losses_kw == pytest.approx(fast.loss_kw[0], rel=1e-3)
    assert state.v_max_pu == pytest.approx(r.v_slack_pu, abs=1e-6)  # the busbar held at the set-point
    net = model.network.net
    assert net.line.in_service.all()
    opened = {model.network.switch_of_branch[b] for b in (2, 8)}
    assert set(net.switch.index[~net.switch.closed.astype(bool)]) == opened
    assert model.network.net.load.p_mw.iloc[:6].tolist() == pytest.approx([0.72, 0.88, 1.04] * 2)
    assert state.trafo_loading_percent > 0 and state.to_dict()["max_loading_percent"] >= state.trafo_loading_percent


@pytest.mark.slow
def test_element_power_sets_every_load_and_generator_on_its_own(model):
    r = model.network.radial
    n_load, n_sgen = 6, 6
    own = {"load_p_mw": np.linspace(0.5, 1.5, n_load), "load_q_mvar": np.full(n_load, 0.1),
           "sgen_p_mw": np.linspace(0.0, 1.0, n_sgen), "sgen_q_mvar": np.zeros(n_sgen)}
    state = model.step(load_scaling=3.0, element_power={k: v.tolist() for k, v in own.items()})
    p = np.zeros(r.n_bus)
    q = np.zeros(r.n_bus)
    p[1:] = own["load_p_mw"] * 1000 - own["sgen_p_mw"] * 1000  # one load and one PV per feeder bus, in bus order
    q[1:] = own["load_q_mvar"] * 1000
    fast = flow(r, list(r.tie_branches), p, q)
    assert np.abs(state.vm_pu - fast.vm_pu[0]).max() < 1e-6
    assert state.p_demand_kw == pytest.approx(p.sum())
    with pytest.raises(GridError, match=r"element_power\['sgen_p_mw'\] must hold 6 finite values"):
        model.step(element_power={**own, "sgen_p_mw": [1.0]})
    with pytest.raises(GridError, match="element_power has no 'load_q_mvar'"):
        model.step(element_power={"load_p_mw": own["load_p_mw"]})


@pytest.mark.slow
def test_bad_topologies_are_refused_before_the_net_changes(model):
    with pytest.raises(GridError, match="leaves 1 loop"):
        model.step(open_branches=[8])
    with pytest.raises(GridError, match="islands bus"):
        model.step(open_branches=[1, 4])
    assert model.open_branches == (7, 8)
