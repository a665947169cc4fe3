"""EO vs PSO vs GA on standard test functions with equal evaluation budgets and several seeds.

Prints best / median / worst final objective and median wall time per algorithm and problem, plus
the time ratio to EO measured in the same process. Usage:

    .venv/bin/python benchmarks/optimizers.py                     # paper budget: 30 x 500, 5 seeds, dim 10
    .venv/bin/python benchmarks/optimizers.py --n-iter 100 --seeds 3 --dim 5 --functions sphere rastrigin

To add the day-ahead reconfiguration problem (or any other VectorProblem), extend
:func:`extra_problems`; everything else is generic.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np

from cosim.optim import FunctionProblem, VectorProblem, get_optimizer


def _sphere(X: np.ndarray) -> np.ndarray:
    return (X**2).sum(axis=1)


def _rastrigin(X: np.ndarray) -> np.ndarray:
    return 10.0 * X.shape[1] + (X**2 - 10.0 * np.cos(2 * np.pi * X)).sum(axis=1)


def _rosenbrock(X: np.ndarray) -> np.ndarray:
    return (100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1.0 - X[:, :-1]) ** 2).sum(axis=1)


def _ackley(X: np.ndarray) -> np.ndarray:
    n = X.shape[1]
    a = -20.0 * np.exp(-0.2 * np.sqrt((X**2).sum(axis=1) / n))
    return a - np.exp(np.cos(2 * np.pi * X).sum(axis=1) / n) + 20.0 + np.e


def _griewank(X: np.ndarray) -> np.ndarray:
    i = np.sqrt(np.arange(1, X.shape[1] + 1))
    return 1.0 + (X**2).sum(axis=1) / 4000.0 - np.prod(np.cos(X / i), axis=1)


SHIFT = 1.7  # moves the optimum off the origin: EO's generation term (C_eq - lambda*C) pulls towards 0


def _shifted_rastrigin(X: np.ndarray) -> np.ndarray:
    return _rastrigin(X - SHIFT)


def _shifted_ackley(X: np.ndarray) -> np.ndarray:
    return _ackley(X - SHIFT)


def _constrained_sphere(X: np.ndarray):
    """Sphere shifted away from the feasible region: x0 >= 1 (optimum f = 1)."""
    return (X**2).sum(axis=1), np.maximum(0.0, 1.0 - X[:, 0])


# name -> (function, half-width of the symmetric box); all optima are 0 except constrained_sphere (1)
TEST_FUNCTIONS: dict[str, tuple[Callable, float]] = {
    "sphere": (_sphere, 5.12),
    "rastrigin": (_rastrigin, 5.12),
    "rosenbrock": (_rosenbrock, 2.048),
    "ackley": (_ackley, 32.768),
    "griewank": (_griewank, 600.0),
    "shifted_rastrigin": (_shifted_rastrigin, 5.12),
    "shifted_ackley": (_shifted_ackley, 32.768),
    "constrained_sphere": (_constrained_sphere, 5.12),
}


def standard_problems(dim: int, names: list[str] | None = None) -> dict[str, VectorProblem]:
    """The standard test functions as VectorProblems in ``dim`` dimensions."""
    out = {}
    for name in names or list(TEST_FUNCTIONS):
        func, half = TEST_FUNCTIONS[name]
        out[name] = FunctionProblem(func, -half * np.ones(dim), half * np.ones(dim), name=name)
    return out


def extra_problems() -> dict[str, VectorProblem]:
    """Hook for project problems, e.g. the IEEE 33-bus day-ahead reconfiguration/parking-lot problem.

    Return {name: VectorProblem}. Once the DSO problem module exists, build it here, e.g.
    ``{"ieee33_reconfig": make_dso_problem(load_network("ieee33"), scenario)}``; its evaluations
    are far costlier than the test functions, so run it with fewer seeds.
    """
    return {}


def run(problems: dict[str, VectorProblem], algorithms: list[str], n_particles: int, n_iter: int,
        seeds: list[int]) -> None:
    header = f"{'problem':<20}{'alg':<5}{'best':>12}{'median':>12}{'worst':>12}{'feas':>6}{'evals':>8}" \
             f"{'median s':>10}{'t/t_eo':>8}"
    print(f"budget: {n_particles} particles x {n_iter} iterations = {n_particles * n_iter} evaluations, "
          f"seeds {seeds}")
    print(header)
    print("-" * len(header))
    for pname, prob in problems.items():
        times_eo = None
        for alg in algorithms:
            fn = get_optimizer(alg)
            fs, ts, evals, feas = [], [], [], 0
            for s in seeds:
                t0 = time.perf_counter()
                res = fn(prob, n_particles=n_particles, n_iter=n_iter, seed=s)
                ts.append(time.perf_counter() - t0)
                fs.append(res.f_best if res.feasible else np.inf)
                evals.append(res.n_evaluations)
                feas += res.feasible
            med_t = statistics.median(ts)
            if alg == "eo":
                times_eo = med_t
            ratio = f"{med_t / times_eo:8.1f}" if times_eo else f"{'-':>8}"
            print(f"{pname:<20}{alg:<5}{min(fs):12.3e}{statistics.median(fs):12.3e}{max(fs):12.3e}"
                  f"{feas:>3}/{len(seeds):<2}{int(np.median(evals)):8d}{med_t:10.3f}{ratio}")
        print()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--n-particles", type=int, default=30)
    ap.add_argument("--n-iter", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    ap.add_argument("--functions", nargs="*", choices=sorted(TEST_FUNCTIONS), default=None)
    ap.add_argument("--algorithms", nargs="*", default=["eo", "pso", "ga"])
    args = ap.parse_args(argv)
    problems = standard_problems(args.dim, args.functions)
    problems.update(extra_problems())
    run(problems, args.algorithms, args.n_particles, args.n_iter, list(range(args.seeds)))


if __name__ == "__main__":
    main()
