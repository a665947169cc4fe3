"""Balanced single-phase equivalent of the IEEE 13-node feeder (4.16 kV), as used by seed 003."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cosim.networks.converter import GridNetwork, build_line_network, read_network_csv
from cosim.powerflow.network_data import NetworkDataError

IEEE13_BUSES = ("650", "632", "633", "634", "645", "646", "671", "680", "684", "611", "652", "675")
"""Bus order of the balanced IEEE 13-node equivalent (1-based numbers 1..12); 692 is merged into 671."""
IEEE13_KV = 4.16
IEEE13_XFM = {"kva": 500.0, "r_pct": 1.1, "x_pct": 2.0}
"""XFM-1 (633-634, 4.16/0.48 kV) kept at 4.16 kV as in seed 003: its series impedance becomes a line."""
FT_PER_MILE = 5280.0
KM_PER_MILE = 1.609344


def _ieee13_positive_sequence(cfg: pd.Series) -> tuple[float, float, float]:
    """Balanced equivalent (r, x in ohm/mile, ampacity in A) of one IEEE 13-node line configuration.

    Three-phase: positive sequence Zs - Zm (means of self and mutual terms). n < 3 phases: carrying the
    same total power balanced over three phases gives 3/n times less current per phase, so the impedance
    is scaled by 3/n and the ampacity by n/3 - keeping the loaded phases' losses, drops and loading.
    """
    ph = str(cfg.phases)
    z = {}
    for a in "abc":
        for b in "abc":
            key = a + b if a + b in ("aa", "ab", "ac", "bb", "bc", "cc") else b + a
            z[a + b] = complex(cfg[f"r_{key}"], cfg[f"x_{key}"])
    used = [p.lower() for p in ph]
    n = len(used)
    zs = np.mean([z[p + p] for p in used])
    zm = np.mean([z[p + q] for p in used for q in used if p != q]) if n > 1 else 0.0
    z1 = (zs - zm) * (3.0 / n)
    return float(z1.real), float(z1.imag), float(cfg.ampacity_a) * n / 3.0


def ieee13() -> GridNetwork:
    """Balanced single-phase equivalent of the IEEE 13-node feeder (4.16 kV) as used by seed 003; radial, no ties.

    Bus numbers 1..12 are IEEE13_BUSES (1 = 650, the substation). Regulator omitted (slack at 1.0 p.u.),
    switch 671-692 closed (692 merged into 671), XFM-1 a series impedance at 4.16 kV, shunt capacitors and
    line charging omitted, all loads constant PQ summed over phases. See the data README.
    """
    cfgs = read_network_csv("ieee13_configs.csv", ["config", "phases", "ampacity_a"]).astype(
        {"config": str}
    ).set_index("config")
    lines = read_network_csv("ieee13_lines.csv", ["branch_id", "from_bus", "to_bus", "config", "length_ft"]).astype(
        {"from_bus": str, "to_bus": str, "config": str}
    )
    loads_df = read_network_csv("ieee13_loads.csv", ["bus", "phase", "p_kw", "q_kvar"]).astype({"bus": str})
    branches = []
    for r in lines.itertuples():
        if r.config == "XFM-1":
            zb = IEEE13_KV**2 / (IEEE13_XFM["kva"] / 1000.0)
            r_ohm, x_ohm = IEEE13_XFM["r_pct"] / 100 * zb, IEEE13_XFM["x_pct"] / 100 * zb
            length_km, max_i_ka = 1.0, IEEE13_XFM["kva"] / (np.sqrt(3) * IEEE13_KV) / 1000.0
        else:
            if r.config not in cfgs.index:
                raise NetworkDataError(f"ieee13_lines.csv: branch {r.branch_id} uses unknown config {r.config!r}")
            r_mi, x_mi, amp = _ieee13_positive_sequence(cfgs.loc[r.config])
            miles = float(r.length_ft) / FT_PER_MILE
            r_ohm, x_ohm, length_km, max_i_ka = r_mi * miles, x_mi * miles, miles * KM_PER_MILE, amp / 1000.0
        branches.append((int(r.branch_id), r.from_bus, r.to_bus, r_ohm, x_ohm, length_km, max_i_ka))
    loads = {b: [0.0, 0.0] for b in IEEE13_BUSES}
    for r in loads_df.itertuples():
        if r.bus == "692":
            targets = {"671": 1.0}
        elif "-" in r.bus:  # distributed load along a line: half at each end
            a, b = r.bus.split("-")
            targets = {a: 0.5, b: 0.5}
        else:
            targets = {r.bus: 1.0}
        for bus, share in targets.items():
            if bus not in loads:
                raise NetworkDataError(f"ieee13_loads.csv: unknown bus {r.bus!r}")
            loads[bus][0] += share * float(r.p_kw)
            loads[bus][1] += share * float(r.q_kvar)
    return build_line_network(
        "ieee13", list(IEEE13_BUSES), IEEE13_KV, 5.0, branches, {k: tuple(v) for k, v in loads.items()}, (),
        0.9, 1.05, "IEEE 13-node feeder, balanced equivalent, 4.16 kV (seed 003 simplifications)",
    )
