"""A user's feeder, named by dotted path ("user_network:ring5") in a scenario (the README's recipe, tested).

Five buses at 11 kV: two feeders from the substation (1-2-3 and 1-4-5) joined by a tie between 3 and 5
(branch 5, open), so the DSO can move bus 3 or 5 to the other feeder.
"""

from __future__ import annotations

from cosim.networks.converter import NO_LIMIT_KA, GridNetwork, build_line_network


def ring5() -> GridNetwork:
    branches = [  # (branch id, from, to, r_ohm, x_ohm, length_km, max_i_ka)
        (1, "1", "2", 0.8, 0.6, 1.0, NO_LIMIT_KA),
        (2, "2", "3", 1.2, 0.9, 1.0, NO_LIMIT_KA),
        (3, "1", "4", 0.5, 0.4, 1.0, NO_LIMIT_KA),
        (4, "4", "5", 0.6, 0.5, 1.0, NO_LIMIT_KA),
        (5, "3", "5", 0.9, 0.7, 1.0, NO_LIMIT_KA),  # tie
    ]
    loads = {"2": (800.0, 300.0), "3": (1500.0, 600.0), "4": (300.0, 100.0), "5": (200.0, 80.0)}
    return build_line_network("ring5", ["1", "2", "3", "4", "5"], 11.0, 10.0, branches, loads, ties=(5,),
                              v_min_pu=0.9, v_max_pu=1.05, description="5-bus ring, 11 kV (user example)")
