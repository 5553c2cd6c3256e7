"""Entry marks from the limit-up ladder, and their combinations with news marks.

>>> from backtests.features.ladder import ladder_marks
>>> marks = ladder_marks(market, streak=[1])            # 一进二: yesterday's first boards
>>> marks = ladder_marks(market, streak=["3+"])         # 3 boards or more yesterday
>>> marks = ladder_marks(market, first_board=True)      # yesterday's fresh 首板 only

A ladder mark for session ``t`` names a stock by what it did at session ``t - 1`` (its streak,
连板数, and its "N天M板" run, :mod:`backtests.state`): the entry is at ``t``'s open or, with
``entry = "limit"``, as a queue at ``t``'s limit-up (一进二打板). Its score is that previous
streak, so higher boards come first. ``[signals] source`` chooses how a run combines them with
the news marks (``docs/strategies.md``):

* ``news`` (default): the news marks only;
* ``ladder``: the ladder marks only;
* ``news_and_ladder``: the news marks whose stock also meets the ladder rule at that session
  (they keep their news score and theme);
* ``news_or_ladder``: both; a stock marked by both keeps its news mark, a ladder-only mark
  scores its previous streak.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from backtests.core.errors import ConfigError
from backtests.core.params import LADDER_SOURCES, parse_streaks
from backtests.features.state import MarketState, market_state

SOURCES = LADDER_SOURCES

__all__ = ["SOURCES", "combine_marks", "ladder_mask", "ladder_marks", "parse_streaks"]


def ladder_mask(state: MarketState, streak=(), first_board: bool = False) -> np.ndarray:
    """``[S, N]`` bool: the stock meets the ladder rule for an entry at session ``t`` (by its
    features at ``t - 1``; never at the first session). ``streak``: see :func:`parse_streaks`
    (empty = any limit-up close); ``first_board``: the previous limit-up close opened a new
    "N天M板" run (首板: no other limit-up close within the run's gap). Both set: both hold."""
    exact, at_least = parse_streaks(streak)
    prev = np.zeros_like(state.streak)
    prev[1:] = state.streak[:-1]
    if exact or at_least is not None:
        ok = np.isin(prev, list(exact)) if exact else np.zeros(prev.shape, bool)
        if at_least is not None:
            ok |= prev >= at_least
    else:
        ok = prev >= 1
    if first_board:
        fresh = np.zeros(prev.shape, bool)
        fresh[1:] = state.run_boards[:-1] == 1
        ok &= fresh
    return ok


def ladder_marks(market, streak=(), first_board: bool = False, *,
                 state: MarketState | None = None) -> pd.DataFrame:
    """Ladder marks ``date, code, name, score, streak`` (score = streak = the previous
    session's streak), sorted by date, score descending, code — the layout of a marks frame."""
    ms = market_state(market) if state is None else state
    t, j = np.nonzero(ladder_mask(ms, streak, first_board))
    prev = ms.streak[t - 1, j].astype(np.int64)
    frame = pd.DataFrame({
        "date": pd.to_datetime(np.asarray(market.sessions, dtype="datetime64[D]")[t]),
        "code": pd.Series(np.asarray(market.codes).astype(str)[j], dtype=object),
        "name": pd.Series(np.asarray(market.names).astype(str)[j], dtype=object),
        "score": prev.astype(np.float64),
        "streak": prev,
    })
    return frame.sort_values(["date", "score", "code"], ascending=[True, False, True],
                             kind="mergesort").reset_index(drop=True)


def combine_marks(news: pd.DataFrame, ladder: pd.DataFrame, source: str) -> pd.DataFrame:
    """The marks of ``source`` (:data:`SOURCES`) from a news marks frame and a ladder marks
    frame (:func:`ladder_marks`) of the same market."""
    if source not in SOURCES:
        raise ConfigError(f"[signals] source = {source!r}: expected one of "
                          f"{', '.join(map(repr, SOURCES))}")
    if source == "news":
        return news
    if source == "ladder":
        return ladder
    key = lambda f: list(zip(pd.to_datetime(f["date"]).to_numpy(), f["code"].astype(str)))  # noqa: E731
    in_ladder = pd.Index(key(ladder))
    hit = in_ladder.isin(key(news)) if len(ladder) else np.zeros(0, bool)
    news_hit = pd.Index(key(news)).isin(key(ladder)) if len(news) else np.zeros(0, bool)
    if source == "news_and_ladder":
        return news.loc[news_hit].reset_index(drop=True)
    extra = ladder.loc[~hit, [c for c in ladder.columns if c in news.columns or c in
                              ("date", "code", "name", "score")]]
    both = pd.concat([news, extra], ignore_index=True, sort=False)
    return both.sort_values(["date", "score", "code"], ascending=[True, False, True],
                            kind="mergesort").reset_index(drop=True)
