"""A-share exchange rules as data tables plus small scalar and vectorised helpers.

Every rule that changed over time is a table row keyed by the date it took effect; a new
regulation is a new row, not a new ``if``. Scalar ``*_nb`` helpers are numba-compiled for the
engine; the vectorised numpy versions serve the pandas edge. Tests check that the two agree
and that limit prices match a ``Decimal`` half-up reference exactly.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from numba import njit

from backtests.core.calendar import to_date
from backtests.core.errors import DataError

# ---------------------------------------------------------------- boards
BOARD_MAIN, BOARD_CHINEXT, BOARD_STAR, BOARD_BSE = 0, 1, 2, 3
BOARD_UNKNOWN = -1
BOARD_NAMES = {BOARD_MAIN: "main", BOARD_CHINEXT: "chinext", BOARD_STAR: "star", BOARD_BSE: "bse"}
BOARD_LABELS_ZH = {BOARD_MAIN: "主板", BOARD_CHINEXT: "创业板", BOARD_STAR: "科创板", BOARD_BSE: "北交所"}

# Code prefix -> board (SSE/SZSE/BSE numbering rules). Longest prefix wins.
BOARD_PREFIXES: tuple[tuple[str, int], ...] = (
    ("600", BOARD_MAIN), ("601", BOARD_MAIN), ("603", BOARD_MAIN), ("605", BOARD_MAIN),
    ("000", BOARD_MAIN), ("001", BOARD_MAIN), ("002", BOARD_MAIN), ("003", BOARD_MAIN),
    ("300", BOARD_CHINEXT), ("301", BOARD_CHINEXT), ("302", BOARD_CHINEXT),
    ("688", BOARD_STAR), ("689", BOARD_STAR),
    ("920", BOARD_BSE), ("43", BOARD_BSE), ("83", BOARD_BSE), ("87", BOARD_BSE),
    ("88", BOARD_BSE), ("82", BOARD_BSE), ("4", BOARD_BSE), ("8", BOARD_BSE),
)
_PREFIXES_LONGEST_FIRST = sorted(BOARD_PREFIXES, key=lambda p: -len(p[0]))


def board_of(code: str) -> int:
    """Board of a 6-digit A-share code, or ``BOARD_UNKNOWN`` (funds, B shares, indices)."""
    if len(code) != 6 or not code.isdigit():
        return BOARD_UNKNOWN
    for prefix, board in _PREFIXES_LONGEST_FIRST:
        if code.startswith(prefix):
            return board
    return BOARD_UNKNOWN


def boards_of(codes) -> np.ndarray:
    """Vector of boards (int8) for an iterable of codes."""
    return np.array([board_of(str(c)) for c in codes], dtype=np.int8)


# ---------------------------------------------------------------- price limits
# Status kinds a limit ratio depends on, in precedence order (a delisting-period stock that is
# also *ST trades under the delisting-period band). ``True``/``False`` passed as a kind mean
# ST/normal, so a plain is_st flag still works.
KIND_NORMAL, KIND_ST, KIND_S, KIND_DELISTING = 0, 1, 2, 3
KIND_NAMES = {KIND_NORMAL: "normal", KIND_ST: "ST", KIND_S: "S share",
              KIND_DELISTING: "delisting period"}

# (board, kind, effective_from, ratio). The latest row on or before a date applies.
# Sources: SSE/SZSE trading rules (SSE 交易规则 3.4.13, SZSE 交易规则 3.4.13: 10%, ST/*ST 5%);
# ChiNext registration reform 2020-08-24 (20%, ST included); STAR market opened 2019-07-22 at
# 20%; BSE opened 2021-11-15 at 30%; main-board ST 5% until the 2026-07-06 rule change to 10%.
# S shares (unreformed, 未完成股改): 5% since the exchanges' share-reform notices took effect
# on 2006-10-09. Delisting period (退市整理期): no limit on its first session (applied in
# market building), then 10% on the main board and 20% on ChiNext/STAR (SSE/SZSE 股票上市规则
# 退市整理期 sections; SSE 科创板/SZSE 创业板 rules) - see docs/rules.md.
LIMIT_RATIO: tuple[tuple[int, int, str, float], ...] = (
    (BOARD_MAIN, KIND_NORMAL, "1996-12-16", 0.10),
    (BOARD_MAIN, KIND_ST, "1998-04-22", 0.05),
    (BOARD_MAIN, KIND_ST, "2026-07-06", 0.10),
    (BOARD_MAIN, KIND_S, "2006-10-09", 0.05),
    (BOARD_MAIN, KIND_S, "2026-07-06", 0.10),
    (BOARD_MAIN, KIND_DELISTING, "1996-12-16", 0.10),
    (BOARD_CHINEXT, KIND_NORMAL, "2009-10-30", 0.10),
    (BOARD_CHINEXT, KIND_NORMAL, "2020-08-24", 0.20),
    (BOARD_CHINEXT, KIND_ST, "2009-10-30", 0.05),
    (BOARD_CHINEXT, KIND_ST, "2020-08-24", 0.20),
    (BOARD_CHINEXT, KIND_DELISTING, "2009-10-30", 0.10),
    (BOARD_CHINEXT, KIND_DELISTING, "2020-08-24", 0.20),
    (BOARD_STAR, KIND_NORMAL, "2019-07-22", 0.20),
    (BOARD_STAR, KIND_ST, "2019-07-22", 0.20),
    (BOARD_STAR, KIND_DELISTING, "2019-07-22", 0.20),
    (BOARD_BSE, KIND_NORMAL, "2021-11-15", 0.30),
    (BOARD_BSE, KIND_ST, "2021-11-15", 0.30),
    (BOARD_BSE, KIND_DELISTING, "2021-11-15", 0.30),
)

# (board, listed_on_or_after, free_sessions): a stock listed on/after the date has no price
# limit in its first ``free_sessions`` sessions (registration-based IPO rules).
NO_LIMIT_AFTER_LISTING: tuple[tuple[int, str, int], ...] = (
    (BOARD_STAR, "2019-07-22", 5),
    (BOARD_CHINEXT, "2020-08-24", 5),
    (BOARD_MAIN, "2023-04-10", 5),
    (BOARD_BSE, "2021-11-15", 1),
)

# Older IPO day band on the main board and pre-reform ChiNext (listed before the dates above):
# +44% / -36% of the issue price on the first session only. Applied when the panel gives the
# issue price as ``prev_close`` of the listing session; otherwise the first session is unlimited.
IPO_DAY_BAND = (0.44, 0.36)


def status_kind(is_st, s_share=False, delisting=False):
    """Status kind (``KIND_*``) from flags, scalars or arrays: delisting period > ST > S."""
    st = np.asarray(is_st, dtype=bool)
    s = np.asarray(s_share, dtype=bool)
    d = np.asarray(delisting, dtype=bool)
    return np.where(d, KIND_DELISTING, np.where(st, KIND_ST, np.where(s, KIND_S, KIND_NORMAL)))


def _rows_for(board: int, kind: int):
    rows = [r for r in LIMIT_RATIO if r[0] == board and r[1] == kind]
    if not rows and kind == KIND_S:     # S shares exist on the main board only; elsewhere as ST
        rows = [r for r in LIMIT_RATIO if r[0] == board and r[1] == KIND_ST]
    return rows


def limit_ratio(board: int, is_st, date) -> float:
    """Daily price-limit ratio for one stock on one date (no listing-day exceptions).
    ``is_st`` is a bool (ST or not) or a ``KIND_*`` status kind."""
    day = to_date(date)
    kind = int(is_st)
    best = None
    for _, _, since, ratio in _rows_for(board, kind):
        if np.datetime64(since, "D") <= day:
            if best is None or np.datetime64(since, "D") >= best[0]:
                best = (np.datetime64(since, "D"), ratio)
    if best is None:
        raise DataError(f"no price-limit rule for board {BOARD_NAMES.get(board, board)} "
                        f"({KIND_NAMES.get(kind, kind)}) on {day}")
    return best[1]


def limit_ratios(boards: np.ndarray, is_st: np.ndarray, sessions: np.ndarray) -> np.ndarray:
    """``[sessions, stocks]`` limit ratios; NaN where no rule applies (e.g. unknown board).

    ``is_st`` may be ``[stocks]`` (one status for the whole window) or ``[sessions, stocks]``,
    bool (ST or not) or ``KIND_*`` status kinds (:func:`status_kind`).
    """
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    boards = np.asarray(boards)
    kind = np.broadcast_to(np.asarray(is_st).astype(np.int8), (len(sessions), len(boards)))
    out = np.full((len(sessions), len(boards)), np.nan)
    for b in np.unique(boards):
        for k in np.unique(kind[:, boards == b]) if (boards == b).any() else ():
            # Rows sorted by date so later rows overwrite earlier ones.
            for _, _, since, ratio in sorted(_rows_for(int(b), int(k)), key=lambda r: r[2]):
                active = sessions >= np.datetime64(since, "D")
                mask = active[:, None] & (boards == b)[None, :] & (kind == k)
                out[mask] = ratio
    return out


def free_sessions_after_listing(board: int, list_date) -> int:
    """How many first sessions trade without a price limit for a stock listed on ``list_date``."""
    day = to_date(list_date)
    n = 0
    for b, since, free in NO_LIMIT_AFTER_LISTING:
        if b == board and day >= np.datetime64(since, "D"):
            n = free
    return n


def _ratio_bp(ratio: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(ratio, dtype=np.float64) * 10000.0)


def limit_prices(prev_close: np.ndarray, ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Limit-up and limit-down prices, ``prev_close * (1 ± ratio)`` rounded half-up to 0.01.

    Done exactly in integer cents and basis points (prices are raw, on the 0.01 grid), so
    ``10.05 * 1.1 = 11.055`` rounds to 11.06 as the exchange prints it, not to binary float
    ``round``'s 11.05. NaN in either input gives NaN (no limit).
    """
    pc = np.asarray(prev_close, dtype=np.float64)
    ratio = np.asarray(ratio, dtype=np.float64)
    if pc.ndim == 2 and ratio.shape == pc.shape and pc.shape[0] > LIMIT_BLOCK:
        # A whole market: block by block along the sessions, so the integer temporaries
        # stay small (a 10-year market's would be about 0.7 GB at once).
        up, down = np.empty(pc.shape), np.empty(pc.shape)
        for a in range(0, pc.shape[0], LIMIT_BLOCK):
            up[a:a + LIMIT_BLOCK], down[a:a + LIMIT_BLOCK] = limit_prices(
                pc[a:a + LIMIT_BLOCK], ratio[a:a + LIMIT_BLOCK])
        return up, down
    rb = _ratio_bp(ratio)
    valid = np.isfinite(pc) & np.isfinite(rb)
    cents = np.where(valid, np.rint(pc * 100.0), 0).astype(np.int64)
    bp = np.where(valid, rb, 0).astype(np.int64)
    up = (cents * (10000 + bp) + 5000) // 10000
    down = (cents * (10000 - bp) + 5000) // 10000
    return np.where(valid, up / 100.0, np.nan), np.where(valid, down / 100.0, np.nan)


LIMIT_BLOCK = 256  # sessions per block of limit_prices on a whole market


def limit_price_decimal(prev_close: float, ratio: float, up: bool = True) -> Decimal:
    """Reference implementation with ``decimal``: the exchange's half-up rule, literally."""
    pc = Decimal(str(prev_close)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    r = Decimal(str(ratio))
    raw = pc * (1 + r) if up else pc * (1 - r)
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@njit(cache=True)
def limit_price_nb(prev_close, ratio, up):
    """Scalar limit price in integer cents, half-up (same arithmetic as ``limit_prices``)."""
    if not (np.isfinite(prev_close) and np.isfinite(ratio)):
        return np.nan
    cents = np.int64(np.rint(prev_close * 100.0))
    bp = np.int64(np.rint(ratio * 10000.0))
    if up:
        return ((cents * (10000 + bp) + 5000) // 10000) / 100.0
    return ((cents * (10000 - bp) + 5000) // 10000) / 100.0


# ---------------------------------------------------------------- lots and ticks
TICK = 0.01
# board -> (minimum buy quantity, step above the minimum). Main board and ChiNext trade in
# round lots of 100; STAR: at least 200 then steps of 1; BSE: at least 100 then steps of 1.
LOT: dict[int, tuple[int, int]] = {
    BOARD_MAIN: (100, 100),
    BOARD_CHINEXT: (100, 100),
    BOARD_STAR: (200, 1),
    BOARD_BSE: (100, 1),
}


def lot_arrays(boards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-stock (min_lot, lot_step) int64 arrays; unknown boards get (100, 100)."""
    mins = np.array([LOT.get(int(b), (100, 100))[0] for b in boards], dtype=np.int64)
    steps = np.array([LOT.get(int(b), (100, 100))[1] for b in boards], dtype=np.int64)
    return mins, steps


@njit(cache=True)
def lot_round_nb(shares, min_lot, step):
    """Largest buyable quantity <= ``shares``: 0 below the minimum, else min + k*step."""
    if shares < min_lot:
        return 0
    return min_lot + ((np.int64(shares) - min_lot) // step) * step


# ---------------------------------------------------------------- fees
# (effective_from, stamp_duty_sell, transfer_fee_both_sides); latest row on/before a date.
# Stamp duty: sell side only since 2008-09-19 at 0.1%, halved to 0.05% from 2023-08-28.
# Transfer fee: unified 0.002% of value from 2015-08-01 (before that SSE charged per share and
# SZSE nothing; modelled at the unified rate), 0.001% from 2022-04-29.
FEES: tuple[tuple[str, float, float], ...] = (
    ("2008-09-19", 0.001, 0.00002),
    ("2015-08-01", 0.001, 0.00002),
    ("2022-04-29", 0.001, 0.00001),
    ("2023-08-28", 0.0005, 0.00001),
)
DEFAULT_COMMISSION_RATE = 0.00025
DEFAULT_COMMISSION_MIN = 5.0


def fee_rates(sessions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-session (stamp_duty_sell_rate, transfer_fee_rate) arrays from the ``FEES`` table."""
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    starts = np.array([r[0] for r in FEES], dtype="datetime64[D]")
    if len(sessions) and sessions.min() < starts[0]:
        raise DataError(f"the fee schedule starts {starts[0]}; session {sessions.min()} is earlier")
    idx = np.searchsorted(starts, sessions, side="right") - 1
    stamp = np.array([r[1] for r in FEES])[idx]
    transfer = np.array([r[2] for r in FEES])[idx]
    return stamp, transfer


@njit(cache=True)
def round_fee_nb(x):
    """Round a fee to 0.01 CNY half-up (the epsilon absorbs binary float error in ``rate*value``)."""
    return np.floor(x * 100.0 + 0.5 + 1e-7) / 100.0


@njit(cache=True)
def buy_costs_nb(value, commission_rate, commission_min, transfer_rate):
    """(commission, stamp_duty, transfer_fee) of a buy of ``value`` CNY."""
    commission = round_fee_nb(max(value * commission_rate, commission_min))
    return commission, 0.0, round_fee_nb(value * transfer_rate)


@njit(cache=True)
def sell_costs_nb(value, commission_rate, commission_min, stamp_rate, transfer_rate):
    """(commission, stamp_duty, transfer_fee) of a sell of ``value`` CNY."""
    commission = round_fee_nb(max(value * commission_rate, commission_min))
    return commission, round_fee_nb(value * stamp_rate), round_fee_nb(value * transfer_rate)


# ---------------------------------------------------------------- dividend tax (individuals)
# Tax on cash dividends and bonus shares (送股, taxed at par; 转增 from share premium is not
# taxed) of listed A-shares held by an individual, by holding period, charged when the shares
# are sold (the company withholds nothing; the broker deducts it from the account on sale):
# 财税〔2012〕85号 (from 2013-01-01): held <= 1 month 20%, 1 month to 1 year 10%, > 1 year 5%;
# 财税〔2015〕101号 (from 2015-09-08): > 1 year exempt. The holding period runs from the day the
# shares were acquired to the day before the sale (85号 §1), first in, first out (85号 §2).
# Rows: (first sale date, rate held <= 1 month, 1 month to 1 year, > 1 year). Before 2013 a
# flat 10% was withheld at payment; it is charged on sale here (docs/status.md).
DIVIDEND_TAX: tuple[tuple[str, float, float, float], ...] = (
    ("1990-01-01", 0.10, 0.10, 0.10),
    ("2013-01-01", 0.20, 0.10, 0.05),
    ("2015-09-08", 0.20, 0.10, 0.0),
)
PAR_VALUE = 1.0  # CNY per share: the taxable amount of one bonus share (送股) by default


def add_months(day, months: int):
    """``day`` (datetime64[D] scalar or array) plus whole calendar months, the day clamped to
    the month's end (2024-01-31 + 1 month = 2024-02-29)."""
    day = np.asarray(day, dtype="datetime64[D]")
    month = day.astype("datetime64[M]")
    dom = (day - month).astype(np.int64)
    target = month + np.timedelta64(months, "M")
    last = ((target + np.timedelta64(1, "M")).astype("datetime64[D]")
            - target.astype("datetime64[D]")).astype(np.int64) - 1
    return target.astype("datetime64[D]") + np.minimum(dom, last).astype("timedelta64[D]")


def dividend_tax_rate(acquired, sold) -> float:
    """The tax rate on dividends of shares acquired on ``acquired`` and sold on ``sold``
    (dates): the ``DIVIDEND_TAX`` row in force on the sale date, by the holding period from
    the acquisition day to the day before the sale."""
    acquired = np.datetime64(acquired, "D")
    sold = np.datetime64(sold, "D")
    starts = np.array([r[0] for r in DIVIDEND_TAX], dtype="datetime64[D]")
    row = DIVIDEND_TAX[int(np.searchsorted(starts, sold, side="right")) - 1]
    held_to = sold - np.timedelta64(1, "D")
    if held_to <= add_months(acquired, 1):
        return row[1]
    if held_to <= add_months(acquired, 12):
        return row[2]
    return row[3]


def dividend_tax_arrays(sessions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-session arrays for the kernel: ``month_end[a]`` / ``year_end[a]``, the last session
    index whose sale counts as held <= 1 month / <= 1 year for shares acquired at session
    ``a``; and ``rates[t]`` ``[S, 3]``, the ``DIVIDEND_TAX`` rates in force at session ``t``."""
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    # sale day d is within the period iff d - 1 <= add_months(a, k), i.e. d <= that + 1 day
    one = np.timedelta64(1, "D")
    month_end = np.searchsorted(sessions, add_months(sessions, 1) + one, side="right") - 1
    year_end = np.searchsorted(sessions, add_months(sessions, 12) + one, side="right") - 1
    starts = np.array([r[0] for r in DIVIDEND_TAX], dtype="datetime64[D]")
    idx = np.searchsorted(starts, sessions, side="right") - 1
    rates = np.array([r[1:] for r in DIVIDEND_TAX], dtype=np.float64)[np.maximum(idx, 0)]
    return month_end.astype(np.int64), year_end.astype(np.int64), np.ascontiguousarray(rates)
