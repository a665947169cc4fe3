"""The day-ahead vector problem on a converted net: its slack voltage and line charging in the flow, and the
substation transformers' rating as a constraint."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from mv_nets import ring_mv

from cosim.controllers.base import HOURS, DayAheadProblem
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.networks.converted import flow
from cosim.networks.switched import convert_switched

warnings.filterwarnings("ignore", category=FutureWarning)


def _evaluate(net, scaling: float):
    prob = DayAheadProblem(network=net, load_scaling=np.full(HOURS, scaling), price_usd_per_kwh=np.full(HOURS, 0.1))
    vp = DayAheadVectorProblem(prob)
    opened = np.array([[2, 8]])
    return vp.evaluate_plans(opened, np.zeros((1, 0), int), np.zeros((1, 0, HOURS), np.int64))


@pytest.mark.slow
def test_plans_are_scored_at_the_slack_voltage_with_charging():
    net = convert_switched(ring_mv(), "ring").radial
    ev = _evaluate(net, 0.7)
    exact = flow(net, [2, 8], net.p_load_kw * 0.7, net.q_load_kvar * 0.7)
    assert ev.loss_kw[0] == pytest.approx(np.full(HOURS, exact.loss_kw[0]), rel=1e-4)
    assert ev.v_max_pu[0] == pytest.approx(net.v_slack_pu) and ev.cv[0] == 0.0


@pytest.mark.slow
def test_transformer_overload_is_a_constraint_violation():
    net = convert_switched(ring_mv(parallel_trafos=False), "ring").radial
    assert _evaluate(net, 1.0).cv[0] == 0.0
    small = dataclasses.replace(net, section_s_max_kva=np.array([500.0, 25000.0]))  # feeder 0 draws ~0.7 MVA
    loading = small.section_loading(flow(small, [2, 8], net.p_load_kw, net.q_load_kvar))[0]
    assert loading[0] > 1.0 > loading[1]
    assert _evaluate(small, 1.0).cv[0] == pytest.approx(HOURS * (loading[0] - 1.0), rel=1e-3)
