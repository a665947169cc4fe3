"""Command line: `cosim run|study|report|compare|validate`. Errors are one clear line, exit code 2 (bad input)
or 1 (a run that stopped part-way; its results are kept)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.run import run_scenario  # noqa: PLC0415

    overrides = {}
    if args.days is not None:
        overrides["days"] = args.days
    scenario = load_scenario(args.scenario, overrides)
    if scenario.seasons:
        from cosim.seasonal import run_seasons  # noqa: PLC0415

        parent, table = run_seasons(scenario, output_dir=args.output, progress=not args.quiet)
        print(f"results: {parent}")
        print(table.to_string(index=False))
        return 0
    print(f"running {scenario.name}: {scenario.days} day(s) on {scenario.network}, controller {scenario.controller}, "
          f"exchange {scenario.exchange}", file=sys.stderr)
    summary = run_scenario(scenario, output_dir=args.output, progress=not args.quiet)
    print(f"results: {summary.run_dir}  ({summary.wall_s:.1f} s)")
    print(json.dumps(summary.kpis, indent=2))
    return 0


def _report(args: argparse.Namespace) -> int:
    from cosim.report import make_plots  # noqa: PLC0415

    for path in make_plots(Path(args.run)):
        print(path)
    return 0


def _study(args: argparse.Namespace) -> int:
    if args.name != "joape2024":
        raise ValueError(f"unknown study {args.name!r}; studies: joape2024")
    from cosim.studies.joape2024 import main as study_main  # noqa: PLC0415

    return study_main(["--out", args.output, "--particles", str(args.particles), "--iterations", str(args.iterations),
                       "--seed", str(args.seed)])


def _compare(args: argparse.Namespace) -> int:
    from cosim.compare import compare_exchange_modes  # noqa: PLC0415

    table = compare_exchange_modes(args.scenario, args.output)
    print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cosim", description="DSO / parking-lot operator co-simulation")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario (default: scenarios/default.toml)")
    run.add_argument("scenario", nargs="?", default=None, help="scenario TOML file")
    run.add_argument("--days", type=int, default=None, help="override the scenario's number of days")
    run.add_argument("--output", default=None, help="results folder (default: the scenario's output_dir)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    rep = sub.add_parser("report", help="rebuild the plots of a run folder")
    rep.add_argument("run", help="results/<run-id>")
    study = sub.add_parser("study", help="reproduce a paper's study (joape2024 = seed 000)")
    study.add_argument("name", choices=["joape2024"])
    study.add_argument("--output", default="results/study-joape2024")
    study.add_argument("--particles", type=int, default=30)
    study.add_argument("--iterations", type=int, default=500)
    study.add_argument("--seed", type=int, default=0)
    cmp_ = sub.add_parser("compare", help="run one scenario in the four exchange modes and compare KPIs")
    cmp_.add_argument("scenario", nargs="?", default=None)
    cmp_.add_argument("--output", default="results/compare")
    sub.add_parser("validate", help="check the fast power flow against pandapower on every network")
    args = parser.parse_args(argv)
    handlers = {"run": _run, "report": _report, "study": _study, "compare": _compare}
    try:
        if args.command == "validate":
            from cosim.validate import main as validate_main  # noqa: PLC0415

            return validate_main()
        return handlers[args.command](args)
    except ValueError as exc:  # our own input errors (scenario, profile, network, ...) are ValueErrors
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"cosim {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
