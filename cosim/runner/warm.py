"""Compile the numba kernels a run uses into numba's on-disk cache, so that no run pays the compile pause.

`bootstrap.sh` runs `python -m cosim.runner.warm` after installing: it calls every public entry point of
`cosim.powerflow` that reaches a compiled kernel (the batched flow and its per-case totals, one and many
topologies, radiality checks, tree orders, the spanning-tree enumeration) on a small feeder built here, with
the argument types a run passes (writable and write-protected arrays are different signatures to numba), and one
`pandapower.runpp` as the grid simulator calls it (pandapower jit-compiles a helper too), the lots' envelope
projection and violation (`cosim.controllers.envelope_pass`) and the PEV-count decoding
(`cosim.controllers.dispatch_pass`).
The kernels are `cache=True`: the machine code lands in numba's cache
(`NUMBA_CACHE_DIR`, default `__pycache__` beside `cosim/powerflow/kernels.py`) and a fresh process loads it
instead of compiling. Running it again is cheap (everything is loaded from the cache) and reports cache misses,
so `python -m cosim.runner.warm` also says whether the cache serves this machine.

The cache is keyed on the kernels' source file (its modification time and size): after an edit of
`kernels.py`, run it again (bootstrap.sh does, each time).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from cosim.powerflow.network_data import RadialNetwork

__all__ = ["KernelStats", "kernel_stats", "warm", "warm_network"]


@dataclass(frozen=True)
class KernelStats:
    """Numba's counters for the compiled flow kernels of this process: signatures loaded from the cache (hits),
    signatures compiled here (misses), and the kernels that were compiled at all."""

    hits: int
    misses: int
    compiled: tuple[str, ...]


def kernel_stats() -> KernelStats:
    """Cache hits and misses of every numba kernel of `cosim.powerflow.kernels` in this process so far."""
    from numba.core.registry import CPUDispatcher  # noqa: PLC0415 - numba only when asked

    from cosim.powerflow.bfs import kernels  # noqa: PLC0415

    hits = misses = 0
    compiled = []
    for name, obj in sorted(vars(kernels()).items()):
        if isinstance(obj, CPUDispatcher):
            stats = obj.stats
            hits += sum(stats.cache_hits.values())
            misses += sum(stats.cache_misses.values())
            if obj.signatures:
                compiled.append(name)
    return KernelStats(hits, misses, tuple(compiled))


def warm_network(read_only: bool = False) -> RadialNetwork:
    """A 9-bus feeder with two tie branches (two loops): small, built without pandapower, and of the same array
    types as every network a run loads (compiled code depends on the types only). `read_only`: its arrays
    write-protected, as in the controller's read-only copy of a problem (another signature for numba)."""
    branches = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (7, 8), (4, 8), (2, 6)]
    n = len(branches)
    net = RadialNetwork(
        name="warm-up feeder", base_kv=12.66, base_mva=10.0, slack_bus=0,
        from_bus=np.array([f for f, _ in branches]), to_bus=np.array([t for _, t in branches]),
        r_pu=np.full(n, 0.01), x_pu=np.full(n, 0.008), p_load_kw=np.r_[0.0, np.full(8, 150.0)],
        q_load_kvar=np.r_[0.0, np.full(8, 60.0)], branch_ids=np.arange(1, n + 1), tie_branches=(9, 10),
        i_max_ka=np.full(n, 0.4))
    if read_only:
        for value in vars(net).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
    return net


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr)
    out.setflags(write=False)
    return out


def warm() -> float:
    """Call each kernel through the public API once per argument type a run passes (writable and write-protected
    networks and loads); returns the seconds it took."""
    from cosim.powerflow import enumerate_radial, radial_mask, solve_radial_batch, solve_radial_summary  # noqa: PLC0415
    from cosim.powerflow.bfs import tree_orders  # noqa: PLC0415

    t0 = time.perf_counter()
    for read_only in (False, True):
        net = warm_network(read_only)
        base = np.asarray(sorted(net.tie_branches), dtype=np.int64)
        configs = enumerate_radial(net)  # spanning-tree enumeration (connected_rows)
        mixed = np.repeat(configs, 9, axis=0)  # runs of equal topologies (lanes) and changes (one at a time)
        scale = np.linspace(0.5, 1.5, len(mixed))[:, None]
        p, q = net.p_load_kw * scale, net.q_load_kvar * scale
        for p_ro, q_ro in ((False, False), (False, True), (True, False), (True, True)):
            pp, qq = (_frozen(p) if p_ro else p), (_frozen(q) if q_ro else q)
            solve_radial_batch(net, mixed, pp, qq)  # many cases, mixed topologies
            solve_radial_batch(net, base, pp[0], qq[0], v_slack_pu=1.02)  # one case
            solve_radial_summary(net, mixed, pp, qq)
        radial_mask(net, mixed)
        closed = np.ones((2, net.n_branch), dtype=bool)
        closed[0, base - 1] = False
        tree_orders(net, closed)
    _warm_envelope()
    return time.perf_counter() - t0


def _warm_envelope() -> None:
    """The lots' envelope projection and violation and the PEV-count decoding, compiled too
    (`cosim.controllers.envelope_pass`, `cosim.controllers.dispatch_pass`: an optimiser's hot loop)."""
    from cosim.controllers.dispatch_pass import decode  # noqa: PLC0415
    from cosim.controllers.envelope_pass import forward_pass, project_pass, violation  # noqa: PLC0415

    hours = np.ones(24)
    schedules = np.linspace(-2.0, 2.0, 72).reshape(3, 24)
    forward_pass(np.zeros((3, 24)), -hours, hours, -hours, hours, 0.95, 0.95)
    for suffix in (None, hours):
        violation(schedules, -hours, hours, -hours, hours, suffix, suffix, 0.95, 0.95)
        project_pass(schedules, -hours, hours, -hours, hours, suffix, suffix, 0.95, 0.95)
    positions = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    layout = (np.array([3, 3, 2, 2]), np.array([1, 1, -1, -1]), np.array([0, 1, 18, 19]))
    decode(positions, *layout, 24, True, np.inf)
    decode(positions, *layout, 24, False, 5.0)


def warm_pandapower() -> float:
    """One `pandapower.runpp` as the grid simulator calls it (pandapower compiles a helper of its own with numba,
    cached the same way); returns the seconds it took."""
    import pandapower as pp  # noqa: PLC0415 - ~2 s; only here, not in `warm`
    import pandapower.networks as pn  # noqa: PLC0415

    t0 = time.perf_counter()
    net = pn.case33bw()
    pp.runpp(net, numba=False, max_iteration=30, calculate_voltage_angles=True, lightsim2grid=False)
    return time.perf_counter() - t0


def main() -> int:
    seconds = warm() + warm_pandapower()
    stats = kernel_stats()
    where = "compiled into numba's cache" if stats.misses else "all loaded from numba's cache"
    print(f"flow kernels: {len(stats.compiled)} warm in {seconds:.1f} s ({where}: {stats.hits} cache hits, "
          f"{stats.misses} compiled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
