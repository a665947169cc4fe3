"""The IEEE 33-bus table in cosim.networks.ieee33 is pandapower's case33bw: same per-unit model, same flows."""

import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from cosim.networks.converter import radial_from_pandapower
from cosim.networks.ieee33 import TIES, ieee33


@pytest.mark.slow
def test_table_equals_case33bw():
    ref_net = pn.case33bw()
    ref = radial_from_pandapower(ref_net, "ieee33", list(range(1, 38)), TIES)
    grid = ieee33()
    r = grid.radial
    for attr in ("from_bus", "to_bus", "r_pu", "x_pu", "p_load_kw", "q_load_kvar", "branch_ids", "i_max_ka"):
        np.testing.assert_array_equal(getattr(r, attr), getattr(ref, attr), err_msg=attr)
    assert (r.base_kv, r.base_mva, r.slack_bus, r.tie_branches, r.v_min_pu, r.v_max_pu) == (
        ref.base_kv, ref.base_mva, ref.slack_bus, ref.tie_branches, ref.v_min_pu, ref.v_max_pu)
    assert r.loops == ref.loops
    ref_net.line["in_service"] = [b not in TIES for b in range(1, 38)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(ref_net, numba=False, lightsim2grid=False)
        pp.runpp(grid.net, numba=False, lightsim2grid=False)
    np.testing.assert_array_equal(grid.net.res_bus.vm_pu.to_numpy(), ref_net.res_bus.vm_pu.to_numpy())
    np.testing.assert_array_equal(grid.net.res_line.pl_mw.to_numpy(), ref_net.res_line.pl_mw.to_numpy())
