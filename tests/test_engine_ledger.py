"""Ledger tests of the engine: one small hand-computed market per rule of the fill model
(docs/interfaces.md), literal expected order records and cash.

Conventions of the fixtures: prices are the 0.01 grid; the first session's reference close is
given, so limits exist from the first session (main board ±10%, ChiNext/STAR ±20%). Fees in
Dec 2024: commission max(0.025% x value, 5.00), stamp duty 0.05% (sells), transfer 0.001%.
Each expected record is ``(date, code, side, shares, price, status, reject_reason,
commission, stamp_duty, transfer_fee, exit_reason, wait)``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.core.calendar import trading_calendar
from backtests.core.errors import ConfigError, DataError
from backtests.core.records import order_dt
from backtests.engine.backtest import run_backtest, toy_market
from strategies import ENGINE_PARAMS, pack_params

SUSP = None  # a session without a bar


def market(start, codes, bars, prev_close, volume=None):
    """Market of ``len(bars)`` sessions from ``start``; ``bars[t][j]`` = (o, h, l, c) or SUSP."""
    sessions = trading_calendar().sessions
    i = int(np.searchsorted(sessions, np.datetime64(start, "D")))
    days = sessions[i:i + len(bars)]
    arr = np.full((4, len(bars), len(codes)), np.nan)
    for t, row in enumerate(bars):
        for j, bar in enumerate(row):
            if bar is not SUSP:
                arr[:, t, j] = bar
    vol = None if volume is None else np.asarray(volume, dtype=float)
    return toy_market(days, codes, *arr, volume=vol, prev_close=prev_close)


def run(mkt, marks, **params):
    """Run with a 100,000 CNY account and 10,000 CNY per entry unless overridden."""
    base = {"cash": 100_000.0, "fixed_cash": 10_000.0}
    base.update(params)
    frame = pd.DataFrame(marks, columns=["date", "code", "score"][:len(marks[0])] if marks
                         else ["date", "code"])
    return run_backtest(mkt, frame, base)


def rows(result):
    """Orders as plain tuples (dates as text, NaN prices as None) for literal comparison."""
    out = []
    for r in result.orders.itertuples(index=False):
        price = None if math.isnan(r.price) else round(r.price, 6)
        out.append((str(r.date.date()), r.code, r.side, int(r.shares), price, r.status,
                    r.reject_reason, round(r.commission, 6), round(r.stamp_duty, 6),
                    round(r.transfer_fee, 6), r.exit_reason, int(r.wait)))
    return out


def cash(result):
    return [round(x, 6) for x in result.equity["cash"]]


FLAT = (10.00, 10.50, 9.80, 10.20)  # opens at 10.00, closes 10.20: below a 11.00 limit-up


# ---------------------------------------------------------------- T+1, sealed boards

def test_same_session_sell_rejected_t_plus_1_then_sold_next_open():
    mkt = market("2024-12-16", ["002354"],
                 [[FLAT], [(10.30, 10.40, 10.10, 10.20)]], prev_close=10.00)
    res = run(mkt, [("2024-12-16", "002354")], exit_at="close")
    assert rows(res) == [
        ("2024-12-16", "002354", "buy", 1000, 10.00, "filled", "", 5.00, 0.0, 0.10, "", 0),
        ("2024-12-16", "002354", "sell", 1000, 10.20, "rejected", "t_plus_1", 0, 0, 0,
         "break", 0),
        ("2024-12-17", "002354", "sell", 1000, 10.30, "filled", "", 5.00, 5.15, 0.10,
         "break", 1),
    ]
    assert cash(res) == [89_994.90, 100_284.65]
    # equity = cash + 1000 x 10.20 at the first close
    assert res.equity["equity"].iloc[0] == pytest.approx(100_194.90, abs=1e-9)


def test_buy_on_yiziban_rejected():
    mkt = market("2024-12-16", ["002354"], [[(11.00, 11.00, 11.00, 11.00)]], prev_close=10.00)
    res = run(mkt, [("2024-12-16", "002354")])
    assert rows(res) == [("2024-12-16", "002354", "buy", 0, 11.00, "rejected",
                          "limit_up_sealed", 0, 0, 0, "", 0)]
    assert cash(res) == [100_000.0]


@pytest.mark.parametrize("policy, expected", [
    ("fill", ("2024-12-16", "002354", "buy", 900, 11.00, "filled", "", 5.00, 0.0, 0.10, "", 0)),
    ("reject", ("2024-12-16", "002354", "buy", 0, 11.00, "rejected", "limit_up_sealed",
                0, 0, 0, "", 0)),
])
def test_at_limit_open_buy_fill_or_reject(policy, expected):
    # Opened at the 11.00 limit-up, traded down to 10.80: fill at the limit or reject.
    # 10,000 / 11.00 = 909.09 -> 900 shares; value 9,900; transfer 0.099 -> 0.10.
    mkt = market("2024-12-16", ["002354"], [[(11.00, 11.00, 10.80, 11.00)]], prev_close=10.00)
    res = run(mkt, [("2024-12-16", "002354")], at_limit_open=policy)
    assert rows(res) == [expected]


def test_sealed_limit_down_sell_carried_then_filled():
    # Break at the first close (10.20); next open is 一字跌停 at 9.18 (10.20 x 0.9); sold the
    # session after at 8.50. Transfer 8,500 x 0.001% = 0.085 -> 0.09 (half-up).
    mkt = market("2024-12-16", ["002354"],
                 [[FLAT], [(9.18, 9.18, 9.18, 9.18)], [(8.50, 8.80, 8.40, 8.60)]],
                 prev_close=10.00)
    res = run(mkt, [("2024-12-16", "002354")])
    assert rows(res) == [
        ("2024-12-16", "002354", "buy", 1000, 10.00, "filled", "", 5.00, 0.0, 0.10, "", 0),
        ("2024-12-17", "002354", "sell", 1000, 9.18, "rejected", "limit_down_sealed", 0, 0, 0,
         "break", 0),
        ("2024-12-18", "002354", "sell", 1000, 8.50, "filled", "", 5.00, 4.25, 0.09,
         "break", 1),
    ]
    assert cash(res) == [89_994.90, 89_994.90, 98_485.56]
    assert res.equity["market_value"].tolist() == [10_200.0, 9_180.0, 0.0]


@pytest.mark.parametrize("policy, expected", [
    ("fill", [("2024-12-17", "002354", "sell", 1000, 9.18, "filled", "", 5.00, 4.59, 0.09,
               "break", 0)]),
    ("reject", [("2024-12-17", "002354", "sell", 1000, 9.18, "rejected", "limit_down_sealed",
                 0, 0, 0, "break", 0)]),
])
def test_at_limit_open_sell_fill_or_reject(policy, expected):
    # Opens at the 9.18 limit-down but trades up to 9.50.
    mkt = market("2024-12-16", ["002354"], [[FLAT], [(9.18, 9.50, 9.18, 9.40)]],
                 prev_close=10.00)
    res = run(mkt, [("2024-12-16", "002354")], at_limit_open=policy)
    assert rows(res)[1:] == expected


# ---------------------------------------------------------------- lots

def test_star_200_share_minimum():
    # 688001 at 60.00: 10,000 buys 166 shares < 200 -> below_min_lot; 15,000 buys 250 (step 1).
    bars = [[(60.00, 61.00, 59.00, 60.00)]]
    small = run(market("2024-12-16", ["688001"], bars, 60.00), [("2024-12-16", "688001")])
    assert rows(small) == [("2024-12-16", "688001", "buy", 0, 60.00, "rejected",
                            "below_min_lot", 0, 0, 0, "", 0)]
    big = run(market("2024-12-16", ["688001"], bars, 60.00), [("2024-12-16", "688001")],
              fixed_cash=15_000.0)
    assert rows(big) == [("2024-12-16", "688001", "buy", 250, 60.00, "filled", "", 5.00, 0.0,
                          0.15, "", 0)]


def test_main_board_round_lot_and_odd_lot_star_exit_sold_whole():
    # STAR: 10,050 / 50.00 = 201 shares, bought and later sold whole (an odd lot).
    mkt = market("2024-12-16", ["688001"],
                 [[(50.00, 51.00, 49.00, 50.50)], [(50.20, 50.80, 50.00, 50.40)]], 50.00)
    res = run(mkt, [("2024-12-16", "688001")], fixed_cash=10_050.0)
    assert rows(res) == [
        ("2024-12-16", "688001", "buy", 201, 50.00, "filled", "", 5.00, 0.0, 0.10, "", 0),
        ("2024-12-17", "688001", "sell", 201, 50.20, "filled", "", 5.00, 5.05, 0.10,
         "break", 0),
    ]
    # 100,000 - 10,050 - 5.10 = 89,944.90; + 10,090.20 - 5 - 5.05 - 0.10 = 100,024.95
    assert cash(res) == [89_944.90, 100_024.95]


# ---------------------------------------------------------------- fees

def test_minimum_commission_versus_rate():
    # 100,000 x 0.025% = 25.00 > 5; 10,000 x 0.025% = 2.50 -> the 5.00 minimum.
    mkt = market("2024-12-16", ["000001", "000002"], [[FLAT, FLAT]], [10.00, 10.00])
    res = run(mkt, [("2024-12-16", "000001", 2.0), ("2024-12-16", "000002", 1.0)],
              fixed_cash=0.0, position_size=0.4, cash=250_000.0)
    assert rows(res) == [
        ("2024-12-16", "000001", "buy", 10000, 10.00, "filled", "", 25.00, 0.0, 1.00, "", 0),
        ("2024-12-16", "000002", "buy", 10000, 10.00, "filled", "", 25.00, 0.0, 1.00, "", 0),
    ]
    res = run(mkt, [("2024-12-16", "000001")], commission_min=0.0)
    assert rows(res)[0][7] == 2.50


def test_stamp_duty_switch_2023_08_28():
    # Bought 08-24 and 08-25, each sold at the next open: the 08-25 sell pays 0.1%, the 08-28
    # sell 0.05% (rules.FEES row 2023-08-28).
    flat = (10.00, 10.50, 9.80, 10.20)
    mkt = market("2023-08-24", ["000001", "000002"],
                 [[flat, SUSP], [(10.00, 10.10, 9.90, 10.00), flat],
                  [SUSP, (10.00, 10.10, 9.90, 10.00)]], [10.00, 10.00])
    res = run(mkt, [("2023-08-24", "000001"), ("2023-08-25", "000002")])
    sells = [r for r in rows(res) if r[2] == "sell"]
    assert sells == [
        ("2023-08-25", "000001", "sell", 1000, 10.00, "filled", "", 5.00, 10.00, 0.10,
         "break", 0),
        ("2023-08-28", "000002", "sell", 1000, 10.00, "filled", "", 5.00, 5.00, 0.10,
         "break", 0),
    ]


def test_transfer_fee_rate_change_2022_04_29_and_half_up_rounding():
    # 0.002% until 2022-04-28, 0.001% from 2022-04-29: value 123,500 -> 2.47, then
    # 1.235 -> 1.24 (half-up); commission 30.875 -> 30.88.
    bar = (12.35, 12.50, 12.30, 12.40)
    mkt = market("2022-04-28", ["000001"], [[bar], [bar]], 12.35)
    res = run(mkt, [("2022-04-28", "000001"), ("2022-04-29", "000001")],
              fixed_cash=123_500.0, exit_on_break=False, skip_held=False, cash=1_000_000.0)
    r = rows(res)
    # 123,500 / 12.35 = 10,000 shares, value 123,500.
    assert r[0][:5] == ("2022-04-28", "000001", "buy", 10000, 12.35)
    assert r[0][7:10] == (30.88, 0.0, 2.47)
    assert r[1][:5] == ("2022-04-29", "000001", "buy", 10000, 12.35)
    assert r[1][7:10] == (30.88, 0.0, 1.24)


# ---------------------------------------------------------------- suspension, cash, volume

def test_suspension_during_a_holding_sell_waits():
    mkt = market("2024-12-16", ["000001", "002354"],
                 [[SUSP, FLAT], [SUSP, SUSP], [FLAT, SUSP], [FLAT, (10.40, 10.60, 10.30, 10.50)]],
                 [10.00, 10.00])
    res = run(mkt, [("2024-12-16", "002354"), ("2024-12-17", "000001")])
    assert rows(res) == [
        ("2024-12-16", "002354", "buy", 1000, 10.00, "filled", "", 5.00, 0.0, 0.10, "", 0),
        ("2024-12-17", "002354", "sell", 1000, None, "rejected", "suspended", 0, 0, 0,
         "break", 0),
        ("2024-12-17", "000001", "buy", 0, None, "rejected", "suspended", 0, 0, 0, "", 0),
        ("2024-12-18", "002354", "sell", 1000, None, "rejected", "suspended", 0, 0, 0,
         "break", 1),
        ("2024-12-19", "002354", "sell", 1000, 10.40, "filled", "", 5.00, 5.20, 0.10,
         "break", 2),
    ]
    # Valued at the last traded close (10.20) while suspended.
    assert res.equity["market_value"].tolist() == [10_200.0, 10_200.0, 10_200.0, 0.0]
    assert cash(res)[-1] == round(89_994.90 + 10_400 - 5 - 5.20 - 0.10, 6)


def test_insufficient_cash_steps_down_then_rejects():
    # Cash 10,000, 20,000 wanted at 10.00: 1,000 shares cost 10,005.10 > cash -> 900 shares
    # (9,005.09). The second mark then cannot afford 100 shares: insufficient_cash.
    mkt = market("2024-12-16", ["000001", "000002"], [[FLAT, FLAT]], [10.00, 10.00])
    res = run(mkt, [("2024-12-16", "000001", 2.0), ("2024-12-16", "000002", 1.0)],
              cash=10_000.0, fixed_cash=20_000.0)
    assert rows(res) == [
        ("2024-12-16", "000001", "buy", 900, 10.00, "filled", "", 5.00, 0.0, 0.09, "", 0),
        ("2024-12-16", "000002", "buy", 100, 10.00, "rejected", "insufficient_cash",
         0, 0, 0, "", 0),
    ]
    assert cash(res) == [994.91]


def test_volume_cap():
    # cap 10%: 5,000 traded -> at most 500 shares (1,000 wanted); 900 traded -> 90 -> 0 lots.
    mkt = market("2024-12-16", ["000001", "000002"], [[FLAT, FLAT]], [10.00, 10.00],
                 volume=[[5_000, 900]])
    res = run(mkt, [("2024-12-16", "000001", 2.0), ("2024-12-16", "000002", 1.0)],
              volume_cap=0.1)
    assert rows(res) == [
        ("2024-12-16", "000001", "buy", 500, 10.00, "filled", "", 5.00, 0.0, 0.05, "", 0),
        ("2024-12-16", "000002", "buy", 0, 10.00, "rejected", "volume_cap", 0, 0, 0, "", 0),
    ]


# ---------------------------------------------------------------- portfolio rules

def test_max_positions_and_priority_score_then_code():
    codes = ["000001", "000002", "000003"]
    mkt = market("2024-12-16", codes, [[FLAT, FLAT, FLAT]], [10.00] * 3)
    res = run(mkt, [("2024-12-16", "000001", 1.0), ("2024-12-16", "000003", 2.0),
                    ("2024-12-16", "000002", 2.0)], max_positions=2)
    assert [(r[1], r[5], r[6]) for r in rows(res)] == [
        ("000002", "filled", ""), ("000003", "filled", ""),
        ("000001", "rejected", "max_positions"),
    ]
    assert rows(res)[2][4] is None


def test_skip_held_places_no_order_and_top_up_keeps_entry():
    # Limit-up closes 11.00 and 12.10, break at 12.20 (< 13.31), sold at the next open 12.00.
    bars = [[(10.00, 11.00, 9.90, 11.00)], [(11.50, 12.10, 11.40, 12.10)],
            [(12.00, 12.50, 11.90, 12.20)], [(12.00, 12.30, 11.90, 12.10)]]
    mkt = market("2024-12-16", ["000001"], bars, 10.00)
    marks = [("2024-12-16", "000001"), ("2024-12-17", "000001")]
    held = run(mkt, marks)
    assert [r[:6] for r in rows(held)] == [
        ("2024-12-16", "000001", "buy", 1000, 10.00, "filled"),
        ("2024-12-19", "000001", "sell", 1000, 12.00, "filled"),
    ]
    top = run(mkt, marks, skip_held=False)
    assert [r[:6] for r in rows(top)] == [
        ("2024-12-16", "000001", "buy", 1000, 10.00, "filled"),
        ("2024-12-17", "000001", "buy", 800, 11.50, "filled"),
        ("2024-12-19", "000001", "sell", 1800, 12.00, "filled"),
    ]


# ---------------------------------------------------------------- 打板 entries

LIMIT_BARS = {
    "broken": (10.50, 11.00, 10.40, 10.80),   # touched 11.00, closed below: the board broke
    "sealed": (10.50, 11.00, 10.40, 11.00),   # touched and closed at the limit
    "untouched": (10.50, 10.90, 10.40, 10.80),
}


@pytest.mark.parametrize("fill, bar, expected", [
    ("broken", "broken", ("buy", 900, 11.00, "filled", "")),
    ("broken", "sealed", ("buy", 0, 11.00, "rejected", "limit_up_sealed")),
    ("touched", "sealed", ("buy", 900, 11.00, "filled", "")),
    ("touched", "broken", ("buy", 900, 11.00, "filled", "")),
    ("touched", "untouched", ("buy", 0, 11.00, "expired", "not_touched")),
    ("broken", "untouched", ("buy", 0, 11.00, "expired", "not_touched")),
])
def test_limit_entry_broken_versus_touched(fill, bar, expected):
    mkt = market("2024-12-16", ["000001"], [[LIMIT_BARS[bar]]], 10.00)
    res = run(mkt, [("2024-12-16", "000001")], entry="limit", limit_fill=fill)
    assert rows(res)[0][2:7] == expected


def test_limit_entry_yiziban_and_no_limit():
    mkt = market("2024-12-16", ["000001"], [[(11.00, 11.00, 11.00, 11.00)]], 10.00)
    res = run(mkt, [("2024-12-16", "000001")], entry="limit", limit_fill="touched")
    assert rows(res)[0][2:7] == ("buy", 0, 11.00, "rejected", "limit_up_sealed")
    mkt = market("2024-12-16", ["000001"], [[FLAT]], np.nan)  # no reference close: no limit
    res = run(mkt, [("2024-12-16", "000001")], entry="limit")
    assert rows(res)[0][2:7] == ("buy", 0, None, "rejected", "no_limit")


# ---------------------------------------------------------------- exits

UP = [(10.00, 11.00, 9.90, 11.00), (11.50, 12.10, 11.40, 12.10)]  # two limit-up closes


@pytest.mark.parametrize("params, second, reason", [
    # close 9.90 <= 10.00 x 0.99; it is below the 12.10 limit-up too: the stop loss wins.
    ({"stop_loss": 0.01}, (10.00, 10.10, 9.90, 9.90), "stop_loss"),
    # close 11.50 >= 10.00 x 1.15 (the first close, 11.00, is below it)
    ({"take_profit": 0.15}, (11.20, 11.60, 11.10, 11.50), "take_profit"),
    # close 10.50 < 12.10 limit-up
    ({}, (10.20, 10.60, 10.10, 10.50), "break"),
    # one session after the entry session
    ({"exit_on_break": False, "max_hold": 1}, (10.20, 10.60, 10.10, 10.50), "max_hold"),
])
def test_exit_rules_on_the_close(params, second, reason):
    # 10.00 entry, limit-up close 11.00 (no exit), decisive second close, sold at the next open
    # 10.50: stamp 5.25, transfer 0.105 -> 0.11.
    bars = [[UP[0]], [second], [(10.50, 10.80, 10.40, 10.60)]]
    mkt = market("2024-12-16", ["000001"], bars, 10.00)
    res = run(mkt, [("2024-12-16", "000001")], **params)
    assert rows(res)[1] == ("2024-12-18", "000001", "sell", 1000, 10.50, "filled", "", 5.00,
                            5.25, 0.11, reason, 0)


def test_no_exit_while_limit_up_closes_continue():
    mkt = market("2024-12-16", ["000001"], [[UP[0]], [UP[1]]], 10.00)
    res = run(mkt, [("2024-12-16", "000001")], stop_loss=0.05, take_profit=0.5, max_hold=5)
    assert [r[2] for r in rows(res)] == ["buy"]


def test_max_hold_counts_suspended_sessions():
    # max_hold = 2, suspended in sessions 1 and 2: not evaluated without a close; at session 3
    # (3 sessions after entry) the exit is decided and sold at session 4's open.
    bars = [[UP[0]], [SUSP], [SUSP], [(11.00, 11.50, 10.90, 11.20)],
            [(11.30, 11.50, 11.00, 11.10)]]
    res = run(market("2024-12-16", ["000001"], bars, 10.00), [("2024-12-16", "000001")],
              exit_on_break=False, max_hold=2)
    assert len(res.orders) == 2
    assert rows(res)[1][:6] == ("2024-12-20", "000001", "sell", 1000, 11.30, "filled")
    assert rows(res)[1][10] == "max_hold"


def test_hold_n_strategy_exits_after_hold_sessions_only():
    # Closes far below the limit-up every day: theme_hype would break at once; hold_n holds 2.
    bars = [[FLAT], [FLAT], [FLAT], [(10.10, 10.50, 9.80, 10.20)]]
    res = run(market("2024-12-16", ["000001"], bars, 10.00), [("2024-12-16", "000001")],
              name="hold_n", hold=2)
    assert rows(res)[1] == ("2024-12-19", "000001", "sell", 1000, 10.10, "filled", "", 5.00,
                            5.05, 0.10, "hold_n", 0)


def test_slippage_clamped_to_low_high():
    # 5 ticks: the buy would pay 10.05 but the high is 10.02; the sell would get 10.25 but the
    # low is 10.28.
    mkt = market("2024-12-16", ["000001"],
                 [[(10.00, 10.02, 9.80, 10.00)], [(10.30, 10.40, 10.28, 10.30)]], 10.00)
    res = run(mkt, [("2024-12-16", "000001")], slippage_ticks=5)
    assert [r[4] for r in rows(res)] == [10.02, 10.28]


def test_slippage_moves_price_inside_the_range():
    mkt = market("2024-12-16", ["000001"],
                 [[(10.00, 10.50, 9.80, 10.00)], [(10.30, 10.40, 10.20, 10.30)]], 10.00)
    res = run(mkt, [("2024-12-16", "000001")], slippage_ticks=2)
    assert [r[4] for r in rows(res)] == [10.02, 10.28]


def test_open_position_at_end_is_valued_not_liquidated():
    mkt = market("2024-12-16", ["000001"], [[UP[0]], [UP[1]]], 10.00)
    res = run(mkt, [("2024-12-16", "000001")])
    assert len(res.trades) == 1
    assert res.equity["market_value"].tolist() == pytest.approx([11_000.0, 12_100.0])


# ---------------------------------------------------------------- edge: marks and params

def test_marks_errors_name_row_and_value():
    mkt = market("2024-12-16", ["000001"], [[FLAT], [FLAT]], 10.00)
    with pytest.raises(DataError, match=r"row 3: date 2024-12-14 is not a session"):
        run_backtest(mkt, pd.DataFrame({"date": ["2024-12-16", "2024-12-14"],
                                        "code": ["000001", "000001"]}))
    with pytest.raises(DataError, match=r"row 2: code '600000' is not in the market"):
        run_backtest(mkt, pd.DataFrame({"date": ["2024-12-16"], "code": ["600000"]}))
    with pytest.raises(DataError, match=r"row 2: score 'x' is not a finite number"):
        run_backtest(mkt, pd.DataFrame({"date": ["2024-12-16"], "code": ["000001"],
                                        "score": ["x"]}))


def test_duplicate_marks_keep_the_highest_score():
    from backtests.engine.backtest import marks_array
    mkt = market("2024-12-16", ["000001"], [[FLAT]], 10.00)
    arr = marks_array(mkt, pd.DataFrame({"date": ["2024-12-16"] * 2,
                                         "code": ["000001"] * 2, "score": [0.5, 2.0]}))
    assert arr.tolist() == [[2.0]]


def test_params_table_covers_kernel_and_rejects_bad_values():
    assert {"name", "entry", "limit_fill", "exit_on_break", "exit_at", "stop_loss",
            "take_profit", "max_hold", "max_positions", "skip_held", "hold", "cash",
            "position_size", "fixed_cash", "commission_rate", "commission_min",
            "slippage_ticks", "at_limit_open", "volume_cap", "trailing_stop",
            "exit_theme_heat"} == {k for k, spec in ENGINE_PARAMS.items()
                                   if spec[0] not in ("filters", "gate")}
    with pytest.raises(ConfigError, match='did you mean "stop_loss"'):
        pack_params({"stop_los": 0.1})
    with pytest.raises(ConfigError, match="hold is required"):
        pack_params({"name": "hold_n"})
    with pytest.raises(ConfigError, match="not a parameter of strategy 'hold_n'"):
        pack_params({"name": "hold_n", "hold": 2, "entry": "limit"})
    with pytest.raises(ConfigError, match=r"max_positions = 0: expected"):
        pack_params({"max_positions": 0})
    assert pack_params({"name": "hold_n", "hold": 2}).dtype == np.float64


def test_records_dtype_and_no_record_mode_agree():
    mkt = market("2024-12-16", ["002354"], [[FLAT], [(10.30, 10.40, 10.10, 10.20)]], 10.00)
    marks = pd.DataFrame({"date": ["2024-12-16"], "code": ["002354"]})
    full = run_backtest(mkt, marks, {"fixed_cash": 10_000.0})
    bare = run_backtest(mkt, marks, {"fixed_cash": 10_000.0}, record=False)
    assert full.records.dtype == order_dt
    assert len(bare.records) == 0
    assert bare.equity.equals(full.equity)
    assert bare.stats == full.stats
    assert full.stats["round_trips"] == 1 and full.stats["fills"] == 2


def test_docs_params_table_in_step_with_code():
    from pathlib import Path

    from backtests.core.params import params_markdown
    from backtests.data.config import ENGINE_SECTIONS
    from strategies import ENGINE_PARAMS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "engine.md").read_text("utf-8")
    assert params_markdown([(s, ENGINE_PARAMS) for s in ENGINE_SECTIONS]) in doc


def test_every_strategy_maps_every_strategy_field():
    from backtests.core.records import PARAM_FIELDS
    from strategies import STRATEGIES, resolve_params
    strategy_fields = set(PARAM_FIELDS[:10]) | {"trailing_stop"}
    for name, strategy in STRATEGIES.items():
        params = resolve_params({"name": name, **({"hold": 3} if "hold" in strategy.uses else {})})
        assert set(strategy.kernel_flags(params)) == strategy_fields
        assert set(strategy.uses) <= set(ENGINE_PARAMS)


def test_toy_market_and_marks_array_shape_errors():
    with pytest.raises(DataError, match="codes must be unique and sorted"):
        toy_market(["2024-12-16"], ["000002", "000001"], [[1, 1]], [[1, 1]], [[1, 1]], [[1, 1]])
    mkt = market("2024-12-16", ["000001"], [[FLAT]], 10.00)
    with pytest.raises(DataError, match=r"marks array has shape \(2, 1\); expected \(1, 1\)"):
        run_backtest(mkt, np.ones((2, 1)))
    # An [S, N] score array is accepted as it is (NaN = no mark).
    res = run_backtest(mkt, np.ones((1, 1)), {"fixed_cash": 10_000.0})
    assert rows(res)[0][:6] == ("2024-12-16", "000001", "buy", 1000, 10.00, "filled")


def test_long_waits_grow_the_record_array():
    # 20 positions whose sells wait through 30 suspended sessions: 620 records, more than the
    # initial capacity (2 x marks + 4 x sessions = 164), so the array grows mid-run.
    codes = [f"{i:06d}" for i in range(1, 21)]
    bars = [[FLAT] * 20] + [[SUSP] * 20] * 30 + [[(10.30, 10.40, 10.10, 10.20)] * 20]
    mkt = market("2024-11-01", codes, bars, [10.00] * 20)
    res = run(mkt, [("2024-11-01", c) for c in codes], max_positions=20, cash=1_000_000.0)
    assert len(res.records) == 20 + 20 * 30 + 20
    last = res.orders[res.orders["date"] == res.orders["date"].max()]
    assert (last["status"] == "filled").all() and (last["wait"] == 30).all()
    assert res.stats["rejected_suspended"] == 600


# ---------------------------------------------------------------- absurd compounding


def _compounding_market(n: int):
    """Stock k opens at 10.00 on session k and closes at its 20% limit (12.00), then stays at
    12.00: bought at k's open with all the equity, sold at k+1's open, +20% every two sessions."""
    codes = [f"{300001 + k:06d}" for k in range(n)]
    o = np.full((n, n), 10.0)
    c = np.full((n, n), 10.0)
    for k in range(n):
        c[k, k] = 12.0
        o[k + 1:, k] = c[k + 1:, k] = 12.0
    days = pd.bdate_range("2021-01-04", periods=n).to_numpy().astype("datetime64[D]")
    m = toy_market(days, codes, o, np.maximum(o, c), np.minimum(o, c), c, prev_close=10.0)
    return m, pd.DataFrame({"date": days, "code": codes})


COMPOUND = {"name": "hold_n", "hold": 1, "position_size": 1.0, "max_positions": 1}


def test_sizing_with_huge_cash_is_quick_and_exact():
    """All-in buys at 10.00 with an equity of trillions: the cash search starts next to the
    answer (it used to step down one lot per 100 shares of fees: minutes). The buy is the
    largest lot whose value and fees fit, checked by hand: one lot more does not fit."""
    m, marks = _compounding_market(200)
    res = run_backtest(m, marks, dict(COMPOUND, cash=1e6))
    buys = res.trades[res.trades["side"] == "buy"]
    assert len(buys) == 100 and buys["value"].iloc[-1] > 1e13
    fees = lambda v: max(round(v * 0.00025, 2), 5.0) + round(v * 0.00002, 2)  # noqa: E731
    cash_end = res.equity["cash"].to_numpy()
    equity = res.equity["equity"].to_numpy()
    for row in buys.itertuples(index=False):
        t = int(np.searchsorted(m.sessions, np.datetime64(row.date.date())))
        # sells happen at the opens, before the buy: the cash the buy saw is the session's
        # closing cash plus what the buy cost
        assert fees(row.value) == pytest.approx(row.commission + row.transfer_fee, abs=1e-6)
        cash = cash_end[t] + row.value + row.commission + row.transfer_fee
        target = equity[t - 1] if t else 1e6          # position_size 1: the previous equity
        more = row.value + 1000.0                      # one more lot of 100 shares at 10.00
        assert more + fees(more) > cash + 1e-6 or more > target


def test_equity_beyond_exact_cents_is_an_error():
    m, marks = _compounding_market(240)
    with pytest.raises(ConfigError, match=r"the equity reached [\d,]+ CNY on 2021-\d\d-\d\d, "
                                          r"above 90,071,992,547,410 CNY \(2\*\*53 cents"):
        run_backtest(m, marks, dict(COMPOUND, cash=1e6))
    ok = run_backtest(m, marks, dict(COMPOUND, cash=1e6, fixed_cash=1e6))
    assert np.isfinite(ok.equity["equity"]).all()
