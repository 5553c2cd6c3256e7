"""The SQLite news archive (backtests.news): crash safety, two writers, the mention index and
marks from it equal to marks from the articles."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from backtests.core.calendar import trading_calendar
from backtests.core.errors import DataError
from backtests.data import news
from backtests.data.master import StockMaster
from backtests.data.news import (
    NewsArchive,
    archive_marks,
    article_row,
    content_hash,
    fast_row,
    fast_row_bytes,
    text_bytes,
)
from signals import parallel
from signals.articles import Article, make_article
from signals.extract import Extractor
from signals.marks import analyze
from signals.parallel import extract_rows
from tests.conftest import REPO

NAMES = pd.DataFrame({"code": ["002354", "000785", "301382", "600519", "300024"],
                      "name": ["天娱数科", "居然智家", "蜂助手", "贵州茅台", "机器人"]})
PHRASES = ["天娱数科涨停", "居然智家互动平台回复与豆包合作", "蜂助手等多股20CM涨停", "贵州茅台发布新品",
           "天娱数科遭减持", "机器人(300024)获研报推荐", "市场震荡，资金流出"]


@pytest.fixture(scope="module")
def master():
    return StockMaster.from_frame(NAMES)


def make(i: int, rng) -> Article:
    minutes = int(rng.integers(0, 60 * 24 * 200))
    ts = pd.Timestamp("2024-06-01", tz="Asia/Shanghai") + pd.Timedelta(minutes=minutes)
    body = "。".join(PHRASES[int(k)] for k in rng.integers(0, len(PHRASES), 3)) + f"。第{i}条"
    return Article(id=f"a{i}", published=ts, title=PHRASES[i % len(PHRASES)], body=body,
                   url=f"http://x/{i}" if i % 3 else "")


def articles(n: int, seed: int = 3) -> list[Article]:
    rng = np.random.default_rng(seed)
    return [make(i, rng) for i in range(n)]


def test_dedup_by_id_url_and_content(tmp_path):
    a = articles(3)
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        c = arch.add(a)
        assert (c.new, c.duplicates, c.total) == (3, 0, 3)
        same_id = Article(id="a0", published=a[1].published, title="新", body="新正文")
        same_url = Article(id="zz", published=a[1].published, title="新2", body="新正文2", url=a[1].url)
        same_text = Article(id="zz2", published=a[2].published, title=a[2].title,
                            body=a[2].body.replace("。", "。\n "))
        c = arch.add([same_id, same_url, same_text])
        assert (c.new, c.duplicates, c.total) == (0, 3, 3)
    assert content_hash("a b", "c\nd") == content_hash("ab", "cd")


IMPORTER = """
import sys, json
sys.path.insert(0, {repo!r})
from backtests.data.news import NewsArchive
from signals.articles import Article, make_article
import pandas as pd
arch = NewsArchive({db!r})
ts = pd.Timestamp("2024-12-16 09:00", tz="Asia/Shanghai")
def gen():
    for i in range({n}):
        yield Article(id=f"{tag}{{i}}", published=ts, title="t", body=f"{tag} body {{i}}")
arch.add(gen(), batch={batch})
print("done", flush=True)
"""


def _importer(db, tag, n, batch):
    code = IMPORTER.format(repo=str(REPO), db=str(db), tag=tag, n=n, batch=batch)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def _kill_once_committed(proc, db, at_least: int) -> None:
    """``kill -9`` the importer ``proc`` once ``db`` holds ``at_least`` articles (60 s at most)."""
    deadline = time.time() + 60
    n = 0
    while time.time() < deadline:
        with NewsArchive(db, readonly=True) as arch:
            n = arch.count()
        if n >= at_least:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert n >= at_least, "the importer did not commit in time"


def _whole_batches_only(arch, at_least: int, batch: int) -> int:
    """Check a killed import of ``k0``, ``k1``, ... left a sound archive holding its first whole
    batches of ``batch``, none missing; the number of articles."""
    assert arch.con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    after = arch.count()
    assert after >= at_least and after % batch == 0
    ids = {r[0] for r in arch.con.execute("SELECT id FROM articles")}
    assert ids == {f"k{i}" for i in range(after)}
    return after


def test_kill_9_mid_import_keeps_committed_batches_and_corrupts_nothing(tmp_path):
    db = tmp_path / "n.sqlite"
    NewsArchive(db).close()
    proc = _importer(db, "k", 2_000_000, 1000)
    _kill_once_committed(proc, db, 3000)
    with NewsArchive(db) as arch:
        _whole_batches_only(arch, 3000, 1000)
        c = arch.add([Article(id="k0", published=pd.Timestamp("2024-12-16 09:00", tz="Asia/Shanghai"),
                              title="t", body="k body 0")])
        assert (c.new, c.duplicates) == (0, 1)          # goes on where it stopped


def test_two_writers_at_once(tmp_path):
    db = tmp_path / "n.sqlite"
    NewsArchive(db).close()
    procs = [_importer(db, tag, 6000, 500) for tag in ("p", "q")]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and outs == ["done\n", "done\n"]
    with NewsArchive(db) as arch:
        assert arch.count() == 12_000
        assert arch.con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


FILE_IMPORTER = """
import sys
sys.path.insert(0, {repo!r})
from backtests.data import news
news.WAL_CHECKPOINT_BYTES = {wal}          # checkpoints (thread and writer) every few batches
news.PARALLEL_MIN_BYTES = 0
arch = news.NewsArchive({db!r})
c = arch.import_files([{src!r}], batch={batch}, workers={workers}, chunk=1 << 16)
print("done", c.new, c.duplicates, flush=True)
"""


def _jsonl(path, tag: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"{tag}{i}", "published": "2024-12-16T09:00:00+08:00",
                                 "title": "标题", "body": f"{tag} 正文 {i} " + "涨停" * (i % 50)},
                                ensure_ascii=False) + "\n")


def _file_importer(db, src, workers, batch, wal=1 << 17):
    code = FILE_IMPORTER.format(repo=str(REPO), db=str(db), src=str(src), workers=workers,
                                batch=batch, wal=wal)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_mid_file_import_keeps_committed_batches_and_corrupts_nothing(tmp_path, workers):
    """import_files checkpoints the WAL from a thread behind the writer (_Checkpointer): killed
    mid-way, every committed batch is there, whole, and the archive is sound."""
    db, src = tmp_path / "n.sqlite", tmp_path / "a.jsonl"
    _jsonl(src, "k", 400_000)
    NewsArchive(db).close()
    proc = _file_importer(db, src, workers, 1000)
    _kill_once_committed(proc, db, 20_000)
    assert proc.returncode == -signal.SIGKILL, "the import ended before the kill"
    with NewsArchive(db) as arch:
        after = _whole_batches_only(arch, 20_000, 1000)
        c = arch.import_files([src], workers=1)
        assert (c.new, c.duplicates, c.total) == (400_000 - after, after, 400_000)


def test_two_file_imports_at_once(tmp_path):
    db = tmp_path / "n.sqlite"
    NewsArchive(db).close()
    for tag in ("p", "q"):
        _jsonl(tmp_path / f"{tag}.jsonl", tag, 30_000)
    procs = [_file_importer(db, tmp_path / f"{tag}.jsonl", w, 500)
             for tag, w in (("p", 2), ("q", 1))]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == ["done 30000 0\n", "done 30000 0\n"]
    with NewsArchive(db) as arch:
        assert arch.count() == 60_000
        assert arch.con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("workers", [1, 2])
def test_file_import_checkpoints_behind_the_writer(tmp_path, monkeypatch, workers):
    """The checkpoint thread copies the WAL into the database while the import goes on and the
    WAL starts over every WAL_CHECKPOINT_BYTES or so (without it, the WAL would hold the whole
    import); afterwards the writer checkpoints by itself again. The same holds when the import
    stops at a bad record, and no checkpoint thread is left running."""
    import threading

    monkeypatch.setattr(news, "WAL_CHECKPOINT_BYTES", 1 << 18)
    monkeypatch.setattr(news, "PARALLEL_MIN_BYTES", 0)
    src = tmp_path / "a.jsonl"
    _jsonl(src, "c", 40_000)
    threads = threading.active_count()
    checkpoint, ran = news._Checkpointer._checkpoint, []

    def counted(self):
        ran.append(threading.current_thread().name)
        return checkpoint(self)

    monkeypatch.setattr(news._Checkpointer, "_checkpoint", counted)
    db = tmp_path / "n.sqlite"
    with NewsArchive(db) as arch:
        c = arch.import_files([src], batch=500, workers=workers, chunk=1 << 16)
        assert (c.new, c.total) == (40_000, 40_000)
        wal = os.path.getsize(str(db) + "-wal")
        assert os.path.getsize(db) > 10_000_000 > 3 * wal       # copied, and the WAL started over
        assert ran and set(ran) != {threading.main_thread().name}
        assert arch.con.execute("PRAGMA wal_autocheckpoint").fetchone() == (arch.wal_pages,)
        assert arch.wal_pages == (1 << 18) // news.PAGE_SIZE
        with open(src, "a", encoding="utf-8") as fh:
            fh.write('{"id": "bad", "published": \n')
        with pytest.raises(DataError, match="not valid JSON"):
            arch.import_files([src], batch=500, workers=workers, chunk=1 << 16)
        assert arch.con.execute("PRAGMA wal_autocheckpoint").fetchone() == (arch.wal_pages,)
        assert arch.count() == 40_000
    assert threading.active_count() == threads


def test_index_processes_leave_the_checkpoints_to_the_opening_one(tmp_path, master,
                                                                 monkeypatch):
    """The index's writing processes take no checkpoint (one would hold the turn while it
    copies the WAL): the opening process's thread copies the WAL after each batch, so the WAL
    starts over instead of holding the whole index; afterwards it checkpoints by itself."""
    import threading

    monkeypatch.setattr(news, "WAL_CHECKPOINT_BYTES", 1 << 30)      # never in the writers
    checkpoint, ran = news._Checkpointer._checkpoint, []

    def counted(self):
        ran.append(threading.current_thread().name)
        return checkpoint(self)

    monkeypatch.setattr(news._Checkpointer, "_checkpoint", counted)
    ex = Extractor(master)
    db = tmp_path / "n.sqlite"
    with NewsArchive(db) as arch:
        arch.add(articles(4000))
        arch.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(db)
        assert arch.index(ex, workers=2, batch=400) == 4000
        grown = os.path.getsize(db) - size
        assert grown > os.path.getsize(str(db) + "-wal") > 0   # copied, the WAL started over
        assert len(ran) >= 5 and set(ran) != {threading.main_thread().name}
        assert arch.con.execute("PRAGMA wal_autocheckpoint").fetchone() == (arch.wal_pages,)


def test_index_is_incremental_and_per_rules_version(tmp_path, master):
    ex = Extractor(master)
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        arch.add(articles(40))
        assert arch.pending(ex.version) == 40
        assert arch.index(ex, batch=16) == 40
        assert arch.index(ex) == 0
        arch.add(articles(50)[40:])
        assert arch.index(ex) == 10
        other = Extractor(StockMaster.from_frame(NAMES.iloc[:4]))   # other names: other version
        assert other.version != ex.version and arch.pending(other.version) == 50
        assert Extractor(master).version == ex.version
        assert arch.info()["indexed"] == {ex.version: 50}


def test_first_seen_of_a_resumed_index_is_the_one_pass_minimum(tmp_path, master):
    """An index resumed over articles older than those indexed before (the times it read at
    its start, then lowered) stores, per (code, role), the earliest time of all: as one pass."""
    ex = Extractor(master)
    arts = articles(90)
    seen = []
    for k, parts in enumerate(((arts,), (arts[60:], arts[:30], arts[30:60]))):
        with NewsArchive(tmp_path / f"f{k}.sqlite") as arch:
            for part in parts:
                arch.add(part)
                arch.index(ex, batch=7)
            seen.append(arch.con.execute("SELECT * FROM first_seen ORDER BY 2, 3").fetchall())
    assert len(seen[0]) > 5 and seen[0] == seen[1]
    times = {}
    for a in arts:
        for m in ex.extract(a).mentions:
            t = int(a.published.timestamp())
            times[m.code, m.role] = min(times.get((m.code, m.role), t), t)
    assert {(c, r): t for _v, c, r, t in seen[0]} == times


def test_pending_is_counted_again_only_after_a_change(tmp_path, master):
    """pending() keeps its count while the database is unchanged (no second walk of the
    ``extracted`` rows), and counts again after a write by this connection or another one."""
    ex = Extractor(master)
    db = tmp_path / "n.sqlite"
    with NewsArchive(db) as arch, NewsArchive(db) as other:
        arch.add(articles(30))
        sql: list[str] = []
        arch.con.set_trace_callback(sql.append)
        assert arch.pending(ex.version) == 30
        assert arch.pending(ex.version) == 30
        assert sum("COUNT(*) FROM extracted" in q for q in sql) == 1     # the second: kept
        other.add(articles(45)[30:])                  # another connection's commit
        assert arch.pending(ex.version) == 45
        assert other.index(ex) == 45
        assert arch.pending(ex.version) == 0
        arch.add(articles(50)[45:])                   # this connection's own write
        assert arch.pending(ex.version) == 5
        assert arch.pending("another rules version") == 50
        assert arch.index(ex) == 5 and arch.pending(ex.version) == 0
        assert other.pending(ex.version) == 0
        ro = NewsArchive(db, readonly=True)
        assert ro.pending(ex.version) == 0
        arch.add(articles(52)[50:])
        assert ro.pending(ex.version) == 2 and other.pending(ex.version) == 2
        ro.close()


def test_parallel_extraction_is_identical(master):
    ex = Extractor(master)
    items = [(i, a.title, a.body) for i, a in enumerate(articles(1200))]
    assert extract_rows(ex, items, workers=2, chunk=100) == extract_rows(ex, items, workers=1)


def test_one_pool_for_many_submissions(master, monkeypatch):
    ex = Extractor(master)
    items = [(i, a.title, a.body) for i, a in enumerate(articles(900))]
    forks = []
    real = parallel.ExtractPool._start
    monkeypatch.setattr(parallel.ExtractPool, "_start", lambda self: forks.append(1) or real(self))
    with parallel.ExtractPool(ex, workers=2, chunk=70) as pool:
        first = pool.submit(items[:500])            # two in flight before either is read
        second = pool.submit(items[500:])
        small = pool.submit(items[:50])             # one chunk: this process
        got = [row for part in first() + second() for row in part]
        assert small() == [extract_rows(ex, items[:50])]
    assert got == extract_rows(ex, items) and len(forks) == 1
    with parallel.ExtractPool(ex, workers=2) as pool:  # nothing submitted: nothing started
        assert pool.pool is None


@pytest.mark.parametrize("opts", [{}, {"half_life": 0.0, "min_score": 0.3},
                                  {"intraday": "same_close", "roles": ["momentum", "risk"]}])
def test_marks_from_index_equal_marks_from_articles(tmp_path, master, opts):
    arts = articles(300)
    cal = trading_calendar()
    ex = Extractor(master)
    full = analyze(arts, master, cal, extractor=ex, **opts).marks
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        arch.add(arts)
        whole = archive_marks(arch, ex, cal, np.datetime64("2024-06-03"), np.datetime64("2025-01-31"),
                              **opts)
        pd.testing.assert_frame_equal(whole, full)
        start, end = np.datetime64("2024-09-02"), np.datetime64("2024-10-31")
        part = archive_marks(arch, ex, cal, start, end, **opts)
    days = full["date"].to_numpy().astype("datetime64[D]")
    want = full.loc[(days >= start) & (days <= end)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, want)


def test_backtest_with_archive_store(tmp_path, master, capsys):
    from backtests.cli.main import main

    store = tmp_path / "store"
    src = tmp_path / "arts.jsonl"
    src.write_text("".join(json.dumps({"id": a.id, "published": a.published.isoformat(),
                                       "title": a.title, "body": a.body, "url": a.url},
                                      ensure_ascii=False) + "\n" for a in articles(60)),
                   encoding="utf-8")
    assert main(["news", "import", str(src), "--store", str(store)]) == 0
    capsys.readouterr()
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'[data]\npath = "demo"\n[signals]\narchive = "{store}"\n', encoding="utf-8")
    assert main(["backtest", str(cfg), "--out", str(tmp_path / "out")]) == 0
    # the demo market has other codes: marks of our names are dropped, the run still completes
    assert (tmp_path / "out" / "signals.csv").exists()
    assert "jobs" not in (tmp_path / "out" / "config.toml").read_text(encoding="utf-8")
    store2 = tmp_path / "store2"                  # not indexed yet: extracted in 2 processes
    assert main(["news", "import", str(src), "--store", str(store2)]) == 0
    cfg.write_text(f'[data]\npath = "demo"\n[signals]\narchive = "{store2}"\njobs = 2\n',
                   encoding="utf-8")
    assert main(["backtest", str(cfg), "--out", str(tmp_path / "out3")]) == 0
    assert (tmp_path / "out3" / "signals.csv").read_bytes() == \
        (tmp_path / "out" / "signals.csv").read_bytes()
    assert "jobs = 2" in (tmp_path / "out3" / "config.toml").read_text(encoding="utf-8")
    cfg.write_text(f'[data]\npath = "demo"\n[signals]\narchive = "{tmp_path / "nope"}"\n',
                   encoding="utf-8")
    assert main(["backtest", str(cfg), "--out", str(tmp_path / "out2")]) == 2
    assert "[signals] archive = " in capsys.readouterr().err


def _index_tables(arch):
    """The index as tables: ``extracted`` without its JSON columns, then the ``mentions`` and
    ``unknown`` views over them (the rows the tables of index schema 1 held)."""
    con = arch.con
    return [con.execute(f"SELECT {cols} FROM {t} ORDER BY 1, 2, 3").fetchall()
            for t, cols in (("extracted", "version, article, themes"), ("mentions", "*"),
                            ("unknown", "*"), ("terms", "*"), ("packed", "*"),
                            ("first_seen", "*"))]


def test_index_over_processes_and_batches_is_identical(tmp_path, master):
    ex = Extractor(master)
    arts = articles(1300)
    tables = []
    for k, (workers, batch) in enumerate(((1, 5000), (2, 1200), (1, 97))):
        with NewsArchive(tmp_path / f"n{k}.sqlite") as arch:
            arch.add(arts)
            assert arch.index(ex, workers=workers, batch=batch) == 1300
            tables.append(_index_tables(arch))
    assert tables[0][4] and tables[0] == tables[1] == tables[2]


def _reference_tables(arch, ex):
    """The index tables as one pass over the archive's articles in rowid order gives them,
    written the plain way (the serial loop the pipelined index replaced)."""
    rows = arch.con.execute("SELECT rowid, id, ts, bare, title, body FROM articles "
                            "ORDER BY rowid").fetchall()
    out = extract_rows(ex, [(r[0], r[4], r[5]) for r in rows])
    v = ex.version
    terms: dict = {}
    tid = terms.setdefault
    packed, first = [], {}
    for (rid, aid, ts, bare, title, _), (_, themes_json, ms, _) in zip(rows, out):
        recs = []
        for code, _m, _k, in_title, theme, role, weight in ms:
            recs.append((tid(code, len(terms)), tid(role, len(terms)),
                         tid(theme, len(terms)) if theme else -1, in_title, weight))
            first[(code, role)] = min(first.get((code, role), ts), ts)
        themes = [tid(t, len(terms)) for t in json.loads(themes_json)[0]]
        packed.append((v, ts, aid, rid, bare, title, np.array(recs, news.MENTION_DT).tobytes(),
                       np.array(themes, "<i4").tobytes()))
    tables = [[(v, rid, th) for rid, th, _, _ in out],
              [(v, rid, seq, *m) for rid, _, ms, _ in out for seq, m in enumerate(ms)],
              [(v, rid, *u) for rid, _, _, us in out for u in us],
              [(v, i, t) for t, i in terms.items()], packed,
              [(v, c, r, ts) for (c, r), ts in first.items()]]
    return [sorted(t, key=lambda r: r[:3]) for t in tables]


ODD_BODIES = ["", "天娱数科涨停😀豆包𠀀居然智家", "蜂助手\ufffd涨停", "市场震荡。" * 20_000 + "贵州茅台",
             "机器人(300024)\n\n天娱数科\u3000涨停", "星辰科技涨停，天娱数科跌停",
             # JSON escapes in and around the matched texts (orjson's text, by the kernel)
             '"天娱数科"\\涨停\t\x01居然智家\x1f，天娱 数科、"蜂助手"\b\f\r',
             '今日市场上，人工智能板块表现活跃，多只个股涨停，其中天娱\n数科涨停，天娱\t数科跟涨。']


def test_index_equals_one_plain_pass(tmp_path, master):
    """The pipelined index (workers building the rows, part-local term ids mapped in the
    writer, bodies handed over as UTF-8 bytes) stores the tables of one plain pass: same term
    ids, same packed blobs -- with empty, huge and non-BMP bodies too."""
    ex = Extractor(master)
    arts = [dataclasses.replace(a, body=ODD_BODIES[i // 7 % len(ODD_BODIES)] + a.body if i % 7 == 3 else a.body)
            for i, a in enumerate(articles(1300))]
    for workers, batch in ((2, 1200), (1, 97), (2, 5000)):
        with NewsArchive(tmp_path / f"r{workers}{batch}.sqlite") as arch:
            arch.add(arts)
            assert arch.index(ex, workers=workers, batch=batch) == 1300
            got = [sorted(t, key=lambda r: r[:3]) for t in _index_tables(arch)]
            assert got == _reference_tables(arch, ex)
            # the JSON columns, handed over as UTF-8 bytes, are stored as text
            assert arch.con.execute("SELECT DISTINCT typeof(mentions), typeof(unknown) "
                                    "FROM extracted").fetchall() == [("text", "text")]
            assert arch.index(ex, workers=workers, batch=batch) == 0


INDEXER = """
import glob, sys, time
sys.path.insert(0, {repo!r})
import pandas as pd
from backtests.data.master import StockMaster
from backtests.data.news import NewsArchive
from signals.extract import Extractor
names = pd.DataFrame({{"code": {codes!r}, "name": {names!r}}})
ex = Extractor(StockMaster.from_frame(names))
ex.extract_text("天娱数科涨停", "")
open({db!r} + ".ready{workers}", "w").close()       # start together: all ready
deadline = time.time() + 60
while len(glob.glob({db!r} + ".ready*")) < {together} and time.time() < deadline:
    time.sleep(0.01)
with NewsArchive({db!r}) as arch:
    arch.index(ex, batch={batch}, workers={workers})
print("done", flush=True)
"""


def _indexer(db, batch, workers=1, together=1):
    code = INDEXER.format(repo=str(REPO), db=str(db), codes=list(NAMES["code"]),
                          names=list(NAMES["name"]), batch=batch, workers=workers,
                          together=together)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def _decoded(arch, version):
    """The index with term ids replaced by their texts (two indexers at once may number the
    terms in another order)."""
    terms = arch.terms(version)
    tables = _index_tables(arch)
    packed = []
    for v, ts, aid, rid, bare, title, ms, th in tables[4]:
        recs = np.frombuffer(ms, news.MENTION_DT)
        packed.append((v, ts, aid, rid, bare, title,
                       [(terms[c], terms[r], terms[t] if t >= 0 else None, int(i), float(w))
                        for c, r, t, i, w in recs.tolist()],
                       [terms[t] for t in np.frombuffer(th, "<i4")]))
    return tables[:3] + [packed, tables[5]]


def test_two_indexers_at_once_store_each_article_once(tmp_path, master):
    ex = Extractor(master)
    db = tmp_path / "n.sqlite"
    arts = [dataclasses.replace(a, body=a.body + "。星辰科技涨停") for a in articles(3000)]
    with NewsArchive(db) as arch:                   # an unknown name: rows without a key
        arch.add(arts)
    procs = [_indexer(db, 100, workers, together=2) for workers in (1, 2)]
    assert [p.communicate(timeout=300)[0] for p in procs] == ["done\n", "done\n"]
    with NewsArchive(db) as arch, NewsArchive(tmp_path / "one.sqlite") as one:
        assert arch.con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        one.add(arts)
        one.index(ex)
        assert len(_index_tables(one)[2]) == 3000
        assert _decoded(arch, ex.version) == _decoded(one, ex.version)


def test_kill_9_mid_index_keeps_whole_batches(tmp_path, master):
    ex = Extractor(master)
    db = tmp_path / "n.sqlite"
    with NewsArchive(db) as arch:
        arch.add(articles(4000))
        want = _reference_tables(arch, ex)
    proc = _indexer(db, 100, 2)
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline and n < 300:
        time.sleep(0.05)
        with NewsArchive(db, readonly=True) as arch:
            n = arch.con.execute("SELECT COUNT(*) FROM extracted").fetchone()[0]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert n >= 300, "the indexer did not commit in time"
    with NewsArchive(db) as arch:
        assert arch.con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        done = [rid for (rid,) in arch.con.execute("SELECT article FROM extracted ORDER BY 1")]
        assert len(done) % 100 == 0 and done == list(range(1, len(done) + 1))
        got = [sorted(t, key=lambda r: r[:3]) for t in _index_tables(arch)]
        kept = set(done)
        for k in (0, 1, 2, 4):            # every committed article whole, nothing else
            assert got[k] == [r for r in want[k] if r[1 if k < 3 else 3] in kept]
        assert arch.index(ex, batch=100) == 4000 - len(done)
        got = [sorted(t, key=lambda r: r[:3]) for t in _index_tables(arch)]
        assert got == want


def test_index_on_a_dask_cluster_is_identical(tmp_path, master):
    distributed = pytest.importorskip("distributed", reason="the optional Dask extra is not "
                                                            "installed (pip install hypebt[dask])")
    ex = Extractor(master)
    items = [(i, a.title, a.body) for i, a in enumerate(articles(900))]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0",
                                  local_directory=tmp_path / "dask") as cluster, \
            distributed.Client(cluster) as client:
        assert extract_rows(ex, items, chunk=100, dask=client) == extract_rows(ex, items)
        with NewsArchive(tmp_path / "d.sqlite") as arch, NewsArchive(tmp_path / "l.sqlite") as loc:
            arch.add(articles(900))
            loc.add(articles(900))
            assert arch.index(ex, batch=400, dask=client) == loc.index(ex) == 900
            assert _index_tables(arch) == _index_tables(loc)


FAST_CASES = [
    {"id": "a", "published": "2024-12-16T02:58:00+08:00", "title": "豆包", "body": "天娱数科涨停",
     "source": " 财联社 ", "url": " http://x/1 "},
    {"id": " b ", "published": "2024-12-16 02:58+08:00", "title": "", "body": "正文"},
    {"id": "c", "published": "2024-12-16T02:58:07.250000+08:00", "title": "t", "body": "a  b\n\n\n\nc "},
    {"id": "d", "published": "1969-12-31T23:59:59.5+08:00", "title": "t", "body": "b"},
]
SLOW_CASES = [
    {"id": "e", "published": "2024-12-16T02:58:00+00:00", "title": "t", "body": "b"},   # offset note
    {"id": "f", "published": "2024-12-16", "title": "t", "body": "b"},                  # bare date
    {"id": "g", "published": "2024-12-16T02:58:00+08:00", "title": "t", "body": "<p>b</p>"},
    {"id": 7, "published": "2024-12-16T02:58:00+08:00", "title": "t", "body": "b"},
    {"id": "", "published": "2024-12-16T02:58:00+08:00", "title": "t", "body": "b", "url": "u"},
    {"id": "h", "published": "2024-12-16T02:58:00+08:00", "标题": "t", "body": "b"},
    {"id": "i", "published": "2024-12-16T02:58:00+08:00", "title": None, "body": "b"},
    {"id": "j", "published": "2024-12-16T02:58:00+08:00", "title": " ", "body": ""},    # empty
]


def test_fast_rows_are_the_general_rows():
    for rec in FAST_CASES:
        assert fast_row(rec) == article_row(make_article(rec, origin="x")), rec
    for rec in SLOW_CASES:
        assert fast_row(rec) is None, rec


# Lone UTF-16 surrogates (a JSON escape of half an emoji) and a real U+FFFD: the reader decides.
SURROGATE_CASES = [
    {"id": "k", "published": "2024-12-16T02:58:00+08:00", "title": "半个\ud83d表情", "body": "b"},
    {"id": "l\udc00", "published": "2024-12-16T02:58:00+08:00", "title": "t", "body": "b"},
    {"id": "m", "published": "2024-12-16T02:58:00+08:00", "title": "t", "body": "\ude00",
     "source": "\ud800s", "url": "http://x/\udbff"},
    {"id": "n", "published": "2024-12-16T02:58:00+08:00", "title": "乱码\ufffd", "body": "b"},
]


def test_lone_surrogates_are_replaced_and_noted_by_the_reader():
    for rec in SURROGATE_CASES:
        art = make_article(rec, origin="x")
        row = article_row(art)
        if rec["id"] == "n":                     # a real U+FFFD is text like any other
            assert fast_row(rec) == row and fast_row_bytes(rec) == text_bytes(row)
        else:
            assert fast_row(rec) is None and fast_row_bytes(rec) is None, rec
        assert not any(0xD800 <= ord(c) <= 0xDFFF for v in row if isinstance(v, str) for c in v)
        assert ("lone UTF-16 surrogates (half an emoji?) replaced by U+FFFD" in art.notes) \
            == (rec["id"] != "n")
    assert make_article(SURROGATE_CASES[0], origin="x").title == "半个\ufffd表情"
    art = make_article(SURROGATE_CASES[2], origin="x")
    assert (art.body, art.source, art.url) == ("\ufffd", "\ufffds", "http://x/\ufffd")


def test_import_of_lone_surrogates_stores_valid_text(tmp_path):
    path = tmp_path / "s.jsonl"            # ensure_ascii: the escapes, as a scraper writes them
    path.write_text("".join(json.dumps(r) + "\n" for r in SURROGATE_CASES), encoding="utf-8")
    with NewsArchive(tmp_path / "a.sqlite") as arch:
        c = arch.import_files([path])
        assert (c.new, c.duplicates, c.skipped) == (4, 0, [])
        assert sum("surrogates" in n for n in c.notes) == 3
        assert arch.con.execute("SELECT title FROM articles WHERE id = 'k'").fetchone() == \
            ("半个\ufffd表情",)
        assert arch.con.execute("SELECT COUNT(*) FROM articles WHERE id = 'l\ufffd'"
                                ).fetchone() == (1,)


def test_import_fast_and_general_paths_store_the_same(tmp_path):
    recs = [dict(r, body=r["body"] + f"#{k}") for k, r in enumerate(FAST_CASES + SLOW_CASES[:-1])]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                    encoding="utf-8")
    cols = "id, published, ts, bare, source, url, title, body, hash"
    with NewsArchive(tmp_path / "f.sqlite") as fast, NewsArchive(tmp_path / "g.sqlite") as gen:
        c = fast.import_files([path])
        gen.add(make_article(r, origin=f"{path}: line {k + 1}") for k, r in enumerate(recs))
        assert (c.new, c.duplicates) == (len(recs), 0)
        assert fast.con.execute(f"SELECT {cols} FROM articles ORDER BY id").fetchall() == \
            gen.con.execute(f"SELECT {cols} FROM articles ORDER BY id").fetchall()
        assert any("converted to +08:00" in n for n in c.notes)


def test_one_extractor_shared_by_threads_gives_the_serial_rows(master):
    """A Dask worker runs tasks in threads that share the scattered extractor: no scratch
    state may be shared between calls (a shared match buffer once mixed articles' names)."""
    from concurrent.futures import ThreadPoolExecutor

    ex = Extractor(master)
    items = [(i, a.title, a.body) for i, a in enumerate(articles(600))]
    chunks = [items[i:i + 25] for i in range(0, len(items), 25)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = [row for part in pool.map(lambda c: extract_rows(ex, c), chunks)
                    for row in part]
    assert threaded == extract_rows(ex, items)


# ------------------------------------------------------------------ the import over processes
TRICKY = ["", " ", "\n", "\n\n\n", "  ", " \n", "\n ", "\t", "\u3000", "\xa0", "\u2028", "\x00",
          "<", "&amp;", "![x](y)", "!", "&", "a", "涨停", "\r\n", "\x1f", "\u200b", "\ud83d",
          "\ufffd"]


def test_fast_bytes_rows_are_the_fast_rows():
    rng = np.random.default_rng(5)
    recs = list(FAST_CASES + SLOW_CASES)
    for k in range(3000):
        title = "".join(TRICKY[int(i)] for i in rng.integers(0, len(TRICKY), rng.integers(0, 4)))
        body = "".join(TRICKY[int(i)] for i in rng.integers(0, len(TRICKY), rng.integers(0, 8)))
        recs.append({"id": f"r{k}", "published": "2024-12-16T02:58:00+08:00", "title": title,
                     "body": body})
    for rec in recs:
        row = fast_row(rec)
        assert fast_row_bytes(rec) == (None if row is None else text_bytes(row)), rec


def _plain_checks(text: str) -> bool:
    """The plain-text test as the checks of clean_text state it (news._plain before its regex)."""
    if "<" in text or "&" in text or "\n\n\n" in text or text[:1] in (" ", "\n") \
            or text[-1:] in (" ", "\n"):
        return False
    if "  " in text or " \n" in text or "\n " in text or "![" in text:
        return False
    return text.replace("\n", "").isprintable()


def test_plain_regex_is_the_checks():
    """The regex that proves a text plain never says so of a text the checks refuse, and
    accepts ordinary text; on random texts of tricky characters (unassigned, private-use and
    astral code points too) _plain is the checks."""
    pieces = TRICKY + ["\n\n", "x y", "\u0378", "\ue000", "\U0001f600", "\U000e0001", "\u0085",
                       "\x7f", "\u00ad", "\ufeff", "![", "]", "-", "\\", "^", "，", "Ｂ", "\uffff"]
    rng = np.random.default_rng(13)
    texts = ["".join(pieces[int(i)] for i in rng.integers(0, len(pieces), rng.integers(0, 12)))
             for _ in range(20_000)]
    texts += [chr(c) for c in range(0x10000)] + [f"a{chr(c)}b" for c in range(0, 0x10000, 7)]
    for text in texts:
        assert news._plain(text) == _plain_checks(text), repr(text)
        if news._plain_re().fullmatch(text):
            assert _plain_checks(text), repr(text)
    body = "天娱数科涨停，第1条。\n\n正文 2 段：ABC-123（30%）\n完"
    assert news._plain_re().fullmatch(body) and news._plain(body)


def _import_inputs(tmp_path) -> list:
    """Files of every kind and trouble: fast and general records, duplicates, blank lines, a
    record numbered by its place in a later piece, a file turning GBK half way, JSON, CSV."""
    src = tmp_path / "src"
    src.mkdir()
    recs = []
    for k in range(60):
        rec = {"id": f"a{k}", "published": f"2024-12-{1 + k % 28:02d}T1{k % 10}:00:00+08:00",
               "title": f"标题{k % 50}", "body": f"天娱数科涨停 第{k % 50}条\n正文 {k % 50}"}
        if k % 7 == 3:
            rec["published"] = "2024-12-16"                          # a note
        if k % 11 == 5:
            rec["body"] = f"<p>HTML {k}</p>"                          # general path
        if k % 13 == 6:
            rec["url"] = f"http://x/{k % 26}"
        recs.append(rec)
    recs[40] = {"published": "2024-12-16T09:00:00+08:00", "title": "无编号", "body": "按行编号"}
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    lines.insert(20, "")
    lines.insert(30, "   ")
    (src / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    gbk = [json.dumps({"id": f"g{k}", "published": "2024-12-16T09:00:00+08:00", "title": "t",
                       "body": f"b{k}"}) for k in range(20)]
    gbk += [json.dumps({"id": f"h{k}", "published": "2024-12-16T09:00:00+08:00",
                        "title": "涨停", "body": f"天娱数科{k}"}, ensure_ascii=False)
            for k in range(20)]
    (src / "b.jsonl").write_bytes(("\n".join(gbk) + "\n").encode("gb18030"))
    (src / "c.json").write_text(json.dumps(recs[:10], ensure_ascii=False), encoding="utf-8")
    pd.DataFrame(recs[50:]).to_csv(src / "d.csv", index=False)
    return [src, src / "a.jsonl"]


def _archive_rows(arch) -> list:
    return arch.con.execute("SELECT rowid, id, published, ts, bare, source, url, title, body, "
                            "hash, typeof(title), typeof(body) FROM articles ORDER BY rowid"
                            ).fetchall()


@pytest.mark.parametrize("chunk,spare", [(150, 0), (150, news.SLOT_SPARE), (700, 0),
                                         (1 << 20, news.SLOT_SPARE)])
def test_import_over_processes_is_the_one_process_import(tmp_path, monkeypatch, chunk, spare):
    """spare 0: shared-memory slots of 3 pieces' bytes, too small for some results (whole
    JSON and CSV files, pieces with long notes), which come back through the pool's pipe."""
    monkeypatch.setattr(news, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(news, "SLOT_SPARE", spare)
    paths = _import_inputs(tmp_path)
    with NewsArchive(tmp_path / "one.sqlite") as one, NewsArchive(tmp_path / "par.sqlite") as par:
        c1 = one.import_files(paths, workers=1, batch=7)
        c2 = par.import_files(paths, workers=2, batch=7, chunk=chunk)
        assert c1 == c2 and c1.new > 80 and c1.duplicates > 60
        assert any("GBK" in n for n in c1.notes) and any("bare date" in n for n in c1.notes)
        assert _archive_rows(one) == _archive_rows(par)
        assert {r[-2:] for r in _archive_rows(par)} == {("text", "text")}
        assert par.con.execute("SELECT COUNT(*) FROM articles WHERE id LIKE '%#%'").fetchone() \
            == (1,)


def test_worker_results_come_back_in_shared_memory_or_the_pipe(tmp_path, monkeypatch):
    import mmap
    import pickle

    src = _import_inputs(tmp_path)[0]
    task = (str(src / "d.csv"), 0, None, 1, "next_open", False)
    want = news._import_piece(task)
    assert want[0] and want[3][0] == "done"
    with mmap.mmap(-1, 2 << 20) as shared:
        monkeypatch.setattr(news, "_SHARED", [])
        news._set_shared(shared, 1 << 20)
        got = news._import_task((1, *task))
        assert got[0] == "slot" and shared[:16] == bytes(16)         # slot 1, not slot 0
        assert pickle.loads(shared[1 << 20:(1 << 20) + got[1]]) == want
        news._set_shared(shared, 100)                                 # too small: the result
        assert news._import_task((0, *task)) == want


@pytest.mark.parametrize("skip_bad", [True, False])
def test_import_over_processes_stops_and_skips_as_one_process(tmp_path, monkeypatch, skip_bad):
    monkeypatch.setattr(news, "PARALLEL_MIN_BYTES", 0)
    lines = [json.dumps({"id": f"a{k}", "published": "2024-12-16T09:00:00+08:00",
                         "title": "t", "body": f"正文{k}"}, ensure_ascii=False) for k in range(40)]
    lines[25] = '{"id": "bad", "published": '
    lines[31] = json.dumps({"id": "late", "published": "soon", "body": "x"})
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    missing = tmp_path / "missing.jsonl"
    results = []
    for workers in (1, 2):
        with NewsArchive(tmp_path / f"w{workers}.sqlite") as arch:
            try:
                c = arch.import_files([path, missing] if skip_bad else [path], workers=workers,
                                      batch=4, skip_bad=skip_bad, chunk=200)
                got = ("ok", c)
            except DataError as exc:
                got = ("error", str(exc))
            results.append((got, _archive_rows(arch)))
    assert results[0] == results[1]
    (how, what), rows = results[0]
    assert how == "error"
    assert ("missing.jsonl: article file not found" in what) if skip_bad else ("line 26" in what)
    assert len(rows) == (36 if skip_bad else 24)       # whole batches of 4 before the error


def test_packed_read_in_spans_is_the_rows_in_order(tmp_path, master, monkeypatch):
    """packed() concatenates each span's rows in SQL: the same arrays as reading the rows one by
    one, over several spans, for an empty range and with texts of every width."""
    arts = articles(300)
    arts[5] = Article(id="ü𝄞", published=arts[5].published, title="标题𝄞é\x00x", body="天娱数科涨停")
    ex = Extractor(master)
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        arch.add(arts)
        arch.index(ex)
        version = ex.version
        rows = arch.con.execute("SELECT ts, bare, id, title, mentions, themes FROM packed WHERE "
                                "version = ? ORDER BY ts, id", (version,)).fetchall()
        monkeypatch.setattr(news, "PACKED_SPAN_S", 7 * 86_400)
        ts, bare, ids, titles, recs, mcount, themes, tcount = arch.packed(version)
        assert ts.tolist() == [r[0] for r in rows] and bare.tolist() == [bool(r[1]) for r in rows]
        assert list(ids) == [r[2] for r in rows] and list(titles) == [r[3] for r in rows]
        assert recs.tobytes() == b"".join(r[4] for r in rows)
        assert mcount.tolist() == [len(r[4]) // news.MENTION_DT.itemsize for r in rows]
        assert themes.astype("<i4").tobytes() == b"".join(r[5] for r in rows)
        assert tcount.tolist() == [len(r[5]) // 4 for r in rows]
        assert "标题𝄞é\x00x" in list(titles)
        empty = arch.packed(version, "2030-01-01", "2030-02-01")
        assert len(empty[0]) == len(empty[2]) == len(empty[4]) == 0


def _rows_arrays(arch, version, start=None, end=None):
    """The packed index read row by row in SQL: what ``packed()`` must return."""
    lo = None if start is None else int(pd.Timestamp(start, tz="Asia/Shanghai").timestamp())
    hi = None if end is None else int(pd.Timestamp(end, tz="Asia/Shanghai").timestamp())
    rows = [r for r in arch.con.execute(
        "SELECT ts, bare, id, title, mentions, themes FROM packed WHERE version = ? "
        "ORDER BY ts, id", (version,)) if (lo is None or r[0] >= lo) and (hi is None or r[0] < hi)]
    return ([r[0] for r in rows], [bool(r[1]) for r in rows], [r[2] for r in rows],
            [r[3] for r in rows], b"".join(r[4] for r in rows),
            [len(r[4]) // news.MENTION_DT.itemsize for r in rows], b"".join(r[5] for r in rows),
            [len(r[5]) // 4 for r in rows])


def _arrays(got):
    ts, bare, ids, titles, recs, mcount, themes, tcount = got
    return (ts.tolist(), bare.tolist(), list(ids), list(titles), recs.tobytes(), mcount.tolist(),
            themes.astype("<i4").tobytes(), tcount.tolist())


RANGES = [(None, None), ("2024-06-01", "2024-06-02"), ("2024-07-03 10:17", "2024-09-30 23:59"),
          (None, "2024-08-01 09:30"), ("2024-10-10 14:00", None), ("2030-01-01", "2030-02-01"),
          ("2024-07-01", "2024-07-01")]


def test_day_blocks_are_the_packed_rows_and_follow_every_write(tmp_path, master):
    """packed() reads day blocks: the rows of any range in (ts, id) order, cut at any time of
    day; a write into ``packed`` -- by the indexer or by any other program -- drops the blocks
    of its days, which are then rebuilt from the rows."""
    ex = Extractor(master)
    arts = articles(400)
    arts[5] = Article(id="ü𝄞", published=arts[5].published, title="标题𝄞é\x00x", body="天娱数科涨停")
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        arch.add(arts[:300])
        arch.index(ex)
        version = ex.version
        assert arch.con.execute("SELECT COUNT(*) FROM packed_days").fetchone()[0] == 0
        for start, end in RANGES:
            assert _arrays(arch.packed(version, start, end)) == _rows_arrays(arch, version, start,
                                                                                 end)
        n_blocks = arch.con.execute("SELECT COUNT(*) FROM packed_days").fetchone()[0]
        assert n_blocks > 100                   # stored: one a day (empty days included)
        assert "标题𝄞é\x00x" in list(arch.packed(version)[3])
        arch.add(arts[300:])                    # new articles on days already in blocks
        arch.index(ex)
        left = arch.con.execute("SELECT COUNT(*) FROM packed_days").fetchone()[0]
        assert 0 < left < n_blocks
        for start, end in RANGES:
            assert _arrays(arch.packed(version, start, end)) == _rows_arrays(arch, version, start,
                                                                                 end)
        # another program writes a row (older code knows nothing of the blocks)
        ts = int(pd.Timestamp("2024-07-05 23:59:59", tz="Asia/Shanghai").timestamp())
        day = (ts + 8 * 3600) // 86400
        assert arch.con.execute("SELECT COUNT(*) FROM packed_days WHERE day = ?",
                                (day,)).fetchone()[0] == 1
        arch.con.execute("INSERT INTO packed VALUES (?, ?, 'zz', 999, 0, 't', ?, ?)",
                         (version, ts, b"", b""))
        assert arch.con.execute("SELECT COUNT(*) FROM packed_days WHERE day = ?",
                                (day,)).fetchone()[0] == 0
        assert _arrays(arch.packed(version)) == _rows_arrays(arch, version)
        arch.con.execute("DELETE FROM packed WHERE id = 'zz'")
        assert arch.con.execute("SELECT COUNT(*) FROM packed_days WHERE day = ?",
                                (day,)).fetchone()[0] == 0
        assert _arrays(arch.packed(version)) == _rows_arrays(arch, version)


class _ShrunkBlocks:
    """A connection whose query of the day blocks' lengths reports one byte less of mentions than
    the rows hold: what a reader sees when a writer grows a block between its two queries."""

    def __init__(self, con):
        self.con = con
        self.hits = 0

    def __getattr__(self, name):
        return getattr(self.con, name)

    def execute(self, sql, *args):
        cur = self.con.execute(sql, *args)
        if not sql.startswith("SELECT COUNT(*), TOTAL(length("):
            return cur
        row = list(cur.fetchone())
        row[8] -= 1                              # 1 + the index of ``mentions``
        self.hits += 1
        return _Rows([tuple(row)])


class _Rows(list):
    def fetchone(self):
        return self[0]


def test_day_blocks_changed_between_reads_fall_back_to_the_rows(tmp_path, master):
    """packed() copies stored blocks into buffers sized by a first query; when the blocks no
    longer match it (a writer in between), it reads them again through day_blocks: the same
    arrays."""
    ex = Extractor(master)
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        arch.add(articles(200))
        arch.index(ex)
        want = _arrays(arch.packed(ex.version))          # builds and stores every block
        assert want == _rows_arrays(arch, ex.version)
        arch.con = _ShrunkBlocks(arch.con)
        assert _arrays(arch.packed(ex.version)) == want
        assert arch.con.hits == 1
        arch.con = arch.con.con


def test_archive_without_day_blocks_gives_the_same_marks(tmp_path, master):
    """An archive written before the day blocks (no ``packed_days`` table, no triggers): read-only
    it is read from the rows (blocks in memory only); opened for writing it gets the table and
    the triggers, and the same marks."""
    ex = Extractor(master)
    cal = trading_calendar()
    path = tmp_path / "n.sqlite"
    start, end = np.datetime64("2024-07-01"), np.datetime64("2024-11-29")
    with NewsArchive(path) as arch:
        arch.add(articles(300))
        want = archive_marks(arch, ex, cal, start, end)
        assert len(want) > 20
        for name in [r[0] for r in arch.con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
            arch.con.execute(f"DROP TRIGGER {name}")
        arch.con.execute("DROP TABLE packed_days")
    with NewsArchive(path, readonly=True) as arch:
        pd.testing.assert_frame_equal(archive_marks(arch, ex, cal, start, end), want)
        assert not arch._has_table("packed_days")
    with NewsArchive(path) as arch:
        pd.testing.assert_frame_equal(archive_marks(arch, ex, cal, start, end), want)
        assert arch.con.execute("SELECT COUNT(*) FROM packed_days").fetchone()[0] > 100
        assert arch.con.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"
                                ).fetchone()[0] == 4
    with NewsArchive(path, readonly=True) as arch:       # stored blocks, read-only
        pd.testing.assert_frame_equal(archive_marks(arch, ex, cal, start, end), want)


# The articles table as archives made before `articles_schema` 2 have it (content hash as hex).
OLD_ARTICLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, published TEXT NOT NULL,
    ts INTEGER NOT NULL, bare INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL UNIQUE);
CREATE UNIQUE INDEX articles_url ON articles(url) WHERE url <> '';
CREATE INDEX articles_ts ON articles(ts);
INSERT INTO meta VALUES ('format', '2');
"""


def test_an_archive_of_the_hex_hash_layout_is_migrated(tmp_path, master):
    import sqlite3

    db = tmp_path / "old.sqlite"
    arts = articles(30)
    con = sqlite3.connect(db)
    con.executescript(OLD_ARTICLES)
    old_rows = [(5 + 3 * k, *article_row(a)[:8], content_hash(a.title, a.body))
                for k, a in enumerate(arts[:20])]
    con.executemany("INSERT INTO articles (rowid, id, published, ts, bare, source, url, title, "
                    "body, hash) VALUES (?,?,?,?,?,?,?,?,?,?)", old_rows)
    if news.has_fts5():                                      # searched once before
        con.execute("CREATE VIRTUAL TABLE fts USING fts5(title, body, content='articles', "
                    "content_rowid='rowid', tokenize='trigram')")
        con.execute("INSERT INTO fts (rowid, title, body) SELECT rowid, title, body FROM articles")
        con.execute("INSERT INTO meta VALUES ('fts_rowid', '62')")
    con.commit()
    con.close()
    with NewsArchive(db, readonly=True) as arch:             # read as it is, not migrated
        assert arch.count() == 20 and arch.con.execute(
            "SELECT typeof(hash) FROM articles LIMIT 1").fetchone() == ("text",)
    with NewsArchive(db) as arch:
        con = arch.con
        assert con.execute("SELECT value FROM meta WHERE key = 'articles_schema'").fetchone() \
            == ("2",)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        got = con.execute("SELECT rowid, id, published, ts, bare, source, url, title, body, hash "
                          "FROM articles ORDER BY rowid").fetchall()
        assert got == [r[:9] + (int(r[9][:16], 16) - (int(r[9][0], 16) >= 8) * 2 ** 64,)
                       for r in old_rows]
        assert {r[0] for r in con.execute("SELECT typeof(hash) FROM articles")} == {"integer"}
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                          "AND tbl_name = 'articles' ORDER BY name")] == \
            ["articles_ts", "articles_url", "sqlite_autoindex_articles_1",
             "sqlite_autoindex_articles_2"]
        same_text = Article(id="new-id", published=arts[3].published, title=arts[3].title,
                            body=arts[3].body.replace("。", "。\n"))
        c = arch.add([same_text, arts[4], *arts[20:]])       # dedup against migrated rows
        assert (c.new, c.duplicates, c.total) == (10, 2, 30)
        for a in (arts[7], arts[25]):                         # the search index goes on
            assert [r["id"] for r in arch.search(f"第{a.id[1:]}条")] == [a.id]
        assert arch.index(Extractor(master)) == 30
    with NewsArchive(db) as arch:                             # opened again: nothing to do
        assert arch.count() == 30


def test_hash_key_is_the_hex_hash_prefix():
    rng = np.random.default_rng(2)
    for _ in range(200):
        digest = rng.bytes(20)
        key = news.hash_key(digest)
        assert -2 ** 63 <= key < 2 ** 63 and key % 2 ** 64 == int(digest.hex()[:16], 16)
    assert article_row(articles(1)[0])[8] == news.hash_key(bytes.fromhex(
        content_hash(articles(1)[0].title, articles(1)[0].body)))


# The mention index as archives made before `index_schema` 2 have it: one row a mention and one
# an unknown name, in tables of their own.
OLD_INDEX = """
CREATE TABLE extracted_1 (
    version TEXT NOT NULL, article INTEGER NOT NULL, themes TEXT NOT NULL,
    PRIMARY KEY (version, article)) WITHOUT ROWID;
CREATE TABLE mentions_1 (
    version TEXT NOT NULL, article INTEGER NOT NULL, seq INTEGER NOT NULL,
    code TEXT NOT NULL, matched TEXT NOT NULL, kind TEXT NOT NULL, in_title INTEGER NOT NULL,
    theme TEXT NOT NULL, role TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (version, article, seq)) WITHOUT ROWID;
CREATE TABLE unknown_1 (
    version TEXT NOT NULL, article INTEGER NOT NULL, text TEXT NOT NULL, reason TEXT NOT NULL);
INSERT INTO extracted_1 SELECT version, article, themes FROM extracted;
INSERT INTO mentions_1 SELECT * FROM mentions;
INSERT INTO unknown_1 SELECT * FROM unknown ORDER BY article DESC, text DESC;
DROP VIEW mentions;
DROP VIEW unknown;
DROP TABLE extracted;
ALTER TABLE extracted_1 RENAME TO extracted;
ALTER TABLE mentions_1 RENAME TO mentions;
ALTER TABLE unknown_1 RENAME TO unknown;
DELETE FROM meta WHERE key = 'index_schema';
"""


def test_an_archive_of_the_mention_tables_layout_is_migrated(tmp_path, master):
    """An archive whose mentions and unknown names are tables of one row each (index schema 1)
    is converted when opened for writing: the views then give the same rows (unknown names in
    the order they were written), and indexing goes on as in a new archive."""
    import sqlite3

    ex = Extractor(master)
    arts = [dataclasses.replace(a, body=a.body + "。星辰科技涨停，辰星电子跌停") if i % 3 == 0 else a
            for i, a in enumerate(articles(240))]
    db, one = tmp_path / "old.sqlite", tmp_path / "one.sqlite"
    with NewsArchive(db) as arch:
        arch.add(arts[:160])
        arch.index(ex)
        want = _index_tables(arch)
        written = arch.con.execute("SELECT * FROM unknown").fetchall()
        unknown = arch.con.execute("SELECT * FROM unknown ORDER BY article DESC, text DESC"
                                   ).fetchall()             # the order OLD_INDEX writes them
    assert want[1] and len(unknown) > 100
    assert [u for u in unknown if u[1] == 1] != [u for u in written if u[1] == 1]
    con = sqlite3.connect(db)
    con.executescript("BEGIN;" + OLD_INDEX + "COMMIT;")
    con.close()
    with NewsArchive(db, readonly=True) as arch:             # read as it is, not migrated
        assert arch.con.execute("SELECT type FROM sqlite_master WHERE name = 'mentions'"
                                ).fetchone() == ("table",)
    with NewsArchive(db) as arch:
        con = arch.con
        assert con.execute("SELECT value FROM meta WHERE key = 'index_schema'").fetchone() \
            == ("2",)
        assert con.execute("SELECT name, type FROM sqlite_master WHERE name IN "
                           "('mentions', 'unknown') ORDER BY 1").fetchall() == \
            [("mentions", "view"), ("unknown", "view")]
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert _index_tables(arch) == want
        for article, in con.execute("SELECT DISTINCT article FROM unknown"):   # rowid order
            assert con.execute("SELECT text, reason FROM unknown WHERE article = ?",
                               (article,)).fetchall() == \
                [u[2:] for u in unknown if u[1] == article]
        arch.add(arts[160:])
        assert arch.index(ex) == 80
        got = _index_tables(arch)
    with NewsArchive(one) as arch:
        arch.add(arts)
        arch.index(ex)
        assert got == _index_tables(arch)
    with NewsArchive(db) as arch:                             # opened again: nothing to do
        assert arch.count() == 240


def test_an_archive_of_a_newer_index_schema_is_refused(tmp_path):
    db = tmp_path / "new.sqlite"
    with NewsArchive(db) as arch:
        arch.con.execute("UPDATE meta SET value = '3' WHERE key = 'index_schema'")
    with pytest.raises(DataError, match="index schema 3"):
        NewsArchive(db)


def test_line_numbers_at_offsets_are_counted_on_demand(tmp_path):
    """_Lines: the line number at a byte offset, asked in order (counting on from the last
    answer) or not (counting again from the start), equals counting the bytes before it."""
    rng = np.random.default_rng(5)
    data = b"".join([b"\n", b"ab", "涨停".encode(), b"\r\n"][int(i)]
                    for i in rng.integers(0, 4, 3000))
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for p in paths:
        p.write_bytes(data)
    lines = news._Lines()
    offsets = sorted(int(x) for x in rng.integers(0, len(data) + 1, 40))
    for off in offsets + offsets[::-3] + [len(data), 0]:
        for p in paths:
            assert lines.at(p, off) == data[:off].count(b"\n") + 1, off


def test_iso_times_read_without_a_datetime_are_the_datetimes():
    """_iso_time's usual form (to the second, its date cached) equals what datetime reads:
    random and edge-case dates and times (leap days, 23:59:59, hour 24, second 60, year 0,
    fractions, no seconds, other offsets, a trailing line break)."""
    import datetime as dt

    def reference(pub):
        if not news._ISO_TIME_RE.match(pub):
            return None
        try:
            when = dt.datetime.fromisoformat(pub)
        except ValueError:
            return None
        return None if when.utcoffset() != dt.timedelta(hours=8) else \
            (when.isoformat(), int(when.timestamp()))

    rng = np.random.default_rng(11)
    pubs = ["2024-02-29 23:59:59+08:00", "2023-02-29 12:00:00+08:00", "2024-12-16T24:00:00+08:00",
            "2024-12-16T09:00:60+08:00", "0000-01-01 00:00:00+08:00", "0001-01-01 00:00:00+08:00",
            "9999-12-31T23:59:59+08:00", "2024-12-16 09:00+08:00", "2024-12-16 09:00:00.5+08:00",
            "2024-12-16 09:00:00.000000+08:00", "2024-12-16 09:00:00+09:00",
            "2024-12-16 09:00:00+08:00\n", "2024-13-01 09:00:00+08:00", "2024-00-10 09:00:00+08:00"]
    for _ in range(20_000):
        y, mo, d = rng.integers(0, 10_000), rng.integers(0, 14), rng.integers(0, 33)
        h, mi, s = rng.integers(0, 26), rng.integers(0, 62), rng.integers(0, 62)
        sep = "T" if rng.random() < 0.5 else " "
        tail = ["", f".{rng.integers(0, 10 ** 6):06d}", f".{rng.integers(0, 10)}"][rng.integers(0, 3)]
        secs = f":{s:02d}{tail}" if rng.random() < 0.9 else ""
        off = "+08:00" if rng.random() < 0.9 else "+00:00"
        pubs.append(f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{secs}{off}")
    fast = 0
    for pub in pubs:
        assert news._iso_time(pub) == reference(pub), pub
        fast += news._ISO_SECONDS_RE.fullmatch(pub) is not None
    assert fast > 3_000
    assert sum(reference(p) is not None for p in pubs) > 5_000


def test_a_failed_chunk_of_the_index_stops_the_later_ones(tmp_path, master, monkeypatch):
    """The index's processes write their chunks in order: when one fails, its error is raised,
    the chunks before it stay written and none after it is, and the next run completes the
    index as one plain pass would."""
    ex = Extractor(master)
    arts = articles(1600)
    with NewsArchive(tmp_path / "one.sqlite") as one:
        one.add(arts)
        one.index(ex)
        want = _index_tables(one)
    real = news._index_part

    def failing(extractor, items):
        if any(rid == 700 for rid, _, _ in items):          # the second chunk (501..1000)
            raise DataError("chunk two failed")
        return real(extractor, items)

    monkeypatch.setattr(news, "_index_part", failing)       # inherited by the forked workers
    monkeypatch.setattr(news, "INDEX_CHUNK", 500)
    with NewsArchive(tmp_path / "n.sqlite") as arch:
        arch.add(arts)
        with pytest.raises(DataError, match="chunk two failed"):
            arch.index(ex, workers=2, batch=5000)
        done = [rid for (rid,) in arch.con.execute("SELECT article FROM extracted ORDER BY 1")]
        assert done == list(range(1, 501))
        monkeypatch.setattr(news, "_index_part", real)
        assert arch.index(ex, workers=2) == 1100
        assert _index_tables(arch) == want
