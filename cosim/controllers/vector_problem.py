"""Seed 000's day-ahead problem as a vector problem for population optimisers (EO, PSO, GA).

Options (`problem.options`): "daily_pev_cap" (see `daily_pev_cap`), "balance_pev_counts" (eq. 6 equality,
default True), "tie_break" (see below), "flow_tol_pu" (1e-8) and "flow_max_iter" (40) for the batched flow
(a case not converged within 40 sweeps is treated as infeasible: such cases sit far outside the voltage limits),
"topology_encoding" ("angle", default, or "position"), "charging_solves" (2; converted nets only, see below),
"lot_power" ("soc_weighted", default, or "paper": eq. 9's P^PEV n; see `objectives.lot_power_kw`).

Decision vector:
  [topology (only if problem.reconfigure): two entries in [-1, 1] per fundamental loop read as an angle, or
   one position in [0, 1] per loop with "position"]
  + [one position in [0, 1] per lot with more than one candidate bus]
  + [one position in [0, 1] per lot and hour in which its offer allows charging or discharging].
The topology part is decoded by `cosim.optim.reconfiguration.ReconfigurationProblem` (one branch per loop,
non-radial picks repaired deterministically); its angle encoding removes EO's bias towards the box origin.
Dispatch positions become PEV counts balanced to eq. 6 by construction (`dispatch.decode_counts`). A
population of P vectors is evaluated as P x n cases (n steps in the day: 24, 48 or 96) in ONE batched flow; an
optimiser's evaluation (`evaluate`) remembers each decoded plan's f and cv and each case's flow totals
(`case_memo.RowMemo`), so that only the plans
and cases not seen before in this problem are computed, bit for bit as if all were.

Constraint violation cv (0 = feasible): voltage limits (eq. 16, p.u. summed), branch overload (relative,
summed), substation transformer overload (relative, summed over sections and hours; converted nets), fleet
energy need / availability shortfall (kWh / 1000); a case that did not converge or is not radial makes
cv = f = inf.

A converted net (`cosim.networks.converted.ConvertedNetwork`: SimBench, a user's JSON file) is solved at its
slack voltage (the transformers' MV set-point) with its lines' charging: `charging_solves` flows per batch,
the first with the charging at the slack voltage, the next at the voltages found (2 solves: within 4e-6 p.u.
and 0.01 % of the losses of the exact fixed point on the SimBench MV grids; 1 solve: 6e-4 p.u., 0.9 %).

The objective (minimised) is -OF1, OF2, OF3 or VPD by `problem.objective`, plus a
tiny tie-break `problem.options["tie_break"]` (default 1e-7) x daily losses (kWh) so that, e.g., OF1 or OF2
cases still pick a low-loss topology when the primary objective does not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cosim.controllers import objectives as obj
from cosim.controllers.base import DayAheadPlan, DayAheadProblem, ProblemError
from cosim.controllers.case_memo import RowMemo
from cosim.controllers.dispatch import LotDispatchLayout, decode_counts, encode_counts, make_layout, split_counts
from cosim.networks.converted import ConvertedNetwork, flow
from cosim.optim import Evaluation
from cosim.optim.reconfiguration import ReconfigurationProblem
from cosim.powerflow import solve_radial_summary
from cosim.powerflow.topology import radial_mask

UNLIMITED_KA = 1e4
"""An ampacity this large is no limit (the network builders write 99,999 kA for a line without one)."""


@dataclass(frozen=True)
class CaseTotals:
    """Per-case flow totals of a batch (plan x hour rows): what `evaluate_totals` reads of a FlowSummary."""

    ok: np.ndarray  # radial and converged
    loss_kw: np.ndarray
    v_min_pu: np.ndarray
    v_max_pu: np.ndarray
    i_violation: np.ndarray


@dataclass
class PlanEvaluation:
    """KPIs of a population of decoded day plans; arrays (pop,) or (pop, n) (n steps in the day)."""

    open_branches: np.ndarray  # (pop, k) branch ids
    lot_bus: np.ndarray  # (pop, n_lots) 1-based bus numbers
    counts: np.ndarray  # (pop, n_lots, n) signed PEVs
    lot_kw: np.ndarray  # (pop, n_lots, n) + charging
    of1_usd: np.ndarray
    of2_kw: np.ndarray
    of3_kwh: np.ndarray
    vpd: np.ndarray
    v_min_pu: np.ndarray
    v_max_pu: np.ndarray
    loss_kw: np.ndarray  # (pop, n)
    v_min_hourly_pu: np.ndarray  # (pop, n) per step
    p_grid_kw: np.ndarray  # (pop, n)
    cv: np.ndarray
    ok: np.ndarray  # every hour converged and radial
    f: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _match_loops(loops, open_ids: list[int]) -> dict[int, int]:
    """Assign each open branch to a distinct loop containing it (bipartite matching by augmenting paths)."""
    owner: dict[int, int] = {}  # branch -> loop

    def augment(j: int, seen: set[int]) -> bool:
        for b in open_ids:
            if b in loops[j] and b not in seen:
                seen.add(b)
                if b not in owner or augment(owner[b], seen):
                    owner[b] = j
                    return True
        return False

    for j in range(len(loops)):
        augment(j, set())
    return {j: b for b, j in owner.items()}


def daily_pev_cap(problem: DayAheadProblem, lot) -> float | None:
    """Eq. 6's cap on PEVs charged (= discharged) over the day, from `problem.options["daily_pev_cap"]`:
    "n_pev" (default, the literal reading: n^PEV = sum_h n_ch = sum_h n_dis <= the lot's n_pev), None (only
    the per-step limit n(h) <= n_pev applies) or a number of PEVs. Seed 000 counts PEV-hours; the decoded counts
    are per step, so the cap returned is in PEV-steps (the cap x steps per hour)."""
    opt = problem.options.get("daily_pev_cap", "n_pev")
    if opt is None:
        return None
    per_hour = round(1.0 / problem.step_h)  # steps in an hour: the cap in PEV-steps
    if opt == "n_pev":
        return float(lot.n_pev) * per_hour
    try:
        cap = float(opt)
    except (TypeError, ValueError):
        cap = -1.0
    if not cap >= 0:
        raise ProblemError(f"options['daily_pev_cap'] must be 'n_pev', None or a number >= 0, got {opt!r}")
    return cap * per_hour


class DayAheadVectorProblem:
    """`VectorProblem` view of a `DayAheadProblem` (n_var, lower, upper, n_obj=1, evaluate)."""

    n_obj = 1

    def __init__(self, problem: DayAheadProblem) -> None:
        self.problem = problem
        self.n = problem.steps_per_day  # steps in the day: each plan is n flow cases
        self.step_h = problem.step_h  # hours per step: kW x step_h = kWh
        net = problem.network
        self.net = net
        self.n_loops = len(net.loops) if problem.reconfigure else 0
        opts = problem.options
        # topology variables: "angle" (default; two per loop, read as an angle, so EO's pull towards the box
        # origin favours no branch - see cosim/optim/reconfiguration.py) or "position" (one per loop)
        encoding = opts.get("topology_encoding", "angle")
        self.topo = ReconfigurationProblem(net, encoding=encoding) if self.n_loops else None
        self.n_topo = self.topo.n_var if self.topo is not None else 0
        self.tie_break = float(opts.get("tie_break", 1e-7))
        try:
            self.lot_power = obj.lot_power_model(problem)
        except ValueError as exc:
            raise ProblemError(str(exc)) from None
        self.flow_tol_pu = float(opts.get("flow_tol_pu", 1e-8))
        self.flow_max_iter = int(opts.get("flow_max_iter", 40))
        self.charging_solves = int(opts.get("charging_solves", 2))
        if self.charging_solves < 1:
            raise ProblemError(f"options['charging_solves'] must be >= 1, got {self.charging_solves}")
        balance = bool(opts.get("balance_pev_counts", True))
        problem.check_lot_steps()
        self.layouts: list[LotDispatchLayout] = [
            make_layout(lot, balance=balance, daily_cap=daily_pev_cap(problem, lot), model=self.lot_power)
            for lot in problem.lots]
        self.bus_choice = [len(lot.candidate_buses) > 1 for lot in problem.lots]
        self.n_bus_var = int(sum(self.bus_choice))
        self.n_var = self.n_topo + self.n_bus_var + sum(lay.n_var for lay in self.layouts)
        self.lower = np.zeros(self.n_var)
        self.upper = np.ones(self.n_var)
        if self.topo is not None:
            self.lower[: self.n_topo], self.upper[: self.n_topo] = self.topo.lower, self.topo.upper
        self.load_kw_bus, self.load_kvar_bus = problem.bus_loads_kw()  # (n, n_bus)
        self.load_kw = self.load_kw_bus.sum(axis=1)
        base = np.asarray(sorted(problem.base_open_branches), dtype=int)
        if not bool(radial_mask(net, base[None, :])[0]):
            raise ProblemError(f"base_open_branches {tuple(base)} do not leave network {net.name!r} radial")
        self.base_open = base
        self.n_evaluations = 0
        # what was evaluated so far (`case_memo`): flow totals of each case (plan x hour: ok, loss_kw, v_min_pu,
        # v_max_pu, i_violation) and (f, cv) of each decoded plan
        self._case_memo = RowMemo(5)
        self._plan_memo = RowMemo(2)

    # ---- decoding -------------------------------------------------------------------------------------
    def _topology(self, x_topo: np.ndarray) -> np.ndarray:
        """Topology variables -> sorted radial open branch ids (pop, n_loops); the base topology when fixed."""
        if self.topo is None:
            return np.repeat(self.base_open[None, :], x_topo.shape[0], axis=0)
        return self.topo.decode(x_topo)

    def decode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pop, n_var) -> open branch ids (pop, k), lot buses (pop, n_lots) 1-based, signed counts
        (pop, n_lots, n)."""
        X = np.atleast_2d(np.asarray(X, float))
        if X.shape[1] != self.n_var:
            raise ProblemError(f"decision vectors must have {self.n_var} entries, got {X.shape[1]}")
        pop = X.shape[0]
        col = 0
        open_ids = self._topology(X[:, col : col + self.n_topo])
        col += self.n_topo
        n_lots = len(self.problem.lots)
        buses = np.zeros((pop, n_lots), dtype=int)
        for j, lot in enumerate(self.problem.lots):
            cands = np.asarray(lot.candidate_buses, dtype=int)
            if self.bus_choice[j]:
                k = np.minimum((np.clip(X[:, col], 0, 1) * len(cands)).astype(int), len(cands) - 1)
                buses[:, j] = cands[k]
                col += 1
            else:
                buses[:, j] = cands[0]
        counts = np.zeros((pop, n_lots, self.n), dtype=np.int64)
        for j, lay in enumerate(self.layouts):
            counts[:, j] = decode_counts(X[:, col : col + lay.n_var], lay)
            col += lay.n_var
        return open_ids, buses, counts

    def encode(self, open_ids=None, lot_buses=None, counts=None) -> np.ndarray:
        """A decision vector that decodes to the given plan (defaults: base topology, first candidate, idle lots)."""
        parts = []
        if self.topo is not None:
            chosen = [int(b) for b in (self.base_open if open_ids is None else open_ids)]
            match = _match_loops(self.topo.loops, chosen)
            if len(match) < self.n_loops:
                raise ProblemError(f"open branches {sorted(chosen)} do not take one branch from each loop")
            parts.append(self.topo.encode([match[j] for j in range(self.n_loops)]))
        for j, lot in enumerate(self.problem.lots):
            if self.bus_choice[j]:
                bus = lot.candidate_buses[0] if lot_buses is None else int(lot_buses[j])
                i = list(lot.candidate_buses).index(bus)
                parts.append(np.array([(i + 0.5) / len(lot.candidate_buses)]))
        for j, lay in enumerate(self.layouts):
            c = np.zeros(self.n) if counts is None else np.asarray(counts[j], float)
            parts.append(encode_counts(c, lay)[0] if counts is not None else np.zeros(lay.n_var))
        return np.concatenate(parts) if parts else np.zeros(0)

    # ---- evaluation -----------------------------------------------------------------------------------
    def _injections(self, lot_buses: np.ndarray, counts: np.ndarray):
        """Lot power (pop, n_lots, n) kW at the grid, the PEV counts used, and the bus loads (pop * n, n_bus)."""
        lot_kw, counts_used = self._lot_power(counts)
        p, q = self._case_loads(lot_buses, lot_kw, np.arange(lot_kw.shape[0] * self.n))
        return lot_kw, counts_used, p, q

    def _lot_power(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lot power (pop, n_lots, n) kW at the grid (+ charging), inside each lot's envelope, and the PEV counts
        used (fractional after an envelope repair)."""
        lot_kw = np.zeros(counts.shape)
        counts_used = counts.astype(float)
        for j, lot in enumerate(self.problem.lots):
            lot_kw[:, j] = obj.lot_power_kw(counts[:, j], lot, self.lot_power)
            if lot.envelope is not None:  # what the EVs can really take, by construction (as eq. 6 is)
                lot_kw[:, j] = lot.envelope.project(lot_kw[:, j])
                counts_used[:, j] = obj.lot_counts(lot_kw[:, j], lot, self.lot_power)
        return lot_kw, counts_used

    def _case_loads(self, lot_buses: np.ndarray, lot_kw: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bus loads p (kW) and q (kvar), (len(rows), n_bus), of the cases at `rows` (plan * n + step): the
        problem's loads plus each lot's power at its bus (and the reactive power its chargers absorb below unity
        power factor, |p| tan(acos(pf))), lot by lot."""
        plan, hour = np.divmod(rows, self.n)
        p = self.load_kw_bus[hour]
        q = self.load_kvar_bus[hour]
        cases = np.arange(len(rows))
        for j, lot in enumerate(self.problem.lots):
            bus = lot_buses[plan, j] - 1
            kw = lot_kw[plan, j, hour]
            p[cases, bus] += kw
            if lot.power_factor < 1.0:
                q[cases, bus] += np.abs(kw) * np.tan(np.arccos(lot.power_factor))
        return p, q

    def _lot_terms(self, counts: np.ndarray, counts_used: np.ndarray, lot_kw: np.ndarray):
        """OF1 (pop,) and the lots' part of cv (pop,): eq. 6 balance and contract shortfall."""
        pop = counts.shape[0]
        of1 = np.zeros(pop)
        cv = np.zeros(pop)
        for j, lot in enumerate(self.problem.lots):
            n_ch, n_dis = split_counts(counts_used[:, j])
            of1 += obj.of1_benefit_usd(n_ch, n_dis, self.problem.price_usd_per_kwh, lot, self.step_h)
            if self.layouts[j].balance:  # eq. 6 holds for the decoded counts by construction
                cv += obj.pev_balance_violation(*split_counts(counts[:, j]))
            cv += obj.contract_violation_kwh(lot_kw[:, j], lot, self.step_h) / 1000.0
        return of1, cv

    def _objective(self, ok, of1, of2, of3, vpd) -> np.ndarray:
        primary = {"of1": lambda: -of1, "of2": lambda: of2, "of3": lambda: of3, "vpd": lambda: vpd}[
            self.problem.objective]()
        tie = 0.0 if self.problem.objective == "of3" else self.tie_break * of3
        return np.where(ok, primary + tie, np.inf)

    def evaluate_plans(self, open_ids: np.ndarray, lot_buses: np.ndarray, counts: np.ndarray) -> PlanEvaluation:
        """KPIs, cv and objective of decoded plans: all P x n cases in one batched power flow."""
        net = self.net
        pop = open_ids.shape[0]
        n = self.n
        lot_kw, counts_used, p, q = self._injections(lot_buses, counts)
        res = flow(net, np.repeat(open_ids, n, axis=0), p, q,
                   tol_pu=self.flow_tol_pu, max_iter=self.flow_max_iter, max_solves=self.charging_solves)
        self.n_evaluations += pop
        vm = res.vm_pu.reshape(pop, n, net.n_bus)
        ok = res.ok.reshape(pop, n).all(axis=1)
        loss = res.loss_kw.reshape(pop, n)
        of1, cv = self._lot_terms(counts, counts_used, lot_kw)
        with np.errstate(invalid="ignore"):
            cv += obj.voltage_violation_pu(vm, net.v_min_pu, net.v_max_pu)
            cv += obj.current_violation(res.i_branch_ka.reshape(pop, n, net.n_branch), net.i_max_ka)
            if isinstance(net, ConvertedNetwork) and len(net.section_s_max_kva):
                cv += np.nansum(np.maximum(net.section_loading(res) - 1.0, 0.0).reshape(pop, -1), axis=1)
        cv = np.where(ok, cv, np.inf)
        total_lot_kw = lot_kw.sum(axis=1)
        ev = PlanEvaluation(
            open_branches=open_ids, lot_bus=lot_buses, counts=counts_used, lot_kw=lot_kw, of1_usd=of1,
            of2_kw=obj.of2_lcd_kw(self.load_kw, total_lot_kw, self.step_h), of3_kwh=obj.of3_loss_kwh(loss, self.step_h),
            vpd=obj.vpd_pu(vm, self.step_h), v_min_pu=vm.min(axis=(1, 2)), v_max_pu=vm.max(axis=(1, 2)), loss_kw=loss,
            v_min_hourly_pu=vm.min(axis=2), p_grid_kw=res.p_slack_kw.reshape(pop, n), cv=cv, ok=ok,
        )
        ev.f = self._objective(ok, ev.of1_usd, ev.of2_kw, ev.of3_kwh, ev.vpd)
        return ev

    @property
    def totals_suffice(self) -> bool:
        """Whether an optimiser's f and cv can come from the flow's per-case totals (`evaluate_totals`): a plain
        radial network (a converted one needs the voltages for its charging and transformer sections), an
        objective other than VPD (a sum over buses the totals add up in another order), and no ampacity a
        feeder can reach (a current limit's violation is re-derived from the currents otherwise)."""
        net = self.net
        return (not isinstance(net, ConvertedNetwork) and self.problem.objective != "vpd"
                and bool(np.all(np.asarray(net.i_max_ka, float) >= UNLIMITED_KA)))

    def evaluate_totals(self, open_ids: np.ndarray, lot_buses: np.ndarray,
                        counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f and cv of decoded plans, bit for bit those of `evaluate_plans`, from the flow's per-case totals
        (`solve_radial_summary`: no per-bus voltages or branch currents are written or summed). A plan with a
        case outside the voltage band (the case's exact extremes say so) or over a current limit is solved again
        with its voltages and currents (a case's result does not depend on its batch, bit for bit), whose
        violations are added up as `evaluate_plans` does; within the band every term of that sum is 0. Only when
        `totals_suffice`."""
        net = self.net
        pop = open_ids.shape[0]
        n = self.n
        lot_kw, counts_used = self._lot_power(counts)
        open_cases = np.repeat(open_ids, n, axis=0)
        res = self._case_totals(self._case_keys(open_cases, lot_buses, lot_kw), open_cases,
                                lambda rows: self._case_loads(lot_buses, lot_kw, rows))
        self.n_evaluations += pop
        ok = res.ok.reshape(pop, n).all(axis=1)
        of1, cv = self._lot_terms(counts, counts_used, lot_kw)
        with np.errstate(invalid="ignore"):
            outside = ((res.v_min_pu < net.v_min_pu) | (res.v_max_pu > net.v_max_pu)
                       | (res.i_violation > 0.0)).reshape(pop, n).any(axis=1)
        again = np.flatnonzero(ok & outside)
        if len(again):  # these plans' cases again, with voltages and currents, for the violations' sums
            k = len(again)
            rows = (again[:, None] * n + np.arange(n)).reshape(-1)
            full = flow(net, np.repeat(open_ids[again], n, axis=0), *self._case_loads(lot_buses, lot_kw, rows),
                        tol_pu=self.flow_tol_pu,
                        max_iter=self.flow_max_iter, max_solves=self.charging_solves)
            with np.errstate(invalid="ignore"):
                sub = cv[again] + obj.voltage_violation_pu(full.vm_pu.reshape(k, n, net.n_bus), net.v_min_pu,
                                                           net.v_max_pu)
                cv[again] = sub + obj.current_violation(full.i_branch_ka.reshape(k, n, net.n_branch),
                                                        net.i_max_ka)
        cv = np.where(ok, cv, np.inf)
        of3 = obj.of3_loss_kwh(res.loss_kw.reshape(pop, n), self.step_h)
        of2 = obj.of2_lcd_kw(self.load_kw, lot_kw.sum(axis=1), self.step_h) if self.problem.objective == "of2" \
            else None
        f = self._objective(ok, of1, of2, of3, None)
        return f, cv

    def _case_totals(self, keys: np.ndarray, open_cases: np.ndarray,
                     loads: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> CaseTotals:
        """Flow totals of each case (row of keys and open_cases; `loads(rows)` their bus loads p, q), each case the
        memo has not seen solved once."""

        def solve(rows: np.ndarray) -> np.ndarray:
            res = solve_radial_summary(self.net, open_cases[rows], *loads(rows), tol_pu=self.flow_tol_pu,
                                       max_iter=self.flow_max_iter)
            return np.column_stack([res.ok, res.loss_kw, res.v_min_pu, res.v_max_pu, res.i_violation])

        v = self._case_memo.values(keys, solve)
        return CaseTotals(ok=v[:, 0] != 0.0, loss_kw=v[:, 1], v_min_pu=v[:, 2], v_max_pu=v[:, 3], i_violation=v[:, 4])

    @staticmethod
    def _case_keys(open_cases: np.ndarray, lot_buses: np.ndarray, lot_kw: np.ndarray) -> np.ndarray:
        """What fixes each case (plan x step) of a batch, one int64 row per case: its open branches, the lots'
        buses, the bits of the lots' powers in its step, the step (`CaseMemo`'s keys)."""
        pop, n_lots = lot_buses.shape
        n = lot_kw.shape[2]
        k = open_cases.shape[1]
        keys = np.empty((pop * n, k + 2 * n_lots + 1), dtype=np.int64)
        keys[:, :k] = open_cases
        keys[:, k : k + n_lots] = np.repeat(lot_buses, n, axis=0)
        keys[:, k + n_lots : k + 2 * n_lots] = np.ascontiguousarray(
            lot_kw.transpose(0, 2, 1), dtype=np.float64).reshape(pop * n, n_lots).view(np.int64)
        keys[:, -1] = np.tile(np.arange(n), pop)
        return keys

    def evaluate_full(self, X: np.ndarray) -> PlanEvaluation:
        return self.evaluate_plans(*self.decode(X))

    def evaluate(self, X: np.ndarray) -> Evaluation:
        """f and cv of decision vectors (what an optimiser needs): from the flow's per-case totals where they
        suffice (`totals_suffice`), else from `evaluate_plans`."""
        if self.totals_suffice:
            open_ids, lot_buses, counts = self.decode(X)
            done = self.n_evaluations + len(open_ids)
            keys = np.concatenate([open_ids, lot_buses, counts.reshape(len(counts), -1)], axis=1).astype(np.int64)
            v = self._plan_memo.values(
                keys, lambda rows: np.column_stack(self.evaluate_totals(open_ids[rows], lot_buses[rows], counts[rows])))
            self.n_evaluations = done  # plans evaluated, whether the memo had them or not
            return Evaluation(f=v[:, 0], cv=v[:, 1])
        ev = self.evaluate_full(X)
        return Evaluation(f=ev.f, cv=ev.cv)

    # ---- plans ----------------------------------------------------------------------------------------
    def plan_from_plans(self, ev: PlanEvaluation, i: int = 0, *, controller: str = "",
                        info: dict | None = None) -> DayAheadPlan:
        """The i-th evaluated plan as a `DayAheadPlan` with predicted KPIs from the fast flow."""
        prob = self.problem
        feasible = bool(ev.ok[i] and ev.cv[i] <= 1e-9)
        predicted = {
            "of1_usd": float(ev.of1_usd[i]), "of2_kw": float(ev.of2_kw[i]), "of3_kwh": float(ev.of3_kwh[i]),
            "vpd": float(ev.vpd[i]), "v_min_pu": float(ev.v_min_pu[i]), "v_max_pu": float(ev.v_max_pu[i]),
            "cv": float(ev.cv[i]), "objective": float(ev.f[i]) if len(ev.f) else float("nan"),
        }
        hourly = {
            "loss_kw": ev.loss_kw[i].copy(), "v_min_pu": ev.v_min_hourly_pu[i].copy(),
            "p_grid_kw": ev.p_grid_kw[i].copy(), "load_kw": self.load_kw.copy(),
            "lot_kw": ev.lot_kw[i].sum(axis=0).astype(float),
        }
        return DayAheadPlan(
            open_branches=tuple(int(b) for b in sorted(ev.open_branches[i])),
            lot_buses={lot.lot_id: int(ev.lot_bus[i, j]) for j, lot in enumerate(prob.lots)},
            setpoints_kw={lot.lot_id: ev.lot_kw[i, j].astype(float) for j, lot in enumerate(prob.lots)},
            feasible=feasible, predicted=predicted, predicted_hourly=hourly, controller=controller,
            info=dict(info or {}),
        )

    def plan_from_x(self, x: np.ndarray, *, controller: str = "", info: dict | None = None) -> DayAheadPlan:
        return self.plan_from_plans(self.evaluate_full(np.atleast_2d(x)), 0, controller=controller, info=info)
