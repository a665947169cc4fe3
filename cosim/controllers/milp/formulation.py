"""The MILP of the `milp` controller: LinDistFlow + radiality + lots, written with `cosim.optim.linear`.

Formulation (units: MW / Mvar inside the model, kW in the objective and the outputs; v = |V|^2 in p.u.^2)

* Topology, shared by all modelled hours: binary z_k per branch k (1 = closed). Radiality = spanning tree:
  sum_k z_k = n_bus - 1 and a single-commodity fictitious flow f_k, |f_k| <= (n_bus - 1) z_k, with the slack
  injecting n_bus - 1 units and every other bus absorbing 1 (connectivity). Valid loop cuts
  sum_{k in loop} z_k <= |loop| - 1 (one open branch per fundamental loop at least) tighten the relaxation,
  as does a directed "parent" formulation: z_k = a_k + b_k (a: feeds its to-bus, b: feeds its from-bus),
  exactly one parent per non-slack bus, none for the slack.
  With `fixed_open` given the z_k are fixed (those branches open, every other closed); branches without a switch
  (`RadialNetwork.fixed_branches`) are always closed.
* LinDistFlow per hour h (lossless flows, seed 000 eq. 18-19 linearised): branch flows P_kh, Q_kh (from->to
  positive), directional big-M: (p_to - D_h) a_k - M_h b_k <= P_kh <= M_h a_k + (D_h - p_from) b_k, where
  M_h bounds any subtree load and D_h any injection (discharging lots, negative loads); nodal balance at every
  non-slack bus with load + lot power (active and, below unity power factor, reactive: see Lots); v_to = v_from -
  2 (r_k P_kh + x_k Q_kh) relaxed by +-(v_max^2 - v_min^2)(1 - z_k) on open branches; v_slack = 1 (a
  converted net's v_slack_pu); a transformer branch (off-nominal ratio t at its from-end) starts from v_from / |t|^2;
  v_min^2 <= v <= v_max^2 held softly with a heavy penalty (`VOLTAGE_PENALTY_KW_PER_PU2`) so that a stressed
  day still returns a plan.
* Losses (OF3, seed 000 eq. 11): r_k (P^2 + Q^2) / V0^2 with V0 = 1 p.u. Each square is replaced by an
  epigraph variable s >= P^2 held by tangent cuts (an outer, piecewise-linear approximation): `n_segments`
  tangent points, denser near 0, on [-M_h, M_h]. The MILP minimum is therefore a LOWER bound of the
  quadratic-loss LinDistFlow model; `Formulation.add_tangent_cuts` adds cuts at other flows (see `refinement`).
* Lots: per lot, candidate bus b and hour h continuous charge c >= 0 and discharge d >= 0 (MW); c <= cmax_h
  only where hour_mode = +1, d <= dmax_h only where hour_mode = -1, cmax/dmax = min(offer limit,
  n_pev * pev_power). Several candidate buses: binary site choice y_b, sum_b y_b = 1, c, d <= limit * y_b.
  Seed 000 eq. 6 (as many PEVs charged as discharged over the day), generalised by the contract:
  sum_h (c - d) = energy_need_kwh (0 gives eq. 6 exactly in PEV-hours), sum_h d <= energy_available_kwh.
  With an envelope (`LotOffer.envelope`) instead: p_min_h <= c_h - d_h <= p_max_h and the cumulative battery
  energy sum_{k<=h} (eta_c c_k - d_k / eta_d) within [e_min_h, e_max_h] for every hour h: the contracts'
  hourly deadlines and the batteries' room.
  Reactive power (`LotOffer.power_factor` < 1, the DSO's registration of the lot): the chargers absorb
  q = tan(acos(pf)) |c - d| at the lot's bus, written q = tan(acos(pf)) (c + d): exact in every hour in which the
  lot only charges or only discharges (hour_mode allows one of c, d per hour). Where both may be non-zero (an
  envelope hour with p_min < 0 < p_max) c + d would over-state q by any power cycled inside the hour, which a
  voltage objective could use (absorbing fictitious q at a high bus), so there a binary direction u_h per lot
  and hour keeps them apart: c_h <= cmax_h u_h, d_h <= dmax_h (1 - u_h) (V2G hours only, pf < 1 only).
  A lot under Q(V) is registered at its curve's minimum power factor: full absorption, the lowest voltages the
  curve can cause (README, "Reactive power").
* Steps: the modelled periods are steps of `step_h` hours (1, 0.5 or 0.25: 24, 48 or 96 a day); flows and lot
  powers are MW in each step, every energy (contracts, the envelope's cumulative bounds, losses in kWh) is MW x
  step_h, and each objective weighs a step by step_h, as `cosim.controllers.objectives` does.
* Objectives: "of3" losses (kWh); "of2" load-curve deviation sum_h |P_target - P_load,h - P_lot,h| (eq. 7-8,
  P_target = mean load of the modelled hours) with abs via aux variables; "vpd" sum_h sum_b |V - 1| with
  V ~ (1 + v)/2, abs via aux variables; "of1" PLO benefit, linear in c and d (eq. 1-5 with fixed SOC
  shares), maximised. For of1/of2/vpd a small loss term (`tie_loss_weight`) breaks ties between topologies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from highspy import HighspyArray

from cosim.controllers.ageing import held_hours
from cosim.controllers.base import HOURS, LotOffer
from cosim.errors import ProblemError
from cosim.optim.linear import LinearModel
from cosim.powerflow.network_data import RadialNetwork

VOLTAGE_PENALTY_KW_PER_PU2 = 1.0e6  # objective cost of 1 p.u.^2 of squared-voltage limit violation


@dataclass
class LotData:
    """A lot's offer and its limits over the modelled steps."""

    offer: LotOffer
    buses: np.ndarray  # 0-based candidate buses
    cmax_mw: np.ndarray  # (H,) over modelled hours
    dmax_mw: np.ndarray
    hours: np.ndarray | None = None  # the modelled steps (0-based), for the envelope's cumulative bounds
    kvar_per_kw: float = 0.0  # tan(acos(power_factor)): kvar the chargers absorb per kW drawn or fed in


def lot_data(lot: LotOffer, hours: np.ndarray, steps: int = HOURS) -> LotData:
    """Per-step charge / discharge limits (MW) of a lot over the modelled steps `hours` of a day of `steps`
    steps, from its offer."""
    for name in ("hour_mode", "max_charge_kw", "max_discharge_kw"):
        arr = np.asarray(getattr(lot, name), float)
        if arr.shape != (steps,) or not np.all(np.isfinite(arr)):
            raise ProblemError(f"lot {lot.lot_id!r}: {name} must be {steps} finite numbers, got shape {arr.shape}")
    if np.any(np.asarray(lot.max_charge_kw) < 0) or np.any(np.asarray(lot.max_discharge_kw) < 0):
        raise ProblemError(f"lot {lot.lot_id!r}: max_charge_kw / max_discharge_kw must be >= 0")
    mode = np.asarray(lot.hour_mode)[hours]
    cap = max(lot.n_pev, 0) * max(lot.pev_power_kw, 0.0)
    cmax = np.where(mode > 0, np.minimum(np.asarray(lot.max_charge_kw, float)[hours], cap), 0.0) / 1000.0
    dmax = np.where(mode < 0, np.minimum(np.asarray(lot.max_discharge_kw, float)[hours], cap), 0.0) / 1000.0
    if lot.envelope is not None:  # the envelope holds the lot's policy and what its EVs can take
        cmax = np.maximum(lot.envelope.p_max_kw[hours], 0.0) / 1000.0
        dmax = np.maximum(-lot.envelope.p_min_kw[hours], 0.0) / 1000.0
    buses = np.array(sorted({int(b) - 1 for b in lot.candidate_buses}), dtype=int)
    if len(buses) == 0:
        raise ProblemError(f"lot {lot.lot_id!r}: candidate_buses is empty")
    return LotData(offer=lot, buses=buses, cmax_mw=cmax, dmax_mw=dmax, hours=np.asarray(hours, int),
                   kvar_per_kw=lot_kvar_per_kw(lot))


def lot_kvar_per_kw(lot: LotOffer) -> float:
    """tan(acos(pf)) of the lot's registered power factor, which must be in (0, 1]."""
    pf = lot.power_factor
    if isinstance(pf, bool) or not isinstance(pf, (int, float, np.floating)) or not 0.0 < pf <= 1.0:
        raise ProblemError(f"lot {lot.lot_id!r}: power_factor must be in (0, 1], got {pf!r}")
    return float(np.tan(np.arccos(float(pf))))


def _add_envelope(m: LinearModel, lot: LotData, c: HighspyArray, d: HighspyArray) -> None:
    """The lot's envelope: net power c - d within [p_min, p_max] in each modelled step, and the cumulative battery
    energy E_h (an auxiliary variable, in MW x steps: MWh / step_h) within [e_min, e_max] at the end of every step of
    the day - the contracts' deadlines (the lot is idle in steps not modelled)."""
    env = lot.offer.envelope
    n = env.hours
    hours = np.arange(n) if lot.hours is None else lot.hours
    net = c.sum(axis=0) - d.sum(axis=0)
    m.add(net <= env.p_max_kw[hours] / 1000.0)
    m.add(net >= env.p_min_kw[hours] / 1000.0)
    battery = env.eta_charge * c.sum(axis=0) - d.sum(axis=0) / env.eta_discharge
    energy = m.var(n, env.e_min_kwh / 1000.0 / env.step_h, env.e_max_kwh / 1000.0 / env.step_h)
    position = {int(h): k for k, h in enumerate(hours)}
    for h in range(n):
        step = energy[h] if h == 0 else energy[h] - energy[h - 1]
        m.add(step - battery[position[h]] == 0.0 if h in position else step == 0.0)


def of1_costs_per_mw(offer: LotOffer, price: np.ndarray, step_h: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Seed 000 eq. 1-5 as linear costs ($ per MW held for one step of `step_h` hours) of charging and discharging
    (negative = revenue).

    Revenue price * P_disch * sum(SOC*share); charging cost (price/mu_e + cost_e) * P_ch * (1 - sum(SOC*share));
    cost_ca per PEV served, PEVs = P / pev_power (PEV-hours); each times step_h.
    """
    sd = float(np.dot(offer.soc_discharge_levels, offer.soc_discharge_shares))
    sc = float(np.dot(offer.soc_charge_levels, offer.soc_charge_shares))
    e = offer.economics
    per_pev = e.cost_ca_usd_per_pev_day / max(offer.pev_power_kw, 1e-9)
    cost_c = 1000.0 * ((price / e.mu_e + e.cost_e_usd_per_kwh) * (1.0 - sc) + per_pev)
    cost_d = 1000.0 * (-price * sd + per_pev)
    if e.wear_usd_per_kwh > 0.0:  # battery wear on the battery energy moved, as `objectives.of1_benefit_usd`
        cost_c = cost_c + 1000.0 * e.wear_usd_per_kwh * (1.0 - sc)
        cost_d = cost_d + 1000.0 * e.wear_usd_per_kwh * sd
    if e.calendar_usd_per_kwh_h > 0.0:  # calendar ageing of those energies, held to the day's end, as of1
        held = e.calendar_usd_per_kwh_h * held_hours(np.shape(price)[-1], step_h)
        cost_c = cost_c + 1000.0 * held * (1.0 - sc)
        cost_d = cost_d - 1000.0 * held * sd
    return cost_c * step_h, cost_d * step_h


def tangent_points(n_segments: int) -> np.ndarray:
    """Tangent points in [-1, 1] (times the flow bound), denser near 0 where most branch flows are."""
    half = max(1, n_segments // 2)
    pos = (np.arange(1, half + 1) / half) ** 2
    return np.concatenate([-pos[::-1], [0.0], pos])


@dataclass
class LotVars:
    """A lot's decision blocks: charge and discharge (candidate bus, hour) in MW, site choice (None = one site)."""

    charge_mw: HighspyArray
    discharge_mw: HighspyArray
    site: HighspyArray | None


@dataclass
class Formulation:
    """A built MILP and the blocks read back after each solve (H modelled hours, nbr branches, n buses)."""

    model: LinearModel
    closed: HighspyArray  # (nbr,) z: 1 = branch closed
    p_mw: HighspyArray  # (H, nbr) branch flows
    q_mvar: HighspyArray
    p_square: HighspyArray  # (H, nbr) epigraphs s >= P^2, s >= Q^2
    q_square: HighspyArray
    v_violation_pu2: HighspyArray  # (H, n) squared-voltage limit violation
    lots: list[LotVars]
    v_pu2: HighspyArray  # (H, n) squared bus voltages of the LinDistFlow model
    loss_kw_per_mw2: np.ndarray  # (nbr,) objective weight of P^2 + Q^2 (r in p.u. per MW x 1000 x loss weight)

    def add_tangent_cuts(self, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Tangent cuts s >= 2 t X - t^2 of both squares at the flows t given, broadcast to (H, nbr)."""
        for flow, square, t in ((self.p_mw, self.p_square, p_mw), (self.q_mvar, self.q_square, q_mvar)):
            t = np.asarray(t, dtype=float)
            self.model.add(2.0 * t * flow - square <= t**2)


def build_formulation(
    net: RadialNetwork,
    p_kw: np.ndarray,
    q_kvar: np.ndarray,
    *,
    lots: Sequence[LotData] = (),
    objective: str = "of3",
    fixed_open: Sequence[int] | None = None,
    price: np.ndarray | None = None,
    n_segments: int = 12,
    tie_loss_weight: float = 1e-3,
    step_h: float = 1.0,
) -> Formulation:
    """The MILP over the steps given (p_kw, q_kvar: bus loads of shape (H, n_bus), steps of `step_h` hours) with its
    base tangent cuts."""
    n, nbr, s = net.n_bus, net.n_branch, net.slack_bus
    H = p_kw.shape[0]
    fb, tb = np.asarray(net.from_bus), np.asarray(net.to_bus)
    r_eff = np.asarray(net.r_pu) / net.base_mva  # p.u. drop / loss per MW
    x_eff = np.asarray(net.x_pu) / net.base_mva
    p_mw, q_mw = p_kw / 1000.0, q_kvar / 1000.0
    lot_max = sum(np.maximum(lot.cmax_mw, lot.dmax_mw) for lot in lots) if lots else np.zeros(H)
    m_p = np.abs(p_mw).sum(axis=1) + lot_max + 1e-3  # (H,) flow bound MW
    lot_q_max = sum(lot.kvar_per_kw * np.maximum(lot.cmax_mw, lot.dmax_mw) for lot in lots) if lots else np.zeros(H)
    m_q = np.abs(q_mw).sum(axis=1) + lot_q_max + 1e-3  # the lots' q is absorbed: it only adds to the subtree loads
    lot_dis = sum(lot.dmax_mw for lot in lots) if lots else np.zeros(H)
    d_p = np.maximum(-p_mw, 0.0).sum(axis=1) + lot_dis + 1e-6  # (H,) MW that may be injected (reverse flow)
    d_q = np.maximum(-q_mw, 0.0).sum(axis=1) + 1e-6
    vmin2, vmax2 = net.v_min_pu**2, net.v_max_pu**2
    # a transformer branch (ratio t at its from-end, the series impedance on its to-end's base): the drop starts
    # from v_from / |t|^2; the slack sits at its own voltage (a converted net's v_slack_pu)
    inv_t2 = 1.0 / np.abs(np.asarray(net.tap_ratio, complex)) ** 2
    v_slack2 = float(getattr(net, "v_slack_pu", 1.0)) ** 2
    m_v = np.maximum(vmax2 * inv_t2 - vmin2, vmax2 - vmin2 * inv_t2)
    loss_kw_per_mw2 = (1.0 if objective == "of3" else tie_loss_weight) * 1000.0 * r_eff * step_h  # kWh per step

    m = LinearModel()
    qsum = m.highs.qsum
    if fixed_open is None:  # branches without a switch stay closed
        always = np.zeros(nbr)
        if getattr(net, "fixed_branches", ()):
            always[net.branch_indices(net.fixed_branches)] = 1.0
        z = m.var(nbr, always, 1, integer=True)
    else:
        fixed = np.ones(nbr)
        fixed[net.branch_indices(fixed_open)] = 0
        z = m.var(nbr, fixed, fixed, integer=True)
    f = m.var(nbr, -(n - 1), n - 1)
    P = m.var((H, nbr), -m_p[:, None], m_p[:, None])
    Q = m.var((H, nbr), -m_q[:, None], m_q[:, None])
    v = m.var((H, n), 0.0, 2.0)
    viol = m.var((H, n), 0.0, np.inf, cost=VOLTAGE_PENALTY_KW_PER_PU2)
    sp = m.var((H, nbr), 0.0, np.inf, cost=loss_kw_per_mw2[None, :])
    sq = m.var((H, nbr), 0.0, np.inf, cost=loss_kw_per_mw2[None, :])
    # radiality: n-1 closed branches + fictitious flow connectivity + loop cuts
    m.add(z.sum() == n - 1)
    # directed (parent) formulation: a_k = branch k feeds its to-bus, b_k = feeds its from-bus; z = a + b;
    # every non-slack bus has exactly one parent, the slack none (tight LP relaxation, Jabr-style)
    a = m.var(nbr, 0, np.where(tb == s, 0, 1), integer=True)
    b = m.var(nbr, 0, np.where(fb == s, 0, 1), integer=True)
    m.add(z - a - b == 0)
    nonslack = np.delete(np.arange(n), s)
    for j in nonslack:
        m.add(qsum(a[tb == j]) + qsum(b[fb == j]) == 1.0)
    m.add(f - (n - 1) * a <= 0.0)
    m.add(f + (n - 1) * b >= 0.0)
    for j in range(n):
        m.add(qsum(f[tb == j]) - qsum(f[fb == j]) == (-(n - 1) if j == s else 1.0))
    for loop in net.loops:
        idx = net.branch_indices(loop)
        m.add(qsum(z[idx]) <= len(idx) - 1)
    # directional flow limits: with a_k = 1 the to-bus subtree is downstream, so P_k (its net load) lies in
    # [p_to - D, M]; with b_k = 1 likewise in [-M, D - p_from]; open branch: 0 (D = possible injections)
    for X, M, load, inj in ((P, m_p, p_mw, d_p), (Q, m_q, q_mw, d_q)):
        up = inj[:, None] - load[:, fb]
        lo = load[:, tb] - inj[:, None]
        m.add(X - M[:, None] * a[None, :] - up * b[None, :] <= 0.0)
        m.add(X - lo * a[None, :] + M[:, None] * b[None, :] >= 0.0)
    # lots
    lot_vars: list[LotVars] = []
    lot_at_bus: dict[int, list[HighspyArray]] = {}  # (H,) net lot draw (MW) per bus
    lot_q_at_bus: dict[int, list[HighspyArray]] = {}  # (H,) the chargers' absorbed reactive power (Mvar) per bus
    for lot in lots:
        nb_l = len(lot.buses)
        cost_c, cost_d = of1_costs_per_mw(lot.offer, price if price is not None else np.zeros(H), step_h)
        if objective != "of1":
            cost_c, cost_d = 0.0, 0.0
        c = m.var((nb_l, H), 0.0, lot.cmax_mw[None, :], cost=cost_c)
        d = m.var((nb_l, H), 0.0, lot.dmax_mw[None, :], cost=cost_d)
        y = None
        if nb_l > 1:
            y = m.var(nb_l, 0, 1, integer=True)
            m.add(y.sum() == 1.0)
            for X, lim in ((c, lot.cmax_mw), (d, lot.dmax_mw)):
                m.add(X - lim[None, :] * y[:, None] <= 0.0)
        both = (lot.cmax_mw > 0.0) & (lot.dmax_mw > 0.0)
        if lot.kvar_per_kw > 0.0 and both.any():  # q = k (c + d) is k |c - d| only with one direction an hour
            u = m.var(H, 0, np.where(both, 1, 0), integer=True)
            m.add(c - lot.cmax_mw[None, :] * u[None, :] <= np.where(both, 0.0, lot.cmax_mw)[None, :])
            m.add(d + lot.dmax_mw[None, :] * u[None, :] <= lot.dmax_mw[None, :])
        if lot.offer.envelope is not None:
            _add_envelope(m, lot, c, d)
        else:
            need = lot.offer.energy_need_kwh / 1000.0 / step_h  # MW x steps
            m.add(c.sum() - d.sum() == need)
            if np.isfinite(lot.offer.energy_available_kwh):
                m.add(d.sum() <= lot.offer.energy_available_kwh / 1000.0 / step_h)
        for bi, bus in enumerate(lot.buses):
            lot_at_bus.setdefault(int(bus), []).append(c[bi] - d[bi])
            if lot.kvar_per_kw > 0.0:
                lot_q_at_bus.setdefault(int(bus), []).append(lot.kvar_per_kw * (c[bi] + d[bi]))
        lot_vars.append(LotVars(c, d, y))
    # nodal balance (non-slack buses): inflow - outflow = load + lot
    for j in nonslack:
        inflow_p = P[:, tb == j].sum(axis=1) - P[:, fb == j].sum(axis=1)
        inflow_q = Q[:, tb == j].sum(axis=1) - Q[:, fb == j].sum(axis=1)
        for draw in lot_at_bus.get(int(j), []):
            inflow_p = inflow_p - draw
        for draw in lot_q_at_bus.get(int(j), []):
            inflow_q = inflow_q - draw
        m.add(inflow_p == p_mw[:, j])
        m.add(inflow_q == q_mw[:, j])
    # voltages: slack fixed, soft limits, LinDistFlow drop with big-M
    m.add(v[:, s] == v_slack2)
    m.add(v + viol >= vmin2)
    m.add(v - viol <= vmax2)
    drop = v[:, fb] * inv_t2[None, :] - v[:, tb] - 2.0 * r_eff[None, :] * P - 2.0 * x_eff[None, :] * Q
    m.add(drop + m_v[None, :] * z[None, :] <= m_v[None, :])
    m.add(drop - m_v[None, :] * z[None, :] >= -m_v[None, :])
    # objective-specific terms
    if objective == "of2":
        dev = m.var(H, 0.0, np.inf, cost=step_h)
        load = p_kw.sum(axis=1)
        target = load.mean()
        lot_kw = sum((lv.charge_mw.sum(axis=0) - lv.discharge_mw.sum(axis=0) for lv in lot_vars), np.zeros(H)) * 1000.0
        # dev >= +-(target - load - lot)  <=>  dev + lot >= target - load ; dev - lot >= load - target
        m.add(dev + lot_kw >= target - load)
        m.add(dev - lot_kw >= load - target)
    elif objective == "vpd":
        dev_v = m.var((H, n), 0.0, np.inf, cost=step_h)  # |V - 1| with V ~ (1 + v) / 2
        m.add(2.0 * dev_v - v >= -1.0)
        m.add(2.0 * dev_v + v >= 1.0)
    form = Formulation(m, z, P, Q, sp, sq, viol, lot_vars, v, loss_kw_per_mw2)
    for t in tangent_points(n_segments):
        form.add_tangent_cuts((m_p * t)[:, None], (m_q * t)[:, None])
    return form
