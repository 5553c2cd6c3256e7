"""``hypebt crosscheck CONFIG``: the same run through the numba engine and the backtrader reference.

    hypebt crosscheck configs/demo.toml
    hypebt crosscheck configs/real_doubao.toml --max-rows 50

Loads the config's market and marks once, runs both engines with the config's parameters and
compares trades, orders (rejections included) and equity (``backtests.crosscheck``). Prints the
first differences as a table, then one verdict line. Exit 0 when every figure agrees within the
tolerance, 1 when any differs, 2 on a bad config or data (``Error: ...``).
"""
from __future__ import annotations

HELP = "run a config through the backtrader reference too; exit 1 on any difference"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="run config (TOML), as for hypebt backtest")
    p.add_argument("--max-rows", type=int, default=20, metavar="N",
                   help="differences shown in the table (default 20)")
    p.add_argument("--tolerance", type=float, default=0.01, metavar="CNY",
                   help="money figures agree when they differ by less than this (default 0.01)")


def run(args) -> int:
    from backtests.config import load_config
    from backtests.crosscheck import crosscheck, format_report
    from backtests.errors import ConfigError
    from backtests.run import load_marks, load_run_market

    if args.max_rows < 1:
        raise ConfigError(f"--max-rows must be >= 1, got {args.max_rows}")
    if not args.tolerance > 0:
        raise ConfigError(f"--tolerance must be > 0 CNY, got {args.tolerance}")
    cfg = load_config(args.config)
    market = load_run_market(cfg)
    marks = load_marks(cfg, market)
    result = crosscheck(market, marks.frame, cfg.params, tolerance=args.tolerance)
    print(format_report(result, max_rows=args.max_rows))
    return 0 if result.ok else 1
