"""``backtests.state``: market-state features — kernels against the array definitions of
``backtests.scan``, hand-computed session figures, no look-ahead, theme heat, real data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.features import scan
from backtests.engine.backtest import toy_market
from backtests.data.market import Market, select_market
from backtests.features.state import SESSION_FIELDS, market_state, open_gap, theme_heat


def _random_market(seed: int, n_sessions: int = 60, n_stocks: int = 12) -> Market:
    """Prices that walk on the cent grid and hit the limits often, with suspensions."""
    rng = np.random.default_rng(seed)
    codes = [f"{c:06d}" for c in sorted(rng.choice(np.arange(1, 4000), n_stocks, replace=False))]
    codes[0], codes[1] = "300001", "688001"       # 20% boards among the 10% ones
    codes = sorted(codes)
    sessions = pd.bdate_range("2024-01-02", periods=n_sessions).to_numpy().astype("datetime64[D]")
    close = np.empty((n_sessions, n_stocks))
    last = np.full(n_stocks, 10.0)
    ratio = np.array([0.2 if c[:3] in ("300", "688") else 0.1 for c in codes])
    for t in range(n_sessions):
        move = rng.choice([-1.0, -0.5, 0.0, 0.3, 1.0, 1.0], n_stocks)
        up = np.floor(last * (1 + ratio) * 100 + 0.5) / 100
        down = np.floor(last * (1 - ratio) * 100 + 0.5) / 100
        c = np.where(move >= 1.0, up, np.where(move <= -1.0, down,
                                               np.round(last * (1 + move * ratio / 2), 2)))
        close[t] = c
        last = c
    high = close + rng.choice([0.0, 0.0, 0.05], close.shape)
    low = close - rng.choice([0.0, 0.03, 0.2], close.shape)
    open_ = np.round((high + low) / 2, 2)
    suspended = rng.random(close.shape) < 0.08
    for a in (open_, high, low, close):
        a[suspended] = np.nan
    st = np.zeros(n_stocks, bool)
    st[-1] = True
    return toy_market(sessions, codes, open_, high, low, close, prev_close=10.0, is_st=st)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_gap", [0, 2])
def test_kernel_equals_the_array_definitions(seed, max_gap):
    m = _random_market(seed)
    ms = market_state(m, max_gap=max_gap)
    ref = scan.limit_state(m.high, m.low, m.close, m.limit_up, m.limit_down)
    for name in ref._fields:
        assert np.array_equal(ms.flag(name), getattr(ref, name)), name
    assert np.array_equal(ms.streak, scan.streaks(ref.sealed_up, ref.traded))
    days, boards = scan.board_runs(ref.sealed_up, ref.traded, max_gap=max_gap)
    assert np.array_equal(ms.run_days, days) and np.array_equal(ms.run_boards, boards)
    assert ms.streak.max() >= 2                   # the fixture does build ladders


def _hand_market():
    """Four main-board stocks and one ST stock, prev close 10 (limits 11.00 / 9.00; ST 10.50 /
    9.50), three sessions. Closes: U = 11.00 then 12.10 then 13.31 (limit-ups)."""
    sessions = np.array(["2024-03-01", "2024-03-04", "2024-03-05"], dtype="datetime64[D]")
    codes = ["600001", "600002", "600003", "600004", "600005"]
    nan = np.nan
    close = np.array([[11.00, 11.00, 10.50, 9.00, 10.50],
                      [12.10, 11.50, 11.55, 9.50, 11.02],
                      [13.31, 12.00, nan, 9.00, 11.00]])
    high = np.array([[11.00, 11.00, 11.00, 9.50, 10.50],
                     [12.10, 12.10, 11.55, 9.50, 11.02],
                     [13.31, 12.65, nan, 9.60, 11.57]])
    low = np.array([[10.50, 10.00, 10.00, 9.00, 10.00],
                    [12.10, 11.00, 11.00, 9.00, 10.00],
                    [13.00, 11.50, nan, 8.55, 10.50]])
    st = np.array([False, False, False, False, True])
    return toy_market(sessions, codes, low, high, low, close, prev_close=10.0, is_st=st)


def test_session_features_by_hand():
    ms = market_state(_hand_market())
    f = ms.session_frame()
    # Session 0: 600001, 600002 closed at 11.00 (limit-up); 600003 touched 11.00, closed 10.50
    # (炸板); 600004 closed at 9.00 (limit-down); ST 600005 closed at its 10.50 limit-up.
    s0 = f.iloc[0]
    assert (s0.up_main, s0.up_total, s0.up_st, s0.broken, s0.down_total) == (2, 2, 1, 1, 1)
    assert s0.broken_rate == pytest.approx(1 / 3) and s0.height == 1
    assert np.isnan(s0.promotion_1) and s0.prev_1 == 0
    # Session 1: 600001 12.10 = its limit (11 x 1.1), 一字板 (low 12.10): streak 2. 600002
    # touched 12.10, closed 11.50: broken. 600003 closed 11.55 = 10.50 x 1.1: a new first board.
    s1 = f.iloc[1]
    assert (s1.up_total, s1.broken, s1.height, s1.board1, s1.board2) == (2, 1, 2, 1, 1)
    assert (s1.prev_1, s1.promoted_1, s1.promotion_1) == (2, 1, 0.5)
    assert ms.flag("one_word_up")[1].tolist() == [True, False, False, False, False]
    # Session 2: 600001 13.31 = 12.10 x 1.1, streak 3; 600003 suspended: out of prev_1's count.
    s2 = f.iloc[2]
    assert (s2.prev_1, s2.prev_2plus, s2.promoted_2plus, s2.promotion_2plus) == (0, 1, 1, 1.0)
    assert np.isnan(s2.promotion_1) and s2.height == 3
    assert ms.streak[:, 0].tolist() == [1, 2, 3]
    assert ms.stock_frame("streak").loc["2024-03-05", "600001"] == 3
    assert list(f.columns) == list(SESSION_FIELDS)


def _truncate(m: Market, t: int) -> Market:
    """The market as known at the close of session ``t``: every session after it cut off."""
    return select_market(m, sessions=slice(0, t + 1))


@pytest.mark.parametrize("seed", [0, 3])
def test_no_look_ahead_every_feature(seed):
    m = _random_market(seed, n_sessions=30)
    full = market_state(m)
    for t in range(0, 30, 3):
        part = market_state(_truncate(m, t))
        for name in ("flags", "streak", "run_days", "run_boards"):
            assert np.array_equal(getattr(part, name), getattr(full, name)[: t + 1]), (name, t)
        np.testing.assert_array_equal(part.session, full.session[: t + 1])


def test_open_gap():
    m = _hand_market()
    gap = open_gap(m)
    assert gap[1, 0] == pytest.approx(12.10 / 11.00 - 1)     # 一字板 open at the limit: +10%
    assert np.isnan(gap[2, 2])                                 # suspended


def test_theme_heat_from_marks():
    sessions = np.array(["2024-03-01", "2024-03-04", "2024-03-05"], dtype="datetime64[D]")
    marks = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-05",
                                                  "2024-03-05"]),
                          "code": ["600001", "600002", "600001", "600003"],
                          "theme": ["豆包", "豆包", "豆包", ""]})
    themes, heat = theme_heat(sessions, marks)
    assert themes == ("豆包",) and heat[:, 0].tolist() == [2.0, 0.0, 1.0]
    marks["theme_heat"] = [5, 3, 4, 9]
    themes, heat = theme_heat(sessions, marks)
    assert heat[:, 0].tolist() == [5.0, 0.0, 4.0]
    assert theme_heat(sessions, marks.drop(columns=["theme"]))[0] == ()


def test_real_panel_2024_12_13(shared_data):
    from conftest import REAL_NAMES, REAL_PANEL
    from backtests.data.load import load_market

    m = load_market(str(REAL_PANEL), names=[str(REAL_NAMES)])
    ms = market_state(m)
    day = ms.session_frame().loc["2024-12-13"]
    j = int(np.searchsorted(m.codes, "002354"))
    t = int(np.searchsorted(m.sessions, np.datetime64("2024-12-13")))
    assert (ms.run_days[t, j], ms.run_boards[t, j]) == (10, 6)       # 天娱数科 "10天6板"
    summary = scan.scan_summary(m, "2024-12-13", "2024-12-13").iloc[0]
    assert day.up_total == summary.up_total and day.board1 == summary.board1
    assert day.height >= ms.streak[t, j] and 0 <= day.promotion_1 <= 1
