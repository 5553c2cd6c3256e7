"""Invariants of normalisation, matching and session mapping (hypothesis)."""
from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.core.calendar import trading_calendar
from backtests.data.master import StockMaster
from signals.mentions import NameMatcher
from signals.normalize import (
    WRAP_MIN,
    normalize_name,
    normalize_text,
    normalize_text_regex,
    original_span,
)
from signals.sessions import entry_session
from signals.text_nb import code_points
from signals.trie_nb import utf16_units

CAL = trading_calendar()
ALPHABET = st.sampled_from(list("天娱数科蜂助手居然智家萬華電國 　Ａａb1２,，。、\n\t涨停😀"))
MATCHER = NameMatcher(StockMaster.from_frame(pd.DataFrame({
    "code": ["002354", "301382", "000785", "600001"],
    "name": ["天娱数科", "蜂助手", "居然智家", "华电国际"]})))


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=60))
def test_normalised_characters_map_back_to_their_originals(text):
    norm, index = normalize_text(text)
    assert "\n" not in normalize_name(text)
    # line breaks survive, except a wrap inside a long line: a break between two Chinese
    # characters after WRAP_MIN or more characters of its line is joined (docs/signals.md)
    wraps = sum(1 for i, c in enumerate(text) if c == "\n" and 0 < i < len(text) - 1
                and _cjk(text[i - 1]) and _cjk(text[i + 1])
                and i - (text.rfind("\n", 0, i) + 1) >= WRAP_MIN)
    assert norm.count("\n") == text.count("\n") - wraps
    for i, ch in enumerate(norm):
        a, b = original_span(index, i, i + 1)
        assert b == a + 1
        assert normalize_text(text[a])[0] in (ch, "")     # the original character normalises to it


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=60))
def test_hits_are_disjoint_known_and_spelled_as_in_the_text(text):
    norm, _ = normalize_text(text)
    hits, _unknown = MATCHER.find(norm)
    spans = sorted((h.start, h.end) for h in hits)
    assert all(e1 <= s2 for (_s1, e1), (s2, _e2) in itertools.pairwise(spans))
    for h in hits:
        assert h.code in MATCHER.codes
        assert norm[h.start:h.end] == h.matched
        assert h.kind == "code" or MATCHER.keys[h.matched][0] == h.code


minutes = st.integers(0, 60 * 24 * 400 - 1)


@settings(max_examples=300, deadline=None)
@given(minutes, minutes, st.sampled_from(["next_open", "same_close"]))
def test_sessions_are_trading_days_never_before_publication_and_monotone(m1, m2, intraday):
    base = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")
    t1, t2 = sorted((base + pd.Timedelta(minutes=m1), base + pd.Timedelta(minutes=m2)))
    s1, e1 = entry_session(t1, CAL, intraday=intraday)
    s2, e2 = entry_session(t2, CAL, intraday=intraday)
    assert CAL.is_session(s1) and CAL.is_session(s2)
    assert s1 >= np.datetime64(t1.date(), "D")
    assert (s1, e1 == "close") <= (s2, e2 == "close")         # later news never enters earlier
    if e1 == "open" and s1 == np.datetime64(t1.date(), "D"):
        assert t1.time() < dt.time(9, 30)                     # same-day open only before 09:30



WRAP_ALPHABET = st.sampled_from(list("天娱数科华电国 　ＡａbC1２,，。、(（)）\n\t\u3000\xa0àǎüÜǕ偉創涨停ß😀\ud800"))


def _same_as_the_regexes(text: str, keep_break: int) -> None:
    norm, index = normalize_text(text, keep_break)
    ref, ref_index = normalize_text_regex(text, keep_break)
    assert norm == ref
    assert (index is None) == (ref_index is None)
    if index is not None:
        assert index.tolist() == ref_index.tolist()
    # the code points remembered for the later steps are the result's own
    assert code_points(norm).tolist() == [ord(c) for c in norm]
    if not any("\ud800" <= c <= "\udfff" or c > "\uffff" for c in norm):
        assert utf16_units(norm).tolist() == [ord(c) for c in norm]


@settings(max_examples=400, deadline=None)
@given(st.text(WRAP_ALPHABET, max_size=120), st.integers(-1, 40))
def test_one_pass_normalisation_equals_the_regexes(text, keep_break):
    """normalize_text's one numba pass (map, spaces, wrapped lines; pinyin by the regex)
    gives the text and index the regexes give."""
    _same_as_the_regexes(text, keep_break)


# no character that sends the text to the regexes (ß, outside the BMP): the kernel's own answers
FAST_ALPHABET = st.sampled_from(list("天娱数科华电 　ＡａbC1２,，。、(（)）\n\t\u3000\xa0àǎüÜǕ偉創ß\ud800"
                                     .replace("ß", "")))


@settings(max_examples=400, deadline=None)
@given(st.text(FAST_ALPHABET, max_size=120), st.integers(-1, 40))
def test_normalisation_kernel_equals_the_regexes(text, keep_break):
    """The same on texts the kernel answers itself (runs of spaces, wraps, pinyin brackets:
    ``偉(chuàng)``, ``天（ǚ）``, ``科(ab)`` without a tone kept, lone surrogates)."""
    _same_as_the_regexes(text, keep_break)


def test_normalisation_kernel_on_pinyin_brackets():
    for text in ("偉創(chuàng)電氣", "偉創（chuàng）電氣", "天（ǚ）", "天(Ǖ)科", "科(ab)", "科（ab）",
                 "科 (chuàng)", "A(chuàng)", "偉創(chuàng", "偉創(chu àng)", "偉(ü)", "偉(àǎ)(ǎ)",
                 "偉創(chuàng)\n電氣 (AI) 科", "(chuàng)", "偉創()"):
        _same_as_the_regexes(text, -1)
        _same_as_the_regexes(f"{text} \u3000 天娱", 0)
    assert normalize_text("偉創（chuàng）電氣")[0] == "伟创电气"


def test_one_pass_normalisation_on_long_wrapped_lines():
    line = "天娱数科" * 7                          # 28 characters: a wrap after it is joined
    texts = (f"标题\n{line}\n数科 ，华电 A\n", f"{line}\n{line}\n\n{line}",
             f"  偉創(chuàng) {line}\n科", f"{line}\n{line}")
    for text in texts:
        for keep_break in (-1, 2, len(line)):
            _same_as_the_regexes(text, keep_break)
    assert normalize_text(f"{line}\n{line}")[0] == line * 2             # joined
    assert normalize_text(f"{line}\n{line}", len(line))[0] == f"{line}\n{line}"   # kept
