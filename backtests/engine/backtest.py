"""Run a backtest: the pandas-facing side of the numba engine.

>>> from backtests.engine.backtest import run_backtest
>>> result = run_backtest(market, marks_df, {"name": "theme_hype", "entry": "limit"})
>>> result.equity.tail(); result.trades; result.orders

:func:`run_backtest` validates the parameters (``strategies.resolve_params``), turns the marks
into a ``[sessions, stocks]`` score array, calls the kernel :func:`backtests.engine.nb.simulate_nb`
once and attaches dates, codes and reason names to what comes back. The fill model is the one in
``docs/interfaces.md``; ``docs/engine.md`` explains every choice.

Parameters are one flat dict keyed by the names of :data:`ENGINE_PARAMS` (the ``[strategy]``,
``[portfolio]``, ``[costs]`` and ``[fill]`` keys of a config); missing keys take their defaults.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.core.errors import ConfigError, DataError, MarksError
from backtests.core.records import (
    EXIT_REASONS,
    REJECT_REASONS,
    SIDE_NAMES,
    SIDE_CREDIT,
    STAT_FIELDS,
    STATUS_FILLED,
    STATUS_NAMES,
    order_dt,
)
from backtests.data.market import Market
from backtests.data.marks import locate_marks
from backtests.data.status import (
    ENT_CASH,
    ENT_FACTOR,
    ENT_SESSION,
    ENT_SHARES,
    ENT_STOCK,
    ENT_TAXABLE,
    st_by_session,
)
from backtests.engine.nb import MAX_MONEY, MarketArrays, MarkIndex, mark_index_nb, simulate_nb
from backtests.features.state import MarketState, market_state, theme_heat
from strategies import (
    ENGINE_PARAMS,
    STRATEGIES,
    filters_active,
    pack_grid,
    pack_params,
    resolve_params,
)

__all__ = ["ENGINE_PARAMS", "STRATEGIES", "BacktestResult", "credits_frame", "exits_array",
           "long_signals", "mark_index", "market_arrays", "marks_array", "orders_frame", "pack_grid",
           "pack_params", "resolve_params", "run_backtest", "toy_market", "trades_frame"]


class BacktestResult(NamedTuple):
    """What :func:`run_backtest` returns.

    ``equity``: one row per session, ``date, cash, market_value, equity``. ``orders``: every
    order, filled, rejected or expired (``date, code, side, shares, price, status,
    reject_reason, commission, stamp_duty, transfer_fee, exit_reason, wait``). ``trades``: the
    filled orders in trades.csv layout (``date, code, side, shares, price, value, commission,
    stamp_duty, transfer_fee, reason, dividend_tax`` — reason ``entry`` or the exit reason;
    ``dividend_tax`` charged on a sale). ``credits``: what positions held over an ex-date
    received (``date, code, shares, new_shares, reference_price, dividend``). ``records``: the
    kernel's raw ``order_dt`` array (session and stock indices; credits have side 0). ``stats``: counts and sums the
    kernel kept (``records.STAT_FIELDS``). ``params``: the resolved parameters; ``marks``: the
    ``[S, N]`` score array (NaN = no mark). ``state``: the market's features when the run
    computed or was given them (a filter or the gate), else None.
    """
    market: Market
    params: dict
    marks: np.ndarray
    equity: pd.DataFrame
    orders: pd.DataFrame
    trades: pd.DataFrame
    records: np.ndarray
    stats: dict
    credits: pd.DataFrame | None = None
    state: MarketState | None = None


def toy_market(sessions, codes, open, high, low, close, volume=None, *, prev_close=None,
               is_st=None) -> Market:
    """A :class:`~backtests.data.market.Market` straight from small ``[S, N]`` arrays — for tests,
    examples and the reference engine's fixtures (real data goes through ``market.load_market``).

    NaN in ``close`` = no bar. ``prev_close`` is the previous traded close (carried over gaps);
    the first session's reference is ``prev_close`` when given (a scalar or ``[N]``), else NaN
    (no limit). Limits come from ``rules.limit_ratios``/``rules.limit_prices`` by board and date;
    listing-day exceptions are not applied. ``volume`` defaults to 1e9 shares.
    """
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    codes = np.asarray(codes).astype(str)
    if len(codes) > 1 and not (codes[1:] > codes[:-1]).all():
        raise DataError(f"toy_market: codes must be unique and sorted (got {list(codes)})")
    arr = [np.asarray(a, dtype=np.float64).reshape(len(sessions), len(codes))
           for a in (open, high, low, close)]
    o, h, lo, c = arr
    vol = (np.full(c.shape, 1e9) if volume is None
           else np.asarray(volume, dtype=np.float64).reshape(c.shape))
    vol = np.where(np.isnan(c), np.nan, vol)
    first = (np.full(len(codes), np.nan) if prev_close is None
             else np.broadcast_to(np.asarray(prev_close, dtype=np.float64), (len(codes),)))
    pc = np.empty_like(c)
    last = first.copy()
    for t in range(len(sessions)):
        pc[t] = last
        last = np.where(np.isnan(c[t]), last, c[t])
    boards = rules.boards_of(codes)
    st = np.zeros(len(codes), bool) if is_st is None else np.asarray(is_st, dtype=bool)
    ratio = rules.limit_ratios(boards, st, sessions)
    up, down = rules.limit_prices(pc, ratio)
    return Market(sessions=sessions, codes=codes, names=np.array([""] * len(codes), dtype=object),
                  boards=boards, is_st=st, open=o, high=h, low=lo, close=c, volume=vol,
                  amount=vol * c, prev_close=pc, limit_ratio=ratio, limit_up=up,
                  limit_down=down, synthetic=True)


def market_arrays(market: Market, state: MarketState | None = None, *,
                  features: bool = True) -> MarketArrays:
    """The kernel's view of ``market``: bars, limits, lot rules by board, fee rates by date, the
    corporate actions (``Market.entitlements``) with the dividend-tax schedule, and the
    market-state features the entry filters and the gate read (``state``: a
    :func:`backtests.features.state.market_state` of ``market`` to reuse; computed when None).
    ``features=False`` leaves the features out (empty arrays): enough for parameters without
    a filter or a gate, which never read them, and it saves computing them."""
    min_lot, lot_step = rules.lot_arrays(market.boards)
    stamp, transfer = rules.fee_rates(market.sessions)
    f8 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    mk = MarketArrays(
        open=f8(market.open), high=f8(market.high), low=f8(market.low),
        close=f8(market.close), volume=f8(market.volume), limit_up=f8(market.limit_up),
        limit_down=f8(market.limit_down), min_lot=min_lot.astype(np.int64),
        lot_step=lot_step.astype(np.int64), stamp_rate=f8(stamp), transfer_rate=f8(transfer))
    ents = getattr(market, "entitlements", None)
    if ents is not None and len(ents):
        ents = np.asarray(ents, dtype=np.float64)
        at = ents[:, ENT_SESSION].astype(np.int64)
        js = ents[:, ENT_STOCK].astype(np.int64)
        S, N = market.close.shape
        if (at.min() < 0 or at.max() >= S or js.min() < 0 or js.max() >= N
                or (np.diff(at) < 0).any()):
            raise DataError(f"market: entitlements name sessions or stocks outside the market "
                            f"({S} sessions x {N} stocks) or are not in session order; "
                            f"restrict a market with backtests.data.market.select_market")
        month_end, year_end, rates = rules.dividend_tax_arrays(market.sessions)
        mk = mk._replace(
            ent_ptr=np.searchsorted(at, np.arange(len(market.sessions) + 1)).astype(np.int64),
            ent_stock=np.ascontiguousarray(ents[:, ENT_STOCK].astype(np.int64)),
            ent_cash=f8(ents[:, ENT_CASH]), ent_shares=f8(ents[:, ENT_SHARES]),
            ent_taxable=f8(ents[:, ENT_TAXABLE]), ent_factor=f8(ents[:, ENT_FACTOR]),
            tax_month_end=month_end, tax_year_end=year_end, tax_rates=rates)
    if not features and state is None:
        return mk
    ms = market_state(market) if state is None else state
    return mk._replace(
        prev_close=f8(market.prev_close), amount=f8(market.amount), streak=ms.streak,
        session=ms.session, board=np.asarray(market.boards, dtype=np.int64),
        is_st=np.ascontiguousarray(st_by_session(market), dtype=np.bool_),
    )


def long_signals(frame: pd.DataFrame, value: str = "score") -> pd.DataFrame:
    """A wide frame of user signals (index: dates, columns: codes; NaN or False = none) as the
    long ``date, code, <value>`` frame :func:`marks_array` reads, ordered by date then column.
    A frame that already has ``date`` and ``code`` columns is returned as it is."""
    if "date" in frame.columns and "code" in frame.columns:
        return frame
    values = frame.to_numpy()
    if values.dtype == bool:
        hit = values
        values = values.astype(np.float64)
    else:
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise MarksError(f"{value}s: a wide frame (dates x codes) must hold numbers "
                            f"(NaN = no signal)") from None
        hit = ~np.isnan(values)
    t, j = np.nonzero(hit)
    codes = np.array([str(c).strip() for c in frame.columns], dtype=object)
    return pd.DataFrame({"date": np.asarray(frame.index)[t], "code": codes[j],
                         value: values[t, j]})


def marks_array(market: Market, marks: pd.DataFrame) -> np.ndarray:
    """``[S, N]`` float64 score array (NaN = no mark) from a frame ``date, code[, score]``.

    ``date`` is the session whose open is the earliest entry and must be a session of
    ``market``; ``code`` must be one of ``market.codes``; ``score`` defaults to 1.0 and must be
    finite (checked by :func:`backtests.data.marks.locate_marks`). Several marks on the same
    (date, code) keep the highest score (a marks list given twice does not change the ranking).
    """
    n_sessions, n_stocks = len(market.sessions), len(market.codes)
    out = np.full((n_sessions, n_stocks), np.nan)
    t, j, score = locate_marks(market.sessions, market.codes, marks)
    cells, at = np.unique(t * n_stocks + j, return_inverse=True)   # the marked cells only
    best = np.full(len(cells), -np.inf)
    np.maximum.at(best, at.reshape(-1), score)
    out.reshape(-1)[cells] = best
    return out


def exits_array(market: Market, exits) -> np.ndarray:
    """``[S, N]`` uint8 user exit signals (1 = sell the position at that session's close or the
    next open, per ``exit_at``) from a frame ``date, code``, a wide boolean frame (dates x
    codes) or an ``[S, N]`` array; the same checks on dates and codes as the marks."""
    shape = (len(market.sessions), len(market.codes))
    if isinstance(exits, pd.DataFrame):
        frame = long_signals(exits, "exit")
        out = np.zeros(shape, np.uint8)
        if len(frame):
            if "exit" in frame.columns:
                frame = frame.loc[frame["exit"].astype(bool).to_numpy()]
            t, j, _score = locate_marks(market.sessions, market.codes, frame[["date", "code"]],
                                        what="exits")
            out[t, j] = 1
        return out
    arr = np.asarray(exits)
    if arr.shape != shape:
        raise MarksError(f"exits array has shape {arr.shape}; expected {shape} (sessions, stocks)")
    return (np.nan_to_num(arr.astype(np.float64)) != 0).astype(np.uint8)


def mark_index(marks: np.ndarray, themes: pd.DataFrame | None = None, *, market=None,
               exits: np.ndarray | None = None) -> MarkIndex:
    """CSR priority index of an ``[S, N]`` score array (kernel input, built once per marks).

    ``themes``: the marks frame when its marks carry a ``theme`` (and ``theme_heat``) column,
    with ``market``: fills each mark's theme id and the per-session theme heat
    (:func:`backtests.features.state.theme_heat`). ``exits``: an ``[S, N]`` uint8 array of user exit
    signals (:func:`exits_array`)."""
    mi = mark_index_nb(np.ascontiguousarray(marks, dtype=np.float64))
    if themes is not None and "theme" in themes.columns and len(themes):
        names, heat = theme_heat(market.sessions, themes)
        theme = themes["theme"].fillna("").astype(str).to_numpy()
        keep = theme != ""
        if names:
            t, j, _score = locate_marks(market.sessions, market.codes,
                                        themes.loc[keep, ["date", "code"]])
            n_stocks = marks.shape[1]
            keys = t.astype(np.int64) * n_stocks + j
            ids = np.searchsorted(np.array(names), theme[keep]).astype(np.int64)
            order = np.argsort(keys, kind="stable")
            keys, ids = keys[order], ids[order]
            sessions_of = np.repeat(np.arange(marks.shape[0]), np.diff(mi.ptr))
            want = sessions_of * n_stocks + mi.stock
            theme_ids = np.full(len(want), -1, np.int64)
            if len(keys):
                pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
                theme_ids = np.where(keys[pos] == want, ids[pos], -1).astype(np.int64)
            mi = mi._replace(theme=theme_ids, heat=np.ascontiguousarray(heat))
    if exits is not None:
        mi = mi._replace(exits=np.ascontiguousarray(exits, dtype=np.uint8))
    return mi


def orders_frame(market: Market, records: np.ndarray) -> pd.DataFrame:
    """Every order with dates, codes and reason names attached (see :class:`BacktestResult`);
    credits (side 0) are not orders: :func:`credits_frame` has them."""
    records = records[records["side"] != SIDE_CREDIT]
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    codes = np.asarray(market.codes).astype(str)
    reject = np.array([REJECT_REASONS[k] for k in range(len(REJECT_REASONS))], dtype=object)
    exits = np.array([EXIT_REASONS[k] for k in range(len(EXIT_REASONS))], dtype=object)
    return pd.DataFrame({
        "date": pd.to_datetime(sessions[records["session"]]),
        "code": pd.Series(codes[records["stock"]], dtype=object),
        "side": pd.Series(np.where(records["side"] > 0, SIDE_NAMES[1], SIDE_NAMES[-1]),
                          dtype=object),
        "shares": records["shares"].astype(np.int64),
        "price": records["price"].astype(np.float64),
        "status": pd.Series(np.array([STATUS_NAMES[s] for s in range(3)], dtype=object)
                            [records["status"]], dtype=object),
        "reject_reason": pd.Series(reject[records["reason"]], dtype=object),
        "commission": records["commission"].astype(np.float64),
        "stamp_duty": records["stamp_duty"].astype(np.float64),
        "transfer_fee": records["transfer_fee"].astype(np.float64),
        "exit_reason": pd.Series(exits[records["exit_reason"]], dtype=object),
        "wait": records["wait"].astype(np.int64),
        "dividend_tax": records["dividend_tax"].astype(np.float64),
    })


CREDIT_COLUMNS = ("date", "code", "shares", "new_shares", "reference_price", "dividend")


def credits_frame(market: Market, records: np.ndarray) -> pd.DataFrame:
    """What positions held over an ex-date received, in ledger order: ``shares`` held after
    the credit, ``new_shares`` credited (送股 + 转增), the ex-date's ``reference_price`` and the
    cash ``dividend`` before tax (the tax is charged on the sale: trades' ``dividend_tax``)."""
    rec = records[records["side"] == SIDE_CREDIT]
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    codes = np.asarray(market.codes).astype(str)
    held = _held_after(records, rec) if len(rec) else np.empty(0, np.int64)
    return pd.DataFrame({
        "date": pd.to_datetime(sessions[rec["session"]]),
        "code": pd.Series(codes[rec["stock"]], dtype=object),
        "shares": held, "new_shares": rec["shares"].astype(np.int64),
        "reference_price": rec["price"].astype(np.float64),
        "dividend": rec["dividend"].astype(np.float64),
    }, columns=list(CREDIT_COLUMNS))


def _held_after(records: np.ndarray, credits: np.ndarray) -> np.ndarray:
    """Shares held right after each credit, replayed from the filled ledger."""
    held: dict[int, int] = {}
    out = []
    for r in records:
        if r["status"] != STATUS_FILLED:
            continue
        j = int(r["stock"])
        if r["side"] > 0:
            held[j] = held.get(j, 0) + int(r["shares"])
        elif r["side"] < 0:
            held[j] = 0
        else:
            held[j] = held.get(j, 0) + int(r["shares"])
            out.append(held[j])
    return np.asarray(out, dtype=np.int64)


def trades_frame(market: Market, records: np.ndarray) -> pd.DataFrame:
    """Filled orders in trades.csv layout; ``value = price x shares``; ``reason`` is ``entry``
    for buys and the exit reason for sells."""
    orders = orders_frame(market, records[records["status"] == STATUS_FILLED])
    reason = orders["exit_reason"].where(orders["side"] == "sell", "entry")
    return pd.DataFrame({
        "date": orders["date"], "code": orders["code"], "side": orders["side"],
        "shares": orders["shares"], "price": orders["price"],
        "value": orders["price"] * orders["shares"],
        "commission": orders["commission"], "stamp_duty": orders["stamp_duty"],
        "transfer_fee": orders["transfer_fee"], "reason": reason.astype(object),
        "dividend_tax": orders["dividend_tax"],
    })


def run_backtest(market: Market, marks, params: Mapping[str, Any] | None = None, *,
                 record: bool = True, exits=None, state: MarketState | None = None
                 ) -> BacktestResult:
    """Replay a strategy on ``market`` and return a :class:`BacktestResult`.

    ``marks``: the entries — a frame ``date, code[, score][, theme[, theme_heat]]`` (see
    :func:`marks_array`; a ``theme`` column feeds the theme filters and exits), a wide frame of
    scores (index: dates, columns: codes, NaN = none: an idea computed in pandas) or an
    ``[S, N]`` score array (NaN = no mark). ``exits``: optional user exit signals — a frame
    ``date, code``, a wide boolean frame or an ``[S, N]`` array (:func:`exits_array`); a held
    position with a signal at session ``t`` sells at ``t``'s close or the next open per
    ``exit_at``. ``state``: the market's :func:`~backtests.features.state.market_state` to
    reuse. ``params``: flat engine parameters (``ENGINE_PARAMS`` names; missing keys take
    defaults; validated, ``ConfigError`` on a bad one). ``record=False`` skips the
    order records (empty ``orders``/``trades``) — equity and ``stats`` are still complete.
    Positions still open at the end are valued at their last close, not liquidated.
    """
    full = resolve_params(params or {})   # returns an already resolved dict as it is
    prow = pack_params(full)
    frame = None
    if isinstance(marks, pd.DataFrame):
        frame = long_signals(marks)
        score = marks_array(market, frame)
    else:
        score = np.asarray(marks, dtype=np.float64)
        if score.shape != market.close.shape:
            raise MarksError(f"marks array has shape {score.shape}; expected "
                            f"{market.close.shape} (sessions, stocks)")
    if state is None and filters_active(full):
        state = market_state(market)
    mk = market_arrays(market, state, features=filters_active(full))
    mi = mark_index(score, frame, market=market,
                    exits=None if exits is None else exits_array(market, exits))
    cash, mv, eq, recs, stats = simulate_nb(mk, mi, prow, record)
    if len(eq) and np.isnan(eq[-1]):
        t = int(np.argmax(np.isnan(eq))) - 1
        raise ConfigError(
            f"the equity reached {eq[t]:,.0f} CNY on {market.sessions[t]}, above "
            f"{MAX_MONEY:,.0f} CNY (2**53 cents, where money stops being exact to the cent and "
            f"more than the whole market is worth): the backtest compounds to an impossible "
            f"size; set [portfolio] fixed_cash or a smaller position_size or cash")
    equity = pd.DataFrame({
        "date": pd.to_datetime(np.asarray(market.sessions, dtype="datetime64[D]")),
        "cash": cash, "market_value": mv, "equity": eq,
    })
    recs = np.asarray(recs, dtype=order_dt)
    return BacktestResult(
        market=market, params=full, marks=score, equity=equity,
        orders=orders_frame(market, recs), trades=trades_frame(market, recs), records=recs,
        stats={name: float(v) for name, v in zip(STAT_FIELDS, stats)},
        credits=credits_frame(market, recs), state=state,
    )
