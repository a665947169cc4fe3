"""ADMM: proximal coordination of the lots' schedules (consensus ADMM, Boyd et al. 2011, section 7).

The day's problem, with the topology fixed: minimise sum_l f_l(x_l) + g(z) subject to x_l = z_l, where f_l is
PLO l's cost (minus its profit LP, inside its own envelope: private) and g the DSO's cost of the lots' powers in its
convex grid model (`cosim.exchange.lindistflow`: losses at the price, voltage and overload penalties). Scaled form,
u the scaled duals, y = rho u the prices ($/kWh):

    PLO l:  x_l <- argmin f_l(x) + y_l'x + rho/2 ||x - z_l||^2      (its profit QP, `PloProx`)
    DSO:    z   <- argmin g(z) + rho/2 ||x + u - z||^2                (`LinDistFlowModel.prox_step`)
            u   <- u + x - z;   primal residual r = ||x - z||,  dual residual s = rho ||z - z_prev||

Only schedules (x, z, kW) and prices (y) cross, with rho; no PLO reveals its fleet or envelope. The DSO stops when
``||r|| <= sqrt(p) eps_abs + eps_rel max(||x||, ||z||)`` and ``||s|| / rho <= sqrt(p) eps_abs + eps_rel ||u||``
(Boyd et al. eq. 3.12, the dual test in kW: divided by rho), or after `max_rounds`. `adaptive_rho` balances the
residuals (Boyd et al. eq. 3.13: rho x2 when ||r|| > 10 ||s||, /2 when ||s|| > 10 ||r||; u rescaled). ADMM converges
to the optimum of this convex problem (f and g are convex, closed and proper); `reference_optimum` solves the
same problem as one QP, which is how the tests measure the gap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from cosim.controllers.base import HOURS, LotOffer
from cosim.controllers.plo_scheduler import DsoSignal, follow_fleet, profit_lp
from cosim.errors import PluginOptionsError
from cosim.exchange.base import DsoSide, ExchangeMode, Outgoing, PloSide
from cosim.exchange.lindistflow import LinDistFlowModel
from cosim.exchange.payloads import schedule_offer
from cosim.exchange.qp import solve_qp

__all__ = ["Admm", "AdmmResult", "AdmmState", "PloProx", "reference_optimum", "run_admm"]

ADMM_KIND = "admm"
"""The DSO's message each round: prices `price_usd_per_kwh` (24), target `target_kw` (24), `rho_usd_per_kw2`."""


class PloProx:
    """A PLO's side of ADMM: its profit LP (`cosim.controllers.plo_scheduler.profit_lp`) plus the price and the
    proximal term, solved as a QP over (charge, discharge)."""

    def __init__(self, offer: LotOffer, price_usd_per_kwh: np.ndarray, signal: DsoSignal | None = None) -> None:
        self.lp = profit_lp(offer, price_usd_per_kwh, signal)
        self.offer = offer
        t = sp.hstack([sp.eye(HOURS), -sp.eye(HOURS)], format="csr")
        self.net = t  # x = c - d
        self.tt = (t.T @ t).tocsr()

    def cost_usd(self, cd: np.ndarray) -> float:
        """f(x): minus the planned profit of charge/discharge `cd` (48,)."""
        return float(self.lp.cost @ cd)

    def solve(self, price_usd_per_kwh: np.ndarray, target_kw: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
        """argmin f + y'x + rho/2 ||x - target||^2 inside the lot's bounds: (x kW (24,), the (c, d) (48,)).

        The objective is divided by rho (same argmin) so that the Hessian's entries are 1: with rho's own scale
        (1e-4 $/kW^2 and below once `adaptive_rho` halves it) HiGHS's active-set method cycled until its time limit
        on some of these 48-variable QPs (measured on `congested_simbench_urban`; scaled, each solves in ms)."""
        c = self.lp.cost + self.net.T @ (np.asarray(price_usd_per_kwh, float) - rho * np.asarray(target_kw, float))
        res = solve_qp(c / rho, self.tt, sp.csr_matrix(self.lp.a_ub), np.full(len(self.lp.b_ub), -np.inf),
                       self.lp.b_ub, self.lp.lower, self.lp.upper)
        return self.net @ res.x, res.x


@dataclass
class AdmmState:
    """The DSO's ADMM iterate: targets z and scaled duals u (n_lots, 24), rho, and each round's record."""

    z: np.ndarray
    u: np.ndarray
    rho: float
    eps_abs_kw: float
    eps_rel: float
    adaptive_rho: bool
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def prices(self) -> np.ndarray:
        """y = rho u, $/kWh on each lot's net import."""
        return self.rho * self.u

    def update(self, model: LinDistFlowModel, x: np.ndarray) -> dict[str, float]:
        """One DSO step after the PLOs answered x: z, u, residuals, the stopping test and rho; returns the round's
        record (also appended to `history`)."""
        start = time.perf_counter()
        z_prev = self.z
        self.z = model.prox_step(x + self.u, self.rho)
        self.u = self.u + x - self.z
        p = x.size
        r = float(np.linalg.norm(x - self.z))
        s_kw = float(np.linalg.norm(self.z - z_prev))
        eps_pri = math.sqrt(p) * self.eps_abs_kw + self.eps_rel * max(float(np.linalg.norm(x)),
                                                                       float(np.linalg.norm(self.z)))
        eps_dual = math.sqrt(p) * self.eps_abs_kw + self.eps_rel * float(np.linalg.norm(self.u))
        record = {"round": len(self.history), "primal_residual_kw": r,
                  "dual_residual_usd_per_kwh": self.rho * s_kw, "dual_residual_kw": s_kw, "eps_primal_kw": eps_pri,
                  "eps_dual_kw": eps_dual, "rho_usd_per_kw2": self.rho,
                  "converged": r <= eps_pri and s_kw <= eps_dual, "dso_wall_s": 0.0}
        if self.adaptive_rho and not record["converged"]:
            if r > 10 * s_kw:
                self.rho, self.u = 2 * self.rho, self.u / 2
            elif s_kw > 10 * r:
                self.rho, self.u = self.rho / 2, self.u * 2
        record["dso_wall_s"] = time.perf_counter() - start
        self.history.append(record)
        return record


def _check_positive(mode: str, name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise PluginOptionsError(f"exchange mode {mode!r}: {name} must be a number > 0, got {value!r}")
    return float(value)


class Admm(ExchangeMode):
    """Consensus ADMM between the DSO and the PLOs (see the module). Day-ahead: the PLOs offer their own
    schedules; the DSO plans its topology around them with its controller, then fixes it and the lots' buses,
    and coordinates the schedules with prices and targets, round by round, until the residuals meet the
    tolerances or `max_rounds` is reached. Each PLO then follows its last schedule and pays the last prices on
    its net import. Options: `rho_usd_per_kw2` (the penalty, $/kW^2 per hour), `eps_abs_kw`, `eps_rel` (Boyd's
    tolerances), `adaptive_rho` (residual balancing)."""

    name = "admm"
    hourly_only = True  # its QPs (`PloProx`, `lindistflow`) are built on 24 hours
    reveals = "its schedules, round by round (answers to prices and targets)"

    def __init__(self, max_rounds: int = 100, rho_usd_per_kw2: float = 1e-3, eps_abs_kw: float = 0.05,
                 eps_rel: float = 2e-4, adaptive_rho: bool = True) -> None:
        super().__init__(max_rounds)
        self.rho0 = _check_positive(self.name, "rho_usd_per_kw2", rho_usd_per_kw2)
        self.eps_abs_kw = _check_positive(self.name, "eps_abs_kw", eps_abs_kw)
        self.eps_rel = _check_positive(self.name, "eps_rel", eps_rel)
        if not isinstance(adaptive_rho, bool):
            raise PluginOptionsError(f"exchange mode {self.name!r}: adaptive_rho must be true or false, "
                                     f"got {adaptive_rho!r}")
        self.adaptive_rho = adaptive_rho
        self.state: AdmmState | None = None
        self.model: LinDistFlowModel | None = None
        self.lots: list[str] = []
        self._prox: PloProx | None = None
        self._round_start = 0.0

    # -- PLO side ----------------------------------------------------------------------------------------------------
    def check_payload(self, kind: str, payload: dict[str, Any]) -> str | None:
        if kind != ADMM_KIND:
            return None
        for key in ("price_usd_per_kwh", "target_kw"):
            values = payload.get(key)
            if not isinstance(values, list) or len(values) != HOURS or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
                return f"{key} must be {HOURS} finite numbers"
        rho = payload.get("rho_usd_per_kw2")
        if not isinstance(rho, (int, float)) or isinstance(rho, bool) or not math.isfinite(rho) or rho <= 0:
            return "rho_usd_per_kw2 must be a number > 0"
        if set(payload) != {"price_usd_per_kwh", "target_kw", "rho_usd_per_kw2"}:
            return f"unexpected fields {sorted(set(payload) - {'price_usd_per_kwh', 'target_kw', 'rho_usd_per_kw2'})}"
        return None

    def plo_receive(self, plo: PloSide, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        if kind != ADMM_KIND:
            return super().plo_receive(plo, kind, payload)
        if self._prox is None or self._prox.offer is not plo.offer:
            self._prox = PloProx(plo.offer, plo.price_forecast)
        price = np.asarray(payload["price_usd_per_kwh"], float)
        x, _ = self._prox.solve(price, np.asarray(payload["target_kw"], float), float(payload["rho_usd_per_kw2"]))
        plo.schedule_kw = follow_fleet(plo.offer, plo.offer.envelope.project(x) if plo.offer.envelope else x)
        plo.tariff_usd_per_kwh = price  # the coordination prices are paid on net import (a transfer to the DSO)
        return schedule_offer(plo.lot_id, plo.candidate_buses, x)

    # -- DSO side ----------------------------------------------------------------------------------------------------
    def dso_plan_day(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        self.check_step(len(dso.day.price_usd_per_kwh))
        plan = dso.plan_around(offers)
        self.lots = [lot for lot in offers if lot in dso.schedules]
        if not self.lots:
            self.state = None
            return []
        p, q = _day_loads(dso)
        buses = [plan.lot_buses[lot] - 1 for lot in self.lots]
        self.model = LinDistFlowModel(dso.net, plan.open_branches, p, q, dso.day.price_usd_per_kwh, buses)
        x0 = np.array([dso.schedules[lot] for lot in self.lots])
        self.state = AdmmState(x0.copy(), np.zeros_like(x0), self.rho0, self.eps_abs_kw, self.eps_rel,
                               self.adaptive_rho)
        self.state.update(self.model, x0)  # round 0: the DSO's first target and prices from the offered schedules
        return self._messages(dso)

    def dso_answer(self, dso: DsoSide, offers: dict[str, dict[str, Any]]) -> list[Outgoing]:
        state = self.state
        if state is None or self.model is None:
            return super().dso_answer(dso, offers)
        x = np.array([np.asarray(offers[lot]["schedule_kw"], float) if lot in offers else state.z[i]
                      for i, lot in enumerate(self.lots)])
        record = state.update(self.model, x)
        record["round_wall_s"] = time.perf_counter() - self._round_start
        summary = _summary(record)
        dso.log_event("admm round", f"round {dso.round}: {summary}")  # no wall time: events.csv is reproducible
        if record["converged"] or dso.round >= self.max_rounds:
            dso.plan_around(offers, replan=False)
            self._record(dso)
            dso.end_negotiation(record["converged"], summary if record["converged"] else
                                f"{summary}; max_rounds = {self.max_rounds} reached")
            return []
        return self._messages(dso)

    def _messages(self, dso: DsoSide) -> list[Outgoing]:
        state = self.state
        last = state.history[-1]
        self._round_start = time.perf_counter()
        return [Outgoing(ADMM_KIND, lot, {"price_usd_per_kwh": state.prices[i].tolist(),
                                          "target_kw": state.z[i].tolist(), "rho_usd_per_kw2": state.rho},
                         f"round {last['round']}: {_summary(last)}")
                for i, lot in enumerate(self.lots)]

    def _record(self, dso: DsoSide) -> None:
        """The residual history and the convex model's objective in the day's plan (plans.jsonl `info`)."""
        state, model = self.state, self.model
        if dso.plan is None:
            return
        x = np.array([dso.schedules[lot] for lot in self.lots])
        g = model.cost_usd(x)
        info = dso.plan.info
        info["admm_primal_residual_kw"] = [h["primal_residual_kw"] for h in state.history]
        info["admm_dual_residual_kw"] = [h["dual_residual_kw"] for h in state.history]
        info["admm_rho_usd_per_kw2"] = [h["rho_usd_per_kw2"] for h in state.history]
        info["admm_round_wall_s"] = [h.get("round_wall_s", h["dso_wall_s"]) for h in state.history]  # not in the file
        info["admm_grid_cost_usd"] = g["cost_usd"]
        info["admm_grid_losses_kwh"] = g["losses_kwh"]


def _summary(record: dict[str, Any]) -> str:
    return (f"primal residual {record['primal_residual_kw']:.3g} kW (tol {record['eps_primal_kw']:.3g}), dual "
            f"residual {record['dual_residual_kw']:.3g} kW (tol {record['eps_dual_kw']:.3g}), rho "
            f"{record['rho_usd_per_kw2']:.3g} $/kW2")


def _day_loads(dso: DsoSide) -> tuple[np.ndarray, np.ndarray]:
    """The day's (24, n_bus) base loads the DSO forecasts (kW, kvar), without the lots."""
    bus = getattr(dso, "bus_load", None)
    if bus is not None:
        return bus[0], bus[1]
    return np.outer(dso.day.load_scaling, dso.net.p_load_kw), np.outer(dso.day.load_scaling, dso.net.q_load_kvar)


# -- outside the co-simulation: the same algorithm in one process, and the reference -----------------------------------
@dataclass(frozen=True)
class AdmmResult:
    """What `run_admm` found: the lots' schedules x (n_lots, 24) kW, the objective sum f + g(x) ($), its parts,
    the rounds' records and whether the tolerances were met."""

    x: np.ndarray
    objective_usd: float
    plo_cost_usd: float
    grid: dict[str, float]
    history: list[dict[str, float]]
    converged: bool


def run_admm(model: LinDistFlowModel, plos: list[PloProx], x0: np.ndarray, max_rounds: int = 100, rho: float = 1e-3,
             eps_abs_kw: float = 0.05, eps_rel: float = 2e-4, adaptive_rho: bool = True) -> AdmmResult:
    """The rounds the `admm` mode runs through mosaik, in one process (same steps, same stopping test)."""
    state = AdmmState(np.asarray(x0, float).copy(), np.zeros_like(x0, dtype=float), rho, eps_abs_kw, eps_rel,
                      adaptive_rho)
    state.update(model, state.z)
    x, cds = state.z, None
    for _ in range(max_rounds):
        start = time.perf_counter()
        solved = [plo.solve(state.prices[i], state.z[i], state.rho) for i, plo in enumerate(plos)]
        x = np.array([s[0] for s in solved])
        cds = [s[1] for s in solved]
        record = state.update(model, x)
        record["round_wall_s"] = time.perf_counter() - start
        if record["converged"]:
            break
    plo_cost = sum(plo.cost_usd(cd) for plo, cd in zip(plos, cds or []))
    grid = model.cost_usd(x)
    return AdmmResult(x, plo_cost + grid["cost_usd"], plo_cost, grid, state.history,
                      bool(state.history[-1]["converged"]))


def reference_optimum(model: LinDistFlowModel, plos: list[PloProx]) -> AdmmResult:
    """The same convex problem solved directly as one QP (all PLOs' private data in one place): the reference the
    ADMM result is measured against."""
    terms = model.terms()
    n_l = len(plos)
    n_w = 2 * HOURS * n_l
    n_g = len(terms.c)
    hessian = sp.block_diag([sp.csr_matrix((n_w, n_w)), terms.hessian], format="csr")
    c = np.concatenate([np.concatenate([p.lp.cost for p in plos]), terms.c])
    plo_rows = sp.block_diag([sp.csr_matrix(p.lp.a_ub) for p in plos], format="csr")
    link = sp.hstack([sp.block_diag([p.net for p in plos]), -sp.eye(terms.n_z),
                      sp.csr_matrix((terms.n_z, n_g - terms.n_z))])  # z = c - d, lot by lot
    a = sp.vstack([sp.hstack([plo_rows, sp.csr_matrix((plo_rows.shape[0], n_g))]),
                   sp.hstack([sp.csr_matrix((terms.a.shape[0], n_w)), terms.a]), link], format="csr")
    b = np.concatenate([p.lp.b_ub for p in plos])
    row_lo = np.concatenate([np.full(len(b), -np.inf), terms.row_lo, np.zeros(terms.n_z)])
    row_hi = np.concatenate([b, terms.row_hi, np.zeros(terms.n_z)])
    lb = np.concatenate([np.concatenate([p.lp.lower for p in plos]), terms.lb])
    ub = np.concatenate([np.concatenate([p.lp.upper for p in plos]), terms.ub])
    res = solve_qp(c, hessian, a, row_lo, row_hi, lb, ub, terms.constant)
    cds = [res.x[2 * HOURS * i:2 * HOURS * (i + 1)] for i in range(n_l)]
    x = np.array([p.net @ cd for p, cd in zip(plos, cds)])
    plo_cost = sum(p.cost_usd(cd) for p, cd in zip(plos, cds))
    grid = model.cost_usd(x)
    return AdmmResult(x, plo_cost + grid["cost_usd"], plo_cost, grid, [], True)
