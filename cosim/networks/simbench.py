"""SimBench grids by code (network name "simbench:<code>", e.g. "simbench:1-MV-urban--0-sw") and their profiles.

The `simbench` package installs with its data (no download at run time). A grid is read with
`simbench.get_simbench_net(code)` and converted once by `cosim.networks.switched.convert_switched` (see there
for how transformers, couplers, switches and static generators become the radial model). The four MV grids
with switches (`MV_CODES`) are the ones validated and shipped with scenarios (scenarios/simbench_mv_*.toml);
any other SimBench code is tried and refused with one line where the model cannot hold it.

`element_profiles(code, step_minutes)`: the grid's own yearly profiles, every load and static generator its own
(SimBench gives 15-minute values for 2016, a leap year: 35,136 quarter-hours). At 15-minute steps they are those
native values; at 30 or 60 minutes step k of the year is the mean of the quarter-hours it covers (17,568 half
hours, 8,784 hours; step 0 starts 1 January 00:00), which conserves each element's energy. They are the values of
each element's `p_mw` / `q_mvar` (pandapower multiplies them by the element's `scaling`), in the order of the net's
load and sgen tables; a generator's q keeps its q_mvar / p_mw ratio (SimBench's run at unity power factor).
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cosim.networks.converter import GridNetwork
from cosim.powerflow.network_data import NetworkDataError
from cosim.timebase import StepError, check_step_minutes

__all__ = ["MV_CODES", "PREFIX", "ElementProfiles", "check_code", "element_profiles", "simbench_network"]

PREFIX = "simbench:"
MV_CODES = ("1-MV-rural--0-sw", "1-MV-semiurb--0-sw", "1-MV-urban--0-sw", "1-MV-comm--0-sw")
"""The SimBench MV grids with switches: validated (`cosim validate --network`) and each with a scenario."""
NATIVE_STEP_MINUTES = 15
"""SimBench's profiles are quarter-hourly."""
QUARTERS_PER_HOUR = 60 // NATIVE_STEP_MINUTES


@dataclass(frozen=True)
class ElementProfiles:
    """p_mw / q_mvar of every load and static generator of a grid per step of the year (rows = steps of
    `step_minutes`: 15 native, 30 or 60 the means of the quarter-hours they cover)."""

    code: str
    load_p_mw: np.ndarray  # (steps, n_load), in the order of net.load
    load_q_mvar: np.ndarray
    sgen_p_mw: np.ndarray  # (steps, n_sgen), in the order of net.sgen
    sgen_q_mvar: np.ndarray
    step_minutes: int = 60

    @property
    def n_steps(self) -> int:
        return self.load_p_mw.shape[0]

    @property
    def n_hours(self) -> int:
        """Hours the profiles cover (8,784 for SimBench's leap year)."""
        return self.n_steps * self.step_minutes // 60


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
    if reduced:  # from the full grid's cached conversion (a city's takes ~17 s)
        from cosim.networks import load_network  # noqa: PLC0415

        return reduce_grid(load_network(PREFIX + code))[0]
    net = copy.deepcopy(_read(code))
    return convert_switched(net, PREFIX + code, f"SimBench {code} (original net operated through its switches)")


CHUNK_ELEMENTS = 1024
"""Elements computed at a time: a city's 11,542 loads over 35,136 quarter-hours would take 3.2 GB at once."""


def _step_absolute(code: str, table, column: str, suffix: str, relative, quarters_per_step: int) -> np.ndarray | None:
    """Each element's quarter-hour values, its relative profile times its `column` (what
    `simbench.get_absolute_values` computes, with the same floating-point operations, a chunk of elements at a
    time), as they are (`quarters_per_step` = 1) or the mean of every `quarters_per_step` of them; None without
    profiles."""
    if relative is None or relative.shape[1] == 0:
        return None
    applied = table["profile"] + suffix if "profile" in table.columns else pd.Series(np.nan, index=table.index)
    missing = sorted(set(applied.dropna()) - set(relative.columns))
    if missing:
        raise NetworkDataError(f"SimBench grid {code!r}: profile(s) {missing[:3]} missing for some elements")
    quarters = len(relative) - len(relative) % QUARTERS_PER_HOUR  # whole hours, at every step
    factor = table[column].to_numpy(float)
    names = applied.to_numpy(object)
    numeric = [c for c in relative.columns if c != "time"]
    column_of = {c: i for i, c in enumerate(numeric)}
    rel = np.vstack([np.ones(quarters), relative[numeric].to_numpy(float)[:quarters].T])  # row 0: no profile
    rows = np.array([column_of[c] + 1 if isinstance(c, str) else 0 for c in names], dtype=int)
    out = np.empty((quarters // quarters_per_step, len(table)))
    for lo in range(0, len(table), CHUNK_ELEMENTS):  # elements as rows: each a contiguous copy of its profile
        hi = min(lo + CHUNK_ELEMENTS, len(table))
        arr = rel[rows[lo:hi]] * factor[lo:hi, None]
        out[:, lo:hi] = (arr if quarters_per_step == 1
                         else arr.reshape(hi - lo, -1, quarters_per_step).mean(axis=2)).T
    return out


@functools.lru_cache(maxsize=4)
def element_profiles(code: str, step_minutes: int = 60) -> ElementProfiles:
    """The grid's own profiles per load and static generator at `step_minutes` (15: SimBench's native values; 30,
    60: their means; see the module docstring); a reduced grid's are its full grid's (the same elements). Memory
    grows with the steps: a city's 11,542 loads take 0.8 GB per profile array at 60 minutes, 3.2 GB at 15."""
    from cosim.networks.reduction import split_reduced  # noqa: PLC0415

    check_step_minutes(step_minutes)
    if step_minutes % NATIVE_STEP_MINUTES:
        raise StepError(f"SimBench profiles are {NATIVE_STEP_MINUTES}-minute; a {step_minutes}-minute step is not a "
                        "multiple of it")
    quarters_per_step = step_minutes // NATIVE_STEP_MINUTES
    code = split_reduced(code)[0]
    net = _read(code)
    sgen_relative = net.profiles["renewables"]
    plants = net.profiles.get("powerplants")
    if plants is not None and len(plants) == len(sgen_relative):
        sgen_relative = pd.concat([sgen_relative, plants[[c for c in plants.columns
                                                          if c not in sgen_relative.columns]]], axis=1)

    def per_step(key, n: int) -> np.ndarray | None:
        if n == 0:
            return np.zeros((0, 0))
        element, column = key
        relative = net.profiles.get("load") if element == "load" else sgen_relative
        suffix = {"p_mw": "_pload", "q_mvar": "_qload"}[column] if element == "load" else ""
        return _step_absolute(code, net[element], column, suffix, relative, quarters_per_step)

    load_p = per_step(("load", "p_mw"), len(net.load))
    load_q = per_step(("load", "q_mvar"), len(net.load))
    sgen_p = per_step(("sgen", "p_mw"), len(net.sgen))
    if load_p is None or load_q is None or sgen_p is None:
        raise NetworkDataError(f"SimBench grid {code!r} has no profiles for its loads or static generators")
    steps = load_p.shape[0]
    if len(net.sgen) == 0:
        sgen_p = np.zeros((steps, 0))
    p_rated = net.sgen.p_mw.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):  # SimBench gives no q profile: keep each q/p ratio
        ratio = np.where(p_rated != 0, net.sgen.q_mvar.to_numpy(float) / p_rated, 0.0)
    return ElementProfiles(code, load_p, load_q, sgen_p, sgen_p * ratio, step_minutes)
