"""Parking lots for a whole city, sized from its grid's loads: what scripts/city_scenario.py writes into
scenarios/city_mvlv_*.toml.

A lot sits at each LV grid's node of the reduced model (`cosim.networks.reduction`: in the full net, at the LV
grid's transformer busbar, 0.4 kV) and at the MV buses with the largest loads. Each gets EVs in proportion to the
base load of its node (the day's total fleet is `n_evs`, at least `min_evs` a lot), as many charging points as EVs,
and a connection limit from its hosting capacity: an LV lot half of what its transformer carries beyond its LV
grid's base load (at least 22 kW); an MV lot (its own MV connection) 3 kW per EV, at least a fifth of its node's
base load and 100 kW.
"""

from __future__ import annotations

import math

import numpy as np

from cosim.networks.converter import GridNetwork
from cosim.networks.reduction import Reduction

__all__ = ["city_lots"]

MIN_LV_LIMIT_KW = 22.0
MIN_MV_LIMIT_KW = 100.0
MV_KW_PER_EV = 3.0


def city_lots(reduced: GridNetwork, reduction: Reduction, n_mv_lots: int = 20, n_evs: int = 10_500,
              min_evs: int = 10) -> list[dict]:
    """`[[lots]]` tables (see the module docstring); bus numbers are the reduced model's (1-based)."""
    r = reduced.radial
    p = np.asarray(r.p_load_kw, float)
    trafo_pos = {int(b): k for k, b in enumerate(r.branch_ids)}
    sites: list[tuple[int, float, float, str]] = []  # (0-based bus, base load kW, connection limit kW, kind)
    for node, bid in zip(reduction.lv_node, reduction.lv_trafo_branch):
        k = trafo_pos[int(bid)]
        s_kva = float(r.i_max_ka[k]) * math.sqrt(3.0) * float(r.bus_kv[node]) * 1000.0
        headroom = 0.5 * (s_kva - max(p[node], 0.0))
        sites.append((int(node), max(p[node], 0.0), max(MIN_LV_LIMIT_KW, round(headroom, 1)), "LV"))
    lv_nodes = set(int(n) for n in reduction.lv_node)
    mv = [b for b in np.argsort(-p) if int(b) not in lv_nodes and int(b) != r.slack_bus and p[b] > 0][:n_mv_lots]
    for b in sorted(int(x) for x in mv):
        sites.append((b, float(p[b]), max(MIN_MV_LIMIT_KW, round(p[b] / 5.0, 1)), "MV"))
    total = sum(s[1] for s in sites)
    lots = []
    for i, (bus, load_kw, limit_kw, kind) in enumerate(sites):
        n = max(min_evs, math.ceil(n_evs * load_kw / total))
        if kind == "MV":
            limit_kw = max(limit_kw, MV_KW_PER_EV * n)
        lots.append({"id": f"PL{i + 1}", "bus": bus + 1, "fleet": "stochastic", "fleet_options": {"n_per_day": n},
                     "n_chargers": n, "connection_limit_kw": float(limit_kw),
                     "_comment": f"{kind}: {r.bus_labels[bus]}, base load {load_kw:.0f} kW"})
    return lots
