"""Named plug-ins of one kind (controllers, exchange modes, networks, fleet presets, studies).

A `Registry` knows its built-ins as lazy "module:attribute" paths (nothing is imported until a name is
used), takes user registrations (`register(name, obj)`), and falls back to a dotted path
"package.module:Attribute" for code the user owns. A module beside the scenario file is found too
(`near=` the scenario's folder), so users need no PYTHONPATH.

Resolving a name only imports and returns the attribute; it never calls it. A dotted path is vetted twice
before anything of it is called: before the import, it must not name a module of Python's standard library
(`subprocess`, `os`, `builtins`, `json`, `tempfile`, ... are refused without being imported: some run code
on import, many hold functions with side effects); after the import, the attribute must be a class or a
function written in Python and defined outside the standard library (a re-export such as
`from os import system` in a user's module is refused too). Then the kind's `check` vets what was found
(e.g. "a class with a plan() method") before anyone builds it. Objects registered from code are trusted as
they are.

Trust model: a scenario file may name Python code the user owns (a module beside it, an installed package),
like a script it runs; data files (profiles, fleets, networks as data) never run code.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from cosim.errors import PluginNotFoundError

T = TypeVar("T")

__all__ = ["Registry", "import_attribute"]


def _importable(folder: Path | str | None) -> None:
    """Let modules in `folder` (a scenario's folder) be imported by name; appended, so it never shadows ours."""
    if folder is None:
        return
    path = str(Path(folder).resolve())
    if path not in sys.path:
        sys.path.append(path)


def _standard_library(module_name: str) -> bool:
    """Whether `module_name` belongs to Python's standard library (or is the running script, `__main__`)."""
    top = module_name.partition(".")[0]
    return top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "__main__"


def _vet(obj: Any, path: str, kind: str) -> None:
    """A plug-in is a class or a Python function defined outside the standard library; anything else is refused
    before it can be called (builtins such as `exec` or `os.system`, callable instances, re-exports)."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        raise PluginNotFoundError(f"{kind} {path!r}: is a {type(obj).__name__}, not a class or a function "
                                  "written in Python")
    defined_in = getattr(obj, "__module__", None)
    if not isinstance(defined_in, str) or _standard_library(defined_in):
        raise PluginNotFoundError(f"{kind} {path!r}: is defined in {defined_in!r}, part of Python's standard "
                                  "library, not in code of your own")


def import_attribute(path: str, kind: str = "plug-in", near: Path | str | None = None, vet: bool = True) -> Any:
    """The attribute named by "package.module:Attribute" (or "package.module.Attribute"); clear errors.

    Vetted before anything of it is called: the module is not part of the standard library (checked before it
    is imported), no part of the path is private (`_name`, `__dunder__`) and, unless `vet=False` (the caller
    vets it), the attribute is a class or a Python function defined outside the standard library."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise PluginNotFoundError(f"{kind} must be a non-empty name, got {path!r}")
    mod_name, sep, attr = path.partition(":")
    if not sep:
        mod_name, _, attr = path.rpartition(".")
    parts = [*mod_name.split("."), *attr.split(".")]
    if not mod_name or not attr or not all(part.isidentifier() for part in parts):
        raise PluginNotFoundError(f"{kind} {path!r}: not a dotted path 'package.module:Name'")
    if any(part.startswith("_") for part in parts):
        raise PluginNotFoundError(f"{kind} {path!r}: names a private attribute or module (a part starting "
                                  "with '_'); name a public class or function of your own")
    if _standard_library(mod_name):
        article = "an" if kind[:1] in "aeiou" else "a"
        raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} is part of Python's standard library: "
                                  f"not {article} {kind} class or function of your own")
    _importable(near)
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as exc:
        raise PluginNotFoundError(f"{kind} {path!r}: cannot import module {mod_name!r} ({exc})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} has no attribute {attr!r}") from None
    if vet:
        _vet(obj, path, kind)
    return obj


class Registry(Generic[T]):
    """Plug-ins of one kind by name: built-ins (lazy), registered ones, or a user's dotted path."""

    def __init__(self, kind: str, builtin: Mapping[str, str] | None = None,
                 check: Callable[[Any], str | None] | None = None, dotted_paths: bool = True) -> None:
        self.kind = kind
        self._builtin: dict[str, str] = dict(builtin or {})
        self._user: dict[str, Any] = {}
        self._loaded: dict[str, Any] = {}
        self._check = check
        self.dotted_paths = dotted_paths

    def register(self, name: str, obj: T | str) -> None:
        """Make `name` resolve to `obj` (or to the "module:attribute" path `obj`)."""
        if not isinstance(name, str) or not name:
            raise PluginNotFoundError(f"{self.kind} names are non-empty strings, got {name!r}")
        self._loaded.pop(name, None)
        if isinstance(obj, str):
            self._builtin[name] = obj
            self._user.pop(name, None)
        else:
            self._user[name] = obj

    def names(self) -> list[str]:
        """Known names: built-ins in their declared order, then registered ones; no import happens."""
        return list(dict.fromkeys([*self._builtin, *self._user]))

    def __contains__(self, name: object) -> bool:
        return name in self._builtin or name in self._user

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def is_dotted(self, name: str) -> bool:
        return self.dotted_paths and isinstance(name, str) and ":" in name

    def resolve(self, name: str, near: Path | str | None = None) -> T:
        """The plug-in called `name`: a known name or, where allowed, a dotted path "package.module:Name"."""
        if isinstance(name, str) and name in self._user:
            return self._user[name]  # registered from code: trusted as it is
        if isinstance(name, str) and name in self._builtin:
            if name not in self._loaded:
                self._loaded[name] = import_attribute(self._builtin[name], self.kind)
            obj = self._loaded[name]
        elif self.is_dotted(name):
            obj = import_attribute(name, self.kind, near, vet=False)
        else:
            hint = ", or a dotted path 'package.module:Name' to your own" if self.dotted_paths else ""
            raise PluginNotFoundError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}{hint}")
        if self._check is not None:
            problem = self._check(obj)
            if problem:
                raise PluginNotFoundError(f"{self.kind} {name!r}: {problem}")
        _vet(obj, name, self.kind)  # after the kind's own check, whose message is the more telling
        return obj
