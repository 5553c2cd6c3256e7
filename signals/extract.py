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

import functools
import hashlib
import json
import threading
from typing import NamedTuple

import numpy as np
import orjson

from signals.articles import Article
from signals.extract_nb import KIND_MARKER, KIND_QUOTE, KIND_THEME, articles_nb
from signals.index_nb import index_part_nb, unknown_json_nb
from signals.mentions import REASONS, Found, MatchRules, NameMatcher, load_matching
from signals.normalize import Normalised, bounds_of, normalize_all, original_span
from signals.roles import ROLE_CLAUSE_RE, STOP_FLAGS, RoleRules, load_roles, payload_arrays
from signals.roles_nb import COL_A, COL_B, COL_DECIDED, COL_THEME, COL_TITLE
from signals.themes import ThemeLexicon, load_themes, primary_theme
from signals.themes_nb import HIT_LEXICON
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
_PASS = 256             # articles a pass of Extractor._analyse goes over (its calls' costs shared)


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
        self._index_tables: IndexTables | None = None
        # index_part: per article's theme names (the primary last), their term ids, its
        # themes' term ids and its themes JSON (few distinct)
        self._names_terms: dict[tuple, tuple] = {}

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
        kinds = self.matcher.code_kinds
        for (raw, text, index, ids, unknown, names, primary), rows in \
                self._in_passes(pairs, 0):
            mentions = []
            for (code, kind), (_s, _e, lo, hi, _ca, _cb, _pa, _pb, d, t, a, b, in_title) in zip(
                    map(kinds.__getitem__, ids), rows):
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
        unknown_of = self._unknown
        kinds = self.matcher.code_kinds
        rows = []
        for (key, _t, _b), ((raw, _text, index, ids, unknown, names, primary), cols) in \
                zip(items, self._in_passes([(title, body) for _key, title, body in items],
                                           COL_DECIDED)):
            ms = [(code, raw[a:b], kind, in_title, names[t], role_of[d], weight_of[d])
                  for (code, kind), (d, t, a, b, in_title) in zip(map(kinds.__getitem__, ids),
                                                                    cols)]
            rows.append((key, self._themes_text(tuple(dict.fromkeys(names[:-1])), primary), ms,
                         unknown_of(raw, index, unknown) if unknown else []))
        return rows

    def index_part(self, pairs) -> IndexPart:
        """The mention index of each ``(title, body)`` of ``pairs``, column-wise
        (:class:`IndexPart`): what :meth:`index_rows` gives, with the mentions' terms given
        part-local ids in order of first use and each article's mentions as their JSON text
        (``orjson.dumps`` of its ``mentions`` rows), made by
        :func:`signals.index_nb.index_part_nb` without a Python object a mention."""
        tabs = self._index_tables
        if tabs is None:
            tabs = self._index_tables = IndexTables(self.roles.choices, self.matcher.code_kinds)
        local = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64),
                 np.zeros(1, dtype=np.int64))            # (made room for by _grown)
        dumps, known = orjson.dumps, self._names_terms
        tj, mj, uj, m_counts, t_counts, cols = [], [], [], [], [], []
        for i in range(0, len(pairs), _PASS):
            done = self._analyse(pairs[i:i + _PASS])
            found, norm, n = done.found, done.norm, len(done.names)
            names_ext, names_at, art_themes, tc = [], [0], [], [0]
            for names, primary in zip(done.names, done.primaries):
                got = known.get(key := tuple(names))
                if got is None:
                    if len(known) >= _JSON_CACHE:
                        known.clear()
                    themes = tuple(dict.fromkeys(names[:-1]))
                    got = known[key] = (tabs.ids(names), tabs.ids(themes),
                                        self._themes_text(themes, primary))
                names_ext += got[0]
                names_at.append(len(names_ext))
                art_themes += got[1]
                tc.append(tc[-1] + len(got[1]))
                tj.append(got[2])
            rows, m_at = done.rows, found.hit_bounds
            names_at = np.array(names_at, dtype=np.int64)
            # each mention's theme: row COL_THEME of its article's names (-1: the last)
            art = np.repeat(np.arange(n), np.diff(m_at))
            t = rows[:, COL_THEME]
            theme = np.array(names_ext, dtype=np.int64)[
                np.where(t < 0, names_at[1:][art], names_at[:-1][art]) + t]
            ck = tabs.kind_ids(found.ids)
            arrays = tabs.arrays()          # (after the last value added: every id is in them)
            local = _grown(local, len(arrays[6]))        # room for every term id
            choice, a, b, title = (rows[:, c] for c in (COL_DECIDED, COL_A, COL_B, COL_TITLE))
            code, role, theme_l, theme_ids, out, json_at, ok = index_part_nb(
                norm.raw, norm.raw_bounds, m_at, ck, choice, theme, a, b, title,
                np.array(art_themes, dtype=np.int64), np.array(tc, dtype=np.int64), *arrays,
                *local)
            got = _pieces(out, json_at)
            for j in np.flatnonzero(~ok).tolist():   # orjson's own answer (it raises)
                got[j] = dumps(self.index_rows([(j, *pairs[i + j])])[0][2])
            mj += got
            out, json_at, ok = unknown_json_nb(norm.raw, norm.raw_bounds, norm.index,
                                               norm.index_bounds, found.unknown,
                                               found.unknown_bounds, *tabs.reason_tails)
            got = _pieces(out, json_at)
            for j in np.flatnonzero(~ok).tolist():
                got[j] = dumps(self._unknown(done.raws[j], norm.indexes[j],
                                             found.unknown_of(j)))
            uj += got
            m_counts += np.diff(m_at).tolist()
            t_counts += np.diff(tc).tolist()
            cols.append((code, role, theme_l, title, tabs.weights[choice], theme_ids))
        columns = [_cat([c[f] for c in cols], dt) for f, dt in enumerate(
            (np.int32, np.int32, np.int32, np.uint8, np.float64, np.int64))]
        order = local[1][:int(local[2][0])].tolist()
        return IndexPart(tj, mj, uj, [tabs.texts[e] for e in order], *columns[:5],
                         np.array(m_counts, dtype=np.int64), columns[5],
                         np.array(t_counts, dtype=np.int64))

    def _themes_text(self, themes: tuple, primary: str) -> str:
        """The JSON ``[themes, primary]`` of an article's themes (remembered: few distinct)."""
        themes_json = self._themes_json
        js = themes_json.get((themes, primary))
        if js is None:
            if len(themes_json) >= _JSON_CACHE:
                themes_json.clear()
            js = themes_json[themes, primary] = json.dumps([list(themes), primary],
                                                           ensure_ascii=False)
        return js

    def _in_passes(self, pairs, first_col: int):
        """Each ``(title, body)`` of ``pairs`` analysed, in passes of :data:`_PASS`
        (:meth:`_analyse`): per article its tuple and its mentions' rows from column
        ``first_col`` on, as lists (one ``tolist`` a pass)."""
        for i in range(0, len(pairs), _PASS):
            done = self._analyse(pairs[i:i + _PASS])
            rows = done.rows[:, first_col:].tolist()
            m = done.found.hit_bounds.tolist()          # one row a mention
            for a, article in enumerate(done.articles()):
                yield article, rows[m[a]:m[a + 1]]

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
        to the next (interleaved, each step evicts the others' tables); each is one kernel call
        for all the articles (:meth:`signals.mentions.NameMatcher.find_all` for the matcher)."""
        raws, keeps = [], []
        for title, body in pairs:
            head = ' '.join(title.splitlines())
            raws.append(f"{head}\n{body}")                   # title = first line
            keeps.append(len(head))
        norm = normalize_all(raws, keeps)
        found = self.matcher.find_all(norm.texts, norm.units, norm.bounds)
        # the theme nearest each mention in its clause (the theme clause is the role clause:
        # THEME_CLAUSE_RE is ROLE_CLAUSE_RE), else the primary theme
        names, firsts, rows = self._joint.run(norm, found.at, found.hit_bounds,
                                              self.roles.workspace())
        primaries = []
        for theirs, first, title_end in zip(names, firsts, norm.title_ends):
            primary = primary_theme(theirs, first, title_end)
            theirs.append(primary)
            primaries.append(primary)
        return _Analysed(raws, norm, found, names, primaries, rows)

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
    """:meth:`Extractor._analyse`'s answer: the texts as written (``raws``: the title a line,
    then the body) and normalised (``norm``), the name matcher's hits and unknown candidates
    (``found``), per article the theme of each theme hit with its primary theme appended
    (``names``) and that primary theme, and the mentions' rows of every article end to end
    (article ``a``'s at ``found.hit_bounds[a]:found.hit_bounds[a + 1]``: one a hit)."""
    raws: list
    norm: Normalised
    found: Found
    names: list
    primaries: list
    rows: np.ndarray

    def articles(self):
        """Per article ``(raw, text, index, ids, unknown, themes, primary)``: ``ids`` its hits'
        (code, kind) ids (:meth:`signals.mentions.NameMatcher.find_ids`), ``unknown`` its
        unknown candidates' ``(start, end, reason)``."""
        found, norm = self.found, self.norm
        ids, hb = found.ids.tolist(), found.hit_bounds.tolist()
        for a, (raw, text, index, names, primary) in enumerate(zip(
                self.raws, norm.texts, norm.indexes, self.names, self.primaries)):
            yield (raw, text, index, ids[hb[a]:hb[a + 1]], found.unknown_of(a), names,
                   primary)


_NO_HITS = np.zeros(0, dtype=np.int64)
_NO_THEMES = np.zeros((0, 4), dtype=np.int64)
_NO_QUOTED = np.zeros((0, 2), dtype=np.int64)
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

    def run(self, norm: Normalised, hits: np.ndarray, m_bounds: np.ndarray,
            ws: np.ndarray) -> tuple[list[list[str]], list[int], np.ndarray]:
        """``(themes, first, rows)`` of the normalised texts ``norm``
        (:func:`signals.normalize.normalize_all`): per text, the theme of each theme hit, in
        order of position, and the start of the first (0 when there is none); and the
        mentions' rows of every text end to end (:func:`signals.roles_nb.mention_rows_nb`,
        every role settled; a title ends at its text's first line break). ``hits``: the
        mentions' ``(start, end)`` rows, text ``a``'s at ``m_bounds[a]:m_bounds[a + 1]``;
        ``ws``: the role automata's work space of this thread
        (:meth:`signals.roles.RoleRules.workspace`).

        One call of :func:`signals.extract_nb.articles_nb` for all the texts; a text whose
        quoted theme patterns may match, or with a mention holding a character outside the BMP,
        is run again alone (given the regexes' answers)."""
        themes, texts = self.themes, norm.texts
        n = len(texts)
        # which rules apply to each mention: found by the kernel, or given (a rule's names that
        # do not translate)
        ids, table, applies = _NO_HITS, _NO_APPLIES, not self.roles.applies_in_kernel
        if applies:
            mb = m_bounds.tolist()
            ids, table = self.roles.applies([texts[a][s:e] for a in range(n)
                                             for s, e in hits[mb[a]:mb[a + 1]].tolist()])
        # (bounds of an empty array: any; every slice of it is empty)
        given, g_bounds, names = _NO_THEMES, m_bounds, None
        if not themes.scannable:
            given, names = _joined([themes.scan(t) for t in texts], _NO_THEMES)
            g_bounds = bounds_of([len(x) for x in names])
        quoted, q_bounds, qnames = _NO_QUOTED, m_bounds, [[]] * n
        if themes.scannable and self._quotes is None:
            quoted, qnames = _joined([themes.quoted(t) for t in texts], _NO_QUOTED)
            q_bounds = bounds_of([len(x) for x in qnames])
        index = norm.index
        meta, trows, rows = articles_nb(
            norm.units, norm.units16, norm.bounds, hits, m_bounds, ids, table, applies,
            *self._tables, ws, quoted, q_bounds, *self._patterns, given, g_bounds,
            names is not None, index, norm.index_bounds)
        first, unsettled, quote, tb = meta.tolist()
        # the texts to run again, alone: a mention holds a character outside the BMP, or the
        # quoted patterns may match (their regexes run now)
        redo = [a for a in range(n) if quote[a] or unsettled[a] < 0] if (
            1 in quote or min(unsettled, default=0) < 0) else ()
        theme_rows = None               # (not needed when every theme hit is a keyword's)
        if redo or names is None and not (trows[:, 2] == HIT_LEXICON).all():
            tl = trows.tolist()
            theme_rows = [tl[tb[a]:tb[a + 1]] for a in range(n)]
        settle = any(unsettled)
        if redo or settle:
            mb, ub, ib = m_bounds.tolist(), norm.bounds.tolist(), norm.index_bounds.tolist()
        for a in redo:
            text, m0, m1 = texts[a], mb[a], mb[a + 1]
            again = unsettled[a] < 0
            a_ids, a_table, a_applies = ids[m0:m1], table, applies
            if again:
                a_ids, a_table = self.roles.applies([text[s:e] for s, e in hits[m0:m1].tolist()])
                a_applies = True
            a_quoted = quoted[q_bounds[a]:q_bounds[a + 1]]
            if quote[a] and self._quotes is not None:
                a_quoted, qnames[a] = themes.quoted(text)
                again = again or bool(qnames[a])
            if not again:
                continue
            one_meta, one_themes, one_rows = articles_nb(
                norm.units[ub[a]:ub[a + 1]], norm.units16[ub[a]:ub[a + 1]],
                bounds_of([ub[a + 1] - ub[a]]), hits[m0:m1], bounds_of([m1 - m0]), a_ids,
                a_table, a_applies, *self._tables, ws, a_quoted, bounds_of([len(a_quoted)]),
                *self._patterns, given[g_bounds[a]:g_bounds[a + 1]],
                bounds_of([g_bounds[a + 1] - g_bounds[a]]), names is not None,
                index[ib[a]:ib[a + 1]], bounds_of([ib[a + 1] - ib[a]]))
            first[a], unsettled[a] = int(one_meta[0, 0]), int(one_meta[1, 0])
            theme_rows[a] = one_themes.tolist()
            rows[m0:m1] = one_rows
        if names is None and theme_rows is None:       # every theme a keyword's: by its node
            theirs = list(map(self.kw_theme.__getitem__, trows[:, 3].tolist()))
            names = [theirs[tb[a]:tb[a + 1]] for a in range(n)]
        elif names is None:
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


def _grown(local: tuple, n: int) -> tuple:
    """:meth:`Extractor.index_part`'s part-local ids (``local_of``, ``order``, ``n_local``)
    made room for term ids below ``n``."""
    local_of, order, n_local = local
    if n <= len(local_of):
        return local
    grown = np.full(n + 1024, -1, dtype=np.int32)
    grown[:len(local_of)] = local_of
    more = np.empty(len(grown), dtype=np.int64)
    more[:len(order)] = order
    return grown, more, n_local


def _cat(arrays: list[np.ndarray], dtype) -> np.ndarray:
    """``arrays`` end to end, as ``dtype``."""
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


class IndexPart(NamedTuple):
    """:meth:`Extractor.index_part`'s answer, per article: its themes JSON (``[themes,
    primary]``), its mentions' JSON (``[[code, matched_text, kind, in_title, theme, role,
    weight], ...]``) and its unknown names' JSON (``[[text, reason], ...]``), these two as
    ``orjson.dumps`` gives them (UTF-8 bytes: the archive stores them as text unchanged);
    ``terms``: the part's terms (codes, roles, themes) in order of first use (each mention's
    code, role and theme, then its article's themes), whose positions are the ids of ``code``,
    ``role``, ``theme`` (-1: none), the mentions' columns end to end with ``title`` (0 or 1)
    and ``weight``; ``m_counts``: mentions an article; ``theme_ids``, ``t_counts``: the
    articles' themes end to end, and how many an article."""
    themes_json: list
    mentions_json: list
    unknown_json: list
    terms: list
    code: np.ndarray
    role: np.ndarray
    theme: np.ndarray
    title: np.ndarray
    weight: np.ndarray
    m_counts: np.ndarray
    theme_ids: np.ndarray
    t_counts: np.ndarray


class IndexTables:
    """The JSON fragments and term ids of :func:`signals.index_nb.index_part_nb`, one set an
    extractor, grown as new values come (codes and kinds as found, themes as named): the texts
    by term id (the empty theme has one, not a term), per (code, kind) id of its own -- given to
    the name matcher's ids (``code_kinds``, :meth:`signals.mentions.NameMatcher.find_ids`) as
    they come -- the code's term id and the fragments before and after the matched text, per
    role choice the role's term id and the fragment after the theme; :meth:`arrays` gives them
    as the kernel's arrays (one snapshot: ids given before it are in it). Values are added under
    a lock (an extractor may be shared by threads); reading needs none."""

    def __init__(self, choices: list[tuple[str, float]], code_kinds: list):
        self.choices, self.code_kinds = list(choices), code_kinds
        self._lock = threading.Lock()
        self.texts: list[str] = []
        self._ext: dict[str, int] = {}
        self._ck_of = np.full(len(code_kinds), -1, dtype=np.int64)
        self._frags: list[bytes] = []
        self._ext_frag: list[int] = []
        self._ck_code: list[int] = []
        self._ck_head: list[int] = []
        self._ck_mid: list[int] = []
        self._heads: dict[str, int] = {}         # the fragment of a code, of a kind
        self._mids: dict[str, int] = {}
        self.weights = np.array([w for _r, w in self.choices], dtype=np.float64)
        self._role = [self._id(r) for r, _w in self.choices]
        self._tail = [self._frag(b"," + orjson.dumps(r) + b"," + orjson.dumps(w) + b"]")
                      for r, w in self.choices]
        self._arrays: tuple = ((), ())
        # per reason id (signals.mentions.REASONS): '",' + its JSON string + ']' (an unknown
        # candidate's JSON after its text)
        tails = [b'",' + orjson.dumps(r) + b"]" for r in REASONS]
        self.reason_tails = (np.frombuffer(b"".join(tails), dtype=np.uint8),
                             bounds_of(map(len, tails)))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}   # (Dask pickles it)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def _frag(self, data: bytes) -> int:
        self._frags.append(data)
        return len(self._frags) - 1

    def _id(self, text: str) -> int:
        got = self._ext.get(text)
        if got is None:
            got = self._ext[text] = len(self.texts)
            self.texts.append(text)
            self._ext_frag.append(self._frag(orjson.dumps(text)))
        return got

    def ids(self, texts) -> list[int]:
        """The term ids of ``texts``."""
        try:
            return list(map(self._ext.__getitem__, texts))
        except KeyError:
            with self._lock:
                return [self._id(t) for t in texts]

    def kind_ids(self, ids: list[int]) -> np.ndarray:
        """The (code, kind) ids of the name matcher's ids ``ids`` (int64)."""
        ids = np.array(ids, dtype=np.int64)
        ck_of = self._ck_of
        if len(ids) and (int(ids.max()) >= len(ck_of) or (ck_of[ids] < 0).any()):
            with self._lock:
                ck_of = self._ck_of
                if len(ck_of) < len(self.code_kinds):           # the matcher added ids
                    ck_of = self._ck_of = np.concatenate([ck_of, np.full(
                        len(self.code_kinds) - len(ck_of), -1, dtype=np.int64)])
                heads, mids = self._heads, self._mids
                for i in np.unique(ids[ck_of[ids] < 0]).tolist():
                    code, kind = self.code_kinds[i]
                    if code not in heads:
                        heads[code] = self._frag(b"[" + orjson.dumps(code) + b',"')
                    if kind not in mids:
                        mids[kind] = self._frag(b'",' + orjson.dumps(kind) + b",")
                    self._ck_code.append(self._id(code))
                    self._ck_head.append(heads[code])
                    self._ck_mid.append(mids[kind])
                    ck_of[i] = len(self._ck_mid) - 1
        return ck_of[ids]

    def arrays(self) -> tuple:
        """``(ck_code, ck_head, ck_mid, choice_role, choice_tail, ext_frag, is_term, frags,
        frag_at)`` of :func:`signals.index_nb.index_part_nb`, extended by what the lists gained
        since (each by as much of its list as was there when the sizes were read: a thread
        adding values meanwhile finds the sizes changed and extends them again), so a pass
        that adds a few codes copies the arrays once, not remakes them from the lists."""
        lists = (self._ck_code, self._ck_head, self._ck_mid, self._ext_frag, self.texts,
                 self._frags)
        sizes = tuple(map(len, lists))
        have, arrays = self._arrays
        if have == sizes:
            return arrays
        ints = functools.partial(np.array, dtype=np.int64)
        if not have:
            none = np.zeros(0, dtype=np.int64)
            have = (0,) * len(sizes)
            arrays = (none, none, none, ints(self._role), ints(self._tail), none,
                      np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.uint8),
                      np.zeros(1, dtype=np.int64))
        ck_code, ck_head, ck_mid, role, tail, ext_frag, is_term, frags, frag_at = arrays
        new = [lst[h:k] for lst, h, k in zip(lists, have, sizes)]
        cat = np.concatenate
        arrays = (cat([ck_code, ints(new[0])]), cat([ck_head, ints(new[1])]),
                  cat([ck_mid, ints(new[2])]), role, tail, cat([ext_frag, ints(new[3])]),
                  cat([is_term, np.array([bool(t) for t in new[4]], dtype=np.bool_)]),
                  cat([frags, np.frombuffer(b"".join(new[5]), dtype=np.uint8)]),
                  cat([frag_at, frag_at[-1] + np.cumsum([len(f) for f in new[5]],
                                                         dtype=np.int64)]))
        self._arrays = (sizes, arrays)
        return arrays


def _pieces(data: np.ndarray, at: np.ndarray) -> list[bytes]:
    """The bytes ``data[at[j]:at[j + 1]]`` of each ``j``."""
    data, at = data.tobytes(), at.tolist()
    return [data[at[j]:at[j + 1]] for j in range(len(at) - 1)]


def _joined(parts: list[tuple[np.ndarray, list]], empty: np.ndarray) -> tuple[np.ndarray, list]:
    """The arrays of ``(array, list)`` pairs end to end, and the lists."""
    arrays = [p[0] for p in parts if len(p[0])]
    return (np.concatenate(arrays) if arrays else empty), [p[1] for p in parts]
