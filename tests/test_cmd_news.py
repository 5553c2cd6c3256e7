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
    recs = S.Store.open(store).read_articles()
    assert recs[0] == {"body": "豆包概念股持续走强，天娱数科收获10天6板", "id": "em-202412133271234567",
                       "published": "2024-12-13T20:05:11+08:00", "source": "证券时报",
                       "title": "天娱数科10天6板",
                       "url": "http://finance.eastmoney.com/a/202412133271234567.html"}
    assert [r["published"] for r in recs] == [
        "2024-12-13T20:05:11+08:00", "2024-12-16T08:10:00+08:00", "2024-12-18T10:00:00+08:00",
        "2024-12-18T10:31:02+08:00"]
    assert run(capsys, "news", "info") == (0, [
        f"store: {store}", "articles: 4", "dates: 2024-12-13 .. 2024-12-18",
        "sources: 财联社 2, 东方财富 1, 证券时报 1"], [])


def test_archive_is_what_the_signals_reader_reads(capsys, store, fake):
    run(capsys, "news", "fetch", "--codes", "002354", "--cls", *FAST)
    with S.Store.open(store).news(readonly=True) as arch:
        arts = list(arch.articles())
    assert [a.id for a in arts][:2] == ["em-202412133271234567", "em-202412163272000001"]
    assert str(arts[0].published) == "2024-12-13 20:05:11+08:00"
    assert arts[2].source == "财联社" and arts[2].title == "豆包视觉理解模型发布"


def test_import_search_info(capsys, store, tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("标题,内容,发布时间,链接\n天娱数科涨停,豆包概念股走强,2024-12-16 09:40,http://a/1\n"
                    "居然智家,互动平台回复合作,2024-12-17 20:00,http://a/2\n".encode("gbk"))
    utf = tmp_path / "more.jsonl"
    utf.write_text(json.dumps({"id": "x", "published": "2024-12-18T08:00:00+08:00",
                               "title": "豆包大模型", "body": "天娱数科", "url": "http://a/1"},
                              ensure_ascii=False) + "\n" +
                   json.dumps({"id": "y", "published": "soon", "title": "t", "body": "b"}) + "\n",
                   encoding="utf-8")
    code, out, err = run(capsys, "news", "import", str(gbk), str(utf), "--skip-bad")
    assert (code, err) == (0, [])
    assert out[0] == "news: 2 new, 1 duplicates, 1 skipped; archive 2 articles"
    assert out[1].startswith("skipped: ") and "line 2: field 'published'" in out[1]
    assert run(capsys, "news", "search", "豆包概念") == (0, [
        "2024-12-16 09:40  http://a/1  天娱数科涨停", "1 article(s)"], [])
    assert run(capsys, "news", "search", "合作", "--start", "2024-12-17")[1] == [
        "2024-12-17 20:00  http://a/2  居然智家", "1 article(s)"]
    assert run(capsys, "news", "search", "豆包", "--end", "2024-12-15")[1] == ["0 article(s)"]
    assert run(capsys, "news", "info")[1][1:3] == ["articles: 2", "dates: 2024-12-16 .. 2024-12-17"]


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


def test_index_over_processes_then_info(capsys, store, tmp_path):
    names = tmp_path / "names.csv"
    names.write_text("code,name\n002354,天娱数科\n000785,居然智家\n", encoding="utf-8")
    arts = tmp_path / "a.jsonl"
    arts.write_text("".join(json.dumps({"id": f"a{i}", "published": "2024-12-16T20:00:00+08:00",
                                        "title": f"第{i}条", "body": "天娱数科、居然智家涨停。"},
                                       ensure_ascii=False) + "\n" for i in range(1200)),
                    encoding="utf-8")
    assert run(capsys, "news", "import", str(arts), "--jobs", "0") == (
        2, [], ["Error: news import: --jobs 0: expected a positive number"])
    assert run(capsys, "news", "import", str(arts), "--jobs", "2")[0] == 0
    assert run(capsys, "news", "index", "--jobs", "0") == (
        2, [], ["Error: news index: --jobs 0: expected a positive number"])
    code, out, err = run(capsys, "news", "index", "--names", str(names), "--jobs", "2")
    assert (code, err) == (0, []) and out[0].startswith("news index: 1200 articles extracted")
    version = out[0].split("rules version ")[1].split(")")[0]
    assert run(capsys, "news", "index", "--names", str(names))[1][0] == (
        f"news index: 0 articles extracted (rules version {version}); archive 1200 articles")
    assert run(capsys, "news", "info")[1][-1] == f"mention index {version}: 1200 articles"


def test_index_needs_names(capsys, store, tmp_path):
    S.Store.open(store, create=True)
    code, _, err = run(capsys, "news", "index")
    assert code == 2 and err == [(f"Error: {store}: the store has no names; give --names FILE or "
                                  "run `hypebt data import` with a names file")]
