"""The aligned market: a long-form panel becomes ``[sessions, stocks]`` arrays with limit prices.

``build_market(panel)`` aligns the frame of :func:`backtests.data.panel.read_panel` to the
trading calendar as ``[sessions, stocks]`` float64 arrays (NaN where a stock has no bar) and
derives ``prev_close`` and the price limits of every session. Alignment scatters rows into
preallocated arrays; no Python loop runs per row. ``backtests.data.load.load_market`` reads and
aligns in one call. The full contract is in ``docs/data.md``.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from backtests.core import rules
from backtests.core.calendar import to_date, trading_calendar
from backtests.core.errors import CalendarError, DataError, DataWarning
from backtests.core.names import name_is_delisting, name_is_s_share, name_is_st
from backtests.data import status
from backtests.data.panel import REQUIRED


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
    prev_close: np.ndarray    # [S, N] the exchange's reference previous close (ex-rights adjusted)
    limit_ratio: np.ndarray   # [S, N] NaN = no limit
    limit_up: np.ndarray      # [S, N]
    limit_down: np.ndarray    # [S, N]
    synthetic: bool           # True for the embedded demo market
    # [S, N] uint8 status bits per session (backtests.data.status: ST, S_SHARE, DELISTING and
    # where they came from); None = the last-session ``is_st`` holds for every session
    status: np.ndarray | None = None
    # [E, 6] float64: what a holder of record receives on each ex-date (status.ENT_* columns:
    # session, stock, cash and new shares per share, taxable income per share, reference /
    # raw previous close); None or empty = nothing (backtests.data.status.entitlements).
    entitlements: np.ndarray | None = None


# ---------------------------------------------------------------- aligning
def _factorize_sorted(values: np.ndarray):
    idx, uniques = pd.factorize(values, sort=True)
    return idx, np.asarray(uniques)


def ffill_index(valid: np.ndarray) -> np.ndarray:
    """Per column, the row index of the last valid row at or before each row (-1 if none)."""
    idx = np.where(valid, np.arange(valid.shape[0], dtype=np.int64)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return idx


def _fill_along(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down the columns, then back-fill the leading NaN."""
    valid = np.isfinite(values)
    cols = np.arange(values.shape[1])
    fwd = ffill_index(valid)
    out = np.where(fwd >= 0, values[np.maximum(fwd, 0), cols], np.nan)
    back = ffill_index(valid[::-1])[::-1]
    back = np.where(back >= 0, values.shape[0] - 1 - back, -1)
    return np.where(np.isfinite(out), out, np.where(back >= 0, values[np.maximum(back, 0), cols], np.nan))


def _row_per_stock(ri: np.ndarray, ci: np.ndarray, S: int, N: int, mask: np.ndarray, *,
                   last: bool) -> np.ndarray:
    """Per stock, the position (into ``ri``/``ci``) of its first or last row among ``mask``,
    -1 if none. Relies on (session, stock) pairs being unique, as validation guarantees."""
    session = np.full(N, -1 if last else S, dtype=np.int64)
    (np.maximum if last else np.minimum).at(session, ci[mask], ri[mask])
    found = np.flatnonzero((session >= 0) & (session < S))
    position = np.full((S, N), -1, dtype=np.int64)
    position[ri, ci] = np.arange(len(ri))
    out = np.full(N, -1, dtype=np.int64)
    out[found] = position[session[found], found]
    return out


#: The [S, N] fields of a Market (``status`` aside: it may be None).
GRID_FIELDS = ("open", "high", "low", "close", "volume", "amount", "prev_close", "limit_ratio",
               "limit_up", "limit_down")


def select_market(market: Market, *, sessions: slice | None = None, stocks=None) -> Market:
    """``market`` restricted to a slice of its sessions and some of its stocks (indices, in
    the order given; sorted keeps codes sorted): every ``[S, N]`` array, the per-stock fields,
    the status and the entitlements (renumbered; those outside the selection left out)."""
    rows = slice(None) if sessions is None else sessions
    S, N = market.close.shape
    cols = np.arange(N) if stocks is None else np.asarray(stocks, dtype=np.int64)
    arrays = {f: np.ascontiguousarray(getattr(market, f)[rows][:, cols]) for f in GRID_FIELDS}
    ents = market.entitlements
    if ents is not None:
        first, stop, _ = rows.indices(S)
        new_col = np.full(N, -1, np.int64)
        new_col[cols] = np.arange(len(cols))
        t = ents[:, status.ENT_SESSION].astype(np.int64)
        j = new_col[ents[:, status.ENT_STOCK].astype(np.int64)]
        keep = (t >= first) & (t < stop) & (j >= 0)
        ents = ents[keep].copy()
        ents[:, status.ENT_SESSION] -= first
        ents[:, status.ENT_STOCK] = j[keep]
        order = np.lexsort((ents[:, status.ENT_STOCK], ents[:, status.ENT_SESSION]))
        ents = np.ascontiguousarray(ents[order])
    return market._replace(
        sessions=market.sessions[rows], codes=market.codes[cols], names=market.names[cols],
        boards=market.boards[cols], is_st=market.is_st[cols], **arrays,
        status=None if market.status is None
        else np.ascontiguousarray(market.status[rows][:, cols]),
        entitlements=ents)


def build_market(panel, *, master=None, start=None, end=None, synthetic: bool = False,
                 status_file=None, actions=None, infer: bool = True,
                 consume: bool = False) -> Market:
    """Align a long-form panel (as :func:`read_panel` returns it) to ``[sessions, stocks]``.

    Sessions are the calendar's trading sessions from the first date in the panel (or ``start``
    if later) to the last date (or ``end`` if earlier): a session on which no stock has a row is
    still a session, all NaN. Rows before ``start`` are warm-up: they feed ``prev_close`` and are
    then cut off. Stocks with no row in the window and stocks of an unknown board (funds, B
    shares; a :class:`DataWarning` gives the count) are left out; codes come out sorted.

    A row with zero volume is a no-trade placeholder: treated as no bar (NaN). ``prev_close`` is
    the exchange's reference previous close: the file's ``prev_close`` where given, else the
    previous traded close, carried across suspensions (NaN before a stock's first bar), except
    on the ex-dates of an ``actions`` table (a corporate-actions file or frame:
    ``status.ex_reference``) and on ex-rights days that the bars reveal
    (``backtests.data.status.infer_reference``).

    Status per session (``Market.status`` bits; ``backtests.data.status``), in order of
    precedence: a ``status_file`` row; the panel's ``is_st``/``s_share``/``delisting_period``
    per row; a ``name`` column per row (ST, a leading S, a trailing 退); the master's current
    name (ST, S). Per-row flags are carried forward over sessions without a row. Without an
    ``is_st`` or ``name`` column, main-board ST is inferred per session from the bars
    (``infer=False`` turns both inferences off). ``Market.is_st`` is the status on the last
    session. Limit ratios come from :func:`rules.limit_ratios` by status kind; they are NaN (no
    limit) where ``prev_close`` is unknown, on the first session of a delisting period and on
    the free sessions after listing (``rules.NO_LIMIT_AFTER_LISTING``; the
    listing session itself is always free). The listing date comes from the panel's
    ``list_date``, else the master's, else — for a stock whose first row comes after the
    panel's first session — its first row (a new listing; see docs/data.md for the caveat).

    ``consume=True`` hands the frame over: its price, volume, code and date columns are dropped
    from it as they are aligned, so the long form and the ``[sessions, stocks]`` arrays do not
    both stay in memory (:func:`backtests.data.load.load_market` does this with the frame it
    read; a 10-year panel's columns are about 0.7 GB).
    """
    missing = [c for c in REQUIRED if c not in panel.columns]
    if missing:
        raise DataError(f"panel {panel.attrs.get('source', '<frame>')} lacks column(s) "
                        f"{', '.join(missing)}; read it with read_panel()")
    if len(panel) == 0:
        raise DataError(f"panel {panel.attrs.get('source', '<frame>')} has no rows")
    cal = trading_calendar()

    day = panel["date"].to_numpy().astype("datetime64[D]")
    date_idx, days = _factorize_sorted(day)
    days = days.astype("datetime64[D]")
    pos = np.searchsorted(cal.sessions, days)
    off = (pos >= len(cal.sessions)) | (cal.sessions[np.minimum(pos, len(cal.sessions) - 1)] != days)
    if off.any():
        raise CalendarError(f"panel {panel.attrs.get('source', '<frame>')}: date {days[off][0]} is "
                            "not a trading session; validate the panel with read_panel()")

    first = days[0]
    last = days[-1]
    if end is not None:
        end_day = to_date(end, what="end")
        last = min(last, cal.previous(end_day, inclusive=True))
    window_first = first
    if start is not None:
        start_day = to_date(start, what="start")
        window_first = max(first, cal.next(start_day, inclusive=True))
    if window_first > last:
        raise DataError(f"no sessions between start {start or first} and end {end or days[-1]} in "
                        f"panel {panel.attrs.get('source', '<frame>')} ({days[0]} .. {days[-1]})")
    sessions = cal.between(first, last)
    base = np.searchsorted(cal.sessions, first)
    w0 = int(np.searchsorted(sessions, window_first))
    S = len(sessions)

    row_sess = (pos - base)[date_idx]
    in_range = row_sess < S
    code_idx, codes = _factorize_sorted(panel["code"])    # hashes Arrow strings, no objects
    codes = codes.astype(str)
    # stocks kept: a row in the window and a known board
    has_row = np.zeros(len(codes), bool)
    has_row[code_idx[in_range & (row_sess >= w0)]] = True
    boards_all = rules.boards_of(codes)
    unknown = has_row & (boards_all == rules.BOARD_UNKNOWN)
    if unknown.any():
        bad_codes = codes[unknown]
        warnings.warn(DataWarning(
            f"left out {unknown.sum()} stock(s) of no known A-share board (funds, B shares, "
            f"indices?): {', '.join(bad_codes[:5])}{' ...' if len(bad_codes) > 5 else ''}"),
            stacklevel=2)
    keep_stock = has_row & ~unknown
    if not keep_stock.any():
        raise DataError(f"panel {panel.attrs.get('source', '<frame>')}: no A-share stock has a row "
                        f"between {window_first} and {last}")
    new_col = np.cumsum(keep_stock) - 1
    codes = codes[keep_stock]
    boards = boards_all[keep_stock]
    N = len(codes)

    rows = in_range & keep_stock[code_idx]
    if rows.all():
        rows = slice(None)                      # the usual case: no copy of every column
    ri = row_sess[rows]
    ci = new_col[code_idx[rows]]
    flat = ri * N + ci                          # position in the C-ordered [S, N] arrays
    del row_sess, date_idx, code_idx            # row-long index arrays: about 85 MB each
    traded = panel["volume"].to_numpy(dtype=np.float64)[rows] > 0
    flat_traded = flat[traded]

    def scatter(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        out = np.full((S, N), np.nan)
        if mask is None:
            out.ravel()[flat] = values
        else:
            out.ravel()[flat_traded] = values[mask]
        return out

    arrays = {}
    for k in ("open", "high", "low", "close", "volume", "amount"):
        arrays[k] = scatter(panel[k].to_numpy(dtype=np.float64)[rows], traded)
        if consume:                             # the long column is no longer needed
            del panel[k]
    if consume:
        del panel["code"], panel["date"]
        pa.default_memory_pool().release_unused()   # Arrow keeps freed buffers otherwise
    close = arrays["close"]
    cols = np.arange(N)
    last_idx = ffill_index(np.isfinite(close))
    prev_idx = np.vstack([np.full((1, N), -1), last_idx[:-1]])
    prev_close = np.where(prev_idx >= 0, close[np.maximum(prev_idx, 0), cols], np.nan)
    del last_idx, prev_idx

    master_st = np.zeros(N, bool)
    master_names = np.full(N, "", dtype=object)
    master_ld = np.full(N, np.datetime64("NaT"), dtype="datetime64[D]")
    if master is not None:
        mf = master.frame.reindex(codes)
        master_st = mf["is_st"].fillna(False).to_numpy(dtype=bool)
        master_names = mf["name"].fillna("").to_numpy(dtype=object)
        master_ld = mf["list_date"].to_numpy().astype("datetime64[D]")

    def flag_rows(col: str):
        """[S, N] 0/1 float of a per-row flag column, carried forward over sessions without a
        row (NaN before the first known value)."""
        v = pd.array(panel[col], dtype="boolean").to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        return _fill_along(scatter(v))

    # Status per session, in order of precedence: the panel's flag columns per row, a ``name``
    # column per row (ST / S / 退 in the name), the master's current name; without is_st or name
    # columns, ST is inferred from the bars (backtests.status).
    name_flags = None
    if "name" in panel.columns:
        nm_idx, nm_vals = pd.factorize(panel["name"].to_numpy(dtype=object)[rows])
        name_flags = {
            "is_st": np.array([name_is_st(str(x)) for x in nm_vals], dtype=np.float64)[nm_idx],
            "s_share": np.array([name_is_s_share(str(x)) for x in nm_vals], np.float64)[nm_idx],
            "delisting_period": np.array([name_is_delisting(str(x)) for x in nm_vals],
                                         np.float64)[nm_idx]}
    master_flag = {"is_st": master_st,
                   "s_share": np.array([name_is_s_share(str(x)) for x in master_names], bool),
                   "delisting_period": np.zeros(N, bool)}
    per_session = {}
    for col in ("is_st", "s_share", "delisting_period"):
        if col in panel.columns:
            v = flag_rows(col)
        elif name_flags is not None:
            v = _fill_along(scatter(name_flags[col]))
        else:
            v = np.full((S, N), np.nan)
        per_session[col] = np.where(np.isnan(v), master_flag[col][None, :], v > 0)
    st_known = "is_st" in panel.columns or name_flags is not None

    names = master_names.copy()
    if "name" in panel.columns:
        name_rows = panel["name"].to_numpy(dtype=object)[rows]
        j = _row_per_stock(ri, ci, S, N, name_rows != "", last=True)
        last_name = np.where(j >= 0, name_rows[np.maximum(j, 0)], "")
        names = np.where(names == "", last_name, names)

    # listing date: panel, master, else inferred from a first row after the panel's first session
    list_day = np.full(N, np.datetime64("NaT"), dtype="datetime64[D]")
    if "list_date" in panel.columns:
        ld = panel["list_date"].to_numpy().astype("datetime64[D]")[rows]
        j = _row_per_stock(ri, ci, S, N, ~np.isnat(ld), last=False)
        list_day = np.where(j >= 0, ld[np.maximum(j, 0)], list_day)
    list_day = np.where(np.isnat(list_day), master_ld, list_day)
    first_row = np.full(N, S, dtype=np.int64)
    np.minimum.at(first_row, ci, ri)
    inferred = np.isnat(list_day) & (first_row > 0) & (first_row < S)
    list_day[inferred] = sessions[first_row[inferred]]

    known = ~np.isnat(list_day)
    list_pos = np.full(N, -(10 ** 9), dtype=np.int64)
    list_pos[known] = np.searchsorted(cal.sessions, list_day[known]) - base
    free = np.zeros(N, dtype=np.int64)
    recent = known & (list_pos > -30)                      # only listings near the window matter
    for j in np.flatnonzero(recent):
        free[j] = max(1, rules.free_sessions_after_listing(int(boards[j]), list_day[j]))
    rel = np.arange(S)[:, None] - list_pos[None, :]
    free_cell = (rel >= 0) & (rel < free[None, :])
    del rel

    # reference previous close and ST: the data's where given, else inferred from the bars
    given = (scatter(panel["prev_close"].to_numpy(dtype=np.float64)[rows])
             if "prev_close" in panel.columns else None)
    raw_prev = prev_close
    inference = status.infer_status(
        prev_close, arrays["open"], arrays["high"], arrays["low"], close, boards, sessions,
        per_session["is_st"], free_cell, infer_st_bits=infer and not st_known,
        given_ref=given, infer_ref=infer, skip_st=per_session["s_share"].any(axis=0))
    flags = inference.flags
    flags |= np.where(per_session["s_share"], status.S_SHARE, 0).astype(np.uint8)
    flags |= np.where(per_session["delisting_period"], status.DELISTING, 0).astype(np.uint8)
    prev_close = inference.prev_close
    located = None
    if actions is not None:
        table = actions if hasattr(actions, "columns") else status.read_actions_file(actions)
        located = status.locate_actions(table, codes, sessions, np.isfinite(close))
        prev_close, flags = status.apply_actions(located, raw_prev, prev_close, flags)
        if given is not None:                   # the data's own reference stays first
            prev_close = np.where(np.isfinite(given), given, prev_close)
    if status_file is not None:
        flags, prev_close = status.apply_status_file(status_file, codes, sessions, flags,
                                                     prev_close)
    src = panel.attrs.get("source", "<frame>")
    message = status.inference_message(src, inference.counts)
    if message:
        warnings.warn(DataWarning(message), stacklevel=2)

    kind = rules.status_kind((flags & status.ST) != 0, (flags & status.S_SHARE) != 0,
                             (flags & status.DELISTING) != 0)
    ratio = rules.limit_ratios(boards, kind, sessions)
    ratio[free_cell] = np.nan
    ratio[status.delisting_first_sessions(flags, close)] = np.nan
    ratio[~np.isfinite(prev_close)] = np.nan
    limit_up, limit_down = rules.limit_prices(prev_close, ratio)
    st = (flags & status.ST) != 0

    sl = slice(w0, None)
    ents = status.entitlements(located, raw_prev, prev_close, np.isfinite(close))
    ents = ents[ents[:, status.ENT_SESSION] >= w0]
    ents[:, status.ENT_SESSION] -= w0
    _warn_outside_limits(codes, sessions[sl], arrays["high"][sl], arrays["low"][sl],
                         limit_up[sl], limit_down[sl], panel.attrs.get("source", "<frame>"))
    return Market(
        sessions=sessions[sl].copy(),
        codes=codes,
        names=np.asarray(names, dtype=str),
        boards=boards.astype(np.int8),
        is_st=np.asarray(st[-1], dtype=bool).copy(),
        open=arrays["open"][sl], high=arrays["high"][sl], low=arrays["low"][sl],
        close=close[sl], volume=arrays["volume"][sl], amount=arrays["amount"][sl],
        prev_close=prev_close[sl], limit_ratio=ratio[sl], limit_up=limit_up[sl],
        limit_down=limit_down[sl], synthetic=bool(synthetic), status=flags[sl].copy(),
        entitlements=ents,
    )


def _warn_outside_limits(codes, sessions, high, low, limit_up, limit_down, source) -> None:
    """Warn when bars trade beyond the limit prices computed for them: the exchange would not
    have printed them, so that stock's ST status, listing date or reference price is wrong for
    the session (ex-rights days, ST changes; docs/data.md). The engine still applies the
    computed limits, so the user should know which stocks are affected."""
    half_tick = rules.TICK / 2
    with np.errstate(invalid="ignore"):
        above = high > limit_up + half_tick
        below = low < limit_down - half_tick
    bad = above | below
    if not bad.any():
        return
    t, j = np.argwhere(bad)[0]
    if above[t, j]:
        example = f"high {high[t, j]:.2f} above limit-up {limit_up[t, j]:.2f}"
    else:
        example = f"low {low[t, j]:.2f} below limit-down {limit_down[t, j]:.2f}"
    warnings.warn(DataWarning(
        f"{source}: {int(bad.sum())} bar(s) on {int(bad.any(axis=0).sum())} stock(s) trade outside "
        f"the price limits computed for them (first: {codes[j]} on {sessions[t]}, {example}); "
        f"their ST status, listing date or reference price is probably wrong on those sessions "
        f"(ex-rights days, ST changes: see docs/data.md) and fills there follow the computed "
        f"limits"), stacklevel=3)
