"""Exact reference controller `milp`: reconfiguration + lot dispatch as a mixed-integer linear program (HiGHS).

It gives a certified optimum (or a bound, with the MIP gap) of a linearised model, against which the
metaheuristic controllers can be measured; the chosen plan is then evaluated exactly (AC power flow).

Formulation (units: MW / Mvar inside the model, kW in the objective and the outputs; v = |V|^2 in p.u.^2)

* Topology, shared by all modelled hours: binary z_k per branch k (1 = closed). Radiality = spanning tree:
  sum_k z_k = n_bus - 1 and a single-commodity fictitious flow f_k, |f_k| <= (n_bus - 1) z_k, with the slack
  injecting n_bus - 1 units and every other bus absorbing 1 (connectivity). Valid loop cuts
  sum_{k in loop} z_k <= |loop| - 1 (one open branch per fundamental loop at least) tighten the relaxation,
  as does a directed "parent" formulation: z_k = a_k + b_k (a: feeds its to-bus, b: feeds its from-bus),
  exactly one parent per non-slack bus, none for the slack.
  With `problem.reconfigure` False the z_k are fixed to `problem.base_open_branches`.
* LinDistFlow per hour h (lossless flows, seed 000 eq. 18-19 linearised): branch flows P_kh, Q_kh (from->to
  positive), directional big-M: (p_to - D_h) a_k - M_h b_k <= P_kh <= M_h a_k + (D_h - p_from) b_k, where
  M_h bounds any subtree load and D_h any injection (discharging lots, negative loads); nodal balance at every non-slack bus with load + lot power (lots
  exchange active power only, as seed 000); v_to = v_from - 2 (r_k P_kh + x_k Q_kh) relaxed by
  +-(v_max^2 - v_min^2)(1 - z_k) on open branches; v_slack = 1; v_min^2 <= v <= v_max^2 held softly with a
  heavy penalty (reported as `voltage_violation_pu2`) so that a stressed day still returns a plan.
* Losses (OF3, seed 000 eq. 11): r_k (P^2 + Q^2) / V0^2 with V0 = 1 p.u. Each square is replaced by an
  epigraph variable s >= P^2 held by tangent cuts (an outer, piecewise-linear approximation): `n_segments`
  tangent points, denser near 0, on [-M_h, M_h]. The MILP minimum is therefore a LOWER bound of the
  quadratic-loss LinDistFlow model. Kelley-style refinement: after each solve, tangent cuts at the
  incumbent's flows are added and the MILP re-solved (up to `max_rounds`) until the incumbent's quadratic
  losses and the MILP bound agree within `mip_rel_gap`-ish tolerance (`model_gap`).
* Lots: per lot, candidate bus b and hour h continuous charge c >= 0 and discharge d >= 0 (MW); c <= cmax_h
  only where hour_mode = +1, d <= dmax_h only where hour_mode = -1, cmax/dmax = min(offer limit,
  n_pev * pev_power). Several candidate buses: binary site choice y_b, sum_b y_b = 1, c, d <= limit * y_b.
  Seed 000 eq. 6 (as many PEVs charged as discharged over the day), generalised by the contract:
  sum_h (c - d) = energy_need_kwh (0 gives eq. 6 exactly in PEV-hours), sum_h d <= energy_available_kwh.
* Objectives: "of3" losses (kWh); "of2" load-curve deviation sum_h |P_target - P_load,h - P_lot,h| (eq. 7-8,
  P_target = mean load of the modelled hours) with abs via aux variables; "vpd" sum_h sum_b |V - 1| with
  V ~ (1 + v)/2, abs via aux variables; "of1" PLO benefit, linear in c and d (eq. 1-5 with fixed SOC
  shares), maximised. For of1/of2/vpd a small loss term (`tie_loss_weight`) breaks ties between topologies.

Hours: `hours` (default all 24) are the hours put in the model; the lot is idle in the others. The plan is
always evaluated over all 24 h with the fast radial power flow (`cosim.powerflow.bfs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import highspy
import numpy as np
from scipy import sparse

from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem, LotOffer, ProblemError
from cosim.powerflow.bfs import solve_radial_batch
from cosim.powerflow.network_data import RadialNetwork

VOLTAGE_PENALTY_KW_PER_PU2 = 1.0e6  # objective cost of 1 p.u.^2 of squared-voltage limit violation




class MilpError(ProblemError):
    """Bad settings for the MILP controller (segments, hours, time limit ...)."""


class _Model:
    """Tiny column/row accumulator for a sparse MILP handed to HiGHS in one piece."""

    def __init__(self) -> None:
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.n_col = 0
        self.rows_lo: list[np.ndarray] = []
        self.rows_hi: list[np.ndarray] = []
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.n_row = 0

    def var(self, shape, lb=0.0, ub=np.inf, cost=0.0, integer=False) -> np.ndarray:
        """New variables of the given shape; returns their column indices in that shape."""
        n = int(np.prod(shape))
        idx = np.arange(self.n_col, self.n_col + n).reshape(shape)
        self.n_col += n
        self.lb.append(np.broadcast_to(np.asarray(lb, float), shape).ravel().copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, float), shape).ravel().copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, float), shape).ravel().copy())
        self.integer.append(np.full(n, bool(integer)))
        return idx

    def rows(self, lo, hi, terms: Sequence[tuple[Any, Any]], n: int | None = None) -> None:
        """Add rows lo <= sum_t coef_t * x[col_t] <= hi, vectorised: every col/coef broadcast to (n_rows,)."""
        if n is None:
            n = max(np.size(c) for c, _ in terms)
        base = self.n_row
        for cols, coef in terms:
            cols, coef = np.asarray(cols), np.asarray(coef, float)
            if coef.size != cols.size:
                cols, coef = np.broadcast_arrays(cols, coef)
            cols, coef = cols.ravel(), coef.ravel()
            if cols.size != n:
                cols, coef = np.broadcast_to(cols, (n,)), np.broadcast_to(coef, (n,))
            self.r.append(base + np.arange(n))
            self.c.append(cols)
            self.v.append(coef.copy())
        for store, val in ((self.rows_lo, lo), (self.rows_hi, hi)):
            val = np.asarray(val, float).ravel()
            store.append(np.broadcast_to(val, (n,)).copy())
        self.n_row += n

    def sum_row(self, lo: float, hi: float, cols, coef=1.0) -> None:
        """Add one row lo <= sum_i coef_i * x[cols_i] <= hi."""
        cols = np.ravel(cols)
        self.r.append(np.full(len(cols), self.n_row))
        self.c.append(cols)
        self.v.append(np.broadcast_to(np.asarray(coef, float), (len(cols),)).ravel().copy())
        self.rows_lo.append(np.array([lo], float))
        self.rows_hi.append(np.array([hi], float))
        self.n_row += 1

    def solve(
        self, time_limit_s: float, mip_rel_gap: float, threads: int | None = None, start: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Hand the model to HiGHS; returns x, status, objective, bound, gap."""
        inf = highspy.kHighsInf
        a = sparse.csc_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))), shape=(self.n_row, self.n_col)
        )
        a.sum_duplicates()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_col, self.n_row
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.where(np.isinf(l := np.concatenate(self.lb)), -inf, l)
        lp.col_upper_ = np.where(np.isinf(u := np.concatenate(self.ub)), inf, u)
        lp.row_lower_ = np.where(np.isinf(l := np.concatenate(self.rows_lo)), -inf, l)
        lp.row_upper_ = np.where(np.isinf(u := np.concatenate(self.rows_hi)), inf, u)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n_col, self.n_row
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in np.concatenate(self.integer)
        ]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(max(time_limit_s, 0.1)))
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        if threads:
            h.setOptionValue("threads", int(threads))
        h.passModel(lp)
        if start is not None and len(start) == self.n_col:
            warm = highspy.HighsSolution()
            warm.col_value = np.asarray(start, float)
            warm.value_valid = True
            h.setSolution(warm)
        t0 = time.perf_counter()
        h.run()
        wall = time.perf_counter() - t0
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        sol = h.getSolution()
        has_x = info.primal_solution_status == 2 and len(sol.col_value) == self.n_col
        return {
            "x": np.asarray(sol.col_value) if has_x else None,
            "status": status,
            "objective": float(info.objective_function_value) if has_x else float("nan"),
            "bound": float(info.mip_dual_bound),
            "gap": float(info.mip_gap) if has_x else float("inf"),
            "nodes": int(info.mip_node_count),
            "wall_s": wall,
        }


def _tangent_points(n_segments: int) -> np.ndarray:
    """Tangent points in [-1, 1] (times the flow bound), denser near 0 where most branch flows are."""
    half = max(1, n_segments // 2)
    pos = (np.arange(1, half + 1) / half) ** 2
    return np.concatenate([-pos[::-1], [0.0], pos])


@dataclass
class _LotData:
    offer: LotOffer
    buses: np.ndarray  # 0-based candidate buses
    cmax_mw: np.ndarray  # (H,) over modelled hours
    dmax_mw: np.ndarray


@dataclass
class MilpResult:
    """Outcome of one reconfiguration/dispatch MILP (with cut refinement)."""

    open_branches: tuple[int, ...]
    lot_buses: dict[str, int]
    setpoints_kw: dict[str, np.ndarray]  # (24,) per lot
    status: str
    objective: float  # MILP objective of the last round (kW-based units of the objective)
    bound: float  # MILP dual bound of the last round: lower bound of the linearised (quadratic-loss) model
    gap: float  # HiGHS relative MIP gap of the last round
    model_objective: float  # objective of the incumbent with exact squares P^2, Q^2 (LinDistFlow model)
    model_gap: float  # (model_objective - bound) / |model_objective|
    rounds: int
    wall_s: float
    voltage_violation_pu2: float
    found: bool
    extra: dict[str, Any] = field(default_factory=dict)


def _solve_model(
    net: RadialNetwork,
    p_kw: np.ndarray,
    q_kvar: np.ndarray,
    *,
    hours: np.ndarray,
    lots: Sequence[_LotData] = (),
    objective: str = "of3",
    fixed_open: Sequence[int] | None = None,
    price: np.ndarray | None = None,
    n_segments: int = 12,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    max_rounds: int = 6,
    model_rel_gap: float = 1e-3,
    tie_loss_weight: float = 1e-3,
    threads: int | None = None,
) -> MilpResult:
    """Build and solve the MILP over the hours given (p_kw, q_kvar have shape (len(hours), n_bus))."""
    t_start = time.perf_counter()
    n, nbr, s = net.n_bus, net.n_branch, net.slack_bus
    H = p_kw.shape[0]
    fb, tb = np.asarray(net.from_bus), np.asarray(net.to_bus)
    r_eff = np.asarray(net.r_pu) / net.base_mva  # p.u. drop / loss per MW
    x_eff = np.asarray(net.x_pu) / net.base_mva
    p_mw, q_mw = p_kw / 1000.0, q_kvar / 1000.0
    lot_max = sum(np.maximum(l.cmax_mw, l.dmax_mw) for l in lots) if lots else np.zeros(H)
    m_p = np.abs(p_mw).sum(axis=1) + lot_max + 1e-3  # (H,) flow bound MW
    m_q = np.abs(q_mw).sum(axis=1) + 1e-3
    lot_dis = sum(l.dmax_mw for l in lots) if lots else np.zeros(H)
    d_p = np.maximum(-p_mw, 0.0).sum(axis=1) + lot_dis + 1e-6  # (H,) MW that may be injected (reverse flow)
    d_q = np.maximum(-q_mw, 0.0).sum(axis=1) + 1e-6
    vmin2, vmax2 = net.v_min_pu**2, net.v_max_pu**2
    m_v = vmax2 - vmin2
    loss_w = 1.0 if objective == "of3" else tie_loss_weight
    base_pts = _tangent_points(n_segments)
    extra_pts_p: list[np.ndarray] = []  # (H, nbr) absolute MW tangent points added by refinement
    extra_pts_q: list[np.ndarray] = []
    nonslack = np.delete(np.arange(n), s)
    rounds, res, last, best_bound = 0, None, None, -np.inf
    while True:
        rounds += 1
        m = _Model()
        z = m.var((nbr,), 0, 1, integer=True)
        if fixed_open is not None:
            fixed = np.ones(nbr)
            fixed[net.branch_indices(fixed_open)] = 0
            m.lb[-1][:] = fixed
            m.ub[-1][:] = fixed
        f = m.var((nbr,), -(n - 1), n - 1)
        P = m.var((H, nbr), -m_p[:, None], m_p[:, None])
        Q = m.var((H, nbr), -m_q[:, None], m_q[:, None])
        v = m.var((H, n), 0.0, 2.0)
        viol = m.var((H, n), 0.0, np.inf, cost=VOLTAGE_PENALTY_KW_PER_PU2)
        sp = m.var((H, nbr), 0.0, np.inf, cost=loss_w * 1000.0 * r_eff[None, :])
        sq = m.var((H, nbr), 0.0, np.inf, cost=loss_w * 1000.0 * r_eff[None, :])
        # radiality: n-1 closed branches + fictitious flow connectivity + loop cuts
        m.sum_row(n - 1, n - 1, z)
        # directed (parent) formulation: a_k = branch k feeds its to-bus, b_k = feeds its from-bus; z = a + b;
        # every non-slack bus has exactly one parent, the slack none (tight LP relaxation, Jabr-style)
        a = m.var((nbr,), 0, np.where(tb == s, 0, 1), integer=True)
        b = m.var((nbr,), 0, np.where(fb == s, 0, 1), integer=True)
        m.rows(0.0, 0.0, [(z, 1.0), (a, -1.0), (b, -1.0)])
        for j in nonslack:
            m.sum_row(1.0, 1.0, np.concatenate([a[tb == j], b[fb == j]]))
        m.rows(-np.inf, 0.0, [(f, 1.0), (a, -(n - 1))])
        m.rows(0.0, np.inf, [(f, 1.0), (b, n - 1)])
        for j in range(n):
            into, out = np.flatnonzero(tb == j), np.flatnonzero(fb == j)
            rhs = -(n - 1) if j == s else 1.0
            m.sum_row(rhs, rhs, np.concatenate([f[into], f[out]]), np.r_[np.ones(len(into)), -np.ones(len(out))])
        for loop in net.loops:
            idx = net.branch_indices(loop)
            m.sum_row(-np.inf, len(idx) - 1, z[idx])
        # directional flow limits: with a_k = 1 the to-bus subtree is downstream, so P_k (its net load) lies in
        # [p_to - D, M]; with b_k = 1 likewise in [-M, D - p_from]; open branch: 0 (D = possible injections)
        ah, bh = np.broadcast_to(a, (H, nbr)), np.broadcast_to(b, (H, nbr))
        for X, M, load, inj in ((P, m_p, p_mw, d_p), (Q, m_q, q_mw, d_q)):
            MM = np.repeat(M, nbr).reshape(H, nbr)
            up = inj[:, None] - load[:, fb]
            lo = load[:, tb] - inj[:, None]
            m.rows(-np.inf, 0.0, [(X, 1.0), (ah, -MM), (bh, -up)])
            m.rows(0.0, np.inf, [(X, 1.0), (ah, -lo), (bh, MM)])
        # lot variables
        lot_c, lot_d, lot_y = [], [], []
        bus_lot_terms: dict[int, list[tuple[np.ndarray, float]]] = {}
        for lot in lots:
            nb_l = len(lot.buses)
            cost_c, cost_d = _of1_costs_per_mw(lot.offer, price if price is not None else np.zeros(H))
            if objective != "of1":
                cost_c, cost_d = 0.0, 0.0
            c = m.var((nb_l, H), 0.0, np.broadcast_to(lot.cmax_mw, (nb_l, H)), cost=np.broadcast_to(cost_c, (nb_l, H)))
            d = m.var((nb_l, H), 0.0, np.broadcast_to(lot.dmax_mw, (nb_l, H)), cost=np.broadcast_to(cost_d, (nb_l, H)))
            y = None
            if nb_l > 1:
                y = m.var((nb_l,), 0, 1, integer=True)
                m.sum_row(1.0, 1.0, y)
                for X, lim in ((c, lot.cmax_mw), (d, lot.dmax_mw)):
                    m.rows(-np.inf, 0.0, [(X, 1.0), (np.repeat(y, H).reshape(nb_l, H), -np.tile(lim, nb_l))])
            need = lot.offer.energy_need_kwh / 1000.0
            m.sum_row(need, need, np.concatenate([c.ravel(), d.ravel()]), np.r_[np.ones(c.size), -np.ones(d.size)])
            if np.isfinite(lot.offer.energy_available_kwh):
                avail = lot.offer.energy_available_kwh / 1000.0
                m.sum_row(-np.inf, avail, d)
            for bi, bus in enumerate(lot.buses):
                bus_lot_terms.setdefault(int(bus), []).append((c[bi], d[bi]))
            lot_c.append(c)
            lot_d.append(d)
            lot_y.append(y)
        # nodal balance (non-slack buses): inflow - outflow = load + lot
        for j in nonslack:
            into, out = np.flatnonzero(tb == j), np.flatnonzero(fb == j)
            termsP = [(P[:, k], 1.0) for k in into] + [(P[:, k], -1.0) for k in out]
            termsQ = [(Q[:, k], 1.0) for k in into] + [(Q[:, k], -1.0) for k in out]
            for c, d in bus_lot_terms.get(int(j), []):
                termsP += [(c, -1.0), (d, 1.0)]
            m.rows(p_mw[:, j], p_mw[:, j], termsP, n=H)
            m.rows(q_mw[:, j], q_mw[:, j], termsQ, n=H)
        # voltages: slack fixed, soft limits, LinDistFlow drop with big-M
        m.rows(1.0, 1.0, [(v[:, s], 1.0)], n=H)
        m.rows(vmin2, np.inf, [(v, 1.0), (viol, 1.0)])
        m.rows(-np.inf, vmax2, [(v, 1.0), (viol, -1.0)])
        zz = np.broadcast_to(z, (H, nbr))
        drop = [(v[:, fb], 1.0), (v[:, tb], -1.0), (P, -2.0 * r_eff[None, :]), (Q, -2.0 * x_eff[None, :])]
        m.rows(-np.inf, m_v, drop + [(zz, m_v)])
        m.rows(-m_v, np.inf, drop + [(zz, -m_v)])
        # tangent cuts s >= 2 t X - t^2
        for X, S, M, extra in ((P, sp, m_p, extra_pts_p), (Q, sq, m_q, extra_pts_q)):
            pts = [np.outer(M, base_pts)[:, None, :].repeat(nbr, axis=1)]  # (H, nbr, n_pts)
            pts += [e[:, :, None] for e in extra]
            for t in np.concatenate(pts, axis=2).transpose(2, 0, 1):
                m.rows(-np.inf, t**2, [(X, 2.0 * t), (S, -1.0)])
        # objective-specific terms
        if objective == "of2":
            dev = m.var((H,), 0.0, np.inf, cost=1.0)
            target = p_kw.sum(axis=1).mean()
            load = p_kw.sum(axis=1)
            terms = [(dev, 1.0)]
            for c, d in zip(lot_c, lot_d):
                for bi in range(c.shape[0]):
                    terms += [(c[bi], 1000.0), (d[bi], -1000.0)]
            # dev >= +-(target - load - lot)  <=>  dev + lot >= target - load ; dev - lot >= load - target
            m.rows(target - load, np.inf, terms, n=H)
            m.rows(load - target, np.inf, [(dev, 1.0)] + [(c_, -w) for c_, w in terms[1:]], n=H)
        elif objective == "vpd":
            dev_v = m.var((H, n), 0.0, np.inf, cost=1.0)  # |V - 1| with V ~ (1 + v) / 2
            m.rows(-1.0, np.inf, [(dev_v, 2.0), (v, -1.0)])
            m.rows(1.0, np.inf, [(dev_v, 2.0), (v, 1.0)])
        remaining = time_limit_s - (time.perf_counter() - t_start)
        start = None
        if last is not None:  # previous incumbent with exact squares satisfies every tangent cut: warm start
            start = last["x"].copy()
            start[sp], start[sq] = last["P"] ** 2, last["Q"] ** 2
        res = m.solve(remaining, mip_rel_gap, threads, start)
        if np.isfinite(res["bound"]) and (res["x"] is not None or res["status"] == "Optimal"):
            best_bound = max(best_bound, res["bound"])  # every round's bound is valid: keep the best
        if res["x"] is None:
            if last is not None:  # keep the previous round's incumbent
                res = last
            break
        x = res["x"]
        Pv, Qv = x[P], x[Q]
        quad = 1000.0 * loss_w * float((r_eff[None, :] * (Pv**2 + Qv**2)).sum())
        pwl = 1000.0 * loss_w * float((r_eff[None, :] * (x[sp] + x[sq])).sum())
        res["model_objective"] = res["objective"] - pwl + quad
        res["P"], res["Q"], res["z"], res["viol"] = Pv, Qv, x[z], float(x[viol].sum())
        # clip to the offer limits: HiGHS meets bounds only within its feasibility tolerance (~1e-7 MW)
        res["lots"] = [
            (np.clip(x[c], 0.0, lot.cmax_mw), np.clip(x[d], 0.0, lot.dmax_mw), None if y is None else x[y])
            for lot, c, d, y in zip(lots, lot_c, lot_d, lot_y)
        ]
        last = res
        res["bound"] = max(res["bound"], best_bound)
        mgap = (res["model_objective"] - res["bound"]) / max(abs(res["model_objective"]), 1e-9)
        res["model_gap"] = mgap
        if mgap <= model_rel_gap or rounds >= max_rounds or time.perf_counter() - t_start > time_limit_s:
            break
        extra_pts_p.append(Pv)
        extra_pts_q.append(Qv)
    wall = time.perf_counter() - t_start
    if res is None or res.get("x") is None:
        return MilpResult((), {}, {}, res["status"] if res else "not solved", float("nan"), res["bound"] if res else float("nan"),
                          float("inf"), float("nan"), float("inf"), rounds, wall, float("nan"), False)
    closed = res["z"] > 0.5
    open_ids = tuple(sorted(int(b) for b in np.asarray(net.branch_ids)[~closed]))
    lot_buses, setpoints = {}, {}
    for lot, (cv, dv, yv) in zip(lots, res["lots"]):
        bi = 0 if yv is None else int(np.argmax(yv))
        sp_full = np.zeros(HOURS)
        sp_full[hours] = 1000.0 * (cv.sum(axis=0) - dv.sum(axis=0))
        lot_buses[lot.offer.lot_id] = int(lot.buses[bi]) + 1
        setpoints[lot.offer.lot_id] = sp_full
    return MilpResult(
        open_branches=open_ids, lot_buses=lot_buses, setpoints_kw=setpoints, status=res["status"],
        objective=res["objective"], bound=res["bound"], gap=res["gap"], model_objective=res["model_objective"],
        model_gap=res["model_gap"], rounds=rounds, wall_s=wall, voltage_violation_pu2=res["viol"], found=True,
        extra={"nodes": res["nodes"]},
    )


def _of1_costs_per_mw(offer: LotOffer, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed 000 eq. 1-5 as linear costs ($ per MW for one hour) of charging and discharging (negative = revenue).

    Revenue price * P_disch * sum(SOC*share); charging cost (price/mu_e + cost_e) * P_ch * (1 - sum(SOC*share));
    cost_ca per PEV served, PEVs = P / pev_power (PEV-hours).
    """
    sd = float(np.dot(offer.soc_discharge_levels, offer.soc_discharge_shares))
    sc = float(np.dot(offer.soc_charge_levels, offer.soc_charge_shares))
    e = offer.economics
    per_pev = e.cost_ca_usd_per_pev_day / max(offer.pev_power_kw, 1e-9)
    cost_c = 1000.0 * ((price / e.mu_e + e.cost_e_usd_per_kwh) * (1.0 - sc) + per_pev)
    cost_d = 1000.0 * (-price * sd + per_pev)
    return cost_c, cost_d


@dataclass
class Evaluation:
    """Exact (AC, backward/forward sweep) evaluation of a plan over the hours given."""

    loss_kw: np.ndarray  # (H,)
    v_min_pu: np.ndarray  # (H,)
    vpd_pu: np.ndarray  # (H,) sum_b |V_b - 1|
    p_grid_kw: np.ndarray  # (H,)
    converged: bool


def evaluate_exact(net: RadialNetwork, open_branches: Sequence[int], p_kw: np.ndarray, q_kvar: np.ndarray) -> Evaluation:
    """Exact power flow of one topology over a batch of hours (rows of p_kw / q_kvar, bus loads incl. lots)."""
    res = solve_radial_batch(net, np.asarray(tuple(open_branches), dtype=int), np.atleast_2d(p_kw), np.atleast_2d(q_kvar))
    vm = res.vm_pu
    return Evaluation(
        loss_kw=res.loss_kw, v_min_pu=vm.min(axis=1), vpd_pu=np.abs(vm - 1.0).sum(axis=1), p_grid_kw=res.p_slack_kw,
        converged=bool(np.all(res.ok)),
    )


@dataclass
class ReconfigurationResult:
    """Single-hour minimum-loss reconfiguration: MILP figures plus exact losses of the chosen tree."""

    open_branches: tuple[int, ...]
    loss_kw: float  # exact (AC) losses of the chosen topology
    milp_objective_kw: float  # PWL-loss MILP objective (lower bound side of the quadratic model)
    model_loss_kw: float  # LinDistFlow quadratic losses r(P^2+Q^2) of the chosen tree
    bound_kw: float
    gap: float
    status: str
    rounds: int
    wall_s: float


def solve_single_hour_reconfiguration(
    net: RadialNetwork,
    p_kw: np.ndarray | None = None,
    q_kvar: np.ndarray | None = None,
    *,
    n_segments: int = 24,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    max_rounds: int = 6,
    model_rel_gap: float = 1e-3,
) -> ReconfigurationResult:
    """Minimum-loss radial topology for one hour of bus loads (kW, kvar; default: the network's nominal loads)."""
    p = np.asarray(net.p_load_kw if p_kw is None else p_kw, float).reshape(1, -1)
    q = np.asarray(net.q_load_kvar if q_kvar is None else q_kvar, float).reshape(1, -1)
    if p.shape[1] != net.n_bus or q.shape[1] != net.n_bus or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise MilpError(f"p_kw and q_kvar must be {net.n_bus} finite bus loads of network {net.name!r}, got {p.shape}, {q.shape}")
    _check_settings(n_segments, time_limit_s, mip_rel_gap)
    r = _solve_model(net, p, q, hours=np.array([0]), n_segments=n_segments, time_limit_s=time_limit_s,
                     mip_rel_gap=mip_rel_gap, max_rounds=max_rounds, model_rel_gap=model_rel_gap)
    if not r.found:
        return ReconfigurationResult((), float("nan"), float("nan"), float("nan"), r.bound, float("inf"), r.status, r.rounds, r.wall_s)
    ev = evaluate_exact(net, r.open_branches, p, q)
    return ReconfigurationResult(
        open_branches=r.open_branches, loss_kw=float(ev.loss_kw[0]), milp_objective_kw=r.objective,
        model_loss_kw=r.model_objective, bound_kw=r.bound, gap=r.gap, status=r.status, rounds=r.rounds, wall_s=r.wall_s,
    )


def _check_settings(n_segments: int, time_limit_s: float, mip_rel_gap: float) -> None:
    if int(n_segments) < 2:
        raise MilpError(f"n_segments must be >= 2 tangent segments, got {n_segments}")
    if not time_limit_s > 0:
        raise MilpError(f"time_limit_s must be > 0 s, got {time_limit_s}")
    if not 0 <= mip_rel_gap < 1:
        raise MilpError(f"mip_rel_gap must be in [0, 1), got {mip_rel_gap}")


def _lot_data(lot: LotOffer, hours: np.ndarray) -> _LotData:
    """Per-hour charge / discharge limits (MW) of a lot over the modelled hours, from its offer."""
    for name in ("hour_mode", "max_charge_kw", "max_discharge_kw"):
        arr = np.asarray(getattr(lot, name), float)
        if arr.shape != (HOURS,) or not np.all(np.isfinite(arr)):
            raise ProblemError(f"lot {lot.lot_id!r}: {name} must be 24 finite numbers, got shape {arr.shape}")
    if np.any(np.asarray(lot.max_charge_kw) < 0) or np.any(np.asarray(lot.max_discharge_kw) < 0):
        raise ProblemError(f"lot {lot.lot_id!r}: max_charge_kw / max_discharge_kw must be >= 0")
    mode = np.asarray(lot.hour_mode)[hours]
    cap = max(lot.n_pev, 0) * max(lot.pev_power_kw, 0.0)
    cmax = np.where(mode > 0, np.minimum(np.asarray(lot.max_charge_kw, float)[hours], cap), 0.0) / 1000.0
    dmax = np.where(mode < 0, np.minimum(np.asarray(lot.max_discharge_kw, float)[hours], cap), 0.0) / 1000.0
    buses = np.array(sorted({int(b) - 1 for b in lot.candidate_buses}), dtype=int)
    if len(buses) == 0:
        raise ProblemError(f"lot {lot.lot_id!r}: candidate_buses is empty")
    return _LotData(offer=lot, buses=buses, cmax_mw=cmax, dmax_mw=dmax)


class MilpController:
    """Exact reference DSO controller: LinDistFlow MILP (HiGHS) for shared-topology reconfiguration + lot dispatch."""

    name = "milp"

    def __init__(
        self,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 1e-4,
        n_segments: int = 12,
        hours: Sequence[int] | None = None,
        max_rounds: int = 6,
        model_rel_gap: float = 1e-3,
        tie_loss_weight: float = 1e-3,
        threads: int | None = None,
    ) -> None:
        _check_settings(n_segments, time_limit_s, mip_rel_gap)
        if hours is not None:
            hrs = np.asarray(sorted(set(int(h) for h in hours)), dtype=int)
            if len(hrs) == 0 or hrs.min() < 0 or hrs.max() >= HOURS:
                raise MilpError(f"hours must be a non-empty subset of 0..{HOURS - 1}, got {list(hours)}")
            self.hours = hrs
        else:
            self.hours = np.arange(HOURS)
        self.time_limit_s, self.mip_rel_gap, self.n_segments = float(time_limit_s), float(mip_rel_gap), int(n_segments)
        if int(max_rounds) < 1 or not model_rel_gap >= 0:
            raise MilpError(f"max_rounds must be >= 1 and model_rel_gap >= 0, got {max_rounds}, {model_rel_gap}")
        self.max_rounds, self.model_rel_gap = int(max_rounds), float(model_rel_gap)
        self.tie_loss_weight, self.threads = float(tie_loss_weight), threads

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        """Solve the MILP over `hours`, then evaluate the plan exactly over all 24 h."""
        t0 = time.perf_counter()
        net = problem.network
        hrs = self.hours
        p_all, q_all = problem.bus_loads_kw()
        lots = [_lot_data(lot, hrs) for lot in problem.lots]
        fixed = None if problem.reconfigure else tuple(problem.base_open_branches)
        r = _solve_model(
            net, p_all[hrs], q_all[hrs], hours=hrs, lots=lots, objective=problem.objective, fixed_open=fixed,
            price=problem.price_usd_per_kwh[hrs], n_segments=self.n_segments, time_limit_s=self.time_limit_s,
            mip_rel_gap=self.mip_rel_gap, max_rounds=self.max_rounds, model_rel_gap=self.model_rel_gap, tie_loss_weight=self.tie_loss_weight,
            threads=self.threads,
        )
        info: dict[str, Any] = {
            "milp_objective": r.objective, "milp_bound": r.bound, "mip_gap": r.gap, "status": r.status,
            "model_objective": r.model_objective, "model_gap": r.model_gap, "rounds": r.rounds,
            "solve_wall_s": r.wall_s, "voltage_violation_pu2": r.voltage_violation_pu2, "hours": hrs.tolist(),
            "n_segments": self.n_segments, **r.extra,
        }
        if not r.found:
            info["wall_s"] = time.perf_counter() - t0
            return DayAheadPlan(
                open_branches=tuple(problem.base_open_branches),
                lot_buses={l.lot_id: int(l.candidate_buses[0]) for l in problem.lots},
                setpoints_kw={l.lot_id: np.zeros(HOURS) for l in problem.lots}, feasible=False, controller=self.name,
                info=info,
            )
        p_tot = p_all.copy()
        for lot_id, bus in r.lot_buses.items():
            p_tot[:, bus - 1] += r.setpoints_kw[lot_id]
        ev = evaluate_exact(net, r.open_branches, p_tot, q_all)
        lot_kw = sum(r.setpoints_kw.values()) if r.setpoints_kw else np.zeros(HOURS)
        load = problem.load_kw
        of1 = 0.0
        for offer in problem.lots:
            cost_c, cost_d = _of1_costs_per_mw(offer, problem.price_usd_per_kwh)
            sp = r.setpoints_kw[offer.lot_id] / 1000.0
            of1 -= float(np.sum(cost_c * np.maximum(sp, 0.0) + cost_d * np.maximum(-sp, 0.0)))
        predicted = {
            "of1_usd": of1,
            "of2_kw": float(np.abs(load.mean() - load - lot_kw).sum()),
            "of3_kwh": float(np.sum(ev.loss_kw)),
            "vpd": float(np.sum(ev.vpd_pu)),
            "v_min_pu": float(np.min(ev.v_min_pu)),
            "of3_model_hours_kwh": float(np.sum(ev.loss_kw[hrs])),
        }
        info["v_limits_ok"] = bool(np.nanmin(ev.v_min_pu) >= net.v_min_pu - 1e-9)
        info["wall_s"] = time.perf_counter() - t0
        return DayAheadPlan(
            open_branches=r.open_branches, lot_buses=r.lot_buses, setpoints_kw=r.setpoints_kw,
            feasible=ev.converged and r.voltage_violation_pu2 <= 1e-9, predicted=predicted,
            predicted_hourly={"loss_kw": ev.loss_kw, "v_min_pu": ev.v_min_pu, "p_grid_kw": ev.p_grid_kw, "lot_kw": lot_kw},
            controller=self.name, info=info,
        )
