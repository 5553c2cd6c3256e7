"""From articles to point-in-time entry marks: one row per (session, stock).

:func:`build_marks` is what a backtest's ``[signals] articles = [...]`` calls;
:func:`analyze` returns the marks together with every mention, unknown name and note, which is
what ``hypebt signals`` prints.

Scoring (all parameters are in :data:`SIGNAL_PARAMS`, so a grid can sweep them):

1. Each mention has a role and a weight (:mod:`signals.roles`). Mentions whose role is not in
   ``roles`` are ignored.
2. **Article contribution** of a stock: the most negative weight if the article gives it any
   negative (a risk warning in the same article wins), else the largest weight; times
   ``title_multiplier`` when the stock is named in the title.
3. The contributions of the articles whose entry session (:mod:`signals.sessions`) is ``t`` sum
   to the stock's **raw** score at ``t``.
4. **Decay**: ``score(t) = Σ raw(t') · 0.5 ** ((t − t') / half_life)`` over the stock's sessions
   ``t' ≤ t``, distances counted in trading sessions. Earlier news therefore adds heat to a
   new mark, but a mark is only emitted on a session where the stock has news of its own (the
   entry session); decayed scores are *not* carried onto sessions without news — a stale story
   does not become a fresh entry signal. ``half_life = 0`` disables the carry.
5. Marks with ``score < min_score`` are dropped. Risk-only marks are negative and never pass a
   non-negative threshold.

Columns of the marks frame: ``date`` (the session whose open is the earliest entry;
``datetime64[ns]``), ``code``, ``name``, ``score``, ``first_mention`` (the first session the stock
appears in these articles, counting the roles used), ``n_articles`` (articles of that session
naming it), ``theme`` (its most frequent mention theme that session), ``theme_heat`` (articles of
that session naming that theme, whether or not they name the stock), ``role`` (role of its
strongest contribution), ``entry`` (``open``, or ``close`` for intraday news under
``intraday = "same_close"``), ``article_id`` (``;``-joined), ``title`` and ``published`` (of
its first article that session). Sorted by date, score descending, code.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtests.core.calendar import trading_calendar
from backtests.core.errors import CalendarError, ConfigError, DataError, did_you_mean
from signals.articles import BARE_DATE_POLICIES, read_articles
from signals.extract import ArticleSignals, Extractor
from signals.roles import load_roles
from signals.sessions import INTRADAY_POLICIES, entry_session

MENTION_COLUMNS = ("article_id", "published", "session", "entry", "code", "name", "matched_text",
                   "kind", "in_title", "theme", "role", "weight")
MARK_COLUMNS = ("date", "code", "name", "score", "first_mention", "n_articles", "theme",
                "theme_heat", "role", "entry", "article_id", "title", "published")
UNKNOWN_COLUMNS = ("article_id", "text", "reason")


_ROLE_NAMES = load_roles().names          # the packaged roles.toml: default and allowed values


# name -> (section, type, default, allowed, doc); the layout of strategies.ENGINE_PARAMS.
SIGNAL_PARAMS: dict[str, tuple[str, type, Any, Any, str]] = {
    "min_score": ("signals", float, 0.5, (None, None),
                  ("marks scoring below this are dropped (momentum 1.0, cooperation 0.8, broker "
                   "0.6, catalyst 0.5, plain mention 0.3, risk -1.0)")),
    "roles": ("signals", list, _ROLE_NAMES, _ROLE_NAMES,
              "roles whose mentions count towards the score"),
    "intraday": ("signals", str, "next_open", INTRADAY_POLICIES,
                 ("news published 09:30-15:00: enter at the next open, or mark that session "
                  "for a close/limit entry (entry = close)")),
    "bare_date": ("signals", str, "next_open", BARE_DATE_POLICIES,
                  ("an article dated without a time: next session after the date (no "
                   "look-ahead), that date's open, or an error")),
    "half_life": ("signals", float, 2.0, (0.0, None),
                  "decay half-life of earlier news in trading sessions; 0 = no carry"),
    "title_multiplier": ("signals", float, 1.5, (0.0, None),
                         "factor on a stock's contribution when the title names it"),
    "skip_bad": ("signals", bool, False, None,
                 "skip (and count) articles with no/unparseable time or no text instead of failing"),
}


@dataclass
class SignalResult:
    """Everything :func:`analyze` found."""

    articles: list[ArticleSignals]
    sessions: dict[str, tuple[np.datetime64, str]]      # article id -> (session, entry)
    mentions: pd.DataFrame
    unknown: pd.DataFrame
    marks: pd.DataFrame
    notes: list[tuple[str, str]] = field(default_factory=list)     # (article id, note)
    skipped: list[str] = field(default_factory=list)
    duplicates: int = 0


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name} = {value!r}: expected one of {', '.join(choices)}"
                          f"{did_you_mean(str(value), choices)}")


def analyze(items, master, calendar=None, *, min_score: float = 0.5,
            roles: Iterable[str] | None = None, intraday: str = "next_open",
            bare_date: str = "next_open", half_life: float = 2.0, title_multiplier: float = 1.5,
            skip_bad: bool = False, open_cutoff: str = "09:30",
            extractor: Extractor | None = None) -> SignalResult:
    """Read ``items`` (paths, folders, :class:`Article` objects or dicts), find mentions and
    build marks. ``master`` is a :class:`~backtests.data.master.StockMaster`; ``calendar`` defaults to
    :func:`backtests.core.calendar.trading_calendar`. See the module docstring for the scoring."""
    _check_choice("intraday", intraday, INTRADAY_POLICIES)
    _check_choice("bare_date", bare_date, BARE_DATE_POLICIES)
    if half_life < 0:
        raise ConfigError(f"half_life = {half_life}: expected a value >= 0")
    calendar = calendar or trading_calendar()
    ex = extractor or Extractor(master)
    role_set = None
    if roles is not None:
        role_set = set([roles] if isinstance(roles, str) else roles)
        for r in role_set:
            _check_choice("roles", r, ex.roles.names)
    read = read_articles(items, bare_date=bare_date, skip_bad=skip_bad)
    results, sessions, notes, rows, unknown = [], {}, [], [], []
    for art in read.articles:
        try:
            session, entry = entry_session(art.published, calendar, bare=art.bare_date,
                                           intraday=intraday, bare_date=bare_date,
                                           open_cutoff=open_cutoff)
        except CalendarError as exc:
            msg = f"{art.origin}: published {art.published.isoformat()}: {exc}"
            if not skip_bad:
                raise DataError(msg) from None
            read.skipped.append(msg)
            continue
        sig = ex.extract(art)
        results.append(sig)
        sessions[art.id] = (session, entry)
        notes.extend((art.id, n) for n in art.notes)
        if not sig.mentions:
            notes.append((art.id, "names no listed stock"))
        names = ex.matcher.display
        for m in sig.mentions:
            rows.append((art.id, art.published, session, entry, m.code, names[m.code],
                         m.matched_text, m.kind, m.in_title, m.theme, m.role, m.weight))
        unknown.extend((art.id, text, reason) for text, reason in sig.unknown)
    mentions = pd.DataFrame(rows, columns=list(MENTION_COLUMNS))
    mentions["session"] = pd.to_datetime(mentions["session"].astype("datetime64[ns]"))
    marks = score_marks(results, sessions, calendar, ex.matcher.display, min_score=min_score,
                        roles=role_set, half_life=half_life, title_multiplier=title_multiplier)
    return SignalResult(results, sessions, mentions,
                        pd.DataFrame(unknown, columns=list(UNKNOWN_COLUMNS)), marks, notes,
                        read.skipped, read.duplicates)


def build_marks(items, master, calendar=None, **options) -> pd.DataFrame:
    """Entry marks from articles: ``date, code, name, score, first_mention, n_articles, theme,
    theme_heat, role, entry, article_id, title, published`` (see the module docstring).

    ``items``: article files/folders, :class:`Article` objects or dicts. ``options``:
    :data:`SIGNAL_PARAMS` (``min_score``, ``roles``, ``intraday``, ``bare_date``, ``half_life``,
    ``title_multiplier``, ``skip_bad``) plus ``open_cutoff`` and ``extractor``.
    """
    known = (*SIGNAL_PARAMS, "open_cutoff", "extractor")
    for key in options:
        if key not in known:
            raise ConfigError(f"unknown signals option {key!r}{did_you_mean(key, known)}; "
                              f"known: {', '.join(known)}")
    return analyze(items, master, calendar, **options).marks


def _empty_marks() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in MARK_COLUMNS})
    frame["date"] = pd.Series(dtype="datetime64[ns]")
    frame["score"] = pd.Series(dtype=float)
    frame["first_mention"] = pd.Series(dtype=bool)
    frame["n_articles"] = pd.Series(dtype=np.int64)
    frame["theme_heat"] = pd.Series(dtype=np.int64)
    return frame


def score_marks(results: list[ArticleSignals], sessions: dict, calendar, names: dict, *,
                min_score: float, roles: set[str] | None, half_life: float,
                title_multiplier: float) -> pd.DataFrame:
    """The marks of already extracted articles (see the module docstring); ``names`` maps a
    code to its display name."""
    heat: Counter = Counter()                     # (session, theme) -> articles
    contrib: dict[tuple, list] = {}               # (session, code) -> [(value, role, theme, art)]
    for sig in sorted(results, key=lambda s: (s.article.published, s.article.id)):
        session, entry = sessions[sig.article.id]
        for theme in sig.themes:
            heat[(session, theme)] += 1
        per_code: dict[str, list] = {}
        for m in sig.mentions:
            if roles is None or m.role in roles:
                per_code.setdefault(m.code, []).append(m)
        for code, ms in per_code.items():
            neg = min(ms, key=lambda m: m.weight)
            best = neg if neg.weight < 0 else max(ms, key=lambda m: m.weight)
            value = best.weight * (title_multiplier if any(m.in_title for m in ms) else 1.0)
            theme = Counter(m.theme for m in ms if m.theme).most_common(1)
            contrib.setdefault((session, code), []).append(
                (value, best.role, theme[0][0] if theme else "", sig.article, entry))
    if not contrib:
        return _empty_marks()
    by_code: dict[str, list] = {}
    for (session, code) in contrib:
        by_code.setdefault(code, []).append(session)
    pos = {s: i for i, s in enumerate(calendar.sessions)}
    rows = []
    for code, days in by_code.items():
        days.sort()
        idx = [pos[d] for d in days]
        raw = [sum(c[0] for c in contrib[(d, code)]) for d in days]
        for j, day in enumerate(days):
            if half_life > 0:
                score = sum(raw[k] * 0.5 ** ((idx[j] - idx[k]) / half_life) for k in range(j + 1))
            else:
                score = raw[j]
            if score < min_score:
                continue
            items = contrib[(day, code)]
            themes = Counter(c[2] for c in items if c[2])
            theme = min(themes, key=lambda t: (-themes[t], t)) if themes else ""
            strongest = max(items, key=lambda c: abs(c[0]))
            first = items[0][3]
            rows.append((np.datetime64(day, "ns"), code, names[code],
                         round(score, 10), j == 0, len(items), theme,
                         heat.get((day, theme), 0) if theme else 0, strongest[1],
                         "open" if any(c[4] == "open" for c in items) else "close",
                         ";".join(c[3].id for c in items), first.title,
                         first.published.isoformat()))
    if not rows:
        return _empty_marks()
    frame = pd.DataFrame(rows, columns=list(MARK_COLUMNS))
    frame = frame.sort_values(["date", "score", "code"], ascending=[True, False, True])
    frame["date"] = frame["date"].astype("datetime64[ns]")
    frame["n_articles"] = frame["n_articles"].astype(np.int64)
    frame["theme_heat"] = frame["theme_heat"].astype(np.int64)
    return frame.reset_index(drop=True)


__all__ = [
    "MARK_COLUMNS",
    "MENTION_COLUMNS",
    "SIGNAL_PARAMS",
    "UNKNOWN_COLUMNS",
    "SignalResult",
    "analyze",
    "build_marks",
    "score_marks",
]
