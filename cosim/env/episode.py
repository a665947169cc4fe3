"""One episode of the real co-simulation, run in a thread of its own while the environment decides.

The world is the one `cosim run` builds (`cosim.runner.world.build_world`): same simulators, same agents, same
mosaik connections; only the DSO's controller is `cosim.env.bridge.EnvController`. `world.run` goes on in the
episode's thread and stops inside each controller call until the environment answers (`Bridge`). Ending an
episode early aborts the controller call that waits (`EpisodeAborted`), which ends `world.run`; the world is then
shut down. No signal handler is installed and no process is started (controllers plan in process).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from cosim.config import MAX_TIME_LIMIT_S, Scenario
from cosim.env.bridge import BRIDGES, CONTROLLER_NAME, DecisionPoint, open_bridge

__all__ = ["Episode", "MEMORY_TABLES", "env_scenario"]

MEMORY_TABLES = ("grid", "lots")  # what an episode without the recorder keeps: the reward's and KPIs' rows


def env_scenario(scenario: Scenario, bridge_key: str, plo_agents: bool = False) -> Scenario:
    """`scenario` with the environment as the DSO's controller: in process, and with no deadline (the agent may
    think as long as it likes; the simulation waits). With `plo_agents`, the PLOs' offers also go through the
    bridge (`cosim.env.parallel.EnvCentralised`, the centralised mode with the PLOs' side decided outside)."""
    changed = replace(scenario, controller=CONTROLLER_NAME, controller_options={"bridge": bridge_key},
                      controller_isolation=False, controller_time_limit_s=MAX_TIME_LIMIT_S,
                      controller_on_failure="fallback")
    if plo_agents:
        from cosim.env.parallel import MODE_NAME  # noqa: PLC0415 - registers the mode

        changed = replace(changed, exchange=MODE_NAME, exchange_options={**scenario.exchange_options,
                                                                         "bridge": bridge_key})
    return changed


class Episode:
    """A running co-simulation of `scenario` whose DSO asks `bridge` for its decisions; its tables go to a fresh
    temporary folder (removed by `close`). With `record` False the recorder is switched off: nothing is written,
    and only the grid's and the lots' scalar rows are kept, in memory (`tables`)."""

    def __init__(self, scenario: Scenario, plo_agents: bool = False, record: bool = True) -> None:
        from simulators.recorder.simulator import MEMORY_ONLY  # noqa: PLC0415

        self.key, self.bridge = open_bridge()
        self.scenario = env_scenario(scenario, self.key, plo_agents)
        self.run_dir = Path(tempfile.mkdtemp(prefix="cosim-env-")) / "run"
        self.run_dir.mkdir()
        self.record = record
        self.tables: dict[str, list[dict[str, Any]]] | None = None if record else {t: [] for t in MEMORY_TABLES}
        if self.tables is not None:
            MEMORY_ONLY[str(self.run_dir)] = self.tables
        self.error: BaseException | None = None
        self.finished = False
        self._thread = threading.Thread(target=self._run, name=f"cosim-env-{self.key}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from cosim.runner.run import _shutdown  # noqa: PLC0415 - with mosaik and the simulators
        from cosim.runner.world import build_world  # noqa: PLC0415

        built = None
        error: BaseException | None = None
        try:
            built = build_world(self.scenario, self.run_dir, progress=False)
            built.world.run(until=built.until, print_progress=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the environment, which raises or ignores it
            error = exc
        if built is not None:
            _shutdown(built.world, stopped=error is not None)
        self.bridge.points.put(("done", error))

    def next_point(self) -> DecisionPoint | None:
        """The next decision the DSO asks for, or None when the simulation has ended (raised again if it failed)."""
        if self.finished:
            return None
        kind, value = self.bridge.points.get()
        if kind == "decide":
            return value
        self.finished = True
        self._thread.join()
        self.error = value
        if value is not None and not _aborted(value):
            raise RuntimeError(f"the co-simulation failed: {type(value).__name__}: {value}") from value
        return None

    def answer(self, decoder: Any) -> None:
        """Hand the waiting controller call the function that builds its plan."""
        self.bridge.plans.put(("plan", decoder))

    def close(self) -> None:
        """End the simulation (aborting a waiting controller call), join its thread, remove its folder."""
        while not self.finished:
            self.bridge.plans.put(("abort", None))
            try:
                self.next_point()
            except RuntimeError:
                pass
        BRIDGES.pop(self.key, None)
        from simulators.recorder.simulator import MEMORY_ONLY  # noqa: PLC0415

        MEMORY_ONLY.pop(str(self.run_dir), None)
        shutil.rmtree(self.run_dir.parent, ignore_errors=True)


def _aborted(exc: BaseException) -> bool:
    """Whether `exc` (as mosaik raised it) was the environment's own abort."""
    from cosim.env.bridge import EpisodeAborted  # noqa: PLC0415

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, EpisodeAborted):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
