"""Tests for cosim.optim: EO correctness, reproducibility, feasibility rules, adapters, registry."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.optim import (
    EO_DEFAULTS,
    OPTIMIZERS,
    Evaluation,
    FunctionProblem,
    ProblemError,
    UnknownOptimizerError,
    evaluate_checked,
    feasibility_order,
    get_optimizer,
    is_better,
    minimize_eo,
    minimize_ga,
    minimize_pso,
    pareto_nsga2,
)


def sphere(dim: int = 3) -> FunctionProblem:
    return FunctionProblem(lambda X: (X**2).sum(axis=1), -5 * np.ones(dim), 5 * np.ones(dim), name="sphere")


def rastrigin(dim: int = 2) -> FunctionProblem:
    def f(X):
        return 10 * X.shape[1] + (X**2 - 10 * np.cos(2 * np.pi * X)).sum(axis=1)

    return FunctionProblem(f, -5.12 * np.ones(dim), 5.12 * np.ones(dim), name="rastrigin")


def constrained_sphere() -> FunctionProblem:
    """min x0^2 + x1^2 s.t. x0 >= 1: the unconstrained optimum (0, 0) is infeasible; optimum (1, 0), f = 1."""

    def f(X):
        return (X**2).sum(axis=1), np.maximum(0.0, 1.0 - X[:, 0])

    return FunctionProblem(f, [-5, -5], [5, 5], name="constrained_sphere")


def nan_trap() -> FunctionProblem:
    """min x0 + x1^2 on [-5, 5]^2, but NaN (e.g. a failed power flow) wherever x0 < 0.

    If NaN were treated as a good value the optimizer would report something at x0 < 0; the true
    optimum over the region where the objective exists is (0, 0) with f = 0.
    """

    def f(X):
        out = X[:, 0] + X[:, 1] ** 2
        out[X[:, 0] < 0] = np.nan
        return out

    return FunctionProblem(f, [-5, -5], [5, 5], name="nan_trap")


# ---------------------------------------------------------------- problem interface


def test_defaults_match_seed_paper():
    assert EO_DEFAULTS["a1"] == 1.83 and EO_DEFAULTS["a2"] == 0.80
    assert EO_DEFAULTS["n_particles"] == 30 and EO_DEFAULTS["n_iter"] == 500


def test_evaluate_checked_maps_nan_to_infeasible():
    ev = evaluate_checked(nan_trap(), np.array([[-1.0, 0.0], [1.0, 2.0]]))
    assert np.isinf(ev.f[0]) and np.isinf(ev.cv[0])
    assert ev.f[1] == 5.0 and ev.cv[1] == 0.0


def test_feasibility_order_and_is_better():
    f = np.array([0.0, 5.0, -10.0, 1.0, np.inf])
    cv = np.array([0.5, 0.0, 2.0, 0.0, np.inf])
    # feasible first by f (3: f=1, 1: f=5), then infeasible by cv (0: 0.5, 2: 2.0), then the NaN stand-in.
    assert feasibility_order(f, cv).tolist() == [3, 1, 0, 2, 4]
    assert is_better(5.0, 0.0, -100.0, 0.1)  # feasible beats a better-objective infeasible
    assert not is_better(np.inf, np.inf, np.inf, np.inf)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e6, 1e6), st.one_of(st.just(0.0), st.floats(0, 1e3), st.just(np.inf))),
        min_size=1,
        max_size=20,
    )
)
def test_first_in_feasibility_order_is_never_beaten(pairs):
    f = np.array([p[0] for p in pairs])
    cv = np.array([p[1] for p in pairs])
    best = feasibility_order(f, cv)[0]
    assert not np.any(is_better(f, cv, f[best], cv[best]))


def test_bad_problem_definitions_are_rejected():
    with pytest.raises(ProblemError, match="lower > upper"):
        FunctionProblem(lambda X: X[:, 0], [1.0], [0.0])
    with pytest.raises(ProblemError, match="finite"):
        FunctionProblem(lambda X: X[:, 0], [0.0], [np.inf])
    wrong_shape = FunctionProblem(lambda X: X, [0, 0], [1, 1], name="wrong_shape")
    with pytest.raises(ProblemError, match="wrong_shape.*shape"):
        minimize_eo(wrong_shape, n_iter=2)
    negative_cv = FunctionProblem(lambda X: (X[:, 0], -np.ones(len(X))), [0], [1], name="neg")
    with pytest.raises(ProblemError, match="cv must be >= 0"):
        minimize_eo(negative_cv, n_iter=2)


# ---------------------------------------------------------------- EO


def test_eo_solves_sphere():
    res = minimize_eo(sphere(5), n_particles=30, n_iter=200, seed=3)
    assert res.f_best < 1e-10
    assert np.allclose(res.x_best, 0.0, atol=1e-5)
    assert res.feasible and res.algorithm == "eo" and res.n_evaluations == 30 * 200
    assert res.history.shape == (200,)
    assert np.all(np.diff(res.history) <= 0), "memory saving makes the best monotone"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eo_solves_rastrigin_2d(seed):
    res = minimize_eo(rastrigin(2), n_particles=30, n_iter=200, seed=seed)
    assert res.f_best < 1e-6
    assert np.allclose(res.x_best, 0.0, atol=1e-3)


def test_eo_is_reproducible_and_seed_dependent():
    a = minimize_eo(rastrigin(3), n_iter=60, seed=11)
    b = minimize_eo(rastrigin(3), n_iter=60, seed=11)
    c = minimize_eo(rastrigin(3), n_iter=60, seed=12)
    assert np.array_equal(a.x_best, b.x_best) and np.array_equal(a.history, b.history)
    assert not np.array_equal(a.history, c.history)


def test_eo_feasibility_rules_find_constrained_optimum():
    res = minimize_eo(constrained_sphere(), n_particles=30, n_iter=200, seed=0)
    assert res.feasible and res.cv_best == 0.0
    assert res.x_best[0] >= 1.0
    assert res.f_best == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(res.x_best, [1.0, 0.0], atol=1e-3)


def test_eo_nan_objective_never_wins():
    res = minimize_eo(nan_trap(), n_particles=30, n_iter=150, seed=5)
    assert np.isfinite(res.f_best) and res.feasible
    assert res.x_best[0] >= 0.0
    assert res.f_best == pytest.approx(0.0, abs=1e-6)


def test_eo_reports_infeasible_when_nothing_feasible():
    # cv = 1 + x0^2 > 0 everywhere: the least violating point is x0 = 0
    prob = FunctionProblem(lambda X: (X[:, 1], 1.0 + X[:, 0] ** 2), [-2, -2], [2, 2])
    res = minimize_eo(prob, n_iter=80, seed=0)
    assert not res.feasible
    assert res.cv_best == pytest.approx(1.0, abs=1e-4)


def _knapsack_pair():
    """Pick 2 distinct items of 6 (each position decodes to an index) maximising value under a weight cap."""
    value = np.array([10.0, 13.0, 7.0, 8.0, 15.0, 4.0])
    weight = np.array([5.0, 7.0, 3.0, 4.0, 9.0, 1.0])
    cap = 11.0

    def decode(X):
        return np.clip(np.floor(X), 0, 5).astype(int)

    def f(X):
        idx = decode(X)
        i, j = idx[:, 0], idx[:, 1]
        cv = np.maximum(0.0, weight[i] + weight[j] - cap) + (i == j) * 1.0
        return -(value[i] + value[j]), cv

    prob = FunctionProblem(f, [0, 0], [6, 6], name="knapsack_pair")
    best = max(
        (value[i] + value[j] for i, j in itertools.combinations(range(6), 2) if weight[i] + weight[j] <= cap)
    )
    return prob, decode, best


def test_eo_solves_small_discrete_problem():
    prob, decode, best_value = _knapsack_pair()
    res = minimize_eo(prob, n_particles=20, n_iter=60, seed=4)
    assert res.feasible
    assert -res.f_best == best_value
    i, j = decode(res.x_best[None, :])[0]
    assert i != j


def test_eo_x0_seeds_known_configuration():
    x_known = np.array([[1.0, 0.0]])  # the constrained optimum
    res = minimize_eo(constrained_sphere(), n_particles=10, n_iter=1, seed=0, x0=x_known)
    assert res.f_best == pytest.approx(1.0) and res.feasible
    with pytest.raises(ProblemError, match="outside the problem bounds"):
        minimize_eo(constrained_sphere(), n_iter=1, x0=[[9.0, 0.0]])
    with pytest.raises(ProblemError, match="x0 has 3 rows"):
        minimize_eo(constrained_sphere(), n_particles=2, n_iter=1, x0=np.zeros((3, 2)))


def test_eo_budget_callback_and_early_stop():
    res = minimize_eo(sphere(2), n_particles=30, n_iter=500, seed=0, max_evaluations=95)
    assert res.n_evaluations == 95 and len(res.history) == 4
    calls: list[tuple[int, float]] = []
    minimize_eo(sphere(2), n_iter=7, seed=0, callback=lambda it, f: calls.append((it, f)))
    assert [c[0] for c in calls] == list(range(7))
    assert all(b[1] <= a[1] for a, b in zip(calls, calls[1:]))
    stopped = minimize_eo(sphere(2), n_iter=100, seed=0, callback=lambda it, f: it == 2)
    assert stopped.n_evaluations == 3 * 30


def test_eo_rejects_multiobjective_and_bad_parameters():
    two = FunctionProblem(lambda X: X, [0, 0], [1, 1], n_obj=2)
    with pytest.raises(ProblemError, match="single-objective"):
        minimize_eo(two)
    with pytest.raises(ProblemError, match="n_particles"):
        minimize_eo(sphere(), n_particles=0)
    with pytest.raises(ProblemError, match="gp"):
        minimize_eo(sphere(), gp=1.5)


# ---------------------------------------------------------------- pymoo adapters


@pytest.mark.parametrize("name", ["eo", "pso", "ga"])
def test_all_optimizers_equal_budget_on_same_problem(name):
    res = get_optimizer(name)(sphere(3), n_particles=20, n_iter=50, seed=1)
    assert res.n_evaluations == 20 * 50
    assert res.algorithm == name and res.feasible
    assert res.f_best < 1e-2
    assert res.f_best == pytest.approx(float((res.x_best**2).sum()))


@pytest.mark.parametrize("name", ["eo", "pso", "ga"])
def test_time_limit_ends_the_run_and_says_so(name):
    t0 = time.perf_counter()
    res = get_optimizer(name)(constrained_sphere(), n_particles=8, n_iter=1_000_000, seed=0, time_limit_s=0.2)
    assert res.timed_out and 8 <= res.n_evaluations < 8 * 1_000_000 and time.perf_counter() - t0 < 5.0
    assert res.feasible and res.f_best == pytest.approx(1.0, abs=0.05)  # best so far, feasibility rules
    free = get_optimizer(name)(sphere(2), n_particles=8, n_iter=5, seed=0)
    timed = get_optimizer(name)(sphere(2), n_particles=8, n_iter=5, seed=0, time_limit_s=600)
    assert not free.timed_out and not timed.timed_out
    assert timed.n_evaluations == free.n_evaluations and np.array_equal(timed.x_best, free.x_best)
    with pytest.raises(ProblemError, match="time_limit_s"):
        get_optimizer(name)(sphere(2), time_limit_s=0)


def test_nsga2_time_limit():
    two = FunctionProblem(lambda X: np.column_stack([(X**2).sum(1), ((X - 1) ** 2).sum(1)]), [-2, -2], [2, 2], n_obj=2)
    res = pareto_nsga2(two, pop_size=10, n_gen=1_000_000, seed=0, time_limit_s=0.2)
    assert res.timed_out and res.X.shape[0] >= 1
    assert not pareto_nsga2(two, pop_size=10, n_gen=3, seed=0, time_limit_s=600).timed_out


@pytest.mark.parametrize("fn", [minimize_pso, minimize_ga])
@pytest.mark.slow
def test_pymoo_adapters_respect_feasibility_and_nan(fn):
    res = fn(constrained_sphere(), n_particles=20, n_iter=60, seed=0)
    assert res.feasible and res.x_best[0] >= 1.0 and res.f_best == pytest.approx(1.0, abs=0.05)
    res = fn(nan_trap(), n_particles=20, n_iter=40, seed=0)
    assert np.isfinite(res.f_best) and res.x_best[0] >= 0.0


def test_pymoo_adapters_reproducible():
    a = minimize_pso(sphere(2), n_particles=10, n_iter=20, seed=7)
    b = minimize_pso(sphere(2), n_particles=10, n_iter=20, seed=7)
    assert np.array_equal(a.x_best, b.x_best)


def test_nsga2_front_is_nondominated_and_feasible():
    # Schaffer-like with a constraint: f1 = x0^2 + x1^2, f2 = (x0-2)^2 + x1^2, s.t. x0 <= 1.5 (cv = excess).
    def f(X):
        F = np.column_stack([(X**2).sum(1), ((X[:, 0] - 2) ** 2 + X[:, 1] ** 2)])
        return F, np.maximum(0.0, X[:, 0] - 1.5)

    prob = FunctionProblem(f, [-3, -3], [3, 3], n_obj=2, name="schaffer2")
    res = pareto_nsga2(prob, pop_size=24, n_gen=30, seed=0)
    assert res.n_evaluations == 24 * 30
    assert res.X.shape[0] >= 5 and res.F.shape == (res.X.shape[0], 2)
    assert np.all(res.X[:, 0] <= 1.5 + 1e-12)
    for a in res.F:  # no member dominates another
        dominated = np.all(res.F <= a, axis=1) & np.any(res.F < a, axis=1)
        assert not dominated.any()
    ev = prob.evaluate(res.X)
    assert np.allclose(ev.f, res.F)


# ---------------------------------------------------------------- registry


def test_registry():
    assert set(OPTIMIZERS) >= {"eo", "pso", "ga"}
    assert get_optimizer(" EO ") is minimize_eo
    with pytest.raises(UnknownOptimizerError, match="available: eo, ga, pso"):
        get_optimizer("sa")
    assert isinstance(UnknownOptimizerError("x"), ValueError)


def test_evaluation_object_passthrough():
    prob = FunctionProblem(lambda X: Evaluation(X[:, 0], np.zeros(len(X))), [0], [1])
    res = minimize_eo(prob, n_particles=5, n_iter=30, seed=0)
    assert res.f_best == pytest.approx(0.0, abs=1e-6)
