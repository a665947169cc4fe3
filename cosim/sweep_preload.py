"""Imported once by the local sweep pool's fork server, so that every worker forks with the co-simulation
(pandapower alone takes ~3 s to import) already loaded instead of importing it again."""

import cosim.postprocess  # noqa: F401
import cosim.run  # noqa: F401
import cosim.world  # noqa: F401
import simulators.grid.networks  # noqa: F401
