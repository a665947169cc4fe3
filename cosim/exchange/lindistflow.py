"""The DSO's convex grid model of one day with its topology fixed: LinDistFlow with a quadratic loss proxy.

For a radial topology, each closed branch b carries the loads below it: P_b = sum_{j below b} p_j (kW, + = drawn),
Q_b likewise (losses left out, Baran & Wu's linearisation). Squared voltages follow
``V_j^2 = V_0^2 - 2 sum_{b on the path to j} (r_b P_b + x_b Q_b) / (1000 S_base)`` (per unit), and the branch's
losses are proxied by ``r_b (P_b^2 + Q_b^2) / (1000 S_base)`` kW (V = 1 p.u.). The lots' powers z (kW, + charging,
(n_lots, 24)) enter at their buses; everything else is the day's load forecast. The DSO's cost of z, in $:

    g(z) = sum_h price_h loss_h(z) + VOLTAGE x (p.u. outside the band, per bus-hour) + OVERLOAD x (kW above the
           ratings, per line-hour)

with the band and ratings as soft constraints (penalties from `cosim.exchange.penalties`), so that g is finite and
convex for any z: a quadratic in z plus linear slacks, solved as a QP (`cosim.exchange.qp`). A line's rating is its
active-power headroom ``sqrt(S_max^2 - Q_b^2)`` with S_max = sqrt(3) V_min V_kV I_max: the current rating at the
band's lowest voltage, so that a flow within it keeps the current within the rating wherever voltages are in band
(LinDistFlow's V = 1 would let the current exceed it by 1/V). No mosaik, no private PLO data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cosim.controllers.base import HOURS
from cosim.exchange.penalties import OVERLOAD_USD_PER_KWH, VOLTAGE_USD_PER_PU_H
from cosim.exchange.qp import solve_qp
from cosim.powerflow.network_data import NetworkDataError, RadialNetwork

__all__ = ["LinDistFlowModel", "GridTerms"]


@dataclass(frozen=True)
class GridTerms:
    """The grid part of a QP over [z (n_lots x 24, row-major), slacks]: 0.5 v'Hv + c'v + constant, with
    row_lo <= A v <= row_hi and slack bounds; `n_z` of the variables are z."""

    hessian: sp.csr_matrix
    c: np.ndarray
    constant: float
    a: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    n_z: int


class LinDistFlowModel:
    """LinDistFlow of `net` with `open_branches`, the day's base loads (24, n_bus) kW / kvar, the energy price and
    the lots at `lot_buses` (0-based bus positions); see the module."""

    def __init__(self, net: RadialNetwork, open_branches, p_base_kw: np.ndarray, q_base_kvar: np.ndarray,
                 price_usd_per_kwh: np.ndarray, lot_buses: list[int], v_slack_pu: float = 1.0) -> None:
        self.net = net
        self.price = np.asarray(price_usd_per_kwh, float)[:HOURS]
        self.lot_buses = [int(b) for b in lot_buses]
        closed = np.array([int(b) not in {int(o) for o in open_branches} for b in net.branch_ids])
        below = _downstream(net, closed)  # (n_closed, n_bus): 1 where the bus is fed through the branch
        self.r = np.asarray(net.r_pu, float)[closed]
        x = np.asarray(net.x_pu, float)[closed]
        self.k = 1.0 / (1000.0 * net.base_mva)  # kW^2 -> per unit kW factor
        p = np.asarray(p_base_kw, float)[:HOURS]
        q = np.asarray(q_base_kvar, float)[:HOURS]
        self.p0 = p @ below.T  # (24, n_closed) flows of the base loads, kW
        self.q0 = q @ below.T
        self.g = below[:, self.lot_buses]  # (n_closed, n_lots): a lot's kW on each branch
        r_path = below.T @ (self.r[:, None] * below)  # (n_bus, n_bus): shared path resistance
        x_path = below.T @ (x[:, None] * below)
        self.v2_0 = v_slack_pu ** 2 - 2 * self.k * (p @ r_path.T + q @ x_path.T)  # (24, n_bus) base squared voltage
        self.dv2 = -2 * self.k * r_path[:, self.lot_buses]  # (n_bus, n_lots): squared voltage per lot kW
        self.buses = np.array([j for j in range(net.n_bus) if j != net.slack_bus])
        i_max = np.asarray(net.i_max_ka, float)[closed]
        s_max = np.sqrt(3.0) * float(net.v_min_pu) * net.base_kv * i_max * 1000.0  # kVA at the lowest voltage
        self.rated = np.flatnonzero(np.isfinite(s_max))
        self.p_max = np.sqrt(np.maximum(s_max[None, self.rated] ** 2 - self.q0[:, self.rated] ** 2, 0.0))
        self.v_lo2, self.v_hi2 = float(net.v_min_pu) ** 2, float(net.v_max_pu) ** 2
        self.n_lots = len(self.lot_buses)
        self._terms: GridTerms | None = None

    # -- evaluation -------------------------------------------------------------------------------------------------
    def flows_kw(self, z: np.ndarray) -> np.ndarray:
        """(24, n_closed) branch active power of lot powers z (n_lots, 24)."""
        return self.p0 + np.asarray(z, float).T @ self.g.T

    def loss_kw(self, z: np.ndarray) -> np.ndarray:
        """(24,) the loss proxy, kW."""
        return self.k * ((self.flows_kw(z) ** 2 + self.q0 ** 2) @ self.r)

    def voltages_pu(self, z: np.ndarray) -> np.ndarray:
        """(24, n_bus) LinDistFlow voltage magnitudes."""
        return np.sqrt(np.maximum(self.v2_0 + np.asarray(z, float).T @ self.dv2.T, 0.0))

    def cost_usd(self, z: np.ndarray) -> dict[str, float]:
        """g(z) and its parts: losses at the price, voltage and overload penalties ($), and losses (kWh)."""
        loss = self.loss_kw(z)
        v2 = (self.v2_0 + np.asarray(z, float).T @ self.dv2.T)[:, self.buses]
        dv = np.maximum(self.v_lo2 - v2, 0.0) / (2 * np.sqrt(self.v_lo2)) \
            + np.maximum(v2 - self.v_hi2, 0.0) / (2 * np.sqrt(self.v_hi2))
        over = np.maximum(np.abs(self.flows_kw(z)[:, self.rated]) - self.p_max, 0.0)
        parts = {"losses_usd": float(self.price @ loss), "voltage_usd": VOLTAGE_USD_PER_PU_H * float(dv.sum()),
                 "overload_usd": OVERLOAD_USD_PER_KWH * float(over.sum())}
        return {"cost_usd": sum(parts.values()), **parts, "losses_kwh": float(loss.sum()),
                "overload_kwh": float(over.sum()), "voltage_pu_h": float(dv.sum())}

    # -- the QP -----------------------------------------------------------------------------------------------------
    def terms(self) -> GridTerms:
        """g as QP terms over [z, undervoltage, overvoltage, overload slacks] (squared p.u., kW); built once."""
        if self._terms is None:
            self._terms = self._build_terms()
        return self._terms

    def _build_terms(self) -> GridTerms:
        n_l, nb, nr = self.n_lots, len(self.buses), len(self.rated)
        n_z = n_l * HOURS
        blocks_h, c_z, const = [], np.zeros((n_l, HOURS)), 0.0
        r_gg = self.g.T @ (self.r[:, None] * self.g)  # (n_lots, n_lots)
        for h in range(HOURS):
            kh = self.price[h] * self.k
            blocks_h.append(2 * kh * r_gg)
            c_z[:, h] = 2 * kh * (self.g.T @ (self.r * self.p0[h]))
            const += kh * float(self.r @ (self.p0[h] ** 2 + self.q0[h] ** 2))
        # z is row-major (lot, hour): permute the hour blocks into that order
        hess_hour_major = sp.block_diag(blocks_h, format="csr") if n_l else sp.csr_matrix((0, 0))
        perm = np.arange(n_z).reshape(n_l, HOURS).T.ravel()  # hour-major position -> row-major index
        pm = sp.csr_matrix((np.ones(n_z), (perm, np.arange(n_z))), shape=(n_z, n_z))
        hess_z = pm @ hess_hour_major @ pm.T
        n_s = HOURS * (2 * nb + nr)
        hessian = sp.block_diag([hess_z, sp.csr_matrix((n_s, n_s))], format="csr")
        c = np.concatenate([c_z.ravel(), np.full(2 * HOURS * nb, VOLTAGE_USD_PER_PU_H / 2.0) /
                            np.repeat([np.sqrt(self.v_lo2), np.sqrt(self.v_hi2)], HOURS * nb),
                            np.full(HOURS * nr, OVERLOAD_USD_PER_KWH)])
        rows, lo, hi = [], [], []
        eye_h = sp.eye(HOURS, format="csr")
        z_of = lambda per_hour: sp.kron(sp.csr_matrix(per_hour), eye_h, format="csr")  # noqa: E731 - (m*24, n_z)
        # (m, n_lots) per hour -> rows hour-minor: row i*24+h; z column l*24+h
        s_lo = sp.hstack([sp.eye(HOURS * nb), sp.csr_matrix((HOURS * nb, HOURS * (nb + nr)))])
        s_hi = sp.hstack([sp.csr_matrix((HOURS * nb, HOURS * nb)), sp.eye(HOURS * nb),
                          sp.csr_matrix((HOURS * nb, HOURS * nr))])
        dv = z_of(self.dv2[self.buses])
        v0 = self.v2_0[:, self.buses].T.ravel()  # bus-major, hour-minor
        rows += [sp.hstack([dv, s_lo]), sp.hstack([dv, -s_hi])]
        lo += [self.v_lo2 - v0, np.full(HOURS * nb, -np.inf)]
        hi += [np.full(HOURS * nb, np.inf), self.v_hi2 - v0]
        if nr:
            s_ov = sp.hstack([sp.csr_matrix((HOURS * nr, 2 * HOURS * nb)), sp.eye(HOURS * nr)])
            fl = z_of(self.g[self.rated])
            p0 = self.p0[:, self.rated].T.ravel()
            pmax = self.p_max.T.ravel()
            rows += [sp.hstack([fl, -s_ov]), sp.hstack([fl, s_ov])]
            lo += [np.full(HOURS * nr, -np.inf), -pmax - p0]
            hi += [pmax - p0, np.full(HOURS * nr, np.inf)]
        a = sp.vstack(rows, format="csr")
        lb = np.concatenate([np.full(n_z, -np.inf), np.zeros(n_s)])
        return GridTerms(hessian, c, const, a, np.concatenate(lo), np.concatenate(hi), lb, np.full(n_z + n_s, np.inf),
                         n_z)

    def prox_step(self, target_kw: np.ndarray, rho: float) -> np.ndarray:
        """argmin_z g(z) + rho/2 ||z - target||^2 (the DSO's ADMM step); (n_lots, 24) kW."""
        t = self.terms()
        n = len(t.c)
        target = np.asarray(target_kw, float).ravel()
        prox = sp.diags(np.concatenate([np.full(t.n_z, rho), np.zeros(n - t.n_z)]))
        c = t.c.copy()
        c[:t.n_z] -= rho * target
        res = solve_qp(c, t.hessian + prox, t.a, t.row_lo, t.row_hi, t.lb, t.ub)
        return res.x[:t.n_z].reshape(self.n_lots, HOURS)


def _downstream(net: RadialNetwork, closed: np.ndarray) -> np.ndarray:
    """(n_closed, n_bus) 0/1: bus j is fed through closed branch b (the slack at the root)."""
    f = np.asarray(net.from_bus, int)[closed]
    t = np.asarray(net.to_bus, int)[closed]
    adj: dict[int, list[tuple[int, int]]] = {j: [] for j in range(net.n_bus)}
    for b, (u, v) in enumerate(zip(f, t)):
        adj[u].append((v, b))
        adj[v].append((u, b))
    parent_branch = np.full(net.n_bus, -1)
    parent = np.full(net.n_bus, -1)
    order, seen = [net.slack_bus], {net.slack_bus}
    for u in order:
        for v, b in adj[u]:
            if v not in seen:
                seen.add(v)
                parent[v], parent_branch[v] = u, b
                order.append(v)
    if len(seen) != net.n_bus or len(f) != net.n_bus - 1:
        raise NetworkDataError(f"network {net.name!r}: the topology is not radial and connected")
    below = np.zeros((len(f), net.n_bus))
    for j in order[1:]:
        k = j
        while k != net.slack_bus:
            below[parent_branch[k], j] = 1.0
            k = parent[k]
    return below
