"""One error tree for the whole framework.

- `CosimError`: the root; anything we raise on purpose derives from it.
- `InputError`: bad input (a scenario, data file, option or name that cannot be used as written). The CLI
  prints its one-line message and exits with code 2, before any output is written. It is also a
  `ValueError`, so code that already guards a call with `except ValueError` keeps working.
- `RunError`: a co-simulation that stopped part-way; its message says where and where the results are.
  The CLI exits with code 1; `PlanningStopped`, a run stopped on purpose at its first planning fallback
  (`[controller] on_failure = "stop"`, `cosim run --strict`), with code 3.

Each package defines its specific errors as subclasses (e.g. `ScenarioFileError`, `ProfileError`,
`NetworkDataError`); none of them shadows mosaik's own `ScenarioFileError` / `SimulationError`.
"""

from __future__ import annotations

import signal

__all__ = [
    "CosimError", "InputError", "PlanningStopped", "PluginError", "PluginNotFoundError", "PluginOptionsError",
    "ProblemError", "RunError", "one_line", "signal_label",
]


def signal_label(signum: int) -> str:
    """How the one-line stop messages name a stop signal: "Ctrl-C (SIGINT)", "SIGTERM", "SIGHUP"."""
    return "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name


def one_line(message: object) -> str:
    """`message` with newlines and other control characters escaped (a TOML key or a path may hold any of them)."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(message))


class CosimError(Exception):
    """Root of every error the framework raises on purpose."""


class InputError(CosimError, ValueError):
    """Input that cannot be used as written; the message is one line naming the file or field (CLI exit 2)."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(message))


class RunError(CosimError, RuntimeError):
    """A co-simulation that stopped before its end; the message says why and where results are (CLI exit 1)."""


class PlanningStopped(RunError):
    """A run stopped at its first planning fallback because the scenario asked for it (`[controller] on_failure =
    "stop"`, `cosim run --strict`): the message names the hour and the cause; `event` is the fallback's event row
    (hour, source, event, detail). The CLI exits with code 3."""

    exit_code = 3

    def __init__(self, message: object = "", event: dict | None = None) -> None:
        super().__init__(one_line(message))
        self.event = event


class PluginError(InputError):
    """A plug-in (controller, exchange mode, network, fleet, study) named in the input that cannot be used."""


class PluginNotFoundError(PluginError):
    """A plug-in name or dotted path that leads to nothing usable (unknown name, no module, no attribute)."""


class PluginOptionsError(PluginError):
    """A plug-in that was found but rejects the options it was given."""


class ProblemError(InputError):
    """An optimisation or day-ahead problem that cannot be posed (wrong shapes, unknown buses, ...)."""
