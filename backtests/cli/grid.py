"""``hypebt grid CONFIG``: run every parameter set of a ``[grid]`` table; rank them.

    hypebt grid configs/demo_grid.toml                           # -> runs/demo_grid/
    hypebt grid configs/demo_grid.toml --workers 2 --top 3 --train-end 2024-08-30
    hypebt grid configs/real_doubao_grid.toml --sample 200 --seed 7 --heatmap max_hold,stop_loss
    hypebt grid configs/demo_grid.toml --dask local              # or --dask tcp://host:8786

Writes ``DIR/grid.csv`` (one row per set: its parameters and the metrics of that backtest),
``DIR/heatmap.png`` and ``DIR/grid.html`` (heatmap and ranked table), and with ``--top K`` full
run folders ``DIR/top/NN_setM/`` (tearsheet included) for the best K sets. Prints the ten best
sets. Options given on the command line override the ``[grid]`` table's. ``docs/grid.md`` is
the manual.
"""
from __future__ import annotations

import sys
from pathlib import Path

from backtests.grid.local import run_grid
from backtests.grid.spec import MAX_SETS, check_run_options, default_out_dir, load_grid_config
from backtests.report.grid_page import summary_text, write_grid

HELP = "run a parameter grid: grid.csv, ranked summary, heatmap, run folders of the best sets"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="TOML grid config: a run config plus [grid]")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder to write (default: runs/<config stem>)")
    p.add_argument("--workers", metavar="N", type=int, default=None,
                   help="numba threads (default: all cores); with --dask local, worker processes")
    p.add_argument("--top", metavar="K", type=int, default=None,
                   help="write full run folders for the K best sets (default 0)")
    p.add_argument("--train-end", metavar="DATE", default=None,
                   help="rank on sessions up to DATE; report the rest as out-of-sample")
    p.add_argument("--sample", metavar="N", type=int, default=None,
                   help="run a random sample of N sets of the product")
    p.add_argument("--seed", metavar="S", type=int, default=None,
                   help="seed of --sample (default 0)")
    p.add_argument("--rank-by", metavar="METRIC", default=None,
                   help="metric to rank on (default sharpe; in-sample with --train-end)")
    p.add_argument("--heatmap", metavar="A,B", default=None,
                   help="two grid parameters for the heatmap (default: the first two)")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run on a Dask cluster: a scheduler address or 'local' "
                        "(needs pip install hypebt[dask])")
    p.add_argument("--max-sets", metavar="N", type=int, default=None,
                   help="refuse a grid of more than N sets to run (default 100,000): use "
                        "--sample for a random subset")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    check_run_options(workers=args.workers, sample=args.sample, top=args.top,
                      max_sets=args.max_sets)
    spec = load_grid_config(args.config, rank_by=args.rank_by, sample=args.sample,
                            seed=args.seed, train_end=args.train_end, heatmap=args.heatmap,
                            top=args.top, max_sets=args.max_sets or MAX_SETS)
    out = Path(args.out) if args.out else default_out_dir(spec)
    progress = not args.no_progress and sys.stderr.isatty()
    result = run_grid(spec, workers=args.workers, progress=progress, dask=args.dask)
    paths = write_grid(result, out)
    synthetic = bool(getattr(result.market, "synthetic", False))
    lines = [f"Grid {args.config}"]
    if synthetic:
        lines.append("  SYNTHETIC demo market: invented companies and prices, not real data.")
    lines += ["  " + line for line in summary_text(result).splitlines()]
    k = result.kernel_seconds
    rate = f" ({len(result.frame) / k:,.0f} sets/s)" if k > 0 else ""
    where = "on Dask" if args.dask else f"kernel, {args.workers or 'all'} thread(s)"
    lines.append(f"  {len(result.frame)} sets: {k:.2f} s {where}{rate}; "
                 f"{result.seconds:.2f} s with loading")
    lines.append(f"  outputs  {out}/ ({', '.join(sorted(paths))})")
    print("\n".join(lines))
    return 0
