"""Market-state features: the limit-up ladder and the market's mood, computed once per market.

>>> from backtests.features.state import market_state
>>> ms = market_state(market)                  # numba, one pass over the panel
>>> ms.streak[t, j]                            # 连板数 of stock j at session t
>>> ms.flag("sealed_up")                       # [S, N] bool: closed at limit-up
>>> ms.session_frame().loc["2024-12-13", ["up_total", "height", "promotion_1"]]
>>> ms.stock_frame("streak")                   # dates x codes DataFrame

Per stock and session (``[S, N]``): the limit flags (``traded``, ``has_limit``, ``touched_up``,
``sealed_up`` = a limit-up close, ``one_word_up`` = 一字板, ``touched_down``, ``sealed_down``,
``one_word_down``; ``broken`` = 炸板 = touched but not sealed), ``streak`` (连板数), ``run_days``
/ ``run_boards`` ("N天M板"), and from the market itself :func:`open_gap` (open versus the
previous close) and ``market.amount``. Per session (:data:`SESSION_FIELDS`): limit-up closes per
board with ST apart, limit-downs, 炸板 and 炸板率, 连板高度, 晋级率 for k = 1 and k >= 2 and the
ladder ``board1..board4plus``. Theme heat comes from the news marks, not the market:
:func:`theme_heat`.

Every value of session ``t`` uses bars ``0..t`` only. A rule deciding at session ``t`` reads
the features of ``t - 1`` (and the open of ``t``); ``tests/test_state.py`` proves it by
truncating the market after ``t``. The kernels are in :mod:`backtests.features.nb`;
``docs/features.md`` is the user's page. ``hypebt scan`` reads the same arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.data.status import st_by_session
from backtests.features.nb import (FLAG_BITS, N_SESSION, SESSION_FIELDS, session_features_nb,
                                   stock_features_nb)

MAX_GAP = 2
"""Most consecutive traded sessions without a limit-up close that stay inside one "N天M板" run."""

HALF_CENT = rules.TICK / 2
"""Tolerance of a limit comparison: prices are on the 0.01 grid (docs/interfaces.md)."""

__all__ = ["FLAG_BITS", "HALF_CENT", "MAX_GAP", "N_SESSION", "SESSION_FIELDS", "MarketState",
           "market_state", "open_gap", "theme_heat"]


class MarketState(NamedTuple):
    """The features of one market (see the module docstring). Arrays are aligned with
    ``market.sessions`` (rows) and ``market.codes`` (columns)."""
    sessions: np.ndarray   # [S] datetime64[D]
    codes: np.ndarray      # [N] str
    flags: np.ndarray      # [S, N] uint8, bits FLAG_BITS
    streak: np.ndarray     # [S, N] int32
    run_days: np.ndarray   # [S, N] int32
    run_boards: np.ndarray  # [S, N] int32
    session: np.ndarray    # [S, N_SESSION] float64, columns SESSION_FIELDS

    def flag(self, name: str) -> np.ndarray:
        """``[S, N]`` bool of one flag (a :data:`FLAG_BITS` name, or ``broken`` = touched the
        limit-up without closing there)."""
        if name == "broken":
            f = self.flags
            return ((f & FLAG_BITS["touched_up"]) != 0) & ((f & FLAG_BITS["sealed_up"]) == 0)
        if name not in FLAG_BITS:
            raise KeyError(f"unknown flag {name!r}; known: broken, {', '.join(FLAG_BITS)}")
        return (self.flags & FLAG_BITS[name]) != 0

    def session_frame(self) -> pd.DataFrame:
        """Per-session features as a frame indexed by date (columns :data:`SESSION_FIELDS`;
        counts as int64, rates as float64 with NaN for an empty denominator)."""
        frame = pd.DataFrame(self.session, columns=list(SESSION_FIELDS),
                             index=pd.DatetimeIndex(self.sessions, name="date"))
        for c in SESSION_FIELDS:
            if c not in ("broken_rate", "promotion_1", "promotion_2plus"):
                frame[c] = frame[c].astype(np.int64)
        return frame

    def stock_frame(self, name: str) -> pd.DataFrame:
        """One per-stock feature (``streak``, ``run_days``, ``run_boards`` or a flag name) as a
        dates x codes frame."""
        values = getattr(self, name) if name in ("streak", "run_days", "run_boards") \
            else self.flag(name)
        return pd.DataFrame(values, index=pd.DatetimeIndex(self.sessions, name="date"),
                            columns=pd.Index(np.asarray(self.codes).astype(str), name="code"))


def market_state(market, *, max_gap: int = MAX_GAP, tol: float = HALF_CENT) -> MarketState:
    """Compute the :class:`MarketState` of a :class:`~backtests.market.Market` (two numba
    passes over the panel; ``max_gap`` as in ``hypebt scan``, ``tol`` the price tolerance)."""
    f8 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    flags, streak, days, boards = stock_features_nb(
        f8(market.high), f8(market.low), f8(market.close), f8(market.limit_up),
        f8(market.limit_down), np.int64(max_gap), float(tol))
    session = session_features_nb(flags, streak, np.asarray(market.boards, dtype=np.int64),
                                  np.ascontiguousarray(st_by_session(market), dtype=np.bool_))
    return MarketState(np.asarray(market.sessions, dtype="datetime64[D]"),
                       np.asarray(market.codes), flags, streak, days, boards, session)


def open_gap(market) -> np.ndarray:
    """``[S, N]`` open versus the previous close: ``open / prev_close - 1`` (NaN without a bar
    or a previous close). Known at the open of the session."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(market.open, dtype=np.float64) / np.asarray(market.prev_close,
                                                                      dtype=np.float64) - 1.0


def theme_heat(sessions, marks: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray]:
    """``(themes, heat [S, K])``: the heat of each theme named by the marks, per session.

    ``marks`` has ``date`` and ``theme`` columns (marks without a theme, ``""``, are
    ignored). The heat of a theme at session ``t`` is the largest ``theme_heat`` of its marks
    at ``t`` when the frame has that column (marks built from articles: articles of that
    session naming the theme), else the number of marks of the theme at ``t``; 0 on sessions
    without such marks. Themes are sorted, so the ids are stable.
    """
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    if "theme" not in marks.columns or len(marks) == 0:
        return (), np.zeros((len(sessions), 0))
    theme = marks["theme"].fillna("").astype(str).to_numpy()
    keep = theme != ""
    themes = tuple(sorted(set(theme[keep])))
    heat = np.zeros((len(sessions), len(themes)))
    if not themes:
        return themes, heat
    days = pd.to_datetime(marks["date"]).to_numpy().astype("datetime64[D]")[keep]
    t = np.searchsorted(sessions, days)
    ok = (t < len(sessions)) & (sessions[np.minimum(t, len(sessions) - 1)] == days)
    k = np.searchsorted(np.array(themes), theme[keep])
    if "theme_heat" in marks.columns:
        value = pd.to_numeric(marks["theme_heat"], errors="coerce").fillna(0).to_numpy(float)[keep]
        np.maximum.at(heat, (t[ok], k[ok]), value[ok])
    else:
        np.add.at(heat, (t[ok], k[ok]), 1.0)
    return themes, heat
