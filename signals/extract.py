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
import itertools
import json
from typing import NamedTuple

import numpy as np

from signals.articles import Article
from signals.extract_nb import KIND_MARKER, KIND_QUOTE, KIND_THEME, articles_nb
from signals.mentions import MatchRules, NameMatcher, load_matching
from signals.normalize import Normalised, normalize_all, original_span
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
_PASS = 64              # articles a pass of Extractor._analyse goes over


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
        return self.extract_all([article])[0]

    def extract_all(self, articles: list[Article]) -> list[ArticleSignals]:
        """:meth:`extract` of each of ``articles`` (in passes, as :meth:`index_rows`: the
        kernels' costs per call are shared by a pass)."""
        got = self.extract_texts([(a.title, a.body) for a in articles])
        return [ArticleSignals(a, *answers) for a, answers in zip(articles, got)]

    def extract_text(self, title: str, body: str):
        """``(mentions, unknown, themes, primary_theme)`` of one title and body (see
        :meth:`extract`)."""
        return self.extract_texts([(title, body)])[0]

    def extract_texts(self, pairs) -> list[tuple]:
        """:meth:`extract_text` of each ``(title, body)``, in passes."""
        choice = self.roles.choices
        out = []
        for (raw, text, index, code_kind, unknown, names, primary), rows in \
                self._in_passes(pairs, 0):
            mentions = []
            for (code, kind), (_s, _e, lo, hi, _ca, _cb, _pa, _pb, d, t, a, b, in_title) in zip(
                    code_kind, rows):
                role, weight = choice[d]
                # tuple.__new__: a NamedTuple's own __new__ is a Python function (its defaults)
                mentions.append(_new(Mention, (code, raw[a:b], kind, in_title == 1, names[t],
                                               role, weight, text[lo:hi].strip(), "")))
            out.append((tuple(mentions), tuple(self._unknown(raw, index, unknown)),
                        tuple(dict.fromkeys(names[:-1])), primary))
        return out

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
        unknown_of = self._unknown
        rows = []
        for (key, _t, _b), ((raw, _text, index, code_kind, unknown, names, primary), cols) in \
                zip(items, self._in_passes([(title, body) for _key, title, body in items],
                                           COL_DECIDED)):
            ms = [(code, raw[a:b], kind, in_title, names[t], role_of[d], weight_of[d])
                  for (code, kind), (d, t, a, b, in_title) in zip(code_kind, cols)]
            themes = (tuple(dict.fromkeys(names[:-1])), primary)
            js = themes_json.get(themes)
            if js is None:
                if len(themes_json) >= _JSON_CACHE:
                    themes_json.clear()
                js = themes_json[themes] = json.dumps([list(themes[0]), primary],
                                                      ensure_ascii=False)
            rows.append((key, js, ms, unknown_of(raw, index, unknown) if unknown else []))
        return rows

    def _in_passes(self, pairs, first_col: int):
        """Each ``(title, body)`` of ``pairs`` analysed, in passes of :data:`_PASS`
        (:meth:`_analyse`): per article its tuple and its mentions' rows from column
        ``first_col`` on, as lists (one ``tolist`` a pass)."""
        for i in range(0, len(pairs), _PASS):
            done = self._analyse(pairs[i:i + _PASS])
            rows = done.rows[:, first_col:].tolist()
            m = 0
            for article in done.articles:
                k = m + len(article[3])                 # its code_kind: one row a mention
                yield article, rows[m:k]
                m = k

    def _analyse(self, pairs) -> _Analysed:
        """Each ``(title, body)`` analysed (:class:`_Analysed`): the text as written (the title
        a line, then the body) and normalised, with ``index`` (see
        :func:`signals.normalize.normalize_text`), the name matcher's hits and unknown names,
        the theme of every theme hit in order of position with the primary theme appended (so
        that index -1 is the primary theme), and the hits' rows of
        :func:`signals.roles_nb.mention_rows_nb` (their roles settled: an index of
        :attr:`signals.roles.RoleRules.choices`), every article's end to end.

        Three passes over ``pairs`` -- normalisation, the name matcher, the themes and roles
        kernel -- so that each pass's tables stay in the processor's caches from one article
        to the next (interleaved, each step evicts the others' tables); the first and the last
        are one kernel call each for all the articles."""
        raws, keeps = [], []
        for title, body in pairs:
            head = ' '.join(title.splitlines())
            raws.append(f"{head}\n{body}")                   # title = first line
            keeps.append(len(head))
        norm = normalize_all(raws, keeps)
        texts, units, units16 = norm.texts, norm.units, norm.units16
        b = norm.bounds.tolist()
        found = []
        for a, text in enumerate(texts):
            code_points.seed(text, units[b[a]:b[a + 1]])   # remembered for the last text only
            utf16_units.seed(text, units16[b[a]:b[a + 1]])
            found.append(self.matcher.find_spans(text))
        spans = [f[0] for f in found]
        # the theme nearest each mention in its clause (the theme clause is the role clause:
        # THEME_CLAUSE_RE is ROLE_CLAUSE_RE), else the primary theme
        names, firsts, rows = self._joint.run(norm, spans, self.roles.workspace())
        articles = []
        for raw, text, index, (_s, code_kind, unknown), theirs, first, title_end in zip(
                raws, texts, norm.indexes, found, names, firsts, norm.title_ends):
            primary = primary_theme(theirs, first, title_end)
            theirs.append(primary)
            articles.append((raw, text, index, code_kind, unknown, theirs, primary))
        return _Analysed(articles, rows)

    @staticmethod
    def _unknown(raw: str, index, unknown) -> list[tuple[str, str]]:
        """``(text as written, reason)`` of each unknown name (``(start, end, reason)`` in the
        normalised text, :meth:`signals.mentions.NameMatcher.find_spans`)."""
        if index is None:
            return [(raw[start:end], reason) for start, end, reason in unknown]
        unk = []
        for start, end, reason in unknown:
            a, b = original_span(index, start, end)
            unk.append((raw[a:b], reason))
        return unk


class _Analysed(NamedTuple):
    """:meth:`Extractor._analyse`'s answer: per article ``(raw, text, index, code_kind,
    unknown, themes, primary)``, and the mentions' rows of every article end to end (article
    ``a``'s mentions are its ``len(code_kind)`` rows after the earlier articles')."""
    articles: list
    rows: np.ndarray


_NO_HITS = np.zeros(0, dtype=np.int64)
_NO_THEMES = np.zeros((0, 4), dtype=np.int64)
_NO_QUOTED = np.zeros((0, 2), dtype=np.int64)
_NO_SPANS = np.zeros((0, 2), dtype=np.int64)
_NO_APPLIES = np.zeros((0, 0), dtype=np.bool_)


class _JointScan:
    """The theme keywords, the theme markers and the role literals in one trie, and
    :func:`signals.extract_nb.articles_nb` over it: each article's theme hits and its mentions'
    spans, roles and nearest themes from one scan of its text, many articles a call."""

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

    def run(self, norm: Normalised, spans: list[np.ndarray],
            ws: np.ndarray) -> tuple[list[list[str]], list[int], np.ndarray]:
        """``(themes, first, rows)`` of the normalised texts ``norm``
        (:func:`signals.normalize.normalize_all`): per text, the theme of each theme hit, in
        order of position, and the start of the first (0 when there is none); and the
        mentions' rows of every text end to end (:func:`signals.roles_nb.mention_rows_nb`,
        every role settled; a title ends at its text's first line break). ``spans``: each text's
        mentions' ``(start, end)`` rows; ``ws``: the role automata's work space of this thread
        (:meth:`signals.roles.RoleRules.workspace`).

        One call of :func:`signals.extract_nb.articles_nb` for all the texts; a text whose
        quoted theme patterns may match, or with a mention holding a character outside the BMP,
        is run again alone (given the regexes' answers)."""
        themes, texts = self.themes, norm.texts
        n = len(texts)
        m_bounds = np.array([0, *itertools.accumulate(map(len, spans))], dtype=np.int64)
        hits = np.concatenate(spans) if n else _NO_SPANS
        # which rules apply to each mention: found by the kernel, or given (a rule's names that
        # do not translate)
        ids, table, applies = _NO_HITS, _NO_APPLIES, not self.roles.applies_in_kernel
        if applies:
            ids, table = self.roles.applies([t[s:e] for t, rows in zip(texts, spans)
                                        for s, e in rows.tolist()])
        # (bounds of an empty array: any; every slice of it is empty)
        given, g_bounds, names = _NO_THEMES, m_bounds, None
        if not themes.scannable:
            given, names = _joined([themes.scan(t) for t in texts], _NO_THEMES)
            g_bounds = _bounds([len(x) for x in names])
        quoted, q_bounds, qnames = _NO_QUOTED, m_bounds, [[]] * n
        if themes.scannable and self._quotes is None:
            quoted, qnames = _joined([themes.quoted(t) for t in texts], _NO_QUOTED)
            q_bounds = _bounds([len(x) for x in qnames])
        index = norm.index
        meta, trows, rows = articles_nb(
            norm.units, norm.units16, norm.bounds, hits, m_bounds, ids, table, applies,
            *self._tables, ws, quoted, q_bounds, *self._patterns, given, g_bounds,
            names is not None, index, norm.index_bounds)
        first, unsettled, quote, tb = meta.tolist()
        tl = trows.tolist()
        theme_rows = [tl[tb[a]:tb[a + 1]] for a in range(n)]
        # the texts to run again, alone: a mention holds a character outside the BMP, or the
        # quoted patterns may match (their regexes run now)
        redo = [a for a in range(n) if quote[a] or unsettled[a] < 0] if (
            1 in quote or min(unsettled, default=0) < 0) else ()
        settle = any(unsettled)
        if redo or settle:
            mb, ub, ib = m_bounds.tolist(), norm.bounds.tolist(), norm.index_bounds.tolist()
        for a in redo:
            text, m0, m1 = texts[a], mb[a], mb[a + 1]
            again = unsettled[a] < 0
            a_ids, a_table, a_applies = ids[m0:m1], table, applies
            if again:
                a_ids, a_table = self.roles.applies([text[s:e] for s, e in spans[a].tolist()])
                a_applies = True
            a_quoted = quoted[q_bounds[a]:q_bounds[a + 1]]
            if quote[a] and self._quotes is not None:
                a_quoted, qnames[a] = themes.quoted(text)
                again = again or bool(qnames[a])
            if not again:
                continue
            one_meta, one_themes, one_rows = articles_nb(
                norm.units[ub[a]:ub[a + 1]], norm.units16[ub[a]:ub[a + 1]],
                _bounds([ub[a + 1] - ub[a]]), hits[m0:m1], _bounds([m1 - m0]), a_ids,
                a_table, a_applies, *self._tables, ws, a_quoted, _bounds([len(a_quoted)]),
                *self._patterns, given[g_bounds[a]:g_bounds[a + 1]],
                _bounds([g_bounds[a + 1] - g_bounds[a]]), names is not None,
                index[ib[a]:ib[a + 1]], _bounds([ib[a + 1] - ib[a]]))
            first[a], unsettled[a] = int(one_meta[0, 0]), int(one_meta[1, 0])
            theme_rows[a] = one_themes.tolist()
            rows[m0:m1] = one_rows
        if names is None:
            kw_theme = self.kw_theme
            names = [themes.themes_of(t, r, q, kw_theme)
                     for t, r, q in zip(texts, theme_rows, qnames)]
        for a, unset in enumerate(unsettled if settle else ()):
            if unset:                                   # regexes to run
                text, out = texts[a], rows[mb[a]:mb[a + 1]]
                utf16_units.seed(text, norm.units16[ub[a]:ub[a + 1]])   # the scan's text again
                decided = out[:, COL_DECIDED].tolist()
                self.roles.settle(text, out[:, :8], decided)
                out[:, COL_DECIDED] = decided
        return names, first, rows


def _bounds(lengths) -> np.ndarray:
    """Where each of parts of ``lengths`` starts, end to end, and the end."""
    return np.fromiter(itertools.accumulate(lengths, initial=0), dtype=np.int64)


def _joined(parts: list[tuple[np.ndarray, list]], empty: np.ndarray) -> tuple[np.ndarray, list]:
    """The arrays of ``(array, list)`` pairs end to end, and the lists."""
    arrays = [p[0] for p in parts if len(p[0])]
    return (np.concatenate(arrays) if arrays else empty), [p[1] for p in parts]
