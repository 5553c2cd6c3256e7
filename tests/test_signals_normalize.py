"""Normalisation: full-width, traditional characters, spaces; offsets back to the original."""
from __future__ import annotations

import csv

import pytest

from signals.normalize import (
    TRAD_TO_SIMP,
    normalize_name,
    normalize_text,
    original_span,
)
from tests.conftest import REAL_NAMES, REAL_NAMES_2023


@pytest.mark.parametrize("raw, expected", [
    ("万  科Ａ", "万科A"),          # exchange spelling: padding spaces and a full-width A
    ("萬科A", "万科A"),             # traditional
    ("万科a", "万科A"),             # ASCII folded to upper case
    ("華 電 國 際", "华电国际"),
    ("ＴＣＬ 科技", "TCL科技"),
    ("\u3000柳\u3000工\u3000", "柳工"),  # ideographic spaces
])
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


def test_normalize_text_keeps_ascii_spacing_and_line_breaks():
    raw = "天娱数科 002354 600000\n蜂助手 20cm 涨停"
    text, index = normalize_text(raw)
    assert text == "天娱数科002354 600000\n蜂助手20CM涨停"
    # 4 + 1 + 6 + 1 + 6 + 1 characters precede 蜂 in the original; one space was removed
    start = text.index("蜂助手")
    assert start == 18
    assert original_span(index, start, start + 3) == (19, 22)
    assert original_span(index, text.index("涨停"), len(text)) == (len(raw) - 2, len(raw))


def test_normalize_text_without_removed_characters_returns_no_index():
    text, index = normalize_text("ＡＢ萬科")
    assert text == "AB万科" and index is None
    assert original_span(index, 2, 4) == (2, 4)


def test_matched_text_is_recovered_from_the_original():
    raw = "今日 萬  科Ａ 大涨"
    text, index = normalize_text(raw)
    s = text.index("万科A")
    a, b = original_span(index, s, s + 3)
    assert raw[a:b] == "萬  科Ａ"


def test_traditional_table_never_touches_simplified_company_names(shared_data):
    """No character the table rewrites occurs in a real (simplified) A-share name."""
    names = []
    for path in (REAL_NAMES, REAL_NAMES_2023):
        with open(path, encoding="utf-8") as fh:
            names += [row["name"] for row in csv.DictReader(fh)]
    assert len(names) > 10_000
    clashes = {ch: n for n in names for ch in n if ch in TRAD_TO_SIMP}
    assert clashes == {}
    assert len(TRAD_TO_SIMP) > 300
