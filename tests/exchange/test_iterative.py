"""The iterative mode settles on the shipped scenarios (damped adders, proximal PLO answers); without the proximal
step it does not, and says so."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cosim.config import load_scenario
from cosim.runner.run import run_scenario

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset


def run_iterative(tmp_path, scenario: str, **options):
    base = load_scenario(f"scenarios/{scenario}.toml")
    changed = dataclasses.replace(base, exchange="iterative", max_rounds=40, exchange_options=options,
                                  controller="none", controller_options={}, controller_isolation=False)
    summary = run_scenario(changed, output_dir=tmp_path, progress=False, plots=False)
    events = pd.read_csv(summary.run_dir / "events.csv")
    return summary.kpis, events[events["event"].str.startswith("negotiation")]["detail"].tolist()


@pytest.mark.parametrize("scenario", ["default", "congested_ieee33"])
def test_iterative_converges_on_the_shipped_scenarios(tmp_path, scenario):
    kpis, outcome = run_iterative(tmp_path, scenario)
    assert kpis["negotiations_not_converged"] == 0 and kpis["negotiation_rounds_max"] < 40, outcome
    assert "schedules moved by at most" in outcome[0]


def test_without_the_proximal_step_iterative_oscillates_and_says_so(tmp_path):
    kpis, outcome = run_iterative(tmp_path, "default", prox_usd_per_kw2=0.0)
    assert kpis["negotiations_not_converged"] == 1 and kpis["negotiation_rounds_max"] == 40
    assert "schedules still moved by" in outcome[0] and "after max_rounds = 40" in outcome[0]
