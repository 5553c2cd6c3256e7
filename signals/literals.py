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

import re

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
