"""Branch-bus data of a distribution network in per unit: what the fast power flow and topology tools need.

`RadialNetwork` is deliberately free of pandapower and mosaik so that controllers and optimizers can use it
without importing either. Branches carry the literature's 1-based numbers (`branch_ids`, e.g. Baran & Wu
1..37 for the IEEE 33-bus); arrays are indexed 0-based by position.

Several voltage levels: each bus is in per unit on its own level's base (`bus_kv`, line-to-line kV; `base_kv` when
not given) and `base_mva`. A transformer is a branch with an off-nominal ratio (`tap_ratio`, complex: magnitude and
phase shift) at its from-end, an ideal transformer followed by the series impedance on the to-end's base (the
MATPOWER / pandapower branch model); a line has ratio 1. Shunts (magnetising, line charging) are not branch data
here: `cosim.networks.converted.ConvertedNetwork` holds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from cosim.errors import InputError


class NetworkDataError(InputError):
    """Raised for network data or branch references that do not make sense."""


@dataclass(frozen=True)
class RadialNetwork:
    """A meshable distribution network operated radially.

    Attributes are per unit on `base_mva` and `base_kv` (line-to-line); loads in kW / kvar.
    """

    name: str
    base_kv: float
    base_mva: float
    slack_bus: int
    from_bus: np.ndarray
    to_bus: np.ndarray
    r_pu: np.ndarray
    x_pu: np.ndarray
    p_load_kw: np.ndarray
    q_load_kvar: np.ndarray
    branch_ids: np.ndarray
    tie_branches: tuple[int, ...]
    i_max_ka: np.ndarray | None = None
    v_min_pu: float = 0.9
    v_max_pu: float = 1.05
    bus_labels: tuple[str, ...] = ()
    loops: tuple[tuple[int, ...], ...] = field(default=())
    fixed_branches: tuple[int, ...] = ()  # branches the operator cannot open (a line without a switch)
    bus_kv: np.ndarray | None = None  # (n_bus,) nominal kV of each bus's level; None: every bus at base_kv
    tap_ratio: np.ndarray | None = None  # (n_branch,) complex off-nominal ratio at the from-end; None: all 1

    def __post_init__(self) -> None:
        nb = len(self.from_bus)
        for attr in ("to_bus", "r_pu", "x_pu", "branch_ids"):
            if len(getattr(self, attr)) != nb:
                raise NetworkDataError(f"network {self.name!r}: {attr} has {len(getattr(self, attr))} entries, "
                                       f"from_bus has {nb}")
        if len(self.p_load_kw) != len(self.q_load_kvar):
            raise NetworkDataError(f"network {self.name!r}: p_load_kw and q_load_kvar differ in length")
        if len(set(self.branch_ids.tolist())) != nb:
            raise NetworkDataError(f"network {self.name!r}: branch_ids are not unique")
        unknown = set(self.tie_branches) - set(self.branch_ids.tolist())
        if unknown:
            raise NetworkDataError(f"network {self.name!r}: tie branches {sorted(unknown)} are not branch ids")
        fixed = {int(b) for b in self.fixed_branches}
        unknown_fixed = fixed - set(self.branch_ids.tolist())
        if unknown_fixed:
            raise NetworkDataError(f"network {self.name!r}: fixed branches {sorted(unknown_fixed)} are not branch ids")
        if fixed & set(int(b) for b in self.tie_branches):
            raise NetworkDataError(f"network {self.name!r}: branch(es) {sorted(fixed & set(self.tie_branches))} are "
                                   "open in the base state but fixed (no switch)")
        object.__setattr__(self, "fixed_branches", tuple(sorted(fixed)))
        if fixed:
            g = nx.MultiGraph()
            g.add_nodes_from(range(self.n_bus))
            for f, t, bid in zip(self.from_bus, self.to_bus, self.branch_ids):
                if int(bid) in fixed:
                    g.add_edge(int(f), int(t), key=int(bid))
            if not nx.is_forest(g):
                loop = sorted(int(k) for _, _, k in nx.find_cycle(g))
                raise NetworkDataError(f"network {self.name!r}: meshed: branches {loop} close a loop and none of "
                                       "them can be opened (no switch)")
        if self.i_max_ka is None:
            object.__setattr__(self, "i_max_ka", np.full(nb, np.inf))
        n_bus = len(self.p_load_kw)
        kv = np.full(n_bus, float(self.base_kv)) if self.bus_kv is None else np.asarray(self.bus_kv, float)
        if kv.shape != (n_bus,) or not np.all(np.isfinite(kv) & (kv > 0)):
            raise NetworkDataError(f"network {self.name!r}: bus_kv must hold one positive kV per bus")
        object.__setattr__(self, "bus_kv", kv)
        tap = np.ones(nb, complex) if self.tap_ratio is None else np.asarray(self.tap_ratio, complex)
        if tap.shape != (nb,) or not np.all(np.isfinite(tap) & (np.abs(tap) > 0)):
            raise NetworkDataError(f"network {self.name!r}: tap_ratio must hold one non-zero finite ratio per branch")
        object.__setattr__(self, "tap_ratio", tap)
        if not self.bus_labels:
            object.__setattr__(self, "bus_labels", tuple(str(i + 1) for i in range(self.n_bus)))
        if not self.loops:
            object.__setattr__(self, "loops", fundamental_loops(self))

    @property
    def n_bus(self) -> int:
        return len(self.p_load_kw)

    @property
    def n_branch(self) -> int:
        return len(self.from_bus)

    @property
    def base_i_ka(self) -> float:
        return self.base_mva / (np.sqrt(3.0) * self.base_kv)

    @property
    def has_taps(self) -> bool:
        """True when a branch has an off-nominal ratio (a transformer, a source at another voltage)."""
        return bool(np.any(self.tap_ratio != 1.0))

    @property
    def branch_base_i_ka(self) -> np.ndarray:
        """Base current of each branch (n_branch,) [kA]: its to-end's level, where its series current flows."""
        return self.base_mva / (np.sqrt(3.0) * self.bus_kv[np.asarray(self.to_bus, dtype=int)])

    def branch_index(self, branch_id: int) -> int:
        """0-based position of a branch given its literature number; clear error when it does not exist."""
        hits = np.flatnonzero(self.branch_ids == int(branch_id))
        if len(hits) == 0:
            raise NetworkDataError(
                f"network {self.name!r} has no branch {branch_id}; branches are numbered "
                f"{int(self.branch_ids.min())}..{int(self.branch_ids.max())}"
            )
        return int(hits[0])

    def branch_indices(self, branch_ids) -> np.ndarray:
        return np.array([self.branch_index(b) for b in branch_ids], dtype=int)

    @property
    def tie_indices(self) -> np.ndarray:
        return self.branch_indices(self.tie_branches)

    def graph(self, open_branch_ids=()) -> nx.MultiGraph:
        """networkx multigraph of buses with the given branches removed; edge key = branch id."""
        g = nx.MultiGraph()
        g.add_nodes_from(range(self.n_bus))
        open_set = {int(b) for b in open_branch_ids}
        for f, t, bid in zip(self.from_bus, self.to_bus, self.branch_ids):
            if int(bid) not in open_set:
                g.add_edge(int(f), int(t), key=int(bid))
        return g


def fundamental_loops(net: RadialNetwork) -> tuple[tuple[int, ...], ...]:
    """One loop per tie branch: the tie plus the path between its ends in the base (ties-open) tree, less the
    fixed branches (`fixed_branches`, no switch): each loop lists the branches that may be opened to cut it."""
    tree = net.graph(open_branch_ids=net.tie_branches)
    fixed = set(net.fixed_branches)
    loops = []
    for tie in net.tie_branches:
        k = net.branch_index(tie)
        path = nx.shortest_path(tree, int(net.from_bus[k]), int(net.to_bus[k]))
        ids = [min(tree[a][b]) for a, b in zip(path[:-1], path[1:])]
        loops.append(tuple(sorted(b for b in ids + [int(tie)] if b not in fixed)))
    return tuple(loops)


def contract_fixed(net: RadialNetwork) -> RadialNetwork:
    """The topology of `net` with its fixed branches contracted (their two ends one bus): the switchable branches
    only, ids kept, no impedances or loads. Its spanning trees are those of `net` that keep every fixed branch
    closed (`net` itself when it has none)."""
    if not net.fixed_branches:
        return net
    g = nx.Graph()
    g.add_nodes_from(range(net.n_bus))
    fixed = set(net.fixed_branches)
    keep = [k for k, b in enumerate(net.branch_ids) if int(b) not in fixed]
    g.add_edges_from((int(net.from_bus[k]), int(net.to_bus[k])) for k, b in enumerate(net.branch_ids)
                     if int(b) in fixed)
    comps = sorted(nx.connected_components(g), key=lambda c: (net.slack_bus not in c, min(c)))
    label = np.empty(net.n_bus, dtype=int)
    for i, comp in enumerate(comps):
        label[list(comp)] = i
    n = len(comps)
    return RadialNetwork(
        name=net.name, base_kv=net.base_kv, base_mva=net.base_mva, slack_bus=int(label[net.slack_bus]),
        from_bus=label[np.asarray(net.from_bus)[keep]], to_bus=label[np.asarray(net.to_bus)[keep]],
        r_pu=np.zeros(len(keep)), x_pu=np.zeros(len(keep)), p_load_kw=np.zeros(n), q_load_kvar=np.zeros(n),
        branch_ids=np.asarray(net.branch_ids)[keep], tie_branches=tuple(net.tie_branches),
        bus_labels=tuple(net.bus_labels[min(c)] for c in comps))
