"""Numba kernel of the mention index's rows (:meth:`signals.extract.Extractor.index_part`): for
the mentions of many articles, their term ids in order of first use and each article's mentions
as the JSON text ``orjson.dumps`` gives of its ``(code, matched_text, kind, in_title, theme,
role, weight)`` tuples -- without a Python object a mention.

Everything but the matched text is a fragment of JSON made once per distinct value (the
fragments of :class:`signals.extract.IndexTables`): ``["CODE","`` and ``","KIND",`` per
(code, kind), the theme's JSON string, ``,"ROLE",WEIGHT]`` per role choice. The matched text is
the article's own code points, written as UTF-8 with orjson's escapes (``\\"``, ``\\\\``,
``\\b \\t \\n \\f \\r``, other code points below U+0020 as ``\\u00xx``); an article whose matched
text holds a lone surrogate (which orjson refuses) is left to the caller (``ok`` False).
:func:`unknown_json_nb` writes each article's unknown names' JSON the same way.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _local_nb(e, local_of, order, n_local):
    """The part-local id of term ``e`` (an :class:`IndexTables` id), the next one at its first
    use."""
    if local_of[e] < 0:
        local_of[e] = n_local[0]
        order[n_local[0]] = e
        n_local[0] += 1
    return local_of[e]


@njit(cache=True, inline="always")
def _copy_nb(out, k, frags, frag_at, f):
    """Fragment ``f`` written at ``out[k:]``; the position after it."""
    for i in range(frag_at[f], frag_at[f + 1]):
        out[k] = frags[i]
        k += 1
    return k


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


@njit(cache=True, inline="always")
def _put_text_nb(out, p, raw, lo, hi):
    """Code points ``raw[lo:hi]`` written at ``out[p:]`` as the inside of a JSON string, UTF-8
    with orjson's escapes (at most 6 bytes a code point); ``(the position after it, ok)``, ok
    False when it holds a lone surrogate (orjson refuses it)."""
    ok = True
    for i in range(lo, hi):
        u = raw[i]
        if u == 34 or u == 92:                          # " \
            out[p] = 92
            out[p + 1] = u
            p += 2
        elif u < 32:
            out[p] = 92
            if u == 8:
                out[p + 1] = 98
            elif u == 9:
                out[p + 1] = 116
            elif u == 10:
                out[p + 1] = 110
            elif u == 12:
                out[p + 1] = 102
            elif u == 13:
                out[p + 1] = 114
            else:
                out[p + 1] = 117                        # u00xx
                out[p + 2] = 48
                out[p + 3] = 48
                out[p + 4] = _HEX[u >> 4]
                out[p + 5] = _HEX[u & 15]
                p += 4
            p += 2
        elif u < 0x80:
            out[p] = u
            p += 1
        elif u < 0x800:
            out[p] = 0xC0 | (u >> 6)
            out[p + 1] = 0x80 | (u & 0x3F)
            p += 2
        elif u < 0x10000:
            if 0xD800 <= u < 0xE000:
                ok = False
            out[p] = 0xE0 | (u >> 12)
            out[p + 1] = 0x80 | ((u >> 6) & 0x3F)
            out[p + 2] = 0x80 | (u & 0x3F)
            p += 3
        else:
            out[p] = 0xF0 | (u >> 18)
            out[p + 1] = 0x80 | ((u >> 12) & 0x3F)
            out[p + 2] = 0x80 | ((u >> 6) & 0x3F)
            out[p + 3] = 0x80 | (u & 0x3F)
            p += 4
    return p, ok


@njit(cache=True)
def index_part_nb(raw, raw_at, m_at, ck, choice, theme, a, b, in_title, art_themes, at_bounds,
                  ck_code, ck_head, ck_mid, choice_role, choice_tail, ext_frag, is_term, frags,
                  frag_at, local_of, order, n_local):
    """Article ``j``'s mentions are rows ``m_at[j]:m_at[j + 1]`` of ``ck`` (their (code, kind)
    ids), ``choice`` (role choices), ``theme`` (term ids, the primary theme's where the
    mention has none), ``a``, ``b`` (the matched text in the article's code points
    ``raw[raw_at[j]:raw_at[j + 1]]``), ``in_title`` (0 or 1); its themes are the term ids
    ``art_themes[at_bounds[j]:at_bounds[j + 1]]``. ``ck_code``, ``ck_head``, ``ck_mid``: per
    (code, kind) id the code's term id and its two fragments; ``choice_role``,
    ``choice_tail``: per choice the role's term id and its fragment; ``ext_frag``, ``is_term``:
    per term id its JSON string's fragment and whether it takes an id (the empty theme does
    not: -1); fragment ``f`` is ``frags[frag_at[f]:frag_at[f + 1]]``.

    ``local_of`` (-1 where none yet), ``order`` and ``n_local[0]``: the part-local ids given so
    far, carried from one call to the next of the same part (each mention's code, role and theme,
    then its article's themes, in order).

    Returns ``(code, role, theme_local, theme_ids, json, json_at, ok)``: the local ids of each
    mention's code, role and theme (-1: none) and of each article's themes, the articles' JSON
    end to end (article ``j``'s at ``json_at[j]:json_at[j + 1]``, UTF-8) and whether it was
    written (False: a lone surrogate in a matched text)."""
    n_art = len(m_at) - 1
    n_m = len(ck)
    cap = 2 * n_art
    for k in range(n_m):
        c, d = ck[k], choice[k]
        cap += (frag_at[ck_head[c] + 1] - frag_at[ck_head[c]] + frag_at[ck_mid[c] + 1]
                - frag_at[ck_mid[c]] + frag_at[choice_tail[d] + 1] - frag_at[choice_tail[d]]
                + frag_at[ext_frag[theme[k]] + 1] - frag_at[ext_frag[theme[k]]]
                + 6 * (b[k] - a[k]) + 3)
    out = np.empty(cap, dtype=np.uint8)
    json_at = np.zeros(n_art + 1, dtype=np.int64)
    ok = np.ones(n_art, dtype=np.bool_)
    code_l = np.empty(n_m, dtype=np.int32)
    role_l = np.empty(n_m, dtype=np.int32)
    theme_l = np.empty(n_m, dtype=np.int32)
    theme_ids = np.empty(at_bounds[n_art], dtype=np.int64)
    p = 0
    for j in range(n_art):
        start = p
        out[p] = 91                                             # [
        p += 1
        base = raw_at[j]
        for k in range(m_at[j], m_at[j + 1]):
            c, d, t = ck[k], choice[k], theme[k]
            code_l[k] = _local_nb(ck_code[c], local_of, order, n_local)
            role_l[k] = _local_nb(choice_role[d], local_of, order, n_local)
            theme_l[k] = _local_nb(t, local_of, order, n_local) if is_term[t] else -1
            if k > m_at[j]:
                out[p] = 44                                     # ,
                p += 1
            p = _copy_nb(out, p, frags, frag_at, ck_head[c])
            p, good = _put_text_nb(out, p, raw, base + a[k], base + b[k])
            if not good:
                ok[j] = False
            p = _copy_nb(out, p, frags, frag_at, ck_mid[c])
            out[p] = 48 + in_title[k]
            out[p + 1] = 44
            p += 2
            p = _copy_nb(out, p, frags, frag_at, ext_frag[t])
            p = _copy_nb(out, p, frags, frag_at, choice_tail[d])
        out[p] = 93                                             # ]
        p += 1
        if not ok[j]:
            p = start
        json_at[j + 1] = p
        for i in range(at_bounds[j], at_bounds[j + 1]):
            theme_ids[i] = _local_nb(art_themes[i], local_of, order, n_local)
    return code_l, role_l, theme_l, theme_ids, out[:p], json_at, ok


@njit(cache=True)
def unknown_json_nb(raw, raw_at, index, index_at, unknown, u_at, tails, tail_at):
    """Each article's unknown candidates as the JSON text ``orjson.dumps`` gives of their
    ``(text as written, reason)`` pairs: article ``j``'s rows ``unknown[u_at[j]:u_at[j + 1]]``
    are ``(start, end, reason id)`` in its normalised text, mapped to its code points
    ``raw[raw_at[j]:raw_at[j + 1]]`` through its index ``index[index_at[j]:index_at[j + 1]]``
    (empty: no position moved; :func:`signals.normalize.original_span`); ``tails[tail_at[r]:
    tail_at[r + 1]]`` is ``",`` + the JSON string of reason ``r`` + ``]``. Returns ``(json,
    json_at, ok)`` as :func:`index_part_nb` does."""
    n_art = len(u_at) - 1
    n_u = unknown.shape[0]
    lo = np.empty(n_u, dtype=np.int64)
    hi = np.empty(n_u, dtype=np.int64)
    cap = 2 * n_art
    for j in range(n_art):
        i0, i1 = index_at[j], index_at[j + 1]
        for k in range(u_at[j], u_at[j + 1]):
            s, e = unknown[k, 0], unknown[k, 1]
            if i1 > i0:
                s, e = index[i0 + s], index[i0 + e - 1] + 1
            lo[k], hi[k] = raw_at[j] + s, raw_at[j] + e
            r = unknown[k, 2]
            cap += 6 * (e - s) + 3 + tail_at[r + 1] - tail_at[r]
    out = np.empty(cap, dtype=np.uint8)
    json_at = np.zeros(n_art + 1, dtype=np.int64)
    ok = np.ones(n_art, dtype=np.bool_)
    p = 0
    for j in range(n_art):
        start = p
        out[p] = 91                                             # [
        p += 1
        for k in range(u_at[j], u_at[j + 1]):
            if k > u_at[j]:
                out[p] = 44                                     # ,
                p += 1
            out[p] = 91                                         # ["
            out[p + 1] = 34
            p, good = _put_text_nb(out, p + 2, raw, lo[k], hi[k])
            if not good:
                ok[j] = False
            p = _copy_nb(out, p, tails, tail_at, unknown[k, 2])
        out[p] = 93                                             # ]
        p += 1
        if not ok[j]:
            p = start
        json_at[j + 1] = p
    return out[:p], json_at, ok
