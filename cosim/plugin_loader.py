"""Where the code behind a dotted name in a scenario may come from, and loading it without running anything else.

A scenario names user code as "module:Attribute" (or "package.module:Attribute"). That name resolves only to:

1. a module file (`module.py`) or a package folder (`package/__init__.py`) BESIDE the scenario (`near`), loaded
   by its path (`importlib.util.spec_from_file_location`), never through `sys.path`, which stays as it was: a
   file beside a scenario that the scenario does not name (`shapely.py`, `polars.py`, ...) is never imported,
   and a file named like an installed library never shadows it (it is loaded under a private module name);
2. an installed package that declares the plug-in through an entry point in the group `cosim.plugins`
   (read with `importlib.metadata`): the scenario gives the entry point's value ("package.module:Attribute")
   or its name;
3. the project's own registry (`cosim.registry.Registry`: built-in names such as "eo" or "ieee33").

Any other module (pytest, pip, numpy, the framework's own `cosim.cli`, the standard library, ...) is refused
BEFORE it is imported, with one line that says how to wrap it in a file beside the scenario. The attribute of a
module beside the scenario must be defined in that module or package (a re-export such as
`from pytest import main` is refused too). A syntax or import error in a plug-in is one line naming the file and
line (`PluginLoadError`, an `InputError`: the CLI exits with code 2), not a traceback.

A module beside the scenario imports its own siblings only as a package, with relative imports
(`from . import helpers`): the scenario's folder is not on `sys.path`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from cosim.errors import PluginNotFoundError

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_PACKAGES", "PluginLoadError", "load_dotted", "load_entry_point_name",
           "module_beside", "split_dotted", "standard_library"]

ENTRY_POINT_GROUP = "cosim.plugins"
"""The entry-point group in which an installed package declares plug-ins a scenario may name."""

PROJECT_PACKAGES = ("cosim", "simulators")
"""The framework's own packages: their code is reached through the registries' built-in names only."""

_PRIVATE_PREFIX = "cosim_beside_"  # module names under which files beside a scenario are loaded


class PluginLoadError(PluginNotFoundError):
    """A plug-in module that was found but cannot be loaded (a syntax error, a failed import, an exception while
    it runs); the message names the file and the line."""


def standard_library(module_name: str) -> bool:
    """Whether `module_name` belongs to Python's standard library (or is the running script, `__main__`)."""
    top = module_name.partition(".")[0]
    return top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "__main__"


def split_dotted(path: str, kind: str) -> tuple[str, str]:
    """(module, attribute) of "package.module:Attribute" (or "package.module.Attribute"); a malformed or private
    name (a part starting with '_') is refused."""
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
    return mod_name, attr


def _wrap_hint(mod_name: str, attr: str) -> str:
    return (f"to use {mod_name}.{attr}, wrap it in a class or function of a file beside the scenario (e.g. "
            f"my_plugin.py) and name 'my_plugin:YourName', or install a package that declares it as a "
            f"'{ENTRY_POINT_GROUP}' entry point")


def module_beside(near: Path | str | None, mod_name: str) -> Path | None:
    """The file that `mod_name`'s top-level name is beside the scenario: `near/top.py` or `near/top/__init__.py`;
    None when there is neither (a folder without `__init__.py` is refused: it is not a package)."""
    if near is None:
        return None
    folder = Path(near)
    top, _, rest = mod_name.partition(".")
    package = folder / top
    if (package / "__init__.py").is_file():
        return package / "__init__.py"
    module = folder / f"{top}.py"
    if module.is_file():
        if rest:
            raise PluginNotFoundError(f"module {mod_name!r}: {module} is a module, not a package; name "
                                      f"'{top}:...' or make {package} a package (with an __init__.py)")
        return module
    if package.is_dir():
        raise PluginNotFoundError(f"module {mod_name!r}: the folder {package} beside the scenario has no "
                                  "__init__.py; add one to make it a package")
    return None


def _private_name(file: Path, top: str) -> str:
    """The module name under which `file` (a module or a package's __init__) is loaded: unique to its folder, so
    it never shadows an installed module of the same name nor a file of that name beside another scenario."""
    digest = hashlib.sha256(str(file.resolve().parent).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_PRIVATE_PREFIX}{digest}_{top}"


def _where(exc: BaseException, folder: Path) -> str:
    """"file:line" of the innermost frame of `exc` in a file under `folder` (else the innermost frame at all)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    root = str(folder.resolve())
    mine = [f for f in frames if not f.filename.startswith("<") and str(Path(f.filename).resolve()).startswith(root)]
    frame = (mine or frames or [None])[-1]
    return f"{frame.filename}:{frame.lineno}" if frame is not None else "?"


def _load_error(exc: BaseException, kind: str, path: str, folder: Path) -> PluginLoadError:
    """One line for a plug-in module that failed while it was loaded: file:line, the error and, for an import of a
    sibling module, how to import it instead."""
    what = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    message = f"{kind} {path!r}: {_where(exc, folder)}: {type(exc).__name__}: {what}"
    if isinstance(exc, ModuleNotFoundError) and exc.name and (folder / f"{exc.name.partition('.')[0]}.py").exists():
        message += (f" (files beside the scenario are loaded by path, not through sys.path: make a package and "
                    f"import its modules relatively, `from . import {exc.name.partition('.')[0]}`)")
    return PluginLoadError(message)


def _exec_file(name: str, file: Path) -> ModuleType:
    """Load `file` (a module, or a package's __init__.py) as module `name`, registered in sys.modules."""
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(file):
        return sys.modules[name]
    package = file.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        name, file, submodule_search_locations=[str(file.parent)] if package else None)
    if spec is None or spec.loader is None:
        raise PluginNotFoundError(f"{file}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _load_beside(file: Path, mod_name: str, kind: str, path: str) -> tuple[ModuleType, str]:
    """(module, private name of its top level) of `mod_name`, whose top-level file `file` is beside the scenario."""
    top, _, rest = mod_name.partition(".")
    folder = file.parent if file.name != "__init__.py" else file.parent.parent  # the scenario's folder
    private = _private_name(file if file.name != "__init__.py" else file.parent, top)
    try:
        module = _exec_file(private, file)
        if rest:
            module = importlib.import_module(f"{private}.{rest}")  # found through the package's own __path__ only
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.startswith(f"{private}."):
            missing = mod_name.partition(".")[0] + exc.name[len(private):]
            raise PluginNotFoundError(f"{kind} {path!r}: package {top!r} beside the scenario has no module "
                                      f"{missing!r}") from None
        raise _load_error(exc, kind, path, folder) from None
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever the module raises while it loads is one line, exit 2
        raise _load_error(exc, kind, path, folder) from None
    return module, private


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _declared(mod_name: str, attr: str, path: str) -> importlib.metadata.EntryPoint | None:
    """The entry point of group `cosim.plugins` whose value is mod_name:attr (or whose name is `path`)."""
    for ep in _entry_points():
        if ep.name == path or (ep.module == mod_name and (ep.attr or "") == attr):
            return ep
    return None


def _load_entry_point(ep: importlib.metadata.EntryPoint, kind: str, path: str) -> Any:
    """The object an installed package declares; its import errors are one line naming file and line."""
    try:
        return ep.load()
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except (AttributeError, ModuleNotFoundError) as exc:
        raise PluginNotFoundError(f"{kind} {path!r}: the entry point {ep.name!r} = {ep.value!r} of group "
                                  f"'{ENTRY_POINT_GROUP}' cannot be loaded ({exc})") from None
    except BaseException as exc:  # noqa: BLE001 - a broken installed plug-in is one line, exit 2
        raise _load_error(exc, kind, path, Path("/")) from None


def load_entry_point_name(name: str, kind: str) -> Any | None:
    """The object declared under the entry-point name `name` (group `cosim.plugins`); None when none is."""
    for ep in _entry_points():
        if ep.name == name:
            return _load_entry_point(ep, kind, name)
    return None


def load_dotted(path: str, kind: str = "plug-in", near: Path | str | None = None) -> Any:
    """The attribute a scenario names by "package.module:Attribute", from a file or package beside the scenario
    (`near`) or from an installed package's `cosim.plugins` entry point; anything else is refused before import.

    Nothing of the attribute is called; the caller vets it (`cosim.registry.vet`)."""
    mod_name, attr = split_dotted(path, kind)
    top = mod_name.partition(".")[0]
    article = "an" if kind[:1] in "aeiou" else "a"
    if standard_library(mod_name):
        raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} is part of Python's standard library: "
                                  f"not {article} {kind} class or function of your own; {_wrap_hint(mod_name, attr)}")
    if top in PROJECT_PACKAGES:
        raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} is the framework's own code, reached only "
                                  f"by the built-in {kind} names; {_wrap_hint(mod_name, attr)}")
    try:
        file = module_beside(near, mod_name)
    except PluginNotFoundError as exc:
        raise PluginNotFoundError(f"{kind} {path!r}: {exc}") from None
    if file is not None:
        module, private = _load_beside(file, mod_name, kind, path)
        obj = _attribute(module, mod_name, attr, kind, path)
        defined_in = getattr(obj, "__module__", None)  # anything but a class or a function is refused by its vetting
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and \
                not (defined_in == private or str(defined_in).startswith(private + ".")):
            raise PluginNotFoundError(f"{kind} {path!r}: {attr!r} is defined in {defined_in!r}, not in {file}; "
                                      f"{_wrap_hint(str(defined_in), attr)}")
        return obj
    ep = _declared(mod_name, attr, path)
    if ep is not None:
        return _load_entry_point(ep, kind, path)
    beside = f"beside the scenario ({near})" if near is not None else "beside a scenario (no scenario folder given)"
    raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} is neither {beside} nor declared by an "
                              f"installed package; nothing was imported; {_wrap_hint(mod_name, attr)}")


def _attribute(module: ModuleType, mod_name: str, attr: str, kind: str, path: str) -> Any:
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginNotFoundError(f"{kind} {path!r}: module {mod_name!r} has no attribute {attr!r}") from None
    return obj
