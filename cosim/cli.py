"""Command line: `cosim run|study|report|compare|validate`. Errors are one clear line, exit code 2 (bad input, a
results folder that cannot be written), 1 (a run that stopped part-way; its results are kept) or 3 (a run stopped
at its first planning fallback, `cosim run --strict` or `[controller] on_failure = "stop"`; its results so far are
kept); Ctrl-C, SIGTERM or SIGHUP: one line, 128 + the signal's number (130, 143, 129), the run's folder and
manifest final.

Signal handling belongs here, not to the library: `cosim run` (and `cosim sweep`, in its own parser) install
`StopSignals`. The exit code always agrees with the run's manifest: a signal that arrives once a run's final
manifest is written (say right after report.html) ends the command at once with the code that manifest stands for,
0 for "completed" (a line says so), also after the command returned, until the process exits.

Each planning fallback of a run prints one warning line on stderr (the hour, the exception or rule, the user's
file:line; the traceback is in the run folder's tracebacks.txt), and `cosim run` ends with the fallback count."""

from __future__ import annotations

import os
import signal
import sys

from cosim.errors import CosimError, InputError, signal_label  # no imports of its own: before the handlers

_START_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _stopped_while_starting(signum: int, frame: object) -> None:
    """A stop signal while the `cosim` program imports its modules (before `main` runs): nothing is written yet, so
    one line and the exit code at once; Python would print the import's traceback."""
    os.write(2, f"cosim: stopped by {signal_label(signum)}\n".encode())
    os._exit(128 + signum)


def _is_the_program() -> bool:
    """Whether this import is the `cosim` program's own (its console script, or `python -m cosim.cli`), not a
    library's or a test's."""
    if __name__ == "__main__":
        return True
    main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    return os.path.basename(main_file) == "cosim" and os.path.basename(sys.argv[0] if sys.argv else "") == "cosim"


_HANDLED_WHILE_STARTING = _is_the_program()
if _HANDLED_WHILE_STARTING:  # first thing, before the imports below (a second or more on a loaded machine)
    for _name in _START_SIGNALS:
        if hasattr(signal, _name) and signal.getsignal(getattr(signal, _name)) is not signal.SIG_IGN:
            signal.signal(getattr(signal, _name), _stopped_while_starting)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from cosim.logs import LEVELS, configure_logging  # noqa: E402
from cosim.studies import STUDY_DESCRIPTIONS  # noqa: E402

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace) -> int:
    from cosim.config import load_scenario  # noqa: PLC0415
    from cosim.runner.run import run_scenario  # noqa: PLC0415

    overrides = {}
    if args.days is not None:
        overrides["days"] = args.days
    scenario = load_scenario(args.scenario, overrides)
    output = {k: v for k, v in (("figure_format", args.format), ("dpi", args.dpi), ("format", args.tables),
                                ("plots", False if args.no_plots else None)) if v is not None}
    if output:
        from cosim.config import with_output  # noqa: PLC0415

        scenario = with_output(scenario, **output)
    if args.strict:
        from cosim.config import with_on_failure  # noqa: PLC0415

        scenario = with_on_failure(scenario, "stop")
    if scenario.seasons:
        from cosim.runner.seasonal import run_seasons  # noqa: PLC0415

        parent, table = run_seasons(scenario, output_dir=args.output, progress=not args.quiet)
        args.single_run = False  # several manifests: a late stop is the stop of the whole command
        print(f"results: {parent}")
        print(table.to_string(index=False))
        fallbacks = int(table["fallbacks"].sum()) if "fallbacks" in table else 0
        print(f"fallbacks: {fallbacks} (see each season's events.csv{_TRACEBACKS if fallbacks else ''})")
        return 0
    log.info("running %s: %d day(s) on %s, controller %s, exchange %s", scenario.name, scenario.days,
             scenario.network, scenario.controller, scenario.exchange)
    args.single_run = True  # one run: once its manifest is final, the exit code is the one it stands for
    summary = run_scenario(scenario, output_dir=args.output, progress=not args.quiet)
    print(f"results: {summary.run_dir}  ({summary.wall_s:.1f} s)")
    fallbacks = int(summary.kpis.get("fallbacks", 0))
    print(f"fallbacks: {fallbacks} (see events.csv{_TRACEBACKS if fallbacks else ''})")
    print(json.dumps(summary.kpis, indent=2))
    return 0


_TRACEBACKS = " and tracebacks.txt"


def _report(args: argparse.Namespace) -> int:
    from cosim.runner.report import make_plots  # noqa: PLC0415

    for path in make_plots(Path(args.run), fmt=args.format, dpi=args.dpi):
        print(path)
    return 0


def _study(args: argparse.Namespace) -> int:
    from cosim.studies import STUDIES  # noqa: PLC0415 - lazy

    return STUDIES.resolve(args.name)(args.study_args)


def _sweep(args: argparse.Namespace) -> int:
    from cosim.sweep.runner import main as sweep_main  # noqa: PLC0415

    return sweep_main(args.sweep_args)


def _compare(args: argparse.Namespace) -> int:
    from cosim.runner.compare import compare_control, compare_data_quality, compare_exchange_modes  # noqa: PLC0415

    compare = {"data-quality": compare_data_quality, "control": compare_control}.get(args.what, compare_exchange_modes)
    table = compare(args.scenario, args.output, replications=args.replications)
    print(table)
    return 0


def _whole_number(text: str) -> int | str:
    """An integer option as given; anything else is passed on as text for the command's own one-line check."""
    try:
        return int(text)
    except ValueError:
        return text


def _version() -> str:
    from cosim import __version__  # noqa: PLC0415 - lazy

    return __version__


def _pop_log_level(argv: list[str]) -> tuple[str, list[str]]:
    """`--log-level LEVEL` (or `--log-level=LEVEL`) given before the command; the rest of argv untouched, so
    that `sweep` and `study` keep their own arguments."""
    if argv and argv[0].startswith("--log-level="):
        return argv[0].partition("=")[2], argv[1:]
    if len(argv) >= 2 and argv[0] == "--log-level":
        return argv[1], argv[2:]
    return "warning", argv


def _main(argv: list[str] | None, own_process: bool) -> int:
    parser = argparse.ArgumentParser(prog="cosim", description="DSO / parking-lot operator co-simulation",
                                     epilog="exit codes: 0 done; 1 a run that stopped part-way (results kept); 2 bad "
                                            "input; 3 a run stopped at its first planning fallback (--strict, "
                                            "[controller] on_failure = \"stop\"); 130 Ctrl-C, 143 SIGTERM")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--log-level", choices=LEVELS, default="warning",
                        help="status messages on stderr at this level and above (default: warning)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario (default: scenarios/default.toml)")
    run.add_argument("scenario", nargs="?", default=None, help="scenario TOML file")
    run.add_argument("--days", type=int, default=None, help="override the scenario's number of days")
    run.add_argument("--output", default=None, help="results folder (default: the scenario's output_dir)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--strict", action="store_true",
                     help="stop at the first planning fallback (controller error, time limit, crash, exit or a plan a "
                          "rule rejects), exit code 3; as [controller] on_failure = \"stop\"")
    run.add_argument("--format", choices=["png", "pdf", "svg"], default=None,
                     help="figure format (default: the scenario's [output] figure_format, else png)")
    run.add_argument("--dpi", type=int, default=None, help="figure resolution (default: [output] dpi, else 300)")
    run.add_argument("--tables", choices=["csv", "parquet"], default=None,
                     help="table format at the end of the run (default: [output] format, else csv)")
    run.add_argument("--no-plots", action="store_true",
                     help="no figures nor report.html, and no figure process: the tables only, as [output] plots = "
                          "false (`cosim report RUN_DIR` draws them later)")
    rep = sub.add_parser("report", help="rebuild the figures and report.html of a run folder")
    rep.add_argument("run", help="results/<run-id>")
    rep.add_argument("--format", choices=["png", "pdf", "svg"], default=None,
                     help="figure format (default: the run's [output] figure_format, else png)")
    rep.add_argument("--dpi", type=int, default=None, help="figure resolution (default: the run's [output] dpi, "
                                                           "else 300)")
    study = sub.add_parser("study", help="reproduce a paper's study; options after the name go to the study "
                                         "(e.g. `cosim study joape2024 --help`)",
                           description="; ".join(f"{k}: {v}" for k, v in STUDY_DESCRIPTIONS.items()))
    study.add_argument("name", choices=sorted(STUDY_DESCRIPTIONS))
    study.add_argument("study_args", nargs=argparse.REMAINDER)
    swp = sub.add_parser("sweep", help="run many variations of a scenario (see cosim sweep --help)", add_help=False)
    swp.add_argument("sweep_args", nargs=argparse.REMAINDER)
    cmp_ = sub.add_parser("compare", help="one scenario in the four exchange modes (default) or under bad data "
                                          "(--what data-quality); KPIs side by side")
    cmp_.add_argument("scenario", nargs="?", default=None)
    cmp_.add_argument("--what", choices=["exchange", "data-quality", "control"], default="exchange")
    cmp_.add_argument("--output", default="results/compare")
    cmp_.add_argument("--replications", type=_whole_number, default=1, metavar="N",
                      help="run each variant over N scenario seeds (the scenario's seed and the next ones) and report "
                           "the mean and 95 %% confidence interval per KPI (default 1)")
    sub.add_parser("validate", help="check the fast power flow against pandapower on every network "
                                    "(see cosim validate --help: --network NAME, --exhaustive, --hit-rates)",
                   add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    log_level, argv = _pop_log_level(argv)
    try:
        configure_logging(log_level)
    except InputError as exc:
        parser.error(str(exc))  # exit 2 with the usage line
    if len(argv) >= 1 and argv[0] == "sweep":  # everything after `sweep` belongs to the sweep's own parser
        args = argparse.Namespace(command="sweep", sweep_args=argv[1:])
    elif len(argv) >= 1 and argv[0] == "validate":  # its options belong to cosim.validate's own parser
        args = argparse.Namespace(command="validate", validate_args=argv[1:])
    elif len(argv) >= 2 and argv[0] == "study" and argv[1] in STUDY_DESCRIPTIONS:
        args = argparse.Namespace(command="study", name=argv[1], study_args=argv[2:])
    else:
        args = parser.parse_args(argv)
    handlers = {"run": _run, "report": _report, "study": _study, "compare": _compare, "sweep": _sweep}
    _command[0] = args.command
    if args.command == "validate":
        from cosim.validate import main as validate_main  # noqa: PLC0415

        return _command_code(lambda a: validate_main(a.validate_args), args, _NoStops())
    from cosim.results.manifest import StopSignals  # noqa: PLC0415 - pandas; only once a command runs

    # SIGTERM and SIGHUP stop a command as Ctrl-C does (a run finalises its manifest); held outside the command
    stops = StopSignals(raising=False, exit_after=own_process)
    with stops:
        code = _command_code(handlers[args.command], args, stops)
        stops.final_exit_code = code  # also what a signal after this point exits with (`exit_after`)
        return code


class _NoStops:
    """`cosim validate` installs no handler (no run folder to finalise): Ctrl-C is Python's KeyboardInterrupt."""

    final_exit_code = None

    def raising(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


def _command_code(handler: Any, args: argparse.Namespace, stops: Any) -> int:
    """Run the command while signals may stop it; its exit code, with one line for any error or stop."""
    try:
        with stops.raising():
            return handler(args)
    except InputError as exc:  # bad input (scenario, profile, network, options, ...): nothing was run
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CosimError as exc:  # RunError and the rest of our tree: a run that stopped; its results are kept
        print(f"cosim {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)  # RunInterrupted: 128 + the signal; PlanningStopped: 3
    except OSError as exc:  # a folder that cannot be written (read-only, full, gone): what and why, one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"cosim {args.command}: error: cannot write results: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # a stop outside a run, or after its manifest was final
        final = stops.final_exit_code if getattr(args, "single_run", False) else None
        return _stopped(exc, final)


def _stopped(exc: KeyboardInterrupt, final: int | None = None) -> int:
    """One line for a stop signal; its exit code: `final` when a run's manifest already stands for one, else
    128 + the signal's number."""
    signum = int(getattr(exc, "signum", signal.SIGINT))
    name = signal_label(signum)
    command = "cosim" if _command[0] == "cosim" else f"cosim {_command[0]}"
    if final is not None:
        print(f"{command}: {name} after the run's manifest was final; exit code {final}, as the manifest says",
              file=sys.stderr)
        return final
    print(f"{command}: stopped by {name}", file=sys.stderr)
    return 128 + signum


_command = ["cosim"]  # the command being run, for the line printed when a signal stops it


def main(argv: list[str] | None = None) -> int:
    """`cosim ...`; exit code 0, 1 (a run that stopped; results kept), 2 (bad input), 3 (a run stopped at its first
    planning fallback: `--strict`, `[controller] on_failure = "stop"`; results kept), or 128 + the signal's number
    when Ctrl-C, SIGTERM or SIGHUP stops it (one line, no traceback, at any moment, start-up included).

    Called without `argv` (the `cosim` program itself) it owns the process and ends it with the exit code
    (`_flush_and_exit`): no signal after the code is decided can change it."""
    _command[0] = "cosim"
    own_process = argv is None
    try:
        _end_start_handlers()
        code = _main(argv, own_process)
    except KeyboardInterrupt as exc:  # Ctrl-C before the handlers were installed (imports, parsing)
        code = _stopped(exc)
    if own_process:
        _flush_and_exit(code)
    return code


def _end_start_handlers() -> None:
    """Ctrl-C is a KeyboardInterrupt again (caught by `main`, which flushes what a command printed) until the command
    installs its `StopSignals`; SIGTERM and SIGHUP keep the one-line exit (their default would print nothing)."""
    if _HANDLED_WHILE_STARTING and signal.getsignal(signal.SIGINT) is _stopped_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _flush_and_exit(code: int) -> None:
    """The exit code is decided: write out what is buffered and end the process at once with it. Python's own
    shutdown (a second or more with pandas, numba and matplotlib loaded) would give the default action back to the
    stop signals, so a SIGTERM meanwhile would end the process with -15 instead of the code its run's manifest
    stands for; and nothing of the run is left to tear down. A signal while the buffers are written ends the
    process with the same code (`StopSignals(exit_after=True)`)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
