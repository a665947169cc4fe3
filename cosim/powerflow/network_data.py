"""Branch-bus data of a distribution network in per unit: what the fast power flow and topology tools need.

`RadialNetwork` is deliberately free of pandapower and mosaik so that controllers and optimizers can use it
without importing either. Branches carry the literature's 1-based numbers (`branch_ids`, e.g. Baran & Wu
1..37 for the IEEE 33-bus); arrays are indexed 0-based by position.
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
        if self.i_max_ka is None:
            object.__setattr__(self, "i_max_ka", np.full(nb, np.inf))
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
    """One loop per tie branch: the tie plus the path between its ends in the base (ties-open) tree."""
    tree = net.graph(open_branch_ids=net.tie_branches)
    loops = []
    for tie in net.tie_branches:
        k = net.branch_index(tie)
        path = nx.shortest_path(tree, int(net.from_bus[k]), int(net.to_bus[k]))
        ids = [min(tree[a][b]) for a, b in zip(path[:-1], path[1:])]
        loops.append(tuple(sorted(ids + [int(tie)])))
    return tuple(loops)
