"""Open co-simulation of distribution-system operators (DSOs) and EV parking-lot operators (PLOs).

The public API, imported lazily (`import cosim` stays light; mosaik and pandapower load when first used):

- scenarios: `load_scenario(path)` -> `Scenario`; `run_scenario(scenario)` -> `RunSummary` (a mosaik run);
- results: `load_run(path)` -> `Run` (the run's tables as DataFrames with a time index, plans, KPIs,
  manifest; `Run.folder` is the `RunFolder` that reads the raw files);
- controllers: `make_controller(name, **options)`, and the types a controller works with:
  `DayAheadProblem`, `DayAheadPlan`, `LotOffer`;
- exchange modes: `ExchangeMode` (subclass it), `make_exchange_mode(name, **options)`;
- errors: `CosimError`, `InputError` (bad input, CLI exit 2), `RunError` (a run stopped part-way, exit 1).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "load_scenario": "cosim.config",
    "Scenario": "cosim.config",
    "run_scenario": "cosim.runner.run",
    "RunSummary": "cosim.runner.run",
    "load_run": "cosim.results",
    "Run": "cosim.results",
    "RunFolder": "cosim.results",
    "make_controller": "cosim.controllers.registry",
    "DayAheadProblem": "cosim.controllers.base",
    "DayAheadPlan": "cosim.controllers.base",
    "LotOffer": "cosim.controllers.base",
    "ExchangeMode": "cosim.exchange.base",
    "make_exchange_mode": "cosim.exchange.registry",
    "CosimError": "cosim.errors",
    "InputError": "cosim.errors",
    "RunError": "cosim.errors",
}

__all__ = ["__version__", *_PUBLIC]


def _version() -> str:
    from importlib import metadata  # noqa: PLC0415 - read on first use: `import cosim` stays instant

    try:
        return metadata.version("cosim-dso-plo")
    except metadata.PackageNotFoundError:  # running from a source tree that was not installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = _version()
        return globals()[name]
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cosim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
