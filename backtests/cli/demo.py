"""``hypebt demo [--out DIR]``: the whole pipeline on the embedded SYNTHETIC demo data.

    hypebt demo                       # -> ./hypebt-demo/
    hypebt demo --out /tmp/demo

The eleven SYNTHETIC demo articles (``signals/demo_articles.jsonl``) -> mentions, roles and entry
sessions -> marks -> the ``theme_hype`` backtest on the SYNTHETIC demo market
(``backtests.data.demo``) -> the run folder of ``hypebt backtest`` (config.toml, equity.csv,
trades.csv, orders.csv, metrics.json, signals.csv, benchmark.csv, tearsheet.html) and a
summary. Everything is invented (companies named 演示…, generated prices, made-up news) and
labelled SYNTHETIC. The default folder is ``./hypebt-demo`` in the current directory; its
``config.toml`` re-runs with ``hypebt backtest DIR/config.toml``.

The config is embedded here (:data:`DEMO_TOML`), so the demo needs no file outside the
package; ``configs/demo.toml`` is the same config (a test keeps them equal).
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from backtests.cli.backtest import execute
from backtests.data.config import parse_config
from signals.articles import read_articles
from signals.demo import DEMO_ARTICLES

HELP = "whole pipeline on the embedded SYNTHETIC demo data; prints where the report is"
DEFAULT_OUT = "hypebt-demo"

DEMO_TOML = """
[data]
path = "demo"
start = "2024-01-02"
end = "2024-12-31"

[signals]
articles = ["demo"]
min_score = 0.5

[strategy]
name = "theme_hype"
entry = "open"
exit_on_break = true
exit_at = "next_open"
stop_loss = 0.08
max_hold = 10
max_positions = 8

[portfolio]
cash = 1_000_000.0
position_size = 0.12

[costs]
commission_rate = 0.00025
commission_min = 5.0
slippage_ticks = 1

[fill]
at_limit_open = "fill"
volume_cap = 0.0
"""


def add_arguments(p) -> None:
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"folder to write (default: ./{DEFAULT_OUT})")


def demo_config():
    """The demo's :class:`~backtests.data.config.RunConfig` (from :data:`DEMO_TOML`)."""

    return parse_config(tomllib.loads(DEMO_TOML))


def run(args) -> int:
    out = Path(args.out)
    n_articles = len(read_articles(DEMO_ARTICLES).articles)
    lines = execute(demo_config(), out,
                    title="hypebt demo: SYNTHETIC data (invented companies, prices and news)")
    lines.insert(2, f"  articles      {n_articles} SYNTHETIC demo articles "
                    f"(signals/demo_articles.jsonl)")
    lines += [f"Report: open {out / 'tearsheet.html'} in a browser.",
              f"Re-run: hypebt backtest {out / 'config.toml'}",
              # The scripted demo rallies flatter the strategy; say where honest numbers are.
              "These returns come from scripted synthetic rallies and say nothing about real "
              "markets; for a real case run configs/real_doubao_articles.toml on the data in "
              "../shared/data (see README)."]
    print("\n".join(lines))
    return 0
