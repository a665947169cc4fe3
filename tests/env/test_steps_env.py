"""Issue 25 item 1: the learning environments act, observe and reward hour by hour, so a scenario in 30- or
15-minute steps is refused with one line naming `simulation.step_minutes` (before any world is built)."""

from __future__ import annotations

import pytest

from cosim.env import DsoEnv, EnvConfigError, parallel_env
from tests.env.conftest import write_small


@pytest.mark.parametrize("make", [DsoEnv, parallel_env])
@pytest.mark.parametrize("minutes", [30, 15])
def test_a_scenario_in_steps_shorter_than_an_hour_is_refused(tmp_path, make, minutes):
    path = write_small(tmp_path)
    path.write_text(path.read_text() + f"\n[simulation]\nstep_minutes = {minutes}\n")
    with pytest.raises(EnvConfigError) as err:
        make(path)
    line = str(err.value)
    assert "\n" not in line and str(path) in line
    assert f"simulation.step_minutes = {minutes}" in line and "allowed: 60" in line
    assert not (tmp_path / "results").exists()  # nothing was run or written
