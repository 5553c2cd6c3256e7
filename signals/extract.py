"""Per-article extraction: stock mentions with their theme, role and weight, plus unknown names.

:class:`Extractor` bundles the three rule sets (names, themes, roles) and turns one
:class:`~signals.articles.Article` into an :class:`ArticleSignals`. The text analysed is the
title, a line break, then the body, normalised once (:mod:`signals.normalize`); a mention in the
title has ``in_title = True``.

A mention's **theme** is the theme named in its own clause (the text between ，,:; or sentence
ends; a 、 list is one clause), the nearest hit, else the article's primary theme (:meth:`signals.themes.ThemeLexicon.primary`). Its **role** and
**weight** come from :class:`signals.roles.RoleRules`.
"""
from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

import numpy as np

from signals.articles import Article
from signals.extract_nb import KIND_MARKER, KIND_QUOTE, KIND_THEME, article_nb
from signals.mentions import MatchRules, NameMatcher, load_matching
from signals.normalize import normalize_text, original_span
from signals.roles import ROLE_CLAUSE_RE, STOP_FLAGS, RoleRules, load_roles, payload_arrays
from signals.roles_nb import COL_A, COL_B, COL_DECIDED, COL_THEME, COL_TITLE
from signals.text_nb import code_points
from signals.themes import ThemeLexicon, load_themes, primary_theme
from signals.trie_nb import Trie, utf16_units

# Bump when a change to the extraction code changes its output: stored mention indexes
# (backtests.data.news) are then rebuilt.
EXTRACT_VERSION = "extract-5"

THEME_CLAUSE_RE = ROLE_CLAUSE_RE           # the mention's clause: a 、 list stays one clause


class Mention(NamedTuple):
    code: str
    matched_text: str      # as written in the article
    kind: str              # name | former | alias | code
    in_title: bool
    theme: str
    role: str
    weight: float
    sentence: str          # normalised sentence, for display and debugging
    board_state: str = ""  # market-confirmed state at the last close before publication


_new = tuple.__new__
# mention_rows_nb's last columns, in the order extract_text and index_rows read them
assert (COL_DECIDED, COL_THEME, COL_A, COL_B, COL_TITLE) == (8, 9, 10, 11, 12)
_JSON_CACHE = 4096      # themes JSON remembered per (themes, primary), at most this many
_PASS = 64              # index_rows: articles a pass of Extractor._analyse goes over


class ArticleSignals(NamedTuple):
    article: Article
    mentions: tuple[Mention, ...]
    unknown: tuple[tuple[str, str], ...]     # (text as written, reason)
    themes: tuple[str, ...]                  # every theme named, in order of first appearance
    primary_theme: str


class Extractor:
    """Names + themes + roles, compiled once, applied to many articles."""

    def __init__(self, master, *, themes: ThemeLexicon | None = None,
                 roles: RoleRules | None = None, matching: MatchRules | None = None):
        self.matcher = NameMatcher(master, matching or load_matching())
        self.themes = themes or load_themes()
        self.roles = roles or load_roles()
        self._version: str | None = None
        self._themes_json: dict[tuple, str] = {}
        self._joint = _JointScan(self.themes, self.roles)

    @property
    def version(self) -> str:
        """The rules version: a hash of everything that decides what :meth:`extract` returns
        (the theme, role and matching rules as loaded, the name dictionary and
        :data:`EXTRACT_VERSION`). The mention index of :mod:`backtests.data.news` is keyed by it."""
        if self._version is None:
            h = hashlib.sha256(EXTRACT_VERSION.encode())
            parts = [sorted(self.matcher.keys.items()), sorted(self.matcher.ambiguous.items()),
                     sorted(self.matcher.display.items()), self.matcher.rules.fingerprint(),
                     self.themes.fingerprint(), self.roles.fingerprint()]
            for part in parts:
                h.update(repr(part).encode())
                h.update(b"\x00")
            self._version = h.hexdigest()[:16]
        return self._version

    def extract(self, article: Article) -> ArticleSignals:
        mentions, unk, themes, primary = self.extract_text(article.title, article.body)
        return ArticleSignals(article, mentions, unk, themes, primary)

    def extract_text(self, title: str, body: str):
        """``(mentions, unknown, themes, primary_theme)`` of one title and body (see
        :meth:`extract`)."""
        raw, text, index, code_kind, unknown, names, primary, out = \
            self._analyse([(title, body)])[0]
        mentions = []
        if code_kind:
            choice = self.roles.choices
            for (code, kind), (_s, _e, lo, hi, _ca, _cb, _pa, _pb, d, t, a, b, in_title) in zip(
                    code_kind, out.tolist()):
                role, weight = choice[d]
                # tuple.__new__: a NamedTuple's own __new__ is a Python function (its defaults)
                mentions.append(_new(Mention, (code, raw[a:b], kind, in_title == 1,
                                               names[t], role, weight, text[lo:hi].strip(), "")))
        return (tuple(mentions), tuple(self._unknown(raw, index, unknown)),
                tuple(dict.fromkeys(names[:-1])), primary)

    def index_rows(self, items) -> list[tuple]:
        """``(key, themes_json, mentions, unknown)`` per ``(key, title, body)`` item, the rows
        of the mention index (:func:`signals.parallel.article_rows`): :meth:`extract_text`'s
        answers without its :class:`Mention` tuples -- ``mentions`` as ``(code, matched_text,
        kind, in_title, theme, role, weight)`` tuples (``in_title`` 0 or 1), ``unknown`` as
        ``(text, reason)``, ``themes_json`` the JSON ``[themes, primary_theme]``."""
        choice = self.roles.choices
        role_of = [c[0] for c in choice]
        weight_of = [c[1] for c in choice]
        themes_json = self._themes_json
        rows = []
        for i in range(0, len(items), _PASS):
            part = items[i:i + _PASS]
            done = self._analyse([(title, body) for _key, title, body in part])
            for (key, _t, _b), (raw, _text, index, code_kind, unknown, names, primary, out) in \
                    zip(part, done):
                ms = [(code, raw[a:b], kind, in_title, names[t], role_of[d], weight_of[d])
                      for (code, kind), (d, t, a, b, in_title)
                      in zip(code_kind, out[:, COL_DECIDED:].tolist())]
                themes = (tuple(dict.fromkeys(names[:-1])), primary)
                js = themes_json.get(themes)
                if js is None:
                    if len(themes_json) >= _JSON_CACHE:
                        themes_json.clear()
                    js = themes_json[themes] = json.dumps([list(themes[0]), primary],
                                                          ensure_ascii=False)
                rows.append((key, js, ms, self._unknown(raw, index, unknown)))
        return rows

    def _analyse(self, pairs) -> list[tuple]:
        """``(raw, text, index, code_kind, unknown, themes, primary, rows)`` of each ``(title,
        body)``: the text as written (the title a line, then the body) and normalised, with
        ``index`` (see :func:`signals.normalize.normalize_text`), the name matcher's hits and
        unknown names, the theme of every theme hit in order of position with the primary
        theme appended (so that index -1 is the primary theme), and the hits' rows of
        :func:`signals.roles_nb.mention_rows_nb` (their roles settled: an index of
        :attr:`signals.roles.RoleRules.choices`).

        Three passes over ``pairs`` -- normalisation, the name matcher, the themes and roles
        kernel -- so that each pass's tables stay in the processor's caches from one article
        to the next (interleaved, each step evicts the others' tables)."""
        norm = []
        for title, body in pairs:
            head = ' '.join(title.splitlines())
            raw = f"{head}\n{body}"                           # title = first line
            text, index = normalize_text(raw, keep_break=len(head))
            title_end = text.find("\n")
            title_end = len(text) if title_end < 0 else title_end
            norm.append((raw, text, index, title_end, code_points(text), utf16_units(text)))
        found = []
        for _raw, text, _index, _title_end, units, units16 in norm:
            code_points.seed(text, units)           # remembered for the last text only
            utf16_units.seed(text, units16)
            found.append(self.matcher.find_spans(text))
        out = []
        ws = self.roles.workspace()
        for (raw, text, index, title_end, units, units16), (spans, code_kind, unknown) in zip(
                norm, found):
            at = spans.T.ravel() if code_kind else _NO_HITS     # the starts, then the ends
            # the theme nearest each mention in its clause (the theme clause is the role
            # clause: THEME_CLAUSE_RE is ROLE_CLAUSE_RE), else the primary theme
            names, first, rows = self._joint.run(text, units, units16, at, title_end, index, ws)
            primary = primary_theme(names, first, title_end)
            names.append(primary)
            out.append((raw, text, index, code_kind, unknown, names, primary, rows))
        return out

    @staticmethod
    def _unknown(raw: str, index, unknown) -> list[tuple[str, str]]:
        """``(text as written, reason)`` of each unknown name (``(start, end, reason)`` in the
        normalised text, :meth:`signals.mentions.NameMatcher.find_spans`)."""
        unk = []
        for start, end, reason in unknown:
            a, b = original_span(index, start, end)
            unk.append((raw[a:b], reason))
        return unk


_NO_HITS = np.zeros(0, dtype=np.int64)
_NO_THEMES = np.zeros((0, 4), dtype=np.int64)
_NO_QUOTED = np.zeros((0, 2), dtype=np.int64)
_NO_INDEX = np.zeros(0, dtype=np.int64)      # normalize_text moved no position
_NO_APPLIES = np.zeros((0, 0), dtype=np.bool_)


class _JointScan:
    """The theme keywords, the theme markers and the role literals in one trie, and
    :func:`signals.extract_nb.article_nb` over it: an article's theme hits and its mentions'
    spans, roles and nearest themes from one scan of its text."""

    def __init__(self, themes: ThemeLexicon, roles: RoleRules):
        self.themes, self.roles = themes, roles
        trie = Trie()
        kind: dict[int, int] = {}
        self.kw_theme: dict[int, str] = {}
        for key, theme in themes.keyword_theme.items():
            node = trie.add(key)
            kind[node] = kind.get(node, 0) | KIND_THEME
            self.kw_theme[node] = theme          # as ThemeLexicon's own trie: the last
        for marker in themes.markers:
            if marker:
                node = trie.add(marker)
                kind[node] = kind.get(node, 0) | KIND_MARKER
        # a text without a character the quoted patterns start with needs no regex: the kernel
        # says whether it has one (None: not known, the regexes run on every text)
        self._quotes = themes.quote_starts() if themes.scannable else None
        for c in self._quotes or ():
            node = trie.add(c)
            kind[node] = kind.get(node, 0) | KIND_QUOTE
        node_tables = payload_arrays(trie, roles.literals())
        node_kind = np.zeros(trie.n_nodes, dtype=np.uint8)
        for node, bits in kind.items():
            node_kind[node] = bits
        self._tables = (*trie.tables(), trie.max_len, node_kind, *node_tables, STOP_FLAGS,
                        *roles.kernel_tables())
        self._patterns = themes.pattern_tables()

    def run(self, text: str, units: np.ndarray, units16: np.ndarray, at: np.ndarray, hard: int,
            index, ws: np.ndarray) -> tuple:
        """``(themes, first, rows)``: the theme of each theme hit of normalised ``text``, in
        order of position, the start of the first (0 when there is none) and the mentions'
        rows (:func:`signals.roles_nb.mention_rows_nb`, every role settled). ``units``,
        ``units16``: the text's code points and UTF-16 units.
        ``at``: the mentions' starts then ends; ``hard``: the end of the title; ``index``:
        :func:`signals.normalize.normalize_text`'s; ``ws``: the role automata's work space of
        this thread (:meth:`signals.roles.RoleRules.workspace`)."""
        themes = self.themes
        # which rules apply to each mention: found by the kernel, or given (a rule's names that
        # do not translate, or a mention holding a character outside the BMP)
        ids, table, applies = _NO_HITS, _NO_APPLIES, not self.roles.applies_in_kernel
        if applies:
            ids, table = self._applies(text, at)
        given, names, quoted, qnames = _NO_THEMES, None, _NO_QUOTED, []
        if not themes.scannable:
            given, names = themes.scan(text)
        elif self._quotes is None:
            quoted, qnames = themes.quoted(text)
        index = _NO_INDEX if index is None else index
        first, rows, out, unsettled, quote = article_nb(
            units, units16, hard, at, ids, table, applies, *self._tables, ws, quoted,
            *self._patterns, given, names is not None, index)
        again = unsettled < 0
        if again:                   # a mention holds a character outside the BMP
            ids, table = self._applies(text, at)
            applies = True
        if quote and self._quotes is not None:          # the quoted patterns may match
            quoted, qnames = themes.quoted(text)
            again = again or bool(qnames)
        if again:
            first, rows, out, unsettled, quote = article_nb(
                units, units16, hard, at, ids, table, applies, *self._tables, ws, quoted,
                *self._patterns, given, names is not None, index)
        if names is None:
            names = themes.themes_of(text, rows, qnames, self.kw_theme)
        if unsettled:                                   # regexes to run
            utf16_units.seed(text, units16)             # the literal scan's text again
            decided = out[:, COL_DECIDED].tolist()
            self.roles.settle(text, out[:, :8], decided)
            out[:, COL_DECIDED] = decided
        return names, first, out

    def _applies(self, text: str, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`signals.roles.RoleRules.applies` of the mentions at ``at`` (starts, then
        ends)."""
        k = len(at) // 2
        return self.roles.applies([text[a:b] for a, b in zip(at[:k].tolist(), at[k:].tolist())])
