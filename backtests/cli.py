"""``hypebt`` command line.

Each command lives in its own module ``backtests.cmd_<name>`` exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports stay inside ``run`` so that
``hypebt --help`` is fast. Any :class:`~backtests.errors.HypebtError` becomes one
``Error: ...`` line on stderr and exit code 2; anything else is an internal error (exit 1).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings

from backtests import __version__
from backtests.errors import DataWarning, HypebtError

# Order is the order shown in ``hypebt --help``.
COMMANDS = ("demo", "backtest", "grid", "report", "study", "signals", "scan", "data", "news",
            "crosscheck")


def _load(name: str):
    return importlib.import_module(f"backtests.cmd_{name}")


def build_parser(commands=COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hypebt",
        description="News-driven theme-hype backtester for China A-shares.")
    parser.add_argument("--version", action="version", version=f"hypebt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands:
        try:
            module = _load(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"backtests.cmd_{name}":
                continue  # command not built yet
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


_DEFAULT_SHOWWARNING = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """DataWarnings are for users: one ``Warning: ...`` line, no source location."""
    if issubclass(category, DataWarning):
        print(f"Warning: {message}", file=sys.stderr)
    else:
        _DEFAULT_SHOWWARNING(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hypebt`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DataWarning)
            warnings.showwarning = _show_warning
            return int(args._run(args) or 0)
    except HypebtError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception:  # noqa: BLE001 - the one place internal errors are reported
        traceback.print_exc()
        print("Internal error: this is a bug in hypebt, please report it with the trace above.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
