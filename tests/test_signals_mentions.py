"""Stock mentions: names, former names, codes, guards; themes; roles."""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.data.master import StockMaster
from signals.mentions import NameMatcher, classify_code
from signals.normalize import normalize_text
from signals.roles import CLAUSE_RE, TextSpans, load_roles
from signals.themes import load_themes

# Small master built in code. Some names are invented to exercise a rule (marked "test").
NAMES = pd.DataFrame([
    ("000001", "平安银行", ""),
    ("000002", "万  科Ａ", ""),
    ("601318", "中国平安", ""),
    ("002354", "天娱数科", ""),
    ("000785", "居然智家", "居然之家"),
    ("301382", "蜂助手", ""),
    ("000528", "柳    工", ""),             # two characters once spaces are folded
    ("000591", "太阳能", ""),               # a common word
    ("300024", "机器人", ""),               # a common word
    ("601633", "长城汽车", ""),
    ("600001", "长城", ""),                 # test: a two-character name inside a longer one
    ("600002", "节跳动", ""),               # test: lies inside the non-stock 字节跳动
    ("600360", "ST华微", "华微电子"),
    ("688608", "恒玄科技", ""),
    ("600617", "国新能源", ""),             # inside 中国新能源 (common_words)
    ("300152", "新动力", ""),               # inside 注入新动力 (common_words)
], columns=["code", "name", "former_names"])


@pytest.fixture(scope="module")
def matcher():
    return NameMatcher(StockMaster.from_frame(NAMES))


def found(matcher, text):
    norm, _ = normalize_text(text)
    hits, unknown = matcher.find(norm)
    return [(h.code, h.kind) for h in hits], [(u.text, u.reason.split(" ")[0]) for u in unknown]


@pytest.mark.parametrize("text", [
    "代码002354。", "002354.SZ涨停", "(sz002354)", "SZ002354", "002354.XSHE", "ｓｚ００２３５４",
    "SZ.002354", "代码 002354 收涨",
])
def test_code_formats(matcher, text):
    assert found(matcher, text) == ([("002354", "code")], [])


@pytest.mark.parametrize("text, expected", [
    ("上证指数000001.SH收跌", []),                  # SSE composite index, not 平安银行
    ("上证指数(000001)收跌", []),                   # bare code after an index word
    ("沪深300ETF(510300)与创业板ETF(159915)", []),   # funds
    ("深证成指399001.SZ", []),
    ("平安银行(000001)", [("000001", "name"), ("000001", "code")]),
    ("000001.SZ", [("000001", "code")]),
    ("sh600000", []),                                # a stock code the names do not know -> unknown
    ("600000元", []),                                # an amount, not a code
    ("2024年12月16日", []),
])
def test_index_fund_and_amount_codes_are_not_stocks(matcher, text, expected):
    assert found(matcher, text)[0] == expected


def test_unknown_stock_codes_are_listed_not_guessed(matcher):
    assert found(matcher, "慧为智能(832876)、sh600000") == (
        [], [("慧为智能", "company-like"), ("832876", "stock"), ("SH600000", "stock")])


@pytest.mark.parametrize("code, exchange, what", [
    ("000001", "SH", "index"), ("000001", "SZ", "stock"), ("600000", "SH", "stock"),
    ("688608", "SH", "stock"), ("510300", "SH", "fund"), ("159915", "SZ", "fund"),
    ("399006", "SZ", "index"), ("830799", "BJ", "stock"), ("510300", None, "other"),
    ("300024", None, "stock"), ("000300", None, "stock"),
])
def test_classify_code(code, exchange, what):
    assert classify_code(code, exchange) == what


def test_names_former_names_and_variants(matcher):
    assert found(matcher, "居然之家6天5板，萬  科A、万科a跟涨")[0] == [
        ("000785", "former"), ("000002", "name"), ("000002", "name")]
    # aliases: without the ST prefix and without the share-class A (both guarded if short)
    assert found(matcher, "华微电子、万科等")[0] == [("600360", "former"), ("000002", "alias")]


def test_longest_match_wins(matcher):
    assert found(matcher, "中国平安涨停，长城汽车大涨")[0] == [("601318", "name"), ("601633", "name")]


def test_non_stocks_hide_names_inside_them_and_are_never_unknown(matcher):
    assert found(matcher, "字节跳动、火山引擎与OpenAI合作") == ([], [])
    assert found(matcher, "，节跳动涨停")[0] == [("600002", "name")]


@pytest.mark.parametrize("text, expected", [
    ("柳工、长城涨停", [("000528", "name"), ("600001", "name")]),
    ("柳工集团发布公告", []),                 # 2 characters glued to other words
    ("长城宽带", []),
    ("太阳能发电量创新高", []),               # a common word used as a word
    ("，太阳能涨停", [("000591", "name")]),
    ("工业机器人销量", []),
    ("机器人(300024)涨停", [("300024", "name"), ("300024", "code")]),
    ("中国新能源汽车销量，注入新动力。", []),     # names across a word boundary
    ("国新能源涨停，新动力、机器人", [("600617", "name"), ("300152", "name")]),
])
def test_short_and_common_word_guard(matcher, text, expected):
    assert found(matcher, text)[0] == expected


def test_unknown_company_like_names(matcher):
    assert found(matcher, "北交所上市公司慧为智能涨超11%，星火科技、天娱数科涨停") == (
        [("002354", "name")], [("慧为智能", "company-like"), ("星火科技", "company-like")])


# ---------------------------------------------------------------- themes
@pytest.mark.parametrize("text, expected", [
    ("“豆包”概念股狂飙", ["豆包"]),
    ("“”概念股成为资本市场的新宠", []),                 # empty quotes: no theme
    ("“谷子经济”概念的最大赢家", ["谷子经济"]),
    ("“镜湖AI眼镜”概念股走强", ["镜湖AI眼镜"]),          # unknown to the lexicon; no AI眼镜 inside
    ("今日固态电池概念股走强", ["固态电池"]),
    ("多只AI眼镜概念股跌超10%", ["AI眼镜"]),
    ("算电协同板块异动", ["算电协同"]),
    ("字节跳动旗下豆包，火山引擎大会", ["豆包", "豆包", "豆包"]),
])
def test_themes(text, expected):
    lex = load_themes()
    norm, _ = normalize_text(text)
    assert [h.theme for h in lex.find(norm)] == expected


def test_primary_theme_prefers_the_title():
    lex = load_themes()
    norm, _ = normalize_text("小红书美国爆红\n鸿蒙、鸿蒙、鸿蒙")
    hits = lex.find(norm)
    assert lex.primary(hits, norm.index("\n")) == "小红书"
    assert lex.primary(hits, 0) == "鸿蒙"


# ---------------------------------------------------------------- roles
@pytest.mark.parametrize("sentence, name, role", [
    ("天娱数科在周五收盘时实现10天6板。", "天娱数科", "momentum"),
    ("蜂助手盘中一度20CM 涨停。", "蜂助手", "momentum"),
    ("包括居然智家在内的公司近期发布机构调研或互动平台回复，披露了与豆包合作的相关情况。", "居然智家", "cooperation"),
    ("研报推荐了AISoC方面的恒玄科技。", "恒玄科技", "broker"),
    ("相关受益标的：恒玄科技。", "恒玄科技", "broker"),
    ("火山引擎大会将于12月18日举行，天娱数科参会。", "天娱数科", "catalyst"),
    ("广博股份直接由涨停转至跌停。", "广博股份", "risk"),        # risk before momentum
    ("居然智家股东拟减持。", "居然智家", "risk"),
    ("天娱数科收到深交所问询函。", "天娱数科", "risk"),
    ("公司发布股票交易风险提示公告，天娱数科。", "天娱数科", "risk"),
    ("国海证券刘熹在12月12日的研报中表示，看好豆包。", "国海证券", "source"),
    ("据同花顺数据，豆包概念走强。", "同花顺", "source"),
    ("天娱数科是一家公司。", "天娱数科", "mention"),
    ("国泰君安舒迪等人12月11日研报指出，未来可期。", "国泰君安", "source"),
    ("天娱数科获券商研报推荐。", "天娱数科", "broker"),          # a subject, not a source
    ("据天娱数科公告，公司与豆包合作。", "天娱数科", "cooperation"),
    # a list and its own predicate decide first, even when the clause turns later (a bulleted
    # summary without commas) -- but not when the predicate turns, nor for a noun (连板股)
    ("石大胜华、华自科技(20CM)、维科技术涨停 [3] - 光通信板块冲高回落 [3]。", "石大胜华", "momentum"),
    ("石大胜华、华自科技(20CM)、维科技术涨停 [3] - 光通信板块冲高回落 [3]。", "华自科技", "momentum"),
    ("宏柏新材、晨光新材涨停后炸板，板块冲高回落。", "宏柏新材", "risk"),
    ("广博股份、日上集团、华胜天成等连板股在尾盘突然打开涨停板。", "华胜天成", "risk"),
    ("皇台酒业、百大集团跌停，京投发展大涨。", "皇台酒业", "risk"),
    ("西安饮食直线拉板后封板失败，板块集体回落。", "西安饮食", "risk"),
    ("金迪克开盘重挫。", "金迪克", "risk"),
    ("长白山发布异动公告，属于股票交易异常波动情形。", "长白山", "risk"),
    ("飞龙股份、英维克等跌幅居前。", "英维克", "risk"),
    ("国泰君安证券上海江苏路营业部净买入该股涨停。", "国泰君安", "mention"),    # a trading seat
    ("兴业证券股份有限公司上海分公司净卖出该股。", "兴业证券", "mention"),
    ("天风证券分析，黄金市场情绪脆弱。", "天风证券", "source"),
    ("中信证券研究团队认为，数据中心受益。", "中信证券", "source"),
    ("东方财富Choice数据显示，28只个股录得10个以上涨停。", "东方财富", "source"),
    ("华为正携手中国移动探索机器人应用。", "中国移动", "cooperation"),
])
def test_roles(sentence, name, role):
    rules = load_roles()
    text, _ = normalize_text(sentence)
    start = text.index(name)
    spans = TextSpans(text)
    span = spans.sentence(start, start + len(name))
    got, weight = rules.decide(spans, start, start + len(name), span, {})
    assert got == role
    assert weight == rules.weights[role]


def test_role_weights_come_from_the_rules_file(tmp_path):
    p = tmp_path / "roles.toml"
    p.write_text('default_role = "plain"\ndefault_weight = 0.1\n'
                 '[[role]]\nname = "hot"\nweight = 2.5\npatterns = ["涨停"]\n', encoding="utf-8")
    rules = load_roles(p)
    text = "天娱数科涨停。"
    assert rules.decide(TextSpans(text), 0, 4, (0, len(text)), {}) == ("hot", 2.5)
    assert rules.decide(TextSpans("天娱数科。"), 0, 4, (0, 5), {}) == ("plain", 0.1)
    assert rules.names == ("hot", "plain")


def test_bad_rule_files(tmp_path):
    from backtests.core.errors import ConfigError

    p = tmp_path / "r.toml"
    p.write_text('[[role]]\nname = "x"\nweight = 1\nscope = "sentense"\npatterns = ["a"]\n')
    with pytest.raises(ConfigError, match=r'scope = .sentense.*did you mean "sentence"'):
        load_roles(p)
    p.write_text('[[role]]\nname = "x"\nweight = 1\npatterns = ["("]\n')
    with pytest.raises(ConfigError, match="bad regex"):
        load_roles(p)
    p.write_text('[themes]\nx = ["y"]\n[patern]\n')
    with pytest.raises(ConfigError, match=r"unknown key 'patern'.*did you mean \"patterns\""):
        load_themes(p)


def test_sentence_and_clause_spans():
    text = "早报。天娱数科、蜂助手涨停，居然智家跟涨!下一句"
    spans = TextSpans(text)
    s = text.index("蜂助手")
    assert spans.sentence(s, s + 3) == (3, 21)
    assert text[slice(*spans.sentence(s, s + 3))] == "天娱数科、蜂助手涨停，居然智家跟涨!"
    assert spans.around(s, s + 3, CLAUSE_RE, 3, 21) == (8, 13)           # 蜂助手涨停
    assert spans.sentence(len(text) - 1, len(text)) == (21, len(text))
    assert spans.sentence(0, 2) == (0, 3)


def test_characters_outside_the_bmp_keep_positions(matcher):
    text = "😀天娱数科涨停，😀蜂助手(301382)"
    norm, _ = normalize_text(text)
    hits, _ = matcher.find(norm)
    assert [(norm[h.start:h.end], h.code) for h in hits] == [
        ("天娱数科", "002354"), ("蜂助手", "301382"), ("301382", "301382")]


def test_configs_copies_match_the_packaged_defaults():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    for name in ("themes", "roles", "matching"):
        assert (repo / "configs" / f"{name}.toml").read_bytes() == \
            (repo / "signals" / f"{name}.toml").read_bytes(), f"configs/{name}.toml is out of step"
