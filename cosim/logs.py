"""Status messages through stdlib `logging`: every module logs to `logging.getLogger(__name__)` (all under
"cosim"), and the command line calls `configure_logging` once with the level the user asked for.

Results a command exists to print (tables, the folder it wrote) stay on stdout; status, timings and
warnings go to stderr through this one handler, so a log level quiets or details them without touching results.
"""

from __future__ import annotations

import logging
import sys

from cosim.errors import InputError

__all__ = ["LEVELS", "configure_logging"]

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "cosim: %(levelname)s: %(message)s"


class StderrHandler(logging.StreamHandler):
    """Writes to the `sys.stderr` of the moment of each record, not the one of its creation (pytest and other
    callers swap sys.stderr; a handler holding an old, closed stream would fail)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler assigns it; reading always gives the current sys.stderr
        pass


def configure_logging(level: str = "warning") -> logging.Logger:
    """Send the "cosim" loggers' records at `level` or above to stderr and return the "cosim" logger.

    Idempotent: a second call only changes the level, it never adds a second handler.
    """
    if level.lower() not in LEVELS:
        raise InputError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    logger = logging.getLogger("cosim")
    logger.setLevel(level.upper())
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        logger.addHandler(StderrHandler())
    return logger
