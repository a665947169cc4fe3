"""Benchmark: flows per second of the radial flow against pandapower, power-grid-model and lightsim2grid.

Run: .venv/bin/python benchmarks/powerflow.py [--networks ieee33,ieee69,dist118] [--reps 5] [--pp-sample 8]
     [--seed 0] [--no-plan] [--no-exhaustive] [--markdown docs/VALIDATION.md]
     .venv/bin/python benchmarks/powerflow.py --grid-step   # the grid simulator's hourly runpp, flat vs recycled
     .venv/bin/python benchmarks/powerflow.py --startup     # `cosim run`: time to the first hour, matplotlib

Cases: random radial configurations (loop encoding + repair, as an optimiser proposes them) with random loads of
0..1.5 x nominal per bus; the first 720 that every solver converges on are kept, so all solve the same cases.
Batches of 1 (30 calls of one case each, the mean), 30 and 720 cases (every case its own topology: mixed
topologies), plus the optimiser's shape: 30 topologies x 24 load rows (720 cases: each topology with its case's
loads scaled 0.5..1.0 over a day, as in the day-ahead plan). Every solver runs on one thread (BLAS / OpenMP
threads set to 1 at the top of this file): solve_radial_batch (full result) and solve_radial_summary (per-case
totals) at their default tolerance (1e-9 p.u. estimated error); PreparedNetwork (the prepared-network entry point)
for the one-case calls; power-grid-model batch (threading=-1: sequential) by Newton-Raphson and by its
iterative-current method (the same kind of fixed-point method as our sweeps), at error_tolerance 1e-8 and 1e-10
p.u. (at 1e-8 its voltages are up to 6e-8 p.u. off the others);
lightsim2grid ScenarioSweepCPP (NR, KLU, nb_thread=1) at tol 1e-10 (with 1e-8 its voltages differ from the
others by up to ~1e-8 p.u.); pandapower runpp (numba=False, lightsim2grid=False: its own Newton-Raphson, as the
grid simulator calls it) on a sample.
The reference solvers are timed on prepared inputs (their update data / masks built outside the clock); ours
includes input checks. Times are this process's CPU time (time.process_time: every solver runs on one thread,
and a shared machine's waiting time is left out), the best of --reps. Max |dV| between solvers is printed.
FLOP share: the arithmetic the sweep kernels execute (kernels.FLOPS_*, per bus and sweep) over the time,
against one core's DGEMM rate measured in this process (numpy 1024 x 1024, BLAS on one thread).
Issue 23's kernel targets are printed with their measured figures; --markdown docs/VALIDATION.md writes them
and the tables into that file's generated block `kernel-benchmark`, with the command and the commit.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # every solver on one thread, before
    os.environ[_var] = "1"  # numpy loads its BLAS (the DGEMM rate below is then one core's, in this process)

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cosim.networks import load_network  # noqa: E402
from cosim.powerflow import bfs, kernels  # noqa: E402
from cosim.powerflow.bfs import open_positions, solve_radial_batch, solve_radial_summary  # noqa: E402
from cosim.powerflow.prepared import PreparedNetwork  # noqa: E402
from cosim.powerflow.topology import decode_loops, repair, timed_exhaustive_optimum  # noqa: E402

TARGET_SINGLE_US = 8.0  # issue 23: a prepared-network call of one ieee33 case
TARGET_FLOP_SHARE = 0.20  # issue 23: of one core's DGEMM rate, ieee33, batch 720, mixed topologies
TARGET_PGM_IC = 25.0  # issue 23: ratio to power-grid-model's iterative current, ieee33, batch 720, mixed

BATCHES = (1, 30, 720)
PGM_IC = {"method": "iterative_current", "max_iter": 100, "tol_pu": 1e-10}  # its fixed-point method; at 1e-8 it is
# up to 6e-8 p.u. off the others (its tolerance bounds the last update, not the distance to the solution)
N_CASES = 720
SINGLE_CALLS = 30  # batch 1: the mean over this many one-case calls

def core_flops(reps: int = 7) -> float:
    """One core's double-precision matrix-multiply rate [FLOP/s]: numpy DGEMM of 1024 x 1024 matrices in this
    process (its BLAS limited to one thread at the top of this file), the best CPU time of reps products."""
    rng = np.random.default_rng(0)
    a, b = rng.random((1024, 1024)), rng.random((1024, 1024))
    a @ b
    return 2 * 1024**3 / best_time(lambda: a @ b, reps)


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
    """Best CPU time of this process over reps calls of fn [s]."""
    best = np.inf
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def flops_of(summary, n_bus: int) -> float:
    """Arithmetic the kernels executed for a batch (see kernels.FLOPS_*)."""
    s = summary.sweeps.astype(float)
    per_case = (s[:, 0] * kernels.FLOPS_PLAIN + s[:, 1] * (kernels.FLOPS_PLAIN + kernels.FLOPS_ANDERSON)
                + kernels.FLOPS_OUTPUT) * n_bus
    return float(per_case[summary.ok].sum())


def kernel_call_s(r, calls, reps: int) -> float:
    """CPU time of the compiled kernel alone per one-case call [us], over the same one-case calls as the
    single-case row (what solve_radial_batch wraps: its input checks and result arrays are left out)."""
    k, c = kernels, bfs._compiled(r)
    nb, nbr = r.n_bus, r.n_branch
    prepared = []
    for open_row, p_kw, q_kvar in calls:
        out = (np.empty((1, k.N_SCALARS)), np.empty(1, np.int8), np.empty((1, 2), np.int32), np.empty((1, nb)),
               np.empty((1, nb), dtype=complex), np.empty((1, nbr)))
        prepared.append((bfs.open_positions(r, open_row), np.ascontiguousarray(p_kw[None, :]),
                         np.ascontiguousarray(q_kvar[None, :]), c.adj_ptr, c.adj_bus, c.adj_edge, r.slack_bus, c.r_pu,
                         c.x_pu, c.inv_i_max_ka, nbr, c.s_scale, c.base_i_ka, c.kw_per_pu, 1.0, float(r.v_min_pu),
                         float(r.v_max_pu), bfs.DEFAULT_TOL_PU, 60, *out, c.from_bus, c.tap_re, c.tap_im,
                         c.has_taps))
    return best_time(lambda: [k.solve_cases(*a) for a in prepared], reps) / len(prepared) * 1e6


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
            up = pgm.update(ids, p, q)
            ok = np.isfinite(pgm.solve(up, skip_failed=True)).all(axis=1)
            ok &= np.isfinite(pgm.solve(up, skip_failed=True, **PGM_IC)).all(axis=1)
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
    head = (f"  {'batch':<26}{'ours full':>12}{'ours summary':>14}{'pgm Newton-Raphson':>20}{'pgm iter. current':>19}"
            f"{'lightsim2grid':>15}")
    print(head + f"{'pandapower':>12}   flows/s (ratio = ours full / other)")
    # pandapower: one case per call whatever the batch
    pp_grid = load_network(name)
    pp_grid.net.load.drop(pp_grid.net.load.index, inplace=True)
    import pandapower as pp  # noqa: PLC0415 - the reference being measured

    pp.create_loads(pp_grid.net, list(pp_grid.net.bus.index), p_mw=0.0, q_mvar=0.0)
    sample = min(args.pp_sample, N_CASES)
    run_pandapower(pp_grid, ids[0], p[0], q[0])  # warm-up
    t0 = time.process_time()
    vm_pp = np.array([run_pandapower(pp_grid, ids[i], p[i], q[i]) for i in range(sample)])
    pp_rate = sample / (time.process_time() - t0)
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
                t_ic = best_time(lambda: [pgm.solve(u, **PGM_IC) for u in ups], args.reps) / SINGLE_CALLS
            if ls is not None:
                preps = [ls.prepare(*c) for c in calls]
                t_ls = best_time(lambda: [ls.solve(x) for x in preps], args.reps) / SINGLE_CALLS
            rate = {"full": 1 / t_full, "summary": 1 / t_sum}
            out[(name, "single_us")] = t_full * 1e6
            out[(name, "kernel_us")] = kernel_call_s(r, calls, args.reps)
            prepared = PreparedNetwork(r)
            p_calls = [(np.ascontiguousarray(o_, dtype=np.int64), np.ascontiguousarray(p_), np.ascontiguousarray(q_))
                       for o_, p_, q_ in calls]
            out[(name, "prepared_us")] = best_time(lambda: [prepared.summary(*c) for c in p_calls],
                                                   args.reps) / SINGLE_CALLS * 1e6
            out[(name, "prepared_full_us")] = best_time(lambda: [prepared.batch(*c) for c in p_calls],
                                                        args.reps) / SINGLE_CALLS * 1e6
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
                vm = pgm.solve(up, skip_failed=True, **PGM_IC)
                dv["power-grid-model iterative current"] = max(dv.get("power-grid-model iterative current", 0.0),
                                                               float(np.nanmax(np.abs(vm - res.vm_pu))))
                t_ic = best_time(lambda: pgm.solve(up, skip_failed=True, **PGM_IC), args.reps) * (1 / b)
            if ls is not None:
                prep = ls.prepare(o, pl, ql)
                vm = ls.solve(prep)
                dv["lightsim2grid"] = max(dv.get("lightsim2grid", 0.0), float(np.nanmax(np.abs(vm - res.vm_pu))))
                t_ls = best_time(lambda: ls.solve(prep), args.reps) * (1 / b)
            if label.startswith("720"):
                share = flops_of(res.summary, r.n_bus) / t_full / gflops
                out[(name, label, "flop_share")] = share
        rate["pgm"] = 1 / t_pgm if pgm is not None else np.nan
        rate["pgm_ic"] = 1 / t_ic if pgm is not None else np.nan
        rate["ls"] = 1 / t_ls if ls is not None else np.nan
        out[(name, label)] = rate
        cells = [f"{rate['full']:>12,.0f}", f"{rate['summary']:>14,.0f}"]
        for key, width in (("pgm", 20), ("pgm_ic", 19), ("ls", 15)):
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
    out[(name, "sweeps")] = (float(sw[:, 0].mean()), float(sw[:, 1].mean()))
    out[(name, "breakdown")] = breakdown(r, ids, p, q, args.reps, gflops)
    out[(name, "dv")] = dict(dv)
    print(f"  single-case call: {out[(name, 'single_us')]:.1f} us, of it the compiled kernel "
          f"{out[(name, 'kernel_us')]:.1f} us; prepared network (PreparedNetwork): summary "
          f"{out[(name, 'prepared_us')]:.1f} us, full {out[(name, 'prepared_full_us')]:.1f} us per case")
    bd = out[(name, "breakdown")]
    print(f"  where a mixed case's time goes (summary, 720 cases): {bd['mixed_us']:.2f} us per case; the same "
          f"720 loads on one topology {bd['one_us']:.2f} us, searched anew every case {bd['alt_us']:.2f} us (a tree "
          f"search and its set-up {bd['alt_us'] - bd['one_us']:.2f} us per case); one topology per bus and sweep "
          f"{bd['one_ns']:.2f} ns all in (FLOP share {100 * bd['one_share']:.1f} %)")
    print(f"  sweeps per case (720 random): plain "
          f"{sw[:, 0].mean():.1f}, Anderson {sw[:, 1].mean():.2f}; FLOP share at 720: random "
          f"{100 * out[(name, '720', 'flop_share')]:.1f} %, 30 topologies x 24 "
          f"{100 * out[(name, '720 (30 topologies x 24)', 'flop_share')]:.1f} % of {gflops / 1e9:.1f} GFLOP/s")
    out[(name, "pp_rate")] = pp_rate


BLOCK = "kernel-benchmark"


def breakdown(r, ids, p, q, reps: int, gflops: float) -> dict:
    """Per-case CPU time of solve_radial_summary on the 720 mixed cases, on the same loads with every case on the
    first case's topology (one tree search), and the same again with every other row's open ids reversed (the
    same tree, searched anew for every case: the sweeps are identical, so the difference is the search and its
    set-up). one_share: the FLOP share of one core's DGEMM on one topology, the kernel's rate without tree
    searches."""
    n = len(p)
    one = np.repeat(ids[:1], n, axis=0)
    alt = one.copy()
    alt[1::2] = alt[1::2, ::-1]
    s_one = solve_radial_summary(r, one, p, q)
    t_mixed = best_time(lambda: solve_radial_summary(r, ids, p, q), reps) / n
    t_one = best_time(lambda: solve_radial_summary(r, one, p, q), reps) / n
    t_alt = best_time(lambda: solve_radial_summary(r, alt, p, q), reps) / n
    bus_sweeps = float(s_one.sweeps.sum(axis=1).mean()) * r.n_bus
    return {"mixed_us": t_mixed * 1e6, "one_us": t_one * 1e6, "alt_us": t_alt * 1e6,
            "one_ns": t_one / bus_sweeps * 1e9, "one_share": flops_of(s_one, r.n_bus) / (t_one * n) / gflops}


def kernel_targets(out: dict) -> list[tuple[str, str, str, bool]]:
    """Issue 23's kernel targets on ieee33 as measured in this run: (figure, target, measured, met)."""
    if ("ieee33", "720") not in out:
        return []
    rate = out[("ieee33", "720")]
    rows = [
        ("prepared-network call, one case (PreparedNetwork.summary)", f"<= {TARGET_SINGLE_US:.0f} us",
         f"{out[('ieee33', 'prepared_us')]:.1f} us", out[("ieee33", "prepared_us")] <= TARGET_SINGLE_US),
        ("FLOP share of one core's DGEMM, batch 720, mixed topologies", f">= {100 * TARGET_FLOP_SHARE:.0f} %",
         f"{100 * out[('ieee33', '720', 'flop_share')]:.1f} %",
         out[("ieee33", "720", "flop_share")] >= TARGET_FLOP_SHARE),
    ]
    if np.isfinite(rate["pgm_ic"]):
        ratio = rate["full"] / rate["pgm_ic"]
        rows.append(("ratio to power-grid-model iterative current, batch 720, mixed topologies",
                     f">= {TARGET_PGM_IC:.0f}x", f"{ratio:.1f}x", ratio >= TARGET_PGM_IC))
        rows.append(("ratio to power-grid-model Newton-Raphson, batch 720, mixed topologies", "-",
                     f"{rate['full'] / rate['pgm']:.1f}x", True))
    return rows


def write_markdown(args, out: dict, targets: list, gflops: float, load_start: float) -> None:
    """The kernel's figures of this run as block BLOCK of args.markdown (the command and the commit first)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from regenerate_docs import commit, replace_block  # noqa: PLC0415 - the docs' block helpers

    command = "benchmarks/powerflow.py " + " ".join(sys.argv[1:])
    lines = [f"_Generated by `{command.strip()}` at commit `{commit()}` "
             f"({time.strftime('%Y-%m-%d', time.gmtime())}; {cpu_name()}, {os.cpu_count()} cores shared with other "
             f"jobs, load average {load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end; every time "
             f"is this process's CPU time, the best of {args.reps} repeats, timings). Do not edit by hand: rerun "
             "the command._", "",
             f"One core's DGEMM in this process (numpy, BLAS on one thread): {gflops / 1e9:.1f} GFLOP/s.", "",
             "| issue 23 target (ieee33) | target | measured | met |", "|---|---|---|---|"]
    lines += [f"| {f} | {t} | {m} | {'yes' if ok else 'no'} |" for f, t, m, ok in targets]
    lines += ["", "| network, batch | ours (full) | ours (summary) | pgm Newton-Raphson | pgm iterative current | "
              "lightsim2grid NR |", "|---|---|---|---|---|---|"]
    for (name, label), rate in ((k, v) for k, v in out.items() if len(k) == 2 and isinstance(v, dict) and "full" in v):
        cells = [f"{rate['full']:,.0f}", f"{rate['summary']:,.0f}"]
        for key in ("pgm", "pgm_ic", "ls"):
            cells.append(f"{rate[key]:,.0f} ({rate['full'] / rate[key]:.1f}x)" if np.isfinite(rate[key]) else "-")
        lines.append(f"| {name}, {label} | " + " | ".join(cells) + " |")
    for name in sorted({k[0] for k in out if len(k) == 2 and k[1] == "single_us"}):
        lines += ["", f"{name}: one case per call {out[(name, 'single_us')]:.1f} us through `solve_radial_batch` "
                  f"(of it the compiled kernel {out[(name, 'kernel_us')]:.1f} us), "
                  f"{out[(name, 'prepared_us')]:.1f} us through `PreparedNetwork.summary` and "
                  f"{out[(name, 'prepared_full_us')]:.1f} us through `PreparedNetwork.batch`; sweeps per case "
                  f"(720 random) {out[(name, 'sweeps')][0]:.1f} plain + {out[(name, 'sweeps')][1]:.2f} Anderson; "
                  f"FLOP share at 720: mixed topologies {100 * out[(name, '720', 'flop_share')]:.1f} %, 30 topologies "
                  f"x 24 {100 * out[(name, '720 (30 topologies x 24)', 'flop_share')]:.1f} %; max |dV| between the "
                  "solvers " + ", ".join(f"{k} {v:.1e}" for k, v in out[(name, 'dv')].items()) + " p.u. "
                  f"Where a mixed case's time goes (`solve_radial_summary`, 720 cases): "
                  f"{out[(name, 'breakdown')]['mixed_us']:.2f} us per case; the same loads on one topology "
                  f"{out[(name, 'breakdown')]['one_us']:.2f} us, the same tree searched anew for every case "
                  f"{out[(name, 'breakdown')]['alt_us']:.2f} us (the search and its set-up: "
                  f"{out[(name, 'breakdown')]['alt_us'] - out[(name, 'breakdown')]['one_us']:.2f} us per case); on "
                  f"one topology {out[(name, 'breakdown')]['one_ns']:.2f} ns per bus and sweep all in (FLOP share "
                  f"{100 * out[(name, 'breakdown')]['one_share']:.1f} %: the kernel without tree searches)."]
    path = args.markdown
    path.write_text(replace_block(path.read_text(), BLOCK, "\n".join(lines)))


def bench_plan(pp_rate: float) -> None:
    """The default scenario's day-ahead plan (EO 30 x 500, 24 h, reconfiguration + one lot) in runpp calls."""
    from cosim.controllers.registry import make_controller  # noqa: PLC0415 - only this section needs them
    from cosim.studies.joape2024.study import seed000_problem  # noqa: PLC0415

    problem = seed000_problem(4, "of3")
    make_controller("eo", n_particles=5, n_iter=2).plan(problem)  # warm-up
    inner = [0.0, 0]
    solve = bfs._solve

    def timed_solve(*args, **kwargs):  # the flow's share of the plan (every flow goes through bfs._solve)
        t0 = time.process_time()
        try:
            return solve(*args, **kwargs)
        finally:
            inner[0] += time.process_time() - t0
            inner[1] += 1

    bfs._solve = timed_solve
    try:
        t0 = time.process_time()
        plan = make_controller("eo", n_particles=30, n_iter=500).plan(problem)
        t = time.process_time() - t0
    finally:
        bfs._solve = solve
    print(f"\nday-ahead plan (default scenario: EO 30 x 500, 24 h, reconfiguration + lot): {t:.2f} s CPU = "
          f"{t * pp_rate:.0f} pandapower runpp calls' worth on ieee33 (objective {plan.predicted['objective']:.2f});"
          f" of it the flow {inner[0]:.2f} s in {inner[1]} calls ({100 * inner[0] / t:.0f} %)")


def bench_grid_step(days: int = 7) -> None:
    """CPU time of the grid simulator's hourly step per simulated day: runpp from a flat start every hour (the
    call before issue 13) against the recycled call (now), on the same loads, lots and daily topology changes."""
    import pandapower as pp  # noqa: PLC0415 - the reference being measured
    from pandapower.powerflow import LoadflowNotConverged  # noqa: PLC0415

    from simulators.grid.model import GridModel  # noqa: PLC0415 - only this section needs the simulator

    def flat_start(self, net):
        for init in ("flat", "dc"):
            try:
                pp.runpp(net, init=init, numba=False, max_iteration=30, calculate_voltage_angles=True,
                         lightsim2grid=False)
                return True, ""
            except LoadflowNotConverged as exc:
                message = str(exc)
        return False, message

    def tight(self, net):
        pp.runpp(net, numba=False, calculate_voltage_angles=True, lightsim2grid=False, tolerance_mva=1e-13)
        return True, ""

    hours = 24 * days
    rng = np.random.default_rng(0)
    scaling = 0.6 + 0.4 * np.sin(np.arange(hours) / 24 * 2 * np.pi) ** 2
    lots = rng.uniform(-300.0, 500.0, hours)
    topo = [(33, 34, 35, 36, 37), (7, 9, 14, 32, 37)]  # a new topology every day
    recycled = GridModel._run
    out = {}
    for label, run in (("flat start (before)", flat_start), ("recycled (now)", recycled), ("reference", tight)):
        best = np.inf
        for _ in range(1 if label == "reference" else 3):
            GridModel._run = run
            model = GridModel("ieee33")
            model.step(load_scaling=0.7)
            t0 = time.process_time()
            states = [model.step(load_scaling=float(scaling[h]), lot_power_kw={18: float(lots[h])},
                                 open_branches=topo[(h // 24) % 2]) for h in range(hours)]
            best = min(best, time.process_time() - t0)
        out[label] = (best, np.array([s.vm_pu for s in states]))
    GridModel._run = recycled
    ref = out.pop("reference")[1]
    print(f"\ngrid simulator, ieee33, {days} days ({hours} hours, a new topology every day), CPU time of "
          "GridModel.step:")
    for label, (t, vm) in out.items():
        print(f"  {label}: {t / days:.3f} s per simulated day ({t / hours * 1e3:.2f} ms per hour); max |dV| vs "
              f"runpp at 1e-13 MVA {np.abs(vm - ref).max():.1e} p.u.")


PROBE = """
import importlib.abc, importlib.machinery, sys, time
marks = {}
def mark(what):
    marks.setdefault(what, time.process_time())
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib":
            mark("matplotlib imported")
        if name != "simulators.grid.model":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            step = module.GridModel.step
            def first(self, *a, **k):
                mark("first grid hour")
                return step(self, *a, **k)
            module.GridModel.step = first
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Probe())
from cosim.cli import main
rc = main(sys.argv[1:])
mark("end of run")
for k, t in sorted(marks.items(), key=lambda kv: kv[1]):
    print(f"PROBE {k}: {t:.2f} s CPU", file=sys.stderr)
"""


def bench_startup(runs: int = 3) -> None:
    """`cosim run` of the default scenario with EO 5 x 5, one day, in a fresh process: CPU time from the start to
    the first grid hour and to matplotlib's import (a probe around cosim.cli.main; the import order is kept)."""
    import tempfile  # noqa: PLC0415 - only this section

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        text = open(os.path.join(root, "scenarios", "default.toml")).read()
        scenario = os.path.join(tmp, "small.toml")
        with open(scenario, "w") as fh:
            fh.write(text.replace("n_particles = 30, n_iter = 500", "n_particles = 5, n_iter = 5"))
        print(f"\ncosim run (default scenario, EO 5 x 5, 1 day), {runs} fresh processes, CPU time since start:")
        for i in range(runs):
            proc = subprocess.run([sys.executable, "-c", PROBE, "run", scenario, "--quiet", "--output",
                                   os.path.join(tmp, f"out{i}")], capture_output=True, text=True, cwd=root)
            print("  " + "; ".join(line.removeprefix("PROBE ") for line in proc.stderr.splitlines()
                                   if line.startswith("PROBE ")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="ieee33,ieee69,dist118")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pp-sample", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plan", action="store_true", help="skip the day-ahead plan")
    ap.add_argument("--no-exhaustive", action="store_true", help="skip the 33-bus exhaustive search")
    ap.add_argument("--grid-step", action="store_true", help="only: the grid simulator's hourly runpp")
    ap.add_argument("--startup", action="store_true", help="only: cosim run's start-up")
    ap.add_argument("--markdown", type=Path, default=None, metavar="DOC",
                    help=f"write the kernel's figures into block {BLOCK!r} of DOC (docs/VALIDATION.md)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.grid_step or args.startup:
        if args.grid_step:
            bench_grid_step()
        if args.startup:
            bench_startup()
        return 0
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0]
    gflops = core_flops()
    print(f"{cpu_name()}, {os.cpu_count()} cores; one core's DGEMM: {gflops / 1e9:.1f} GFLOP/s; all solvers on "
          "one thread")
    rng = np.random.default_rng(args.seed)
    out: dict = {}
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    for name in names:
        bench_network(name, args, rng, gflops, out)
    targets = kernel_targets(out)
    if targets:
        print("\nissue 23's kernel targets (ieee33):")
        for figure, target, measured, met in targets:
            print(f"  {figure}: {measured} (target {target}: {'met' if met else 'NOT met'})")
    if args.markdown is not None:
        write_markdown(args, out, targets, gflops, load_start)
        print(f"wrote block {BLOCK!r} of {args.markdown}")
    if not args.no_exhaustive:
        r = load_network("ieee33").radial
        t0 = time.process_time()
        ex = timed_exhaustive_optimum(r)
        cpu = time.process_time() - t0
        print(f"ieee33 exhaustive: {ex['n_configs']} radial configurations enumerated in {ex['enum_s']:.2f} s, "
              f"all solved in {ex['best_s']:.2f} s (wall; {cpu:.2f} s CPU in all): open {ex['open'].tolist()}, "
              f"{ex['loss_kw']:.2f} kW, vmin {ex['vmin_pu']:.4f} p.u.")
    if not args.no_plan and ("ieee33", "pp_rate") in out:
        bench_plan(out[("ieee33", "pp_rate")])
    print(f"(benchmark ran {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
