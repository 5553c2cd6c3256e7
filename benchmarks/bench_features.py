"""Benchmark of the market-state features and of the engine kernel with filters and gates.

    .venv/bin/python benchmarks/bench_features.py [--stocks 5000] [--sessions 2500] [--repeat 5]

On the synthetic 5,000 x 2,500 panel of ``bench_engine.synthetic_inputs`` (ten years of a
whole market, about 2% limit-up closes, each marking the next session) it reports:

* **features**: the two numba passes of ``backtests.features.nb`` (per stock and per session),
  as seconds (the issue's target: <= 1 s) and as a ratio to a peer measured in the same process
  on the same arrays: ``scan``'s whole-array numpy definitions (``limit_state`` + ``streaks`` +
  ``board_runs``), which compute the per-stock half only;
* **kernel**: one backtest with every entry filter, the sentiment gate, the trailing stop and
  the theme-cooling exit switched on, as a ratio to the same kernel with none of them (today's
  rules) on the same inputs (the issue's target: within 2x) — once with thresholds that never
  bind (the same ledger as today's, checked: the pure cost of evaluating the rules) and once
  with thresholds that do (a different backtest: fewer entries, other exits). The kernel reads
  each mark's market state (previous close, amount, streak, open gap, ST, dragon rank) from
  ``[M]`` arrays gathered once per marks and market (``filters_nb.with_mark_state``, as a grid
  does); the gathering is timed on its own, and a backtest that gathers it itself (a single run)
  is reported beside.

Medians of ``--repeat`` calls after a warm-up (compilation excluded). Run it under the lock:
``flock /work/heavy.lock .venv/bin/python benchmarks/bench_features.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_engine import median_time, synthetic_inputs  # noqa: E402
from backtests.core import rules  # noqa: E402
from backtests.engine.filters_nb import with_mark_state  # noqa: E402
from backtests.engine.nb import MarkIndex, mark_index_nb, simulate_nb  # noqa: E402
from backtests.features import scan  # noqa: E402
from backtests.features.nb import session_features_nb, stock_features_nb  # noqa: E402
from backtests.features.state import HALF_CENT, MAX_GAP  # noqa: E402
from strategies import pack_params  # noqa: E402

TODAY = {"entry": "open", "exit_on_break": True, "max_hold": 10, "stop_loss": 0.08,
         "max_positions": 10, "position_size": 0.1}
NEVER_BINDING = dict(TODAY, min_price=0.0, max_price=1e9, min_amount=0.0, max_amount=1e12,
                     min_streak=0, max_streak=10_000, max_open_gap=10.0, min_open_gap=-1.0,
                     min_theme_heat=0.0, dragon_head=1_000_000, max_per_theme=1_000_000,
                     min_limit_ups=0, max_limit_downs=10_000_000, min_height=0,
                     max_broken_rate=1.0, trailing_stop=0.999, exit_theme_heat=0.0)
TYPICAL = dict(TODAY, min_price=0.0, max_price=1e9, min_amount=0.0, min_limit_ups=0,
               max_broken_rate=1.0)     # a recipe's usual few rules, never binding
WITH_RULES = dict(TODAY, exclude_st=True, min_price=3.0, max_price=80.0, min_amount=1e5,
                  min_streak=1, max_open_gap=0.09, min_theme_heat=1.0, dragon_head=2,
                  max_per_theme=3, theme_window=3, min_limit_ups=10, max_limit_downs=200,
                  min_height=1, max_broken_rate=0.9, trailing_stop=0.05, exit_theme_heat=1.0)


def features(mk, boards, is_st):
    flags, streak, _days, _boards = stock_features_nb(mk.high, mk.low, mk.close, mk.limit_up,
                                                      mk.limit_down, np.int64(MAX_GAP), HALF_CENT)
    return flags, streak, session_features_nb(flags, streak, boards, is_st)


def numpy_peer(mk):
    st = scan.limit_state(mk.high, mk.low, mk.close, mk.limit_up, mk.limit_down)
    scan.streaks(st.sealed_up, st.traded)
    scan.board_runs(st.sealed_up, st.traded)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stocks", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=2500)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    mk, marks = synthetic_inputs(args.stocks, args.sessions)
    n_sessions, n_stocks = mk.close.shape
    codes = np.array([f"{600000 + i:06d}" if i % 3 else f"{300000 + i:06d}"
                      for i in range(n_stocks)])
    boards = rules.boards_of(codes).astype(np.int64)
    is_st = np.zeros((n_sessions, n_stocks), np.bool_)   # ST per session
    is_st[:, ::50] = True
    features(mk, boards, is_st)                                    # compile
    t_feat = median_time(lambda: features(mk, boards, is_st), args.repeat)
    t_peer = median_time(lambda: numpy_peer(mk), max(1, args.repeat // 2))
    print(f"panel: {n_stocks:,} stocks x {n_sessions:,} sessions "
          f"({n_stocks * n_sessions / 1e6:.1f}M stock-sessions)")
    print(f"features (numba, per stock + per session): {t_feat:.3f} s "
          f"({t_feat / 1.0:.2f}x the 1 s target); numpy per-stock peer {t_peer:.3f} s: "
          f"ratio {t_feat / t_peer:.2f}")

    _flags, streak, session = features(mk, boards, is_st)
    prev_close = np.full_like(mk.close, np.nan)
    prev_close[1:] = mk.close[:-1]
    # Amount: 10,000 shares a session at the close (the synthetic closes compound to far above
    # real prices, and volume x close would pass the 1e12 CNY bound of max_amount).
    full_mk = mk._replace(prev_close=prev_close, amount=mk.close * 1e4, streak=streak,
                          session=session, board=boards, is_st=is_st)
    base = mark_index_nb(marks)
    rng = np.random.default_rng(3)
    k_themes = 40
    theme = rng.integers(0, k_themes, base.stock.shape[0]).astype(np.int64)
    heat = rng.integers(0, 3, (n_sessions, k_themes)).astype(np.float64)
    bare = MarkIndex(base.ptr, base.stock, base.score, theme, heat, base.exits)
    mi = with_mark_state(full_mk, bare)
    t_gather = median_time(lambda: with_mark_state(full_mk, bare), args.repeat)
    row_today, row_idle = pack_params(TODAY), pack_params(NEVER_BINDING)
    row_rules, row_typical = pack_params(WITH_RULES), pack_params(TYPICAL)
    for row in (row_today, row_idle, row_rules, row_typical):
        simulate_nb(full_mk, mi, row, False)                       # compile
    today = simulate_nb(full_mk, mi, row_today, False)
    idle = simulate_nb(full_mk, mi, row_idle, False)
    typical = simulate_nb(full_mk, mi, row_typical, False)
    for other in (idle, typical, simulate_nb(full_mk, bare, row_idle, False)):
        if not (np.array_equal(today[2], other[2]) and np.array_equal(today[4], other[4])):
            raise SystemExit("never-binding thresholds changed the backtest: a bug")
    t_today = median_time(lambda: simulate_nb(full_mk, mi, row_today, False), args.repeat)
    t_idle = median_time(lambda: simulate_nb(full_mk, mi, row_idle, False), args.repeat)
    t_typical = median_time(lambda: simulate_nb(full_mk, mi, row_typical, False), args.repeat)
    t_rules = median_time(lambda: simulate_nb(full_mk, mi, row_rules, False), args.repeat)
    t_self = median_time(lambda: simulate_nb(full_mk, bare, row_idle, False), args.repeat)
    stats = simulate_nb(full_mk, mi, row_rules, False)[4]
    print(f"kernel, {mi.stock.shape[0]:,} marks, today's rules: {t_today * 1e3:.1f} ms "
          f"({int(today[4][2]):,} buys)")
    print(f"  every filter, the gate and the new exits, never binding (same ledger): "
          f"{t_idle * 1e3:.1f} ms, ratio {t_idle / t_today:.2f} (target <= 2)")
    print(f"  price, amount and the gate only, never binding (same ledger): "
          f"{t_typical * 1e3:.1f} ms, ratio {t_typical / t_today:.2f}")
    print(f"  the same rules binding: {t_rules * 1e3:.1f} ms, ratio {t_rules / t_today:.2f} "
          f"({int(stats[2]):,} buys)")
    print(f"  per-mark state gathered once per marks (a grid's cost, not per backtest): "
          f"{t_gather * 1e3:.1f} ms, ratio {t_gather / t_today:.2f}")
    print(f"  every filter etc. never binding, state gathered by the backtest itself (a single "
          f"run): {t_self * 1e3:.1f} ms, ratio {t_self / t_today:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
