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

import os
import re
from collections import Counter
from typing import NamedTuple

import ahocorasick

from backtests.core.errors import ConfigError, did_you_mean
from signals.config import load_toml, string_list
from signals.mentions import utf16_units
from signals.normalize import normalize_name

THEME_KEYS = ("themes", "patterns")
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
        if self.keyword_theme:
            self._kw = ahocorasick.Automaton()
            for key, theme in self.keyword_theme.items():
                self._kw.add_word(utf16_units(key), (len(key), theme))
            self._kw.make_automaton()
        try:
            self._quoted = [re.compile(p) for p in quoted]
        except re.error as exc:
            raise ConfigError(f"{source}: [patterns] quoted: bad regex ({exc})") from None
        marks = sorted((normalize_name(m) for m in markers), key=len, reverse=True)
        self._marker_re = re.compile("|".join(map(re.escape, marks))) if marks else None
        self.max_unquoted = int(max_unquoted)
        self._run_re = re.compile(r"[\u4e00-\u9fffA-Z0-9]+$")
        self.stop_chars = stop_chars
        self._tail_re = re.compile(f"[^{re.escape(stop_chars)}]+$" if stop_chars else ".+$")

    def _canonical(self, x: str) -> str:
        return self.keyword_theme.get(x, x)

    def find(self, text: str) -> list[ThemeHit]:
        """Theme hits in normalised ``text``, sorted by position."""
        hits: list[ThemeHit] = []
        if self._kw is not None:       # leftmost, then longest keyword; no overlaps
            found = []
            for end_b, (length, theme) in self._kw.iter(utf16_units(text)):
                if end_b & 1:             # aligned on a character boundary
                    end = (end_b + 1) >> 1
                    found.append((end - length, end, theme))
            found.sort(key=lambda f: (f[0], f[0] - f[1]))
            last = 0
            for start, end, theme in found:
                if start >= last:
                    hits.append(ThemeHit(start, end, theme, text[start:end], "lexicon"))
                    last = end
        n_lex = len(hits)               # lexicon hits first, pattern hits after them
        for rx in self._quoted:
            for m in rx.finditer(text):
                x = m.group(1).strip()
                if x:
                    hits.append(ThemeHit(m.start(1), m.end(1), self._canonical(x), x, "pattern"))
        if self._marker_re is not None:
            covered = bytearray(len(text))
            for h in hits:
                covered[h.start:h.end] = b"\x01" * (h.end - h.start)
            for m in self._marker_re.finditer(text):
                end = m.start()
                run = self._run_re.search(text, max(0, end - self.max_unquoted), end)
                if run is None:
                    continue
                tail = self._tail_re.search(run.group())   # the part after the last stop char
                if tail is None:
                    continue
                cut = run.start() + tail.start()
                x = tail.group()
                if len(x) < 2 or covered.find(1, cut, end) >= 0:
                    continue
                hits.append(ThemeHit(cut, end, self._canonical(x), x, "pattern"))
        if n_lex < len(hits):   # a keyword inside a more specific pattern name belongs to it
            inside = bytearray(len(text))
            for p in hits[n_lex:]:
                inside[p.start:p.end] = b"\x01" * (p.end - p.start)
            hits = hits[n_lex:] + [h for h in hits[:n_lex] if inside.find(0, h.start, h.end) >= 0]
        hits.sort(key=lambda h: (h.start, h.end))
        return hits

    @staticmethod
    def primary(hits: list[ThemeHit], title_end: int) -> str:
        """Main theme: first theme in the title (``start < title_end``), else the most frequent."""
        for h in hits:
            if h.start < title_end:
                return h.theme
        if not hits:
            return ""
        counts = Counter(h.theme for h in hits)
        first = {}
        for h in hits:
            first.setdefault(h.theme, h.start)
        return min(counts, key=lambda t: (-counts[t], first[t]))


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
