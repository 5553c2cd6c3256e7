"""hypebt's public Python API: ``import hypebt``.

A thin face over :mod:`backtests.api` (see there and the README's "Python API" section), so a
notebook needs one import: ``load_market``, ``read_marks``, ``marks_from_articles``,
``backtest`` (returns a :class:`Result`), ``grid``, ``scan``, ``study``, ``market_state`` and
``ladder_marks``.
"""
from backtests import __version__
from backtests.api import (
    Result,
    backtest,
    grid,
    ladder_marks,
    load_market,
    market_state,
    marks_from_articles,
    read_marks,
    scan,
    study,
)
from backtests.core.errors import ConfigError, DataError, HypebtError, MarksError

__all__ = ["ConfigError", "DataError", "HypebtError", "MarksError", "Result", "__version__",
           "backtest", "grid", "ladder_marks", "load_market", "market_state",
           "marks_from_articles", "read_marks", "scan", "study"]
