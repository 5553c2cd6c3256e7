"""Numba kernel of one article after the name matcher (:class:`signals.extract.Extractor`): one
dictionary scan of the normalised text for the theme keywords, the theme markers and the role
rules' literals together, then the theme hits (:func:`signals.themes_nb.theme_rows_nb`) and
every mention's spans, role and nearest theme (:func:`signals.roles_nb.mention_rows_nb`).

One scan instead of three: the trie holds the keys of all three, and a node's ``kind`` bits
say whose key ends there (:data:`KIND_THEME`, :data:`KIND_MARKER`, :data:`KIND_QUOTE`; the role
literals are the nodes with rules in ``node_ptr``). The rows of one kind are exactly what a
scan of that kind's own trie finds (every occurrence of every key, by start then end).
:func:`articles_nb` runs :func:`article_nb` over many articles in one call, their arrays end to
end."""
from __future__ import annotations

import numpy as np
from numba import njit

from signals.roles_nb import mention_rows_nb
from signals.themes_nb import theme_rows_nb
from signals.trie_nb import scan_all_nb

KIND_THEME, KIND_MARKER, KIND_QUOTE = 1, 2, 4


@njit(cache=True)
def leftmost_of_nb(occ, node_kind, bit):
    """The rows of ``occ`` (by start, then end) whose node has ``bit``, taken leftmost first,
    the longest at a start, none overlapping one taken before (what
    :func:`signals.text_nb.leftmost_longest_nb` takes of those rows), in one pass."""
    out = np.empty((occ.shape[0], 3), dtype=np.int64)
    k = 0
    last = 0
    best = -1                       # the longest row of the current start so far
    for i in range(occ.shape[0]):
        if not node_kind[occ[i, 2]] & bit:
            continue
        if best >= 0 and occ[i, 0] != occ[best, 0]:
            if occ[best, 0] >= last:
                out[k] = occ[best]
                k += 1
                last = occ[best, 1]
        best = i
    if best >= 0 and occ[best, 0] >= last:
        out[k] = occ[best]
        k += 1
    return out[:k]


@njit(cache=True)
def article_nb(units, units16, hard, at, applies_id, applies_rows, applies_given, first, edges,
               terminal, bits, max_len, node_kind, node_ptr, node_rule, node_bits, lut, scope,
               always, prog, names_prog, code, cmap, ctab, ws, quoted, has_markers, max_unquoted,
               stop, any_stop, given, themes_given, index):
    """``(first, themes, rows, unsettled, quote)`` of an article: the start of the first theme
    hit (0 when there is none), the theme hits' rows
    (:func:`signals.themes_nb.theme_rows_nb`; ``given`` when ``themes_given``) and the
    mentions' (:func:`signals.roles_nb.mention_rows_nb`). ``units``/``units16``: the
    normalised text's code points and UTF-16 units; the trie tables and ``node_kind`` are the
    joint trie's (scanned over ``units16``); the rest as the two kernels take them. ``quote``:
    whether a key of :data:`KIND_QUOTE` (a character a quoted theme pattern starts with) is in
    the text (the quoted patterns' regexes, run before, gave ``quoted``; run after, they are
    run only when this says they can match)."""
    occ = scan_all_nb(units16, first, edges, terminal, bits, max_len)
    if themes_given:
        themes = given
    else:
        lex = leftmost_of_nb(occ, node_kind, KIND_THEME)
        markers = leftmost_of_nb(occ, node_kind, KIND_MARKER)[:, 0].copy()
        themes = theme_rows_nb(units, lex, quoted, has_markers, markers, max_unquoted, stop,
                               any_stop)
    rows, unsettled = mention_rows_nb(lut, units, hard, at, applies_id, applies_rows,
                                      applies_given, occ, node_ptr, node_rule, node_bits, scope,
                                      always, prog, names_prog, code, cmap, ctab, ws, themes,
                                      index)
    first = themes[0, 0] if themes.shape[0] else 0
    quote = False
    for i in range(occ.shape[0]):
        if node_kind[occ[i, 2]] & KIND_QUOTE:
            quote = True
            break
    return first, themes, rows, unsettled, quote


@njit(cache=True)
def articles_nb(units, units16, bounds, spans, m_bounds, applies_id, applies_rows, applies_given,
                first, edges, terminal, bits, max_len, node_kind, node_ptr, node_rule,
                node_bits, lut, scope, always, prog, names_prog, code, cmap, ctab, ws, quoted,
                q_bounds, has_markers, max_unquoted, stop, any_stop, given, g_bounds,
                themes_given, index, i_bounds):
    """:func:`article_nb` of many articles in one call, their arrays end to end: article
    ``a``'s code points and UTF-16 units at ``bounds[a]:bounds[a + 1]`` (its title ends at its
    first line break), its mentions' ``(start, end)`` rows of ``spans`` and their
    ``applies_id`` at ``m_bounds[a]:m_bounds[a + 1]``, its quoted names' spans, given theme
    rows and index at ``q_bounds``, ``g_bounds`` and ``i_bounds`` (an empty index: no position
    moved); the tables as :func:`article_nb` takes them. Returns ``(meta, themes, rows)``: per
    article ``a`` the start of its first theme hit ``meta[0, a]``, its ``unsettled``
    ``meta[1, a]`` and ``quote`` ``meta[2, a]``, its theme rows at ``meta[3, a]:meta[3, a +
    1]`` of ``themes`` and its mentions' rows at ``m_bounds`` of ``rows`` (not set when
    ``unsettled`` is -1)."""
    n_art = bounds.shape[0] - 1
    meta = np.zeros((4, n_art + 1), dtype=np.int64)
    rows = np.empty((m_bounds[n_art], 13), dtype=np.int64)
    parts = []
    for a in range(n_art):
        m0, m1 = m_bounds[a], m_bounds[a + 1]
        k = m1 - m0
        at = np.empty(2 * k, dtype=np.int64)            # the starts, then the ends
        for j in range(k):
            at[j] = spans[m0 + j, 0]
            at[k + j] = spans[m0 + j, 1]
        u0, u1 = bounds[a], bounds[a + 1]
        hard = u1 - u0
        for i in range(u0, u1):
            if units[i] == 10:
                hard = i - u0
                break
        f, themes, out, unset, q = article_nb(
            units[u0:u1], units16[u0:u1], hard, at, applies_id[m0:m1], applies_rows,
            applies_given, first, edges, terminal, bits, max_len, node_kind, node_ptr,
            node_rule, node_bits, lut, scope, always, prog, names_prog, code, cmap, ctab, ws,
            quoted[q_bounds[a]:q_bounds[a + 1]], has_markers, max_unquoted, stop, any_stop,
            given[g_bounds[a]:g_bounds[a + 1]], themes_given, index[i_bounds[a]:i_bounds[a + 1]])
        meta[0, a] = f
        meta[1, a] = unset
        meta[2, a] = q
        if unset >= 0:
            rows[m0:m1] = out
        meta[3, a + 1] = meta[3, a] + themes.shape[0]
        parts.append(themes)
    themes = np.empty((meta[3, n_art], 4), dtype=np.int64)
    for a in range(n_art):
        themes[meta[3, a]:meta[3, a + 1]] = parts[a]
    return meta, themes, rows
