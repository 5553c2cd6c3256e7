"""``backtests.features.scan`` and ``hypebt scan``: limit states, streaks, the "N天M板" rule, counts,
the CLI's exact output on a hand-built market, and the motivating article on real data."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import NEWS, REAL_NAMES, REAL_PANEL

from backtests.cli.main import main
from backtests.data.load import load_market
from backtests.data.market import build_market
from backtests.data.master import StockMaster
from backtests.data.panel import validate_panel
from backtests.features import scan

T, F = True, False


# ---------------------------------------------------------------- array kernels
def test_limit_state_half_cent_tolerance_and_nan():
    lu = np.array([[11.00, 11.00, 11.00, np.nan, 11.00]])
    ld = np.array([[9.00, 9.00, 9.00, np.nan, 9.00]])
    high = np.array([[11.00, 10.99, 11.00, 12.00, np.nan]])
    low = np.array([[11.00, 10.50, 10.20, 9.00, np.nan]])
    close = np.array([[11.00, 10.99, 10.80, 11.50, np.nan]])
    s = scan.limit_state(high, low, close, lu, ld)
    assert s.traded.tolist() == [[T, T, T, T, F]]
    assert s.has_limit.tolist() == [[T, T, T, F, F]]
    assert s.touched_up.tolist() == [[T, F, T, F, F]]
    assert s.sealed_up.tolist() == [[T, F, F, F, F]]
    assert s.one_word_up.tolist() == [[T, F, F, F, F]]
    # a float that is a hair off the cent grid still counts; one cent below does not
    s = scan.limit_state(np.array([11.0 - 1e-9]), np.array([10.0]), np.array([11.0 - 1e-9]),
                         np.array([11.0]), np.array([9.0]))
    assert s.sealed_up.tolist() == [T]
    s = scan.limit_state(np.array([9.5, 9.0]), np.array([9.0, 9.0]), np.array([9.0, 9.0]),
                         np.array([11.0, 11.0]), np.array([9.0, 9.0]))
    assert s.sealed_down.tolist() == [T, T] and s.one_word_down.tolist() == [F, T]
    assert s.touched_down.tolist() == [T, T]


def _col(seq: str):
    """Script -> (sealed, traded) columns: 'U' limit-up close, '.' other close, 'S' suspended."""
    sealed = np.array([[c == "U"] for c in seq])
    traded = np.array([[c != "S"] for c in seq])
    return sealed, traded


@pytest.mark.parametrize("seq, expected", [
    ("UUU", [1, 2, 3]),
    ("U.UU", [1, 0, 1, 2]),
    ("UUSSU", [1, 2, 0, 0, 3]),             # a suspension neither breaks nor extends a streak
    ("U.S.U", [1, 0, 0, 0, 1]),
    ("SSUU", [0, 0, 1, 2]),
])
def test_streaks(seq, expected):
    sealed, traded = _col(seq)
    assert scan.streaks(sealed, traded)[:, 0].tolist() == expected


@pytest.mark.parametrize("seq, max_gap, days, boards", [
    ("U", 2, 1, 1),
    ("UUUU", 2, 4, 4),
    ("U.U", 2, 3, 2),
    ("U..U", 2, 4, 2),                      # a gap of exactly max_gap stays in the run
    ("U...U", 2, 1, 1),                     # one more and a new run starts
    ("U...U", 3, 5, 2),
    ("U..U", 1, 1, 1),
    ("U.U", 0, 1, 1),
    ("U.SS.U", 2, 4, 2),                    # suspended sessions are not counted
    ("UU......U.UUU", 2, 5, 4),             # 天娱数科-like: old run forgotten after a long gap
    ("UU..UU..UU", 2, 10, 6),
])
def test_board_runs(seq, max_gap, days, boards):
    sealed, traded = _col(seq)
    d, b = scan.board_runs(sealed, traded, max_gap=max_gap)
    assert (d[-1, 0], b[-1, 0]) == (days, boards)
    assert (d[~sealed] == 0).all() and (b[~sealed] == 0).all()


def test_board_runs_vectorised_over_stocks():
    a, ta = _col("U.U.U")
    b, tb = _col("UUS.U")
    d, m = scan.board_runs(np.hstack([a, b]), np.hstack([ta, tb]))
    assert d.tolist() == [[1, 1], [0, 2], [3, 0], [0, 0], [5, 4]]
    assert m.tolist() == [[1, 1], [0, 2], [2, 0], [0, 0], [3, 3]]


def test_board_runs_rejects_negative_gap():
    sealed, traded = _col("U")
    with pytest.raises(Exception, match="max_gap must be >= 0, got -1"):
        scan.board_runs(sealed, traded, max_gap=-1)


@pytest.mark.parametrize("days, boards, touched, label", [
    (1, 1, T, "首板"), (3, 3, T, "3连板"), (10, 6, T, "10天6板"), (6, 5, T, "6天5板"),
    (0, 0, T, "炸板"), (0, 0, F, ""),
])
def test_run_label(days, boards, touched, label):
    assert scan.run_label(days, boards, touched=touched) == label


# ---------------------------------------------------------------- a hand-built market
# Sessions 2024-12-02 .. 2024-12-09 (Mon..Mon). Bars: code, date, open, high, low, close.
BARS = [
    # 600001 main 10%: LU, LU, broken, LU, 一字板 -> on 12-09 streak 2, "5天4板"
    ("600001", "2024-12-02", 10.00, 10.10, 9.90, 10.00),
    ("600001", "2024-12-03", 10.50, 11.00, 10.40, 11.00),
    ("600001", "2024-12-04", 11.20, 12.10, 11.10, 12.10),
    ("600001", "2024-12-05", 12.50, 13.31, 11.90, 12.00),
    ("600001", "2024-12-06", 12.30, 13.20, 12.20, 13.20),
    ("600001", "2024-12-09", 14.52, 14.52, 14.52, 14.52),
    # 300001 ChiNext 20%: touched 12.00, closed 11.00 -> 炸板
    ("300001", "2024-12-06", 10.00, 10.00, 10.00, 10.00),
    ("300001", "2024-12-09", 10.20, 12.00, 10.10, 11.00),
    # 000002 ST (5%): 10.50 is its limit-up
    ("000002", "2024-12-06", 10.00, 10.00, 10.00, 10.00),
    ("000002", "2024-12-09", 10.10, 10.50, 10.00, 10.50),
    # 688001 STAR 20%, suspended 12-04 and 12-06: 3连板 across the suspensions
    ("688001", "2024-12-02", 10.00, 10.00, 10.00, 10.00),
    ("688001", "2024-12-03", 11.00, 12.00, 11.00, 12.00),
    ("688001", "2024-12-05", 13.00, 14.40, 12.90, 14.40),
    ("688001", "2024-12-09", 15.00, 17.28, 15.00, 17.28),
    # 002001 main: limit-down close 9.00
    ("002001", "2024-12-06", 10.00, 10.00, 10.00, 10.00),
    ("002001", "2024-12-09", 9.50, 9.50, 9.00, 9.00),
    # 600002 main: one cent short of the limit -> not on the board
    ("600002", "2024-12-06", 10.00, 10.00, 10.00, 10.00),
    ("600002", "2024-12-09", 10.50, 10.99, 10.40, 10.99),
    # 301001 new listing 2024-12-05 (no limit in its first 5 sessions): +30%, +20% are not limits
    ("301001", "2024-12-05", 20.00, 30.00, 20.00, 25.00),
    ("301001", "2024-12-06", 26.00, 32.50, 26.00, 32.50),
    ("301001", "2024-12-09", 33.00, 39.00, 33.00, 39.00),
]
NAMES = pd.DataFrame({
    "code": ["600001", "300001", "000002", "688001", "002001", "600002", "301001"],
    "name": ["测试甲", "测试乙", "ST测试丙", "测试丁", "测试戊", "测试己", "测试新"],
    "list_date": ["2001-01-01", "2015-01-05", "2005-05-05", "2020-01-02", "2008-01-01",
                  "2001-01-01", "2024-12-05"],
})


def _panel() -> pd.DataFrame:
    frame = pd.DataFrame(BARS, columns=["code", "date", "open", "high", "low", "close"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["volume"] = 100_000
    frame["amount"] = frame["close"] * 100_000
    return frame


@pytest.fixture(scope="module")
def small():
    panel = validate_panel(_panel(), source="test panel")
    return build_market(panel, master=StockMaster.from_frame(NAMES))


@pytest.fixture()
def small_files(tmp_path):
    data = tmp_path / "panel.csv"
    frame = _panel()
    frame["date"] = frame["date"].dt.strftime("%Y%m%d")
    frame.to_csv(data, index=False)
    names = tmp_path / "names.csv"
    NAMES.to_csv(names, index=False)
    return str(data), str(names)


def test_scan_day_on_the_small_market(small):
    res = scan.scan_day(small, "2024-12-09")
    got = res.stocks.set_index("code")
    assert list(res.stocks.columns) == list(scan.SCAN_COLUMNS)
    assert list(res.stocks["code"]) == ["688001", "600001", "000002", "300001"]
    assert got.loc["600001", ["streak", "label", "one_word", "sealed"]].tolist() == [2, "5天4板", T, T]
    assert got.loc["688001", ["streak", "label", "limit_pct", "limit_up"]].tolist() == [3, "3连板", 20, 17.28]
    assert got.loc["000002", ["streak", "label", "limit_pct", "limit_up"]].tolist() == [1, "首板", 5, 10.50]
    assert got.loc["300001", ["touched", "sealed", "streak", "label", "limit_up"]].tolist() == [
        T, F, 0, "炸板", 12.00]
    counts = res.counts
    assert counts.loc["main"].tolist() == [1, 1, 0]          # limit_up, limit_down, broken
    assert counts.loc["chinext"].tolist() == [0, 0, 1]       # new listing 301001 not counted
    assert counts.loc["star"].tolist() == [1, 0, 0]
    assert counts.loc["ST"].tolist() == [1, 0, 0]
    assert counts.loc["total"].tolist() == [2, 1, 1]


def test_scan_day_earlier_session_and_no_limit_rows(small):
    res = scan.scan_day(small, "2024-12-05")
    got = res.stocks.set_index("code")
    assert list(got.index) == ["688001", "600001"]
    assert got.loc["688001", "label"] == "2连板"
    assert got.loc["600001", ["touched", "sealed", "label"]].tolist() == [T, F, "炸板"]
    # the first session has no reference price, so nothing can be at a limit
    assert len(scan.scan_day(small, "2024-12-02").stocks) == 0


def test_scan_summary_counts(small):
    frame = scan.scan_summary(small, "2024-12-02", "2024-12-09")
    assert list(frame.columns) == list(scan.SUMMARY_COLUMNS)
    assert frame["date"].tolist() == ["2024-12-02", "2024-12-03", "2024-12-04", "2024-12-05",
                                      "2024-12-06", "2024-12-09"]
    assert frame["up_main"].tolist() == [0, 1, 1, 0, 1, 1]
    assert frame["up_star"].tolist() == [0, 1, 0, 1, 0, 1]
    assert frame["up_st"].tolist() == [0, 0, 0, 0, 0, 1]
    assert frame["up_total"].tolist() == [0, 2, 1, 1, 1, 2]
    assert frame["down_total"].tolist() == [0, 0, 0, 0, 0, 1]
    assert frame["broken"].tolist() == [0, 0, 0, 1, 0, 1]
    assert frame["board1"].tolist() == [0, 2, 0, 0, 1, 0]
    assert frame["board2"].tolist() == [0, 0, 1, 1, 0, 1]
    assert frame["board3"].tolist() == [0, 0, 0, 0, 0, 1]
    assert frame["board4plus"].tolist() == [0, 0, 0, 0, 0, 0]
    # a sub-range keeps the history before it
    part = scan.scan_summary(small, "2024-12-09", "2024-12-09")
    assert part.iloc[0].tolist() == frame.iloc[-1].tolist()


EXPECTED_TABLE = """\
Limit-up board 2024-12-09
code    name      board    limit_pct  prev_close  close  limit_up  touched  sealed  one_word  streak  label
688001  测试丁    star            20       14.40  17.28     17.28  yes      yes     no             3  3连板
600001  测试甲    main            10       13.20  14.52     14.52  yes      yes     yes            2  5天4板
000002  ST测试丙  main             5       10.00  10.50     10.50  yes      yes     no             1  首板
300001  测试乙    chinext         20       10.00  11.00     12.00  yes      no      no             0  炸板

Closes at the limits on 2024-12-09 (limit_up/limit_down closes, broken = touched but closed below; ST stocks counted apart, total excludes ST):
board    limit_up  limit_down  broken
main            1           1       0
chinext         0           0       1
star            1           0       0
bse             0           0       0
ST              1           0       0
total           2           1       1
"""


def test_cli_exact_table(small_files, capsys):
    data, names = small_files
    assert main(["scan", "--date", "2024-12-09", "--data", data, "--names", names]) == 0
    assert capsys.readouterr().out == EXPECTED_TABLE


def test_cli_json_and_csv_parse(small_files, capsys):
    data, names = small_files
    assert main(["scan", "--date", "20241209", "--data", data, "--names", names, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["date"] == "2024-12-09" and doc["synthetic"] is False and doc["max_gap"] == 2
    assert [s["code"] for s in doc["stocks"]] == ["688001", "600001", "000002", "300001"]
    assert doc["stocks"][1] == {
        "code": "600001", "name": "测试甲", "board": "main", "limit_pct": 10, "prev_close": 13.2,
        "close": 14.52, "limit_up": 14.52, "touched": True, "sealed": True, "one_word": True,
        "streak": 2, "label": "5天4板"}
    assert doc["counts"]["total"] == {"limit_up": 2, "limit_down": 1, "broken": 1}

    assert main(["scan", "--date", "2024-12-09", "--data", data, "--names", names, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(scan.SCAN_COLUMNS)
    frame = pd.read_csv(io.StringIO(out), dtype={"code": str})
    assert frame["code"].tolist() == ["688001", "600001", "000002", "300001"]
    assert frame["sealed"].tolist() == [T, T, T, F]
    assert frame["label"].tolist() == ["3连板", "5天4板", "首板", "炸板"]


def test_cli_summary_formats(small_files, capsys):
    data, names = small_files
    args = ["scan", "--summary", "--start", "2024-12-05", "--end", "2024-12-09", "--data", data,
            "--names", names]
    assert main(args + ["--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out == (",".join(scan.SUMMARY_COLUMNS) + "\n"
                   "2024-12-05,0,0,1,0,1,0,0,0,1,0,1,0,0\n"
                   "2024-12-06,1,0,0,0,1,0,0,0,0,1,0,0,0\n"
                   "2024-12-09,1,0,1,0,2,1,1,0,1,0,1,1,0\n")
    assert main(args + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["up_total"] for s in doc["sessions"]] == [1, 1, 2]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Limit-up counts per session, 2024-12-05 .. 2024-12-09"
    assert lines[1].split() == list(scan.SUMMARY_COLUMNS)
    assert lines[4].split() == ["2024-12-09", "1", "0", "1", "0", "2", "1", "1", "0", "1", "0", "1", "1", "0"]


def test_cli_max_gap_option(small_files, capsys):
    data, names = small_files
    assert main(["scan", "--date", "2024-12-09", "--data", data, "--names", names,
                 "--format", "csv", "--max-gap", "0"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"code": str})
    assert frame.set_index("code").loc["600001", "label"] == "2连板"


@pytest.mark.parametrize("argv, message", [
    (["--date", "2024-12-07"], "Error: --date 2024-12-07 is not a trading session "
                               "(previous 2024-12-06, next 2024-12-09)"),
    (["--date", "2024-12-10"], "Error: --date 2024-12-10 is outside the data (2024-12-02 .. 2024-12-09)"),
    (["--date", "2024-12-3x"], "Error: --date '2024-12-3x' is not a date; expected YYYY-MM-DD or YYYYMMDD"),
    ([], "Error: give --date D (one session) or --summary --start D1 --end D2"),
    (["--summary", "--start", "2024-12-02"], "Error: --summary needs both --start and --end (YYYY-MM-DD)"),
    (["--summary", "--date", "2024-12-02"], "Error: --summary takes --start and --end, not --date"),
    (["--start", "2024-12-02", "--end", "2024-12-09"],
     "Error: --start/--end go with --summary; for one session use --date"),
    (["--summary", "--start", "2024-12-09", "--end", "2024-12-02"],
     "Error: --end 2024-12-02 is before --start 2024-12-09"),
    (["--date", "2024-12-09", "--max-gap", "-1"], "Error: --max-gap must be >= 0, got -1"),
])
def test_cli_errors(small_files, capsys, argv, message):
    data, names = small_files
    assert main(["scan", "--data", data, "--names", names] + argv) == 2
    assert capsys.readouterr().err.strip() == message


def test_cli_missing_data_file(tmp_path, capsys):
    assert main(["scan", "--date", "2024-12-09", "--data", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "nope.csv" in err


# ---------------------------------------------------------------- the demo market
@pytest.fixture(scope="module")
def demo_market():
    return load_market("demo")


def test_default_data_is_the_synthetic_demo(capsys):
    assert main(["scan", "--date", "2024-03-08"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Limit-up board 2024-03-08  [SYNTHETIC demo data]"
    assert re.search(r"^002931 .* 10天7板$", out, re.M)


@pytest.mark.parametrize("date, code, streak, label", [
    ("2024-02-29", "002931", 4, "4连板"),          # 灵犀大模型 leader: U Y Y U
    ("2024-03-04", "002931", 1, "6天5板"),
    ("2024-03-05", "002931", 2, "7天6板"),
    ("2024-03-08", "002931", 1, "10天7板"),
    ("2024-02-29", "002088", 4, "4连板"),          # ST, 5% limits
    ("2024-04-19", "600532", 5, "5连板"),          # 青鸾低空飞行 leader: three 一字板, two more
    ("2024-04-24", "600532", 1, "8天6板"),          # after a broken board and a plain day
    ("2024-04-23", "000926", 4, "4连板"),          # suspended 3 sessions inside the streak
])
def test_demo_theme_streaks(demo_market, date, code, streak, label):
    row = scan.scan_day(demo_market, date).stocks.set_index("code").loc[code]
    assert (row["streak"], row["label"], bool(row["sealed"])) == (streak, label, True)


def test_demo_summary_matches_day_scans(demo_market):
    summary = scan.scan_summary(demo_market, "2024-01-02", "2024-12-31").set_index("date")
    assert len(summary) == 242
    for day in ("2024-02-05", "2024-02-27", "2024-09-30", "2024-11-20"):
        counts = scan.scan_day(demo_market, day).counts
        row = summary.loc[day]
        assert row["up_total"] == counts.loc["total", "limit_up"]
        assert row["down_total"] == counts.loc["total", "limit_down"]
        assert row["broken"] == counts.loc["total", "broken"]
        assert row["up_st"] == counts.loc["ST", "limit_up"]
        for board in ("main", "chinext", "star", "bse"):
            assert row[f"up_{board}"] == counts.loc[board, "limit_up"]
    assert summary.loc["2024-09-30", "up_total"] >= 20      # the scripted market-wide rally
    assert summary.loc["2024-02-05", "down_total"] >= 15    # and sell-off


# ---------------------------------------------------------------- real data: the article
@pytest.fixture(scope="session")
def real_market(shared_data):
    return load_market(REAL_PANEL, names=[REAL_NAMES])


def test_article_figures_for_2024_12_13(real_market):
    """doubao_concept_20241216.md: 天娱数科 10天6板 and 居然智家 6天5板 at Friday's close;
    蜂助手 touched its 20% limit intraday (盘中一度20CM涨停)."""
    article = (NEWS / "doubao_concept_20241216.md").read_text(encoding="utf-8")
    assert "天娱数科在周五收盘时实现10天6板，居然智家6天5板，蜂助手盘中一度20CM 涨停" in article
    got = scan.scan_day(real_market, "2024-12-13").stocks.set_index("code")
    assert got.loc["002354", ["name", "sealed", "label"]].tolist() == ["天娱数科", T, "10天6板"]
    assert got.loc["000785", ["name", "sealed", "label"]].tolist() == ["居然智家", T, "6天5板"]
    assert got.loc["301382", ["name", "limit_pct", "touched", "sealed", "limit_up"]].tolist() == [
        "蜂助手", 20, T, F, 37.15]


def test_article_command_from_the_issue(shared_data, capsys):
    assert main(["scan", "--date", "2024-12-13", "--data", str(REAL_PANEL),
                 "--names", str(REAL_NAMES)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if re.match(r"^\d{6} ", line)}
    assert rows["002354"][-1] == "10天6板" and rows["002354"][8] == "yes"     # sealed
    assert rows["000785"][-1] == "6天5板" and rows["000785"][8] == "yes"
    assert rows["301382"][3:5] == ["20", "30.96"] and rows["301382"][7:9] == ["yes", "no"]
    assert rows["301382"][-1] == "炸板"


def test_guangbo_nine_boards_and_the_ladder_count(real_market):
    """articles_public.jsonl, 2024-12-03 wrap: "9连板广博股份" (9 limit-up closes to 2024-12-02)
    and "连板股总数47只" on 2024-12-03 (ST excluded)."""
    day = scan.scan_day(real_market, "2024-12-02").stocks.set_index("code")
    assert day.loc["002103", ["name", "streak"]].tolist() == ["广博股份", 9]
    after = scan.scan_day(real_market, "2024-12-03").stocks.set_index("code")
    assert after.loc["002103", ["touched", "sealed", "label"]].tolist() == [T, F, "炸板"]
    row = scan.scan_summary(real_market, "2024-12-03", "2024-12-03").iloc[0]
    assert row["board2"] + row["board3"] + row["board4plus"] == 47
