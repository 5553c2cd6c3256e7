"""Find listed companies named in a text: by current name, former name, or code.

:class:`NameMatcher` is built once from a :class:`~backtests.data.master.StockMaster` and then scans
normalised text (:mod:`signals.normalize`) in one dictionary pass (:mod:`signals.trie_nb`) over every
name, whatever the size of the dictionary (on the text's UTF-16 code units).
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

import functools
import operator
import os
import re
import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from backtests.core import rules
from backtests.core.errors import ConfigError
from backtests.core.names import normalize_name as _display
from signals.config import load_toml, string_list
from signals.literals import Automata
from signals.mentions_nb import (
    CHAR_UNIT,
    GUARD_SHIFT,
    NODE_KEY,
    NODE_NAMED,
    NODE_SUFFIX,
    ROW_CODE,
    ROW_HIT,
    ROW_NAME,
    ROW_TYPO,
    find_all_nb,
    find_nb,
)
from signals.normalize import bounds_of, normalize_name
from signals.regex_nb import step_tables, workspace
from signals.text_nb import cjk_before_nb, code_points, digit_runs_nb
from signals.trie_nb import CHAR_BAD, CHAR_DIGIT, CHAR_KEY, Trie, longest_first_nb

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
# a run of exactly six (a code) or seven (a code typo, reported) digits; longer runs are numbers
_DIGITS_RE = re.compile(r"\d{6,}")        # whole runs of 6+ digits (a run is tried from its start)
_PREFIX_RE_CODE = re.compile(r"(?<![0-9A-Z.])(SH|SZ|BJ)\.?$")
_SUFFIX_RE_CODE = re.compile(r"\.(SH|SZ|BJ|SS|XSHG|XSHE|BSE)(?![A-Z])")
_NOT_BEFORE_CODE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.")
_PREFIX_RE = re.compile(r"^(?:\*ST|S\*ST|SST|ST|XD|XR|DR|N|C|S)(?=[\u4e00-\u9fff])")
_CLASS_SUFFIX_RE = re.compile(r"(?<=[\u4e00-\u9fff])A$")
# STAR/ChiNext special-voting-rights and unprofitable suffixes: 寒武纪-U, 优刻得-W, 九号公司-WD
_SUFFIX_UW_RE = re.compile(r"-(?:U|W|UW|WD|UWD|D)$")
_BLOCKER = "-"
_START = operator.itemgetter(0)          # a Hit's or an Unknown's start (a stable sort key)
_TYPO_REASON = "7-digit code (a typo?): stock codes have 6 digits; not matched"
_NAME_REASON = "company-like name not in the names file"
_REASONS = {ROW_TYPO: _TYPO_REASON, ROW_NAME: _NAME_REASON}




@functools.cache
def _decimal_table() -> np.ndarray:
    """Whether each BMP code point is a decimal digit, as ``\\d`` decides (``str.isdecimal``)."""
    return np.array([chr(c).isdecimal() for c in range(0x10000)], dtype=np.bool_)


def digit_runs(text: str) -> list[tuple[int, int]]:
    """The spans ``_DIGITS_RE.finditer(text)`` gives (whole runs of 6+ digits), by one numba
    pass (:func:`signals.text_nb.digit_runs_nb`) where the text allows."""
    runs, ok = digit_runs_nb(code_points(text), _decimal_table(), 6)
    if ok:
        return runs.tolist()
    return [m.span() for m in _DIGITS_RE.finditer(text)]


def _board_reason(board: str) -> str:
    return f"stock code ({board}) not in the names file"


def _code_reason(code: str) -> str:
    """Why a stock code is unknown: its board, not in the names file."""
    return _board_reason(rules.BOARD_NAMES.get(rules.board_of(code), "unknown board"))


#: Every reason an unknown candidate is listed for, by its id in :class:`Found` rows: a code
#: typo (``ROW_TYPO`` rows), a company-like name (``ROW_NAME``), a stock code of each board.
REASONS = (_TYPO_REASON, _NAME_REASON,
           *map(_board_reason, (*rules.BOARD_NAMES.values(), "unknown board")))
_REASON_ID = {r: i for i, r in enumerate(REASONS)}


class Found(NamedTuple):
    """:meth:`NameMatcher.find_all`'s answer, every text's end to end: the hits' ``(start,
    end)`` (int64 ``[H, 2]``) and ids (int64, as :meth:`NameMatcher.find_ids` gives them), text
    ``a``'s at ``hit_bounds[a]:hit_bounds[a + 1]``; the unknown candidates' ``(start, end,
    reason)`` rows (int64 ``[U, 3]``, the reason's id in :data:`REASONS`), text ``a``'s at
    ``unknown_bounds[a]:unknown_bounds[a + 1]``."""
    at: np.ndarray
    ids: np.ndarray
    hit_bounds: np.ndarray
    unknown: np.ndarray
    unknown_bounds: np.ndarray

    def unknown_of(self, a: int) -> list[tuple[int, int, str]]:
        """Text ``a``'s unknown candidates as :meth:`NameMatcher.find_ids` gives them."""
        rows = self.unknown[self.unknown_bounds[a]:self.unknown_bounds[a + 1]].tolist()
        return [(start, end, REASONS[r]) for start, end, r in rows]


def _found_of(parts: list[tuple]) -> Found:
    """:class:`Found` of each text's ``(at, ids, unknown)`` (as :meth:`NameMatcher.find_ids`
    gives them)."""
    ats, ids, unknown = [], [], []
    for at, hit_ids, unk in parts:
        ats.append(at)
        ids += hit_ids
        unknown += [(start, end, _REASON_ID[reason]) for start, end, reason in unk]
    return Found(np.concatenate(ats).reshape(-1, 2) if ats else _NO_AT,
                 np.array(ids, dtype=np.int64), bounds_of([len(p[1]) for p in parts]),
                 np.array(unknown, dtype=np.int64).reshape(-1, 3),
                 bounds_of([len(p[2]) for p in parts]))


_NO_AT = np.zeros((0, 2), dtype=np.int64)


def _code_tables(r: MatchRules, codes) -> tuple[np.ndarray, ...]:
    """The code rules as arrays for :func:`signals.mentions_nb.find_nb`: ``chars`` (uint8 per
    BMP code point: CHAR_DIGIT, CHAR_UNIT, CHAR_BAD), ``classes`` (whether a code is a stock's, per
    exchange -- none, SH, SZ, BJ -- and first digits: the prefixes of :data:`EXCHANGE_CODES` and
    :data:`backtests.core.rules.BOARD_PREFIXES` are no longer than that), the words
    looked for around a bare code (code points and offsets: the index words, then ``指数``),
    and ``known``: the values of ``codes`` (sorted 6-digit strings)."""
    chars = _decimal_table().astype(np.uint8) * CHAR_DIGIT
    chars[0xFFFD] |= CHAR_BAD
    for unit in r.number_units:
        if len(unit) == 1 and ord(unit) <= 0xFFFF:
            chars[ord(unit)] |= CHAR_UNIT
    width = max(len(p) for p in [p for _e, p, _w in EXCHANGE_CODES]
                + [p for p, _b in rules.BOARD_PREFIXES])
    classes = np.zeros((4, 10 ** width), dtype=np.uint8)
    for row, exchange in enumerate((None, "SH", "SZ", "BJ")):
        for head in range(10 ** width):
            code = f"{head:0{width}d}".ljust(6, "0")
            classes[row, head] = classify_code(code, exchange) == "stock"
    words = [np.frombuffer(w.encode("utf-32-le"), dtype=np.uint32)
             for w in (*r.index_context, "指数")]
    ptr = np.cumsum([0] + [len(w) for w in words]).astype(np.int64)
    known = np.array([int(c) for c in codes], dtype=np.int64)
    return chars, known, classes, np.concatenate(words), ptr


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

    def fingerprint(self) -> tuple:
        """Every rule as plain values (patterns as their text), for rules versions."""
        return tuple((k, v.pattern if isinstance(v, re.Pattern) else
                      sorted(v) if isinstance(v, frozenset) else v)
                     for k, v in self.__dict__.items() if k != "source")


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
    plain = _SUFFIX_UW_RE.sub("", name)
    if plain != name and len(plain) >= 2:
        out.append(plain)                     # 寒武纪-U -> 寒武纪 (the suffix is often dropped)
        name = plain
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
        # one trie of the names, the blockers and the unknown-name suffixes: one scan finds all
        trie = Trie()
        payload: dict[int, tuple] = {}
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
            payload[trie.add(key)] = (code, kinds[pri], guard)
        for word in sorted(blockers):
            if word:
                payload[trie.add(word)] = (_BLOCKER, _BLOCKER, 0)
        suffix_nodes = [trie.add(suf) for suf in self.rules.unknown_suffixes if suf]
        self._trie = trie
        self._payload = payload
        # per node, for the kernel (signals.mentions_nb): a key, a stock's name, a suffix, guard
        self._flags = np.zeros(trie.n_nodes, dtype=np.int8)
        for node, (code, _kind, guard) in payload.items():
            self._flags[node] = (NODE_KEY | (NODE_NAMED if code != _BLOCKER else 0)
                                 | guard << GUARD_SHIFT)
        self._flags[suffix_nodes] |= NODE_SUFFIX
        # what a hit's id stands for: a node's (code, kind), then the known codes' (by value)
        self._code_kind: list = [None] * trie.n_nodes
        for node, (code, kind, _guard) in payload.items():
            self._code_kind[node] = (code, kind)
        six = sorted(c for c in self.codes if len(c) == 6 and c.isascii() and c.isdigit())
        self._code_kind += [(c, KIND_CODE) for c in six]
        self._kind_ids: dict | None = None          # (code, kind) -> id, made when needed
        self.n_names = len(self.keys)
        # the guard and unknown-name regexes as automata (signals.literals.Automata), run in
        # numba; None when one of them does not translate: the regexes run as written
        auto = Automata()
        r = self.rules
        progs = [auto.add(p) for p in (r.guard_left, r.guard_right, r.common_right,
                                       r.unknown_left)]
        if None in progs:
            self._auto = None
        else:
            code, cmap, ctab = auto.arrays()
            self._auto = ((code, cmap, ctab, step_tables(code, ctab),
                           np.array(progs, dtype=np.int64)), len(auto.op))
        # find_nb's arguments after the text: the trie's and the code rules' tables
        first, edges, _terminal, bits = trie.tables()
        chars, *code_tables = _code_tables(self.rules, six)
        chars[first >= 0] |= CHAR_KEY       # the scan looks up only where a key can start
        self._tables = (first, edges, bits, trie.max_len, self._flags, chars, *code_tables)
        self._local = threading.local()     # a work space per thread (Dask workers share us)

    def _workspace(self) -> np.ndarray:
        ws = getattr(self._local, "ws", None)
        if ws is None:
            ws = self._local.ws = workspace(self._auto[1])
        return ws

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_local"]                 # pickled for a Dask cluster: rebuilt there
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    # ------------------------------------------------------------ matching
    def _guard_ok(self, text: str, start: int, end: int, guard: int) -> bool:
        r = self.rules
        right = r.common_right if guard == 2 else r.guard_right
        return (r.guard_left.search(text, max(0, start - 4), start) is not None
                and right.match(text, end) is not None)

    def find(self, text: str) -> tuple[list[Hit], list[Unknown]]:
        """Stocks named in normalised ``text`` (sorted by position) and unknown candidates."""
        got = self._rows(text)
        if got is None:
            return self._find_regex(text)
        rows, n_hits = got
        code_kind = self._code_kind
        new = tuple.__new__                     # a NamedTuple's own __new__ is slower
        rows = rows.tolist()
        hits = [new(Hit, (start, end, *code_kind[i], text[start:end]))
                for start, end, i, _what in rows[:n_hits]]
        return hits, [new(Unknown, (start, end, text[start:end], reason))
                      for start, end, reason in self._reasons(rows[n_hits:])]

    def find_spans(self, text: str) -> tuple[np.ndarray, list[tuple[str, str]],
                                             list[tuple[int, int, str]]]:
        """:meth:`find` without its objects: ``(at, code_kind, unknown)`` -- the hits' ``(start,
        end)`` (int64 ``[K, 2]``), their ``(code, kind)`` and the unknown candidates' ``(start,
        end, reason)`` (what the extractor keeps of them)."""
        at, ids, unknown = self.find_ids(text)
        return at, list(map(self._code_kind.__getitem__, ids)), unknown

    def find_ids(self, text: str) -> tuple[np.ndarray, list[int], list[tuple[int, int, str]]]:
        """:meth:`find_spans` with each hit's ``(code, kind)`` as its position in
        :attr:`code_kinds`."""
        got = self._rows(text)
        return self._regex_ids(text) if got is None else self._found(*got)

    def find_all(self, texts, units: np.ndarray, bounds: np.ndarray) -> Found:
        """:meth:`find_ids` of each of ``texts`` as columns (:class:`Found`), given their code
        points end to end (text ``a``'s at ``units[bounds[a]:bounds[a + 1]]``): one kernel call
        for all of them (:func:`signals.mentions_nb.find_all_nb`); a text it cannot read takes
        the regexes (the only use of ``texts``: only those texts are read of it)."""
        n = len(bounds) - 1
        if self._auto is None:
            return _found_of([self._regex_ids(texts[a]) for a in range(n)])
        rows, counts, ok = find_all_nb(*self._auto[0], self._workspace(), units, bounds,
                                       *self._tables)
        hit = rows[:, 3] == ROW_HIT                 # a text's hits come before its candidates
        unk = rows[~hit]
        unknown = unk[:, :3].copy()
        what = unk[:, 3]
        unknown[:, 2] = np.where(what == ROW_TYPO, _REASON_ID[_TYPO_REASON],
                                 _REASON_ID[_NAME_REASON])
        for j in np.flatnonzero(what == ROW_CODE).tolist():
            unknown[j, 2] = _REASON_ID[_code_reason(f"{unk[j, 2]:06d}")]
        found = Found(rows[hit, :2], rows[hit, 2], bounds_of(counts[:, 1]), unknown,
                      bounds_of(counts[:, 0] - counts[:, 1]))
        if ok.all():
            return found
        hb = found.hit_bounds
        return _found_of([(found.at[hb[a]:hb[a + 1]], found.ids[hb[a]:hb[a + 1]].tolist(),
                           found.unknown_of(a)) if good else self._regex_ids(texts[a])
                          for a, good in enumerate(ok.tolist())])

    def _found(self, rows: np.ndarray, n_hits: int) -> tuple:
        """:meth:`find_ids`'s answer from a text's rows of :func:`signals.mentions_nb.find_nb`
        (its ``n_hits`` hits first)."""
        return (rows[:n_hits, :2], rows[:n_hits, 2].tolist(),
                self._reasons(rows[n_hits:].tolist()) if rows.shape[0] > n_hits else [])

    def _regex_ids(self, text: str) -> tuple:
        """:meth:`find_ids`'s answer by the regexes (:meth:`_find_regex`)."""
        hits, unknown = self._find_regex(text)
        at = np.array([h[:2] for h in hits], dtype=np.int64).reshape(-1, 2)
        return (at, [self._kind_id((h.code, h.kind)) for h in hits],
                [(u.start, u.end, u.reason) for u in unknown])

    @property
    def code_kinds(self) -> list:
        """What a hit's id of :meth:`find_ids` stands for: its ``(code, kind)`` (None: no
        hit has that id)."""
        return self._code_kind

    def _kind_id(self, pair: tuple[str, str]) -> int:
        """The id of ``(code, kind)`` (of a hit the regexes found), added when new."""
        ids = self._kind_ids
        if ids is None:
            ids = self._kind_ids = {ck: i for i, ck in enumerate(self._code_kind)
                                    if ck is not None}
        got = ids.get(pair)
        if got is None:
            got = ids[pair] = len(self._code_kind)
            self._code_kind.append(pair)
        return got

    def _rows(self, text: str) -> tuple[np.ndarray, int] | None:
        """``(rows, n_hits)`` of :func:`signals.mentions_nb.find_nb` (names, codes and unknown
        candidates in one kernel), or None when the text takes the regex path."""
        if self._auto is None:
            return None
        rows, n_hits, ok = find_nb(*self._auto[0], self._workspace(), code_points(text),
                                   *self._tables)
        return (rows, n_hits) if ok else None

    @staticmethod
    def _reasons(rows: list[list[int]]) -> list[tuple[int, int, str]]:
        """``(start, end, reason)`` of the unknown candidates' rows of
        :func:`signals.mentions_nb.find_nb`."""
        return [(start, end, _REASONS[what] if what != ROW_CODE else
                 _code_reason(f"{value:06d}")) for start, end, value, what in rows]

    def _find_regex(self, text: str) -> tuple[list[Hit], list[Unknown]]:
        """:meth:`find` with the guards and code rules as regexes: for a text holding a
        character outside the BMP or U+FFFD, or a 6-digit run with a digit other than 0-9, and
        under guards that do not translate to automata."""
        occ = self._trie.find(text)
        is_key = (self._flags[occ[:, 2]] & NODE_KEY) != 0
        suffix_occ = occ[(self._flags[occ[:, 2]] & NODE_SUFFIX) != 0]
        guards = self._flags[occ[:, 2]] >> GUARD_SHIFT
        keep = is_key.copy()
        at = np.flatnonzero(guards)
        for i, (start, end, _node), guard in zip(at.tolist(), occ[at].tolist(),
                                                 guards[at].tolist()):
            keep[i] = self._guard_ok(text, start, end, guard)
        # longest first, then leftmost; a candidate overlapping a kept one is dropped
        kept, taken_nb = longest_first_nb(occ, keep, len(text))
        rows = occ[np.sort(kept)]
        rows = rows[(self._flags[rows[:, 2]] & NODE_NAMED) != 0]    # blockers out; by start
        taken = bytearray(taken_nb)         # 1 where a kept match (or blocker) lies
        code_kind = self._code_kind
        hits = [Hit(start, end, *code_kind[node], text[start:end])
                for start, end, node in rows.tolist()]
        unknown: list[Unknown] = []
        self._codes(text, hits, unknown, taken)
        if self.rules.unknown_suffixes:
            self._unknown_names(text, suffix_occ, unknown, taken)
        hits.sort(key=_START)
        unknown.sort(key=_START)
        return hits, unknown

    def _codes(self, text: str, hits: list[Hit], unknown: list[Unknown], taken: bytearray) -> None:
        r = self.rules
        n = len(text)
        for start, end in digit_runs(text):
            if end - start > 7:
                continue                      # a longer number is not a code
            if end - start == 7:
                self._typo(text, start, end, unknown)
                continue
            code = text[start:end]
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
                unknown.append(Unknown(start, end, text[start:end], _code_reason(code)))

    def _typo(self, text: str, start: int, end: int, unknown: list[Unknown]) -> None:
        """A 7-digit number where a code stands -- with an exchange (``SZ0023541``,
        ``0023541.SZ``) or alone in brackets after a name (``天娱数科(0023541)``) -- is reported,
        never cut down to a 6-digit code."""
        pre = _PREFIX_RE_CODE.search(text, max(0, start - 5), start)
        suf = _SUFFIX_RE_CODE.match(text, end)
        bracketed = (start > 0 and text[start - 1] in "(（" and end < len(text)
                     and text[end] in ")）")
        if pre or suf or bracketed:
            a = pre.start() if pre else start
            b = suf.end() if suf else end
            unknown.append(Unknown(a, b, text[a:b], _TYPO_REASON))

    def _unknown_names(self, text: str, occ: np.ndarray, unknown: list[Unknown],
                       taken: bytearray) -> None:
        """The unknown names of ``text`` with the regexes (``occ``: the suffixes' occurrences)."""
        r = self.rules
        # inside a name already found: skipped below in any case (taken only grows)
        occ = occ[np.frombuffer(bytes(taken), dtype=np.uint8)[occ[:, 0]] == 0]
        if not len(occ):
            return
        # by end, longest first (the order an Aho-Corasick automaton reports them in)
        occ = occ[np.lexsort((occ[:, 0], occ[:, 1]))]
        # how many Chinese characters precede each suffix (the n before it must all be)
        cjk = cjk_before_nb(code_points(text), occ[:, 0], 4).tolist()
        for (suf_start, end, _node), n_cjk in zip(occ.tolist(), cjk):
            if taken[suf_start] or not r.guard_right.match(text, end):
                continue                # inside a name already found, or not followed by a separator
            for n in (4, 3, 2):                       # the longest well-delimited word wins
                if n > n_cjk:
                    continue
                start = suf_start - n
                if r.unknown_left.search(text, max(0, start - 4), start) is None:
                    continue
                word = text[start:end]
                if (taken.find(1, start, end) < 0 and word not in self.keys
                        and word not in r.not_stocks):
                    unknown.append(Unknown(start, end, word, _NAME_REASON))
                    taken[start:end] = b"\x01" * (end - start)
                break
