"""Benchmark: flows per second of the radial flow against pandapower, power-grid-model and lightsim2grid.

Run: .venv/bin/python benchmarks/powerflow.py [--networks ieee33,ieee69,dist118] [--reps 5] [--pp-sample 8]
     [--seed 0] [--no-plan] [--no-exhaustive]

Cases: random radial configurations (loop encoding + repair, as an optimiser proposes them) with random loads of
0..1.5 x nominal per bus; the first 720 that every solver converges on are kept, so all solve the same cases.
Batches of 1 (30 calls of one case each, the mean), 30 and 720 cases, plus the optimiser's shape: 30 topologies
x 24 load rows (720 cases, a topology repeated over the hours of a day). Every solver runs on one thread:
solve_radial_batch (full result) and solve_radial_summary (per-case totals) at their default tolerance (1e-9
p.u. estimated error); power-grid-model Newton-Raphson batch (threading=-1: sequential) at error_tolerance 1e-8
p.u.; lightsim2grid ScenarioSweepCPP (NR, KLU, nb_thread=1) at tol 1e-10 (with 1e-8 its voltages differ from
the others by up to ~1e-8 p.u.); pandapower runpp (numba=False, lightsim2grid=False: its own
Newton-Raphson, as the grid simulator calls it) on a sample.
The reference solvers are timed on prepared inputs (their update data / masks built outside the clock); ours
includes input checks. Times are the best of --reps (the machine may be shared). Max |dV| between solvers is
printed. FLOP share: the arithmetic the sweep kernels execute (kernels.FLOPS_*, per bus and sweep) over the
time, against one core's measured DGEMM rate (numpy, OpenBLAS one thread, in a subprocess).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

from cosim.networks import load_network
from cosim.powerflow import kernels
from cosim.powerflow.bfs import open_positions, solve_radial_batch, solve_radial_summary
from cosim.powerflow.topology import decode_loops, repair, timed_exhaustive_optimum

BATCHES = (1, 30, 720)
N_CASES = 720
SINGLE_CALLS = 30  # batch 1: the mean over this many one-case calls

DGEMM = """
import time, numpy as np
a, b = np.random.rand(1024, 1024), np.random.rand(1024, 1024)
a @ b
print(2 * 1024**3 / min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(7)))
"""


def core_flops() -> float:
    """One core's double-precision matrix-multiply rate [FLOP/s] (numpy DGEMM, BLAS limited to one thread)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", DGEMM], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def best_time(fn, reps: int) -> float:
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def flops_of(summary, n_bus: int) -> float:
    """Arithmetic the kernels executed for a batch (see kernels.FLOPS_*)."""
    s = summary.sweeps.astype(float)
    per_case = (s[:, 0] * kernels.FLOPS_PLAIN + s[:, 1] * (kernels.FLOPS_PLAIN + kernels.FLOPS_ANDERSON)
                + kernels.FLOPS_OUTPUT) * n_bus
    return float(per_case[summary.ok].sum())


class LightSim:
    """lightsim2grid ScenarioSweepCPP on the network's pandapower net (all lines in service, one load per bus);
    per case a contingency mask opens the case's branches. None when lightsim2grid is not installed."""

    def __init__(self, grid) -> None:
        import pandapower as pp  # noqa: PLC0415 - only to prepare the net lightsim2grid converts
        from lightsim2grid.lightsim2grid_cpp import ScenarioSweepCPP  # noqa: PLC0415 - optional
        from lightsim2grid.network import init_from_pandapower  # noqa: PLC0415 - optional

        r = grid.radial
        net = grid.net
        net.line["in_service"] = True
        net.load.drop(net.load.index, inplace=True)
        pp.create_loads(net, list(net.bus.index), p_mw=r.p_load_kw / 1000.0, q_mvar=r.q_load_kvar / 1000.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = init_from_pandapower(net)
        row_of_line = {int(i): k for k, i in enumerate(net.line.index)}
        self.line_of_pos = np.array([row_of_line[int(grid.line_of_branch[int(b)])] for b in r.branch_ids])
        self.n_line = len(net.line)
        self.sweep_cls = ScenarioSweepCPP
        self.r = r
        self.v_init = np.ones(self.model.total_bus(), dtype=complex)

    def prepare(self, open_ids, p_kw, q_kvar) -> tuple:
        p_kw, q_kvar = np.atleast_2d(p_kw), np.atleast_2d(q_kvar)
        mask = np.zeros((len(p_kw), self.n_line), dtype=bool)
        np.put_along_axis(mask, self.line_of_pos[open_positions(self.r, open_ids)], True, axis=1)
        return mask, np.ascontiguousarray(p_kw / 1000.0), np.ascontiguousarray(q_kvar / 1000.0)

    def solve(self, prepared, tol: float = 1e-10) -> np.ndarray:
        mask, p_mw, q_mvar = prepared
        sw = self.sweep_cls(self.model)
        sw.nb_thread = 1
        sw.modify_load_p(p_mw)
        sw.modify_load_q(q_mvar)
        sw.set_contingency_lines(mask)
        sw.compute(self.v_init, 30, tol)
        vm = np.abs(sw.get_voltages()[:, : self.r.n_bus])
        vm[~np.asarray(sw.converged_mask(), dtype=bool)] = np.nan
        return vm


def run_pandapower(grid, open_row, p_kw, q_kvar) -> np.ndarray:
    """One runpp (numba=False, as the grid simulator) with the given branches open and one load per bus."""
    import pandapower as pp  # noqa: PLC0415 - the reference being measured

    net = grid.net
    net.line["in_service"] = True
    net.line.loc[[grid.line_of_branch[int(b)] for b in open_row], "in_service"] = False
    net.load["p_mw"] = p_kw / 1000.0
    net.load["q_mvar"] = q_kvar / 1000.0
    try:
        pp.runpp(net, numba=False, lightsim2grid=False)
    except pp.LoadflowNotConverged:
        return np.full(len(net.bus), np.nan)
    return net.res_bus.vm_pu.to_numpy()


def select_cases(r, rng, pgm, ls) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N_CASES random radial cases (loads 0..1.5 x nominal) on which ours, power-grid-model and lightsim2grid
    all converge."""
    keep_ids, keep_p, keep_q, n = [], [], [], 0
    while n < N_CASES:
        m = 4 * N_CASES
        ids = repair(r, decode_loops(r, rng.random((m, len(r.loops)))), rng)
        scale = rng.uniform(0.0, 1.5, size=(m, r.n_bus))
        p, q = r.p_load_kw * scale, r.q_load_kvar * scale
        ok = solve_radial_summary(r, ids, p, q).ok
        ids, p, q = ids[ok], p[ok], q[ok]
        if pgm is not None and len(ids):
            ok = np.isfinite(pgm.solve(pgm.update(ids, p, q), skip_failed=True)).all(axis=1)
            ids, p, q = ids[ok], p[ok], q[ok]
        if ls is not None and len(ids):
            ok = np.isfinite(ls.solve(ls.prepare(ids, p, q))).all(axis=1)
            ids, p, q = ids[ok], p[ok], q[ok]
        keep_ids.append(ids)
        keep_p.append(p)
        keep_q.append(q)
        n += len(ids)
    return (np.concatenate(keep_ids)[:N_CASES], np.concatenate(keep_p)[:N_CASES],
            np.concatenate(keep_q)[:N_CASES])


def bench_network(name: str, args, rng, gflops: float, out: dict) -> None:
    grid = load_network(name)
    r = grid.radial
    try:
        from cosim.powerflow.references import PgmBatch  # noqa: PLC0415 - power-grid-model is optional

        pgm = PgmBatch(r)
    except ImportError:
        pgm = None
    try:
        ls = LightSim(load_network(name))
    except ImportError:
        ls = None
    ids, p, q = select_cases(r, rng, pgm, ls)
    # the optimiser's shape: 30 topologies, each with its case's loads scaled over a day (0.5..1.0)
    day = np.linspace(0.5, 1.0, 24)[None, :, None]
    g_ids = np.repeat(ids[:30], 24, axis=0)
    g_p, g_q = (p[:30, None, :] * day).reshape(-1, r.n_bus), (q[:30, None, :] * day).reshape(-1, r.n_bus)
    shapes = [(str(b), ids[:b], p[:b], q[:b]) for b in BATCHES] + [("720 (30 topologies x 24)", g_ids, g_p, g_q)]
    print(f"\n{name}: {r.n_bus} buses, {r.n_branch} branches; {N_CASES} cases all solvers converge on")
    head = f"  {'batch':<26}{'ours full':>12}{'ours summary':>14}{'power-grid-model':>18}{'lightsim2grid':>15}"
    print(head + f"{'pandapower':>12}   flows/s (ratio = ours full / other)")
    # pandapower: one case per call whatever the batch
    pp_grid = load_network(name)
    pp_grid.net.load.drop(pp_grid.net.load.index, inplace=True)
    import pandapower as pp  # noqa: PLC0415 - the reference being measured

    pp.create_loads(pp_grid.net, list(pp_grid.net.bus.index), p_mw=0.0, q_mvar=0.0)
    sample = min(args.pp_sample, N_CASES)
    run_pandapower(pp_grid, ids[0], p[0], q[0])  # warm-up
    t0 = time.perf_counter()
    vm_pp = np.array([run_pandapower(pp_grid, ids[i], p[i], q[i]) for i in range(sample)])
    pp_rate = sample / (time.perf_counter() - t0)
    dv = {}
    for label, o, pl, ql in shapes:
        b = len(pl)
        if b == 1:  # SINGLE_CALLS calls of one case each
            calls = [(ids[i], p[i], q[i]) for i in range(SINGLE_CALLS)]
            t_full = best_time(lambda: [solve_radial_batch(r, *c) for c in calls], args.reps) / SINGLE_CALLS
            t_sum = best_time(lambda: [solve_radial_summary(r, *c) for c in calls], args.reps) / SINGLE_CALLS
            if pgm is not None:
                ups = [pgm.update(*c) for c in calls]
                t_pgm = best_time(lambda: [pgm.solve(u) for u in ups], args.reps) / SINGLE_CALLS
            if ls is not None:
                preps = [ls.prepare(*c) for c in calls]
                t_ls = best_time(lambda: [ls.solve(x) for x in preps], args.reps) / SINGLE_CALLS
            rate = {"full": 1 / t_full, "summary": 1 / t_sum}
            out[(name, "single_us")] = t_full * 1e6
        else:
            res = solve_radial_batch(r, o, pl, ql)
            t_full = best_time(lambda: solve_radial_batch(r, o, pl, ql), args.reps)
            t_sum = best_time(lambda: solve_radial_summary(r, o, pl, ql), args.reps)
            rate = {"full": b / t_full, "summary": b / t_sum}
            if pgm is not None:
                up = pgm.update(o, pl, ql)
                vm = pgm.solve(up, skip_failed=True)
                dv["power-grid-model"] = max(dv.get("power-grid-model", 0.0), float(np.nanmax(np.abs(vm - res.vm_pu))))
                t_pgm = best_time(lambda: pgm.solve(up, skip_failed=True), args.reps) * (1 / b)
            if ls is not None:
                prep = ls.prepare(o, pl, ql)
                vm = ls.solve(prep)
                dv["lightsim2grid"] = max(dv.get("lightsim2grid", 0.0), float(np.nanmax(np.abs(vm - res.vm_pu))))
                t_ls = best_time(lambda: ls.solve(prep), args.reps) * (1 / b)
            if label.startswith("720"):
                share = flops_of(res.summary, r.n_bus) / t_full / gflops
                out[(name, label, "flop_share")] = share
        rate["pgm"] = 1 / t_pgm if pgm is not None else np.nan
        rate["ls"] = 1 / t_ls if ls is not None else np.nan
        out[(name, label)] = rate
        cells = [f"{rate['full']:>12,.0f}", f"{rate['summary']:>14,.0f}"]
        for key, width in (("pgm", 18), ("ls", 15)):
            cells.append(f"{rate[key]:>{width - 7},.0f} ({rate['full'] / rate[key]:4.1f}x)"
                         if np.isfinite(rate[key]) else f"{'-':>{width}}")
        cells.append(f"{pp_rate:>6,.0f} ({rate['full'] / pp_rate:,.0f}x)")
        print(f"  {label:<26}" + "".join(cells))
    res = solve_radial_batch(r, ids[:sample], p[:sample], q[:sample])
    dv["pandapower"] = float(np.abs(vm_pp - res.vm_pu).max())
    print("  max |dV| vs ours: " + ", ".join(f"{k} {v:.1e} p.u." for k, v in dv.items())
          + f" (pandapower on {sample} cases)")
    res = solve_radial_batch(r, ids, p, q)
    sw = res.summary.sweeps
    print(f"  single-case call: {out[(name, 'single_us')]:.0f} us; sweeps per case (720 random): plain "
          f"{sw[:, 0].mean():.1f}, Anderson {sw[:, 1].mean():.2f}; FLOP share at 720: random "
          f"{100 * out[(name, '720', 'flop_share')]:.1f} %, 30 topologies x 24 "
          f"{100 * out[(name, '720 (30 topologies x 24)', 'flop_share')]:.1f} % of {gflops / 1e9:.1f} GFLOP/s")
    out[(name, "pp_rate")] = pp_rate


def bench_plan(pp_rate: float) -> None:
    """The default scenario's day-ahead plan (EO 30 x 500, 24 h, reconfiguration + one lot) in runpp calls."""
    from cosim.controllers.registry import make_controller  # noqa: PLC0415 - only this section needs them
    from cosim.studies.joape2024.study import seed000_problem  # noqa: PLC0415

    problem = seed000_problem(4, "of3")
    make_controller("eo", n_particles=5, n_iter=2).plan(problem)  # warm-up
    t0 = time.perf_counter()
    plan = make_controller("eo", n_particles=30, n_iter=500).plan(problem)
    t = time.perf_counter() - t0
    print(f"\nday-ahead plan (default scenario: EO 30 x 500, 24 h, reconfiguration + lot): {t:.2f} s = "
          f"{t * pp_rate:.0f} pandapower runpp calls' worth on ieee33 (objective {plan.predicted['objective']:.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="ieee33,ieee69,dist118")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pp-sample", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plan", action="store_true", help="skip the day-ahead plan")
    ap.add_argument("--no-exhaustive", action="store_true", help="skip the 33-bus exhaustive search")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    t_start = time.perf_counter()
    gflops = core_flops()
    print(f"{cpu_name()}, {os.cpu_count()} cores; one core's DGEMM: {gflops / 1e9:.1f} GFLOP/s; all solvers on "
          "one thread")
    rng = np.random.default_rng(args.seed)
    out: dict = {}
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    for name in names:
        bench_network(name, args, rng, gflops, out)
    if ("ieee33", "720") in out and np.isfinite(out[("ieee33", "720")]["pgm"]):
        rate = out[("ieee33", "720")]
        print(f"\nratio vs power-grid-model (ieee33, batch 720, 1 thread): {rate['full'] / rate['pgm']:.1f}x")
    if not args.no_exhaustive:
        r = load_network("ieee33").radial
        ex = timed_exhaustive_optimum(r)
        print(f"ieee33 exhaustive: {ex['n_configs']} radial configurations enumerated in {ex['enum_s']:.2f} s, "
              f"all solved in {ex['best_s']:.2f} s ({ex['n_configs'] / ex['best_s']:,.0f} flows/s): open "
              f"{ex['open'].tolist()}, {ex['loss_kw']:.2f} kW, vmin {ex['vmin_pu']:.4f} p.u.")
    if not args.no_plan and ("ieee33", "pp_rate") in out:
        bench_plan(out[("ieee33", "pp_rate")])
    print(f"(benchmark ran {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
