"""The akshare adapter: conversions from akshare's real columns, pacing/retries, source swap.

``FakeAkshare`` stands in for the ``akshare`` module (same function names and keyword
arguments, frames with the columns the installed akshare returns); the store and CLI tests
import it from here. No test touches the network.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from backtests.core.calendar import trading_calendar
from backtests.core.errors import ConfigError, DataError
from backtests.data import akshare as ak

# Column order exactly as akshare 1.19 returns them (akshare/stock_feature/stock_hist_em.py).
HIST_COLUMNS = ["日期", "股票代码", "开盘", "收盘", "最高", "最低", "成交量", "成交额", "振幅",
                "涨跌幅", "涨跌额", "换手率"]


def hist_frame(code: str, days, *, base: float = 10.0) -> pd.DataFrame:
    """A ``stock_zh_a_hist`` frame: session i has close base+0.1*i, open close-0.05,
    high close+0.1, low open-0.1, 成交量 1000+i lots, 成交额 = close*100*成交量."""
    rows = []
    for i, day in enumerate(days):
        close = round(base + 0.1 * i, 2)
        opn = round(close - 0.05, 2)
        vol = 1000 + i
        rows.append([pd.Timestamp(day).date(), code, opn, close, round(close + 0.1, 2),
                     round(opn - 0.1, 2), vol, close * 100 * vol, 2.0, 1.0, 0.1, 0.5])
    return pd.DataFrame(rows, columns=HIST_COLUMNS)


def news_em_frame(rows) -> pd.DataFrame:
    """A ``stock_news_em`` frame; rows are (keyword, title, body, time, media, article number)."""
    return pd.DataFrame(
        [[kw, t, b, tm, media, f"http://finance.eastmoney.com/a/{num}.html"]
         for kw, t, b, tm, media, num in rows],
        columns=["关键词", "新闻标题", "新闻内容", "发布时间", "文章来源", "新闻链接"])


def cls_frame(rows) -> pd.DataFrame:
    """A ``stock_info_global_cls`` frame; rows are (标题, 内容, 发布日期 date, 发布时间 time)."""
    return pd.DataFrame(
        [[t, c, dt.date.fromisoformat(d), dt.time.fromisoformat(tm)] for t, c, d, tm in rows],
        columns=["标题", "内容", "发布日期", "发布时间"])


class FakeAkshare:
    """The akshare functions hypebt calls, answering from in-memory frames.

    ``bars`` maps code -> full ``stock_zh_a_hist`` frame (filtered by the asked dates);
    ``fail`` maps a code/query -> how many calls fail with ConnectionError before one succeeds;
    ``interrupt`` is a code whose bars call raises KeyboardInterrupt. ``calls`` records
    (function, kwargs) of every call.
    """

    def __init__(self, bars=None, names=None, concepts=None, news=None, cls=None, fail=None,
                 interrupt=None):
        self.bars = dict(bars or {})
        self.names = names
        self.concepts = dict(concepts or {})
        self.news = dict(news or {})
        self.cls = cls
        self.fail = dict(fail or {})
        self.interrupt = interrupt
        self.calls: list[tuple[str, dict]] = []

    def _maybe_fail(self, key):
        if self.fail.get(key, 0) > 0:
            self.fail[key] -= 1
            raise ConnectionError(f"connection reset ({key})")

    def stock_zh_a_hist(self, symbol, period, start_date, end_date, adjust):
        self.calls.append(("stock_zh_a_hist", dict(symbol=symbol, period=period,
                                                   start_date=start_date, end_date=end_date,
                                                   adjust=adjust)))
        if symbol == self.interrupt:
            raise KeyboardInterrupt
        self._maybe_fail(symbol)
        frame = self.bars.get(symbol)
        if frame is None:
            return pd.DataFrame()  # what akshare returns for no data
        day = pd.to_datetime(frame["日期"].astype(str))
        keep = (day >= pd.Timestamp(start_date)) & (day <= pd.Timestamp(end_date))
        out = frame[keep].reset_index(drop=True)
        return out if len(out) else pd.DataFrame()

    def stock_info_a_code_name(self):
        self.calls.append(("stock_info_a_code_name", {}))
        self._maybe_fail("names")
        return self.names.copy()

    def stock_board_concept_name_em(self):
        self.calls.append(("stock_board_concept_name_em", {}))
        return pd.DataFrame({"排名": range(1, len(self.concepts) + 1),
                             "板块名称": list(self.concepts)})

    def stock_board_concept_cons_em(self, symbol):
        self.calls.append(("stock_board_concept_cons_em", dict(symbol=symbol)))
        if symbol not in self.concepts:
            # akshare: map[map["板块名称"] == symbol]["板块代码"].values[0]
            raise IndexError("index 0 is out of bounds for axis 0 with size 0")
        codes = self.concepts[symbol]
        return pd.DataFrame({"序号": range(1, len(codes) + 1), "代码": codes,
                             "名称": [f"股票{c}" for c in codes], "最新价": [10.0] * len(codes)})

    def stock_news_em(self, symbol):
        self.calls.append(("stock_news_em", dict(symbol=symbol)))
        self._maybe_fail(symbol)
        return self.news.get(symbol, news_em_frame([]))

    def stock_info_global_cls(self, symbol):
        self.calls.append(("stock_info_global_cls", dict(symbol=symbol)))
        self._maybe_fail("cls")
        return self.cls


DEC = trading_calendar().between("2024-12-02", "2024-12-13")  # 10 sessions


# ---------------------------------------------------------------- bars
def test_bars_convert_real_columns_and_lots_to_shares():
    out = ak.bars_from_akshare(hist_frame("002354", DEC[:2]), "002354")
    assert list(out.columns) == ["code", "date", "open", "high", "low", "close", "volume", "amount"]
    assert out["code"].tolist() == ["002354", "002354"]
    assert out["date"].dtype == "datetime64[ns]"
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-12-02", "2024-12-03"]
    assert out.iloc[1][["open", "high", "low", "close"]].tolist() == [10.05, 10.2, 9.95, 10.1]
    assert out["volume"].tolist() == [100_000.0, 100_100.0]  # 1000 and 1001 手
    assert out["amount"].tolist() == [10.0 * 100 * 1000, 10.1 * 100 * 1001]


def test_bars_empty_frame_and_missing_code_column():
    empty = ak.bars_from_akshare(pd.DataFrame(), "002354")
    assert len(empty) == 0 and list(empty.columns) == list(ak.BAR_FIELDS)
    frame = hist_frame("002354", DEC[:1]).drop(columns="股票代码")
    assert ak.bars_from_akshare(frame, "002354")["code"].tolist() == ["002354"]


def test_bars_wrong_stock_or_columns_rejected():
    with pytest.raises(DataError, match="returned rows of stock '000785'; expected only 002354"):
        ak.bars_from_akshare(hist_frame("000785", DEC[:1]), "002354")
    with pytest.raises(DataError, match=r"missing \['收盘'\]"):
        ak.bars_from_akshare(hist_frame("002354", DEC[:1]).drop(columns="收盘"), "002354")


def test_daily_bars_calls_akshare_with_raw_prices_and_compact_dates():
    fake = FakeAkshare(bars={"002354": hist_frame("002354", DEC)})
    out = ak.AkshareSource(api=fake).daily_bars("002354", "2024-12-03", np.datetime64("2024-12-05"))
    assert fake.calls == [("stock_zh_a_hist", dict(symbol="002354", period="daily",
                                                  start_date="20241203", end_date="20241205",
                                                  adjust=""))]
    assert out["date"].dt.strftime("%Y%m%d").tolist() == ["20241203", "20241204", "20241205"]


# ---------------------------------------------------------------- names and concepts
def test_names_are_padded_sorted_and_deduplicated():
    fake = FakeAkshare(names=pd.DataFrame({"code": ["600000", "2354", "000785", "000785", "BJ"],
                                           "name": ["浦发银行", "天娱数科", "居然之家", "居然智家", "x"]}))
    out = ak.AkshareSource(api=fake).stock_names()
    assert out.values.tolist() == [["000785", "居然智家"], ["002354", "天娱数科"], ["600000", "浦发银行"]]


def test_concept_constituents_and_unknown_concept():
    fake = FakeAkshare(concepts={"豆包概念": ["301382", "002354", "000785"], "鸿蒙概念": ["002261"]})
    src = ak.AkshareSource(api=fake)
    assert src.concept_constituents("豆包概念") == ["000785", "002354", "301382"]
    with pytest.raises(DataError, match='unknown concept "豆包概": East Money has no concept board '
                                        'of that name \\(did you mean "豆包概念"\\?\\)'):
        src.concept_constituents("豆包概")


# ---------------------------------------------------------------- news
def test_news_em_to_articles():
    fake = FakeAkshare(news={"002354": news_em_frame([
        ("002354", "天娱数科10天6板", "豆包概念股持续走强", "2024-12-13 20:05:11", "证券时报",
         "202412133271234567")])})
    (art,) = ak.AkshareSource(api=fake).stock_news("002354")
    assert art == {"id": "em-202412133271234567",
                   "published": dt.datetime(2024, 12, 13, 20, 5, 11, tzinfo=ak.SHANGHAI),
                   "title": "天娱数科10天6板", "body": "豆包概念股持续走强", "source": "证券时报",
                   "url": "http://finance.eastmoney.com/a/202412133271234567.html"}
    assert art["published"].isoformat() == "2024-12-13T20:05:11+08:00"


def test_news_em_bad_time_is_an_error():
    frame = news_em_frame([("x", "t", "b", "yesterday", "m", "1")])
    with pytest.raises(DataError, match="row 0: 发布时间 'yesterday' is not a time"):
        ak.articles_from_news_em(frame)


def test_cls_to_articles_title_from_headline_and_stable_id():
    frame = cls_frame([("", "【豆包大模型发布】火山引擎发布豆包视觉理解模型", "2024-12-18", "10:31:02"),
                       ("字节跳动", "正文", "2024-12-18", "10:40:00")])
    fake = FakeAkshare(cls=frame)
    first, second = ak.AkshareSource(api=fake).cls_telegraph(important=True)
    assert fake.calls == [("stock_info_global_cls", {"symbol": "重点"})]
    assert first["title"] == "豆包大模型发布" and second["title"] == "字节跳动"
    assert first["published"].isoformat() == "2024-12-18T10:31:02+08:00"
    assert first["source"] == "财联社" and first["url"] == ""
    assert first["id"].startswith("cls-") and len(first["id"]) == 20
    again = ak.articles_from_cls(frame)
    assert [a["id"] for a in again] == [first["id"], second["id"]] and first["id"] != second["id"]


# ---------------------------------------------------------------- pacing and retries
class Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(round(s, 9))
        self.now += s


def test_retry_backs_off_exponentially_then_succeeds():
    c = Clock()
    tries = []

    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("reset")
        return "ok"

    policy = ak.CallPolicy(interval=0, attempts=3, backoff=1.5, sleep=c.sleep, clock=c.clock)
    assert policy.call(flaky) == "ok"
    assert c.sleeps == [1.5, 3.0] and len(tries) == 3


def test_retry_gives_up_with_last_error_and_never_retries_input_errors():
    c = Clock()
    policy = ak.CallPolicy(interval=0, attempts=2, backoff=1, sleep=c.sleep, clock=c.clock)
    with pytest.raises(ConnectionError, match="second"):
        errors = iter([ConnectionError("first"), ConnectionError("second")])
        policy.call(lambda: (_ for _ in ()).throw(next(errors)))
    assert c.sleeps == [1]
    calls = []

    def bad():
        calls.append(1)
        raise DataError("unknown concept")

    with pytest.raises(DataError):
        policy.call(bad)
    assert len(calls) == 1


def test_pacing_keeps_minimum_interval_between_calls():
    c = Clock()
    policy = ak.CallPolicy(interval=0.5, attempts=1, sleep=c.sleep, clock=c.clock)
    policy.call(lambda: None)          # first call: no wait
    c.now += 0.2                        # work between calls
    policy.call(lambda: None)          # waits the remaining 0.3 s
    c.now += 2.0
    policy.call(lambda: None)          # long enough ago: no wait
    assert c.sleeps == [0.3]


@pytest.mark.parametrize("kw, msg", [({"attempts": 0}, "must be >= 1"),
                                     ({"interval": -1}, "interval -1 must be >= 0"),
                                     ({"backoff": -0.5}, "backoff -0.5 must be >= 0")])
def test_policy_rejects_bad_settings(kw, msg):
    with pytest.raises(DataError, match=msg):
        ak.CallPolicy(**kw)


# ---------------------------------------------------------------- source swap, lazy import
def test_use_source_swaps_and_restores():
    before = ak.get_source()
    fake = ak.AkshareSource(api=FakeAkshare())
    with ak.use_source(fake):
        assert ak.get_source() is fake
    assert ak.get_source() is before


def test_akshare_is_not_imported_until_needed():
    code = ("import sys, backtests.data.akshare, backtests.data.store, backtests.cli.data, "
            "backtests.cli.news; print('akshare' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_config_error_is_not_retried_either():
    calls = []

    def bad():
        calls.append(1)
        raise ConfigError("bad option")

    with pytest.raises(ConfigError):
        ak.CallPolicy(interval=0, attempts=5, backoff=0).call(bad)
    assert calls == [1]
