"""Messy real-world text: scraper pinyin, full legal names, -U/-W suffixes, names split across
lines or by spaces, 7-digit code typos, lists and clauses, negations and reversals."""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.data.master import StockMaster
from signals.articles import Article
from signals.extract import Extractor
from signals.normalize import normalize_text

NAMES = pd.DataFrame({"code": ["688698", "688256", "000002", "002354", "000785", "301382",
                               "600519", "688099"],
                      "name": ["伟创电气", "寒武纪-U", "万科A", "天娱数科", "居然智家", "蜂助手",
                               "贵州茅台", "晶晨股份"]})


@pytest.fixture(scope="module")
def ex():
    return Extractor(StockMaster.from_frame(NAMES))


def found(ex, body, title="快讯"):
    sig = ex.extract(Article("x", pd.Timestamp("2024-12-16 20:00", tz="Asia/Shanghai"), title, body))
    return [(m.code, m.matched_text, m.role) for m in sig.mentions], list(sig.unknown)


def test_pinyin_inside_a_name_is_removed(ex):
    ms, _ = found(ex, "偉創(chuàng)電氣今日涨停。人工智能(AI)板块走强。")
    assert ms == [("688698", "偉創(chuàng)電氣", "momentum")]
    assert normalize_text("人工智能(AI)")[0] == "人工智能(AI)"        # no tone mark: kept


def test_legal_names_and_share_suffixes(ex):
    assert found(ex, "万科企业股份有限公司发布公告。")[0] == [("000002", "万科", "catalyst")]
    assert [m[:2] for m in found(ex, "寒武纪-U涨超10%，万科-W、贵州茅台酒股份有限公司收涨。")[0]] == [
        ("688256", "寒武纪-U"), ("000002", "万科"), ("600519", "贵州茅台")]
    assert found(ex, "寒武纪涨停。")[0] == [("688256", "寒武纪", "momentum")]


def test_names_split_by_wrapped_lines_and_spaces(ex):
    wrapped = "据统计，今日上午两市共有四十余只个股封住涨停板，其中天娱\n数科、居然智家等多股涨停。"
    assert [m[0] for m in found(ex, wrapped)[0]] == ["002354", "000785"]
    assert [m[0] for m in found(ex, "天 娱 数 科涨停")[0]] == ["002354"]
    # a short line (a heading or table row) keeps its break: no name across it
    assert found(ex, "豆包天娱\n数科")[0] == []
    # the title's end is never joined to the body
    assert found(ex, "数科公告。", title="今日市场一片大好，众多个股上涨，例如天娱")[0] == []


def test_seven_digit_code_is_reported_not_matched(ex):
    ms, unknown = found(ex, "天娱数科(0023541)涨停，SZ0023541，代码0023541.SZ。")
    assert [m[0] for m in ms] == ["002354"]
    assert [u[0] for u in unknown] == ["0023541", "SZ0023541", "0023541.SZ"]
    assert all(u[1].startswith("7-digit code") for u in unknown)
    assert found(ex, "成交1234567股。")[1] == []               # a plain number is not reported


@pytest.mark.parametrize("body, roles", [
    ("天娱数科、居然智家、蜂助手等涨停。", ["momentum"] * 3),
    ("天娱数科、居然智家等封板，蜂助手大涨。", ["momentum"] * 3),
    ("天娱数科涨停，居然智家跌停。", ["momentum", "risk"]),              # each its own clause
    ("天娱数科、居然智家\n等多股涨停。", ["momentum", "momentum"]),     # a line broken mid-sentence
    ("今日涨停个股：\n天娱数科\n居然智家\n蜂助手", ["momentum"] * 3),   # a list under its heading
    ("天娱数科冲击涨停未果。", ["mention"]),
    ("天娱数科盘中未能涨停。", ["mention"]),
    ("天娱数科炸板，居然智家冲高回落，蜂助手闪崩。", ["risk"] * 3),
    ("天娱数科由涨停转至跌停。", ["risk"]),
    ("天娱数科(002354)涨停。", ["momentum", "momentum"]),              # name and code in brackets
    ("今日涨停股一览\n名称 涨幅 封单\n天娱数科 10.02% 3.1亿\n居然智家 9.98% 1.2亿",   # a table
     ["momentum", "momentum"]),
    ("| 名称 | 涨跌幅 | 状态 |\n| 天娱数科 | 10.02% | 涨停 |\n| 居然智家 | -9.98% | 跌停 |",
     ["momentum", "risk"]),
])
def test_roles_of_lists_clauses_negations(ex, body, roles):
    assert [m[2] for m in found(ex, body)[0]] == roles
