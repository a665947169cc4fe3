"""Exchange modes by name, or a user's `ExchangeMode` subclass by dotted path "package.module:ClassName"."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from cosim.errors import PluginOptionsError
from cosim.exchange.base import ExchangeMode
from cosim.registry import Registry

__all__ = ["EXCHANGE_MODES", "make_exchange_mode"]


def _check_mode(obj: Any) -> str | None:
    if inspect.isclass(obj) and issubclass(obj, ExchangeMode):
        return None
    return "is not an exchange mode (a subclass of cosim.exchange.ExchangeMode)"


EXCHANGE_MODES: Registry[type[ExchangeMode]] = Registry("exchange mode", {
    "centralised": "cosim.exchange.centralised:Centralised",
    "signals": "cosim.exchange.signals:Signals",
    "iterative": "cosim.exchange.iterative:Iterative",
    "admm": "cosim.exchange.admm:Admm",
    "none": "cosim.exchange.none:NoExchange",
}, check=_check_mode)


def make_exchange_mode(name: str, near: Path | str | None = None, **options: Any) -> ExchangeMode:
    """Build the exchange mode `name` (built-in, registered or dotted path) with its options."""
    cls = EXCHANGE_MODES.resolve(name, near=near)
    try:
        mode = cls(**options)
    except TypeError as exc:
        raise PluginOptionsError(f"exchange mode {name!r}: bad options {sorted(options)} ({exc})") from None
    except ValueError as exc:
        raise PluginOptionsError(f"exchange mode {name!r}: {exc}") from None
    if mode.name == ExchangeMode.name:
        mode.name = name
    return mode
