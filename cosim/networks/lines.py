"""Line-only feeders from literature data, without pandapower: the data (`LineData`) and its per-unit model.

`cosim.networks.converter.build_line_network` makes a pandapower net of the same data; `line_radial` makes the
`RadialNetwork` directly, with the arithmetic of `radial_from_pandapower` (the same floats, bit for bit:
tests/networks/test_line_radial.py), so a run with the fast grid engine need not import pandapower (~1.9 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosim.powerflow.network_data import NetworkDataError, RadialNetwork

__all__ = ["DATA_DIR", "NO_LIMIT_KA", "LineData", "line_radial", "read_network_csv"]

DATA_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "networks"
"""Folder holding the network data files (CSV) shipped with the repository."""

NO_LIMIT_KA = 99999.0
"""Ampacity written into pandapower where the source gives none (read back as 'no limit')."""


@dataclass(frozen=True)
class LineData:
    """A line-only feeder as the literature gives it (the arguments of `build_line_network`).

    branches: (branch_id, from_label, to_label, r_ohm, x_ohm, length_km, max_i_ka); loads: label -> (kW, kvar);
    buses in `labels` order, the first one the slack (1.0 p.u.); `ties` start open."""

    name: str
    labels: list[str]
    base_kv: float
    sn_mva: float
    branches: list[tuple]
    loads: dict[str, tuple[float, float]]
    ties: tuple[int, ...]
    v_min_pu: float
    v_max_pu: float
    description: str


def read_network_csv(filename: str, columns: list[str]):
    """Read a shipped network CSV (a pandas DataFrame) and check that it has the expected columns."""
    import pandas as pd  # noqa: PLC0415 - only the CSV feeders need it

    path = DATA_DIR / filename
    if not path.is_file():
        raise NetworkDataError(f"network data file {path} is missing")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise NetworkDataError(f"{path}: missing column(s) {missing}; expected {columns}")
    return df


def line_radial(d: LineData) -> RadialNetwork:
    """The per-unit model of `d`, computed as `radial_from_pandapower` computes it from the pandapower net that
    `build_line_network(d)` makes (lengths divided out and back in, kW through MW: the same floats)."""
    idx = {lab: i for i, lab in enumerate(d.labels)}
    for bid, f, t, *_ in d.branches:
        if f not in idx or t not in idx:
            raise NetworkDataError(f"network {d.name!r}: branch {bid} joins unknown bus {f if f not in idx else t}")
    length = np.array([b[5] for b in d.branches], dtype=float)
    r_per_km = np.array([b[3] for b in d.branches], dtype=float) / length
    x_per_km = np.array([b[4] for b in d.branches], dtype=float) / length
    zb = float(d.base_kv) ** 2 / float(d.sn_mva)
    p = np.zeros(len(d.labels))
    q = np.zeros(len(d.labels))
    for lab, (pk, qk) in d.loads.items():
        if pk or qk:
            p[idx[lab]] += float(np.float64(pk) / 1000.0) * 1.0 * 1000.0
            q[idx[lab]] += float(np.float64(qk) / 1000.0) * 1.0 * 1000.0
    i_max = np.array([b[6] for b in d.branches], dtype=float)
    return RadialNetwork(
        name=d.name, base_kv=float(d.base_kv), base_mva=float(d.sn_mva), slack_bus=0,
        from_bus=np.array([idx[b[1]] for b in d.branches]), to_bus=np.array([idx[b[2]] for b in d.branches]),
        r_pu=r_per_km * length / 1 / zb, x_pu=x_per_km * length / 1 / zb, p_load_kw=p, q_load_kvar=q,
        branch_ids=np.asarray([int(b[0]) for b in d.branches], dtype=int), tie_branches=tuple(d.ties),
        i_max_ka=np.where(i_max >= 9999, np.inf, i_max), v_min_pu=d.v_min_pu, v_max_pu=d.v_max_pu,
        bus_labels=tuple(str(x) for x in d.labels),
    )
