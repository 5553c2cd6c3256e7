"""Per-article extraction: stock mentions with their theme, role and weight, plus unknown names.

:class:`Extractor` bundles the three rule sets (names, themes, roles) and turns one
:class:`~signals.articles.Article` into an :class:`ArticleSignals`. The text analysed is the
title, a line break, then the body, normalised once (:mod:`signals.normalize`); a mention in the
title has ``in_title = True``.

A mention's **theme** is the theme named in its own clause (the text between ，,:; or sentence
ends; a 、 list is one clause), the nearest hit, else the article's primary theme (:meth:`signals.themes.ThemeLexicon.primary`). Its **role** and
**weight** come from :class:`signals.roles.RoleRules`.
"""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

from signals.articles import Article
from signals.mentions import MatchRules, NameMatcher, load_matching
from signals.normalize import normalize_text, original_span
from signals.roles import ROLE_CLAUSE_RE, STOP_FLAGS, RoleRules, load_roles
from signals.roles_nb import mention_spans_nb
from signals.text_nb import code_points, nearest_in_span_nb
from signals.themes import ThemeLexicon, load_themes

# Bump when a change to the extraction code changes its output: stored mention indexes
# (backtests.data.news) are then rebuilt.
EXTRACT_VERSION = "extract-5"

THEME_CLAUSE_RE = ROLE_CLAUSE_RE           # the mention's clause: a 、 list stays one clause


class Mention(NamedTuple):
    code: str
    matched_text: str      # as written in the article
    kind: str              # name | former | alias | code
    in_title: bool
    theme: str
    role: str
    weight: float
    sentence: str          # normalised sentence, for display and debugging
    board_state: str = ""  # market-confirmed state at the last close before publication


_new = tuple.__new__


class ArticleSignals(NamedTuple):
    article: Article
    mentions: tuple[Mention, ...]
    unknown: tuple[tuple[str, str], ...]     # (text as written, reason)
    themes: tuple[str, ...]                  # every theme named, in order of first appearance
    primary_theme: str


class Extractor:
    """Names + themes + roles, compiled once, applied to many articles."""

    def __init__(self, master, *, themes: ThemeLexicon | None = None,
                 roles: RoleRules | None = None, matching: MatchRules | None = None):
        self.matcher = NameMatcher(master, matching or load_matching())
        self.themes = themes or load_themes()
        self.roles = roles or load_roles()
        self._version: str | None = None

    @property
    def version(self) -> str:
        """The rules version: a hash of everything that decides what :meth:`extract` returns
        (the theme, role and matching rules as loaded, the name dictionary and
        :data:`EXTRACT_VERSION`). The mention index of :mod:`backtests.data.news` is keyed by it."""
        if self._version is None:
            h = hashlib.sha256(EXTRACT_VERSION.encode())
            parts = [sorted(self.matcher.keys.items()), sorted(self.matcher.ambiguous.items()),
                     sorted(self.matcher.display.items()), self.matcher.rules.fingerprint(),
                     self.themes.fingerprint(), self.roles.fingerprint()]
            for part in parts:
                h.update(repr(part).encode())
                h.update(b"\x00")
            self._version = h.hexdigest()[:16]
        return self._version

    def extract(self, article: Article) -> ArticleSignals:
        mentions, unk, themes, primary = self.extract_text(article.title, article.body)
        return ArticleSignals(article, mentions, unk, themes, primary)

    def extract_text(self, title: str, body: str):
        """``(mentions, unknown, themes, primary_theme)`` of one title and body (see
        :meth:`extract`)."""
        head = ' '.join(title.splitlines())
        raw = f"{head}\n{body}"                               # title = first line
        text, index = normalize_text(raw, keep_break=len(head))
        title_end = text.find("\n")
        title_end = len(text) if title_end < 0 else title_end
        at, code_kind, unknown = self.matcher.find_spans(text)       # hits' (start, end)
        theme_hits = self.themes.find(text)
        primary = self.themes.primary(theme_hits, title_end)
        mentions = []
        if code_kind:
            spans = mention_spans_nb(STOP_FLAGS, code_points(text), title_end, at[:, 0], at[:, 1])
            roles = self.roles.decide_all(text, spans, {})
            # original_span of every mention at once
            orig = at if index is None else np.stack((index[at[:, 0]], index[at[:, 1] - 1] + 1),
                                                     axis=1)
            # the theme nearest each mention in its clause (the theme clause is the role
            # clause: THEME_CLAUSE_RE is ROLE_CLAUSE_RE), else the primary theme
            names = [h.theme for h in theme_hits] + [primary]
            near = nearest_in_span_nb(np.array([h.start for h in theme_hits], dtype=np.int64),
                                      at[:, 0], spans[:, 4], spans[:, 5]).tolist()
            in_title = (at[:, 0] < title_end).tolist()
            for (code, kind), head, (role, weight), lo, hi, (a, b), t in zip(
                    code_kind, in_title, roles, spans[:, 2].tolist(), spans[:, 3].tolist(),
                    orig.tolist(), near):
                # tuple.__new__: a NamedTuple's own __new__ is a Python function (its defaults)
                mentions.append(_new(Mention, (code, raw[a:b], kind, head, names[t], role,
                                               weight, text[lo:hi].strip(), "")))
        unk = []
        for u in unknown:
            a, b = original_span(index, u.start, u.end)
            unk.append((raw[a:b], u.reason))
        seen: dict[str, None] = {}
        for t in theme_hits:
            seen.setdefault(t.theme, None)
        return tuple(mentions), tuple(unk), tuple(seen), primary
