"""The numba engine against its peers: backtrader (the reference) and vectorbt.

    .venv/bin/python benchmarks/bench_engines.py [--repeat 5] [--bt-budget 45] [--bt-full]
                                                 [--no-vectorbt]

One process, one command, everything printed. On the real panel (../shared/data, the whole
SSE/SZSE market, 5,154 stocks x 203 sessions; the script exits with a message when it is
absent), with marks on the session after every limit-up close (追涨, about 16,000 marks):

1. **numba engine vs backtrader**, the same run (``theme_hype``, entry at the open, break exit
   at the next open, 10 % of equity per entry, max 10 positions, real fees) for a concept-sized
   universe (15 stocks x 200 sessions), 300 stocks (x 203) and the whole panel. backtrader gets
   a feed for *every* stock of the universe, as a user loading that universe would. Engine time
   is :func:`backtests.engine.backtest.run_backtest` (pandas edge included) and the kernel alone, warm
   (compiled), median of ``--repeat`` runs; backtrader runs once (seconds, not milliseconds).
   The two ledgers are compared with :func:`backtests.reference.crosscheck.compare` on every case
   backtrader ran, so the ratio is between two runs that produced the same trades.
   **The whole panel**: when the per stock-session cost measured on 300 stocks predicts more
   than ``--bt-budget`` seconds, backtrader is *not* run on it; its time is extrapolated from
   the 300-stock run (seconds per stock-session x 5,154 x 203) and marked ``extrapolated``.
   ``--bt-full`` runs it anyway (a few minutes).
2. **vectorbt** (``Portfolio.from_signals``, when vectorbt is installed) on the whole panel:
   entries at the open of each marked session, exits at the open ``hold + 1`` sessions later
   (hold = 2), 100,000 CNY per entry, cash shared across all stocks, 0.025 % fees, lots of 100
   (STAR: minimum 200, steps of 1). The engine runs ``hold_n`` with the same hold and sizing.
   Reported as stock-sessions per second and their ratio. The ledgers differ by design: vectorbt
   cannot express price limits (一字板 buys and sealed limit-down sells are filled, nothing is
   carried over), suspensions (it trades at stale prices), T+1 as a rule, the minimum
   commission, stamp duty on sells only, the transfer fee and cent rounding, the volume cap,
   max_positions, or the score priority within a session.

Timings are of this machine (2 cores shared with other work while measured); ratios are the
figures to quote.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backtests.core.errors import DataWarning
from backtests.data.market import select_market
from backtests.reference.crosscheck import compare
from backtests.engine.backtest import mark_index, market_arrays, marks_array, run_backtest
from backtests.engine.nb import simulate_nb
from backtests.reference.backtrader import run_reference
from backtests.core.rules import lot_arrays
from strategies import pack_params

SHARED = Path(os.environ.get("HYPEBT_SHARED_DATA", REPO.parent / "shared" / "data"))
REAL_PANEL = SHARED / "ashare_daily_20240719_20250523.csv.gz"

RUN_PARAMS = {"name": "theme_hype", "entry": "open", "exit_on_break": True,
              "exit_at": "next_open", "max_positions": 10, "position_size": 0.1}
HOLD = 2
PEER_PARAMS = {"name": "hold_n", "hold": HOLD, "exit_at": "next_open", "max_positions": 100_000,
               "fixed_cash": 100_000.0}


def subset(market, stocks=None, sessions=None):
    """The market restricted to some stocks (indices) and sessions (a slice)."""
    return select_market(market, sessions=sessions, stocks=stocks)


def limit_up_marks(market) -> pd.DataFrame:
    """A mark on the session after every limit-up close, score = log turnover of that close."""
    c, up = market.close, market.limit_up
    at_up = np.isfinite(c) & np.isfinite(up) & (np.abs(c - up) < 1e-6)
    t, j = np.nonzero(at_up[:-1])
    return pd.DataFrame({"date": market.sessions[t + 1], "code": market.codes[j],
                         "score": np.round(np.log1p(np.nan_to_num(market.amount[t, j])), 6)})


def median_time(fn, repeat: int) -> float:
    fn()  # warm: compilation and caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def engine_times(market, marks, params, repeat):
    """(run_backtest seconds, kernel seconds, result)."""
    result = run_backtest(market, marks, params)
    edge = median_time(lambda: run_backtest(market, marks, params), repeat)
    mk, mi = market_arrays(market), mark_index(marks_array(market, marks))
    prow = pack_params(params)
    kernel = median_time(lambda: simulate_nb(mk, mi, prow, True), repeat)
    return edge, kernel, result


def backtrader_time(market, marks, params):
    t0 = time.perf_counter()
    ref = run_reference(market, marks, params, only_marked=False)
    return time.perf_counter() - t0, ref


def fmt_s(x: float) -> str:
    if x < 1e-3:
        return f"{x * 1e6:,.0f} us"
    return f"{x * 1e3:,.1f} ms" if x < 1 else f"{x:,.1f} s"


# ---------------------------------------------------------------- part 1: backtrader
def bench_backtrader(full, repeat, budget, force_full):
    print("== numba engine vs backtrader (the same run; ledgers compared) ==")
    print(f"strategy: {RUN_PARAMS}")
    rng = np.random.default_rng(20241216)
    at_up = (np.isfinite(full.close) & np.isfinite(full.limit_up)
             & (np.abs(full.close - full.limit_up) < 1e-6)).sum(axis=0)
    concept = np.sort(np.argsort(-at_up, kind="stable")[:15])   # a hot "concept": most boards
    cases = [("concept 15 x 200", subset(full, concept, slice(0, 200))),
             ("300 stocks", subset(full, np.sort(rng.choice(len(full.codes), 300,
                                                            replace=False)))),
             ("whole panel", full)]
    head = (f"{'case':<18}{'stocks x sessions':>19}{'marks':>8}{'trades':>8}"
            f"{'engine':>11}{'kernel':>11}{'backtrader':>14}{'ratio':>9}{'ratio/kernel':>14}"
            f"  ledgers")
    print(head)
    rate = None
    rows = []
    for name, m in cases:
        marks = limit_up_marks(m)
        edge, kernel, eng = engine_times(m, marks, RUN_PARAMS, repeat)
        n_ss = len(m.sessions) * len(m.codes)
        predicted = rate * n_ss if rate is not None else 0.0
        if name == "whole panel" and predicted > budget and not force_full:
            bt_s, note, agree = predicted, "extrapolated", "n/a (not run)"
        else:
            bt_s, ref = backtrader_time(m, marks, RUN_PARAMS)
            rate = bt_s / n_ss
            diffs = compare(eng, ref)
            note, agree = "measured", ("agree" if not diffs else f"{len(diffs)} DIFFERENCES")
        rows.append((name, m, bt_s, edge, kernel))
        print(f"{name:<18}{len(m.codes):>10,} x {len(m.sessions):<6}{len(marks):>8,}"
              f"{len(eng.trades):>8,}{fmt_s(edge):>11}{fmt_s(kernel):>11}"
              f"{fmt_s(bt_s):>14}{bt_s / edge:>8,.0f}x{bt_s / kernel:>13,.0f}x  {agree}"
              + ("" if note == "measured" else f"  [backtrader {note}]"))
    if rate is not None:
        print(f"backtrader cost: {rate * 1e6:,.1f} us per stock-session (two bars per session: "
              f"the opening and the closing auction), measured on the largest case it ran")
    name, m, bt_s, edge, kernel = rows[-1]
    print(f"whole-market ratio: {bt_s / edge:,.0f}x (run_backtest), {bt_s / kernel:,.0f}x "
          f"(kernel); target >= 1,000x -> {'met' if bt_s / edge >= 1000 else 'NOT met'}")
    return rows


# ---------------------------------------------------------------- part 2: vectorbt
def bench_vectorbt(full, repeat):
    print()
    print("== numba engine vs vectorbt Portfolio.from_signals (whole panel, speed peer) ==")
    try:
        import vectorbt as vbt
    except ImportError:
        print("vectorbt is not installed (.venv/bin/pip install vectorbt); skipped")
        return None
    marks = limit_up_marks(full)
    score = marks_array(full, marks)
    entries = np.isfinite(score) & np.isfinite(full.close)
    exits = np.zeros_like(entries)
    exits[HOLD + 1:] = entries[:-(HOLD + 1)]
    index = pd.DatetimeIndex(np.asarray(full.sessions, dtype="datetime64[ns]"))
    columns = pd.Index(full.codes)
    frame = lambda a: pd.DataFrame(a, index=index, columns=columns)
    close = frame(full.close).ffill().bfill()
    price = frame(full.open).ffill().bfill()
    min_lot, step = lot_arrays(full.boards)

    def run_vbt():
        return vbt.Portfolio.from_signals(
            close=close, entries=frame(entries), exits=frame(exits), price=price,
            size=100_000.0, size_type="value", fees=0.00025, min_size=min_lot.astype(float),
            size_granularity=step.astype(float), init_cash=1_000_000.0, cash_sharing=True,
            group_by=True, call_seq="auto", freq="1D")

    pf = run_vbt()
    vbt_s = median_time(run_vbt, repeat)
    edge, kernel, eng = engine_times(full, marks, PEER_PARAMS, repeat)
    n_ss = len(full.sessions) * len(full.codes)
    n_orders = int(pf.orders.count()) if hasattr(pf.orders.count(), "__int__") else -1
    print(f"universe: {len(full.codes):,} stocks x {len(full.sessions)} sessions = {n_ss:,} "
          f"stock-sessions; {int(entries.sum()):,} entry signals, hold {HOLD}")
    print(f"{'':<28}{'time':>11}{'stock-sessions/s':>20}{'fills':>9}")
    for label, secs, fills in (("vectorbt from_signals", vbt_s, n_orders),
                               ("numba engine run_backtest", edge, len(eng.trades)),
                               ("numba engine kernel", kernel, len(eng.trades))):
        print(f"{label:<28}{fmt_s(secs):>11}{n_ss / secs:>20,.0f}{fills:>9,}")
    print(f"per stock-session: run_backtest is {vbt_s / edge:,.1f}x vectorbt's throughput, "
          f"the kernel {vbt_s / kernel:,.1f}x; target >= 1x -> "
          f"{'met' if vbt_s >= edge else 'NOT met'}")
    print(f"vectorbt {vbt.__version__}: fills differ by design (no price limits, suspensions, "
          f"minimum commission, stamp duty, max_positions; see the module docstring)")
    return vbt_s, edge, kernel


def main(argv=None) -> int:
    # The real panel's known data caveats (docs/data.md) are not what is measured here.
    warnings.filterwarnings("ignore", category=DataWarning)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed engine runs (median)")
    ap.add_argument("--bt-budget", type=float, default=45.0,
                    help="seconds backtrader may take on the whole panel before it is "
                         "extrapolated instead of run (default 45)")
    ap.add_argument("--bt-full", action="store_true", help="run backtrader on the whole panel")
    ap.add_argument("--no-vectorbt", action="store_true", help="skip the vectorbt peer")
    args = ap.parse_args(argv)
    if not REAL_PANEL.exists():
        print(f"real panel not found at {REAL_PANEL} (set HYPEBT_SHARED_DATA); nothing to do")
        return 0
    import backtrader
    import numba

    from backtests.data.load import load_market

    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas "
          f"{pd.__version__}, numba {numba.__version__}, backtrader {backtrader.__version__}; "
          f"{os.cpu_count()} cpu(s)")
    t0 = time.perf_counter()
    full = load_market(REAL_PANEL)
    print(f"loaded {REAL_PANEL.name}: {len(full.codes):,} stocks x {len(full.sessions)} "
          f"sessions in {time.perf_counter() - t0:.1f} s")
    print()
    bench_backtrader(full, args.repeat, args.bt_budget, args.bt_full)
    if not args.no_vectorbt:
        bench_vectorbt(full, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
