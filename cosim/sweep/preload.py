"""Imported once by the local sweep pool's fork server, so that every worker forks with the co-simulation
already loaded (pandapower alone takes ~3 s to import) instead of importing it again.

Workers run one co-simulation each, side by side: BLAS thread pools are limited to one thread per worker
(set before numpy is imported), as several multi-threaded pools on the same cores slow every run down.
The compiled power-flow kernels are loaded (or compiled) here once: workers inherit them and never compile, so a
worker killed with the main process is never caught half-way through writing numba's cache. What is loaded here is
then frozen (`cosim.sweep.warm`): each run's garbage collection before it forks its controller server skips it.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from cosim.sweep.warm import freeze_heap, warm_process  # noqa: E402

warm_process()  # the default network, built once here and inherited (cached) by every worker
freeze_heap()
