"""Property tests of the engine (hypothesis): random small panels that respect the price
limits — with 一字板, 一字跌停, sealed closes and suspensions mixed in — random marks and random
parameters. Every invariant is checked against the ledger rebuilt from the order records, not
against the kernel's own bookkeeping.
"""
from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.core import rules
from backtests.core.calendar import trading_calendar
from backtests.engine.backtest import run_backtest, toy_market

CODE_POOL = ("000001", "000002", "002354", "300001", "600001", "688001", "688002")
START_CHOICES = ("2022-04-20", "2023-08-21", "2024-12-02")


def random_panel(seed: int, n_stocks: int, n_sessions: int):
    """A market whose bars all lie within each session's limits (or no limit), prices on the
    0.01 grid. Bar kinds: 一字板, 一字跌停, sealed limit-up close, limit-down close, ordinary."""
    rng = np.random.default_rng(seed)
    codes = sorted(rng.choice(CODE_POOL, size=n_stocks, replace=False).tolist())
    sessions = trading_calendar().sessions
    i = int(np.searchsorted(sessions, np.datetime64(rng.choice(START_CHOICES), "D")))
    days = sessions[i:i + n_sessions]
    boards = rules.boards_of(codes)
    ratio = rules.limit_ratios(boards, np.zeros(n_stocks, bool), days)
    first = rng.choice([3.0, 10.0, 23.45, 50.0, 120.0], size=n_stocks)
    o, h, lo, c = (np.full((n_sessions, n_stocks), np.nan) for _ in range(4))
    vol = rng.integers(100, 200_000, size=(n_sessions, n_stocks)).astype(float)
    prev = first.copy()
    for t in range(n_sessions):
        up, down = rules.limit_prices(prev, ratio[t])
        for j in range(n_stocks):
            if rng.random() < 0.12:
                continue  # suspended
            lu, ld = int(round(up[j] * 100)), int(round(down[j] * 100))
            kind = rng.random()
            if kind < 0.12:
                bar = (lu, lu, lu, lu)                       # 一字板
            elif kind < 0.2:
                bar = (ld, ld, ld, ld)                       # 一字跌停
            else:
                op, cl = rng.integers(ld, lu + 1, size=2)
                if kind < 0.35:
                    cl = lu                                  # sealed close
                elif kind < 0.42:
                    cl = ld
                elif kind < 0.5:
                    op = lu                                  # opened at the limit-up
                hi = rng.integers(max(op, cl), lu + 1)
                low = rng.integers(ld, min(op, cl) + 1)
                bar = (op, hi, low, cl)
            o[t, j], h[t, j], lo[t, j], c[t, j] = (x / 100.0 for x in bar)
            prev[j] = c[t, j]
    # Some stocks start without a reference close: no limit in their first session.
    prev_close = np.where(rng.random(n_stocks) < 0.2, np.nan, first)
    mkt = toy_market(days, codes, o, h, lo, c, volume=vol, prev_close=prev_close)
    marks = []
    for t in range(n_sessions):
        for j in range(n_stocks):
            if rng.random() < 0.35:
                marks.append((str(days[t]), codes[j], float(rng.choice([0.5, 1.0, 2.0]))))
    return mkt, pd.DataFrame(marks, columns=["date", "code", "score"])


theme_params = st.fixed_dictionaries({
    "entry": st.sampled_from(["open", "limit"]),
    "limit_fill": st.sampled_from(["broken", "touched"]),
    "exit_on_break": st.booleans(),
    "exit_at": st.sampled_from(["next_open", "close"]),
    "stop_loss": st.sampled_from([0.0, 0.03, 0.1]),
    "take_profit": st.sampled_from([0.0, 0.05, 0.2]),
    "max_hold": st.integers(0, 4),
    "max_positions": st.integers(1, 4),
    "skip_held": st.booleans(),
})
hold_params = st.fixed_dictionaries({
    "name": st.just("hold_n"),
    "hold": st.integers(1, 3),
    "exit_at": st.sampled_from(["next_open", "close"]),
    "max_positions": st.integers(1, 4),
    "skip_held": st.booleans(),
})
common_params = st.fixed_dictionaries({
    "cash": st.sampled_from([20_000.0, 100_000.0, 1_000_000.0]),
    "position_size": st.sampled_from([0.1, 0.3, 1.0]),
    "fixed_cash": st.sampled_from([0.0, 0.0, 15_000.0]),
    "commission_min": st.sampled_from([0.0, 5.0]),
    "slippage_ticks": st.integers(0, 3),
    "at_limit_open": st.sampled_from(["fill", "reject"]),
    "volume_cap": st.sampled_from([0.0, 0.0, 0.01, 0.5]),
})


def half_up(x: Decimal) -> float:
    return float(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def check_ledger(mkt, res):
    """Rebuild positions and cash from the records and check every invariant."""
    rec = res.records
    params = res.params
    n_sessions, n_stocks = mkt.close.shape
    stamp, transfer = rules.fee_rates(mkt.sessions)
    assert (np.diff(rec["session"]) >= 0).all()
    shares = np.zeros(n_stocks, np.int64)
    bought_at = np.full(n_stocks, -1)
    last_close = np.full(n_stocks, np.nan)
    cash = params["cash"]
    k = 0
    for t in range(n_sessions):
        start_shares = shares.copy()
        while k < len(rec) and rec["session"][k] == t:
            r = rec[k]
            k += 1
            j, sh, price = int(r["stock"]), int(r["shares"]), float(r["price"])
            if r["status"] != 0:
                assert r["commission"] == r["stamp_duty"] == r["transfer_fee"] == 0.0
                continue
            assert sh > 0
            # Every fill inside the session's [low, high], on the 0.01 grid.
            assert mkt.low[t, j] - 1e-9 <= price <= mkt.high[t, j] + 1e-9
            assert abs(price * 100 - round(price * 100)) < 1e-6
            value = Decimal(str(round(price, 2))) * sh
            com = half_up(max(value * Decimal(str(params["commission_rate"])),
                              Decimal(str(params["commission_min"]))))
            tf = half_up(value * Decimal(str(transfer[t])))
            assert r["commission"] == com and r["transfer_fee"] == tf
            if r["side"] == 1:
                # No buy filled in a 一字板 session.
                lu = mkt.limit_up[t, j]
                assert not (np.isfinite(lu) and mkt.low[t, j] >= lu)
                assert r["stamp_duty"] == 0.0
                min_lot, step = rules.LOT[int(mkt.boards[j])]
                assert sh >= min_lot and (sh - min_lot) % step == 0
                shares[j] += sh
                bought_at[j] = t
                cash -= price * sh + com + tf
            else:
                assert r["stamp_duty"] == half_up(value * Decimal(str(stamp[t])))
                # The whole position, none of it bought this session (T+1).
                assert sh == shares[j] == start_shares[j] and bought_at[j] < t
                ld = mkt.limit_down[t, j]
                assert not (np.isfinite(ld) and mkt.high[t, j] <= ld)  # not 一字跌停
                shares[j] = 0
                cash += price * sh - com - tf - r["stamp_duty"]
            assert cash >= -1e-6
            assert (shares >= 0).all()
        last_close = np.where(np.isnan(mkt.close[t]), last_close, mkt.close[t])
        mv = float(np.nansum(shares * np.where(shares > 0, last_close, 0.0)))
        row = res.equity.iloc[t]
        assert abs(row["cash"] - cash) < 1e-6
        assert row["cash"] >= -1e-9
        assert abs(row["market_value"] - mv) < 1e-6
        assert abs(row["equity"] - (row["cash"] + row["market_value"])) < 1e-6
        assert (shares > 0).sum() <= params["max_positions"]
    assert k == len(rec)


def check_priority(mkt, res, marks):
    """Buy orders of a session come in score-descending, code-ascending order."""
    score = {(str(d), c): s for d, c, s in marks.itertuples(index=False)}
    buys = res.orders[res.orders["side"] == "buy"]
    for _day, group in buys.groupby("date", sort=False):
        keys = [(-score[(str(d.date()), c)], c) for d, c in zip(group["date"], group["code"])]
        assert keys == sorted(keys)


SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n_stocks=st.integers(1, 5),
       n_sessions=st.integers(1, 12), strat=theme_params, common=common_params)
def test_theme_hype_invariants(seed, n_stocks, n_sessions, strat, common):
    mkt, marks = random_panel(seed, n_stocks, n_sessions)
    res = run_backtest(mkt, marks, {**strat, **common})
    check_ledger(mkt, res)
    check_priority(mkt, res, marks)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_stocks=st.integers(1, 5),
       n_sessions=st.integers(1, 12), strat=hold_params, common=common_params)
def test_hold_n_invariants(seed, n_stocks, n_sessions, strat, common):
    mkt, marks = random_panel(seed, n_stocks, n_sessions)
    res = run_backtest(mkt, marks, {**strat, **common})
    check_ledger(mkt, res)
    sells = res.orders[(res.orders["side"] == "sell")]
    assert set(sells["exit_reason"]) <= {"hold_n"}


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), strat=theme_params, common=common_params)
def test_record_false_gives_the_same_equity_and_stats(seed, strat, common):
    mkt, marks = random_panel(seed, 4, 10)
    full = run_backtest(mkt, marks, {**strat, **common})
    bare = run_backtest(mkt, marks, {**strat, **common}, record=False)
    assert np.array_equal(full.equity.to_numpy(), bare.equity.to_numpy())
    assert full.stats == bare.stats
    assert full.stats["orders"] == len(full.records)
    assert full.stats["fills"] == int((full.records["status"] == 0).sum())


@functools.cache
def _python_reference():
    """``simulate_py`` and ``same_ledger`` of benchmarks/bench_engine.py: the fill model written
    independently as a plain-Python loop."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"
    spec = importlib.util.spec_from_file_location("bench_engine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.simulate_py, module.same_ledger


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_stocks=st.integers(1, 5),
       n_sessions=st.integers(1, 12), strat=st.one_of(theme_params, hold_params),
       common=common_params)
def test_kernel_equals_plain_python_reference(seed, n_stocks, n_sessions, strat, common):
    from backtests.engine.backtest import mark_index, market_arrays, marks_array
    from backtests.engine.nb import simulate_nb
    from strategies import pack_params

    simulate_py, same_ledger = _python_reference()
    mkt, marks = random_panel(seed, n_stocks, n_sessions)
    mk, mi = market_arrays(mkt), mark_index(marks_array(mkt, marks))
    prow = pack_params({**strat, **common})
    same_ledger(simulate_nb(mk, mi, prow, True), simulate_py(mk, mi, prow))
