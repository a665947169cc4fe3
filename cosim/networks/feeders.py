"""Line-only feeders shipped as CSV files: IEEE 69-bus and the 118-bus distribution feeder."""

from __future__ import annotations

from cosim.networks.converter import NO_LIMIT_KA, GridNetwork, build_line_network, read_network_csv


def csv_feeder(name: str, n_bus: int, kv: float, description: str) -> GridNetwork:
    """A line-only feeder from <name>.csv (branch_id, from_bus, to_bus, r_ohm, x_ohm, tie) and <name>_loads.csv
    (bus, p_kw, q_kvar), buses numbered 1..n_bus, base 10 MVA; rows with tie = 1 start open."""
    br = read_network_csv(f"{name}.csv", ["branch_id", "from_bus", "to_bus", "r_ohm", "x_ohm", "tie"])
    ld = read_network_csv(f"{name}_loads.csv", ["bus", "p_kw", "q_kvar"])
    ties = tuple(int(b) for b in br.branch_id[br.tie == 1])
    branches = [
        (int(r.branch_id), str(r.from_bus), str(r.to_bus), float(r.r_ohm), float(r.x_ohm), 1.0, NO_LIMIT_KA)
        for r in br.itertuples()
    ]
    loads = {str(r.bus): (float(r.p_kw), float(r.q_kvar)) for r in ld.itertuples()}
    labels = [str(i) for i in range(1, n_bus + 1)]
    return build_line_network(name, labels, kv, 10.0, branches, loads, ties, 0.9, 1.05, description)


def ieee69() -> GridNetwork:
    """IEEE 69-bus, 12.66 kV, base 10 MVA (Baran & Wu 1989 via MATPOWER case69): branches 1..68 sectionalising
    (branch k feeds bus k+1), 69..73 the tie lines 11-43, 13-21, 15-46, 50-59, 27-65 (open)."""
    return csv_feeder("ieee69", 69, 12.66, "IEEE 69-bus, 12.66 kV (Baran & Wu 1989)")


def dist118() -> GridNetwork:
    """118-bus 11 kV distribution feeder of Zhang, Fu & Zhang (2007) via MATPOWER case118zh, base 10 MVA:
    branches 1..117 sectionalising (file order), 118..132 its 15 tie lines (open). 22.7 MW of load: the
    larger feeder for scaling studies."""
    return csv_feeder("dist118", 118, 11.0, "118-bus 11 kV distribution feeder (Zhang et al. 2007, MATPOWER case118zh)")
