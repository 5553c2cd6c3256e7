"""Kernels of the marks scoring (:mod:`signals.marks`): mentions -> per-article contributions ->
per-(stock, session) cells with their decayed scores.

Everything is integer ids and float arrays; the wrapper :func:`signals.marks.score_packed` turns
strings into ids and back. The arithmetic is the one of the reference Python implementation
(kept in tests/test_signals_marks_nb.py) operation for operation -- sums left to right from 0.0,
the decay factors ``0.5 ** (d / half_life)`` computed by Python and passed in as a table -- and
the decayed score is carried in linear time but recomputed as the reference's sum wherever its
error bound leaves the comparison with ``min_score`` or the rounding to 10 decimals open, so the
marks are the reference's exactly (not merely close).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _count_theme(th, th_n, nt, t):
    """Count theme ``t`` (-1 = none) among the ``nt`` distinct themes ``th`` seen so far with
    their counts ``th_n``; returns the new number of distinct themes."""
    if t < 0:
        return nt
    for q in range(nt):
        if th[q] == t:
            th_n[q] += 1
            return nt
    th[nt] = t
    th_n[nt] = 1
    return nt + 1


@njit(cache=True)
def contributions_nb(m_ptr, m_code, m_role, m_theme, m_weight, m_title, role_ok, title_mult):
    """One contribution per (article, stock): rows ``[0, k)`` of ``(article, code, value, role,
    theme)``. Article ``a``'s mentions are ``[m_ptr[a], m_ptr[a + 1])``; only mentions whose
    ``role_ok[role]`` count. Stocks in order of first mention; the value is the most negative
    weight when there is one, else the largest (the first on ties), times ``title_mult`` when
    any counted mention is in the title; the theme is the most frequent non-empty (``>= 0``)
    mention theme, the first named on ties, ``-1`` when none."""
    n_art = m_ptr.shape[0] - 1
    n = m_code.shape[0]
    g_art = np.empty(n, np.int64)
    g_code = np.empty(n, np.int64)
    g_value = np.empty(n, np.float64)
    g_role = np.empty(n, np.int64)
    g_theme = np.empty(n, np.int64)
    th = np.empty(n, np.int64)
    th_n = np.empty(n, np.int64)
    k = 0
    for a in range(n_art):
        p0 = m_ptr[a]
        p1 = m_ptr[a + 1]
        g0 = k
        for p in range(p0, p1):
            if not role_ok[m_role[p]]:
                continue
            c = m_code[p]
            seen = False
            for g in range(g0, k):
                if g_code[g] == c:
                    seen = True
                    break
            if not seen:
                g_art[k] = a
                g_code[k] = c
                k += 1
        for g in range(g0, k):
            c = g_code[g]
            neg_p = -1
            max_p = -1
            title = False
            nt = 0
            for p in range(p0, p1):
                if m_code[p] != c or not role_ok[m_role[p]]:
                    continue
                w = m_weight[p]
                if neg_p < 0 or w < m_weight[neg_p]:
                    neg_p = p
                if max_p < 0 or w > m_weight[max_p]:
                    max_p = p
                if m_title[p]:
                    title = True
                nt = _count_theme(th, th_n, nt, m_theme[p])
            best = neg_p if m_weight[neg_p] < 0 else max_p
            g_value[g] = m_weight[best] * (title_mult if title else 1.0)
            g_role[g] = m_role[best]
            top = -1
            for q in range(nt):
                if top < 0 or th_n[q] > th_n[top]:
                    top = q
            g_theme[g] = th[top] if top >= 0 else -1
    return g_art[:k], g_code[:k], g_value[:k], g_role[:k], g_theme[:k]


@njit(cache=True)
def cells_nb(order, code, session, value, role, theme, is_open, theme_rank, decay, use_decay,
             min_score):
    """Per (code, session) cell of the contributions taken in ``order`` (sorted by code, then
    session, then article order): ``(start, n, code, session, score, first, role, theme, open)``
    where ``start`` indexes ``order``. ``score`` sums the cell's values to a raw score and, with
    ``use_decay``, adds every earlier cell of the code times ``decay[session distance]`` (oldest
    first, as the reference does). ``role`` is the role of the largest ``|value|`` (first on
    ties); ``theme`` the most frequent theme, lowest ``theme_rank`` (name order) on ties."""
    m = order.shape[0]
    c_start = np.empty(m, np.int64)
    c_n = np.empty(m, np.int64)
    c_code = np.empty(m, np.int64)
    c_sess = np.empty(m, np.int64)
    c_raw = np.empty(m, np.float64)
    c_score = np.empty(m, np.float64)
    c_first = np.zeros(m, np.bool_)
    c_role = np.empty(m, np.int64)
    c_theme = np.empty(m, np.int64)
    c_open = np.zeros(m, np.bool_)
    th = np.empty(m, np.int64)
    th_n = np.empty(m, np.int64)
    nc = 0
    i = 0
    code_first = 0                       # first cell of the current code
    mag = 0.0                            # decayed sum of |raw|: the scale of the carry's error
    while i < m:
        o = order[i]
        j = i
        raw = 0.0
        strongest = -1
        opn = False
        nt = 0
        while j < m and code[order[j]] == code[o] and session[order[j]] == session[o]:
            q = order[j]
            raw += value[q]
            if strongest < 0 or abs(value[q]) > abs(value[strongest]):
                strongest = q
            if is_open[q]:
                opn = True
            nt = _count_theme(th, th_n, nt, theme[q])
            j += 1
        if nc == 0 or c_code[nc - 1] != code[o]:
            code_first = nc
            c_first[nc] = True
        c_start[nc] = i
        c_n[nc] = j - i
        c_code[nc] = code[o]
        c_sess[nc] = session[o]
        c_raw[nc] = raw
        c_role[nc] = role[strongest]
        c_open[nc] = opn
        top = -1
        for r in range(nt):
            if top < 0 or th_n[r] > th_n[top] or (th_n[r] == th_n[top]
                                                  and theme_rank[th[r]] < theme_rank[th[top]]):
                top = r
        c_theme[nc] = th[top] if top >= 0 else -1
        if use_decay and nc > code_first:
            # carried sum, one step a cell; the exact sum (the reference's, oldest term first)
            # only where the carried one could round or compare differently
            d = c_sess[nc] - c_sess[nc - 1]
            approx = c_score[nc - 1] * decay[d] + raw
            mag = mag * decay[d] + abs(raw)
            err = 8.0 * (nc - code_first + 2) * 2.220446049250313e-16 * mag + 1e-300
            z = approx * 1e10
            half = abs(z - np.floor(z) - 0.5)
            if (abs(approx - min_score) <= err or half <= err * 1e10 + abs(z) * 1e-15
                    or not abs(z) < 1e15):
                acc = 0.0
                for kk in range(code_first, nc + 1):
                    acc += c_raw[kk] * decay[c_sess[nc] - c_sess[kk]]
                approx = acc
            c_score[nc] = approx
        else:
            c_score[nc] = raw
            mag = abs(raw)
        nc += 1
        i = j
    return (c_start[:nc], c_n[:nc], c_code[:nc], c_sess[:nc], c_score[:nc], c_first[:nc],
            c_role[:nc], c_theme[:nc], c_open[:nc])


@njit(cache=True)
def join_nb(offsets, data, items, starts, counts, sep):
    """Texts ``k``: the texts ``items[starts[k]:starts[k] + counts[k]]`` of the UTF-8 texts
    ``data[offsets[i]:offsets[i + 1]]``, joined by the byte ``sep`` (``-1``: none), as
    ``(offsets, data)`` of the result -- Arrow's layout of a string array."""
    n = starts.shape[0]
    out_off = np.empty(n + 1, np.int64)
    out_off[0] = 0
    total = 0
    for k in range(n):
        s = starts[k]
        c = counts[k]
        for j in range(s, s + c):
            i = items[j]
            total += offsets[i + 1] - offsets[i]
        if sep >= 0 and c > 1:
            total += c - 1
        out_off[k + 1] = total
    out = np.empty(total, np.uint8)
    w = 0
    for k in range(n):
        s = starts[k]
        for j in range(s, s + counts[k]):
            if sep >= 0 and j > s:
                out[w] = sep
                w += 1
            i = items[j]
            for b in range(offsets[i], offsets[i + 1]):
                out[w] = data[b]
                w += 1
    return out_off, out


@njit(cache=True)
def iso_beijing_nb(epoch):
    """``YYYY-MM-DDTHH:MM:SS+08:00`` (25 ASCII bytes each, concatenated) of epoch seconds in
    Beijing time, for years 1000-9999 (the civil-from-days algorithm of H. Hinnant)."""
    n = epoch.shape[0]
    out = np.empty(n * 25, np.uint8)
    for k in range(n):
        t = epoch[k] + 28800
        days = t // 86400
        sec = t - days * 86400
        z = days + 719468
        era = (z if z >= 0 else z - 146096) // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        y = yoe + era * 400
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        d = doy - (153 * mp + 2) // 5 + 1
        m = mp + 3 if mp < 10 else mp - 9
        if m <= 2:
            y += 1
        hh = sec // 3600
        mi = (sec // 60) % 60
        ss = sec % 60
        w = k * 25
        out[w] = 48 + y // 1000
        out[w + 1] = 48 + (y // 100) % 10
        out[w + 2] = 48 + (y // 10) % 10
        out[w + 3] = 48 + y % 10
        out[w + 4] = 45
        out[w + 5] = 48 + m // 10
        out[w + 6] = 48 + m % 10
        out[w + 7] = 45
        out[w + 8] = 48 + d // 10
        out[w + 9] = 48 + d % 10
        out[w + 10] = 84
        out[w + 11] = 48 + hh // 10
        out[w + 12] = 48 + hh % 10
        out[w + 13] = 58
        out[w + 14] = 48 + mi // 10
        out[w + 15] = 48 + mi % 10
        out[w + 16] = 58
        out[w + 17] = 48 + ss // 10
        out[w + 18] = 48 + ss % 10
        out[w + 19] = 43
        out[w + 20] = 48
        out[w + 21] = 56
        out[w + 22] = 58
        out[w + 23] = 48
        out[w + 24] = 48
    return out



@njit(cache=True)
def take_nb(offsets, data, items):
    """Texts ``items`` of the UTF-8 texts ``data[offsets[i]:offsets[i + 1]]`` as ``(offsets,
    data)`` of the result (:func:`join_nb` of one text each)."""
    n = items.shape[0]
    out_off = np.empty(n + 1, np.int64)
    out_off[0] = 0
    total = 0
    for k in range(n):
        i = items[k]
        total += offsets[i + 1] - offsets[i]
        out_off[k + 1] = total
    out = np.empty(total, np.uint8)
    w = 0
    for k in range(n):
        i = items[k]
        for b in range(offsets[i], offsets[i + 1]):
            out[w] = data[b]
            w += 1
    return out_off, out
