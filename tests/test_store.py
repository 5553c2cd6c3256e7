"""The local store: location, per-stock files with coverage, merges, import, info, news archive,
incremental and resumable fetch, atomic writes. All stores live in tmp_path; no network."""
from __future__ import annotations

import datetime as dt
import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_
from test_akshare_adapter import DEC, FakeAkshare, hist_frame

from backtests.core.calendar import trading_calendar
from backtests.core.errors import DataError
from backtests.data import store as S
from backtests.data.akshare import SHANGHAI, AkshareSource, CallPolicy

NOW = dt.datetime(2026, 1, 5, 18, 0, tzinfo=SHANGHAI)  # long after the test sessions
FAST = dict(interval=0, attempts=3, backoff=0)


@pytest.fixture(autouse=True)
def _no_user_store(monkeypatch, tmp_path):
    monkeypatch.setenv(S.STORE_ENV, str(tmp_path / "env-store"))


def bars(code, days, base=10.0, **extra):
    """English-column bars for ``days``: close base+0.1*i, open close-0.05, high +0.1, low -0.1."""
    close = np.round(base + 0.1 * np.arange(len(days)), 2)
    frame = pd.DataFrame({"code": code, "date": pd.to_datetime(days), "open": close - 0.05,
                          "high": close + 0.1, "low": close - 0.15, "close": close,
                          "volume": 1000.0, "amount": close * 1000})
    for k, v in extra.items():
        frame[k] = v
    return frame


def write_panel_csv(path, frame):
    out = frame.copy()
    out["date"] = out["date"].dt.strftime("%Y%m%d")
    out.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- location and opening
def test_store_location_flag_then_env_then_user_data_dir(monkeypatch, tmp_path):
    import platformdirs
    assert S.resolve_store(tmp_path / "flag") == tmp_path / "flag"
    assert S.resolve_store() == tmp_path / "env-store"
    monkeypatch.delenv(S.STORE_ENV)
    assert S.resolve_store() == S.default_store_path()
    assert S.default_store_path() == S.Path(platformdirs.user_data_dir("hypebt")) / "store"


def test_open_creates_only_empty_or_new_directories(tmp_path):
    with pytest.raises(DataError, match="no hypebt store at .*missing"):
        S.Store.open(tmp_path / "missing")
    st = S.Store.open(tmp_path / "new", create=True)
    assert S.is_store(st.root)
    assert json.loads((st.root / "manifest.json").read_text()) == {"format": "hypebt-store", "version": 1}
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("x")
    with pytest.raises(DataError, match="is not empty and not a hypebt store"):
        S.Store.open(tmp_path / "mine", create=True)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="is a file, not a directory"):
        S.Store.open(tmp_path / "afile", create=True)
    assert not S.is_store(tmp_path / "mine")


def test_newer_store_format_is_refused(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    (st.root / "manifest.json").write_text('{"format": "hypebt-store", "version": 2}')
    with pytest.raises(DataError, match="has format version 2; this hypebt reads version 1"):
        S.Store.open(st.root)


# ---------------------------------------------------------------- bars files
def test_merge_replaces_same_dates_keeps_others_and_unions_coverage(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    assert st.merge_bars("002354", bars("002354", DEC[:5]), [["2024-12-02", "2024-12-06"]]) == (5, 0)
    newer = bars("002354", DEC[3:7], base=20.0)          # 12-05 .. 12-10, overlaps 2 rows
    assert st.merge_bars("002354", newer, [["2024-12-05", "2024-12-10"]]) == (2, 2)
    got = st.read_bars("002354")
    assert got.frame["date"].dt.strftime("%m-%d").tolist() == [
        "12-02", "12-03", "12-04", "12-05", "12-06", "12-09", "12-10"]
    assert got.frame["close"].tolist() == [10.0, 10.1, 10.2, 20.0, 20.1, 20.2, 20.3]
    assert got.coverage == [["2024-12-02", "2024-12-10"]]
    assert np.isnan(got.frame["prev_close"]).all()


def test_merge_ranges():
    assert S._merge_ranges([["2024-12-09", "2024-12-10"], ["2024-12-02", "2024-12-05"],
                            ["2024-12-06", "2024-12-06"], ["2024-12-20", "2024-12-31"]]) == [
        ["2024-12-02", "2024-12-10"], ["2024-12-20", "2024-12-31"]]


def test_missing_sessions_counts_rows_and_covered_ranges(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    # rows on 12-02..12-04; 12-05 suspended but covered; 12-12 has a row outside coverage
    frame = pd.concat([bars("000785", DEC[:3]), bars("000785", DEC[8:9])])
    st.write_bars("000785", frame, [["2024-12-02", "2024-12-05"]])
    missing = st.missing_sessions("000785", DEC)
    assert [str(d) for d in missing] == ["2024-12-06", "2024-12-09", "2024-12-10", "2024-12-11",
                                         "2024-12-13"]
    assert len(st.missing_sessions("600000", DEC)) == 10


def test_files_are_byte_identical_when_rewritten(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    st.write_bars("002354", bars("002354", DEC), [["2024-12-02", "2024-12-13"]])
    first = st.bar_path("002354").read_bytes()
    st.write_bars("002354", bars("002354", DEC), [["2024-12-02", "2024-12-13"]])
    assert st.bar_path("002354").read_bytes() == first


def test_interrupted_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    st = S.Store.open(tmp_path / "s", create=True)
    st.write_bars("002354", bars("002354", DEC[:3]), [["2024-12-02", "2024-12-04"]])
    before = st.bar_path("002354").read_bytes()
    real = pq.write_table

    def write_then_die(table, where, **kw):
        real(table.slice(0, 1), where, **kw)   # half-written temp file
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        st.write_bars("002354", bars("002354", DEC), [["2024-12-02", "2024-12-13"]])
    assert st.bar_path("002354").read_bytes() == before
    assert sorted(os.listdir(st.bars_dir)) == ["002354.parquet"]


def test_damaged_file_is_a_clear_error(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    st.bars_dir.mkdir()
    st.bar_path("002354").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="002354.parquet cannot be read .*delete it and fetch"):
        st.read_bars("002354")


# ---------------------------------------------------------------- read_store
def test_read_store_is_sorted_long_form_and_drops_empty_prev_close(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    st.write_bars("600000", bars("600000", DEC[:2]), [])
    st.write_bars("002354", bars("002354", DEC[1:3]), [])
    st.write_bars("301382", bars("301382", DEC[:0]), [["2024-12-02", "2024-12-13"]])  # not listed
    panel = S.read_store(st.root)
    assert list(panel.columns) == ["code", "date", "open", "high", "low", "close", "volume", "amount"]
    assert list(zip(panel["code"], panel["date"].dt.strftime("%m-%d"))) == [
        ("002354", "12-03"), ("002354", "12-04"), ("600000", "12-02"), ("600000", "12-03")]
    assert panel["date"].dtype == "datetime64[ns]"


def test_read_store_keeps_given_prev_close(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    st.write_bars("002354", bars("002354", DEC[:2], prev_close=[9.9, 10.0]), [])
    st.write_bars("600000", bars("600000", DEC[:1]), [])
    panel = S.read_store(st.root)
    assert panel["prev_close"].tolist()[:2] == [9.9, 10.0] and np.isnan(panel["prev_close"].iloc[2])


def test_read_store_errors(tmp_path):
    with pytest.raises(DataError, match="no hypebt store at"):
        S.read_store(tmp_path / "none")
    S.Store.open(tmp_path / "empty", create=True)
    with pytest.raises(DataError, match="holds no bars"):
        S.read_store(tmp_path / "empty")


# ---------------------------------------------------------------- import and info
def test_import_validates_merges_and_reports(tmp_path):
    csv = write_panel_csv(tmp_path / "p.csv", pd.concat(
        [bars("002354", DEC[:4]), bars("688256", DEC[:4], base=100.0)]))
    res = S.import_panel(csv, tmp_path / "s")
    assert (res.stocks, res.rows, res.added, res.replaced, res.first, res.last) == (
        2, 8, 8, 0, "2024-12-02", "2024-12-05")
    csv2 = write_panel_csv(tmp_path / "q.csv", bars("002354", DEC[2:6], base=30.0))
    res = S.import_panel(csv2, tmp_path / "s")
    assert (res.rows, res.added, res.replaced) == (4, 2, 2)
    panel = S.read_store(tmp_path / "s")
    assert panel[panel["code"] == "002354"]["close"].tolist() == [10.0, 10.1, 30.0, 30.1, 30.2, 30.3]
    st = S.Store.open(tmp_path / "s")
    assert st.read_bars("688256").coverage == [["2024-12-02", "2024-12-05"]]
    assert st.read_bars("002354").coverage == [["2024-12-02", "2024-12-09"]]
    i = S.info(tmp_path / "s")
    assert i.lines() == [f"store: {tmp_path / 's'}", "stocks: 2", "sessions: 6",
                         "dates: 2024-12-02 .. 2024-12-09", "rows: 10",
                         "boards: main 1, chinext 0, star 1, bse 0, other 0", "names: 0", "news: 0", "leftovers: 0"]


def test_import_names_column_updates_names(tmp_path):
    frame = pd.concat([bars("000785", DEC[:2], name=["居然之家", "居然智家"]),
                       bars("002354", DEC[:1], name="天娱数科")])
    S.import_panel(write_panel_csv(tmp_path / "p.csv", frame), tmp_path / "s")
    names = S.Store.open(tmp_path / "s").read_names()
    assert names.values.tolist() == [["000785", "居然智家"], ["002354", "天娱数科"]]


def test_bad_panel_is_refused_before_the_store_is_created(tmp_path):
    frame = bars("002354", DEC[:3])
    frame.loc[1, "high"] = 1.0  # high < low
    csv = write_panel_csv(tmp_path / "bad.csv", frame)
    with pytest.raises(DataError, match="bad.csv"):
        S.import_panel(csv, tmp_path / "s")
    assert not (tmp_path / "s").exists()
    res = S.import_panel(csv, tmp_path / "s", drop_bad=True)
    assert res.rows == 2 and sum(res.dropped.values()) == 1


def test_import_of_akshare_columns_converts_lots(tmp_path):
    path = tmp_path / "ak.csv"
    hist_frame("002354", DEC[:2]).to_csv(path, index=False)
    S.import_panel(path, tmp_path / "s")
    assert S.read_store(tmp_path / "s")["volume"].tolist() == [100_000.0, 100_100.0]


# ---------------------------------------------------------------- news archive
def art(ident, when, url="", title="t", source="东方财富"):
    return {"id": ident, "published": dt.datetime.fromisoformat(when), "title": title, "body": "正文",
            "source": source, "url": url}


def test_articles_deduplicated_by_id_and_url_sorted_jsonl(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    assert st.add_articles([art("b", "2024-12-16T09:00:00+08:00", "http://x/b"),
                            art("a", "2024-12-16T02:58:00+08:00"),
                            art("b", "2024-12-16T09:00:00+08:00")]) == (2, 1, 2)
    assert st.add_articles([art("c", "2024-12-15T01:00:00+00:00", "http://x/b"),   # same url
                            art("d", "2024-12-15T20:00:00+08:00", title="豆包")]) == (1, 1, 3)
    lines = st.news_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ('{"body": "正文", "id": "d", "published": "2024-12-15T20:00:00+08:00", '
                        '"source": "东方财富", "title": "豆包", "url": ""}')
    assert [json.loads(x)["id"] for x in lines] == ["d", "a", "b"]
    assert S.info(st.root).news == 3


def test_naive_published_time_is_refused(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    with pytest.raises(DataError, match="article 'x': published 2024-12-16 09:00:00 has no time zone"):
        st.add_articles([art("x", "2024-12-16T09:00:00")])


def test_corrupt_archive_line_is_named(tmp_path):
    st = S.Store.open(tmp_path / "s", create=True)
    st.news_path.parent.mkdir()
    st.news_path.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"articles.jsonl line 1: missing fields \['published'"):
        st.read_articles()


# ---------------------------------------------------------------- fetch
def fake_market(**kw):
    return FakeAkshare(bars={"002354": hist_frame("002354", DEC),
                             "000785": hist_frame("000785", np.delete(DEC, 4), base=3.0)}, **kw)


def hist_calls(fake):
    return [(c["symbol"], c["start_date"], c["end_date"]) for f, c in fake.calls
            if f == "stock_zh_a_hist"]


def test_fetch_is_incremental_and_skips_complete_stocks(tmp_path):
    fake = fake_market()
    src, st = AkshareSource(api=fake), S.Store.open(tmp_path / "s", create=True)
    res = S.fetch_bars(st, ["000785", "002354"], "2024-12-02", "2024-12-06", source=src,
                       policy=CallPolicy(**FAST), now=NOW)
    assert (res.fetched, res.rows, res.up_to_date, res.failed) == (["000785", "002354"], 9, [], [])
    # second run: 000785 was suspended on 12-06 but that session is covered -> nothing to fetch
    res = S.fetch_bars(st, ["000785", "002354"], "2024-12-02", "2024-12-06", source=src,
                       policy=CallPolicy(**FAST), now=NOW)
    assert (res.fetched, res.up_to_date) == ([], ["000785", "002354"])
    # wider range: only the new sessions are asked for
    res = S.fetch_bars(st, ["000785", "002354"], "2024-12-02", "2024-12-13", source=src,
                       policy=CallPolicy(**FAST), now=NOW)
    assert hist_calls(fake) == [("000785", "20241202", "20241206"), ("002354", "20241202", "20241206"),
                                ("000785", "20241209", "20241213"), ("002354", "20241209", "20241213")]
    panel = S.read_store(st.root)
    assert len(panel) == 19
    assert panel[panel.code == "002354"]["close"].tolist() == [round(10 + 0.1 * i, 2) for i in range(10)]


def test_fetch_caps_end_at_last_final_session(tmp_path):
    fake = fake_market()
    st = S.Store.open(tmp_path / "s", create=True)
    res = S.fetch_bars(st, ["002354"], "2024-12-02", "2024-12-31", source=AkshareSource(api=fake),
                       policy=CallPolicy(**FAST), now=dt.datetime(2024, 12, 5, 11, 0, tzinfo=SHANGHAI))
    assert res.end == "2024-12-04" and hist_calls(fake) == [("002354", "20241202", "20241204")]
    assert st.read_bars("002354").coverage == [["2024-12-02", "2024-12-04"]]


def test_last_final_session():
    at = lambda *a: dt.datetime(*a, tzinfo=SHANGHAI)  # noqa: E731
    assert str(S.last_final_session(at(2024, 12, 13, 10, 0))) == "2024-12-12"
    assert str(S.last_final_session(at(2024, 12, 13, 15, 30))) == "2024-12-13"
    assert str(S.last_final_session(at(2024, 12, 14, 9, 0))) == "2024-12-13"   # Saturday
    assert S.last_final_session(at(2030, 1, 1, 9, 0)) == trading_calendar().last


def test_fetch_retries_then_succeeds_and_reports_persistent_failures(tmp_path):
    fake = fake_market(fail={"002354": 2, "000785": 5})
    st = S.Store.open(tmp_path / "s", create=True)
    res = S.fetch_bars(st, ["000785", "002354"], "2024-12-02", "2024-12-13",
                       source=AkshareSource(api=fake), policy=CallPolicy(**FAST), now=NOW)
    assert res.fetched == ["002354"] and res.rows == 10
    assert res.failed == [("000785", "ConnectionError: connection reset (000785)")]
    assert [c[0] for c in hist_calls(fake)] == ["000785"] * 3 + ["002354"] * 3
    assert st.codes() == ["002354"]
    # the next run asks only for the failed stock (its remaining 2 failures are retried away)
    res = S.fetch_bars(st, ["000785", "002354"], "2024-12-02", "2024-12-13",
                       source=AkshareSource(api=fake), policy=CallPolicy(**FAST), now=NOW)
    assert (res.fetched, res.up_to_date, res.failed) == (["000785"], ["002354"], [])


def test_bad_fetched_rows_fail_that_stock_only(tmp_path):
    broken = hist_frame("000785", DEC)
    broken.loc[3, "最高"] = 1.0
    fake = FakeAkshare(bars={"000785": broken, "002354": hist_frame("002354", DEC)})
    st = S.Store.open(tmp_path / "s", create=True)
    res = S.fetch_bars(st, ["000785", "002354"], "2024-12-02", "2024-12-13",
                       source=AkshareSource(api=fake), policy=CallPolicy(**FAST), now=NOW)
    assert res.fetched == ["002354"]
    (code, msg), = res.failed
    assert code == "000785" and msg.startswith("DataError: ") and "akshare bars of 000785" in msg
    assert len(hist_calls(fake)) == 2  # a data error is not retried


def test_interrupted_fetch_keeps_a_valid_store_and_resumes(tmp_path):
    fake = fake_market(interrupt="002354")
    fake.bars["600000"] = hist_frame("600000", DEC, base=8.0)
    st = S.Store.open(tmp_path / "s", create=True)
    codes = ["000785", "002354", "600000"]
    with pytest.raises(S.FetchInterrupted) as exc:
        S.fetch_bars(st, codes, "2024-12-02", "2024-12-13", source=AkshareSource(api=fake),
                     policy=CallPolicy(**FAST), now=NOW)
    assert exc.value.result.fetched == ["000785"]
    assert S.read_store(st.root)["code"].unique().tolist() == ["000785"]
    assert sorted(os.listdir(st.bars_dir)) == ["000785.parquet"]
    fake.interrupt = None
    fake.calls.clear()
    res = S.fetch_bars(st, codes, "2024-12-02", "2024-12-13", source=AkshareSource(api=fake),
                       policy=CallPolicy(**FAST), now=NOW)
    assert (res.fetched, res.up_to_date) == (["002354", "600000"], ["000785"])
    assert [c[0] for c in hist_calls(fake)] == ["002354", "600000"]
    assert len(S.read_store(st.root)) == 29


def test_fetch_names(tmp_path):
    fake = FakeAkshare(names=pd.DataFrame({"code": ["002354", "000785"], "name": ["天娱数科", "居然智家"]}),
                       fail={"names": 1})
    st = S.Store.open(tmp_path / "s", create=True)
    assert S.fetch_names(st, source=AkshareSource(api=fake), policy=CallPolicy(**FAST)) == 2
    assert st.read_names().values.tolist() == [["000785", "居然智家"], ["002354", "天娱数科"]]


def test_real_panel_slice_round_trips_through_the_store(shared_data, tmp_path):
    from backtests.data.panel import read_panel
    head = pd.read_csv(shared_data / "ashare_daily_20240719_20250523.csv.gz",
                       dtype={"code": str}, nrows=2000)
    head.to_csv(tmp_path / "head.csv", index=False)
    res = S.import_panel(tmp_path / "head.csv", tmp_path / "s")
    assert res.rows == 2000
    expected = read_panel(tmp_path / "head.csv").sort_values(["code", "date"]).reset_index(drop=True)
    got = S.read_store(tmp_path / "s")
    pd.testing.assert_frame_equal(got, expected[list(got.columns)], check_dtype=False)


# ---------------------------------------------------------------- invariants and integration
@settings(max_examples=25, deadline=None)
@given(st_.lists(st_.lists(st_.integers(0, 9), min_size=0, max_size=10, unique=True),
                 min_size=1, max_size=4))
def test_merges_are_last_writer_wins_per_date(tmp_path_factory, batches):
    st = S.Store.open(tmp_path_factory.mktemp("prop") / "s", create=True)
    expected: dict[str, float] = {}
    for k, idx in enumerate(batches):
        days = DEC[sorted(idx)]
        frame = bars("002354", days, base=10.0 + 100 * k)
        before = len(expected)
        added, replaced = st.merge_bars("002354", frame, [])
        for day, close in zip(days, frame["close"]):
            expected[str(day)] = close
        assert added == len(expected) - before and added + replaced == len(idx)
    got = st.read_bars("002354").frame
    assert got["date"].dt.strftime("%Y-%m-%d").tolist() == sorted(expected)
    assert got["close"].tolist() == [expected[d] for d in sorted(expected)]


def test_load_market_reads_a_store(tmp_path):
    from backtests.data.load import load_market
    S.import_panel(write_panel_csv(tmp_path / "p.csv", pd.concat(
        [bars("002354", DEC[:4]), bars("600000", DEC[1:4], base=8.0)])), tmp_path / "s")
    m = load_market(tmp_path / "s")
    assert m.codes.tolist() == ["002354", "600000"] and m.close.shape == (4, 2)
    assert np.isnan(m.close[0, 1]) and m.close[3, 1] == 8.2
    assert m.prev_close[1, 0] == 10.0
