"""Numba kernels of the backtest engine: one serial session loop under A-share rules.

The fill model implemented here is the one in docs/interfaces.md ("The fill model, exactly");
docs/engine.md explains each choice. Inputs are small NamedTuples of arrays plus one packed
float64 parameter row (layout: ``backtests.core.records.PARAM_FIELDS``), so a grid runs ``P``
parameter sets as ``P`` calls of :func:`simulate_nb` inside ``numba.prange``, each writing its
own slot. Nothing here knows strategy names, codes or dates: those are attached at the edge
(``backtests/engine/backtest.py``).

Cost of a session is proportional to the positions held plus the marks of that session: marks
come as a CSR index built once (:func:`mark_index_nb`), positions as a compact list sorted by
stock index (= code order, the order of open sells).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from backtests.core.records import (
    EXIT_BREAK,
    EXIT_SIGNAL,
    EXIT_STOP_LOSS,
    EXIT_TAKE_PROFIT,
    EXIT_THEME_COOL,
    EXIT_TRAILING_STOP,
    N_STATS,
    P_AT_LIMIT_OPEN_FILL,
    P_CASH,
    P_COMMISSION_MIN,
    P_COMMISSION_RATE,
    P_ENTRY_LIMIT,
    P_EXIT_AT_CLOSE,
    P_EXIT_ON_BREAK,
    P_EXIT_THEME_HEAT,
    P_FIXED_CASH,
    P_LIMIT_FILL_TOUCHED,
    P_MAX_HOLD,
    P_MAX_HOLD_REASON,
    P_MAX_PER_THEME,
    P_MAX_POSITIONS,
    P_POSITION_SIZE,
    P_SKIP_HELD,
    P_SLIPPAGE_TICKS,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_THEME_WINDOW,
    P_TRAILING_STOP,
    P_VOLUME_CAP,
    REJECT_BELOW_MIN_LOT,
    REJECT_INSUFFICIENT_CASH,
    REJECT_LIMIT_DOWN_SEALED,
    REJECT_LIMIT_UP_SEALED,
    REJECT_MAX_POSITIONS,
    REJECT_NONE,
    REJECT_NOT_TOUCHED,
    REJECT_NO_LIMIT,
    REJECT_SUSPENDED,
    REJECT_T_PLUS_1,
    REJECT_VOLUME_CAP,
    SIDE_BUY,
    SIDE_CREDIT,
    SIDE_SELL,
    SKIP_MAX_PER_THEME,
    SKIP_NONE,
    STATUS_EXPIRED,
    STATUS_FILLED,
    STATUS_REJECTED,
    S_BONUS_SHARES,
    S_BUYS,
    S_DIVIDEND_TAX,
    S_DIVIDENDS,
    S_FEES,
    S_FILLS,
    S_GROSS_LOSS,
    S_GROSS_PROFIT,
    S_HOLD_SESSIONS,
    S_ORDERS,
    S_REJECTED0,
    S_ROUND_TRIPS,
    S_SELLS,
    S_SKIPPED0,
    S_WINS,
    order_dt,
)
from backtests.core.rules import TICK, buy_costs_nb, lot_round_nb, sell_costs_nb
from backtests.engine.filters_nb import mark_skips_nb, window_heat_nb
from backtests.features.nb import N_SESSION

# Prices sit on the 0.01 grid and limit prices are computed exactly in cents, so "at the
# limit" is an equality; the tolerance only absorbs binary noise in a data file's prices.
PRICE_TOL = 1e-6
# Money is whole cents (prices on the 0.01 grid, fees rounded to the cent) but held in binary
# floats: cash 42,199.97 may be 42,199.96999999997. Comparisons of money and of exit thresholds
# (entry x (1 +- r)) allow this much so "exactly the cash left" and "exactly -5%" count.
MONEY_TOL = 1e-6
# floor(target / price) guard against 999.9999999 for an exact 1000 (docs/engine.md, sizing).
SIZE_EPS = 1e-9


@njit(cache=True)
def _cents(x):
    """``x`` on whole cents (the 0.01 grid): cash after each fill, so float error never
    accumulates over trades, and slipped prices."""
    return np.rint(x * 100.0) / 100.0


class MarketArrays(NamedTuple):
    """Kernel view of a market: ``[S, N]`` float64 bars (NaN close = no bar that session),
    limit prices (NaN = no limit), per-stock lot rules and per-session fee rates."""
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    limit_up: np.ndarray
    limit_down: np.ndarray
    min_lot: np.ndarray        # [N] int64 (rules.LOT)
    lot_step: np.ndarray       # [N] int64
    stamp_rate: np.ndarray     # [S] float64, sell side (rules.FEES)
    transfer_rate: np.ndarray  # [S] float64, both sides
    # Market state read by the entry filters and the sentiment gate (backtests.state); empty
    # by default, which a run without filters never reads.
    prev_close: np.ndarray = np.empty((0, 0))             # [S, N] reference previous close
    amount: np.ndarray = np.empty((0, 0))                 # [S, N] CNY
    streak: np.ndarray = np.empty((0, 0), np.int32)       # [S, N] 连板数
    session: np.ndarray = np.empty((0, N_SESSION))        # [S, N_SESSION] features_nb.SF_*
    board: np.ndarray = np.empty(0, np.int64)             # [N] rules.BOARD_*
    is_st: np.ndarray = np.empty((0, 0), np.bool_)        # [S, N] ST on each session
    # Corporate actions (Market.entitlements in CSR form by session; empty ptr = none) and the
    # dividend tax by holding period (rules.dividend_tax_arrays).
    ent_ptr: np.ndarray = np.empty(0, np.int64)           # [S + 1]
    ent_stock: np.ndarray = np.empty(0, np.int64)         # [E]
    ent_cash: np.ndarray = np.empty(0)                    # [E] cash dividend per share
    ent_shares: np.ndarray = np.empty(0)                  # [E] new shares per share
    ent_taxable: np.ndarray = np.empty(0)                 # [E] taxable income per share
    ent_factor: np.ndarray = np.empty(0)                  # [E] reference / raw previous close
    tax_month_end: np.ndarray = np.empty(0, np.int64)     # [S] last sale session held <= 1 month
    tax_year_end: np.ndarray = np.empty(0, np.int64)      # [S] ... held <= 1 year
    tax_rates: np.ndarray = np.empty((0, 3))              # [S, 3] rates in force at the sale


class MarkIndex(NamedTuple):
    """Marks of each session in CSR form: ``stock[ptr[t]:ptr[t+1]]`` are the stocks marked for
    session ``t`` in priority order (score descending, then stock index = code ascending)."""
    ptr: np.ndarray    # [S + 1] int64
    stock: np.ndarray  # [M] int64
    score: np.ndarray  # [M] float64
    theme: np.ndarray  # [M] int64 theme id of the mark, -1 = none
    heat: np.ndarray   # [S, K] float64 heat of each theme per session (state.theme_heat)
    exits: np.ndarray  # [S, N] uint8 user exit signals at the close of t, or (0, 0): none


@njit(cache=True)
def mark_index_nb(marks):
    """CSR index of an ``[S, N]`` score array (NaN = no mark), sorted by priority per session."""
    n_sessions, n_stocks = marks.shape
    ptr = np.zeros(n_sessions + 1, np.int64)
    for t in range(n_sessions):
        count = 0
        for j in range(n_stocks):
            if not np.isnan(marks[t, j]):
                count += 1
        ptr[t + 1] = ptr[t] + count
    stock = np.empty(ptr[n_sessions], np.int64)
    score = np.empty(ptr[n_sessions], np.float64)
    for t in range(n_sessions):
        k = ptr[t]
        for j in range(n_stocks):
            if not np.isnan(marks[t, j]):
                stock[k] = j
                score[k] = marks[t, j]
                k += 1
        lo, hi = ptr[t], ptr[t + 1]
        if hi - lo > 1:
            # Stable sort on -score keeps equal scores in stock (= code) order.
            order = np.argsort(-score[lo:hi], kind="mergesort")
            stock[lo:hi] = stock[lo:hi][order]
            score[lo:hi] = score[lo:hi][order]
    return MarkIndex(ptr, stock, score, np.full(ptr[n_sessions], -1, np.int64),
                     np.zeros((n_sessions, 0)), np.zeros((0, 0), np.uint8))


@njit(cache=True)
def _clamp(x, lo, hi):
    return min(max(x, lo), hi)


@njit(cache=True)
def _slipped(price, slip, lo, hi):
    """``price + slip`` on the 0.01 tick grid, clamped to the session's [low, high]."""
    return _clamp(_cents(price + slip), lo, hi)


@njit(cache=True)
def _reserve(recs, n, extra):
    """``recs`` with room for ``extra`` more records after the first ``n`` (doubling)."""
    if n + extra <= recs.shape[0]:
        return recs
    grown = np.empty(max(2 * recs.shape[0], n + extra), order_dt)
    grown[:n] = recs[:n]
    return grown


@njit(cache=True, inline="always")
def _emit(recs, n, session, stock, side, shares, price, status, reason, commission, stamp_duty,
          transfer_fee, exit_reason, wait, dividend=0.0, dividend_tax=0.0):
    """Write one order record at ``n`` (room reserved by the caller, see ``_reserve``)."""
    r = recs[n]
    r["session"] = session
    r["stock"] = stock
    r["side"] = side
    r["shares"] = shares
    r["price"] = price
    r["status"] = status
    r["reason"] = reason
    r["commission"] = commission
    r["stamp_duty"] = stamp_duty
    r["transfer_fee"] = transfer_fee
    r["exit_reason"] = exit_reason
    r["wait"] = wait
    r["dividend"] = dividend
    r["dividend_tax"] = dividend_tax


@njit(cache=True, inline="always")
def _book_sell(stats, value, commission, stamp_duty, transfer_fee, cost, held_sessions,
               dividends, dividend_tax):
    """Count a filled sell (a closed round trip) in ``stats``; return the net cash it brings
    (the dividend tax included). ``dividends``: cash dividends the position received."""
    net = value - commission - stamp_duty - transfer_fee - dividend_tax
    pnl = net + dividends - cost
    stats[S_DIVIDEND_TAX] += dividend_tax
    stats[S_FILLS] += 1
    stats[S_SELLS] += 1
    stats[S_ROUND_TRIPS] += 1
    stats[S_FEES] += commission + stamp_duty + transfer_fee
    stats[S_HOLD_SESSIONS] += held_sessions
    if pnl > 0:
        stats[S_WINS] += 1
        stats[S_GROSS_PROFIT] += pnl
    else:
        stats[S_GROSS_LOSS] -= pnl
    return net


@njit(cache=True)
def _dividend_tax(mk, lot_next, lot_session, lot_base, head, t):
    """Dividend tax due on selling every lot of a position at session ``t`` (first in, first
    out makes no difference when the whole position is sold): each lot's taxable dividends at
    the rate of its holding period (rules.DIVIDEND_TAX), rounded half-up to the cent."""
    tax = 0.0
    k = head
    while k >= 0:
        if lot_base[k] > 0.0:
            a = lot_session[k]
            if t <= mk.tax_month_end[a]:
                rate = mk.tax_rates[t, 0]
            elif t <= mk.tax_year_end[a]:
                rate = mk.tax_rates[t, 1]
            else:
                rate = mk.tax_rates[t, 2]
            tax += lot_base[k] * rate
        k = lot_next[k]
    return np.floor(tax * 100.0 + 0.5 + 1e-7) / 100.0


@njit(cache=True)
def _compact(pos, npos, shares):
    """Drop sold positions (shares == 0) from the sorted position list; return the new count."""
    w = 0
    for k in range(npos):
        if shares[pos[k]] > 0:
            pos[w] = pos[k]
            w += 1
    return w


@njit(cache=True, inline="always")
def _release_theme(pos_theme, theme_count, j):
    """A position in stock ``j`` was sold: it no longer counts towards its theme."""
    k = pos_theme[j]
    if k >= 0:
        theme_count[k] -= 1
        pos_theme[j] = -1


@njit(cache=True)
def simulate_nb(mk, mi, prow, record):
    """Run one backtest. ``mk``: MarketArrays; ``mi``: MarkIndex; ``prow``: packed parameters
    (records.PARAM_FIELDS); ``record``: keep order records (False: only equity and stats).

    Returns ``(cash[S], market_value[S], equity[S], records, stats[N_STATS])``.
    """
    n_sessions, n_stocks = mk.close.shape
    o_, h_, l_, c_, v_ = mk.open, mk.high, mk.low, mk.close, mk.volume
    lu_, ld_ = mk.limit_up, mk.limit_down
    min_lot, lot_step = mk.min_lot, mk.lot_step

    entry_limit = prow[P_ENTRY_LIMIT] != 0.0
    fill_touched = prow[P_LIMIT_FILL_TOUCHED] != 0.0
    exit_on_break = prow[P_EXIT_ON_BREAK] != 0.0
    exit_at_close = prow[P_EXIT_AT_CLOSE] != 0.0
    stop_loss = prow[P_STOP_LOSS]
    take_profit = prow[P_TAKE_PROFIT]
    max_hold = np.int64(prow[P_MAX_HOLD])
    max_hold_reason = np.int8(prow[P_MAX_HOLD_REASON])
    max_positions = np.int64(prow[P_MAX_POSITIONS])
    skip_held = prow[P_SKIP_HELD] != 0.0
    position_size = prow[P_POSITION_SIZE]
    fixed_cash = prow[P_FIXED_CASH]
    com_rate = prow[P_COMMISSION_RATE]
    com_min = prow[P_COMMISSION_MIN]
    slip = prow[P_SLIPPAGE_TICKS] * TICK
    at_limit_fill = prow[P_AT_LIMIT_OPEN_FILL] != 0.0
    volume_cap = prow[P_VOLUME_CAP]
    trailing_stop = prow[P_TRAILING_STOP]
    exit_theme_heat = prow[P_EXIT_THEME_HEAT]
    theme_window = np.int64(prow[P_THEME_WINDOW])
    max_per_theme = np.int64(prow[P_MAX_PER_THEME])
    # Gate and filters read the market and the marks only: one pass before the loop. Copied
    # into a fresh local array, which the session loop reads several times faster than the
    # callee's (measured in benchmarks/bench_features.py).
    skips = np.zeros(mi.stock.shape[0], np.int8)
    skips[:] = mark_skips_nb(mk, mi, prow)
    signals_on = mi.exits.shape[0] > 0
    theme_of, heat, exit_signal = mi.theme, mi.heat, mi.exits   # locals: read in the loops

    cash_out = np.empty(n_sessions)
    mv_out = np.empty(n_sessions)
    eq_out = np.empty(n_sessions)
    stats = np.zeros(N_STATS)
    recs = np.empty(max(16, 2 * mi.stock.shape[0] + 4 * n_sessions) if record else 0, order_dt)
    n = 0

    # Per-stock state (allocated once; only held stocks are touched per session).
    shares = np.zeros(n_stocks, np.int64)
    buy_session = np.full(n_stocks, -1, np.int64)  # last buy; those shares sell from +1
    entry_price = np.zeros(n_stocks)
    entry_session = np.zeros(n_stocks, np.int64)
    cost = np.zeros(n_stocks)                     # buy value + buy fees of the open position
    last_close = np.zeros(n_stocks)
    pending = np.zeros(n_stocks, np.int8)         # exit reason of a pending sell, 0 = none
    first_try = np.zeros(n_stocks, np.int64)      # session of the pending sell's first attempt
    pos = np.empty(n_stocks, np.int64)            # held stocks, sorted by index (= code)
    npos = 0
    high_close = np.zeros(n_stocks)               # highest close since entry (trailing stop)
    pos_theme = np.full(n_stocks, -1, np.int64)   # theme of the mark that opened the position
    theme_count = np.zeros(mi.heat.shape[1], np.int64)  # positions held per theme
    # Corporate actions: each buy is a lot (acquisition session, shares, taxable dividends
    # received) for the dividend tax by holding period; at most one buy per mark.
    has_ents = mk.ent_ptr.shape[0] > 0
    n_pool = mi.stock.shape[0] + 1 if has_ents else 1
    lot_next = np.full(n_pool, -1, np.int64)
    lot_session = np.zeros(n_pool, np.int64)
    lot_shares = np.zeros(n_pool)
    lot_base = np.zeros(n_pool)
    lot_head = np.full(n_stocks, -1, np.int64)
    lot_tail = np.full(n_stocks, -1, np.int64)
    n_lot = 0
    dividends = np.zeros(n_stocks)                # cash dividends the open position received

    cash = prow[P_CASH]
    equity_prev = cash
    for t in range(n_sessions):
        if record:
            # A session writes at most one sell per position held at its start or bought in
            # it, plus one buy per mark: reserve once, then write without checks.
            extra = 2 * (npos + mi.ptr[t + 1] - mi.ptr[t])
            if has_ents:
                extra += mk.ent_ptr[t + 1] - mk.ent_ptr[t]
            recs = _reserve(recs, n, extra)
        stamp = mk.stamp_rate[t]
        transfer = mk.transfer_rate[t]
        # 0. Ex-dates: a position held at the previous close (the record date) receives its
        # new shares and cash dividend before the open; prices it is judged by scale with the
        # reference (docs/status.md, "Corporate actions").
        if has_ents:
            for e in range(mk.ent_ptr[t], mk.ent_ptr[t + 1]):
                j = mk.ent_stock[e]
                sh = shares[j]
                if sh == 0:
                    continue
                grow = 1.0 + mk.ent_shares[e]
                new = np.int64(np.floor(sh * grow + SIZE_EPS))
                paid = _cents(sh * mk.ent_cash[e])
                k = lot_head[j]
                while k >= 0:
                    lot_base[k] += lot_shares[k] * mk.ent_taxable[e]
                    lot_shares[k] *= grow
                    k = lot_next[k]
                f = mk.ent_factor[e]
                entry_price[j] *= f
                high_close[j] *= f
                last_close[j] *= f
                shares[j] = new
                cash = _cents(cash + paid)
                dividends[j] += paid
                stats[S_DIVIDENDS] += paid
                stats[S_BONUS_SHARES] += new - sh
                if record:
                    _emit(recs, n, t, j, SIDE_CREDIT, new - sh, _cents(last_close[j]),
                          STATUS_FILLED, REJECT_NONE, 0.0, 0.0, 0.0, 0, 0, paid, 0.0)
                    n += 1
        # 1. T+1 release is implicit: shares of buy_session < t are all sellable.
        # 2./3. Pending sells at the open, in code order (pos is sorted).
        sold = False
        for k in range(npos):
            j = pos[k]
            if pending[j] == 0:
                continue
            sh = shares[j]
            wait = t - first_try[j]
            stats[S_ORDERS] += 1
            if np.isnan(c_[t, j]):
                stats[S_REJECTED0 + REJECT_SUSPENDED] += 1
                if record:
                    _emit(recs, n, t, j, SIDE_SELL, sh, np.nan, STATUS_REJECTED,
                          REJECT_SUSPENDED, 0.0, 0.0, 0.0, pending[j], wait)
                    n += 1
                continue
            op, hi, ld = o_[t, j], h_[t, j], ld_[t, j]
            price = _slipped(op, -slip, l_[t, j], hi)
            if not np.isnan(ld) and op <= ld + PRICE_TOL:
                if hi <= ld + PRICE_TOL or not at_limit_fill:
                    # 一字跌停, or the reject policy for an open at the limit: carried.
                    stats[S_REJECTED0 + REJECT_LIMIT_DOWN_SEALED] += 1
                    if record:
                        _emit(recs, n, t, j, SIDE_SELL, sh, ld, STATUS_REJECTED,
                              REJECT_LIMIT_DOWN_SEALED, 0.0, 0.0, 0.0, pending[j], wait)
                        n += 1
                    continue
                price = ld
            com, duty, fee = sell_costs_nb(price * sh, com_rate, com_min, stamp, transfer)
            tax = _dividend_tax(mk, lot_next, lot_session, lot_base, lot_head[j], t)
            cash = _cents(cash + _book_sell(stats, price * sh, com, duty, fee, cost[j],
                                            t - entry_session[j], dividends[j], tax))
            if record:
                _emit(recs, n, t, j, SIDE_SELL, sh, price, STATUS_FILLED, REJECT_NONE,
                      com, duty, fee, pending[j], wait, 0.0, tax)
                n += 1
            shares[j] = 0
            lot_head[j] = -1
            pending[j] = 0
            _release_theme(pos_theme, theme_count, j)
            sold = True
        if sold:
            npos = _compact(pos, npos, shares)

        # 4. Entries for the marks of session t, in priority order.
        target = fixed_cash if fixed_cash > 0.0 else position_size * equity_prev
        for m in range(mi.ptr[t], mi.ptr[t + 1]):
            j = mi.stock[m]
            held = shares[j] > 0
            if held and skip_held:
                continue
            # Skipped marks place no order; they are counted by reason (records.SKIP_*).
            skip = skips[m]
            if (skip == SKIP_NONE and max_per_theme > 0 and not held and theme_of[m] >= 0
                    and theme_count[theme_of[m]] >= max_per_theme):
                skip = SKIP_MAX_PER_THEME
            if skip != SKIP_NONE:
                stats[S_SKIPPED0 + skip] += 1
                continue
            stats[S_ORDERS] += 1
            cl = c_[t, j]
            reason = REJECT_NONE
            status = STATUS_REJECTED
            price = np.nan
            want = 0
            if np.isnan(cl):
                reason = REJECT_SUSPENDED
            elif not held and npos >= max_positions:
                reason = REJECT_MAX_POSITIONS
            else:
                op, hi, lo, lu = o_[t, j], h_[t, j], l_[t, j], lu_[t, j]
                if entry_limit:
                    # 打板: a queue at limit-up.
                    if np.isnan(lu):
                        reason = REJECT_NO_LIMIT
                    elif hi < lu - PRICE_TOL:
                        reason = REJECT_NOT_TOUCHED
                        status = STATUS_EXPIRED
                        price = lu
                    elif lo >= lu - PRICE_TOL:
                        reason = REJECT_LIMIT_UP_SEALED  # 一字板
                        price = lu
                    elif fill_touched or cl < lu - PRICE_TOL:
                        price = lu
                    else:
                        reason = REJECT_LIMIT_UP_SEALED  # touched but closed sealed
                        price = lu
                elif not np.isnan(lu) and op >= lu - PRICE_TOL:
                    price = lu
                    if lo >= lu - PRICE_TOL or not at_limit_fill:
                        reason = REJECT_LIMIT_UP_SEALED
                else:
                    price = _slipped(op, slip, lo, hi)
                if reason == REJECT_NONE:
                    mlot, step = min_lot[j], lot_step[j]
                    want = lot_round_nb(np.int64(np.floor(target / price + SIZE_EPS)), mlot, step)
                    if want == 0:
                        reason = REJECT_BELOW_MIN_LOT
                    elif volume_cap > 0.0:
                        cap = lot_round_nb(np.int64(np.floor(volume_cap * v_[t, j] + SIZE_EPS)),
                                           mlot, step)
                        if cap < want:
                            want = cap
                        if want == 0:
                            reason = REJECT_VOLUME_CAP
                if reason == REJECT_NONE:
                    # Largest lot-valid quantity <= want whose value + fees fits in cash; the
                    # search starts at the largest quantity whose value alone fits.
                    sh = lot_round_nb(np.int64(np.floor(cash / price + SIZE_EPS)), mlot, step)
                    if sh > want:
                        sh = want
                    com = 0.0
                    fee = 0.0
                    while sh > 0:
                        com, _duty, fee = buy_costs_nb(price * sh, com_rate, com_min, transfer)
                        if price * sh + com + fee <= cash + MONEY_TOL:
                            break
                        sh = sh - step if sh - step >= mlot else 0
                    if sh == 0:
                        reason = REJECT_INSUFFICIENT_CASH
                        want = mlot  # the smallest order, which did not fit either
                    else:
                        value = price * sh
                        cash = _cents(cash - (value + com + fee))
                        stats[S_FILLS] += 1
                        stats[S_BUYS] += 1
                        stats[S_FEES] += com + fee
                        if record:
                            _emit(recs, n, t, j, SIDE_BUY, sh, price, STATUS_FILLED,
                                  REJECT_NONE, com, 0.0, fee, 0, 0)
                            n += 1
                        if has_ents:
                            lot_session[n_lot] = t
                            lot_shares[n_lot] = sh
                            if held:
                                lot_next[lot_tail[j]] = n_lot
                            else:
                                lot_head[j] = n_lot
                            lot_tail[j] = n_lot
                            n_lot += 1
                        if held:
                            # Top-up (skip_held = false): entry price and session stay those
                            # of the first buy; the cost basis grows.
                            cost[j] += value + com + fee
                        else:
                            dividends[j] = 0.0
                            i = npos
                            while i > 0 and pos[i - 1] > j:
                                pos[i] = pos[i - 1]
                                i -= 1
                            pos[i] = j
                            npos += 1
                            entry_price[j] = price
                            entry_session[j] = t
                            cost[j] = value + com + fee
                            high_close[j] = cl
                            k = theme_of[m]
                            if k >= 0:
                                pos_theme[j] = k
                                theme_count[k] += 1
                        buy_session[j] = t
                        shares[j] += sh
                        last_close[j] = cl
                        continue
            stats[S_REJECTED0 + reason] += 1
            if record:
                _emit(recs, n, t, j, SIDE_BUY, want, price, status, reason,
                      0.0, 0.0, 0.0, 0, 0)
                n += 1

        # 5. Exits on the close, first matching rule wins. A stock without a bar has no close:
        # its position is not evaluated this session (max_hold still counts the session).
        sold = False
        for k in range(npos):
            j = pos[k]
            cl = c_[t, j]
            if np.isnan(cl):
                continue
            last_close[j] = cl
            if cl > high_close[j]:
                high_close[j] = cl
            if pending[j] != 0:
                continue
            lu = lu_[t, j]
            why = np.int8(0)
            if stop_loss > 0.0 and cl <= entry_price[j] * (1.0 - stop_loss) + PRICE_TOL:
                why = EXIT_STOP_LOSS
            elif take_profit > 0.0 and cl >= entry_price[j] * (1.0 + take_profit) - PRICE_TOL:
                why = EXIT_TAKE_PROFIT
            elif (trailing_stop > 0.0
                  and cl <= high_close[j] * (1.0 - trailing_stop) + PRICE_TOL):
                why = EXIT_TRAILING_STOP
            elif exit_on_break and (np.isnan(lu) or cl < lu - PRICE_TOL):
                why = EXIT_BREAK
            elif (not np.isnan(exit_theme_heat) and pos_theme[j] >= 0
                  and window_heat_nb(heat, t, pos_theme[j], theme_window) < exit_theme_heat):
                why = EXIT_THEME_COOL
            elif signals_on and exit_signal[t, j] != 0:
                why = EXIT_SIGNAL
            elif max_hold > 0 and t - entry_session[j] >= max_hold:
                why = max_hold_reason
            if why == 0:
                continue
            pending[j] = why
            if not exit_at_close:
                first_try[j] = t + 1
                continue
            first_try[j] = t
            sh = shares[j]
            stats[S_ORDERS] += 1
            reason = REJECT_NONE
            ld = ld_[t, j]
            if buy_session[j] == t:
                reason = REJECT_T_PLUS_1
            elif not np.isnan(ld) and cl <= ld + PRICE_TOL:
                reason = REJECT_LIMIT_DOWN_SEALED
            if reason != REJECT_NONE:
                # Carried to the next session's open (step 3); the record shows the close.
                stats[S_REJECTED0 + reason] += 1
                if record:
                    _emit(recs, n, t, j, SIDE_SELL, sh, cl, STATUS_REJECTED, reason,
                          0.0, 0.0, 0.0, why, 0)
                    n += 1
                continue
            price = _slipped(cl, -slip, l_[t, j], h_[t, j])
            com, duty, fee = sell_costs_nb(price * sh, com_rate, com_min, stamp, transfer)
            tax = _dividend_tax(mk, lot_next, lot_session, lot_base, lot_head[j], t)
            cash = _cents(cash + _book_sell(stats, price * sh, com, duty, fee, cost[j],
                                            t - entry_session[j], dividends[j], tax))
            if record:
                _emit(recs, n, t, j, SIDE_SELL, sh, price, STATUS_FILLED, REJECT_NONE,
                      com, duty, fee, why, 0, 0.0, tax)
                n += 1
            shares[j] = 0
            lot_head[j] = -1
            pending[j] = 0
            _release_theme(pos_theme, theme_count, j)
            sold = True
        if sold:
            npos = _compact(pos, npos, shares)

        # 6. Mark to market at the last traded close.
        mv = 0.0
        for k in range(npos):
            j = pos[k]
            mv += shares[j] * last_close[j]
        cash_out[t] = cash
        mv_out[t] = mv
        equity_prev = cash + mv
        eq_out[t] = equity_prev
    return cash_out, mv_out, eq_out, recs[:n], stats
