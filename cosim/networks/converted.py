"""The radial model of a converted pandapower net: a `RadialNetwork` plus what a real MV grid adds to it.

`cosim.networks.switched` converts a pandapower net with HV/MV transformers and switches (a SimBench MV grid,
a user's JSON file) into a `ConvertedNetwork`. Besides the per-unit branches and bus loads of any
`RadialNetwork` it holds:

* `v_slack_pu`: the voltage of the slack (the MV busbar held by the transformers' on-load tap changers);
* the lines' charging (shunt capacitance, pi model: half of each line's admittance at either end); an open
  line is opened at one end only, as a switch opens it, so it stays energised from the other end as a stub
  whose admittance (`stub_y_pu`) sits at that end (`stub_bus`);
* the transformers' magnetising shunts (pi equivalent of pandapower's T model, exact at the given taps) as fixed
  shunt admittances at their buses (`bus_shunt_y_pu`);
* the substation: which busbar section each branch leaving the slack starts from (`slack_section`) and the
  rating of the transformers feeding each section (`section_s_max_kva`).

`flow` solves a batch with all of this: the charging is constant-impedance (Q = B V^2), which the batched
sweep (constant power) takes as loads updated from the voltages of the previous solve until they agree
(`charging_tol_pu`, a fixed point: exact at convergence, 2-4 solves). The module imports no pandapower, so
controllers can use it. Every tool that takes a `RadialNetwork` takes a `ConvertedNetwork`; those that call
`solve_radial_batch` directly see the branches and loads only (slack at 1.0 p.u., no charging).

`count_radial` counts the radial configurations exactly (matrix-tree theorem in integers); `exact_optimum`
finds the minimum-loss one where that is feasible: the slack holds its voltage whatever flows, so groups of
feeders that no loop joins do not influence each other and each group is enumerated on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from cosim.powerflow.bfs import BatchFlowResult, open_positions, solve_radial_batch
from cosim.powerflow.network_data import NetworkDataError, RadialNetwork, contract_fixed
from cosim.powerflow.topology import enumerate_radial

__all__ = ["ConvertedNetwork", "count_radial", "exact_optimum", "feeder_groups", "flow"]

CHARGING_TOL_PU = 1e-10
"""Voltage change between two solves (p.u.) below which the charging fixed point has converged."""
MAX_CHARGING_SOLVES = 30


@dataclass(frozen=True)
class ConvertedNetwork(RadialNetwork):
    """A `RadialNetwork` with a slack voltage, line charging and substation transformer ratings.

    Admittances are per unit on `base_mva` and `base_kv`, complex (G + jB, B > 0 capacitive).
    """

    v_slack_pu: float = 1.0
    charging_y_pu: np.ndarray | None = None  # (n_branch,) total shunt admittance of each branch (0: switches)
    stub_y_pu: np.ndarray | None = None  # (n_branch,) admittance an open branch leaves at its energised end
    stub_bus: np.ndarray | None = None  # (n_branch,) 0-based bus of that end, -1 where an open branch leaves none
    slack_section: np.ndarray | None = None  # (n_branch,) section of a branch leaving the slack, -1 otherwise
    section_s_max_kva: np.ndarray | None = None  # (n_sections,) transformer rating feeding each section
    section_names: tuple[str, ...] = ()
    bus_shunt_y_pu: np.ndarray | None = None  # (n_bus,) fixed shunt admittance at each bus (transformers' magnetising)

    def __post_init__(self) -> None:
        super().__post_init__()
        nbr = self.n_branch
        defaults = {"charging_y_pu": np.zeros(nbr, complex), "stub_y_pu": np.zeros(nbr, complex),
                    "stub_bus": np.full(nbr, -1, dtype=int), "slack_section": np.full(nbr, -1, dtype=int),
                    "section_s_max_kva": np.zeros(0)}
        for attr, default in defaults.items():
            value = getattr(self, attr)
            value = default if value is None else np.asarray(value, dtype=default.dtype)
            if attr != "section_s_max_kva" and value.shape != (nbr,):
                raise NetworkDataError(f"network {self.name!r}: {attr} has shape {value.shape}, expected ({nbr},)")
            object.__setattr__(self, attr, value)
        shunt = np.zeros(self.n_bus, complex) if self.bus_shunt_y_pu is None else np.asarray(self.bus_shunt_y_pu,
                                                                                               complex)
        if shunt.shape != (self.n_bus,) or not np.all(np.isfinite(shunt)):
            raise NetworkDataError(f"network {self.name!r}: bus_shunt_y_pu must hold one finite admittance per bus")
        object.__setattr__(self, "bus_shunt_y_pu", shunt)
        if not np.isfinite(self.v_slack_pu) or self.v_slack_pu <= 0:
            raise NetworkDataError(f"network {self.name!r}: v_slack_pu must be a positive number, got "
                                   f"{self.v_slack_pu}")
        n_sec = len(self.section_s_max_kva)
        if np.any(self.slack_section >= n_sec):
            raise NetworkDataError(f"network {self.name!r}: slack_section names a section >= {n_sec}")
        if not self.section_names:
            object.__setattr__(self, "section_names", tuple(f"section {i + 1}" for i in range(n_sec)))

    @property
    def has_charging(self) -> bool:
        return bool(np.any(self.charging_y_pu != 0) or np.any(self.bus_shunt_y_pu != 0))

    def shunt_y_pu(self, open_pos: np.ndarray) -> np.ndarray:
        """Shunt admittance at every bus (batch, n_bus) for open branch positions (batch, k): half of each
        closed branch's charging at either end, each open branch's stub at its energised end."""
        open_pos = np.atleast_2d(np.asarray(open_pos, dtype=int))
        batch = open_pos.shape[0]
        half = self.charging_y_pu / 2.0
        base = self.bus_shunt_y_pu.copy()
        np.add.at(base, self.from_bus, half)
        np.add.at(base, self.to_bus, half)
        out = np.repeat(base[None, :], batch, axis=0)
        if open_pos.size:
            rows = np.repeat(np.arange(batch), open_pos.shape[1])
            pos = open_pos.reshape(-1)
            np.add.at(out, (rows, self.from_bus[pos]), -half[pos])
            np.add.at(out, (rows, self.to_bus[pos]), -half[pos])
            end = self.stub_bus[pos]
            keep = end >= 0
            np.add.at(out, (rows[keep], end[keep]), self.stub_y_pu[pos][keep])
        return out

    def flow(self, open_branches, p_load_kw, q_load_kvar, *, tol_pu: float | None = None, max_iter: int | None = None,
             charging_tol_pu: float = CHARGING_TOL_PU, max_solves: int = MAX_CHARGING_SOLVES) -> BatchFlowResult:
        """`solve_radial_batch` at the slack voltage with the lines' charging (see the module docstring).

        Shapes as `solve_radial_batch`: open branch ids (k,) or (batch, k), loads (n_bus,) or (batch, n_bus).
        `max_solves` = 1 takes the charging at the slack voltage (one solve; 1e-4 p.u. on SimBench MV grids).
        """
        return flow(self, open_branches, p_load_kw, q_load_kvar, tol_pu=tol_pu, max_iter=max_iter,
                    charging_tol_pu=charging_tol_pu, max_solves=max_solves)

    def section_loading(self, res: BatchFlowResult) -> np.ndarray:
        """Loading of each substation section's transformers (batch, n_sections), 1.0 = rated apparent power.

        One section: the slack's apparent power. Several: the sum of the complex currents of the branches
        leaving the slack from that section (from the solved voltages), times the slack voltage; loads at the
        busbar itself are not split between sections.
        """
        n_sec = len(self.section_s_max_kva)
        batch = res.batch
        if n_sec == 0:
            return np.zeros((batch, 0))
        rating = np.where(self.section_s_max_kva > 0, self.section_s_max_kva, np.inf)
        if n_sec == 1:
            s = np.hypot(res.p_slack_kw, res.q_slack_kvar)
            return (s / rating[0])[:, None]
        out = np.zeros((batch, n_sec))
        v = res.v_pu
        z = self.r_pu + 1j * self.x_pu
        base_kva = 1000.0 * self.base_mva
        for sec in range(n_sec):
            members = np.flatnonzero(self.slack_section == sec)
            i_sum = np.zeros(batch, complex)
            i_abs = np.zeros(batch)
            for k in members:
                far = self.to_bus[k] if self.from_bus[k] == self.slack_bus else self.from_bus[k]
                if z[k] != 0:
                    i_sum += (v[:, self.slack_bus] - v[:, far]) / z[k]
                else:  # a switch at the busbar: its current magnitude (conservative sum)
                    i_abs += res.i_branch_ka[:, k] / self.base_i_ka
            s_kva = (np.abs(v[:, self.slack_bus] * np.conj(i_sum)) + np.abs(v[:, self.slack_bus]) * i_abs) * base_kva
            out[:, sec] = s_kva / rating[sec]
        return out


def _batched(values, batch: int, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] not in (1, batch):
        raise NetworkDataError(f"{name} must have shape ({n},) or ({batch}, {n}), got {np.shape(values)}")
    return np.broadcast_to(arr, (batch, n))


def flow(net: RadialNetwork, open_branches, p_load_kw, q_load_kvar, *, tol_pu: float | None = None,
         max_iter: int | None = None, charging_tol_pu: float = CHARGING_TOL_PU,
         max_solves: int = MAX_CHARGING_SOLVES) -> BatchFlowResult:
    """The batched flow of any `RadialNetwork`: `solve_radial_batch` for a plain one; for a `ConvertedNetwork`,
    at its slack voltage with its lines' charging as a fixed point (see `ConvertedNetwork.flow`)."""
    kwargs = {k: v for k, v in (("tol_pu", tol_pu), ("max_iter", max_iter)) if v is not None}
    if not isinstance(net, ConvertedNetwork):
        return solve_radial_batch(net, open_branches, p_load_kw, q_load_kvar, **kwargs)
    kwargs["v_slack_pu"] = net.v_slack_pu
    if not net.has_charging:
        return solve_radial_batch(net, open_branches, p_load_kw, q_load_kvar, **kwargs)
    pos = open_positions(net, open_branches)
    p_rows = np.atleast_2d(np.asarray(p_load_kw, dtype=float)).shape[0]
    q_rows = np.atleast_2d(np.asarray(q_load_kvar, dtype=float)).shape[0]
    batch = max(pos.shape[0], p_rows, q_rows)
    if pos.shape[0] not in (1, batch):
        raise NetworkDataError(f"open_branches has {pos.shape[0]} rows, the loads {batch}")
    pos = np.broadcast_to(pos, (batch, pos.shape[1]))
    p = _batched(p_load_kw, batch, net.n_bus, "p_load_kw")
    q = _batched(q_load_kvar, batch, net.n_bus, "q_load_kvar")
    y = net.shunt_y_pu(pos)
    kw_per_pu = 1000.0 * net.base_mva
    vm2 = np.full((batch, net.n_bus), net.v_slack_pu**2)
    open_ids = np.asarray(net.branch_ids)[pos]
    res = None
    for _ in range(max(1, int(max_solves))):
        res = solve_radial_batch(net, open_ids, p + y.real * vm2 * kw_per_pu, q - y.imag * vm2 * kw_per_pu, **kwargs)
        new = res.vm_pu**2
        with np.errstate(invalid="ignore"):
            change = np.abs(np.sqrt(new) - np.sqrt(vm2))
        vm2 = np.where(np.isfinite(new), new, vm2)
        if not np.any(change > charging_tol_pu):  # NaN (diverged or not radial) cases do not hold the loop
            break
    # the shunts' conductance (magnetising, line leakance) is a loss, as pandapower counts it
    res.summary.loss_kw = res.summary.loss_kw + (y.real * res.vm_pu**2).sum(axis=1) * kw_per_pu
    return res


def count_radial(net: RadialNetwork) -> int:
    """Number of radial configurations (spanning trees), exact: the matrix-tree theorem's determinant by
    fraction-free (Bareiss) elimination in Python integers (a float determinant loses digits beyond ~1e15).
    Fixed branches (no switch) stay closed: the network is counted with them contracted. A graph's spanning trees
    are the products of those of its biconnected blocks (a bridge lies in every one), so each block is counted on
    its own: a city's ~10,000 switchable branches are a few small blocks (its loops) and many bridges."""
    net = contract_fixed(net)
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_bus))
    g.add_edges_from((f, t) for f, t in zip(net.from_bus.tolist(), net.to_bus.tolist()) if f != t)
    if not nx.is_connected(g):
        return 0
    total = 1
    for block in nx.biconnected_component_edges(nx.Graph(g)):
        nodes = sorted({v for e in block for v in e})
        if len(nodes) < 3 and g.number_of_edges(*nodes) == 1:
            continue  # a bridge
        total *= _count_block(g.subgraph(nodes))
    return total


def _count_block(g: nx.MultiGraph) -> int:
    """Spanning trees of one connected multigraph (Bareiss determinant of its reduced Laplacian)."""
    index = {v: i for i, v in enumerate(sorted(g.nodes))}
    n = len(index)
    lap = [[0] * n for _ in range(n)]
    for a, b in g.edges():
        f, t = index[a], index[b]
        if f != t:
            lap[f][f] += 1
            lap[t][t] += 1
            lap[f][t] -= 1
            lap[t][f] -= 1
    keep = list(range(1, n))
    m = [[lap[i][j] for j in keep] for i in keep]
    size, prev, sign = len(m), 1, 1
    for k in range(size - 1):
        if m[k][k] == 0:
            swap = next((i for i in range(k + 1, size) if m[i][k] != 0), None)
            if swap is None:
                return 0
            m[k], m[swap] = m[swap], m[k]
            sign = -sign
        for i in range(k + 1, size):
            for j in range(k + 1, size):
                m[i][j] = (m[i][j] * m[k][k] - m[i][k] * m[k][j]) // prev
        prev = m[k][k]
    return sign * m[-1][-1] if size else 1


def feeder_groups(net: RadialNetwork) -> list[tuple[list[int], RadialNetwork]]:
    """Groups of feeders that loops join: (branch positions, the group as a RadialNetwork of its own: the slack
    and the group's buses, branch ids kept) for each group with at least one tie."""
    g = net.graph()
    g.remove_node(net.slack_bus)
    ties = set(int(b) for b in net.tie_branches)
    out = []
    for comp in nx.connected_components(g):
        members = [k for k in range(net.n_branch) if net.from_bus[k] in comp or net.to_bus[k] in comp]
        ids = [int(net.branch_ids[k]) for k in members]
        if not ties & set(ids):
            continue
        nodes = [net.slack_bus, *sorted(comp)]
        pos = {b: i for i, b in enumerate(nodes)}
        sub = RadialNetwork(
            name=f"{net.name} (feeders of bus {net.bus_labels[min(comp)]})", base_kv=net.base_kv,
            base_mva=net.base_mva, slack_bus=0, from_bus=np.array([pos[int(net.from_bus[k])] for k in members]),
            to_bus=np.array([pos[int(net.to_bus[k])] for k in members]), r_pu=np.zeros(len(members)),
            x_pu=np.zeros(len(members)), p_load_kw=np.zeros(len(nodes)), q_load_kvar=np.zeros(len(nodes)),
            branch_ids=np.array(ids), tie_branches=tuple(b for b in net.tie_branches if b in ids),
            fixed_branches=tuple(b for b in net.fixed_branches if b in ids))
        out.append((members, sub))
    return out


def exact_optimum(net: RadialNetwork, p_kw=None, q_kvar=None, *, limit: int = 200_000,
                  chunk: int = 4096) -> tuple[np.ndarray, float, int] | None:
    """Minimum-loss radial configuration (sorted open ids, losses kW, flows solved) by enumerating each group of
    feeders (`feeder_groups`) on its own, the others at their base state; None when a group has more than
    `limit` configurations. Each candidate is solved with `flow` (2 solves of the charging fixed point), the
    result once more to convergence."""
    p = np.asarray(net.p_load_kw if p_kw is None else p_kw, float)
    q = np.asarray(net.q_load_kvar if q_kvar is None else q_kvar, float)
    groups = feeder_groups(net)
    if any(count_radial(sub) > limit for _, sub in groups):
        return None
    chosen = {int(b) for b in net.tie_branches}
    flows = 0
    for _, sub in groups:
        # one loop: open any of its members (enumerate_radial's kernel has no edge then)
        configs = np.array(sub.loops[0], dtype=int)[:, None] if len(sub.tie_branches) == 1 else enumerate_radial(sub)
        others = np.array(sorted(chosen - set(int(b) for b in sub.tie_branches)), dtype=int)
        best, best_loss = None, np.inf
        for s in range(0, len(configs), chunk):
            part = configs[s:s + chunk]
            rows = np.hstack([part, np.broadcast_to(others, (len(part), len(others)))])
            res = flow(net, rows, p, q, max_solves=2)
            flows += len(part)
            loss = np.where(res.ok, res.loss_kw, np.inf)
            i = int(np.argmin(loss))
            if loss[i] < best_loss:
                best, best_loss = part[i], float(loss[i])
        if best is None:
            return None
        chosen = (chosen - set(int(b) for b in sub.tie_branches)) | set(int(b) for b in best)
    open_ids = np.array(sorted(chosen), dtype=int)
    res = flow(net, open_ids, p, q)
    return open_ids, float(res.loss_kw[0]), flows + 1
