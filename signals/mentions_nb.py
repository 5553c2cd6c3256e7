"""Numba kernels of the name matcher (:class:`signals.mentions.NameMatcher`): the guards of
``matching.toml`` on every guarded candidate and the choice among candidates in one call, and
the unknown-name loop, with the guard regexes run as automata (:mod:`signals.regex_nb`).

Each kernel first checks that the text holds only BMP characters and no U+FFFD (the trie's
stand-in for other characters); when it does not (``ok`` False) the caller takes its regex path.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from signals.regex_nb import run_nb
from signals.trie_nb import contains_nb, longest_first_nb, scan_all_nb


@njit(cache=True)
def plain_text_nb(units):
    """Whether every code point is in the BMP and none is U+FFFD."""
    for i in range(units.shape[0]):
        if units[i] > 0xFFFF or units[i] == 0xFFFD:
            return False
    return True


@njit(cache=True)
def select_names_nb(code, cmap, ctab, ws, units, first, keys, children, terminal, max_len, guard,
                    named, left, right, common):
    """``(rows, taken)``: the name trie's candidates in ``units`` (its tables, as
    :meth:`signals.trie_nb.Trie.tables`) whose guards hold -- ``guard[node]`` 0 none, 1 ``left``
    searched in the 4 characters before and ``right`` matched after, 2 the same with
    ``common`` -- taken longest first, then leftmost, none overlapping one taken before
    (:func:`signals.trie_nb.longest_first_nb`); ``rows``: the taken ``(start, end, node)`` of
    ``named`` nodes (blockers out) by start, ``taken``: uint8, 1 where a taken row lies."""
    n = units.shape[0]
    occ = scan_all_nb(units, first, keys, children, terminal, max_len)
    keep = np.ones(occ.shape[0], dtype=np.bool_)
    for k in range(occ.shape[0]):
        g = guard[occ[k, 2]]
        if g == 0:
            continue
        s, e = occ[k, 0], occ[k, 1]
        ok = run_nb(code, cmap, ctab, ws, left, units, max(0, s - 4), s, 0, False)
        if ok:
            ok = run_nb(code, cmap, ctab, ws, common if g == 2 else right, units, e, n, 0, True)
        keep[k] = ok
    kept, taken = longest_first_nb(occ, keep, n)
    m = 0
    for i in kept:
        if named[occ[i, 2]]:
            m += 1
    rows = np.empty((m, 3), dtype=np.int64)
    j = 0
    for i in np.sort(kept):                  # occ is by start, then end: so are these rows
        if named[occ[i, 2]]:
            rows[j, 0] = occ[i, 0]
            rows[j, 1] = occ[i, 1]
            rows[j, 2] = occ[i, 2]
            j += 1
    return rows, taken


@njit(cache=True)
def unknown_names_nb(code, cmap, ctab, ws, units, sfirst, skeys, schildren, sterminal, smax_len,
                     taken, right, left, keys, children, terminal):
    """``[K, 2]`` spans of the unknown company-like names, in the order found: for each
    occurrence of the suffix trie (``s...`` tables; not inside ``taken``, by end then start)
    followed by
    ``right`` (matched), the longest of 4, 3, 2 Chinese characters before it that ``left``
    (searched in the 4 characters before) delimits; listed when nothing ``taken`` lies inside
    and the word is no key of the name trie (names and blockers). ``taken`` is updated."""
    n = units.shape[0]
    occ = scan_all_nb(units, sfirst, skeys, schildren, sterminal, smax_len)
    m = occ.shape[0]
    sel = np.empty(m, dtype=np.int64)
    k = 0
    for i in range(m):
        if taken[occ[i, 0]] == 0:
            sel[k] = i
            k += 1
    sel = sel[:k]
    key = np.empty(k, dtype=np.int64)
    for i in range(k):
        key[i] = occ[sel[i], 1] * (n + 1) + occ[sel[i], 0]
    order = sel[np.argsort(key, kind="mergesort")]
    out = np.empty((k, 2), dtype=np.int64)
    found = 0
    for i in order:
        suf, end = occ[i, 0], occ[i, 1]
        if taken[suf]:
            continue
        if not run_nb(code, cmap, ctab, ws, right, units, end, n, 0, True):
            continue
        n_cjk = 0
        while n_cjk < 4 and suf - n_cjk - 1 >= 0 and 0x4E00 <= units[suf - n_cjk - 1] <= 0x9FFF:
            n_cjk += 1
        for w in (4, 3, 2):
            if w > n_cjk:
                continue
            start = suf - w
            if not run_nb(code, cmap, ctab, ws, left, units, max(0, start - 4), start,
                          0, False):
                continue
            free = True
            for j in range(start, end):
                if taken[j]:
                    free = False
                    break
            if free and not contains_nb(units, start, end, keys, children, terminal):
                out[found, 0] = start
                out[found, 1] = end
                found += 1
                taken[start:end] = 1
            break
    return out[:found]
