"""The numba kernel of the name matcher (:class:`signals.mentions.NameMatcher`): names, codes
and unknown candidates of one text in one call (:func:`find_nb`), with the guard regexes of
``matching.toml`` run as automata (:mod:`signals.regex_nb`).

The kernel first checks that the text holds only BMP characters and no U+FFFD (the trie's
stand-in for other characters), and that no code-length digit run holds a digit other than
``0``-``9``; when it does not (``ok`` False) the caller takes its regex path.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from signals.regex_nb import may_match_nb, run_nb
from signals.text_nb import any_set_nb
from signals.trie_nb import child_nb, longest_first_nb, scan_nb, stable_order_nb

# Flags of a trie node (NameMatcher builds them): a key (a stock's name or a blocker: a
# candidate), a stock's name (not a blocker), an unknown-name suffix; the guard in bits 3-4.
NODE_KEY, NODE_NAMED, NODE_SUFFIX, GUARD_SHIFT = 1, 2, 4, 3
# Flags of a BMP character (chars[u]), besides signals.trie_nb's CHAR_DIGIT (``\d``), CHAR_BAD
# (U+FFFD: the trie's stand-in for a character outside the BMP; the text takes the regex path)
# and CHAR_KEY (the first character of a key: the scan looks up only those): a number unit
# (元, 股, % ...).
CHAR_UNIT = 2
# Exchanges of a code (rows of the classes table): none, SH, SZ, BJ.
EX_NONE, EX_SH, EX_SZ, EX_BJ = 0, 1, 2, 3
# What a row of find_nb is: a stock named, an unknown stock code, a 7-digit code, an unknown name.
ROW_HIT, ROW_CODE, ROW_TYPO, ROW_NAME = 0, 1, 2, 3


@njit(cache=True)
def _letters(units, i, a, b):
    return i + 1 < units.shape[0] and units[i] == a and units[i + 1] == b


@njit(cache=True)
def _exchange2(units, i):
    """The exchange of ``SH``/``SZ``/``BJ`` at ``i`` (EX_NONE when none stands there)."""
    if _letters(units, i, 83, 72):          # SH
        return EX_SH
    if _letters(units, i, 83, 90):          # SZ
        return EX_SZ
    if _letters(units, i, 66, 74):          # BJ
        return EX_BJ
    return EX_NONE


@njit(cache=True)
def _not_before_code(u):
    """Whether ``u`` is one of ``0-9 A-Z .`` (no code starts right after one)."""
    return 48 <= u <= 57 or 65 <= u <= 90 or u == 46


@njit(cache=True)
def _code_prefix(units, s):
    """``(start, exchange)`` of ``(?<![0-9A-Z.])(SH|SZ|BJ)\\.?$`` searched in ``[s - 5, s)`` (the
    leftmost match; ``$`` also before a final line break), or ``(-1, EX_NONE)``."""
    lo = max(0, s - 5)
    for m in range(lo, s - 1):
        ex = _exchange2(units, m)
        if ex == EX_NONE or (m > 0 and _not_before_code(units[m - 1])):
            continue
        p = m + 2                               # after the letters: the optional dot, `$`
        dot = p < s and units[p] == 46
        if dot and (p + 1 == s or (p + 2 == s and units[p + 1] == 10)):
            return m, ex
        if p == s or (p + 1 == s and units[p] == 10):
            return m, ex
    return -1, EX_NONE


@njit(cache=True)
def _code_suffix(units, e):
    """``(end, exchange)`` of ``\\.(SH|SZ|BJ|SS|XSHG|XSHE|BSE)(?![A-Z])`` matched at ``e``, or
    ``(-1, EX_NONE)``."""
    n = units.shape[0]
    if e >= n or units[e] != 46:
        return -1, EX_NONE
    i = e + 1
    end, ex = -1, EX_NONE
    if _letters(units, i, 83, 72) or _letters(units, i, 83, 83):            # SH SS
        end, ex = i + 2, EX_SH
    elif _letters(units, i, 83, 90):                                        # SZ
        end, ex = i + 2, EX_SZ
    elif _letters(units, i, 66, 74):                                        # BJ
        end, ex = i + 2, EX_BJ
    elif _letters(units, i, 88, 83) and _letters(units, i + 2, 72, 71):     # XSHG
        end, ex = i + 4, EX_SH
    elif _letters(units, i, 88, 83) and _letters(units, i + 2, 72, 69):     # XSHE
        end, ex = i + 4, EX_SZ
    elif _letters(units, i, 66, 83) and i + 2 < n and units[i + 2] == 69:   # BSE
        end, ex = i + 3, EX_BJ
    if end < 0 or (end < n and 65 <= units[end] <= 90):
        return -1, EX_NONE
    return end, ex


@njit(cache=True)
def _contains_word(units, a, b, words, ptr):
    """Whether one of the words (code points ``words[ptr[k]:ptr[k + 1]]``) occurs inside
    ``units[a:b]`` (an empty word occurs everywhere)."""
    for k in range(ptr.shape[0] - 1):
        w0, w1 = ptr[k], ptr[k + 1]
        for i in range(a, b - (w1 - w0) + 1):
            same = True
            for j in range(w1 - w0):
                if units[i + j] != words[w0 + j]:
                    same = False
                    break
            if same:
                return True
    return False


@njit(cache=True)
def _codes_nb(units, runs, chars, known, classes, words, ptr, taken, hits, nh, unk, nu,
              first_code):
    """The codes of ``units`` (:meth:`signals.mentions.NameMatcher._codes`) among its digit
    ``runs`` of 6 or 7: known stock codes appended to ``hits`` as ``(start, end, first_code +
    index in known, ROW_HIT)``, unknown stock codes and 7-digit ones to ``unk``; ``taken``
    marks every stock code. Returns the new counts, or ``(-1, -1)`` for a 6-digit run holding a
    digit other than ``0``-``9``. ``words``/``ptr``: the index words looked for before a bare
    code, then the one after."""
    n = units.shape[0]
    div = 1_000_000 // classes.shape[1]           # the classes table reads the first digits
    for r in range(runs.shape[0]):
        s, e = runs[r, 0], runs[r, 1]
        if e - s == 7:                            # a code typo when it stands where a code does
            ps, _pex = _code_prefix(units, s)
            se, _sex = _code_suffix(units, e)
            bracketed = (s > 0 and (units[s - 1] == 40 or units[s - 1] == 0xFF08)
                         and e < n and (units[e] == 41 or units[e] == 0xFF09))
            if ps >= 0 or se >= 0 or bracketed:
                unk[nu, 0] = ps if ps >= 0 else s
                unk[nu, 1] = se if se >= 0 else e
                unk[nu, 2] = 0
                unk[nu, 3] = ROW_TYPO
                nu += 1
            continue
        v = 0
        for j in range(s, e):
            if not 48 <= units[j] <= 57:
                return -1, -1
            v = 10 * v + units[j] - 48
        if e < n and chars[units[e]] & CHAR_UNIT:
            continue                              # an amount: 600000元, 300000股
        ps, pex = _code_prefix(units, s)
        if ps < 0 and s > 0 and _not_before_code(units[s - 1]):
            continue
        se, sex = _code_suffix(units, e)
        ex = pex if ps >= 0 else sex
        if not classes[ex, v // div]:
            continue                              # an index, a fund, another security
        if ex == EX_NONE and (_contains_word(units, max(0, s - 8), s, words, ptr[:-1])
                              or _contains_word(units, e, min(n, e + 4), words, ptr[-2:])):
            continue                              # 上证指数(000001), 沪深300ETF(510300) ...
        a = ps if ps >= 0 else s
        b = se if se >= 0 else e
        taken[a:b] = 1
        k = np.searchsorted(known, v)
        if k < known.shape[0] and known[k] == v:
            hits[nh, 0] = a
            hits[nh, 1] = b
            hits[nh, 2] = first_code + k
            hits[nh, 3] = ROW_HIT
            nh += 1
        else:
            unk[nu, 0] = a
            unk[nu, 1] = b
            unk[nu, 2] = v
            unk[nu, 3] = ROW_CODE
            nu += 1
    return nh, nu


@njit(cache=True)
def _is_key_nb(units, a, b, edges, flags):
    """Whether ``units[a:b]`` is a key (a name or a blocker) of the trie."""
    node = 0
    for j in range(a, b):
        node = child_nb(edges, node, units[j])
        if node < 0:
            return False
    return (flags[node] & NODE_KEY) != 0


@njit(cache=True)
def _unknown_names_nb(code, cmap, ctab, step, ws, units, occ, edges, flags, taken, right,
                      left, unk, nu):
    """The unknown company-like names, appended to ``unk`` in the order found: for each
    suffix occurrence of ``occ`` (not inside ``taken``, by end then start), the longest of 4, 3,
    2 Chinese characters before it that ``left`` (searched in the 4 characters before) delimits,
    when ``right`` matches after the suffix (checked first: one anchored run, where the left
    check may take three searches); listed when nothing ``taken`` lies inside and the word is
    no key of the trie (names and blockers). ``taken`` is updated. ``step``: the automata's
    :func:`signals.regex_nb.step_tables`. Returns the new count."""
    n = units.shape[0]
    m = occ.shape[0]
    sel = np.empty(m, dtype=np.int64)
    k = 0
    for i in range(m):
        if flags[occ[i, 2]] & NODE_SUFFIX and taken[occ[i, 0]] == 0:
            sel[k] = i
            k += 1
    if k == 0:
        return nu
    key = np.empty(k, dtype=np.int64)
    for i in range(k):
        key[i] = occ[sel[i], 1] * (n + 1) + occ[sel[i], 0]
    order = stable_order_nb(key)
    for j in range(k):
        i = sel[order[j]]
        suf, end = occ[i, 0], occ[i, 1]
        if taken[suf]:
            continue
        n_cjk = 0
        while n_cjk < 4 and suf - n_cjk - 1 >= 0 and 0x4E00 <= units[suf - n_cjk - 1] <= 0x9FFF:
            n_cjk += 1
        # the right guard (one anchored run) before the left one (up to three searches)
        if n_cjk < 2 or not (may_match_nb(code, cmap, ctab, right, units, end, n, 0, True)
                             and run_nb(code, cmap, ctab, ws, right, units, end, n, 0, True, step)):
            continue
        start = -1                           # the longest word that `left` delimits
        for w in (4, 3, 2):
            if w > n_cjk:
                continue
            lo = max(0, suf - w - 4)
            if (may_match_nb(code, cmap, ctab, left, units, lo, suf - w, 0, False)
                    and run_nb(code, cmap, ctab, ws, left, units, lo, suf - w, 0, False, step)):
                start = suf - w
                break
        if (start >= 0 and not any_set_nb(taken, start, end)
                and not _is_key_nb(units, start, end, edges, flags)):
            unk[nu, 0] = start
            unk[nu, 1] = end
            unk[nu, 2] = 0
            unk[nu, 3] = ROW_NAME
            nu += 1
            taken[start:end] = 1
    return nu


@njit(cache=True)
def _put_by_start(rows, k, out, at):
    """``rows[:k]`` stably sorted by start, written to ``out`` from row ``at``."""
    order = stable_order_nb(rows[:k, 0])
    for j in range(k):
        r = order[j]
        for c in range(4):
            out[at + j, c] = rows[r, c]


@njit(cache=True)
def find_nb(code, cmap, ctab, step, starts, ws, units, first, edges, bits, max_len, flags, chars,
            known, classes, words, ptr):
    """``(rows, n_hits, ok)`` for one text's code points ``units``: every stock it names, then
    every unknown candidate, each part by start, as int64 rows ``(start, end, id, what)``.

    1. Names: the trie's key candidates (its tables, as :meth:`signals.trie_nb.Trie.tables`,
       ``flags`` per node, nonzero for its keys) whose guards hold -- guard 0 none, 1 the automaton
       ``starts[0]`` searched in the 4 characters before and ``starts[1]`` matched after, 2 the same
       with ``starts[2]`` -- taken longest first, then leftmost, none overlapping one taken before
       (:func:`signals.trie_nb.longest_first_nb`); a stock's name is a hit with ``id`` its node, a
       blocker only takes its place.
    2. Codes (:func:`_codes_nb`): a known code's ``id`` is ``flags.shape[0]`` plus its index in
       ``known`` (sorted code values); ``classes[exchange, first digits]`` whether it is a
       stock's; ``words[ptr[k]:ptr[k + 1]]`` the index words before, the last one the word after.
    3. Unknown names: :func:`_unknown_names_nb` with ``starts[1]`` after and ``starts[3]``
       before.

    ``step``: :func:`signals.regex_nb.step_tables` of the automata (``code``, ``ctab``).
    ``ok`` is False (and nothing found) for a text the caller must take its regex path for."""
    n = units.shape[0]
    runs = np.empty((n // 6 + 1, 2), dtype=np.int64)    # the digit runs of 6 or 7 (codes)
    occ = np.empty((n // 8 + 64, 3), dtype=np.int64)   # grown when too small
    while True:                              # one pass: is the text plain; keys; digit runs
        n_occ, n_runs = scan_nb(units, first, edges, flags, bits, max_len, occ, chars, runs)
        if n_runs < 0:
            return np.empty((0, 4), dtype=np.int64), 0, False
        if n_occ >= 0:
            break
        occ = np.empty((4 * occ.shape[0], 3), dtype=np.int64)
    occ = occ[:n_occ]
    keep = np.empty(n_occ, dtype=np.bool_)
    for k in range(n_occ):
        f = flags[occ[k, 2]]
        keep[k] = (f & NODE_KEY) != 0
        g = f >> GUARD_SHIFT
        if g == 0 or not keep[k]:
            continue
        s, e = occ[k, 0], occ[k, 1]
        # the right guard first: anchored, its first-character filter rules out most places
        right = starts[2] if g == 2 else starts[1]
        ok = (may_match_nb(code, cmap, ctab, right, units, e, n, 0, True)
              and run_nb(code, cmap, ctab, ws, right, units, e, n, 0, True, step))
        if ok:
            lo = max(0, s - 4)
            ok = (may_match_nb(code, cmap, ctab, starts[0], units, lo, s, 0, False)
                  and run_nb(code, cmap, ctab, ws, starts[0], units, lo, s, 0, False, step))
        keep[k] = ok
    kept, taken = longest_first_nb(occ, keep, n)
    keep[:] = False                          # now: the rows taken (occ is by start, then end)
    for i in kept:
        keep[i] = True
    # the hits, then the unknown candidates: at most one a key taken or a digit run, and one a
    # digit run or a suffix
    out = np.empty((kept.shape[0] + 2 * n_runs + n_occ, 4), dtype=np.int64)
    nh = 0
    for i in range(n_occ):
        if keep[i] and flags[occ[i, 2]] & NODE_NAMED:
            out[nh, 0] = occ[i, 0]
            out[nh, 1] = occ[i, 1]
            out[nh, 2] = occ[i, 2]
            out[nh, 3] = ROW_HIT
            nh += 1
    n_names = nh
    unk = np.empty((n_runs + n_occ, 4), dtype=np.int64)
    nh, nu = _codes_nb(units, runs[:n_runs], chars, known, classes, words, ptr, taken, out, nh,
                       unk, 0, flags.shape[0])
    if nh < 0:
        return np.empty((0, 4), dtype=np.int64), 0, False
    nu = _unknown_names_nb(code, cmap, ctab, step, ws, units, occ, edges, flags, taken, starts[1],
                           starts[3], unk, nu)
    if nh > n_names:                         # codes among the names: by start, names first
        _put_by_start(out[:nh].copy(), nh, out, 0)
    _put_by_start(unk, nu, out, nh)
    return out[:nh + nu], nh, True


@njit(cache=True)
def find_all_nb(code, cmap, ctab, step, starts, ws, units, bounds, first, edges, bits, max_len,
                flags, chars, known, classes, words, ptr):
    """:func:`find_nb` of many texts in one call: text ``a``'s code points are
    ``units[bounds[a]:bounds[a + 1]]``. Returns ``(rows, counts, ok)``: the texts' rows end to
    end, ``counts[a]`` = (rows, hits) of text ``a``, ``ok[a]`` False for a text the caller must
    take its regex path for (no rows)."""
    n = bounds.shape[0] - 1
    counts = np.zeros((n, 2), dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    out = np.empty((32 * n + 64, 4), dtype=np.int64)
    k = 0
    for a in range(n):
        rows, nh, good = find_nb(code, cmap, ctab, step, starts, ws, units[bounds[a]:bounds[a + 1]],
                                 first, edges, bits, max_len, flags, chars, known, classes, words,
                                 ptr)
        m = rows.shape[0]
        ok[a] = good
        counts[a, 0] = m
        counts[a, 1] = nh
        if k + m > out.shape[0]:
            grown = np.empty((2 * (k + m), 4), dtype=np.int64)
            grown[:k] = out[:k]
            out = grown
        out[k:k + m] = rows
        k += m
    return out[:k], counts, ok
