"""Day-ahead controllers by name, or a user's class by dotted path "package.module:ClassName"."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from cosim.controllers.base import Controller


class UnknownControllerError(ValueError):
    """A controller name or dotted path that does not lead to a controller."""


# name -> "module:Class"; imported lazily so that e.g. the MILP's solver is only loaded when asked for
BUILTIN: dict[str, str] = {
    "eo": "cosim.controllers.metaheuristic:EOController",
    "pso": "cosim.controllers.metaheuristic:PSOController",
    "ga": "cosim.controllers.metaheuristic:GAController",
    "rule": "cosim.controllers.rule:RuleController",
    "none": "cosim.controllers.rule:NoneController",
    "milp": "cosim.controllers.milp",  # class found by its `name == "milp"` (written by another module)
}
_USER: dict[str, Callable[..., Controller]] = {}


def register_controller(name: str, factory: Callable[..., Controller]) -> None:
    """Make `make_controller(name)` build `factory(**options)`."""
    _USER[name] = factory


def known_controllers() -> list[str]:
    return sorted(set(BUILTIN) | set(_USER))


def _load(path: str, name: str) -> Callable[..., Controller]:
    mod_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise UnknownControllerError(f"controller {name!r}: cannot import module {mod_name!r} ({exc})") from None
    if attr:
        try:
            return getattr(module, attr)
        except AttributeError:
            raise UnknownControllerError(f"controller {name!r}: module {mod_name!r} has no attribute {attr!r}") from None
    for obj in vars(module).values():  # module path only: the class whose `name` matches
        if isinstance(obj, type) and getattr(obj, "name", None) == name and callable(getattr(obj, "plan", None)):
            return obj
    raise UnknownControllerError(f"controller {name!r}: module {mod_name!r} defines no class with name = {name!r}")


def make_controller(name_or_path: str, **options: Any) -> Controller:
    """Build a controller: a known name (eo, pso, ga, rule, none, milp, or registered) or "package.module:Class"."""
    if not isinstance(name_or_path, str) or not name_or_path:
        raise UnknownControllerError(f"controller must be a non-empty string, got {name_or_path!r}")
    if name_or_path in _USER:
        factory = _USER[name_or_path]
    elif name_or_path in BUILTIN:
        factory = _load(BUILTIN[name_or_path], name_or_path)
    elif ":" in name_or_path:
        factory = _load(name_or_path, name_or_path)
    else:
        raise UnknownControllerError(
            f"unknown controller {name_or_path!r}; known controllers: {', '.join(known_controllers())}, "
            f"or a dotted path 'package.module:ClassName' to your own class"
        )
    try:
        ctrl = factory(**options)
    except TypeError as exc:
        raise UnknownControllerError(f"controller {name_or_path!r}: bad options {sorted(options)} ({exc})") from None
    if not callable(getattr(ctrl, "plan", None)):
        raise UnknownControllerError(f"controller {name_or_path!r}: {type(ctrl).__name__} has no plan(problem) method")
    if not getattr(ctrl, "name", None):
        try:
            ctrl.name = name_or_path
        except AttributeError:
            pass
    return ctrl
