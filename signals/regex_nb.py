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


def step_tables(code: np.ndarray, ctab: np.ndarray) -> np.ndarray:
    """The closures of ``code`` split for :func:`run_nb`'s ``step``: per state ``x`` and
    character class ``c``, the character states of ``x``'s closure that read ``c``, and per
    state the other states of its closure (assertions, look-aheads, the match). One int32
    array: ``n * classes + 1`` offsets of the first lists, ``n + 1`` of the second, then the
    lists (offsets into the array itself). A position's states then cost what can advance
    there, not the whole closure (a pattern of many alternatives has dozens)."""
    n, n_classes = int(code[0]), ctab.shape[1]
    op, arg = code[1:1 + n], code[1 + 2 * n:1 + 3 * n]
    ptr, flat = code[1 + 5 * n:2 + 6 * n], code[2 + 6 * n:]
    live: list[np.ndarray] = []
    other: list[np.ndarray] = []
    for x in range(n):
        closure = flat[ptr[x]:ptr[x + 1]]
        chars = closure[op[closure] == OP_CHAR]
        reads = ctab[arg[chars]].astype(bool)             # [state, class]
        live += [chars[reads[:, c]] for c in range(n_classes)]
        other.append(closure[op[closure] != OP_CHAR])
    head = n * n_classes + 1 + n + 1
    sizes = np.array([len(a) for a in live + other], dtype=np.int64)
    ends = head + np.cumsum(sizes)
    starts = ends - sizes
    offsets = np.concatenate([starts[:len(live)], [ends[len(live) - 1] if live else head],
                              starts[len(live):], [ends[-1] if len(sizes) else head]])
    return np.concatenate([offsets, *live, *other]).astype(np.int32)


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
def run_nb(code, cmap, ctab, ws, start, units, pos, endpos, bol, anchored, step=None):
    """Whether the automaton at ``start`` (of ``code``, ``cmap`` and ``ctab``,
    :meth:`signals.literals.Automata.arrays`) matches at ``pos`` (``anchored``) or at some
    position of ``[pos, endpos]`` of ``units``. With ``step`` (:func:`step_tables` of ``code``
    and ``ctab``) a position expands only the closures' states that can advance on its
    character, and the others; the answer is the same."""
    base = 0
    n = code[0]
    o_out1, o_arg, o_first, o_ptr, o_cl = 1 + n, 1 + 2 * n, 1 + 3 * n, 1 + 5 * n, 2 + 6 * n
    n_classes = ctab.shape[1]
    o_other = n * n_classes + 1                 # (step) where the other states' offsets begin
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
        c = cmap[units[i]] if i < endpos else -1   # the character's class
        while sp > 0:                          # the states of position i
            sp -= 1
            x = ws[st, sp]
            if step is not None:
                if c >= 0:                     # the closure's states that read c: to cur
                    q = x * n_classes + c
                    for p in range(step[q], step[q + 1]):
                        s = step[p]
                        if ws[mk, s] != gen:
                            ws[mk, s] = gen
                            ws[cur, ncur] = s
                            ncur += 1
                src, p0, p1, off = step, step[o_other + x], step[o_other + x + 1], 0
            else:
                src, p0, p1, off = code, code[o_ptr + x], code[o_ptr + x + 1], o_cl
            for p in range(p0, p1):
                s = src[off + p]
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
