"""Read news articles from JSON, JSON Lines, CSV or Markdown into :class:`Article` records.

Fields: ``id``, ``published``, ``title``, ``body``, ``source``, ``url`` (DESIGN.md). Readers:

- ``.json``: one article object, a list of them, or ``{"articles": [...]}``.
- ``.jsonl`` / ``.ndjson``: one object a line (blank lines ignored). The news archive that
  ``hypebt news fetch`` writes is this format.
- ``.csv``: a header row with the field names (akshare's ``新闻标题, 新闻内容, 发布时间, 文章来源,
  新闻链接`` are accepted too).
- ``.md`` / ``.markdown``: ``# title``, then header lines ``**发布日期**: 2024年12月16号 2:58``,
  ``**新闻链接**: [text](url)``, ``**来源**: ...`` (English keys ``published``/``date``, ``url``,
  ``source``, ``id`` work as well), then the body (after an optional ``## 内容``/``## 正文`` heading).
- A directory: every file of those types under it, in sorted path order.

Time policy (all results are timezone-aware ``Asia/Shanghai`` timestamps):

- a time without an offset is Beijing time; an explicit offset (``Z``, ``+00:00``, ...) is
  converted to ``+08:00`` and the article gets a note saying so;
- a **bare date** (no time of day, common in reposts and aggregator pages) follows
  ``bare_date``: ``"next_open"`` (default) assumes the article may have appeared after that
  day's close, so its first usable session is the next one — it can never look ahead, at the
  price of sometimes entering a session late; ``"same_day_open"`` treats it as published at
  00:00 (before the open; optimistic, can look ahead on intraday or evening news);
  ``"error"`` refuses it;
- a missing or unparseable time, or a JSON Lines line that is not JSON, is a
  :class:`DataError` naming the file and record, or, with ``skip_bad=True``, the record is
  skipped and counted in :attr:`ReadResult.skipped`.

Bodies are cleaned: HTML tags, ``<script>``/``<style>`` blocks and entities are removed
(``&nbsp;`` → space, ``&amp;`` → ``&``), Markdown images are dropped. An article with neither
title nor body text is bad input (error or skip, as above). Duplicates (same ``id`` or same
``url``) keep the first occurrence and are counted in :attr:`ReadResult.duplicates`.
"""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
import mmap
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
import pandas as pd

from backtests.core.errors import ConfigError, DataError

TZ = "Asia/Shanghai"
BARE_DATE_POLICIES = ("next_open", "same_day_open", "error")
FIELDS = ("id", "published", "title", "body", "source", "url")
SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".md", ".markdown")

# Alternative column / key names -> field (akshare's stock_news_em columns, Markdown headers).
FIELD_ALIASES = {
    "id": "id", "article_id": "id", "编号": "id",
    "published": "published", "published_at": "published", "time": "published",
    "date": "published", "datetime": "published", "发布时间": "published", "发布日期": "published",
    "时间": "published", "日期": "published",
    "title": "title", "标题": "title", "新闻标题": "title",
    "body": "body", "content": "body", "text": "body", "内容": "body", "新闻内容": "body",
    "正文": "body",
    "source": "source", "来源": "source", "文章来源": "source", "media": "source",
    "url": "url", "link": "url", "链接": "url", "新闻链接": "url", "原文链接": "url",
}


def _field_name(key) -> str | None:
    """The field a column or key name stands for (case and outer spaces ignored), else None."""
    return FIELD_ALIASES.get(str(key).strip().lower())


@dataclass(frozen=True)
class Article:
    """One news article. ``published`` is a tz-aware Asia/Shanghai timestamp;
    ``bare_date`` is True when the source gave only a date (``published`` is then 00:00)."""

    id: str
    published: pd.Timestamp
    title: str
    body: str
    source: str = ""
    url: str = ""
    bare_date: bool = False
    origin: str = ""                      # "file:record" for messages
    notes: tuple[str, ...] = ()


@dataclass
class ReadResult:
    """Articles read plus the counts a user should see."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)      # messages of skipped records
    duplicates: int = 0


# ------------------------------------------------------------------ text cleaning
_TAG_BLOCK_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_BR_RE = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\b[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^<>]{0,500}>")
_HTML_HINT_RE = re.compile(r"<[A-Za-z/!][^<>]{0,500}>|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_BLANKS_RE = re.compile(r"[ \t\u00a0]+")
_MANY_NL_RE = re.compile(r"\n{3,}")


# Anything clean_text could change. Text with none of it (most scraped or archived articles)
# is returned as it is, without the per-line pass.
_ODD_SPACE_RE = re.compile(r"[^\S \n]")          # white space other than ' ' and line breaks


# A lone UTF-16 surrogate: what a JSON escape like "\\ud83d" decodes to when a source cut an
# emoji in half. It is not a character: no UTF-8 or UTF-16 encoder takes it.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
SURROGATE_NOTE = "lone UTF-16 surrogates (half an emoji?) replaced by U+FFFD"


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (printable text, the usual case, has none: tested
    at C speed)."""
    return not text.isprintable() and _SURROGATE_RE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the text as it is when it has none:
    printable text, the usual case, is tested at C speed)."""
    return _SURROGATE_RE.sub("\ufffd", text) if has_surrogates(text) else text


def clean_text(text: str) -> tuple[str, bool]:
    """Strip HTML tags/entities and Markdown images, replace lone surrogates by U+FFFD
    (:func:`replace_surrogates`); return ``(clean, had_html)``."""
    if ("<" not in text and "&" not in text and "![" not in text and "  " not in text
            and " \n" not in text and "\n " not in text and "\n\n\n" not in text
            and text[:1] not in (" ", "\n") and text[-1:] not in (" ", "\n")
            # every white space but ' ' and the line break is unprintable: printable text (a
            # C-speed test) has none, anything else is searched (surrogates too: unprintable)
            and (text.replace("\n", "").isprintable()
                 or not (_ODD_SPACE_RE.search(text) or _SURROGATE_RE.search(text)))):
        return text, False
    text = replace_surrogates(text)
    had_html = bool(_HTML_HINT_RE.search(text))
    if had_html:
        text = _TAG_BLOCK_RE.sub("", text)
        text = _BR_RE.sub("\n", text)
        text = _TAG_RE.sub("", text)
        text = html.unescape(text)
    text = _MD_IMAGE_RE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(_BLANKS_RE.sub(" ", line).strip() for line in text.split("\n"))
    return _MANY_NL_RE.sub("\n\n", text).strip(), had_html


# ------------------------------------------------------------------ time parsing
_CN_DT_RE = re.compile(
    r"^\s*(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*[日号]?"
    r"(?:[\sT]*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?(?:\s*[:：]?\s*(\d{1,2})\s*秒?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$")
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?[+-]\d{2}:\d{2}$")
_BEIJING = dt.timedelta(hours=8)
_EPOCH_RE = re.compile(r"^\d{10}(?:\d{3})?$")          # epoch seconds or milliseconds
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_COMPACT_RE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:[\sT]?(\d{2})(\d{2})(\d{2})?)?\s*$")


def parse_published(value, *, bare_date: str = "next_open") -> tuple[pd.Timestamp, bool, str]:
    """Parse a publication time; return ``(timestamp in Asia/Shanghai, is_bare_date, note)``.

    Accepts ISO 8601 (``2024-12-16T02:58:00+08:00``, ``2024-12-16 02:58``), Chinese
    (``2024年12月16号 2:58``, ``2024年12月16日``), compact (``20241216``, ``20241216 0258``),
    epoch seconds or milliseconds (numbers), and ``datetime``/``date`` objects.
    Raises :class:`ValueError` with the reason on anything else (the reader adds file/record).
    """
    if bare_date not in BARE_DATE_POLICIES:
        raise ConfigError(f"bare_date {bare_date!r} is not one of {', '.join(BARE_DATE_POLICIES)}")
    note = ""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        raise ValueError("no publication time")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        digits = str(int(value)) if math.isfinite(value) and value == int(value) else ""
        if len(digits) == 8 and _YEAR_RE.match(digits[:4]):
            return parse_published(digits, bare_date=bare_date)   # 20241216 is a date
        unit = "ms" if value > 1e11 else "s"
        return pd.Timestamp(value, unit=unit, tz="UTC").tz_convert(TZ), False, ""
    if isinstance(value, str) and _ISO_RE.match(value):          # the archive's own format
        ts = pd.Timestamp(dt.datetime.fromisoformat(value))
        if ts.utcoffset() == _BEIJING:
            return ts.tz_convert(TZ), False, ""
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        ts, bare = pd.Timestamp(value), False
    elif isinstance(value, dt.date):
        ts, bare = pd.Timestamp(value), True
    else:
        text = str(value).strip()
        if _EPOCH_RE.match(text):
            return parse_published(int(text), bare_date=bare_date)
        m = _CN_DT_RE.match(text) or _COMPACT_RE.match(text)
        if m:
            parts = m.groups()
            y, mo, d = int(parts[0]), int(parts[1]), int(parts[2])
            bare = parts[3] is None
            h = 0 if bare else int(parts[3])
            mi = 0 if bare else int(parts[4] or 0)
            s = int(parts[5] or 0) if not bare else 0
            try:
                ts = pd.Timestamp(dt.datetime(y, mo, d, h, mi, s))
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a valid date/time ({exc})") from None
            if len(parts) > 6 and parts[6]:
                off = parts[6]
                ts = ts.tz_localize("UTC") if off == "Z" else pd.Timestamp(
                    ts.isoformat() + (off if ":" in off else off[:3] + ":" + off[3:]))
        else:
            if not _YEAR_RE.search(text):
                raise ValueError(f"{text!r} is not a date/time with a year; expected e.g. 2024-12-16T02:58:00+08:00 "
                                 f"or 2024年12月16日 02:58")
            try:
                ts = pd.Timestamp(text)
            except (ValueError, TypeError):
                raise ValueError(f"{text!r} is not a date/time; expected e.g. "
                                 f"2024-12-16T02:58:00+08:00 or 2024年12月16日 02:58") from None
            if ts is pd.NaT:
                raise ValueError(f"{text!r} is not a date/time")
            bare = not re.search(r"\d[:：]\d", text) and ts == ts.normalize() and ts.tzinfo is None
    if bare and bare_date == "error":
        raise ValueError(f"{value!s} has no time of day and bare_date = \"error\"")
    if ts.tzinfo is None:
        ts = ts.tz_localize(TZ)
    else:
        off = ts.utcoffset()
        if off != dt.timedelta(hours=8):
            note = f"time zone {ts.strftime('%z')[:3]}:{ts.strftime('%z')[3:]} converted to +08:00"
        ts = ts.tz_convert(TZ)
    return ts, bare, note


# ------------------------------------------------------------------ readers
def decode_bytes(data: bytes) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 (a BOM is dropped) when the bytes are valid UTF-8, else GBK
    (read as its superset GB18030, the encoding of Excel's "CSV" on Chinese Windows). Valid
    Chinese UTF-8 is almost never valid GB18030 of the same length and vice versa, so trying
    UTF-8 first is safe. Raises :class:`UnicodeDecodeError` (of UTF-8) when neither fits."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        try:
            return data.decode("gb18030"), "gbk"
        except UnicodeDecodeError:
            raise exc from None


def _records_json(path: Path, text: str) -> Iterator[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and "articles" in data:
        if not isinstance(data["articles"], list):
            raise DataError(f"{path}: \"articles\" must be a list of article objects, got "
                            f"{_json_type(data['articles'])}")
        data = data["articles"]
    if isinstance(data, dict):
        yield "record 1", data
    elif isinstance(data, list):
        for i, rec in enumerate(data, 1):
            yield f"record {i}", rec
    else:
        raise DataError(f"{path}: expected a JSON object or a list of objects, got {_json_type(data)}")


def _json_type(value) -> str:
    """JSON's name for a parsed value's type, for messages."""
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


class _Unreadable(str):
    """A record a reader could not parse (its error message); an error, or skipped with
    ``skip_bad``, while the reader goes on with the next record."""


def _records_jsonl(path: Path, text: str) -> Iterator[tuple[str, dict]]:
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            rec = _Unreadable(f"{path}: line {n} is not valid JSON ({exc})")
        yield f"line {n}", rec


def _strict_record(raw: bytes) -> dict | None:
    """The object of a JSON Lines line by ``orjson`` (which reads the UTF-8 bytes as they are,
    ~2x decoding and ``json.loads``) when it is strict UTF-8 JSON of an object of text values,
    else None. Where ``orjson`` accepts such a line, ``json.loads`` of its decoded text gives
    the same object (same keys in the same order, the last of repeated keys winning; tests
    check it); everything else -- numbers (``orjson`` reads integers past 64 bits as floats),
    lone surrogate escapes, NaN, invalid UTF-8, blank lines -- is left to the general path."""
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(rec) is dict and all(type(v) is str for v in rec.values()):
        return rec
    return None


def _stream_jsonl(path: Path, start: int = 0, end: int | None = None, first_line: int = 1,
                  encoding: str = "utf-8"):
    """``(records, encoding)`` of a JSON Lines file read line by line (an archive may not fit in
    memory); ``encoding`` is a one-item list filled in as the lines are read: UTF-8 unless a line
    is not, then GBK (GB18030) for the whole file. ``start``, ``end``, ``first_line``,
    ``encoding``: read only the lines in bytes ``[start, end)`` (``start`` at a line start, which
    is line ``first_line``), the lines before having been read in ``encoding``
    (:func:`jsonl_chunks`)."""
    encoding = [encoding]

    def records():
        with open(path, "rb") as fh:
            if start:
                fh.seek(start)
            lines = fh if end is None else io.BytesIO(fh.read(end - start))
            for n, raw in enumerate(lines, first_line):
                if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if encoding[0] == "utf-8":
                    rec = _strict_record(raw)
                    if rec is not None:
                        yield f"line {n}", rec
                        continue
                try:
                    line = raw.decode(encoding[0])
                except UnicodeDecodeError as exc:
                    if encoding[0] != "utf-8":
                        raise DataError(f"{path}: line {n} is neither UTF-8 nor GBK text") from None
                    try:
                        line = raw.decode("gb18030")
                    except UnicodeDecodeError:
                        raise DataError(f"{path}: line {n}: neither UTF-8 nor GBK text (byte "
                                        f"{exc.start}); save it as UTF-8") from None
                    encoding[0] = "gb18030"
                if not line or line.isspace():       # = not line.strip(), without a copy
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    rec = _Unreadable(f"{path}: line {n} is not valid JSON ({exc})")
                yield f"line {n}", rec

    return records(), encoding


def jsonl_chunks(path: Path, size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of consecutive pieces of about ``size`` bytes of a JSON Lines file, each
    a run of whole lines (the byte ranges :func:`_stream_jsonl` reads). Their first line numbers
    are not counted here: the writing process of an import runs this over every byte of the
    files, and needs a piece's line number only for a message (see
    ``backtests.data.news._parallel_rows``)."""
    total = os.path.getsize(path)
    if not total:
        return
    start = 0
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        while start < total:
            cut = mm.find(b"\n", min(start + size, total))      # the end of that line
            end = total if cut < 0 else cut + 1
            yield start, end
            start = end


def _records_csv(path: Path, text: str) -> Iterator[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise DataError(f"{path}: empty CSV; expected a header with {', '.join(FIELDS)}")
    for n, row in enumerate(reader, 2):
        yield f"row {n}", row


_MD_HEADER_RE = re.compile(r"^\s*(?:[-*]\s*)?\*\*([^*]+)\*\*\s*[:：]\s*(.*?)\s*$")
_MD_LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_MD_BODY_HEADINGS = {"内容", "正文", "body", "content", "text"}


def _records_markdown(path: Path, text: str) -> Iterator[tuple[str, dict]]:
    lines = text.splitlines()
    rec: dict = {}
    body_start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if "title" not in rec and stripped.startswith("# "):
            rec["title"] = stripped[2:].strip()
            continue
        m = _MD_HEADER_RE.match(line)
        if m and body_start is None:
            key = _field_name(m.group(1))
            if key:
                value = m.group(2)
                link = _MD_LINK_RE.search(value)
                rec[key] = link.group(1) if (key == "url" and link) else value
            continue
        if stripped.startswith("## ") and stripped[3:].strip().lower() in _MD_BODY_HEADINGS:
            body_start = i + 1
            break
    if body_start is None:  # no body heading: the body is what follows the last header line
        body_start = 0
        for i, line in enumerate(lines):
            if line.strip().startswith("# ") or _MD_HEADER_RE.match(line) or not line.strip():
                body_start = i + 1
            else:
                break
    rec["body"] = "\n".join(lines[body_start:])
    rec.setdefault("id", rec.get("url") or path.stem)
    yield "article", rec


_READERS = {".json": _records_json, ".jsonl": _records_jsonl, ".ndjson": _records_jsonl,
            ".csv": _records_csv, ".md": _records_markdown, ".markdown": _records_markdown}


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The article files of ``paths`` (a folder: its article files in sorted path order);
    :class:`DataError` for a missing file, an empty folder or an unknown format."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(q for q in path.rglob("*") if q.suffix.lower() in SUFFIXES and q.is_file())
            if not found:
                raise DataError(f"{path}: no article files ({', '.join(SUFFIXES)}) in this folder")
            out.extend(found)
        elif not path.exists():
            raise DataError(f"{path}: article file not found")
        elif path.suffix.lower() not in _READERS:
            raise DataError(f"{path}: unknown article format {path.suffix!r}; expected one of "
                            f"{', '.join(SUFFIXES)}")
        else:
            out.append(path)
    return out


def make_article(rec: dict, *, origin: str, bare_date: str = "next_open", index: int = 0) -> Article:
    """Build an :class:`Article` from a mapping; raise :class:`DataError` naming ``origin``."""
    if not isinstance(rec, dict):
        raise DataError(f"{origin}: expected an object with fields {', '.join(FIELDS)}, "
                        f"got {_json_type(rec)}")
    fields: dict = {}
    for key, value in rec.items():
        name = _field_name(key)
        if name and name not in fields and value is not None:
            # Text fields take text (an id may be a number); a list or object there is a
            # damaged record, not something to print with str().
            if isinstance(value, (list, dict, tuple, set)) or (
                    name != "published" and isinstance(value, bool)):
                raise DataError(f"{origin}: field {name!r} must be text, got {_json_type(value)}")
            fields[name] = value
    if not fields:
        keys = ", ".join(repr(str(k)) for k in list(rec)[:6]) or "none"
        raise DataError(f"{origin}: not an article: none of its keys ({keys}) is an article "
                        f"field; expected {', '.join(FIELDS)}")
    if "published" not in fields:
        raise DataError(f"{origin}: no publication time (field 'published'); every article needs "
                        f"one to be placed on a trading session")
    try:
        ts, bare, tz_note = parse_published(fields["published"], bare_date=bare_date)
    except ValueError as exc:
        raise DataError(f"{origin}: field 'published': {exc}") from None
    notes = []
    if tz_note:
        notes.append(tz_note)
    if bare:
        notes.append(f"bare date {ts.date()}: bare_date = {bare_date}")
    raw = [str(fields.get(f, "") or "") for f in ("title", "body", "url", "id", "source")]
    title, t_html = clean_text(raw[0])
    body, b_html = clean_text(raw[1])
    if t_html or b_html:
        notes.append("HTML tags/entities removed")
    url, art_id, source = (replace_surrogates(v).strip() for v in raw[2:])
    if any(map(has_surrogates, raw)):
        notes.append(SURROGATE_NOTE)
    if not title and not body:
        raise DataError(f"{origin}: empty article (no title and no body text)")
    art_id = art_id or url or f"{origin}#{index}"
    return Article(id=art_id, published=ts, title=title, body=body, source=source, url=url,
                   bare_date=bare, origin=origin, notes=tuple(notes))


def read_articles(items, *, bare_date: str = "next_open", skip_bad: bool = False) -> ReadResult:
    """Read articles from paths (files or folders), :class:`Article` objects or dicts (mixed),
    deduplicated by id and by url (first occurrence kept).

    With ``skip_bad=False`` (default) the first bad record raises :class:`DataError`
    (``"news.jsonl: line 3: field 'published': 'soon' is not a date/time ..."``); with
    ``skip_bad=True`` it is skipped and its message kept in ``result.skipped``.
    """
    if bare_date not in BARE_DATE_POLICIES:
        raise ConfigError(f"bare_date {bare_date!r} is not one of {', '.join(BARE_DATE_POLICIES)}")
    if isinstance(items, (str, os.PathLike, Article, dict)):
        items = [items]
    result = ReadResult()
    seen: set[str] = set()
    for art in _iter_articles(list(items), bare_date, skip_bad, result):
        keys = {"id:" + art.id} | ({"url:" + art.url} if art.url else set())
        if keys & seen:
            result.duplicates += 1
            continue
        seen |= keys
        result.articles.append(art)
    return result


def _iter_articles(items: list, bare_date: str, skip_bad: bool, result: ReadResult,
                   fast=None) -> Iterator[Article]:
    attempt = record_attempt(bare_date, skip_bad, result.skipped)

    for n, item in enumerate(items):
        if isinstance(item, Article):
            yield item
        elif isinstance(item, dict):
            art = attempt(item, f"article {n + 1}", n)
            if art is not None:
                yield art
        elif isinstance(item, (str, os.PathLike)):
            for path in expand_paths([item]):
                yield from file_articles(path, attempt, fast)
        else:
            raise DataError(f"article {n + 1}: expected a path, a dict or an Article, "
                            f"got {type(item).__name__}")


def file_articles(path: Path, attempt, fast=None, *, start: int = 0, end: int | None = None,
                  first_line: int = 1, first_record: int = 0, encoding: list | None = None,
                  progress: list | None = None) -> Iterator:
    """The articles (or ``fast`` results) of one article file, or of the lines in bytes
    ``[start, end)`` of a JSON Lines file (see :func:`_stream_jsonl`; ``first_record``: the
    number of records before them, ``encoding``: a one-item list holding the encoding of the
    lines before, updated as the lines are read; ``progress``: a one-item list set to the
    number of records read).
    ``attempt(record, origin, k)``: the :class:`Article` of a record, or None to skip it."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        records, encoding_now = _stream_jsonl(path, start, end, first_line,
                                              encoding[0] if encoding else "utf-8")
    else:
        try:
            text, enc = decode_bytes(path.read_bytes())
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: neither UTF-8 nor GBK text (byte {exc.start}); "
                            "save it as UTF-8") from None
        encoding_now = [enc]
        records = _READERS[path.suffix.lower()](path, text)
    try:
        for k, (where, rec) in enumerate(records, first_record):
            if progress is not None:
                progress[0] = k + 1 - first_record
            if fast is not None and encoding_now[0] == "utf-8":
                got = fast(rec)
                if got is not None:
                    yield got
                    continue
            art = attempt(rec, f"{path}: {where}", k)
            if art is not None:
                if encoding_now[0] != "utf-8":
                    art = replace(art, notes=art.notes + ("GBK text (decoded as GB18030)",))
                yield art
    finally:
        if encoding is not None:
            encoding[0] = encoding_now[0]


def record_attempt(bare_date: str, skip_bad: bool, skipped: list):
    """``attempt(record, origin, k)`` of :func:`file_articles`: :func:`make_article`, or with
    ``skip_bad`` None for a bad record, its message appended to ``skipped``."""
    def attempt(rec, origin, n):
        try:
            if isinstance(rec, _Unreadable):
                raise DataError(str(rec))
            return make_article(rec, origin=origin, bare_date=bare_date, index=n)
        except DataError as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
            return None
    return attempt


def iter_records(items, *, bare_date: str = "next_open", skip_bad: bool = False,
                 skipped: list | None = None, notes: list | None = None,
                 fast=None) -> Iterator[Article]:
    """Articles of ``items`` (as :func:`read_articles` takes them) one at a time, without the
    in-memory deduplication (the archive deduplicates); messages of skipped records go to
    ``skipped``, article notes to ``notes`` as ``"id: note"``.

    ``fast``: a function of a UTF-8 file record returning what to yield in place of its
    :class:`Article` when it can build it faster (the archive's rows of records already in its
    own form: ``backtests.data.news.fast_row``), or None to let :func:`make_article` decide."""
    result = ReadResult()
    if isinstance(items, (str, os.PathLike, Article, dict)):
        items = [items]
    for art in _iter_articles(list(items), bare_date, skip_bad, result, fast):
        if notes is not None and isinstance(art, Article):
            notes.extend(f"{art.id}: {n}" for n in art.notes)
        if skipped is not None and result.skipped:
            skipped.extend(result.skipped)
            result.skipped.clear()
        yield art
    if skipped is not None:
        skipped.extend(result.skipped)
