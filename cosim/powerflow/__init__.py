"""Fast radial power flow and topology tools (no pandapower or mosaik imports)."""

from cosim.powerflow.bfs import (
    BatchFlowResult,
    FlowSummary,
    PowerFlowInputError,
    solve_radial_batch,
    solve_radial_summary,
)
from cosim.powerflow.network_data import NetworkDataError, RadialNetwork
from cosim.powerflow.prepared import PreparedNetwork
from cosim.powerflow.topology import (
    TopologyError,
    best_configuration,
    check_radial,
    count_spanning_trees,
    decode_loops,
    enumerate_radial,
    is_radial,
    radial_mask,
    repair,
)

__all__ = [
    "BatchFlowResult", "FlowSummary", "NetworkDataError", "PowerFlowInputError", "PreparedNetwork", "RadialNetwork",
    "TopologyError",
    "best_configuration", "check_radial", "count_spanning_trees", "decode_loops", "enumerate_radial",
    "is_radial", "radial_mask", "repair", "solve_radial_batch", "solve_radial_summary",
]
