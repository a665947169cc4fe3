"""Discrete tap control in the grid simulator's pandapower path ([network] tap_control = "discrete")."""

from __future__ import annotations

import warnings

import pytest

from cosim.config import ScenarioFileError, parse_scenario
from cosim.networks.stock import save_stock_grid
from cosim.powerflow.network_data import NetworkDataError
from simulators.grid.model import GridModel

warnings.filterwarnings("ignore", category=FutureWarning)


def test_discrete_tap_control_brings_a_sagging_lv_busbar_back_into_its_band(tmp_path):
    """pandapower's long Dickert LV feeder at three times its loads: with taps as given its busbar sags to 0.948
    p.u.; DiscreteTapControl moves the tap (2.5 % steps, -2..2) until the busbar is within 0.98..1.02 p.u."""
    path = str(save_stock_grid("dickert_lv_long", tmp_path))
    fixed, discrete = GridModel(path), GridModel(path, tap_control="discrete")
    lv = int(discrete.network.net.trafo.lv_bus.iloc[0])
    fixed.step(load_scaling=1.0)
    discrete.step(load_scaling=1.0)  # within the band: the tap stays
    assert discrete.network.net.trafo.tap_pos.tolist() == [0.0]
    a, b = fixed.step(load_scaling=3.0), discrete.step(load_scaling=3.0)
    assert fixed.network.net.res_bus.vm_pu[lv] < 0.95
    assert 0.98 <= discrete.network.net.res_bus.vm_pu[lv] <= 1.02
    assert discrete.network.net.trafo.tap_pos.tolist() == [-2.0] and b.v_min_pu > a.v_min_pu + 0.05


def test_discrete_tap_control_needs_a_tap_changer_and_a_converted_net(tmp_path):
    path = str(save_stock_grid("kerber_landnetz_kabel_1", tmp_path))
    with pytest.raises(NetworkDataError, match="needs a transformer with a tap changer"):
        GridModel(path, tap_control="discrete")
    base = {"name": "t", "network": {"name": "ieee33", "tap_control": "discrete"}}
    with pytest.raises(ScenarioFileError, match="tap_control: 'discrete' applies to SimBench grids"):
        parse_scenario(base)
    with pytest.raises(ScenarioFileError, match="tap_control: 'continuous' is not allowed; allowed: fixed, discrete"):
        parse_scenario({"name": "t", "network": {"name": "ieee33", "tap_control": "continuous"}})
