"""Status and reference price per bar (backtests.data.status): the inferences on small
constructed markets, the status file, the delisting period and S shares through build_market,
and the issue's checks on the real panel."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtests.core import rules
from backtests.core.calendar import trading_calendar
from backtests.core.errors import DataError, DataWarning
from backtests.data import status
from backtests.data.load import load_market
from backtests.data.market import build_market
from backtests.data.master import StockMaster
from backtests.data.panel import validate_panel
from backtests.engine.backtest import run_backtest
from backtests.features import scan
from tests.conftest import REAL_NAMES, REAL_PANEL

MAIN, GEM = rules.BOARD_MAIN, rules.BOARD_CHINEXT


# ---------------------------------------------------------------- ex-rights reference
def test_reference_inferred_when_the_open_is_below_the_raw_limit_down():
    """今天国际 300532 on 2024-09-19 (10 转 5): raw previous close 13.89, bar 9.29/9.44/9.09.
    The ChiNext band of 13.89 ends at 11.11, so the exchange's reference was lower: 13.89 / 1.5
    = 9.26 is the bonus ratio nearest the open whose 20% band holds the bar."""
    raw = np.array([[13.89]])
    ref, inferred, unexplained = status.infer_reference(
        raw, np.array([[9.29]]), np.array([[9.44]]), np.array([[9.09]]), np.array([[0.20]]),
        np.array([[True]]))
    assert ref[0, 0] == 9.26 and inferred[0, 0] and not unexplained[0, 0]
    up, down = rules.limit_prices(ref, np.array([[0.20]]))
    assert (up[0, 0], down[0, 0]) == (11.11, 7.41)


def test_reference_not_inferred_for_a_dip_or_a_bar_inside_the_band():
    # opens inside the 10% band and dips below it: not an ex-date (left to the load warning);
    # a bar inside the band keeps the raw reference
    raw = np.array([[10.0, 10.0]])
    ref, inferred, unexplained = status.infer_reference(
        raw, np.array([[9.5, 10.2]]), np.array([[9.6, 10.5]]), np.array([[8.8, 9.8]]),
        np.array([[0.10, 0.10]]), np.ones((1, 2), bool))
    assert ref.tolist() == [[10.0, 10.0]] and not inferred.any() and not unexplained.any()


def test_reference_without_a_clean_ratio_takes_the_feasible_price_nearest_the_open():
    # 10.00 -> a bar at 1.30..1.40 (open 1.35): no k <= 3 shares per share puts 10/(1+k) within
    # 10% of the bar, so the feasible interval [1.40/1.1, 1.30/0.9] = [1.28, 1.44] gives 1.35
    ref, inferred, _ = status.infer_reference(
        np.array([[10.0]]), np.array([[1.35]]), np.array([[1.40]]), np.array([[1.30]]),
        np.array([[0.10]]), np.array([[True]]))
    assert inferred[0, 0] and ref[0, 0] == 1.35


# ---------------------------------------------------------------- ST from the bars
def _sessions(n, start="2024-09-02"):
    cal = trading_calendar()
    first = cal.next(np.datetime64(start, "D"), inclusive=True)
    i = int(np.searchsorted(cal.sessions, first))
    return cal.sessions[i:i + n]


def _path(closes):
    """OHLC arrays where every bar is one price (the close)."""
    c = np.array(closes, dtype=np.float64)[:, None]
    return c, c.copy(), c.copy()


def _limit_path(start, steps, ratio):
    """Closes after ``steps`` sealed limit moves (+1 up, -1 down, 0 flat) of ``ratio``."""
    out = [start]
    for s in steps:
        prev = np.array([[out[-1]]])
        up, down = rules.limit_prices(prev, np.array([[ratio]]))
        out.append(out[-1] if s == 0 else float(up[0, 0] if s > 0 else down[0, 0]))
    return out


def _infer(closes, prior=False, board=MAIN, high=None, low=None):
    c, h, lo = _path(closes)
    if high is not None:
        h = np.array(high, dtype=np.float64)[:, None]
    if low is not None:
        lo = np.array(low, dtype=np.float64)[:, None]
    raw = status.raw_prev_close(c)
    sessions = _sessions(len(c))
    usable = np.isfinite(c) & np.isfinite(raw)
    return status.infer_st(raw, h, lo, c, np.array([board], np.int8), sessions,
                           np.array([prior]), usable, np.zeros_like(usable))[:, 0]


def test_repeated_five_percent_limits_after_a_halt_are_st():
    """A halt (ST is announced with one) followed by four one-price 5% limit-downs: ST from the
    session after the halt; the 10% moves before rule ST out there."""
    before = _limit_path(10.0, [1, -1, 1], 0.10)
    after = _limit_path(before[-1], [-1, -1, -1, -1], 0.05)[1:]
    st = _infer(before + [np.nan] + after)
    assert st.tolist() == [False] * 5 + [True] * 4


def test_one_random_five_percent_close_is_not_st():
    closes = [10.0, 10.2, 10.71, 10.5, 11.4, 11.2]          # 10.2 * 1.05 = 10.71 once
    assert not _infer(closes).any()


def test_names_prior_holds_without_evidence_and_a_big_move_ends_it():
    assert _infer([10.0, 10.1, 10.0, 10.2], prior=True).all()
    # two 5% limit closes, then a +9.2% move that cannot happen under ST: ST until it, not ST
    # from there on (摘帽)
    st = _infer([10.0, 10.5, 11.03, 10.9, 11.9, 12.0], prior=True)
    assert st.tolist() == [True, True, True, True, False, False]
    # without the limit closes, "never ST" costs less than ST then a switch: the prior is soft
    assert not _infer([10.0, 10.1, 10.0, 10.9, 11.0, 11.1], prior=True).any()


def test_chinext_st_is_never_inferred():
    # ST on ChiNext trades at 20%: the bars cannot tell, the prior stands
    closes = _limit_path(10.0, [1, 1, 1, 1], 0.05)
    assert not _infer(closes, board=GEM).any()


# ---------------------------------------------------------------- build_market
def _panel(rows, **extra):
    frame = pd.DataFrame(rows, columns=["code", "date", "open", "high", "low", "close"])
    frame["volume"] = 1e6
    frame["amount"] = frame["close"] * 1e6
    for k, v in extra.items():
        frame[k] = v
    return validate_panel(frame)


def test_delisting_period_first_session_free_then_ten_percent():
    days = [str(d) for d in _sessions(4)]
    rows = [("600001", days[0], 5.0, 5.0, 5.0, 5.0), ("600001", days[1], 2.0, 2.5, 1.5, 2.0),
            ("600001", days[2], 2.2, 2.2, 2.2, 2.2), ("600001", days[3], 2.1, 2.2, 2.0, 2.1)]
    m = build_market(_panel(rows, delisting_period=[False, True, True, True]))
    assert np.isnan(m.limit_ratio[1, 0])                   # first session: no limit
    assert m.limit_ratio[2:, 0].tolist() == [0.10, 0.10]
    assert (m.limit_up[2, 0], m.limit_down[2, 0]) == (2.20, 1.80)
    assert ((m.status[1:, 0] & status.DELISTING) != 0).all()


def test_s_share_from_its_name_has_five_percent():
    days = [str(d) for d in _sessions(2)]
    rows = [("600182", days[0], 15.0, 15.1, 14.9, 15.04), ("600182", days[1], 15.79, 15.79,
                                                           15.79, 15.79)]
    master = StockMaster.from_frame(pd.DataFrame({"code": ["600182"], "name": ["S佳通"]}))
    m = build_market(_panel(rows), master=master)
    assert m.limit_ratio[1, 0] == 0.05 and m.limit_up[1, 0] == 15.79
    assert m.status[1, 0] & status.S_SHARE and not m.status[1, 0] & status.ST


def test_panel_columns_win_over_inference(recwarn):
    """With an is_st column nothing is inferred: the file says not ST, so a 5% one-price
    limit-up is just a move inside the 10% band."""
    days = [str(d) for d in _sessions(3)]
    rows = [("600001", days[0], 10.0, 10.0, 10.0, 10.0), ("600001", days[1], 10.5, 10.5, 10.5, 10.5),
            ("600001", days[2], 11.03, 11.03, 11.03, 11.03)]
    m = build_market(_panel(rows, is_st=[False] * 3))
    assert m.limit_ratio[1:, 0].tolist() == [0.10, 0.10]
    assert not [w for w in recwarn if "inferred" in str(w.message)]


def test_status_file_round_trip_and_override(tmp_path):
    days = [str(d) for d in _sessions(3)]
    rows = [("000638", days[0], 3.56, 3.56, 3.56, 3.56), ("000638", days[1], 3.74, 3.74, 3.74, 3.74),
            ("000638", days[2], 3.60, 3.70, 3.55, 3.65)]
    path = tmp_path / "status.csv"
    path.write_text(f"code,date,is_st,prev_close\n000638,{days[1]},1,\n"
                    f"000638,{days[2].replace('-', '')},,3.70\n", encoding="utf-8")
    m = build_market(_panel(rows), status_file=path, infer=False)
    assert m.limit_ratio[1, 0] == 0.05 and m.limit_up[1, 0] == 3.74      # file: ST that day
    assert m.prev_close[2, 0] == 3.70 and m.limit_ratio[2, 0] == 0.10
    table = status.status_frame(m)
    assert table.columns.tolist() == list(status.STATUS_COLUMNS)
    assert table[["code", "date", "is_st", "prev_close", "raw_prev_close", "source"]].values.tolist() == [
        ["000638", days[1], 1, 3.56, 3.56, "file"], ["000638", days[2], 0, 3.70, 3.74, "file"]]
    # the table is a status file: read back, it gives the same market
    table.to_csv(tmp_path / "again.csv", index=False)
    again = build_market(_panel(rows), status_file=tmp_path / "again.csv", infer=False)
    np.testing.assert_array_equal(again.limit_up, m.limit_up)


@pytest.mark.parametrize("text, message", [
    ("date,is_st\n2024-09-02,1\n", r"no 'code' column"),
    ("code,date,is_st\n638,2024-09-02,1\n", r"line 2: code '638' is not 6 digits"),
    ("code,date,is_st\n000638,2024-13-02,1\n", r"line 2: date '2024-13-02'"),
    ("code,date,is_st\n000638,2024-09-02,maybe\n", r"line 2: is_st 'maybe' is not a yes/no"),
    ("code,date,prev_close\n000638,2024-09-02,-1\n", r"line 2: prev_close '-1' is not a positive"),
    ("code,date,is_st\n000638,2024-09-02,1\n000638,20240902,0\n", r"line 3: a second row"),
])
def test_status_file_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "status.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        status.read_status_file(path)


# ---------------------------------------------------------------- the real panel
@pytest.fixture(scope="module")
def real(shared_data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        m = load_market(REAL_PANEL, names=[REAL_NAMES])
    return m, [str(w.message) for w in caught]


def _cell(m, code, day):
    return (int(np.searchsorted(m.sessions, np.datetime64(day, "D"))),
            int(np.searchsorted(m.codes, code)))


def test_real_load_warning_counts_what_stays_unexplained(real):
    _, text = real
    assert any("inferred from the bars" in t for t in text)
    outside = [t for t in text if "trade outside the price limits" in t]
    assert len(outside) == 1
    n = int(outside[0].split(": ")[1].split(" ")[0])
    assert n < 100                                   # 814 before this inference


@pytest.mark.parametrize("code, day, ref, up", [
    ("000638", "2025-05-14", 3.56, 3.74),   # 万方发展, *ST after 2025-04-18: 3.56 x 1.05
    ("600182", "2024-11-18", 15.04, 15.79),  # S佳通, an unreformed S share: 15.04 x 1.05
])
def test_real_five_percent_sealed_limit_ups(real, code, day, ref, up):
    m, _ = real
    t, j = _cell(m, code, day)
    assert (m.prev_close[t, j], m.limit_ratio[t, j], m.limit_up[t, j]) == (ref, 0.05, up)
    assert m.low[t, j] == up                         # 一字板
    row = scan.scan_day(m, day).stocks.set_index("code").loc[code]
    assert (row["limit_pct"], row["sealed"]) == (5, True)
    res = run_backtest(m, pd.DataFrame({"date": [day], "code": [code]}),
                       {"name": "hold_n", "hold": 1})
    assert res.orders[["side", "status", "reject_reason"]].values.tolist() == [
        ["buy", "rejected", "limit_up_sealed"]]


def test_real_ex_rights_sell_fills(real):
    """今天国际 300532: bought 2024-09-13, held one session, sold at the 2024-09-19 open (9.29),
    the ex-date whose raw limit-down (11.11) used to reject the sell as sealed."""
    m, _ = real
    t, j = _cell(m, "300532", "2024-09-19")
    assert m.prev_close[t, j] == 9.26 and m.status[t, j] & status.INFERRED_REF
    res = run_backtest(m, pd.DataFrame({"date": ["2024-09-13"], "code": ["300532"]}),
                       {"name": "hold_n", "hold": 1})
    sells = res.orders[res.orders["side"] == "sell"]
    assert sells[["date", "status", "price"]].astype(str).values.tolist() == [
        ["2024-09-19", "filled", "9.29"]]


def test_real_status_table(real):
    m, _ = real
    table = status.status_frame(m).set_index(["code", "date"])
    assert table.loc[("000638", "2025-05-14"), ["is_st", "source"]].tolist() == [1, "inferred"]
    assert table.loc[("600182", "2024-11-18"), ["s_share", "is_st", "source"]].tolist() == [
        1, 0, "data"]
    assert table.loc[("300532", "2024-09-19"), ["prev_close", "source"]].tolist() == [
        9.26, "inferred"]


# ---------------------------------------------------------------- config and command line
def test_config_status_key_is_a_path_relative_to_the_config(tmp_path):
    from backtests.data.config import config_dict, load_config

    (tmp_path / "status.csv").write_text("code,date,is_st\n", encoding="utf-8")
    (tmp_path / "marks.csv").write_text("date,code\n", encoding="utf-8")
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text('[data]\npath = "demo"\nstatus = "status.csv"\n'
                        '[signals]\nmarks = "marks.csv"\n', encoding="utf-8")
    cfg = load_config(cfg_path)
    assert cfg.data.status == str(tmp_path / "status.csv")
    assert config_dict(cfg, relative_to=tmp_path)["data"]["status"] == "status.csv"
    cfg_path.write_text('[data]\npath = "demo"\nstatus = "nope.csv"\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"\[data\] status = 'nope.csv': file not found"):
        load_config(cfg_path)


def test_cli_data_status_writes_the_table(tmp_path, capsys):
    from backtests.cli.main import main

    days = [d.strftime("%Y%m%d") for d in pd.DatetimeIndex(_sessions(3))]
    panel = tmp_path / "panel.csv"
    panel.write_text("code,date,open,high,low,close,volume,amount,is_st\n"
                     f"600001,{days[0]},10,10,10,10,100,1000,0\n"
                     f"600001,{days[1]},10.5,10.5,10.5,10.5,100,1000,1\n"
                     f"600001,{days[2]},10.4,10.6,10.3,10.5,100,1000,1\n", encoding="utf-8")
    out = tmp_path / "status.csv"
    assert main(["data", "status", "--data", str(panel), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}: 2 rows (data 2, inferred 0, file 0)\n"
    d1, d2 = (f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days[1:])
    assert out.read_text(encoding="utf-8") == (
        "code,date,is_st,s_share,delisting_period,prev_close,raw_prev_close,source\n"
        f"600001,{d1},1,0,0,10.0,10.0,data\n600001,{d2},1,0,0,10.5,10.5,data\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("code,date,is_st\n600001,2024-09-02,maybe\n", encoding="utf-8")
    assert main(["data", "status", "--data", str(panel), "--status", str(bad)]) == 2
    assert "is_st 'maybe' is not a yes/no value" in capsys.readouterr().err


def test_real_delisting_period_row_explains_the_last_bar(shared_data, tmp_path):
    """300630 (*ST普利) reopened on 2025-04-28 at 0.56 after 2.49: its delisting period's first
    session, which has no limit. One status-file row explains it."""
    path = tmp_path / "status.csv"
    path.write_text("code,date,delisting_period\n300630,2025-04-28,1\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        m = load_market(REAL_PANEL, names=[REAL_NAMES], status=path)
    t, j = _cell(m, "300630", "2025-04-28")
    assert np.isnan(m.limit_ratio[t, j]) and m.status[t, j] & status.FROM_FILE
    outside = [str(w.message) for w in caught if "trade outside" in str(w.message)]
    assert outside and outside[0].split(": ")[1].startswith("19 bar(s)")


# ---------------------------------------------------------------- corporate actions
@pytest.mark.parametrize("prev, kw, expected", [
    (13.89, {"transfer": 0.5}, 9.26),                  # 今天国际 300532, 10转5: 13.89 / 1.5
    (10.00, {"cash": 0.3}, 9.70),                      # 10派3
    (10.00, {"cash": 0.2, "bonus": 0.2, "transfer": 0.3}, 6.53),   # (10 - 0.2) / 1.5 = 6.5333
    (10.00, {"rights": 0.3, "rights_price": 5.0}, 8.85),  # 10配3 at 5: (10 + 1.5) / 1.3 = 8.846
    (10.05, {"cash": 0.1}, 9.95),
    # the exchanges' worked example: 10送3派2, 10配2 at 5.00 on a 12.00 close -> 8.53
    (12.00, {"cash": 0.2, "bonus": 0.3, "rights": 0.2, "rights_price": 5.0}, 8.53),
])
def test_ex_reference_by_hand(prev, kw, expected):
    assert status.ex_reference(prev, **kw) == expected


def test_actions_file_sets_the_ex_date_reference(tmp_path):
    """An ordinary cash dividend (10派5 on a 10.00 stock) is inside the band, so the bars do not
    reveal it: the actions table gives the reference 9.50, and the sealed limit-up 10.45
    (9.50 x 1.1) is one."""
    days = [str(d) for d in _sessions(2)]
    rows = [("600001", days[0], 10.0, 10.0, 10.0, 10.0), ("600001", days[1], 10.45, 10.45, 10.45, 10.45)]
    plain = build_market(_panel(rows))
    assert (plain.prev_close[1, 0], plain.limit_up[1, 0]) == (10.0, 11.0)
    path = tmp_path / "actions.csv"
    path.write_text(f"code,ex_date,cash,bonus,transfer\n600001,{days[1]},0.5,,\n", encoding="utf-8")
    m = build_market(_panel(rows), actions=path)
    assert (m.prev_close[1, 0], m.limit_up[1, 0], m.limit_down[1, 0]) == (9.50, 10.45, 8.55)
    assert status.status_frame(m)[["prev_close", "raw_prev_close"]].values.tolist() == [[9.5, 10.0]]
    path.write_text("code,ex_date,cash\n600001,2024-09-03,-1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2: cash '-1' is not a number >= 0"):
        status.read_actions_file(path)
