"""Command line: ``snrstat <command>``. Each command lives in ``snrstat.commands.<name>``
and exposes ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from snrstat.schema import DataError

COMMANDS = ("data", "table", "fit", "decide", "select", "scaling", "report", "models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snrstat",
        description="How far to trust a benchmark score: signal, noise, SNR and decision accuracy.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"snrstat.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # PyTensor's C backend warns once per process when it cannot find BLAS; models here are
    # tiny and do not need it, and the warning would bury the command's own output.
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, FileNotFoundError) as exc:
        print(f"snrstat {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
