"""Published time -> first tradable session, at every boundary, on the real calendar."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.core.calendar import trading_calendar
from backtests.core.errors import CalendarError, ConfigError
from signals.sessions import entry_session

CAL = trading_calendar()


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Asia/Shanghai")


def d(text: str) -> np.datetime64:
    return np.datetime64(text, "D")


# 2024-12-13 is a Friday, 2024-12-16 a Monday.
@pytest.mark.parametrize("published, intraday, expected", [
    ("2024-12-16 00:00", "next_open", ("2024-12-16", "open")),
    ("2024-12-16 09:29", "next_open", ("2024-12-16", "open")),
    ("2024-12-16 09:29:59", "same_close", ("2024-12-16", "open")),
    ("2024-12-16 09:30", "next_open", ("2024-12-17", "open")),
    ("2024-12-16 09:30", "same_close", ("2024-12-16", "close")),
    ("2024-12-16 11:45", "next_open", ("2024-12-17", "open")),     # lunch break = during
    ("2024-12-16 11:45", "same_close", ("2024-12-16", "close")),
    ("2024-12-16 14:59", "next_open", ("2024-12-17", "open")),
    ("2024-12-16 14:59", "same_close", ("2024-12-16", "close")),
    ("2024-12-16 15:00", "same_close", ("2024-12-17", "open")),
    ("2024-12-16 23:59", "next_open", ("2024-12-17", "open")),
    ("2024-12-13 15:00", "next_open", ("2024-12-16", "open")),     # Friday close -> Monday
    ("2024-12-14 10:00", "same_close", ("2024-12-16", "open")),    # Saturday
    ("2024-10-01 10:00", "same_close", ("2024-10-08", "open")),    # National Day holiday
    ("2024-09-30 16:00", "next_open", ("2024-10-08", "open")),     # before the holiday week
])
def test_entry_session_boundaries(published, intraday, expected):
    session, entry = entry_session(at(published), CAL, intraday=intraday)
    assert (str(session), entry) == expected


def test_other_time_zones_are_converted_first():
    # 01:20 UTC = 09:20 Beijing: before the open
    ts = pd.Timestamp("2024-12-16 01:20", tz="UTC")
    assert entry_session(ts, CAL) == (d("2024-12-16"), "open")


@pytest.mark.parametrize("day, policy, expected", [
    ("2024-12-16", "next_open", "2024-12-17"),       # may have been after the close
    ("2024-12-16", "same_day_open", "2024-12-16"),
    ("2024-10-01", "next_open", "2024-10-08"),
    ("2024-10-01", "same_day_open", "2024-10-08"),
    ("2024-12-14", "next_open", "2024-12-16"),
])
def test_bare_dates(day, policy, expected):
    session, entry = entry_session(at(day), CAL, bare=True, bare_date=policy)
    assert (str(session), entry) == (expected, "open")


def test_stricter_open_cutoff():
    ts = at("2024-12-16 09:27")
    assert entry_session(ts, CAL)[0] == d("2024-12-16")
    assert entry_session(ts, CAL, open_cutoff="09:25")[0] == d("2024-12-17")


def test_bad_options_and_dates_outside_the_calendar():
    with pytest.raises(ConfigError, match="intraday"):
        entry_session(at("2024-12-16 10:00"), CAL, intraday="same_open")
    with pytest.raises(ConfigError, match="open_cutoff"):
        entry_session(at("2024-12-16 10:00"), CAL, open_cutoff="half past nine")
    with pytest.raises(CalendarError, match="outside the trading calendar"):
        entry_session(at("1980-01-02 10:00"), CAL)
