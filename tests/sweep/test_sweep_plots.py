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


def test_ticks_are_clean_and_bars_start_at_zero_with_intervals(tmp_path):
    """A key read back as floats (6.0), and one a group does not set (NaN / None), make clean ticks; the plot's
    bars start at zero and carry the 95 % interval over seeds."""
    import matplotlib.image as mpimg  # noqa: PLC0415

    from cosim.runner.uncertainty import t_interval  # noqa: PLC0415
    from cosim.sweep.report import summarise  # noqa: PLC0415

    rows = []
    for particles, name in ((6.0, "eo"), (None, "rule"), (float("nan"), "none")):
        for seed in (0, 1, 2):
            labels = {"controller.name": name, "controller.options.n_particles": particles, "seed": seed}
            rows.append({**labels, "group": group_label(labels), "status": "completed",
                         "energy_losses_kwh": 1000.0 + 10 * seed, "wall_s": 1.0 + seed})
    t = pd.DataFrame(rows)
    keys = ["controller.name", "controller.options.n_particles"]
    ticks = group_ticks(t, keys)
    lines = [line for tick in ticks.values() for line in tick.splitlines()]
    assert "controller options n particles: 6" in lines and "controller options n particles: base" in lines
    assert not any(bad in line for line in lines for bad in ("6.0", "nan", "None"))
    summary = summarise(t, [*keys, "seed"], ["energy_losses_kwh", "wall_s"])
    expected = t_interval([1000.0, 1010.0, 1020.0])
    eo = summary[(summary["kpi"] == "energy_losses_kwh")].iloc[0]
    assert eo["ci95_low"] == expected.low and eo["ci95_high"] == expected.high and eo["kind"] == "KPI"
    assert set(summary.loc[summary["kpi"] == "wall_s", "kind"]) == {"diagnostic"}
    pngs = make_summary_plots(t, [*keys, "seed"], ["energy_losses_kwh"], tmp_path)
    assert mpimg.imread(pngs[0]).shape[0] > 100
