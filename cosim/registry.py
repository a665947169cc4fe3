"""Named plug-ins of one kind (controllers, exchange modes, networks, fleet presets, studies).

A `Registry` knows its built-ins as lazy "module:attribute" paths (nothing is imported until a name is
used), takes registrations from code (`register(name, obj)`), and resolves a dotted path
"package.module:Attribute" that a scenario names through `cosim.plugin_loader`: only a module file or package
folder beside the scenario (`near=` its folder, loaded by path; `sys.path` is never changed) or an installed
package's `cosim.plugins` entry point; any other module is refused before it is imported. From Python, the
plug-in object itself (a class, a function) may be given instead of a name.

Resolving a name only loads and returns the attribute; it never calls it. The kind's `check` vets what was
found (e.g. "a class with a plan() method"), then `vet` checks that it is a class or a function written in
Python and defined outside the standard library, before anyone builds it. Objects registered from code are
trusted as they are.

Trust model: a scenario file may name Python code the user owns (a module beside it, an installed package
that declares it), like a script it runs; data files (profiles, fleets, networks as data) never run code.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from cosim.errors import PluginNotFoundError
from cosim.plugin_loader import load_dotted, load_entry_point_name, split_dotted, standard_library

T = TypeVar("T")

__all__ = ["Registry", "import_attribute", "vet"]


def vet(obj: Any, path: str, kind: str) -> None:
    """A plug-in is a class or a Python function defined outside the standard library; anything else is refused
    before it can be called (builtins such as `exec` or `os.system`, callable instances, re-exports)."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        raise PluginNotFoundError(f"{kind} {path!r}: is a {type(obj).__name__}, not a class or a function "
                                  "written in Python")
    defined_in = getattr(obj, "__module__", None)
    if not isinstance(defined_in, str) or standard_library(defined_in):
        raise PluginNotFoundError(f"{kind} {path!r}: is defined in {defined_in!r}, part of Python's standard "
                                  "library, not in code of your own")


def import_attribute(path: str, kind: str = "plug-in", vet_it: bool = True) -> Any:
    """The attribute named by "package.module:Attribute" in CODE (a registry's built-in, a simulator table entry
    registered from code), imported by its module name; never used for a name read from a scenario file
    (those go through `cosim.plugin_loader.load_dotted`)."""
    mod_name, attr = split_dotted(path, kind)
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as exc:
        raise PluginNotFoundError(f"{kind} {path!r}: cannot import module {mod_name!r} ({exc})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} has no attribute {attr!r}") from None
    if vet_it:
        vet(obj, path, kind)
    return obj


class Registry(Generic[T]):
    """Plug-ins of one kind by name: built-ins (lazy), registered ones, or a user's dotted path."""

    def __init__(self, kind: str, builtin: Mapping[str, str] | None = None,
                 check: Callable[[Any], str | None] | None = None, dotted_paths: bool = True) -> None:
        self.kind = kind
        self._builtin: dict[str, str] = dict(builtin or {})
        self._user: dict[str, Any] = {}
        self._loaded: dict[str, Any] = {}
        self._unlisted: set[str] = set()  # registered for resolving by name, left out of names() (internal plumbing)
        self._check = check
        self.dotted_paths = dotted_paths

    def register(self, name: str, obj: T | str, listed: bool = True) -> None:
        """Make `name` resolve to `obj` (or to the "module:attribute" path `obj`); `listed=False` keeps it out of
        `names()`, so nothing that goes through every known name (e.g. `cosim compare`) picks it up."""
        if not isinstance(name, str) or not name:
            raise PluginNotFoundError(f"{self.kind} names are non-empty strings, got {name!r}")
        self._loaded.pop(name, None)
        if isinstance(obj, str):
            self._builtin[name] = obj
            self._user.pop(name, None)
        else:
            self._user[name] = obj
        (self._unlisted.discard if listed else self._unlisted.add)(name)

    def names(self) -> list[str]:
        """Known names: built-ins in their declared order, then registered ones (listed); no import happens."""
        return [n for n in dict.fromkeys([*self._builtin, *self._user]) if n not in self._unlisted]

    def __contains__(self, name: object) -> bool:
        return name in self._builtin or name in self._user

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def is_dotted(self, name: str) -> bool:
        return self.dotted_paths and isinstance(name, str) and ":" in name

    def resolve(self, name: str | T, near: Path | str | None = None) -> T:
        """The plug-in called `name`: a known name, where allowed a dotted path "package.module:Name" (a module
        beside the scenario, `near` its folder, or an installed package's `cosim.plugins` entry point) or an
        entry point's name; or, from Python, the plug-in object itself (checked, then returned)."""
        if not isinstance(name, str):
            return self._checked(name, getattr(name, "__qualname__", type(name).__name__), vet_it=False)
        if name in self._user:
            return self._user[name]  # registered from code: trusted as it is
        if name in self._builtin:
            if name not in self._loaded:
                self._loaded[name] = import_attribute(self._builtin[name], self.kind)
            obj = self._loaded[name]
        elif self.is_dotted(name):
            obj = load_dotted(name, self.kind, near)
        else:
            declared = load_entry_point_name(name, self.kind) if self.dotted_paths and name.isidentifier() else None
            if declared is None:
                hint = ", or a dotted path 'module:Name' to your own beside the scenario" if self.dotted_paths else ""
                raise PluginNotFoundError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}{hint}")
            obj = declared
        return self._checked(obj, name)

    def _checked(self, obj: Any, name: str, vet_it: bool = True) -> Any:
        """`obj` after the kind's own check (its message is the more telling) and, unless it comes from code, `vet`."""
        if self._check is not None:
            problem = self._check(obj)
            if problem:
                raise PluginNotFoundError(f"{self.kind} {name!r}: {problem}")
        if vet_it:
            vet(obj, name, self.kind)
        return obj
