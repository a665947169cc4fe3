"""Day-ahead controllers by name, or a user's class by dotted path "package.module:ClassName"."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from cosim.controllers.base import Controller
from cosim.errors import PluginNotFoundError, PluginOptionsError
from cosim.registry import Registry

__all__ = ["CONTROLLERS", "SEEDED_CONTROLLERS", "known_controllers", "make_controller", "register_controller"]

SEEDED_CONTROLLERS = ("eo", "pso", "ga", "mpc")
"""Built-in controllers that draw random numbers: the DSO gives them the scenario's seed unless set."""


def _check_factory(obj: Any) -> str | None:
    """A controller named in a scenario is a class with a plan() method; nothing else is ever called.

    (Factories other than classes can be registered from code with `register_controller`.)"""
    if not inspect.isclass(obj):
        return f"is a {type(obj).__name__}, not a controller class (a class with a plan(problem) method)"
    return None if callable(getattr(obj, "plan", None)) else f"{obj.__name__} has no plan(problem) method"


CONTROLLERS: Registry[Callable[..., Controller]] = Registry("controller", {
    "eo": "cosim.controllers.metaheuristic:EOController",
    "pso": "cosim.controllers.metaheuristic:PSOController",
    "ga": "cosim.controllers.metaheuristic:GAController",
    "rule": "cosim.controllers.rule:RuleController",
    "none": "cosim.controllers.rule:NoneController",
    "milp": "cosim.controllers.milp:MilpController",
    "mpc": "cosim.controllers.mpc:MpcController",
}, check=_check_factory)


def register_controller(name: str, factory: Callable[..., Controller]) -> None:
    """Make `make_controller(name)` build `factory(**options)`."""
    CONTROLLERS.register(name, factory)


def known_controllers() -> list[str]:
    return CONTROLLERS.names()


def make_controller(name_or_path: Any, near: Path | str | None = None, **options: Any) -> Controller:
    """Build a controller: a known name (eo, pso, ga, rule, none, milp, mpc, or registered), "module:Class" of a
    module beside the scenario (`near`, its folder) or of an installed package's `cosim.plugins` entry point, or,
    from Python, the controller class itself (or an instance with `plan()`, returned as it is, without options).

    Raises `PluginNotFoundError` when the name leads to no controller and `PluginOptionsError` when the controller
    rejects the options.
    """
    if not isinstance(name_or_path, str) and not inspect.isclass(name_or_path) \
            and callable(getattr(name_or_path, "plan", None)):
        if options:
            raise PluginOptionsError(f"controller {type(name_or_path).__name__}: an instance takes no options, "
                                     f"got {sorted(options)}")
        return name_or_path
    factory = CONTROLLERS.resolve(name_or_path, near=near)
    try:
        ctrl = factory(**options)
    except TypeError as exc:
        raise PluginOptionsError(f"controller {name_or_path!r}: bad options {sorted(options)} ({exc})") from None
    except ValueError as exc:  # the constructor's own check of an option's value
        prefix = f"controller {name_or_path!r}: "
        raise PluginOptionsError(str(exc) if str(exc).startswith(prefix) else prefix + str(exc)) from None
    if not callable(getattr(ctrl, "plan", None)):
        raise PluginNotFoundError(f"controller {name_or_path!r}: {type(ctrl).__name__} has no plan(problem) method")
    if not getattr(ctrl, "name", None):
        try:
            ctrl.name = name_or_path if isinstance(name_or_path, str) else factory.__name__
        except AttributeError:
            pass
    return ctrl
