"""A pandapower 2-winding transformer as a branch of the radial model: ratio, series impedance, shunts, rating.

pandapower (3.x) models a transformer as an ideal transformer at its HV end followed by a pi section, in per unit
on `net.sn_mva` and each bus's own `vn_kv` (`pandapower.build_branch`). This module computes the same quantities
from the trafo table, written here so that the radial model does not depend on pandapower's internals (the tests
compare the result with runpp):

* off-nominal ratio  (vn_hv / vn_lv) / (bus_hv / bus_lv), with the tap position applied to the tapped side's
  rated voltage (tap changer types "Ratio" and "Symmetrical": tap_step_percent and tap_step_degree; "Ideal":
  a phase shifter), times exp(j shift_degree);
* series impedance  vk_percent / vkr_percent on the transformer's rating, referred to the LV bus's base (and the
  tapped LV voltage, as pandapower does), divided by `parallel`;
* magnetising admittance  pfe_kw and i0_percent; with runpp's default T model (the leakage impedance split at
  leakage_*_ratio_hv, 0.5 by default) it is turned into the exact pi equivalent (star-delta), whose shunt at the
  HV end is returned divided by |ratio|^2 (seen from the HV bus itself).

Refused with one line (`NetworkDataError`): tap dependency tables (impedance as a function of the tap) and a
second tap changer (tap2_*), which the model does not hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cosim.powerflow.network_data import NetworkDataError

__all__ = ["LEVEL_TOLERANCE", "TrafoBranch", "check_levels", "trafo_branch"]

LEVEL_TOLERANCE = 0.10
"""A transformer's rated voltage may differ from its bus's nominal voltage by this share at most (e.g. 10.5 kV on a
10 kV bus); more is taken for a transformer connected to the wrong level."""


@dataclass(frozen=True)
class TrafoBranch:
    """One transformer as a branch from its HV bus to its LV bus (per unit on the system base and each bus's kV)."""

    index: int
    hv_bus: int
    lv_bus: int
    ratio: complex  # off-nominal ratio at the HV end, magnitude x exp(j shift)
    z_pu: complex  # series impedance, on the LV bus's base
    y_hv_pu: complex  # shunt admittance at the HV bus (the pi equivalent's HV shunt / |ratio|^2)
    y_lv_pu: complex  # shunt admittance at the LV bus
    i_max_ka: float  # rated current at the LV bus (sn_mva x parallel / (sqrt 3 vn_lv_kv))
    members: tuple[int, ...] = ()  # transformers merged into this branch (parallel ones); () = just `index`


def _num(row, col: str, default: float = math.nan) -> float:
    value = row.get(col, default)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x


def _label(net, ti: int) -> str:
    name = net.trafo.at[ti, "name"] if "name" in net.trafo.columns else None
    return f"transformer {ti}" + (f" ({name})" if isinstance(name, str) and name.strip() else "")


def check_levels(net, ti: int, network: str) -> None:
    """A transformer's rated voltages must match its buses' nominal voltages (within LEVEL_TOLERANCE)."""
    row = net.trafo.loc[ti]
    for side in ("hv", "lv"):
        rated = _num(row, f"vn_{side}_kv")
        bus = int(row[f"{side}_bus"])
        nominal = float(net.bus.at[bus, "vn_kv"])
        if not (math.isfinite(rated) and rated > 0 and abs(rated / nominal - 1.0) <= LEVEL_TOLERANCE):
            raise NetworkDataError(
                f"network {network!r}: {_label(net, ti)}: its rated {side.upper()} voltage vn_{side}_kv {rated:g} kV "
                f"does not match its {side.upper()} bus {bus} at vn_kv {nominal:g} kV; allowed: within "
                f"{LEVEL_TOLERANCE:.0%} of the bus's nominal voltage (a transformer for this level, or the right bus)")


def _tapped(row, vnh: float, vnl: float) -> tuple[float, float, float]:
    """(vn_hv, vn_lv, extra shift in degrees) with the tap position applied (pandapower's rules, see the module
    docstring); unchanged without a tap changer type or a tap position."""
    kind = row.get("tap_changer_type")
    side = row.get("tap_side")
    if not isinstance(kind, str) or side not in ("hv", "lv"):
        return vnh, vnl, 0.0
    diff = _num(row, "tap_pos") - _num(row, "tap_neutral", 0.0)
    if not math.isfinite(diff):
        return vnh, vnl, 0.0
    direction = 1.0 if side == "hv" else -1.0
    step_pct = _num(row, "tap_step_percent")
    step_deg = _num(row, "tap_step_degree")
    if kind == "Ideal":
        if math.isfinite(step_deg) and step_deg != 0:
            return vnh, vnl, direction * diff * step_deg
        if math.isfinite(step_pct):
            return vnh, vnl, direction * 2.0 * math.degrees(math.asin(diff * step_pct / 100.0 / 2.0))
        return vnh, vnl, 0.0
    if kind not in ("Ratio", "Symmetrical"):
        return vnh, vnl, 0.0
    u1 = vnh if side == "hv" else vnl
    du = u1 * (step_pct * diff / 100.0 if math.isfinite(step_pct) else 0.0)
    angle = math.radians(step_deg) if math.isfinite(step_deg) else 0.0
    vn = math.hypot(u1 + du * math.cos(angle), du * math.sin(angle))
    shift = math.degrees(math.atan(direction * du * math.sin(angle) / (u1 + du * math.cos(angle))))
    return (vn, vnl, shift) if side == "hv" else (vnh, vn, shift)


def trafo_branch(net, ti: int, network: str) -> TrafoBranch:
    """The branch data of transformer `ti` of `net` (see the module docstring)."""
    row = net.trafo.loc[ti]
    label = _label(net, ti)
    dependency = row.get("tap_dependency_table", False)
    if isinstance(dependency, (bool, np.bool_)) and dependency:
        raise NetworkDataError(f"network {network!r}: {label} has a tap dependency table (impedance by tap "
                               "position), which the model does not hold; set tap_dependency_table to False")
    if math.isfinite(_num(row, "tap2_pos")) and isinstance(row.get("tap2_changer_type"), str):
        raise NetworkDataError(f"network {network!r}: {label} has a second tap changer (tap2_*), which the model "
                               "does not hold")
    hv, lv = int(row.hv_bus), int(row.lv_bus)
    bus_hv, bus_lv = float(net.bus.at[hv, "vn_kv"]), float(net.bus.at[lv, "vn_kv"])
    vn_hv_rated, vn_lv_rated = float(row.vn_hv_kv), float(row.vn_lv_kv)
    vnh, vnl, tap_shift = _tapped(row, vn_hv_rated, vn_lv_rated)
    shift = (_num(row, "shift_degree", 0.0) if math.isfinite(_num(row, "shift_degree", 0.0)) else 0.0) + tap_shift
    ratio = (vnh / vnl) / (bus_hv / bus_lv) * complex(math.cos(math.radians(shift)), math.sin(math.radians(shift)))
    sn_sys = float(net.sn_mva)
    sn = float(row.sn_mva)
    parallel = float(row.get("parallel", 1) or 1)
    tap_lv = (vnl / bus_lv) ** 2 * sn_sys
    z_sc = float(row.vk_percent) / 100.0 / sn * tap_lv
    r_sc = float(row.vkr_percent) / 100.0 / sn * tap_lv
    x_sc = math.copysign(math.sqrt(max(z_sc**2 - r_sc**2, 0.0)), z_sc)
    r, x = r_sc / parallel, x_sc / parallel
    base_z = bus_lv**2 / sn_sys
    pfe_mw = _num(row, "pfe_kw", 0.0) * 1e-3
    ym_mva = _num(row, "i0_percent", 0.0) / 100.0 * sn
    b_mva = -math.sqrt(max(ym_mva**2 - pfe_mw**2, 0.0))
    factor = base_z * parallel / vn_lv_rated**2 / (vnl / vn_lv_rated) ** 2
    g, b = pfe_mw * factor, b_mva * factor
    z = complex(r, x)
    y_hv = y_lv = 0j
    if g != 0 or b != 0:  # T model -> exact pi equivalent (star-delta)
        rr = _num(row, "leakage_resistance_ratio_hv", 0.5)
        xr = _num(row, "leakage_reactance_ratio_hv", 0.5)
        rr = rr if math.isfinite(rr) else 0.5
        xr = xr if math.isfinite(xr) else 0.5
        za = complex(r * rr, x * xr)
        zb = complex(r * (1 - rr), x * (1 - xr))
        zc = 1.0 / complex(g, b)
        z_sum = za * zb + za * zc + zb * zc
        z = z_sum / zc
        y_hv = zb / z_sum / abs(ratio) ** 2
        y_lv = za / z_sum
    i_max = sn * parallel * _num(row, "df", 1.0) / (math.sqrt(3.0) * vn_lv_rated)
    return TrafoBranch(int(ti), hv, lv, ratio, z, y_hv, y_lv, i_max)
