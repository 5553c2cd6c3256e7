"""One event study: market + marks -> events -> per-group summary.

>>> from backtests.study import run_study
>>> res = run_study(market, marks_frame, horizon=20, by="role,board,role+board")
>>> res.events.frame; res.summary
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core.errors import ConfigError
from backtests.study.events import NA, Events, event_table
from backtests.study.summary import DEFAULT_BY, MIN_COUNT, N_BOOT, parse_by, summarize

DEFAULT_HORIZON = 20


class StudyResult(NamedTuple):
    """What :func:`run_study` returns. ``by``: the groupings summarised; ``skipped``: default
    groupings left out because no mark carries a value for them (a marks file without a
    ``role`` column, say)."""
    events: Events
    summary: pd.DataFrame
    by: tuple[tuple[str, ...], ...]
    skipped: tuple[str, ...]
    n_boot: int
    seed: int
    min_count: int


def run_study(market, marks: pd.DataFrame, *, horizon: int = DEFAULT_HORIZON, by=None,
              n_boot: int = N_BOOT, seed: int = 0, min_count: int = MIN_COUNT,
              calendar=None) -> StudyResult:
    """The event study of ``marks`` (a frame ``date, code`` plus any of ``name, role, theme,
    first_mention, published``) on ``market``.

    ``by``: groupings as ``"role,board,role+board"`` (see
    :func:`backtests.study.summary.parse_by`); default every single dimension the marks carry.
    ``n_boot`` bootstrap resamples (0 = no intervals) drawn from ``seed``; groups with fewer
    than ``min_count`` marks are flagged ``thin``. Errors are ``ConfigError``/``DataError``.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ConfigError(f"bootstrap = {n_boot!r}: expected 0 (no intervals) or a number of "
                          f"resamples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed = {seed!r}: expected a whole number >= 0")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) \
            or min_count < 1:
        raise ConfigError(f"min_count = {min_count!r}: expected a whole number >= 1")
    events = event_table(market, marks, horizon=horizon, calendar=calendar)
    skipped: list[str] = []
    if by is None:
        dims = []
        for d in DEFAULT_BY:
            if (events.frame[d] == NA).all():
                skipped.append(d)
            else:
                dims.append((d,))
        by = tuple(dims)
    else:
        by = parse_by(by)
    summary = summarize(events, by, n_boot=int(n_boot), seed=int(seed),
                        min_count=int(min_count))
    return StudyResult(events, summary, by, tuple(skipped), int(n_boot), int(seed),
                       int(min_count))
