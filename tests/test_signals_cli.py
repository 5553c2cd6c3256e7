"""``hypebt signals`` in-process: exact output on a small case, formats, store, errors."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from backtests.cli.main import main

NAMES = "code,name\n002354,天娱数科\n301382,蜂助手\n000785,居然智家\n"
NEWS = [
    {"id": "n1", "published": "2024-12-16T02:58:00+08:00", "title": "“豆包”概念股狂飙",
     "body": "天娱数科10天6板。居然智家在互动平台回复合作。字节跳动未上市，星火科技涨停。"},
    {"id": "n2", "published": "2024-12-16 10:30", "title": "盘中快讯",
     "body": "蜂助手(301382)盘中20CM涨停。"},
]

TABLE = """\
Mentions: 4 in 2 article(s)
article_id  published         session     code    name      matched_text  theme  role         weight
n1          2024-12-16 02:58  2024-12-16  002354  天娱数科  天娱数科      豆包   momentum       1.00
n1          2024-12-16 02:58  2024-12-16  000785  居然智家  居然智家      豆包   cooperation    0.80
n2          2024-12-16 10:30  2024-12-17  301382  蜂助手    蜂助手               momentum       1.00
n2          2024-12-16 10:30  2024-12-17  301382  蜂助手    301382               momentum       1.00

Marks: 3 (min_score 0.5)
date        code    name      score  first_mention  n_articles  theme  theme_heat  role         entry
2024-12-16  002354  天娱数科  1.000  yes                     1  豆包            1  momentum     open
2024-12-16  000785  居然智家  0.800  yes                     1  豆包            1  cooperation  open
2024-12-17  301382  蜂助手    1.000  yes                     1                  0  momentum     open

Unknown names: 1
article_id  text      reason
n1          星火科技  company-like name not in the names file
"""


@pytest.fixture
def files(tmp_path):
    names = tmp_path / "names.csv"
    names.write_text(NAMES, encoding="utf-8")
    news = tmp_path / "news.jsonl"
    news.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in NEWS), encoding="utf-8")
    return str(news), str(names)


def test_table_exact(files, capsys):
    news, names = files
    assert main(["signals", news, "--names", names]) == 0
    assert capsys.readouterr().out == TABLE


def test_csv_and_json(files, capsys):
    news, names = files
    assert main(["signals", news, "--names", names, "--format", "csv", "--intraday", "same_close"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [
        "# mentions", "article_id,published,session,code,name,matched_text,theme,role,weight",
        "n1,2024-12-16 02:58,2024-12-16,002354,天娱数科,天娱数科,豆包,momentum,1.00",
        "n1,2024-12-16 02:58,2024-12-16,000785,居然智家,居然智家,豆包,cooperation,0.80"]
    assert "n2,2024-12-16 10:30,2024-12-16 close,301382,蜂助手,蜂助手,,momentum,1.00" in out
    assert "2024-12-16,301382,蜂助手,1.000,yes,1,,0,momentum,close" in out
    assert main(["signals", news, "--names", names, "--format", "json", "--min-score", "0.9"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["code"] for m in doc["marks"]] == ["002354", "301382"]
    assert doc["marks"][0] == {"date": "2024-12-16", "code": "002354", "name": "天娱数科",
                               "score": 1.0, "first_mention": True, "n_articles": 1, "theme": "豆包",
                               "theme_heat": 1, "role": "momentum", "entry": "open"}
    assert doc["unknown"] == [{"article_id": "n1", "text": "星火科技",
                               "reason": "company-like name not in the names file"}]
    assert len(doc["mentions"]) == 4 and doc["synthetic_names"] is False


def test_roles_filter_and_notes(files, tmp_path, capsys):
    news, names = files
    extra = tmp_path / "more.json"
    extra.write_text(json.dumps([{"id": "n3", "published": "2024-12-14", "title": "周末",
                                  "body": "<p>没有股票&nbsp;</p>"},
                                 {"id": "n4", "published": "later", "title": "x", "body": "y"}]),
                     encoding="utf-8")
    assert main(["signals", news, str(extra), "--names", names, "--roles", "cooperation",
                 "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "Marks: 1 (min_score 0.5)" in out
    assert out.endswith(
        "Notes:\n"
        "  n3: bare date 2024-12-14: bare_date = next_open\n"
        "  n3: HTML tags/entities removed\n"
        "  n3: names no listed stock\n"
        f"  skipped: {extra}: record 2: field 'published': 'later' is not a date/time with a year; "
        "expected "
        "e.g. 2024-12-16T02:58:00+08:00 or 2024年12月16日 02:58\n")


def test_default_names_are_the_synthetic_demo(capsys):
    assert main(["signals", "demo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Names: the SYNTHETIC demo market (give --names for real stocks)\n")
    assert "SYNTHETIC-demo-11: names no listed stock" in out
    assert "Marks: 26 (min_score 0.5)" in out


def test_store_news_archive(files, tmp_path, capsys):
    from backtests.data.store import Store

    _news, names = files
    store = Store.open(tmp_path / "store", create=True)
    store.write_names(pd.read_csv(names, dtype=str))
    store.add_articles([{**a, "published": "2024-12-16T02:58:00+08:00", "source": "", "url": ""}
                        for a in NEWS])
    assert main(["signals", "--data", str(tmp_path / "store"), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "n2,2024-12-16 02:58,2024-12-16,301382,蜂助手,301382,,momentum,1.00" in out


def test_custom_rule_files(files, tmp_path, capsys):
    news, names = files
    themes = tmp_path / "themes.toml"
    themes.write_text('[themes]\n"游戏" = ["天娱"]\n', encoding="utf-8")
    roles = tmp_path / "roles.toml"
    roles.write_text('[[role]]\nname = "hot"\nweight = 2.0\npatterns = ["板"]\n', encoding="utf-8")
    matching = tmp_path / "matching.toml"
    matching.write_text('not_stocks = ["居然智家"]\n', encoding="utf-8")
    assert main(["signals", news, "--names", names, "--format", "csv", "--themes", str(themes),
                 "--role-rules", str(roles), "--matching", str(matching)]) == 0
    out = capsys.readouterr().out
    assert "n1,2024-12-16 02:58,2024-12-16,002354,天娱数科,天娱数科,游戏,hot,2.00" in out
    assert "000785" not in out                       # declared not a stock
    assert "n2,2024-12-16 10:30,2024-12-17,301382,蜂助手,蜂助手,,mention,0.00" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('not_stock = ["x"]\n', encoding="utf-8")
    assert main(["signals", news, "--names", names, "--matching", str(bad)]) == 2
    assert "unknown key 'not_stock' (did you mean \"not_stocks\"?)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["signals"], 'Error: give article files (or "demo"), or --data STORE'),
    (["signals", "nope.jsonl"], "Error: nope.jsonl: article file not found"),
    (["signals", "demo", "--roles", "hype"], "Error: roles = 'hype': expected one of source, risk"),
])
def test_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(message)


def test_bad_time_names_the_file_and_line(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": "a", "published": "2024-12-16 08:00", "title": "t", "body": "b"}\n'
                 '{"id": "b", "title": "t", "body": "b"}\n', encoding="utf-8")
    assert main(["signals", str(p)]) == 2
    assert capsys.readouterr().err == (
        f"Error: {p}: line 2: no publication time (field 'published'); every article needs one to "
        "be placed on a trading session\n")
