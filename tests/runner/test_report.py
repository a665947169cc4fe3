"""A run's figures and report page: what a run writes, the per-EV visits against the lot's energy balance,
report.html referencing only files that exist, other formats, Parquet tables, and bad folders as one line."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cosim.cli import main
from cosim.config import parse_scenario
from cosim.controllers import reaper
from cosim.networks import load_network
from cosim.results import load_run
from cosim.runner import simulators
from cosim.runner.figures import RunTables, Writer, network, tree_layout
from cosim.runner.plot_workers import PlotError, PlotWorkers
from cosim.runner.report import ReportError, make_plots
from cosim.runner.run import run_scenario
from simulators.parking.presets import MU_E

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset

FIGURES = {"load_curve", "losses", "voltage", "voltage_heatmap", "lots", "soc_departure", "plan_vs_reality",
           "convergence", "plo_cash_flow", "network"}


def scenario(out: Path, **output):
    return parse_scenario({
        "name": "report", "seed": 1, "output_dir": str(out), "network": {"name": "ieee33", "reconfigure": True},
        "controller": {"name": "eo", "options": {"n_particles": 6, "n_iter": 5}},
        "lots": [{"id": "PL1", "candidate_buses": [6, 18, 30], "fleet": "seed000", "n_chargers": 100}],
        **({"output": output} if output else {})})


@pytest.fixture(scope="module")
def evs_recorded():
    """The lots' `evs` output connected to the recorder (cosim/runner/simulators.py records it once its Parking
    entry lists "evs"; until then the test adds it)."""
    spec = simulators.by_name("Parking")
    if "evs" in spec.recorded:
        yield
        return
    i = simulators.SIMULATORS.index(spec)
    simulators.SIMULATORS[i] = dataclasses.replace(spec, recorded=spec.recorded + ("evs",))
    try:
        yield
    finally:
        simulators.SIMULATORS[i] = spec


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, evs_recorded):
    return run_scenario(scenario(tmp_path_factory.mktemp("runs")), progress=False).run_dir


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href", "data"):
            if attrs.get(key):
                self.links.append(attrs[key])
        if tag in ("img", "object"):
            self.images.append(attrs.get("src") or attrs.get("data"))


def page_links(run_dir: Path) -> Links:
    parser = Links()
    parser.feed((run_dir / "report.html").read_text())
    return parser


def test_a_run_writes_its_figures_and_a_self_contained_report_page(run_dir):
    drawn = {p.stem for p in (run_dir / "plots").glob("*.png")}
    assert drawn == FIGURES  # no line ratings on ieee33, no optimiser history in the plans: those two are left out
    page = (run_dir / "report.html").read_text()
    links = page_links(run_dir)
    assert {Path(i).stem for i in links.images} == FIGURES
    for link in links.links:  # every reference is relative and exists: the folder can be moved or zipped
        assert "://" not in link and not link.startswith("/")
        assert (run_dir / link).is_file(), link
    assert "http" not in page.replace("http-equiv", "")
    for text in ("energy_losses_kwh", "KPIs", "Messages", "Timing", "Scenario", "evs.csv", "PL1"):
        assert text in page
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and f"<td>{manifest['finished_utc']}</td>" in page  # the finish time
    assert manifest["figures"] == "plots/ and report.html"  # what the run drew (a run without plots says so)
    assert "not yet" not in page and "run (wall clock)" in page  # the final timing


def test_visits_match_each_lots_energy_balance(run_dir):
    run = load_run(run_dir)
    evs, lots = run.evs, run.lots
    assert len(evs) == 300 and evs["ev_id"].is_unique  # seed000: 100 night, 100 day and 100 next-night visits
    for lot_id, lot in lots.groupby("id"):
        visits = evs[evs["lot_id"] == lot_id]
        assert visits["energy_delivered_grid_kwh"].sum() == pytest.approx(lot["energy_charged_kwh"].sum(), rel=1e-9)
        assert visits["energy_discharged_grid_kwh"].sum() == pytest.approx(lot["energy_discharged_kwh"].sum(), rel=1e-9)
        left = visits[visits["status"] == "departed"]
        battery_in = (visits["soc_arrival"] * visits["capacity_kwh"]).sum() \
            + MU_E * visits["energy_delivered_grid_kwh"].sum() - visits["energy_discharged_grid_kwh"].sum()  # eta_d = 1
        battery_out = (left["soc_departure"] * left["capacity_kwh"]).sum() + lot["energy_stored_kwh"].iloc[-1]
        assert battery_in == pytest.approx(battery_out, rel=1e-9)
        assert left["unmet_energy_kwh"].sum() == pytest.approx(lot["unmet_energy_kwh"].sum(), abs=1e-9)
    assert evs["arrival"].min() == pd.Timestamp("2024-01-01") and evs["departure"].max() > pd.Timestamp("2024-01-02")
    assert (evs.loc[evs["status"] == "plugged", "soc_departure"].isna()).all()
    assert lots["evs_present"].dtype.kind == "i"
    assert ((lots["p_kw"].abs() > 1e-9) <= (lots["evs_present"] > 0)).all()  # power only with EVs present
    assert run.grid["max_loading_percent"].isna().all()  # ieee33 has no line ratings: unknown, not 0
    assert "vpd_pu" in run.grid and "energy_price_usd_per_kwh" in run.prices and "id" in run.plo_ledger


def test_report_rebuilds_in_another_format_and_keeps_the_pngs(run_dir, tmp_path, capsys):
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    pngs = {p.name: p.read_bytes() for p in (copy / "plots").glob("*.png")}
    assert main(["report", str(copy), "--format", "pdf", "--dpi", "100"]) == 0
    printed = capsys.readouterr().out.split()
    assert {Path(p).stem for p in printed if p.endswith(".pdf")} == FIGURES
    assert {p.name: p.read_bytes() for p in (copy / "plots").glob("*.png")} == pngs  # the PNGs are kept as they were
    links = page_links(copy)
    assert all(i.endswith(".png") and (copy / i).is_file() for i in links.images)  # the page shows images, no boxes
    assert {Path(u).stem for u in links.links if u.endswith(".pdf")} == FIGURES  # and links every PDF
    assert (copy / "plots" / "network.pdf").read_bytes().startswith(b"%PDF")
    figures = make_plots(copy, fmt="svg", dpi=150)
    assert {f.suffix for f in figures} == {".svg", ".html"}
    assert b"<svg" in (copy / "plots" / "voltage_heatmap.svg").read_bytes()[:400]


def test_parquet_tables_and_figure_options_from_the_scenario(tmp_path, evs_recorded):
    summary = run_scenario(scenario(tmp_path, format="parquet", figure_format="svg", dpi=120,
                                    start_date="2025-03-01"), progress=False)
    folder = summary.run_dir
    assert not list(folder.glob("*.csv")) and (folder / "evs.parquet").is_file()
    assert {p.stem for p in (folder / "plots").glob("*.svg")} == FIGURES
    run = load_run(folder)
    assert run.grid.index[0] == pd.Timestamp("2025-03-01") and len(run.evs) == 300
    assert run.kpis["energy_losses_kwh"] == pytest.approx(run.grid["losses_kw"].sum())


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"  # the same name for every copy: their pages may be compared
    shutil.copytree(run_dir, copy)
    return copy


def test_line_loadings_and_convergence_are_drawn_when_the_run_has_them(run_dir, tmp_path):
    copy = _copy(run_dir, tmp_path)
    grid = pd.read_csv(copy / "grid.csv")
    hours = grid["hour"].to_numpy()
    rng = np.random.default_rng(0)
    lines = pd.DataFrame([{"hour": h, "branch": b, "loading_percent": (np.nan if b == 3 else 40 + rng.random() * 50)}
                          for h in hours for b in (1, 2, 3, 4)])
    lines.to_csv(copy / "lines.csv", index=False)
    plans = [json.loads(x) for x in (copy / "plans.jsonl").read_text().splitlines()]
    plans[0]["history"] = [1e300, 1500.0, 1300.0, 1250.0, 1249.0]  # 1e300: nothing feasible yet
    (copy / "plans.jsonl").write_text("".join(json.dumps(p) + "\n" for p in plans))
    made = {p.stem for p in make_plots(copy)}
    assert {"line_loading_heatmap", "convergence"} <= made
    assert {Path(i).stem for i in page_links(copy).images} == made - {"report"}


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("cosim report: error: ")
    return lines[0]


@pytest.mark.parametrize("grid_text, expected", [
    ("hour,p_grid_kw\n0,1.0\n", "lacks column(s)"),
    ("hour,p_grid_kw,losses_kw,v_min_pu\n0,abc,1,0.9\n", "not numbers"),
    ('hour,p_grid_kw,losses_kw,v_min_pu\n0,"1,2\n', "cannot be read"),
    (b"\xff\xfe\x00h\x00", "cannot be read"),
    ("", "no recorded hours"),
])
def test_report_of_a_malformed_grid_table_is_one_line(run_dir, tmp_path, capsys, grid_text, expected):
    copy = _copy(run_dir, tmp_path)
    path = copy / "grid.csv"
    path.write_bytes(grid_text if isinstance(grid_text, bytes) else grid_text.encode())
    assert main(["report", str(copy)]) == 2
    assert expected in _one_line(capsys.readouterr().err)


def test_report_of_a_lots_table_without_its_columns_is_one_line(run_dir, tmp_path, capsys):
    copy = _copy(run_dir, tmp_path)
    (copy / "lots.csv").write_text("hour,id\n0,PL1\n")
    assert main(["report", str(copy)]) == 2
    assert "lots.csv lacks column(s) ['p_kw', 'evs_present']" in _one_line(capsys.readouterr().err)


def test_report_into_a_folder_that_cannot_be_written_is_one_line(run_dir, tmp_path, capsys, monkeypatch):
    copy = _copy(run_dir, tmp_path)
    shutil.rmtree(copy / "plots")
    (copy / "plots").write_text("a file where the figures' folder should be")
    assert main(["report", str(copy)]) == 2
    assert "cannot write the figures" in _one_line(capsys.readouterr().err)
    (copy / "plots").unlink()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", read_only)  # as on a read-only mount (root ignores modes)
    assert main(["report", str(copy)]) == 2
    assert "Read-only file system" in _one_line(capsys.readouterr().err)
    with pytest.raises(ReportError, match="not a run folder"):
        make_plots(tmp_path / "nowhere")


def test_one_line_diagram_is_a_tree_from_the_substation(tmp_path):
    children = {0: [1, 5], 1: [2], 2: [3, 4], 5: [6]}
    pos = tree_layout(children, 0)
    assert pos[0] == (0.0, 0.0) and pos[1][1] == pos[2][1] == 0.0  # the largest subtree continues the feeder
    assert {pos[n][0] for n in (1, 5)} == {1.0} and pos[3][0] == pos[4][0] == 3.0
    assert len({pos[n][1] for n in (3, 4, 6)}) == 3  # one row per leaf
    net = load_network("dist118").radial
    grid = pd.DataFrame({"hour": [0], "v_min_pu": [0.95], "open_branches": [json.dumps(list(net.tie_branches))]})
    tables = RunTables(grid=grid, plans=[{"lot_buses": {"PL1": 40}}], network=net)
    writer = Writer(tmp_path, "png", 80)
    with writer.style():
        fig = network(tables, writer)
    assert fig.path.is_file() and "open switches 118, 119" in fig.caption


# ---------------------------------------------------------------- the run's figure processes (plot_workers)


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415 - matplotlib's own dependency

    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


def test_figure_processes_draw_what_one_process_draws_and_leave_no_process(run_dir, tmp_path):
    """The run's way (a warm figure server whose worker and its helper take the figures from one queue) writes the
    same files as drawing in this process: the same figures in the same order, the same pixels, the same page."""
    alone, beside = _copy(run_dir, tmp_path / "alone"), _copy(run_dir, tmp_path / "beside")
    for folder in (alone, beside):
        shutil.rmtree(folder / "plots")
        (folder / "report.html").unlink()
    before = set(reaper.children(os.getpid()))
    expected = make_plots(alone)
    with PlotWorkers(processes=2) as workers:
        assert len(set(reaper.children(os.getpid())) - before) == 1  # the server, warming up
        drawn = make_plots(beside, workers=workers)
        assert len(workers.cpu_s) == 2 and all(cpu > 0 for cpu in workers.cpu_s)  # the worker and its helper drew
    assert set(reaper.children(os.getpid())) == before  # closed: servers and workers gone, reaped
    assert [p.relative_to(beside) for p in drawn] == [p.relative_to(alone) for p in expected]
    assert sorted(p.name for p in (beside / "plots").iterdir()) == sorted(p.name for p in (alone / "plots").iterdir())
    assert (beside / "plots" / "captions.json").read_text() == (alone / "plots" / "captions.json").read_text()
    assert (beside / "report.html").read_text() == (alone / "report.html").read_text()
    for png in (alone / "plots").glob("*.png"):
        assert np.array_equal(_pixels(png), _pixels(beside / "plots" / png.name)), png.name


def test_bad_input_met_by_the_figure_processes_is_the_same_one_line(run_dir, tmp_path):
    copy = _copy(run_dir, tmp_path)
    (copy / "lots.csv").write_text("hour,id\n0,PL1\n")
    before = set(reaper.children(os.getpid()))
    with PlotWorkers(processes=2) as workers:
        with pytest.raises(ReportError, match=r"lots.csv lacks column\(s\) \['p_kw', 'evs_present'\]"):
            make_plots(copy, workers=workers)
    assert set(reaper.children(os.getpid())) == before


def test_a_figure_process_killed_while_drawing_is_one_plot_error(run_dir, tmp_path):
    """A real SIGKILL to a worker mid-drawing: `collect` says so in one line instead of waiting or guessing."""
    copy = _copy(run_dir, tmp_path)
    with PlotWorkers(processes=2) as workers:
        assert workers.launch(run_dir=str(copy), fmt="png", dpi=300, png_dpi=300)
        os.kill(workers.servers[0].worker, signal.SIGKILL)
        with pytest.raises(PlotError, match=r"a figure process ended without an answer \(wait status 9\)"):
            workers.collect()


def test_a_helper_killed_while_drawing_is_one_plot_error_and_leaves_no_process(run_dir, tmp_path):
    """A real SIGKILL to the worker's helper (the worker's child, drawing from the same queue): the worker reports
    it lost, the run gets one line."""
    copy = _copy(run_dir, tmp_path)
    before = set(reaper.children(os.getpid()))
    with PlotWorkers(processes=2) as workers:
        assert workers.launch(run_dir=str(copy), fmt="png", dpi=300, png_dpi=300)
        worker = workers.servers[0].worker
        deadline = time.monotonic() + 30
        while not reaper.children(worker) and time.monotonic() < deadline:
            time.sleep(0.001)
        (helper,) = reaper.children(worker)
        os.kill(helper, signal.SIGKILL)
        with pytest.raises(PlotError, match=r"a figure process ended without an answer \(wait status 9\)"):
            workers.collect()
    assert set(reaper.children(os.getpid())) == before


def test_figure_processes_killed_from_outside_leave_the_drawing_to_this_process(run_dir, tmp_path):
    """The server gone before the run's tables are final (SIGKILL from outside): this process draws them all."""
    copy = _copy(run_dir, tmp_path)
    with PlotWorkers(processes=2) as workers:
        for server in workers.servers:
            os.kill(server.pid, signal.SIGKILL)
        drawn = make_plots(copy, workers=workers)
    assert {p.stem for p in drawn} == FIGURES | {"report"}
