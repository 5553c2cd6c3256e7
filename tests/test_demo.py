"""The SYNTHETIC demo market: deterministic, on the real 2024 sessions, every feature present,
and every bar inside the limits computed independently from ``rules``."""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
import pytest

from backtests.core import rules
from backtests.core.calendar import trading_calendar
from backtests.data import demo
from backtests.data.demo import DEMO_THEMES, demo_names, demo_panel
from backtests.features import scan

# sha256 of demo_panel().to_csv(index=False): changes only when the generator changes on purpose
# (other modules' tests and the demo articles rely on these bars).
PANEL_SHA256 = "7a67a7f58491b7a55f2530532495f48d675ed29baabcb87af9ee11dd04b51f6e"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return demo_panel()


@pytest.fixture(scope="module")
def names() -> pd.DataFrame:
    return demo_names()


@pytest.fixture(scope="module")
def wide(panel, names):
    """Independent ``[S, N]`` view with limit prices computed here from ``rules`` only."""
    sessions = trading_calendar().between("2024-01-01", "2024-12-31")
    codes = np.array(sorted(panel["code"].unique()))
    t = np.searchsorted(sessions, panel["date"].to_numpy().astype("datetime64[D]"))
    n = np.searchsorted(codes, panel["code"].to_numpy(dtype=str))
    arr = {}
    for c in ("open", "high", "low", "close"):
        a = np.full((len(sessions), len(codes)), np.nan)
        a[t, n] = panel[c].to_numpy()
        arr[c] = a
    close = arr["close"]
    # previous traded close, carried over suspensions
    prev = np.full_like(close, np.nan)
    last = np.full(len(codes), np.nan)
    for i in range(len(sessions)):
        prev[i] = last
        last = np.where(np.isfinite(close[i]), close[i], last)
    by_code = names.set_index("code").loc[codes]
    st = by_code["name"].str.contains("ST").to_numpy()
    boards = rules.boards_of(codes)
    ratio = rules.limit_ratios(boards, st, sessions)
    first = np.argmax(np.isfinite(close), axis=0)
    for j, code in enumerate(codes):
        ld = by_code.loc[code, "list_date"]
        if ld >= pd.Timestamp("2024-01-01"):
            free = rules.free_sessions_after_listing(int(boards[j]), ld)
            assert sessions[first[j]] == np.datetime64(ld.date()), code
            ratio[first[j]:first[j] + free, j] = np.nan
    lu, ld = rules.limit_prices(prev, ratio)
    return dict(arr, sessions=sessions, codes=codes, st=st, boards=boards, prev=prev,
                ratio=ratio, lu=lu, ld=ld)


def test_deterministic_and_stable(panel):
    digest = hashlib.sha256(panel.to_csv(index=False).encode()).hexdigest()
    assert digest == PANEL_SHA256
    fresh, _ = demo._generate.__wrapped__()
    pd.testing.assert_frame_equal(fresh, panel)


def test_returns_copies(panel):
    p = demo_panel()
    p.loc[0, "close"] = -1.0
    assert demo_panel().loc[0, "close"] == panel.loc[0, "close"]


def test_fast():
    best = min(_timed(demo._generate.__wrapped__) for _ in range(2))
    assert best < 1.0, f"demo generation took {best:.2f} s"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_columns_types_and_sessions(panel):
    assert list(panel.columns) == ["code", "date", "open", "high", "low", "close", "volume", "amount"]
    assert panel["date"].dtype == "datetime64[ns]"
    assert panel["volume"].dtype == np.int64
    sessions = trading_calendar().between("2024-01-01", "2024-12-31")
    days = np.unique(panel["date"].to_numpy().astype("datetime64[D]"))
    np.testing.assert_array_equal(days, sessions)            # the real 2024 sessions, all of them
    assert not panel.duplicated(["code", "date"]).any()
    assert panel.equals(panel.sort_values(["code", "date"], ignore_index=True))


def test_prices_on_the_cent_grid_and_ohlc_order(panel):
    px = panel[["open", "high", "low", "close"]].to_numpy()
    assert (px > 0).all()
    assert np.abs(px * 100 - np.rint(px * 100)).max() < 1e-6
    assert (panel["low"] <= panel[["open", "close"]].min(axis=1)).all()
    assert (panel["high"] >= panel[["open", "close"]].max(axis=1)).all()
    assert (panel["volume"] % 100 == 0).all() and (panel["volume"] > 0).all()
    assert (panel["amount"] > 0).all()


def test_stocks_boards_and_names(panel, names):
    assert len(names) == 300 and names["code"].is_unique and names["name"].is_unique
    assert set(names["code"]) == set(panel["code"])
    assert names["name"].str.contains("演示").all()          # clearly synthetic
    boards = rules.boards_of(names["code"])
    counts = {rules.BOARD_NAMES[b]: int((boards == b).sum()) for b in rules.BOARD_NAMES}
    assert counts == {"main": 180, "chinext": 55, "star": 45, "bse": 20}
    codes = names["code"]
    for prefix in ("60", "00", "300", "301", "688", "920", "8"):
        assert codes.str.startswith(prefix).any(), prefix
    assert list(names.columns) == ["code", "name", "list_date", "former_names"]
    st = names[names["name"].str.contains("ST")]
    assert len(st) == 6
    assert all(f == (n.replace("*ST", "").replace("ST", ""),)
               for n, f in zip(st["name"], st["former_names"]))


def test_docstring_says_synthetic():
    assert "SYNTHETIC" in demo.__doc__
    assert "SYNTHETIC" in demo_panel.__doc__ and "SYNTHETIC" in demo_names.__doc__


def test_prices_respect_the_limits(wide):
    has = np.isfinite(wide["lu"]) & np.isfinite(wide["close"])
    for c in ("open", "high", "low", "close"):
        assert (wide[c][has] <= wide["lu"][has] + 0.005).all(), c
        assert (wide[c][has] >= wide["ld"][has] - 0.005).all(), c


def _states(wide):
    return scan.limit_state(wide["high"], wide["low"], wide["close"], wide["lu"], wide["ld"])


def test_feature_streaks_one_word_broken_and_limit_downs(wide):
    s = _states(wide)
    streak = scan.streaks(s.sealed_up, s.traded)
    assert streak.max() >= 5
    assert s.one_word_up.sum() >= 5                       # 一字板 sessions
    one_word = s.one_word_up
    np.testing.assert_array_equal(wide["open"][one_word], wide["lu"][one_word])
    assert (s.touched_up & ~s.sealed_up).sum() >= 20      # broken boards
    assert s.sealed_down.sum() >= 20
    assert s.one_word_down.sum() >= 5                     # sealed 一字跌停
    np.testing.assert_array_equal(wide["high"][s.one_word_down], wide["ld"][s.one_word_down])


def test_feature_st_stocks_trade_at_five_percent(wide):
    s = _states(wide)
    st_cols = np.flatnonzero(wide["st"] & (wide["boards"] == rules.BOARD_MAIN))
    assert len(st_cols) >= 4
    assert np.nanmax(wide["ratio"][:, st_cols]) == 0.05
    sealed_st = s.sealed_up[:, st_cols]
    assert scan.streaks(sealed_st, s.traded[:, st_cols]).max() >= 4
    assert s.one_word_down[:, st_cols].sum() >= 4


def test_feature_suspensions(wide):
    traded = np.isfinite(wide["close"])
    first = np.argmax(traded, axis=0)
    last = len(traded) - 1 - np.argmax(traded[::-1], axis=0)
    rows = np.arange(len(traded))[:, None]
    gaps = (~traded & (rows > first) & (rows < last)).sum(axis=0)
    suspended = {wide["codes"][j]: int(g) for j, g in enumerate(gaps) if g}
    assert suspended == {"000926": 3, "002070": 15, "300071": 4, "600122": 8}


def test_feature_new_listings(wide, names):
    new = names[names["list_date"] >= pd.Timestamp("2024-01-01")]
    assert sorted(new["code"]) == ["001389", "301589", "688721"]
    for code in new["code"]:
        j = int(np.searchsorted(wide["codes"], code))
        first = int(np.argmax(np.isfinite(wide["close"][:, j])))
        assert first > 0                                    # listed inside the year
        assert np.isnan(wide["ratio"][first:first + 5, j]).all()
        assert wide["ratio"][first + 5, j] > 0
        moves = wide["close"][first + 1:first + 5, j] / wide["prev"][first + 1:first + 5, j] - 1
        assert np.abs(moves).max() > wide["ratio"][first + 5, j]   # moved beyond the later limit


def test_themes_contract(wide, names):
    assert list(DEMO_THEMES) == ["灵犀大模型", "青鸾低空飞行", "玄甲固态电池", "星梭人形机器人", "镜湖AI眼镜"]
    cal = trading_calendar()
    s = _states(wide)
    all_codes = set(names["code"])
    for theme, info in DEMO_THEMES.items():
        assert info["leader"] == info["codes"][0] and set(info["codes"]) <= all_codes
        assert len(info["codes"]) >= 6
        for date in info["event_dates"]:
            assert cal.is_session(date)
            t = int(np.searchsorted(wide["sessions"], np.datetime64(date)))
            cols = np.searchsorted(wide["codes"], list(info["codes"]))
            assert s.sealed_up[t, cols[0]], f"{theme} leader not sealed on {date}"
            assert s.touched_up[t, cols].sum() >= len(cols) - 1, theme   # the group hits the limit
            assert s.touched_up[t:t + 3, cols].any(axis=0).all(), theme   # every member within 3
            assert not s.touched_up[t - 1, cols].any(), theme            # and none the day before


def test_market_loader_sees_the_same_limits(wide):
    from backtests.data.load import load_market

    market = load_market("demo")
    assert market.synthetic and market.close.shape == (242, 300)
    np.testing.assert_array_equal(market.codes, wide["codes"])
    traded = np.isfinite(market.close)
    np.testing.assert_array_equal(market.limit_up[traded], wide["lu"][traded])
    np.testing.assert_array_equal(market.limit_down[traded], wide["ld"][traded])
    assert int(market.is_st.sum()) == 6
