"""``hypebt crosscheck CONFIG``: the same run through the numba engine and the backtrader reference.

    hypebt crosscheck configs/demo.toml
    hypebt crosscheck configs/real_doubao.toml --max-rows 50
    hypebt crosscheck configs/demo_grid.toml --sample 8      # a grid config: every (or N) set

Loads the config's market and marks once, runs both engines with the config's parameters and
compares trades, orders (rejections included) and equity (``backtests.reference.crosscheck``). Prints the
first differences as a table, then one verdict line. A grid config (one with a ``[grid]``
table) is checked set by set. Exit 0 when every figure agrees within the tolerance, 1 when any
differs, 2 on a bad config or data (``Error: ...``).
"""
from __future__ import annotations

import tomllib

from backtests.core.errors import ConfigError
from backtests.data.config import load_config
from backtests.engine.run import load_marks, load_run_market
from backtests.grid.spec import MAX_SETS, load_grid_config, set_config
from backtests.reference.crosscheck import crosscheck, format_grid_report, format_report

HELP = "run a config through the backtrader reference too; exit 1 on any difference"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG",
                   help="run config (TOML) as for hypebt backtest, or a grid config")
    p.add_argument("--max-rows", type=int, default=20, metavar="N",
                   help="differences shown in the table (default 20)")
    p.add_argument("--tolerance", type=float, default=0.01, metavar="CNY",
                   help="money figures agree when they differ by less than this (default 0.01)")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="grid config: check N sets drawn with the grid's seed (default: all)")
    p.add_argument("--max-sets", type=int, default=None, metavar="N",
                   help="grid config: refuse more than N sets to check (default 100,000)")


def _is_grid(path) -> bool:
    try:
        with open(path, "rb") as fh:
            return "grid" in tomllib.loads(fh.read().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # load_config reports the problem with the file's name


def run(args) -> int:
    if args.max_rows < 1:
        raise ConfigError(f"--max-rows must be >= 1, got {args.max_rows}")
    if not args.tolerance > 0:
        raise ConfigError(f"--tolerance must be > 0 CNY, got {args.tolerance}")
    if args.sample is not None and args.sample < 1:
        raise ConfigError(f"--sample must be >= 1, got {args.sample}")
    if _is_grid(args.config):
        if args.max_sets is not None and args.max_sets < 1:
            raise ConfigError(f"--max-sets must be >= 1, got {args.max_sets}")
        spec = load_grid_config(args.config, sample=args.sample,
                                max_sets=args.max_sets or MAX_SETS)
        market = load_run_market(spec.cfg)
        marks, results = {}, []
        for number, params in spec.sets:
            cfg = set_config(spec, params)
            key = tuple(params[k] for k in spec.signal_axes)
            if key not in marks:
                marks[key] = load_marks(cfg, market)
            results.append((number, params, crosscheck(market, marks[key].frame, cfg.params,
                                                       tolerance=args.tolerance,
                                                       exits=marks[key].exits)))
        print(format_grid_report(results, max_rows=args.max_rows, tolerance=args.tolerance))
        return 0 if all(r.ok for _n, _p, r in results) else 1
    if args.sample is not None:
        raise ConfigError(f"--sample applies to grid configs; {args.config} has no [grid] table")
    cfg = load_config(args.config)
    market = load_run_market(cfg)
    marks = load_marks(cfg, market)
    result = crosscheck(market, marks.frame, cfg.params, tolerance=args.tolerance,
                        exits=marks.exits)
    print(format_report(result, max_rows=args.max_rows))
    return 0 if result.ok else 1
