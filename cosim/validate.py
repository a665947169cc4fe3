"""Cross-check the fast batched radial power flow against pandapower on every registered network.

Run: .venv/bin/python -m cosim.validate [--network NAME] [--exhaustive] [--hit-rates]
     (cosim validate ...; exit code 0 when both agree within 1e-6 p.u. on every bus)
Prints per network the base-case losses [kW] and lowest voltage [p.u.] of pandapower runpp and of the fast
flow, and the number of radial configurations and the minimum-loss one found by enumerating and solving all of
them: for ieee33 always, for every chosen network with --exhaustive (ieee69: 407,924 configurations, a few
seconds; networks with more than MAX_EXHAUSTIVE configurations are skipped with their count).

A converted net (--network "simbench:<code>" or a pandapower JSON file) is checked by `validate_converted`: the
fast flow (slack at the set-point, the lines' charging as a fixed point) against runpp on the converted net and
on the ORIGINAL net (file switch states, taps moved to the set-point), <= 1e-6 p.u. on every bus; the original
net as given (file taps) for reference; the open switches; the number of radial configurations (matrix-tree
theorem, exact integers); the minimum-loss configuration where each group of feeders has at most
ENUMERATION_LIMIT configurations (MAX_EXHAUSTIVE with --exhaustive), each group enumerated on its own. These
checks finish within 30 s for grids up to QUICK_BUSES buses (tests/test_validate.py times SimBench urban, 137
buses, the largest MV grid); a larger grid says so first, and every grid's checks print their time. With
--hit-rates (minutes: the study's own runs): EO, PSO and GA over 20 seeds each (30 x 100) plus the MILP against
the best known plan (hit: within 0.01 %). The MILP runs within a work limit (MILP_NODE_LIMIT branch-and-bound
nodes per cut round, one thread, no wall-clock limit), so its line, with its status, gap, bound and nodes, is the
same on any machine.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings

import numpy as np
import pandapower as pp

from cosim.errors import InputError
from cosim.networks import NETWORKS, is_converted_name, load_network
from cosim.networks.converted import count_radial, exact_optimum, flow
from cosim.optim import get_optimizer
from cosim.optim.reconfiguration import ReconfigurationProblem
from cosim.powerflow.bfs import BatchFlowResult, solve_radial_batch
from cosim.powerflow.topology import count_spanning_trees, radial_mask, timed_exhaustive_optimum

AGREEMENT_PU = 1e-6
MAX_EXHAUSTIVE = 20_000_000  # radial configurations: more is skipped (dist118 has ~4.5e15)
ENUMERATION_LIMIT = 200_000  # converted nets: configurations per group of feeders enumerated without --exhaustive
SEEDS = 20
BUDGET = (30, 100)  # particles x iterations of EO, PSO and GA in the converted nets' hit-rate study
HIT_RTOL = 1e-4  # a run hits the reference within 0.01 %
MILP_NODE_LIMIT = 2_000  # the MILP's work limit per cut round in the hit-rate study (deterministic: no time limit)
QUICK_BUSES = 200  # converted nets up to this many buses are checked within 30 s without --hit-rates


def runpp_case(grid, open_ids, p_kw, q_kvar) -> tuple[np.ndarray, np.ndarray, float] | None:
    """pandapower runpp of `grid` (a GridNetwork, changed in place) with the given branches open and bus loads.

    Returns (vm_pu per bus, va_deg per bus, line losses [kW]) in the bus order of grid.radial, or None when
    runpp does not converge. Loads are replaced by one constant-power load per bus.
    """
    net = grid.net
    radial = grid.radial
    open_set = {int(b) for b in np.asarray(open_ids).reshape(-1)}
    net.line["in_service"] = [True] * len(net.line)
    for b in open_set:
        net.line.at[grid.line_of_branch[b], "in_service"] = False
    net.load.drop(net.load.index, inplace=True)
    buses = np.asarray(net.bus.index)
    p = np.asarray(p_kw, dtype=float)
    q = np.asarray(q_kvar, dtype=float)
    nz = np.flatnonzero((p != 0) | (q != 0))
    if len(nz):
        pp.create_loads(net, buses[nz], p_mw=p[nz] / 1000.0, q_mvar=q[nz] / 1000.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net, numba=False, lightsim2grid=False, tolerance_mva=1e-11, max_iteration=30)
    except pp.LoadflowNotConverged:
        return None
    vm = net.res_bus.vm_pu.to_numpy(float)
    va = net.res_bus.va_degree.to_numpy(float)
    assert len(vm) == radial.n_bus
    return vm, va, float(net.res_line.pl_mw.sum() * 1000.0)


def base_case(grid) -> dict:
    """Base case (tie branches open, nominal loads) by pandapower and by the fast flow."""
    r = grid.radial
    t0 = time.perf_counter()
    ref = runpp_case(grid, r.tie_branches, r.p_load_kw, r.q_load_kvar)
    t_pp = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = solve_radial_batch(r, list(r.tie_branches), r.p_load_kw, r.q_load_kvar)
    t_fast = time.perf_counter() - t0
    out = {
        "fast_loss_kw": float(res.loss_kw[0]), "fast_vmin_pu": float(res.vmin_pu[0]), "fast_ok": bool(res.ok[0]),
        "t_pp_s": t_pp, "t_fast_s": t_fast,
    }
    if ref is None:
        out.update(pp_loss_kw=np.nan, pp_vmin_pu=np.nan, max_dv_pu=np.nan)
    else:
        vm, va, loss = ref
        out.update(pp_loss_kw=loss, pp_vmin_pu=float(vm.min()), max_dv_pu=float(np.abs(vm - res.vm_pu[0]).max()))
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cosim validate", description="Check the fast power flow against pandapower.")
    ap.add_argument("--network", default=None, metavar="NAME",
                    help=f"one network (default: all: {', '.join(NETWORKS.names())}), or simbench:<code>, or a "
                         "pandapower JSON file")
    ap.add_argument("--exhaustive", action="store_true",
                    help="enumerate and solve every radial configuration of the chosen network(s) and print the "
                         "minimum-loss one (always done for ieee33)")
    ap.add_argument("--hit-rates", action="store_true",
                    help="simbench:<code> or a JSON net: also the hit-rate study (EO, PSO and GA over "
                         f"{SEEDS} seeds each and the MILP against the best known plan; minutes)")
    return ap


def exhaustive(r) -> str:
    """Lines reporting the exhaustive minimum-loss search of one network (or why it was skipped)."""
    n = count_spanning_trees(r)
    if n > MAX_EXHAUSTIVE:
        return f"  exhaustive search skipped: {n:.3g} radial configurations (limit {MAX_EXHAUSTIVE:,})"
    ex = timed_exhaustive_optimum(r)
    return (
        f"  radial configurations: {ex['n_configs']:,} enumerated in {ex['enum_s']:.2f} s "
        f"(matrix-tree theorem: {n:,})\n"
        f"  minimum-loss configuration at nominal load: open {ex['open'].tolist()}, losses {ex['loss_kw']:.2f} kW, "
        f"vmin {ex['vmin_pu']:.4f} p.u. ({ex['best_s']:.2f} s for all {ex['n_configs']:,} flows, "
        f"{ex['enum_s'] + ex['best_s']:.2f} s in all)"
    )


class ConvertedReconfiguration(ReconfigurationProblem):
    """Single-hour minimum-loss reconfiguration of a converted net: losses by `cosim.networks.converted.flow`
    (slack at the set-point, the lines' charging: 2 solves), else as `ReconfigurationProblem`."""

    def _flow(self, rows: np.ndarray) -> BatchFlowResult:
        return flow(self.net, rows, self.p_kw, self.q_kvar, tol_pu=self.flow_tol_pu, max_iter=self.flow_max_iter,
                    max_solves=2)


def _original_case(grid, open_ids, oltc: bool) -> tuple[np.ndarray, float, float, str]:
    """runpp on a copy of the original net (open_ids None: the file's switch states): (vm per radial bus, line
    losses kW, transformer losses kW, the taps)."""
    from cosim.networks.switched import run_original, set_open_branches  # noqa: PLC0415 - converted nets only

    net = copy.deepcopy(grid.net)
    if open_ids is not None:
        set_open_branches(net, grid, open_ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_original(net, grid.oltc_trafos if oltc else (), grid.radial.v_slack_pu, tol_pu=1e-11,
                           tolerance_mva=1e-11, numba=False)
    vm = np.full(grid.n_bus, np.nan)
    for bus, k in grid.position_of_bus.items():
        vm[k] = net.res_bus.vm_pu.at[bus]
    note = "taps " + ", ".join(f"{t:.3f}" for t in net.trafo.loc[list(grid.oltc_trafos), "tap_pos"]) if oltc else ""
    return vm, float(net.res_line.pl_mw.sum() * 1e3), float(net.res_trafo.pl_mw.sum() * 1e3), \
        note + ("" if res.converged else f"; {res.message}")


def _converted_case(grid, open_ids) -> tuple[np.ndarray, float]:
    """runpp on the radial model as a pandapower net: (vm per radial bus, line losses kW)."""
    from cosim.networks.switched import converted_net, set_open_branches  # noqa: PLC0415

    r = grid.radial
    net = converted_net(grid)
    set_open_branches(net, grid, open_ids, converted=True)
    nz = np.flatnonzero((r.p_load_kw != 0) | (r.q_load_kvar != 0))
    pp.create_loads(net, nz, p_mw=r.p_load_kw[nz] / 1000.0, q_mvar=r.q_load_kvar[nz] / 1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, numba=False, lightsim2grid=False, tolerance_mva=1e-11, max_iteration=30)
    return net.res_bus.vm_pu.to_numpy(float), float(net.res_line.pl_mw.sum() * 1e3)


def hit_rates(grid, seeds: int = SEEDS, budget: tuple[int, int] = BUDGET,
              algorithms: tuple[str, ...] = ("eo", "pso", "ga"), milp: bool = True) -> dict[str, dict]:
    """Single-hour minimum-loss reconfiguration of a converted net at its base loads by each algorithm over `seeds`
    seeds (a fresh problem per run) and by the MILP (once: deterministic); every plan's losses by the exact flow.
    Per algorithm: "losses" (kW, one per run), "open" (the best run's open ids), "median_s"."""
    r = grid.radial
    out: dict[str, dict] = {}
    for alg in algorithms:
        fn = get_optimizer(alg)
        losses, times, best = [], [], (np.inf, np.zeros(0, int))
        for seed in range(seeds):
            prob = ConvertedReconfiguration(r)
            t0 = time.perf_counter()
            res = fn(prob, n_particles=budget[0], n_iter=budget[1], seed=seed)
            times.append(time.perf_counter() - t0)
            ids = prob.decode(np.asarray(res.x_best)[None, :])[0]
            loss = float(flow(r, ids, r.p_load_kw, r.q_load_kvar).loss_kw[0])
            losses.append(loss)
            if loss < best[0]:
                best = (loss, ids)
        out[alg] = {"losses": np.asarray(losses), "open": best[1], "median_s": float(np.median(times))}
    if milp:
        from cosim.controllers.milp.single_hour import solve_single_hour_reconfiguration  # noqa: PLC0415

        # the MILP (LinDistFlow, slack at 1 p.u.) sees the lines' charging as fixed reactive injections at the
        # slack voltage in the base topology; its topology is judged by the exact flow
        y = r.shunt_y_pu(r.branch_indices(r.tie_branches)[None, :])[0]
        q = r.q_load_kvar - y.imag * r.v_slack_pu**2 * 1000.0 * r.base_mva
        t0 = time.perf_counter()
        res = solve_single_hour_reconfiguration(r, r.p_load_kw, q, node_limit=MILP_NODE_LIMIT)
        wall = time.perf_counter() - t0
        ids = np.asarray(res.open_branches, dtype=int)
        loss = float(flow(r, ids, r.p_load_kw, r.q_load_kvar).loss_kw[0]) if len(ids) else np.inf
        status = "optimal" if res.status == "Optimal" else (
            "at its node limit" if res.status == "Solution limit reached" else res.status)
        out["milp"] = {"losses": np.array([loss]), "open": ids, "median_s": wall,
                       "status": f"{status}, {res.nodes:,} nodes, MIP gap {100 * res.gap:.2f} %, LinDistFlow bound "
                                 f"{res.bound_kw:.2f} kW"}
    return out


def best_exchange(r, open_ids) -> tuple[float, int]:
    """Least losses (kW) over every radial configuration one branch exchange away from `open_ids` (close one open
    branch, open another), and how many there are: no improvement = a local optimum."""
    ids = [int(b) for b in open_ids]
    rows = {tuple(sorted([*ids[:i], int(c), *ids[i + 1:]])) for i in range(len(ids))
            for c in r.branch_ids if int(c) not in ids}
    arr = np.array(sorted(rows), dtype=int)
    arr = arr[radial_mask(r, arr)]
    res = flow(r, arr, r.p_load_kw, r.q_load_kvar)
    return float(np.nanmin(np.where(res.ok, res.loss_kw, np.inf))), len(arr)


def validate_converted(name: str, exhaustive_limit: int = ENUMERATION_LIMIT, seeds: int | None = None,
                       budget: tuple[int, int] | None = None, study: bool = False) -> int:
    """Print the checks of one converted net (see the module docstring), each with its time, and the hit-rate
    study when `study` (--hit-rates); 0 when every flow agrees. `seeds` and `budget` of the study default to SEEDS
    and BUDGET."""
    t_start = time.perf_counter()
    grid = load_network(name)  # NetworkDataError (bad code, not a pandapower net, ...) before any output
    t_build = time.perf_counter() - t_start
    r = grid.radial
    base = list(r.tie_branches)
    n_lines = sum(1 for b in r.branch_ids if int(b) in grid.line_of_branch)
    ratings = ", ".join(f"{n} {s / 1000:g} MVA" for n, s in zip(r.section_names, r.section_s_max_kva))
    n_trafo = len(grid.trafo_of_branch)
    held = bool(grid.oltc_trafos) or not n_trafo  # the slack busbar held at a set-point (or no transformer)
    slack = (f"the MV busbar at {r.v_slack_pu:g} p.u. (tap changers of transformer(s) {list(grid.oltc_trafos)}; "
             f"{ratings or 'no transformer'})" if held else
             f"the external grid's busbar at {r.v_slack_pu:g} p.u.; transformers as branches, taps as given")
    print(f"{name}: {r.n_bus} buses, {r.n_branch} branches ({n_lines} lines, {n_trafo} transformer(s), "
          f"{r.n_branch - n_lines - n_trafo} other), {len(r.loops)} loops (built in {t_build:.1f} s)\n"
          f"  slack: {slack}; voltage limits {r.v_min_pu:g}-{r.v_max_pu:g}")
    if r.n_bus > QUICK_BUSES:
        print(f"  {r.n_bus} buses, more than {QUICK_BUSES}: the checks may take longer than 30 s; each prints its time")
    sw = grid.net.switch
    opened = [f"{grid.switch_of_branch[b]} ({sw.at[grid.switch_of_branch[b], 'name']})" if b in grid.switch_of_branch
              else f"line {grid.line_of_branch[b]} (out of service)" for b in base]
    print(f"  open in the base state (branches {base}): switch(es) {', '.join(opened)}"
          + (f"; couplers never operated: switch(es) {list(grid.dropped_switches)}" if grid.dropped_switches else ""))
    t0 = time.perf_counter()
    vm_file, loss_file, trafo_file, _ = _original_case(grid, None, oltc=False)
    print(f"  original net as given (file taps): losses {loss_file + trafo_file:.2f} kW ({loss_file:.2f} lines + "
          f"{trafo_file:.2f} transformers), vmin {np.nanmin(vm_file):.4f} p.u. ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    fast = flow(r, base, r.p_load_kw, r.q_load_kvar)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    vm_orig, loss_orig, trafo_orig, note = _original_case(grid, base, oltc=True)
    t_orig = time.perf_counter() - t0
    dv_orig = float(np.nanmax(np.abs(vm_orig - fast.vm_pu[0])))
    if held:  # the radial model as a pandapower net of lines and switches (transformers as branches have no place)
        t0 = time.perf_counter()
        vm_conv, loss_conv = _converted_case(grid, base)
        dv_conv = float(np.nanmax(np.abs(vm_conv - fast.vm_pu[0])))
        conv = (f"  converted net (runpp): losses {loss_conv:.2f} kW, vmin {vm_conv.min():.4f} p.u. "
                f"({time.perf_counter() - t0:.1f} s)\n")
    else:
        dv_conv, conv = 0.0, ""
    agree = bool(fast.ok[0]) and dv_orig <= AGREEMENT_PU and dv_conv <= AGREEMENT_PU
    print(f"  original net, {f'taps at the set-point ({note})' if held else 'taps as given'}: losses "
          f"{loss_orig:.2f} kW lines + {trafo_orig:.2f} kW transformers, vmin {np.nanmin(vm_orig):.4f} p.u. "
          f"({t_orig:.1f} s)\n"
          f"{conv}"
          f"  fast flow: losses {fast.loss_kw[0]:.2f} kW, vmin {fast.vmin_pu[0]:.4f} p.u. ({t_fast * 1e3:.1f} ms)\n"
          f"  max |dV| fast vs original = {dv_orig:.1e}{f', vs converted = {dv_conv:.1e}' if held else ''} p.u. -> "
          f"{'agree' if agree else 'DISAGREE'} (limit {AGREEMENT_PU:g})\n"
          f"  radial configurations: {count_radial(r):,} (matrix-tree theorem, exact)")
    t0 = time.perf_counter()
    exact = exact_optimum(r, limit=exhaustive_limit)
    if exact is not None:
        print(f"  minimum-loss configuration (each group of feeders enumerated: {exact[2]:,} flows, "
              f"{time.perf_counter() - t0:.1f} s): open {exact[0].tolist()}, losses {exact[1]:.2f} kW")
    else:
        print(f"  minimum-loss configuration not enumerated: a group of feeders has more than {exhaustive_limit:,} "
              f"configurations; {'reference = the best plan found below' if study else 'see --exhaustive'}")
    if study:
        print_hit_rates(grid, None if exact is None else exact[1], SEEDS if seeds is None else seeds,
                        BUDGET if budget is None else budget)
    else:
        print("  hit rates of EO, PSO, GA and the MILP against the best known plan: --hit-rates (minutes)")
    print(f"  checked in {time.perf_counter() - t_start:.1f} s")
    return 0 if agree else 1


def print_hit_rates(grid, exact_kw: float | None, seeds: int, budget: tuple[int, int]) -> None:
    """Print the hit-rate study (`hit_rates`) against the exact optimum `exact_kw`, or, where none was enumerated,
    against the best plan the study found (and whether it is a local optimum)."""
    r = grid.radial
    runs = hit_rates(grid, seeds=seeds, budget=budget)
    best_alg = min(runs, key=lambda a: runs[a]["losses"].min())
    ref = exact_kw if exact_kw is not None else float(runs[best_alg]["losses"].min())
    if exact_kw is None:
        neighbour, n_nb = best_exchange(r, runs[best_alg]["open"])
        print(f"  best known plan ({best_alg}): open {sorted(runs[best_alg]['open'].tolist())}, losses {ref:.2f} kW; "
              f"best of its {n_nb} radial one-exchange neighbours {neighbour:.2f} kW"
              f"{' (a local optimum)' if neighbour >= ref * (1 - 1e-9) else ''}")
    print(f"  reconfiguration at base load: {seeds} seeds of EO, PSO and GA ({budget[0]} x {budget[1]}) and the "
          f"MILP; hit = within {HIT_RTOL:.0e} of {ref:.2f} kW")
    for alg, v in runs.items():
        losses = v["losses"]
        hits = int(np.sum(losses <= ref * (1 + HIT_RTOL)))
        print(f"    {alg:<5} hits {hits:>2}/{len(losses):<2} best {losses.min():8.2f}  median {np.median(losses):8.2f}"
              f"  worst {losses.max():8.2f} kW  ({v['median_s']:.1f} s{' per run' if len(losses) > 1 else ''}"
              f"{', ' + v['status'] if 'status' in v else ''})")


def main(argv: list[str] | None = None) -> int:
    """Print the comparison for the chosen networks; 0 when all agree within AGREEMENT_PU, 2 for an unknown
    network name. argv: the options (None: none, as `cosim validate` without options calls it)."""
    args = build_parser().parse_args([] if argv is None else argv)
    names = list(NETWORKS.names())
    if args.network is not None and is_converted_name(args.network):
        try:
            return validate_converted(args.network, MAX_EXHAUSTIVE if args.exhaustive else ENUMERATION_LIMIT,
                                      study=args.hit_rates)
        except InputError as exc:  # NetworkDataError: an unknown SimBench code, not a pandapower net, ...
            print(f"cosim validate: error: {exc}")
            return 2
    if args.hit_rates:
        print("cosim validate: error: --hit-rates: only for a converted net (--network simbench:<code> or a "
              "pandapower JSON file)")
        return 2
    if args.network is not None:
        if args.network not in names:
            print(f"cosim validate: error: unknown network {args.network!r}; known networks: {', '.join(names)}")
            return 2
        names = [args.network]
    status = 0
    for name in names:
        try:
            grid = load_network(name)
        except Exception as exc:  # noqa: BLE001 - a network builder of another module failing must not hide the others
            print(f"{name}: could not be built: {exc}")
            status = 1
            continue
        r = grid.radial
        b = base_case(grid)
        agree = b["fast_ok"] and b["max_dv_pu"] < AGREEMENT_PU
        status |= 0 if agree else 1
        print(
            f"{name}: {r.n_bus} buses, {r.n_branch} branches, ties open {list(r.tie_branches)}\n"
            f"  pandapower runpp: losses {b['pp_loss_kw']:.2f} kW, vmin {b['pp_vmin_pu']:.4f} p.u. "
            f"({b['t_pp_s'] * 1e3:.1f} ms)\n"
            f"  fast radial flow: losses {b['fast_loss_kw']:.2f} kW, vmin {b['fast_vmin_pu']:.4f} p.u. "
            f"({b['t_fast_s'] * 1e3:.1f} ms)\n"
            f"  max |dV| = {b['max_dv_pu']:.2e} p.u. -> {'agree' if agree else 'DISAGREE'} (limit {AGREEMENT_PU:g})"
        )
        if name == "ieee33" or args.exhaustive:
            print(exhaustive(r))
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
