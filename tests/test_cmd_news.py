"""``hypebt news fetch|info`` in-process with a fake akshare: the archive grows, deduplicated,
in the JSON Lines format the article reader in ``signals`` reads."""
from __future__ import annotations

import json

import pytest
from test_akshare_adapter import FakeAkshare, cls_frame, news_em_frame

from backtests.cli.main import main
from backtests.data import store as S
from backtests.data.akshare import AkshareSource, use_source

FAST = ["--interval", "0", "--backoff", "0"]

EM_002354 = news_em_frame([
    ("002354", "天娱数科10天6板", "豆包概念股持续走强，天娱数科收获10天6板", "2024-12-13 20:05:11",
     "证券时报", "202412133271234567"),
    ("002354", "天娱数科：公司与火山引擎有合作", "互动平台回复", "2024-12-16 08:10:00", "东方财富",
     "202412163272000001"),
])
EM_DOUBAO = news_em_frame([
    ("豆包", "天娱数科：公司与火山引擎有合作", "互动平台回复", "2024-12-16 08:10:00", "东方财富",
     "202412163272000001"),                                                   # same url as above
    ("豆包", "豆包大模型日均tokens使用量超4万亿", "火山引擎披露", "2024-12-18 10:00:00", "财联社",
     "202412183273000002"),
])
CLS = cls_frame([("", "【豆包视觉理解模型发布】火山引擎发布豆包视觉理解模型", "2024-12-18", "10:31:02"),
                 ("", "", "2024-12-18", "10:32:00")])                       # empty item: left out


@pytest.fixture
def store(monkeypatch, tmp_path):
    path = tmp_path / "store"
    monkeypatch.setenv(S.STORE_ENV, str(path))
    return path


@pytest.fixture
def fake():
    f = FakeAkshare(news={"002354": EM_002354, "豆包": EM_DOUBAO}, cls=CLS)
    with use_source(AkshareSource(api=f)):
        yield f


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_archive_grows_deduplicated(capsys, store, fake):
    assert run(capsys, "news", "fetch", "--codes", "002354", *FAST) == (0, [
        "news: 2 fetched, 2 new, 0 duplicates; archive 2 articles", f"store: {store}"], [])
    assert run(capsys, "news", "fetch", "--keyword", "豆包", "--codes", "002354", "--cls", *FAST)[1][0] == (
        "news: 5 fetched, 2 new, 3 duplicates; archive 4 articles")
    assert fake.calls == [("stock_news_em", {"symbol": "002354"}),
                          ("stock_news_em", {"symbol": "002354"}),
                          ("stock_news_em", {"symbol": "豆包"}),
                          ("stock_info_global_cls", {"symbol": "全部"})]
    lines = (store / "news" / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == ('{"body": "豆包概念股持续走强，天娱数科收获10天6板", "id": "em-202412133271234567", '
                        '"published": "2024-12-13T20:05:11+08:00", "source": "证券时报", '
                        '"title": "天娱数科10天6板", '
                        '"url": "http://finance.eastmoney.com/a/202412133271234567.html"}')
    assert [json.loads(x)["published"] for x in lines] == [
        "2024-12-13T20:05:11+08:00", "2024-12-16T08:10:00+08:00", "2024-12-18T10:00:00+08:00",
        "2024-12-18T10:31:02+08:00"]
    assert run(capsys, "news", "info") == (0, [
        f"store: {store}", "articles: 4", "dates: 2024-12-13 .. 2024-12-18",
        "sources: 财联社 2, 东方财富 1, 证券时报 1"], [])


def test_archive_is_what_the_signals_reader_reads(capsys, store, fake):
    from signals.articles import read_articles
    run(capsys, "news", "fetch", "--codes", "002354", "--cls", *FAST)
    res = read_articles([store / "news" / "articles.jsonl"])
    assert [a.id for a in res.articles][:2] == ["em-202412133271234567", "em-202412163272000001"]
    assert str(res.articles[0].published) == "2024-12-13 20:05:11+08:00"
    assert res.articles[2].source == "财联社" and res.articles[2].title == "豆包视觉理解模型发布"
    assert (res.duplicates, res.skipped) == (0, [])


def test_important_telegraphs(capsys, store, fake):
    assert run(capsys, "news", "fetch", "--cls", "--important", *FAST)[0] == 0
    assert fake.calls == [("stock_info_global_cls", {"symbol": "重点"})]


def test_failed_query_listed_exit_2_others_kept(capsys, store, fake):
    fake.fail = {"豆包": 3}
    code, out, err = run(capsys, "news", "fetch", "--codes", "002354", "--keyword", "豆包", *FAST)
    assert code == 2
    assert out == ["news: 2 fetched, 2 new, 0 duplicates; archive 2 articles", f"store: {store}"]
    assert err == ["Error: 1 of 2 news queries failed after 3 attempts: 豆包 (ConnectionError: "
                   "connection reset (豆包)); the other articles were stored"]


@pytest.mark.parametrize("args, message", [
    ([], "Error: news fetch: nothing to fetch; give --codes C,C, --keyword W and/or --cls"),
    (["--codes", "002354", "--important"], "Error: news fetch: --important applies to --cls only"),
    (["--keyword", " "], "Error: news fetch: --keyword must not be empty"),
    (["--codes", "abc"], "Error: --codes: 'abc' is not a stock code; expected 6 digits like 002354 "
                         "(002354.SZ and sz002354 are accepted too)"),
])
def test_bad_arguments(capsys, store, fake, args, message):
    assert run(capsys, "news", "fetch", *args, *FAST) == (2, [], [message])
    assert fake.calls == [] and not store.exists()


def test_info_on_empty_and_missing_store(capsys, store, fake):
    code, _, err = run(capsys, "news", "info")
    assert code == 2 and err[0].startswith(f"Error: no hypebt store at {store}")
    S.Store.open(store, create=True)
    assert run(capsys, "news", "info") == (0, [f"store: {store}", "articles: 0", "dates: -"], [])


def test_news_without_action_prints_help(capsys):
    code, out, _ = run(capsys, "news")
    assert code == 2 and out[0].startswith("usage: hypebt news")
