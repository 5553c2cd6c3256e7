"""Limit-up board of a session: who touched or sealed the limit-up, streaks and "N天M板".

Everything here works on the aligned ``[sessions, stocks]`` arrays of a
:class:`~backtests.data.market.Market` in whole-array numpy operations: the limit states of every
stock and session, the consecutive-board streak and the "N天M板" run are computed for the whole
panel at once (no Python loop over sessions or stocks), then a session or a range is read off.

Definitions (``docs/scan.md`` is the user's version):

* A stock *traded* in a session when it has a bar (non-NaN close). Suspended sessions are
  skipped, not counted: a suspension neither breaks nor extends a streak, and "N天" counts the
  stock's own traded sessions (the media's convention for 停牌 inside a 连板 run).
* A session *has a limit* when its limit-up price is known (new listings in their free
  sessions, and the first session of a panel without ``prev_close``, have none and are never
  at a limit).
* ``touched``: high >= limit_up; ``sealed`` (涨停, a limit-up close): close >= limit_up;
  ``one_word`` (一字板): sealed and low >= limit_up. Limit-down mirrors this with close/high <=
  limit_down. Prices are on the 0.01 grid, so each comparison has a tolerance of half a cent.
* ``streak`` (连板数): consecutive limit-up closes ending at the session (0 if it did not close
  at the limit).
* "N天M板": the *run* of a limit-up close at session D starts at the earliest limit-up close s
  such that between s and D no more than ``max_gap`` (default :data:`MAX_GAP` = 2) consecutive
  traded sessions closed below the limit. N = traded sessions from s to D inclusive, M = limit-up
  closes among them. Printed as ``首板`` (N = M = 1), ``M连板`` (N = M > 1) or ``N天M板``.
  A session that touched but did not close at the limit gets ``炸板``. Calibrated on 2024-12-13:
  天娱数科 002354 "10天6板" (its two-session gaps stay inside the run, the six-session gap
  before 2024-12-02 ends it) and 居然智家 000785 "6天5板".
"""
from __future__ import annotations

import csv
import io
import unicodedata
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.core.calendar import to_date, trading_calendar
from backtests.core.errors import ConfigError, DataError
from backtests.data.market import ffill_index
from backtests.data.status import st_by_session
from backtests.features.state import HALF_CENT, MAX_GAP, market_state

BOARD_ORDER = (rules.BOARD_MAIN, rules.BOARD_CHINEXT, rules.BOARD_STAR, rules.BOARD_BSE)

SCAN_COLUMNS = ("code", "name", "board", "limit_pct", "prev_close", "close", "limit_up",
                "touched", "sealed", "one_word", "streak", "label")

SUMMARY_COLUMNS = (
    "date", "up_main", "up_chinext", "up_star", "up_bse", "up_total", "up_st",
    "down_total", "down_st", "broken", "board1", "board2", "board3", "board4plus")
"""Per-session counts. ``up_*``/``down_total``/``broken``/``board*`` exclude ST stocks, which are
counted in ``up_st``/``down_st`` (the media's "排除ST股" convention). ``broken`` = touched the
limit-up but closed below (炸板). ``board1..board4plus`` = 首板/二板/三板/四板及以上 by streak."""


class LimitState(NamedTuple):
    """``[S, N]`` boolean arrays of where each stock stood against its limits."""
    traded: np.ndarray
    has_limit: np.ndarray
    touched_up: np.ndarray
    sealed_up: np.ndarray
    one_word_up: np.ndarray
    touched_down: np.ndarray
    sealed_down: np.ndarray
    one_word_down: np.ndarray


def limit_state(high, low, close, limit_up, limit_down) -> LimitState:
    """Limit states of every bar; NaN prices (no bar) and NaN limits (no limit) give False."""
    high, low, close = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    lu, ld = np.asarray(limit_up, dtype=np.float64), np.asarray(limit_down, dtype=np.float64)
    traded = np.isfinite(close)
    has_limit = traded & np.isfinite(lu) & np.isfinite(ld)
    with np.errstate(invalid="ignore"):
        touched_up = has_limit & (high >= lu - HALF_CENT)
        sealed_up = has_limit & (close >= lu - HALF_CENT)
        one_word_up = sealed_up & (low >= lu - HALF_CENT)
        touched_down = has_limit & (low <= ld + HALF_CENT)
        sealed_down = has_limit & (close <= ld + HALF_CENT)
        one_word_down = sealed_down & (high <= ld + HALF_CENT)
    return LimitState(traded, has_limit, touched_up, sealed_up, one_word_up,
                      touched_down, sealed_down, one_word_down)


def _take(values: np.ndarray, index: np.ndarray, default) -> np.ndarray:
    """``values[index[t, n], n]`` with ``default`` where ``index`` is -1."""
    picked = np.take_along_axis(values, np.maximum(index, 0), axis=0)
    return np.where(index >= 0, picked, default)


def streaks(sealed: np.ndarray, traded: np.ndarray) -> np.ndarray:
    """``[S, N]`` consecutive limit-up closes ending at each session (0 where not sealed).

    A traded session that is not a limit-up close resets the count; suspended sessions
    (``traded`` False) are skipped.
    """
    sealed = np.asarray(sealed, dtype=bool)
    count = np.cumsum(sealed, axis=0, dtype=np.int64)
    reset = ffill_index(np.asarray(traded, dtype=bool) & ~sealed)
    base = _take(count, reset, 0)
    return np.where(sealed, count - base, 0).astype(np.int32)


def board_runs(sealed: np.ndarray, traded: np.ndarray, *, max_gap: int = MAX_GAP
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(days, boards)``: the "N天M板" figures ``[S, N]`` of every limit-up close (0 elsewhere).

    The run of a limit-up close at session D begins at the earliest limit-up close s such
    that no more than ``max_gap`` consecutive traded sessions between s and D closed below the
    limit; ``days`` counts the stock's traded sessions from s to D, ``boards`` the limit-up
    closes among them. Suspended sessions are not counted.
    """
    if max_gap < 0:
        raise ConfigError(f"max_gap must be >= 0, got {max_gap}")
    sealed = np.asarray(sealed, dtype=bool)
    traded = np.asarray(traded, dtype=bool) | sealed
    n_traded = np.cumsum(traded, axis=0, dtype=np.int64)     # traded-session number (1-based)
    n_sealed = np.cumsum(sealed, axis=0, dtype=np.int64)
    # The previous limit-up close before each session, as a traded-session number.
    last_sealed = ffill_index(sealed)
    prev = np.vstack([np.full((1, sealed.shape[1]), -1, dtype=np.int64), last_sealed[:-1]])
    prev_n = _take(n_traded, prev, -1)
    gap = n_traded - prev_n - 1                             # closes below the limit in between
    starts = sealed & ((prev < 0) | (gap > max_gap))
    start = ffill_index(starts)
    days = n_traded - _take(n_traded, start, 0) + 1
    boards = n_sealed - _take(n_sealed, start, 0) + 1
    return (np.where(sealed, days, 0).astype(np.int32),
            np.where(sealed, boards, 0).astype(np.int32))


def run_label(days: int, boards: int, *, touched: bool = False) -> str:
    """Media wording: ``首板``, ``M连板``, ``N天M板``; ``炸板`` for touched-only, else ``''``."""
    if boards <= 0:
        return "炸板" if touched else ""
    if days == boards:
        return "首板" if boards == 1 else f"{boards}连板"
    return f"{days}天{boards}板"


class ScanResult(NamedTuple):
    """One session's limit-up board plus the session's counts."""
    date: np.datetime64
    stocks: pd.DataFrame      # SCAN_COLUMNS, one row per stock that touched or sealed
    counts: pd.DataFrame      # index main/chinext/star/bse/ST/total; limit_up, limit_down, broken


class _Panel(NamedTuple):
    state: LimitState
    streak: np.ndarray
    days: np.ndarray
    boards: np.ndarray


def _analyse(market, max_gap: int) -> _Panel:
    """The scan's view of the market-state features (:func:`backtests.state.market_state`,
    the numba pass the engine's filters read too; ``tests/test_scan.py`` checks it against the
    array definitions :func:`limit_state`, :func:`streaks` and :func:`board_runs` above)."""
    if max_gap < 0:
        raise ConfigError(f"max_gap must be >= 0, got {max_gap}")
    ms = market_state(market, max_gap=max_gap, tol=HALF_CENT)
    state = LimitState(*(ms.flag(name) for name in LimitState._fields))
    return _Panel(state, ms.streak, ms.run_days, ms.run_boards)


def _session_index(market, date) -> int:
    day = trading_calendar().require_session(date, what="--date")
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    i = int(np.searchsorted(sessions, day))
    if i >= len(sessions) or sessions[i] != day:
        span = f"{sessions[0]} .. {sessions[-1]}" if len(sessions) else "no sessions"
        raise DataError(f"--date {day} is outside the data ({span})")
    return i


def _counts_matrix(state: LimitState, market, rows: slice) -> dict[str, tuple[np.ndarray, ...]]:
    """Per board (and ``ST``, ``total``): ``(limit_up, limit_down, broken)`` counts as ``[T]``
    arrays over the sessions ``rows``, whole-array operations."""
    boards = np.asarray(market.boards)
    st = st_by_session(market)[rows]
    up, down = state.sealed_up[rows], state.sealed_down[rows]
    broken = state.touched_up[rows] & ~up
    out = {}
    for b in BOARD_ORDER:
        sel = (boards == b)[None, :] & ~st
        out[rules.BOARD_NAMES[b]] = ((up & sel).sum(axis=1), (down & sel).sum(axis=1),
                                     (broken & sel).sum(axis=1))
    out["ST"] = ((up & st).sum(axis=1), (down & st).sum(axis=1), (broken & st).sum(axis=1))
    known = np.isin(boards, BOARD_ORDER)[None, :] & ~st
    out["total"] = ((up & known).sum(axis=1), (down & known).sum(axis=1),
                    (broken & known).sum(axis=1))
    return out


def scan_day(market, date, *, max_gap: int = MAX_GAP) -> ScanResult:
    """Every stock that touched or closed at its limit-up on ``date``, with the day's counts.

    Rows are sorted by sealed first, then streak, then boards of the run (descending), then
    code. ``counts`` counts limit-up closes, limit-down closes and broken boards (touched, not
    sealed) per board for non-ST stocks, ST stocks in their own row, ``total`` = non-ST.
    """
    t = _session_index(market, date)
    panel = _analyse(market, max_gap)
    state = panel.state
    hit = np.flatnonzero(state.touched_up[t] | state.sealed_up[t])
    names = np.asarray(market.names, dtype=object)
    ratio = np.asarray(market.limit_ratio[t], dtype=np.float64)
    boards_run = panel.boards[t, hit]
    days_run = panel.days[t, hit]
    touched = state.touched_up[t, hit]
    frame = pd.DataFrame({
        "code": np.asarray(market.codes, dtype=object)[hit],
        "name": names[hit],
        "board": [rules.BOARD_NAMES.get(int(b), "unknown") for b in np.asarray(market.boards)[hit]],
        "limit_pct": np.rint(ratio[hit] * 100).astype(np.int64),
        "prev_close": np.asarray(market.prev_close[t], dtype=np.float64)[hit],
        "close": np.asarray(market.close[t], dtype=np.float64)[hit],
        "limit_up": np.asarray(market.limit_up[t], dtype=np.float64)[hit],
        "touched": touched,
        "sealed": state.sealed_up[t, hit],
        "one_word": state.one_word_up[t, hit],
        "streak": panel.streak[t, hit].astype(np.int64),
        "label": [run_label(int(d), int(b), touched=bool(x))
                  for d, b, x in zip(days_run, boards_run, touched)],
    })
    order = np.lexsort((frame["code"].to_numpy(dtype=str), -boards_run,
                        -frame["streak"].to_numpy(), ~frame["sealed"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    counts = _counts_matrix(state, market, slice(t, t + 1))
    count_frame = pd.DataFrame(
        {"limit_up": [int(v[0][0]) for v in counts.values()],
         "limit_down": [int(v[1][0]) for v in counts.values()],
         "broken": [int(v[2][0]) for v in counts.values()]},
        index=pd.Index(list(counts), name="board"))
    return ScanResult(np.asarray(market.sessions, dtype="datetime64[D]")[t], frame, count_frame)


def scan_summary(market, start, end, *, max_gap: int = MAX_GAP) -> pd.DataFrame:
    """Per-session counts (:data:`SUMMARY_COLUMNS`) for sessions ``start..end`` of the market.

    Computed for the whole range in one pass of array operations; streaks use every session
    of the market before ``start`` as history.
    """
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    lo, hi = to_date(start, what="--start"), to_date(end, what="--end")
    if hi < lo:
        raise ConfigError(f"--end {hi} is before --start {lo}")
    i0, i1 = int(np.searchsorted(sessions, lo)), int(np.searchsorted(sessions, hi, "right"))
    if i1 <= i0:
        span = f"{sessions[0]} .. {sessions[-1]}" if len(sessions) else "no sessions"
        raise DataError(f"no session of the data lies in {lo} .. {hi} (data covers {span})")
    panel = _analyse(market, max_gap)
    rows = slice(i0, i1)
    counts = _counts_matrix(panel.state, market, rows)
    st = st_by_session(market)[rows]
    known = np.isin(np.asarray(market.boards), BOARD_ORDER)[None, :] & ~st
    streak = np.where(known, panel.streak[rows], 0)
    out = {"date": pd.DatetimeIndex(sessions[rows]).strftime("%Y-%m-%d")}
    for b in BOARD_ORDER:
        out[f"up_{rules.BOARD_NAMES[b]}"] = counts[rules.BOARD_NAMES[b]][0]
    out["up_total"] = counts["total"][0]
    out["up_st"] = counts["ST"][0]
    out["down_total"] = counts["total"][1]
    out["down_st"] = counts["ST"][1]
    out["broken"] = counts["total"][2]
    out["board1"] = (streak == 1).sum(axis=1)
    out["board2"] = (streak == 2).sum(axis=1)
    out["board3"] = (streak == 3).sum(axis=1)
    out["board4plus"] = (streak >= 4).sum(axis=1)
    frame = pd.DataFrame(out)
    for c in SUMMARY_COLUMNS[1:]:
        frame[c] = frame[c].astype(np.int64)
    return frame[list(SUMMARY_COLUMNS)]


# ---------------------------------------------------------------- text output
def _width(text: str) -> int:
    """Display width in a terminal: CJK and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{value:.2f}"
    return str(value)


def format_table(frame: pd.DataFrame) -> str:
    """Aligned plain-text table (text left, numbers right), CJK-width aware."""
    cols = list(frame.columns)
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in cols]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(cols)]

    def line(values):
        parts = []
        for i, v in enumerate(values):
            pad = " " * (widths[i] - _width(v))
            parts.append(pad + v if numeric[i] else v + pad)
        return "  ".join(parts).rstrip()

    return "\n".join([line(cols)] + [line(r) for r in cells]) + "\n"


def _json_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else round(float(value), 2)
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (bools, ints, prices rounded to the cent, NaN -> null)."""
    return [{c: _json_value(v) for c, v in zip(frame.columns, row)}
            for row in frame.itertuples(index=False)]


def format_csv(frame: pd.DataFrame) -> str:
    """CSV with a header, prices with two decimals, booleans ``true``/``false``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        writer.writerow([("true" if v else "false") if isinstance(v, (bool, np.bool_)) else _cell(v)
                         for v in row])
    return buf.getvalue()


def format_counts(counts: pd.DataFrame) -> str:
    """The footer of a scan: closes at the limits per board, ST apart."""
    frame = counts.reset_index()
    return format_table(frame)


# ---------------------------------------------------------------- board states for news roles
BOARD_STATE_NAMES = ("", "limit_down", "streak", "limit_up", "broken")   # index = the code


class BoardStates:
    """Each stock's board state at each session's close, for the market-confirmed roles of
    :mod:`signals.roles` (``[board_roles]``): ``limit_down`` (closed at the limit-down),
    ``streak`` (a 2nd or later limit-up close in a row), ``limit_up`` (a limit-up close),
    ``broken`` (touched the limit-up, closed below: 炸板), else ``""``.

    :meth:`at` answers for a publication time: the state at the close of the **last session
    that closed (15:00 Beijing) at or before publication** -- an article published after
    session t's close, or before t+1's open, sees t's state; one published during t's session
    sees t-1's; never a later session's."""

    def __init__(self, market):
        st = limit_state(market.high, market.low, market.close, market.limit_up,
                         market.limit_down)
        streak = streaks(st.sealed_up, st.traded)
        code = np.zeros(st.traded.shape, dtype=np.int8)
        code[st.touched_up & ~st.sealed_up] = 4
        code[st.sealed_up] = 3
        code[streak >= 2] = 2
        code[st.sealed_down] = 1
        self.codes = code
        self.column = {str(c): j for j, c in enumerate(market.codes)}
        days = np.asarray(market.sessions, dtype="datetime64[D]").astype(np.int64)
        self.close_epochs = days * 86400 + (15 - 8) * 3600          # 15:00 +08:00 in UTC seconds

    def at(self, code: str, epoch_seconds: int) -> str:
        """The board state of ``code`` known at ``epoch_seconds`` (see the class docstring)."""
        j = self.column.get(code)
        if j is None:
            return ""
        i = int(np.searchsorted(self.close_epochs, epoch_seconds, side="right")) - 1
        if i < 0:
            return ""
        return BOARD_STATE_NAMES[self.codes[i, j]]
