"""The recorder switched off for training (`DsoEnv(record=False)`): no tables written, and the same rewards and
measured KPIs as with the recorder on (from the rows kept in memory, `cosim.env.tally`)."""

from __future__ import annotations

import pytest

from cosim.env import DsoEnv
from cosim.env.tally import MEASURED_KPIS
from tests.env.test_dso_env import run_episode


def episode(scenario, record: bool) -> tuple[list[float], dict[str, float], list[str]]:
    env = DsoEnv(scenario, record=record, engine="fast")
    try:
        _, rewards = run_episode(env, seed=5)
        kpis = env.kpis()
        files = sorted(p.name for p in env.episode.run_dir.iterdir())
    finally:
        env.close()
    return rewards, kpis, files


def test_recorder_off_gives_the_same_rewards_and_measured_kpis(small_scenario):
    on_rewards, on_kpis, on_files = episode(small_scenario, record=True)
    off_rewards, off_kpis, off_files = episode(small_scenario, record=False)
    assert "grid.csv" in on_files and "lots.csv" in on_files
    assert off_files == []  # nothing written
    assert len(off_rewards) == 24
    assert off_rewards == on_rewards  # the last step's too (last hour's grid terms and the episode's unmet energy)
    assert set(off_kpis) == set(MEASURED_KPIS)
    for key in MEASURED_KPIS:
        assert off_kpis[key] == pytest.approx(on_kpis[key], rel=1e-12, abs=1e-12), key
    assert on_kpis["unmet_energy_kwh"] > 0 or on_kpis["lot_energy_charged_kwh"] > 0  # a lot that did something


def test_recorder_off_asks_the_simulators_only_for_the_scalars_it_keeps(small_scenario):
    """Switched off, the recorder is connected to the scalar outputs of the tables it keeps (grid, lots) and to
    nothing else: no simulator is asked for bus voltages, line rows, EV rows, plans, messages or events for it, so
    none of them is built. The recorder on asks for all of them."""
    from simulators.dso.simulator import DsoSim  # noqa: PLC0415
    from simulators.grid.simulator import GridSim  # noqa: PLC0415
    from simulators.parking.simulator import ParkingSim  # noqa: PLC0415
    from simulators.plo.simulator import PloSim  # noqa: PLC0415

    asked: set[str] = set()
    originals = {cls: cls.get_data for cls in (DsoSim, GridSim, ParkingSim, PloSim)}

    def spy(original):
        def get_data(self, outputs):
            asked.update(attr for attrs in outputs.values() for attr in attrs)
            return original(self, outputs)
        return get_data

    rows = {"vm_pu", "lines", "evs", "plan", "messages", "events", "planned_profit_usd"}
    try:
        for cls, original in originals.items():
            cls.get_data = spy(original)
        for record in (False, True):
            asked.clear()
            episode(small_scenario, record=record)
            assert (asked & rows == set()) if not record else rows <= asked, (record, sorted(asked & rows))
    finally:
        for cls, original in originals.items():
            cls.get_data = original


def test_unknown_engine_is_refused_in_one_line(small_scenario):
    from cosim.env import EnvConfigError  # noqa: PLC0415

    with pytest.raises(EnvConfigError, match=r"^engine = 'numba'; allowed: pandapower, fast$"):
        DsoEnv(small_scenario, engine="numba")
