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
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


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


@njit(cache=True, nogil=True)
def cells_nb(art_order, a_sess, a_open, m_ptr, m_code, m_role, m_theme, m_weight, m_title,
             t_ptr, t_ids, role_ok, title_mult, theme_rank, decay, use_decay, min_score, lo, hi,
             out, hist):
    """The marks: the per-(code, session) cells of the articles taken in ``art_order`` (sessions
    ``a_sess`` non-decreasing in that order, article order within a session) whose session is
    in ``[lo, hi]`` and score not below ``min_score``, in one pass with no sort: ``(code,
    session, score, first, role, theme, open, start, n, heat, arts)``, cells in order of
    session, then first contribution; cell ``c``'s articles (in article order) are
    ``arts[start[c]:start[c] + n[c]]``; the first rows of the arrays ``out``
    (:func:`cells_buffers`; ``hist``: its scratch); returns the number of cells and of arts.
    ``heat``: the articles of the session naming the cell's theme among their themes
    (``t_ids[t_ptr[a]:t_ptr[a + 1]]``; 0 for no theme).

    Article ``a``'s mentions are ``[m_ptr[a], m_ptr[a + 1])``; only mentions whose
    ``role_ok[role]`` count. An article contributes once per stock (stocks in order of first
    mention): the most negative weight when there is one, else the largest (the first on ties),
    times ``title_mult`` when any counted mention is in the title, with that mention's role and
    the most frequent non-empty (``>= 0``) mention theme (the first named on ties, ``-1`` when
    none). A cell's raw score sums its contributions left to right; ``score`` adds, with
    ``use_decay``, every earlier cell of the code times ``decay[session distance]`` (oldest first,
    as the reference does); ``first``: the code's first cell. ``role`` is the role of the largest
    ``|value|`` (first on ties); ``theme`` the most frequent contribution theme, lowest
    ``theme_rank`` (name order) on ties; ``open``: some contribution enters at the open.

    A code has at most one open cell (the session's), accumulated in per-code arrays, its
    contributions chained in article order (in buffers reused every session); the cells are
    closed -- theme and decayed score computed, a mark's articles copied out -- when the
    articles move past their session. The decayed score is carried in linear time and
    recomputed as the reference's sum where its error bound leaves the comparison with
    ``min_score`` or the rounding to 10 decimals open, from the code's history of ``(raw,
    session)`` kept contiguous per code (a growing block of one pool)."""
    n_art = art_order.shape[0]
    n = m_code.shape[0]
    n_terms = role_ok.shape[0]
    # the contributions of the session's cells, chained per cell in article order
    k_art = np.empty(n, np.int64)
    k_theme = np.empty(n, np.int64)
    k_next = np.empty(n, np.int64)
    # the marks, in order of session, then of the cell's first contribution
    c_code, c_sess, c_score, c_first, c_role, c_theme, c_open, c_start, c_n, c_heat, arts = out
    # the session's articles naming each theme (``t_ptr``/``t_ids``: the articles' themes)
    heat = np.zeros(n_terms, np.int64)
    heat_ids = np.empty(t_ids.shape[0] + 1, np.int64)
    n_heat = 0
    # per code: the open cell's contributions (0: none open) and accumulators
    o_n = np.zeros(n_terms, np.int64)
    o_raw = np.empty(n_terms, np.float64)
    o_strong = np.empty(n_terms, np.float64)
    o_role = np.empty(n_terms, np.int64)
    o_open = np.empty(n_terms, np.bool_)
    o_head = np.empty(n_terms, np.int64)
    o_tail = np.empty(n_terms, np.int64)
    open_codes = np.empty(n_terms, np.int64)
    # per code: closed cells, last score and session, decayed sum of |raw| (the scale of the
    # carry's error), history block in the pool ``hist`` (``(raw, session)`` pairs side by
    # side: one cache line a cell written)
    count = np.zeros(n_terms, np.int64)
    l_score = np.empty(n_terms, np.float64)
    l_sess = np.empty(n_terms, np.int64)
    mag = np.zeros(n_terms, np.float64)
    h_at = np.zeros(n_terms, np.int64)
    h_cap = np.zeros(n_terms, np.int64)
    h_end = 0
    th = np.empty(n + 1, np.int64)          # theme counting (of a stock's mentions, of a cell)
    th_n = np.empty(n + 1, np.int64)
    # one article's stocks (scratch per code; ``g_stamp``: the article that last set it)
    g_code = np.empty(n_terms, np.int64)
    g_stamp = np.full(n_terms, -1, np.int64)
    g_neg = np.empty(n_terms, np.int64)
    g_max = np.empty(n_terms, np.int64)
    g_wneg = np.empty(n_terms, np.float64)
    g_wmax = np.empty(n_terms, np.float64)
    g_title = np.empty(n_terms, np.bool_)
    g_head = np.empty(n_terms, np.int64)
    g_tail = np.empty(n_terms, np.int64)
    most = 0
    for a in range(m_ptr.shape[0] - 1):
        most = max(most, m_ptr[a + 1] - m_ptr[a])
    p_next = np.empty(most + 1, np.int64)   # the next mention of the same stock
    n_open = 0
    nc = 0
    k = 0
    w = 0
    cur = -1
    for ai in range(n_art + 1):
        s = a_sess[art_order[ai]] if ai < n_art else -1
        if s != cur:
            inside = lo <= cur <= hi
            for q in range(n_open):           # close the cells of session ``cur``
                c = open_codes[q]
                raw = o_raw[c]
                if use_decay and count[c] > 0:
                    # carried sum, one step a cell; the exact sum (the reference's, oldest term
                    # first) only where the carried one could round or compare differently
                    d = cur - l_sess[c]
                    approx = l_score[c] * decay[d] + raw
                    mag[c] = mag[c] * decay[d] + abs(raw)
                    err = 8.0 * (count[c] + 2) * 2.220446049250313e-16 * mag[c] + 1e-300
                    z = approx * 1e10
                    half = abs(z - np.floor(z) - 0.5)
                    if (abs(approx - min_score) <= err or half <= err * 1e10 + abs(z) * 1e-15
                            or not abs(z) < 1e15):
                        acc = 0.0
                        for h in range(h_at[c], h_at[c] + count[c]):
                            acc += hist[2 * h] * decay[cur - np.int64(hist[2 * h + 1])]
                        acc += raw * decay[0]
                        approx = acc
                else:
                    approx = raw
                    mag[c] = abs(raw)
                if use_decay:                 # the code's history grows by this cell
                    if count[c] == h_cap[c]:
                        cap = max(8, 2 * h_cap[c])
                        for h in range(count[c]):
                            hist[2 * (h_end + h)] = hist[2 * (h_at[c] + h)]
                            hist[2 * (h_end + h) + 1] = hist[2 * (h_at[c] + h) + 1]
                        h_at[c] = h_end
                        h_cap[c] = cap
                        h_end += cap
                    hist[2 * (h_at[c] + count[c])] = raw
                    hist[2 * (h_at[c] + count[c]) + 1] = cur
                if inside and not approx < min_score:       # a mark
                    c_start[nc] = w
                    kk = o_head[c]
                    if o_n[c] == 1:           # one article: its theme
                        arts[w] = k_art[kk]
                        w += 1
                        c_theme[nc] = k_theme[kk]
                    else:
                        nt = 0
                        while kk >= 0:
                            arts[w] = k_art[kk]
                            w += 1
                            nt = _count_theme(th, th_n, nt, k_theme[kk])
                            kk = k_next[kk]
                        top = -1
                        for r in range(nt):
                            if top < 0 or th_n[r] > th_n[top] or (
                                    th_n[r] == th_n[top]
                                    and theme_rank[th[r]] < theme_rank[th[top]]):
                                top = r
                        c_theme[nc] = th[top] if top >= 0 else -1
                    c_code[nc] = c
                    c_sess[nc] = cur
                    c_score[nc] = approx
                    c_first[nc] = count[c] == 0
                    c_n[nc] = o_n[c]
                    c_role[nc] = o_role[c]
                    c_open[nc] = o_open[c]
                    c_heat[nc] = heat[c_theme[nc]] if c_theme[nc] >= 0 else 0
                    nc += 1
                l_score[c] = approx
                l_sess[c] = cur
                count[c] += 1
                o_n[c] = 0
            n_open = 0
            for q in range(n_heat):
                heat[heat_ids[q]] = 0
            n_heat = 0
            k = 0
            cur = s
        if ai == n_art:
            break
        a = art_order[ai]
        for q in range(t_ptr[a], t_ptr[a + 1]):
            t = t_ids[q]
            if heat[t] == 0:
                heat_ids[n_heat] = t
                n_heat += 1
            heat[t] += 1
        p0 = m_ptr[a]
        p1 = m_ptr[a + 1]
        # one pass over the article's mentions: its stocks in order of first mention, each
        # one's first most negative and first largest weight, title flag and mentions (chained)
        ng = 0
        for p in range(p0, p1):
            c = m_code[p]
            if not role_ok[m_role[p]]:
                continue
            wt = m_weight[p]
            if g_stamp[c] != ai:
                g_stamp[c] = ai
                g_code[ng] = c
                ng += 1
                g_neg[c] = p
                g_max[c] = p
                g_wneg[c] = wt
                g_wmax[c] = wt
                g_title[c] = m_title[p] != 0
                g_head[c] = p
            else:
                if wt < g_wneg[c]:
                    g_neg[c] = p
                    g_wneg[c] = wt
                if wt > g_wmax[c]:
                    g_max[c] = p
                    g_wmax[c] = wt
                if m_title[p]:
                    g_title[c] = True
                p_next[g_tail[c] - p0] = p
            g_tail[c] = p
            p_next[p - p0] = -1
        for g in range(ng):
            c = g_code[g]
            best = g_neg[c] if g_wneg[c] < 0 else g_max[c]
            value = m_weight[best] * (title_mult if g_title[c] else 1.0)
            p = g_head[c]
            if g_tail[c] == p:                # one mention: its theme
                theme = m_theme[p] if m_theme[p] >= 0 else -1
            else:                             # the most frequent, the first named on ties
                nt = 0
                while p >= 0:
                    nt = _count_theme(th, th_n, nt, m_theme[p])
                    p = p_next[p - p0]
                top = -1
                for q in range(nt):
                    if top < 0 or th_n[q] > th_n[top]:
                        top = q
                theme = th[top] if top >= 0 else -1
            k_art[k] = a
            k_theme[k] = theme
            k_next[k] = -1
            if o_n[c] == 0:                   # the code's first contribution this session
                open_codes[n_open] = c
                n_open += 1
                o_raw[c] = 0.0
                o_open[c] = False
                o_head[c] = k
                o_strong[c] = value
                o_role[c] = m_role[best]
            else:
                k_next[o_tail[c]] = k
                if abs(value) > abs(o_strong[c]):
                    o_strong[c] = value
                    o_role[c] = m_role[best]
            o_tail[c] = k
            k += 1
            o_raw[c] += value
            o_n[c] += 1
            if a_open[a]:
                o_open[c] = True
    return nc, w


def cells_buffers(n_mentions: int, n_terms: int, use_decay: bool) -> tuple:
    """``(out, hist)`` of :func:`cells_nb` for ``n_mentions`` mentions of ``n_terms`` term ids:
    the marks' columns ``(code, session, score, first, role, theme, open, start, n, heat, arts)``
    and the scores' history pool (float64 pairs). Allocated by numpy, on transparent huge
    pages: the pages these tens of MB touch fault in far faster than the kernel's own
    allocations."""
    n = n_mentions
    i32 = np.int32
    out = (np.empty(n, i32), np.empty(n, i32), np.empty(n, np.float64), np.empty(n, np.bool_),
           np.empty(n, i32), np.empty(n, i32), np.empty(n, np.bool_), np.empty(n, i32),
           np.empty(n, i32), np.empty(n, np.int64), np.empty(n, i32))
    size = 4 * n + 16 * n_terms if use_decay else 0
    return out, np.empty(2 * size, np.float64)


@njit(cache=True, nogil=True)
def mark_order_nb(sess, key, rank, out):
    """The rows (grouped by session, sessions non-decreasing: the order of :func:`cells_nb`)
    in order of ``sess``, then ``key``, then ``rank`` (distinct within a session), written to
    ``out``. Each session's rows are put in rank order (by a table of the ranks when the
    session fills a good part of it, else by a sort), then sorted stably by key: a radix sort
    of its bytes, skipping the bytes all the session's keys share."""
    m = sess.shape[0]
    n_rank = rank.max() + 1 if m else 1
    slot = np.full(n_rank, -1, np.int64)
    tmp = np.empty(m, np.int64)
    count = np.empty(257, np.int64)
    i = 0
    while i < m:
        j = i + 1
        while j < m and sess[j] == sess[i]:
            j += 1
        if 8 * (j - i) >= n_rank:
            for q in range(i, j):
                slot[rank[q]] = q
            t = i
            for r in range(n_rank):
                if slot[r] >= 0:
                    out[t] = slot[r]
                    slot[r] = -1
                    t += 1
        else:
            by_rank = np.argsort(rank[i:j])
            for q in range(j - i):
                out[i + q] = i + by_rank[q]
        src, dst = out, tmp
        moved = False                         # the rows are in ``tmp``
        for shift in range(0, 64, 8):
            count[:] = 0
            for q in range(i, j):
                count[((key[src[q]] >> np.uint64(shift)) & np.uint64(255)) + 1] += 1
            if count.max() == j - i:          # one byte value: the order stands
                continue
            count[0] = i
            for b in range(1, 257):
                count[b] += count[b - 1]
            for q in range(i, j):
                d = (key[src[q]] >> np.uint64(shift)) & np.uint64(255)
                dst[count[d]] = src[q]
                count[d] += 1
            src, dst = dst, src
            moved = not moved
        if moved:
            for q in range(i, j):
                out[q] = src[q]
        i = j


@njit(cache=True, nogil=True)
def join_offsets_nb(offsets, items, starts, counts, sep):
    """The Arrow offsets (``n + 1`` int64) of :func:`join_nb`'s texts."""
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
    return out_off


@intrinsic
def copy_bytes(typingctx, dst, at, src, lo, count):
    """``dst[at:at + count] = src[lo:lo + count]`` for C-contiguous uint8 arrays that do not
    overlap, by ``llvm.memcpy`` (libc's ``memcpy`` for a variable count: a text of ~20 bytes in
    a few words, where a loop copies it byte by byte). No bounds checks: the caller's."""
    for arr in (dst, src):
        if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.layout == "C"):
            return None
    def codegen(context, builder, sig, args):
        d = context.make_array(sig.args[0])(context, builder, args[0])
        s = context.make_array(sig.args[2])(context, builder, args[2])
        cgutils.raw_memcpy(builder, builder.gep(d.data, [args[1]]),
                           builder.gep(s.data, [args[3]]), args[4], 1)
        return context.get_dummy_value()
    return types.void(dst, types.intp, src, types.intp, types.intp), codegen


@njit(cache=True, nogil=True)
def join_nb(offsets, data, items, starts, counts, sep, out):
    """Texts ``k``: the texts ``items[starts[k]:starts[k] + counts[k]]`` of the UTF-8 texts
    ``data[offsets[i]:offsets[i + 1]]``, joined by the byte ``sep`` (``-1``: none), written to
    ``out`` (sized by :func:`join_offsets_nb`) -- Arrow's layout of a string array. Each text
    is one :func:`copy_bytes` (``memcpy``)."""
    w = 0
    for k in range(starts.shape[0]):
        s = starts[k]
        for j in range(s, s + counts[k]):
            if sep >= 0 and j > s:
                out[w] = sep
                w += 1
            i = items[j]
            b0 = np.intp(offsets[i])
            size = np.intp(offsets[i + 1]) - b0
            copy_bytes(out, np.intp(w), data, b0, size)
            w += size


@njit(cache=True, nogil=True)
def iso_beijing_nb(epoch, out):
    """``YYYY-MM-DDTHH:MM:SS+08:00`` (25 ASCII bytes each, concatenated into ``out``) of epoch
    seconds in Beijing time, for years 1000-9999 (the civil-from-days algorithm of H.
    Hinnant); the date of the previous text is reused while the day repeats."""
    n = epoch.shape[0]
    last = -1
    for k in range(n):
        t = epoch[k] + 28800
        days = t // 86400
        sec = t - days * 86400
        w = k * 25
        if k > 0 and days == last:
            for b in range(11):
                out[w + b] = out[w - 25 + b]
        else:
            last = days
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
        hh = sec // 3600
        mi = (sec // 60) % 60
        ss = sec % 60
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
