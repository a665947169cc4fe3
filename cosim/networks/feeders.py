"""Line-only feeders shipped as CSV files: IEEE 69-bus and the 118-bus distribution feeder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cosim.networks.lines import NO_LIMIT_KA, LineData, read_network_csv

if TYPE_CHECKING:
    from cosim.networks.converter import GridNetwork


def csv_feeder_data(name: str, n_bus: int, kv: float, description: str) -> LineData:
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
    return LineData(name, labels, kv, 10.0, branches, loads, ties, 0.9, 1.05, description)


def csv_feeder(name: str, n_bus: int, kv: float, description: str) -> GridNetwork:
    """`csv_feeder_data` as a pandapower net."""
    from cosim.networks.converter import line_network  # noqa: PLC0415 - pandapower only for the pandapower net

    return line_network(csv_feeder_data(name, n_bus, kv, description))


IEEE69 = ("ieee69", 69, 12.66, "IEEE 69-bus, 12.66 kV (Baran & Wu 1989)")
DIST118 = ("dist118", 118, 11.0, "118-bus 11 kV distribution feeder (Zhang et al. 2007, MATPOWER case118zh)")


def ieee69_data() -> LineData:
    """IEEE 69-bus, 12.66 kV, base 10 MVA (Baran & Wu 1989 via MATPOWER case69): branches 1..68 sectionalising
    (branch k feeds bus k+1), 69..73 the tie lines 11-43, 13-21, 15-46, 50-59, 27-65 (open)."""
    return csv_feeder_data(*IEEE69)


def dist118_data() -> LineData:
    """118-bus 11 kV distribution feeder of Zhang, Fu & Zhang (2007) via MATPOWER case118zh, base 10 MVA:
    branches 1..117 sectionalising (file order), 118..132 its 15 tie lines (open). 22.7 MW of load: the
    larger feeder for scaling studies."""
    return csv_feeder_data(*DIST118)


def ieee69() -> GridNetwork:
    """IEEE 69-bus (`ieee69_data`) as a pandapower net."""
    return csv_feeder(*IEEE69)


def dist118() -> GridNetwork:
    """The 118-bus feeder (`dist118_data`) as a pandapower net."""
    return csv_feeder(*DIST118)
