"""Sweeps: parsing and expansion, Dask LocalCluster equals local processes, kill-and-resume runs nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from cosim.sweep.report import read_table
from cosim.sweep.runner import main, run_sweep, variation_status
from cosim.sweep.spec import SweepError, load_sweep, parse_sweep, set_dotted

BASE = """
name = "tiny"
days = 1
seed = 0
[network]
name = "ieee33"
reconfigure = true
[market]
profile = "seed000"
[controller]
name = "eo"
objective = "of3"
options = { n_particles = 30, n_iter = 500 }
[exchange]
mode = "centralised"
[[lots]]
id = "PL1"
candidate_buses = [18, 25, 31]
fleet = "seed000"
n_chargers = 100
connection_limit_kw = 1000.0
"""

SWEEP = """
name = "small"
base = "base.toml"
[set]
"controller.options" = { n_particles = 6, n_iter = 4 }
[grid]
seed = [0, 1]
"exchange.mode" = ["centralised", "signals"]
"""


def write_sweep(folder: Path, sweep: str = SWEEP) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.toml").write_text(BASE)
    path = folder / "sweep.toml"
    path.write_text(sweep)
    return path


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without wall times (the only column that legitimately differs between two runs)."""
    return table.drop(columns=["wall_s"]).reset_index(drop=True)


def attempts(out: Path) -> list[dict]:
    log = out / "attempts.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small sweep run uninterrupted, in this process."""
    folder = tmp_path_factory.mktemp("ref")
    result = run_sweep(load_sweep(write_sweep(folder), output_dir=folder / "out"), workers=1, quiet=True)
    assert result.failed == [] and len(result.ran) == 4
    return result


# ---------------------------------------------------------------- parsing


def test_grid_list_and_seasons_expand_with_stable_ids(tmp_path):
    path = write_sweep(tmp_path, SWEEP + """
[[variations]]
"controller.name" = "eo"
[[variations]]
"controller.name" = "rule"
"controller.options" = {}
"lots.0.bus" = 25
""")
    sweep = load_sweep(path)
    assert len(sweep.variations) == 2 * 2 * 2
    assert sweep.label_keys == ["controller.name", "seed", "exchange.mode", "controller.options", "lots.0.bus"]
    rule = [v for v in sweep.variations if v.labels["controller.name"] == "rule"]
    assert all(v.raw["controller"]["options"] == {} and v.raw["lots"][0]["bus"] == 25 for v in rule)
    eo = [v for v in sweep.variations if v.labels["controller.name"] == "eo"]
    assert all(v.raw["controller"]["options"] == {"n_particles": 6, "n_iter": 4} for v in eo)  # [set] merged
    assert [v.id for v in load_sweep(path).variations] == [v.id for v in sweep.variations]  # stable
    assert len({v.id for v in sweep.variations}) == len(sweep.variations)

    seasonal = write_sweep(tmp_path / "s", """
base = "base.toml"
[set]
"market.profile" = "seasonal"
"market.seasons" = ["winter", "summer"]
[grid]
seed = [0, 1, 2]
""")
    sw = load_sweep(seasonal)
    assert len(sw.variations) == 6
    assert {v.raw["market"]["profile"] for v in sw.variations} == {"seasonal:winter", "seasonal:summer"}
    assert all(v.labels["season"] in v.raw["market"]["profile"] for v in sw.variations)


@pytest.mark.parametrize("extra, match", [
    ('[grid]\n"lots.3.bus" = [5]\n', "lots.3.bus"),
    ('[grid]\n"exchange.mode" = ["bogus"]\n', "bogus"),
    ('[grid]\nseed = []\n', "non-empty"),
    ('colour = "red"\n', "colour"),
])
def test_bad_sweep_files_name_the_key(tmp_path, extra, match):
    path = write_sweep(tmp_path, 'base = "base.toml"\n' + extra)
    with pytest.raises(SweepError, match=match):
        load_sweep(path)
    assert main([str(path), "--quiet"]) == 2


def test_set_dotted_creates_tables_and_checks_arrays():
    raw = {"lots": [{"id": "a"}]}
    set_dotted(raw, "controller.options.n_iter", 3)
    set_dotted(raw, "lots.0.bus", 7)
    assert raw == {"lots": [{"id": "a", "bus": 7}], "controller": {"options": {"n_iter": 3}}}
    with pytest.raises(IndexError):
        set_dotted(raw, "lots.1.bus", 7)
    with pytest.raises(TypeError):
        set_dotted(raw, "lots.x", 7)


def test_missing_base_is_a_clear_error(tmp_path):
    with pytest.raises(SweepError, match="does not exist"):
        parse_sweep({"base": str(tmp_path / "nope.toml")})


# ---------------------------------------------------------------- running


@pytest.mark.slow
def test_dask_local_cluster_equals_local_run(reference, tmp_path):
    sweep = load_sweep(write_sweep(tmp_path), output_dir=tmp_path / "dask")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        result = run_sweep(sweep, client=client, quiet=True)
        workers_used = {a["pid"] for a in attempts(tmp_path / "dask")}
    assert sorted(result.ran) == sorted(reference.ran)
    assert len(workers_used) == 2 and os.getpid() not in workers_used  # really ran on the two workers
    pd.testing.assert_frame_equal(comparable(read_table(result.table_path)), comparable(reference.table))
    assert (result.table["status"] == "completed").all()
    assert {p.name for p in result.plots} >= {"energy_losses_kwh.png", "plo_profit_usd.png"}


@pytest.mark.slow
def test_killed_sweep_resumes_without_rerunning_and_equals_uninterrupted(reference, tmp_path):
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cosim.sweep.runner", str(path), "--workers", "1", "--quiet",
                             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while sum(a["event"] == "published" for a in attempts(out)) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = attempts(out)
    done_before = {a["id"] for a in before if a["event"] == "published"}
    assert 2 <= len(done_before) < 4
    runs = out / "runs"
    stamps = {vid: (runs / vid / "manifest.json").stat().st_mtime_ns for vid in done_before}
    # a partial run folder (as a crash between publish steps of an older version might leave) and a stale staging
    sweep = load_sweep(path, output_dir=out)
    missing = [v.id for v in sweep.variations if v.id not in done_before]
    (runs / missing[-1]).mkdir(exist_ok=True)
    (runs / missing[-1] / "grid.csv").write_text("hour,losses_kw\n0,1\n")
    (runs / f".staging-{missing[0]}-dead").mkdir(exist_ok=True)

    result = run_sweep(sweep, workers=1, quiet=True)

    assert set(result.ran) == set(missing) and set(result.reused) == done_before
    published = [a["id"] for a in attempts(out) if a["event"] == "published"]
    assert sorted(published) == sorted(v.id for v in sweep.variations)  # each variation finished exactly once
    assert {vid: (runs / vid / "manifest.json").stat().st_mtime_ns for vid in done_before} == stamps  # untouched
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert all(variation_status(runs / v.id) == "completed" for v in sweep.variations)
    pd.testing.assert_frame_equal(comparable(read_table(result.table_path)), comparable(reference.table))


@pytest.mark.slow
def test_failed_variation_is_recorded_and_redone_finished_ones_are_not(tmp_path):
    path = write_sweep(tmp_path, """
base = "base.toml"
[set]
"controller.name" = "rule"
"controller.options" = {}
[grid]
"lots.0.candidate_buses" = [[18], [99]]
""")
    out = tmp_path / "out"
    assert main([str(path), "--workers", "1", "--quiet", "--output", str(out)]) == 1
    table = read_table(out / "sweep.parquet") if (out / "sweep.parquet").is_file() else read_table(out / "sweep.csv")
    assert list(table["status"]) == ["completed", "failed"]
    assert "99" in table.loc[1, "error"]
    assert main([str(path), "--workers", "1", "--quiet", "--output", str(out)]) == 1
    starts = [a["id"] for a in attempts(out) if a["event"] == "start"]
    assert starts.count(table.loc[0, "variation_id"]) == 1 and starts.count(table.loc[1, "variation_id"]) == 2
