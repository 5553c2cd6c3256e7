"""Text normalisation shared by the name dictionary and the articles it is matched against.

One rule set, applied identically to both sides, so that ``万  科Ａ`` (the exchange's own
spelling, with padding spaces and a full-width letter), ``萬科A`` and ``万科a`` all meet as
``万科A``:

1. **Character map** (one character in, one character out): full-width ASCII ``！``..``～`` →
   ``!``..``~`` (except the everyday punctuation ``，：；！？（）``, which every rule accepts in both
   forms), every white-space character but the line break → ``' '``, ASCII lower case → upper
   case, and a small table of traditional characters common in company
   names → simplified (``華→华``, ``電→电``, ``國→国`` ...). Characters that are also valid in
   simplified names (``乾``, ``壹``, ``後``'s simplified twin, ...) are deliberately absent.
2. **Spaces**: a run of white space (line breaks excepted) next to a non-ASCII character is removed (``TCL 科技`` →
   ``TCL科技``, ``20CM 涨停`` → ``20CM涨停``); white space between two ASCII characters is
   kept, so ``002354 600000`` stays two codes.

Because step 1 keeps the length, :func:`normalize_text` can return, with the normalised text,
the index of every normalised character in the original; matches found in the normalised text
are reported with the exact original spelling (``matched_text``).

No external converter (OpenCC) is used: the table covers the characters that occur in listed
companies' short names and in the finance vocabulary the role rules look for, and keeps the
dependency list short. Unknown traditional characters pass through unchanged (documented limit).
"""
from __future__ import annotations

import codecs
import functools
import re
import string
from typing import NamedTuple

import numpy as np

from signals.text_nb import (
    MAP_MULTI,
    MAP_PINYIN,
    MAP_SPECIAL,
    MAP_SURROGATE,
    MAP_TONE,
    code_points,
    map_units_nb,
    normalize_all_nb,
)
from signals.trie_nb import utf16_units

# Traditional -> simplified, character for character. Only unambiguous pairs: every character on
# the left is not used in simplified Chinese company names (checked against the real names file
# in tests/test_signals_normalize.py).
_TRAD = (
    "華電國业業發銀團設車醫藥機東陽長寶聯達訊網實興風億萬鋼鐵廣產營運開資證號學創動豐樂體門際雲傳視聲"
    "藝島鳳龍氣燈紡織環礦優錦濟農漁貿線測檢軟數據圖書閣灣臺員葉蘭齊頭飛鴻鏡詩紅綠藍黃錢顧問題漲減詢險薦"
    "調報會議佈連協製裝備腦點鋰鈷銅鋁熱溫濤滬項順頤馬魚鳥麥時間歷進遠還邊鄉陳隨雙離雜靈韓響顯驗廠倫偉們"
    "個價區廈縣參變吳啟園圓壓夢獎婦孫寧對導屬岡峽嶺巖幣幫廟張彈後復徵總恆愛態慶應戰擁擇攜斷曉條來楊極構"
    "標樣橋檔權歐殼氫決沒沖湯滿潔潤瀋無煉爾牽狀獨現瑪畫當療盤眾確碼禮種稱穩筆節築簡糧紀約紙級結絡給統經"
    "維綜緯編練縱績續義習聖肅膠臨與舊艦莊萊蓋蘇處衛補裡見規覽觀計訂認討記許診話該語誠說課請諾識譽護讀"
    "貝負財貨販貴買費賀賓賣質購贏趙軍軌軸載輕輝輪輸轉遊過選遼郵鄭釀針鈞鈦銷鋒錄鍵鎮鏈閃閩關陸陰靜韻頂預"
    "領頻顏類飲飯館驅髮鬥魯鮮鹽麗齒龜滙匯嶽廬遙鑽觸邁傑碩鵬鳴鑄鋪潛瀾蕪韋陝濱雞鋅鎳鉬艙啓範壽隊為纖鐳納"
)
_SIMP = (
    "华电国业业发银团设车医药机东阳长宝联达讯网实兴风亿万钢铁广产营运开资证号学创动丰乐体门际云传视声"
    "艺岛凤龙气灯纺织环矿优锦济农渔贸线测检软数据图书阁湾台员叶兰齐头飞鸿镜诗红绿蓝黄钱顾问题涨减询险荐"
    "调报会议布连协制装备脑点锂钴铜铝热温涛沪项顺颐马鱼鸟麦时间历进远还边乡陈随双离杂灵韩响显验厂伦伟们"
    "个价区厦县参变吴启园圆压梦奖妇孙宁对导属冈峡岭岩币帮庙张弹后复征总恒爱态庆应战拥择携断晓条来杨极构"
    "标样桥档权欧壳氢决没冲汤满洁润沈无炼尔牵状独现玛画当疗盘众确码礼种称稳笔节筑简粮纪约纸级结络给统经"
    "维综纬编练纵绩续义习圣肃胶临与旧舰庄莱盖苏处卫补里见规览观计订认讨记许诊话该语诚说课请诺识誉护读"
    "贝负财货贩贵买费贺宾卖质购赢赵军轨轴载轻辉轮输转游过选辽邮郑酿针钧钛销锋录键镇链闪闽关陆阴静韵顶预"
    "领频颜类饮饭馆驱发斗鲁鲜盐丽齿龟汇汇岳庐遥钻触迈杰硕鹏鸣铸铺潜澜芜韦陕滨鸡锌镍钼舱启范寿队为纤镭纳"
)
assert len(_TRAD) == len(_SIMP), "traditional/simplified tables out of step"

TRAD_TO_SIMP: dict[str, str] = {t: s for t, s in zip(_TRAD, _SIMP) if t != s}

# Full-width punctuation that Chinese text uses on every line stays as it is (the rules match
# both forms: "，" and ","); folding it would cost time on every article for nothing.
KEEP_FULL_WIDTH = "，：；！？（）"

_MAP: dict[int, int] = {}
for _c in range(0xFF01, 0xFF5F):                       # full-width ASCII block
    if chr(_c) not in KEEP_FULL_WIDTH:
        _MAP[_c] = _c - 0xFEE0
# every white-space character but the line break (ideographic, no-break, thin, tab ...) and the
# zero-width ones -> ' '
for _c in [c for c in range(0x3001) if chr(c).isspace() and c not in (0x0A, 0x20)] + [0x200B, 0xFEFF]:
    _MAP[_c] = 0x20
for _c in range(ord("a"), ord("z") + 1):
    _MAP[_c] = _c - 32
for _t, _s in TRAD_TO_SIMP.items():
    _MAP[ord(_t)] = ord(_s)
# full-width lower-case letters end up upper case too
for _c in range(0xFF41, 0xFF5B):
    _MAP[_c] = _c - 0xFEE0 - 32
CHAR_MAP = _MAP
_NO_INDEX = np.zeros(0, dtype=np.int64)

# str.upper, then the map, as one table of the BMP (built on first use: 65,536 look-ups): a
# numpy gather over the code points instead of str.upper and a dict look-up per character.
# ``multi``: characters whose upper case is longer ('ß' -> 'SS'); a text holding one, an astral
# character or a lone surrogate takes the plain path.
@functools.cache
def _upper_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = np.arange(0x10000, dtype=np.uint32)
    multi = np.zeros(0x10000, dtype=np.bool_)
    for c in range(0x10000):
        if 0xD800 <= c < 0xE000:
            continue
        up = chr(c).upper()
        if len(up) != 1:
            multi[c] = True
        else:
            table[c] = CHAR_MAP.get(ord(up), ord(up))
    # for normalize_into_nb: one look-up a character, the mapped character (every one is in the
    # BMP) with the MAP_* flags above it: ``multi``, a mapped character some rule looks at, a
    # surrogate, and of a character as itself whether _PINYIN_RE's letter and tone classes hold it
    flagged = table | np.where(multi, np.uint32(MAP_MULTI), np.uint32(0))
    flagged[np.isin(table, [0x20, 0x0A, 0x28, 0xFF08])] |= np.uint32(MAP_SPECIAL)
    flagged[0xD800:0xE000] |= np.uint32(MAP_SURROGATE)     # (they map to themselves)
    flagged[[ord(c) for c in _PINYIN_LETTERS]] |= np.uint32(MAP_PINYIN)
    flagged[[ord(c) for c in _TONES]] |= np.uint32(MAP_TONE)
    return table, multi, flagged


def _upper_mapped(text: str) -> str:
    """``text.upper().translate(CHAR_MAP)``, or ``text.translate(CHAR_MAP)`` when upper case
    changes the length (normalize_text's first step). A lone surrogate maps to itself (as
    ``str.upper`` and the map leave it)."""
    table, multi, _flagged = _upper_table()
    mapped, ok = map_units_nb(code_points(text), table, multi)
    if ok:
        return mapped.tobytes().decode("utf-32-le", "surrogatepass")
    upper = text.upper()
    return (upper if len(upper) == len(text) else text).translate(CHAR_MAP)


# a run of white space (not line breaks: they end sentences) touching a non-ASCII character
_SPACE_RE = re.compile(r"(?<=[^\x00-\x7f])[^\S\n]+|[^\S\n]+(?=[^\x00-\x7f])")
# Scraper artefacts removed from article text (not from names):
# - pinyin in brackets right after a Chinese character, with at least one tone mark
#   (偉創(chuàng)電氣 -> 伟创电气); "人工智能(AI)" has none and stays;
_TONES = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜĀÁǍÀĒÉĚÈĪÍǏÌŌÓǑÒŪÚǓÙǕǗǙǛ"    # ü/Ü alone is no tone
_PINYIN_LETTERS = f"{string.ascii_letters}üÜ{_TONES}"
_PINYIN_RE = re.compile(f"[(（](?<=[\u4e00-\u9fff][(（])[{_PINYIN_LETTERS}]*[{_TONES}]"
                        f"[{_PINYIN_LETTERS}]*[)）]")        # the bracket first: a fast scan
# - a line break between two Chinese characters inside a long wrapped line (the line before it
#   holds WRAP_MIN characters or more and does not end a sentence): 天娱\n数科 -> 天娱数科.
#   Short lines (headings, table rows, the title) keep their breaks.
_WRAP_RE = re.compile(r"\n(?<=[\u4e00-\u9fff]\n)(?=[\u4e00-\u9fff])")
WRAP_MIN = 24
_ALL_SPACE_RE = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Normalise a company name for the dictionary: character map, then every space removed.

    >>> normalize_name("万  科Ａ")
    '万科A'
    >>> normalize_name("華 電 國際")
    '华电国际'
    """
    return _ALL_SPACE_RE.sub("", str(name).translate(CHAR_MAP))


def normalize_text(text: str, keep_break: int = -1) -> tuple[str, np.ndarray | None]:
    """Normalise article text; return ``(normalised, index)``.

    ``index[i]`` is the position in ``text`` of normalised character ``i`` (an ``int64``
    array); it is ``None`` when no character was removed, i.e. positions are unchanged.
    ``keep_break``: the position of a line break never joined (the end of the title).

    The map, the spaces, the pinyin and the wrapped lines are one pass
    (:func:`signals.text_nb.normalize_into_nb`) that also gives the result's code points,
    remembered for the steps after (``code_points``, the tries' UTF-16 units); a text it cannot
    read takes the regexes (:func:`normalize_text_regex`). :func:`normalize_all` does many
    texts at once.
    """
    norm = normalize_all([text], [keep_break])
    out = norm.texts[0]
    if norm.state[0] & 1:
        code_points.seed(out, norm.units)
        if norm.state[0] & 4:
            utf16_units.seed(out, norm.units16)
    return out, norm.indexes[0]


class Normalised(NamedTuple):
    """:func:`normalize_all`'s answer: ``texts[a]``, ``indexes[a]`` are
    :func:`normalize_text`'s ``(normalised, index)`` of text ``a``; ``units``/``units16`` the
    normalised texts' code points and UTF-16 units end to end (read-only; text ``a``'s at
    ``bounds[a]:bounds[a + 1]``, as ``code_points``/``utf16_units`` give them) and ``index``
    the indexes end to end (``index_bounds``; none for a text whose positions did not move);
    ``title_ends[a]``: where text ``a``'s first line break is (its length when it has none);
    ``state[a]``: :func:`signals.text_nb.normalize_all_nb`'s (bit 1: the kernel read it, 4: no
    surrogate code point in it); ``raw``: the texts as given, their code points end to end
    (text ``a``'s at ``raw_bounds[a]:raw_bounds[a + 1]``)."""
    texts: list
    indexes: list
    units: np.ndarray
    units16: np.ndarray
    bounds: np.ndarray
    index: np.ndarray
    index_bounds: np.ndarray
    title_ends: list
    state: list
    raw: np.ndarray
    raw_bounds: np.ndarray


def normalize_all(raws: list[str], keep_breaks: list[int]) -> Normalised:
    """:func:`normalize_text` of each of ``raws`` (its ``keep_break`` in ``keep_breaks``), the
    texts end to end through one kernel call (:func:`signals.text_nb.normalize_all_nb`; a text
    it cannot read takes the regexes, :func:`normalize_text_regex`)."""
    n = len(raws)
    raw_units = np.frombuffer("".join(raws).encode("utf-32-le", "surrogatepass"),
                              dtype=np.uint32)
    lengths = np.array([*map(len, raws), *keep_breaks], dtype=np.int64)
    out, out16, index, meta = normalize_all_nb(raw_units, lengths, _upper_table()[2], WRAP_MIN)
    out.flags.writeable = False          # as np.frombuffer gives them: the same kernel types
    out16.flags.writeable = False
    decode = codecs.utf_32_le_decode
    texts, indexes = [], []
    plain = []                            # the texts the kernel could not read
    ob, ib, state, title_ends = meta.tolist()
    for a, (raw, st) in enumerate(zip(raws, state)):
        if not st & 1:
            text, ix = normalize_text_regex(raw, keep_breaks[a])
            plain.append(a)
            title_end = text.find("\n")
            title_ends[a] = len(text) if title_end < 0 else title_end
        else:
            # the map changed nothing and nothing was cut: the text itself (not decoded again)
            text = raw if (st & 10) == 2 else decode(out[ob[a]:ob[a + 1]], "surrogatepass",
                                                     True)[0]
            ix = index[ib[a]:ib[a + 1]] if st & 8 else None
        texts.append(text)
        indexes.append(ix)
    units_at, index_at = meta[0], meta[1]
    if plain:                             # rare: the arrays again, with those texts' own
        units = [out[ob[a]:ob[a + 1]] for a in range(n)]
        units16 = [out16[ob[a]:ob[a + 1]] for a in range(n)]
        for a in plain:
            units[a] = code_points(texts[a])
            units16[a] = utf16_units(texts[a])
        out, out16 = np.concatenate(units), np.concatenate(units16)
        out.flags.writeable = out16.flags.writeable = False
        units_at = bounds_of(map(len, units))
        index = np.concatenate([_NO_INDEX if ix is None else ix for ix in indexes])
        index_at = bounds_of(0 if ix is None else len(ix) for ix in indexes)
    return Normalised(texts, indexes, out, out16, units_at, index, index_at, title_ends[:n],
                      state[:n], raw_units, bounds_of(lengths[:n]))


def bounds_of(lengths) -> np.ndarray:
    """Where each part of ``lengths`` (an iterable, or an integer array) starts when the parts
    lie end to end, then where the last ends: int64, one longer than ``lengths``."""
    sizes = lengths if isinstance(lengths, np.ndarray) else np.fromiter(lengths, dtype=np.int64)
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def normalize_text_regex(text: str, keep_break: int) -> tuple[str, np.ndarray | None]:
    """:func:`normalize_text` by the regexes (a text with a character outside the BMP or one
    whose upper case is longer)."""
    mapped = _upper_mapped(text)      # 'ß' -> 'SS' and the like: the map without upper case
    spans = []
    if " " in mapped:                   # every other space became ' ' in the map
        spans = [m.span() for m in _SPACE_RE.finditer(mapped)]
    for bracket in "(（":               # _PINYIN_RE at each bracket: no match holds another one
        i = mapped.find(bracket)
        while i >= 0:
            m = _PINYIN_RE.match(mapped, i)
            if m is not None:
                spans.append(m.span())
            i = mapped.find(bracket, i + 1)
    if "\n" in mapped:
        for m in _WRAP_RE.finditer(mapped):
            i = m.start()
            line_start = mapped.rfind("\n", 0, i) + 1
            if i != keep_break and i - line_start >= WRAP_MIN:
                spans.append((i, i + 1))
    if not spans:
        return mapped, None
    keep = np.ones(len(mapped), dtype=bool)
    for a, b in spans:
        keep[a:b] = False
    index = np.flatnonzero(keep)
    return _cut(mapped, spans), index


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for a, b in sorted(spans):
        a = max(a, last)
        out.append(text[last:a])
        last = max(last, b)
    out.append(text[last:])
    return "".join(out)


def original_span(index: np.ndarray | None, start: int, end: int) -> tuple[int, int]:
    """Map the normalised half-open span ``[start, end)`` back to the original text."""
    if index is None:
        return start, end
    return int(index[start]), int(index[end - 1]) + 1
