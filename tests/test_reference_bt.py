"""The backtrader reference on its own: literal ledgers on small hand-built panels.

Every expected figure is worked out by hand from docs/interfaces.md ("The fill model, exactly")
and the fee table (2024 sessions: commission 0.025 % min 5, stamp duty 0.05 % on sells,
transfer fee 0.001 % both sides), not read back from either engine.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.core.errors import ConfigError
from backtests.data.market import Market
from backtests.engine.backtest import toy_market
from backtests.reference.backtrader import resolve_params, run_reference

NAN = math.nan


def market(codes, sessions, bars, *, prev_close, volume=1e9) -> Market:
    """Market from ``bars[s][n] = (open, high, low, close)`` (None = no bar) via
    :func:`backtests.engine.backtest.toy_market`: limits from the shared rule tables (previous traded
    close x ratio, half-up)."""
    ohlc = np.full((4, len(sessions), len(codes)), NAN)
    for s, row in enumerate(bars):
        for n, bar in enumerate(row):
            if bar is not None:
                ohlc[:, s, n] = bar
    return toy_market(sessions, codes, *ohlc, np.broadcast_to(volume, ohlc.shape[1:]),
                      prev_close=prev_close)


DAYS = ["2024-09-02", "2024-09-03", "2024-09-04", "2024-09-05", "2024-09-06"]


def marks(*rows):
    return pd.DataFrame(rows, columns=["date", "code", "score"])


def orders_list(res, cols=("date", "code", "side", "shares", "price", "status",
                           "reject_reason", "exit_reason", "wait")):
    o = res.orders.copy()
    o["date"] = o["date"].dt.strftime("%Y-%m-%d")
    return [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in r)
            for r in o[list(cols)].itertuples(index=False)]


def fees(res):
    return [tuple(r) for r in res.trades[["commission", "stamp_duty", "transfer_fee"]]
            .itertuples(index=False)]


# ---------------------------------------------------------------- T+1 and fees
def test_t_plus_1_close_exit_is_carried_to_next_open_with_exact_fees():
    m = market(["000001"], DAYS[:2], [
        [(10.20, 10.50, 10.10, 10.30)],      # bought at 10.20; closes off the limit: break
        [(10.40, 10.60, 10.20, 10.50)],
    ], prev_close=10.00)
    res = run_reference(m, marks((DAYS[0], "000001", 1.0)),
                        {"fixed_cash": 100_000.0, "exit_at": "close"})
    assert orders_list(res) == [
        ("2024-09-02", "000001", "buy", 9800, 10.20, "filled", "", "", 0),
        # same-session sale refused, recorded at the close, carried
        ("2024-09-02", "000001", "sell", 9800, 10.30, "rejected", "t_plus_1", "break", 0),
        ("2024-09-03", "000001", "sell", 9800, 10.40, "filled", "", "break", 1),
    ]
    # buy 9800 x 10.20 = 99960: commission 24.99, transfer 0.9996 -> 1.00
    # sell 9800 x 10.40 = 101920: commission 25.48, stamp 50.96, transfer 1.0192 -> 1.02
    assert fees(res) == [(24.99, 0.0, 1.00), (25.48, 50.96, 1.02)]
    eq = res.equity
    assert eq["cash"].round(2).tolist() == [900_014.01, 1_001_856.55]
    assert eq["market_value"].round(2).tolist() == [100_940.00, 0.0]
    assert eq["equity"].round(2).tolist() == [1_000_954.01, 1_001_856.55]


def test_minimum_commission_and_stamp_duty_before_the_2023_cut():
    days = ["2023-08-24", "2023-08-25"]
    m = market(["600000"], days, [[(10.00, 10.10, 9.90, 10.00)],
                                  [(10.00, 10.10, 9.90, 10.00)]], prev_close=10.00)
    res = run_reference(m, marks((days[0], "600000", 1.0)),
                        {"fixed_cash": 10_000.0, "exit_on_break": True})
    # 1000 x 10 = 10000: commission 2.50 -> the minimum 5.00; transfer 0.001 % (since
    # 2022-04-29): 0.10; stamp duty 0.1 % (halved only from 2023-08-28): 10.00
    assert fees(res) == [(5.0, 0.0, 0.10), (5.0, 10.0, 0.10)]


# ---------------------------------------------------------------- limit-up rules
def test_open_entry_one_word_board_and_at_limit_open_policy():
    # 000001 一字板 (open = high = low = limit-up); 000002 opens at the limit, trades below it.
    bars = [[(11.00, 11.00, 11.00, 11.00), (11.00, 11.00, 10.80, 10.90)]]
    m = market(["000001", "000002"], DAYS[:1], bars, prev_close=10.00)
    mk = marks((DAYS[0], "000001", 2.0), (DAYS[0], "000002", 1.0))
    fill = run_reference(m, mk, {"fixed_cash": 11_000.0})
    assert orders_list(fill, ("code", "shares", "price", "status", "reject_reason")) == [
        ("000001", 0, 11.00, "rejected", "limit_up_sealed"),
        ("000002", 1000, 11.00, "filled", ""),
    ]
    reject = run_reference(m, mk, {"fixed_cash": 11_000.0, "at_limit_open": "reject"})
    assert orders_list(reject, ("code", "status", "reject_reason")) == [
        ("000001", "rejected", "limit_up_sealed"), ("000002", "rejected", "limit_up_sealed")]


def test_limit_entry_touched_broken_sealed_and_not_touched():
    bars = [[
        (11.00, 11.00, 11.00, 11.00),   # 000001 一字板: sealed either way
        (10.50, 11.00, 10.40, 10.90),   # 000002 touched, board broke (close < limit)
        (10.50, 11.00, 10.40, 11.00),   # 000003 touched, closed sealed
        (10.50, 10.90, 10.40, 10.80),   # 000004 never touched: expires
    ]]
    m = market(["000001", "000002", "000003", "000004"], DAYS[:1], bars, prev_close=10.00)
    mk = marks(*[(DAYS[0], c, 1.0) for c in ("000001", "000002", "000003", "000004")])
    cols = ("code", "shares", "price", "status", "reject_reason")
    broken = run_reference(m, mk, {"entry": "limit", "limit_fill": "broken",
                                   "fixed_cash": 22_000.0})
    assert orders_list(broken, cols) == [
        ("000001", 0, 11.00, "rejected", "limit_up_sealed"),
        ("000002", 2000, 11.00, "filled", ""),
        ("000003", 0, 11.00, "rejected", "limit_up_sealed"),
        ("000004", 0, 11.00, "expired", "not_touched"),
    ]
    touched = run_reference(m, mk, {"entry": "limit", "limit_fill": "touched",
                                    "fixed_cash": 22_000.0})
    assert orders_list(touched, cols)[2] == ("000003", 2000, 11.00, "filled", "")


def test_limit_entry_without_a_price_limit_is_rejected_no_limit():
    m = market(["000001"], DAYS[:1], [[(10.0, 10.5, 9.9, 10.2)]], prev_close=NAN)
    res = run_reference(m, marks((DAYS[0], "000001", 1.0)), {"entry": "limit"})
    assert orders_list(res, ("status", "reject_reason", "price")) == [
        ("rejected", "no_limit", None)]


# ---------------------------------------------------------------- limit-down carry-over
def test_sealed_limit_down_sell_is_carried_until_it_can_fill():
    m = market(["000001"], DAYS[:4], [
        [(10.00, 10.20, 9.95, 10.10)],       # bought; close 10.10 < 11.00: break
        [(9.09, 9.09, 9.09, 9.09)],          # 一字跌停 (limit-down 9.09): sealed, carried
        [(8.18, 8.50, 8.18, 8.40)],          # opens at the limit-down 8.18, trades above it
        [(8.50, 8.60, 8.40, 8.50)],
    ], prev_close=10.00)
    mk = marks((DAYS[0], "000001", 1.0))
    res = run_reference(m, mk, {"fixed_cash": 50_000.0})
    assert orders_list(res) == [
        ("2024-09-02", "000001", "buy", 5000, 10.00, "filled", "", "", 0),
        ("2024-09-03", "000001", "sell", 5000, 9.09, "rejected", "limit_down_sealed", "break", 0),
        ("2024-09-04", "000001", "sell", 5000, 8.18, "filled", "", "break", 1),
    ]
    rej = run_reference(m, mk, {"fixed_cash": 50_000.0, "at_limit_open": "reject"})
    assert orders_list(rej, ("date", "price", "status", "reject_reason", "wait"))[1:] == [
        ("2024-09-03", 9.09, "rejected", "limit_down_sealed", 0),
        ("2024-09-04", 8.18, "rejected", "limit_down_sealed", 1),
        ("2024-09-05", 8.50, "filled", "", 2),
    ]
    # Valued at the close while stuck: 5000 x 9.09 on 09-03.
    assert res.equity["market_value"].round(2).tolist()[:2] == [50_500.0, 45_450.0]


def test_close_exit_at_the_limit_down_is_rejected_and_sold_next_open():
    m = market(["000001"], DAYS[:3], [
        [(10.00, 10.20, 9.95, 10.10)],
        [(9.50, 9.60, 9.09, 9.09)],          # closes at the limit-down: close sale refused
        [(9.00, 9.20, 8.90, 9.10)],
    ], prev_close=10.00)
    res = run_reference(m, marks((DAYS[0], "000001", 1.0)),
                        {"fixed_cash": 50_000.0, "exit_at": "close", "exit_on_break": False,
                         "stop_loss": 0.05})
    assert orders_list(res)[1:] == [
        ("2024-09-03", "000001", "sell", 5000, 9.09, "rejected", "limit_down_sealed",
         "stop_loss", 0),
        ("2024-09-04", "000001", "sell", 5000, 9.00, "filled", "", "stop_loss", 1),
    ]


# ---------------------------------------------------------------- lots, caps, cash
def test_star_lot_is_200_then_steps_of_one_and_main_board_rounds_to_100():
    m = market(["000001", "688001"], DAYS[:1],
               [[(10.00, 10.50, 9.90, 10.20), (20.90, 21.50, 20.50, 21.00)]],
               prev_close=[10.00, 20.00])
    mk = marks((DAYS[0], "688001", 2.0), (DAYS[0], "000001", 1.0))
    res = run_reference(m, mk, {"fixed_cash": 100_000.0})
    # 100000 / 20.90 = 4784.7 -> 4784 (STAR); 100000 / 10.00 -> 10000 (main)
    assert orders_list(res, ("code", "shares", "price")) == [
        ("688001", 4784, 20.90), ("000001", 10000, 10.00)]
    small = run_reference(m, mk, {"fixed_cash": 4_000.0})
    # 4000 / 20.90 = 191 < 200; 4000 / 10 = 400 -> fills 400
    assert orders_list(small, ("code", "shares", "status", "reject_reason")) == [
        ("688001", 0, "rejected", "below_min_lot"), ("000001", 400, "filled", "")]


def test_volume_cap_max_positions_and_cash_in_priority_order():
    bars = [[(10.00, 10.20, 9.90, 10.10)] * 4]
    m = market(["000001", "000002", "000003", "000004"], DAYS[:1], bars, prev_close=10.00,
               volume=25_000.0)
    mk = marks((DAYS[0], "000004", 3.0), (DAYS[0], "000002", 2.0), (DAYS[0], "000001", 2.0),
               (DAYS[0], "000003", 1.0))
    res = run_reference(m, mk, {"cash": 45_000.0, "fixed_cash": 30_000.0, "volume_cap": 0.1,
                                "max_positions": 3})
    # score desc, code asc: 000004, 000001, 000002, 000003. The cap: 0.1 x 25000 = 2500 ->
    # 2500 shares (not 3000). Cash 45000: 25000 + 6.25 + 0.25 = 25006.50 -> 19993.50 left;
    # 000001 steps down to 1900 shares (19000 + 5 + 0.19); 000002: 988.31 left < one lot;
    # 000003: two positions held, a third slot exists, but no cash either -> the max is 3,
    # so the check that fails is insufficient_cash.
    assert orders_list(res, ("code", "shares", "status", "reject_reason")) == [
        ("000004", 2500, "filled", ""),
        ("000001", 1900, "filled", ""),
        ("000002", 100, "rejected", "insufficient_cash"),
        ("000003", 100, "rejected", "insufficient_cash"),
    ]
    two = run_reference(m, mk, {"cash": 1e6, "fixed_cash": 10_000.0, "max_positions": 2})
    assert orders_list(two, ("code", "status", "reject_reason")) == [
        ("000004", "filled", ""), ("000001", "filled", ""),
        ("000002", "rejected", "max_positions"), ("000003", "rejected", "max_positions")]


def test_slippage_is_clamped_to_the_bar():
    m = market(["000001"], DAYS[:2], [[(10.00, 10.00, 9.90, 9.95)], [(9.90, 10.00, 9.90, 9.95)]],
               prev_close=10.00)
    res = run_reference(m, marks((DAYS[0], "000001", 1.0)),
                        {"fixed_cash": 10_000.0, "slippage_ticks": 2})
    # buy: 10.00 + 0.02 clamped to the high 10.00; sell: 9.90 - 0.02 clamped to the low 9.90
    assert orders_list(res, ("side", "price")) == [("buy", 10.00), ("sell", 9.90)]


# ---------------------------------------------------------------- suspensions and hold_n
def test_suspended_sessions_keep_sells_pending_and_refuse_buys():
    m = market(["000001", "000002"], DAYS[:3], [
        [(10.00, 10.20, 9.95, 10.10), None],
        [None, None],                         # both suspended
        [(10.30, 10.40, 10.20, 10.30), (5.00, 5.10, 4.90, 5.00)],
    ], prev_close=[10.00, 5.00])
    mk = marks((DAYS[0], "000001", 1.0), (DAYS[1], "000002", 1.0))
    res = run_reference(m, mk, {"fixed_cash": 50_000.0})
    assert orders_list(res) == [
        ("2024-09-02", "000001", "buy", 5000, 10.00, "filled", "", "", 0),
        ("2024-09-03", "000001", "sell", 5000, None, "rejected", "suspended", "break", 0),
        ("2024-09-03", "000002", "buy", 0, None, "rejected", "suspended", "", 0),
        ("2024-09-04", "000001", "sell", 5000, 10.30, "filled", "", "break", 1),
    ]
    # valued at the last traded close (10.10) while suspended
    assert res.equity["market_value"].round(2).tolist() == [50_500.0, 50_500.0, 0.0]


def test_hold_n_exits_after_hold_sessions_with_reason_hold_n():
    flat = (10.00, 10.20, 9.90, 10.00)
    m = market(["000001"], DAYS[:4], [[flat]] * 4, prev_close=10.00)
    res = run_reference(m, marks((DAYS[0], "000001", 1.0)),
                        {"name": "hold_n", "hold": 2, "fixed_cash": 10_000.0})
    assert orders_list(res, ("date", "side", "exit_reason")) == [
        ("2024-09-02", "buy", ""), ("2024-09-05", "sell", "hold_n")]


def test_skip_held_false_tops_up_and_keeps_first_entry_price():
    m = market(["000001"], DAYS[:3], [
        [(10.00, 11.00, 9.90, 11.00)],      # closes at the limit-up: held
        [(11.50, 12.10, 11.40, 12.10)],     # top-up at 11.50; closes at the limit-up again
        [(12.00, 12.80, 11.80, 12.60)],     # 12.60 >= 10.00 x 1.25: take profit
    ], prev_close=10.00)
    mk = marks((DAYS[0], "000001", 1.0), (DAYS[1], "000001", 1.0))
    res = run_reference(m, mk, {"skip_held": False, "fixed_cash": 10_000.0,
                                "take_profit": 0.25, "exit_at": "close"})
    # take profit measured from the first entry (10.00); from the average (10.67 x 1.25 =
    # 13.33) it would not fire and the break (12.60 < 13.31) would
    assert orders_list(res, ("date", "side", "shares", "price", "exit_reason")) == [
        ("2024-09-02", "buy", 1000, 10.00, ""), ("2024-09-03", "buy", 800, 11.50, ""),
        ("2024-09-04", "sell", 1800, 12.60, "take_profit")]
    held = run_reference(m, mk, {"fixed_cash": 10_000.0, "take_profit": 0.25,
                                 "exit_at": "close"})
    assert len(held.orders) == 2  # skip_held: the second mark places no order


# ---------------------------------------------------------------- frames and parameters
def test_frames_have_the_engine_columns_and_equity_identity():
    m = market(["000001"], DAYS[:2], [[(10.0, 10.2, 9.9, 10.1)], [(10.1, 10.3, 10.0, 10.2)]],
               prev_close=10.0)
    res = run_reference(m, marks((DAYS[0], "000001", 1.0)), {})
    assert list(res.equity.columns) == ["date", "cash", "market_value", "equity"]
    assert list(res.trades.columns) == ["date", "code", "side", "shares", "price", "value",
                                        "commission", "stamp_duty", "transfer_fee", "reason",
                                        "dividend_tax"]
    assert list(res.orders.columns)[:11] == [
        "date", "code", "side", "shares", "price", "status", "reject_reason", "commission",
        "stamp_duty", "transfer_fee", "exit_reason"]
    np.testing.assert_allclose(res.equity["cash"] + res.equity["market_value"],
                               res.equity["equity"])
    assert res.trades["reason"].tolist() == ["entry", "break"]


def test_no_marks_replays_every_session_flat():
    m = market(["000001"], DAYS[:3], [[(10.0, 10.2, 9.9, 10.1)]] * 3, prev_close=10.0)
    res = run_reference(m, marks(), {"cash": 5000.0})
    assert res.equity["equity"].tolist() == [5000.0] * 3
    assert res.orders.empty and res.trades.empty


@pytest.mark.parametrize("params, key", [({"entry": "close"}, "entry"),
                                         ({"name": "hold_n"}, "hold")])
def test_bad_parameters_raise_config_error(params, key):
    with pytest.raises(ConfigError, match=key):
        resolve_params(params)


def test_stop_and_take_profit_thresholds_are_exact_not_float_products():
    # 5.20 x (1 + 0.10) = 5.72 exactly (the float product is 5.720000000000001) and
    # 10.00 x (1 - 0.07) = 9.30 exactly (float: 9.299999999999999): both closes reach them.
    m = market(["000001", "000002"], DAYS[:2], [
        [(5.20, 5.72, 5.15, 5.72), (10.00, 10.00, 9.20, 9.30)],
        [(5.80, 6.00, 5.70, 5.90), (9.40, 9.60, 9.20, 9.50)],
    ], prev_close=[5.20, 10.00])
    mk = marks((DAYS[0], "000001", 2.0), (DAYS[0], "000002", 1.0))
    res = run_reference(m, mk, {"fixed_cash": 10_000.0, "take_profit": 0.10,
                                "stop_loss": 0.07, "exit_on_break": False})
    assert orders_list(res, ("date", "code", "side", "price", "exit_reason")) == [
        ("2024-09-02", "000001", "buy", 5.20, ""), ("2024-09-02", "000002", "buy", 10.00, ""),
        ("2024-09-03", "000001", "sell", 5.80, "take_profit"),
        ("2024-09-03", "000002", "sell", 9.40, "stop_loss"),
    ]
