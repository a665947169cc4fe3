"""Exact reference controller `milp`: reconfiguration + lot dispatch as a mixed-integer linear program (HiGHS).

It gives a certified optimum (or a bound, with the MIP gap) of a linearised model (see `formulation`), against
which the metaheuristic controllers can be measured; the chosen plan is then evaluated exactly (AC power flow).

Hours: `hours` (default all 24) are the hours put in the model; the lot is idle in the others. The plan is
always evaluated over the whole day with the fast radial power flow (`cosim.powerflow.bfs`).

Steps: the problem's steps (24, 48 or 96 a day: `[simulation] step_minutes` 60, 30 or 15) are the model's periods;
an hour in `hours` puts all its steps in the model. Energies and objectives are kW x step_h
(`formulation`), so an hourly problem held over quarter hours has the hourly optimum.

Limits: `node_limit` branch-and-bound nodes per refinement round, one HiGHS thread: the same problem gives the
same plan, bound and gap on any machine (`refinement`). `time_limit_s` (None by default) adds a wall-clock limit
for interactive use; a plan stopped by it depends on the machine.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from cosim.controllers.base import HOURS, DayAheadPlan, DayAheadProblem
from cosim.controllers.milp.evaluation import evaluate_exact
from cosim.controllers.milp.formulation import lot_data, of1_costs_per_mw
from cosim.controllers.milp.refinement import NODE_LIMIT, MilpError, check_settings, solve_milp


class MilpController:
    """Exact reference DSO controller: LinDistFlow MILP (HiGHS) for shared-topology reconfiguration + lot dispatch."""

    name = "milp"

    def __init__(
        self,
        time_limit_s: float | None = None,
        mip_rel_gap: float = 1e-4,
        n_segments: int = 12,
        hours: Sequence[int] | None = None,
        max_rounds: int = 6,
        model_rel_gap: float = 1e-3,
        tie_loss_weight: float = 1e-3,
        threads: int = 1,
        node_limit: int | None = NODE_LIMIT,
    ) -> None:
        check_settings(n_segments, time_limit_s, mip_rel_gap, max_rounds, model_rel_gap, node_limit)
        if hours is not None:
            hrs = np.asarray(sorted(set(int(h) for h in hours)), dtype=int)
            if len(hrs) == 0 or hrs.min() < 0 or hrs.max() >= HOURS:
                raise MilpError(f"hours must be a non-empty subset of 0..{HOURS - 1}, got {list(hours)}")
            self.hours = hrs
        else:
            self.hours = np.arange(HOURS)
        self.time_limit_s = None if time_limit_s is None else float(time_limit_s)
        self.mip_rel_gap, self.n_segments = float(mip_rel_gap), int(n_segments)
        self.max_rounds, self.model_rel_gap = int(max_rounds), float(model_rel_gap)
        self.tie_loss_weight, self.threads = float(tie_loss_weight), int(threads)
        self.node_limit = node_limit

    def plan(self, problem: DayAheadProblem) -> DayAheadPlan:
        """Solve the MILP over the steps of `hours`, then evaluate the plan exactly over the whole day."""
        t0 = time.perf_counter()
        net = problem.network
        n, dt = problem.steps_per_day, problem.step_h
        per_hour = n // HOURS
        hrs = (self.hours[:, None] * per_hour + np.arange(per_hour)[None, :]).reshape(-1)  # the modelled steps
        p_all, q_all = problem.bus_loads_kw()
        lots = [lot_data(lot, hrs, n) for lot in problem.lots]
        fixed = None if problem.reconfigure else tuple(problem.base_open_branches)
        r = solve_milp(
            net, p_all[hrs], q_all[hrs], hours=hrs, lots=lots, objective=problem.objective, fixed_open=fixed,
            price=problem.price_usd_per_kwh[hrs], n_segments=self.n_segments, time_limit_s=self.time_limit_s,
            mip_rel_gap=self.mip_rel_gap, max_rounds=self.max_rounds, model_rel_gap=self.model_rel_gap,
            tie_loss_weight=self.tie_loss_weight, threads=self.threads, node_limit=self.node_limit, steps=n,
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
                lot_buses={lot.lot_id: int(lot.candidate_buses[0]) for lot in problem.lots},
                setpoints_kw={lot.lot_id: np.zeros(n) for lot in problem.lots}, feasible=False,
                controller=self.name, info=info,
            )
        p_tot, q_tot = p_all.copy(), q_all.copy()
        for lot in lots:  # the lots' active power and their chargers' absorbed reactive power
            lot_id = lot.offer.lot_id
            p_tot[:, r.lot_buses[lot_id] - 1] += r.setpoints_kw[lot_id]
            q_tot[:, r.lot_buses[lot_id] - 1] += lot.kvar_per_kw * np.abs(r.setpoints_kw[lot_id])
        ev = evaluate_exact(net, r.open_branches, p_tot, q_tot)
        lot_kw = sum(r.setpoints_kw.values()) if r.setpoints_kw else np.zeros(n)
        load = problem.load_kw
        of1 = 0.0
        for offer in problem.lots:
            cost_c, cost_d = of1_costs_per_mw(offer, problem.price_usd_per_kwh, dt)
            sp = r.setpoints_kw[offer.lot_id] / 1000.0
            of1 -= float(np.sum(cost_c * np.maximum(sp, 0.0) + cost_d * np.maximum(-sp, 0.0)))
        predicted = {
            "of1_usd": of1,
            "of2_kw": float(np.abs(load.mean() - load - lot_kw).sum()) * dt,
            "of3_kwh": float(np.sum(ev.loss_kw)) * dt,
            "vpd": float(np.sum(ev.vpd_pu)) * dt,
            "v_min_pu": float(np.min(ev.v_min_pu)),
            "of3_model_hours_kwh": float(np.sum(ev.loss_kw[hrs])) * dt,
        }
        info["v_limits_ok"] = bool(np.nanmin(ev.v_min_pu) >= net.v_min_pu - 1e-9)
        info["wall_s"] = time.perf_counter() - t0
        return DayAheadPlan(
            open_branches=r.open_branches, lot_buses=r.lot_buses, setpoints_kw=r.setpoints_kw,
            feasible=ev.converged and r.voltage_violation_pu2 <= 1e-9, predicted=predicted,
            predicted_hourly={"loss_kw": ev.loss_kw, "v_min_pu": ev.v_min_pu, "p_grid_kw": ev.p_grid_kw,
                              "lot_kw": lot_kw},
            controller=self.name, info=info,
        )
