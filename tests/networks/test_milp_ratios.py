"""The MILP's LinDistFlow holds a transformer's off-nominal ratio (and a converted net's slack voltage)."""

from __future__ import annotations

import dataclasses

import numpy as np

from cosim.controllers.milp import solve_single_hour_reconfiguration
from cosim.networks.converted import flow
from cosim.powerflow.network_data import RadialNetwork


def _feeder(ratio: complex) -> RadialNetwork:
    """Slack -> transformer (boosting 5 % at ratio 1/1.05) -> bus 2 -> a line with a 5-6 % drop -> bus 3 (loaded)."""
    return RadialNetwork(
        name="boosted", base_kv=10.0, base_mva=1.0, slack_bus=0, from_bus=np.array([0, 1]), to_bus=np.array([1, 2]),
        r_pu=np.array([0.001, 0.05]), x_pu=np.array([0.01, 0.05]), p_load_kw=np.array([0.0, 0.0, 1000.0]),
        q_load_kvar=np.array([0.0, 0.0, 0.0]), branch_ids=np.array([1, 2]), tie_branches=(), v_min_pu=0.95,
        v_max_pu=1.05, fixed_branches=(1, 2), tap_ratio=np.array([ratio, 1.0]))


def test_the_milp_sees_the_voltage_a_transformers_ratio_gives():
    boosted = _feeder(1 / 1.05)
    exact = flow(boosted, [], boosted.p_load_kw, boosted.q_load_kvar)
    assert 0.95 < exact.vm_pu[0, 2] < 1.05  # the boost keeps the far bus within the band ...
    plain = dataclasses.replace(boosted, tap_ratio=np.array([1.0, 1.0]))
    assert flow(plain, [], plain.p_load_kw, plain.q_load_kvar).vm_pu[0, 2] < 0.95  # ... which without it sags
    with_ratio = solve_single_hour_reconfiguration(boosted)
    without = solve_single_hour_reconfiguration(plain)
    # no voltage penalty where the ratio holds the band (the objective is the losses, 51 kW); a penalty
    # (1e6 kW per p.u.^2 of squared-voltage violation) where it does not
    assert with_ratio.milp_objective_kw < 60.0 and without.milp_objective_kw > 1000.0
