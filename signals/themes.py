"""Themes named in an article: from the lexicon in ``themes.toml`` and from ``X概念`` patterns.

A theme hit is ``(start, end, theme, matched_text, how)`` in normalised text, ``how`` being
``"lexicon"`` or ``"pattern"``:

- **lexicon**: every keyword of every theme (longest keyword first, so ``谷子经济`` beats
  ``谷子``), e.g. 豆包 ← 豆包, 字节跳动, 火山引擎, 云雀;
- **quoted pattern** ``“X”概念股`` / ``“X”概念`` / ``“X”板块`` / ``“X”题材``: X of 1..12
  characters, so the empty quotes ``“”概念股`` (a real artefact in the Doubao article) are
  ignored rather than turned into a nameless theme;
- **unquoted pattern** ``X概念股`` / ``X概念`` / ``X板块``: X is the run of letters, digits and
  Chinese characters right before the marker (``max_unquoted`` at most), cut after its last
  ``stop_chars`` character (``今日固态电池概念`` → ``固态电池``) and at least two long.

A pattern X that is a lexicon keyword is reported as that keyword's theme (``“谷子”概念`` → 谷子经济);
any other X becomes a theme of its own (one the lexicon does not know yet, e.g. ``“镜湖AI眼镜”概念股``
→ 镜湖AI眼镜), and lexicon keywords inside it (``AI眼镜``) are not counted separately there.

:meth:`ThemeLexicon.primary` picks an article's main theme: the first theme in the title, else
the most frequent one in the text (earliest on ties).
"""
from __future__ import annotations

import operator
import os
import re
from typing import NamedTuple

import numpy as np

from backtests.core.errors import ConfigError, did_you_mean
from signals.config import load_toml, string_list
from signals.literals import first_chars, parse
from signals.normalize import normalize_name
from signals.text_nb import code_points
from signals.themes_nb import HIT_LEXICON, HIT_QUOTED, theme_hits_nb
from signals.trie_nb import Trie, utf16_units

THEME_KEYS = ("themes", "patterns")
_START_END = operator.itemgetter(0, 1)
_NO_QUOTED = np.zeros((0, 2), dtype=np.int64)
PATTERN_KEYS = ("quoted", "unquoted_markers", "max_unquoted", "stop_chars")


class ThemeHit(NamedTuple):
    start: int
    end: int
    theme: str
    matched: str
    how: str            # lexicon | pattern


class ThemeLexicon:
    """Compiled theme rules. Build with :func:`load_themes`."""

    def __init__(self, themes: dict[str, tuple[str, ...]], quoted: tuple[str, ...],
                 markers: tuple[str, ...], max_unquoted: int, stop_chars: str, source: str = ""):
        self.themes = themes
        self.source = source
        self.keyword_theme: dict[str, str] = {}
        for theme, words in themes.items():
            for w in words:
                key = normalize_name(w)
                if key:
                    self.keyword_theme.setdefault(key, theme)
        self._kw = None
        self._kw_theme: dict[int, str] = {}
        if self.keyword_theme:
            self._kw = Trie()
            self._kw_theme = {self._kw.add(key): theme for key, theme in self.keyword_theme.items()}
        try:
            self._quoted = [re.compile(p) for p in quoted]
        except re.error as exc:
            raise ConfigError(f"{source}: [patterns] quoted: bad regex ({exc})") from None
        # the characters a quoted pattern's match starts with: matched at those only
        self._quoted_first = [None if rx.flags & re.IGNORECASE else first_chars(parse(rx))
                              for rx in self._quoted]
        marks = sorted((normalize_name(m) for m in markers), key=len, reverse=True)
        self.markers = tuple(marks)         # normalised, longest first
        self._marker_re = re.compile("|".join(map(re.escape, marks))) if marks else None
        # the markers as a dictionary scan (the alternation finds the leftmost, then longest)
        self._markers = None
        if marks and all(marks):
            self._markers = Trie()
            for m in marks:
                self._markers.add(m)
        self.max_unquoted = int(max_unquoted)
        self._run_re = re.compile(r"[\u4e00-\u9fffA-Z0-9]+$")
        self.stop_chars = stop_chars
        self._tail_re = re.compile(f"[^{re.escape(stop_chars)}]+$" if stop_chars else ".+$")
        self._stop = np.zeros(0x10000, dtype=np.bool_)     # for unquoted_nb
        for c in stop_chars:
            if ord(c) > 0xFFFF:
                self._markers = None        # not in the table: the regex path
            else:
                self._stop[ord(c)] = True
        # theme_hits_nb's tables (an empty trie scans to nothing), or None: the plain path
        self._patterns = (self._markers is not None, self.max_unquoted, self._stop,
                          bool(self.stop_chars))
        self._tables = None
        if self._marker_re is None or self._markers is not None:
            kw = Trie() if self._kw is None else self._kw
            mk = Trie() if self._markers is None else self._markers
            self._tables = (*kw.tables(), kw.max_len, *mk.tables(), mk.max_len)

    def fingerprint(self) -> tuple:
        """Everything that decides :meth:`find`, as plain values (for rules versions)."""
        return (sorted((t, list(w)) for t, w in self.themes.items()),
                [p.pattern for p in self._quoted], getattr(self._marker_re, "pattern", None),
                self.max_unquoted, self.stop_chars)

    def _canonical(self, x: str) -> str:
        return self.keyword_theme.get(x, x)

    def find(self, text: str) -> list[ThemeHit]:
        """Theme hits in normalised ``text``, sorted by position."""
        if self._tables is None:
            return self._find_plain(text)
        rows, quoted = self._rows(text)
        kw_theme, canonical = self._kw_theme, self._canonical
        new = tuple.__new__                 # a NamedTuple's own __new__ is slower
        hits = []
        for start, end, kind, value in rows.tolist():
            if kind == HIT_LEXICON:
                hit = (start, end, kw_theme[value], text[start:end], "lexicon")
            elif kind == HIT_QUOTED:
                x = quoted[value]
                hit = (start, end, canonical(x), x, "pattern")
            else:
                x = text[start:value]
                hit = (start, end, canonical(x), x, "pattern")
            hits.append(new(ThemeHit, hit))
        return hits

    def scan(self, text: str) -> tuple[np.ndarray, list[str]]:
        """``(rows, themes)``: the hits of :meth:`find` as ``[T, 4]`` int64 rows of
        :func:`signals.themes_nb.theme_rows_nb` (their start in column 0) and their themes,
        without the :class:`ThemeHit` tuples."""
        if self._tables is None:
            hits = self._find_plain(text)
            return (np.array([h[:2] + (0, 0) for h in hits], dtype=np.int64).reshape(-1, 4),
                    [h.theme for h in hits])
        rows, quoted = self._rows(text)
        return rows, self.themes_of(text, rows.tolist(), quoted, self._kw_theme)

    @property
    def scannable(self) -> bool:
        """Whether :func:`signals.themes_nb.theme_rows_nb` finds the hits (else the regexes:
        a marker or stop character a scan cannot read)."""
        return self._tables is not None

    def pattern_tables(self) -> tuple:
        """``(has_markers, max_unquoted, stop, any_stop)``: the unquoted patterns as
        :func:`signals.themes_nb.theme_rows_nb` reads them."""
        return self._patterns

    def themes_of(self, text: str, rows: list[list[int]], quoted: list[str],
                  kw_theme: dict[int, str]) -> list[str]:
        """The theme of each row of :func:`signals.themes_nb.theme_rows_nb` (the rows as
        lists; ``quoted``: the quoted names, :meth:`quoted`; ``kw_theme``: the theme of each
        keyword's trie node)."""
        canonical = self._canonical
        return [kw_theme[v] if kind == HIT_LEXICON else
                canonical(quoted[v] if kind == HIT_QUOTED else text[s:v])
                for s, _e, kind, v in rows]

    def quote_starts(self) -> frozenset[str] | None:
        """The characters every quoted pattern's match starts with (a text without any of them
        has no quoted hit), or None when a pattern's first characters are not known."""
        if any(first is None for first in self._quoted_first):
            return None
        return frozenset().union(*self._quoted_first)

    def quoted(self, text: str) -> tuple[np.ndarray, list[str]]:
        """``([Q, 2] spans, names)`` of the quoted patterns' names (the regexes)."""
        spans, names = [], []
        for rx, first in zip(self._quoted, self._quoted_first):
            if first is not None and not any(map(text.__contains__, first)):
                continue                # no character a match starts with (most texts)
            for m in _finditer(rx, first, text):
                x = m.group(1).strip()
                if x:
                    spans += m.span(1)
                    names.append(x)
        return (np.array(spans, dtype=np.int64).reshape(-1, 2) if spans else _NO_QUOTED), names

    def _rows(self, text: str) -> tuple[np.ndarray, list[str]]:
        """:func:`signals.themes_nb.theme_hits_nb` of ``text`` and the names of the quoted
        pattern hits its rows point to."""
        quoted, names = self.quoted(text)
        return theme_hits_nb(code_points(text), utf16_units(text), *self._tables, quoted,
                             *self._patterns), names

    def _find_plain(self, text: str) -> list[ThemeHit]:
        """:meth:`find` when a marker or a stop character cannot be scanned (regexes)."""
        hits: list[ThemeHit] = []
        if self._kw is not None:       # leftmost, then longest keyword; no overlaps
            kw_theme = self._kw_theme
            new = tuple.__new__                 # a NamedTuple's own __new__ is slower
            hits = [new(ThemeHit, (start, end, kw_theme[node], text[start:end], "lexicon"))
                    for start, end, node in self._kw.find_leftmost(text).tolist()]
        n_lex = len(hits)               # lexicon hits first, pattern hits after them
        for rx, first in zip(self._quoted, self._quoted_first):
            for m in _finditer(rx, first, text):
                x = m.group(1).strip()
                if x:
                    hits.append(ThemeHit(m.start(1), m.end(1), self._canonical(x), x, "pattern"))
        if self._marker_re is not None:
            covered = bytearray(len(text))
            for h in hits:
                covered[h.start:h.end] = b"\x01" * (h.end - h.start)
            for cut, end, stop_at in self._unquoted(text):
                x = text[cut:stop_at]
                if len(x) < 2 or covered.find(1, cut, end) >= 0:
                    continue
                hits.append(ThemeHit(cut, end, self._canonical(x), x, "pattern"))
        if n_lex < len(hits):   # a keyword inside a more specific pattern name belongs to it
            inside = bytearray(len(text))
            for p in hits[n_lex:]:
                inside[p.start:p.end] = b"\x01" * (p.end - p.start)
            hits = hits[n_lex:] + [h for h in hits[:n_lex] if inside.find(0, h.start, h.end) >= 0]
        hits.sort(key=_START_END)
        return hits

    def _unquoted(self, text: str) -> list[tuple[int, int, int]]:
        """``(cut, marker start, name end)`` of each unquoted pattern ``X概念``: X is the run
        (``_run_re``) right before the marker, cut after its last stop character
        (``_tail_re``); by the regexes (:meth:`_find_plain`)."""
        out = []
        for m in self._marker_re.finditer(text):
            end = m.start()
            run = self._run_re.search(text, max(0, end - self.max_unquoted), end)
            if run is None:
                continue
            tail = self._tail_re.search(run.group())   # the part after the last stop char
            if tail is None:
                continue
            cut = run.start() + tail.start()
            out.append((cut, end, cut + len(tail.group())))
        return out

    @staticmethod
    def primary(hits: list[ThemeHit], title_end: int) -> str:
        """Main theme of :meth:`find`'s hits: the first theme in the title (``start <
        title_end``), else the most frequent (:func:`primary_theme`)."""
        return primary_theme([h.theme for h in hits], hits[0].start if hits else 0, title_end)


def primary_theme(themes: list[str], first: int, title_end: int) -> str:
    """The main theme of an article's theme hits, given by their ``themes`` in order of
    position and the start of the first: that first one's theme when it lies in the title
    (``first < title_end``), else the most frequent theme, the earliest on ties."""
    if not themes:
        return ""
    if first < title_end:
        return themes[0]
    return max(dict.fromkeys(themes), key=themes.count)     # max: the first of equals


def _finditer(rx: re.Pattern, first: set[str] | None, text: str):
    """``rx.finditer(text)``; when every match starts with one of the characters ``first``,
    by matching at their positions only (a regex class scan tests every character)."""
    if first is None:
        yield from rx.finditer(text)
        return
    at = []
    for c in first:
        i = text.find(c)
        while i >= 0:
            at.append(i)
            i = text.find(c, i + 1)
    last = 0
    for i in sorted(at):
        if i >= last:
            m = rx.match(text, i)
            if m is not None:
                yield m
                last = m.end()


def load_themes(path: str | os.PathLike | None = None) -> ThemeLexicon:
    """Read ``themes.toml`` (the packaged default when ``path`` is None)."""
    doc, label = load_toml(path, "themes", THEME_KEYS)
    raw = doc.get("themes", {})
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{label}: [themes] must map theme names to keyword lists")
    themes = {str(t): string_list(raw, t, f"{label} [themes]") for t in raw}
    pat = doc.get("patterns", {})
    for key in pat:
        if key not in PATTERN_KEYS:
            raise ConfigError(f"{label}: unknown key [patterns] {key}{did_you_mean(key, PATTERN_KEYS)}")
    max_unquoted = pat.get("max_unquoted", 8)
    if not isinstance(max_unquoted, int) or max_unquoted < 2:
        raise ConfigError(f"{label}: [patterns] max_unquoted = {max_unquoted!r}: expected an integer >= 2")
    stop_chars = pat.get("stop_chars", "")
    if not isinstance(stop_chars, str):
        raise ConfigError(f"{label}: [patterns] stop_chars = {stop_chars!r}: expected a string")
    return ThemeLexicon(themes, string_list(pat, "quoted", label),
                        string_list(pat, "unquoted_markers", label), max_unquoted, stop_chars, label)
