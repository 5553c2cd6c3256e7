"""SSE/SZSE trading calendar, read offline from the copy akshare ships in its package.

akshare keeps the exchanges' trading days 1990-12-19 .. 2026-12-31 in
``akshare/file_fold/calendar.json``; we read that file without importing akshare itself
(importing akshare pulls in its whole web stack and takes seconds).
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from backtests.core.errors import CalendarError, DataError

DateLike = str | dt.date | np.datetime64 | pd.Timestamp


def _calendar_path() -> str:
    spec = importlib.util.find_spec("akshare")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the trading calendar needs the akshare package: pip install akshare")
    return os.path.join(list(spec.submodule_search_locations)[0], "file_fold", "calendar.json")


_DATE_TEXT = re.compile(r"^(\d{8}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T].*)?)$")


def to_date(value: DateLike, *, what: str = "date") -> np.datetime64:
    """Parse ``20241213``, ``2024-12-13``, a date or a timestamp into ``datetime64[D]``."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]")
    if isinstance(value, (dt.date, pd.Timestamp)):
        return np.datetime64(pd.Timestamp(value).date(), "D")
    text = str(value).strip()
    if not _DATE_TEXT.match(text):  # pandas would read "12/03" as 0001-12-03
        raise CalendarError(f"{what} {text!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
    try:
        if len(text) == 8 and text.isdigit():
            return np.datetime64(f"{text[:4]}-{text[4:6]}-{text[6:]}", "D")
        return np.datetime64(pd.Timestamp(text).date(), "D")
    except (ValueError, TypeError):
        raise CalendarError(f"{what} {text!r} is not a date; expected YYYY-MM-DD or YYYYMMDD") from None


class TradingCalendar:
    """Sorted trading sessions with look-ups by date.

    Every look-up of a date before the first or after the last known session raises
    :class:`CalendarError`: we never guess trading days outside the table.
    """

    def __init__(self, sessions: np.ndarray):
        self.sessions = np.asarray(sessions, dtype="datetime64[D]")
        self.first = self.sessions[0]
        self.last = self.sessions[-1]

    def _check_range(self, day: np.datetime64, what: str) -> None:
        if day < self.first or day > self.last:
            raise CalendarError(
                f"{what} {day} is outside the trading calendar ({self.first} .. {self.last})")

    def is_session(self, value: DateLike) -> bool:
        day = to_date(value)
        i = np.searchsorted(self.sessions, day)
        return bool(i < len(self.sessions) and self.sessions[i] == day)

    def require_session(self, value: DateLike, *, what: str = "date") -> np.datetime64:
        """Return the date if it is a trading session, else raise naming the nearest ones."""
        day = to_date(value, what=what)
        self._check_range(day, what)
        if not self.is_session(day):
            raise CalendarError(
                f"{what} {day} is not a trading session (previous {self.previous(day)}, "
                f"next {self.next(day)})")
        return day

    def next(self, value: DateLike, *, inclusive: bool = False) -> np.datetime64:
        """The first session after ``value`` (or on it, with ``inclusive``)."""
        day = to_date(value)
        self._check_range(day, "date")
        side = "left" if inclusive else "right"
        i = np.searchsorted(self.sessions, day, side=side)
        if i >= len(self.sessions):
            raise CalendarError(f"no trading session after {day} in the calendar (last {self.last})")
        return self.sessions[i]

    def previous(self, value: DateLike, *, inclusive: bool = False) -> np.datetime64:
        """The last session before ``value`` (or on it, with ``inclusive``)."""
        day = to_date(value)
        self._check_range(day, "date")
        side = "right" if inclusive else "left"
        i = np.searchsorted(self.sessions, day, side=side) - 1
        if i < 0:
            raise CalendarError(f"no trading session before {day} in the calendar")
        return self.sessions[i]

    def between(self, start: DateLike, end: DateLike) -> np.ndarray:
        """Sessions with ``start <= session <= end``."""
        lo, hi = to_date(start, what="start"), to_date(end, what="end")
        self._check_range(lo, "start")
        self._check_range(hi, "end")
        if hi < lo:
            raise CalendarError(f"end {hi} is before start {lo}")
        return self.sessions[np.searchsorted(self.sessions, lo):np.searchsorted(self.sessions, hi, "right")]


@lru_cache(maxsize=1)
def trading_calendar() -> TradingCalendar:
    """The SSE/SZSE calendar shipped with akshare (offline)."""
    path = _calendar_path()
    try:
        with open(path, encoding="utf-8") as fh:
            days = json.load(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read akshare's trading calendar {path}: {exc}") from None
    sessions = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days], dtype="datetime64[D]")
    return TradingCalendar(np.unique(sessions))
