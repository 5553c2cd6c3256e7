"""``hypebt demo [--out DIR]``: the whole pipeline on the embedded SYNTHETIC demo data.

    hypebt demo                       # -> ./hypebt-demo/
    hypebt demo --out /tmp/demo

Marks for the demo market's five invented theme events -> the ``theme_hype`` backtest ->
the run folder of ``hypebt backtest`` (config.toml, equity.csv, trades.csv, orders.csv,
metrics.json, signals.csv, benchmark.csv, tearsheet.html) and a summary. Everything is synthetic
(invented companies named 演示…, generated prices) and labelled so. The default folder is
``./hypebt-demo`` in the current directory; the resolved ``config.toml`` in it can be re-run with
``hypebt backtest DIR/config.toml``.
"""
from __future__ import annotations

from pathlib import Path

HELP = "whole pipeline on the embedded SYNTHETIC demo data; prints where the report is"
DEFAULT_OUT = "hypebt-demo"
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"


def add_arguments(p) -> None:
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"folder to write (default: ./{DEFAULT_OUT})")


def demo_config():
    """The demo's :class:`~backtests.config.RunConfig`."""
    from backtests.config import load_config

    return load_config(DEMO_CONFIG)


def run(args) -> int:
    from backtests.cmd_backtest import execute

    out = Path(args.out)
    lines = execute(demo_config(), out, title="hypebt demo (SYNTHETIC data)")
    lines.append(f"Open {out / 'tearsheet.html'} in a browser for the report.")
    print("\n".join(lines))
    return 0
