"""One figure style, checked on the drawn axes: limits from the network, colour bars where colour carries data,
loading scaled to the data with open lines marked, the SOC histogram inside its frame, legible diagrams."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from cosim.networks import load_network
from cosim.runner.figure_style import PALETTE, STYLE, Writer, tick_text
from cosim.runner.figures import (
    LABEL_ALL_BUSES,
    LABEL_GAP,
    WORST_BUSES,
    RunTables,
    common_prefix,
    line_loading_heatmap,
    network,
    plan_vs_reality,
    soc_departure,
    voltage,
)

HOURS = np.arange(24)


@pytest.fixture
def writer(tmp_path):
    w = Writer(tmp_path, "png", 60, keep=True)
    with w.style():
        yield w
    for fig in w.kept.values():
        w.plt.close(fig)


def grid(v_min=0.93) -> pd.DataFrame:
    return pd.DataFrame({"hour": HOURS, "p_grid_kw": 3000.0, "losses_kw": 100.0,
                         "v_min_pu": v_min + 0.01 * np.sin(HOURS / 4), "open_branches": [[33, 34, 35, 36, 37]] * 24})


def test_the_style_sets_fonts_once_and_a_colour_blind_safe_cycle():
    with matplotlib.rc_context(STYLE):
        colors = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert colors == [c.lower() for c in PALETTE] or colors == list(PALETTE)
        assert matplotlib.rcParams["font.size"] == 8 and matplotlib.rcParams["legend.fontsize"] == 7


def test_voltage_draws_the_networks_limit_with_a_legend_entry(writer):
    net = load_network("ieee33").radial
    fig = voltage(RunTables(grid=grid(), network=net), writer)
    ax = writer.kept["voltage"].axes[0]
    limit = [ln for ln in ax.get_lines() if ln.get_label().startswith(f"{net.v_min_pu:.2f} p.u.")]
    assert len(limit) == 1 and limit[0].get_ydata()[0] == pytest.approx(net.v_min_pu)
    assert any(t.get_text().startswith("0.90 p.u.") for t in ax.get_legend().get_texts())
    assert "0.90 p.u." in fig.caption and "0.95" not in fig.caption


def test_loading_is_scaled_to_the_data_and_open_lines_are_marked(writer):
    rows = []
    for h in HOURS:
        for branch, load in ((1, 29.0 * (h + 1) / 24), (2, 10.0), (3, 0.0)):
            rows.append({"hour": h, "branch": branch, "loading_percent": load, "in_service": branch != 3})
    fig = line_loading_heatmap(RunTables(grid=grid(), lines=pd.DataFrame(rows)), writer)
    ax, cbar = writer.kept["line_loading_heatmap"].axes
    mesh = ax.collections[0]
    assert mesh.get_clim() == pytest.approx((0.0, 29.0))  # not 0-100 % when the highest loading is 29 %
    assert "loading" in cbar.get_ylabel()
    assert any(c.get_hatch() for c in ax.collections[1:])  # the open line is hatched, not drawn as 0 %
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["open"] and "open lines hatched" in fig.caption


def test_plan_vs_reality_has_a_colour_bar_for_the_hour(writer):
    pvr = pd.DataFrame({"hour": HOURS, "planned_loss_kw": 100.0 + HOURS, "actual_loss_kw": 101.0 + HOURS,
                        "planned_lot_kw": 10.0 * np.cos(HOURS), "actual_lot_kw": 9.0 * np.cos(HOURS)})
    plan_vs_reality(RunTables(grid=grid(), pvr=pvr), writer)
    labels = [ax.get_ylabel() for ax in writer.kept["plan_vs_reality"].axes]
    assert "hour (h)" in labels and len(labels) == 3


def test_soc_departure_keeps_values_and_the_contract_line_inside_the_frame(writer):
    rng = np.random.default_rng(0)
    socs = np.r_[np.full(6, 1.0), np.full(4, 0.8), rng.uniform(0.82, 0.99, 20)]
    evs = pd.DataFrame({"lot_id": "PL1", "ev_id": [f"e{i}" for i in range(len(socs))], "soc_departure": socs,
                        "soc_contract": 0.8, "contract_met": True})
    fig = soc_departure(RunTables(grid=grid(), evs=evs), writer)
    ax = writer.kept["soc_departure"].axes[0]
    lo, hi = ax.get_xlim()
    assert lo < 0.8 and hi > 1.0  # neither the contract line (0.8) nor the SOC 1.0 bin sits on the frame
    assert sum(p.get_height() for p in ax.patches) == len(socs)
    assert "contract SOC" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "100 % of contracts met" in fig.caption


def test_a_few_departure_socs_get_one_labelled_bar_each(writer):
    evs = pd.DataFrame({"lot_id": "PL1", "ev_id": [f"e{i}" for i in range(200)],
                        "soc_departure": [0.0] * 100 + [1.0] * 100, "soc_contract": [0.0] * 100 + [1.0] * 100,
                        "contract_met": True})
    fig = soc_departure(RunTables(grid=grid(), evs=evs), writer)
    ax = writer.kept["soc_departure"].axes[0]
    assert [p.get_height() for p in ax.patches] == [100, 100] and all(p.get_width() == 0.6 for p in ax.patches)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.00", "1.00\ncontract"]
    assert {t.get_text() for t in ax.texts} == {"100"} and "2 distinct values" in fig.caption


def test_a_large_network_names_only_its_lots_and_worst_buses_apart(writer):
    net = load_network("dist118").radial
    assert net.n_bus > LABEL_ALL_BUSES
    bv = pd.DataFrame([{"hour": 0, "bus": b, "vm_pu": 1.0 - 0.0005 * b} for b in range(1, net.n_bus + 1)])
    g = grid().iloc[:1].assign(open_branches=[list(net.tie_branches)])
    fig = network(RunTables(grid=g, bus_voltages=bv, plans=[{"lot_buses": {"PL1": 40}}], network=net), writer)
    texts = writer.kept["network"].axes[0].texts
    names = [t for t in texts if t.get_color() == "0.25"]  # bus names (grey); ids of open switches are vermillion
    assert len(names) == WORST_BUSES + 1 and {"40", net.bus_labels[-1]} <= {t.get_text() for t in names}
    at = [t.xy for t in names]
    close = [(a, b) for i, a in enumerate(at) for b in at[i + 1:] if a[1] == b[1] and abs(a[0] - b[0]) < LABEL_GAP]
    assert not close  # no two names on one row within a name's length
    assert {"PL1", "substation"} <= {t.get_text() for t in texts}
    assert "5 lowest voltages apart from each other" in fig.caption


def test_common_prefix_is_one_word():
    assert common_prefix(["MV3.101 Bus 84", "MV3.101 Bus 46"]) == "MV3.101 "
    assert common_prefix(["650", "632"]) == "" and common_prefix(["bus 1", "bus 2"]) == "bus "


@pytest.mark.parametrize(("value", "text"), [(6.0, "6"), (0.05, "0.05"), (float("nan"), "base"), (None, "base"),
                                             ("eo", "eo"), (np.int64(3), "3")])
def test_tick_labels_are_clean(value, text):
    assert tick_text(value, "base") == text


def test_font_sizes_and_colours_are_set_in_one_place():
    """No figure code outside figure_style.py sets a font size by number, picks matplotlib's default colours
    ("tab:...", "C0") or makes a figure without the style's Writer (plt.subplots)."""
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"fontsize\s*=\s*[0-9]|[\"']tab:[a-z]+[\"']|[\"']C[0-9][\"']|plt\.subplots\(")
    found = [f"{path.relative_to(root)}:{i}: {line.strip()}"
             for folder in ("cosim", "simulators", "scripts")
             for path in sorted((root / folder).rglob("*.py")) if path.name != "figure_style.py"
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, found
