"""Find listed companies named in a text: by current name, former name, or code.

:class:`NameMatcher` is built once from a :class:`~backtests.data.master.StockMaster` and then scans
normalised text (:mod:`signals.normalize`) in one Aho-Corasick pass (``pyahocorasick``) over every
name, whatever the size of the dictionary (on the text's UTF-16 bytes, see :func:`utf16_units`).
Rules, in the order they are applied:

1. **Dictionary.** Every current name and former name of the master (``居然之家`` → 000785), plus
   derived aliases: the name without an ST/XD/XR/DR/N/C prefix (``*ST华微`` → ``华微``) and
   without a trailing share-class ``A`` (``万科A`` → ``万科``). A current name beats a former
   name, which beats an alias; a former name or alias claimed by two stocks is dropped
   (``ambiguous``). ``not_stocks`` (``matching.toml``: 字节跳动, 火山引擎, OpenAI, 华为, ...)
   enter the automaton as blockers: they are matched like names but never become stocks (a
   listed name declared there is taken out of the dictionary).
2. **Guard for short and generic names.** A name of two characters or one listed in
   ``common_words`` (太阳能, 机器人, 农产品, 老百姓 ...) counts only with a boundary on both sides:
   before it the start of the text, a separator (``、，,。;:（“``) or a list word (和 与 及 如
   包括 其中 股); after it a separator, a stock context word (等 股份 股价 公司 涨 跌 封 连板 收 盘)
   or a bracketed code. So ``万科、保利`` counts, ``万科企业`` does not, ``太阳能发电`` does not.
3. **Longest match wins.** Among overlapping candidates (names and blockers) the longest is
   kept, then the leftmost: ``中国平安`` is not also ``平安``; ``字节跳动`` hides nothing.
4. **Codes.** ``002354``, ``002354.SZ``, ``sz002354``, ``SZ002354``, ``002354.XSHE``,
   ``600000.SS``/``.XSHG``, ``BJ830799``. With an exchange the code is classified by
   :data:`EXCHANGE_CODES` (``000001.SH`` is the SSE Composite index, ``399006.SZ`` an index,
   ``510300``/``159915`` funds); without one by :func:`backtests.core.rules.board_of` (funds, bonds
   and index codes have no board). A bare main-board code right after an index word
   (``上证指数(000001)``, ``沪深300``, ``ETF``; ``index_context``) is an index, not 平安银行. A
   6-digit number followed by a unit (元 万 亿 股 % ...) is an amount. A stock code that the
   names file does not know (e.g. a BSE code when the names cover SSE/SZSE only) is *unknown*.
5. **Unknown candidates.** A name-like word — 2 to 4 Chinese characters plus a company suffix
   (股份 科技 集团 智能 ...) between separators — that is neither in the dictionary nor in
   ``not_stocks`` is reported as unknown, never guessed into a code.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

from backtests.core import rules
from backtests.core.errors import ConfigError
from backtests.core.names import normalize_name as _display
from signals.config import load_toml, string_list
from signals.normalize import normalize_name

KIND_NAME, KIND_FORMER, KIND_ALIAS, KIND_CODE = "name", "former", "alias", "code"
_PRIORITY = {KIND_NAME: 0, KIND_FORMER: 1, KIND_ALIAS: 2}

# (exchange, code prefix, what it is). Longest prefix wins; anything else is "other".
# Sources: SSE/SZSE/BSE code allocation rules (stocks 60/68, 00/30, 8/4/92; indices 000xxx on
# SSE, 399xxx on SZSE; ETFs/LOFs 5xxxxx on SSE, 15/16/18xxxx on SZSE).
EXCHANGE_CODES: tuple[tuple[str, str, str], ...] = (
    ("SH", "60", "stock"), ("SH", "68", "stock"), ("SH", "000", "index"), ("SH", "5", "fund"),
    ("SH", "9", "other"), ("SH", "1", "other"),
    ("SZ", "00", "stock"), ("SZ", "30", "stock"), ("SZ", "399", "index"), ("SZ", "15", "fund"),
    ("SZ", "16", "fund"), ("SZ", "18", "fund"), ("SZ", "20", "other"), ("SZ", "1", "other"),
    ("BJ", "8", "stock"), ("BJ", "4", "stock"), ("BJ", "92", "stock"), ("BJ", "899", "index"),
)
_EXCHANGE_ALIASES = {"SH": "SH", "SS": "SH", "XSHG": "SH", "SZ": "SZ", "XSHE": "SZ",
                     "BJ": "BJ", "BSE": "BJ"}
# Codes: a run of exactly six digits, optionally with an exchange before (SZ002354, sz.002354)
# or after (002354.SZ, 600000.XSHG); not right after another letter, digit or dot.
_DIGITS_RE = re.compile(r"\d+")
_PREFIX_RE_CODE = re.compile(r"(?<![0-9A-Z.])(SH|SZ|BJ)\.?$")
_SUFFIX_RE_CODE = re.compile(r"\.(SH|SZ|BJ|SS|XSHG|XSHE|BSE)(?![A-Z])")
_NOT_BEFORE_CODE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.")
_PREFIX_RE = re.compile(r"^(?:\*ST|S\*ST|SST|ST|XD|XR|DR|N|C|S)(?=[\u4e00-\u9fff])")
_CLASS_SUFFIX_RE = re.compile(r"(?<=[\u4e00-\u9fff])A$")
_BLOCKER = "-"
_ASTRAL_RE = re.compile("[\U00010000-\U0010FFFF]")


def utf16_units(text: str) -> str:
    """Two code units per character (UTF-16 bytes as Latin-1 characters).

    pyahocorasick finds a node's child by a linear scan; over Chinese text the root would have
    thousands of children (one per first character of a name). Splitting every character into
    its two bytes keeps every node's fan-out below 256 and makes the scan about 7x faster.
    Characters outside the BMP (emoji) become U+FFFD first so that character ``i`` is always
    bytes ``2i, 2i+1``; no name contains one.
    """
    data = text.encode("utf-16-be")
    if len(data) != 2 * len(text):
        data = _ASTRAL_RE.sub("\ufffd", text).encode("utf-16-be")
    return data.decode("latin-1")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def classify_code(code: str, exchange: str | None) -> str:
    """``"stock"``, ``"index"``, ``"fund"`` or ``"other"`` for a 6-digit code and an exchange
    (``SH``/``SZ``/``BJ`` or None). Without an exchange the board rules decide."""
    if exchange:
        best = ("", "other")
        for ex, prefix, what in EXCHANGE_CODES:
            if ex == exchange and code.startswith(prefix) and len(prefix) > len(best[0]):
                best = (prefix, what)
        return best[1]
    return "stock" if rules.board_of(code) != rules.BOARD_UNKNOWN else "other"


@dataclass(frozen=True)
class MatchRules:
    """The guards of ``matching.toml`` (see the module docstring)."""

    not_stocks: tuple[str, ...]
    common_words: frozenset[str]
    guard_left: re.Pattern
    guard_right: re.Pattern
    common_right: re.Pattern
    index_context: tuple[str, ...]
    number_units: frozenset[str]
    unknown_suffixes: tuple[str, ...]
    unknown_left: re.Pattern
    source: str = ""


MATCHING_KEYS = ("not_stocks", "common_words", "guard_left", "guard_right", "common_right",
                 "index_context", "number_units", "unknown_suffixes", "unknown_left")


def load_matching(path: str | os.PathLike | None = None) -> MatchRules:
    """Read ``matching.toml`` (the packaged default when ``path`` is None)."""
    doc, label = load_toml(path, "matching", MATCHING_KEYS)

    def get(key: str) -> tuple[str, ...]:
        return string_list(doc, key, label)

    try:
        guard_left = re.compile("(?:" + "|".join(get("guard_left")) + ")$")
        guard_right = re.compile("(?:" + "|".join(get("guard_right")) + ")")
        common_right = re.compile("(?:" + "|".join(get("common_right")) + ")")
        unknown_left = re.compile("(?:" + "|".join(get("unknown_left")) + ")$")
    except re.error as exc:
        raise ConfigError(f"{label}: bad regex in guard/unknown patterns ({exc})") from None
    return MatchRules(
        not_stocks=tuple(normalize_name(w) for w in get("not_stocks")),
        common_words=frozenset(normalize_name(w) for w in get("common_words")),
        guard_left=guard_left, guard_right=guard_right, common_right=common_right,
        index_context=tuple(normalize_name(w) for w in get("index_context")),
        number_units=frozenset(get("number_units")),
        unknown_suffixes=tuple(normalize_name(w) for w in get("unknown_suffixes")),
        unknown_left=unknown_left, source=label)


class Hit(NamedTuple):
    """A stock named in normalised text ``[start, end)``."""

    start: int
    end: int
    code: str
    kind: str          # name | former | alias | code
    matched: str       # the normalised text matched


class Unknown(NamedTuple):
    """A name-like word or stock code not in the names file (listed, not guessed)."""

    start: int
    end: int
    text: str
    reason: str


def _aliases(name: str) -> list[str]:
    """Derived aliases: without an ST/XD/... prefix (kept only when 3+ characters remain:
    ``*ST工智`` must not make ``工智`` a name) and without a trailing share-class ``A``
    (``万科A`` → ``万科``, two characters allowed, guarded)."""
    out = []
    base = _PREFIX_RE.sub("", name)
    if base != name and len(base) >= 3:
        out.append(base)
    for cand in (name, base):
        stripped = _CLASS_SUFFIX_RE.sub("", cand)
        if stripped != cand and len(stripped) >= 2 and (cand == name or len(stripped) >= 3):
            out.append(stripped)
    return out


class NameMatcher:
    """Aho-Corasick matcher over a stock master's names (see the module docstring).

    ``master`` needs ``frame`` (indexed by code, columns ``name`` and ``former_names``), as
    :class:`backtests.data.master.StockMaster` provides. ``rules`` defaults to the packaged
    ``matching.toml``.
    """

    def __init__(self, master, rules: MatchRules | None = None):
        self.rules = rules or load_matching()
        frame = master.frame
        self.codes = frozenset(map(str, frame.index))
        # display names: full-width folded, spaces removed (万  科Ａ -> 万科A), as the master does
        self.display = {str(c): _display(n) for c, n in zip(frame.index, frame["name"])}
        entries: dict[str, tuple[int, set[str]]] = {}   # key -> (priority, codes)

        def put(key: str, code: str, kind: str) -> None:
            if not key:
                return
            pri = _PRIORITY[kind]
            old = entries.get(key)
            if old is None or pri < old[0]:
                entries[key] = (pri, {code})
            elif pri == old[0]:
                old[1].add(code)

        for code, name, former in zip(frame.index, frame["name"], frame["former_names"]):
            code = str(code)
            key = normalize_name(name)
            put(key, code, KIND_NAME)
            for alias in _aliases(key):
                put(alias, code, KIND_ALIAS)
            for old in former:
                okey = normalize_name(old)
                put(okey, code, KIND_FORMER)
                for alias in _aliases(okey):
                    put(alias, code, KIND_ALIAS)
        kinds = {v: k for k, v in _PRIORITY.items()}
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        self.keys: dict[str, tuple[str, str]] = {}
        automaton = ahocorasick.Automaton()
        blockers = set(self.rules.not_stocks)
        for key, (pri, codes) in entries.items():
            if key in blockers:
                continue                     # declared not a stock: it becomes a blocker below
            if len(codes) > 1:
                self.ambiguous[key] = tuple(sorted(codes))
                continue
            code = next(iter(codes))
            guard = 2 if key in self.rules.common_words else 1 if len(key) <= 2 else 0
            self.keys[key] = (code, kinds[pri])
            automaton.add_word(utf16_units(key), (len(key), code, kinds[pri], guard))
        for word in sorted(blockers):
            if word:
                automaton.add_word(utf16_units(word), (len(word), _BLOCKER, _BLOCKER, 0))
        automaton.make_automaton()
        self._automaton = automaton
        self.n_names = len(self.keys)
        suffixes = ahocorasick.Automaton()
        for suf in self.rules.unknown_suffixes:
            suffixes.add_word(suf, len(suf))
        suffixes.make_automaton()
        self._suffixes = suffixes if self.rules.unknown_suffixes else None

    # ------------------------------------------------------------ matching
    def _guard_ok(self, text: str, start: int, end: int, guard: int) -> bool:
        r = self.rules
        right = r.common_right if guard == 2 else r.guard_right
        return (r.guard_left.search(text, max(0, start - 4), start) is not None
                and right.match(text, end) is not None)

    def find(self, text: str) -> tuple[list[Hit], list[Unknown]]:
        """Stocks named in normalised ``text`` (sorted by position) and unknown candidates."""
        cands = []
        for end_b, (length, code, kind, guard) in self._automaton.iter(utf16_units(text)):
            if end_b & 1 == 0:
                continue                      # straddles two characters of the text
            end = (end_b + 1) >> 1
            start = end - length
            if guard and not self._guard_ok(text, start, end, guard):
                continue
            cands.append((start, end, code, kind))
        taken = bytearray(len(text))        # 1 where a kept match (or blocker) lies
        hits: list[Hit] = []
        # longest first, then leftmost; a candidate overlapping a kept one is dropped
        cands.sort(key=lambda c: (c[0] - c[1], c[0]))
        for start, end, code, kind in cands:
            if taken.find(1, start, end) >= 0:
                continue
            taken[start:end] = b"\x01" * (end - start)
            if code != _BLOCKER:
                hits.append(Hit(start, end, code, kind, text[start:end]))
        unknown: list[Unknown] = []
        self._codes(text, hits, unknown, taken)
        if self._suffixes is not None:
            self._unknown_names(text, unknown, taken)
        hits.sort(key=lambda h: h.start)
        unknown.sort(key=lambda u: u.start)
        return hits, unknown

    def _codes(self, text: str, hits: list[Hit], unknown: list[Unknown], taken: bytearray) -> None:
        r = self.rules
        n = len(text)
        for m in _DIGITS_RE.finditer(text):
            start, end = m.span()
            if end - start != 6:
                continue                      # a longer number is not a code
            code = m.group(0)
            if end < n and text[end] in r.number_units:
                continue                      # an amount: 600000元, 300000股
            pre = _PREFIX_RE_CODE.search(text, max(0, start - 5), start)
            if pre is None and start > 0 and text[start - 1] in _NOT_BEFORE_CODE:
                continue
            suf = _SUFFIX_RE_CODE.match(text, end)
            ex = (pre.group(1) if pre else None) or (suf.group(1) if suf else None)
            exchange = _EXCHANGE_ALIASES[ex] if ex else None
            if classify_code(code, exchange) != "stock":
                continue
            if exchange is None:
                before = text[max(0, start - 8):start]
                if any(w in before for w in r.index_context) or "指数" in text[end:end + 4]:
                    continue                  # 上证指数(000001), 沪深300ETF(510300) ...
            if pre:
                start = pre.start()
            if suf:
                end = suf.end()
            taken[start:end] = b"\x01" * (end - start)
            if code in self.codes:
                hits.append(Hit(start, end, code, KIND_CODE, text[start:end]))
            else:
                board = rules.BOARD_NAMES.get(rules.board_of(code), "unknown board")
                unknown.append(Unknown(start, end, text[start:end],
                                       f"stock code ({board}) not in the names file"))

    def _unknown_names(self, text: str, unknown: list[Unknown], taken: bytearray) -> None:
        r = self.rules
        for suf_end, length in self._suffixes.iter(text):
            end = suf_end + 1
            suf_start = end - length
            if taken[suf_start] or not r.guard_right.match(text, end):
                continue                # inside a name already found, or not followed by a separator
            for n in (4, 3, 2):                       # the longest well-delimited word wins
                start = suf_start - n
                if start < 0 or not _CJK_RUN.fullmatch(text, start, suf_start):
                    continue
                if r.unknown_left.search(text, max(0, start - 4), start) is None:
                    continue
                word = text[start:end]
                if (taken.find(1, start, end) < 0 and word not in self.keys
                        and word not in r.not_stocks):
                    unknown.append(Unknown(start, end, word,
                                           "company-like name not in the names file"))
                    taken[start:end] = b"\x01" * (end - start)
                break
