"""A user's pandapower net saved as JSON (`pandapower.to_json(net, "feeder.json")`), named by its path.

The file is checked before pandapower reads it (a JSON object written by pandapower: "_module" pandapower...,
"_class" "pandapowerNet"), then converted once by `cosim.networks.switched.convert_switched`: with line or
bus-bus switches, those are the reconfigurable branches (open ones = the base open set); without any, every
line is a branch switched through `in_service` and the lines out of service are the ties. A relative path is
looked up in the working folder, then beside the scenario file.
"""

from __future__ import annotations

import json
from pathlib import Path

from cosim.networks.converter import GridNetwork
from cosim.powerflow.network_data import NetworkDataError

__all__ = ["is_json_name", "json_network", "resolve_json"]

MAX_BYTES = 200_000_000


def is_json_name(name: object) -> bool:
    """A network name that is a path to a JSON file (by its suffix)."""
    return isinstance(name, str) and name.strip().lower().endswith(".json")


def resolve_json(name: str, near: Path | str | None = None) -> Path:
    """The existing file a JSON network name points to (absolute, working folder, then `near`)."""
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else [path, *([Path(near) / path] if near is not None else [])]
    for cand in candidates:
        try:
            if cand.is_file():
                return cand.resolve()
        except (OSError, ValueError):
            continue
    raise NetworkDataError(f"network file {name!r} does not exist" + (f" (also looked in {near})" if near else ""))


def _check_header(path: Path) -> None:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise NetworkDataError(f"network file {path} is larger than {MAX_BYTES // 1_000_000} MB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NetworkDataError(f"network file {path} is not a pandapower JSON net: {exc}") from None
    if not (isinstance(data, dict) and str(data.get("_module", "")).startswith("pandapower")
            and data.get("_class") == "pandapowerNet"):
        raise NetworkDataError(f"network file {path} is JSON but not a pandapower net (write one with "
                               "pandapower.to_json(net, path))")


def json_network(name: str, near: Path | str | None = None) -> GridNetwork:
    """The pandapower net in the JSON file `name`, converted to the radial model; its `net` is the original."""
    import pandapower as pp  # noqa: PLC0415 - pandapower loads only when a net is built

    from cosim.networks.switched import convert_switched  # noqa: PLC0415

    path = resolve_json(name, near)
    _check_header(path)
    try:
        net = pp.from_json(str(path))
    except Exception as exc:  # noqa: BLE001 - pandapower raises many kinds for a damaged file: all are bad input
        raise NetworkDataError(f"network file {path} cannot be read by pandapower: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(net, pp.pandapowerNet):
        raise NetworkDataError(f"network file {path} does not hold a pandapower net")
    return convert_switched(net, name, f"pandapower net from {path}")
