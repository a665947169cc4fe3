"""The reward's OF1, OF2 and VPD terms: each equals the objective function (`cosim.controllers.objectives`)
evaluated independently on the tables of a real episode (1 day, IEEE 33, fast engine, recorder on), its weight
scales it, the recorder switched off gives the same terms, and (hypothesis) reward = -sum weight x term."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim.controllers.objectives import lot_counts, lot_power_model, of1_benefit_usd, of2_lcd_kw, vpd_pu
from cosim.env import DsoEnv, EnvConfigError, RewardWeights
from cosim.env.reward import LotLedger
from cosim.results import RunFolder
from tests.env.conftest import write_small

WEIGHTS = {"of1_cost_usd": 2.0, "of2_kw": 0.5, "vpd_pu": 3.0}
NEW_TERMS = tuple(WEIGHTS)
SEED = 7


def play(scenario: Path, reward: dict[str, float], record: bool) -> dict:
    """One seeded random-policy episode: its rewards, infos, offers and lot power model (and tables if recorded)."""
    env = DsoEnv(scenario, reward=reward, engine="fast", record=record)
    try:
        env.action_space.seed(SEED)
        env.reset(seed=SEED)
        out = {"rewards": [], "infos": [], "offers": {}}
        done = False
        while not done:
            problem = env.decision_point.problem
            out["offers"].update((lot.lot_id, lot) for lot in problem.lots)
            out["lot_power"] = lot_power_model(problem)
            _, reward_, done, _, info = env.step(env.action_space.sample())
            out["rewards"].append(reward_)
            out["infos"].append(info)
        if record:
            folder = RunFolder(env.episode.run_dir)
            out.update({t: folder.table(t) for t in ("grid", "lots", "bus_voltages", "prices")})
    finally:
        env.close()
    return out


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> dict[str, dict]:
    scenario = write_small(tmp_path_factory.mktemp("reward"))
    return {"on": play(scenario, WEIGHTS, record=True),
            "off": play(scenario, {k: 2.0 * w for k, w in WEIGHTS.items()}, record=False)}


def final_terms(ep: dict) -> dict[str, float]:
    return ep["infos"][-1]["reward_terms"]


def test_the_episode_exercises_the_lots(episodes):
    lots = episodes["on"]["lots"]
    assert len(episodes["on"]["rewards"]) == 24
    assert (lots["p_kw"] > 0).any() and (lots["p_kw"] < 0).any()  # charging and discharging hours: OF1 in full


def test_of1_term_is_minus_the_plos_benefit_on_the_recorded_lots_table(episodes):
    ep = episodes["on"]
    price = ep["prices"].set_index("hour")["energy_price_usd_per_kwh"]
    benefit = 0.0
    for lot_id, rows in ep["lots"].groupby("id"):
        offer = ep["offers"][lot_id]
        counts = lot_counts(rows["p_kw"].to_numpy(float), offer, ep["lot_power"])
        benefit += float(of1_benefit_usd(np.maximum(counts, 0), np.maximum(-counts, 0),
                                         price.loc[rows["hour"]].to_numpy(float), offer))
    assert benefit != 0.0
    assert final_terms(ep)["of1_cost_usd"] == pytest.approx(WEIGHTS["of1_cost_usd"] * -benefit, rel=1e-12)


def test_of2_term_is_the_load_curve_deviation_of_the_recorded_tables(episodes):
    ep = episodes["on"]
    grid = ep["grid"].set_index("hour")
    lot_kw = ep["lots"].groupby("hour")["p_kw"].sum().reindex(grid.index, fill_value=0.0).to_numpy(float)
    load_kw = grid["p_grid_kw"].to_numpy(float) - grid["losses_kw"].to_numpy(float) - lot_kw
    expected = float(of2_lcd_kw(load_kw, lot_kw))
    assert expected > 0
    assert final_terms(ep)["of2_kw"] == pytest.approx(WEIGHTS["of2_kw"] * expected, rel=1e-12)


def test_vpd_term_is_eq_17_on_the_recorded_bus_voltages(episodes):
    ep = episodes["on"]
    vm = ep["bus_voltages"].pivot(index="hour", columns="bus", values="vm_pu").to_numpy(float)
    assert vm.shape == (24, 33)
    expected = float(vpd_pu(vm))
    assert final_terms(ep)["vpd_pu"] == pytest.approx(WEIGHTS["vpd_pu"] * expected, rel=1e-12)
    assert expected == pytest.approx(float(ep["grid"]["vpd_pu"].sum()), rel=1e-12)  # the grid's own eq. 17


def test_weights_scale_the_terms_and_the_recorder_off_gives_the_same(episodes):
    """The same seeded episode, recorder off and the new weights doubled: the same hourly rewards, the new terms
    doubled, the other final terms unchanged, and the last reward moved by exactly the added terms."""
    on, off = episodes["on"], episodes["off"]
    assert off["rewards"][:-1] == on["rewards"][:-1]
    t_on, t_off = final_terms(on), final_terms(off)
    assert set(t_on) == set(t_off) and set(NEW_TERMS) <= set(t_on)
    for key in t_on:
        factor = 2.0 if key in NEW_TERMS else 1.0
        assert t_off[key] == pytest.approx(factor * t_on[key], rel=1e-12, abs=1e-12), key
    added = sum(t_on[k] for k in NEW_TERMS)
    assert off["rewards"][-1] == pytest.approx(on["rewards"][-1] - added, rel=1e-12)
    for ep in (on, off):
        for reward_, info in zip(ep["rewards"], ep["infos"]):
            assert reward_ == -sum(info["reward_terms"].values())


def test_default_weights_add_no_new_term():
    assert all(getattr(RewardWeights(), k) == 0.0 for k in NEW_TERMS)
    assert RewardWeights.from_dict({"vpd_pu": 2}, where="reward").vpd_pu == 2.0


# -- property: reward = -sum weight x term, terms >= 0 ------------------------------------------------------------
finite = st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def tables(draw) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[int, float], dict[str, float]]:
    """A drawn episode: grid, lots and bus-voltage tables (some hours not converged: NaN), the hours' prices the
    DSO was told, and weights."""
    hours = draw(st.integers(1, 48))
    h = np.arange(hours)
    vals = lambda lo, hi, n=hours: np.array(draw(st.lists(st.floats(lo, hi), min_size=n, max_size=n)))  # noqa: E731
    grid = pd.DataFrame({"hour": h, "losses_kw": vals(0.0, 500.0), "p_grid_kw": vals(500.0, 5000.0),
                         "v_min_pu": vals(0.8, 1.05), "vpd_pu": vals(0.0, 5.0)})
    lots = pd.DataFrame({"hour": h, "id": "PL1", "p_kw": vals(-300.0, 300.0), "unmet_energy_kwh": vals(0.0, 50.0)})
    vm = vals(0.85, 1.1, hours * 4).reshape(hours, 4)
    failed = np.array(draw(st.lists(st.booleans(), min_size=hours, max_size=hours)))
    grid.loc[failed, ["losses_kw", "p_grid_kw", "v_min_pu", "vpd_pu"]] = np.nan
    vm[failed] = np.nan
    voltages = pd.DataFrame({"hour": np.repeat(h, 4), "bus": np.tile(np.arange(1, 5), hours), "vm_pu": vm.ravel()})
    prices = dict(zip(h.tolist(), vals(0.0, 0.5).tolist()))
    weights = {f.name: draw(finite) for f in fields(RewardWeights)}
    return grid, lots, voltages, prices, weights


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=tables())
def test_reward_is_minus_the_weighted_sum_of_non_negative_terms(episodes, drawn):
    grid, lots, voltages, prices, weights = drawn
    from cosim.networks import load_radial  # noqa: PLC0415

    net = load_radial("ieee33")
    ledger = LotLedger(prices_usd_per_kwh=prices, offers=dict(episodes["on"]["offers"]))
    hour = int(grid["hour"].iloc[-1])
    unit = RewardWeights.from_dict({f.name: 1.0 for f in fields(RewardWeights)}, "reward")
    raw = unit.final_terms_of(grid, lots, hour, net, ledger=ledger, bus_voltages=voltages)
    weighted = RewardWeights.from_dict(weights, "reward").final_terms_of(grid, lots, hour, net, ledger=ledger,
                                                                         bus_voltages=voltages)
    for key, term in raw.items():
        assert np.isfinite(term)
        if key != "of1_cost_usd":  # OF1 is a benefit: its term is negative when the lots earn more than they pay
            assert term >= 0.0, key
    if (lots["p_kw"] >= 0).all():  # charging only: no revenue, so the PLOs' net cost is >= 0
        assert raw["of1_cost_usd"] >= 0.0
    for key, term in weighted.items():
        assert term == pytest.approx(weights[key] * raw[key], rel=1e-12, abs=1e-9), key
    reward_ = -sum(weighted.values())
    assert reward_ == pytest.approx(-sum(weights[k] * raw[k] for k in weighted), rel=1e-12, abs=1e-9)
    always = ("losses_kwh", "voltage_pu", "non_converged", "unmet_kwh")  # today's terms, given whatever their weight
    assert set(weighted) == {k for k in raw if weights[k] > 0 or k in always}


@pytest.mark.parametrize(("reward", "message"), [
    ({"of1_cost_usd": -1.0}, "reward.of1_cost_usd = -1.0; allowed: a finite number >= 0"),
    ({"of2_kw": float("nan")}, "reward.of2_kw = nan; allowed: a finite number >= 0"),
    ({"vpd_pu": float("inf")}, "reward.vpd_pu = inf; allowed: a finite number >= 0"),
    ({"vpd": 1.0}, "reward.vpd: unknown reward term; allowed: losses_kwh, voltage_pu, unmet_kwh, non_converged, "
                   "of1_cost_usd, of2_kw, vpd_pu"),
])
def test_bad_weights_of_the_new_terms_are_one_line_naming_the_field(reward, message):
    with pytest.raises(EnvConfigError) as err:
        RewardWeights.from_dict(reward, where="reward")
    assert str(err.value) == message
