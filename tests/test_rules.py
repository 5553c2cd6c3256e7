"""Every row and every date boundary of the A-share rule tables in ``backtests/core/rules.py``.

Expected values are written out by hand from the exchanges' rules (DESIGN.md's table), not
read back from the tables under test.
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.core import rules
from backtests.core.errors import DataError
from backtests.core.rules import BOARD_BSE, BOARD_CHINEXT, BOARD_MAIN, BOARD_STAR, BOARD_UNKNOWN

MAIN, GEM, STAR, BSE = BOARD_MAIN, BOARD_CHINEXT, BOARD_STAR, BOARD_BSE


# ---------------------------------------------------------------- boards from codes
@pytest.mark.parametrize("code, board", [
    ("600000", MAIN), ("601318", MAIN), ("603019", MAIN), ("605499", MAIN),
    ("000001", MAIN), ("001389", MAIN), ("002354", MAIN), ("003816", MAIN), ("000785", MAIN),
    ("300750", GEM), ("301382", GEM), ("302132", GEM),
    ("688981", STAR), ("689009", STAR),
    ("920118", BSE), ("430047", BSE), ("832876", BSE), ("834765", BSE), ("872190", BSE),
    ("871981", BSE), ("889999", BSE), ("820001", BSE),
    # funds, B shares, indices, malformed codes
    ("510300", BOARD_UNKNOWN), ("159915", BOARD_UNKNOWN), ("900901", BOARD_UNKNOWN),
    ("200002", BOARD_UNKNOWN), ("399001", BOARD_UNKNOWN), ("000300 ", BOARD_UNKNOWN),
    ("00001", BOARD_UNKNOWN), ("0000010", BOARD_UNKNOWN), ("abcdef", BOARD_UNKNOWN), ("", BOARD_UNKNOWN),
])
def test_board_of(code, board):
    assert rules.board_of(code) == board


def test_boards_of_is_vectorised_int8():
    out = rules.boards_of(["600000", "300750", "688981", "920118", "510300"])
    assert out.dtype == np.int8
    assert out.tolist() == [MAIN, GEM, STAR, BSE, BOARD_UNKNOWN]


def test_board_names():
    assert rules.BOARD_NAMES == {MAIN: "main", GEM: "chinext", STAR: "star", BSE: "bse"}


# ---------------------------------------------------------------- limit ratios
# (board, is_st, date, expected ratio); None = no rule (the board did not exist yet).
RATIO_CASES = [
    # main board 10% since 1996-12-16
    (MAIN, False, "1996-12-15", None), (MAIN, False, "1996-12-16", 0.10),
    (MAIN, False, "2024-12-13", 0.10), (MAIN, False, "2026-07-06", 0.10),
    # main board ST: 5% from 1998-04-22 until 2026-07-05, 10% from 2026-07-06
    (MAIN, True, "1998-04-21", None), (MAIN, True, "1998-04-22", 0.05),
    (MAIN, True, "2024-12-13", 0.05), (MAIN, True, "2026-07-05", 0.05),
    (MAIN, True, "2026-07-03", 0.05), (MAIN, True, "2026-07-06", 0.10),
    # ChiNext: 10% from its opening, 20% from the registration reform 2020-08-24, ST included
    (GEM, False, "2009-10-29", None), (GEM, False, "2009-10-30", 0.10),
    (GEM, False, "2020-08-21", 0.10), (GEM, False, "2020-08-23", 0.10),
    (GEM, False, "2020-08-24", 0.20), (GEM, False, "2024-12-13", 0.20),
    (GEM, True, "2009-10-30", 0.05), (GEM, True, "2020-08-23", 0.05),
    (GEM, True, "2020-08-24", 0.20), (GEM, True, "2026-07-06", 0.20),
    # STAR: 20% from 2019-07-22, ST included
    (STAR, False, "2019-07-21", None), (STAR, False, "2019-07-22", 0.20),
    (STAR, True, "2019-07-21", None), (STAR, True, "2019-07-22", 0.20),
    (STAR, True, "2026-07-06", 0.20),
    # BSE: 30% from 2021-11-15, ST included
    (BSE, False, "2021-11-14", None), (BSE, False, "2021-11-15", 0.30),
    (BSE, True, "2021-11-14", None), (BSE, True, "2021-11-15", 0.30),
    (BSE, True, "2026-07-06", 0.30),
]


@pytest.mark.parametrize("board, is_st, date, expected", RATIO_CASES)
def test_limit_ratio_rows_and_boundaries(board, is_st, date, expected):
    if expected is None:
        with pytest.raises(DataError, match=rf"no price-limit rule for board .* \(ST={is_st}\) on {date}"):
            rules.limit_ratio(board, is_st, date)
    else:
        assert rules.limit_ratio(board, is_st, date) == expected


@pytest.mark.parametrize("board, is_st, date, expected", RATIO_CASES)
def test_limit_ratios_vectorised_agrees(board, is_st, date, expected):
    out = rules.limit_ratios(np.array([board], dtype=np.int8), np.array([is_st]),
                             np.array([date], dtype="datetime64[D]"))
    assert out.shape == (1, 1)
    if expected is None:
        assert np.isnan(out[0, 0])
    else:
        assert out[0, 0] == expected


def test_every_table_row_is_covered_by_a_case():
    covered = {(b, st, d) for b, st, d, e in RATIO_CASES if e is not None}
    for board, is_st, since, _ratio in rules.LIMIT_RATIO:
        assert (board, is_st, since) in covered, f"row {(board, is_st, since)} has no test case"


def test_limit_ratios_panel_shape_and_per_session_st():
    sessions = np.array(["2020-08-21", "2020-08-24", "2026-07-06"], dtype="datetime64[D]")
    boards = np.array([MAIN, GEM, STAR, BSE, BOARD_UNKNOWN], dtype=np.int8)
    out = rules.limit_ratios(boards, np.array([True, False, False, False, False]), sessions)
    expected = np.array([[0.05, 0.10, 0.20, np.nan, np.nan],   # BSE did not exist in 2020
                         [0.05, 0.20, 0.20, np.nan, np.nan],
                         [0.10, 0.20, 0.20, 0.30, np.nan]])
    np.testing.assert_array_equal(out, expected)
    # ST status may change by session: [S, N] input.
    st = np.array([[False], [True], [True]])
    out = rules.limit_ratios(np.array([MAIN], dtype=np.int8), st,
                             np.array(["2024-12-12", "2024-12-13", "2026-07-06"], dtype="datetime64[D]"))
    np.testing.assert_array_equal(out[:, 0], [0.10, 0.05, 0.10])


# ---------------------------------------------------------------- no limit after listing
@pytest.mark.parametrize("board, list_date, free", [
    (STAR, "2019-07-19", 0), (STAR, "2019-07-22", 5), (STAR, "2024-09-20", 5),
    (GEM, "2020-08-21", 0), (GEM, "2020-08-24", 5), (GEM, "2024-06-21", 5),
    (MAIN, "2023-04-07", 0), (MAIN, "2023-04-10", 5), (MAIN, "2024-03-18", 5),
    (BSE, "2021-11-12", 0), (BSE, "2021-11-15", 1), (BSE, "2024-01-02", 1),
    (BOARD_UNKNOWN, "2024-01-02", 0),
])
def test_free_sessions_after_listing(board, list_date, free):
    assert rules.free_sessions_after_listing(board, list_date) == free


def test_no_limit_table_rows_are_all_tested():
    expected = {(STAR, "2019-07-22", 5), (GEM, "2020-08-24", 5), (MAIN, "2023-04-10", 5),
                (BSE, "2021-11-15", 1)}
    assert set(rules.NO_LIMIT_AFTER_LISTING) == expected


# ---------------------------------------------------------------- limit prices
@pytest.mark.parametrize("prev_close, ratio, up, down", [
    (10.05, 0.10, 11.06, 9.05),    # 11.055 rounds half-up to 11.06 (float round() gives 11.05)
    (3.95, 0.10, 4.35, 3.56),      # 4.345 -> 4.35, 3.555 -> 3.56
    (7.73, 0.10, 8.50, 6.96),      # 天娱数科 2024-12-13: 8.503 -> 8.50
    (4.31, 0.10, 4.74, 3.88),      # 居然智家 2024-12-13: 4.741 -> 4.74
    (30.96, 0.20, 37.15, 24.77),   # 蜂助手 2024-12-13: 37.152 -> 37.15, 24.768 -> 24.77
    (5.89, 0.10, 6.48, 5.30),      # 5.301 -> 5.30
    (2.01, 0.05, 2.11, 1.91),      # ST: 2.1105 -> 2.11, 1.9095 -> 1.91
    (1.00, 0.30, 1.30, 0.70),
    (0.05, 0.10, 0.06, 0.05),      # 0.055 -> 0.06, 0.045 -> 0.05
])
def test_limit_prices_examples(prev_close, ratio, up, down):
    lu, ld = rules.limit_prices(np.array([prev_close]), np.array([ratio]))
    assert (lu[0], ld[0]) == (up, down)
    assert rules.limit_price_nb(prev_close, ratio, True) == up
    assert rules.limit_price_nb(prev_close, ratio, False) == down
    assert rules.limit_price_decimal(prev_close, ratio, True) == Decimal(f"{up:.2f}")
    assert rules.limit_price_decimal(prev_close, ratio, False) == Decimal(f"{down:.2f}")


def test_limit_prices_nan_means_no_limit():
    lu, ld = rules.limit_prices(np.array([np.nan, 10.0, 10.0]), np.array([0.1, np.nan, 0.1]))
    assert np.isnan(lu[:2]).all() and np.isnan(ld[:2]).all()
    assert (lu[2], ld[2]) == (11.0, 9.0)
    assert np.isnan(rules.limit_price_nb(np.nan, 0.1, True))
    assert np.isnan(rules.limit_price_nb(10.0, np.nan, False))


def test_limit_prices_keep_panel_shape():
    pc = np.array([[10.0, 20.0], [5.55, np.nan]])
    lu, ld = rules.limit_prices(pc, np.array([[0.1, 0.2], [0.05, 0.1]]))
    np.testing.assert_array_equal(lu, [[11.0, 24.0], [5.83, np.nan]])
    np.testing.assert_array_equal(ld, [[9.0, 16.0], [5.27, np.nan]])


TABLE_RATIOS = sorted({r[3] for r in rules.LIMIT_RATIO})


@settings(max_examples=300, deadline=None)
@given(cents=st.lists(st.integers(min_value=1, max_value=2_000_000), min_size=1, max_size=50),
       ratio=st.sampled_from(TABLE_RATIOS))
def test_limit_prices_match_decimal_and_nb(cents, ratio):
    prev = np.array(cents, dtype=np.int64) / 100.0
    lu, ld = rules.limit_prices(prev, np.full(len(prev), ratio))
    for i, pc in enumerate(prev):
        ref_up = rules.limit_price_decimal(float(pc), ratio, True)
        ref_down = rules.limit_price_decimal(float(pc), ratio, False)
        # Reference computed independently in integer cents with Decimal half-up.
        exact = Decimal(cents[i]) / 100 * (1 + Decimal(str(ratio)))
        assert ref_up == exact.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        assert Decimal(f"{lu[i]:.2f}") == ref_up and Decimal(f"{ld[i]:.2f}") == ref_down
        assert lu[i] == float(ref_up) and ld[i] == float(ref_down)
        assert rules.limit_price_nb(float(pc), ratio, True) == lu[i]
        assert rules.limit_price_nb(float(pc), ratio, False) == ld[i]


def test_table_ratios_are_the_known_ones():
    assert TABLE_RATIOS == [0.05, 0.10, 0.20, 0.30]


# ---------------------------------------------------------------- lots
def test_lot_table():
    assert rules.LOT == {MAIN: (100, 100), GEM: (100, 100), STAR: (200, 1), BSE: (100, 1)}
    mins, steps = rules.lot_arrays(np.array([MAIN, GEM, STAR, BSE, BOARD_UNKNOWN]))
    assert mins.tolist() == [100, 100, 200, 100, 100]
    assert steps.tolist() == [100, 100, 1, 1, 100]
    assert mins.dtype == np.int64 and steps.dtype == np.int64


@pytest.mark.parametrize("shares, board, expected", [
    (0, MAIN, 0), (99, MAIN, 0), (100, MAIN, 100), (199, MAIN, 100), (250, MAIN, 200),
    (12345, GEM, 12300),
    (199, STAR, 0), (200, STAR, 200), (201, STAR, 201), (350, STAR, 350),
    (99, BSE, 0), (100, BSE, 100), (101, BSE, 101), (1234, BSE, 1234),
])
def test_lot_round_nb(shares, board, expected):
    min_lot, step = rules.LOT[board]
    assert rules.lot_round_nb(shares, min_lot, step) == expected


# ---------------------------------------------------------------- fees
@pytest.mark.parametrize("date, stamp, transfer", [
    ("2008-09-19", 0.001, 0.00002),
    ("2015-07-31", 0.001, 0.00002), ("2015-08-03", 0.001, 0.00002),
    ("2022-04-28", 0.001, 0.00002), ("2022-04-29", 0.001, 0.00001),
    ("2023-08-25", 0.001, 0.00001), ("2023-08-27", 0.001, 0.00001),
    ("2023-08-28", 0.0005, 0.00001), ("2024-12-13", 0.0005, 0.00001),
])
def test_fee_rates_by_date(date, stamp, transfer):
    s, t = rules.fee_rates(np.array([date], dtype="datetime64[D]"))
    assert (s[0], t[0]) == (stamp, transfer)


def test_fee_rates_before_the_schedule_is_an_error():
    with pytest.raises(DataError, match="fee schedule starts 2008-09-19; session 2008-09-18 is earlier"):
        rules.fee_rates(np.array(["2008-09-18", "2024-01-02"], dtype="datetime64[D]"))


def test_fee_rows_are_all_tested():
    assert [r[0] for r in rules.FEES] == ["2008-09-19", "2015-08-01", "2022-04-29", "2023-08-28"]


@pytest.mark.parametrize("x, cents", [
    (0.125, 0.13), (0.124999, 0.12), (1.005, 1.01), (2.675, 2.68), (7.505, 7.51),
    (30020 * 0.00025, 7.51), (100050 * 0.0005, 50.03), (0.0, 0.0), (0.004999, 0.0), (0.005, 0.01),
])
def test_round_fee_half_up_to_the_cent(x, cents):
    assert rules.round_fee_nb(x) == cents


def test_commission_minimum_and_fees():
    # 10,000 CNY buy: 2.50 commission is below the 5 CNY minimum; transfer 0.001% = 0.10.
    assert rules.buy_costs_nb(10_000.0, 0.00025, 5.0, 0.00001) == (5.0, 0.0, 0.1)
    # 100,000 CNY buy: 25.00 commission, no stamp duty on buys, transfer 1.00.
    assert rules.buy_costs_nb(100_000.0, 0.00025, 5.0, 0.00001) == (25.0, 0.0, 1.0)
    # 100,000 CNY sell after 2023-08-28: stamp duty 0.05% = 50.00.
    assert rules.sell_costs_nb(100_000.0, 0.00025, 5.0, 0.0005, 0.00001) == (25.0, 50.0, 1.0)
    # ... and before: 0.1% = 100.00, transfer 0.002% = 2.00.
    assert rules.sell_costs_nb(100_000.0, 0.00025, 5.0, 0.001, 0.00002) == (25.0, 100.0, 2.0)
    # 30,020 CNY sell: commission 7.505 -> 7.51, stamp 15.01, transfer 0.3002 -> 0.30.
    assert rules.sell_costs_nb(30_020.0, 0.00025, 5.0, 0.0005, 0.00001) == (7.51, 15.01, 0.3)
    # exactly at the minimum
    assert rules.sell_costs_nb(20_000.0, 0.00025, 5.0, 0.0005, 0.00001) == (5.0, 10.0, 0.2)
    assert rules.DEFAULT_COMMISSION_RATE == 0.00025 and rules.DEFAULT_COMMISSION_MIN == 5.0
