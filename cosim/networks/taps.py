"""Discrete tap control in the grid simulator's pandapower path (`[network] tap_control = "discrete"`).

Every in-service transformer of a converted net that has a tap changer (a finite tap_step_percent, tap_pos and
tap limits), other than those whose taps already hold the MV busbar at the set-point (`GridNetwork.oltc_trafos`,
moved by `cosim.networks.switched.run_original`), gets pandapower's `DiscreteTapControl`: after each power flow it
moves the tap one step at a time until the voltage of its LV bus lies within that bus's own band (`min_vm_pu` ..
`max_vm_pu` of the net, else `DEFAULT_BAND_PU`), within tap_min .. tap_max. `runpp(run_control=True)` runs the
loop. The DSO still plans with the taps as given (the radial model's tap ratios): the difference is part of what
the plan does not see.
"""

from __future__ import annotations

import math

from cosim.networks.converter import GridNetwork
from cosim.powerflow.network_data import NetworkDataError

__all__ = ["DEFAULT_BAND_PU", "add_discrete_tap_control", "controlled_trafos"]

DEFAULT_BAND_PU = (0.98, 1.02)
"""An LV bus's band where the net gives none (p.u.)."""


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def controlled_trafos(grid: GridNetwork) -> list[int]:
    """The transformers that get a controller (see the module docstring)."""
    tr = grid.net.trafo
    skip = set(grid.oltc_trafos)
    return [int(ti) for ti, row in tr.iterrows()
            if bool(row.in_service) and int(ti) not in skip
            and all(_finite(row.get(c)) for c in ("tap_step_percent", "tap_pos", "tap_min", "tap_max"))
            and float(row.tap_step_percent) != 0]


def add_discrete_tap_control(grid: GridNetwork, mode: str = "discrete") -> list[int]:
    """Add a `DiscreteTapControl` to every controlled transformer of `grid.net`; returns their indices.
    NetworkDataError when the net has none (the option would change nothing)."""
    if mode != "discrete":
        raise NetworkDataError(f"tap_control {mode!r} is not known; allowed: fixed, discrete")
    from pandapower.control import DiscreteTapControl  # noqa: PLC0415 - pandapower only in the grid simulator

    net = grid.net
    trafos = controlled_trafos(grid)
    if not trafos:
        raise NetworkDataError(f"network {grid.name!r}: tap_control 'discrete' needs a transformer with a tap changer "
                               "(tap_step_percent, tap_pos, tap_min, tap_max); none has one")
    if "tap_changer_type" in net.trafo.columns:  # pandapower >= 3 applies a tap only with a changer type
        missing = [ti for ti in trafos if not isinstance(net.trafo.at[ti, "tap_changer_type"], str)]
        if missing:
            net.trafo["tap_changer_type"] = net.trafo.tap_changer_type.astype(object)
            net.trafo.loc[missing, "tap_changer_type"] = "Ratio"
    net.trafo["tap_pos"] = net.trafo.tap_pos.astype(float)
    bus = net.bus
    for ti in trafos:
        lv = int(net.trafo.at[ti, "lv_bus"])
        lo = float(bus.at[lv, "min_vm_pu"]) if "min_vm_pu" in bus.columns and _finite(bus.at[lv, "min_vm_pu"]) \
            else DEFAULT_BAND_PU[0]
        hi = float(bus.at[lv, "max_vm_pu"]) if "max_vm_pu" in bus.columns and _finite(bus.at[lv, "max_vm_pu"]) \
            else DEFAULT_BAND_PU[1]
        DiscreteTapControl(net, ti, vm_lower_pu=lo, vm_upper_pu=hi, side="lv")
    return trafos
