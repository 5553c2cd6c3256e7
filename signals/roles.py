"""Event roles: which kind of news a stock mention is, decided by the text around it.

The rules are data (``roles.toml``): an ordered list of ``[[role]]`` tables, each with a
``name``, a ``weight``, a ``scope`` (``sentence``, ``after`` or ``before``) and regex
``patterns``, and optionally ``names``: regexes on the mention itself (``^...$`` is the whole
mention), so that a rule applies only to some companies (brokers, data vendors). The first rule
that matches decides; no match gives ``default_role`` with ``default_weight``. Built-in roles:

=============  ======  ====================================================================
role           weight  what the sentence says
=============  ======  ====================================================================
source          0.0    a listed broker/vendor quoted as author or source (国海证券…研报中表示)
risk           -1.0    减持, 问询, 风险提示, 跌停, 闪崩, 炸板, 天地板, 跌超 ...
momentum        1.0    涨停, 连板, N天M板, 20CM, 一字板, 高开, 竞价 ...
cooperation     0.8    合作, 互动平台, 调研, 签约, 中标, 披露 ...
broker          0.6    研报, 推荐, 受益标的, 目标价, 看好 ...
catalyst        0.5    大会, 发布, 上线, 推出, 峰会, 政策 ...
mention         0.3    (default) named without any of the above
=============  ======  ====================================================================

Risk comes before momentum on purpose: "由涨停转至跌停" is a risk event, not a limit-up.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from backtests.core.errors import ConfigError, did_you_mean
from signals.config import load_toml, string_list
from signals.literals import Automata, finite_strings, has_backrefs, needed_strings, parse
from signals.regex_nb import workspace
from signals.roles_nb import (
    F_BREAK,
    F_CLAUSE,
    F_ROLE,
    F_SENTENCE,
    NEAREST,
    SCOPE_AFTER,
    SCOPE_AFTER_LIST,
    SCOPE_BEFORE,
    SCOPE_SENTENCE,
    decide_nb,
    keyword_status_nb,
)
from signals.text_nb import code_points
from signals.trie_nb import Trie

ROLE_KEYS = ("default_role", "default_weight", "role", "board_roles")
RULE_KEYS = ("name", "weight", "scope", "patterns", "names")
SCOPES = ("sentence", "after", "before", "after_list")
assert [SCOPES.index(s) for s in SCOPES] == [SCOPE_SENTENCE, SCOPE_AFTER, SCOPE_BEFORE,
                                              SCOPE_AFTER_LIST], "signals.roles_nb scope codes out of step"
# Board states a market gives a mention (signals.marks: board_state), in the order they are
# checked; docs/signals.md "Market-confirmed roles".
BOARD_STATES = ("limit_down", "streak", "limit_up", "broken")


@dataclass(frozen=True)
class RoleRule:
    name: str
    weight: float
    scope: str
    pattern: re.Pattern
    names: re.Pattern | None = None      # the rule applies only to mentions matching this
    parts: tuple[str, ...] = ()          # the patterns ``pattern`` joins (an alternation)


def _spans(cache: dict, key, pattern: re.Pattern, text: str, lo: int, hi: int) -> list:
    """The spans of ``pattern`` in ``text[lo:hi]``, remembered in ``cache`` under ``key``."""
    found = cache.get(key)
    if found is None:
        found = cache[key] = [m.span() for m in pattern.finditer(text, lo, hi)]
    return found


def _closer(best, rule, spans, start: int, end: int):
    """``best`` or ``(distance, rule)`` for the span of ``spans`` nearest the mention at
    ``start:end``, whichever is nearer (the earlier rule wins a tie; ``rule`` is any label of
    the rule)."""
    for a, b in spans:
        dist = a - end if a >= end else start - b if b <= start else 0
        if best is None or dist < best[0]:
            best = (dist, rule)
    return best


class RoleRules:
    """Compiled role rules; :meth:`decide` gives ``(role, weight)`` for one mention."""

    def __init__(self, rules: list[RoleRule], default_role: str, default_weight: float,
                 source: str = "", board_roles: dict[str, str] | None = None):
        self.rules = rules
        self.board_roles = dict(board_roles or {})
        self.default_role = default_role
        self.default_weight = float(default_weight)
        self.source = source
        self.weights: dict[str, float] = {}
        for r in rules:
            self.weights.setdefault(r.name, r.weight)
        self.weights.setdefault(default_role, self.default_weight)
        # any sentence-rule keyword at all: an exact pre-filter (an alternation tries every
        # pattern at every position), so a clause without one skips the rule-by-rule searches
        sentence = [f"(?:{r.pattern.pattern})" for r in rules if r.scope == "sentence"]
        self._any = re.compile("|".join(sentence)) if sentence else None
        self._applies: dict[str, tuple[bool, ...]] = {}     # mention text -> rule applies
        # (role, weight) of each rule, the default last: decide_nb's answers index it
        self._choices = [(r.name, r.weight) for r in rules] + [(self.default_role,
                                                                 self.default_weight)]
        self._applies_id: dict[str, int] = {}                # mention text -> row below
        self._applies_rows: dict[tuple[bool, ...], int] = {}
        self._applies_arr = np.zeros((0, len(rules)), dtype=np.bool_)
        self._applies_lock = threading.Lock()
        self._keywords = _Keywords(rules)
        self._named = any(r.names is not None for r in rules)
        self._all_apply = np.ones((1, len(rules)), dtype=np.bool_)

    def _rules_for(self, mention: str) -> tuple[bool, ...]:
        got = self._applies.get(mention)
        if got is None:
            got = self._applies[mention] = tuple(r.names is None or r.names.search(mention) is not None
                                                 for r in self.rules)
        return got

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_applies_lock"]          # pickled for a Dask cluster: a new lock there
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._applies_lock = threading.Lock()

    def _applies_ids(self, mentions) -> list[int]:
        """The row of :attr:`_applies_arr` (:meth:`_rules_for`) of each mention text: a small
        table of the distinct answers (a few: only rules with ``names`` differ)."""
        ids = self._applies_id
        idx = list(map(ids.get, mentions))
        if None in idx:                         # a mention text not seen before
            for k, mention in enumerate(mentions):
                if idx[k] is not None:
                    continue
                row = self._rules_for(mention)
                with self._applies_lock:        # the table only grows (Dask threads share it)
                    i = self._applies_rows.setdefault(row, len(self._applies_rows))
                    if i >= len(self._applies_arr):
                        self._applies_arr = np.array(list(self._applies_rows), dtype=np.bool_)
                ids[mention] = idx[k] = i
        return idx

    def _applies_table(self, text: str, rows: list) -> np.ndarray:
        """``[K, rules]`` bool: :meth:`_rules_for` of each mention (rows of spans)."""
        idx = self._applies_ids([text[r[0]:r[1]] for r in rows])
        return self._applies_arr[idx]

    def fingerprint(self) -> tuple:
        """Everything that decides :meth:`decide`, as plain values (for rules versions)."""
        return ([(r.name, r.weight, r.scope, r.pattern.pattern,
                  r.names.pattern if r.names else None) for r in self.rules],
                self.default_role, self.default_weight, sorted(self.board_roles.items()))

    @property
    def names(self) -> tuple[str, ...]:
        """Role names in rule order, the default last."""
        return tuple(n for n in self.weights if n != self.default_role) + (self.default_role,)

    def decide(self, spans: TextSpans, start: int, end: int, sentence: tuple[int, int],
               cache: dict) -> tuple[str, float]:
        """Role of the mention ``[start, end)`` of ``spans.text`` inside ``sentence`` (a
        ``(lo, hi)`` span).

        Two passes: first every rule, in order, on the mention's own **clause** (the text
        between ，,:; or line breaks around it; a 、 list is one clause), so that "甲涨停，乙跌停"
        gives each its own role; only when no rule matches there, the ``sentence`` rules on the
        whole sentence ("甲、乙 / 等多股涨停" broken across lines), where the match **nearest**
        the mention wins, ties by rule order ("除了甲，多只个股涨停，而在跌停股中，乙…" is
        momentum for 甲). ``cache`` memoises sentence-scope results per (rule, span) within one article."""
        text = spans.text
        lo, hi = sentence
        mention = text[start:end]
        clause = spans.around(start, end, ROLE_CLAUSE_RE, lo, hi)
        applies = self._rules_for(mention)
        key = (-1, clause)
        keyword = cache.get(key)
        if keyword is None:
            keyword = cache[key] = self._any is not None and self._any.search(text, *clause) is not None
        for i, rule in enumerate(self.rules):
            if not applies[i]:
                continue
            if rule.scope == "sentence":
                if not keyword:
                    continue
                key = (i, clause)
                hit = cache.get(key)
                if hit is None:
                    hit = cache[key] = rule.pattern.search(text, *clause) is not None
            elif rule.scope == "after_list":
                hit = rule.pattern.match(text, end, clause[1]) is not None
            else:
                part = spans.around(start, end, CLAUSE_RE, lo, hi)
                seg = text[end:part[1]] if rule.scope == "after" else text[part[0]:start]
                hit = rule.pattern.search(seg) is not None
            if hit:
                return rule.name, rule.weight
        if clause != (lo, hi):        # the nearest sentence-rule match wins, ties by rule order
            best = None
            for i, rule in enumerate(self.rules):
                if rule.scope != "sentence" or not applies[i]:
                    continue
                best = _closer(best, rule, _spans(cache, (i, sentence, "all"), rule.pattern,
                                                  text, lo, hi), start, end)
            if best is not None:
                return best[1].name, best[1].weight
        return self.default_role, self.default_weight

    def decide_all(self, text: str, spans: np.ndarray, cache: dict) -> list[tuple[str, float]]:
        """:meth:`decide` for every mention of ``text`` at once: ``spans`` holds one row per
        mention, as :func:`signals.roles_nb.mention_spans_nb` gives them (its start and end,
        sentence, role clause and clause).

        The same answers as :meth:`decide`, with fewer regex searches: one scan of the text for
        the rules' literals (:class:`_Keywords`) says which sentence rules cannot match in a
        clause (none of their literals there) and which surely do (a pattern that is a finite
        set of strings, one of which is there); the rules' automata
        (:class:`signals.literals.Automata`) answer the rest in the same kernel
        (:func:`signals.roles_nb.decide_nb`). The regex runs only for a rule without an
        automaton and for the nearest-match pass over the sentence."""
        kw = self._keywords
        rows = spans.tolist()
        if kw.exact:
            occ, status = kw.status(text, spans)
            if self._named:
                applies = self._applies_table(text, rows)
            else:
                applies = np.ones(status.shape, dtype=np.bool_)
            # settled by the literals and the automata (most mentions), else -2 (_settle runs
            # the regexes) or NEAREST (only _settle's nearest-match pass)
            decided = decide_nb(status, applies, kw.scope, kw.always_arr, spans, kw.prog,
                                *kw.arrays, kw.workspace(), code_points(text), occ,
                                kw.node_ptr, kw.node_rule, kw.node_bits).tolist()
        else:
            decided = [-2] * len(rows)
            status = None
        self._settle(text, rows, decided, status, cache)
        choice = self._choices
        return [choice[d] for d in decided]       # -1: the default (last)

    def applies(self, mentions) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, table)``: which rules apply to each mention text (``table[ids[k]]``, bool
        rows in rule order; :func:`signals.roles_nb.mention_rows_nb` reads them so when it
        is given them: see :attr:`applies_in_kernel`)."""
        if not self._named:
            return np.zeros(len(mentions), dtype=np.int64), self._all_apply
        ids = np.array(self._applies_ids(mentions), dtype=np.int64)
        return ids, self._applies_arr

    @property
    def applies_in_kernel(self) -> bool:
        """Whether :func:`signals.roles_nb.mention_rows_nb` can find which rules apply to each
        mention itself (every rule's ``names`` translates to an automaton), so that
        :meth:`applies` is needed only for a mention holding a character outside the BMP."""
        return self._keywords.names_in_kernel

    def literals(self) -> dict[str, dict[int, int]]:
        """The sentence rules' literals (:class:`_Keywords`): each string's ``{rule: bits}``
        (1 an exact string of the rule, 2 a needed one), for a scan of the text's
        (:func:`payload_arrays` makes the kernels' tables of them)."""
        return self._keywords.words

    def kernel_tables(self) -> tuple:
        """``(scope, always, prog, names_prog, code, cmap, ctab)``: the rules as
        :func:`signals.roles_nb.mention_rows_nb` reads them (scope codes, the rules whose regex
        always runs, each rule's automaton, its ``names``' automaton or -1, and the automata's
        arrays)."""
        kw = self._keywords
        return (kw.scope, kw.always_arr, kw.prog, kw.names_prog, *kw.arrays)

    def workspace(self) -> np.ndarray:
        """The automata's work space of this thread."""
        return self._keywords.workspace()

    def settle(self, text: str, rows: np.ndarray, decided: list) -> None:
        """Replace each answer of ``decided`` that :func:`signals.roles_nb.decide_nb` leaves
        to a regex (-2, NEAREST) by the index of the rule that decides or -1 (the default), as
        :meth:`decide_all` does; ``rows``: the mentions' spans (:func:`mention_spans_nb`'s 8
        columns)."""
        kw = self._keywords
        status = kw.status(text, rows)[1] if kw.exact else None
        self._settle(text, rows.tolist(), decided, status, {})

    @property
    def choices(self) -> list[tuple[str, float]]:
        """``(role, weight)`` of each rule, the default last (index -1)."""
        return self._choices

    def _settle(self, text: str, rows: list, decided: list, status, cache: dict) -> None:
        """Replace each -2 and :data:`signals.roles_nb.NEAREST` of ``decided`` (per mention,
        ``rows`` of spans) by the index of the rule that decides, or -1 (the default), by the
        regexes as :meth:`decide` runs them; ``status``: :func:`keyword_status_nb`'s, or None
        when the literals cannot be read (``decide``'s own keyword test)."""
        kw = self._keywords
        rules = self.rules
        for k, d in enumerate(decided):
            if d >= -1:
                continue
            start, end, lo, hi, ca, cb, pa, pb = rows[k]
            applies = self._rules_for(text[start:end])
            clause = (ca, cb)
            if status is None:          # rules kw cannot read: decide's own keyword test
                key = (-1, clause)
                keyword = cache.get(key)
                if keyword is None:
                    keyword = cache[key] = (self._any is not None
                                            and self._any.search(text, ca, cb) is not None)
                st = None
            else:
                keyword, st = True, status[k].tolist()
            found = -1
            for i, rule in enumerate(rules if d != NEAREST else ()):
                if not applies[i]:
                    continue
                if rule.scope == "sentence":
                    if not keyword:
                        continue
                    if st is not None and st[i] & 1:
                        found = i
                        break
                    if st is not None and not st[i] & 2 and not kw.always[i]:
                        continue                          # none of its literals in the clause
                    key = (i, clause)
                    hit = cache.get(key)
                    if hit is None:
                        hit = cache[key] = rule.pattern.search(text, ca, cb) is not None
                elif st is not None and not st[i] & 3 and not kw.always[i]:
                    continue                  # none of its needed strings in the role clause
                elif rule.scope == "after_list":
                    hit = rule.pattern.match(text, end, cb) is not None
                else:
                    seg = text[end:pb] if rule.scope == "after" else text[pa:start]
                    hit = rule.pattern.search(seg) is not None
                if hit:
                    found = i
                    break
            if found < 0 and clause != (lo, hi):   # nearest sentence-rule match, as decide
                best = None
                for i, rule in enumerate(rules):
                    if rule.scope != "sentence" or not applies[i]:
                        continue
                    if st is not None and not st[i] & 12 and not kw.always[i]:
                        continue                          # none of its literals in the sentence
                    best = _closer(best, i, _spans(cache, (i, (lo, hi), "all"), rule.pattern,
                                                   text, lo, hi), start, end)
                if best is not None:
                    found = best[1]
            decided[k] = found

    def confirm(self, role: str, weight: float, board_state: str) -> tuple[str, float]:
        """The market-confirmed role: a mention the text leaves at the default role takes
        ``board_roles[board_state]`` (``roles.toml`` [board_roles]) when there is one."""
        if role == self.default_role and board_state in self.board_roles:
            name = self.board_roles[board_state]
            return name, self.weights[name]
        return role, weight


class _Keywords:
    """The literals of the role rules (:mod:`signals.literals`) in one dictionary scan.

    Per sentence rule: ``exact`` strings (a pattern of the rule matches exactly these: one of
    them inside a clause is a match there) and ``needed`` ones (a pattern can match only around
    one of them); per rule of another scope (``after``, ``before``, ``after_list``) without
    ``names``, needed ones only (its match must hold one, inside the role clause: without one
    there, its automaton or regex need not run); ``always[i]``: some pattern of rule ``i`` has
    neither, so its regex always runs. ``exact`` is False when the rules cannot be split into
    their patterns (a back-reference renumbers groups):
    :meth:`RoleRules.decide_all` then searches as :meth:`RoleRules.decide` does."""

    def __init__(self, rules: list[RoleRule]):
        self.always = [True] * len(rules)
        self.trie = Trie()
        trees = [parse(r.pattern) for r in rules]
        # a back-reference renumbers groups: no literals and no automata, every rule's regex runs
        self.exact = not any(has_backrefs(t) for t in trees)
        patterns = [r.pattern for r in rules]     # what the automata answer, per rule
        self.words: dict[str, dict[int, int]] = {}  # literal -> {rule: 1 exact | 2 needed}
        for i, (rule, tree) in enumerate(zip(rules, trees)):
            sentence = rule.scope == "sentence"
            # a rule of another scope matches only where one of its strings is: they are
            # needed strings (a match beside the mention, not anywhere in the clause); kept only
            # for a rule every mention tries (a rule with ``names`` tries few: its strings
            # would cost the scan of every text more than they save)
            if (not self.exact or rule.pattern.flags & re.IGNORECASE
                    or not sentence and rule.names is not None):
                continue
            always = False
            inexact: list[str | None] = []
            for text, piece in _pieces(rule, tree):
                words, exact = finite_strings(piece), sentence
                if words is None:
                    inexact.append(text)
                if words is None:
                    words, exact = needed_strings(piece), False
                if words is None:
                    always = True
                    continue
                for w in words:
                    got = self.words.setdefault(w, {})
                    got[i] = got.get(i, 0) | (1 if exact else 2)
            self.always[i] = always
            if sentence and inexact and None not in inexact:
                # without an exact string of the rule in a clause only these can match there
                patterns[i] = re.compile("|".join(f"(?:{p})" for p in inexact),
                                         rule.pattern.flags)
        # every rule as an automaton (-1: not translated, its regex runs)
        auto = Automata()
        self.prog = np.array([-1 if not self.exact or (got := auto.add(p)) is None else got
                              for p in patterns], dtype=np.int64)
        # each rule's names as an automaton too (-1: no names, every mention): which rules
        # apply to a mention is then found in the kernel, unless one does not translate
        names: dict[str, int | None] = {}
        for r in rules:
            if r.names is not None and r.names.pattern not in names:
                names[r.names.pattern] = auto.add(r.names)
        self.names_in_kernel = None not in names.values()
        self.names_prog = np.array([-1 if r.names is None or names[r.names.pattern] is None
                                    else names[r.names.pattern] for r in rules], dtype=np.int64)
        self.arrays = auto.arrays()
        self._n_states = len(auto.op)
        self._local = threading.local()
        self.n_rules = len(rules)
        self.scope = np.array([SCOPES.index(r.scope) for r in rules], dtype=np.int64)
        self.always_arr = np.array(self.always, dtype=np.bool_)
        self.node_ptr, self.node_rule, self.node_bits = payload_arrays(self.trie, self.words)
        self.empty = not self.words

    def workspace(self) -> np.ndarray:
        """The automata's work space of this thread (:func:`signals.regex_nb.workspace`)."""
        ws = getattr(self._local, "ws", None)
        if ws is None:
            ws = self._local.ws = workspace(self._n_states)
        return ws

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_local", None)           # pickled for a Dask cluster: rebuilt there
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def status(self, text: str, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(occurrences, status)``: the literals' ``(start, end, node)`` in ``text`` and
        :func:`signals.roles_nb.keyword_status_nb` for the mention spans."""
        occ = self.trie.find(text) if not self.empty else np.zeros((0, 3), dtype=np.int64)
        return occ, keyword_status_nb(occ, self.node_ptr, self.node_rule, self.node_bits, spans,
                                      self.n_rules)


def payload_arrays(trie: Trie, words: dict[str, dict[int, int]]) -> tuple[np.ndarray, ...]:
    """Add the literals ``words`` (``{rule: bits}`` each, :meth:`RoleRules.literals`) to
    ``trie`` and return ``(node_ptr, node_rule, node_bits)`` for it (add no keys after):
    node ``v``'s rules are ``node_rule[node_ptr[v]:node_ptr[v + 1]]``, in rule order, with
    their ``node_bits`` (:func:`signals.roles_nb.keyword_status_nb`)."""
    payload: dict[int, dict[int, int]] = {}
    for w, got in words.items():
        mine = payload.setdefault(trie.add(w), {})    # words the trie cannot tell apart share
        for rule, bits in got.items():
            mine[rule] = mine.get(rule, 0) | bits
    ptr = np.zeros(trie.n_nodes + 1, dtype=np.int64)
    for node, got in payload.items():
        ptr[node + 1] = len(got)
    node_ptr = np.cumsum(ptr)
    node_rule = np.zeros(int(node_ptr[-1]), dtype=np.int64)
    node_bits = np.zeros(int(node_ptr[-1]), dtype=np.int8)
    for node, got in payload.items():
        at = int(node_ptr[node])
        for j, (rule, bits) in enumerate(sorted(got.items())):
            node_rule[at + j] = rule
            node_bits[at + j] = bits
    return node_ptr, node_rule, node_bits


def _pieces(rule: RoleRule, tree) -> list[tuple[str | None, list]]:
    """``(text, parse tree)`` of a rule's patterns (the rule matches where one of them does),
    or of its whole pattern (text ``None``) when it cannot be split."""
    if rule.parts and rule.pattern.pattern == "|".join(f"(?:{p})" for p in rule.parts):
        try:
            return [(p, parse(p, rule.pattern.flags)) for p in rule.parts]
        except re.error:
            pass
    return [(None, tree)]


# TextSpans.around keeps a sentence stop inside the span and leaves any other stop out, so every
# stop class is built from these characters.
SENTENCE_STOPS = "。!?;！？；\n"
SENTENCE_RE = re.compile(f"[{SENTENCE_STOPS}]")
CLAUSE_RE = re.compile(f"[{SENTENCE_STOPS}，,、:：]")
ROLE_CLAUSE_RE = re.compile(f"[{SENTENCE_STOPS}，,:：]")          # a 、 list stays one clause
# A line break ends a sentence only after a sentence stop, before or after another line break,
# or at the end of the title; any other is a line wrapped in the middle of a sentence
# ("天娱数科、居然智家\n等多股涨停"), or a list under a heading ("涨停个股：\n天娱数科\n...").
_SOFT_BREAK_RE = re.compile(r"\n(?<=[^。!?;！？；\n]\n)(?=[^\n])")      # the break first: fast


# Flags of each BMP character for signals.roles_nb.mention_spans_nb (the classes above).
STOP_FLAGS = np.zeros(0x10000, dtype=np.uint8)
for _chars, _bit in ((SENTENCE_STOPS, F_SENTENCE), (SENTENCE_STOPS + "，,:：", F_ROLE),
                     (SENTENCE_STOPS + "，,、:：", F_CLAUSE), ("\n", F_BREAK)):
    for _c in _chars:
        STOP_FLAGS[ord(_c)] |= _bit


class TextSpans:
    """Sentence and clause look-ups in one normalised text: a regex search forward on the text
    and backward on its reverse (computed once). Sentences are split on a copy where line
    breaks inside a sentence (see ``_SOFT_BREAK_RE``) are spaces; ``hard`` positions (the end
    of the title) always split."""

    def __init__(self, text: str, hard: tuple[int, ...] = ()):
        self.text = text
        self.rtext = text[::-1]
        self.n = len(text)
        stext = _SOFT_BREAK_RE.sub(" ", text) if "\n" in text else text
        if hard and stext is not text:
            chars = list(stext)
            for i in hard:
                if 0 <= i < self.n and text[i] == "\n":
                    chars[i] = "\n"
            stext = "".join(chars)
        self.stext = stext
        self.rstext = stext[::-1] if stext is not text else self.rtext

    def around(self, start: int, end: int, stops: re.Pattern, lo: int = 0,
               hi: int | None = None, *, sentences: bool = False) -> tuple[int, int]:
        """The span of ``text[lo:hi]`` around ``[start, end)`` delimited by ``stops`` (a
        character class): from just after the last stop before ``start`` to the first stop at or
        after ``end`` -- included when it ends a sentence (。!?; line break), excluded otherwise.
        ``sentences``: search the copy with soft line breaks removed."""
        n = self.n
        hi = n if hi is None else hi
        text, rtext = (self.stext, self.rstext) if sentences else (self.text, self.rtext)
        back = stops.search(rtext, n - start, n - lo)
        a = n - back.start() if back else lo
        fwd = stops.search(text, end, hi)
        if fwd is None:
            return a, hi
        return a, (fwd.end() if fwd.group() in SENTENCE_STOPS else fwd.start())

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """``(lo, hi)`` of the sentence holding ``[start, end)`` (split after 。!?; and line
        breaks that end a sentence)."""
        return self.around(start, end, SENTENCE_RE, sentences=True)


def load_roles(path: str | os.PathLike | None = None) -> RoleRules:
    """Read ``roles.toml`` (the packaged default when ``path`` is None)."""
    doc, label = load_toml(path, "roles", ROLE_KEYS)
    default_role = doc.get("default_role", "mention")
    default_weight = doc.get("default_weight", 0.0)
    if not isinstance(default_role, str) or not default_role:
        raise ConfigError(f"{label}: default_role = {default_role!r}: expected a role name")
    if not isinstance(default_weight, (int, float)) or isinstance(default_weight, bool):
        raise ConfigError(f"{label}: default_weight = {default_weight!r}: expected a number")
    raw = doc.get("role", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{label}: expected at least one [[role]] table")
    out = []
    for n, tab in enumerate(raw, 1):
        where = f"{label}: [[role]] #{n}"
        for key in tab:
            if key not in RULE_KEYS:
                raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, RULE_KEYS)}")
        name, weight, scope = tab.get("name"), tab.get("weight"), tab.get("scope", "sentence")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: name = {name!r}: expected a role name")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool):
            raise ConfigError(f"{where} ({name}): weight = {weight!r}: expected a number")
        if scope not in SCOPES:
            raise ConfigError(f"{where} ({name}): scope = {scope!r}: expected one of "
                              f"{', '.join(SCOPES)}{did_you_mean(str(scope), SCOPES)}")
        patterns = string_list(tab, "patterns", f"{where} ({name})")
        if not patterns:
            raise ConfigError(f"{where} ({name}): patterns is empty")
        names = string_list(tab, "names", f"{where} ({name})")
        try:
            rx = re.compile("|".join(f"(?:{p})" for p in patterns))
            names_rx = re.compile("|".join(f"(?:{p})" for p in names)) if names else None
        except re.error as exc:
            raise ConfigError(f"{where} ({name}): bad regex in patterns/names ({exc})") from None
        out.append(RoleRule(name, float(weight), scope, rx, names_rx, tuple(patterns)))
    board = doc.get("board_roles", {})
    if not isinstance(board, dict):
        raise ConfigError(f"{label}: [board_roles] must map board states to role names")
    known = {r.name for r in out} | {default_role}
    for state, role in board.items():
        if state not in BOARD_STATES:
            raise ConfigError(f"{label}: [board_roles] {state}: unknown board state"
                              f"{did_you_mean(state, BOARD_STATES)}; expected one of "
                              f"{', '.join(BOARD_STATES)}")
        if role not in known:
            raise ConfigError(f"{label}: [board_roles] {state} = {role!r}: not a role of this "
                              f"file{did_you_mean(str(role), sorted(known))}")
    return RoleRules(out, default_role, default_weight, label, board)
