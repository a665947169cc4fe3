"""The built-in line feeders' radial model made without pandapower (`cosim.networks.lines`) is the model
`radial_from_pandapower` makes of their pandapower net, bit for bit; `load_radial` builds it once per process
and shares it read-only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cosim.networks import LINE_DATA, load_network, load_radial

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(LINE_DATA))
def test_line_radial_is_the_pandapower_model_bit_for_bit(name):
    fast, ref = load_radial(name), load_network(name).radial
    for attr, value in vars(ref).items():
        mine = getattr(fast, attr)
        if isinstance(value, np.ndarray):
            assert mine.dtype == value.dtype and np.array_equal(mine, value), attr
        else:
            assert mine == value, attr


def test_load_radial_is_built_once_and_read_only():
    net = load_radial("ieee33")
    assert load_radial("ieee33") is net
    with pytest.raises(ValueError, match="read-only"):
        net.p_load_kw[0] = 1.0


def test_a_built_in_feeder_s_radial_model_does_not_import_pandapower():
    code = ("import sys; from cosim.networks import load_radial; net = load_radial('dist118'); "
            "print(net.n_bus, 'pandapower' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["118", "False"], out.stderr
