"""cosim.runner.warm: after the warm-up bootstrap.sh runs, a run compiles no kernel (numba's cache serves it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cosim.powerflow import enumerate_radial, solve_radial_batch
from cosim.runner.warm import warm_network

pytestmark = pytest.mark.slow  # real co-simulations / fresh processes: not in the quick subset

ROOT = Path(__file__).resolve().parents[2]


def _kernel_cache_files(env: dict[str, str]) -> dict[str, int]:
    """numba's cached machine code of our kernels (file -> mtime in ns), where this environment keeps it."""
    where = ([Path(env["NUMBA_CACHE_DIR"])] if env.get("NUMBA_CACHE_DIR")
             else [ROOT / "cosim" / package / "__pycache__" for package in ("powerflow", "controllers")])
    return {str(p): p.stat().st_mtime_ns for d in where if d.exists() for p in d.rglob("*.nbc")
            if p.name.startswith(("kernels.", "envelope_pass.", "dispatch_pass."))}


def test_after_the_warm_up_a_real_run_compiles_no_kernel_in_any_of_its_processes():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    warm = subprocess.run([sys.executable, "-m", "cosim.runner.warm"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert "flow kernels:" in warm.stdout
    before = _kernel_cache_files(env)
    assert before, "the warm-up wrote nothing into numba's cache"
    # a fresh process runs the default scenario for a day (a short EO: the same flows, signatures and worker)
    code = textwrap.dedent("""
        import sys, tempfile
        from cosim.config import load_scenario
        from cosim.runner.run import run_scenario
        ctrl = {"name": "eo", "objective": "of3", "options": {"n_particles": 4, "n_iter": 3}}
        summary = run_scenario(load_scenario("scenarios/default.toml", overrides={"controller": ctrl}),
                               output_dir=tempfile.mkdtemp(), progress=False, plots=False)
        from cosim.runner.warm import kernel_stats
        print(summary.status, kernel_stats().misses)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["completed", "0"]  # nothing compiled in the run's own process
    assert _kernel_cache_files(env) == before  # nor in its worker: no cache entry was written or rewritten


def test_the_warm_up_network_has_loops_and_mixed_topologies_to_compile_every_path():
    net = warm_network(read_only=True)
    assert len(net.loops) == 2 and not net.r_pu.flags.writeable
    configs = enumerate_radial(net)
    assert len(configs) > 8  # more than one SIMD block of lanes, and changes of topology
    res = solve_radial_batch(net, np.repeat(configs, 9, axis=0), net.p_load_kw, net.q_load_kvar)
    assert res.ok.all()
