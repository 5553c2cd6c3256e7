"""The news archive: one SQLite database of articles and of the mentions extracted from them.

File: ``news/archive.sqlite`` inside a store (:mod:`backtests.data.store`). The standard library's
``sqlite3`` in WAL mode: readers never block the writer, a writer takes the lock for one batch
at a time (``BEGIN IMMEDIATE``), and a second writer waits for it (``busy_timeout``) instead of
failing, so two imports or fetches at once are safe. Every batch is one transaction: a process
killed (even ``kill -9``) in the middle of an import keeps every batch committed before the kill
and nothing of the batch in flight; the next import simply goes on (the articles already in are
duplicates).

Imports of :data:`PARALLEL_MIN_BYTES` or more are parsed by forked worker processes (one per core
by default; JSON Lines files in pieces of about :data:`IMPORT_CHUNK` bytes) while the opening
process only writes: the workers send rows with title and body already UTF-8 (stored as TEXT by
``CAST(? AS TEXT)``), pickled into slots of anonymous shared memory mapped before the fork (a
pipe would cost the writer a system call and a copy every 64 KiB), the writer takes them in file
order into the same transactions of
``batch`` rows, so the archive, the counts, the notes and the first error are those of a
one-process import. Durability is unchanged: ``synchronous=NORMAL`` under WAL, as before (a
process killed keeps every committed batch; a power cut may lose the last batches, never
corrupts); new files get 32 KiB pages (five ~6 KB articles fill a page to ~90 %, where 16 KiB
pages held two and wrote a third more) and the WAL is checkpointed every
:data:`WAL_CHECKPOINT_BYTES` instead of every 1,000 pages (fewer, longer copies; what is
committed is in the WAL either way).

Tables::

    articles   rowid, id (unique), published (ISO 8601 with offset), ts (epoch seconds),
               bare (1 = the source gave a date only), source, url (unique when not empty),
               title, body, hash (unique: the first 8 bytes of the sha1 of title and body
               with white space removed, a signed 64-bit integer: :func:`hash_key`)
    fts        FTS5 (trigram tokenizer) over title and body, brought up to date by
               :meth:`NewsArchive.search` (so imports stay fast); LIKE when the build has no FTS5
    rules      one row per rules version (see below)
    extracted  (version, article) pairs already extracted, with the article's themes, mentions
               and unknown names as JSON arrays (one row an article to write, not one a mention)
    mentions   a view of the mentions one row each: version, article, seq, code, matched, kind,
               in_title, theme, role, weight (index schema 1 had a table; converted when opened
               for writing: :meth:`NewsArchive._migrate_index`)
    unknown    a view of the unknown names: version, article, text, reason (likewise)
    terms      version, id, text: the codes, roles and themes of the packed mentions
    packed     version, ts, id, article, bare, title, mentions (blob of MENTION_DT records),
               themes (blob of int32 term ids); keyed (version, ts, id), so the articles of a
               date range are one range scan in the order the scoring needs
    first_seen version, code, role, ts: the first time each stock was named in each role
    packed_days version, day, n, then the ``packed`` rows of one Beijing calendar day as
               columnar blobs (:data:`BLOCK_COLUMNS`): what :meth:`NewsArchive.packed` reads, a
               year in ~370 rows. Derived data: triggers on ``packed`` delete the block of a day
               in the same transaction as any write of a row of that day (older programs'
               writes included), and a missing block is rebuilt from ``packed`` when read
    meta       key/value: format version, articles_schema (2: the integer hash; an archive
               without it has the hash as hex text and is migrated when opened for writing,
               see :meth:`NewsArchive._migrate_articles`), index_schema (2: the mention views;
               likewise), fts_rowid (last article indexed for search)

Deduplication: an article is new only if its ``id``, its (non-empty) ``url`` and its content
hash are all new; any match keeps the archived copy and counts a duplicate.

The mention index: mentions are extracted once per article per **rules version**, the
:attr:`signals.extract.Extractor.version` hash of the theme, role and matching rule files, the
names (current and former) and the extractor's own version. :meth:`NewsArchive.index` extracts
only the articles that have no row for the version (new articles, or all after a rule change),
in batches of :data:`INDEX_BATCH` handed to one pool of extracting processes for the whole run
(:class:`signals.parallel.ExtractPool`), whose processes write each chunk of
:data:`INDEX_CHUNK` in its own transaction, in the archive's order;
:func:`archive_marks` builds entry marks for a date range from the ``packed`` rows (read as
day blocks) and ``first_seen`` (which stocks were named before the range), scored on arrays by
:func:`signals.marks.score_index` -- the scoring of :func:`signals.marks.score_marks`. The
``mentions`` and ``unknown`` views give the same extraction in readable form, for SQL.

The JSON Lines archive of format 1 (``news/articles.jsonl``) is migrated the first time the
archive is opened for writing: imported in one transaction, then renamed to
``articles.jsonl.migrated`` (the rename happens only after the commit, so a crash in between
re-runs an import of duplicates, nothing is lost or doubled).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import mmap
import multiprocessing as mp
import os
import pickle
import re
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pyarrow as pa

from backtests.core.errors import DataError, reading
from signals.articles import (
    Article,
    clean_text,
    expand_paths,
    file_articles,
    has_surrogates,
    iter_records,
    jsonl_chunks,
    record_attempt,
)
from signals.marks import SIGNAL_PARAMS, score_index
from signals.parallel import ExtractPool

ARCHIVE_FILE = os.path.join("news", "archive.sqlite")
LEGACY_FILE = os.path.join("news", "articles.jsonl")
FORMAT = 2
# The layout of the ``articles`` table (meta key ``articles_schema``): 1 (no key) = the content
# hash as 40 hex digits, 2 = its first 8 bytes as a signed 64-bit integer (a smaller unique
# index, cheaper to insert into; see :func:`hash_key`).
ARTICLES_SCHEMA = 2
BATCH = 5_000
INDEX_BATCH = 6_000               # articles a batch of the mention index (3 chunks)
# Articles per transaction of an import: each commit rewrites every page of the content-hash
# index it touched (random keys: nearly all of them), so larger commits write less an article.
IMPORT_BATCH = 20_000
INDEX_AHEAD = 2                   # batches of the mention index read ahead of the writer
INDEX_CHUNK = 2_000               # articles a task of the index's pool (and a transaction)
IMPORT_CHUNK = 4 << 20            # bytes of JSON Lines per import task of a worker
PARALLEL_MIN_BYTES = 32 << 20     # smaller imports are parsed in the writing process
SLOT_SPARE = 1 << 20              # shared memory per task in flight: 3 pieces' bytes + this
BUSY_TIMEOUT_MS = 60_000
PAGE_SIZE = 32_768
WAL_CHECKPOINT_BYTES = 320 << 20
WRITER_CACHE_KIB = 262_144

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    published TEXT NOT NULL,
    ts INTEGER NOT NULL,
    bare INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    hash INTEGER NOT NULL UNIQUE
);
CREATE UNIQUE INDEX IF NOT EXISTS articles_url ON articles(url) WHERE url <> '';
CREATE INDEX IF NOT EXISTS articles_ts ON articles(ts);
CREATE TABLE IF NOT EXISTS rules (version TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extracted (
    version TEXT NOT NULL, article INTEGER NOT NULL, themes TEXT NOT NULL,
    mentions TEXT NOT NULL DEFAULT '[]', unknown TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (version, article)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS terms (
    version TEXT NOT NULL, id INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (version, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packed (
    version TEXT NOT NULL, ts INTEGER NOT NULL, id TEXT NOT NULL, article INTEGER NOT NULL,
    bare INTEGER NOT NULL, title TEXT NOT NULL, mentions BLOB NOT NULL, themes BLOB NOT NULL,
    PRIMARY KEY (version, ts, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS first_seen (
    version TEXT NOT NULL, code TEXT NOT NULL, role TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (version, code, role)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packed_days (
    version TEXT NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL, ts BLOB NOT NULL,
    bare BLOB NOT NULL, id_len BLOB NOT NULL, ids BLOB NOT NULL, title_len BLOB NOT NULL,
    titles BLOB NOT NULL, m_count BLOB NOT NULL, mentions BLOB NOT NULL, t_count BLOB NOT NULL,
    themes BLOB NOT NULL, PRIMARY KEY (version, day));
"""
# The readable mentions and unknown names: views over the JSON arrays of ``extracted`` (one row an
# article to write instead of one a mention; :meth:`NewsArchive._migrate_index` converts the
# tables of an archive made before ``index_schema`` 2).
INDEX_SCHEMA = 2
VIEWS = (
    "CREATE VIEW IF NOT EXISTS mentions (version, article, seq, code, matched, kind, in_title, "
    "theme, role, weight) AS SELECT e.version, e.article, j.key, "
    + ", ".join(f"json_extract(j.value, '$[{k}]')" for k in range(7))
    + " FROM extracted e, json_each(e.mentions) j",
    "CREATE VIEW IF NOT EXISTS unknown (version, article, text, reason) AS SELECT e.version, "
    "e.article, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') "
    "FROM extracted e, json_each(e.unknown) j")
# The Beijing calendar day of epoch seconds ``{t}`` (floor division, as :func:`_day`).
_DAY_SQL = "(({t}) + 28800 - ((({t}) + 28800) % 86400 + 86400) % 86400) / 86400"
# A write of a ``packed`` row -- by this code or any other -- drops the day block it falls in
# (:meth:`NewsArchive.day_blocks` rebuilds it), in the writer's own transaction.
TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS packed_days_{event.lower()}_{row.lower()} AFTER {event} ON "
    f"packed BEGIN DELETE FROM packed_days WHERE version = {row}.version AND day = "
    f"{_DAY_SQL.format(t=row + '.ts')}; END"
    for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)), ("UPDATE", ("OLD", "NEW")))
    for row in rows)
# One packed mention: ids into ``terms`` (theme -1: none), in the title, weight.
MENTION_DT = np.dtype([("code", "<i4"), ("role", "<i4"), ("theme", "<i4"), ("title", "u1"),
                       ("weight", "<f8")])
ARTICLE_COLUMNS = ("id", "published", "source", "url", "title", "body")


def has_fts5() -> bool:
    """Whether this Python's SQLite has FTS5 with the trigram tokenizer (SQLite >= 3.34)."""
    try:
        con = sqlite3.connect(":memory:")
        con.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        con.close()
        return True
    except sqlite3.OperationalError:
        return False


def content_hash(title: str, body: str) -> str:
    """sha1 of title and body with all white space removed: the same text re-scraped with other
    line breaks or padding is a duplicate."""
    text = "".join(title.split()) + "\x00" + "".join(body.split())      # str.split: any white space
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def hash_key(digest: bytes) -> int:
    """The ``hash`` column of a content hash: the first 8 bytes of the sha1 digest as a signed
    64-bit integer (``int(content_hash(...)[:16], 16)`` read as signed). Two different texts
    share a key with a chance of about n**2 / 2**65 (3e-8 for a million articles)."""
    return int.from_bytes(digest[:8], "big", signed=True)


def _hex_key(hexdigest: str) -> int:
    """:func:`hash_key` of a hex content hash (the ``hash`` of an archive of layout 1)."""
    return hash_key(bytes.fromhex(hexdigest[:16]))


def article_row(art: Article) -> tuple:
    """The ``articles`` row of an :class:`Article` (without rowid)."""
    pub = art.published
    return (art.id, pub.isoformat(), int(pub.timestamp()), int(art.bare_date), art.source,
            art.url, art.title, art.body, _hex_key(content_hash(art.title, art.body)))


_ISO_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?\+08:00$")
# The usual form of those times, to the second, with a valid time of day
_ISO_SECONDS_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[T ]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)\+08:00")
_BEIJING = dt.timedelta(hours=8)
_FIELD_SET = frozenset(ARTICLE_COLUMNS)


@functools.lru_cache(maxsize=1 << 14)
def _midnight(day: str) -> int:
    """Epoch seconds of 00:00 at +08:00 of the ISO date ``day`` (ValueError: not a date)."""
    return int(dt.datetime.fromisoformat(day + "T00:00:00+08:00").timestamp())


def _iso_time(pub: str) -> tuple[str, int] | None:
    """``(when.isoformat(), int(when.timestamp()))`` of ``when = datetime.fromisoformat(pub)``
    for a ``pub`` of :data:`_ISO_TIME_RE` at +08:00, else None. The usual form to the second
    is read without a datetime (its date through a cache: ~1 us an article of an import's
    workers instead of ~2.5; tests check it equals the datetime's)."""
    m = _ISO_SECONDS_RE.fullmatch(pub)
    if m is not None:
        try:
            day = _midnight(m[1])
        except ValueError:
            return None
        return m[1] + "T" + pub[11:], day + int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])
    if not _ISO_TIME_RE.match(pub):
        return None
    try:
        when = dt.datetime.fromisoformat(pub)
    except ValueError:
        return None
    if when.utcoffset() != _BEIJING:
        return None
    return when.isoformat(), int(when.timestamp())


def _fast_parts(rec):
    """``(id, ISO time, epoch seconds, source, url, title, body)`` of a record in the
    archive's own form (see :func:`fast_row`), else None."""
    if type(rec) is not dict or not rec.keys() <= _FIELD_SET:
        return None
    pub = rec.get("published")
    aid = rec.get("id")
    if type(pub) is not str or type(aid) is not str:
        return None
    title, body = rec.get("title", ""), rec.get("body", "")
    source, url = rec.get("source", ""), rec.get("url", "")
    if not (type(title) is str and type(body) is str and type(source) is str
            and type(url) is str):
        return None
    if not (aid + source + url).isprintable():     # odd characters, lone surrogates: the reader
        return None
    aid = aid.strip()
    when = _iso_time(pub)
    if not aid or when is None:
        return None
    return aid, *when, source, url, title, body


def fast_row(rec) -> tuple | None:
    """The ``articles`` row of a record already in the archive's own form -- only the fields of
    :data:`ARTICLE_COLUMNS`, all text, a non-empty id, an ISO time at +08:00, no HTML -- built
    without an :class:`Article` (the import's hot path); exactly ``article_row(make_article(rec))``
    (tests check it). None for any other record: the general reader decides, with its notes
    and errors."""
    parts = _fast_parts(rec)
    if parts is None:
        return None
    aid, iso, ts, source, url, title, body = parts
    if has_surrogates(title) or has_surrogates(body):    # make_article notes their replacement
        return None
    title, t_html = clean_text(title)
    body, b_html = clean_text(body)
    if t_html or b_html or not (title or body):
        return None
    return (aid, iso, ts, 0, source.strip(), url.strip(), title, body,
            _hex_key(content_hash(title, body)))


@functools.cache
def _plain_re() -> re.Pattern:
    """A regex whose full match proves :func:`_plain`: runs of printable BMP characters other
    than ``' '``, ``<``, ``&`` and ``!``, joined by one space, one line break or two (so no
    white space at either end, no two spaces, no space beside a line break, no three line
    breaks, no HTML or Markdown image). Possessive: linear time on any text. Built on first use
    (~25 ms: every BMP character's printable test)."""
    ranges, lo = [], None
    for c in range(0x10001):
        ok = c < 0x10000 and chr(c).isprintable() and chr(c) not in " <&!"
        if ok and lo is None:
            lo = c
        elif not ok and lo is not None:
            ranges.append(re.escape(chr(lo)) + ("-" + re.escape(chr(c - 1)) if c - 1 > lo else ""))
            lo = None
    run = "[" + "".join(ranges) + "]++"
    return re.compile(f"{run}(?:(?: |\n\n?+){run})*+")


def _plain(text: str) -> bool:
    """Whether ``clean_text(text)`` is ``text`` as it is and its only white space is ``' '`` and
    line breaks (every other white space character is unprintable): the checks of
    :func:`signals.articles.clean_text` with the strict printable test. Ordinary text is
    proved plain by one regex (:func:`_plain_re`, ~3 ns a character against ~8 for the checks
    below); any text it does not match gets the checks, the rare characters first (a search
    for one character is the fastest)."""
    if _plain_re().fullmatch(text) is not None:
        return True
    if "<" in text or "&" in text or "\n\n\n" in text or text[:1] in (" ", "\n") \
            or text[-1:] in (" ", "\n"):
        return False
    if " " in text and ("  " in text or " \n" in text or "\n " in text):
        return False
    if "!" in text and "![" in text:
        return False
    return text.isprintable() or text.replace("\n", "").isprintable()


def text_bytes(row: tuple) -> tuple:
    """An ``articles`` row with title and body as UTF-8 bytes (stored as TEXT by
    ``CAST(? AS TEXT)``): what workers send to the writing process, which then neither decodes
    nor encodes the texts."""
    return row[:6] + (row[6].encode(), row[7].encode(), row[8])


def fast_row_bytes(rec) -> tuple | None:
    """:func:`text_bytes` of :func:`fast_row`, faster for plain text (no HTML, no white space
    but spaces and line breaks, nothing :func:`~signals.articles.clean_text` would change): the
    content hash is then the sha1 of the UTF-8 bytes with spaces and line breaks deleted, the
    same digest as :func:`content_hash` (tests check it)."""
    parts = _fast_parts(rec)
    if parts is None:
        return None
    aid, iso, ts, source, url, title, body = parts
    if (title or body) and _plain(title) and _plain(body):
        tb, bb = title.encode(), body.encode()
        # two byte replaces cost half a translate with a deletion set
        sha = hashlib.sha1(tb.replace(b" ", b"").replace(b"\n", b""))
        sha.update(b"\x00")
        sha.update(bb.replace(b" ", b"").replace(b"\n", b""))
        return (aid, iso, ts, 0, source.strip(), url.strip(), tb, bb, hash_key(sha.digest()))
    row = fast_row(rec)
    return None if row is None else text_bytes(row)


@dataclass
class ImportCounts:
    """What an import did: ``new`` articles, ``duplicates`` (id, url or content already
    archived), ``skipped`` messages of bad records (with ``skip_bad``), ``total`` after."""

    new: int = 0
    duplicates: int = 0
    total: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class NewsArchive:
    """An open archive database. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise DataError(f"{self.path}: no news archive; import articles with "
                                f"`hypebt news import FILE` or `hypebt news fetch`")
            uri = f"file:{self.path}?mode=ro"
            self.con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None)
        try:
            self._setup(readonly)
        except sqlite3.DatabaseError as exc:
            self.con.close()
            raise DataError(f"{self.path}: not a readable news archive ({exc}); move it away and "
                            f"import the articles again") from None
        self.fts = has_fts5()
        self._pending_at: tuple | None = None      # (version, database state) -> count

    def _setup(self, readonly: bool) -> None:
        self.con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not readonly:
            # A new file gets 32 KiB pages: five articles of ~6 KB fill ~90 % of a page (16 KiB:
            # two, ~70 %); the page size of an existing file is kept (it cannot change under WAL).
            self.con.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")   # WAL: durable against process crashes
            # Copy the WAL into the database every ~300 MB instead of every 4 MB: fewer, longer
            # checkpoints; what is committed is in the WAL either way.
            self.wal_pages = WAL_CHECKPOINT_BYTES // self.con.execute("PRAGMA page_size"
                                                                      ).fetchone()[0]
            self.con.execute(f"PRAGMA wal_autocheckpoint={self.wal_pages}")
            # A page cache of up to 256 MiB (default 2 MiB): the unique indexes of a large
            # archive (the content hashes are random) stay in memory while importing.
            self.con.execute(f"PRAGMA cache_size={-WRITER_CACHE_KIB}")
            with self.transaction():
                new = self.con.execute("SELECT 1 FROM sqlite_master WHERE name = 'articles'"
                                       ).fetchone() is None
                for stmt in SCHEMA.split(";"):
                    if stmt.strip():
                        self.con.execute(stmt)
                for stmt in TRIGGERS:
                    self.con.execute(stmt)
                self.con.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(FORMAT),))
                if new:
                    self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                         (("articles_schema", str(ARTICLES_SCHEMA)),
                                          ("index_schema", str(INDEX_SCHEMA))))
                else:
                    self._migrate_articles()
                    self._migrate_index()
                for stmt in VIEWS:
                    self.con.execute(stmt)
        else:
            self.con.execute("SELECT COUNT(*) FROM articles").fetchone()

    def _has_schema(self, key: str, current: int) -> bool:
        """Whether the ``meta`` row ``key`` (``articles_schema``, ``index_schema``) is set, that
        is the archive needs no migration to layout ``current``; a newer layout is refused."""
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None and int(row[0]) > current:
            raise DataError(f"{self.path}: news archive of a newer version "
                            f"({key.replace('_', ' ')} {row[0]}); update hypebt")
        return row is not None

    def _migrate_articles(self) -> None:
        """Bring the ``articles`` table of an archive made before ``articles_schema`` 2 to it, in
        the open transaction (all or nothing; a second writer waits): the table is copied with
        its rowids (the mention index and the search index refer to them) and the hex content
        hashes as :func:`hash_key` integers. About a minute a million articles, once."""
        if self._has_schema("articles_schema", ARTICLES_SCHEMA):
            return
        self.con.create_function("hex_key", 1, _hex_key, deterministic=True)
        table = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS articles ("):]
        table = table[:table.index(";")].replace("IF NOT EXISTS articles (", "articles_new (")
        self.con.execute(table)
        cols = "rowid, id, published, ts, bare, source, url, title, body"
        self.con.execute(f"INSERT INTO articles_new ({cols}, hash) SELECT {cols}, hex_key(hash) "
                         f"FROM articles ORDER BY rowid")
        self.con.execute("DROP TABLE articles")
        self.con.execute("ALTER TABLE articles_new RENAME TO articles")
        for stmt in SCHEMA.split(";"):
            if "ON articles(" in stmt:
                self.con.execute(stmt)
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('articles_schema', ?)",
                         (str(ARTICLES_SCHEMA),))

    def _migrate_index(self) -> None:
        """Bring the mention index of an archive made before ``index_schema`` 2 to it, in the
        open transaction (all or nothing): the rows of the ``mentions`` and ``unknown`` tables
        become JSON arrays in their article's ``extracted`` row (mentions in ``seq`` order,
        unknown names in the order they were written), and the tables become views that read
        them back as rows."""
        if self._has_schema("index_schema", INDEX_SCHEMA):
            return
        con = self.con
        old = {name for (name,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
            "('mentions', 'unknown')")}
        if old:                         # (none: made by this version's schema, or never indexed)
            self._index_to_json(old)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('index_schema', ?)", (str(INDEX_SCHEMA),))

    def _index_to_json(self, old: set[str]) -> None:
        """:meth:`_migrate_index`'s conversion of the ``old`` tables (``mentions``,
        ``unknown``)."""
        con = self.con
        # one new table written in key order (each page once), not an UPDATE of every row;
        # the unknown names are found by a temporary index, in rowid order within an article
        table = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS extracted ("):]
        con.execute(table[:table.index(";")].replace("IF NOT EXISTS extracted (",
                                                     "extracted_new ("))
        per = "WHERE {t}.version = e.version AND {t}.article = e.article"
        mentions = unknown = "'[]'"
        if "mentions" in old:
            mentions = ("(SELECT json_group_array(json_array(code, matched, kind, in_title, "
                        f"theme, role, weight)) FROM (SELECT * FROM mentions m {per.format(t='m')} "
                        f"ORDER BY seq))")
        if "unknown" in old:
            con.execute("CREATE INDEX unknown_article ON unknown(version, article)")
            unknown = (f"(SELECT json_group_array(json_array(text, reason)) FROM (SELECT * "
                       f"FROM unknown u {per.format(t='u')} ORDER BY u.rowid))")
        con.execute(f"INSERT INTO extracted_new SELECT e.version, e.article, e.themes, "
                    f"{mentions}, {unknown} FROM extracted e "
                    f"ORDER BY e.version, e.article")
        for name in ("extracted", *old):
            con.execute(f"DROP TABLE {name}")
        con.execute("ALTER TABLE extracted_new RENAME TO extracted")

    # ------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an exception): the write lock is
        taken at the start, so two writers queue instead of deadlocking."""
        return _Transaction(self.con)

    def count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    # ------------------------------------------------------------ writing
    def add(self, articles: Iterable[Article], *, batch: int = BATCH,
            counts: ImportCounts | None = None) -> ImportCounts:
        """Insert articles in transactions of ``batch``; duplicates are left out and counted."""
        return self._insert_all((article_row(art) for art in articles),
                                counts or ImportCounts(), batch)

    def _insert_all(self, rows: Iterable[tuple], counts: ImportCounts,
                    batch: int, *, behind: bool = False) -> ImportCounts:
        """Insert ``rows`` in transactions of ``batch``; ``counts.total`` set at the end.
        ``behind``: the WAL is checkpointed by a :class:`_Checkpointer` thread behind the
        writer (an import), not by the committing writer itself."""
        ckpt = _Checkpointer(self) if behind else None
        with ckpt or contextlib.nullcontext():
            chunk: list[tuple] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= batch:
                    self._insert(chunk, counts)
                    chunk = []
                    if ckpt is not None:
                        ckpt.committed()
            if chunk:
                self._insert(chunk, counts)
        counts.total = self.count()
        return counts

    def _insert(self, rows: list[tuple], counts: ImportCounts) -> None:
        with self.transaction():
            before = self.con.total_changes
            self.con.executemany(
                "INSERT OR IGNORE INTO articles (id, published, ts, bare, source, url, title, "
                "body, hash) VALUES (?,?,?,?,?,?,CAST(? AS TEXT),CAST(? AS TEXT),?)", rows)
            new = self.con.total_changes - before
        counts.new += new
        counts.duplicates += len(rows) - new

    def import_files(self, paths: Iterable[str | os.PathLike], *, bare_date: str = "next_open",
                     skip_bad: bool = False, batch: int = IMPORT_BATCH,
                     workers: int | None = None,
                     chunk: int = IMPORT_CHUNK) -> ImportCounts:
        """Import article files or folders (JSON, JSON Lines, CSV, Markdown; UTF-8 or GBK).

        ``workers`` (default: the machine's cores): with more than one and at least
        :data:`PARALLEL_MIN_BYTES` of files, the files are read and parsed by that many forked
        processes (JSON Lines in pieces of about ``chunk`` bytes) while this process only
        writes; the rows arrive in file order and go through the same transactions of
        ``batch``, so the archive, the counts, the notes and the errors are those of one
        process (tests check it)."""
        counts = ImportCounts()
        paths = list(paths)
        workers = max(1, int(workers if workers is not None else (os.cpu_count() or 1)))
        if workers > 1 and "fork" in mp.get_all_start_methods() and \
                _input_bytes(paths) >= PARALLEL_MIN_BYTES:
            rows = _parallel_rows(paths, bare_date, skip_bad, counts, workers, chunk)
            return self._insert_all(rows, counts, batch, behind=True)
        items = iter_records(paths, bare_date=bare_date, skip_bad=skip_bad,
                             skipped=counts.skipped, notes=counts.notes, fast=fast_row)
        return self._insert_all((item if type(item) is tuple else article_row(item)
                                 for item in items), counts, batch, behind=True)

    def migrate_jsonl(self, store_root: str | os.PathLike, rows: list[tuple] | None = None
                      ) -> int | None:
        """Import the format-1 JSON Lines archive of ``store_root`` if there is one (``rows``:
        its rows already read by :func:`legacy_rows`), then rename it to
        ``articles.jsonl.migrated``; the number of articles migrated (None: nothing to do)."""
        legacy = Path(store_root) / LEGACY_FILE
        if not legacy.exists():
            return None
        rows = legacy_rows(legacy) if rows is None else rows
        counts = ImportCounts()
        self._insert(rows, counts)       # one transaction: all or nothing
        os.replace(legacy, legacy.with_name(legacy.name + ".migrated"))
        return counts.new

    # ------------------------------------------------------------ reading
    def articles(self, start=None, end=None) -> Iterator[Article]:
        """Archived articles published in ``[start, end)`` (datetimes or ISO texts; Beijing
        time when naive), in order of publication then id."""
        where, args = _range_sql(start, end)
        cur = self.con.execute(
            "SELECT id, published, bare, source, url, title, body FROM articles" + where +
            " ORDER BY ts, id", args)
        for aid, pub, bare, source, url, title, body in cur:
            yield Article(id=aid, published=pd.Timestamp(pub).tz_convert("Asia/Shanghai"),
                          title=title, body=body, source=source, url=url, bare_date=bool(bare),
                          origin=f"{self.path}: {aid}")

    def records(self) -> list[dict]:
        """Every article as a record of :data:`ARTICLE_COLUMNS` (the format-1 JSONL fields)."""
        cur = self.con.execute(f"SELECT {', '.join(ARTICLE_COLUMNS)} FROM articles ORDER BY ts, id")
        return [dict(zip(ARTICLE_COLUMNS, row)) for row in cur]

    def search(self, text: str, start=None, end=None, limit: int = 50) -> list[dict]:
        """Articles whose title or body contains ``text`` (newest first), through FTS5 when the
        text has 3+ characters and the build has FTS5, else a LIKE scan."""
        where, args = _range_sql(start, end, prefix="a.")
        cols = "a.id, a.published, a.source, a.url, a.title"
        if self.fts and len(text) >= 3 and not self.readonly:
            self.update_fts()
        if self.fts and len(text) >= 3 and self._fts_exists():
            query = '"' + text.replace('"', '""') + '"'
            sql = (f"SELECT {cols} FROM fts JOIN articles a ON a.rowid = fts.rowid "
                   f"WHERE fts MATCH ?" + where.replace(" WHERE ", " AND ") +
                   " ORDER BY a.ts DESC, a.id LIMIT ?")
            rows = self.con.execute(sql, [query, *args, limit]).fetchall()
        else:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            cond = "(a.title LIKE ? ESCAPE '\\' OR a.body LIKE ? ESCAPE '\\')"
            sql = (f"SELECT {cols} FROM articles a WHERE {cond}" + where.replace(" WHERE ", " AND ")
                   + " ORDER BY a.ts DESC, a.id LIMIT ?")
            rows = self.con.execute(sql, [like, like, *args, limit]).fetchall()
        return [dict(zip(("id", "published", "source", "url", "title"), r)) for r in rows]

    def _fts_exists(self) -> bool:
        return self.con.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'fts'").fetchone() is not None

    def update_fts(self) -> int:
        """Index the articles added since the last search; the number indexed."""
        with self.transaction():
            self.con.execute("CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, "
                             "content='articles', content_rowid='rowid', tokenize='trigram')")
            row = self.con.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone()
            last = int(row[0]) if row else 0
            top = self.con.execute("SELECT COALESCE(MAX(rowid), 0) FROM articles").fetchone()[0]
            if top > last:
                self.con.execute("INSERT INTO fts (rowid, title, body) SELECT rowid, title, body "
                                 "FROM articles WHERE rowid > ?", (last,))
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('fts_rowid', ?)", (str(top),))
        return top - last

    def info(self) -> dict:
        """Counts for ``hypebt news info``."""
        con = self.con
        n, lo, hi = con.execute("SELECT COUNT(*), MIN(ts), MAX(ts) FROM articles").fetchone()
        sources = con.execute("SELECT CASE source WHEN '' THEN '-' ELSE source END, COUNT(*) "
                              "FROM articles GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
        versions = con.execute("SELECT version, COUNT(*) FROM extracted GROUP BY version "
                               "ORDER BY version").fetchall()
        day = (lambda t: dt.datetime.fromtimestamp(t, SHANGHAI).date()) if n else None
        return {"articles": n, "first": day(lo) if n else None, "last": day(hi) if n else None,
                "sources": sources, "indexed": dict(versions)}

    # ------------------------------------------------------------ mention index
    def pending(self, version: str) -> int:
        """Articles without mentions for rules ``version`` (articles are never deleted, so this
        is a difference of two counts, not a join over the archive).

        Counting the ``extracted`` rows walks every one of them (~0.1 s at 400,000 articles:
        the rows hold the mentions' JSON), so the answer is kept until the database changes:
        ``PRAGMA data_version`` (a commit by any other connection) and this connection's
        ``total_changes`` (its own writes) -- read before the counts, so a commit in between
        only makes the next call count again."""
        state = (version, self.con.execute("PRAGMA data_version").fetchone()[0],
                 self.con.total_changes)
        if self._pending_at is not None and self._pending_at[0] == state:
            return self._pending_at[1]
        n = self.con.execute(
            "SELECT (SELECT COUNT(*) FROM articles) - "
            "(SELECT COUNT(*) FROM extracted WHERE version = ?)", (version,)).fetchone()[0]
        self._pending_at = (state, n)
        return n

    def index(self, extractor, *, batch: int = INDEX_BATCH, workers: int = 1, dask=None,
              progress=None) -> int:
        """Extract the articles not yet extracted with ``extractor``'s rules version and store
        their mentions; returns the number extracted. ``workers > 1`` extracts in that many
        processes, or on the Dask cluster of the ``distributed.Client`` ``dask``, with identical
        rows: one :class:`signals.parallel.ExtractPool` for the run, batches of ``batch``
        handed to it :data:`INDEX_AHEAD` ahead; ``progress(done)`` after each batch.

        Each chunk of :data:`INDEX_CHUNK` articles is written in its own transaction, in the
        order of the archive (so the term ids are those of one pass, whatever the number of
        processes). Processes of this machine read their chunk's bodies and write its index
        themselves (:class:`_ChunkIndexer`; a chunk waits for the one before it to be written),
        so this process hands over row ids, not texts, and does not write; a Dask cluster's
        workers cannot reach the file: they get the texts and this process writes what they
        return."""
        version = extractor.version
        with self.transaction():
            self.con.execute("INSERT OR IGNORE INTO rules VALUES (?, ?)",
                             (version, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        state = _IndexState({(c, r): ts for c, r, ts in self.con.execute(
            "SELECT code, role, ts FROM first_seen WHERE version = ?", (version,))})
        if dask is None:
            ordered = workers > 1 and "fork" in mp.get_all_start_methods()
            pool = ExtractPool(_ChunkIndexer(self, extractor, state, ordered=ordered),
                               workers=workers, chunk=1, task=_index_chunks)
        else:
            pool = ExtractPool(extractor, workers=workers, dask=dask, chunk=INDEX_CHUNK,
                               task=_index_part)
        done = seq = 0
        ahead: deque = deque()      # batches handed to the pool, not yet written
        # the processes that write take no checkpoints (one would copy ~300 MB of WAL while
        # the other waits for its turn): this one's thread does, after each batch
        ckpt = _Checkpointer(self) if dask is None and ordered else None

        def written() -> int:
            arts, results = ahead.popleft()
            if dask is None:                # the pool's processes wrote them
                n = sum(n for part in results() for n in part)
                if ckpt is not None:
                    ckpt.committed()
                return n
            return self._write_index(version, arts, results(), state)

        with pool, ckpt or contextlib.nullcontext():
            for rowids in self._pending(version, batch):
                if dask is None:
                    chunks = [(seq + k, rowids[i:i + INDEX_CHUNK])
                              for k, i in enumerate(range(0, len(rowids), INDEX_CHUNK))]
                    seq += len(chunks)
                    ahead.append((None, pool.submit(chunks)))
                else:
                    arts = self._articles(rowids)
                    ahead.append((arts, pool.submit(_texts(arts))))
                if len(ahead) >= INDEX_AHEAD:
                    done += written()
                    if progress:
                        progress(done)
            while ahead:
                done += written()
                if progress:
                    progress(done)
        return done

    def _pending(self, version: str, batch: int) -> Iterator[list[int]]:
        """The rowids of the articles not extracted with rules ``version`` when it starts, in
        batches of ``batch`` in rowid order. Rowids only, read from the time index (a few bytes
        an article: a walk of the table would read every article's page, text and all); whoever
        extracts a chunk reads its articles (:meth:`_articles`), each row once. Articles added
        meanwhile wait for the next run."""
        rowids = np.fromiter((r for (r,) in self.con.execute(
            "SELECT a.rowid FROM articles a INDEXED BY articles_ts "
            "LEFT JOIN extracted e ON e.version = ? AND e.article = a.rowid "
            "WHERE e.article IS NULL", (version,))), dtype=np.int64)
        rowids.sort()
        for i in range(0, len(rowids), batch):
            yield rowids[i:i + batch].tolist()

    def _articles(self, rowids: list[int]) -> list[tuple]:
        """``(rowid, id, ts, bare, title, body)`` of the articles of ``rowids`` (ascending),
        the body as its UTF-8 bytes in an archive of SQLite's default UTF-8 encoding (whoever
        extracts decodes it: the process that reads it neither decodes nor encodes it to hand
        it over)."""
        utf8 = self.con.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
        body = "CAST(body AS BLOB)" if utf8 else "body"
        want = set(rowids)
        return [row for row in self.con.execute(
            f"SELECT rowid, id, ts, bare, title, {body} FROM articles "
            "WHERE rowid BETWEEN ? AND ? ORDER BY rowid", (rowids[0], rowids[-1]))
            if row[0] in want]

    def _write_index(self, version: str, rows: list[tuple], parts: list,
                     state: "_IndexState") -> int:
        """Write the mention index of ``rows`` (:meth:`_articles`) in one transaction, given
        ``parts``, their :func:`_index_part` results (in order); the number
        of articles written. Articles that another indexer has written meanwhile (checked under
        the write lock) are left out, so two indexers at once store each article once.

        The term ids of the packed mentions are read and extended under the write lock (so
        concurrent indexers agree on them): each part's own terms, in their order of first use,
        get the ids of the archive's terms or the next new ones -- the ids one pass over the
        batch's mentions in order gives. ``state``: the term ids and ``first_seen`` times known
        to this indexer (the stored ones are never later: they only ever decrease), kept up to
        date; only the pairs it does not show at or before a batch's time are written."""
        con = self.con
        with self.transaction():
            taken = {rid for (rid,) in con.execute(
                "SELECT article FROM extracted WHERE version = ? AND article BETWEEN ? AND ?",
                (version, rows[0][0], rows[-1][0]))}
            terms = dict(state.ids)     # term ids are dense and never change: read the new ones
            for (text,) in con.execute("SELECT text FROM terms WHERE version = ? AND id >= ? "
                                       "ORDER BY id", (version, len(terms))):
                terms[text] = len(terms)
            n0 = len(terms)
            tid = terms.setdefault
            packed, codes, roles, when = [], [], [], []
            k = 0
            size = MENTION_DT.itemsize
            for extracted_rows, local, recs, m_counts, theme_ids, t_counts in parts:
                remap = np.array([tid(t, len(terms)) for t in local], dtype="<i4")
                if len(recs):
                    recs["code"] = remap[recs["code"]]
                    recs["role"] = remap[recs["role"]]
                    recs["theme"] = np.where(recs["theme"] >= 0, remap[recs["theme"]], -1)
                keep = np.ones(len(m_counts), dtype=bool)
                if taken:
                    keep = np.array([r[1] not in taken for r in extracted_rows], dtype=bool)
                    extracted_rows = [r for r in extracted_rows if r[1] not in taken]
                # the JSON of mentions and unknown names as UTF-8 bytes: stored as text as they
                # are (no str made to be encoded again)
                con.executemany("INSERT OR REPLACE INTO extracted VALUES "
                                "(?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT))", extracted_rows)
                data = recs.tobytes()
                themes = remap[theme_ids].astype("<i4").tobytes() if len(theme_ids) else b""
                m_end = (np.cumsum(m_counts) * size).tolist()
                t_end = (np.cumsum(t_counts) * 4).tolist()
                m0 = t0 = 0
                ts = np.empty(len(m_counts), dtype=np.int64)
                for j, (m1, t1) in enumerate(zip(m_end, t_end)):
                    rid, aid, ts[j], bare, title, _body = rows[k + j]
                    if keep[j]:
                        packed.append((version, int(ts[j]), aid, rid, bare, title, data[m0:m1],
                                       themes[t0:t1]))
                    m0, t0 = m1, t1
                k += len(m_counts)
                mask = np.repeat(keep, m_counts)
                codes.append(recs["code"][mask])
                roles.append(recs["role"][mask])
                when.append(np.repeat(ts, m_counts)[mask])
            con.executemany("INSERT INTO terms VALUES (?, ?, ?)",
                            [(version, n0 + i, t)
                             for i, t in enumerate(itertools.islice(terms, n0, None))])
            con.executemany("INSERT OR REPLACE INTO packed VALUES (?,?,?,?,?,?,?,?)", packed)
            first = state.unseen(terms, np.concatenate(codes), np.concatenate(roles),
                                 np.concatenate(when))
            texts = list(terms) if len(first[0]) else []
            con.executemany(
                "INSERT INTO first_seen VALUES (?, ?, ?, ?) ON CONFLICT (version, code, role) "
                "DO UPDATE SET ts = MIN(ts, excluded.ts)",
                [(version, texts[c], texts[r], t) for c, r, t in zip(*(a.tolist() for a in first))])
        state.ids = terms                                   # after the commit
        state.saw(*first)
        return len(packed)

    def terms(self, version: str) -> list[str]:
        """The texts of the term ids of rules ``version`` (codes, roles and themes of the
        packed mentions), by id."""
        return [t for (t,) in self.con.execute(
            "SELECT text FROM terms WHERE version = ? ORDER BY id", (version,))]

    def packed(self, version: str, start=None, end=None):
        """The packed index of rules ``version`` for articles published in ``[start, end)``, in
        order of publication then id: ``(ts, bare, ids, titles, mention records, mention counts,
        theme ids, theme counts)`` as arrays (records of :data:`MENTION_DT`; ids and titles as
        pandas ``str`` arrays).

        Read from the day blocks of ``packed_days`` (one row of columnar blobs per Beijing
        calendar day, :meth:`day_blocks`): a year is ~370 rows copied into numpy buffers,
        whatever the number of articles; the first and last day are cut to the range by time."""
        lo = None if start is None else _epoch(start, "start")
        hi = None if end is None else _epoch(end, "end")
        if lo is None or hi is None:
            where, args = _range_sql(start, end)
            first, last = self.con.execute(
                "SELECT MIN(ts), MAX(ts) FROM packed WHERE version = ?"
                + where.replace(" WHERE ", " AND "), [version, *args]).fetchone()
            if first is None:
                return _packed_arrays(_empty_block())
            lo = first if lo is None else lo
            hi = last + 1 if hi is None else hi
        if hi <= lo:
            return _packed_arrays(_empty_block())
        cols = self._block_columns(version, _day(lo), _day(hi - 1))
        ts = np.frombuffer(cols[0], "<i8")
        k0, k1 = int(np.searchsorted(ts, lo)), int(np.searchsorted(ts, hi))
        return _packed_arrays(_cut_block(cols, k0, k1))

    def day_blocks(self, version: str, first: int, last: int) -> list[tuple]:
        """The blocks of days ``first..last`` (:func:`_day` numbers) of rules ``version``, in
        day order: each ``(ts, bare, id lengths, ids, title lengths, titles, mention counts,
        mentions, theme counts, themes)`` as bytes (:data:`BLOCK_DTYPES`; texts UTF-8), the
        day's ``packed`` rows in ``(ts, id)`` order.

        ``packed_days`` is derived data: a trigger on ``packed`` deletes the block of a day
        whenever a row of that day is written (by any program, in the writer's transaction),
        and a missing block is rebuilt here from ``packed`` -- and stored, in one transaction
        under the write lock, unless the archive is read-only (then kept in memory only)."""
        got = self._read_blocks(version, first, last)
        missing = [d for d in range(first, last + 1) if d not in got]
        if missing and (self.readonly or not self._has_table("packed_days")):
            got.update(self._build_blocks(version, missing))
        elif missing:
            with self.transaction():      # consistent with ``packed``: no writer in between
                got.update(self._read_blocks(version, missing[0], missing[-1]))
                missing = [d for d in missing if d not in got]
                built = self._build_blocks(version, missing)
                self.con.executemany(
                    "INSERT OR REPLACE INTO packed_days VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(version, d, len(b[0]) // 8, *b) for d, b in built.items()])
            got.update(built)
        return [got[d] for d in range(first, last + 1)]

    def _block_columns(self, version: str, first: int, last: int) -> list[np.ndarray]:
        """The columns of the blocks of days ``first..last`` concatenated, as uint8 arrays: when
        every block is stored, its blobs are copied row by row straight into numpy buffers
        sized by one query of their lengths (huge pages; each row's memory is reused by the
        next, so a year's ~130 MB fault in a few hundred pages, not ~30,000); when a block is
        missing, or a writer changed the blocks between the two queries, :meth:`day_blocks`
        joined."""
        where = "FROM packed_days WHERE version = ? AND day >= ? AND day <= ?"
        try:
            got = self.con.execute(
                f"SELECT COUNT(*), {', '.join(f'TOTAL(length({c}))' for c in BLOCK_COLUMNS)} "
                + where, (version, first, last)).fetchone()
        except sqlite3.OperationalError:          # an archive of an older format, read-only
            got = None
        if got is not None and got[0] == last - first + 1:
            sizes = [int(t) for t in got[1:]]
            cols = [np.empty(size, np.uint8) for size in sizes]
            at = [0] * len(cols)
            days = 0
            for row in self.con.execute(f"SELECT {', '.join(BLOCK_COLUMNS)} {where} ORDER BY day",
                                        (version, first, last)):
                days += 1
                if any(at[k] + len(blob) > sizes[k] for k, blob in enumerate(row)):
                    break                         # changed since the lengths were read
                for k, blob in enumerate(row):
                    cols[k][at[k]:at[k] + len(blob)] = np.frombuffer(blob, np.uint8)
                    at[k] += len(blob)
            if days == last - first + 1 and at == sizes:
                return cols
        return _joined_blocks(self.day_blocks(version, first, last))

    def _has_table(self, name: str) -> bool:
        return self.con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)).fetchone() is not None

    def _read_blocks(self, version: str, first: int, last: int) -> dict[int, tuple]:
        try:
            cur = self.con.execute(
                f"SELECT day, {', '.join(BLOCK_COLUMNS)} FROM packed_days "
                "WHERE version = ? AND day >= ? AND day <= ?", (version, first, last))
        except sqlite3.OperationalError:          # an archive of an older format, read-only
            return {}
        return {r[0]: r[1:] for r in cur}

    def _build_blocks(self, version: str, days: list[int]) -> dict[int, tuple]:
        """The blocks of ``days`` from the ``packed`` rows, one read per run of consecutive
        days (an empty block for a day without articles)."""
        out: dict[int, tuple] = {}
        runs: list[list[int]] = []
        for d in days:
            if runs and d == runs[-1][-1] + 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        for run in runs:
            cols = self._packed_rows(version, run[0] * DAY_S - BEIJING_S,
                                     (run[-1] + 1) * DAY_S - BEIJING_S)
            day = (np.frombuffer(cols[0], "<i8") + BEIJING_S) // DAY_S
            cuts = np.searchsorted(day, np.arange(run[0], run[-1] + 2))
            for k, d in enumerate(run):
                out[d] = _cut_block(cols, int(cuts[k]), int(cuts[k + 1]))
        return out

    def _packed_rows(self, version: str, lo: int, hi: int) -> tuple:
        """The ``packed`` rows of ``version`` with ``lo <= ts < hi`` as one block (see
        :meth:`day_blocks`), read without a Python object per article: each span of
        :data:`PACKED_SPAN_S` seconds is one aggregate query concatenating the rows' fields in
        index order (``group_concat`` over the ordered range scan; blobs and UTF-8 texts as
        bytes, with their byte lengths)."""
        parts = []
        factory = self.con.text_factory
        self.con.text_factory = bytes
        try:
            for t0 in range(lo, hi, PACKED_SPAN_S):
                parts.append(self.con.execute(_PACKED_SQL, (version, t0, min(
                    t0 + PACKED_SPAN_S, hi))).fetchone())
        finally:
            self.con.text_factory = factory
        parts = [p for p in parts if p[0]]
        if not parts:
            return _empty_block()
        cols = list(zip(*parts))

        def ints(k, dtype):
            return np.concatenate([np.array(c.split(b","), dtype=np.int64) for c in cols[k]]
                                  ).astype(dtype).tobytes()

        m_len = np.frombuffer(ints(3, "<i8"), "<i8")
        t_len = np.frombuffer(ints(4, "<i8"), "<i8")
        bare = (np.frombuffer(b"".join(cols[2]), np.uint8) == ord("1")).astype("u1").tobytes()
        return (ints(1, "<i8"), bare,
                ints(5, "<i4"), b"".join(cols[7]), ints(6, "<i4"), b"".join(cols[8]),
                (m_len // MENTION_DT.itemsize).astype("<i4").tobytes(), b"".join(cols[9]),
                (t_len // 4).astype("<i4").tobytes(), b"".join(cols[10]))


# One span of the packed index: the fields of its rows concatenated in (ts, id) order. SQLite
# keeps a subquery's ORDER BY for an aggregate over it (it is not flattened), and the range scan
# of the primary key (version, ts, id) yields that order anyway.
_PACKED_SQL = """
SELECT COUNT(*), group_concat(ts), group_concat(bare, ''), group_concat(length(mentions)),
       group_concat(length(themes)), group_concat(length(CAST(id AS BLOB))),
       group_concat(length(CAST(title AS BLOB))), group_concat(id, ''), group_concat(title, ''),
       group_concat(mentions, ''), group_concat(themes, '')
FROM (SELECT ts, bare, id, title, mentions, themes FROM packed
      WHERE version = ? AND ts >= ? AND ts < ? ORDER BY ts, id)
"""
PACKED_SPAN_S = 90 * 86_400       # one query per 90 days: each concatenation stays far below
                                  # SQLite's 1 GB limit on a value
DAY_S = 86_400
BEIJING_S = 8 * 3_600
# The columns of a day block and the element type of each (None: UTF-8 bytes).
BLOCK_COLUMNS = ("ts", "bare", "id_len", "ids", "title_len", "titles", "m_count", "mentions",
                 "t_count", "themes")
BLOCK_DTYPES = (np.dtype("<i8"), np.dtype("u1"), np.dtype("<i4"), None, np.dtype("<i4"), None,
                np.dtype("<i4"), MENTION_DT, np.dtype("<i4"), np.dtype("<i4"))


def _index_part(extractor, items: list) -> tuple:
    """The mention index of ``(rowid, title, body)`` items (the body as text or UTF-8 bytes),
    ready to write (run by the extraction's workers, so the writing process only writes): the
    ``extracted`` rows (the themes, mentions and unknown names of each article as JSON), then the
    packed mentions with term ids of this part -- its terms in order of first use (code, role
    and theme of each mention, then the article's themes), :data:`MENTION_DT` records, mentions
    an article, theme ids, themes an article -- which :meth:`NewsArchive._write_index` maps to
    the archive's ids (:meth:`signals.extract.Extractor.index_part`)."""
    version = extractor.version
    part = extractor.index_part([(title, body if type(body) is str else body.decode())
                                 for _rid, title, body in items])
    extracted = [(version, item[0], *cols) for item, cols in zip(
        items, zip(part.themes_json, part.mentions_json, part.unknown_json))]
    recs = np.empty(len(part.code), dtype=MENTION_DT)
    for name in ("code", "role", "theme", "title", "weight"):
        recs[name] = getattr(part, name)
    return extracted, part.terms, recs, part.m_counts, part.theme_ids, part.t_counts


class _IndexState:
    """What an indexer knows of the archive's index of its rules version: the ``first_seen``
    time of (code, role) pairs -- ``seen``, by their texts as read at the start, turned into
    ``firsts`` (per role term id, the time by code term id) once the term ids are read -- and
    ``ids``, the term ids read or written so far."""

    def __init__(self, seen: dict):
        self.seen, self.ids = seen, {}
        self.firsts: dict[int, np.ndarray] = {}

    def _times(self, role: int, n: int) -> np.ndarray:
        """The first times of role ``role`` by code id, at least ``n`` long (none: the largest
        int64)."""
        have = self.firsts.get(role)
        if have is None or len(have) < n:
            grown = np.full(max(n, 2 * len(have) if have is not None else n),
                            np.iinfo(np.int64).max, dtype=np.int64)
            if have is not None:
                grown[:len(have)] = have
            have = self.firsts[role] = grown
        return have

    def unseen(self, terms: dict, codes: np.ndarray, roles: np.ndarray,
               ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(code ids, role ids, times)``: the earliest time of each (code, role) pair of term
        ids of mentions ``codes``, ``roles`` at ``ts``, where earlier than known. ``terms``: the
        term ids (the texts of ``seen`` are looked up there first)."""
        if self.seen:
            known = [(terms[c], terms[r], t) for (c, r), t in self.seen.items()
                     if c in terms and r in terms]
            self.seen = {}
            if known:
                self.saw(*(np.array(col, dtype=np.int64) for col in zip(*known)))
        key = (codes.astype(np.int64) << 32) | roles.astype(np.int64)
        order = np.lexsort((ts, key))
        key, ts = key[order], ts[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, ts = key[first], ts[first]
        code, role = key >> 32, key & 0xFFFFFFFF
        keep = np.zeros(len(key), dtype=bool)
        for r in np.unique(role).tolist():
            at = role == r
            keep[at] = ts[at] < self._times(r, len(terms))[code[at]]
        return code[keep], role[keep], ts[keep]

    def saw(self, codes: np.ndarray, roles: np.ndarray, ts: np.ndarray) -> None:
        """Note ``first_seen`` times written (or read): each no later than the one known."""
        for r in np.unique(roles).tolist():
            at = roles == r
            times = self._times(r, int(codes[at].max()) + 1)
            np.minimum.at(times, codes[at], ts[at])


class _ChunkIndexer:
    """What a process of :meth:`NewsArchive.index`'s pool needs to index a chunk itself: the
    extractor, the archive's path and rules version, what the index knew at the start
    (:class:`_IndexState`; each process then keeps its own up to date), and (``ordered``) a
    turn shared by the processes (forked with them: a counter of the next chunk to write and a
    condition), so chunks are written in order. In the process that made it, it uses that
    archive; in a forked one it opens the file once for itself (a SQLite connection is never
    used across a fork)."""

    def __init__(self, archive: "NewsArchive", extractor, state: "_IndexState", *,
                 ordered: bool):
        self.archive, self.extractor, self.state = archive, extractor, state
        self.version, self.path, self.pid = extractor.version, archive.path, os.getpid()
        ctx = mp.get_context("fork") if ordered else None
        self.turn = ctx.Value("q", 0, lock=False) if ordered else None
        self.cond = ctx.Condition() if ordered else None
        self.own = None

    def write(self, seq: int, rowids: list[int]) -> int:
        """Extract and write chunk ``seq`` (:meth:`NewsArchive._pending` rowids), after chunk
        ``seq - 1``; the number of articles written. A chunk that fails lets the next ones go
        by unwritten (the pool's caller raises its error)."""
        if os.getpid() == self.pid:
            archive = self.archive
        else:
            if self.own is None:
                self.own = NewsArchive(self.path)
                # the opening process checkpoints (NewsArchive.index): none at a commit here
                self.own.con.execute("PRAGMA wal_autocheckpoint=0")
            archive = self.own
        rows = archive._articles(rowids)
        part = _index_part(self.extractor, _texts(rows))
        if self.turn is None:
            return archive._write_index(self.version, rows, [part], self.state)
        with self.cond:
            while 0 <= self.turn.value < seq:
                self.cond.wait()
            failed = self.turn.value < 0
        if failed or archive is self.own and os.getppid() != self.pid:
            return 0                            # (or the opening process is gone: write nothing)
        ok = False
        try:
            n = archive._write_index(self.version, rows, [part], self.state)
            ok = True
        finally:
            with self.cond:
                self.turn.value = seq + 1 if ok else -1
                self.cond.notify_all()
        return n


def _index_chunks(indexer: _ChunkIndexer, chunks: list) -> list[int]:
    """:meth:`_ChunkIndexer.write` of each ``(seq, rowids)`` (a task of the index's pool)."""
    return [indexer.write(seq, rowids) for seq, rowids in chunks]


def _texts(rows: list[tuple]) -> list[tuple]:
    """``(rowid, title, body)`` of :meth:`NewsArchive._articles` rows (what
    :func:`_index_part` extracts)."""
    return [(r[0], r[4], r[5]) for r in rows]


def _day(ts: int) -> int:
    """The block of epoch second ``ts``: its Beijing calendar day, counted from 1970-01-01
    (the trigger's SQL computes the same floor division)."""
    return (int(ts) + BEIJING_S) // DAY_S


def _empty_block() -> tuple:
    return (b"",) * len(BLOCK_COLUMNS)


def _cut_block(cols, k0: int, k1: int) -> tuple:
    """Articles ``k0 <= k < k1`` of a block (its columns as bytes or uint8 arrays)."""
    ts, bare, id_len, ids, title_len, titles, m_count, mentions, t_count, themes = cols
    out = [ts[8 * k0:8 * k1], bare[k0:k1], id_len[4 * k0:4 * k1], None, title_len[4 * k0:4 * k1],
           None, m_count[4 * k0:4 * k1], None, t_count[4 * k0:4 * k1], None]
    for k, (len_col, data, size) in enumerate(((id_len, ids, 1), (title_len, titles, 1),
                                               (m_count, mentions, MENTION_DT.itemsize),
                                               (t_count, themes, 4))):
        n = np.frombuffer(len_col, "<i4")
        b0 = int(n[:k0].sum()) * size
        b1 = b0 + int(n[k0:k1].sum()) * size
        out[3 + 2 * k] = data[b0:b1]
    return tuple(out)


def _joined_blocks(blocks: list[tuple]) -> list[np.ndarray]:
    """The columns of day ``blocks`` concatenated, as uint8 arrays (numpy's allocation: on
    transparent huge pages from 4 MiB, unlike a ``bytes`` join's fresh pages)."""
    cols = []
    for parts in zip(*blocks) if blocks else ((),) * len(BLOCK_COLUMNS):
        out = np.empty(sum(map(len, parts)), np.uint8)
        at = 0
        for part in parts:
            out[at:at + len(part)] = np.frombuffer(part, np.uint8)
            at += len(part)
        cols.append(out)
    return cols


def _packed_arrays(cols) -> tuple:
    """:meth:`NewsArchive.packed`'s arrays of one block's columns."""
    ts, bare, id_len, ids, title_len, titles, m_count, mentions, t_count, themes = cols
    return (np.frombuffer(ts, "<i8").astype(np.int64), np.frombuffer(bare, "u1").astype(bool),
            _utf8_strings(np.frombuffer(id_len, "<i4"), ids),
            _utf8_strings(np.frombuffer(title_len, "<i4"), titles),
            np.frombuffer(mentions, dtype=MENTION_DT),
            np.frombuffer(m_count, "<i4").astype(np.int64),
            np.frombuffer(themes, "<i4").astype(np.int64),
            np.frombuffer(t_count, "<i4").astype(np.int64))


def _utf8_strings(lengths: np.ndarray, data: bytes):
    """The pandas ``str`` array of consecutive UTF-8 texts of byte ``lengths`` in ``data``."""
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    arr = pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets.tobytes()),
                                           pa.py_buffer(data))
    return pd.array(arr, dtype="str")


SHANGHAI = dt.timezone(dt.timedelta(hours=8))


class _Transaction:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, exc, tb):
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


class _Checkpointer:
    """The WAL checkpoints of an import (or of a mention index written by its pool's processes:
    :meth:`NewsArchive.index`), run by a thread of their own while the writer goes on
    (SQLite releases the GIL): a checkpoint copies the committed pages into the database file
    and waits for the disk twice (``fsync`` of the WAL, then of the database), ~1 s for a few
    hundred MB here -- about a third of an import's wall time when the writer waited for it.

    The writer's own automatic checkpoints are off meanwhile. After each commit
    (:meth:`committed`) the writer waits for the thread's checkpoint before (usually long
    finished) and starts one for what it has just committed; once the WAL holds
    :data:`WAL_CHECKPOINT_BYTES`, it instead checkpoints the last batch itself, so that
    everything is copied when its next transaction starts and SQLite starts the WAL over from
    its beginning (the WAL stays ~that size). Checkpoints are ``PASSIVE``: they never block
    another writer or a reader, and one that finds another checkpoint running does nothing.
    Nothing changes for durability: what a commit wrote is in the WAL whether or not it has
    been copied yet, and a copy cut short by a crash is redone when the database is opened."""

    def __init__(self, archive: NewsArchive):
        self.con, self.path, self.pages = archive.con, archive.path, archive.wal_pages
        self.con.execute("PRAGMA wal_autocheckpoint=0")
        # the thread and its connection are made at the first commit, after the import's
        # worker processes are forked
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="hypebt-checkpoint")
        self.thread_con: sqlite3.Connection | None = None
        self.running = None           # the thread's checkpoint in flight (a Future)

    def _checkpoint(self) -> tuple:
        if self.thread_con is None:
            self.thread_con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                              isolation_level=None, check_same_thread=False)
            self.thread_con.execute("PRAGMA synchronous=NORMAL")
        return self.thread_con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def committed(self) -> None:
        """After a commit: the next checkpoint (see the class)."""
        frames = self.running.result()[1] if self.running is not None else 0
        self.running = None
        if frames >= self.pages:
            self.con.execute("PRAGMA wal_checkpoint(PASSIVE)")
        else:
            self.running = self.pool.submit(self._checkpoint)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the thread's checkpoint, close its connection and give the writer back its
        automatic checkpoints."""
        try:
            if self.running is not None:
                self.running.result()
        finally:
            self.pool.shutdown()
            if self.thread_con is not None:
                self.thread_con.close()
            self.con.execute(f"PRAGMA wal_autocheckpoint={self.pages}")


def _epoch(value, what: str) -> int:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("Asia/Shanghai")
    return int(ts.timestamp())


def _range_sql(start, end, prefix: str = "") -> tuple[str, list]:
    conds, args = [], []
    if start is not None:
        conds.append(f"{prefix}ts >= ?")
        args.append(_epoch(start, "start"))
    if end is not None:
        conds.append(f"{prefix}ts < ?")
        args.append(_epoch(end, "end"))
    return (" WHERE " + " AND ".join(conds)) if conds else "", args


def _input_bytes(paths: list) -> int:
    """Total size of the article files of ``paths`` (0 when one is missing or unknown: the
    one-process import then reports it, in order)."""
    try:
        return sum(p.stat().st_size for p in expand_paths(paths))
    except (DataError, OSError):
        return 0


class _Resume(Exception):
    """A record of a JSON Lines piece whose article id would be its record number in the file
    (no id and no url), which a worker cannot know: the writing process reads on from it."""

    def __init__(self, line: int, k: int):
        super().__init__(line, k)
        self.line, self.k = line, k


_SHARED: list = []                # a worker's shared memory: [mmap, slot size]


def _set_shared(shared: mmap.mmap, size: int) -> None:
    """Worker initializer: the shared memory of the import (mapped before the fork)."""
    _SHARED[:] = [shared, size]


def _import_task(task) -> tuple:
    """Worker: :func:`_import_piece` of ``task[1:]``, pickled into shared-memory slot
    ``task[0]`` -- ``("slot", length)`` is returned in its place -- when it fits (else the
    result itself, through the pool's pipe): a pipe moves 4 MB in 64 KiB reads, each a system
    call and a copy in the writing process, which then has less time to write."""
    result = _import_piece(task[1:])
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    shared, size = _SHARED
    if len(data) > size:
        return result
    shared[task[0] * size:task[0] * size + len(data)] = data
    return ("slot", len(data))


def _import_piece(task) -> tuple:
    """Worker: the rows (texts as bytes), article notes and skipped messages of one article file
    or JSON Lines piece ``(path, start, end, first_line, bare_date, skip_bad)``, and how it
    ended: ``("done", records, encoding)``, ``("error", message)`` or ``("resume", line,
    records before it, byte offset)``. Only the skipped messages, the error and the resume
    depend on ``first_line`` (the rows and notes do not)."""
    path, start, end, first_line, bare_date, skip_bad = task
    path = Path(path)
    rows, notes, skipped = [], [], []
    encoding, progress = ["utf-8"], [0]
    attempt = record_attempt(bare_date, skip_bad, skipped)
    if start:
        general = attempt

        def attempt(rec, origin, k):
            art = general(rec, origin, k)
            if art is not None and art.id == f"{origin}#{k}":
                raise _Resume(int(origin.rsplit(" ", 1)[1]), k)
            return art
    try:
        for item in file_articles(path, attempt, fast_row_bytes, start=start, end=end,
                                  first_line=first_line, encoding=encoding, progress=progress):
            if type(item) is tuple:
                rows.append(item)
            else:
                rows.append(text_bytes(article_row(item)))
                notes.extend(f"{item.id}: {n}" for n in item.notes)
    except _Resume as r:
        with open(path, "rb") as fh:
            fh.seek(start)
            for _ in range(r.line - first_line):
                fh.readline()
            return rows, notes, skipped, ("resume", r.line, r.k, fh.tell())
    except DataError as exc:
        return rows, notes, skipped, ("error", str(exc))
    return rows, notes, skipped, ("done", progress[0], encoding[0])


def _pieces(paths: list, chunk: int):
    """``(file number, path, start, end)`` of every import task, in file order (a JSON Lines
    file in pieces of about ``chunk`` bytes, any other file whole)."""
    number = 0
    for item in paths:
        for path in expand_paths([item]):
            number += 1
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                for start, end in jsonl_chunks(path, chunk):
                    yield number, path, start, end
            else:
                yield number, path, 0, None


class _Lines:
    """Line numbers at byte offsets of an import's JSON Lines files, counted only when asked (a
    message needs one), on from the last offset asked in the same file: linear in the files'
    size however many are asked, in order."""

    def __init__(self):
        self.known: dict[Path, tuple[int, int]] = {}

    def at(self, path: Path, offset: int) -> int:
        """The number of the line starting at byte ``offset`` of ``path``."""
        start, line = self.known.get(path, (0, 1))
        if offset < start:
            start, line = 0, 1
        with open(path, "rb") as fh:
            fh.seek(start)
            left = offset - start
            while left > 0:
                data = fh.read(min(left, 1 << 24))
                if not data:
                    break
                line += data.count(b"\n")
                left -= len(data)
        self.known[path] = (offset, line)
        return line


def _parallel_rows(paths: list, bare_date: str, skip_bad: bool, counts: ImportCounts,
                   workers: int, chunk: int) -> Iterator[tuple]:
    """The rows of :meth:`NewsArchive.import_files`, parsed by ``workers`` forked processes,
    in file order. A piece a worker cannot finish alone -- a file turning out to be GBK (the
    pieces after were read as UTF-8) or a record numbered by its place in the file -- is read
    on from there in this process, as the one-process import would. The workers do not know
    the first line number of a piece after a file's first (counting the lines of every piece
    cost this process ~4 us an article): a piece whose result depends on it -- a skipped or
    bad record, a resume -- is parsed again here with its line number (:class:`_Lines`)."""
    tasks = _pieces(paths, chunk)
    pending: deque = deque()
    failed: list[DataError] = []
    done = [False]
    size = 3 * chunk + SLOT_SPARE
    free = list(range(2 * workers))      # shared-memory slots of the tasks in flight

    def fill(pool):
        while not done[0] and len(pending) < 2 * workers:
            try:
                number, path, start, end = next(tasks)
            except StopIteration:
                done[0] = True
            except DataError as exc:         # a missing file: after the files before it
                failed.append(exc)
                done[0] = True
            else:
                slot = free.pop()           # line 1 in place of one not known (see above)
                pending.append(((number, path, start, end, slot), pool.apply_async(
                    _import_task, ((slot, str(path), start, end, 1, bare_date, skip_bad),))))

    before: dict[int, int] = {}          # file number -> records read in its earlier pieces
    taken_over = 0                       # file number read on in this process
    lines = _Lines()
    # Anonymous shared memory, mapped before the fork: the workers' results come back in it.
    with mmap.mmap(-1, len(free) * size) as shared, \
            mp.get_context("fork").Pool(workers, _set_shared, (shared, size)) as pool:
        view = memoryview(shared)
        try:
            fill(pool)
            while pending:
                (number, path, start, end, slot), result = pending.popleft()
                got = result.get()
                if got[0] == "slot":
                    got = pickle.loads(view[slot * size:slot * size + got[1]])
                free.append(slot)
                fill(pool)
                if number == taken_over:
                    continue
                if start and (got[2] or got[3][0] != "done"):       # its line numbers count
                    got = _import_piece((str(path), start, end, lines.at(path, start), bare_date,
                                         skip_bad))
                rows, notes, skipped, how = got
                counts.notes.extend(notes)
                counts.skipped.extend(skipped)
                yield from rows
                if how[0] == "error":
                    raise DataError(how[1])
                k0 = before.get(number, 0)
                if how[0] == "resume":
                    _, at_line, k, offset = how
                    taken_over = number
                    yield from _rest_of_file(path, offset, at_line, k0 + k, "utf-8", bare_date,
                                             skip_bad, counts)
                else:
                    _, records, encoding = how
                    before[number] = k0 + records
                    if encoding != "utf-8" and end is not None and end < path.stat().st_size:
                        taken_over = number
                        yield from _rest_of_file(path, end, lines.at(path, end), k0 + records,
                                                 encoding, bare_date, skip_bad, counts)
        finally:
            view.release()
    if failed:
        raise failed[0]


def _rest_of_file(path: Path, start: int, line: int, records: int, encoding: str,
                  bare_date: str, skip_bad: bool, counts: ImportCounts) -> Iterator[tuple]:
    """The rows of a JSON Lines file from byte ``start`` (line ``line``, ``records`` records
    before it, read so far in ``encoding``), read in this process."""
    attempt = record_attempt(bare_date, skip_bad, counts.skipped)
    for item in file_articles(path, attempt, fast_row, start=start, first_line=line,
                              first_record=records, encoding=[encoding]):
        if type(item) is tuple:
            yield item
        else:
            counts.notes.extend(f"{item.id}: {n}" for n in item.notes)
            yield article_row(item)


def legacy_rows(legacy: Path) -> list[tuple]:
    """The ``articles`` rows of a format-1 JSON Lines archive; a damaged one is a
    :class:`DataError` naming the file and line (nothing is written)."""
    with reading(legacy, "news archive"):
        return [article_row(a) for a in iter_records([legacy], bare_date="next_open")]


def open_archive(store_root: str | os.PathLike, *, readonly: bool = False) -> NewsArchive:
    """The archive of a store; opening it migrates a format-1 JSON Lines archive, which is read
    whole first, so that a damaged one stops with an error before any file is created."""
    root = Path(store_root)
    path = root / ARCHIVE_FILE
    legacy = root / LEGACY_FILE
    rows = legacy_rows(legacy) if legacy.exists() else None
    if readonly and rows is not None:
        readonly = False                 # a JSON Lines archive to migrate first
    arch = NewsArchive(path, readonly=readonly)
    if rows is not None:
        arch.migrate_jsonl(root, rows)
    return arch


def archive_marks(archive: NewsArchive, extractor, calendar, start, end, *,
                  workers: int = 1, board=None, **options) -> pd.DataFrame:
    """Entry marks for sessions ``start``..``end`` from the archive's mention index (brought up
    to date first for ``extractor``'s rules version). ``options``: the signals thresholds of
    :data:`signals.marks.SIGNAL_PARAMS` (``skip_bad`` ignored: archived articles are valid).

    The same marks as :func:`signals.marks.analyze` over the whole archive, restricted to the
    range: articles are read from ``40 × half_life`` sessions before ``start`` (earlier news would
    add less than 2**-40 to a score) and a stock named by any earlier article is not a
    ``first_mention``. ``board``: market-confirmed roles, as in :func:`signals.marks.analyze`."""
    opts = {k: v for k, v in options.items() if k in SIGNAL_PARAMS or k == "open_cutoff"}
    opts.pop("skip_bad", None)
    if not archive.readonly and archive.pending(extractor.version):
        archive.index(extractor, workers=workers)
    version = extractor.version
    lo_day = calendar.previous(start, inclusive=True) if start > calendar.first else calendar.first
    back = int(np.ceil(40 * float(opts.get("half_life", 2.0)))) + 1
    i = max(0, int(np.searchsorted(calendar.sessions, lo_day)) - back)
    lo = pd.Timestamp(calendar.sessions[i])
    hi = pd.Timestamp(end) + pd.Timedelta(days=1)
    index = archive.packed(version, lo, hi)
    roles = opts.get("roles")
    role_sql, role_args = "", []
    if roles is not None:
        role_list = [roles] if isinstance(roles, str) else list(roles)
        role_sql = f" AND role IN ({', '.join('?' * len(role_list))})"
        role_args = role_list
    seen = frozenset(r[0] for r in archive.con.execute(
        f"SELECT DISTINCT code FROM first_seen WHERE version = ? AND ts < ?{role_sql}",
        [version, _epoch(lo, "start"), *role_args]))
    return score_index(index, archive.terms(version), calendar, extractor.matcher.display,
                       skip_bad=True, seen_before=seen, role_rules=extractor.roles, board=board,
                       window=(np.datetime64(pd.Timestamp(start).date(), "D"),
                               np.datetime64(pd.Timestamp(end).date(), "D")), **opts)


__all__ = ["ARCHIVE_FILE", "ImportCounts", "NewsArchive", "archive_marks", "article_row",
           "content_hash", "fast_row", "has_fts5", "hash_key", "open_archive"]
