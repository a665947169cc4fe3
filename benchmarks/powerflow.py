"""Benchmark: flows per second of the batched radial power flow against pandapower runpp on the same cases.

Run: .venv/bin/python benchmarks/powerflow.py [--batch 720] [--pp-sample 50] [--seed 0]
Times are best of 5 (the machine may be shared). Cases are random radial configurations of ieee33 (loop
encoding + repair, as an optimizer proposes them) with random loads of 0..1.5 x nominal per bus and hour.
Also prints the time to enumerate all radial configurations and to find the minimum-loss one.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandapower as pp

from cosim.networks import load_network
from cosim.powerflow.bfs import clear_tree_cache, solve_radial_batch
from cosim.powerflow.topology import decode_loops, repair, timed_exhaustive_optimum


def random_cases(net, batch: int, rng: np.random.Generator):
    """Random radial open sets and random loads (0..1.5 x nominal) for `batch` cases."""
    open_ids = repair(net, decode_loops(net, rng.random((batch, len(net.loops)))), rng)
    scale = rng.uniform(0.0, 1.5, size=(batch, net.n_bus))
    return open_ids, net.p_load_kw * scale, net.q_load_kvar * scale


def run_pandapower(grid, open_row, p_kw, q_kvar) -> np.ndarray:
    """One runpp with the given lines out of service and bus loads; returns vm_pu per bus."""
    net = grid.net
    net.line["in_service"] = True
    net.line.loc[[grid.line_of_branch[int(b)] for b in open_row], "in_service"] = False
    bus_pos = {int(b): i for i, b in enumerate(net.bus.index)}
    pos = np.array([bus_pos[int(b)] for b in net.load.bus])
    net.load["p_mw"] = p_kw[pos] / 1000.0
    net.load["q_mvar"] = q_kvar[pos] / 1000.0
    net.load["scaling"] = 1.0
    try:
        pp.runpp(net, numba=False, tolerance_mva=1e-10)
    except pp.LoadflowNotConverged:
        return np.full(len(net.bus), np.nan)
    return net.res_bus.vm_pu.to_numpy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=720)
    ap.add_argument("--pp-sample", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    grid = load_network("ieee33")
    net = grid.radial
    rng = np.random.default_rng(args.seed)
    open_ids, p, q = random_cases(net, args.batch, rng)
    # only loads on buses that have a pandapower load can be compared
    solve_radial_batch(net, open_ids[:8], p[:8], q[:8])  # warm-up
    reps = 5

    def timed(topo, cold: bool) -> tuple[float, object]:
        """Best-of-reps seconds per batch; cold: tree-order cache emptied first (all topologies new, as in an
        optimizer's first iterations), warm: all topologies cached (revisited configurations)."""
        best, out = np.inf, None
        for _ in range(reps):
            if cold:
                clear_tree_cache()
            t0 = time.perf_counter()
            out = solve_radial_batch(net, topo, p, q)
            best = min(best, time.perf_counter() - t0)
        return best, out

    t_fast, res = timed(open_ids, cold=True)
    t_warm, _ = timed(open_ids, cold=False)
    # same batch with 30 topologies x 24 hours (EO / PSO particles over a day)
    topo30 = np.repeat(open_ids[:30], args.batch // 30 + 1, axis=0)[: args.batch]
    t_fast30, _ = timed(topo30, cold=True)
    t_warm30, _ = timed(topo30, cold=False)
    sample = min(args.pp_sample, args.batch)
    t0 = time.perf_counter()
    dv, both, pp_ok = [], 0, 0
    for i in range(sample):
        vm = run_pandapower(grid, open_ids[i], p[i], q[i])
        pp_ok += bool(np.all(np.isfinite(vm)))
        if res.ok[i] and np.all(np.isfinite(vm)):
            both += 1
            dv.append(np.abs(vm - res.vm_pu[i]).max())
    t_pp = (time.perf_counter() - t0) / sample
    fast_rate = args.batch / t_fast
    print(f"ieee33, {args.batch} random radial cases (loads 0..1.5 x nominal), "
          f"converged {int(res.ok.sum())}/{args.batch}, {res.iterations} sweeps max")
    print(f"  solve_radial_batch: {t_fast * 1e3:.1f} ms per batch = {fast_rate:,.0f} flows/s "
          f"(topologies cached: {t_warm * 1e3:.1f} ms = {args.batch / t_warm:,.0f} flows/s)")
    print(f"  same loads, 30 topologies x {args.batch // 30} hours: "
          f"{t_fast30 * 1e3:.1f} ms = {args.batch / t_fast30:,.0f} flows/s "
          f"(cached: {t_warm30 * 1e3:.1f} ms = {args.batch / t_warm30:,.0f} flows/s)")
    print(f"  pandapower runpp ({sample} of the cases): {t_pp * 1e3:.1f} ms per flow = {1 / t_pp:,.1f} flows/s")
    print(f"  speed-up: {fast_rate * t_pp:,.0f}x, cached {args.batch / t_warm * t_pp:,.0f}x (30-topology batch: "
          f"{args.batch / t_fast30 * t_pp:,.0f}x, cached {args.batch / t_warm30 * t_pp:,.0f}x); "
          f"max |dV| vs runpp over the sample: {max(dv) if dv else float('nan'):.2e} p.u. "
          f"({both} cases where both converged; runpp converged {pp_ok}/{sample}, "
          f"fast flow {int(res.ok[:sample].sum())}/{sample})")
    ex = timed_exhaustive_optimum(net)
    print(f"  enumerate_radial: {ex['n_configs']} radial configurations in {ex['enum_s']:.2f} s; "
          f"best_configuration over all: open {ex['open'].tolist()}, {ex['loss_kw']:.2f} kW, "
          f"vmin {ex['vmin_pu']:.4f} p.u. "
          f"in {ex['best_s']:.2f} s ({ex['n_configs'] / ex['best_s']:,.0f} flows/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
