"""Command line: `cosim run|study|sweep|report|validate`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cosim", description="DSO / parking-lot operator co-simulation")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check the fast power flow against pandapower on every network")
    args = parser.parse_args(argv)
    if args.command == "validate":
        from cosim.validate import main as validate_main

        return validate_main()
    return 2


if __name__ == "__main__":
    sys.exit(main())
