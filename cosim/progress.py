"""The one progress bar of the framework (co-simulation steps, sweep variations), from `tqdm`.

On a terminal it is tqdm's ordinary bar, redrawn in place with `\\r`. Where stderr is not a terminal (a log
file, a pipe, CI, a Dask worker) those redraws would pile up on one line, so there the bar writes plain
lines instead: one per update, at most one every `line_interval_s` seconds, and the final state when it is
closed. Detection is `stream.isatty()`, decided once when the bar is made.

The time left is estimated from the steady rate: the first `one_off_steps` updates (a run's first step, which holds
its start-up: loading compiled kernels, the first plan's set-up) are left out of it, and until they are done the
bar says "?" rather than 23 times the first hour.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

__all__ = ["LineBar", "SteadyBar", "progress_bar"]

LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed} elapsed, {remaining} left]{postfix}"
"""What a plain progress line says (tqdm format fields), e.g. `hours: 12/24 hour [00:03 elapsed, 00:03 left]`."""


class _SteadyRate:
    """Mixin for a tqdm bar: its rate (and so its time left) counts only the updates after the first
    `one_off_steps`, timed from the moment they were done; "?" until then. The elapsed time is the whole."""

    one_off_steps: int = 0
    _steady: tuple[float, float] | None = None  # (n, time) when the one-off steps were done

    def update(self, n: float | None = 1) -> bool | None:
        if self.one_off_steps and self._steady is None and self.n + (n or 0) >= self.one_off_steps:
            self._steady = (self.n + (n or 0), self._time())
        return super().update(n)  # type: ignore[misc]

    @property
    def format_dict(self) -> dict:
        d = super().format_dict  # type: ignore[misc]
        if not self.one_off_steps:
            return d
        steady_n, steady_t = self._steady if self._steady is not None else (float("inf"), 0.0)
        now = self._time()
        if d["n"] > steady_n and now > steady_t:
            d["rate"] = (d["n"] - steady_n) / (now - steady_t)
        else:  # nothing steady measured yet: no rate, "?" left (tqdm's rate from n - initial = 0)
            d["rate"], d["initial"] = None, d["n"]
        return d


class SteadyBar(_SteadyRate, tqdm):
    """tqdm's terminal bar with the steady-rate estimate of `_SteadyRate`."""


class LineBar(_SteadyRate, tqdm):
    """A tqdm bar that writes each display as a line of its own: no `\\r` frames, no cursor moves."""

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Write the meter (or `msg`) and a newline; an empty `msg` (tqdm clearing its bar) writes nothing."""
        if msg == "":
            return False
        self.fp.write(f"{self.__str__() if msg is None else msg}\n")
        self.fp.flush()
        return True

    def close(self) -> None:
        """Write the last state when throttling skipped it, then close."""
        if not self.disable and self.n != self.last_print_n:
            self.refresh()
        super().close()


def progress_bar(total: int, desc: str, unit: str, *, disable: bool = False, stream: TextIO | None = None,
                 line_interval_s: float = 10.0, one_off_steps: int = 0) -> tqdm:
    """A progress bar over `total` steps on `stream` (default stderr); call `.update()` per step and `.close()`.

    A terminal gets tqdm's bar; anything else gets `LineBar` lines, at most one per `line_interval_s`
    (0: one per update), so a log keeps a readable record. `disable=True` writes nothing. The time left leaves
    out the first `one_off_steps` steps (one-off costs; see the module).
    """
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        bar: tqdm = SteadyBar(total=total, desc=desc, unit=unit, file=stream, disable=disable, dynamic_ncols=True)
    else:
        bar = LineBar(total=total, desc=desc, unit=unit, file=stream, disable=disable, leave=False, miniters=1,
                      mininterval=line_interval_s, bar_format=LINE_FORMAT)
    bar.one_off_steps = int(one_off_steps)
    return bar
