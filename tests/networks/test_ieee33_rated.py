"""ieee33_rated: the IEEE 33-bus with line ratings by the stated rule (1.25 x the current at nominal load, base
topology, at least 25 A), in the DSO's model and in the pandapower net the grid simulator loads."""

import numpy as np

from cosim.networks import load_network
from cosim.networks.ieee33 import RATING_FLOOR_KA, RATING_MARGIN
from cosim.powerflow import solve_radial_batch


def test_ratings_follow_the_stated_rule_in_both_models():
    rated, plain = load_network("ieee33_rated"), load_network("ieee33")
    net = plain.radial
    flow = solve_radial_batch(net, np.array([net.tie_branches]), net.p_load_kw[None], net.q_load_kvar[None])
    expected = np.maximum(RATING_MARGIN * flow.i_branch_ka[0], RATING_FLOOR_KA)
    assert np.allclose(rated.radial.i_max_ka, expected, atol=1e-4)
    assert np.allclose(rated.net.line.max_i_ka.to_numpy(), expected, atol=1e-4)
    assert np.array_equal(rated.radial.r_pu, net.r_pu) and np.array_equal(rated.radial.p_load_kw, net.p_load_kw)
    # at nominal load every closed line runs at most 80 % (1 / 1.25) of its rating (ratings rounded to 0.1 A)
    assert np.max(flow.i_branch_ka[0] / rated.radial.i_max_ka) <= 1 / RATING_MARGIN + 2e-3
