"""Metrics: quantstats return statistics, the numba twin, round trips, fees, rejections, JSON."""
from __future__ import annotations

import json
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.engine.metrics_nb import RETURN_STATS, returns_stats_nb
from backtests.report.metrics import (
    compute_metrics,
    metrics_json,
    return_stats,
    round_trips,
    trade_stats,
)

SESSIONS = np.array(pd.bdate_range("2024-03-01", periods=60).values, dtype="datetime64[D]")


def _curve(values) -> pd.Series:
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.DatetimeIndex(SESSIONS[:len(values)].astype("datetime64[ns]")))


def _curves() -> dict[str, tuple[np.ndarray, float]]:
    rng = np.random.default_rng(7)
    walk = 1e6 * np.cumprod(1 + rng.normal(0.001, 0.02, 40))
    down = 1e6 * np.cumprod(1 - rng.uniform(0.001, 0.03, 30))
    up = 1e6 * np.cumprod(1 + rng.uniform(0.0, 0.02, 25))
    crash = np.r_[1e6 * np.ones(5), 4e5, 3e5, 6e5, 9e5, 1.2e6]
    return {"walk": (walk, 1e6), "all_down": (down, 1e6), "all_up": (up, 1e6),
            "flat": (np.full(20, 1e6), 1e6), "crash": (crash, 1e6),
            "first_day_loss": (np.array([9.9e5, 1e6, 1.01e6]), 1e6),
            "single": (np.array([1.02e6]), 1e6)}


def _nan_to_none(x):
    return None if (x is None or (isinstance(x, float) and math.isnan(x))) else x


@pytest.mark.parametrize("name", list(_curves()))
def test_numba_stats_equal_quantstats(name):
    eq, initial = _curves()[name]
    stats, undefined = return_stats(_curve(eq), initial)
    nb = returns_stats_nb(eq, initial)
    for i, key in enumerate(RETURN_STATS):
        got = _nan_to_none(float(nb[i]))
        if stats[key] is None:
            assert got is None, (key, got)
            assert key in undefined
        else:
            assert got == pytest.approx(stats[key], rel=1e-9, abs=1e-12), key


def test_hand_computed_stats():
    # returns +10%, -10%, +10% from 1,000,000
    stats, undefined = return_stats(_curve([1.1e6, 0.99e6, 1.089e6]), 1e6)
    assert undefined == {}
    assert stats["total_return"] == pytest.approx(0.089)
    assert stats["cagr"] == pytest.approx(1.089 ** 84 - 1)
    assert stats["max_drawdown"] == pytest.approx(-0.1)
    assert stats["volatility"] == pytest.approx(math.sqrt(0.04 / 3) * math.sqrt(252))
    assert stats["sharpe"] == pytest.approx((0.1 / 3) / math.sqrt(0.04 / 3) * math.sqrt(252))
    assert stats["sortino"] == pytest.approx((0.1 / 3) / math.sqrt(0.01 / 3) * math.sqrt(252))


def test_edge_cases_are_null_with_reason():
    flat, why = return_stats(_curve(np.full(10, 5e5)), 5e5)
    assert flat["total_return"] == 0 and flat["cagr"] == 0 and flat["max_drawdown"] == 0
    assert flat["volatility"] == 0
    assert flat["sharpe"] is None and why["sharpe"] == "zero volatility"
    assert flat["sortino"] is None and why["sortino"] == "no losing session"
    # a constant-rate fall: quantstats' sharpe would divide by rounding noise
    steady = 1e6 * 0.99 ** np.arange(1, 21)
    s, why = return_stats(_curve(steady), 1e6)
    assert s["sharpe"] is None and why["sharpe"] == "zero volatility"
    assert s["sortino"] == pytest.approx(-math.sqrt(252))
    assert math.isnan(returns_stats_nb(steady, 1e6)[3])
    one, why = return_stats(_curve([1.01e6]), 1e6)
    assert one["volatility"] is None and why["volatility"] == "fewer than two sessions"
    empty, why = return_stats(_curve([]), 1e6)
    assert all(v is None for v in empty.values()) and set(why) == set(RETURN_STATS)
    assert np.isnan(returns_stats_nb(np.empty(0), 1e6)).all()


def _trades(rows):
    return pd.DataFrame(rows, columns=["date", "code", "side", "shares", "price", "value",
                                       "commission", "stamp_duty", "transfer_fee", "reason"])


TRADES = _trades([
    ("2024-03-01", "600001", "buy", 1000, 10.0, 10000.0, 5.0, 0.0, 0.1, "entry"),
    ("2024-03-04", "600001", "buy", 500, 11.0, 5500.0, 5.0, 0.0, 0.06, "entry"),
    ("2024-03-04", "000002", "buy", 100, 20.0, 2000.0, 5.0, 0.0, 0.02, "entry"),
    ("2024-03-06", "600001", "sell", 1500, 12.0, 18000.0, 5.0, 9.0, 0.18, "break"),
    ("2024-03-07", "000002", "sell", 100, 19.0, 1900.0, 5.0, 0.95, 0.02, "stop_loss"),
    ("2024-03-07", "300003", "buy", 200, 5.0, 1000.0, 5.0, 0.0, 0.01, "entry"),
])


def test_round_trips_fifo_with_fees():
    rt = round_trips(TRADES, SESSIONS)
    assert rt["code"].tolist() == ["600001", "600001", "000002"]
    assert rt["shares"].tolist() == [1000, 500, 100]
    assert rt["cost"].tolist() == pytest.approx([10005.1, 5505.06, 2005.02])
    net = 18000.0 - 14.18
    assert rt["proceeds"].tolist() == pytest.approx([net * 2 / 3, net / 3, 1900.0 - 5.97])
    assert rt["pnl"].tolist() == pytest.approx([net * 2 / 3 - 10005.1, net / 3 - 5505.06,
                                                1894.03 - 2005.02])
    # 2024-03-01 (Fri) -> 03-06 (Wed) is 3 sessions; 03-04 -> 03-06 is 2; 03-04 -> 03-07 is 3
    assert rt["holding_sessions"].tolist() == [3, 2, 3]


def test_oversell_is_an_error():
    bad = _trades([("2024-03-01", "600001", "sell", 100, 1.0, 100.0, 5.0, 0.05, 0.0, "break")])
    with pytest.raises(ValueError, match="exceeds"):
        round_trips(bad, SESSIONS)


ORDERS = pd.DataFrame({
    "status": ["filled"] * 6 + ["rejected", "rejected", "rejected", "expired"],
    "reject_reason": [""] * 6 + ["limit_up_sealed", "limit_up_sealed", "t_plus_1", "not_touched"],
})


def test_trade_stats():
    stats, undefined = trade_stats(TRADES, ORDERS, SESSIONS,
                                   reasons=("limit_up_sealed", "t_plus_1", "suspended",
                                            "not_touched"))
    net = 18000.0 - 14.18
    gains = net - 10005.1 - 5505.06
    loss = 2005.02 - 1894.03
    assert stats["trades"] == 3 and stats["open_positions"] == 1
    assert stats["win_rate"] == pytest.approx(2 / 3)
    assert stats["profit_factor"] == pytest.approx(gains / loss)
    assert stats["avg_holding_sessions"] == pytest.approx(8 / 3)
    assert stats["orders"] == 10 and stats["filled_orders"] == 6
    assert stats["fill_rate"] == pytest.approx(0.6)
    assert stats["rejections"] == {"limit_up_sealed": 2, "not_touched": 1, "suspended": 0,
                                   "t_plus_1": 1}
    assert stats["fees"]["commission"] == pytest.approx(30.0)
    assert stats["fees"]["stamp_duty"] == pytest.approx(9.95)
    assert stats["fees"]["transfer_fee"] == pytest.approx(0.39)
    assert stats["fees"]["total"] == pytest.approx(40.34)
    assert undefined == {}


def test_trade_stats_without_trades():
    stats, undefined = trade_stats(_trades([]), ORDERS.iloc[:0], SESSIONS, reasons=("t_plus_1",))
    assert stats["trades"] == 0 and stats["win_rate"] is None and stats["fill_rate"] is None
    assert stats["rejections"] == {"t_plus_1": 0}
    assert stats["fees"] == {"commission": 0.0, "stamp_duty": 0.0, "transfer_fee": 0.0,
                             "total": 0.0}
    assert undefined == {"avg_holding_sessions": "no round trip", "fill_rate": "no order",
                         "profit_factor": "no round trip", "win_rate": "no round trip"}


def test_only_winners_profit_factor_null():
    stats, undefined = trade_stats(TRADES.iloc[:4], ORDERS.iloc[:4], SESSIONS)
    assert stats["profit_factor"] is None
    assert undefined["profit_factor"] == "no losing round trip"


class _Market(NamedTuple):
    sessions: np.ndarray


class _Result(NamedTuple):
    market: _Market
    params: dict
    equity: pd.DataFrame
    orders: pd.DataFrame
    trades: pd.DataFrame


def test_compute_metrics_and_json_are_stable():
    eq = pd.DataFrame({"date": pd.to_datetime(SESSIONS[:6]), "cash": 0.0, "market_value": 0.0,
                       "equity": [1e6, 1e6, 1e6, 1e6, 1e6, 1e6]})
    res = _Result(_Market(SESSIONS), {"cash": 1e6}, eq, ORDERS.iloc[:0], _trades([]))
    m = compute_metrics(res)
    assert m["start"] == "2024-03-01" and m["end"] == "2024-03-08" and m["sessions"] == 6
    assert m["final_equity"] == 1e6 and m["total_return"] == 0
    assert m["undefined"]["sharpe"] == "zero volatility"
    text = metrics_json(m)
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back["sharpe"] is None and list(back) == sorted(back)
    assert metrics_json(compute_metrics(res)) == text


def test_json_rounding():
    text = metrics_json({"sharpe": 1 / 3, "final_equity": 1234.5678, "max_drawdown": -0.0,
                         "fees": {"total": 0.1 + 0.2}, "x": float("nan")})
    assert json.loads(text) == {"sharpe": 0.3333333333, "final_equity": 1234.57,
                                "max_drawdown": 0.0, "fees": {"total": 0.3}, "x": None}


def test_docs_define_every_metric():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    eq = pd.DataFrame({"date": pd.to_datetime(SESSIONS[:3]), "cash": 0.0, "market_value": 0.0,
                       "equity": [1e6, 1.01e6, 1e6]})
    m = compute_metrics(_Result(_Market(SESSIONS), {"cash": 1e6}, eq, ORDERS, TRADES))
    for key in m:
        assert f"`{key}`" in doc, key
    for reason in ("zero volatility", "no losing session", "fewer than two sessions",
                   "no round trip", "no losing round trip", "no order"):
        assert f"`{reason}`" in doc, reason


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=1, max_size=60),
       st.floats(1e4, 1e8))
def test_numba_equals_quantstats_on_random_curves(returns, initial):
    eq = initial * np.cumprod(1.0 + np.array(returns))
    stats, _undefined = return_stats(_curve(eq), initial)
    nb = returns_stats_nb(eq, initial)
    for i, key in enumerate(RETURN_STATS):
        got = _nan_to_none(float(nb[i]))
        if stats[key] is None:
            assert got is None, key
        else:
            assert got == pytest.approx(stats[key], rel=1e-9, abs=1e-12), key
