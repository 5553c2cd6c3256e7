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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backtests.core.calendar import trading_calendar
from backtests.core.errors import CalendarError, ConfigError, DataError, did_you_mean
from signals.articles import BARE_DATE_POLICIES, read_articles
from signals.extract import ArticleSignals, Extractor
from signals.marks_nb import (
    cells_buffers,
    cells_nb,
    iso_beijing_nb,
    join_nb,
    join_offsets_nb,
    mark_order_nb,
)
from signals.roles import load_roles
from signals.sessions import INTRADAY_POLICIES, entry_session, entry_sessions

MENTION_COLUMNS = ("article_id", "published", "session", "entry", "code", "name", "matched_text",
                   "kind", "in_title", "theme", "role", "weight", "board_state")
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
            extractor: Extractor | None = None, board=None) -> SignalResult:
    """Read ``items`` (paths, folders, :class:`Article` objects or dicts), find mentions and
    build marks. ``master`` is a :class:`~backtests.data.master.StockMaster`; ``calendar`` defaults to
    :func:`backtests.core.calendar.trading_calendar`. See the module docstring for the scoring.

    ``board``: an object with ``at(code, epoch_seconds) -> state``
    (:class:`backtests.features.scan.BoardStates` of the run's market); each mention then carries
    the stock's ``board_state`` known at publication, and a mention the text leaves at the default
    role takes the role ``[board_roles]`` gives that state (:meth:`RoleRules.confirm`)."""
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
    kept, entries = [], []
    for art in read.articles:
        try:
            entries.append(entry_session(art.published, calendar, bare=art.bare_date,
                                         intraday=intraday, bare_date=bare_date,
                                         open_cutoff=open_cutoff))
        except CalendarError as exc:
            msg = f"{art.origin}: published {art.published.isoformat()}: {exc}"
            if not skip_bad:
                raise DataError(msg) from None
            read.skipped.append(msg)
            continue
        kept.append(art)
    for art, (session, entry), sig in zip(kept, entries, ex.extract_all(kept)):
        if board is not None:
            sig = confirm_roles(sig, ex.roles, board, int(art.published.timestamp()))
        results.append(sig)
        sessions[art.id] = (session, entry)
        notes.extend((art.id, n) for n in art.notes)
        if not sig.mentions:
            notes.append((art.id, "names no listed stock"))
        names = ex.matcher.display
        for m in sig.mentions:
            rows.append((art.id, art.published, session, entry, m.code, names[m.code],
                         m.matched_text, m.kind, m.in_title, m.theme, m.role, m.weight,
                         m.board_state))
        unknown.extend((art.id, text, reason) for text, reason in sig.unknown)
    mentions = pd.DataFrame(rows, columns=list(MENTION_COLUMNS))
    mentions["session"] = pd.to_datetime(mentions["session"].astype("datetime64[ns]"))
    marks = score_marks(results, sessions, calendar, ex.matcher.display, min_score=min_score,
                        roles=role_set, half_life=half_life, title_multiplier=title_multiplier)
    return SignalResult(results, sessions, mentions,
                        pd.DataFrame(unknown, columns=list(UNKNOWN_COLUMNS)), marks, notes,
                        read.skipped, read.duplicates)


def confirm_roles(sig: ArticleSignals, roles, board, epoch: int) -> ArticleSignals:
    """``sig`` with each mention's ``board_state`` at ``epoch`` and its market-confirmed role."""
    out = []
    for m in sig.mentions:
        state = board.at(m.code, epoch)
        role, weight = roles.confirm(m.role, m.weight, state)
        out.append(m._replace(role=role, weight=weight, board_state=state))
    return sig._replace(mentions=tuple(out))


def build_marks(items, master, calendar=None, **options) -> pd.DataFrame:
    """Entry marks from articles: ``date, code, name, score, first_mention, n_articles, theme,
    theme_heat, role, entry, article_id, title, published`` (see the module docstring).

    ``items``: article files/folders, :class:`Article` objects or dicts. ``options``:
    :data:`SIGNAL_PARAMS` (``min_score``, ``roles``, ``intraday``, ``bare_date``, ``half_life``,
    ``title_multiplier``, ``skip_bad``) plus ``open_cutoff``, ``extractor`` and ``board``.
    """
    known = (*SIGNAL_PARAMS, "open_cutoff", "extractor", "board")
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


class Packed(NamedTuple):
    """Extracted articles as arrays, the input of :func:`score_packed`. Articles are in order
    of publication, then id; strings (codes, themes, roles) are ids into ``terms``.

    ``published``: ISO texts (object array) or epoch seconds (int64, formatted in Beijing time
    for the marks that need them). Article ``a``'s themes are
    ``theme_ids[theme_ptr[a]:theme_ptr[a + 1]]``, its mentions rows ``m_ptr[a]:m_ptr[a + 1]`` of
    ``m_code, m_role, m_theme`` (``-1``: no theme), ``m_weight`` and ``m_title`` (integer arrays
    of any width, strided views such as a record array's fields included)."""

    session: np.ndarray          # int64 position of the entry session in calendar.sessions
    is_open: np.ndarray          # bool: entry = open (else close)
    ids: np.ndarray              # object
    titles: np.ndarray           # object
    published: np.ndarray        # object ISO texts or int64 epoch seconds
    theme_ptr: np.ndarray
    theme_ids: np.ndarray
    m_ptr: np.ndarray
    m_code: np.ndarray
    m_role: np.ndarray
    m_theme: np.ndarray
    m_weight: np.ndarray
    m_title: np.ndarray
    terms: np.ndarray            # object: the text of each id


def pack_results(results: list[ArticleSignals], sessions: dict, calendar) -> Packed:
    """:class:`Packed` arrays of extracted articles (``sessions``: article id -> ``(session,
    entry)``), in order of publication, then id."""
    terms: dict[str, int] = {}
    tid = terms.setdefault
    order = sorted(results, key=lambda s: (s.article.published, s.article.id))
    n = len(order)
    sess, is_open = np.empty(n, np.int64), np.empty(n, bool)
    ids, titles, pub = (np.empty(n, object) for _ in range(3))
    theme_ptr, m_ptr = [0], [0]
    theme_ids, code, role, theme, weight, title = [], [], [], [], [], []
    pos = {s: i for i, s in enumerate(calendar.sessions)}
    for a, sig in enumerate(order):
        art = sig.article
        day, entry = sessions[art.id]
        sess[a] = pos[day]
        is_open[a] = entry == "open"
        ids[a], titles[a], pub[a] = art.id, art.title, art.published.isoformat()
        theme_ids.extend(tid(t, len(terms)) for t in sig.themes)
        theme_ptr.append(len(theme_ids))
        for m in sig.mentions:
            code.append(tid(m.code, len(terms)))
            role.append(tid(m.role, len(terms)))
            theme.append(tid(m.theme, len(terms)) if m.theme else -1)
            weight.append(m.weight)
            title.append(m.in_title)
        m_ptr.append(len(code))
    i64 = np.int64
    return Packed(sess, is_open, ids, titles, pub, np.asarray(theme_ptr, i64),
                  np.asarray(theme_ids, i64), np.asarray(m_ptr, i64), np.asarray(code, i64),
                  np.asarray(role, i64), np.asarray(theme, i64), np.asarray(weight, np.float64),
                  np.asarray(title, bool), np.asarray(list(terms), dtype=object))


def score_marks(results: list[ArticleSignals], sessions: dict, calendar, names: dict, *,
                min_score: float, roles: set[str] | None, half_life: float,
                title_multiplier: float, seen_before: frozenset = frozenset()) -> pd.DataFrame:
    """The marks of already extracted articles (see the module docstring); ``names`` maps a
    code to its display name; codes in ``seen_before`` were named by earlier articles (not
    given), so none of their marks is a ``first_mention``."""
    return score_packed(pack_results(results, sessions, calendar), calendar, names,
                        min_score=min_score, roles=roles, half_life=half_life,
                        title_multiplier=title_multiplier, seen_before=seen_before)


def _iso_beijing(epoch: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS+08:00`` of epoch seconds (what ``Timestamp.isoformat`` gives in
    Asia/Shanghai for whole seconds)."""
    local = (np.asarray(epoch, np.int64) + 8 * 3600).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(local, unit="s"), "+08:00").astype(object)


def round10(x: np.ndarray) -> np.ndarray:
    """``round(v, 10)`` of Python for every float of ``x``, vectorised: ``rint(v * 1e10) / 1e10``
    is the same double (the integer and 1e10 are exact, the division correctly rounded) unless
    ``v * 1e10`` lies so close to a half that the rounding of the product could decide it; those
    few (and huge values) take Python's ``round``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * 1e10
        out = np.rint(scaled) / 1e10
        frac = np.abs(scaled - np.floor(scaled) - 0.5)
        risky = ~(frac > np.abs(scaled) * 2.0 ** -48) | ~(np.abs(scaled) < 2.0 ** 50)
    for k in np.flatnonzero(risky).tolist():
        out[k] = round(float(x[k]), 10)
    return out


def score_packed(p: Packed, calendar, names: dict, *, min_score: float,
                 roles: set[str] | None, half_life: float, title_multiplier: float,
                 seen_before: frozenset = frozenset(), window: tuple | None = None
                 ) -> pd.DataFrame:
    """:func:`score_marks` on :class:`Packed` arrays (the kernels of :mod:`signals.marks_nb`);
    ``window``: ``(first, last)`` positions in ``calendar.sessions``, the only sessions whose
    marks are returned (the articles before still add their decayed heat)."""
    terms = p.terms
    n_terms = len(terms)
    role_ok = np.ones(max(n_terms, 1), dtype=bool)
    if roles is not None:
        role_ok[:] = False
        for k, t in enumerate(terms):
            role_ok[k] = t in roles
    if not len(p.session):
        return _empty_marks()
    # the articles in session order (stable: article order within a session); they already
    # are unless intraday or bare-date rules move an article past a later one
    a_sess = np.asarray(p.session, np.int64)
    if (a_sess[1:] >= a_sess[:-1]).all():
        art_order = np.arange(len(a_sess), dtype=np.int64)
    else:
        art_order = np.argsort(_small(a_sess), kind="stable").astype(np.int64)
    use_decay = half_life > 0
    span = int(a_sess.max() - a_sess.min()) + 1
    decay = np.array([0.5 ** (d / half_life) for d in range(span)] if use_decay else [1.0])
    rank = np.empty(max(n_terms, 1), np.int64)
    rank[np.argsort(terms.astype(str), kind="stable")] = np.arange(n_terms)
    lo, hi = window if window is not None else (0, len(calendar.sessions))
    out, hist = cells_buffers(len(p.m_code), len(role_ok), use_decay)
    nc, w = cells_nb(art_order, a_sess, np.asarray(p.is_open, bool), p.m_ptr, p.m_code, p.m_role,
                     p.m_theme, p.m_weight, p.m_title, p.theme_ptr, p.theme_ids, role_ok,
                     float(title_multiplier), rank, decay, use_decay, float(min_score), int(lo),
                     int(hi), out, hist)
    if nc == 0:
        return _empty_marks()
    code, sess, score, first, role, theme, is_open, start, n, heat = (col[:nc] for col in out[:-1])
    arts = out[-1][:w]
    # The rows in the frame's order -- date, score descending, code -- sorted on numbers: the
    # session positions, the rounded scores, the codes' text ranks.
    score = round10(score)
    row = np.empty(len(sess), np.int64)
    mark_order_nb(sess, _descending_key(score), rank[code], row)
    start, n, code, sess, score = start[row], n[row], code[row], sess[row], score[row]
    first, role, theme, is_open, heat = first[row], role[row], theme[row], is_open[row], heat[row]
    first_art = arts[start]
    # Text columns are built as Arrow strings (the frame's ``str`` dtype) from the distinct
    # texts, taken per row: no Python string per row; the joined article ids -- the largest
    # column -- by a kernel writing the result's buffers. (One thread: a second one for the ids
    # cost ~0.2 s of CPU and saved no wall time in warm calls on the two shared cores.)
    if p.published.dtype != object:        # epoch seconds: formatted by a kernel
        published = _iso_texts(p.published[first_art])
    else:
        u_art, art_back = _unique(first_art)
        published = _str_take(p.published[u_art].tolist(), art_back)
    # codes, themes and roles are ids into ``terms``: their texts taken by id
    term_texts = terms.tolist()
    term_arr = pd.array(term_texts, dtype="str")
    used = np.zeros(len(term_texts), bool)
    used[code] = True
    seen = np.array([t in seen_before for t in term_texts], dtype=bool)[code] \
        if seen_before else np.zeros(len(code), bool)
    columns = {
        "date": calendar.sessions[sess].astype("datetime64[ns]"),
        "code": _taken(term_arr, code),
        "name": _str_take([names[t] if u else "" for t, u in zip(term_texts, used.tolist())],
                          code),
        "score": score,
        "first_mention": first & ~seen,
        "n_articles": n.astype(np.int64),
        "theme": _str_take(["", *term_texts], theme + 1),         # -1: no theme
        "theme_heat": heat,
        "role": _taken(term_arr, role),
        "entry": _str_take(["close", "open"], is_open.astype(np.int64)),
        "article_id": _joined(p.ids, arts, start, n),
        "title": _titles(p.titles, first_art),
        "published": published,
    }
    # every column is a fresh array of this call: the frame keeps them as they are (copying
    # them into pandas' consolidated blocks cost ~0.03 s and ~40 MB of fresh pages a year)
    return pd.DataFrame(columns, copy=False)


def _descending_key(x: np.ndarray) -> np.ndarray:
    """uint64 keys ordering floats ``x`` as a stable sort of ``-x`` does: descending, ``0.0``
    equal to ``-0.0``, NaN last."""
    y = -np.asarray(x, np.float64)
    y[y == 0] = 0.0
    bits = y.view(np.int64)
    key = np.where(bits < 0, ~bits, bits | np.int64(-2 ** 63)).view(np.uint64)
    key[np.isnan(y)] = np.uint64(2 ** 64 - 1)
    return key


def _unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of integers, by a table of presence when
    their range is small (no sort)."""
    if not len(values):
        return np.unique(values, return_inverse=True)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 4 * len(values) + 65_536:
        return np.unique(values, return_inverse=True)
    present = np.zeros(hi - lo + 1, bool)
    present[values - lo] = True
    slot = np.cumsum(present) - 1
    return np.flatnonzero(present) + lo, slot[values - lo]


def _iso_texts(epoch: np.ndarray):
    """:func:`_iso_beijing` as a pandas ``str`` array, written by a kernel (fixed width: years
    1000-9999; other times by numpy)."""
    epoch = np.asarray(epoch, np.int64)
    if len(epoch) and not (ISO_MIN_S <= epoch.min() and epoch.max() <= ISO_MAX_S):
        return _str_take(_iso_beijing(epoch).tolist(), None)
    data = np.empty(25 * len(epoch), np.uint8)
    iso_beijing_nb(epoch, data)
    return _arrow_str(np.arange(len(epoch) + 1, dtype=np.int64) * 25, data)


ISO_MIN_S = -30_610_224_000 - 8 * 3600          # 1000-01-01T00:00:00+08:00
ISO_MAX_S = 253_402_300_799 - 8 * 3600          # 9999-12-31T23:59:59+08:00


def _small(keys: np.ndarray) -> np.ndarray:
    """Non-negative integer ``keys`` as uint16 when they fit: numpy's stable sort of 16-bit
    integers is a radix sort (linear), of wider ones a merge sort."""
    return keys.astype(np.uint16) if len(keys) and 0 <= keys.min() and keys.max() < 65_536 \
        else keys


def _str_take(values: list, back) -> pd.api.extensions.ExtensionArray:
    """``values[back]`` (``back`` None: ``values``) as the ``str`` array pandas infers for text."""
    arr = pd.array(values, dtype="str")
    return arr if back is None else _taken(arr, np.asarray(back, np.int64))


def _taken(texts, items: np.ndarray):
    """``texts[items]`` as a pandas ``str`` array (``texts``: a pandas ``str`` array), by
    Arrow's take (one ``memcpy`` a text)."""
    return pd.array(pa.array(texts).take(pa.array(np.asarray(items, np.int64))), dtype="str")


def _arrow_str(offsets: np.ndarray, data: np.ndarray):
    """The pandas ``str`` array of Arrow buffers ``offsets`` (int64) and ``data`` (UTF-8)."""
    arr = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets),
                                           pa.py_buffer(data))
    return pd.array(arr, dtype="str")


def _texts(values, idx: np.ndarray):
    """``values[idx]`` as a pandas ``str`` array (``values``: an object array or a str array)."""
    if isinstance(values, np.ndarray):
        return pd.array(values[idx].tolist(), dtype="str")
    return values.take(np.asarray(idx, np.int64))


def _utf8_parts(values):
    """``(offsets, data)`` (int64, uint8) of the texts of a pandas ``str`` array without missing
    values, else None."""
    if isinstance(values, np.ndarray):
        return None
    arr = pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count or arr.type not in (pa.string(), pa.large_string()):
        return None
    _, off_buf, data_buf = arr.buffers()
    wide = np.int64 if arr.type == pa.large_string() else np.int32
    offsets = np.frombuffer(off_buf, wide)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def _joined(texts, items: np.ndarray, start: np.ndarray, n: np.ndarray, parts=None):
    """``";".join(texts[items[s:s + k]])`` for every ``(s, k)`` of ``(start, n)`` as a pandas
    ``str`` array; for Arrow texts copied by one kernel (:func:`signals.marks_nb.join_nb`)
    straight into the result's buffers (``parts``: :func:`_utf8_parts` of ``texts``)."""
    parts = parts or _utf8_parts(texts)
    if parts is None:
        return _joined_ids_arrow(texts, items, start, n)
    items, start, n = np.asarray(items), np.asarray(start), np.asarray(n)
    offsets = join_offsets_nb(parts[0], items, start, n, ord(";"))
    data = np.empty(offsets[-1], np.uint8)      # numpy's: on huge pages (see cells_buffers)
    join_nb(parts[0], parts[1], items, start, n, ord(";"), data)
    return _arrow_str(offsets, data)


def _titles(titles, first_art: np.ndarray):
    """``titles[first_art]`` as a pandas ``str`` array (object titles: each distinct one made
    a text once)."""
    if isinstance(titles, np.ndarray):
        u_art, art_back = _unique(first_art)
        return _taken(_texts(titles, u_art), art_back)
    return _taken(titles, first_art)


def _joined_ids_arrow(ids, arts: np.ndarray, start: np.ndarray, n: np.ndarray):
    """``";".join(ids[arts[s:s + k]])`` for every ``(s, k)`` of ``(start, n)``, joined by Arrow
    (``ids``: an object array or a pandas str array)."""
    total = int(n.sum())
    ends = np.cumsum(n)
    pos = np.repeat(start - (ends - n), n) + np.arange(total)
    values = pa.array(_texts(ids, arts[pos]))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    lists = pa.LargeListArray.from_arrays(pa.array(np.concatenate(([0], ends)), pa.int64()),
                                          values)
    return pd.array(pc.binary_join(lists, pa.scalar(";", pa.large_string())), dtype="str")


def score_index(index: tuple, terms: list[str], calendar, names: dict, *,
                min_score: float = 0.5, roles: Iterable[str] | None = None,
                intraday: str = "next_open", bare_date: str = "next_open",
                half_life: float = 2.0, title_multiplier: float = 1.5,
                skip_bad: bool = False, open_cutoff: str = "09:30",
                seen_before: frozenset = frozenset(), role_rules=None,
                board=None, window: tuple | None = None) -> pd.DataFrame:
    """Marks from a stored mention index (:meth:`backtests.data.news.NewsArchive.packed`):
    ``index`` = ``(epoch seconds, bare, ids, titles, mention records, mentions per article,
    theme ids, themes per article)`` in order of publication then id, mention records with
    fields ``code, role, theme, title, weight`` (ids into ``terms``; theme -1: none). The same
    scoring as :func:`analyze` on the same articles (tests check it); an article outside the
    calendar raises :class:`DataError` unless ``skip_bad``. ``board`` and ``role_rules`` (both
    or neither): the market-confirmed roles, as in :func:`analyze`. ``window``: ``(first,
    last)`` session dates, the only sessions whose marks are returned."""
    _check_choice("intraday", intraday, INTRADAY_POLICIES)
    _check_choice("bare_date", bare_date, BARE_DATE_POLICIES)
    role_set = None if roles is None else set([roles] if isinstance(roles, str) else roles)
    epoch, bare, ids, titles, recs, mcount, theme_ids, tcount = index
    if not len(epoch):
        return _empty_marks()
    days, close, ok = entry_sessions(epoch, bare, calendar, intraday=intraday,
                                     bare_date=bare_date, open_cutoff=open_cutoff)
    if not ok.all() and not skip_bad:
        k = int(np.flatnonzero(~ok)[0])
        stamp = pd.Timestamp(int(epoch[k]), unit="s", tz="UTC").tz_convert("Asia/Shanghai")
        raise DataError(f"article {ids[k]}: published {stamp.isoformat()} is outside "
                        f"the trading calendar ({calendar.first} .. {calendar.last})")
    terms = np.asarray(list(terms), dtype=object)
    m_ptr = np.concatenate(([0], np.cumsum(mcount))).astype(np.int64)
    t_ptr = np.concatenate(([0], np.cumsum(tcount))).astype(np.int64)
    # the records' fields as views (strided): the kernel reads them in place
    m_code, m_role, m_weight = recs["code"], recs["role"], recs["weight"]
    if board is not None:
        m_role, m_weight, terms = _confirm_packed(m_code, m_role, m_weight, terms, mcount, epoch,
                                                  role_rules, board)
    keep = np.flatnonzero(ok)
    if len(keep) < len(epoch):        # articles outside the calendar (skip_bad): left out
        m_keep = np.repeat(ok, mcount)
        t_keep = np.repeat(ok, tcount)
        m_ptr = np.concatenate(([0], np.cumsum(mcount[keep]))).astype(np.int64)
        t_ptr = np.concatenate(([0], np.cumsum(tcount[keep]))).astype(np.int64)
        m_code, m_role, m_weight = m_code[m_keep], m_role[m_keep], m_weight[m_keep]
        recs, theme_ids = recs[m_keep], theme_ids[t_keep]
    if len(keep) == len(epoch):       # every article placed: no copies
        keep = slice(None)
    packed = Packed(np.searchsorted(calendar.sessions, days[keep]).astype(np.int64),
                    ~close[keep], ids[keep], titles[keep], np.asarray(epoch, np.int64)[keep],
                    t_ptr, np.asarray(theme_ids, np.int64), m_ptr, m_code, m_role,
                    recs["theme"], m_weight, recs["title"], terms)
    if window is not None:
        days_d = np.asarray(calendar.sessions, dtype="datetime64[D]")
        window = (int(np.searchsorted(days_d, np.datetime64(window[0], "D"))),
                  int(np.searchsorted(days_d, np.datetime64(window[1], "D"), "right")) - 1)
    return score_packed(packed, calendar, names, min_score=min_score, roles=role_set,
                        half_life=half_life, title_multiplier=title_multiplier,
                        seen_before=seen_before, window=window)


def _confirm_packed(m_code, m_role, m_weight, terms, mcount, epoch, role_rules, board):
    """:func:`confirm_roles` on packed mentions: those at the default role take the role their
    board state at publication gives (``role_rules.confirm``)."""
    ids = {t: i for i, t in enumerate(terms.tolist())}
    default = ids.get(role_rules.default_role)
    if default is None:
        return m_role, m_weight, terms
    m_role, m_weight = m_role.copy(), m_weight.copy()
    extra = list(terms)
    m_epoch = np.repeat(np.asarray(epoch, np.int64), mcount)
    for p in np.flatnonzero(m_role == default).tolist():
        state = board.at(terms[m_code[p]], int(m_epoch[p]))
        role, weight = role_rules.confirm(role_rules.default_role, m_weight[p], state)
        if role != role_rules.default_role:
            if role not in ids:
                ids[role] = len(extra)
                extra.append(role)
            m_role[p], m_weight[p] = ids[role], weight
    return m_role, m_weight, np.asarray(extra, dtype=object)


__all__ = [
    "MARK_COLUMNS",
    "MENTION_COLUMNS",
    "SIGNAL_PARAMS",
    "UNKNOWN_COLUMNS",
    "SignalResult",
    "analyze",
    "build_marks",
    "score_index",
    "score_marks",
]
