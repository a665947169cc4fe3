"""SimBench grids by code (network name "simbench:<code>", e.g. "simbench:1-MV-urban--0-sw") and their profiles.

The `simbench` package installs with its data (no download at run time). A grid is read with
`simbench.get_simbench_net(code)` and converted once by `cosim.networks.switched.convert_switched` (see there
for how transformers, couplers, switches and static generators become the radial model). The four MV grids
with switches (`MV_CODES`) are the ones validated and shipped with scenarios (scenarios/simbench_mv_*.toml);
any other SimBench code is tried and refused with one line where the model cannot hold it.

`element_profiles(code)`: the grid's own yearly profiles, every load and static generator its own (SimBench
gives 15-minute values for 2016, a leap year: 35,136 quarter-hours); hour h of the year is the mean of its
four quarter-hours (8,784 hours, hour 0 = 1 January 00:00-01:00). They are the values of each element's
`p_mw` / `q_mvar` (pandapower multiplies them by the element's `scaling`), in the order of the net's load and
sgen tables; a generator's q keeps its q_mvar / p_mw ratio (SimBench's run at unity power factor).
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass

import numpy as np

from cosim.networks.converter import GridNetwork
from cosim.powerflow.network_data import NetworkDataError

__all__ = ["MV_CODES", "PREFIX", "ElementProfiles", "check_code", "element_profiles", "simbench_network"]

PREFIX = "simbench:"
MV_CODES = ("1-MV-rural--0-sw", "1-MV-semiurb--0-sw", "1-MV-urban--0-sw", "1-MV-comm--0-sw")
"""The SimBench MV grids with switches: validated (`cosim validate --network`) and each with a scenario."""
QUARTERS_PER_HOUR = 4


@dataclass(frozen=True)
class ElementProfiles:
    """Hourly p_mw / q_mvar of every load and static generator of a grid, rows = hours of the year."""

    code: str
    load_p_mw: np.ndarray  # (hours, n_load), in the order of net.load
    load_q_mvar: np.ndarray
    sgen_p_mw: np.ndarray  # (hours, n_sgen), in the order of net.sgen
    sgen_q_mvar: np.ndarray

    @property
    def n_hours(self) -> int:
        return self.load_p_mw.shape[0]


def _simbench():
    import simbench  # noqa: PLC0415 - pandapower and simbench load only when a SimBench grid is asked for

    return simbench


def check_code(code: str) -> None:
    """NetworkDataError unless `code` is a SimBench code the installed package knows (":reduced" may follow)."""
    from cosim.networks.reduction import split_reduced  # noqa: PLC0415

    code = split_reduced(code)[0]
    known = _known_codes()
    if code not in known:
        raise NetworkDataError(f"unknown SimBench code {code!r}; the MV grids with switches are "
                               f"{', '.join(MV_CODES)} (all {len(known)} codes: simbench.collect_all_simbench_codes())")


@functools.lru_cache(maxsize=1)
def _known_codes() -> frozenset[str]:
    return frozenset(_simbench().collect_all_simbench_codes())


@functools.lru_cache(maxsize=4)
def _read(code: str):
    """The SimBench net (cached: reading the package's CSV data takes seconds; callers copy before changing it)."""
    check_code(code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas / pandapower deprecation chatter while reading the CSV data
        try:
            return _simbench().get_simbench_net(code)
        except (ValueError, KeyError, OSError) as exc:
            raise NetworkDataError(f"SimBench grid {code!r} cannot be read: {exc}") from None


def simbench_network(code: str) -> GridNetwork:
    """The SimBench grid `code` converted to the radial model (its `net` is the original SimBench net); a code
    ending in ":reduced" (an MV+LV grid) gives its reduced model (`cosim.networks.reduction`), which keeps the
    original net for the grid simulator."""
    from cosim.networks.reduction import reduce_grid, split_reduced  # noqa: PLC0415
    from cosim.networks.switched import convert_switched  # noqa: PLC0415 - pandapower only when built

    code, reduced = split_reduced(code)
    if reduced:
        return reduce_grid(simbench_network(code))[0]
    net = copy.deepcopy(_read(code))
    return convert_switched(net, PREFIX + code, f"SimBench {code} (original net operated through its switches)")


@functools.lru_cache(maxsize=4)
def element_profiles(code: str) -> ElementProfiles:
    """The grid's own hourly profiles per load and static generator (see the module docstring); a reduced grid's
    are its full grid's (the same elements)."""
    from cosim.networks.reduction import split_reduced  # noqa: PLC0415

    code = split_reduced(code)[0]
    net = _read(code)
    sb = _simbench()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)

    def hourly(key, n: int) -> np.ndarray:
        df = values.get(key)
        if df is None or df.shape[1] == 0:
            return np.zeros((0, n)) if n == 0 else None
        arr = df.reindex(columns=net[key[0]].index).to_numpy(float)
        if np.isnan(arr).any():
            raise NetworkDataError(f"SimBench grid {code!r}: {key[0]} profile(s) missing for some elements")
        quarters = arr.shape[0] - arr.shape[0] % QUARTERS_PER_HOUR
        return arr[:quarters].reshape(-1, QUARTERS_PER_HOUR, arr.shape[1]).mean(axis=1)

    load_p = hourly(("load", "p_mw"), len(net.load))
    load_q = hourly(("load", "q_mvar"), len(net.load))
    sgen_p = hourly(("sgen", "p_mw"), len(net.sgen))
    if load_p is None or load_q is None or sgen_p is None:
        raise NetworkDataError(f"SimBench grid {code!r} has no profiles for its loads or static generators")
    hours = load_p.shape[0]
    if len(net.sgen) == 0:
        sgen_p = np.zeros((hours, 0))
    p_rated = net.sgen.p_mw.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):  # SimBench gives no q profile: keep each q/p ratio
        ratio = np.where(p_rated != 0, net.sgen.q_mvar.to_numpy(float) / p_rated, 0.0)
    return ElementProfiles(code, load_p, load_q, sgen_p, sgen_p * ratio)
