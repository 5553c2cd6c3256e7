"""The event table of a study: one row per mark, its groups, fillability and forward paths.

>>> ev = event_table(market, marks, horizon=20)
>>> ev.frame        # one row per mark: date, code, name, board, role, theme, ..., fill, entry
>>> ev.paths        # [marks, horizon + 1, N_MEASURES] (see backtests.study.nb)

A mark is the session whose open is the earliest entry (the ``date`` of the marks frame) and a
stock. What the study measures, per mark, at the close of each session t + h (h = 0..H):

* ``ret_close``: close / previous close − 1 — what the stock did, bought or not;
* ``ret_open``: close / entry open − 1 — what a buyer at the open got; only for marks whose open
  was fillable (``buyable``, or ``opened_at_limit``: the open was at the limit-up but the
  session traded below it, so a queued buy could fill at the limit);
* ``car_close`` / ``car_open``: those minus the equal-weight market's compounded return over the
  same window; ``carb_close`` / ``carb_open``: minus the stock's board index instead.

Fillability at the entry open (``fill``): ``buyable`` (open below the limit-up, or no limit),
``opened_at_limit``, ``sealed`` (一字板: opened at the limit-up and never traded below it — a buy
is rejected ``limit_up_sealed``), ``suspended`` (no bar). ``paid`` is the entry open over the
previous close − 1.

Groups (columns of the frame, all text): ``role``, ``theme``, ``first_mention``, ``publication``
(:func:`publication_bucket`; from the marks' own columns, ``n/a`` when the marks do not carry them), ``board`` (from the
code), ``streak`` (limit-up closes in a row ending the session before the mark: ``0``, ``1``,
``2``, ``3``, ``4+``; computed here by :func:`backtests.study.nb.event_paths_nb`, the way
``hypebt scan`` counts 连板) and ``fill``. Forward returns appear only in study outputs; nothing
here feeds marks or decisions.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.core.calendar import trading_calendar
from backtests.core.errors import ConfigError, DataError
from backtests.study.nb import FILL_NAMES, event_paths_nb, index_returns_nb

MEASURES = ("ret_close", "ret_open", "car_close", "car_open", "carb_close", "carb_open")
"""Names of the last axis of :attr:`Events.paths` (the order of ``nb.M_*``)."""

DIMENSIONS = ("role", "theme", "board", "first_mention", "streak", "publication", "fill")
"""Columns a study can group by (and pair with ``+``)."""

PUBLICATION_BUCKETS = ("pre_open", "intraday", "post_close", "non_trading_day", "date_only",
                       "n/a")
STREAK_BUCKETS = ("0", "1", "2", "3", "4+")
NA = "n/a"
MAX_HORIZON = 250

# Board slots of the index returns: the board's number, unknown boards in a slot of their own.
_BOARD_SLOTS = (rules.BOARD_MAIN, rules.BOARD_CHINEXT, rules.BOARD_STAR, rules.BOARD_BSE)
_UNKNOWN_SLOT = len(_BOARD_SLOTS)


class Events(NamedTuple):
    """What :func:`event_table` returns (see the module docstring)."""
    frame: pd.DataFrame
    paths: np.ndarray        # [M, H + 1, len(MEASURES)]
    horizon: int
    market_returns: np.ndarray   # [S, 1 + boards] equal-weight close-to-close returns
    sessions: np.ndarray     # [S] datetime64[D] of the market


def board_slots(boards: np.ndarray) -> np.ndarray:
    """Index-return slot of each stock's board (``_UNKNOWN_SLOT`` for an unknown board)."""
    b = np.asarray(boards, dtype=np.int64)
    return np.where((b >= 0) & (b < _UNKNOWN_SLOT), b, _UNKNOWN_SLOT).astype(np.int64)


def streak_bucket(streak: np.ndarray) -> np.ndarray:
    """``0``, ``1``, ``2``, ``3`` or ``4+`` limit-up closes in a row before the mark."""
    s = np.minimum(np.asarray(streak, dtype=np.int64), 4)
    return np.asarray(STREAK_BUCKETS, dtype=object)[s]


def publication_bucket(published, calendar=None, *, open_cutoff: str = "09:30",
                       close: str = "15:00") -> np.ndarray:
    """Bucket of each publication time on the article's own clock (Asia/Shanghai):
    ``pre_open`` (a trading day before ``open_cutoff``), ``intraday``, ``post_close`` (from
    ``close`` on), ``non_trading_day``; ``date_only`` for a time of exactly 00:00:00 — how
    the signals package stores an article that gave only a date (its entry session followed
    the ``bare_date`` policy; an article really stamped at midnight lands here too); ``n/a``
    for a missing or unreadable time.
    """
    cal = calendar or trading_calendar()
    text = pd.Series(published, dtype=object).map(lambda v: "" if v is None or v != v else str(v))
    out = np.full(len(text), NA, dtype=object)
    ok = text.str.len() > 0
    if not ok.any():
        return out
    ts = pd.to_datetime(text[ok], errors="coerce", utc=True, format="ISO8601")
    ts = ts.dt.tz_convert("Asia/Shanghai")
    good = ts.notna().to_numpy()
    idx = np.flatnonzero(ok.to_numpy())[good]
    ts = ts[good]
    day = ts.dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    minutes = (ts.dt.hour * 60 + ts.dt.minute).to_numpy()
    midnight = (minutes == 0) & (ts.dt.second == 0).to_numpy()
    h0, m0 = map(int, open_cutoff.split(":"))
    h1, m1 = map(int, close.split(":"))
    pos = np.searchsorted(cal.sessions, day)
    trading = (pos < len(cal.sessions)) & (cal.sessions[np.minimum(pos, len(cal.sessions) - 1)]
                                           == day)
    bucket = np.where(minutes < h0 * 60 + m0, "pre_open",
                      np.where(minutes < h1 * 60 + m1, "intraday", "post_close"))
    out[idx] = np.where(midnight, "date_only", np.where(trading, bucket, "non_trading_day"))
    return out


def _text_column(marks: pd.DataFrame, col: str) -> np.ndarray:
    if col not in marks.columns:
        return np.full(len(marks), NA, dtype=object)
    vals = marks[col]
    if col == "first_mention":
        def norm(v):
            if isinstance(v, (bool, np.bool_)):
                return "true" if v else "false"
            s = "" if v is None or v != v else str(v).strip().lower()
            return {"true": "true", "1": "true", "false": "false", "0": "false"}.get(s, NA)
    else:
        def norm(v):
            s = "" if v is None or v != v else str(v).strip()
            return s or ("(none)" if col == "theme" else NA)
    return np.array([norm(v) for v in vals], dtype=object)


def mark_positions(market, marks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, j, keep)``: session and stock index of each marks row and the rows kept (the first
    row of each (date, code); later duplicates would count one event twice). Dates must be
    sessions of the market and codes stocks of it (``DataError`` naming the row otherwise)."""
    for col in ("date", "code"):
        if col not in marks.columns:
            raise DataError(f"marks have no {col!r} column; expected date,code[,...] "
                            f"(found {', '.join(map(str, marks.columns))})")
    n_sess, n_stocks = len(market.sessions), len(market.codes)
    try:
        days = pd.to_datetime(marks["date"]).to_numpy().astype("datetime64[D]")
    except (ValueError, TypeError) as exc:
        raise DataError(f"marks: cannot read the date column as dates ({exc})") from None
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    t = np.searchsorted(sessions, days)
    t_ok = (t < n_sess) & (sessions[np.minimum(t, n_sess - 1)] == days)
    if not t_ok.all():
        i = int(np.flatnonzero(~t_ok)[0])
        raise DataError(f"marks row {i + 2}: date {days[i]} is not a session of the market "
                        f"({sessions[0]} .. {sessions[-1]})")
    codes = marks["code"].astype(str).str.strip().to_numpy()
    known = np.asarray(market.codes).astype(str)
    j = np.searchsorted(known, codes)
    j_ok = (j < n_stocks) & (known[np.minimum(j, n_stocks - 1)] == codes)
    if not j_ok.all():
        i = int(np.flatnonzero(~j_ok)[0])
        raise DataError(f"marks row {i + 2}: code {codes[i]!r} is not in the market data")
    key = t.astype(np.int64) * n_stocks + j
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(len(key), bool)
    keep[first] = True
    return t.astype(np.int64), j.astype(np.int64), keep


def event_table(market, marks: pd.DataFrame, *, horizon: int = 20, calendar=None) -> Events:
    """Fillability, groups and forward paths of every mark (see the module docstring)."""
    if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) \
            or not 0 <= horizon <= MAX_HORIZON:
        raise ConfigError(f"horizon = {horizon!r}: expected a whole number of sessions "
                          f"0..{MAX_HORIZON}")
    t, j, keep = mark_positions(market, marks)
    marks = marks.loc[keep].reset_index(drop=True)
    t, j = t[keep], j[keep]
    order = np.lexsort((j, t))          # by session, then code: the study's row order
    marks = marks.iloc[order].reset_index(drop=True)
    t, j = t[order], j[order]
    f8 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    slots = board_slots(market.boards)
    cc, oc = index_returns_nb(f8(market.open), f8(market.close), f8(market.prev_close),
                              slots, _UNKNOWN_SLOT + 1)
    fill, entry, streak, paths = event_paths_nb(
        t, j, f8(market.open), f8(market.low), f8(market.close), f8(market.prev_close),
        f8(market.limit_up), slots, cc, oc, int(horizon))
    codes = np.asarray(market.codes).astype(str)
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    prev = np.asarray(market.prev_close, dtype=np.float64)[t, j]
    if "name" in marks.columns:
        names = np.array(["" if v is None or v != v else str(v) for v in marks["name"]],
                         dtype=object)
    else:
        names = np.asarray(market.names, dtype=object)[j]
    board_names = np.array([rules.BOARD_NAMES.get(int(b), "unknown") for b in
                            np.asarray(market.boards)[j]], dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        paid = entry / prev - 1.0
    pub = (publication_bucket(marks["published"], calendar) if "published" in marks.columns
           else np.full(len(marks), NA, dtype=object))
    frame = pd.DataFrame({
        "date": pd.to_datetime(sessions[t]),
        "code": pd.Series(codes[j], dtype=object),
        "name": pd.Series(names, dtype=object),
        "board": pd.Series(board_names, dtype=object),
        "role": pd.Series(_text_column(marks, "role"), dtype=object),
        "theme": pd.Series(_text_column(marks, "theme"), dtype=object),
        "first_mention": pd.Series(_text_column(marks, "first_mention"), dtype=object),
        "publication": pd.Series(pub, dtype=object),
        "streak_n": streak.astype(np.int64),
        "streak": pd.Series(streak_bucket(streak), dtype=object),
        "fill": pd.Series(np.asarray(FILL_NAMES, dtype=object)[fill], dtype=object),
        "prev_close": prev,
        "entry_price": entry,
        "paid": paid,
    })
    return Events(frame, paths, int(horizon), cc, sessions)
