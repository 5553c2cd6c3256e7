"""The extractor's batch paths give exactly what the plain ones gave (tests/reference_extract.py):
normalisation by table, digit runs and name selection in numba, every mention's spans in one
kernel, role regexes answered from one literal scan. Every field of every mention is compared,
on synthetic articles, edge cases, the labelled set and the real articles."""
from __future__ import annotations

import functools
import itertools
import json
import re
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.data.master import StockMaster, load_master
from benchmarks.news_corpus import make_records
from signals.extract import Extractor, IndexTables
from signals.extract_nb import KIND_MARKER, KIND_THEME, leftmost_of_nb
from signals.index_nb import index_part_nb, unknown_json_nb
from signals.literals import Automata, finite_strings, needed_strings, parse
from signals.mentions import _DIGITS_RE, REASONS, digit_runs, load_matching
from signals.normalize import normalize_all, normalize_text
from signals.parallel import article_rows
from signals.regex_nb import may_match_nb, run_nb, step_tables, workspace
from signals.roles import (
    CLAUSE_RE,
    ROLE_CLAUSE_RE,
    SENTENCE_RE,
    STOP_FLAGS,
    RoleRule,
    RoleRules,
    TextSpans,
    load_roles,
)
from signals.roles_nb import F_BREAK, F_CLAUSE, F_ROLE, F_SENTENCE, mention_spans_nb
from signals.text_nb import leftmost_longest_nb
from signals.themes import ThemeLexicon, load_themes
from tests import reference_extract as ref
from tests.conftest import NEWS, REAL_NAMES, REAL_NAMES_2023

LABELLED = "tests/data/news_labelled.jsonl"

NAMES = pd.DataFrame([
    ("000001", "平安银行", ""), ("000002", "万  科Ａ", ""), ("601318", "中国平安", ""),
    ("002354", "天娱数科", ""), ("000785", "居然智家", "居然之家"), ("301382", "蜂助手", ""),
    ("000528", "柳    工", ""), ("000591", "太阳能", ""), ("300024", "机器人", ""),
    ("601633", "长城汽车", ""), ("600360", "ST华微", "华微电子"), ("688608", "恒玄科技", ""),
    ("688256", "寒武纪-U", ""), ("300750", "宁德时代", ""), ("002230", "科大讯飞", ""),
    ("600030", "中信证券", ""), ("300059", "东方财富", ""), ("002747", "伟创电气", ""),
], columns=["code", "name", "former_names"])

EDGE = [
    ("天娱数科、居然智家\n等多股涨停", "今日天娱数科、居然智家、蜂助手\n等多股涨停，平安银行未能涨停。"),
    ("", "偉創(chuàng)電氣盤中炸板，寒武纪-U跌停，萬科A冲高回落。\n\n涨停个股：\n天娱数科\n蜂助手\n"),
    ("标题", "天娱数科(002354)、SZ000001、600360.SH与 0023541.SZ 均大涨；上证指数(000001)收跌。"),
    ("中信证券研报", "中信证券在研报中表示，看好科大讯飞，维持买入评级。据东方财富数据，宁德时代涨超5%。"),
    ("", "长城汽车股份有限公司公告称拟减持；机器人产业链火热，机器人(300024)三天两板。"),
    ("😀 表情", "😀天娱数科涨停😀，ß ﬁ 蜂助手３连板。萬  科Ａ\u3000收跌，ＡＩ眼镜概念股大涨。"),
    ("", "除了天娱数科，多只个股涨停，而在跌停股中，蜂助手一字板后开板。" * 3),
    ("", "平安银行" * 3 + "\n" + "天娱数科" + "的业绩说明会上，管理层提示风险，股价跌逾3%。"),
    ("", ""),
    ("表", "代码 名称 涨幅\n002354 天娱数科 10.01%\n301382 蜂助手 20.00%\n"),
    ("\ufffd", "和天娱数科\ufffd科技股份涨停，与蜂助手\ufffd等跌停；据东方财富数据，万科-W、太阳能、机器人大涨"),
    ("", "、智慧芯片科技，和新锐传媒、万科企业股份有限公司公告；万科集团股份有限公司、太阳能(000591)涨停"),
]


def check_same(ex, title, body):
    got = ex.extract_text(title, body)
    want = ref.extract_text(ex, title, body)
    assert got[1:] == want[1:], (title, body)
    assert len(got[0]) == len(want[0]), (title, body)
    for g, w in zip(got[0], want[0]):
        assert g == w and type(g.weight) is type(w.weight), (title, body, g, w)
    check_rows(ex, [(7, title, body)])


def check_rows(ex, items):
    """The mention index's rows (Extractor.index_rows, in its passes) are the rows built from
    the reference extraction, field by field and type by type."""
    got, want = ex.index_rows(items), ref.index_rows(ex, items)
    assert got == want
    for g, w in zip(got, want):
        assert [tuple(map(type, m)) for m in g[2]] == [tuple(map(type, m)) for m in w[2]], g
    part = ex.index_part([(title, body) for _k, title, body in items])
    assert [list(c) if isinstance(c, list) else c.tolist() for c in part] == part_of_rows(want)


def part_of_rows(rows):
    """Extractor.index_part's answer as the rows give it: the JSON as orjson writes it, the
    terms numbered in order of first use (each mention's code, role and theme, then the
    article's themes; no theme: -1)."""
    terms: dict[str, int] = {}
    out = [[] for _ in range(12)]
    tj, mj, uj, _terms, code, role, theme, title, weight, m_counts, theme_ids, t_counts = out
    for _key, themes_json, ms, unknown in rows:
        tj.append(themes_json)
        mj.append(orjson.dumps(ms))
        uj.append(orjson.dumps(unknown))
        for c, _matched, _kind, in_title, th, r, w in ms:
            code.append(terms.setdefault(c, len(terms)))
            role.append(terms.setdefault(r, len(terms)))
            theme.append(terms.setdefault(th, len(terms)) if th else -1)
            title.append(in_title)
            weight.append(w)
        themes = json.loads(themes_json)[0]
        theme_ids += [terms.setdefault(t, len(terms)) for t in themes]
        m_counts.append(len(ms))
        t_counts.append(len(themes))
    out[3] = list(terms)
    return out


def check_pass(ex, bodies=()):
    """One pass of index_rows over every EDGE article, the quoted theme patterns and
    ``bodies`` among them (articles run again alone in the middle of a pass, each
    article's rows at their place)."""
    quoted = ["今日固态电池概念、“谷子”概念股和AI眼镜板块大涨，天娱数科涨停。", "“镜湖AI眼镜”概念股蜂助手涨停"]
    pairs = [p for body in [*quoted, *bodies] for p in [("", body), *EDGE[:3]]] + EDGE
    check_rows(ex, [(k, title, body) for k, (title, body) in enumerate(pairs)])
    # extract_texts (what signals.marks.analyze runs, through extract_all) in the same passes
    assert ex.extract_texts(pairs) == [ref.extract_text(ex, t, b) for t, b in pairs]


@pytest.fixture(scope="module", autouse=True)
def short_passes():
    """Passes of 64 articles here (the extractor's are longer), so that the sets of these tests
    span several passes."""
    from signals import extract
    was, extract._PASS = extract._PASS, 64
    yield
    extract._PASS = was


@pytest.fixture(scope="module")
def small():
    return Extractor(StockMaster.from_frame(NAMES))


@pytest.fixture(scope="module")
def real(shared_data):
    return Extractor(load_master(REAL_NAMES, REAL_NAMES_2023))


# ---------------------------------------------------------------- rules and kernels
def test_stop_flags_are_the_regex_classes():
    for c in range(0x10000):
        ch = chr(c)
        want = (F_SENTENCE * bool(SENTENCE_RE.match(ch)) | F_ROLE * bool(ROLE_CLAUSE_RE.match(ch))
                | F_CLAUSE * bool(CLAUSE_RE.match(ch)) | F_BREAK * (ch == "\n"))
        assert STOP_FLAGS[c] == want, hex(c)


SPAN_TEXT = st.text("天娱数科涨停。，、:;\n！ A1", max_size=40)


@settings(max_examples=300, deadline=None)
@given(SPAN_TEXT, st.data())
def test_mention_spans_are_textspans(text, data):
    n = len(text)
    start = data.draw(st.integers(0, n))
    end = data.draw(st.integers(start, n))
    hard = data.draw(st.sampled_from([-1, n, text.find("\n")]))
    spans = TextSpans(text, (hard,) if hard >= 0 else ())
    lo, hi = spans.sentence(start, end)
    units = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    got = mention_spans_nb(STOP_FLAGS, units, hard, np.array([start]), np.array([end]))
    assert got.tolist() == [[start, end, lo, hi, *spans.around(start, end, ROLE_CLAUSE_RE, lo, hi),
                             *spans.around(start, end, CLAUSE_RE, lo, hi)]]


@pytest.mark.parametrize("pattern, words", [
    ("涨停", ["涨停"]), ("未能?(涨停|封板)", ["未能涨停", "未能封板", "未涨停", "未封板"]),
    ("[首二]板", ["首板", "二板"]), ("20CM|30CM", ["20CM", "30CM"]),
    ("提示.{0,6}风险", None), (r"跌逾\d", None), ("(?i:ab)", None), ("a?", None), ("^涨停", None),
])
def test_finite_strings(pattern, words):
    got = finite_strings(parse(pattern))
    assert (got if got is None else sorted(got)) == (words if words is None else sorted(words))


@pytest.mark.parametrize("pattern, words", [
    ("提示.{0,6}风险", ["提示"]), (r"跌逾\d", ["跌逾"]), (r"\d+天\d+板", ["天"]),
    ("创.{0,4}新高", ["新高"]), (r"(?<=x)涨", ["涨"]), (r"\d+", None), (".*", None),
    ("(涨停|跌.停)", ["涨停", "跌"]),
])
def test_needed_strings(pattern, words):
    assert needed_strings(parse(pattern)) == words


ATOMS = ["涨", "停", "板", "跌", "[涨跌]", r"\d", ".", "(?:涨|跌停)", "停?", "板{1,2}", "(?=停)",
         "(?<!跌)", "^", "$", r"\b", "a+", "(?i:a)", "[^涨]"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4),
       st.lists(st.sampled_from(ATOMS), max_size=3), st.text("涨停板跌1aA\n", max_size=14),
       st.data())
def test_literals_decide_like_the_regex(first, second, text, data):
    """A finite pattern matches in a window exactly when one of its strings lies there; a
    pattern with needed strings never matches in a window without one."""
    pattern = "".join(first) + ("|" + "".join(second) if second else "")
    rx = re.compile(pattern)
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    found = rx.search(text, a, b) is not None

    def inside(words):
        return any(text.find(w, a, b) >= 0 and text.find(w, a, b) + len(w) <= b for w in words)

    words = finite_strings(parse(rx))
    if words is not None:
        assert found == inside(words), (pattern, text, a, b)
    need = needed_strings(parse(rx))
    if need is not None and found:
        assert inside(need), (pattern, text, a, b)


AUTO_ATOMS = ATOMS + [r"\Z", r"\A", r"\s", "[^\\S\n]", "(?!跌.)", "(?=[涨跌]停)", "(涨|a)*?",
                      "x{0,3}", "[\u4e00-\u9fff]{0,2}?", r"\n", "(?s:.)", "(?:a|)+", r"\w", r"\D"]
AUTO_TEXT = st.text("涨停板跌1aA\nx ", max_size=14)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(AUTO_ATOMS), min_size=1, max_size=4),
       st.lists(st.sampled_from(AUTO_ATOMS), max_size=3), AUTO_TEXT, st.data())
def test_automata_answer_like_the_regex(first, second, text, data):
    """A translated pattern matches at a position / in a window / in a slice exactly when its
    regex does, with and without the split closures (``step``); look-behinds, word boundaries
    and flag groups are not translated."""
    pattern = "".join(first) + ("|" + "".join(second) if second else "")
    rx = re.compile(pattern)
    auto = Automata()
    start = auto.add(rx)
    if any(a in pattern for a in ("(?<", r"\b", "(?i", "(?s")):
        assert start is None, pattern
        return
    assert start is not None, pattern
    code, cmap, ctab = auto.arrays()
    step = step_tables(code, ctab)
    ws = workspace(len(auto.op))
    units = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    for anchored in (True, False):
        want = (rx.match(text, a, b) if anchored else rx.search(text, a, b)) is not None
        assert run_nb(code, cmap, ctab, ws, start, units, a, b, 0, anchored) == want, \
            (pattern, text, a, b, anchored)
        assert run_nb(code, cmap, ctab, ws, start, units, a, b, 0, anchored, step) == want, \
            (pattern, text, a, b, anchored)
        # the filter callers run first never rules out a match
        assert may_match_nb(code, cmap, ctab, start, units, a, b, 0, anchored) or not want
    want = rx.search(text[a:b]) is not None
    assert run_nb(code, cmap, ctab, ws, start, units, a, b, a, False) == want, (pattern, text, a, b)
    assert run_nb(code, cmap, ctab, ws, start, units, a, b, a, False, step) == want
    assert may_match_nb(code, cmap, ctab, start, units, a, b, a, False) or not want


ROLE_TEXT = st.text("甲乙涨停跌板未能提示风险研报等，。、\n13", max_size=40)
USER_RULES = [
    RoleRule("risk", -1.0, "sentence", re.compile("(?:提示.{0,3}风险)|(?:跌停)")),
    RoleRule("neg", 0.3, "sentence", re.compile("(?:未能?涨停)"), parts=("未能?涨停",)),
    RoleRule("mom", 1.0, "sentence", re.compile(r"(?:涨停)|(?:\d板)|(?:(?<!未)板)"),
             parts=("涨停", r"\d板", "(?<!未)板")),
    RoleRule("src", 0.0, "after", re.compile("^[^，。]{0,4}研报"), re.compile("^甲$")),
    RoleRule("lst", 0.5, "after_list", re.compile("等"), re.compile("乙")),
    RoleRule("any", 0.2, "sentence", re.compile("(?i:X)|.{3}风")),
    RoleRule("bef", 0.4, "before", re.compile("(?:(据|来源)$)|(?:^乙)"), re.compile("甲|乙")),
    RoleRule("lk", 0.7, "after_list", re.compile("(?:、[^、，]{1,3})*等(?!跌)(?=[涨停板])"),
             parts=("(?:、[^、，]{1,3})*等(?!跌)(?=[涨停板])",)),
    RoleRule("tail", 0.9, "after", re.compile("(?:风险$)|(?:研报\\Z)")),
]
# exact strings that overlap (涨停板: finditer reports 涨停 and skips 停板) and a string that is
# both an exact pattern and another pattern's needed literal (跌)
OVERLAP_RULES = [
    RoleRule("ov", 0.1, "sentence", re.compile("(?:涨停)|(?:停板)|(?:能)"), parts=("涨停", "停板", "能")),
    RoleRule("dn", -0.5, "sentence", re.compile("(?:跌)|(?:跌.{0,2}板)"), parts=("跌", "跌.{0,2}板")),
    RoleRule("src", 0.0, "after", re.compile("^[^，。]{0,4}研报"), re.compile("^甲$")),
]


@pytest.mark.parametrize("rules", [
    load_roles(), RoleRules(USER_RULES, "mention", 0.3), RoleRules(OVERLAP_RULES, "m", 0.3),
    RoleRules(USER_RULES + [RoleRule("ref", 2.0, "sentence", re.compile(r"(涨)\1"))], "m", 0.1),
], ids=["shipped", "user", "overlap", "backref"])
@settings(max_examples=300, deadline=None)
@given(text=ROLE_TEXT, data=st.data())
def test_decide_all_is_decide(rules, text, data):
    """Shipped rules, rules with patterns that have no literals, and rules that cannot be split
    (a back-reference): decide_all answers as decide, mention by mention."""
    n = len(text)
    pairs = sorted({(s, min(n, s + data.draw(st.integers(1, 2))))
                    for s in data.draw(st.lists(st.integers(0, max(0, n - 1)), max_size=4))
                    if n})
    spans = TextSpans(text, ())
    want, rows, cache = [], [], {}
    for s, e in pairs:
        sent = spans.sentence(s, e)
        want.append(rules.decide(spans, s, e, sent, cache))
    if pairs:
        starts = np.array([p[0] for p in pairs])
        ends = np.array([p[1] for p in pairs])
        units = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        rows = mention_spans_nb(STOP_FLAGS, units, -1, starts, ends)
        assert rules.decide_all(text, rows, {}) == want


def _decided(rules, text, mention):
    """The role ``decide`` gives ``mention`` of ``text``, checked equal to the kernel's
    (``decide_all`` on the spans of ``mention_spans_nb``)."""
    spans = TextSpans(text, ())
    want = rules.decide(spans, *mention, spans.sentence(*mention), {})
    units = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    rows = mention_spans_nb(STOP_FLAGS, units, -1, np.array([mention[0]]), np.array([mention[1]]))
    assert rules.decide_all(text, rows, {}) == [want]
    return want[0]


@pytest.mark.parametrize("text, mention, role", [
    ("涨停，甲，跌", (3, 4), "dn"),          # equally near: the earlier rule
    ("涨停板，甲，x跌", (4, 5), "dn"),       # 停板 is nearer but finditer skips it (inside 涨停板)
    ("涨停，甲，x跌", (3, 4), "ov"),
    ("涨，甲，跌倒", (3, 4), "dn"),
])
def test_nearest_pass(text, mention, role):
    """The nearest sentence-rule match, answered in the kernel from the literal scan, is what
    finditer gives: ties go to the earlier rule, overlapping literals are left to the regex."""
    rules = RoleRules([RoleRule("dn", -0.5, "sentence", re.compile("跌")),
                       RoleRule("ov", 0.1, "sentence", re.compile("(?:涨停)|(?:停板)"),
                                parts=("涨停", "停板"))], "m", 0.3)
    assert _decided(rules, text, mention) == role


@pytest.mark.parametrize("text, mention, role", [
    ("甲、乙等涨停", (0, 1), "up"),           # the needed string after the mention: the automaton
    ("涨停的甲、乙等", (3, 4), "m"),           # only before it, in the role clause: no match
    ("甲、乙等，涨停", (0, 1), "m"),           # only outside the role clause: not looked for
    ("甲涨，停", (0, 1), "m"),                 # no needed string at all
    ("研报称甲", (3, 4), "src"),              # before: its needed string before the mention
    ("甲研报，", (0, 1), "m"),                # ... not after it
])
def test_other_scopes_need_their_strings(text, mention, role):
    """Rules of the after_list, after and before scopes run only when one of their needed
    strings lies in the mention's role clause; the answers are decide's."""
    rules = RoleRules([RoleRule("up", 1.0, "after_list", re.compile("(?:、[^、，]{1,3})*等?涨停")),
                       RoleRule("src", 0.0, "before", re.compile("研报.?$"))], "m", 0.3)
    assert rules.kernel_tables()[1].tolist() == [False, False]      # no rule always runs
    assert _decided(rules, text, mention) == role


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 4), st.integers(0, 5)), max_size=16),
       st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_leftmost_of_a_kind_is_leftmost_longest_of_its_rows(rows, kinds):
    """The joint scan's rows of one kind, taken leftmost then longest in one pass, are what
    leftmost_longest_nb takes of that kind's rows alone (its own trie's scan)."""
    occ = np.array(sorted({(s, s + n, node) for s, n, node in rows}), dtype=np.int64).reshape(-1, 3)
    kind = np.array(kinds, dtype=np.uint8)
    for bit in (KIND_THEME, KIND_MARKER):
        mine = occ[(kind[occ[:, 2]] & bit) != 0]
        want = mine[leftmost_longest_nb(mine)]
        assert leftmost_of_nb(occ, kind, bit).tolist() == want.tolist()


# ---------------------------------------------------------------- text steps
@settings(max_examples=300, deadline=None)
@given(st.text("天娱Aa ß\u3000ＡＢ１(chuàng)（）\n。華電😀\ud800１٣", max_size=60),
       st.integers(-1, 10))
def test_normalize_is_the_plain_one(text, keep):
    got, gi = normalize_text(text, keep)
    want, wi = ref.normalize_text(text, keep)
    assert got == want
    assert (gi is None and wi is None) or np.array_equal(gi, wi)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text("天娱Aa ß\u3000ＡＢ１(chuàng)（）\n。華電😀\ud800\udc00１٣", max_size=40),
                          st.integers(-1, 10)), max_size=8))
def test_normalize_all_is_the_plain_one_text_by_text(pairs):
    """Many texts through one kernel call (texts it cannot read -- a character outside the BMP,
    an upper case that is longer -- among the others): each text, index, title end, code points
    and UTF-16 units as the plain normalisation of that text alone gives them."""
    got = normalize_all([t for t, _k in pairs], [k for _t, k in pairs])
    at, ix_at = got.bounds.tolist(), got.index_bounds.tolist()
    assert not got.units.flags.writeable and not got.units16.flags.writeable
    for a, (text, keep) in enumerate(pairs):
        want, wi = ref.normalize_text(text, keep)
        assert got.texts[a] == want
        assert (wi is None and got.indexes[a] is None) or np.array_equal(got.indexes[a], wi)
        assert got.index[ix_at[a]:ix_at[a + 1]].tolist() == ([] if wi is None else wi.tolist())
        assert got.title_ends[a] == (want.find("\n") if "\n" in want else len(want))
        units = got.units[at[a]:at[a + 1]]
        assert units.tolist() == [ord(c) for c in want]
        units16 = got.units16[at[a]:at[a + 1]]
        assert units16.tolist() == [min(ord(c), 0xFFFD) if ord(c) > 0xFFFF else ord(c)
                                    for c in want]
    assert normalize_all([], []).texts == []


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789٣١٢۴𝟎a。", max_size=40))
def test_digit_runs_are_the_regex(text):
    assert [tuple(r) for r in digit_runs(text)] == [m.span() for m in _DIGITS_RE.finditer(text)]


THEME_WORDS = ["概念", "概念股", "板块", "题材", "“", "”", "\n", "AI", "眼镜", "谷子", "经济", "的", "等",
               "固态电池", "豆包", "字节跳动", "，", "8", "今日", "“”", "😀", "X"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(THEME_WORDS), max_size=14), st.sampled_from(["", "的等"]))
def test_themes_are_the_plain_ones(words, stops):
    """Lexicon keywords, quoted and unquoted patterns (a line break before the marker, stop
    characters, runs longer than max_unquoted), with and without stop characters."""
    lex = ThemeLexicon({"豆包": ("豆包", "字节跳动"), "谷子经济": ("谷子经济", "谷子"),
                        "AI眼镜": ("AI眼镜",)},
                       (r'[“"]([^“”"]{1,12})[”"]\s*(?:概念股|概念|板块|题材)',),
                       ("概念股", "概念", "板块"), 4, stops)
    text = "".join(words)
    hits = lex.find(text)
    assert hits == ref.theme_find(lex, text)
    rows, themes = lex.scan(text)
    assert rows[:, :2].tolist() == [list(h[:2]) for h in hits] and themes == [h.theme for h in hits]
    for title_end in (0, 3, len(text)):
        assert lex.primary(hits, title_end) == ref.theme_primary(hits, title_end)
    # a stop character outside the BMP: no scan, the regexes (the same hits)
    plain = ThemeLexicon(lex.themes, (r'[“"]([^“”"]{1,12})[”"]\s*(?:概念股|概念|板块|题材)',),
                         ("概念股", "概念", "板块"), 4, stops + "😀")
    assert not plain.scannable and plain.scan(text)[1] == [h.theme for h in plain.find(text)]
    assert plain.find(text) == ref.theme_find(plain, text)


NAME_WORDS = ["天娱数科", "万科A", "万科", "平安", "中国平安", "机器人", "太阳能", "发电", "、", "，", "等",
              "涨停", "(002354)", "SZ000001", "科技", "股份", "智能", "居然之家", "字节跳动", "\n", " ",
              "0023541", "600360.SH", "上证指数", "恒玄科技", "长城", "华微电子", "电子", "新"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(NAME_WORDS), max_size=14))
def test_name_matches_are_the_plain_ones(small, words):
    text = normalize_text("".join(words))[0]
    assert small.matcher.find(text) == ref.find(small.matcher, text)


# codes in every form the code rules read: exchanges before (with a dot, a line break) and after,
# 5- to 8-digit runs, digits other than 0-9, amounts, index words, brackets, 7-digit typos
CODE_WORDS = ["002354", "000001", "600360", "600519", "830799", "399006", "510300", "0023541",
              "60036", "60036012", "SH", "SZ", "BJ", "SS", "S", ".", "\n", ".SH", ".SZ", ".BJ",
              ".SS", ".XSHG", ".XSHE", ".BSE", ".SHA", "X", "9", "(", ")", "（", "）", "元", "股",
              "%", "指数", "沪深", "ETF", "上证", "、", "天娱数科", "科技", "和新锐", "٣", "６", "𝟎",
              "\ufffd", "\ud800", "😀"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(CODE_WORDS), max_size=12))
def test_codes_are_the_plain_ones(small, words):
    """The kernel's codes, typos and unknown codes are the regexes' (tests/reference_extract.py
    and the matcher's own regex path); :meth:`NameMatcher.find_spans` is :meth:`find`."""
    text = "".join(words)
    got = small.matcher.find(text)
    assert got == ref.find(small.matcher, text)
    assert got == small.matcher._find_regex(text)
    at, code_kind, unknown = small.matcher.find_spans(text)
    assert at.tolist() == [list(h[:2]) for h in got[0]]
    assert unknown == [(u.start, u.end, u.reason) for u in got[1]]
    assert code_kind == [(h.code, h.kind) for h in got[0]]


def test_huge_text_and_empty(small):
    """A text of ~400,000 characters dense with names, codes, typos and unknown names (every
    buffer of the kernel grows or is sized right), and the empty text."""
    text = normalize_text("、天娱数科(002354)、SZ000001、0023541.SZ、和新锐科技、600519、" * 10_000)[0]
    got = small.matcher.find(text)
    assert len(got[0]) == 30_000 and len(got[1]) == 30_000
    assert got == small.matcher._find_regex(text) == ref.find(small.matcher, text)
    assert small.matcher.find("") == ([], [])
    at, code_kind, unknown = small.matcher.find_spans("")
    assert at.shape == (0, 2) and code_kind == [] and unknown == []


@pytest.mark.parametrize("text, hits, unknown", [
    ("SZ002354、SZ.000001和600360.SH", ["002354", "000001", "600360"], []),
    ("SH\n600360与BJ.\n830799", ["600360"], ["BJ.\n830799"]),          # `$` before a break
    ("600519涨停，600519元，上证指数(000001)，000001.SH", [], ["600519"]),
    ("天娱数科(0023541)、0023541.SZ、60036012", ["天娱数科"], ["0023541", "0023541.SZ"]),
    ("600360.SHA与X600360，600٣60.SH", ["600360"], ["600٣60.SH"]),   # a digit not 0-9: regexes
])
def test_code_forms(small, text, hits, unknown):
    got, unk = small.matcher.find(text)
    assert (small.matcher._rows(text) is None) == ("٣" in text)
    assert [h.matched if h.kind != "code" else h.code for h in got] == hits
    assert [u.text for u in unk] == unknown


# ---------------------------------------------------------------- whole articles
@pytest.mark.parametrize("title, body", EDGE)
def test_edge_cases(small, title, body):
    check_same(small, title, body)


@pytest.mark.parametrize("title, body", [
    ("x\ud83d y", "天娱数科涨停，居然智家\udc00封板"),
    ("豆包\ud83d", "\ud83d😀天娱数科、蜂助手等涨停\udbff"),
])
def test_lone_surrogates_extract_like_replacement_characters(small, title, body):
    """Raw text with lone surrogates (the API, not the reader, which replaces them) extracts
    like the same text with U+FFFD in their place; nothing raises on the way."""
    got = small.extract_text(title, body)
    fixed = small.extract_text(*(_SURROGATES.sub("\ufffd", t) for t in (title, body)))
    assert [(m.code, m.kind, m.role, m.theme) for m in got[0]] == \
        [(m.code, m.kind, m.role, m.theme) for m in fixed[0]]
    assert got[0] and got[2:] == fixed[2:]


_SURROGATES = re.compile("[\ud800-\udfff]")


def test_a_pass_with_articles_run_again(small):
    """The default rules: articles whose quoted theme patterns match, with characters outside
    the BMP and lone surrogates, empty ones, in one pass of index_rows."""
    check_pass(small, ["x\ud83d y天娱数科涨停，居然智家\udc00封板", "\ud83d😀天娱数科、蜂助手等涨停\udbff", ""])


def test_synthetic_small(small):
    names = [n.replace(" ", "") for n in NAMES["name"]]
    recs = make_records(names, list(NAMES["code"]), 150, chars=600, names=8, seed=3)
    for rec in recs:
        check_same(small, rec["title"], rec["body"])
    pairs = [(rec["title"], rec["body"]) for rec in recs]          # three passes
    assert small.extract_texts(pairs) == [ref.extract_text(small, t, b) for t, b in pairs]


ROW_WORDS = NAME_WORDS + ["豆包", "“镜湖AI眼镜”概念股", "固态电池概念", "板块", "跌停", "。", "😀", "\ud83d",
                          "\ufffd", "Ａ", "  ", "偉創(chuàng)電氣", "\u3000", "中信证券研报", "未能涨停"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(ROW_WORDS), max_size=30), min_size=1, max_size=150))
def test_index_rows_in_passes_are_the_reference_rows(small, bodies):
    """Many articles at once (more than one pass of index_rows): every row as the reference
    builds it, in order; empty articles and articles without names among them."""
    items = [(k, "".join(b[:2]), "".join(b[2:])) for k, b in enumerate(bodies)]
    check_rows(small, items)


def test_index_rows_of_a_huge_article_and_of_nothing(small):
    names = [n.replace(" ", "") for n in NAMES["name"]]
    recs = make_records(names, list(NAMES["code"]), 40, chars=600, names=8, seed=9)
    huge = "\n".join(r["body"] for r in recs) * 10           # ~240,000 characters
    check_rows(small, [(0, "标题", huge), (1, "", ""), (2, "\n", "\n\n"), (3, "x", "😀" * 5)])
    assert small.index_rows([]) == []


def test_themes_the_scan_cannot_read(tmp_path):
    """A theme file with a stop character outside the BMP: the themes come from the regexes
    (the joint kernel is given them), the rest as before."""
    path = tmp_path / "themes.toml"
    path.write_text(Path(__file__).parents[1].joinpath("signals", "themes.toml")
                    .read_text(encoding="utf-8").replace('stop_chars = "的', 'stop_chars = "😀的'),
                    encoding="utf-8")
    ex = Extractor(StockMaster.from_frame(NAMES), themes=load_themes(path))
    assert not ex.themes.scannable
    for title, body in EDGE + [("", "今日固态电池概念、“谷子”概念股和AI眼镜板块大涨，天娱数科涨停。")]:
        check_same(ex, title, body)
    check_pass(ex)


@pytest.mark.parametrize("backref", [False, True])
def test_user_rules_with_untranslatable_patterns(tmp_path, backref):
    """A user's roles.toml with patterns the literal scan cannot read (look-behind, a
    back-reference, case-insensitive, empty-matching) gives what the plain path gives."""
    path = tmp_path / "roles.toml"
    text = r'''default_role = "mention"
default_weight = 0.3
[[role]]
name = "risk"
weight = -1.0
patterns = ['(?<!未)跌停', '(炸)\1?板', '(?i:st)', '提示.*风险']
[[role]]
name = "momentum"
weight = 1.0
patterns = ['涨停', '大涨', '\d+连板', 'x*']
'''
    path.write_text(text if backref else text.replace("(炸)\\1?板", "炸板"), encoding="utf-8")
    ex = Extractor(StockMaster.from_frame(NAMES), roles=load_roles(path))
    # a back-reference: decide's own searches; else the literal scan, the regex for the rest
    assert ex.roles._keywords.exact is not backref
    for title, body in EDGE:
        check_same(ex, title, body)
    check_pass(ex)


@pytest.mark.parametrize("names", ["'证券$', '^东方财富$'", "'(?<!中信)证券$'"])
def test_user_rules_with_names(tmp_path, names):
    """Rules with ``names``: which rules apply to a mention is found in the kernel when every
    ``names`` translates to an automaton (else by the regexes); the answers are the plain
    path's either way."""
    path = tmp_path / "roles.toml"
    path.write_text(f'''default_role = "mention"
default_weight = 0.3
[[role]]
name = "source"
weight = 0.0
scope = "after_list"
names = [{names}]
patterns = ['[^，。]{{0,6}}?(研报|表示|数据)']
[[role]]
name = "seat"
weight = 0.1
scope = "before"
names = ['证券$']
patterns = ['(据|来源[:：])$']
[[role]]
name = "momentum"
weight = 1.0
patterns = ['涨停', '大涨', '研报']
''', encoding="utf-8")
    ex = Extractor(StockMaster.from_frame(NAMES), roles=load_roles(path))
    assert ex.roles.applies_in_kernel is ("<" not in names)
    for title, body in EDGE:
        check_same(ex, title, body)
    check_pass(ex)


def test_a_mention_holding_a_character_outside_the_bmp(small):
    """A name holding U+FFFD matches a character outside the BMP, which the automata cannot
    read: which rules apply to it is then found by the regexes (a second kernel call)."""
    names = pd.concat([NAMES, pd.DataFrame([("600999", "招商\ufffd证券", "")],
                                           columns=NAMES.columns)])
    ex = Extractor(StockMaster.from_frame(names))
    assert ex.roles.applies_in_kernel
    for body in ["招商😀证券研报称，天娱数科涨停", "招商\ufffd证券研报称，天娱数科涨停",
                 "据招商😀证券，蜂助手跌停；中信证券研报看好宁德时代"]:
        check_same(ex, "", body)
    assert ex.extract_text("", "招商😀证券研报称，天娱数科涨停")[0][0].role == "source"
    check_pass(ex, ["招商😀证券研报称，天娱数科涨停", "据招商😀证券，蜂助手跌停；中信证券研报看好宁德时代"])


MATCHING_DEFAULT = load_matching()


@pytest.mark.parametrize("translated", [False, True])
def test_user_matching_rules(tmp_path, translated):
    """A user's matching.toml with guards the automata cannot read (a look-behind) gives what
    the regexes give; so does one they do read (look-aheads, anchors, classes)."""
    text = (Path(__file__).parents[1].joinpath("signals", "matching.toml")  # the packaged one
            .read_text(encoding="utf-8")
            .replace("guard_left = ['^',", "guard_left = ['(?<=\\n)', '^',"
                     if not translated else "guard_left = ['^', '(?=据)',")
            .replace("unknown_left = ['^',", "unknown_left = ['\\A', '[A-Z](?![0-9])',"))
    path = tmp_path / "matching.toml"
    path.write_text(text, encoding="utf-8")
    ex = Extractor(StockMaster.from_frame(NAMES), matching=load_matching(path))
    assert (ex.matcher._auto is not None) is translated
    for title, body in EDGE:
        check_same(ex, title, body)
    names = [n.replace(" ", "") for n in NAMES["name"]]
    for rec in make_records(names, list(NAMES["code"]), 60, chars=600, names=8, seed=5):
        check_same(ex, rec["title"], rec["body"])


def test_synthetic_and_real_articles(real):
    """Real names: synthetic articles of the benchmark, the labelled set, the real articles."""
    master = real.matcher
    codes = sorted(master.codes)
    names = [master.display[c] for c in codes]
    recs = make_records(names, codes, 300, seed=11)
    with open(LABELLED, encoding="utf-8") as fh:
        recs += [json.loads(line) for line in fh if line.strip()]
    with open(NEWS / "articles_public.jsonl", encoding="utf-8") as fh:
        recs += [json.loads(line) for line in fh if line.strip()]
    with open(NEWS / "doubao_concept_20241216.json", encoding="utf-8") as fh:
        recs.append(json.load(fh))
    for title, body in EDGE:
        recs.append({"title": title, "body": body})
    for rec in recs:
        check_same(real, rec.get("title", ""), rec.get("body", ""))


def test_article_rows_of_an_extractor_without_index_rows(small):
    """benchmarks/bench_news.py runs an earlier commit's Extractor (no index_rows) through
    signals.parallel: its rows come from extract_text, the same as index_rows gives."""
    class Earlier:
        extract_text = staticmethod(small.extract_text)
    items = [(k, title, body) for k, (title, body) in enumerate(EDGE)]
    assert article_rows(Earlier(), items) == small.index_rows(items) == ref.index_rows(small, items)


def test_index_json_is_orjsons_text():
    """The index kernel writes a mention's JSON as orjson does: every escape of the ASCII range,
    characters of two, three and four UTF-8 bytes; a lone surrogate (which orjson refuses)
    leaves the article to the caller. Term ids: in order of first use, no theme -1."""
    tabs = IndexTables([("momentum", 1.0), ("risk", -0.5)],
                       [None, ("300024", "code"), ("000001", "name")])
    text = "".join(map(chr, range(0x80))) + "\u2028é中😀\ufffd"
    ck = tabs.kind_ids([2, 1])
    th = tabs.ids(["AI", ""])

    def run(text):
        raw = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        i64 = functools.partial(np.array, dtype=np.int64)
        return index_part_nb(raw, i64([0, len(text)]), i64([0, 2]), i64(ck), i64([0, 1]),
                             i64(th), i64([0, 34]), i64([len(text), 35]), i64([1, 0]),
                             i64(th[:1]), i64([0, 1]), *tabs.arrays(), np.full(8, -1, np.int32),
                             np.empty(8, dtype=np.int64), np.zeros(1, dtype=np.int64))

    code, role, theme, theme_ids, out, json_at, ok = run(text)
    assert ok.tolist() == [True] and json_at.tolist() == [0, len(out)]
    assert out.tobytes() == orjson.dumps([("000001", text, "name", 1, "AI", "momentum", 1.0),
                                          ("300024", '"', "code", 0, "", "risk", -0.5)])
    assert (code.tolist(), role.tolist(), theme.tolist(), theme_ids.tolist()) == \
        ([0, 3], [1, 4], [2, -1], [2])
    assert run(text[:40] + "\ud800" + text[40:])[6].tolist() == [False]


def test_unknown_json_is_orjsons_text():
    """The unknown candidates' JSON kernel writes ``orjson.dumps`` of their (text as written,
    reason) pairs: the texts mapped through the article's index (positions moved by
    normalisation) or as they are, every escape of the ASCII range, characters of two, three
    and four UTF-8 bytes, each reason; an article without any is ``[]``; a lone surrogate leaves
    the article to the caller."""
    tail_data, tail_at = IndexTables([], []).reason_tails      # the extractor's own fragments
    texts = ["".join(map(chr, range(0x80))) + "\u2028é中😀", "无", "甲 乙\n丙丁"]
    raw = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    i64 = functools.partial(np.array, dtype=np.int64)
    raw_at = i64([0, *itertools.accumulate(map(len, texts))])
    # text 0 as it is (no index); text 2 normalised to 甲乙丙丁 (index: where each came from)
    index, index_at = i64([0, 2, 4, 5]), i64([0, 0, 0, 4])
    unknown = i64([[0, 132, 0], [34, 35, len(REASONS) - 1], [0, 2, 1], [1, 4, 2]])
    out, json_at, ok = unknown_json_nb(raw, raw_at, index, index_at, unknown, i64([0, 2, 2, 4]),
                                       tail_data, tail_at)
    data, at = out.tobytes(), json_at.tolist()
    assert ok.tolist() == [True] * 3
    assert [data[at[j]:at[j + 1]] for j in range(3)] == [
        orjson.dumps([(texts[0], REASONS[0]), ('"', REASONS[-1])]), b"[]",
        orjson.dumps([("甲 乙", REASONS[1]), ("乙\n丙丁", REASONS[2])])]
    texts[0] = texts[0][:40] + "\ud800" + texts[0][41:]
    raw = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    got = unknown_json_nb(raw, raw_at, index, index_at, unknown, i64([0, 2, 2, 4]), tail_data,
                          tail_at)
    assert got[2].tolist() == [False, True, True]


def test_index_part_of_unknown_names_the_kernel_leaves_to_orjson(small, monkeypatch):
    """An article whose unknown candidates' JSON the kernel does not write gets orjson's answer
    of them (two passes, every EDGE article)."""
    from signals import extract

    def none_written(*args):
        out, json_at, ok = unknown_json_nb(*args)
        return out, json_at, np.zeros_like(ok)

    monkeypatch.setattr(extract, "unknown_json_nb", none_written)
    check_rows(small, [(k, title, body) for k, (title, body) in enumerate(EDGE[::-1] + EDGE * 6)])


def test_passes_whose_themes_are_all_keywords(small):
    """A pass whose theme hits are all keywords' takes their themes by trie node, one list a
    pass (no quoted or marker theme among them): the rows as the reference gives them, with
    several themes an article in either order and the title's theme first."""
    bodies = [("固态电池", "AI眼镜板块走强，AI眼镜概念股天娱数科涨停"),
              ("", "AI眼镜板块走强，固态电池概念大涨，蜂助手涨停，固态电池概念"),
              ("", "固态电池概念大涨，AI眼镜板块走强，蜂助手涨停"), ("", "蜂助手涨停"), ("", "")]
    pairs = bodies * 30
    check_rows(small, [(k, title, body) for k, (title, body) in enumerate(pairs)])
    assert small.extract_texts(pairs) == [ref.extract_text(small, t, b) for t, b in pairs]


def test_index_part_remembering_few_theme_names(small, monkeypatch):
    """index_part remembers each article's theme names' ids and JSON: with room for two at a
    time (forgotten, then made again, many times over) the part is still the rows' JSON and ids
    (themes from keywords, quoted names and markers, over several passes)."""
    from signals import extract

    monkeypatch.setattr(extract, "_JSON_CACHE", 2)
    # the same themes with another primary theme (the title's), themes that begin alike
    themed = [("固态电池", "AI眼镜板块走强，AI眼镜概念股天娱数科涨停"),
              ("", "固态电池概念，AI眼镜板块走强，AI眼镜概念股天娱数科涨停"),
              ("", "固态电池概念大涨，AI眼镜板块走强，蜂助手涨停"), ("", "固态电池概念大涨，蜂助手涨停"),
              ("", "今日固态电池概念、“谷子”概念股和AI眼镜板块大涨，天娱数科涨停。"),
              ("", "“镜湖AI眼镜”概念股蜂助手涨停")]
    pairs = themed * 20 + EDGE * 4
    check_rows(small, [(k, title, body) for k, (title, body) in enumerate(pairs)])


def test_index_part_of_chunks_naming_thousands_of_codes():
    """A chunk whose passes keep adding codes (the part's ids grow past what its first passes
    made room for): index_part is still the rows' JSON and ids (thousands of names, 600
    articles of 20 names each, in one part and in three)."""
    chars = [chr(0x4E00 + 97 * i % 20_000) for i in range(5_000)]
    names = pd.DataFrame({"code": [f"{600000 + i:06d}" for i in range(3_000)],
                          "name": [chars[i] + chars[i + 1000] + chars[i + 2000] + "科技"
                                   for i in range(3_000)]})
    ex = Extractor(StockMaster.from_frame(names))
    recs = make_records(list(names["name"]), list(names["code"]), 600, chars=800, names=20,
                        seed=3)
    items = [(k, r["title"], r["body"]) for k, r in enumerate(recs)]
    check_rows(ex, items)
    want = part_of_rows(ref.index_rows(ex, items[200:]))
    got = ex.index_part([(t, b) for _k, t, b in items[200:]])
    assert len(got.terms) > 2_000
    assert [list(c) if isinstance(c, list) else c.tolist() for c in got] == want


def test_index_part_of_articles_the_kernel_leaves_to_orjson(small, monkeypatch):
    """An article whose JSON the index kernel does not write (a lone surrogate in a matched
    text) gets orjson's answer for its rows: the same JSON, ids and columns (two passes)."""
    from signals import extract

    def none_written(*args):
        got = list(index_part_nb(*args))
        got[6] = np.zeros_like(got[6])
        return tuple(got)

    monkeypatch.setattr(extract, "index_part_nb", none_written)
    check_rows(small, [(k, title, body) for k, (title, body) in enumerate(EDGE[::-1] + EDGE * 6)])
