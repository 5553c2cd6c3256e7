"""``hypebt study``: what happened after the news — an event study with fillability.

For every mark (the session whose open is the earliest entry, and a stock): returns from the
previous close and from the entry open to the close of sessions 0..H, abnormal returns against
the equal-weight market and the stock's board, fillability at the entry open (sealed 一字板,
opened at the limit, buyable, suspended) and the price paid against the previous close; then
per group (role, theme, board, first mention, streak, publication time, fill state, and pairs)
count, mean, median, hit rate, t-statistic and a seeded bootstrap 95% interval per horizon.

Modules: :mod:`~backtests.study.nb` (kernels), :mod:`~backtests.study.events` (the mark x
horizon table), :mod:`~backtests.study.summary` (groups and statistics),
:mod:`~backtests.study.run` (:func:`run_study`), :mod:`~backtests.study.outputs` (CSV files and
the study folder). The page is drawn by the report layer. ``docs/study.md`` is the user's
version. Forward returns appear only in study outputs, never in marks or decisions.
"""
from backtests.study.events import DIMENSIONS, MEASURES, Events, event_table
from backtests.study.run import DEFAULT_HORIZON, StudyResult, run_study
from backtests.study.summary import SUMMARY_COLUMNS, parse_by, summarize

__all__ = ["DEFAULT_HORIZON", "DIMENSIONS", "MEASURES", "SUMMARY_COLUMNS", "Events",
           "StudyResult", "event_table", "parse_by", "run_study", "summarize"]
