"""Helpers for tests that start `cosim run` as a real process: a one-day rule scenario on ieee33 with one lot, and
what the run's process tree holds (its descendants, which of them have matplotlib's renderer loaded)."""

from __future__ import annotations

from pathlib import Path

from cosim.controllers import reaper


def rule_day_toml(name: str, days: int | str = 1, engine: str | None = None) -> str:
    """`days` (one by default; "{days}" leaves a placeholder for str.format) of the "rule" controller on ieee33
    without reconfiguration, lot PL1 at bus 18 with seed 000's fleet. `engine = "fast"` for tests about processes
    and signals, where the grid's engine is not the subject: a `cosim run` then never imports pandapower (about
    1.5 s of CPU a process)."""
    engine_line = f'engine = "{engine}"\n' if engine else ""
    return f"""name = "{name}"
days = {days}
seed = 0
[network]
name = "ieee33"
reconfigure = false
{engine_line}[controller]
name = "rule"
[[lots]]
id = "PL1"
bus = 18
fleet = "seed000"
"""


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children, ...)."""
    found, todo = set(), [pid]
    while todo:
        for child in reaper.children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def draws(pid: int) -> bool:
    """Whether process `pid` has matplotlib's font renderer loaded (a figure process)."""
    try:
        return "ft2font" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
