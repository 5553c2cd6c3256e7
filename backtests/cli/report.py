"""``hypebt report RUN_DIR``: redraw a run folder's ``tearsheet.html``.

    hypebt report runs/demo
    hypebt report runs/real_doubao --benchmark my_index.csv

Reads the files ``hypebt backtest`` wrote (``docs/tearsheet.md``) and writes
``RUN_DIR/tearsheet.html`` again: the performance section against the run's ``benchmark.csv``
(the equal-weight index of its market) or ``--benchmark FILE`` (``date,return`` daily returns or
``date,close`` levels), hypebt's other sections, and quantstats' full report with
``--quantstats`` or when the run's ``config.toml`` says ``[report] quantstats = true``.
"""
from __future__ import annotations

from backtests.report.tearsheet import write_tearsheet

HELP = "redraw the HTML tearsheet of a run folder (optionally against another benchmark)"


def add_arguments(p) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by hypebt backtest")
    p.add_argument("--benchmark", metavar="FILE", default=None,
                   help="benchmark CSV: date,return (daily) or date,close (index levels); "
                        "default: RUN_DIR/benchmark.csv when present")
    p.add_argument("--quantstats", action="store_true",
                   help="append quantstats' full report (default: as [report] quantstats in "
                        "RUN_DIR/config.toml)")


def run(args) -> int:
    path = write_tearsheet(args.run_dir, benchmark=args.benchmark,
                           quantstats=True if args.quantstats else None)
    print(f"Tearsheet {path}")
    return 0
