"""Regenerate the studies' validation tables in the docs from the studies themselves, never by hand.

    .venv/bin/python scripts/regenerate_docs.py           # recompute (~1 min), rewrite the docs' generated blocks
    .venv/bin/python scripts/regenerate_docs.py --full    # first what only a full run recomputes (~30 min)
    .venv/bin/python scripts/regenerate_docs.py --check   # recompute and compare with the docs (CI: tests/test_docs.py)
    .venv/bin/python scripts/regenerate_docs.py --no-run  # rewrite from results/docs-regen/ (already computed)

Each generated block sits between `<!-- BEGIN generated:NAME -->` and `<!-- END generated:NAME -->` in
docs/VALIDATION.md or a study's README (`BLOCKS` lists them); the script replaces only what lies between the
markers and opens every block with the command and the commit its figures were made at. Everything outside the
markers is hand-written and left alone.

What is recomputed every time (and so by `--check` in CI): every study with the options of `STUDY_ARGS`, which is
all of seeds 000 (Table 2 with its EO cells, TOPSIS, the figures' cells, the scenario-3 screen and bound), 001 and
002, and seed 003's stage 1. What only `--full` recomputes, because it takes minutes: the `milp` references of
seed 000 (`--exact`) and seed 003's stage-2 MILPs. A full run records them in `FULL_RUN` (a folder in the
repository, with the command and commit of that run); the other runs read them from there, and the blocks that
show them say so ("last full run at commit ...") and mark those cells. Timings are marked as timings: the check
looks for them, not at their value (`docs_compare`).

`--check` builds every block again from a fresh recomputation in a temporary folder and compares it with the docs
cell by cell and sentence by sentence (`docs_compare.compare_block`): an edit to any generated number or sentence
fails it, whether made in one file or in all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from docs_compare import compare_block  # noqa: E402 - after the path set-up, so the script runs from anywhere

from cosim.errors import InputError  # noqa: E402
from cosim.runner.paper_table import cell  # noqa: E402

RESULTS = ROOT / "results" / "docs-regen"
FULL_RUN = ROOT / "docs" / "generated" / "full-run"
"""What only `--full` recomputes, as its last run left it: provenance.json, joape2024_exact.csv (seed 000's `milp`
references) and neyestani2015/ (seed 003's stage-2 tables)."""
VALIDATION = ROOT / "docs" / "VALIDATION.md"
README_000 = ROOT / "cosim" / "studies" / "joape2024" / "README.md"
README_ALLOC = ROOT / "cosim" / "studies" / "README_allocation.md"
README_003 = ROOT / "cosim" / "studies" / "neyestani2015" / "README.md"

# study -> the options its docs figures are recomputed with every time (`cosim study NAME --out DIR` + these)
STUDY_ARGS: dict[str, list[str]] = {
    "joape2024": ["--seeds", "2", "--eq6", "hourly", "--lot-power", "soc_weighted"],
    "moradijoz2013": [],
    "arabi2025": [],
    "neyestani2015": ["--stage2-from", str(FULL_RUN.relative_to(ROOT) / "neyestani2015")],
}
# study -> the options of its full run (`--full`): what it adds is recorded in FULL_RUN
FULL_ARGS: dict[str, list[str]] = {
    "joape2024": ["--seeds", "2", "--eq6", "hourly", "--lot-power", "soc_weighted", "--exact", "--exact-node-limit",
                  "1", "--exact-rounds", "1"],
    "neyestani2015": [],
}
EXACT_COLUMNS = ("state", "exact_reference", "exact_objective", "exact_bound", "exact_model_gap_pct",
                 "exact_mip_gap_pct", "exact_nodes", "exact_wall_s")
"""Seed 000's reference columns a full run records (table2.csv of `cosim study joape2024 --exact`)."""
OBJ = ": objective (paper's allocation / exhaustive / PSO)"
CV = "constraint violation (paper's allocation / exhaustive / PSO)"
FULL_MARK = "†"
"""Marks a cell that only `--full` recomputes."""
EVIDENCE_RULE = "a match is independent only if our model could have produced a different value"

BEGIN = "<!-- BEGIN generated:{name} -->"
END = "<!-- END generated:{name} -->"
BLOCK_RE = re.compile(r"<!-- BEGIN generated:(?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- END generated:(?P=name) -->",
                      re.S)


class DocsError(InputError):
    """A generated block is missing, or the docs and the code disagree."""


# ---------------------------------------------------------------------------------------------------- blocks


def read_block(text: str, name: str) -> str:
    """The body of block `name` in `text` (DocsError when its markers are missing)."""
    for m in BLOCK_RE.finditer(text):
        if m.group("name") == name:
            return m.group("body")
    raise DocsError(f"generated block {name!r} is missing (markers {BEGIN.format(name=name)} ... "
                    f"{END.format(name=name)})")


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the body of block `name` replaced by `body` (DocsError when its markers are missing)."""
    read_block(text, name)
    body = body.rstrip("\n") + "\n"
    return BLOCK_RE.sub(lambda m: m.group(0) if m.group("name") != name else
                        f"{BEGIN.format(name=name)}\n{body}{END.format(name=name)}", text)


def block_names(text: str) -> list[str]:
    return [m.group("name") for m in BLOCK_RE.finditer(text)]


def parse_table(body: str) -> pd.DataFrame:
    """The first Markdown pipe table in a block body, as strings."""
    lines = [ln.strip() for ln in body.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        raise DocsError("no table in the generated block")
    split = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return pd.DataFrame(split[2:], columns=split[0])


# ------------------------------------------------------------------------------------------------ provenance


def commit() -> str:
    """`git rev-parse --short HEAD`, plus a note when tracked code differs from it (read-only git calls)."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(["git", "diff-index", "--name-only", "HEAD", "--", "cosim", "simulators", "scenarios",
                                  "scripts"], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    n = len([ln for ln in changed.splitlines() if ln.strip()])
    return f"{head} + uncommitted changes in {n} files" if n else head


def generated_page(command: str, title: str, intro: str, table: str) -> str:
    """A whole generated docs page (docs/DELIVERABILITY.md, docs/ENVELOPE.md): the command and the commit it was
    made at, a title, what the columns mean, and the table."""
    return f"<!-- generated by `{command}` at commit {commit()} -->\n\n{title}\n\n{intro}\n\n{table}\n"


def provenance_line(prov: dict[str, Any]) -> str:
    """A block's first line: the command and commit its figures were made at (and the run's date and time)."""
    return (f"_Generated by `scripts/regenerate_docs.py` from `{prov['command']}` at commit `{prov['commit']}` "
            f"({prov['date']}; run time {prov['wall_s']:.0f} s, a timing). Do not edit by hand: rerun the script._")


def full_line(full: dict[str, Any], study: str, what: str) -> str:
    """The line of a block some of whose cells only `--full` recomputes: which, and the last full run's commit."""
    rec = full[study]
    return (f"_{what} ({FULL_MARK}) come from `scripts/regenerate_docs.py --full` (`{rec['command']}`), last full "
            f"run at commit `{rec['commit']}` ({rec['date']}); the docs check reads them from "
            f"`{FULL_RUN.relative_to(ROOT)}` and recomputes everything else._")


def run_study(study: str, results: Path, args: list[str] | None = None) -> dict[str, Any]:
    """Run one study into results/STUDY (its own command line, in this process) and record its provenance."""
    from cosim.studies import STUDIES  # noqa: PLC0415 - loads the studies only when they run

    args = STUDY_ARGS[study] if args is None else args
    out = results / study
    argv = [*[str(ROOT / a) if a.startswith("docs/") else a for a in args], "--out", str(out)]
    t0 = dt.datetime.now(dt.timezone.utc)
    with contextlib.redirect_stdout(io.StringIO()):
        code = STUDIES.resolve(study)(argv)
    if code != 0:
        raise DocsError(f"cosim study {study} exited with {code}")
    wall = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
    prov = {"command": " ".join(["cosim study", study, *args]), "commit": commit(),
            "date": t0.strftime("%Y-%m-%d"), "wall_s": wall}
    (out / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    return prov


def compute(results: Path) -> None:
    """Every study with `STUDY_ARGS` into `results`, and seed 000's extra figures (minutes, see the docstring)."""
    for study in STUDY_ARGS:
        run_study(study, results)
    seed000_extra(results, run=True)


def full_run(results: Path, studies: list[str]) -> dict[str, Any]:
    """Run what only `--full` recomputes (`FULL_ARGS`) for `studies` into `results` and record it in `FULL_RUN`
    (each study's files and its provenance: command, commit, date, run time)."""
    from cosim.studies.neyestani2015.study import STAGE2_TABLES  # noqa: PLC0415

    FULL_RUN.mkdir(parents=True, exist_ok=True)
    path = FULL_RUN / "provenance.json"
    record: dict[str, Any] = {}
    for study in studies:
        prov = run_study(study, results / "full", FULL_ARGS[study])
        out = results / "full" / study
        if study == "joape2024":
            t2 = pd.read_csv(out / "table2.csv", keep_default_na=False)
            t2.loc[:, list(EXACT_COLUMNS)].to_csv(FULL_RUN / "joape2024_exact.csv", index=False)
        else:
            (FULL_RUN / study).mkdir(exist_ok=True)
            for name in STAGE2_TABLES:
                shutil.copyfile(out / name, FULL_RUN / study / name)
        record = json.loads(path.read_text()) if path.exists() else {}  # read again: another study may have run
        record[study] = prov
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def load_full() -> dict[str, Any]:
    """The last full run's record (`FULL_RUN/provenance.json`): study -> command, commit, date, run time."""
    try:
        record = json.loads((FULL_RUN / "provenance.json").read_text())
    except FileNotFoundError:
        record = {}
    missing = sorted(set(FULL_ARGS) - set(record))
    if missing:
        raise DocsError(f"{FULL_RUN / 'provenance.json'} has no full run of {', '.join(missing)}: run "
                        f"scripts/regenerate_docs.py --full {' '.join(missing)}")
    return record


def load(study: str, results: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A study's paper_vs_ours.csv and provenance.json from `results`."""
    folder = results / study
    try:
        table = pd.read_csv(folder / "paper_vs_ours.csv", keep_default_na=False)
        prov = json.loads((folder / "provenance.json").read_text())
    except FileNotFoundError as exc:
        raise DocsError(f"{exc.filename} is missing: run scripts/regenerate_docs.py without --no-run") from None
    if "evidence" not in table.columns:
        raise DocsError(f"{folder / 'paper_vs_ours.csv'} has no evidence column: rerun the study")
    return table, prov


# ----------------------------------------------------------------------------------------------- formatting


def _num(v: Any) -> float:
    try:
        return float(str(v).replace(",", ""))
    except ValueError:
        return float("nan")


def _fmt(v: Any) -> str:
    if isinstance(v, str) and re.fullmatch(r"\(\d+(, \d+)*,?\)", v.strip()):  # a tuple of lines / buses
        return "-".join(re.findall(r"\d+", v))
    x = _num(v)
    return str(v) if not np.isfinite(x) and str(v) not in ("", "nan") else ("-" if not np.isfinite(x) else cell(x))


def _pct(ours: float, paper: float) -> str:
    return f"{100.0 * (ours - paper) / abs(paper):+.1f} %"


def paper_vs_ours_md(table: pd.DataFrame) -> str:
    lines = ["| quantity | paper | ours | difference | evidence |", "|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.quantity} | {_fmt(r.paper)} | {_fmt(r.ours)} | {r.difference} | {r.evidence} |")
    return "\n".join(lines)


class Figures:
    """Look-ups into one study's paper_vs_ours table by quantity."""

    def __init__(self, table: pd.DataFrame):
        self.t = table.set_index("quantity")

    def ours(self, q: str) -> float:
        return _num(self.t.loc[q, "ours"])

    def paper(self, q: str) -> float:
        return _num(self.t.loc[q, "paper"])

    def text(self, q: str, col: str = "ours") -> str:
        return str(self.t.loc[q, col])

    def diff(self, q: str) -> str:
        return str(self.t.loc[q, "difference"])

    def evidence(self, q: str) -> str:
        return str(self.t.loc[q, "evidence"])

    def kind(self, q: str) -> str:
        return evidence_kind(self.evidence(q))


EVIDENCE_KINDS = ("independent", "by construction", "fitted", "calibrated", "assumed")
"""The labels of `cosim.runner.paper_table`: a match is independent only if our model could have produced another
value; otherwise it holds by construction, or rests on a fit, a calibration or an assumption."""


def evidence_kind(text: str) -> str:
    """The label an evidence text starts with ("assumed (...)" -> "assumed"); a headline total ("sum of loss -94 %,
    ...") is labelled by its terms elsewhere, so it gets "sum of terms"."""
    if text.startswith("sum of"):
        return "sum of terms"
    kind = next((k for k in EVIDENCE_KINDS if text.startswith(k)), None)
    if kind is None:
        raise DocsError(f"evidence {text!r} starts with none of {', '.join(EVIDENCE_KINDS)}")
    return kind


def kinds_of(labels: list[str]) -> str:
    """How many of a group of evidence texts carry each label ("by construction (3 of 3)")."""
    counts = {k: sum(evidence_kind(x) == k for x in labels) for k in (*EVIDENCE_KINDS, "sum of terms")}
    return ", ".join(f"{k} ({n} of {len(labels)})" for k, n in counts.items() if n) or "-"


def status_row(figure: str, value: str, evidence: str) -> str:
    """One row of the papers' status table (`status_table`)."""
    return f"| {figure} | {value} | {evidence} |"


# ----------------------------------------------------------------------------------------------- seed 000


def paper_configurations(problem) -> dict[str, dict[str, float]]:
    """The paper's scenario-3 and scenario-4 open lines evaluated on our curve without a lot (daily losses, VPD)."""
    from cosim.controllers.vector_problem import DayAheadVectorProblem  # noqa: PLC0415

    vp = DayAheadVectorProblem(problem)
    configs = {"S3": (7, 9, 13, 31, 37), "S4": (7, 11, 12, 31, 37)}
    top = np.array([sorted(c) for c in configs.values()], int)
    ev = vp.evaluate_plans(top, np.zeros((len(top), 0), int), np.zeros((len(top), 0, 24), int))
    out = {}
    for i, (state, open_ids) in enumerate(configs.items()):
        pred = vp.plan_from_plans(ev, i, controller="paper").predicted
        out[state] = {"open": "-".join(map(str, open_ids)), "of3_kwh": float(pred["of3_kwh"]),
                      "vpd": float(pred["vpd"]), "feasible": bool(np.isfinite(ev.cv[i]) and ev.cv[i] == 0)}
    return out


def eq9_of2() -> dict[str, float]:
    """S2-C2 and S4-C2 (OF2 cases, hourly reading) with eq. 9's lot power (10 kW per PEV), EO 30 x 500, seeds 0-1."""
    from cosim.studies.joape2024 import study as j  # noqa: PLC0415

    out = {}
    for scen in (2, 4):
        plan = j.best_of_seeds(j.seed000_problem(scen, "of2", eq6="hourly", lot_power="paper"), "eo", 30, 500, [0, 1])
        out[f"S{scen}-C2"] = float(plan.predicted["of2_kw"])
    return out


def seed000_extra(results: Path, run: bool) -> dict[str, Any]:
    """The scenario-3 screen and the hourly lower bound (seed 000's "could not reproduce" figures)."""
    path = results / "joape2024" / "scenario3_bounds.json"
    if run or not path.exists():
        from cosim.studies.joape2024 import study as j  # noqa: PLC0415

        problem = j.seed000_problem(3, "of3")
        screen = j.enumeration_reference(problem)
        lb = j.hourly_loss_lower_bound(problem)
        data = {"screen_kwh": float(screen.predicted["of3_kwh"]), "screen_open": list(screen.open_branches),
                "screened": int(screen.info["screened"]), "configs": int(screen.info["configs"]),
                "lower_bound_kwh": lb["lower_bound_kwh"], "peak_hour": lb["peak_hour"],
                "peak_hour_min_kw": lb["peak_hour_min_kw"], "paper_configurations": paper_configurations(problem),
                "eq9_of2": eq9_of2()}
        path.write_text(json.dumps(data, indent=1) + "\n")
    return json.loads(path.read_text())


LETTERS = {"independent": "i", "by construction": "b", "fitted": "f", "calibrated": "c", "assumed": "a"}
"""Table 2's one-letter evidence per cell (its legend says which is which)."""


def seed000_blocks(results: Path, run: bool) -> dict[str, str]:
    table, prov = load("joape2024", results)
    f = Figures(table)
    head = provenance_line(prov)
    t2 = pd.read_csv(results / "joape2024" / "table2.csv", keep_default_na=False)
    t3 = pd.read_csv(results / "joape2024" / "table3.csv")
    extra = seed000_extra(results, run)
    hourly = pd.read_csv(results / "joape2024" / "hourly.csv")
    peak_pevs = {st: float(hourly.loc[hourly.state == st, "pevs"].max()) for st in ("S4-C1", "S4-C2", "S4-C3")}
    fig10 = "Fig. 10 S4-C{c} PEVs at 07:00"
    lot_states = ("S2-C1", "S2-C2", "S4-C1", "S4-C2", "S4-C3")

    def pair(ours: Any, paper: Any) -> str:
        return f"{_fmt(ours)} ({_fmt(paper)})"

    def letters(state: str) -> str:
        out = []
        for q in ("OF1 benefit ($)", "OF2 LCD (kW)", "OF3 losses (kWh)", "VPD (p.u.)", "open lines", "lot bus"):
            key = f"{state} {q}"
            shown = key in f.t.index and not (f.text(key) in ("", "-", "nan") and f.text(key, "paper") in ("", "-"))
            out.append(LETTERS[f.kind(key)] if shown else "-")
        return " ".join(out)

    rows = ["| state | OF1 $ (paper) | OF2 kW (paper) | OF3 kWh (paper) | VPD (paper) | open lines (paper) | "
            "lot bus (paper) | evidence |", "|---|---|---|---|---|---|---|---|"]
    for r in t2.itertuples():
        rows.append(f"| {r.state} | {pair(r.of1_usd, r.of1_paper)} | {pair(r.of2_kw, r.of2_paper)} | "
                    f"{pair(r.of3_kwh, r.of3_paper)} | {pair(r.vpd_pu, r.vpd_paper)} | "
                    f"{r.open_lines} ({r.open_lines_paper}) | {pair(r.lot_bus, r.lot_bus_paper)} | "
                    f"{letters(r.state)} |")
    s = t2.set_index("state")
    gap = extra["screen_kwh"] - extra["lower_bound_kwh"]
    bound_note = ("the bound equals the screen's best, so that is the proven daily optimum" if gap <= 1e-6
                  else f"the screen's best lies {gap:.2f} kWh above the bound")
    lot_of2 = s.loc[s.scenario.isin([2, 4]), "of2_kw"].astype(float)
    paper_of2 = s.loc[s.scenario.isin([2, 4]), "of2_paper"].astype(float)
    best_loss_state = s.loc[s.scenario == 4, "of3_kwh"].astype(float).idxmin()
    eq6 = "daily" if "daily" in prov["command"] else "hourly"
    of2_fixed = bool(np.isclose(lot_of2.min(), lot_of2.max(), rtol=1e-9))
    of2_note = (f"Under eq. 6's {eq6} reading OF2 is {cell(lot_of2.min())} kW in every lot state (paper "
                f"{cell(paper_of2.min())}-{cell(paper_of2.max())}): it holds by construction, so the OF2 cases "
                "optimise only the loss tie-break." if of2_fixed else
                f"Under eq. 6's {eq6} reading OF2 with a lot ranges {cell(lot_of2.min())}-{cell(lot_of2.max())} kW "
                f"(paper {cell(paper_of2.min())}-{cell(paper_of2.max())}): the OF2 cases are real optimisations.")
    s2_loss = s.loc[s.scenario == 2, "of3_diff_pct"].astype(float)
    same_rank = int((t3["rank"] == t3["paper_rank"]).sum())
    pv_first = t3.loc[t3["paper_values_rank"] == 1, "state"].iloc[0]
    paper_first = t3.loc[t3["paper_rank"] == 1, "state"].iloc[0]
    table2 = "\n".join([
        head, "",
        "Cells: ours (paper). Evidence, one letter per cell from OF1 to lot bus (the reasons: the study's "
        "paper-vs-ours table in `cosim/studies/joape2024/README.md`): i = independent, b = by construction, "
        "f = fitted, c = calibrated, a = assumed, - = no figure.", "", *rows, "",
        f"{of2_note} S3's {cell(float(s.loc['S3-C3', 'of3_kwh']))} kWh is the best EO plan; "
        f"the best of a screen ({extra['screened']} of all {extra['configs']:,} radial configurations, ranked at the "
        f"mean-load hour, evaluated over the day) is {cell(extra['screen_kwh'])} kWh, and no plan can go below "
        f"{cell(extra['lower_bound_kwh'])} kWh (each hour's exhaustive minimum over all configurations, summed; "
        f"{bound_note}). The lowest scenario-4 "
        f"losses are {best_loss_state}'s {cell(float(s.loc[best_loss_state, 'of3_kwh']))} kWh. TOPSIS: "
        f"{same_rank} of {len(t3)} ranks equal the paper's; our TOPSIS on the paper's own Table 3 values ranks "
        f"{pv_first} first, the paper ranks {paper_first} first.", "",
        "Why each row differs from the paper (every figure below is computed by this script or the study):", "",
        *table2_why(s, extra),
    ])
    ranks = [q for q in f.t.index if q.endswith("TOPSIS rank")]
    same_ranks = [q for q in ranks if f.diff(q) == "same"]
    lot_of2_q = [f"{st} OF2 LCD (kW)" for st in lot_states]
    grid_q = [f"{st} {q}" for st in ("S2-C1", "S4-C1") for q in ("OF3 losses (kWh)", "VPD (p.u.)", "open lines",
                                                                 "lot bus")]
    fig5 = "Fig. 5 S4-C2 hours without benefit"
    status = "\n".join([
        status_row("S1 losses", f"{cell(f.ours('S1 OF3 losses (kWh)'))} vs {cell(f.paper('S1 OF3 losses (kWh)'))} "
                   f"kWh ({f.diff('S1 OF3 losses (kWh)')})", f.kind("S1 OF3 losses (kWh)")),
        status_row("S1 VPD", f"{cell(f.ours('S1 VPD (p.u.)'))} vs {cell(f.paper('S1 VPD (p.u.)'))} "
                   f"({f.diff('S1 VPD (p.u.)')})", f.kind("S1 VPD (p.u.)")),
        status_row("S1 OF2 (no lot)", f"{cell(f.ours('S1 OF2 LCD (kW)'))} kW ({f.diff('S1 OF2 LCD (kW)')})",
                   f.kind("S1 OF2 LCD (kW)")),
        status_row("S2-C1, S4-C1 OF1", f"{cell(f.ours('S2-C1 OF1 benefit ($)'))} / "
                   f"{cell(f.ours('S4-C1 OF1 benefit ($)'))} $ vs {cell(f.paper('S2-C1 OF1 benefit ($)'))} / "
                   f"{cell(f.paper('S4-C1 OF1 benefit ($)'))}", kinds_of([f.evidence("S2-C1 OF1 benefit ($)"),
                                                                        f.evidence("S4-C1 OF1 benefit ($)")])),
        status_row(f"OF2 with a lot (eq. 6 read {eq6})", f"{cell(lot_of2.min())}-{cell(lot_of2.max())} kW vs "
                   f"{cell(paper_of2.min())}-{cell(paper_of2.max())}",
                   kinds_of([f.evidence(q) for q in lot_of2_q]) + " (S4-C2 solves S2-C2's problem: OF2 ignores "
                   "topology and bus)"),
        status_row("S2-C1, S4-C1 losses, VPD, open lines, lot bus", "8 cells, see Table 2",
                   kinds_of([f.evidence(q) for q in grid_q]) + " (OF1 ignores the grid: a 1e-7 loss tie-break "
                   "sets them)"),
        status_row("S3 losses", f"{cell(f.ours('S3-C3 OF3 losses (kWh)'))} vs "
                   f"{cell(f.paper('S3-C3 OF3 losses (kWh)'))} kWh; no plan below "
                   f"{cell(extra['lower_bound_kwh'])}", f.kind("S3-C3 OF3 losses (kWh)")),
        status_row("TOPSIS ranks", f"{same_rank} of {len(t3)} equal the paper's "
                   f"({', '.join(q.removesuffix(' TOPSIS rank') for q in same_ranks)})",
                   "of the equal ranks: " + kinds_of([f.evidence(q) for q in same_ranks]) +
                   "; of all: " + kinds_of([f.evidence(q) for q in ranks])),
        status_row("Fig. 5 hours without benefit", f"{f.text(fig5)} vs {f.text(fig5, 'paper')}", f.kind(fig5)),
    ])
    notrepro = "\n".join([
        head, "",
        f"- **Scenario 3-4 losses.** S3 {cell(f.ours('S3-C3 OF3 losses (kWh)'))} kWh vs the paper's "
        f"{cell(f.paper('S3-C3 OF3 losses (kWh)'))} ({f.diff('S3-C3 OF3 losses (kWh)')}); S4-C3 "
        f"{cell(f.ours('S4-C3 OF3 losses (kWh)'))} vs {cell(f.paper('S4-C3 OF3 losses (kWh)'))} "
        f"({f.diff('S4-C3 OF3 losses (kWh)')}). Why: on our curve and network the paper's figure is out of reach. "
        f"Summing each hour's least loss over all {extra['configs']:,} radial configurations (every hour free to "
        f"pick its own) gives a lower bound of {cell(extra['lower_bound_kwh'])} kWh for scenario 3 "
        f"(peak hour {extra['peak_hour']}: {cell(extra['peak_hour_min_kw'])} kW at best); the best shared "
        f"configuration of a {extra['screened']}-configuration screen gives {cell(extra['screen_kwh'])} kWh "
        f"(open {'-'.join(str(b) for b in extra['screen_open'])}; {bound_note}). The paper's own VPD "
        f"({cell(f.paper('S3-C3 VPD (p.u.)'))} vs ours {cell(f.ours('S3-C3 VPD (p.u.)'))}) points to different "
        "network data or flow.",
        f"- **Base-case losses and VPD (S1, and S2 which keeps its topology).** S1 {f.diff('S1 OF3 losses (kWh)')} "
        f"losses, {f.diff('S1 VPD (p.u.)')} VPD; S2 losses {s2_loss.min():+.1f} to {s2_loss.max():+.1f} %. The "
        "curve was fitted to the paper's mean, peak and OF2, not to losses; every curve with that mean gives "
        "about this VPD on pandapower's case33bw, so the gap points to the paper's network data or flow "
        "(`scenarios/README.md`).",
        "- **Open lines (S3, S4).** Ours " + ", ".join(f"{st} {_fmt(f.text(st + ' open lines'))}" for st in
                                                       ("S3-C3", "S4-C1", "S4-C2", "S4-C3")) +
        "; the paper's " + ", ".join(
            f"{st} {c['open']} gives {cell(c['of3_kwh'])} kWh and VPD {cell(c['vpd'])} on our curve without a lot"
            for st, c in extra["paper_configurations"].items()) +
        f", against our S3 optimum's {cell(extra['screen_kwh'])} kWh: on our network data the paper's "
        "configurations are not the loss optimum.",
        "- **OF2 with a lot.** " + "; ".join(
            f"{st} {cell(float(s.loc[st, 'of2_kw']))} kW vs {cell(float(s.loc[st, 'of2_paper']))} "
            f"({float(s.loc[st, 'of2_diff_pct']):+.1f} %)" for st in lot_states) +
        (f". Under eq. 6's {eq6} reading every lot state has the same OF2 (by construction); the paper's values "
         "need more PEV-hours than that reading allows (`--eq6 hourly`)." if of2_fixed else
         f". Eq. 6 read {eq6} (100 PEVs in every charge / discharge hour): our OF2 cases flatten the curve, but "
         "our base curve's shape (a fit) and our SOC-weighted lot power (8.3 kW per charging PEV, 7 kW per "
         "discharging one) decide how far. With eq. 9's 10 kW per PEV (`--lot-power paper`, EO 30 x 500, seeds "
         "0-1) the OF2 cases reach " + ", ".join(f"{st} {cell(v)} kW" for st, v in extra["eq9_of2"].items()) +
         " (paper S2-C2 5,586.4, S4-C2 5,306.6)."),
        f"- **OF1 of the OF2/OF3 cases.** S2-C2 {cell(f.ours('S2-C2 OF1 benefit ($)'))} $ vs "
        f"{cell(f.paper('S2-C2 OF1 benefit ($)'))}, S4-C2 {cell(f.ours('S4-C2 OF1 benefit ($)'))} vs "
        f"{cell(f.paper('S4-C2 OF1 benefit ($)'))}: " + (
            "with OF2 fixed by construction our OF2 cases do not trade benefit for a flatter curve as the "
            "paper's do." if of2_fixed else "the benefit a plan keeps when it is optimised for another objective "
            "depends on the price away from its calibrated optimum, and the price is a load-following fit (the "
            "paper's Fig. 4 has no numbers), so these cells are only as good as that fit."),
        "- **Lot bus.** Ours " + ", ".join(f"{st} {f.text(st + ' lot bus')}" for st in lot_states) +
        "; the paper's 23 (scenario 2) and 28 (scenario 4). Where the lot goes follows from our losses on our "
        "curve; the paper does not say why its buses win.",
        f"- **TOPSIS ranking.** {same_rank} of {len(t3)} ranks equal the paper's. Our TOPSIS applied to the "
        f"paper's own Table 3 values ranks {pv_first} first, the paper {paper_first}: its ranking does not follow "
        "from its numbers with the stated weights.",
        "- **Fig. 10 PEVs at 07:00.** " + ", ".join(
            f"S4-C{c} {f.text(fig10.format(c=c))} (paper {f.text(fig10.format(c=c), 'paper')})" for c in (1, 2, 3))
        + "; our largest hourly count of charging PEVs: " + ", ".join(f"{st} {n:.0f}" for st, n in peak_pevs.items())
        + ". Our plans charge in other hours than the paper's.",
    ])
    return {"seed000-table2": table2, "seed000-exact": exact_block(t2, head, extra, load_full()),
            "seed000-status": status,
            "seed000-paper-vs-ours":
            f"{head}\n\n{paper_vs_ours_md(table)}", "seed000-not-reproduced": notrepro}


def table2_why(s: pd.DataFrame, extra: dict[str, Any]) -> list[str]:
    """One short "why" per Table 2 row (states indexed in `s`), from the study's figures and `seed000_extra`'s."""

    def d(state: str, col: str) -> str:
        v = _num(s.loc[state, col])
        return "-" if not np.isfinite(v) else f"{v:+.1f} %"

    lb, screen = extra["lower_bound_kwh"], extra["screen_kwh"]
    pc = extra["paper_configurations"]
    eq9 = extra.get("eq9_of2", {})
    base = f"the base case's own gap (S1 losses {d('S1', 'of3_diff_pct')}, VPD {d('S1', 'vpd_diff_pct')})"
    s3 = (f"no plan on our curve and network goes below {cell(lb)} kWh without a lot (each hour's exhaustive "
          f"minimum over all {extra['configs']:,} radial configurations, summed)")
    why = {
        "S1": f"OF2 {d('S1', 'of2_diff_pct')}: an equality of the curve fit. Losses {d('S1', 'of3_diff_pct')}, "
              f"VPD {d('S1', 'vpd_diff_pct')}: not fitted; they come from pandapower's case33bw data and the "
              "fitted curve's shape, so they measure the network data / flow gap.",
        "S2-C1": f"OF1 {d('S2-C1', 'of1_diff_pct')}: calibrated (the price peak). OF2 {d('S2-C1', 'of2_diff_pct')} and "
                 f"losses {d('S2-C1', 'of3_diff_pct')} are by-products of the benefit plan on our fitted curve and "
                 f"price; losses and VPD carry {base}.",
        "S2-C2": f"OF2 {d('S2-C2', 'of2_diff_pct')}: how flat the curve gets depends on the fitted curve's shape and "
                 "the SOC-weighted lot power (8.3 / 7 kW per PEV)" + (
                     f"; with eq. 9's 10 kW per PEV it is {cell(eq9['S2-C2'])} kW" if "S2-C2" in eq9 else "") +
                 f". OF1 {d('S2-C2', 'of1_diff_pct')}: a by-product on the fitted price. Losses "
                 f"{d('S2-C2', 'of3_diff_pct')}: {base}.",
        "S2-C3": f"Losses {d('S2-C3', 'of3_diff_pct')}: {base}. OF1 {d('S2-C3', 'of1_diff_pct')} and OF2 "
                 f"{d('S2-C3', 'of2_diff_pct')}: by-products of the loss plan, on a price that is a load-following "
                 "fit (the paper's Fig. 4 has no numbers).",
        "S3-C2": f"Losses {d('S3-C2', 'of3_diff_pct')}, VPD {d('S3-C2', 'vpd_diff_pct')}: {s3}, against the "
                 f"paper's 696; the paper's open lines {pc['S3']['open']} give {cell(pc['S3']['of3_kwh'])} kWh "
                 f"here. OF2 {d('S3-C2', 'of2_diff_pct')}: no lot, so the base curve's fitted OF2.",
        "S3-C3": f"The same plan as S3-C2 (no lot: OF2 cannot change, both cases minimise losses); best screened "
                 f"plan {cell(screen)} kWh.",
        "S4-C1": f"OF1 {d('S4-C1', 'of1_diff_pct')}: calibrated (OF1 does not depend on the grid). Losses "
                 f"{d('S4-C1', 'of3_diff_pct')}, VPD {d('S4-C1', 'vpd_diff_pct')}: {s3}; the paper's S4 open lines "
                 f"{pc['S4']['open']} give {cell(pc['S4']['of3_kwh'])} kWh here without a lot. OF2 "
                 f"{d('S4-C1', 'of2_diff_pct')}: a by-product of the benefit plan.",
        "S4-C2": f"OF2 {d('S4-C2', 'of2_diff_pct')}: as S2-C2 (curve shape, SOC-weighted lot power" + (
                     f"; eq. 9's 10 kW per PEV gives {cell(eq9['S4-C2'])} kW" if "S4-C2" in eq9 else "") +
                 f"). Losses {d('S4-C2', 'of3_diff_pct')}: not optimised here, and {s3}. OF1 "
                 f"{d('S4-C2', 'of1_diff_pct')}: a by-product on the fitted price.",
        "S4-C3": f"Losses {d('S4-C3', 'of3_diff_pct')}, VPD {d('S4-C3', 'vpd_diff_pct')}: {s3} (the lot lowers "
                 f"ours to {cell(_num(s.loc['S4-C3', 'of3_kwh']))}). OF1 {d('S4-C3', 'of1_diff_pct')}, OF2 "
                 f"{d('S4-C3', 'of2_diff_pct')}: by-products of the loss plan on the fitted price and curve.",
    }
    return [f"- **{st}.** {why[st]}" for st in s.index if st in why]


def exact_block(t2: pd.DataFrame, head: str, extra: dict[str, Any], full: dict[str, Any]) -> str:
    """EO against the exact references: per optimised state its objective (recomputed), the reference's value,
    kind (the `milp` controller and its HiGHS status, or scenario 3's configuration screen), bound, gaps and work
    (from the last full run, `FULL_RUN`), and the gap of EO to it."""
    from cosim.controllers.milp.controller import MilpController  # noqa: PLC0415
    from cosim.controllers.milp.refinement import NODE_LIMIT  # noqa: PLC0415
    from cosim.studies.joape2024.study import gap_pct  # noqa: PLC0415

    try:
        ref = pd.read_csv(FULL_RUN / "joape2024_exact.csv", keep_default_na=False).set_index("state")
    except FileNotFoundError:
        raise DocsError(f"{FULL_RUN / 'joape2024_exact.csv'} is missing: run regenerate_docs.py --full") from None
    units = {"of1": "$", "of2": "kW", "of3": "kWh"}
    keys = {"of1": "of1_usd", "of2": "of2_kw", "of3": "of3_kwh"}
    MAX_ROUNDS = MilpController().max_rounds  # noqa: N806 - the controller's default, named as in the text

    def kind(text: str) -> str:
        m = re.fullmatch(r"screen (\d+) of (\d+)", text)
        if m:
            return f"screen: best {m.group(1)} of all {int(m.group(2)):,} configurations"
        status = text.removeprefix("milp").strip()
        return ("`milp`, optimal" if status.lower() == "optimal" else
                "`milp`, stopped at its node limit" if status == "Solution limit reached" else
                f"`milp`, {status or 'no status'}" if text.startswith("milp") else text or "none (milp not installed)")

    def num(v: Any, fmt: str) -> str:
        x = _num(v)
        return "-" if not np.isfinite(x) else format(x, fmt)

    rows = ["| state | objective | EO (best of the seeds) | reference † | reference value † | gap % | model bound † | "
            "model gap % † | MIP gap % † | nodes † | reference time s † (timing) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    of2_milp: dict[str, float] = {}
    for r in t2.itertuples():
        if r.objective not in keys:
            continue
        if r.state not in ref.index:
            raise DocsError(f"{FULL_RUN / 'joape2024_exact.csv'} has no row {r.state}: run --full again")
        x = ref.loc[r.state]
        ours, value = _num(getattr(r, keys[r.objective])), _num(x.exact_objective)
        gap = gap_pct(ours, value, r.objective) if np.isfinite(value) else float("nan")
        if r.objective == "of2" and str(x.exact_reference).startswith("milp"):
            of2_milp[r.state] = value
        rows.append(f"| {r.state} | {r.objective.upper()} ({units[r.objective]}) | {cell(ours)} | "
                    f"{kind(str(x.exact_reference))} | {_fmt(value)} | {num(gap, '+.1f')} | {_fmt(x.exact_bound)} | "
                    f"{num(x.exact_model_gap_pct, '.2f')} | {num(x.exact_mip_gap_pct, '.2f')} | "
                    f"{num(x.exact_nodes, ',.0f')} | {num(x.exact_wall_s, '.1f')} |")
    eq9 = extra.get("eq9_of2", {})
    of2_note = ("; ".join(f"{st}: `milp` {cell(v)} kW, EO with eq. 9's lot power {cell(eq9[st])} kW"
                          for st, v in of2_milp.items() if st in eq9))
    return "\n".join([
        head, full_line(full, "joape2024", "The reference columns"), "",
        "Gap % = how much worse EO's objective is than the reference's, in % of the reference (negative: EO is "
        "better). The `milp` reference runs HiGHS on one thread within the work limit its command names "
        f"(`--exact-node-limit` nodes per cut round, `--exact-rounds` rounds; the controller's defaults are "
        f"{NODE_LIMIT:,} nodes and {MAX_ROUNDS} rounds) and no wall-clock limit, so the same commit gives "
        "the same column on any machine. Model bound: the best bound of its LinDistFlow model in the objective's "
        "units, its 1e-3 loss tie-break included (OF1, a benefit: an upper bound; else a lower bound), so it can lie "
        "on the far side of the reference value, which is evaluated exactly; model gap: its plan's LinDistFlow "
        "objective "
        "against that bound; MIP gap: HiGHS's gap in the last cut round.", "", *rows, "",
        "The `milp` reference solves the lot as eq. 9 models it: continuous power up to P^PEV n (10 kW per PEV), "
        "eq. 6 as equal kWh charged and discharged, OF1's per-PEV cost at P / P^PEV; the day-ahead problem (and "
        "EO) use whole PEVs at the SOC-weighted 8.3 / 7 kW by default. So the OF2 gap measures the lot power model, "
        "not the optimiser" + (f" ({of2_note}, `--lot-power paper`, EO 30 x 500, seeds 0-1)" if of2_note else "") +
        ". A `milp` stopped at its node limit has not proven its plan optimal, and a negative gap is EO beating it.",
    ])


# ------------------------------------------------------------------------------------------ seeds 001, 002, 003


def line_ratings() -> str:
    """Seeds 001 and 002's line-rating assumption in words (`cosim.studies.allocation.LINE_RATINGS`)."""
    from cosim.studies.allocation import LINE_RATINGS  # noqa: PLC0415

    return LINE_RATINGS


def seed002_arithmetic() -> dict[str, Any]:
    """Seed 002's Table 3 figures our model gives at the paper's allocation, for the "could not reproduce" text:
    its peak-power margin with no driving cost (Table 2's data: eq. 3, 4 and 6 only), and the V2G hours a year the
    paper's loss benefit needs, with the recharge losses the model charges and without them (V2G side only)."""
    from cosim.studies import allocation as al  # noqa: PLC0415
    from cosim.studies.moradijoz2013 import study as mj  # noqa: PLC0415

    p = al.LotParams()
    paper = mj.PAPER["table3"]
    n = float(sum(paper["evs"]))
    counts = mj.counts_from_levels(np.asarray(paper["evs"]) // mj.STEP_EVS)

    def loss_benefit(hours: float) -> tuple[float, float]:
        model = mj.model_for(1.0, "peak")
        model = dataclasses.replace(model, params=dataclasses.replace(model.params, t_disp_h=hours))
        ev = model.evaluate(counts)
        return float(ev["dc_loss"][0]), float(ev["dc_loss_dis"][0])

    (with0, v2g0), (with1, _) = loss_benefit(p.t_disp_h), loss_benefit(2 * p.t_disp_h)
    slope = (with1 - with0) / p.t_disp_h  # the loss benefit is affine in the V2G hours (recharge hours follow them)
    return {"evs": n, "p_kw": float(al.lot_power_kw(n, p.p_v_kw)), "price_pe": al.purchased_energy_price(p),
            "price_peak": p.price_peak, "hours": p.t_disp_h,
            "eq7": f"{p.price_off:g} / {p.mu_conv:g} + {p.c_d:g}", "cap_usd": float(al.capital_cost(n, p)),
            "margin_usd": float(al.v2g_revenue(n, p) - al.v2g_energy_cost(n, p) - al.capital_cost(n, p)),
            "hours_with_recharge": p.t_disp_h + (paper["dc_loss"] - with0) / slope,
            "hours_v2g_only": p.t_disp_h * paper["dc_loss"] / v2g0}


def seed002_blocks(results: Path) -> dict[str, str]:
    table, prov = load("moradijoz2013", results)
    f = Figures(table)
    head = provenance_line(prov)
    cases = pd.read_csv(results / "moradijoz2013" / "tables.csv")
    ga = cases[cases.quantity.str.startswith("eq.12")]
    ga_equal = int(np.isclose(ga.ga, ga.ours, rtol=1e-9).sum())
    t3 = cases[cases.table == "table3"].set_index("quantity")
    x = seed002_arithmetic()
    evs = [f"table3: EVs at bus {b}" for b in (2, 3, 6)]
    w = [q for q in f.t.index if q.startswith("scenario-2 AHP weight")]
    w_equal = sum(abs(f.ours(q) - f.paper(q)) < 5e-5 for q in w)

    def money(q: str) -> str:
        return f"{cell(f.ours(q))} vs {cell(f.paper(q))} $ ({f.diff(q)})"

    status = "\n".join([
        status_row("T3 total benefit", money("table3: total benefit $"),
                   f"{f.evidence('table3: total benefit $')}; the terms: " + kinds_of(
                       [f.evidence(f"table3: {t} benefit $") for t in ("loss", "reliability", "peak-power")])),
        status_row("T3 loss benefit", money("table3: loss benefit $"), f.kind("table3: loss benefit $")),
        status_row("T3 reliability benefit", money("table3: reliability benefit $"),
                   f.kind("table3: reliability benefit $")),
        status_row("T3 peak-power benefit", money("table3: peak-power benefit $"),
                   f.evidence("table3: peak-power benefit $")),
        status_row("T3 EVs at buses 2 / 3 / 6", f"{'/'.join(cell(f.ours(q)) for q in evs)} vs "
                   f"{'/'.join(cell(f.paper(q)) for q in evs)}", f.evidence(evs[0])),
        status_row("T4 total benefit (80 % availability)", money("table4: total benefit $"),
                   f.evidence("table4: total benefit $")),
        status_row("scenario-2 AHP weights", f"{w_equal} of {len(w)} equal the paper's to 4 decimals",
                   kinds_of([f.evidence(q) for q in w]) + " (our AHP on the paper's matrix)"),
        status_row("GA vs our exhaustive optimum", f"equal in {ga_equal} of {len(ga)} cases",
                   "an optimiser check, no paper figure"),
    ])
    notrepro = "\n".join([
        head, "",
        f"- **Peak-power benefit.** {cell(f.ours('table3: peak-power benefit $'))} $ at our optimum "
        f"({int(sum(f.ours(q) for q in evs))} EVs; the term depends on the total only), "
        f"{cell(float(t3.loc['peak-power benefit $', 'ours_at_paper_allocation']))} $ at the paper's "
        f"{x['evs']:,.0f} EVs, vs the paper's {cell(f.paper('table3: peak-power benefit $'))}: with its Table 2 data "
        f"(({x['price_peak']:g} - {x['price_pe']:.6f}) $/kWh x {x['p_kw']:,.0f} kW x {x['hours']:,.0f} h - "
        f"{x['cap_usd']:,.0f} $ of capacity cost = {cell(x['margin_usd'])} $ before any driving cost; "
        f"{x['price_pe']:.6f} $/kWh = {x['eq7']}, eq. 7) the paper's figure cannot be reached.",
        f"- **Lot at bus 6.** Ours {cell(f.ours('table3: EVs at bus 6'))} EVs vs the paper's "
        f"{cell(f.paper('table3: EVs at bus 6'))} (all three: "
        f"{'/'.join(cell(f.ours(q)) for q in evs)} vs {'/'.join(cell(f.paper(q)) for q in evs)}): the margin per "
        f"EV is positive, so only a binding limit stops growth: here our {line_ratings()} or the assumed 375 cap. "
        "The paper gives no ampacity or other constraint that yields 225.",
        f"- **Loss benefit.** {cell(f.ours('table3: loss benefit $'))} $ vs {cell(f.paper('table3: loss benefit $'))} "
        f"({f.diff('table3: loss benefit $')}): {x['hours']:,.0f} h of V2G at the peak price minus the recharge "
        f"losses. At the paper's allocation our model reaches the paper's figure with {x['hours_with_recharge']:,.0f} "
        f"h of V2G a year ({x['hours_v2g_only']:,.0f} h if the recharge losses were not charged), or with other "
        "prices (not stated).",
        f"- **Headline total.** T3 {f.diff('table3: total benefit $')} is the sum of a "
        f"{f.diff('table3: loss benefit $')} loss term, a {f.diff('table3: reliability benefit $')} reliability "
        f"term (assumed failure data) and a {f.diff('table3: peak-power benefit $')} peak-power term: terms of "
        "opposite sign offset each other, so the total's gap is no evidence of agreement.",
        f"- **Table 5 (price peak at light load).** Ours {cell(f.ours('table5: total benefit $'))} $ vs "
        f"{cell(f.paper('table5: total benefit $'))}: its negative reliability and loss terms need the charging "
        "lot to count as load not supplied, which our backup model cannot give.",
        f"- **Scenario 2 (Table 6).** Ours {'/'.join(cell(f.ours(f'table6: EVs at bus {b}')) for b in (2, 3, 6))} "
        f"EVs vs the paper's 25/50/150; total {f.diff('table6: total benefit $')}.",
        f"- **Fig. 5.** Zero crossing at availability {cell(f.ours('Fig. 5: availability below which the total '
                                                                   'benefit is negative'))} vs ~0.35.",
    ])
    return {"seed002-status": status, "seed002-paper-vs-ours": f"{head}\n\n{paper_vs_ours_md(table)}",
            "seed002-not-reproduced": notrepro}


def seed001_blocks(results: Path) -> dict[str, str]:
    table, prov = load("arabi2025", results)
    f = Figures(table)
    head = provenance_line(prov)
    cases = pd.read_csv(results / "arabi2025" / "tables.csv", keep_default_na=False)
    obj = cases[cases.quantity.str.startswith("objective")]
    cvs = cases[cases.quantity.str.startswith("constraint violation")].set_index("scenario")
    opt_lines = []
    for r in obj.itertuples():
        ex, pso = _num(r.ours), _num(r.pso)
        pso_cv = _num(cvs.loc[r.scenario, "pso"])
        verdict = "equal" if np.isclose(ex, pso, rtol=1e-9) else f"PSO {100 * (pso - ex) / abs(ex):+.3f} %"
        if pso_cv > 0:
            verdict = f"PSO infeasible: constraint violation {pso_cv:.4g}"
        opt_lines.append(f"{r.scenario.split(':')[0].split(' ')[0]} PSO {cell(pso)} vs exhaustive {cell(ex)} "
                         f"({verdict})")
    labels = sorted({q.split(":")[0] for q in table.quantity if ":" in q})
    caps = ", ".join(f"{lab.split(' ')[0]} {f.diff(lab + ': total capacity kW')}" for lab in labels)
    vgap = table[table.quantity.str.contains("without V2G")]
    vmax = max(abs(_num(r.ours) - _num(r.paper)) / _num(r.paper) * 100 for r in vgap.itertuples())
    sizes = [int(n.split("@")[0]) for v in cases.loc[cases.quantity.str.startswith("lots"), "ours"]
             for n in str(v).split(", ") if "@" in n]
    at_cap = f"all {len(sizes)} lots at the assumed 375-EV cap" if sizes and min(sizes) == 375 else \
        f"lot sizes {min(sizes)}-{max(sizes)} EVs (cap 375, assumed)"
    v_with = table[table.quantity.str.contains("with V2G")]
    v_kinds = v_with.evidence.map(evidence_kind)
    v_ind = v_with[v_kinds == "independent"]
    v_ind_max = max((abs(_num(r.ours) - _num(r.paper)) / _num(r.paper) * 100 for r in v_ind.itertuples()), default=0)
    per = "; ".join

    def each(q: str, fmt=lambda lab, q: f"{cell(f.ours(lab + q))} vs {cell(f.paper(lab + q))}") -> str:
        return per(f"{lab.split(' ')[0]} {fmt(lab, q)}" for lab in labels)

    status = "\n".join([
        status_row("bus voltages without V2G", f"within {vmax:.1f} %",
                   kinds_of(list(table.loc[table.quantity.str.contains("without V2G"), "evidence"]))),
        status_row("bus voltages with V2G", f"within {v_ind_max:.1f} % where a lot is on the feeder",
                   kinds_of(list(v_with.evidence)) + " (a bus on a feeder without a lot keeps its fitted value)"),
        status_row("lot sizes, total capacity", f"{at_cap}; total capacity {caps}",
                   f.evidence(labels[0] + ": total capacity kW")),
        status_row("peak-power benefit ($)", each(": peak-power benefit $"),
                   f.evidence(labels[0] + ": peak-power benefit $")),
        status_row("loss benefit ($)", each(": loss benefit $"), f.kind(labels[0] + ": loss benefit $")),
        status_row("objective (our model): our optimum vs the paper's allocation", each(OBJ), f.kind(labels[0] + OBJ)),
        status_row("constraint violation of our optimum",
                   per(f"{lab.split(' ')[0]} {_fmt(f.text(lab + ': ' + CV))}" for lab in labels),
                   f.kind(labels[0] + ": " + CV)),
        status_row("PSO vs our exhaustive optimum", per(opt_lines), "an optimiser check, no paper figure"),
    ])
    optimiser = head + "\n\nPSO (40 particles x 200 iterations, seed 0) against the exhaustive optimum on the same " \
        "5-EV grid: " + "; ".join(opt_lines) + "."
    notrepro = "\n".join([
        head, "",
        "- **Lot sizes.** Ours: " + "; ".join(f"{lab.split(' ')[0]} {f.text(lab + ': lots (EVs@bus)')} (paper "
                                               f"{f.text(lab + ': lots (EVs@bus)', 'paper')})" for lab in labels)
        + f"; total capacity {caps} against the paper. The paper's stated terms are linear in the EV count with "
        f"a positive margin per EV, so only limits bound the lots: our {line_ratings()}, which bind as P_v grows, "
        "and the 375-EV cap; the paper states neither.",
        "- **Peak-power benefit.** " + "; ".join(
            f"{lab.split(' ')[0]} {cell(f.ours(lab + ': peak-power benefit $'))} $ vs "
            f"{cell(f.paper(lab + ': peak-power benefit $'))}" for lab in labels) +
        ": ours grows with the capacity; the paper's falls as P_v grows, which its terms do not give.",
        "- **Loss benefit.** " + "; ".join(
            f"{lab.split(' ')[0]} {cell(f.ours(lab + ': loss benefit $'))} $ vs "
            f"{cell(f.paper(lab + ': loss benefit $'))}" for lab in labels) +
        ": at our (capped) sizes the recharge losses outgrow the V2G gain.",
        "- **Objective at the paper's allocation.** " + "; ".join(
            f"{lab.split(' ')[0]} {cell(f.paper(lab + OBJ))} vs ours {cell(f.ours(lab + OBJ))}" for lab in labels)
        + ": the paper's allocations are far from optimal under its stated objective (equal weights).",
    ])
    return {"seed001-status": status, "seed001-optimiser": optimiser,
            "seed001-paper-vs-ours": f"{head}\n\n{paper_vs_ours_md(table)}", "seed001-not-reproduced": notrepro}


def seed003_blocks(results: Path) -> dict[str, str]:
    table, prov = load("neyestani2015", results)
    full = load_full()
    head = provenance_line(prov)
    folder = results / "neyestani2015"
    stage = pd.read_csv(folder / "comparison.csv").set_index("finding")["stage"]
    table = table.assign(stage=table.quantity.map(stage))
    same = table.difference == "same"
    findings = table.iloc[1:]
    sat = table.iloc[0]
    by_stage = {k: (int((g.difference == "same").sum()), len(g)) for k, g in findings.groupby("stage")}
    status = "\n".join([
        status_row("profit saturation (stations)", f"{_fmt(sat.ours)} vs {_fmt(sat.paper)}",
                   evidence_kind(sat.evidence)),
        status_row("qualitative findings", f"{int(same.iloc[1:].sum())} of {len(findings)} reproduced (stage 1: "
                   f"{by_stage[1][0]} of {by_stage[1][1]}; stage 2, last full run: {by_stage[2][0]} of "
                   f"{by_stage[2][1]})", kinds_of(list(findings.evidence)) + " (on assumed prices, tariffs and costs)"),
    ])
    differs = table[table.difference == "differs"]
    s1 = pd.read_csv(folder / "stage1_cases.csv").set_index(["case", "season"])
    alloc = pd.read_csv(folder / "stage2_allocation.csv")

    def by_case(col: str) -> str:
        c1, c2 = s1.loc[1, col], s1.loc[2, col]
        return (f"case 1 {c1.min():,.0f}-{c1.max():,.0f} vs case 2 {c2.min():,.0f}-{c2.max():,.0f} kWh over the "
                "four seasons")

    def layouts(objective: str, sizes) -> str:
        sel = alloc[(alloc.objective == objective) & alloc.stations.isin(sizes)]
        return "; ".join(f"{r.stations} stations: {r.layout}" for r in sel.itertuples())

    figures = {"case 1 mean SOC": by_case("mean_soc_kwh"), "case 1 buys": by_case("buy_kwh"),
               "case 2 sells": by_case("sell_kwh"), "loss objective, 200/250": layouts("loss", (200, 250)),
               "total objective": layouts("total", (200,)) + " (EENS objective: " + layouts("eens", (200,)) + ")"}

    def figure(q: str) -> str:
        return next((v for k, v in figures.items() if q.startswith(k)), "")

    marked = table.assign(ours=[f"{o} {FULL_MARK}" if st == 2 else o for o, st in zip(table.ours, table.stage)])
    stage2 = full_line(full, "neyestani2015", "The stage-2 findings (from its MILPs' allocations)")
    notrepro = "\n".join([head, stage2, ""] +
                         [f"- **{r.quantity}.** Paper {r.paper}, ours {r.ours}{' ' + FULL_MARK if r.stage == 2 else ''}"
                          f": {figure(r.quantity)}." for r in differs.itertuples()] +
                         ["", "Why, finding by finding: the section \"Why ours differs\" above."])
    return {"seed003-status": status,
            "seed003-paper-vs-ours": f"{head}\n{stage2}\n\n{paper_vs_ours_md(marked)}",
            "seed003-not-reproduced": notrepro}


SEEDS = (("000 (JOAPE 2024)", "joape2024", "`cosim/studies/joape2024/README.md`, Table 2 below"),
         ("001 (Algorithms 2025)", "arabi2025", "`cosim/studies/README_allocation.md`"),
         ("002 (IJEPES 2013)", "moradijoz2013", "`cosim/studies/README_allocation.md`"),
         ("003 (TPWRS 2015)", "neyestani2015", "`cosim/studies/neyestani2015/README.md`"))
"""The papers' status table: seed, study, where its full paper-vs-ours table is."""


def status_table(blocks: dict[str, str], commands: dict[str, str]) -> str:
    """The commands, then one row per headline figure of each seed with its evidence label."""
    lines = ["| seed | command | full paper-vs-ours table |", "|---|---|---|"]
    lines += [f"| {seed} | `{commands[study]}` | {where} |" for seed, study, where in SEEDS]
    lines += ["", "| seed | figure | ours vs paper | evidence |", "|---|---|---|---|"]
    for seed, study, _ in SEEDS:
        key = {"joape2024": "seed000", "arabi2025": "seed001", "moradijoz2013": "seed002",
               "neyestani2015": "seed003"}[study]
        lines += [f"| {seed.split(' ')[0]} |{row[1:]}" for row in blocks[f"{key}-status"].splitlines()]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- regenerate


BLOCKS: dict[Path, tuple[str, ...]] = {
    VALIDATION: ("papers-status", "seed000-table2", "seed000-exact"),
    README_000: ("seed000-paper-vs-ours", "seed000-not-reproduced"),
    README_ALLOC: ("seed002-paper-vs-ours", "seed002-not-reproduced", "seed001-optimiser", "seed001-paper-vs-ours",
                   "seed001-not-reproduced"),
    README_003: ("seed003-paper-vs-ours", "seed003-not-reproduced"),
}
"""Doc file -> the generated blocks it holds (every other line of it is hand-written)."""


def build_blocks(results: Path, run: bool = False) -> dict[str, str]:
    """Every generated block from the studies' outputs in `results` and the last full run (`FULL_RUN`)."""
    blocks: dict[str, str] = {}
    blocks.update(seed000_blocks(results, run))
    blocks.update(seed002_blocks(results))
    blocks.update(seed001_blocks(results))
    blocks.update(seed003_blocks(results))
    commands = {s: json.loads((results / s / "provenance.json").read_text())["command"] for s in STUDY_ARGS}
    commits = sorted({json.loads((results / s / "provenance.json").read_text())["commit"] for s in STUDY_ARGS})
    full = load_full()
    blocks["papers-status"] = "\n".join([
        "_Generated by `scripts/regenerate_docs.py` from the commands in the table below at commit "
        f"{' / '.join(f'`{c}`' for c in commits)}. Do not edit by hand: rerun the script._",
        f"_Seed 003's stage-2 findings come from `scripts/regenerate_docs.py --full`, last full run at commit "
        f"`{full['neyestani2015']['commit']}` ({full['neyestani2015']['date']})._", "",
        f"Evidence: {EVIDENCE_RULE}. Each row's label says what a match is worth: independent; by construction "
        "(it could not have come out otherwise); fitted or calibrated (an input was chosen to hit it); assumed (it "
        "rests on parameters the paper does not give). A label with counts covers several cells.", "",
        status_table(blocks, commands)])
    return blocks


def write_docs(blocks: dict[str, str]) -> list[Path]:
    written = []
    for path, names in BLOCKS.items():
        text = path.read_text()
        new = text
        for name in names:
            new = replace_block(new, name, blocks[name])
        if new != text:
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(new)
            tmp.replace(path)
            written.append(path)
    return written


# ------------------------------------------------------------------------------------------------- check


def expected_blocks(results: Path | None = None) -> dict[str, str]:
    """The blocks as the code makes them now: every study recomputed (`compute`) into `results` (a temporary folder
    when None), the full run's cells read from `FULL_RUN`."""
    if results is not None:
        compute(results)
        return build_blocks(results)
    with tempfile.TemporaryDirectory(prefix="docs-check-") as tmp:
        compute(Path(tmp))
        return build_blocks(Path(tmp))


def compare(expected: dict[str, str], texts: dict[Path, str] | None = None) -> list[str]:
    """Disagreements between the docs (`texts`: path -> text; None: the files of `BLOCKS`) and the blocks the code
    makes (`expected`), cell by cell and sentence by sentence (`docs_compare`); empty when they agree."""
    texts = {path: path.read_text() for path in BLOCKS} if texts is None else texts
    problems: list[str] = []
    for path, names in BLOCKS.items():
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        for name in names:
            try:
                body = read_block(texts[path], name)
            except DocsError as exc:
                problems.append(f"{rel}: {exc}")
                continue
            problems += compare_block(f"{rel}, block {name}", body, expected[name].rstrip("\n") + "\n")
    return problems


def check() -> list[str]:
    """Recompute everything but the full run's cells and compare with the docs (`compare`)."""
    return compare(expected_blocks())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="study outputs (default: %(default)s)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--no-run", action="store_true", help="use the outputs already in --results")
    mode.add_argument("--full", nargs="*", choices=sorted(FULL_ARGS), default=None, metavar="STUDY",
                      help="first run what only a full run recomputes (of these studies; none named: all) and record "
                           f"it in {FULL_RUN.relative_to(ROOT)}")
    mode.add_argument("--check", action="store_true", help="recompute and compare with the docs; change nothing")
    args = ap.parse_args(argv)
    try:
        if args.check:
            t0 = dt.datetime.now(dt.timezone.utc)
            problems = check()
            for p in problems:
                print(p)
            wall = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
            print(f"docs agree with the code ({wall:.0f} s)" if not problems else f"{len(problems)} disagreement(s)")
            return 1 if problems else 0
        if args.full is not None:
            studies = args.full or sorted(FULL_ARGS)
            print(f"full run of {', '.join(studies)} (minutes) ...", flush=True)
            record = full_run(args.results, studies)
            print("  " + "; ".join(f"{k} {v['wall_s']:.0f} s" for k, v in record.items() if k in studies), flush=True)
            load_full()  # every study recorded, or say which is missing
        if not args.no_run:
            print("recomputing the studies ...", flush=True)
            compute(args.results)
        for path in write_docs(build_blocks(args.results)):
            print(f"rewrote {path.relative_to(ROOT)}")
    except DocsError as exc:
        print(f"regenerate_docs: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
