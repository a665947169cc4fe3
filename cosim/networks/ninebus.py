"""The 9-bus 33 kV radial network of seeds 001/002 (four feeders from the substation; no tie lines)."""

from __future__ import annotations

import numpy as np

from cosim.networks.converter import NO_LIMIT_KA, GridNetwork, build_line_network, read_network_csv
from cosim.powerflow.network_data import NetworkDataError

NINEBUS_LEVELS = {"low": "p_low_mw", "medium": "p_medium_mw", "peak": "p_peak_mw"}
NINEBUS_POWER_FACTOR = 0.9
"""Load power factor of the 9-bus net: the seeds give MW only; 0.9 lagging reproduces seed 001's
'without V2G' voltage table within 0.02 p.u. (see scenarios/data/networks/README.md)."""


def ninebus(load_level: str = "peak", power_factor: float = NINEBUS_POWER_FACTOR) -> GridNetwork:
    """9-bus 33 kV radial network of seeds 001/002 (four feeders from substation bus 1); no tie lines.

    load_level: 'peak' (level 3, default), 'medium' (level 2) or 'low' (level 1); the load of each
    section in the seed's table sits at the section's receiving bus.
    """
    if load_level not in NINEBUS_LEVELS:
        raise NetworkDataError(f"ninebus: load_level {load_level!r} is not one of {sorted(NINEBUS_LEVELS)}")
    if not 0.0 < float(power_factor) <= 1.0:
        raise NetworkDataError(f"ninebus: power_factor {power_factor!r} must be in (0, 1]")
    df = read_network_csv("ninebus.csv", ["section_id", "from_bus", "to_bus", "r_ohm", "x_ohm", "length_km",
                                          *NINEBUS_LEVELS.values()])
    df = df.sort_values("to_bus")  # branch k feeds bus k+1, as in the 33- and 69-bus numbering
    tan_phi = np.tan(np.arccos(float(power_factor)))
    labels = [str(i) for i in range(1, 10)]
    branches = [
        (k, str(r.from_bus), str(r.to_bus), float(r.r_ohm), float(r.x_ohm), float(r.length_km), NO_LIMIT_KA)
        for k, r in enumerate(df.itertuples(), start=1)
    ]
    col = NINEBUS_LEVELS[load_level]
    loads = {str(r.to_bus): (1000.0 * getattr(r, col), 1000.0 * getattr(r, col) * tan_phi) for r in df.itertuples()}
    return build_line_network(
        "ninebus", labels, 33.0, 100.0, branches, loads, (), 0.9, 1.1,
        f"9-bus 33 kV (seeds 001/002), {load_level} load, pf {power_factor}",
    )
