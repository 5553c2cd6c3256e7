"""``hypebt data import|info|fetch`` in-process: exact output lines and exit codes.

Every test gets its own store through ``HYPEBT_STORE`` (never the user's data dir) and a fake
akshare (no network), with pacing and backoff set to 0.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from test_akshare_adapter import DEC, FakeAkshare, hist_frame

from backtests.cli.main import main
from backtests.data import store as S
from backtests.data.akshare import SHANGHAI, AkshareSource, use_source

FAST = ["--interval", "0", "--backoff", "0", "--quiet"]


@pytest.fixture
def store(monkeypatch, tmp_path):
    path = tmp_path / "store"
    monkeypatch.setenv(S.STORE_ENV, str(path))
    # the test sessions (December 2024) are long final; pin "now" so --end defaults are stable
    monkeypatch.setattr(S, "last_final_session", lambda now=None: np.datetime64("2024-12-13"))
    return path


@pytest.fixture
def fake():
    f = FakeAkshare(
        bars={"002354": hist_frame("002354", DEC), "000785": hist_frame("000785", DEC, base=3.0),
              "301382": hist_frame("301382", DEC, base=40.0)},
        names=pd.DataFrame({"code": ["000785", "002354", "301382"],
                            "name": ["居然智家", "天娱数科", "蜂助手"]}),
        concepts={"豆包概念": ["002354", "000785", "301382"], "鸿蒙概念": ["002261"]})
    with use_source(AkshareSource(api=f)):
        yield f


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def panel_csv(path, rows):
    pd.DataFrame(rows, columns=["code", "date", "open", "high", "low", "close", "volume",
                                "amount"]).to_csv(path, index=False)
    return path


GOOD = [["002354", "20241202", 10.0, 10.5, 9.9, 10.2, 1000, 10200.0],
        ["002354", "20241203", 10.2, 11.22, 10.1, 11.22, 2000, 22440.0],
        ["688256", "20241202", 100.0, 101.0, 99.0, 100.5, 300, 30150.0]]


# ---------------------------------------------------------------- import and info
def test_import_then_info(capsys, store, tmp_path):
    csv = panel_csv(tmp_path / "p.csv", GOOD)
    assert run(capsys, "data", "import", str(csv)) == (0, [
        f"imported {csv}: 3 rows, 2 stocks, 2024-12-02 .. 2024-12-03 (3 new, 0 replaced)",
        f"store: {store}"], [])
    assert run(capsys, "data", "import", str(csv))[1][0].endswith("(0 new, 3 replaced)")
    assert run(capsys, "data", "info") == (0, [
        f"store: {store}", "stocks: 2", "sessions: 2", "dates: 2024-12-02 .. 2024-12-03", "rows: 3",
        "boards: main 1, chinext 0, star 1, bse 0, other 0", "names: 0", "news: 0", "leftovers: 0"], [])


def test_store_flag_overrides_env(capsys, store, tmp_path):
    csv = panel_csv(tmp_path / "p.csv", GOOD)
    other = tmp_path / "other"
    code, out, _ = run(capsys, "data", "import", str(csv), "--store", str(other))
    assert code == 0 and out[-1] == f"store: {other}"
    assert S.is_store(other) and not store.exists()


def test_import_drop_bad_prints_the_count(capsys, store, tmp_path):
    bad = GOOD + [["600000", "20241202", 10.0, 9.0, 9.5, 9.6, 100, 960.0]]  # high < low
    csv = panel_csv(tmp_path / "p.csv", bad)
    code, out, err = run(capsys, "data", "import", str(csv))
    assert code == 2 and out == [] and err[0].startswith("Error: ") and str(csv) in err[0]
    assert not store.exists()
    code, out, _ = run(capsys, "data", "import", str(csv), "--drop-bad")
    assert code == 0
    assert out[0] == "dropped 1 bad rows: high_low 1"
    assert out[1].startswith(f"imported {csv}: 3 rows, 2 stocks")


@pytest.mark.parametrize("content, expect", [
    (None, "not found"),
    ("", "is empty"),
    ("code,date,open\n002354,20241202,1\n", "high"),
    ("code,date,open,high,low,close,volume,amount\n2354,20241202,1,1,1,1,1,1\n", "6 digits"),
    ("code,date,open,high,low,close,volume,amount\n002354,20241201,1,1,1,1,1,1\n", "session"),
])
def test_import_bad_inputs_exit_2_naming_the_file(capsys, store, tmp_path, content, expect):
    path = tmp_path / "panel.csv"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "data", "import", str(path))
    assert code == 2 and out == []
    assert err[0].startswith("Error: ") and "panel.csv" in err[0] and expect in "\n".join(err)


def test_info_without_store_and_data_without_action(capsys, store):
    code, out, err = run(capsys, "data", "info")
    assert code == 2 and err == [f"Error: no hypebt store at {store} (no manifest.json); create one "
                                 f"with `hypebt data import FILE` or `hypebt data fetch`, or pass "
                                 f"--store DIR (or set HYPEBT_STORE)"]
    code, out, _ = run(capsys, "data")
    assert code == 2 and out[0].startswith("usage: hypebt data")


# ---------------------------------------------------------------- fetch
def test_fetch_codes_incremental(capsys, store, fake):
    assert run(capsys, "data", "fetch", "--codes", "002354,sz000785", "--start", "2024-12-02",
               "--end", "20241206", *FAST) == (0, [
        "bars: 2 fetched (10 rows), 0 up to date, 0 failed; sessions 2024-12-02 .. 2024-12-06",
        f"store: {store}"], [])
    assert run(capsys, "data", "fetch", "--codes", "002354,000785", "--start", "2024-12-02",
               "--end", "2024-12-06", *FAST)[1][0] == (
        "bars: 0 fetched (0 rows), 2 up to date, 0 failed; sessions 2024-12-02 .. 2024-12-06")
    # --end defaults to the last final session (pinned to 2024-12-13 here)
    assert run(capsys, "data", "fetch", "--codes", "002354.SZ", "--start", "2024-12-02", *FAST)[1][0] == (
        "bars: 1 fetched (5 rows), 0 up to date, 0 failed; sessions 2024-12-02 .. 2024-12-13")
    assert [c["start_date"] for f, c in fake.calls if f == "stock_zh_a_hist"] == [
        "20241202", "20241202", "20241209"]


def test_fetch_concept_and_names(capsys, store, fake):
    code, out, err = run(capsys, "data", "fetch", "--concept", "豆包概念", "--names",
                         "--start", "2024-12-02", "--end", "2024-12-13", *FAST)
    assert (code, err) == (0, [])
    assert out == ["concept 豆包概念: 3 stocks", "names: 3 stored",
                   "bars: 3 fetched (30 rows), 0 up to date, 0 failed; sessions 2024-12-02 .. 2024-12-13",
                   f"store: {store}"]
    assert run(capsys, "data", "info")[1][1:] == [
        "stocks: 3", "sessions: 10", "dates: 2024-12-02 .. 2024-12-13", "rows: 30",
        "boards: main 2, chinext 1, star 0, bse 0, other 0", "names: 3", "news: 0", "leftovers: 0"]


def test_fetch_names_only(capsys, store, fake):
    assert run(capsys, "data", "fetch", "--names", *FAST) == (
        0, ["names: 3 stored", f"store: {store}"], [])


def test_unknown_concept(capsys, store, fake):
    code, out, err = run(capsys, "data", "fetch", "--concept", "豆包", "--start", "2024-12-02", *FAST)
    assert code == 2 and out == []
    assert err == ['Error: unknown concept "豆包": East Money has no concept board of that name '
                   '(did you mean "豆包概念"?)']


@pytest.mark.parametrize("args, message", [
    (["--codes", "002354", "--start", "2024-13-01"],
     "Error: --start '2024-13-01' is not a date; expected YYYY-MM-DD or YYYYMMDD"),
    (["--codes", "002354", "--start", "2024-12-10", "--end", "2024-12-02"],
     "Error: data fetch: --end 2024-12-02 is before --start 2024-12-10"),
    (["--codes", "002354"], "Error: data fetch: --start D is required with --codes/--concept"),
    (["--codes", "2354", "--start", "2024-12-02"],
     "Error: --codes: '2354' is not a stock code; expected 6 digits like 002354 "
     "(002354.SZ and sz002354 are accepted too)"),
    ([], "Error: data fetch: nothing to fetch; give --codes C,C or --concept NAME (with --start), "
         "and/or --names"),
    (["--names", "--start", "2024-12-02"], "Error: data fetch: --start/--end need --codes or --concept"),
    (["--codes", "002354", "--start", "1980-01-02"],
     "Error: start 1980-01-02 is outside the trading calendar (1990-12-19 .. 2026-12-31)"),
    (["--codes", "002354,510300", "--start", "2024-12-02"],
     "Error: --codes: '510300' is not an A-share stock code (funds, ETFs, B shares and indices are "
     "not stocks); expected 00/30/60/68/8/4/920 codes"),
    (["--codes", "002354", "--start", "2024-12-02", "--retries", "0"],
     "Error: retries/attempts 0 must be >= 1"),
])
def test_fetch_bad_arguments(capsys, store, fake, args, message):
    code, out, err = run(capsys, "data", "fetch", *args, "--interval", "0", "--quiet")
    assert (code, out, err) == (2, [], [message])
    assert fake.calls == []


def test_fetch_failures_listed_exit_2_others_kept(capsys, store, fake):
    fake.fail = {"000785": 3, "002354": 2}
    code, out, err = run(capsys, "data", "fetch", "--codes", "000785,002354,301382",
                         "--start", "2024-12-02", "--end", "2024-12-13", *FAST)
    assert code == 2
    assert out == ["bars: 2 fetched (20 rows), 0 up to date, 1 failed; sessions 2024-12-02 .. 2024-12-13",
                   f"store: {store}"]
    assert err == ["Error: 1 of 3 stocks failed after 3 attempts: 000785 (ConnectionError: "
                   "connection reset (000785)); the other stocks were stored, run the same command "
                   "again to retry the failed ones"]
    code, out, err = run(capsys, "data", "fetch", "--codes", "000785,002354,301382",
                         "--start", "2024-12-02", "--end", "2024-12-13", *FAST)
    assert (code, out[0], err) == (
        0, "bars: 1 fetched (10 rows), 2 up to date, 0 failed; sessions 2024-12-02 .. 2024-12-13", [])


def test_fetch_interrupted_exit_130_then_resumes(capsys, store, fake):
    fake.interrupt = "002354"
    code, out, err = run(capsys, "data", "fetch", "--codes", "000785,002354,301382",
                         "--start", "2024-12-02", "--end", "2024-12-13", *FAST)
    assert (code, out) == (130, [])
    assert err == ["interrupted: 1 stocks stored, 0 up to date; run the same command again to fetch "
                   "the rest", "Interrupted."]
    fake.interrupt = None
    assert run(capsys, "data", "fetch", "--codes", "000785,002354,301382", "--start", "2024-12-02",
               "--end", "2024-12-13", *FAST)[1][0] == (
        "bars: 2 fetched (20 rows), 1 up to date, 0 failed; sessions 2024-12-02 .. 2024-12-13")


def test_progress_bar_goes_to_stderr_only_on_a_tty(capsys, store, fake, monkeypatch):
    code, out, err = run(capsys, "data", "fetch", "--codes", "002354", "--start", "2024-12-02",
                         "--end", "2024-12-03", "--interval", "0")
    assert code == 0 and err == []  # captured stderr is not a TTY: no bar
    import sys
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "data", "fetch", "--codes", "002354,000785", "--start", "2024-12-02",
                         "--end", "2024-12-04", "--interval", "0")
    assert code == 0 and "fetch: 100%" in "".join(err) and "2/2" in "".join(err)
    assert out[0].startswith("bars: 2 fetched (4 rows)")  # 002354: 12-04 only; 000785: 3
    code, out, err = run(capsys, "data", "fetch", "--codes", "002354", "--start", "2024-12-02",
                         "--end", "2024-12-05", "--interval", "0", "--quiet")
    assert code == 0 and err == []


def test_every_data_action_has_help(capsys):
    for action in ("import", "info", "fetch"):
        with pytest.raises(SystemExit) as exc:
            main(["data", action, "--help"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: hypebt data {action}")


def test_default_end_uses_beijing_time():
    got = S.last_final_session(dt.datetime(2024, 12, 13, 6, 0, tzinfo=dt.timezone.utc))  # 14:00 BJ
    assert str(got) == "2024-12-12"
    assert str(S.last_final_session(dt.datetime(2024, 12, 13, 7, 30, tzinfo=dt.timezone.utc))) == "2024-12-13"
    assert SHANGHAI.key == "Asia/Shanghai"
