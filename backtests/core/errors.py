"""One exception family for everything a user can get wrong.

The CLI turns any :class:`HypebtError` into a single ``Error: ...`` line and exit code 2;
anything else is an internal error (exit 1).
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class HypebtError(Exception):
    """Base class: a problem with the user's input, named precisely enough to fix."""


class DataError(HypebtError):
    """A data file (market panel, names, articles, store) is missing or malformed."""


class ConfigError(HypebtError):
    """A config key, option or parameter value is wrong."""


class CalendarError(DataError):
    """A date is not a trading session or lies outside the calendar."""


class MarksError(DataError, ConfigError):
    """Marks (a marks file, a marks frame, user entries) are malformed or do not fit the market.
    Marks are both data and a run's input, so this is either kind to a caller that catches one."""


class DataWarning(UserWarning):
    """Something in the data the user should know about but that does not stop the run (dropped
    bad rows, stocks of an unknown board, bars outside their computed price limits). The CLI
    prints these as ``Warning: ...`` lines on stderr."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``' (did you mean "x"?)'`` for the closest choice, or ``''`` when none is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""
