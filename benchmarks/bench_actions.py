"""Benchmark: what corporate actions cost the engine, and the reference's time for the same run.

    .venv/bin/python benchmarks/bench_actions.py [--repeat 30]

On the real panel (``../shared/data``), two runs, each timed with and without the panel's
entitlements (``Market.entitlements``: the 70 ex-rights days inferred from the bars):

- ``limit-up chase``: ``hold_n`` on the session after every limit-up close (the kernel's usual
  load; few positions meet an ex-date);
- ``ex-dates``: entries two sessions before every ex-date, held four sessions, so positions
  cross them and receive their credits (and the dividend tax path runs).

Prints the kernel time per backtest (best of ``--repeat``) with and without, as a ratio, and the
backtrader reference's time for the ex-date run as a ratio to the kernel's.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backtests.core.errors import DataWarning  # noqa: E402  (after sys.path: runnable as a script)
from backtests.data import status  # noqa: E402
from backtests.data.load import load_market  # noqa: E402
from backtests.engine.backtest import mark_index, market_arrays, marks_array  # noqa: E402
from backtests.engine.nb import simulate_nb  # noqa: E402
from backtests.reference.backtrader import run_reference  # noqa: E402
from strategies import pack_params, resolve_params  # noqa: E402

SHARED = Path(os.environ.get("HYPEBT_SHARED_DATA", REPO.parent / "shared" / "data"))
PANEL = SHARED / "ashare_daily_20240719_20250523.csv.gz"
NAMES = SHARED / "ashare_names_20250418.csv"


def best(fn, repeat: int) -> float:
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    if not PANEL.exists():
        print(f"real data not found at {SHARED}: nothing to measure")
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        market = load_market(PANEL, names=[NAMES])
    ents = market.entitlements
    bare = market._replace(entitlements=None)
    lu = market.limit_up
    chase = np.full(lu.shape, np.nan)
    sealed = np.isfinite(lu) & (market.close >= lu - 1e-6)
    chase[1:][sealed[:-1]] = 1.0
    t = ents[:, status.ENT_SESSION].astype(int)
    j = ents[:, status.ENT_STOCK].astype(int)
    keep = t >= 2
    ex_marks = pd.DataFrame({"date": [str(market.sessions[a - 2]) for a in t[keep]],
                             "code": market.codes[j[keep]]}).drop_duplicates()
    params = resolve_params({"name": "hold_n", "hold": 4, "fixed_cash": 20_000.0, "cash": 1e7,
                             "max_positions": 1000})
    prow = pack_params(params)
    print(f"corporate actions: {len(ents)} entitlements on the real panel "
          f"({market.close.shape[1]:,} stocks x {market.close.shape[0]} sessions)")
    for label, score in (("limit-up chase", chase), ("ex-dates", marks_array(market, ex_marks))):
        mi = mark_index(score)
        with_mk, without_mk = market_arrays(market, features=False), \
            market_arrays(bare, features=False)
        stats = simulate_nb(with_mk, mi, prow, True)[4]
        a = best(lambda: simulate_nb(with_mk, mi, prow, True), args.repeat)
        b = best(lambda: simulate_nb(without_mk, mi, prow, True), args.repeat)
        print(f"  {label:15s} kernel {a * 1e3:7.3f} ms with entitlements, {b * 1e3:7.3f} ms "
              f"without: ratio {a / b:5.2f}x; {int(stats[-1]):,} bonus shares credited")
    t0 = time.perf_counter()
    run_reference(market, ex_marks, params)
    ref = time.perf_counter() - t0
    mi = mark_index(marks_array(market, ex_marks))
    mk = market_arrays(market, features=False)
    k = best(lambda: simulate_nb(mk, mi, prow, True), args.repeat)
    print(f"  backtrader reference, ex-dates run: {ref:.2f} s = {ref / k:,.0f}x the kernel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
