"""Stage 2 of seed 003: the DSO allocates n_total parking-lot stations over candidate buses (eqs. 18-44).

Costs per day [$]: installation (23), losses (27) with a linearised radial power flow (28)-(33) (LinDistFlow with
losses as outer tangent planes of r(P^2 + Q^2)), voltage deviation (36)-(39) as the cost of capacitors that hold
every bus voltage at or above `GridParams.v_band_pu` = 0.98 p.u. (without that objective the lower limit is
`v_min_pu` = 0.90 p.u.; the upper one is `v_max_pu` = 1.05 p.u. throughout), and EENS (40)-(44) for single-branch
outages, where the isolated part of the feeder is fed by PLs (secondary contract, no charging during the outage)
and wind/PV at bus 680 over the repair time. Wind/PV enter as k-means-reduced scenarios with probabilities
(34)-(35). The PL at bus b draws n_b times the per-station stage-1 profile (19)-(21) and is limited to 1 MW
(paper, ref. [29]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cosim.optim.linear import LinearModel
from cosim.powerflow.network_data import RadialNetwork
from cosim.studies.neyestani2015.scenarios import HOURS

OBJECTIVES = ("loss", "eens", "volt", "total")


def crf(rate: float, years: int) -> float:
    """Capital recovery factor: annual payment per $ of investment."""
    return rate * (1 + rate) ** years / ((1 + rate) ** years - 1)


@dataclass(frozen=True)
class GridParams:
    """DSO-side data (assumed unless marked; see README_neyestani2015.md)."""

    v_slack_pu: float = 1.04  # stands in for the omitted 650 regulator
    v_min_pu: float = 0.90  # hard limit (32)
    v_max_pu: float = 1.05
    v_band_pu: float = 0.98  # the voltage-deviation cost keeps buses above this with capacitors
    pl_max_kw: float = 1000.0  # paper: at most 1 MW per PL
    site_cost_usd: float = 20_000.0  # fixed installation cost of a PL site
    station_cost_usd: float = 5_000.0  # variable cost per station (constant for a given total)
    cap_fixed_usd: float = 5_000.0  # capacitor bank installation
    cap_usd_per_kvar: float = 25.0
    cap_max_kvar: float = 1200.0
    interest: float = 0.08
    life_years: int = 20
    line_failures_per_km_year: float = 0.2
    xfm_failures_per_year: float = 0.05
    line_repair_h: int = 4
    xfm_repair_h: int = 8
    damage_usd_per_kwh: float = 10.0  # customer damage cost (CDF)
    gamma_contingency: float = 0.3  # secondary contract: SOC the PL may use down to in an outage
    loss_breakpoints: int = 7
    mip_rel_gap: float = 1e-4
    voltage_penalty: float = 1e5  # $ per p.u.^2 of (squared-voltage) limit violation
    xfm_branch: int = 3
    rer_bus: str = "680"
    excluded: tuple[str, ...] = ("650", "632")  # buses that cannot host a PL (paper)

    @property
    def per_day(self) -> float:
        return crf(self.interest, self.life_years) / 365.0


@dataclass(frozen=True)
class StationProfile:
    """Per-station stage-1 behaviour: net draw [kW] per hour and energy it can give in an outage starting at t."""

    p_kw: np.ndarray
    soc_kwh: np.ndarray
    cap_kwh: np.ndarray
    occupancy: np.ndarray  # PEVs per station
    station_kw: float
    eta_d: float


@dataclass(frozen=True)
class Feeder:
    """Hourly feeder inputs: loads [kW/kvar] (H, B), energy price [$/kWh] (H,), RER scenarios (W, H), probs (W,)."""

    p_load: np.ndarray
    q_load: np.ndarray
    price: np.ndarray
    wind_kw: np.ndarray
    pv_kw: np.ndarray
    prob: np.ndarray


def downstream(net: RadialNetwork) -> list[np.ndarray]:
    """For each branch, the buses cut off when it opens (radial feeder, slack at the root)."""
    import networkx as nx  # noqa: PLC0415 - only the outage data need it

    g = nx.DiGraph()
    g.add_edges_from(zip(net.from_bus.tolist(), net.to_bus.tolist()))
    return [np.array(sorted({int(t)} | nx.descendants(g, int(t)))) for t in net.to_bus]


def contingency_energy(sp: StationProfile, gp: GridParams, repair_h: int) -> np.ndarray:
    """kWh one station can inject over an outage starting at hour t (24,): power-limited and SOC-limited."""
    t = np.arange(HOURS)
    win = (t[:, None] + np.arange(repair_h)[None]) % HOURS
    power = (sp.occupancy[win] * sp.station_kw).sum(1)
    prev = (t - 1) % HOURS
    energy = np.maximum(sp.soc_kwh[prev] - gp.gamma_contingency * sp.cap_kwh[prev], 0.0) * sp.eta_d
    return np.minimum(power, energy)


def outage_data(net: RadialNetwork, lengths_km: np.ndarray, gp: GridParams):
    """Per branch: failures per year, repair hours, affected buses."""
    rate = np.asarray(lengths_km, float) * gp.line_failures_per_km_year
    rep = np.full(net.n_branch, gp.line_repair_h)
    if gp.xfm_branch in set(np.asarray(net.branch_ids).tolist()):
        k = net.branch_index(gp.xfm_branch)
        rate[k], rep[k] = gp.xfm_failures_per_year, gp.xfm_repair_h
    return rate, rep, downstream(net)


@dataclass
class Stage2Result:
    objective: str
    n_total: int
    stations: dict[str, int]
    costs: dict[str, float]  # $/day: install, loss, eens, volt, (model values)
    cap_kvar: dict[str, float]
    eens_kwh_year: float
    loss_kwh_day: float
    solve_s: float
    status: str
    mip_gap: float
    n_int: int
    n_vars: int
    pl_kw: np.ndarray = field(repr=False, default=None)  # (H, B) PL draw
    qc_kvar: np.ndarray = field(repr=False, default=None)  # (B,)
    v_slack_used: float = 0.0


def solve_stage2(net: RadialNetwork, lengths_km: np.ndarray, feeder: Feeder, sp: StationProfile, n_total: int,
                 objective: str = "total", gp: GridParams = GridParams(), fixed: dict[int, int] | None = None
                 ) -> Stage2Result:
    """Allocate n_total stations minimising installation + the chosen cost ('loss', 'eens', 'volt', 'total').

    fixed: {bus index: stations} pins the allocation (used to price a given layout, e.g. no PL at all).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is not one of {OBJECTIVES}")
    w_loss = 1.0 if objective in ("loss", "total") else 1e-3  # tiny weight keeps loss variables tight
    use_eens = objective in ("eens", "total")
    use_volt = objective in ("volt", "total")
    B, L, H = net.n_bus, net.n_branch, HOURS
    W = len(feeder.prob)
    base = net.base_mva * 1000.0  # kVA
    labels = list(net.bus_labels)
    cand = np.array([lab not in gp.excluded and i != net.slack_bus for i, lab in enumerate(labels)])
    rer = labels.index(gp.rer_bus)
    peak = float(np.max(np.abs(sp.p_kw))) or 1.0
    m = LinearModel()
    n_ub = np.where(cand, min(n_total, np.floor(gp.pl_max_kw / peak + 1e-9)), 0.0)
    n = m.var(B, 0.0, n_ub, integer=True)
    x = m.var(B, 0.0, cand.astype(float), integer=True, cost=gp.site_cost_usd * gp.per_day)
    if fixed is not None:
        m.add(n == np.array([fixed.get(b, 0) for b in range(B)], dtype=float))
    m.add(n - float(n_total) * x <= 0.0)
    m.add(n.sum() == float(n_total))
    # power flow variables (W, H, L) and voltages (W, H, B)
    s_max = np.sqrt(3.0) * net.base_kv * np.asarray(net.i_max_ka) * 1000.0  # kVA
    s_max = np.where(np.isfinite(s_max), s_max, 1e5)
    loss_usd_per_kwh = w_loss * feeder.prob[:, None, None] * feeder.price[None, :, None]
    P = m.var((W, H, L), -s_max, s_max)
    Q = m.var((W, H, L), -s_max, s_max)
    lp = m.var((W, H, L), 0.0, cost=loss_usd_per_kwh)
    lq = m.var((W, H, L), 0.0, cost=loss_usd_per_kwh)
    v = m.var((W, H, B), 0.0, gp.v_max_pu**2)
    vs = m.var((W, H, B), 0.0, cost=gp.voltage_penalty / (W * H))
    gw = m.var((W, H), 0.0, feeder.wind_kw)
    gpv = m.var((W, H), 0.0, feeder.pv_kw)
    qc = m.var(B, 0.0, np.where(np.arange(B) != net.slack_bus, gp.cap_max_kvar if use_volt else 0.0, 0.0),
               cost=gp.cap_usd_per_kvar * gp.per_day)
    z = m.var(B, 0.0, 1.0 if use_volt else 0.0, integer=True, cost=gp.cap_fixed_usd * gp.per_day)
    m.add(qc - gp.cap_max_kvar * z <= 0.0)
    # octagon current limit |P| + |Q| <= sqrt(2) S
    for sp_, sq_ in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        m.add(sp_ * P + sq_ * Q <= np.sqrt(2.0) * s_max)
    # losses: lp >= r (2 a P - a^2) / base for breakpoints a (kW)
    r, xr = np.asarray(net.r_pu), np.asarray(net.x_pu)
    for a in np.linspace(-1.0, 1.0, gp.loss_breakpoints):
        aa = a * s_max
        m.add(lp - (2 * r * aa / base) * P >= -r * aa**2 / base)
        m.add(lq - (2 * r * aa / base) * Q >= -r * aa**2 / base)
    # bus balance: parent flow - loss = load + PL - gen + children flows
    parent = {int(t): k for k, t in enumerate(net.to_bus)}
    for b in range(B):
        if b == net.slack_bus:
            continue
        k = parent[b]
        children = np.flatnonzero(np.asarray(net.from_bus) == b)
        flow_p = P[:, :, k] - lp[:, :, k] - lq[:, :, k] - sp.p_kw[None, :] * n[b] - P[:, :, children].sum(axis=2)
        flow_q = (Q[:, :, k] - (xr[k] / r[k]) * (lp[:, :, k] + lq[:, :, k]) + qc[b]
                  - Q[:, :, children].sum(axis=2))
        if b == rer:
            flow_p = flow_p + gw + gpv
        m.add(flow_p == feeder.p_load[None, :, b])
        m.add(flow_q == feeder.q_load[None, :, b])
        # LinDistFlow voltage drop on the parent branch (squared p.u.)
        f = int(net.from_bus[k])
        m.add(v[:, :, b] - v[:, :, f] + (2 * r[k] / base) * P[:, :, k] + (2 * xr[k] / base) * Q[:, :, k] == 0.0)
    m.add(v[:, :, net.slack_bus] == gp.v_slack_pu**2)
    vlow = (gp.v_band_pu if use_volt else gp.v_min_pu) ** 2
    m.add(v + vs >= vlow)
    # EENS
    rate, rep, down = outage_data(net, lengths_km, gp)
    eens_coef = []
    shed_vars = []
    if use_eens:
        for k in range(L):
            e_st = contingency_energy(sp, gp, int(rep[k]))
            t = np.arange(H)
            win = (t[:, None] + np.arange(rep[k])[None]) % H
            load_win = feeder.p_load[win][:, :, down[k]].sum(axis=(1, 2))  # (H,)
            gen_win = (feeder.wind_kw + feeder.pv_kw)[:, win].sum(-1) if rer in down[k] else np.zeros((W, H))
            sh = m.var((W, H), 0.0, cost=gp.damage_usd_per_kwh / 365.0 * rate[k] / H * feeder.prob[:, None])
            m.add(sh + sum(e_st[None, :] * n[b] for b in down[k]) >= load_win[None, :] - gen_win)
            shed_vars.append(sh)
            eens_coef.append(rate[k] / H * feeder.prob[:, None])
    sol = m.solve(time_limit_s=300.0, mip_rel_gap=gp.mip_rel_gap).require_optimal()
    nv = np.round(sol[n]).astype(int)
    qcv = sol[qc]
    pl_kw = sp.p_kw[:, None] * nv[None, :]
    eens = sum(float((c * sol[s]).sum()) for c, s in zip(eens_coef, shed_vars)) if use_eens else float("nan")
    loss_kwh = float((feeder.prob[:, None, None] * (sol[lp] + sol[lq])).sum())
    costs = {
        "install": float(sol[x].sum() * gp.site_cost_usd * gp.per_day),
        "loss": float((feeder.prob[:, None, None] * feeder.price[None, :, None] * (sol[lp] + sol[lq])).sum()),
        "eens": eens * gp.damage_usd_per_kwh / 365.0 if use_eens else float("nan"),
        "volt": float((sol[z] * gp.cap_fixed_usd + qcv * gp.cap_usd_per_kvar).sum() * gp.per_day),
    }
    return Stage2Result(objective, int(n_total), {labels[b]: int(nv[b]) for b in range(B) if nv[b] > 0}, costs,
                        {labels[b]: float(qcv[b]) for b in range(B) if qcv[b] > 1e-6}, eens, loss_kwh, sol.wall_s,
                        sol.status, sol.gap, m.n_int, m.n_vars, pl_kw, qcv, float(sol[vs].max()))


def eens_of_layout(net: RadialNetwork, lengths_km: np.ndarray, feeder: Feeder, sp: StationProfile,
                   stations: np.ndarray, gp: GridParams = GridParams(), with_rer: bool = True) -> float:
    """EENS [kWh/year] of a given allocation (stations per bus index), eqs. 42-44 evaluated directly."""
    rate, rep, down = outage_data(net, lengths_km, gp)
    rer = list(net.bus_labels).index(gp.rer_bus)
    total = 0.0
    t = np.arange(HOURS)
    for k in range(net.n_branch):
        win = (t[:, None] + np.arange(rep[k])[None]) % HOURS
        load_win = feeder.p_load[win][:, :, down[k]].sum(axis=(1, 2))
        inj = contingency_energy(sp, gp, int(rep[k])) * float(np.sum(np.asarray(stations)[down[k]]))
        gen = (feeder.wind_kw + feeder.pv_kw)[:, win].sum(-1) if (with_rer and rer in down[k]) else 0.0
        shed = np.maximum(load_win[None, :] - inj[None, :] - gen, 0.0)
        total += rate[k] / HOURS * float((feeder.prob[:, None] * shed).sum())
    return total
