"""Run the automata of :class:`signals.literals.Automata` in numba: does a translated regex
match at a position (``Pattern.match``) or anywhere in a window (``Pattern.search``)?

The text is a ``uint32`` array of BMP code points (the caller keeps texts holding other
characters on the regex path). ``endpos`` is where the text ends for the pattern, as in
``Pattern.match(text, pos, endpos)``: ``$`` matches there or before a line break that is the
last character, a look-ahead sees no further. ``bol`` is where ``^`` matches: 0 for the text, or
the start of a slice when the regex was run on ``text[bol:endpos]``.

The automaton is simulated state set by state set (each position's states once, whatever the
alternatives), with the empty moves of every state precomputed (``closure``), in one loop
without calls (a call passing arrays costs more than a position's work). The states of a
position live in a work space of the caller's (:func:`workspace`), marked with a generation
number, so that a kernel checking many positions allocates nothing. A look-ahead runs as its
own automaton one level down: :func:`_run_plain` is :func:`run_nb` without look-aheads (numba
compiles no recursion, hence the copy).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from signals.literals import OP_AHEAD, OP_BOL, OP_CHAR, OP_EOL, OP_EOS, OP_MATCH

_BOL, _EOL, _EOS = 1 << OP_BOL, 1 << OP_EOL, 1 << OP_EOS


def workspace(n_states: int) -> np.ndarray:
    """An int64 ``[8, 2 n_states + 3]`` work space: per level (rows 0-3, and 4-7 for
    look-aheads) the marks, a position's states, a stack of states to expand, and in the last
    column of the fourth row the generation counter."""
    return np.zeros((8, 2 * n_states + 3), dtype=np.int64)


@njit(cache=True)
def _next_assert(asserts, units, pos, endpos, bol):
    """The first position from ``pos`` where one of the ``asserts`` (bits ``1 << OP_BOL`` ...)
    holds, or ``endpos + 1``."""
    best = endpos + 1
    if asserts & _BOL and pos <= bol < best:
        best = bol
    if asserts & _EOL:
        if pos <= endpos - 1 and units[endpos - 1] == 10:
            best = min(best, endpos - 1)
        elif pos <= endpos:
            best = min(best, endpos)
    if asserts & _EOS and pos <= endpos:
        best = min(best, endpos)
    return best


@njit(cache=True, inline="always")
def may_match_nb(code, cmap, ctab, start, units, pos, endpos, bol, anchored):
    """False when the first-character filter of the automaton at ``start`` (see
    :func:`run_nb`) rules out a match at ``pos`` (``anchored``) or in ``[pos, endpos]``; True
    when :func:`run_nb` must decide. Inlined into the caller: a kernel checking many
    positions pays no call where no match can begin (most of them)."""
    return _first_start(code, cmap, ctab, start, units, pos, endpos, bol, anchored)[0] >= 0


@njit(cache=True, inline="always")
def _first_start(code, cmap, ctab, start, units, pos, endpos, bol, anchored):
    """``(pos, nxt)``: the first position from ``pos`` where a match of the automaton at
    ``start`` can begin by its first-character filter (-1 when none can: ``anchored`` and not
    at ``pos``, or none in ``[pos, endpos]``), and the next position from ``pos`` where an
    assertion it may begin with holds (``endpos + 1`` when it has no filter)."""
    n = code[0]
    f = code[1 + 3 * n + start]
    if f < 0:               # no filter: a match may begin anywhere
        return pos, endpos + 1
    nxt = _next_assert(code[1 + 4 * n + start], units, pos, endpos, bol)
    while pos != nxt and (pos >= endpos or not ctab[f, cmap[units[pos]]]):
        if anchored or pos >= endpos:
            return -1, nxt
        pos += 1
    return pos, nxt


@njit(cache=True)
def _run_plain(code, cmap, ctab, ws, base, start, units, pos, endpos, bol, anchored):
    n = code[0]
    o_out1, o_arg, o_first, o_ptr, o_cl = 1 + n, 1 + 2 * n, 1 + 3 * n, 1 + 5 * n, 2 + 6 * n
    f = code[o_first + start]   # (f >= 0) every match begins with a character of table f
    pos, nxt = _first_start(code, cmap, ctab, start, units, pos, endpos, bol, anchored)
    if pos < 0:                 # ... or where an assertion it begins with holds (nxt)
        return False
    mk, cur, st = base, base + 1, base + 2     # rows: marks, this position's states, stack
    last = ws.shape[1] - 1
    ws[st, 0] = start
    sp = 1
    i = pos
    while True:
        gen = ws[base + 3, last] + 1
        ws[base + 3, last] = gen
        ncur = 0
        while sp > 0:                          # the states of position i
            sp -= 1
            x = ws[st, sp]
            for p in range(code[o_ptr + x], code[o_ptr + x + 1]):
                s = code[o_cl + p]
                if ws[mk, s] == gen:
                    continue
                ws[mk, s] = gen
                o = code[1 + s]
                if o == OP_CHAR:
                    ws[cur, ncur] = s
                    ncur += 1
                elif o == OP_MATCH:
                    return True
                elif o == OP_BOL:
                    if i == bol:
                        ws[st, sp] = code[o_out1 + s]
                        sp += 1
                elif o == OP_EOL:
                    if i == endpos or (i == endpos - 1 and units[i] == 10):
                        ws[st, sp] = code[o_out1 + s]
                        sp += 1
                elif o == OP_EOS:  # noqa: SIM102 (run_nb's copy has a branch after this one)
                    if i == endpos:
                        ws[st, sp] = code[o_out1 + s]
                        sp += 1
        if i >= endpos:
            return False
        c = cmap[units[i]]                     # the character's class
        for k in range(ncur):                  # read character i
            s = ws[cur, k]
            if ctab[code[o_arg + s], c]:
                ws[st, sp] = code[o_out1 + s]
                sp += 1
        i += 1
        if not anchored:
            if f >= 0 and i > nxt:
                nxt = _next_assert(code[o_first + n + start], units, i, endpos, bol)
            if f < 0 or i == nxt or (i < endpos and ctab[f, cmap[units[i]]]):
                ws[st, sp] = start
                sp += 1
            elif sp == 0:                      # nothing alive: to the next possible start
                while i != nxt and (i >= endpos or not ctab[f, cmap[units[i]]]):
                    if i >= endpos:
                        return False
                    i += 1
                ws[st, 0] = start
                sp = 1
        elif sp == 0:
            return False


@njit(cache=True)
def run_nb(code, cmap, ctab, ws, start, units, pos, endpos, bol, anchored):
    """Whether the automaton at ``start`` (of ``code``, ``cmap`` and ``ctab``,
    :meth:`signals.literals.Automata.arrays`) matches at ``pos`` (``anchored``) or at some
    position of ``[pos, endpos]`` of ``units``."""
    base = 0
    n = code[0]
    o_out1, o_arg, o_first, o_ptr, o_cl = 1 + n, 1 + 2 * n, 1 + 3 * n, 1 + 5 * n, 2 + 6 * n
    f = code[o_first + start]   # (f >= 0) every match begins with a character of table f
    pos, nxt = _first_start(code, cmap, ctab, start, units, pos, endpos, bol, anchored)
    if pos < 0:                 # ... or where an assertion it begins with holds (nxt)
        return False
    mk, cur, st = base, base + 1, base + 2     # rows: marks, this position's states, stack
    last = ws.shape[1] - 1
    ws[st, 0] = start
    sp = 1
    i = pos
    while True:
        gen = ws[base + 3, last] + 1
        ws[base + 3, last] = gen
        ncur = 0
        while sp > 0:                          # the states of position i
            sp -= 1
            x = ws[st, sp]
            for p in range(code[o_ptr + x], code[o_ptr + x + 1]):
                s = code[o_cl + p]
                if ws[mk, s] == gen:
                    continue
                ws[mk, s] = gen
                o = code[1 + s]
                if o == OP_CHAR:
                    ws[cur, ncur] = s
                    ncur += 1
                elif o == OP_MATCH:
                    return True
                elif o == OP_BOL:
                    if i == bol:
                        ws[st, sp] = code[o_out1 + s]
                        sp += 1
                elif o == OP_EOL:
                    if i == endpos or (i == endpos - 1 and units[i] == 10):
                        ws[st, sp] = code[o_out1 + s]
                        sp += 1
                elif o == OP_EOS:
                    if i == endpos:
                        ws[st, sp] = code[o_out1 + s]
                        sp += 1
                elif _run_plain(code, cmap, ctab, ws, 4, code[o_arg + s], units, i, endpos, bol,
                                True) == (o == OP_AHEAD):
                    ws[st, sp] = code[o_out1 + s]
                    sp += 1
        if i >= endpos:
            return False
        c = cmap[units[i]]                     # the character's class
        for k in range(ncur):                  # read character i
            s = ws[cur, k]
            if ctab[code[o_arg + s], c]:
                ws[st, sp] = code[o_out1 + s]
                sp += 1
        i += 1
        if not anchored:
            if f >= 0 and i > nxt:
                nxt = _next_assert(code[o_first + n + start], units, i, endpos, bol)
            if f < 0 or i == nxt or (i < endpos and ctab[f, cmap[units[i]]]):
                ws[st, sp] = start
                sp += 1
            elif sp == 0:                      # nothing alive: to the next possible start
                while i != nxt and (i >= endpos or not ctab[f, cmap[units[i]]]):
                    if i >= endpos:
                        return False
                    i += 1
                ws[st, 0] = start
                sp = 1
        elif sp == 0:
            return False

