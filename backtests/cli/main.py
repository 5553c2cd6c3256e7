"""``hypebt`` command line.

Each command lives in its own module ``backtests.cli.<name>`` exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; the module imports what it needs at its top.
This module imports only the module of the command that runs (``COMMANDS`` holds the one-line
help of every command, so ``hypebt --help`` imports none of them; a test keeps the two equal).
Any :class:`~backtests.core.errors.HypebtError` becomes one ``Error: ...`` line on stderr and exit
code 2, and so does every *expected* failure that is not one (I/O, permissions, disk full, text
that is not UTF-8, damaged gzip or Parquet data, network errors:
:func:`~backtests.core.errors.describe_failure`); anything else is an internal error (exit 1)
that prints where to report it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings

from backtests import __version__
from backtests.core.errors import DataWarning, HypebtError, describe_failure

# name -> one-line help, in the order shown by ``hypebt --help`` (each equals the module's HELP).
COMMANDS = {
    "demo": "whole pipeline on the embedded SYNTHETIC demo data; prints where the report is",
    "backtest": "run one backtest config; write equity, trades, orders, metrics and a tearsheet",
    "grid": "run a parameter grid: grid.csv, ranked summary, heatmap, run folders of the best sets",
    "report": "redraw the HTML tearsheet of a run folder (optionally against another benchmark)",
    "signals": "stocks, themes and roles named in news articles, their sessions and entry marks",
    "scan": 'limit-up board of a session: touched/sealed, streak, "N天M板", counts per board',
    "data": "local store: import a panel, fetch bars/names with akshare, show what is stored",
    "news": "news archive: fetch articles with akshare (East Money, 财联社) into the store",
    "crosscheck": "run a config through the backtrader reference too; exit 1 on any difference",
}


def _load(name: str):
    return importlib.import_module(f"backtests.cli.{name}")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` gets its options (and its module loaded).
    With ``argv=None`` every command's module is loaded (for tests and documentation)."""
    chosen = set(COMMANDS) if argv is None else {next((a for a in argv if a in COMMANDS), None)}
    parser = argparse.ArgumentParser(
        prog="hypebt",
        description="News-driven theme-hype backtester for China A-shares.")
    parser.add_argument("--version", action="version", version=f"hypebt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name in chosen:
            module = _load(name)
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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
    except Exception as exc:  # noqa: BLE001 - the one place internal errors are reported
        cause = describe_failure(exc)
        if cause is not None:  # expected (I/O, decoding, network...) but not named further in
            print(f"Error: hypebt {args.command}: {cause}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(f"Internal error: this is a bug in hypebt {__version__}; please report it on the "
              f"project's issue tracker with the command you ran and the trace above.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
