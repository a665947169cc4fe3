"""IEEE 33-bus feeder (Baran & Wu 1989): the data of pandapower's case33bw, built by our line-network builder.

The numbers are those of `pandapower.networks.case33bw()` (12.66 kV, base 10 MVA, lines of 1 km); building from
this table takes ~0.1 s against ~0.4 s for loading pandapower's JSON case, start-up time of every run.
tests/powerflow/test_ieee33_data.py checks the table and the flows against case33bw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cosim.networks.lines import NO_LIMIT_KA, LineData, line_radial

if TYPE_CHECKING:
    from cosim.networks.converter import GridNetwork

# branch id, from bus, to bus, r [ohm], x [ohm] (buses 1-based; 33..37 are the ties)
BRANCHES = (
    (1, 1, 2, 0.0922, 0.047), (2, 2, 3, 0.493, 0.2511), (3, 3, 4, 0.366, 0.1864), (4, 4, 5, 0.3811, 0.1941),
    (5, 5, 6, 0.819, 0.707), (6, 6, 7, 0.1872, 0.6188), (7, 7, 8, 0.7114, 0.2351), (8, 8, 9, 1.03, 0.74),
    (9, 9, 10, 1.044, 0.74), (10, 10, 11, 0.1966, 0.065), (11, 11, 12, 0.3744, 0.1238), (12, 12, 13, 1.468, 1.155),
    (13, 13, 14, 0.5416, 0.7129), (14, 14, 15, 0.591, 0.526), (15, 15, 16, 0.7463, 0.545),
    (16, 16, 17, 1.289, 1.721), (17, 17, 18, 0.732, 0.574), (18, 2, 19, 0.164, 0.1565),
    (19, 19, 20, 1.5042, 1.3554), (20, 20, 21, 0.4095, 0.4784), (21, 21, 22, 0.7089, 0.9373),
    (22, 3, 23, 0.4512, 0.3083), (23, 23, 24, 0.898, 0.7091), (24, 24, 25, 0.896, 0.7011),
    (25, 6, 26, 0.203, 0.1034), (26, 26, 27, 0.2842, 0.1447), (27, 27, 28, 1.059, 0.9337),
    (28, 28, 29, 0.8042, 0.7006), (29, 29, 30, 0.5075, 0.2585), (30, 30, 31, 0.9744, 0.963),
    (31, 31, 32, 0.3105, 0.3619), (32, 32, 33, 0.341, 0.5302), (33, 21, 8, 2.0, 2.0), (34, 9, 15, 2.0, 2.0),
    (35, 12, 22, 2.0, 2.0), (36, 18, 33, 0.5, 0.5), (37, 25, 29, 0.5, 0.5),
)
# bus: (P [kW], Q [kvar]); bus 1 (the substation) has no load
LOADS = {
    2: (100.0, 60.0), 3: (90.0, 40.0), 4: (120.0, 80.0), 5: (60.0, 30.0), 6: (60.0, 20.0), 7: (200.0, 100.0),
    8: (200.0, 100.0), 9: (60.0, 20.0), 10: (60.0, 20.0), 11: (45.0, 30.0), 12: (60.0, 35.0), 13: (60.0, 35.0),
    14: (120.0, 80.0), 15: (60.0, 10.0), 16: (60.0, 20.0), 17: (60.0, 20.0), 18: (90.0, 40.0), 19: (90.0, 40.0),
    20: (90.0, 40.0), 21: (90.0, 40.0), 22: (90.0, 40.0), 23: (90.0, 50.0), 24: (420.0, 200.0), 25: (420.0, 200.0),
    26: (60.0, 25.0), 27: (60.0, 25.0), 28: (60.0, 20.0), 29: (120.0, 70.0), 30: (200.0, 600.0),
    31: (150.0, 70.0), 32: (210.0, 100.0), 33: (60.0, 40.0),
}
TIES = (33, 34, 35, 36, 37)


def ieee33_data() -> LineData:
    """IEEE 33-bus (Baran & Wu 1989): branches 1..32 sectionalising, 33..37 ties (open)."""
    labels = [str(b) for b in range(1, 34)]
    branches = [(bid, str(f), str(t), r, x, 1.0, NO_LIMIT_KA) for bid, f, t, r, x in BRANCHES]
    loads = {str(b): pq for b, pq in LOADS.items()}
    return LineData("ieee33", labels, 12.66, 10.0, branches, loads, TIES, 0.9, 1.05,
                    "IEEE 33-bus, 12.66 kV (Baran & Wu 1989, the data of pandapower case33bw)")


def ieee33() -> GridNetwork:
    """IEEE 33-bus (Baran & Wu 1989): branches 1..32 sectionalising, 33..37 ties (open)."""
    from cosim.networks.converter import line_network  # noqa: PLC0415 - pandapower only for the pandapower net

    return line_network(ieee33_data())


RATING_MARGIN = 1.25
"""`ieee33_rated`: each line's ampacity is this multiple of its current at the nominal load, base topology ..."""
RATING_FLOOR_KA = 0.025
"""... and at least this (25 A, 548 kVA at 12.66 kV): the ties and the lightly loaded laterals get a small cable."""


def ieee33_rated_data() -> LineData:
    """IEEE 33-bus with line ratings, which the source does not give. Stated rule: a line's ampacity is
    RATING_MARGIN x its current at the nominal load in the base topology (the feeder built for its peak with 25 %
    headroom), at least RATING_FLOOR_KA; the ties get the floor. Everything else is `ieee33`."""
    import numpy as np  # noqa: PLC0415

    from cosim.powerflow import solve_radial_batch  # noqa: PLC0415

    net = line_radial(ieee33_data())
    flow = solve_radial_batch(net, np.array([net.tie_branches]), net.p_load_kw[None], net.q_load_kvar[None])
    rating = np.maximum(RATING_MARGIN * flow.i_branch_ka[0], RATING_FLOOR_KA)
    branches = [(bid, str(f), str(t), r, x, 1.0, float(round(rating[i], 4)))
                for i, (bid, f, t, r, x) in enumerate(BRANCHES)]
    labels = [str(b) for b in range(1, 34)]
    return LineData("ieee33_rated", labels, 12.66, 10.0, branches, {str(b): pq for b, pq in LOADS.items()}, TIES,
                    0.9, 1.05, f"IEEE 33-bus with line ratings: {RATING_MARGIN:g} x the current at nominal load "
                    f"(base topology), at least {1000 * RATING_FLOOR_KA:g} A")


def ieee33_rated() -> GridNetwork:
    """`ieee33_rated_data` as a pandapower net (see there for the ratings)."""
    from cosim.networks.converter import line_network  # noqa: PLC0415 - pandapower only for the pandapower net

    return line_network(ieee33_rated_data())
