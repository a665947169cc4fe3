"""Off-nominal ratios in the radial flow (transformers as branches, `RadialNetwork.tap_ratio`) against
power-grid-model's generic branch (the same branch model, solved by Newton-Raphson) on random radial
configurations: the configurations reverse branches (a ratio then sits at the child's end), so both directions of
the sweep's bus scales are exercised; and a network whose ratios are all 1 solves exactly as a plain one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cosim.networks import load_network
from cosim.powerflow.bfs import solve_radial_batch
from cosim.powerflow.network_data import NetworkDataError
from cosim.powerflow.topology import decode_loops, repair

AGREE_PU = 1e-8


def _with_ratios(r, seed: int):
    """ieee33 with an off-nominal ratio (0.97..1: raising the voltage, as distribution transformers are tapped;
    phase shift up to 30 degrees) on every fourth branch."""
    rng = np.random.default_rng(seed)
    tap = np.ones(r.n_branch, complex)
    k = np.arange(0, r.n_branch, 4)
    tap[k] = rng.uniform(0.97, 1.0, len(k)) * np.exp(1j * np.radians(rng.uniform(-30, 30, len(k))))
    return dataclasses.replace(r, tap_ratio=tap, loops=())


@pytest.mark.slow
def test_ratios_in_both_directions_agree_with_power_grid_model():
    pytest.importorskip("power_grid_model")
    from cosim.powerflow.references import PgmBatch  # noqa: PLC0415 - after the optional-dependency check

    r = _with_ratios(load_network("ieee33").radial, seed=5)
    rng = np.random.default_rng(6)
    rows = repair(r, decode_loops(r, rng.random((40, len(r.loops)))), rng)
    scale = rng.uniform(0.3, 1.2, (40, r.n_bus))
    res = solve_radial_batch(r, rows, r.p_load_kw * scale, r.q_load_kvar * scale)
    assert res.ok.all()
    pgm = PgmBatch(r)
    vm = pgm.solve(pgm.update(rows, r.p_load_kw * scale, r.q_load_kvar * scale), tol_pu=1e-12)
    assert np.abs(vm - res.vm_pu).max() < AGREE_PU
    # the ratios matter: the same cases without them are far off
    plain = solve_radial_batch(load_network("ieee33").radial, rows, r.p_load_kw * scale, r.q_load_kvar * scale)
    assert np.nanmax(np.abs(plain.vm_pu - res.vm_pu)) > 1e-2


def test_unit_ratios_and_one_level_solve_as_a_plain_network():
    r = load_network("ieee33").radial
    same = dataclasses.replace(r, tap_ratio=np.ones(r.n_branch, complex), bus_kv=np.full(r.n_bus, r.base_kv))
    a = solve_radial_batch(r, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    b = solve_radial_batch(same, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    assert np.array_equal(a.vm_pu, b.vm_pu) and np.array_equal(a.i_branch_ka, b.i_branch_ka)
    assert np.array_equal(a.loss_kw, b.loss_kw)


@pytest.mark.parametrize("field, value, message", [
    ("tap_ratio", np.zeros(37, complex), "tap_ratio must hold one non-zero finite ratio per branch"),
    ("bus_kv", np.full(5, 12.66), "bus_kv must hold one positive kV per bus"),
])
def test_bad_ratios_and_levels_are_refused(field, value, message):
    r = load_network("ieee33").radial
    with pytest.raises(NetworkDataError, match=message):
        dataclasses.replace(r, **{field: value})
