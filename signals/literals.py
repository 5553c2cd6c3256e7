"""What literal strings a regex needs: the exact language of a small finite pattern, or a set of
strings one of which every match contains.

The role rules (:mod:`signals.roles`) are user-written regexes searched in each clause; scanning
the text once for literals (:mod:`signals.trie_nb`) answers most of those searches without the
regex engine:

- :func:`finite_strings` -- a pattern such as ``未能?(涨停|封板)`` or ``[首二三]板`` matches exactly
  one of a few strings: the pattern has a match inside ``[a, b)`` if and only if one of them
  occurs inside ``[a, b)``;
- :func:`needed_strings` -- a pattern such as ``提示.{0,6}风险`` or ``\\d+天\\d+板`` cannot match
  unless one of a few strings (``风险``; ``天``) occurs inside the match: without one inside
  ``[a, b)`` there is no match there; with one, the regex decides.

Both read the pattern's parse tree (``re._parser``, the standard library's own parser) and answer
``None`` for anything they do not understand (assertions, back-references, case-insensitive or
atomic parts, unbounded repeats): the caller then always runs the regex. Every answer is a
sufficient or necessary condition of the regex itself, never an approximation.
"""
from __future__ import annotations

import functools
import re

import numpy as np

# The standard library's own regex parser and its opcodes: there is no public API for a parse
# tree (sre_parse, the old name, is deprecated), and reading the very parser that compiles the
# rules keeps every answer true to the regex engine.
_parser = re._parser
C = re._constants

LIMIT = 64            # at most this many strings in a set (a longer list is not worth a scan)
_ASTRAL = 0xFFFF      # the dictionary scan works on UTF-16 units: such strings are not literals


def parse(pattern: re.Pattern | str, flags: int = 0):
    """The parse tree (a list of ``(opcode, argument)`` items) of a compiled pattern, or of a
    pattern's text with ``flags``; ``re.error`` for a bad pattern."""
    if isinstance(pattern, re.Pattern):
        return _parser.parse(pattern.pattern, pattern.flags)
    return _parser.parse(pattern, flags)


def has_backrefs(items) -> bool:
    """Whether a parse tree refers to a group (``\\1``, ``(?(1)..)``): splitting or joining such
    patterns renumbers their groups, so they are never split."""
    for op, av in items:
        if op in (C.GROUPREF, C.GROUPREF_EXISTS):
            return True
        for sub in _children(op, av):
            if has_backrefs(sub):
                return True
    return False


def _children(op, av):
    if op is C.BRANCH:
        return av[1]
    if op is C.SUBPATTERN:
        return [av[3]]
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        return [av[2]]
    if op in (C.ASSERT, C.ASSERT_NOT):
        return [av[1]]
    if op is C.ATOMIC_GROUP:
        return [av]
    return []


def _product(a: list[str], b: list[str]) -> list[str] | None:
    if len(a) * len(b) > LIMIT:
        return None
    return [x + y for x in a for y in b]


def _group_or_branch(op, av, strings_of) -> list[str] | None:
    """``strings_of`` of a group's body (``None`` for a group that changes flags), or the union
    of ``strings_of`` each alternative of a branch (``None`` when one has none or the union
    passes :data:`LIMIT`)."""
    if op is C.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else strings_of(sub)
    out: list[str] = []
    for alt in av[1]:
        got = strings_of(alt)
        if got is None or len(out) + len(got) > LIMIT:
            return None
        out.extend(got)
    return list(dict.fromkeys(out))


def _item_strings(op, av) -> list[str] | None:
    if op is C.LITERAL:
        return [chr(av)] if av <= _ASTRAL and av != 0xFFFD else None
    if op is C.IN:
        chars: list[str] = []
        for iop, iav in av:
            if iop is C.LITERAL:
                chars.append(chr(iav))
            elif iop is C.RANGE and iav[1] - iav[0] < LIMIT:
                chars.extend(chr(c) for c in range(iav[0], iav[1] + 1))
            else:                       # NEGATE, CATEGORY (\d, \w ...), a wide range
                return None
            if len(chars) > LIMIT:
                return None
        if any(ord(c) > _ASTRAL or c == "\ufffd" for c in chars):
            return None
        return list(dict.fromkeys(chars))
    if op in (C.SUBPATTERN, C.BRANCH):
        return _group_or_branch(op, av, _seq_strings)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        lo, hi, sub = av
        if hi is C.MAXREPEAT or hi > 8:
            return None
        body = _seq_strings(sub)
        if body is None:
            return None
        out, cur = [], [""] * 1
        for k in range(hi + 1):
            if k >= lo:
                out.extend(cur)
            if k < hi:
                cur = _product(cur, body)
                if cur is None:
                    return None
            if len(out) > LIMIT:
                return None
        return list(dict.fromkeys(out))
    return None                         # ANY, AT, assertions, atomic/possessive, group references


def _seq_strings(items) -> list[str] | None:
    out = [""]
    for op, av in items:
        got = _item_strings(op, av)
        if got is None:
            return None
        out = _product(out, got)
        if out is None:
            return None
    return list(dict.fromkeys(out))


def finite_strings(items) -> list[str] | None:
    """Every string the parse tree ``items`` can match (no more than :data:`LIMIT`), when that
    set is finite, holds no empty string and the pattern holds no assertion; else ``None``."""
    got = _seq_strings(items)
    if got is None or "" in got:
        return None
    return got


def _better(a: list[str] | None, b: list[str] | None) -> list[str] | None:
    """The more selective of two needed-string sets: longer shortest string, then fewer."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (min(map(len, a)), -len(a))
    kb = (min(map(len, b)), -len(b))
    return b if kb > ka else a


def needed_strings(items) -> list[str] | None:
    """Strings one of which every match of ``items`` contains (consumed, not only looked at),
    or ``None`` when no such set of at most :data:`LIMIT` non-empty strings is found."""
    best = None
    run: list[str] | None = [""]
    for op, av in items:
        got = _item_strings(op, av)
        if got is not None:             # a finite item extends the current run of them
            run = _product(run, got) if run is not None else None
            if run is not None and "" not in run:
                best = _better(best, run)
            if run is None:
                run = got
                if "" not in got:
                    best = _better(best, got)
            continue
        run = [""]
        best = _better(best, _needed_item(op, av))
    return best


def _needed_item(op, av) -> list[str] | None:
    if op in (C.SUBPATTERN, C.BRANCH):  # a branch: each alternative needs one of its strings
        return _group_or_branch(op, av, needed_strings)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        lo, _hi, sub = av
        return needed_strings(sub) if lo >= 1 else None
    if op is C.ATOMIC_GROUP:
        return needed_strings(av)
    return None


def first_chars(items) -> set[str] | None:
    """The characters every match of ``items`` starts with (it consumes one first), or
    ``None`` when that is not a small known set (an assertion, an empty match, a class such as
    ``\\d``, a case-insensitive part ...)."""
    if not items:
        return None
    op, av = items[0]
    if op in (C.LITERAL, C.IN):
        got = _item_strings(op, av)
        return set(got) if got is not None and "" not in got else None
    if op is C.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else first_chars(sub)
    if op is C.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            got = first_chars(alt)
            if got is None:
                return None
            out |= got
        return out
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return first_chars(av[2])
    return None


# ------------------------------------------------------------------ regex -> automaton
# Op codes of an automaton state (signals.regex_nb reads them).
OP_CHAR, OP_SPLIT, OP_EPS, OP_BOL, OP_EOL, OP_EOS, OP_AHEAD, OP_NOT_AHEAD, OP_MATCH = range(9)
MAX_STATES = 50_000           # a pattern whose automaton would be larger keeps its regex
_CATEGORIES = {C.CATEGORY_DIGIT: r"\d", C.CATEGORY_NOT_DIGIT: r"\D", C.CATEGORY_SPACE: r"\s",
               C.CATEGORY_NOT_SPACE: r"\S", C.CATEGORY_WORD: r"\w", C.CATEGORY_NOT_WORD: r"\W"}
_BMP = "".join(map(chr, range(0x10000)))


class Untranslatable(Exception):
    """A pattern (part) :class:`Automata` does not translate: its regex runs instead."""


@functools.cache
def _class_table(regex: str, flags: int) -> np.ndarray:
    """Which BMP characters the one-character ``regex`` matches, as the regex engine says."""
    table = np.zeros(0x10000, dtype=np.uint8)
    at = [m.start() for m in re.finditer(regex, _BMP, flags)]
    table[at] = 1
    return table


class Automata:
    """Regexes translated to one table of automaton states (a Thompson NFA), which
    :mod:`signals.regex_nb` runs in numba: whether a pattern matches at a position or
    anywhere in a window -- the answer of ``match``/``search``, not the span.

    :meth:`add` reads the pattern's parse tree (:func:`parse`) and translates literals, character
    classes (``\\d``, ``\\s``, ``\\w``, ranges, negation: a table over the BMP built by the regex
    engine itself), groups, alternations, repeats (bounded ones unrolled), ``^``/``$``/``\\A``/
    ``\\Z`` and look-aheads without further look-arounds. Anything else -- look-behinds,
    back-references, word boundaries, case-insensitive or multi-line patterns, atomic groups,
    possessive repeats, an automaton over :data:`MAX_STATES` -- gives ``None``: the caller runs
    the regex. Texts with characters outside the BMP are the caller's to send to the regex."""

    def __init__(self):
        self.op: list[int] = []
        self.out1: list[int] = []
        self.out2: list[int] = []
        self.arg: list[int] = []
        self._tables: dict[bytes, int] = {}
        self.tables: list[np.ndarray] = []
        self._first: dict[int, tuple[int, int]] = {}   # start state -> (first characters, asserts)
        self._arrays = None

    def _state(self, op: int, out1: int = -1, out2: int = -1, arg: int = -1) -> int:
        if len(self.op) >= MAX_STATES:
            raise Untranslatable("too many states")
        self.op.append(op)
        self.out1.append(out1)
        self.out2.append(out2)
        self.arg.append(arg)
        self._arrays = None
        return len(self.op) - 1

    def add(self, pattern: re.Pattern | str, flags: int = 0) -> int | None:
        """The start state of ``pattern``'s automaton, or ``None`` when it is not translated
        (the states added on the way stay, unreferenced)."""
        if isinstance(pattern, str):
            pattern = re.compile(pattern, flags)
        if pattern.flags & (re.IGNORECASE | re.MULTILINE | re.LOCALE) \
                or not isinstance(pattern.pattern, str):
            return None
        try:
            tree = parse(pattern)
            if has_backrefs(tree):
                return None
            start = self._seq(tree, self._state(OP_MATCH), pattern.flags, True)
        except (Untranslatable, RecursionError):
            return None
        self._first_chars(start)
        return start

    def _first_chars(self, start: int) -> None:
        """Remember the characters a match from ``start`` can begin with, and which of the
        assertions ``^``, ``$``, ``\\Z`` it can begin with instead (a bit ``1 << op`` each), when
        nothing else can begin it (no look-ahead or empty match on the way): the automaton is
        then started only where one of those characters stands or one of those assertions
        holds."""
        table = np.zeros(0x10000, dtype=np.uint8)
        asserts = 0
        for s in self._closure(start):
            if self.op[s] == OP_CHAR:
                table |= self.tables[self.arg[s]]
            elif self.op[s] in (OP_BOL, OP_EOL, OP_EOS):
                asserts |= 1 << self.op[s]
            else:
                return
        key = table.tobytes()
        got = self._tables.get(key)
        if got is None:
            got = self._tables[key] = len(self.tables)
            self.tables.append(table)
        self._first[start] = (got, asserts)
        self._arrays = None

    def _table(self, items, flags: int) -> int:
        """The index of the character table of one ``LITERAL``/``NOT_LITERAL``/``ANY``/``IN``."""
        table = np.zeros(0x10000, dtype=np.uint8)
        for op, av in items:
            if op is C.LITERAL:
                if av <= 0xFFFF:
                    table[av] = 1
            elif op is C.NOT_LITERAL:
                table[:] = 1
                if av <= 0xFFFF:
                    table[av] = 0
            elif op is C.ANY:
                table[:] = 1
                if not flags & re.DOTALL:
                    table[10] = 0
            elif op is C.RANGE:
                lo, hi = av
                table[lo:min(hi, 0xFFFF) + 1] = 1
            elif op is C.CATEGORY and av in _CATEGORIES:
                table |= _class_table(_CATEGORIES[av], flags & re.ASCII)
            elif op is C.NEGATE:
                continue
            else:
                raise Untranslatable(str(op))
        if items and items[0][0] is C.NEGATE:
            table ^= 1
        key = table.tobytes()
        got = self._tables.get(key)
        if got is None:
            got = self._tables[key] = len(self.tables)
            self.tables.append(table)
        return got

    def _seq(self, items, nxt: int, flags: int, looks: bool) -> int:
        for op, av in reversed(items):
            nxt = self._item(op, av, nxt, flags, looks)
        return nxt

    def _item(self, op, av, nxt: int, flags: int, looks: bool) -> int:
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY):
            return self._state(OP_CHAR, nxt, arg=self._table([(op, av)], flags))
        if op is C.IN:
            return self._state(OP_CHAR, nxt, arg=self._table(av, flags))
        if op is C.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise Untranslatable("flags")
            return self._seq(sub, nxt, flags, looks)
        if op is C.BRANCH:
            starts = [self._seq(alt, nxt, flags, looks) for alt in av[1]]
            entry = starts[-1]
            for s in reversed(starts[:-1]):
                entry = self._state(OP_SPLIT, s, entry)
            return entry
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):      # lazy or greedy: the same answer to "any match?"
            lo, hi, sub = av
            entry = nxt
            if hi is C.MAXREPEAT:
                loop = self._state(OP_SPLIT, -1, nxt)
                self.out1[loop] = self._seq(sub, loop, flags, looks)
                entry = loop
            else:
                for _ in range(hi - lo):
                    entry = self._state(OP_SPLIT, self._seq(sub, entry, flags, looks), nxt)
            for _ in range(lo):
                entry = self._seq(sub, entry, flags, looks)
            return entry
        if op is C.AT:
            kind = {C.AT_BEGINNING: OP_BOL, C.AT_BEGINNING_STRING: OP_BOL, C.AT_END: OP_EOL,
                    C.AT_END_STRING: OP_EOS}.get(av)
            if kind is None:
                raise Untranslatable(str(av))
            return self._state(kind, nxt)
        if op in (C.ASSERT, C.ASSERT_NOT) and looks and av[0] == 1:
            sub = self._seq(av[1], self._state(OP_MATCH), flags, False)
            return self._state(OP_AHEAD if op is C.ASSERT else OP_NOT_AHEAD, nxt, arg=sub)
        raise Untranslatable(str(op))

    def _closure(self, s0: int) -> list[int]:
        """The states reachable from ``s0`` without reading a character and without passing an
        assertion -- character states, assertions and the final state -- in the order a
        split's first branch comes first."""
        got, seen, todo = [], set(), [s0]
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            op = self.op[s]
            if op == OP_SPLIT:
                todo += [self.out2[s], self.out1[s]]
            elif op == OP_EPS:
                todo.append(self.out1[s])
            else:
                got.append(s)
        return got

    def _closures(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_closure` of every state (CSR arrays)."""
        ptr = np.zeros(len(self.op) + 1, dtype=np.int32)
        lists: list[list[int]] = []
        for s0 in range(len(self.op)):
            got = self._closure(s0)
            lists.append(got)
            ptr[s0 + 1] = ptr[s0] + len(got)
        flat = np.array([s for got in lists for s in got], dtype=np.int32)
        return ptr, flat

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(code, cmap, ctab)`` for :mod:`signals.regex_nb`: ``code`` (int32) holds the number
        of states ``n``, then per state its op, next state, argument (a table, or a look-ahead's
        start), the table of its first characters when it starts a pattern (else -1), the
        assertions it can begin with instead (:meth:`_first_chars`), then the ``n + 1`` offsets
        and the lists of :meth:`_closures`. The character tables are kept as
        classes of characters no table tells apart: ``cmap`` (int32 ``[65536]``) gives a BMP
        character's class, ``ctab`` (uint8 ``[tables, classes]``) whether table ``t`` holds
        class ``k`` (a few kilobytes instead of 64 KiB a table)."""
        if self._arrays is None:
            tables = (np.stack(self.tables) if self.tables
                      else np.zeros((1, 0x10000), dtype=np.uint8))
            columns = np.ascontiguousarray(tables.T)          # one row of bytes per character
            _keys, first_at, cmap = np.unique(columns.view(f"V{columns.shape[1]}").ravel(),
                                              return_index=True, return_inverse=True)
            ctab = np.ascontiguousarray(tables[:, first_at])
            first = [-1] * len(self.op)
            asserts = [0] * len(self.op)
            for s, (t, a) in self._first.items():
                first[s] = t
                asserts[s] = a
            ptr, flat = self._closures()
            code = np.concatenate([np.array([len(self.op)] + self.op + self.out1 + self.arg + first
                                            + asserts, dtype=np.int32), ptr, flat]).astype(np.int32)
            self._arrays = (code, cmap.astype(np.int32).ravel(), ctab)
        return self._arrays
