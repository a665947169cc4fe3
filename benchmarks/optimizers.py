"""EO vs PSO vs GA on standard test functions with equal evaluation budgets and several seeds.

Prints best / median / worst final objective and median wall time per algorithm and problem, plus
the time ratio to EO measured in the same process. Usage:

    .venv/bin/python benchmarks/optimizers.py                     # paper budget: 30 x 500, 5 seeds, dim 10
    .venv/bin/python benchmarks/optimizers.py --n-iter 100 --seeds 3 --dim 5 --functions sphere rastrigin

To add the day-ahead reconfiguration problem (or any other VectorProblem), extend
:func:`extra_problems`; everything else is generic.

``--reconfig`` runs the DSO problems instead: single-hour minimum-loss reconfiguration of the IEEE 33-bus
(exact optimum by enumerating all 50,751 radial configurations) and IEEE 69-bus (known optimum 99.62 kW),
and seed 000's day-ahead problem (scenario 3: reconfiguration only, reference by enumeration; scenario 4:
reconfiguration + lot, reference = best plan any run found), each algorithm with the same budget and seeds,
a fresh problem instance per run. It prints best / median / worst, the hit rate of the reference (within
0.01 %), evaluations and median time. With mealpy importable (optional; not a project dependency), mealpy's
EO and PSO join the comparison on the same problems.

    .venv/bin/python benchmarks/optimizers.py --reconfig --n-iter 60 --seeds 20
    .venv/bin/python benchmarks/optimizers.py --reconfig --n-iter 60 --seeds 20 --dayahead-iter 100 --dayahead-seeds 5

``--isolation`` measures the per-plan cost of controller isolation (`cosim.controllers.isolation`): the EO
controller plans seed 000's day-ahead problem (scenario 4: reconfiguration + lot, OF3, as `scenarios/default.toml`)
in process (`plan_in_process`), in a worker forked for the call (`plan_in_worker`: a one-shot fork server, then
the worker) and in a worker of a run's clean fork server (`plan_through`: the problem pickled to the worker, which
builds the controller from its spec), interleaved, `--repeats` times each, for a small budget and the default
30 x 500; plus a controller that returns a ready plan (the fixed cost of forks, the problem's pickle, the
plan's plain-data codec and pipes alone; `benchmarks/plan_codec.py` times the codec by itself). It
prints the median wall time per plan of each and the overheads in ms.

    .venv/bin/python benchmarks/optimizers.py --isolation --repeats 7 --markdown docs/ISOLATION.md

``--plan`` times one day-ahead plan (EO 30 x 500, seed 0) in CPU time, best of `--repeats`, on two problems: the
one the DSO handed its EO controller in a run of `scenarios/default.toml` (day 2, the lot's envelope included;
tests/controllers/data/default_day_problem.json, what tests/controllers/test_plan_pinned.py pins) and seed 000's
scenario 4 (`seed000_problem(4)`, no envelope). It prints each in "runpp calls" (issue 23's unit: the median CPU
of 20 `pandapower.runpp` on `case33bw`, numba off, measured in the same process), the flow's share, and how many
plans and flow cases the evaluation's memos (`cosim.controllers.case_memo`) computed of those asked for.

    .venv/bin/python benchmarks/optimizers.py --plan --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from cosim.controllers.vector_problem import DayAheadVectorProblem
from cosim.networks import load_network
from cosim.optim import FunctionProblem, OptimResult, VectorProblem, evaluate_checked, get_optimizer
from cosim.optim.reconfiguration import ReconfigurationProblem
from cosim.powerflow.topology import best_configuration


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


HIT_RTOL = 1e-4  # a run "hits" the reference when within 0.01 % of it


def reconfiguration_cases() -> dict[str, tuple[Callable[[], VectorProblem], float, str]]:
    """name -> (fresh-problem factory, reference objective, how the reference was obtained)."""
    net33, net69 = load_network("ieee33").radial, load_network("ieee69").radial
    t0 = time.perf_counter()
    _, best33, _ = best_configuration(net33, net33.p_load_kw, net33.q_load_kvar)
    t_enum = time.perf_counter() - t0
    return {
        "ieee33 1h": (lambda: ReconfigurationProblem(net33), best33, f"enumeration, 50751 configs, {t_enum:.1f} s"),
        "ieee33 1h pos": (
            lambda: ReconfigurationProblem(net33, encoding="position"), best33, "same, 'position' encoding"
        ),
        "ieee69 1h": (lambda: ReconfigurationProblem(net69), 99.6189, "known optimum (enumeration of 407,924: ~40 s)"),
    }


def dayahead_cases() -> dict[str, tuple[Callable[[], VectorProblem], float | None, str]]:
    """Seed 000's day-ahead problem, scenario 3 (reference by enumeration) and scenario 4 (best found)."""
    # the study module pulls in pandapower (~1 s): only the --reconfig run pays for it
    from cosim.studies.joape2024.study import enumeration_reference, seed000_problem  # noqa: PLC0415 - pandapower

    s3, s4 = seed000_problem(3, "of3"), seed000_problem(4, "of3")
    t0 = time.perf_counter()
    ref3 = enumeration_reference(s3).predicted["objective"]
    t_enum = time.perf_counter() - t0
    return {
        "S3 OF3 day": (lambda: DayAheadVectorProblem(s3), ref3, f"enumeration_reference, {t_enum:.1f} s"),
        "S4 OF3 day": (lambda: DayAheadVectorProblem(s4), None, "best plan of all runs"),
    }


def _mealpy_optimizers() -> dict[str, Callable[..., OptimResult]]:
    """mealpy's EO and PSO on a VectorProblem when mealpy is importable (else {}); cv > 0 is a penalty 1e6 + cv."""
    try:
        import mealpy  # noqa: F401, PLC0415 - optional peer, not a project dependency
        from mealpy import FloatVar  # noqa: PLC0415 - optional peer
        from mealpy.physics_based.EO import OriginalEO  # noqa: PLC0415 - optional peer
        from mealpy.swarm_based.PSO import OriginalPSO  # noqa: PLC0415 - optional peer
    except Exception:  # noqa: BLE001 - any import problem means: not available
        return {}

    def make(cls, label):
        def run(problem, *, n_particles, n_iter, seed):
            best = {"f": np.inf, "cv": np.inf, "x": None, "n": 0}

            def obj(x):
                ev = evaluate_checked(problem, np.asarray(x, float)[None, :])
                best["n"] += 1
                f, cv = float(ev.f[0]), float(ev.cv[0])
                if (cv, f) < (best["cv"], best["f"]):
                    best.update(f=f, cv=cv, x=np.asarray(x, float).copy())
                return f if cv <= 0 else 1e6 + min(cv, 1e6)

            t0 = time.perf_counter()
            model = cls(epoch=n_iter, pop_size=n_particles)
            model.solve({"obj_func": obj, "bounds": FloatVar(lb=problem.lower.tolist(), ub=problem.upper.tolist()),
                         "minmax": "min", "log_to": None}, seed=seed)
            return OptimResult(x_best=best["x"], f_best=best["f"], cv_best=best["cv"], feasible=best["cv"] <= 0,
                               n_evaluations=best["n"], history=np.zeros(0), wall_s=time.perf_counter() - t0,
                               algorithm=label, seed=seed)
        return run

    return {"m-eo": make(OriginalEO, "m-eo"), "m-pso": make(OriginalPSO, "m-pso")}


def run_cases(cases, algorithms: list[str], n_particles: int, n_iter: int, seeds: list[int]) -> None:
    """Equal budgets (n_particles x n_iter) per algorithm; a fresh problem per run; hit rate of the reference."""
    extra = _mealpy_optimizers()
    algs = algorithms + [a for a in extra if a not in algorithms]
    print(f"budget: {n_particles} particles x {n_iter} iterations = {n_particles * n_iter} evaluations, "
          f"{len(seeds)} seeds; mealpy {'on: ' + ', '.join(extra) if extra else 'not importable: skipped'}")
    header = f"{'problem':<15}{'alg':<7}{'best':>11}{'median':>11}{'worst':>11}{'hits':>7}{'evals':>7}" \
             f"{'median s':>10}{'t/t_eo':>8}"
    for pname, (factory, ref, how) in cases.items():
        results = {}
        for alg in algs:
            fn = extra.get(alg) or get_optimizer(alg)
            fs, ts, evals = [], [], []
            for seed in seeds:
                prob = factory()
                t0 = time.perf_counter()
                res = fn(prob, n_particles=n_particles, n_iter=n_iter, seed=seed)
                ts.append(time.perf_counter() - t0)
                fs.append(res.f_best if res.feasible else np.inf)
                evals.append(res.n_evaluations)
            results[alg] = (np.asarray(fs), ts, evals)
        if ref is None:
            ref = min(float(r[0].min()) for r in results.values())
            how = f"{how}: {ref:.4f}"
        print(f"\n{pname}: reference {ref:.4f} ({how})")
        print(header)
        print("-" * len(header))
        t_eo = statistics.median(results["eo"][1]) if "eo" in results else None
        for alg, (fs, ts, evals) in results.items():
            hits = int(np.sum(fs <= ref + HIT_RTOL * abs(ref)))
            med_t = statistics.median(ts)
            ratio = f"{med_t / t_eo:8.2f}" if t_eo else f"{'-':>8}"
            print(f"{pname:<15}{alg:<7}{fs.min():11.3f}{np.median(fs):11.3f}{fs.max():11.3f}"
                  f"{hits:>4}/{len(fs):<2}{int(np.median(evals)):7d}{med_t:10.3f}{ratio}")


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


class ReadyPlan:
    """A controller whose plan is already made: isolation's fixed cost (fork, encoding the plan, the pipe)."""

    def __init__(self, plan) -> None:
        self.ready = plan

    def plan(self, problem):
        return self.ready


def isolation_overhead(repeats: int, budgets: list[tuple[int, int]]) -> list[dict]:
    """Median wall time per plan in process, in a worker forked for the call and in a worker of a run's clean fork
    server, interleaved, on seed 000's day-ahead problem."""
    import os  # noqa: PLC0415

    from cosim.controllers.isolation import (  # noqa: PLC0415
        ControllerSpec,
        plan_in_process,
        plan_in_worker,
        plan_through,
        worker_server,
    )
    from cosim.controllers.metaheuristic import EOController  # noqa: PLC0415
    from cosim.studies.joape2024.study import seed000_problem  # noqa: PLC0415 - pandapower

    problem = seed000_problem(4, "of3")
    warm = EOController(n_particles=5, n_iter=2).plan(problem)  # first-call costs (imports, caches) before timing
    cases = [(f"EO {p} x {i}", EOController(n_particles=p, n_iter=i),
              ControllerSpec("eo", None, {"n_particles": p, "n_iter": i})) for p, i in budgets]
    here = str(Path(__file__).resolve().parent)  # a worker of the server imports this file to build ReadyPlan
    cases.insert(0, ("ready plan", ReadyPlan(warm), ControllerSpec("optimizers:ReadyPlan", here, {"plan": warm})))
    print(f"seed 000 day-ahead problem (scenario 4, OF3, ieee33 + 1 lot); {repeats} interleaved repeats per mode, "
          f"median wall s per plan; pid {os.getpid()}, {os.cpu_count()} CPUs")
    header = (f"{'controller':<14}{'in process s':>14}{'in worker s':>13}{'overhead ms':>13}{'via server s':>14}"
              f"{'overhead ms':>13}")
    print(header)
    print("-" * len(header))
    rows: list[dict] = []
    for label, controller, spec in cases:
        with worker_server(spec) as server:  # as a run: its controller's module imported once, in the server
            times: dict[str, list[float]] = {"process": [], "worker": [], "server": []}
            for _ in range(repeats):
                for mode, fn in (("process", lambda: plan_in_process(controller, problem, 3600.0)),
                                 ("worker", lambda: plan_in_worker(controller, problem, 3600.0)),
                                 ("server", lambda: plan_through(server, spec, problem, 3600.0))):
                    t0 = time.perf_counter()
                    fn()
                    times[mode].append(time.perf_counter() - t0)
            t_p, t_w, t_s = (statistics.median(times[m]) for m in ("process", "worker", "server"))
            print(f"{label:<14}{t_p:14.4f}{t_w:13.4f}{(t_w - t_p) * 1e3:13.2f}{t_s:14.4f}{(t_s - t_p) * 1e3:13.2f}")
            rows.append({"controller": label, "in process s": round(t_p, 4), "forked worker s": round(t_w, 4),
                         "its overhead ms": round((t_w - t_p) * 1e3, 1), "worker of the run's server s": round(t_s, 4),
                         "its overhead ms (server)": round((t_s - t_p) * 1e3, 1)})
    return rows


def plan_cost(repeats: int) -> None:
    """CPU of one EO 30 x 500 plan of the default day's problem and of seed 000's scenario 4, in runpp calls."""
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import cosim.controllers.vector_problem as vector_problem  # noqa: PLC0415
    from cosim.controllers.metaheuristic import EOController  # noqa: PLC0415
    from cosim.studies.joape2024.study import seed000_problem  # noqa: PLC0415 - pandapower

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scaling import runpp_cpu_s  # noqa: PLC0415 - issue 23's unit, one definition

    pinned = Path(__file__).resolve().parents[1] / "tests" / "controllers" / "test_plan_pinned.py"
    spec = importlib.util.spec_from_file_location("test_plan_pinned", pinned)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the pinned test's problem: one definition of the DSO's default day
    problems = {"default day (DSO's problem, envelope)": module.default_day_problem(),
                "seed000_problem(4)": seed000_problem(4, "of3")}
    unit = runpp_cpu_s()
    solve = vector_problem.solve_radial_summary
    flow_s = [0.0]

    def timed(*a, **k):
        t0 = time.process_time()
        try:
            return solve(*a, **k)
        finally:
            flow_s[0] += time.process_time() - t0

    print(f"one day-ahead plan, EO 30 x 500 seed 0, CPU best of {repeats}; runpp = {1000 * unit:.2f} ms CPU")
    for label, problem in problems.items():
        EOController(n_particles=5, n_iter=3).plan(problem)  # first-call costs outside the clock
        best = (np.inf, 0.0, None)
        vector_problem.solve_radial_summary = timed
        try:
            for _ in range(repeats):
                flow_s[0] = 0.0
                made: list[DayAheadVectorProblem] = []
                init = DayAheadVectorProblem.__init__

                def keep(self, *a, _init=init, _made=made, **k):
                    _init(self, *a, **k)
                    _made.append(self)

                DayAheadVectorProblem.__init__ = keep
                try:
                    t0 = time.process_time()
                    plan = EOController(n_particles=30, n_iter=500, seed=0).plan(problem)
                    t = time.process_time() - t0
                finally:
                    DayAheadVectorProblem.__init__ = init
                if t < best[0]:
                    best = (t, flow_s[0], made[0])
        finally:
            vector_problem.solve_radial_summary = solve
        t, flow, vp = best
        plans, cases = getattr(vp, "_plan_memo", None), getattr(vp, "_case_memo", None)
        memos = ("no memos (before issue 23's plan work)" if plans is None or cases is None else
                 f"plans computed {plans.n_computed:,} of {plans.n_asked:,}, flow cases solved {cases.n_computed:,} "
                 f"of {cases.n_asked:,} asked ({24 * plans.n_asked:,} in the plans)")
        print(f"  {label}: {t:.3f} s CPU = {t / unit:.1f} runpp calls; the flow {flow:.3f} s ({100 * flow / t:.0f} %); "
              f"{memos}; objective {plan.predicted['objective']:.4f}, open {plan.open_branches}")


ISOLATION_TITLE = "# Controller isolation: what a plan in a worker costs"
ISOLATION_INTRO = ("Generated by the command above (`benchmarks/optimizers.py`): seed 000's day-ahead problem "
                   "(scenario 4, OF3, ieee33 + 1 lot), median wall time per plan of interleaved repeats, on "
                   "{machine}. In process: `plan_in_process`; forked worker: "
                   "`plan_in_worker` (a one-shot fork server forked from the caller, then the worker, whose leftovers "
                   "it kills); worker of the run's server: `plan_through`, what `cosim run` does (the problem "
                   "pickled to a worker of the fork server started before the run's keys, which builds the "
                   "controller from its spec; leftovers killed). 'ready plan' returns a plan made beforehand: the "
                   "fixed cost alone.")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--n-particles", type=int, default=30)
    ap.add_argument("--n-iter", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    ap.add_argument("--functions", nargs="*", choices=sorted(TEST_FUNCTIONS), default=None)
    ap.add_argument("--algorithms", nargs="*", default=["eo", "pso", "ga"])
    ap.add_argument("--reconfig", action="store_true",
                    help="DSO problems: single-hour reconfiguration (ieee33, ieee69) and seed 000's day-ahead problem")
    ap.add_argument("--dayahead-iter", type=int, default=None,
                    help="iterations for the day-ahead problems (default: --n-iter); 0 skips them")
    ap.add_argument("--dayahead-seeds", type=int, default=None,
                    help="seeds for the day-ahead problems (default: --seeds)")
    ap.add_argument("--isolation", action="store_true",
                    help="per-plan overhead of controller isolation (plan in process vs in a forked worker)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats per mode for --isolation (median reported)")
    ap.add_argument("--markdown", type=Path, default=None, help="--isolation: also write this generated docs page "
                                                                "(docs/ISOLATION.md)")
    ap.add_argument("--plan", action="store_true",
                    help="the CPU of one EO 30 x 500 day-ahead plan (default day, seed 000 scenario 4) in runpp calls")
    ap.add_argument("--small-budget", type=int, nargs=2, default=[10, 20], metavar=("PARTICLES", "ITER"),
                    help="the small EO budget for --isolation (the default budget is --n-particles x --n-iter)")
    args = ap.parse_args(argv)
    if args.plan:
        plan_cost(args.repeats)
        return
    if args.isolation:
        rows = isolation_overhead(args.repeats, [tuple(args.small_budget), (args.n_particles, args.n_iter)])
        if args.markdown:
            import sys  # noqa: PLC0415

            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
            from regenerate_docs import generated_page  # noqa: PLC0415 - the one writer of generated pages

            from cosim.textio import markdown_table  # noqa: PLC0415

            command = "python benchmarks/optimizers.py " + " ".join(sys.argv[1:] if argv is None else argv)
            import os  # noqa: PLC0415
            import platform  # noqa: PLC0415

            machine = (f"{platform.machine()} Linux {platform.release()}, {os.cpu_count()} CPUs, load "
                       f"{os.getloadavg()[0]:.1f} at the end")
            intro = ISOLATION_INTRO.format(machine=machine)
            args.markdown.write_text(generated_page(command, ISOLATION_TITLE, intro, markdown_table(rows)))
        return
    if args.reconfig:
        seeds = list(range(args.seeds))
        run_cases(reconfiguration_cases(), args.algorithms, args.n_particles, args.n_iter, seeds)
        day_iter = args.n_iter if args.dayahead_iter is None else args.dayahead_iter
        if day_iter > 0:
            day_seeds = seeds if args.dayahead_seeds is None else list(range(args.dayahead_seeds))
            run_cases(dayahead_cases(), args.algorithms, args.n_particles, day_iter, day_seeds)
        return
    problems = standard_problems(args.dim, args.functions)
    problems.update(extra_problems())
    run(problems, args.algorithms, args.n_particles, args.n_iter, list(range(args.seeds)))


if __name__ == "__main__":
    main()
