"""Network data: the built-in feeders and the pandapower converter, by name (no grid simulator)."""

from cosim.networks.catalogue import NETWORKS, GridNetwork, load_network

__all__ = ["NETWORKS", "GridNetwork", "load_network"]
