"""Market panel: reading (formats, column names), validation errors, alignment, prev_close,
limit prices; plus real-data checks on the shared panel."""
from __future__ import annotations

import gzip
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.core.calendar import trading_calendar
from backtests.core.errors import DataError, DataWarning
from backtests.data.cache import ARRAY_FIELDS
from backtests.data.load import load_market
from backtests.data.market import build_market
from backtests.data.master import StockMaster, load_master
from backtests.data.panel import read_panel, validate_panel
from tests.conftest import REAL_NAMES, REAL_NAMES_2023, REAL_PANEL

HEADER = "code,date,open,high,low,close,volume,amount"
# Mon 2024-12-09 .. Fri 2024-12-13 are sessions; 2024-12-07 is a Saturday.
GOOD = """\
000001,20241209,10.00,10.50,9.90,10.20,1000,10200
000001,20241210,10.20,11.22,10.10,11.22,2000,22000
000001,20241211,11.30,11.50,11.00,11.10,1500,16650
300001,20241209,20.00,21.00,19.50,20.50,500,10250
300001,20241211,20.60,24.60,20.60,24.60,800,19680
"""


def write(tmp_path, body: str, header: str = HEADER, name: str = "panel.csv") -> str:
    path = tmp_path / name
    path.write_text(header + "\n" + body, encoding="utf-8")
    return str(path)


def col(m, code):
    return list(m.codes).index(code)


def row(m, day):
    return list(m.sessions).index(np.datetime64(day))


# ---------------------------------------------------------------- reading
def test_read_english_csv_types_and_values(tmp_path):
    df = read_panel(write(tmp_path, GOOD))
    assert list(df.columns) == HEADER.split(",")
    assert df["code"].tolist()[:1] == ["000001"] and df["code"].map(type).eq(str).all()
    assert df["date"].dtype == "datetime64[ns]"
    assert df["date"].iloc[1] == pd.Timestamp("2024-12-10")
    assert df["close"].tolist() == [10.2, 11.22, 11.1, 20.5, 24.6]
    assert df["volume"].iloc[0] == 1000.0
    assert df.attrs["dropped"] == {}


def test_akshare_chinese_columns_lots_to_shares_and_extras_ignored(tmp_path):
    # Columns and order exactly as akshare's stock_zh_a_hist returns them, dates as it writes them.
    ak = pd.DataFrame({
        "日期": ["2024-12-09", "2024-12-10"], "股票代码": ["002354", "002354"],
        "开盘": [7.0, 7.1], "收盘": [7.1, 7.81], "最高": [7.2, 7.81], "最低": [6.9, 7.05],
        "成交量": [12345, 20000], "成交额": [8.7e6, 1.5e7], "振幅": [4.2, 10.0],
        "涨跌幅": [1.4, 10.0], "涨跌额": [0.1, 0.71], "换手率": [0.9, 1.5]})
    path = tmp_path / "ak.csv"
    ak.to_csv(path, index=False)
    df = read_panel(path)
    assert list(df.columns) == HEADER.split(",") + ["prev_close"]
    assert df["volume"].tolist() == [1234500.0, 2000000.0]      # 手 x 100
    assert df["code"].tolist() == ["002354", "002354"]
    assert df["close"].tolist() == [7.1, 7.81]
    # 涨跌额 is close minus the exchange's reference previous close: 7.1 - 0.1, 7.81 - 0.71
    assert df["prev_close"].tolist() == [7.0, 7.1]


def test_excel_style_bom_and_crlf(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\r\n" + GOOD.replace("\n", "\r\n")).encode())
    pd.testing.assert_frame_equal(read_panel(path), read_panel(write(tmp_path, GOOD)))


def test_code_column_named_daima(tmp_path):
    body = "000001,2024-12-09,10,10.5,9.9,10.2,1000,10200\n"
    df = read_panel(write(tmp_path, body, header="代码,date,open,high,low,close,volume,amount"))
    assert df["code"].tolist() == ["000001"]


def test_csv_gz_parquet_round_trip(tmp_path):
    csv_path = write(tmp_path, GOOD)
    ref = read_panel(csv_path)
    gz = tmp_path / "panel.csv.gz"
    gz.write_bytes(gzip.compress((HEADER + "\n" + GOOD).encode()))
    pq_str = tmp_path / "strings.parquet"
    pd.read_csv(csv_path, dtype=str).to_parquet(pq_str)              # all text, YYYYMMDD
    pq_typed = tmp_path / "typed.parquet"
    ref.to_parquet(pq_typed)                                          # datetime, floats
    for other in (gz, pq_str, pq_typed):
        got = read_panel(other)
        pd.testing.assert_frame_equal(got, ref, check_like=False)
        assert got.attrs["source"] == str(other)


def test_optional_columns_are_kept_and_typed(tmp_path):
    body = ("000001,20241209,10,10.5,9.9,10.2,1000,10200,10.1,平安银行,0,1991-04-03,1.5\n"
            "000001,20241210,10.2,10.3,10.1,10.2,1000,10200,,平安银行,是,19910403,1.5\n")
    df = read_panel(write(tmp_path, body, header=HEADER + ",prev_close,name,is_st,list_date,adj_factor"))
    assert df["prev_close"].iloc[0] == 10.1 and np.isnan(df["prev_close"].iloc[1])
    assert df["name"].tolist() == ["平安银行", "平安银行"]
    assert df["is_st"].tolist() == [False, True]
    assert (df["list_date"] == pd.Timestamp("1991-04-03")).all()


# ---------------------------------------------------------------- bad inputs
def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"panel file .*nope\.csv not found"):
        read_panel(tmp_path / "nope.csv")


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv is empty \(0 bytes\).*code,date,open"):
        read_panel(empty)
    with pytest.raises(DataError, match=r"has a header but no data rows"):
        read_panel(write(tmp_path, ""))


def test_wrong_columns_names_missing_and_found(tmp_path):
    path = write(tmp_path, "000001,20241209,10,10.5,9.9,10.2,1000\n",
                 header="code,date,open,hgih,low,close,volume")
    with pytest.raises(DataError) as exc:
        read_panel(path)
    msg = str(exc.value)
    assert "lacks required column(s) high, amount" in msg
    assert 'did you mean "hgih"' in msg
    assert "found code, date, open, hgih, low, close, volume" in msg
    assert "panel.csv" in msg


def test_non_trading_date_names_line_and_neighbours(tmp_path):
    body = GOOD + "000001,20241207,11.0,11.2,10.9,11.0,100,1100\n"
    with pytest.raises(DataError) as exc:
        read_panel(write(tmp_path, body))
    msg = str(exc.value)
    assert "date must be a trading session: 1 row, line 7 (date='20241207')" in msg
    assert "previous session 2024-12-06, next 2024-12-09" in msg
    assert "--drop-bad" in msg


def test_date_outside_calendar_and_unparseable(tmp_path):
    body = GOOD + "000001,20300107,11,11.2,10.9,11,100,1100\n000001,2024-13-45,11,11.2,10.9,11,100,1100\n"
    with pytest.raises(DataError) as exc:
        read_panel(write(tmp_path, body))
    msg = str(exc.value)
    assert "has 2 bad rows" in msg
    assert "date must be YYYYMMDD or YYYY-MM-DD: 1 row, line 8 (date='2024-13-45')" in msg
    cal = trading_calendar()
    assert (f"date must lie inside the trading calendar ({cal.first} .. {cal.last}): 1 row, "
            "line 7 (date='20300107')") in msg


def test_duplicates_name_both_lines(tmp_path):
    body = GOOD + "000001,20241210,10.20,11.22,10.10,11.00,2000,22000\n"
    with pytest.raises(DataError) as exc:
        read_panel(write(tmp_path, body))
    msg = str(exc.value)
    assert "one row per (code, date)" in msg
    assert "line 3 (code='000001', date='20241210')" in msg
    assert "line 7 (code='000001', date='20241210') repeats line 3" in msg


def test_high_below_low_and_ranges(tmp_path):
    body = ("000001,20241209,10.0,9.5,9.9,9.9,100,990\n"       # high < low
            "000001,20241210,10.6,10.5,9.9,10.2,100,990\n"     # open above high
            "000001,20241211,10.0,10.5,9.9,9.8,100,990\n"      # close below low
            "000001,20241212,0,10.5,9.9,10.0,100,990\n"        # non-positive price
            "000001,20241213,10.0,10.5,9.9,10.0,-5,990\n")     # negative volume
    with pytest.raises(DataError) as exc:
        read_panel(write(tmp_path, body))
    msg = str(exc.value)
    assert "low <= high (this row has high < low): 1 row, line 2 (high=9.5, low=9.9)" in msg
    assert "low <= open <= high: 1 row, line 3 (open=10.6, low=9.9, high=10.5)" in msg
    assert "low <= close <= high: 1 row, line 4 (close=9.8, low=9.9, high=10.5)" in msg
    assert "prices must be positive: 1 row, line 5" in msg
    assert "volume must not be negative: 1 row, line 6 (volume=-5)" in msg


def test_five_digit_code_is_an_error_not_padded(tmp_path):
    body = "2354,20241209,7.0,7.2,6.9,7.1,100,710\n"
    with pytest.raises(DataError) as exc:
        read_panel(write(tmp_path, body))
    msg = str(exc.value)
    assert "code must be 6 digits kept as text" in msg
    assert "line 2 (code='2354')" in msg
    assert "'002354'" in msg and "leading zeros" in msg


def test_non_numeric_cells_and_short_rows(tmp_path):
    body = "000001,20241209,10,10.5,9.9,10.2,1000,10200\n000001,20241210,abc,10.5,9.9,10.2,1000,1e3x\n"
    with pytest.raises(DataError, match=r"panel\.csv: price, volume and amount cells must be numbers "
                       r"\(or empty\): line 3 open='abc'; line 3 amount='1e3x'"):
        read_panel(write(tmp_path, body))
    with pytest.raises(DataError, match=r"cannot parse it as CSV .*Expected 8 columns, got 7"):
        read_panel(write(tmp_path, "000001,20241209,10,10.5,9.9,10.2,1000\n"))


def test_parquet_bad_inputs(tmp_path):
    ints = tmp_path / "ints.parquet"              # codes saved as numbers lose their zeros
    pd.DataFrame({"code": [2354], "date": [20241209], "open": [7.0], "high": [7.2], "low": [6.9],
                  "close": [7.1], "volume": [100], "amount": [710]}).to_parquet(ints)
    with pytest.raises(DataError, match=r"(?s)ints\.parquet has 1 bad row .*row 1 \(code='2354'\)"):
        read_panel(ints)
    empty = tmp_path / "empty.parquet"
    pd.DataFrame({c: pd.Series([], dtype=float) for c in HEADER.split(",")}).to_parquet(empty)
    with pytest.raises(DataError, match=r"empty\.parquet has no data rows"):
        read_panel(empty)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        read_panel(broken)


def test_two_columns_for_one_field(tmp_path):
    path = write(tmp_path, "000001,000001,20241209,10,10.5,9.9,10.2,1000,10200\n",
                 header="code,股票代码," + HEADER.split(",", 1)[1])
    with pytest.raises(DataError, match=r"columns 'code' and '股票代码' both give 'code'"):
        read_panel(path)


def test_first_rows_only_and_count(tmp_path):
    body = "".join(f"000001,202412{d:02d},10.0,9.0,9.5,9.5,100,950\n" for d in (9, 10, 11, 12, 13))
    with pytest.raises(DataError) as exc:
        read_panel(write(tmp_path, body))
    msg = str(exc.value)
    assert "5 rows, line 2 (high=9, low=9.5); line 3 (high=9, low=9.5); line 4 (high=9, low=9.5) and 2 more" in msg


def test_zero_volume_placeholder_rows_are_not_checked_and_are_no_bar(tmp_path):
    # Sources such as the shared panel write a suspended session as volume 0 with prices 0.
    body = GOOD + "000001,20241212,0,0,0,11.10,0,0\n"
    df = read_panel(write(tmp_path, body))
    assert len(df) == 6
    m = build_market(df)
    j = col(m, "000001")
    assert np.isnan(m.close[row(m, "2024-12-12"), j])
    assert m.prev_close[row(m, "2024-12-12"), j] == 11.10


def test_drop_bad_counts_by_rule(tmp_path):
    body = (GOOD
            + "000001,20241207,11.0,11.2,10.9,11.0,100,1100\n"        # not a session
            + "000001,20241212,10.0,9.5,9.9,9.9,100,990\n"            # high < low
            + "000001,20241210,10.20,11.22,10.10,11.22,2000,22000\n"  # exact copy of line 3
            + "300001,20241209,20.00,21.00,19.50,20.40,500,10250\n"   # conflicts with line 5
            + "2354,20241209,7.0,7.2,6.9,7.1,100,710\n")
    df = read_panel(write(tmp_path, body), drop_bad=True)
    assert df.attrs["dropped"] == {"code": 1, "not_session": 1, "high_low": 1, "duplicate": 3}
    # the exact copy keeps one row; both conflicting 300001 rows of 12-09 are gone
    assert len(df) == 4
    assert not ((df["code"] == "300001") & (df["date"] == "2024-12-09")).any()
    assert ((df["code"] == "000001") & (df["date"] == "2024-12-10")).sum() == 1


def test_drop_bad_everything_bad(tmp_path):
    with pytest.raises(DataError, match="every row is bad"):
        read_panel(write(tmp_path, "000001,20241207,1,1,1,1,1,1\n"), drop_bad=True)


def test_load_market_warns_dropped_rows(tmp_path):
    path = write(tmp_path, GOOD + "000001,20241212,10.0,9.5,9.9,9.9,100,990\n")
    with pytest.warns(DataWarning, match=r"dropped 1 bad row\(s\) from .*panel\.csv: high_low 1"):
        m = load_market(path, drop_bad=True)
    assert m.close.shape == (3, 2)
    with pytest.raises(DataError, match="high < low"):
        load_market(path)


# ---------------------------------------------------------------- alignment
def test_sessions_from_calendar_suspension_and_prev_close_carry(tmp_path):
    m = build_market(read_panel(write(tmp_path, GOOD)))
    assert m.sessions.tolist() == [np.datetime64("2024-12-09"), np.datetime64("2024-12-10"),
                                   np.datetime64("2024-12-11")]
    assert m.sessions.dtype == np.dtype("datetime64[D]")
    assert m.codes.tolist() == ["000001", "300001"]
    assert m.boards.tolist() == [0, 1]
    j = col(m, "300001")
    assert np.isnan(m.close[1, j]) and np.isnan(m.volume[1, j])     # suspended 12-10
    assert np.isnan(m.prev_close[0, j])                              # nothing before the panel
    assert m.prev_close[1, j] == 20.5 and m.prev_close[2, j] == 20.5  # carried across
    # ChiNext 20%: 20.50 * 1.2 = 24.60, 20.50 * 0.8 = 16.40
    assert m.limit_up[2, j] == 24.6 and m.limit_down[2, j] == 16.4
    assert m.limit_ratio[2, j] == 0.2
    assert np.isnan(m.limit_ratio[0, j]) and np.isnan(m.limit_up[0, j])
    # main board 10%: 10.20 -> 11.22 / 9.18; 11.22 -> 12.342 -> 12.34 / 10.098 -> 10.10
    i = col(m, "000001")
    assert (m.limit_up[1, i], m.limit_down[1, i]) == (11.22, 9.18)
    assert (m.limit_up[2, i], m.limit_down[2, i]) == (12.34, 10.10)
    assert m.synthetic is False


def test_session_without_any_row_is_all_nan(tmp_path):
    body = "000001,20241209,10,10.5,9.9,10.2,1000,10200\n000001,20241211,10.3,10.5,10,10.4,1000,10200\n"
    m = build_market(read_panel(write(tmp_path, body)))
    assert len(m.sessions) == 3 and np.isnan(m.close[1]).all()
    assert m.limit_up[2, 0] == 11.22                                 # from the 12-09 close


def test_prev_close_from_file_wins(tmp_path):
    body = ("000001,20241209,10,10.5,9.9,10.2,1000,10200,10.05\n"
            "000001,20241210,10.2,10.3,10.1,10.2,1000,10200,\n"
            "000001,20241211,9.5,9.7,9.4,9.6,1000,10200,9.70\n")    # ex-dividend reference
    m = build_market(read_panel(write(tmp_path, body, header=HEADER + ",prev_close")))
    assert m.prev_close[:, 0].tolist() == [10.05, 10.2, 9.70]
    assert m.limit_up[0, 0] == 11.06              # 10.05 * 1.1 = 11.055 -> half-up 11.06
    assert m.limit_up[2, 0] == 10.67              # 9.70 * 1.1 = 10.67


def test_new_listing_free_window_then_limits(tmp_path):
    # Main-board IPO listed 2024-12-02 (after 2023-04-10): no limit on its first 5 sessions
    # (12-02 .. 12-06), 10% from the 6th (12-09).
    days = ["20241202", "20241203", "20241204", "20241205", "20241206", "20241209", "20241210"]
    closes = [20.0, 25.0, 30.0, 28.0, 27.0, 29.7, 29.0]
    body = "".join(f"001390,{d},{c},{c},{c},{c},100,{c * 100}\n" for d, c in zip(days, closes))
    body += "".join(f"000001,{d},10,10,10,10,100,1000\n" for d in days)
    master = StockMaster.from_frame(pd.DataFrame({
        "code": ["001390", "000001"], "name": ["新股", "平安银行"],
        "list_date": ["2024-12-02", "1991-04-03"]}))
    m = build_market(read_panel(write(tmp_path, body)), master=master)
    j = col(m, "001390")
    assert np.isnan(m.limit_ratio[:5, j]).all() and np.isnan(m.limit_up[:5, j]).all()
    assert m.limit_ratio[5, j] == 0.1
    assert (m.limit_up[5, j], m.limit_down[5, j]) == (29.7, 24.3)   # 27.00 * 1.1 / 0.9
    assert (m.limit_up[6, j], m.limit_down[6, j]) == (32.67, 26.73)  # 29.70 * 1.1 / 0.9
    assert m.limit_ratio[1, col(m, "000001")] == 0.1


def test_list_date_and_name_from_panel_columns(tmp_path):
    # STAR stock listed 2024-12-03 per its list_date column (first non-empty value wins); its
    # name comes from the latest non-empty name.
    days = ["20241202", "20241203", "20241204", "20241205", "20241206", "20241209", "20241210",
            "20241211"]
    body = "".join(f"000001,{d},10,10,10,10,100,1000,,平安银行\n" for d in days)
    body += "".join(f"688999,{d},50,50,50,50,100,5000,{'' if d == '20241203' else '2024-12-03'},"
                    f"{'' if d == '20241211' else 'N新股'}\n" for d in days[1:])
    m = build_market(read_panel(write(tmp_path, body, header=HEADER + ",list_date,name")))
    j = col(m, "688999")
    assert np.isnan(m.limit_up[1:6, j]).all()         # 12-03 .. 12-09: 5 free sessions
    assert m.limit_up[6, j] == 60.0                   # 12-10: STAR 20%
    assert m.names.tolist() == ["平安银行", "N新股"]


def test_listing_inferred_from_first_row_without_list_date(tmp_path):
    # ChiNext stock first seen on 12-04 with no list date anywhere: a new listing, 5 free sessions.
    days = ["20241202", "20241203", "20241204", "20241205", "20241206", "20241209", "20241210",
            "20241211"]
    body = "".join(f"000001,{d},10,10,10,10,100,1000\n" for d in days)
    body += "".join(f"301999,{d},30,30,30,30,100,3000\n" for d in days[2:])
    m = build_market(read_panel(write(tmp_path, body)))
    j = col(m, "301999")
    assert np.isnan(m.limit_up[2:7, j]).all()        # 12-04 .. 12-10
    assert m.limit_up[7, j] == 36.0 and m.limit_ratio[7, j] == 0.2
    assert m.limit_up[1, col(m, "000001")] == 11.0  # present from the first session: not inferred


def test_st_from_master_name_is_five_percent(tmp_path):
    body = ("000004,20241209,3.30,3.35,3.28,3.33,100,333\n"
            "000004,20241210,3.40,3.50,3.38,3.50,100,350\n")
    master = StockMaster.from_frame(pd.DataFrame({"code": ["000004"], "name": ["*ST 测试"]}))
    m = build_market(read_panel(write(tmp_path, body)), master=master)
    assert m.is_st.tolist() == [True] and m.names.tolist() == ["*ST 测试"]
    assert m.limit_ratio[1, 0] == 0.05
    # 3.33 * 1.05 = 3.4965 -> 3.50; 3.33 * 0.95 = 3.1635 -> 3.16
    assert (m.limit_up[1, 0], m.limit_down[1, 0]) == (3.50, 3.16)
    plain = build_market(read_panel(write(tmp_path, body)))
    assert plain.limit_up[1, 0] == 3.66 and plain.is_st.tolist() == [False]


def test_st_per_row_from_panel_is_st_and_name(tmp_path):
    body = ("000004,20241209,3.30,3.35,3.28,3.33,100,333,0\n"
            "000004,20241210,3.40,3.50,3.38,3.50,100,350,1\n"
            "000004,20241211,3.40,3.50,3.38,3.50,100,350,\n")
    m = build_market(read_panel(write(tmp_path, body, header=HEADER + ",is_st")))
    assert m.limit_ratio[1:, 0].tolist() == [0.05, 0.05]  # 12-11 carries 12-10's flag
    assert m.is_st.tolist() == [True]
    body = ("000004,20241209,3.30,3.35,3.28,3.33,100,333,ST测试\n"
            "000004,20241210,3.40,3.50,3.38,3.50,100,350,测试\n")
    m = build_market(read_panel(write(tmp_path, body, header=HEADER + ",name")))
    assert np.isnan(m.limit_ratio[0, 0]) and m.limit_ratio[1, 0] == 0.1
    assert m.is_st.tolist() == [False] and m.names.tolist() == ["测试"]


def test_warm_up_start_and_end_clip(tmp_path):
    body = "".join(f"000001,202412{d:02d},10,11,9,{c},100,1000\n"
                   for d, c in ((9, 10.0), (10, 10.5), (11, 10.8), (12, 10.6), (13, 10.9)))
    panel = read_panel(write(tmp_path, body))
    m = build_market(panel, start="2024-12-11", end="20241212")
    assert [str(s) for s in m.sessions] == ["2024-12-11", "2024-12-12"]
    assert m.prev_close[:, 0].tolist() == [10.5, 10.8]     # 12-10 close from the warm-up
    assert m.limit_up[0, 0] == 11.55                       # 10.50 * 1.1
    # a start on a closed day moves to the next session
    assert str(build_market(panel, start="2024-12-07").sessions[0]) == "2024-12-09"
    with pytest.raises(DataError, match="no sessions between"):
        build_market(panel, start="2024-12-16")


def test_unknown_board_dropped_with_warning(tmp_path):
    body = GOOD + "900901,20241209,0.5,0.5,0.5,0.5,100,50\n"
    with pytest.warns(DataWarning, match=r"left out 1 stock\(s\) of no known A-share board.*900901"):
        m = build_market(read_panel(write(tmp_path, body)))
    assert m.codes.tolist() == ["000001", "300001"]


def test_demo_market_is_synthetic():
    m = load_market("demo")
    assert m.synthetic is True
    assert m.close.shape == (len(m.sessions), len(m.codes))
    assert all(len(c) == 6 for c in m.codes) and list(m.codes) == sorted(m.codes)


def test_store_directory_round_trip(tmp_path):
    from backtests.data.store import import_panel

    path = write(tmp_path, GOOD)
    import_panel(path, tmp_path / "store")
    a, b = load_market(path), load_market(tmp_path / "store")
    for field in ("sessions", "codes", "close", "prev_close", "limit_up"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_validate_frame_rows_numbered_from_one():
    frame = pd.DataFrame({"code": ["000001"], "date": ["20241209"], "open": [1.0], "high": [0.9],
                          "low": [1.0], "close": [1.0], "volume": [1.0], "amount": [1.0]})
    with pytest.raises(DataError, match=r"row 1 \(high=0\.9, low=1\)"):
        validate_panel(frame, source="test")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 9), st.integers(100, 2000)),
                min_size=1, max_size=25))
def test_prev_close_is_previous_traded_close(rows):
    """prev_close equals the close of the stock's latest earlier row, whatever the gaps."""
    sessions = trading_calendar().between("2024-12-02", "2024-12-13")
    seen = {}
    for s, d, c in rows:
        seen[(s, d)] = c / 100
    frame = pd.DataFrame([{"code": f"00000{s + 1}", "date": pd.Timestamp(sessions[d]),
                           "open": c, "high": c, "low": c, "close": c, "volume": 1.0, "amount": c}
                          for (s, d), c in sorted(seen.items())])
    # without inference: random closes jump beyond any band, which inference would read as
    # ex-rights days (tests/test_status.py covers that)
    m = build_market(validate_panel(frame), infer=False)
    for j, code in enumerate(m.codes):
        mine = frame[frame["code"] == code].set_index("date")["close"]
        for i, day in enumerate(m.sessions):
            earlier = mine[mine.index < pd.Timestamp(day)]
            expect = earlier.iloc[-1] if len(earlier) else np.nan
            assert np.isclose(m.prev_close[i, j], expect, equal_nan=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(100, 103)),
                min_size=1, max_size=20))
def test_duplicates_keep_one_identical_copy_drop_conflicts(rows):
    """After drop_bad: one row per (code, date), kept exactly when all its copies agree."""
    sessions = trading_calendar().between("2024-12-09", "2024-12-12")
    frame = pd.DataFrame([{"code": f"00000{s + 1}", "date": pd.Timestamp(sessions[d]),
                           "open": c / 10, "high": c / 10, "low": c / 10, "close": c / 10,
                           "volume": 1.0, "amount": 1.0} for s, d, c in rows])
    agree = frame.groupby(["code", "date"])["close"].nunique() == 1
    if not agree.any():
        with pytest.raises(DataError, match="every row is bad"):
            validate_panel(frame, drop_bad=True)
        return
    out = validate_panel(frame, drop_bad=True)
    assert not out.duplicated(["code", "date"]).any()
    assert set(out.set_index(["code", "date"]).index) == set(agree[agree].index)
    assert out.attrs["dropped"].get("duplicate", 0) == len(frame) - len(out)


# ---------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real(shared_data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        panel = read_panel(REAL_PANEL)
        master = load_master(REAL_NAMES, REAL_NAMES_2023)
        out = panel, build_market(panel), build_market(panel, master=master)
    # The only warnings, per market: what was inferred from the bars (docs/status.md), then the
    # bars that stay outside their limits. Before inference these were 90 without names and 814
    # with the 2025-04-18 names' ST flags applied to the whole window; now 20 either way.
    text = [str(w.message) for w in caught]
    assert len(text) == 4
    assert "inferred from the bars: ST status differs from the names on 20,222" in text[0]
    assert "inferred from the bars: ST status differs from the names on 3,666" in text[2]
    assert "an ex-rights reference price on 70 session(s) of 69 stock(s)" in text[2]
    assert [re.search(r": (\d+) bar\(s\) on \d+ stock\(s\) trade outside", t)[1]
            for t in text[1::2]] == ["20", "20"]
    return out


def test_real_panel_shape(real):
    panel, m, _ = real
    assert len(panel) == 1_036_007 and panel.attrs["dropped"] == {}
    assert m.close.shape == (203, 5154)
    assert str(m.sessions[0]) == "2024-07-19" and str(m.sessions[-1]) == "2025-05-23"
    for name in ("open", "high", "low", "close", "volume", "amount", "prev_close", "limit_up"):
        assert getattr(m, name).dtype == np.float64
    # rows with volume 0 are placeholders: they count as rows but not as bars
    assert np.isfinite(m.close).sum() == 1_036_007 - int((panel["volume"] == 0).sum())


def test_real_002354_limit_up_on_2024_12_13(real):
    _, m, mm = real
    i, j = row(m, "2024-12-13"), col(m, "002354")
    # previous close 7.73 (2024-12-12); main board 10%: 7.73 * 1.1 = 8.503 -> 8.50, the
    # exchange's figure; it closed there (sealed).
    assert m.prev_close[i, j] == 7.73
    assert (m.limit_up[i, j], m.limit_down[i, j]) == (8.50, 6.96)
    assert m.close[i, j] == 8.50
    assert mm.names[col(mm, "000785")] == "居然智家"


def test_real_st_names_five_percent(real):
    _, _, mm = real
    j = col(mm, "600811")                        # *ST东方 in the 2025-04-18 names
    assert mm.is_st[j] and mm.limit_ratio[-1, j] == 0.05
    # ... but not in 2024: it rose 10% on 2024-07-29 (1.05 from 0.95), so the status inferred
    # per session gives 10% there (docs/status.md)
    i = row(mm, "2024-07-29")
    assert (mm.prev_close[i, j], mm.close[i, j], mm.limit_ratio[i, j]) == (0.95, 1.05, 0.10)


def test_bars_outside_their_computed_limits_are_a_warning_naming_the_first(tmp_path):
    """A 15% jump on a main-board stock cannot print under a 10% limit: the user is told which
    stock and session, and the market still loads."""
    path = tmp_path / "panel.csv"
    path.write_text("code,date,open,high,low,close,volume,amount\n"
                    "600000,20240102,10.00,10.00,10.00,10.00,100,1000\n"
                    "600000,20240103,10.50,11.50,10.50,11.50,100,1000\n"
                    "600000,20240104,11.50,11.60,11.40,11.50,100,1000\n", encoding="utf-8")
    with pytest.warns(DataWarning, match=r"1 bar\(s\) on 1 stock\(s\) trade outside the price "
                                         r"limits computed for them \(first: 600000 on "
                                         r"2024-01-03, high 11.50 above limit-up 11.00\)"):
        m = load_market(str(path))
    assert m.limit_up[1, 0] == 11.00


def test_consumed_panel_gives_the_same_market(real):
    """``consume=True`` (what load_market does with the frame it read) drops the long columns
    as they are aligned and gives the same market, field by field, on the real panel."""
    panel, _bare, named = real
    copy = panel.copy()
    master = load_master(REAL_NAMES, REAL_NAMES_2023)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        consumed = build_market(copy, master=master, consume=True)
    for k in ("open", "high", "low", "close", "volume", "amount", "code", "date"):
        assert k not in copy.columns
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(consumed, name)),
                                      np.asarray(getattr(named, name)), err_msg=name)
