"""The chargers' reactive power under a Q(V) droop ("volt-var", Q(U)) characteristic.

Grid codes let an inverter-connected unit set its reactive power from the voltage it measures at its terminals:
IEEE Std 1547-2018, 5.3.3 (voltage-reactive power mode; Table 8's category B defaults V1..V4 = 0.92, 0.98, 1.02,
1.08 p.u. and 44 % of the rated apparent power), VDE-AR-N 4105:2018 and EN 50549-1:2019 (the Q(U)
characteristic, within a minimum power factor of 0.90). The curve, piecewise linear in the voltage v (p.u.):

* v <= v1: full injection (q = -q_limit: capacitive, raises the voltage);
* v1 < v < v2: linear from -q_limit to 0;
* v2 <= v <= v3: dead band, q = 0;
* v3 < v < v4: linear from 0 to +q_limit;
* v >= v4: full absorption (q = +q_limit: inductive, lowers the voltage).

Signs follow the grid's load convention: q_kvar > 0 is absorbed. The limit is the smaller of the minimum power
factor's q at the lot's active power, |p| tan(acos(min_power_factor)), and a kvar rating (`max_kvar`, none by
default): the chargers never run below their minimum power factor, and idle chargers (p = 0) give no reactive
power. The default pf 0.90 is sin(acos(0.9)) = 43.6 % of the apparent power, IEEE 1547's 44 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cosim.errors import InputError

QV_DEFAULTS = {"v1_pu": 0.92, "v2_pu": 0.98, "v3_pu": 1.02, "v4_pu": 1.08, "min_power_factor": 0.9}
QV_V_RANGE_PU = (0.5, 1.5)  # breakpoints outside are a typo (a grid's voltage band is about 0.9..1.1 p.u.)


class ReactiveConfigError(InputError):
    """A Q(V) curve that cannot be used; the message names the field and what is allowed."""


@dataclass(frozen=True)
class QVCurve:
    """A Q(V) droop characteristic (see the module docstring): breakpoints in p.u., limits by pf and kvar."""

    v1_pu: float = QV_DEFAULTS["v1_pu"]
    v2_pu: float = QV_DEFAULTS["v2_pu"]
    v3_pu: float = QV_DEFAULTS["v3_pu"]
    v4_pu: float = QV_DEFAULTS["v4_pu"]
    min_power_factor: float = QV_DEFAULTS["min_power_factor"]
    max_kvar: float = math.inf

    def __post_init__(self) -> None:
        for name in ("v1_pu", "v2_pu", "v3_pu", "v4_pu", "min_power_factor", "max_kvar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise ReactiveConfigError(f"{name}={value!r} is invalid; allowed: a number")
        lo, hi = QV_V_RANGE_PU
        for name in ("v1_pu", "v2_pu", "v3_pu", "v4_pu"):
            if not lo <= getattr(self, name) <= hi:
                raise ReactiveConfigError(f"{name}={getattr(self, name)!r} is invalid; allowed: {lo}..{hi} p.u.")
        if not self.v1_pu < self.v2_pu <= self.v3_pu < self.v4_pu:
            raise ReactiveConfigError(f"breakpoints out of order: v1_pu={self.v1_pu}, "
                                      f"v2_pu={self.v2_pu}, v3_pu={self.v3_pu}, v4_pu={self.v4_pu}; allowed: "
                                      "v1_pu < v2_pu <= v3_pu < v4_pu")
        if not 0.0 < self.min_power_factor <= 1.0:
            raise ReactiveConfigError(f"min_power_factor={self.min_power_factor!r} is invalid; allowed: (0, 1]")
        if not self.max_kvar > 0.0:
            raise ReactiveConfigError(f"max_kvar={self.max_kvar!r} is invalid; allowed: > 0 kvar")

    @property
    def kvar_per_kw(self) -> float:
        """tan(acos(min_power_factor)): the curve's limit per kW of active power."""
        return math.tan(math.acos(self.min_power_factor))

    def share(self, v_pu: float | np.ndarray) -> float | np.ndarray:
        """The curve's q as a share of its limit, in [-1, 1] (+ absorbed), at voltage `v_pu`."""
        v = np.asarray(v_pu, dtype=float)
        inject = np.clip((self.v2_pu - v) / (self.v2_pu - self.v1_pu), 0.0, 1.0)
        absorb = np.clip((v - self.v3_pu) / (self.v4_pu - self.v3_pu), 0.0, 1.0)
        out = absorb - inject
        return float(out) if out.ndim == 0 else out

    def limit_kvar(self, p_kw: float | np.ndarray) -> float | np.ndarray:
        """The largest |q| (kvar) at active power `p_kw`: min(|p| tan(acos(min_power_factor)), max_kvar)."""
        return np.minimum(np.abs(p_kw) * self.kvar_per_kw, self.max_kvar)

    def q_kvar(self, p_kw: float | np.ndarray, v_pu: float | np.ndarray) -> float | np.ndarray:
        """Reactive power (kvar, + absorbed) at active power `p_kw` and the measured voltage `v_pu`."""
        out = np.asarray(self.share(v_pu)) * self.limit_kvar(p_kw) + 0.0  # + 0.0: no -0.0 in the tables
        return float(out) if np.ndim(out) == 0 else out


def qv_curve(params: dict | None) -> QVCurve | None:
    """A `QVCurve` from a table of its fields (None or empty: no curve); unknown keys name what is allowed."""
    if not params:
        return None
    known = set(QV_DEFAULTS) | {"max_kvar"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ReactiveConfigError(f"qv: unknown key(s) {unknown}; allowed: {sorted(known)}")
    return QVCurve(**params)
