"""Imported once by the local sweep pool's fork server, so that every worker forks with the co-simulation
already loaded (pandapower alone takes ~3 s to import) instead of importing it again.

Workers run one co-simulation each, side by side: BLAS thread pools are limited to one thread per worker
(set before numpy is imported), as several multi-threaded pools on the same cores slow every run down.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import cosim.runner.postprocess  # noqa: E402
import cosim.runner.run  # noqa: E402
import cosim.runner.world  # noqa: E402, F401
from cosim.networks import load_network  # noqa: E402
from cosim.powerflow.bfs import solve_radial_batch  # noqa: E402

_net = load_network("ieee33").radial  # the default network, built once here and inherited (cached) by every worker
# the compiled power-flow kernels are loaded (or compiled) here once: workers inherit them and never compile,
# so a worker killed with the main process is never caught half-way through writing numba's cache
solve_radial_batch(_net, np.asarray(_net.tie_branches), _net.p_load_kw[None, :], _net.q_load_kvar[None, :])
