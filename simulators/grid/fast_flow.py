"""The fast grid engine (`[network] engine = "fast"`): one step's flow of a network's radial model by the compiled
backward/forward sweep (`cosim.powerflow`), instead of pandapower's Newton-Raphson on the pandapower net.

The model is the one the DSO plans with (`RadialNetwork`; a converted net's `ConvertedNetwork`: the MV busbar held
at its set-point, the lines' charging, the transformers' magnetising), so the flow agrees with pandapower's runpp
of the same net to within the sweep's tolerance (tests/simulators/grid/test_fast_engine.py states the figures).

A converted net's HV/MV transformers (whose on-load tap changers hold the busbar) are outside the radial model;
`Substation` computes their results from the power each busbar section draws: the transformer's exact pi
equivalent (`cosim.networks.transformers.trafo_branch`) with the busbar at its set-point. With the tap changer on
the HV side (SimBench) the impedance seen from the busbar does not depend on the tap, so neither do the results.
Two differences from the pandapower path, by construction: the busbar is always at its set-point (pandapower's tap
loop stops at a tap limit, with a message, and its busbar is then off the set-point); with an LV-side tap changer
the transformer's impedance is taken at the net's tap position as given (the pandapower path moves it).
No pandapower import here: a built-in feeder run with this engine never loads pandapower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cosim.powerflow.bfs import DEFAULT_TOL_PU, solve_radial_batch
from cosim.powerflow.network_data import RadialNetwork

__all__ = ["ENGINES", "FastFlow", "FastResult", "Substation"]

ENGINES = ("pandapower", "fast")
"""Grid engines (`[network] engine`): pandapower's runpp on the pandapower net (the default), or this module's
compiled radial flow."""


@dataclass(frozen=True)
class FastResult:
    """One step's flow: per radial bus and branch (0-based), and totals at the slack (the MV busbar)."""

    converged: bool
    vm_pu: np.ndarray  # (n_bus,)
    v_pu: np.ndarray  # (n_bus,) complex
    i_ka: np.ndarray  # (n_branch,) series current, 0 on open branches
    loss_kw: float  # series losses plus the shunts' conductance (magnetising), kW
    p_slack_kw: float  # drawn from the slack (the MV busbar of a converted net), kW
    q_slack_kvar: float


class FastFlow:
    """The compiled flow of one radial model, a case per step. `tol_pu`: the sweep's stopping distance (p.u.)."""

    def __init__(self, radial: RadialNetwork, tol_pu: float = DEFAULT_TOL_PU) -> None:
        self.radial = radial
        self.tol_pu = float(tol_pu)

    def solve(self, open_branches: tuple[int, ...], p_kw: np.ndarray, q_kvar: np.ndarray) -> FastResult:
        """Flow of one step: open branch ids, per-bus demand (kW, kvar; + load, - injection)."""
        from cosim.networks.converted import ConvertedNetwork, flow  # noqa: PLC0415 - no pandapower in there

        net = self.radial
        ids = np.asarray(open_branches, dtype=np.int64)[None, :]
        if isinstance(net, ConvertedNetwork):
            res = flow(net, ids, p_kw[None, :], q_kvar[None, :], tol_pu=self.tol_pu)
        else:
            res = solve_radial_batch(net, ids, p_kw[None, :], q_kvar[None, :], tol_pu=self.tol_pu)
        ok = bool(res.ok[0])
        return FastResult(ok, res.vm_pu[0], res.v_pu[0], res.i_branch_ka[0], float(res.loss_kw[0]),
                          float(res.p_slack_kw[0]), float(res.q_slack_kvar[0]))


@dataclass(frozen=True)
class _Trafo:
    """One on-load tap changing transformer below the external grid, as seen from its MV busbar section."""

    section: int
    z_pu: complex  # series impedance, system base, LV side
    y_lv_pu: complex  # shunt at the LV end
    y_hv_pu: complex  # shunt at the HV end, referred to the LV side (tap-independent for an HV-side tap)
    kv_hv: float  # nominal kV of its HV and LV buses
    kv_lv: float
    rated_mva: float  # sn_mva x parallel x df


class Substation:
    """HV/MV transformers of a converted net whose tap changers hold the busbar (`GridNetwork.oltc_trafos`):
    their power at the HV side (what the external grid supplies) and their loading, from the busbar's flow.

    The busbar's power is split between its sections: the feeders leaving each (their series currents from the
    solved voltages, plus half the charging of each line at the busbar) and the loads and generators at each
    section's own buses (`section_of_bus`: the pandapower buses joined to a transformer's LV bus by closed
    bus-bus switches); what is left (shunts at the busbar) is shared in proportion. Transformers feeding the same
    section share its power equally."""

    def __init__(self, grid) -> None:
        from cosim.networks.transformers import trafo_branch  # noqa: PLC0415 - a converted net has pandapower

        net, radial = grid.net, grid.radial
        self.radial = radial
        self.v_hv_pu = float(net.ext_grid.vm_pu.iloc[0])
        self.base_kva = 1000.0 * float(radial.base_mva)
        sec_of_lv = {}
        for k, name in enumerate(radial.section_names):
            for ti in name.removeprefix("transformer(s) ").split(", "):
                if ti.strip().isdigit():
                    sec_of_lv[int(ti)] = k
        trafos = []
        for ti in grid.oltc_trafos:
            row = net.trafo.loc[ti]
            tb = trafo_branch(net, ti, radial.name)
            trafos.append(_Trafo(
                section=sec_of_lv.get(int(ti), 0), z_pu=tb.z_pu, y_lv_pu=tb.y_lv_pu,
                y_hv_pu=tb.y_hv_pu * abs(tb.ratio) ** 2, kv_hv=float(net.bus.at[int(row.hv_bus), "vn_kv"]),
                kv_lv=float(net.bus.at[int(row.lv_bus), "vn_kv"]),
                rated_mva=float(row.sn_mva) * float(row.get("parallel", 1) or 1) * float(row.get("df", 1.0) or 1.0)))
        self.trafos = tuple(trafos)
        self.section_of_bus = _busbar_sections(grid, {int(net.trafo.at[t, "lv_bus"]): sec_of_lv.get(int(t), 0)
                                                      for t in grid.oltc_trafos})
        n_sec = max(len(radial.section_s_max_kva), 1)
        self.n_sec = n_sec
        self.per_section = np.bincount([t.section for t in trafos], minlength=n_sec).astype(float)

    def section_power_pu(self, res: FastResult, open_branches: tuple[int, ...], busbar_kva: np.ndarray
                         ) -> np.ndarray:
        """Complex power (p.u.) each section delivers: into its feeders, to its own loads (`busbar_kva`, complex
        kVA per section), and a share of the rest."""
        r = self.radial
        v0 = res.v_pu[r.slack_bus]
        out = np.zeros(self.n_sec, complex)
        open_set = set(int(b) for b in open_branches)
        for k in np.flatnonzero(r.slack_section >= 0):
            if int(r.branch_ids[k]) in open_set:
                continue
            far = r.to_bus[k] if r.from_bus[k] == r.slack_bus else r.from_bus[k]
            z = complex(r.r_pu[k], r.x_pu[k])
            if z == 0:
                continue
            i = (v0 - res.v_pu[far]) / z
            out[r.slack_section[k]] += v0 * np.conj(i) + abs(v0) ** 2 * np.conj(r.charging_y_pu[k] / 2.0)
        out += np.asarray(busbar_kva, complex) / self.base_kva
        total = complex(res.p_slack_kw, res.q_slack_kvar) / self.base_kva
        rest = total - out.sum()
        weight = np.abs(out)
        share = weight / weight.sum() if weight.sum() > 0 else np.full(self.n_sec, 1.0 / self.n_sec)
        return out + rest * share

    def results(self, res: FastResult, open_branches: tuple[int, ...], busbar_kva: np.ndarray
                ) -> tuple[float, float, float]:
        """(p kW, q kvar at the HV side, summed over the transformers; most loaded transformer, %); `busbar_kva`:
        what each section's own buses draw (complex kVA)."""
        v_lv = complex(self.radial.v_slack_pu)
        s_sec = self.section_power_pu(res, open_branches, busbar_kva)
        s_hv_total = 0j
        loading = -math.inf
        for t in self.trafos:
            s_lv = s_sec[t.section] / self.per_section[t.section]
            i_lv = np.conj(s_lv / v_lv)
            i_z = i_lv + t.y_lv_pu * v_lv
            v_hv = v_lv + t.z_pu * i_z
            s_hv = v_hv * np.conj(i_z) + abs(v_hv) ** 2 * np.conj(t.y_hv_pu)
            s_hv_total += s_hv
            mva = self.base_kva / 1000.0
            i_hv_ka = abs(s_hv) * mva / (math.sqrt(3.0) * self.v_hv_pu * t.kv_hv)
            i_lv_ka = abs(s_lv) * mva / (math.sqrt(3.0) * abs(v_lv) * t.kv_lv)
            loading = max(loading, max(i_hv_ka * t.kv_hv, i_lv_ka * t.kv_lv) * math.sqrt(3.0) / t.rated_mva * 100.0)
        return (float(s_hv_total.real * self.base_kva), float(s_hv_total.imag * self.base_kva),
                loading if self.trafos else math.nan)


def _busbar_sections(grid, section_of_lv: dict[int, int]) -> dict[int, int]:
    """Section of each pandapower bus merged into the busbar (radial bus 0 of `grid.position_of_bus`): the
    section of the transformer LV bus it is joined to by closed bus-bus switches (the first section where none)."""
    net = grid.net
    slack = grid.radial.slack_bus
    buses = {b for b, k in grid.position_of_bus.items() if k == slack}
    sw = net.switch
    closed = sw[(sw.et == "b") & sw.closed.astype(bool)]
    link: dict[int, set[int]] = {b: set() for b in buses}
    for a, b in zip(closed.bus.astype(int), closed.element.astype(int)):
        if a in buses and b in buses:
            link[a].add(b)
            link[b].add(a)
    out: dict[int, int] = {}
    for lv, sec in section_of_lv.items():
        stack = [lv]
        while stack:
            b = stack.pop()
            if b in out or b not in buses:
                continue
            out[b] = sec
            stack.extend(link[b])
    return {b: out.get(b, 0) for b in buses}
