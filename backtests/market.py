"""Market panel: read long-form daily bars, validate them, align to ``[sessions, stocks]`` arrays.

(Interface fixed here; the loader is being implemented — see docs/interfaces.md.)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Market(NamedTuple):
    """Aligned market arrays. ``[S, N]`` float64 arrays hold NaN where a stock had no bar
    (suspended or not listed); limit prices are NaN where no price limit applies."""
    sessions: np.ndarray      # [S] datetime64[D], trading sessions in order
    codes: np.ndarray         # [N] str, 6-digit codes, sorted
    names: np.ndarray         # [N] str, '' where unknown
    boards: np.ndarray        # [N] int8, rules.BOARD_*
    is_st: np.ndarray         # [N] bool
    open: np.ndarray          # [S, N]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray        # shares
    amount: np.ndarray        # CNY
    prev_close: np.ndarray    # [S, N] previous traded close (or the file's prev_close)
    limit_ratio: np.ndarray   # [S, N] NaN = no limit
    limit_up: np.ndarray      # [S, N]
    limit_down: np.ndarray    # [S, N]
    synthetic: bool           # True for the embedded demo market
