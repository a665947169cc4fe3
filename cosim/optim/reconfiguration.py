"""Single-hour minimum-loss network reconfiguration as a :class:`VectorProblem`.

Each fundamental loop picks one branch to open. The members of each loop are listed in the order met when
walking around it (`loop_orders`: neighbouring branches, similar losses, sit next to each other) and
`topology.decode_loops` maps a position in [0, 1) to one of them. Two encodings of that position:

* "angle" (default): two variables (u, v) in [-1, 1] per loop; the position is the angle atan2(v, u) / 2 pi.
  A loop is a cycle, so is an angle: no end of the list is special. EO's generation term pulls particles
  towards the origin of the box (finding H5); here the origin is the centre of every loop's circle, equally
  near to all its branches, so the pull favours none of them.
* "position": one variable in [0, 1) per loop (the plain reading); the first member of each list sits at the
  box's origin, which EO favours. Measured with EO 30 x 60 (seeds 0..39 / 0..19): IEEE 33-bus 40/40 runs
  reach the optimum with "angle", 36/40 with "position"; IEEE 69-bus 19/20 vs 12/20. A random permutation of
  each loop (the other cure for the origin bias) destroys locality: 3/20 on the IEEE 33-bus.
  (benchmarks/optimizers.py --reconfig prints such figures for EO, PSO and GA.)

Picks that leave the network non-radial (two loops opening the same branch, a loop left closed) are repaired:
the one loop whose nearest radial alternative (in position) is closest changes its pick, all alternatives being
checked in one batched radiality test; rows without one fall back to `topology.repair` (deterministic per
pick). Losses come from the batched backward/forward sweep, each distinct topology solved once per problem; a
case that is not radial or does not converge gets f = cv = inf. Optionally the network's voltage band is a
constraint (cv in p.u., summed over buses).
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from cosim.optim.problem import Evaluation, ProblemError
from cosim.powerflow.bfs import BatchFlowResult, solve_radial_batch
from cosim.powerflow.network_data import RadialNetwork
from cosim.powerflow.topology import decode_loops, radial_mask, repair

__all__ = ["ENCODINGS", "ORDERS", "ReconfigurationProblem", "loop_orders"]

#: how continuous variables become one position per loop (see the module docstring)
ENCODINGS = ("angle", "position")
#: member order of each loop: walk around it, sorted ids (net.loops as stored), random permutation (order_seed)
ORDERS = ("cycle", "sorted", "random")


def _walk(net: RadialNetwork, loop) -> list[int]:
    """Members of a loop in the order met walking around it, from its smallest id (as given if not a simple cycle).

    A loop with fixed branches (`net.fixed_branches`, no switch) lists only its switchable members: the walk goes
    around the whole cycle (its tie and the path between the tie's ends in the base tree) and keeps those."""
    members = [int(b) for b in loop]
    cycle = members
    if net.fixed_branches:
        ties = [b for b in members if b in set(int(t) for t in net.tie_branches)]
        if len(ties) == 1:
            k = net.branch_index(ties[0])
            tree = net.graph(open_branch_ids=net.tie_branches)
            path = nx.shortest_path(tree, int(net.from_bus[k]), int(net.to_bus[k]))
            cycle = [min(tree[a][b]) for a, b in zip(path[:-1], path[1:])] + ties
    g = nx.MultiGraph()
    for b in cycle:
        k = net.branch_index(b)
        g.add_edge(int(net.from_bus[k]), int(net.to_bus[k]), key=int(b))
    try:
        walk = [int(k) for _, _, k in nx.find_cycle(g)]
    except nx.NetworkXNoCycle:
        return members
    if sorted(walk) != sorted(cycle):
        return members
    walk = [b for b in walk if b in members]
    i = walk.index(min(walk))
    return walk[i:] + walk[:i]


def loop_orders(net: RadialNetwork, order: str = "cycle", seed: int | None = None) -> tuple[tuple[int, ...], ...]:
    """Member order of each fundamental loop used by the decoding (see ORDERS).

    With a seed, "cycle" walks start at a random member (a rotation; locality is kept) and "random" is a
    random permutation (locality is lost: measured far worse for EO, 3/20 optima on the IEEE 33-bus).
    """
    if order not in ORDERS:
        raise ProblemError(f"order must be one of {ORDERS}, got {order!r}")
    rng = np.random.default_rng(seed)
    out = []
    for loop in net.loops:
        if order == "sorted":
            members = [int(b) for b in loop]
        elif order == "random":
            members = [int(b) for b in rng.permutation(np.asarray(loop))]
        else:
            members = _walk(net, loop)
            if seed is not None:
                s = int(rng.integers(len(members)))
                members = members[s:] + members[:s]
        out.append(tuple(members))
    return tuple(out)


class ReconfigurationProblem:
    """Open one branch per fundamental loop so that the network stays radial and the losses [kW] are least.

    p_kw / q_kvar: bus loads (n_bus,) in kW / kvar; default the network's nominal loads.
    encoding: "angle" (2 variables per loop in [-1, 1]) or "position" (1 per loop in [0, 1]).
    order / order_seed: member order of the loops (`loop_orders`).
    voltage_limits: also require net.v_min_pu <= |V| <= net.v_max_pu (violation in p.u. summed over buses).
    Counters: n_evaluations (candidates), n_flows (distinct topologies solved by the power flow).
    """

    n_obj = 1

    def __init__(self, net: RadialNetwork, p_kw=None, q_kvar=None, *, encoding: str = "angle", order: str = "cycle",
                 order_seed: int | None = None, voltage_limits: bool = False, flow_tol_pu: float = 1e-8,
                 flow_max_iter: int = 60) -> None:
        if not isinstance(net, RadialNetwork):
            raise ProblemError(f"ReconfigurationProblem needs a RadialNetwork (e.g. load_network(...).radial), "
                               f"got {type(net).__name__}")
        if not net.loops:
            raise ProblemError(f"network {net.name!r} has no loop (no tie branch): nothing to reconfigure")
        if encoding not in ENCODINGS:
            raise ProblemError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        self.net = net
        self.name = f"reconfiguration-{net.name}"
        self.p_kw = self._load(p_kw, net.p_load_kw, "p_kw")
        self.q_kvar = self._load(q_kvar, net.q_load_kvar, "q_kvar")
        self.encoding, self.order, self.order_seed = encoding, order, order_seed
        self.loops = loop_orders(net, order, order_seed)
        self._decode_net = dataclasses.replace(net, loops=self.loops)  # decode_loops reads only .loops and .name
        self.n_loops = len(self.loops)
        self.n_var = self.n_loops * (2 if encoding == "angle" else 1)
        self.lower = np.full(self.n_var, -1.0 if encoding == "angle" else 0.0)
        self.upper = np.ones(self.n_var)
        self.voltage_limits = bool(voltage_limits)
        self.flow_tol_pu = float(flow_tol_pu)
        self.flow_max_iter = int(flow_max_iter)
        self._repair_memo: dict[tuple[int, ...], np.ndarray] = {}
        # every single-loop alternative `_nearest` tries, loop by loop, member by member: loop, branch, slot centre
        self._alt_loop = np.asarray([j for j, loop in enumerate(self.loops) for _ in loop], dtype=np.int64)
        self._alt_branch = np.asarray([b for loop in self.loops for b in loop], dtype=np.int64)
        self._alt_centre = np.asarray([(m + 0.5) / len(loop) for loop in self.loops for m in range(len(loop))])
        self._cache: dict[bytes, tuple[float, float]] = {}  # sorted open ids -> (loss kW, cv)
        self.n_evaluations = 0
        self.n_flows = 0

    def _load(self, values, default, name: str) -> np.ndarray:
        arr = np.asarray(default if values is None else values, dtype=float)
        if arr.shape != (self.net.n_bus,) or not np.all(np.isfinite(arr)):
            raise ProblemError(f"{name} must be {self.net.n_bus} finite bus loads for network {self.net.name!r}, "
                               f"got shape {arr.shape}")
        return arr

    # ---- decoding ---------------------------------------------------------------------------------------
    def positions(self, X: np.ndarray) -> np.ndarray:
        """(pop, n_var) decision vectors -> (pop, n_loops) positions in [0, 1) along each loop's member list."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.n_var:
            raise ProblemError(f"{self.name}: decision vectors must have {self.n_var} entries, got {X.shape[1]}")
        if self.encoding == "position":
            return np.clip(X, 0.0, 1.0)
        return (np.arctan2(X[:, 1::2], X[:, 0::2]) / (2.0 * np.pi)) % 1.0

    def decode(self, X: np.ndarray) -> np.ndarray:
        """(pop, n_var) decision vectors -> sorted open branch ids (pop, n_loops), radial (repaired where needed)."""
        x = self.positions(X)
        ids = decode_loops(self._decode_net, x)
        bad = np.flatnonzero(~radial_mask(self.net, ids))
        if len(bad):
            ids[bad] = self._nearest(ids[bad], x[bad])
            bad = np.flatnonzero(~radial_mask(self.net, ids))
        for i in bad:
            key = tuple(int(b) for b in ids[i])
            fixed = self._repair_memo.get(key)
            if fixed is None:  # same pick -> same repair, whatever the population it sits in
                fixed = self._repair_memo[key] = repair(self.net, ids[i][None, :], np.random.default_rng(list(key)))[0]
            ids[i] = fixed
        return np.sort(ids, axis=1)

    def _nearest(self, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Change ONE loop's pick to the radial alternative whose slot centre is nearest (cyclically for "angle")
        to that loop's position; rows without such an alternative are returned unchanged (ties: the first loop,
        then its first member)."""
        n = len(ids)
        loop, branch = self._alt_loop, self._alt_branch
        alts = np.repeat(ids[None, :, :], loop.size, axis=0)  # (alternatives, rows, loops)
        alts[np.arange(loop.size), :, loop] = branch[:, None]
        d = np.abs(self._alt_centre[:, None] - x[:, loop].T)  # (alternatives, rows)
        if self.encoding == "angle":
            d = np.minimum(d, 1.0 - d)
        d[ids[:, loop].T == branch[:, None]] = np.inf  # the pick itself is no alternative
        alts_a, dist_a = alts.reshape(-1, ids.shape[1]), d.reshape(-1)
        live = np.isfinite(dist_a)
        ok = np.zeros(len(alts_a), dtype=bool)
        ok[live] = radial_mask(self.net, alts_a[live])
        d = np.where(ok, dist_a, np.inf).reshape(-1, n)  # (alternatives, rows)
        best = np.argmin(d, axis=0)
        found = np.isfinite(d[best, np.arange(n)])
        out = ids.copy()
        out[found] = alts_a.reshape(-1, n, ids.shape[1])[best[found], np.flatnonzero(found)]
        return out

    def encode(self, open_ids) -> np.ndarray:
        """A decision vector (n_var,) that decodes to `open_ids`, given loop by loop (one member of each loop)."""
        ids = [int(b) for b in np.asarray(open_ids).reshape(-1)]
        if len(ids) != self.n_loops:
            raise ProblemError(f"{self.name}: need one open branch per loop ({self.n_loops}), got {ids}")
        pos = []
        for j, (b, loop) in enumerate(zip(ids, self.loops)):
            if b not in loop:
                raise ProblemError(f"{self.name}: branch {b} is not in loop {j} {sorted(loop)}")
            pos.append((loop.index(b) + 0.5) / len(loop))
        pos_a = np.asarray(pos)
        if self.encoding == "position":
            return pos_a
        ang = 2.0 * np.pi * pos_a
        return np.column_stack([np.cos(ang), np.sin(ang)]).reshape(-1)

    # ---- evaluation -------------------------------------------------------------------------------------
    def _flow(self, rows: np.ndarray) -> BatchFlowResult:
        """The batched flow of distinct topologies (rows of open branch ids); subclasses change the flow only."""
        return solve_radial_batch(self.net, rows, self.p_kw, self.q_kvar, tol_pu=self.flow_tol_pu,
                                  max_iter=self.flow_max_iter)

    def losses(self, open_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(loss [kW], cv) of each row of open branch ids; each distinct topology is solved once per problem."""
        open_ids = np.sort(np.atleast_2d(np.asarray(open_ids, dtype=np.int64)), axis=1)
        keys = [r.tobytes() for r in open_ids]
        todo = sorted({k for k in keys if k not in self._cache})
        if todo:
            res = self._flow(np.frombuffer(b"".join(todo), dtype=np.int64).reshape(len(todo), -1))
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
        return (f"ReconfigurationProblem({self.net.name!r}, encoding={self.encoding!r}, order={self.order!r}, "
                f"n_var={self.n_var})")
