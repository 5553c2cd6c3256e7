"""Benchmark: load the real A-share panel into aligned arrays with limit prices.

Times, for the panel as CSV.GZ and as Parquet (a temporary copy written first):

- parse     reading the file into columns (pyarrow)
- validate  every rule of ``market.RULES`` plus building the long-form frame
- align     ``build_market``: calendar alignment, prev_close, limit ratios and prices

(parse + validate is ``read_panel``; the three together are ``load_market`` on a file).

and, for scale, a plain ``pandas.read_csv`` of the same CSV.GZ in the same process (codes and
dates as text, nothing else). The run with the best total of ``--repeat`` runs is reported.

    .venv/bin/python benchmarks/bench_load.py [--path PANEL.csv.gz] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backtests.core.errors import DataWarning  # noqa: E402  (after the sys.path line: runnable as a script)

DEFAULT = Path(os.environ.get("HYPEBT_SHARED_DATA", REPO.parent / "shared" / "data")) / \
    "ashare_daily_20240719_20250523.csv.gz"


def _best(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _load_steps(path: Path, repeat: int) -> dict:
    """Step times of the run with the best total (the same three calls ``load_market`` makes:
    read_panel = parse + validate, then build_market)."""
    from backtests.data import market, panel as panel_mod

    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        table, mapping, label, offset, not_number = panel_mod._read_table(path, panel_mod.sniff_format(path))
        t1 = time.perf_counter()
        panel = panel_mod._panel_from_table(table, mapping, str(path), label, offset, False,
                                         not_number)
        t2 = time.perf_counter()
        m = market.build_market(panel)
        t3 = time.perf_counter()
        run = {"parse": t1 - t0, "validate": t2 - t1, "align": t3 - t2, "total": t3 - t0,
               "rows": len(panel), "shape": m.close.shape}
        if best is None or run["total"] < best["total"]:
            best = run
    return best


def main(argv=None) -> int:
    # The real panel's known data caveats (docs/data.md) are not what is measured here.
    warnings.filterwarnings("ignore", category=DataWarning)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.path.exists():
        print(f"panel not found: {args.path} (set HYPEBT_SHARED_DATA or pass --path)")
        return 2

    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from backtests.core.calendar import trading_calendar
    from backtests.data.market import build_market
    from backtests.data.panel import read_panel

    # warm-up: imports, calendar, numba caches, OS file cache
    trading_calendar()
    build_market(read_panel(args.path))

    t_pandas, df = _best(lambda: pd.read_csv(args.path, dtype={"code": str, "date": str}), args.repeat)
    print(f"panel {args.path.name}: {len(df):,} rows; best of {args.repeat} runs, seconds")
    print(f"  pandas.read_csv (baseline, parse only)  {t_pandas:6.3f}")

    results = {"csv.gz": _load_steps(args.path, args.repeat)}
    with tempfile.TemporaryDirectory() as tmp:
        pq_path = Path(tmp) / "panel.parquet"
        raw = pacsv.read_csv(args.path, convert_options=pacsv.ConvertOptions(
            column_types={"code": "string", "date": "string"}))
        pq.write_table(raw, pq_path)
        results["parquet"] = _load_steps(pq_path, args.repeat)

    for kind, r in results.items():
        total = r["total"]
        print(f"  {kind:8s} read+validate+align -> {r['shape'][0]} sessions x {r['shape'][1]} stocks")
        for step in ("parse", "validate", "align"):
            print(f"    {step:9s} {r[step]:6.3f}  ({r[step] / total:4.0%})")
        print(f"    {'total':9s} {total:6.3f}  = {total / t_pandas:.2f} x pandas.read_csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
