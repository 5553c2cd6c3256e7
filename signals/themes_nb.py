"""Numba kernel of the theme rules (:class:`signals.themes.ThemeLexicon`): the lexicon scan, the
unquoted ``X概念`` patterns and how hits of both kinds give way to each other, in one call."""
from __future__ import annotations

import numpy as np
from numba import njit

from signals.text_nb import any_set_nb, unquoted_nb
from signals.trie_nb import scan_leftmost_nb, stable_order_nb

# Kinds of the rows of theme_hits_nb: a lexicon keyword, a quoted pattern (the regexes run in
# Python), an unquoted pattern.
HIT_LEXICON, HIT_QUOTED, HIT_UNQUOTED = 0, 1, 2


@njit(cache=True)
def theme_hits_nb(units, units16, kw_first, kw_keys, kw_children, kw_terminal, kw_max_len,
                  mk_first, mk_keys, mk_children, mk_terminal, mk_max_len, quoted, has_markers,
                  max_unquoted, stop, any_stop):
    """``[T, 4]`` int64 rows ``(start, end, kind, value)`` of the theme hits (:func:`theme_rows_nb`)
    of the text whose code points are ``units`` and UTF-16 units ``units16``: the ``kw_*``
    tables are the keyword trie's (:meth:`signals.trie_nb.Trie.tables`), ``mk_*`` the
    markers' (``has_markers`` False: no unquoted patterns)."""
    lex = scan_leftmost_nb(units16, kw_first, kw_keys, kw_children, kw_terminal, kw_max_len)
    markers = np.empty(0, dtype=np.int64)
    if has_markers:
        markers = scan_leftmost_nb(units16, mk_first, mk_keys, mk_children, mk_terminal,
                                   mk_max_len)[:, 0].copy()
    return theme_rows_nb(units, lex, quoted, has_markers, markers, max_unquoted, stop, any_stop)


@njit(cache=True)
def theme_rows_nb(units, lex, quoted, has_markers, markers, max_unquoted, stop, any_stop):
    """``[T, 4]`` int64 rows ``(start, end, kind, value)`` of the theme hits, sorted by start,
    then end (a stable sort of: the quoted hits, the unquoted ones, then the lexicon ones, as
    :meth:`signals.themes.ThemeLexicon.find` lists them before sorting). ``value``: the
    keyword's trie node (:data:`HIT_LEXICON`), the row of ``quoted`` (:data:`HIT_QUOTED`), the
    end of the name (:data:`HIT_UNQUOTED`: the name is ``[start, value)``, ``end`` is the
    marker's start).

    ``units``: the text's code points; ``lex``: the keywords found, leftmost then longest
    (``(start, end, node)`` rows); ``quoted``: ``[Q, 2]`` spans of the quoted patterns' names;
    ``markers``: the starts of the markers found, leftmost then longest (``has_markers`` False:
    no unquoted patterns). An unquoted name is the run before a marker
    (:func:`signals.text_nb.unquoted_nb`), kept when at least 2 long and not overlapping a
    lexicon or quoted hit; a lexicon hit wholly inside a pattern hit is dropped."""
    n = units.shape[0]
    n_q = quoted.shape[0]
    pat = np.empty((0, 3), dtype=np.int64)
    if has_markers and markers.shape[0]:
        covered = np.zeros(n + 1, dtype=np.uint8)
        for i in range(lex.shape[0]):
            covered[lex[i, 0]:lex[i, 1]] = 1
        for i in range(n_q):
            covered[quoted[i, 0]:quoted[i, 1]] = 1
        spans = unquoted_nb(units, markers, max_unquoted, stop, any_stop)
        pat = np.empty((markers.shape[0], 3), dtype=np.int64)
        k = 0
        for i in range(markers.shape[0]):
            cut, stop_at, end = spans[i, 0], spans[i, 1], markers[i]
            if cut < 0 or stop_at - cut < 2:
                continue
            if not any_set_nb(covered, cut, end):
                pat[k, 0] = cut
                pat[k, 1] = end
                pat[k, 2] = stop_at
                k += 1
        pat = pat[:k]
    n_p = n_q + pat.shape[0]
    keep = np.ones(lex.shape[0], dtype=np.bool_)
    if n_p:                     # a keyword inside a pattern name belongs to it
        inside = np.zeros(n + 1, dtype=np.uint8)
        for i in range(n_q):
            inside[quoted[i, 0]:quoted[i, 1]] = 1
        for i in range(pat.shape[0]):
            inside[pat[i, 0]:pat[i, 1]] = 1
        for i in range(lex.shape[0]):
            out_of = False
            for j in range(lex[i, 0], lex[i, 1]):
                if not inside[j]:
                    out_of = True
                    break
            keep[i] = out_of
    m = n_p + int(keep.sum())
    rows = np.empty((m, 4), dtype=np.int64)
    k = 0
    for i in range(n_q):
        rows[k, 0] = quoted[i, 0]
        rows[k, 1] = quoted[i, 1]
        rows[k, 2] = HIT_QUOTED
        rows[k, 3] = i
        k += 1
    for i in range(pat.shape[0]):
        rows[k, 0] = pat[i, 0]
        rows[k, 1] = pat[i, 1]
        rows[k, 2] = HIT_UNQUOTED
        rows[k, 3] = pat[i, 2]
        k += 1
    for i in range(lex.shape[0]):
        if keep[i]:
            rows[k, 0] = lex[i, 0]
            rows[k, 1] = lex[i, 1]
            rows[k, 2] = HIT_LEXICON
            rows[k, 3] = lex[i, 2]
            k += 1
    key = np.empty(m, dtype=np.int64)
    for i in range(m):
        key[i] = rows[i, 0] * (n + 2) + rows[i, 1]
    return rows[stable_order_nb(key)]
