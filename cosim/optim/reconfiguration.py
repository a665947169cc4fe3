"""Single-hour minimum-loss network reconfiguration as a :class:`VectorProblem` (one position per loop).

Each fundamental loop gets one continuous position in [0, 1); `topology.decode_loops` maps it to the branch
of that loop to open. Picks that leave the network non-radial (two loops cutting the same branch, or a loop
left closed) are repaired with `topology.repair` (deterministic per pick, memoised). Losses come from the
batched backward/forward sweep (`solve_radial_batch`); a case that is not radial or does not converge gets
f = cv = inf. Optionally the voltage band of the network is a constraint (cv in p.u., summed over buses).

Encoding: with `shuffle_seed` (default 0) the members of each loop are listed in a random order fixed per
problem, so that no branch owes its chance to its literature number. EO's generation term pulls particles
towards position 0 (the origin of the box), which with sorted loops would favour the lowest-numbered
branch of each loop; `shuffle_seed=None` keeps the sorted order of `net.loops` (the plain decode).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cosim.optim.problem import Evaluation, ProblemError
from cosim.powerflow.bfs import solve_radial_batch
from cosim.powerflow.network_data import RadialNetwork
from cosim.powerflow.topology import decode_loops, radial_mask, repair

__all__ = ["ReconfigurationProblem", "loop_orders", "ORDERS", "REPAIRS"]

#: member orders of each loop: sorted ids, walk around the loop (rotated by order_seed), random permutation
ORDERS = ("sorted", "cycle", "random")
#: repair of non-radial picks: change the one loop whose nearest radial alternative is closest, or topology.repair
REPAIRS = ("nearest", "random")


def _cycle(net: RadialNetwork, loop) -> list[int]:
    """Members of a loop in the order met when walking around it, starting from its smallest id."""
    import networkx as nx

    g = nx.MultiGraph()
    for b in loop:
        k = net.branch_index(b)
        g.add_edge(int(net.from_bus[k]), int(net.to_bus[k]), key=int(b))
    walk = [int(k) for _, _, k in nx.find_cycle(g)]
    if sorted(walk) != sorted(int(b) for b in loop):  # not a simple cycle: keep the given order
        return [int(b) for b in loop]
    i = walk.index(min(walk))
    return walk[i:] + walk[:i]


def loop_orders(net: RadialNetwork, order: str = "cycle", seed: int | None = 0) -> tuple[tuple[int, ...], ...]:
    """Member order of each fundamental loop used to decode positions (see ORDERS).

    "cycle" keeps neighbouring branches at neighbouring positions (similar losses: a smooth landscape); with a
    seed each walk starts at a random member, so that position 0 favours no particular branch.
    """
    rng = np.random.default_rng(seed)
    out = []
    for loop in net.loops:
        if order == "sorted":
            members = [int(b) for b in loop]
        elif order == "random":
            members = [int(b) for b in rng.permutation(np.asarray(loop))]
        else:
            members = _cycle(net, loop)
            if seed is not None:
                s = int(rng.integers(len(members)))
                members = members[s:] + members[:s]
        out.append(tuple(members))
    return tuple(out)


class ReconfigurationProblem:
    """Open one branch per fundamental loop so that the network stays radial and the losses [kW] are least.

    p_kw / q_kvar: bus loads (n_bus,) in kW / kvar; default the network's nominal loads.
    shuffle_seed: random order of each loop's members (None = sorted order, plain `decode_loops`).
    voltage_limits: also require net.v_min_pu <= |V| <= net.v_max_pu (violation in p.u. summed over buses).
    """

    n_obj = 1

    def __init__(self, net: RadialNetwork, p_kw=None, q_kvar=None, *, order: str = "cycle", order_seed: int | None = 0,
                 repair_mode: str = "nearest", voltage_limits: bool = False, flow_tol_pu: float = 1e-8,
                 flow_max_iter: int = 60) -> None:
        if not isinstance(net, RadialNetwork):
            raise ProblemError(f"ReconfigurationProblem needs a RadialNetwork (e.g. load_network(...).radial), got {type(net).__name__}")
        if not net.loops:
            raise ProblemError(f"network {net.name!r} has no loop (no tie branch): nothing to reconfigure")
        self.net = net
        self.name = f"reconfiguration-{net.name}"
        self.p_kw = self._load(p_kw, net.p_load_kw, "p_kw")
        self.q_kvar = self._load(q_kvar, net.q_load_kvar, "q_kvar")
        self.n_var = len(net.loops)
        self.lower = np.zeros(self.n_var)
        self.upper = np.ones(self.n_var)
        if order not in ORDERS:
            raise ProblemError(f"order must be one of {ORDERS}, got {order!r}")
        if repair_mode not in REPAIRS:
            raise ProblemError(f"repair_mode must be one of {REPAIRS}, got {repair_mode!r}")
        self.order, self.order_seed, self.repair_mode = order, order_seed, repair_mode
        loops = loop_orders(net, order, order_seed)
        self.loops = loops  # member order used by the decoding
        self._decode_net = dataclasses.replace(net, loops=loops)  # decode_loops reads only .loops and .name
        self.voltage_limits = bool(voltage_limits)
        self.flow_tol_pu = float(flow_tol_pu)
        self.flow_max_iter = int(flow_max_iter)
        self._repair_memo: dict[tuple[int, ...], np.ndarray] = {}
        self._cache: dict[bytes, tuple[float, float]] = {}  # sorted open ids -> (loss kW, cv)
        self.n_evaluations = 0  # candidates evaluated so far (all calls)
        self.n_flows = 0  # distinct topologies solved by the power flow

    def _load(self, values, default, name: str) -> np.ndarray:
        arr = np.asarray(default if values is None else values, dtype=float)
        if arr.shape != (self.net.n_bus,) or not np.all(np.isfinite(arr)):
            raise ProblemError(f"{name} must be {self.net.n_bus} finite bus loads for network {self.net.name!r}, "
                               f"got shape {arr.shape}")
        return arr

    def decode(self, X: np.ndarray) -> np.ndarray:
        """(pop, n_loops) positions -> sorted open branch ids (pop, n_loops), radial (repaired where needed)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.n_var:
            raise ProblemError(f"{self.name}: positions must have {self.n_var} entries, got {X.shape[1]}")
        ids = decode_loops(self._decode_net, X)
        bad = np.flatnonzero(~radial_mask(self.net, ids))
        if len(bad) and self.repair_mode == "nearest":
            ids[bad] = self._nearest(ids[bad], np.clip(X[bad], 0.0, 1.0))
            bad = np.flatnonzero(~radial_mask(self.net, ids))
        for i in bad:
            key = tuple(int(b) for b in ids[i])
            fixed = self._repair_memo.get(key)
            if fixed is None:  # same pick -> same repair, whatever the population it sits in
                fixed = self._repair_memo[key] = repair(self.net, ids[i][None, :], np.random.default_rng(list(key)))[0]
            ids[i] = fixed
        return np.sort(ids, axis=1)

    def _nearest(self, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Change ONE loop's pick to the radial alternative whose slot centre is nearest its position
        (all alternatives of all rows checked in one batched radiality test); rows without one stay as they are."""
        rows, alts, dist = [], [], []
        for j, loop in enumerate(self.loops):
            centres = (np.arange(len(loop)) + 0.5) / len(loop)
            for m, b in enumerate(loop):
                alt = ids.copy()
                alt[:, j] = b
                alts.append(alt)
                rows.append(np.arange(len(ids)))
                dist.append(np.abs(centres[m] - x[:, j]) + np.where(ids[:, j] == b, np.inf, 0.0))
        alts_a, rows_a, dist_a = np.concatenate(alts), np.concatenate(rows), np.concatenate(dist)
        live = np.isfinite(dist_a)
        ok = np.zeros(len(alts_a), dtype=bool)
        ok[live] = radial_mask(self.net, alts_a[live])
        dist_a = np.where(ok, dist_a, np.inf)
        out = ids.copy()
        d = dist_a.reshape(-1, len(ids))  # (alternatives, rows)
        best = np.argmin(d, axis=0)
        found = np.isfinite(d[best, np.arange(len(ids))])
        out[found] = alts_a.reshape(-1, len(ids), ids.shape[1])[best[found], np.flatnonzero(found)]
        return out

    def encode(self, open_ids) -> np.ndarray:
        """Positions (n_loops,) in the middle of each chosen branch's slot; open_ids given loop by loop."""
        ids = [int(b) for b in np.asarray(open_ids).reshape(-1)]
        if len(ids) != self.n_var:
            raise ProblemError(f"{self.name}: need one open branch per loop ({self.n_var}), got {ids}")
        pos = []
        for j, (b, loop) in enumerate(zip(ids, self.loops)):
            if b not in loop:
                raise ProblemError(f"{self.name}: branch {b} is not in loop {j} {sorted(loop)}")
            pos.append((loop.index(b) + 0.5) / len(loop))
        return np.asarray(pos)

    def losses(self, open_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(loss [kW], cv) of each row of open branch ids; each distinct topology is solved once per problem."""
        open_ids = np.sort(np.atleast_2d(np.asarray(open_ids, dtype=int)), axis=1)
        keys = [r.tobytes() for r in open_ids]
        todo = sorted({k for k in keys if k not in self._cache})
        if todo:
            rows = np.frombuffer(b"".join(todo), dtype=open_ids.dtype).reshape(len(todo), -1)
            res = solve_radial_batch(self.net, rows, self.p_kw, self.q_kvar, tol_pu=self.flow_tol_pu,
                                     max_iter=self.flow_max_iter)
            cv = np.zeros(len(todo))
            if self.voltage_limits:
                with np.errstate(invalid="ignore"):
                    vm = res.vm_pu
                    cv = (np.maximum(self.net.v_min_pu - vm, 0) + np.maximum(vm - self.net.v_max_pu, 0)).sum(axis=1)
            loss = np.where(res.ok, res.loss_kw, np.inf)
            cv = np.where(res.ok, cv, np.inf)
            self._cache.update(zip(todo, zip(loss.tolist(), cv.tolist())))
            self.n_flows += len(todo)
        out = np.array([self._cache[k] for k in keys], dtype=float).reshape(-1, 2)
        return out[:, 0], out[:, 1]

    def evaluate(self, X: np.ndarray) -> Evaluation:
        ids = self.decode(X)
        self.n_evaluations += ids.shape[0]
        f, cv = self.losses(ids)
        return Evaluation(f=f, cv=cv)

    def __repr__(self) -> str:
        return f"ReconfigurationProblem({self.net.name!r}, n_var={self.n_var}, order={self.order!r}, order_seed={self.order_seed})"
