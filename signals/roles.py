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
from dataclasses import dataclass

from backtests.core.errors import ConfigError, did_you_mean
from signals.config import load_toml, string_list

ROLE_KEYS = ("default_role", "default_weight", "role")
RULE_KEYS = ("name", "weight", "scope", "patterns", "names")
SCOPES = ("sentence", "after", "before")


@dataclass(frozen=True)
class RoleRule:
    name: str
    weight: float
    scope: str
    pattern: re.Pattern
    names: re.Pattern | None = None      # the rule applies only to mentions matching this


class RoleRules:
    """Compiled role rules; :meth:`decide` gives ``(role, weight)`` for one mention."""

    def __init__(self, rules: list[RoleRule], default_role: str, default_weight: float,
                 source: str = ""):
        self.rules = rules
        self.default_role = default_role
        self.default_weight = float(default_weight)
        self.source = source
        self.weights: dict[str, float] = {}
        for r in rules:
            self.weights.setdefault(r.name, r.weight)
        self.weights.setdefault(default_role, self.default_weight)

    @property
    def names(self) -> tuple[str, ...]:
        """Role names in rule order, the default last."""
        return tuple(self.weights)

    def decide(self, spans: TextSpans, start: int, end: int, sentence: tuple[int, int],
               cache: dict) -> tuple[str, float]:
        """Role of the mention ``[start, end)`` of ``spans.text`` inside ``sentence`` (a
        ``(lo, hi)`` span). ``cache`` memoises sentence-scope results per (rule, sentence)
        within one article."""
        text = spans.text
        lo, hi = sentence
        clause = None
        for i, rule in enumerate(self.rules):
            if rule.names is not None and not rule.names.search(text[start:end]):
                continue
            if rule.scope == "sentence":
                key = (i, lo)
                hit = cache.get(key)
                if hit is None:
                    hit = cache[key] = rule.pattern.search(text, lo, hi) is not None
            else:
                if clause is None:
                    clause = spans.around(start, end, CLAUSE_RE, lo, hi)
                part = text[end:clause[1]] if rule.scope == "after" else text[clause[0]:start]
                hit = rule.pattern.search(part) is not None
            if hit:
                return rule.name, rule.weight
        return self.default_role, self.default_weight


# TextSpans.around keeps a sentence stop inside the span and leaves any other stop out, so every
# stop class is built from these characters.
SENTENCE_STOPS = "。!?;！？；\n"
SENTENCE_RE = re.compile(f"[{SENTENCE_STOPS}]")
CLAUSE_RE = re.compile(f"[{SENTENCE_STOPS}，,、:：]")


class TextSpans:
    """Sentence and clause look-ups in one normalised text: a regex search forward on the text
    and backward on its reverse (computed once)."""

    def __init__(self, text: str):
        self.text = text
        self.rtext = text[::-1]
        self.n = len(text)

    def around(self, start: int, end: int, stops: re.Pattern, lo: int = 0,
               hi: int | None = None) -> tuple[int, int]:
        """The span of ``text[lo:hi]`` around ``[start, end)`` delimited by ``stops`` (a
        character class): from just after the last stop before ``start`` to the first stop at or
        after ``end`` -- included when it ends a sentence (。!?; line break), excluded otherwise."""
        n = self.n
        hi = n if hi is None else hi
        back = stops.search(self.rtext, n - start, n - lo)
        a = n - back.start() if back else lo
        fwd = stops.search(self.text, end, hi)
        if fwd is None:
            return a, hi
        return a, (fwd.end() if fwd.group() in SENTENCE_STOPS else fwd.start())

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """``(lo, hi)`` of the sentence holding ``[start, end)`` (split after 。!?; and line
        breaks)."""
        return self.around(start, end, SENTENCE_RE)


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
        out.append(RoleRule(name, float(weight), scope, rx, names_rx))
    return RoleRules(out, default_role, default_weight, label)
