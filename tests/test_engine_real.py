"""The engine on the real A-share panel in ../shared/data (skipped when it is absent).

Marks come from real limit-up events: the first limit-up close of each stock in December 2024
marks the next session. The Doubao story (data/news/doubao_concept_20241216.md) is checked
literally: on 2024-12-16 居然智家 (000785) was a 一字板 (unbuyable), 天娱数科 (002354) opened at
8.80, touched its 9.35 limit and broke, 蜂助手 (301382) never came near its 20% limit (40.72).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.core import rules
from backtests.data.load import load_market
from backtests.engine.backtest import run_backtest
from tests.conftest import REAL_NAMES, REAL_NAMES_2023, REAL_PANEL


@pytest.fixture(scope="module")
def market(shared_data):
    return load_market(REAL_PANEL, names=[REAL_NAMES, REAL_NAMES_2023])


@pytest.fixture(scope="module")
def december_marks(market):
    """First limit-up close of each stock in December 2024 -> a mark on the next session."""
    s = market.sessions
    dec = np.flatnonzero((s >= np.datetime64("2024-12-01")) & (s <= np.datetime64("2024-12-31")))
    lu = market.limit_up[dec]
    sealed = np.isfinite(lu) & (market.close[dec] >= lu - 1e-6)
    first = np.where(sealed.any(axis=0), sealed.argmax(axis=0), -1)
    stocks = np.flatnonzero(first >= 0)
    days = s[dec[first[stocks]] + 1]
    return pd.DataFrame({"date": days.astype(str), "code": market.codes[stocks]})


def check_invariants(market, res):
    rec = res.records
    filled = rec[rec["status"] == 0]
    t, j = filled["session"], filled["stock"]
    price = filled["price"]
    assert (price >= market.low[t, j] - 1e-9).all() and (price <= market.high[t, j] + 1e-9).all()
    buys = filled["side"] == 1
    lu = market.limit_up[t, j]
    assert not (buys & np.isfinite(lu) & (market.low[t, j] >= lu)).any()  # no 一字板 buy
    eq = res.equity
    assert (eq["cash"] >= 0).all()
    assert np.allclose(eq["equity"], eq["cash"] + eq["market_value"], atol=1e-6)
    # Cash rebuilt from the fills equals the engine's cash at the end.
    value = price * filled["shares"]
    fees = filled["commission"] + filled["stamp_duty"] + filled["transfer_fee"]
    flow = np.where(buys, -value, value) - fees
    assert abs(res.params["cash"] + flow.sum() - eq["cash"].iloc[-1]) < 1e-4
    # Each sell is of shares bought in an earlier session (T+1), the whole position.
    held: dict[int, tuple[int, int]] = {}
    for r in filled:
        if r["side"] == 1:
            sh, _ = held.get(r["stock"], (0, -1))
            held[r["stock"]] = (sh + r["shares"], r["session"])
        else:
            sh, bought = held.pop(r["stock"])
            assert sh == r["shares"] and bought < r["session"]


def test_december_limit_up_marks_open_entry(market, december_marks):
    assert len(december_marks) > 500
    res = run_backtest(market, december_marks, {"max_positions": 50, "position_size": 0.02})
    check_invariants(market, res)
    counts = res.orders.groupby(["side", "status", "reject_reason"]).size()
    # Stocks that kept sealing at the next open could not be bought.
    assert counts[("buy", "rejected", "limit_up_sealed")] > 0
    assert counts[("buy", "filled", "")] > 100
    assert counts[("sell", "filled", "")] > 100
    assert res.stats["buys"] == counts[("buy", "filled", "")]


@pytest.mark.parametrize("fill", ["broken", "touched"])
def test_december_limit_up_marks_limit_entry(market, december_marks, fill):
    res = run_backtest(market, december_marks,
                       {"entry": "limit", "limit_fill": fill, "max_positions": 50,
                        "position_size": 0.02, "exit_at": "close"})
    check_invariants(market, res)
    o = res.orders
    fills = o[(o["side"] == "buy") & (o["status"] == "filled")]
    assert len(fills) > 50
    # 打板 fills are at the limit-up price of the session.
    t, j = res.records["session"], res.records["stock"]
    buy_fill = (res.records["side"] == 1) & (res.records["status"] == 0)
    assert np.array_equal(res.records["price"][buy_fill],
                          market.limit_up[t[buy_fill], j[buy_fill]])
    assert (o["reject_reason"] == "not_touched").sum() > 0
    # exit_at = close on the entry day's break is refused by T+1 and carried.
    assert (o["reject_reason"] == "t_plus_1").sum() > 0


def test_doubao_story_ledger(market):
    marks = pd.DataFrame({"date": ["2024-12-16"] * 3, "code": ["000785", "002354", "301382"]})
    res = run_backtest(market, marks, {"cash": 1_000_000.0, "position_size": 0.1})
    got = [(str(r.date.date()), r.code, r.side, r.shares, r.price, r.status, r.reject_reason,
            round(r.commission, 2), round(r.stamp_duty, 2), round(r.transfer_fee, 2),
            r.exit_reason)
           for r in res.orders.itertuples(index=False)
           if r.date <= pd.Timestamp("2024-12-17")]
    assert got == [
        ("2024-12-16", "000785", "buy", 0, 5.21, "rejected", "limit_up_sealed", 0, 0, 0, ""),
        # 100,000 / 8.80 = 11,363 -> 11,300 shares, 99,440 CNY
        ("2024-12-16", "002354", "buy", 11300, 8.80, "filled", "", 24.86, 0, 0.99, ""),
        # 100,000 / 33.87 = 2,952 -> 2,900 shares, 98,223 CNY
        ("2024-12-16", "301382", "buy", 2900, 33.87, "filled", "", 24.56, 0, 0.98, ""),
        # both closed below the limit-up (7.78 < 9.35, 31.85 < 40.72): 断板, sold next open
        ("2024-12-17", "002354", "sell", 11300, 7.43, "filled", "", 20.99, 41.98, 0.84, "break"),
        ("2024-12-17", "301382", "sell", 2900, 31.30, "filled", "", 22.69, 45.39, 0.91, "break"),
    ]
    expected_cash = (1_000_000 - 99_440 - 24.86 - 0.99 - 98_223 - 24.56 - 0.98
                     + 83_959 - 20.99 - 41.98 - 0.84 + 90_770 - 22.69 - 45.39 - 0.91)
    day = res.equity.set_index("date").loc["2024-12-17"]
    assert day["cash"] == pytest.approx(expected_cash, abs=1e-6)
    assert day["market_value"] == 0.0
    # 打板 the same day: 000785 sealed all day, 002354 broke (filled at 9.35), 301382 untouched.
    res = run_backtest(market, marks, {"entry": "limit", "cash": 1_000_000.0})
    first = res.orders[res.orders["date"] == pd.Timestamp("2024-12-16")]
    assert list(zip(first["code"], first["status"], first["reject_reason"], first["price"])) == [
        ("000785", "rejected", "limit_up_sealed", 5.21),
        ("002354", "filled", "", 9.35),
        ("301382", "expired", "not_touched", 40.72),
    ]


def test_fee_rates_of_the_window(market):
    stamp, transfer = rules.fee_rates(market.sessions)
    assert set(stamp) == {0.0005} and set(transfer) == {0.00001}
