"""Sweep summary plots labelled in words: the KPI with its unit, ticks that name the keys that vary."""

from __future__ import annotations

import pandas as pd

from cosim.runner.figures import key_label, kpi_label
from cosim.sweep.report import group_label, group_ticks, make_summary_plots


def table() -> pd.DataFrame:
    rows = []
    for ctrl in ("eo", "rule"):
        for mode in ("centralised", "signals"):
            for seed in (0, 1, 2):
                labels = {"controller.name": ctrl, "exchange.mode": mode, "seed": seed}
                rows.append({**labels, "group": group_label(labels), "status": "completed",
                             "energy_losses_kwh": 1000 + 10 * seed + (50 if ctrl == "rule" else 0)})
    return pd.DataFrame(rows)


def test_labels_in_words():
    assert kpi_label("energy_losses_kwh") == "energy losses (kWh)"
    assert kpi_label("peak_load_kw") == "peak load (kW)" and kpi_label("odd") == "odd"
    assert key_label("controller.name") == "controller" and key_label("exchange.max_rounds") == "exchange max rounds"


def test_ticks_name_the_varying_keys_and_plots_are_written(tmp_path):
    t = table()
    ticks = group_ticks(t, ["controller.name", "exchange.mode"])
    assert ticks["eo | signals"] == "controller: eo\nexchange mode: signals"
    one = t[t["exchange.mode"] == "signals"]
    assert group_ticks(one, ["controller.name", "exchange.mode"]) == {"eo | signals": "eo", "rule | signals": "rule"}
    (png,) = make_summary_plots(t, ["controller.name", "exchange.mode", "seed"], ["energy_losses_kwh"], tmp_path)
    assert png == tmp_path / "plots" / "energy_losses_kwh.png" and png.read_bytes()[:4] == b"\x89PNG"
