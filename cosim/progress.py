"""The one progress bar of the framework (co-simulation hours, sweep variations), from `tqdm`.

On a terminal it is tqdm's ordinary bar, redrawn in place with `\\r`. Where stderr is not a terminal (a log
file, a pipe, CI, a Dask worker) those redraws would pile up on one line, so there the bar writes plain
lines instead: one per update, at most one every `line_interval_s` seconds, and the final state when it is
closed. Detection is `stream.isatty()`, decided once when the bar is made.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

__all__ = ["LineBar", "progress_bar"]

LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed} elapsed, {remaining} left]{postfix}"
"""What a plain progress line says (tqdm format fields), e.g. `hours: 12/24 hour [00:03 elapsed, 00:03 left]`."""


class LineBar(tqdm):
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
                 line_interval_s: float = 10.0) -> tqdm:
    """A progress bar over `total` steps on `stream` (default stderr); call `.update()` per step and `.close()`.

    A terminal gets tqdm's bar; anything else gets `LineBar` lines, at most one per `line_interval_s`
    (0: one per update), so a log keeps a readable record. `disable=True` writes nothing.
    """
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        return tqdm(total=total, desc=desc, unit=unit, file=stream, disable=disable, dynamic_ncols=True)
    return LineBar(total=total, desc=desc, unit=unit, file=stream, disable=disable, leave=False, miniters=1,
                   mininterval=line_interval_s, bar_format=LINE_FORMAT)
