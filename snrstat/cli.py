"""Command line: ``snrstat <command>``. Each command lives in ``snrstat.commands.<name>``
and exposes ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings

from snrstat.schema import DataError

COMMANDS = ("data", "table", "fit", "decide", "select", "scaling", "report", "models", "items", "judge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snrstat",
        description="How far to trust a benchmark score: signal, noise, SNR and decision accuracy.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"snrstat.commands.{name}").add_parser(sub)
    for command in sub.choices.values():
        _add_common(command)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--debug`` on every command (added here so each command need not)."""
    have = parser._option_string_actions
    if "--quiet" not in have:
        parser.add_argument("--quiet", "-q", action="store_true", help="no progress output on stderr")
    if "--debug" not in have:
        parser.add_argument("--debug", action="store_true", help="on an error, print the Python traceback too")


def _show_warning_once(seen: set):
    """warnings.showwarning replacement: one line per distinct message, no source line."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        key = (category.__name__, text)
        if key in seen:
            return
        seen.add(key)
        print(f"snrstat: warning: {text}", file=sys.stderr if file is None else file)
    return show


def main(argv: list[str] | None = None) -> int:
    """Run one command. Errors are one line on stderr and exit code 2 (``--debug`` adds the
    traceback); Ctrl-C exits 130 and saves nothing."""
    args = build_parser().parse_args(argv)
    command = getattr(args, "command", "?")
    with warnings.catch_warnings():
        # PyTensor's C backend warns once per process when it cannot find BLAS; models here are
        # tiny and do not need it, and the warning would bury the command's own output.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.showwarning = _show_warning_once(set())
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print(f"snrstat {command}: interrupted (Ctrl-C); nothing was saved", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `snrstat ... | head`
            return 0
        except Exception as exc:  # one line for the user; --debug for the traceback
            if getattr(args, "debug", False):
                traceback.print_exc()
            print(f"snrstat {command}: error: {_one_line(exc)}", file=sys.stderr)
            return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, (DataError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        return text
    if isinstance(exc, OSError):
        return f"{exc.strerror or text}" + (f": {exc.filename}" if exc.filename else "")
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
