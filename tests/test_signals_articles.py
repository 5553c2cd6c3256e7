"""Reading articles: formats, time parsing and policies, cleaning, duplicates, bad input."""
from __future__ import annotations

import json
import re
import sys

import pandas as pd
import pytest

from backtests.core.errors import ConfigError, DataError
from signals.articles import clean_text, parse_published, read_articles

REC = {"id": "a1", "published": "2024-12-16T02:58:00+08:00", "title": "天娱数科涨停",
       "body": "天娱数科10天6板。", "source": "test", "url": "https://example.invalid/a1"}


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_json_object_list_and_wrapper(tmp_path):
    one = write(tmp_path / "one.json", json.dumps(REC, ensure_ascii=False))
    many = write(tmp_path / "many.json", json.dumps([REC, {**REC, "id": "a2", "url": ""}]))
    wrapped = write(tmp_path / "w.json", json.dumps({"articles": [{**REC, "id": "a3", "url": ""}]}))
    res = read_articles([one, many, wrapped])
    assert [a.id for a in res.articles] == ["a1", "a2", "a3"]
    assert res.duplicates == 1                       # a1 twice
    a = res.articles[0]
    assert a.published == pd.Timestamp("2024-12-16 02:58", tz="Asia/Shanghai")
    assert (a.title, a.body, a.source, a.url, a.bare_date) == (
        "天娱数科涨停", "天娱数科10天6板。", "test", "https://example.invalid/a1", False)


def test_jsonl_csv_and_akshare_columns(tmp_path):
    jl = write(tmp_path / "n.jsonl", json.dumps(REC, ensure_ascii=False) + "\n\n"
               + json.dumps({**REC, "id": "b", "url": "u-b"}, ensure_ascii=False) + "\n")
    cs = write(tmp_path / "n.csv", "新闻标题,新闻内容,发布时间,文章来源,新闻链接\n"
               "蜂助手涨停,蜂助手盘中20CM涨停,2024-12-13 10:15:00,东方财富,https://x.invalid/c\n")
    res = read_articles([jl, cs])
    assert [a.id for a in res.articles] == ["a1", "b", "https://x.invalid/c"]
    c = res.articles[2]
    assert (c.title, c.source, str(c.published)) == ("蜂助手涨停", "东方财富", "2024-12-13 10:15:00+08:00")


def test_markdown_with_header(tmp_path):
    md = write(tmp_path / "a.md", "# “豆包”概念股狂飙\n\n**发布日期**: 2024年12月16号 2:58\n\n"
               "![新闻图片](https://pic.invalid/x.jpg)\n\n**新闻链接**: [点击查看原文](https://ex.invalid/1)\n\n"
               "## 内容\n\n天娱数科、居然智家涨停。\n")
    (a,) = read_articles(md).articles
    assert a.title == "“豆包”概念股狂飙"
    assert a.url == a.id == "https://ex.invalid/1"
    assert a.body == "天娱数科、居然智家涨停。"
    assert a.published == pd.Timestamp("2024-12-16 02:58", tz="Asia/Shanghai")


def test_folder_is_read_in_sorted_order(tmp_path):
    write(tmp_path / "b.jsonl", json.dumps({**REC, "id": "b", "url": ""}) + "\n")
    write(tmp_path / "a.json", json.dumps({**REC, "id": "a", "url": ""}))
    write(tmp_path / "notes.txt", "ignored")
    assert [a.id for a in read_articles(tmp_path).articles] == ["a", "b"]


def test_duplicates_by_url_keep_the_first(tmp_path):
    res = read_articles([REC, {**REC, "id": "other"}, {**REC, "id": "a1", "url": "different"}])
    assert [a.id for a in res.articles] == ["a1"] and res.duplicates == 2


@pytest.mark.parametrize("value, expected, bare", [
    ("2024-12-16T02:58:00+08:00", "2024-12-16 02:58:00", False),
    ("2024-12-16 02:58", "2024-12-16 02:58:00", False),                 # naive = Beijing
    ("2024年12月16号 2:58", "2024-12-16 02:58:00", False),
    ("2024年12月16日 14时05分", "2024-12-16 14:05:00", False),
    ("2024/12/16 14:05:09", "2024-12-16 14:05:09", False),
    ("20241216 1405", "2024-12-16 14:05:00", False),
    ("2024-12-16", "2024-12-16 00:00:00", True),
    ("2024年12月16日", "2024-12-16 00:00:00", True),
    ("20241216", "2024-12-16 00:00:00", True),
    ("2024-12-15T18:58:00Z", "2024-12-16 02:58:00", False),             # converted
    ("2024-12-15T13:58:00-05:00", "2024-12-16 02:58:00", False),
])
def test_parse_published(value, expected, bare):
    ts, is_bare, note = parse_published(value)
    assert str(ts.tz) == "Asia/Shanghai"
    assert ts.strftime("%Y-%m-%d %H:%M:%S") == expected and is_bare == bare
    assert ("converted to +08:00" in note) == value.endswith(("Z", "-05:00"))


@pytest.mark.parametrize("value, message", [
    ("Dec 3 20:03", "not a date/time with a year"),    # would silently become year 1
    ("12月16日 10:00", "not a date/time with a year"),
    ("2024-12-16 25:00", "hour must be in 0..23"),
    ("2024-13-01", "month must be in 1..12"),
    ("soon", "is not a date/time"),
    ("", "no publication time"),
])
def test_unparseable_times(value, message):
    with pytest.raises(ValueError, match=message):
        parse_published(value)


def test_epoch_seconds_and_milliseconds():
    expected = pd.Timestamp("2024-12-16 02:40", tz="Asia/Shanghai")
    assert parse_published(1734288000)[0] == expected
    assert parse_published("1734288000000")[0] == expected


def test_other_zone_gets_a_note():
    (a,) = read_articles([{**REC, "published": "2024-12-15T18:58:00+00:00"}]).articles
    assert a.notes == ("time zone +00:00 converted to +08:00",)


def test_bare_date_policy_error():
    with pytest.raises(DataError, match=r"article 1: field 'published': 2024-12-16 has no time of day"):
        read_articles([{**REC, "published": "2024-12-16"}], bare_date="error")
    with pytest.raises(ConfigError, match="bare_date"):
        read_articles([REC], bare_date="guess")


def test_missing_and_bad_times_name_file_and_record(tmp_path):
    p = write(tmp_path / "news.jsonl", json.dumps(REC) + "\n" + json.dumps({**REC, "id": "x", "url": "",
              "published": "soon"}) + "\n" + json.dumps({"id": "y", "title": "t"}) + "\n")
    with pytest.raises(DataError, match=r"news.jsonl: line 2: field 'published': 'soon' is not a date/time"):
        read_articles(p)
    res = read_articles(p, skip_bad=True)
    assert [a.id for a in res.articles] == ["a1"]
    assert len(res.skipped) == 2
    assert "line 3: no publication time" in res.skipped[1]


def test_empty_article_is_bad_input(tmp_path):
    p = write(tmp_path / "e.csv", "id,published,title,body\ne1,2024-12-16 08:00,,   \n")
    with pytest.raises(DataError, match=r"e.csv: row 2: empty article \(no title and no body text\)"):
        read_articles(p)
    assert read_articles(p, skip_bad=True).articles == []


def test_html_body_is_cleaned():
    body = ("<div><p>天娱数科&nbsp;涨停</p><script>var x = '居然智家';</script>"
            "<style>p{}</style>蜂助手&amp;居然智家<br/>第二行</div>")
    (a,) = read_articles([{**REC, "body": body}]).articles
    assert a.body == "天娱数科 涨停\n蜂助手&居然智家\n第二行"
    assert "HTML tags/entities removed" in a.notes
    assert clean_text("plain 1 < 2 text") == ("plain 1 < 2 text", False)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(DataError, match="article file not found"):
        read_articles(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="unknown article format '.txt'"):
        read_articles(write(tmp_path / "a.txt", "x"))
    with pytest.raises(DataError, match="line 1 is not valid JSON"):
        read_articles(write(tmp_path / "b.jsonl", "{oops\n"))
    with pytest.raises(DataError, match="expected a JSON object or a list"):
        read_articles(write(tmp_path / "c.json", "3"))
    with pytest.raises(DataError, match="no article files"):
        (tmp_path / "empty").mkdir()
        read_articles(tmp_path / "empty")


def test_clean_text_fast_path_equals_the_full_pass():
    import signals.articles as A
    from signals.articles import _ODD_SPACE_RE  # noqa: F401 - the fast path exists
    samples = ["天娱数科涨停。\n居然智家", " 前导", "尾随 ", "a  b", "x\n\n\ny", "行\u3000首", "\u3000　缩进",
               "tab\there", "a\r\nb", "<p>html</p>", "&amp;", "![img](u)正文", "line \nnext", "a\n b",
               "", "\n开头", "结尾\n", "正常 文本 with single spaces"]
    slow = A._MANY_NL_RE

    def full(text):
        had = bool(A._HTML_HINT_RE.search(text))
        if had:
            text = A._TAG_BLOCK_RE.sub("", text)
            text = A._BR_RE.sub("\n", text)
            text = A._TAG_RE.sub("", text)
            text = A.html.unescape(text)
        text = A._MD_IMAGE_RE.sub("", text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = "\n".join(A._BLANKS_RE.sub(" ", line).strip() for line in text.split("\n"))
        return slow.sub("\n\n", text).strip(), had

    for text in samples:
        assert A.clean_text(text) == full(text), text


def test_jsonl_streamed_gbk_detected(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_bytes(b'{"id": "a", "published": "2024-12-16 09:00", "title": "t", "body": "b"}\n'
                  + json.dumps({"id": "b", "published": "2024-12-16 09:00", "title": "天娱数科",
                                "body": "涨停"}, ensure_ascii=False).encode("gbk") + b"\n")
    res = read_articles([p])
    assert [a.title for a in res.articles] == ["t", "天娱数科"]
    assert res.articles[1].notes[-1] == "GBK text (decoded as GB18030)"


def test_clean_text_fast_accept_misses_no_odd_white_space():
    # clean_text accepts printable text without searching it: no white space it must rewrite
    # (anything but ' ' and the line break) may be printable
    odd = re.compile(r"[^\S \n]")
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if odd.match(c) and c.isprintable()] == []
    assert clean_text("天娱数科\t涨停")[0] == "天娱数科 涨停"


def test_strict_records_are_json_loads_of_the_text():
    """A JSON Lines line read by orjson is exactly json.loads of its UTF-8 text, or left to the
    general path: random lines of tricky pieces (escapes, lone surrogates, numbers past 64 bits,
    NaN, repeated keys, invalid UTF-8, BOMs, blank lines, nesting)."""
    import numpy as np

    from signals import articles

    pieces = [b'{', b'}', b'"id"', b'"a"', b':', b',', b'"\\ud83d"', b'"\\ud83d\\ude00"', b'"\\u0000"',
              b'"\xe6\xb6\xa8"', b'"\xed\xa0\x80"', b'"\xff"', b'123456789012345678901234567890',
              b'1.5', b'NaN', b'-0', b'1e400', b'true', b'null', b'[', b']', b' ', b'\t', b'\r\n',
              b'\n', b'\xef\xbb\xbf', b'\xe3\x80\x80', b'"\\/"', b'"\\""', b'"x\\ty"', b'"\x1f"']
    texts = ["", "a", "涨停", "\ud83d", "\U0001f600", "\x00", "\u2028", '"', "\\", "\n", "\x7f"]
    rng = np.random.default_rng(11)
    lines = [b"".join(pieces[int(i)] for i in rng.integers(0, len(pieces), rng.integers(1, 14)))
             for _ in range(10_000)]
    for _ in range(30_000):                   # objects of text, some with a piece put in
        rec = {texts[int(rng.integers(0, 4))] + "k": "".join(
            texts[int(i)] for i in rng.integers(0, len(texts), rng.integers(0, 5)))
            for _ in range(rng.integers(0, 4))}
        raw = json.dumps(rec, ensure_ascii=bool(rng.integers(0, 2))).encode("utf-8", "surrogatepass")
        if rng.integers(0, 2):
            at = int(rng.integers(0, len(raw) + 1))
            raw = raw[:at] + pieces[int(rng.integers(0, len(pieces)))] + raw[at:]
        lines.append(raw)
    lines += [b'{"id": "a", "title": "x", "id": "b"}\n', b'{"a": "1"}', b' {"a": "\xe6\xb6\xa8"} \n',
              json.dumps(REC, ensure_ascii=False).encode() + b"\n", json.dumps(REC).encode()]
    accepted = 0
    for raw in lines:
        got = articles._strict_record(raw)
        if got is None:
            continue
        accepted += 1
        want = json.loads(raw.decode("utf-8"))
        assert got == want and list(got) == list(want) and type(got) is dict, raw
        assert all(type(v) is str for v in got.values()), raw
    assert accepted > 10_000
    assert articles._strict_record(b'{"a": "\\ud800"}') is None
    assert articles._strict_record(b'{"a": 123456789012345678901234567890}') is None
    assert articles._strict_record(b'\xef\xbb\xbf{"a": "b"}') is None
    assert articles._strict_record(b'{"a": "b", "a": "c"}') == {"a": "c"}


def _chunks_by_reading(path, size):
    """jsonl_chunks as it was first written: seek and readline."""
    import os

    total, start = os.path.getsize(path), 0
    with open(path, "rb") as fh:
        while start < total:
            fh.seek(min(start + size, total))
            fh.readline()
            end = min(fh.tell(), total)
            yield start, end
            start = end


def test_jsonl_chunks_are_whole_lines(tmp_path):
    import numpy as np

    from signals.articles import jsonl_chunks

    rng = np.random.default_rng(3)
    p = tmp_path / "c.jsonl"
    for k in range(300):
        data = b"".join([b"\n", b"ab", b"\xe6\xb6\xa8", b"\r\n", b"x" * 9][int(i)]
                        for i in rng.integers(0, 5, rng.integers(0, 60)))
        p.write_bytes(data)
        size = int(rng.integers(1, 40))
        got = list(jsonl_chunks(p, size))
        assert got == list(_chunks_by_reading(p, size)), (data, size)
        assert b"".join(data[s:e] for s, e in got) == data
