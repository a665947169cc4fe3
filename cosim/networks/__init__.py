"""Network data by name: the built-in feeders (one module per family) and the pandapower converter.

The DSO, the studies, `cosim validate` and scenario checks depend on this package, not on the grid
simulator. Names are a lazy registry: checking that a scenario's network exists imports nothing heavy;
building one (`load_network`) imports pandapower. A user's builder can be registered
(`NETWORKS.register("mine", build_mine)`) or named by dotted path "package.module:function".

Two more kinds of name are converted from pandapower nets with transformers and switches
(`cosim.networks.switched`): "simbench:<code>" (a SimBench grid, e.g. "simbench:1-MV-urban--0-sw") and a path
to a pandapower JSON file ("feeders/mine.json", relative to the working folder or the scenario's).
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cosim.powerflow.network_data import NetworkDataError
from cosim.registry import Registry

if TYPE_CHECKING:
    from cosim.networks.converter import GridNetwork

__all__ = ["NAME_FORMS", "NETWORKS", "GridNetwork", "is_converted_name", "load_network", "load_radial"]

NETWORKS: Registry[Any] = Registry("network", {
    "ieee33": "cosim.networks.ieee33:ieee33",
    "ieee33_rated": "cosim.networks.ieee33:ieee33_rated",
    "ieee69": "cosim.networks.feeders:ieee69",
    "dist118": "cosim.networks.feeders:dist118",
    "ninebus": "cosim.networks.ninebus:ninebus",
    "ieee13": "cosim.networks.ieee13:ieee13",
}, check=lambda obj: None if callable(obj) else "is not a network builder (a function returning a GridNetwork)")

_BUILT: dict[tuple, GridNetwork] = {}
_RADIAL: dict[tuple, Any] = {}  # (name, near) -> RadialNetwork, one per process (read-only arrays, shared)

#: built-in line feeders whose radial model is made without pandapower (`cosim.networks.lines`)
LINE_DATA = {
    "ieee33": "cosim.networks.ieee33:ieee33_data",
    "ieee33_rated": "cosim.networks.ieee33:ieee33_rated_data",
    "ieee69": "cosim.networks.feeders:ieee69_data",
    "dist118": "cosim.networks.feeders:dist118_data",
}
SIMBENCH_PREFIX = "simbench:"
NAME_FORMS = ("'simbench:<code>' (e.g. simbench:1-MV-urban--0-sw), a path to a pandapower JSON file, or a "
              "dotted path 'package.module:function' to your own builder")


def is_converted_name(name: object) -> bool:
    """"simbench:<code>" or a path to a JSON file: a pandapower net converted by `cosim.networks.switched`."""
    return isinstance(name, str) and (name.startswith(SIMBENCH_PREFIX) or name.strip().lower().endswith(".json"))


def _converted_builder(name: str, near: Path | str | None) -> tuple[tuple, Any]:
    """Cache key and builder of a SimBench code or a JSON file (the key holds the file's time stamp)."""
    if name.startswith(SIMBENCH_PREFIX):
        from cosim.networks.simbench import simbench_network  # noqa: PLC0415 - simbench only when asked for

        code = name[len(SIMBENCH_PREFIX):]
        return (name,), lambda: simbench_network(code)
    from cosim.networks.pandapower_json import json_network, resolve_json  # noqa: PLC0415

    path = resolve_json(name, near)
    return (str(path), path.stat().st_mtime_ns), lambda: json_network(name, near)


def load_network(name: Any, near: Path | str | None = None, **kwargs: Any) -> GridNetwork:
    """Build a network by name, dotted path or, from Python, the builder function itself (keyword options go to
    its builder, e.g. ninebus load_level); `near` is the scenario's folder, where a user's network module may sit.

    A builder is checked by its signature before it is called (the options must fit its parameters) and by
    its result after (a `GridNetwork`). Each (builder, options) is built once per process (pandapower's case
    loaders take seconds) and a deep copy is returned, so callers may change loads and switch states freely.
    """
    if is_converted_name(name):
        if kwargs:
            raise NetworkDataError(f"network {name!r} takes no options, got {sorted(kwargs)}")
        key, build = _converted_builder(name, near)
        if key not in _BUILT:
            _BUILT[key] = build()
        return copy.deepcopy(_BUILT[key])
    if isinstance(name, str) and name not in NETWORKS and not NETWORKS.is_dotted(name) or \
            not isinstance(name, str) and not callable(name):
        raise NetworkDataError(f"unknown network {name!r}; known networks: {', '.join(NETWORKS.names())}, "
                               f"{NAME_FORMS}")
    builder = NETWORKS.resolve(name, near=near)
    label = name if isinstance(name, str) else getattr(name, "__qualname__", repr(name))
    try:
        inspect.signature(builder).bind(**kwargs)
    except TypeError as exc:  # options the builder does not take: refused before it is called
        raise NetworkDataError(f"network {label!r}: bad options {sorted(kwargs)} ({exc})") from None
    except ValueError:  # a builder without a signature (a builtin): refused before it is called
        raise NetworkDataError(f"network {label!r}: the builder has no Python signature") from None
    try:
        key: tuple | None = (builder, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:
        key = None
    if key is None or key not in _BUILT:
        built = builder(**kwargs)
        from cosim.networks.converter import GridNetwork  # noqa: PLC0415 - pandapower only once a net is built

        if not isinstance(built, GridNetwork):
            raise NetworkDataError(f"network {label!r}: the builder returned a {type(built).__name__}, "
                                   "not a GridNetwork")
        if key is None:
            return built
        _BUILT[key] = built
    return copy.deepcopy(_BUILT[key])


def load_radial(name: Any, near: Path | str | None = None) -> Any:
    """The `RadialNetwork` of a network (what the DSO, the checks, the fast grid engine and the post-processing
    use), built once per process and shared: its arrays are read-only, so no caller copies it.

    A built-in line feeder (`LINE_DATA`) is built from its data without pandapower; any other network is
    `load_network(name, near).radial` (built once, not deep-copied)."""
    key = (name, None if near is None else str(near))
    try:
        hit = _RADIAL.get(key)
    except TypeError:  # an unhashable name: a builder object from Python
        return load_network(name, near=near).radial
    if hit is not None:
        return hit
    if isinstance(name, str) and name in LINE_DATA and NETWORKS.resolve(name) is _builtin_builder(name):
        from cosim.networks.lines import line_radial  # noqa: PLC0415
        from cosim.registry import import_attribute  # noqa: PLC0415

        radial = line_radial(import_attribute(LINE_DATA[name], f"data of network {name!r}")())
    else:
        radial = load_network(name, near=near).radial if is_converted_name(name) else _built_radial(name, near)
    _freeze(radial)
    _RADIAL[key] = radial
    return radial


def _builtin_builder(name: str) -> Any:
    """The function the built-in registry entry of `name` names (a user may have registered another)."""
    from cosim.registry import import_attribute  # noqa: PLC0415

    module, _, func = LINE_DATA[name].partition(":")
    return import_attribute(f"{module}:{func.removesuffix('_data')}", f"network {name!r}")


def _built_radial(name: Any, near: Path | str | None) -> Any:
    """The radial model of a network built by `load_network`, from its build cache (no deep copy)."""
    load_network(name, near=near)  # checks the name and options, builds once
    builder = NETWORKS.resolve(name, near=near) if isinstance(name, str) else name
    built = _BUILT.get((builder, ()))
    return built.radial if built is not None else load_network(name, near=near).radial


def _freeze(radial: Any) -> None:
    """Make every array of a shared radial model read-only: a caller that writes into it fails loudly."""
    for value in vars(radial).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False


def __getattr__(name: str) -> Any:
    if name == "GridNetwork":  # the type lives with the converter, which imports pandapower
        from cosim.networks.converter import GridNetwork  # noqa: PLC0415 - lazy on purpose

        return GridNetwork
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
