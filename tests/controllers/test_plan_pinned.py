"""The DSO's day-ahead plan of the default scenario (EO, seed 0), pinned: speed work on the evaluation
(`vector_problem`, `optim`, `topology`, `envelope_pass`) must leave the plan as it was.

The problem is the one the DSO handed its EO controller on day 2 of `scenarios/default.toml` (written to
data/default_day_problem.json from that run: one lot with its envelope, 32 candidate buses, reconfiguration, OF3).
Open branches, the lot's bus and the evaluation count are pinned exactly; setpoints and objective values to 1e-9
relative (they were bit for bit equal before and after the case cache on the machine that pinned them; the bound
leaves room for a flow kernel whose arithmetic changes in the last bits, FMA say, and nothing else)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from cosim.controllers import DayAheadProblem, LotOffer
from cosim.controllers.case_memo import RowMemo
from cosim.controllers.envelope import FlexEnvelope
from cosim.controllers.metaheuristic import EOController, contract_counts
from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.networks.ieee33 import ieee33
from cosim.optim import minimize_eo

DATA = Path(__file__).parent / "data" / "default_day_problem.json"


def default_day_problem() -> DayAheadProblem:
    """The default scenario's day-ahead problem (day 2) as the DSO built it."""
    d = json.loads(DATA.read_text())
    lot = d["lot"]
    offer = LotOffer(lot["lot_id"], tuple(lot["candidate_buses"]), lot["n_pev"], lot["pev_power_kw"],
                     lot["pev_battery_kwh"], np.array(lot["hour_mode"]), np.array(lot["max_charge_kw"]),
                     np.array(lot["max_discharge_kw"]), energy_need_kwh=lot["energy_need_kwh"],
                     energy_available_kwh=lot["energy_available_kwh"],
                     need_by_hour_kwh=np.array(lot["need_by_hour_kwh"]),
                     envelope=FlexEnvelope.from_payload({k: (np.array(v) if isinstance(v, list) else v)
                                                         for k, v in d["envelope"].items()}))
    return DayAheadProblem(ieee33().radial, np.array(d["load_scaling"]), np.array(d["price_usd_per_kwh"]), (offer,),
                           base_open_branches=tuple(d["base_open_branches"]), reconfigure=True, objective="of3")


# EO 30 x 60, seed 0, on the code before the evaluation's case cache (float.hex of each value)
PINNED_PREDICTED = {"of1_usd": "0x1.6dbc81530a218p+8", "of2_kw": "0x1.c62d5543db68cp+13",
                    "of3_kwh": "0x1.29ee8046bd77ap+10", "vpd": "0x1.ed6855cd64575p+3",
                    "v_min_pu": "0x1.e1c19df3abc99p-1", "v_max_pu": "0x1.0000000000000p+0", "cv": "0x0.0p+0",
                    "objective": "0x1.29ee8046bd77ap+10"}
PINNED_SETPOINTS_KW = [
    "0x1.2c00000000000p+7", "0x1.6eaaaaaaaaaabp+7", "0x1.4d55555555556p+7", "0x1.6eaaaaaaaaaabp+6",
    "0x1.f400000000001p+6", "0x1.d2aaaaaaaaaabp+5", "0x1.0aaaaaaaaaaabp+4", "0x1.4d55555555556p+5", "0x0.0p+0",
    "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "-0x1.5e00000000000p+7", "-0x1.3b00000000000p+8",
    "-0x1.a400000000000p+7", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0", "0x0.0p+0",
    "0x0.0p+0"]


def test_the_default_days_eo_plan_is_the_pinned_one():
    plan = EOController(n_particles=30, n_iter=60, seed=0).plan(default_day_problem())
    assert plan.open_branches == (7, 9, 14, 32, 37)
    assert plan.lot_buses == {"PL1": 6}
    assert plan.info["evaluations"] == 1800 and plan.feasible
    want = np.array([float.fromhex(v) for v in PINNED_SETPOINTS_KW])
    np.testing.assert_allclose(plan.setpoints_kw["PL1"], want, rtol=1e-9, atol=1e-9)
    for key, value in PINNED_PREDICTED.items():
        np.testing.assert_allclose(plan.predicted[key], float.fromhex(value), rtol=1e-9, atol=1e-12, err_msg=key)


class _Unmemoised(DayAheadVectorProblem):
    """Every plan evaluated from scratch: every case of every plan through the full flow (`evaluate_plans`)."""

    @property
    def totals_suffice(self) -> bool:
        return False


def test_the_memos_give_the_optimiser_bit_for_bit_what_evaluating_everything_again_gives():
    problem = default_day_problem()
    memo, plain = DayAheadVectorProblem(problem), _Unmemoised(problem)
    assert memo.totals_suffice
    x0 = np.vstack([memo.encode(), memo.encode(counts=contract_counts(problem))])
    a = minimize_eo(memo, n_particles=30, n_iter=60, seed=0, x0=x0)
    b = minimize_eo(plain, n_particles=30, n_iter=60, seed=0, x0=x0)
    assert a.x_best.tobytes() == b.x_best.tobytes()
    assert a.history.tobytes() == b.history.tobytes() and a.history_cv.tobytes() == b.history_cv.tobytes()
    assert memo.n_evaluations == plain.n_evaluations == 1800
    cases = memo._case_memo
    assert cases.n_computed < 1800 * 24 / 2  # the memos spared the flow most of the 43,200 cases


def test_a_row_memo_computes_each_distinct_key_once_and_returns_values_in_order():
    memo = RowMemo(2, max_rows=6)
    asked: list[list[int]] = []

    def compute(rows):
        asked.append(keys[rows, 0].tolist())
        return np.column_stack([keys[rows, 0] * 1.5, -keys[rows, 1]])

    keys = np.array([[1, 2], [3, 4], [1, 2], [5, 6]])
    np.testing.assert_array_equal(memo.values(keys, compute), [[1.5, -2], [4.5, -4], [1.5, -2], [7.5, -6]])
    keys = np.array([[5, 6], [7, 8], [1, 2]])
    np.testing.assert_array_equal(memo.values(keys, compute), [[7.5, -6], [10.5, -8], [1.5, -2]])
    assert asked == [[1, 3, 5], [7]] and len(memo) == 4
    keys = np.array([[9, 9], [11, 0], [1, 2]])  # 4 kept + 3 asked would pass max_rows: the memo starts again
    np.testing.assert_array_equal(memo.values(keys, compute), [[13.5, -9], [16.5, 0], [1.5, -2]])
    assert asked[-1] == [9, 11, 1] and len(memo) == 3


def test_with_chargers_below_unity_power_factor_the_cases_loads_are_those_of_the_full_evaluation():
    """Loads are built only for the cases the memo solves (`_case_loads`), reactive power included: f and cv bit
    for bit those of the full evaluation, plans outside the voltage band among them."""
    problem = default_day_problem()
    problem = dataclasses.replace(problem, lots=tuple(dataclasses.replace(lot, power_factor=0.9)
                                                      for lot in problem.lots))
    vp = DayAheadVectorProblem(problem)
    rng = np.random.default_rng(1)
    for it in range(4):
        X = vp.lower + (vp.upper - vp.lower) * rng.random((30, vp.n_var))
        if it % 2:  # the lot at full power: plans outside the band, solved again for their violation
            X[:, vp.n_topo:] = rng.choice([0.0, 1.0], X[:, vp.n_topo:].shape)
        decoded = vp.decode(X)
        full = vp.evaluate_plans(*decoded)
        f, cv = vp.evaluate_totals(*decoded)
        assert f.tobytes() == full.f.tobytes() and cv.tobytes() == full.cv.tobytes()
