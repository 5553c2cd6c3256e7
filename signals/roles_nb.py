"""Numba kernels of the role rules: every mention's sentence and clauses in one call, and which
rules' keywords lie inside them.

:func:`mention_spans_nb` gives, for each mention, the spans that :class:`signals.roles.TextSpans`
finds with regex searches one at a time (tests/test_signals_fast.py checks they are equal);
:func:`keyword_status_nb` tells which role rules have a literal of theirs
(:mod:`signals.literals`) inside each mention's clause and sentence.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from signals.regex_nb import run_nb
from signals.text_nb import nearest_in_span_nb

# Character flags (STOP_FLAGS in signals.roles): a sentence stop, a role/theme clause stop, a
# clause stop (、 too), a line break.
F_SENTENCE, F_ROLE, F_CLAUSE, F_BREAK = 1, 2, 4, 8
_F_STOP = np.uint8(16)    # mention_spans_nb: a sentence stop of this text (F_SENTENCE, not soft)


@njit(cache=True)
def mention_spans_nb(lut, units, hard, starts, ends):
    """``[K, 8]`` int64 rows ``(start, end, sentence lo, hi, role clause a, b, clause a, b)`` of
    the mentions ``[starts[k], ends[k])`` of the text whose code points are ``units``; ``lut``
    maps a BMP code point to its flags, ``hard`` is the position of the break that always ends a
    sentence."""
    n = units.shape[0]
    k_n = starts.shape[0]
    out = np.empty((k_n, 8), dtype=np.int64)
    if k_n == 0:
        return out
    flags = np.empty(n, dtype=np.uint8)
    for i in range(n):
        u = units[i]
        flags[i] = lut[u] if u < lut.shape[0] else 0
    for i in range(n):
        # the sentence stops, once: a stop of the copy where soft line breaks are spaces
        # (signals.roles._SOFT_BREAK_RE): a break after a non-stop character and before a
        # character that is not a break is soft, unless it is the hard break (end of the title).
        # _F_STOP is a bit of its own: the class bits stay as they are for the tests after.
        f = flags[i]
        if f & F_SENTENCE and not (f & F_BREAK and i != hard and i >= 1
                                   and not flags[i - 1] & F_SENTENCE
                                   and i + 1 < n and not flags[i + 1] & F_BREAK):
            flags[i] = f | _F_STOP
    for k in range(k_n):
        s = starts[k]
        e = ends[k]
        out[k, 0] = s
        out[k, 1] = e
        lo = 0
        i = s - 1
        while i >= 0:
            if flags[i] & _F_STOP:
                lo = i + 1
                break
            i -= 1
        hi = n
        j = e
        while j < n:
            if flags[j] & _F_STOP:
                hi = j + 1
                break
            j += 1
        out[k, 2] = lo
        out[k, 3] = hi
        for col, bit in ((4, F_ROLE), (6, F_CLAUSE)):
            a = lo
            i = s - 1
            while i >= lo:
                if flags[i] & bit:
                    a = i + 1
                    break
                i -= 1
            b = hi
            j = e
            while j < hi:
                if flags[j] & bit:
                    b = j + 1 if flags[j] & F_SENTENCE else j
                    break
                j += 1
            out[k, col] = a
            out[k, col + 1] = b
    return out


@njit(cache=True)
def keyword_status_nb(occ, node_ptr, node_rule, node_bits, spans, n_rules):
    """``[K, n_rules]`` int8: bit 1 an exact literal of the rule inside mention k's role clause,
    bit 2 a needed literal there, bits 4 and 8 the same inside its sentence. ``occ`` holds the
    ``(start, end, node)`` occurrences of :func:`signals.trie_nb.scan_nb` (sorted by start);
    node ``v``'s rules are ``node_rule[node_ptr[v]:node_ptr[v + 1]]`` (``node_bits``: 1 an
    exact literal of the rule, 2 a needed one, or both); ``spans`` as
    :func:`mention_spans_nb` gives them."""
    k_n = spans.shape[0]
    out = np.zeros((k_n, n_rules), dtype=np.int8)
    for k in range(k_n):
        lo, hi, a, b = spans[k, 2], spans[k, 3], spans[k, 4], spans[k, 5]
        for m in range(occ.shape[0]):
            st = occ[m, 0]
            if st >= hi:
                break
            en = occ[m, 1]
            if st < lo or en > hi:
                continue
            inside = st >= a and en <= b
            node = occ[m, 2]
            for p in range(node_ptr[node], node_ptr[node + 1]):
                bit = node_bits[p]
                r = node_rule[p]
                if inside:
                    out[k, r] |= bit
                out[k, r] |= bit << 2
    return out


@njit(cache=True)
def _nearest_exact_nb(occ, node_ptr, node_rule, node_bits, rule, lo, hi, start, end):
    """The smallest distance from the mention ``[start, end)`` to an occurrence of an exact
    literal of ``rule`` inside ``[lo, hi)`` (0 when one overlaps the mention), -1 when there is
    none, -2 when two of them overlap."""
    best = -1
    reach = -1                    # the furthest end of the occurrences so far (occ is by start)
    for m in range(occ.shape[0]):
        st = occ[m, 0]
        if st >= hi:
            break
        en = occ[m, 1]
        if st < lo or en > hi:
            continue
        node = occ[m, 2]
        mine = False
        for p in range(node_ptr[node], node_ptr[node + 1]):
            if node_rule[p] == rule and node_bits[p] & 1:
                mine = True
                break
        if not mine:
            continue
        if st < reach:
            return -2
        reach = max(reach, en)
        d = st - end if st >= end else start - en if en <= start else 0
        if best < 0 or d < best:
            best = d
    return best


# Rule scopes for decide_nb (signals.roles.SCOPES, in that order).
SCOPE_SENTENCE, SCOPE_AFTER, SCOPE_BEFORE, SCOPE_AFTER_LIST = 0, 1, 2, 3
NEAREST = -3          # decide_nb: no rule matched in the clause; the nearest-match pass is left


@njit(cache=True)
def decide_nb(status, applies, scope, always, spans, prog, code, cmap, ctab, ws, units, occ,
              node_ptr, node_rule, node_bits):
    """Per mention: the index of the rule that decides its role, -1 for the default role, -2
    when a regex must run (a rule without an automaton whose literals do not settle it), or
    :data:`NEAREST` when no rule matches in the clause and the nearest sentence-rule match
    (a regex ``finditer``) decides. Rules are tried in order, as
    :meth:`signals.roles.RoleRules.decide` tries them: a sentence rule by its literals
    (``status``, :func:`keyword_status_nb`) or, when they do not settle it, its automaton
    (``prog[i]``, :class:`signals.literals.Automata`, run by :func:`signals.regex_nb.run_nb`)
    searched in the role clause; an ``after_list`` rule's automaton matched at the mention's end
    up to the end of the role clause; ``after``/``before`` searched in the text after/before the
    mention to the end/start of its clause -- these three only when a needed string of the rule
    lies in the role clause (``status`` bits 1 or 2; else no match can hold one). ``spans`` as
    :func:`mention_spans_nb` gives them; ``units`` the text's code points (a text with a
    character outside the BMP runs no automaton).

    The nearest-match pass (the rule whose ``finditer`` match in the sentence is nearest the
    mention, ties by rule order) is answered here when it can be exactly: every rule with a
    literal in the sentence has only exact ones there (``status`` bit 4, not 8: its inexact
    patterns cannot match), and its exact strings' occurrences in the sentence (``occ``, the
    literal scan; ``node_*`` as :func:`keyword_status_nb` reads them) do not overlap -- then
    they are exactly the matches ``finditer`` reports. Otherwise :data:`NEAREST`."""
    k_n, r_n = status.shape
    out = np.empty(k_n, dtype=np.int64)
    if k_n == 0:
        return out
    top = np.uint32(0)
    for i in range(units.shape[0]):     # no early exit: a reduction the compiler vectorises
        top = max(top, np.uint32(units[i]))
    bmp = top <= 0xFFFF
    for k in range(k_n):
        s0, e0, lo, hi, ca, cb, pa, pb = (spans[k, 0], spans[k, 1], spans[k, 2], spans[k, 3],
                                          spans[k, 4], spans[k, 5], spans[k, 6], spans[k, 7])
        got = -1
        for i in range(r_n):
            if not applies[k, i]:
                continue
            p = prog[i] if bmp else -1
            sc = scope[i]
            if sc == SCOPE_SENTENCE:
                s = status[k, i]
                if s & 1:
                    got = i
                    break
                if not (s & 2 or always[i]):
                    continue
                if p < 0:
                    got = -2
                    break
                hit = run_nb(code, cmap, ctab, ws, p, units, ca, cb, 0, False)
            elif not (status[k, i] & 3 or always[i]):
                continue                     # none of its needed strings in the role clause
            elif p < 0:
                got = -2
                break
            elif sc == SCOPE_AFTER_LIST:
                hit = run_nb(code, cmap, ctab, ws, p, units, e0, cb, 0, True)
            elif sc == SCOPE_AFTER:
                hit = run_nb(code, cmap, ctab, ws, p, units, e0, pb, e0, False)
            else:
                hit = run_nb(code, cmap, ctab, ws, p, units, pa, s0, pa, False)
            if hit:
                got = i
                break
        if got == -1 and not (ca == lo and cb == hi):
            best_d = -1
            for i in range(r_n):             # the nearest match in the sentence
                if not (applies[k, i] and scope[i] == SCOPE_SENTENCE
                        and (status[k, i] & 12 or always[i])):
                    continue
                if always[i] or status[k, i] & 8:
                    got = NEAREST            # an inexact pattern may match: the regex decides
                    break
                d = _nearest_exact_nb(occ, node_ptr, node_rule, node_bits, i, lo, hi, s0, e0)
                if d == -2:
                    got = NEAREST            # overlapping occurrences: finditer skips some
                    break
                if d >= 0 and (best_d < 0 or d < best_d):
                    best_d = d
                    got = i
        out[k] = got
    return out


@njit(cache=True)
def mention_applies_nb(units, starts, ends, names_prog, code, cmap, ctab, ws):
    """``(applies, ok)``: ``[K, rules]`` bool, whether rule i applies to mention k -- its
    ``names`` automaton (``names_prog[i]``, -1 when it has none: every mention) searched in the
    mention alone, as ``names.search(mention)`` -- and False in ``ok`` when a mention holds a
    character outside the BMP (the automata cannot read it: the caller's regexes decide)."""
    k_n, r_n = starts.shape[0], names_prog.shape[0]
    applies = np.ones((k_n, r_n), dtype=np.bool_)
    for k in range(k_n):
        s, e = starts[k], ends[k]
        for i in range(s, e):
            if units[i] > 0xFFFF:
                return applies, False
        for i in range(r_n):
            p = names_prog[i]
            if p < 0:
                continue
            done = False
            for j in range(i):                  # rules sharing the names share the automaton
                if names_prog[j] == p:
                    applies[k, i] = applies[k, j]
                    done = True
                    break
            if not done:
                applies[k, i] = run_nb(code, cmap, ctab, ws, p, units, s, e, s, False)
    return applies, True


# Columns of mention_rows_nb's rows after the 8 of mention_spans_nb.
COL_DECIDED, COL_THEME, COL_A, COL_B, COL_TITLE = 8, 9, 10, 11, 12


@njit(cache=True)
def mention_rows_nb(lut, units, hard, at, applies_id, applies_rows, applies_given, occ,
                    node_ptr, node_rule, node_bits, scope, always, prog, names_prog, code, cmap,
                    ctab, ws, themes, index):
    """Everything of an article's mentions after the name matcher: ``(rows, unsettled)``,
    ``rows`` ``[K, 13]`` int64 rows of :func:`mention_spans_nb`'s 8 columns, then
    :func:`decide_nb`'s answer (``COL_DECIDED``), the row of ``themes`` nearest the mention in
    its role clause or -1 (``COL_THEME``, as :func:`signals.text_nb.nearest_in_span_nb`), the
    mention's span in the original text (``COL_A``, ``COL_B``: through ``index``, the
    normalised text's positions there, or as they are when ``index`` is empty) and 1 when it
    starts before ``hard`` (the title, ``COL_TITLE``); ``unsettled``: how many answers are -2
    or :data:`NEAREST` (a regex decides); -1 when the rules' ``names`` are to be given (a
    mention holds a character outside the BMP: call again with ``applies_given``).

    ``at``: the K mention starts, then their K ends; which rules apply to mention k:
    ``applies_rows[applies_id[k]]`` when ``applies_given``, else
    :func:`mention_applies_nb` with ``names_prog``; ``occ``: the role literals' occurrences
    (other rows of the scan may be there: nodes without rules are skipped); ``themes``: the
    theme hits' rows (start in column 0, sorted)."""
    k_n = at.shape[0] // 2
    starts = at[:k_n]
    spans = mention_spans_nb(lut, units, hard, starts, at[k_n:])
    if applies_given:
        applies = np.empty((k_n, scope.shape[0]), dtype=np.bool_)
        for k in range(k_n):
            applies[k] = applies_rows[applies_id[k]]
    else:
        applies, ok = mention_applies_nb(units, starts, at[k_n:], names_prog, code, cmap, ctab,
                                         ws)
        if not ok:
            return np.empty((0, 13), dtype=np.int64), -1
    status = keyword_status_nb(occ, node_ptr, node_rule, node_bits, spans, scope.shape[0])
    decided = decide_nb(status, applies, scope, always, spans, prog, code, cmap, ctab, ws, units,
                        occ, node_ptr, node_rule, node_bits)
    near = nearest_in_span_nb(themes[:, 0].copy(), starts, spans[:, 4], spans[:, 5])
    out = np.empty((k_n, 13), dtype=np.int64)
    out[:, :8] = spans
    unsettled = 0
    for k in range(k_n):
        s, e = spans[k, 0], spans[k, 1]
        out[k, COL_DECIDED] = decided[k]
        if decided[k] < -1:
            unsettled += 1
        out[k, COL_THEME] = near[k]
        if index.shape[0]:
            out[k, COL_A] = index[s]
            out[k, COL_B] = index[e - 1] + 1
        else:
            out[k, COL_A] = s
            out[k, COL_B] = e
        out[k, COL_TITLE] = 1 if s < hard else 0
    return out, unsettled
