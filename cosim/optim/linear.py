"""The project's one linear-model layer: HiGHS MILPs written with highspy's own modelling API.

highspy (>= 1.7) already models: `Highs.addVariables` returns a numpy array of variables (`HighspyArray`), and
numpy arithmetic and comparisons on it give arrays of linear expressions and of bounded constraints, so a
formulation is written as `m.add(2 * t * P - S <= t**2)` over whole (hour, branch) blocks. This layer adds only
what the formulations here need and highspy does not do itself:

* `LinearModel.var`: a block of any shape whose bounds and costs are numpy arrays broadcast to it (highspy's
  `addVariables` takes scalars or flat sequences only);
* `LinearModel.add`: every constraint of an array of any shape as one batch of rows. highspy's `addConstrs` walks
  only the first axis and raises on HiGHS's warning that it dropped coefficients under `small_matrix_value`
  (1e-9); here they are dropped as HiGHS does when it reads a whole model (tangent cuts at near-zero flows);
* `columns`: a block's column indices, to write a start point;
* `LinearModel.solve`: one HiGHS run to a MIP gap under a work limit (branch-and-bound nodes), on one thread
  with a fixed random seed, optionally from a start point, returning the figures the
  controllers and studies report (status, objective, dual bound, gap, nodes, LP iterations, wall time) as a
  `Solution` that reads a block's values in the block's shape. The model stays open: rows added after a solve
  (cutting planes) are in the next one.

Determinism: the node limit counts what HiGHS does, not how fast the machine does it, so the same model and
limit give the same solution on any machine and under any load. HiGHS has no limit on a branch and bound's total
simplex iterations (with HiGHS 1.16, `simplex_iteration_limit` = 200 did not stop a MIP that took 47,301), so
the node limit is the work limit; the root node's work is finite and deterministic. A
wall-clock limit (`time_limit_s`, off by default) would make the result depend on the machine's speed and load:
it is for interactive use, never for a reference figure.

Objectives are minimised (write a maximisation as the minimisation of its negative).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from cosim.errors import ProblemError

__all__ = ["LinearModel", "NotOptimalError", "Solution", "columns"]


class NotOptimalError(ProblemError):
    """HiGHS ended without the optimum a caller requires (infeasible or unbounded model, or a limit reached)."""


@dataclass(frozen=True)
class Solution:
    """Outcome of one HiGHS run; objective, bound and gap in the model's (minimised) units."""

    status: str  # HiGHS model status, e.g. "Optimal", "Time limit reached", "Infeasible"
    x: np.ndarray | None  # every column's value; None when HiGHS has no feasible point
    objective: float  # nan without a feasible point
    bound: float  # dual (lower) bound: the MIP dual bound, or the optimum of a pure LP
    gap: float  # HiGHS relative MIP gap; inf without a feasible point
    nodes: int  # branch-and-bound nodes
    wall_s: float
    iterations: int = 0  # simplex iterations (the MIP's LP iterations over all nodes)

    @property
    def found(self) -> bool:
        """True when HiGHS returned a feasible point."""
        return self.x is not None

    @property
    def optimal(self) -> bool:
        return self.status == "Optimal"

    def require_optimal(self) -> Solution:
        """This solution, or NotOptimalError when it is not optimal."""
        if not self.optimal or self.x is None:
            raise NotOptimalError(f"HiGHS did not reach optimality: {self.status}")
        return self

    def __getitem__(self, block: Any) -> np.ndarray:
        """Values of a variable block (or of one variable) in the block's shape."""
        if self.x is None:
            raise NotOptimalError(f"no values to read: HiGHS ended with {self.status!r} and no feasible point")
        return self.x[columns(block)]


def columns(block: Any) -> np.ndarray:
    """Column indices of a variable block (or of one variable) in the block's shape, e.g. to write a MIP start."""
    arr = np.asarray(block, dtype=object)
    return np.fromiter((int(v) for v in arr.flat), dtype=np.intp, count=arr.size).reshape(arr.shape)


class LinearModel:
    """A minimisation MILP in highspy: numpy-shaped variable blocks, constraint arrays, one solve at a time."""

    def __init__(self) -> None:
        self.highs = highspy.Highs()
        self.highs.silent()
        self.n_int = 0  # integer columns

    @property
    def n_vars(self) -> int:
        return int(self.highs.numVariables)

    @property
    def n_rows(self) -> int:
        return int(self.highs.numConstrs)

    def var(self, shape: int | tuple[int, ...], lb: Any = 0.0, ub: Any = np.inf, cost: Any = 0.0,
            integer: bool = False) -> highspy.HighspyArray:
        """A block of variables of the given shape; lb, ub and cost broadcast to it."""
        shape = tuple(np.atleast_1d(shape).astype(int))
        n = int(np.prod(shape))

        def flat(values: Any) -> list[float]:
            return np.broadcast_to(np.asarray(values, dtype=float), shape).ravel().tolist()

        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        block = self.highs.addVariables(n, lb=flat(lb), ub=flat(ub), obj=flat(cost), type=kind, out_array=True)
        self.n_int += n if integer else 0
        return block.reshape(shape)

    def add(self, constraints: Any) -> None:
        """Add one bounded expression (`expr <= b`, `>=`, `==`) or every one of an array of them, as one batch."""
        items = constraints.ravel().tolist() if isinstance(constraints, np.ndarray) else [constraints]
        if not all(isinstance(c, highspy.highs_linear_expression) and c.bounds is not None for c in items):
            raise ProblemError("LinearModel.add takes constraints (expr <= b, >= b, == b) of the model's variables")
        terms = [c.unique_elements() for c in items]  # (column indices, coefficients) with duplicates summed
        counts = np.fromiter((len(i) for i, _ in terms), dtype=np.int32, count=len(terms))
        status = self.highs.addRows(
            len(items),
            np.fromiter((c.bounds[0] for c in items), dtype=float, count=len(items)),
            np.fromiter((c.bounds[1] for c in items), dtype=float, count=len(items)),
            int(counts.sum()),
            np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32),
            np.concatenate([i for i, _ in terms] or [np.zeros(0, np.int32)]).astype(np.int32),
            np.concatenate([v for _, v in terms] or [np.zeros(0)]).astype(float),
        )
        if status == highspy.HighsStatus.kError:
            raise ProblemError(f"HiGHS refused {len(items)} constraint row(s) (unknown columns or bad bounds)")

    def solve(self, *, time_limit_s: float | None = None, mip_rel_gap: float = 1e-4, threads: int = 1,
              node_limit: int | None = None, start: np.ndarray | None = None) -> Solution:
        """Run HiGHS to `mip_rel_gap` within `node_limit` branch-and-bound nodes (None: no limit), on `threads`
        threads (1: deterministic), with HiGHS's random seed fixed at 0;
        `start` (one value per column) is a MIP start. `time_limit_s` (None: none) adds a wall-clock limit, which
        makes the result depend on the machine and its load (see the module docstring)."""
        h = self.highs
        use_highs_threads(int(threads))
        h.setOptionValue("time_limit", np.inf if time_limit_s is None else float(time_limit_s))
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        h.setOptionValue("threads", int(threads))
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("mip_max_nodes", _limit(node_limit, "node_limit"))
        if start is not None:
            warm = highspy.HighsSolution()
            warm.col_value = np.asarray(start, dtype=float)
            warm.value_valid = True
            h.setSolution(warm)
        t0 = time.perf_counter()
        h.run()
        wall_s = time.perf_counter() - t0
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        found = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        objective = float(info.objective_function_value) if found else float("nan")
        if self.n_int:
            bound, gap = float(info.mip_dual_bound), float(info.mip_gap) if found else float("inf")
        else:
            bound = objective if status == "Optimal" else float("nan")
            gap = 0.0 if status == "Optimal" else float("inf")
        return Solution(
            status=status, x=np.asarray(h.getSolution().col_value) if found else None, objective=objective,
            bound=bound, gap=gap, nodes=max(int(info.mip_node_count), 0), wall_s=wall_s,
            iterations=max(int(info.simplex_iteration_count), 0),
        )


_INT_MAX = 2**31 - 1  # HiGHS's "no limit" for its integer options


def _limit(value: int | None, name: str) -> int:
    """A work limit as HiGHS's integer option (None: none); ProblemError unless a whole number >= 1."""
    if value is None:
        return _INT_MAX
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ProblemError(f"{name} must be a whole number >= 1 or None, got {value!r}")
    return int(min(value, _INT_MAX))


_threads_in_use: list[int] = []  # the thread count HiGHS's process-wide scheduler was started with (once known)


def use_highs_threads(threads: int) -> None:
    """Make HiGHS's process-wide scheduler run `threads` threads; call before any highspy solve that sets the
    `threads` option. HiGHS starts one scheduler per process with the thread count of its first run and refuses a
    run that asks another ("Not Set", no solution): restart it (after the running solves, blocking) unless it is
    known to have this count already (a solve outside this function may have started it with any count)."""
    if threads < 1:
        raise ProblemError(f"threads must be >= 1, got {threads}")
    if _threads_in_use != [threads]:
        highspy.Highs.resetGlobalScheduler(True)
    _threads_in_use[:] = [threads]
