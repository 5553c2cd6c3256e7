"""The SSE/SZSE trading calendar read offline from akshare's package data."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtests.core.calendar import TradingCalendar, to_date, trading_calendar
from backtests.core.errors import CalendarError, DataError

D = np.datetime64


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return trading_calendar()


def test_calendar_span_and_order(cal):
    assert cal.first == D("1990-12-19") and cal.last == D("2026-12-31")
    assert (np.diff(cal.sessions).astype(int) > 0).all()
    assert len(cal.between("2024-01-01", "2024-12-31")) == 242
    assert trading_calendar() is cal  # cached


def test_calendar_error_is_a_data_error():
    assert issubclass(CalendarError, DataError)


@pytest.mark.parametrize("value", ["2024-12-13", "20241213", dt.date(2024, 12, 13),
                                   pd.Timestamp("2024-12-13 15:00"), D("2024-12-13")])
def test_to_date_accepts_common_forms(value):
    assert to_date(value) == D("2024-12-13")


@pytest.mark.parametrize("text", ["2024-13-45", "yesterday", "2024/1x/01"])
def test_to_date_rejects_garbage(text):
    with pytest.raises(CalendarError, match=rf"start '{text}' is not a date; expected YYYY-MM-DD or YYYYMMDD"):
        to_date(text, what="start")


@pytest.mark.parametrize("day, expected", [
    ("2024-12-13", True),    # Friday
    ("2024-12-14", False),   # Saturday
    ("2024-10-01", False),   # National Day holiday
    ("2024-10-07", False),   # holiday on a Monday
    ("2024-10-08", True),
    ("2024-02-09", False),   # Spring Festival eve, a weekday without trading
])
def test_is_session(cal, day, expected):
    assert cal.is_session(day) is expected


def test_next_and_previous(cal):
    assert cal.next("2024-12-13") == D("2024-12-16")
    assert cal.next("2024-12-13", inclusive=True) == D("2024-12-13")
    assert cal.next("2024-12-14", inclusive=True) == D("2024-12-16")
    assert cal.next("2024-09-30") == D("2024-10-08")
    assert cal.next("2024-10-01") == D("2024-10-08")
    assert cal.previous("2024-12-16") == D("2024-12-13")
    assert cal.previous("2024-12-16", inclusive=True) == D("2024-12-16")
    assert cal.previous("2024-10-07") == D("2024-09-30")
    assert cal.previous("2024-10-07", inclusive=True) == D("2024-09-30")


def test_between(cal):
    np.testing.assert_array_equal(
        cal.between("2024-09-28", "2024-10-09"),
        np.array(["2024-09-30", "2024-10-08", "2024-10-09"], dtype="datetime64[D]"))
    assert len(cal.between("2024-10-01", "2024-10-07")) == 0
    assert cal.between("2024-12-13", "2024-12-13").tolist() == [dt.date(2024, 12, 13)]


def test_between_end_before_start(cal):
    with pytest.raises(CalendarError, match="end 2024-12-01 is before start 2024-12-13"):
        cal.between("2024-12-13", "2024-12-01")


def test_require_session(cal):
    assert cal.require_session("20241213") == D("2024-12-13")
    with pytest.raises(CalendarError, match=r"^--date 2024-12-14 is not a trading session "
                                            r"\(previous 2024-12-13, next 2024-12-16\)$"):
        cal.require_session("2024-12-14", what="--date")
    with pytest.raises(CalendarError, match=r"^date 2024-10-01 is not a trading session "
                                            r"\(previous 2024-09-30, next 2024-10-08\)$"):
        cal.require_session("2024-10-01")


@pytest.mark.parametrize("call", [
    lambda c: c.require_session("1990-12-18"),
    lambda c: c.require_session("2027-01-04"),
    lambda c: c.next("2027-01-04"),
    lambda c: c.previous("1989-06-01"),
    lambda c: c.between("1990-01-01", "1991-01-01"),
])
def test_outside_the_calendar(cal, call):
    with pytest.raises(CalendarError, match=r"is outside the trading calendar \(1990-12-19 \.\. 2026-12-31\)"):
        call(cal)


def test_outside_messages_name_the_date_and_role(cal):
    with pytest.raises(CalendarError, match=r"^end 2027-02-01 is outside the trading calendar"):
        cal.between("2026-12-01", "2027-02-01")
    with pytest.raises(CalendarError, match=r"^--date 2030-01-02 is outside the trading calendar"):
        cal.require_session("2030-01-02", what="--date")


def test_edges_of_the_calendar(cal):
    with pytest.raises(CalendarError, match="no trading session after 2026-12-31 in the calendar "
                                            r"\(last 2026-12-31\)"):
        cal.next("2026-12-31")
    with pytest.raises(CalendarError, match="no trading session before 1990-12-19 in the calendar"):
        cal.previous("1990-12-19")
    assert cal.next("2026-12-31", inclusive=True) == D("2026-12-31")
    assert cal.previous("1990-12-19", inclusive=True) == D("1990-12-19")


def test_small_calendar_from_array():
    c = TradingCalendar(np.array(["2024-01-02", "2024-01-04"], dtype="datetime64[D]"))
    assert c.next("2024-01-02") == D("2024-01-04")
    assert not c.is_session("2024-01-03")
    with pytest.raises(CalendarError, match="2024-01-05 is outside the trading calendar"):
        c.require_session("2024-01-05")
