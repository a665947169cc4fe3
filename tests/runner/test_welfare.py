"""The welfare ledger: each penalty from the measured tables, transfers cancelling in the social cost, and the
value of information against `none`."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cosim.exchange.penalties import OVERLOAD_USD_PER_KWH, UNMET_USD_PER_KWH, VOLTAGE_USD_PER_PU_H
from cosim.networks import load_network
from cosim.runner.welfare import welfare_kpis, with_value_of_information


def test_every_part_of_the_dso_cost_and_the_social_cost():
    net = load_network("ieee33_rated").radial
    i_max = float(net.i_max_ka[16])  # branch 17 (17-18), a 25 A lateral end
    grid = pd.DataFrame({"hour": [0, 1], "losses_kw": [100.0, 50.0]})
    prices = pd.DataFrame({"hour": [0, 1], "energy_price_usd_per_kwh": [0.1, 0.2]})
    lines = pd.DataFrame({"hour": [0, 1], "branch": [17, 17], "i_ka": [i_max + 0.010, i_max - 0.001]})
    voltages = pd.DataFrame({"hour": [0, 0, 1], "bus": [1, 18, 18], "vm_pu": [0.8, 0.88, 0.95]})  # bus 1: slack
    lots = pd.DataFrame({"hour": [0, 1], "id": ["PL1", "PL1"], "unmet_energy_kwh": [0.0, 5.0]})
    ledger = pd.DataFrame({"hour": [0, 1, 0, 1], "id": ["PL1", "PL1", "PL2", "PL2"],
                           "profit_usd": [10.0, 5.0, -2.0, 1.0], "dso_tariff_usd": [1.0, 0.5, 0.0, 0.0]})
    k = welfare_kpis(net, grid, prices, lines, voltages, lots, ledger)
    assert k["dso_losses_cost_usd"] == pytest.approx(100 * 0.1 + 50 * 0.2)
    assert k["overload_kvah"] == pytest.approx(math.sqrt(3) * 12.66 * 10.0)  # 10 A above its rating, one hour
    assert k["dso_overload_penalty_usd"] == pytest.approx(OVERLOAD_USD_PER_KWH * k["overload_kvah"])
    assert k["voltage_outside_pu_h"] == pytest.approx(0.02)  # bus 18 at 0.88 (band 0.9-1.05); the slack left out
    assert k["dso_voltage_penalty_usd"] == pytest.approx(VOLTAGE_USD_PER_PU_H * 0.02)
    assert k["dso_unmet_penalty_usd"] == pytest.approx(UNMET_USD_PER_KWH * 5.0)
    assert k["dso_tariff_revenue_usd"] == pytest.approx(1.5)
    assert k["dso_cost_usd"] == pytest.approx(20.0 + k["dso_overload_penalty_usd"] + 2.0 + 5.0 - 1.5)
    assert k["plo_profit_usd_PL1"] == pytest.approx(15.0) and k["plo_profit_usd_PL2"] == pytest.approx(-1.0)
    assert k["social_cost_usd"] == pytest.approx(k["dso_cost_usd"] - 14.0)


def test_value_of_information_is_against_none():
    table = pd.DataFrame({"exchange": ["admm", "none", "signals"], "social_cost_usd": [-190.0, 4000.0, -100.0]})
    out = with_value_of_information(table)
    assert out["value_of_information_usd"].tolist() == [4190.0, 0.0, 4100.0]
    assert with_value_of_information(table[table.exchange != "none"])["value_of_information_usd"].isna().all()
