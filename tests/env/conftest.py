"""A small scenario for the environment tests: IEEE 33, reconfiguration, one stochastic 20-EV lot (a few seconds an
episode)."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL = """name = "env_small"
days = 1
seed = 3
output_dir = "{out}"

[network]
name = "ieee33"
reconfigure = true

[market]
profile = "seasonal:winter"

[controller]
name = "eo"
objective = "of3"
options = {{ n_particles = 6, n_iter = 8 }}

[exchange]
mode = "{mode}"

[[lots]]
id = "PL1"
candidate_buses = [6, 18, 30]
fleet = "stochastic"
fleet_options = {{ n_per_day = 20 }}
n_chargers = 12
connection_limit_kw = 500.0
"""


def write_small(tmp_path: Path, mode: str = "centralised") -> Path:
    path = tmp_path / f"env_small_{mode}.toml"
    path.write_text(SMALL.format(out=(tmp_path / "results").as_posix(), mode=mode))
    return path


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    return write_small(tmp_path)
