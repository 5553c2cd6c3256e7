"""Publication time → the first session a trader could act on, from the real SSE/SZSE calendar.

All times are Beijing time (``Asia/Shanghai``). With ``open_cutoff`` 09:30 and ``close`` 15:00:

=====================================  ===========================================  =======
published                              session                                      entry
=====================================  ===========================================  =======
trading day, before 09:30              that day                                     open
trading day, 09:30 ≤ t < 15:00         ``intraday="next_open"`` (default): next day  open
                                       ``intraday="same_close"``: that day          close
trading day, 15:00 or later            next trading day                             open
closed day (weekend, holiday)          next trading day                             open
bare date (no time of day)             ``bare_date="next_open"`` (default): next     open
                                       trading day after the date;
                                       ``"same_day_open"``: that day if it trades
=====================================  ===========================================  =======

The lunch break (11:30–13:00) counts as *during* the session: the market is open that day and the
morning's trades already reflect news published before 11:30.

Why ``next_open`` is the default for intraday news: a backtest that buys at the open can only
use news published before that open; "that session's close" is offered for strategies that can
act within the session (``entry = "limit"``), but marks it as ``entry = "close"``.
The opening call auction ends at 09:25; ``open_cutoff = "09:25"`` is the stricter reading
(news at 09:27 then waits for the next session). 09:30 is the default, as DESIGN.md specifies.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from backtests.core.errors import ConfigError

INTRADAY_POLICIES = ("next_open", "same_close")
CLOSE_TIME = dt.time(15, 0)


def _time(value: str | dt.time, what: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{what} = {value!r}: expected a time HH:MM") from None


def entry_session(published: pd.Timestamp, calendar, *, bare: bool = False,
                  intraday: str = "next_open", bare_date: str = "next_open",
                  open_cutoff: str | dt.time = "09:30") -> tuple[np.datetime64, str]:
    """``(session, "open" | "close")``: the first session an article can be traded on.

    ``published`` must be timezone-aware (Asia/Shanghai; other zones are converted) or naive
    Beijing time. Raises :class:`~backtests.core.errors.CalendarError` outside the calendar.
    """
    if intraday not in INTRADAY_POLICIES:
        raise ConfigError(f"intraday = {intraday!r}: expected one of {', '.join(INTRADAY_POLICIES)}")
    ts = pd.Timestamp(published)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("Asia/Shanghai")
    day = np.datetime64(ts.date(), "D")
    if bare:
        if bare_date == "same_day_open":
            return calendar.next(day, inclusive=True), "open"
        if bare_date == "next_open":
            return calendar.next(day), "open"
        raise ConfigError(f"bare_date = {bare_date!r}: a bare date cannot be placed on a session")
    if not calendar.is_session(day):
        return calendar.next(day), "open"
    t = ts.time()
    if t < _time(open_cutoff, "open_cutoff"):
        return day, "open"
    if t < CLOSE_TIME:
        return (day, "close") if intraday == "same_close" else (calendar.next(day), "open")
    return calendar.next(day), "open"
