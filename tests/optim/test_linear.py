"""Tests for cosim.optim.linear: the one linear-model layer (highspy) of the MILP controller and studies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cosim.errors import ProblemError
from cosim.optim.linear import LinearModel, NotOptimalError, columns


def test_blocks_take_numpy_bounds_and_costs_and_read_back_in_shape():
    m = LinearModel()
    x = m.var((2, 3), lb=0.0, ub=np.arange(6.0).reshape(2, 3), cost=-1.0)  # max sum x within the bounds
    y = m.var(2, lb=[1.0, 2.0], ub=[1.0, 2.0])
    assert x.shape == (2, 3) and m.n_vars == 8 and m.n_int == 0
    assert columns(x).tolist() == [[0, 1, 2], [3, 4, 5]] and columns(y[1]) == 7
    sol = m.solve().require_optimal()
    assert sol[x] == pytest.approx(np.arange(6.0).reshape(2, 3))
    assert sol[y] == pytest.approx([1.0, 2.0]) and sol[y[1]] == pytest.approx(2.0)
    assert sol.objective == pytest.approx(-15.0) and sol.bound == pytest.approx(-15.0) and sol.gap == 0.0


def test_constraint_arrays_of_any_shape_are_rows():
    m = LinearModel()
    x = m.var((3, 4), cost=1.0)
    rhs = np.arange(12.0).reshape(3, 4)
    m.add(x + 2.0 * x[:, :1] == rhs)  # x[:, 0] appears twice in the first column's rows: 3 x = rhs
    m.add(x.sum() <= 100.0)
    assert m.n_rows == 13
    sol = m.solve().require_optimal()
    x0 = rhs[:, :1] / 3.0
    assert sol[x] == pytest.approx(np.hstack([x0, rhs[:, 1:] - 2.0 * x0]))


def test_milp_optimum_bound_and_gap():
    m = LinearModel()
    pick = m.var(4, ub=1.0, cost=-np.array([10.0, 13.0, 7.0, 8.0]), integer=True)  # knapsack: max value
    m.add(pick @ np.array([5.0, 6.0, 4.0, 3.0]) <= 10.0)
    sol = m.solve(mip_rel_gap=0.0).require_optimal()
    assert m.n_int == 4 and sol[pick] == pytest.approx([0, 1, 0, 1])
    assert sol.objective == pytest.approx(-21.0) and sol.bound == pytest.approx(-21.0) and sol.gap <= 1e-9


def test_rows_added_after_a_solve_count_in_the_next_one_and_a_start_is_taken():
    m = LinearModel()
    x = m.var(2, ub=10.0, cost=-1.0)
    m.add(x[0] + x[1] <= 8.0)
    first = m.solve().require_optimal()
    assert first.objective == pytest.approx(-8.0)
    m.add(x[0] <= 1.0)  # a cut
    second = m.solve(start=np.array([1.0, 7.0])).require_optimal()
    assert second[x][0] <= 1.0 + 1e-9 and second.objective == pytest.approx(-8.0)


def test_tiny_coefficients_are_dropped_not_refused():
    m = LinearModel()
    x = m.var(2, ub=1.0, cost=-1.0)
    m.add(1e-12 * x[0] + x[1] <= 0.5)  # HiGHS drops 1e-12 (< small_matrix_value) with a warning
    assert m.solve().require_optimal()[x] == pytest.approx([1.0, 0.5])


def test_infeasible_model_and_misuse_raise_project_errors():
    m = LinearModel()
    x = m.var(1, ub=1.0)
    m.add(x[0] >= 2.0)
    sol = m.solve()
    assert not sol.found and not sol.optimal and sol.status == "Infeasible"
    with pytest.raises(NotOptimalError, match="Infeasible"):
        sol.require_optimal()
    with pytest.raises(NotOptimalError):
        sol[x]
    assert issubclass(NotOptimalError, ProblemError) and issubclass(NotOptimalError, ValueError)
    with pytest.raises(ProblemError, match="constraints"):
        m.add(x[0] + 1.0)  # an expression without bounds is not a constraint


@pytest.mark.slow
def test_a_milp_solves_after_another_solve_started_highs_scheduler_with_other_threads():
    """HiGHS has one scheduler per process; a solve asking another thread count than the one it was started with
    fails ("Not Set"). Started here by a solve outside `LinearModel` (as an ADMM QP left at HiGHS's default count
    would on a larger machine). A fresh process, so the scheduler made here reaches no other test."""
    code = textwrap.dedent("""
        import highspy, numpy as np
        from cosim.optim.linear import LinearModel
        first = highspy.Highs()
        first.setOptionValue("output_flag", False)
        first.setOptionValue("threads", 2)
        first.passModel(highspy.HighsLp())
        first.run()
        m = LinearModel()
        pick = m.var(4, ub=1.0, cost=-np.array([10.0, 13.0, 7.0, 8.0]), integer=True)
        m.add(pick @ np.array([5.0, 6.0, 4.0, 3.0]) <= 10.0)
        sol = m.solve(mip_rel_gap=0.0)
        print(sol.status, sol.objective)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["Optimal", "-21.0"]
