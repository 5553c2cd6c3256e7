"""Marks: per (session, stock) score with decay, first mention, article counts, theme heat."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.core.errors import ConfigError, DataError
from backtests.data.master import StockMaster
from signals.marks import MARK_COLUMNS, SIGNAL_PARAMS, analyze, build_marks

MASTER = StockMaster.from_frame(pd.DataFrame({
    "code": ["002354", "301382", "000785"], "name": ["天娱数科", "蜂助手", "居然智家"]}))


def art(i, published, title, body):
    return {"id": f"t{i}", "published": published, "title": title, "body": body, "url": ""}


ARTS = [
    art(1, "2024-12-16 08:00", "早报", "天娱数科涨停。"),                         # 12-16 momentum 1.0
    art(2, "2024-12-16 20:00", "晚报", "天娱数科与豆包合作。"),                   # 12-17 cooperation 0.8
    art(3, "2024-12-17 07:00", "早报", "蜂助手股东减持。天娱数科20CM涨停。"),      # 12-17 risk / 1.0
    art(4, "2024-12-17 08:00", "居然智家涨停", "居然智家是一家公司。"),            # 12-17 title x1.5
]


def test_scores_decay_and_flags():
    m = build_marks(ARTS, MASTER, min_score=-10)
    assert list(m.columns) == list(MARK_COLUMNS)
    got = [(str(r.date.date()), r.code, round(r.score, 8), r.first_mention, r.n_articles, r.role)
           for r in m.itertuples()]
    half = 0.5 ** 0.5      # one session apart, half_life 2
    assert got == [
        ("2024-12-16", "002354", 1.0, True, 1, "momentum"),
        ("2024-12-17", "002354", round(0.8 + 1.0 + 1.0 * half, 8), False, 2, "momentum"),
        ("2024-12-17", "000785", 1.5, True, 1, "momentum"),    # mention 0.3 < momentum 1.0 in title
        ("2024-12-17", "301382", -1.0, True, 1, "risk"),
    ]
    assert m["date"].dtype == "datetime64[ns]"
    assert m.loc[1, "article_id"] == "t2;t3" and m.loc[1, "entry"] == "open"


def test_min_score_half_life_and_roles_are_parameters():
    m = build_marks(ARTS, MASTER)                                   # default min_score 0.5
    assert list(m["code"]) == ["002354", "002354", "000785"]
    m = build_marks(ARTS, MASTER, half_life=0.0, min_score=0.0)
    assert m["score"].round(8).tolist() == [1.0, 1.8, 1.5]
    m = build_marks(ARTS, MASTER, min_score=2.0)
    assert [(str(r.date.date()), r.code) for r in m.itertuples()] == [("2024-12-17", "002354")]
    m = build_marks(ARTS, MASTER, roles=["cooperation"], min_score=0.0)
    assert [(r.code, r.score, r.first_mention) for r in m.itertuples()] == [("002354", 0.8, True)]
    with pytest.raises(ConfigError, match=r"roles = 'momentun'.*did you mean \"momentum\""):
        build_marks(ARTS, MASTER, roles=["momentun"])
    with pytest.raises(ConfigError, match=r"unknown signals option 'min_scor'.*did you mean \"min_score\""):
        build_marks(ARTS, MASTER, min_scor=1.0)


def test_decay_over_several_sessions():
    arts = [art(1, "2024-12-13 08:00", "", "天娱数科涨停。"),      # Fri
            art(2, "2024-12-18 08:00", "", "天娱数科涨停。")]      # Wed: 3 sessions later
    m = build_marks(arts, MASTER, half_life=3.0)
    assert m["score"].tolist() == pytest.approx([1.0, 1.0 + 0.5])
    assert math.isclose(build_marks(arts, MASTER, half_life=1.5)["score"].iloc[1], 1.25)


def test_theme_and_theme_heat():
    arts = [art(1, "2024-12-16 08:00", "“豆包”概念股", "天娱数科涨停。"),
            art(2, "2024-12-16 08:30", "豆包大会", "火山引擎大会在即。"),          # no stock
            art(3, "2024-12-16 09:00", "鸿蒙", "鸿蒙生态，蜂助手涨停。")]
    r = analyze(arts, MASTER)
    assert [(x.code, x.theme, x.theme_heat) for x in r.marks.itertuples()] == [
        ("002354", "豆包", 2), ("301382", "鸿蒙", 1)]
    assert ("t2", "names no listed stock") in r.notes


def test_intraday_same_close_marks_the_close():
    a = [art(1, "2024-12-16 10:30", "", "天娱数科涨停。")]
    assert build_marks(a, MASTER)["date"].iloc[0] == pd.Timestamp("2024-12-17")
    m = build_marks(a, MASTER, intraday="same_close")
    assert (m["date"].iloc[0], m["entry"].iloc[0]) == (pd.Timestamp("2024-12-16"), "close")


def test_empty_result_has_the_columns_and_dtypes():
    m = build_marks([art(1, "2024-12-16 08:00", "", "没有股票。")], MASTER)
    assert list(m.columns) == list(MARK_COLUMNS) and m.empty
    assert m["date"].dtype == "datetime64[ns]" and m["score"].dtype == np.float64


def test_article_outside_the_calendar():
    a = [art(1, "1980-01-02 08:00", "", "天娱数科涨停。")]
    with pytest.raises(DataError, match=r"article 1: published 1980-01-02T08:00:00\+08:00: .*outside"):
        build_marks(a, MASTER)
    r = analyze(a, MASTER, skip_bad=True)
    assert r.marks.empty and len(r.skipped) == 1


def test_signal_params_table_matches_build_marks_defaults():
    assert set(SIGNAL_PARAMS) == {"min_score", "roles", "intraday", "bare_date", "half_life",
                                  "title_multiplier", "skip_bad"}
    assert SIGNAL_PARAMS["roles"][2] == ("source", "risk", "momentum", "cooperation", "broker",
                                         "catalyst", "mention")
    for name, (section, typ, default, allowed, doc) in SIGNAL_PARAMS.items():
        assert section == "signals" and doc
        build_marks(ARTS[:1], MASTER, **{name: default})
