"""Tests for cosim.decision: TOPSIS (hand-checked example, invariants) and AHP (Saaty's 3x3 example)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cosim.decision import RANDOM_INDEX, DecisionInputError, ahp_weights, topsis

# ---------------------------------------------------------------- TOPSIS

# Hand example: 3 alternatives x 2 criteria, weights 0.5 / 0.5.
#   matrix          column norms: sqrt(9+16+0) = 5, sqrt(16+0+9) = 5
#   A1 = (3, 4)     normalised A1 (.6, .8)  -> weighted (.3, .4)
#   A2 = (4, 0)     normalised A2 (.8, 0)   -> weighted (.4, 0)
#   A3 = (0, 3)     normalised A3 (0, .6)   -> weighted (0, .3)
HAND = [[3.0, 4.0], [4.0, 0.0], [0.0, 3.0]]


def test_topsis_hand_example_both_benefit():
    # ideal (.4, .4), anti-ideal (0, 0)
    # d+ : A1 sqrt(.01) = .1 ; A2 sqrt(.16) = .4 ; A3 sqrt(.16 + .01) = .41231
    # d- : A1 sqrt(.09 + .16) = .5 ; A2 .4 ; A3 .3
    # C  : A1 .5/.6 = .83333 ; A2 .4/.8 = .5 ; A3 .3/.71231 = .42116
    r = topsis(HAND, [0.5, 0.5], [True, True])
    assert np.allclose(r.ideal, [0.4, 0.4]) and np.allclose(r.anti_ideal, [0.0, 0.0])
    assert np.allclose(r.normalised, [[0.3, 0.4], [0.4, 0.0], [0.0, 0.3]])
    assert np.allclose(r.closeness, [0.83333, 0.5, 0.42116], atol=1e-5)
    assert r.rank.tolist() == [1, 2, 3]


def test_topsis_hand_example_second_criterion_cost_and_weight_normalisation():
    # criterion 2 is a cost: ideal (.4, 0), anti-ideal (0, .4)
    # d+ : A1 sqrt(.01 + .16) = .41231 ; A2 0 ; A3 sqrt(.16 + .09) = .5
    # d- : A1 sqrt(.09 + 0) = .3 ; A2 sqrt(.16 + .16) = .56569 ; A3 sqrt(0 + .01) = .1
    # C  : A1 .3/.71231 = .42116 ; A2 1 ; A3 .1/.6 = .16667
    r = topsis(HAND, [2.0, 2.0], [True, False])  # weights normalised to 0.5 / 0.5
    assert np.allclose(r.weights, [0.5, 0.5])
    assert np.allclose(r.closeness, [0.42116, 1.0, 0.16667], atol=1e-5)
    assert r.rank.tolist() == [2, 1, 3]


def test_topsis_paper_table3_runs_with_paper_weights():
    # Seed 000, Table 3 (OF1 $ benefit; OF2, OF3 kW costs; "-" = no parking lot = 0 $).
    table3 = np.array(
        [
            [0, 16067, 1783.7], [424.7, 7695, 1757.8], [121.2, 5586.4, 1727.9],
            [117, 7166.6, 1699.5], [0, 16067, 696], [0, 16067, 696],
            [404.3, 6730, 725.4], [60.3, 5306.6, 716.8], [87.9, 6143.1, 713.3],
        ]
    )
    r = topsis(table3, [0.5, 0.25, 0.25], [True, False, False])
    assert sorted(r.rank.tolist()) == list(range(1, 10))
    # State 1 is worst on every criterion (0 $, highest deviation and losses): last, closeness 0.
    assert r.rank[0] == 9 and r.closeness[0] == pytest.approx(0.0)
    # States 5 and 6 are identical: equal closeness, adjacent ranks.
    assert r.closeness[4] == r.closeness[5] and abs(r.rank[4] - r.rank[5]) == 1


finite = st.floats(0.0, 1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(
    m=arrays(float, st.tuples(st.integers(2, 6), st.integers(1, 4)), elements=finite),
    data=st.data(),
)
def test_topsis_invariants(m, data):
    n_alt, n_crit = m.shape
    w = np.array(data.draw(st.lists(st.floats(0.01, 10), min_size=n_crit, max_size=n_crit)))
    b = data.draw(st.lists(st.booleans(), min_size=n_crit, max_size=n_crit))
    r = topsis(m, w, b)
    assert np.all((r.closeness >= 0) & (r.closeness <= 1))
    assert sorted(r.rank.tolist()) == list(range(1, n_alt + 1))
    # vector normalisation makes the result invariant to positive per-criterion scaling (units)
    scale = np.array(data.draw(st.lists(st.floats(0.1, 100), min_size=n_crit, max_size=n_crit)))
    r2 = topsis(m * scale, w, b)
    assert np.allclose(r.closeness, r2.closeness, atol=1e-9)
    # an alternative at least as good as another on every criterion is at least as close to ideal
    sign = np.where(b, 1.0, -1.0)
    for i in range(n_alt):
        for j in range(n_alt):
            if np.all(sign * m[i] >= sign * m[j]):
                assert r.closeness[i] >= r.closeness[j] - 1e-12


def test_topsis_bad_input():
    with pytest.raises(DecisionInputError, match="NaN at .*\\(1, 0\\)"):
        topsis([[1, 2], [np.nan, 3]], [1, 1], [True, True])
    with pytest.raises(DecisionInputError, match="weights has shape"):
        topsis(HAND, [1, 1, 1], [True, True])
    with pytest.raises(DecisionInputError, match=">= 0"):
        topsis(HAND, [1, -1], [True, True])
    with pytest.raises(DecisionInputError, match="sum to > 0"):
        topsis(HAND, [0, 0], [True, True])
    with pytest.raises(DecisionInputError, match="benefit must be 2 booleans"):
        topsis(HAND, [1, 1], [True])
    with pytest.raises(DecisionInputError, match="2-D"):
        topsis([1, 2, 3], [1], [True])
    assert issubclass(DecisionInputError, ValueError)


def test_topsis_degenerate_columns():
    r = topsis([[0, 1], [0, 2]], [0.5, 0.5], [True, True])  # zero column: no division by zero
    assert r.rank.tolist() == [2, 1]
    same = topsis([[1, 1], [1, 1]], [1, 1], [True, False])  # identical alternatives
    assert np.allclose(same.closeness, 0.5)


# ---------------------------------------------------------------- AHP

# Saaty's textbook 3x3 example.  Row products: 1*3*5 = 15, (1/3)*1*3 = 1, (1/5)*(1/3)*1 = 1/15.
# Cube roots: 2.46621, 1, 0.40548 -> sum 3.87169 -> w = (.63699, .25828, .10473).
# A w = (1.93547, .78479, .31822) -> (A w)_i / w_i ~ 3.0385 -> lambda_max ~ 3.0385,
# CI = (3.0385 - 3) / 2 = .01926, CR = CI / 0.58 = .0332 < 0.1 (consistent).
SAATY = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]


def test_ahp_textbook_example():
    r = ahp_weights(SAATY)
    assert np.allclose(r.weights, [0.63699, 0.25828, 0.10473], atol=1e-4)
    assert r.lambda_max == pytest.approx(3.0385, abs=1e-3)
    assert r.ci == pytest.approx(0.01926, abs=1e-3)
    assert r.cr == pytest.approx(0.0332, abs=1e-3)
    assert r.consistent


def test_ahp_rounded_entries_accepted():
    r = ahp_weights([[1, 3, 5], [0.33, 1, 3], [0.2, 0.33, 1]])
    assert np.allclose(r.weights, [0.637, 0.258, 0.105], atol=3e-3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.1, 10), min_size=3, max_size=8))
def test_ahp_perfectly_consistent_matrix_recovers_weights(raw):
    w = np.array(raw) / np.sum(raw)
    r = ahp_weights(np.outer(w, 1 / w))
    assert np.allclose(r.weights, w)
    assert r.lambda_max == pytest.approx(len(w), abs=1e-8)
    assert abs(r.cr) < 1e-8 and r.consistent


def test_ahp_inconsistent_matrix_flagged():
    # cyclic preferences: 1 >> 2, 2 >> 3, 3 >> 1
    r = ahp_weights([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    assert r.cr > 0.1 and not r.consistent
    assert np.allclose(r.weights, 1 / 3)


def test_ahp_small_and_large_n():
    assert ahp_weights([[1.0]]).weights.tolist() == [1.0]
    two = ahp_weights([[1, 4], [0.25, 1]])
    assert np.allclose(two.weights, [0.8, 0.2]) and two.cr == 0.0
    big = np.ones((11, 11))
    with pytest.raises(DecisionInputError, match="n = 1..10"):
        ahp_weights(big)
    assert ahp_weights(big, random_index=1.51).cr == pytest.approx(0.0, abs=1e-9)
    assert RANDOM_INDEX[3] == 0.58 and RANDOM_INDEX[10] == 1.49


def test_ahp_bad_input():
    with pytest.raises(DecisionInputError, match="square"):
        ahp_weights([[1, 2, 3], [0.5, 1, 2]])
    with pytest.raises(DecisionInputError, match="not reciprocal: a\\[0,1\\] = 3"):
        ahp_weights([[1, 3], [3, 1]])
    with pytest.raises(DecisionInputError, match="> 0"):
        ahp_weights([[1, 0], [0, 1]])
    with pytest.raises(DecisionInputError, match="diagonal"):
        ahp_weights([[2, 1], [1, 2]])
    with pytest.raises(DecisionInputError, match="finite"):
        ahp_weights([[1, np.nan], [np.nan, 1]])
