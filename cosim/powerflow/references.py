"""power-grid-model as an independent reference for the radial flow (tests and benchmarks/powerflow.py).

power-grid-model (Alliander, C++ Newton-Raphson and friends) is an optional dependency (the `test` extras).
`PgmBatch` builds its model from a `RadialNetwork` (no pandapower involved) and solves a batch of cases given
as open branch ids and bus loads, exactly as `solve_radial_batch` takes them. Its source gets a short-circuit
power of 1e20 VA: with pgm's default 1e10 VA the source impedance alone shifts voltages by ~1.5e-3 p.u. against
an ideal slack (what pandapower's ext_grid and our flow model).

Networks with several voltage levels or transformers (`RadialNetwork.tap_ratio`) become pgm `generic_branch`es
(the off-nominal ratio and phase shift at the from-end, the series impedance on the to-end's base: the same
branch model), each node at its own level (`bus_kv`). The shunts of a converted net (line charging, the
transformers' magnetising, `ConvertedNetwork.shunt_y_pu`) become one pgm `shunt` per bus, updated per case.
"""

from __future__ import annotations

import numpy as np

from cosim.powerflow.bfs import open_positions
from cosim.powerflow.network_data import RadialNetwork

SOURCE_SK_VA = 1e20  # ~ideal slack


class PgmBatch:
    """A power-grid-model of one network; `solve` runs a batch of (open branches, loads) cases."""

    def __init__(self, net: RadialNetwork, v_slack_pu: float = 1.0, shunts: bool = False) -> None:
        """`shunts`: model the converted net's shunts (`net.shunt_y_pu`, per case) as pgm shunts."""
        import power_grid_model as pgm  # noqa: PLC0415 - optional dependency (test extras)

        self.pgm = pgm
        self.net = net
        self.shunts = shunts
        nb, nbr = net.n_bus, net.n_branch
        ct, dt = pgm.ComponentType, pgm.DatasetType
        node = pgm.initialize_array(dt.input, ct.node, nb)
        node["id"] = np.arange(nb)
        node["u_rated"] = np.asarray(net.bus_kv, float) * 1e3
        z_base = np.asarray(net.bus_kv, float)[np.asarray(net.to_bus)] ** 2 / net.base_mva  # ohm, the to-end's level
        self.branch_type = ct.generic_branch if net.has_taps else ct.line
        line = pgm.initialize_array(dt.input, self.branch_type, nbr)
        line["id"] = nb + np.arange(nbr)
        line["from_node"] = net.from_bus
        line["to_node"] = net.to_bus
        line["from_status"] = 1
        line["to_status"] = 1
        line["r1"] = np.asarray(net.r_pu, float) * z_base
        line["x1"] = np.asarray(net.x_pu, float) * z_base
        if net.has_taps:
            line["g1"] = 0.0
            line["b1"] = 0.0
            line["k"] = np.abs(net.tap_ratio)
            line["theta"] = np.angle(net.tap_ratio)
            line["sn"] = 1e9
        else:
            line["c1"] = 0.0
            line["tan1"] = 0.0
            line["i_n"] = np.where(np.isfinite(net.i_max_ka), np.asarray(net.i_max_ka, float) * 1e3, 1e9)
        load = pgm.initialize_array(dt.input, ct.sym_load, nb)
        load["id"] = nb + nbr + np.arange(nb)
        load["node"] = np.arange(nb)
        load["status"] = 1
        load["type"] = pgm.LoadGenType.const_power
        load["p_specified"] = np.asarray(net.p_load_kw, float) * 1e3
        load["q_specified"] = np.asarray(net.q_load_kvar, float) * 1e3
        source = pgm.initialize_array(dt.input, ct.source, 1)
        source["id"] = 2 * nb + nbr
        source["node"] = net.slack_bus
        source["status"] = 1
        source["u_ref"] = v_slack_pu
        source["sk"] = SOURCE_SK_VA
        data = {ct.node: node, self.branch_type: line, ct.sym_load: load, ct.source: source}
        if shunts:
            shunt = pgm.initialize_array(dt.input, ct.shunt, nb)
            shunt["id"] = 2 * nb + nbr + 1 + np.arange(nb)
            shunt["node"] = np.arange(nb)
            shunt["status"] = 1
            for key in ("g1", "b1", "g0", "b0"):
                shunt[key] = 0.0
            data[ct.shunt] = shunt
            self.shunt_ids = shunt["id"].copy()
            self.y_to_siemens = net.base_mva / np.asarray(net.bus_kv, float) ** 2
        self.model = pgm.PowerGridModel(data)
        self.line_ids = line["id"].copy()
        self.load_ids = load["id"].copy()

    def update(self, open_branches, p_kw: np.ndarray, q_kvar: np.ndarray) -> dict:
        """Batch update data for `solve`: one scenario per row of loads (open_branches broadcast like the flow's)."""
        pgm = self.pgm
        p_kw, q_kvar = np.atleast_2d(p_kw), np.atleast_2d(q_kvar)
        batch = max(len(p_kw), len(q_kvar))
        pos = open_positions(self.net, open_branches)
        pos = np.broadcast_to(pos, (batch, pos.shape[1]))
        status = np.ones((batch, self.net.n_branch), dtype=np.int8)
        np.put_along_axis(status, pos, 0, axis=1)
        ct, dt = pgm.ComponentType, pgm.DatasetType
        line = pgm.initialize_array(dt.update, self.branch_type, (batch, self.net.n_branch))
        line["id"] = self.line_ids
        line["from_status"] = status
        line["to_status"] = status
        load = pgm.initialize_array(dt.update, ct.sym_load, (batch, self.net.n_bus))
        load["id"] = self.load_ids
        load["p_specified"] = np.broadcast_to(p_kw, (batch, self.net.n_bus)) * 1e3
        load["q_specified"] = np.broadcast_to(q_kvar, (batch, self.net.n_bus)) * 1e3
        out = {self.branch_type: line, ct.sym_load: load}
        if self.shunts:
            y = self.net.shunt_y_pu(pos) * self.y_to_siemens[None, :]
            shunt = pgm.initialize_array(dt.update, ct.shunt, (batch, self.net.n_bus))
            shunt["id"] = self.shunt_ids
            shunt["g1"] = y.real
            shunt["b1"] = y.imag
            out[ct.shunt] = shunt
        return out

    def solve(self, update: dict, tol_pu: float = 1e-8, max_iter: int = 30, threads: int = -1,
              skip_failed: bool = False, method: str = "newton_raphson") -> np.ndarray:
        """Bus voltage magnitudes (batch, n_bus) [p.u.] by Newton-Raphson, or by another of power-grid-model's
        `CalculationMethod`s named in `method` ("iterative_current": its fixed-point method, the kind of method
        our sweeps are) (threads=-1: sequential, one thread).

        A case that does not converge raises power-grid-model's error, or is a row of NaN with skip_failed=True.
        """
        pgm = self.pgm
        ct = pgm.ComponentType
        out = self.model.calculate_power_flow(
            update_data=update, error_tolerance=tol_pu, max_iterations=max_iter, threading=threads,
            calculation_method=getattr(pgm.CalculationMethod, method), output_component_types={ct.node: ["u_pu"]},
            continue_on_batch_error=skip_failed,
        )
        vm = np.array(out[ct.node]["u_pu"], dtype=float)
        err = self.model.batch_error
        if skip_failed and err is not None:
            vm[np.asarray(err.failed_scenarios, dtype=int)] = np.nan
        return vm
