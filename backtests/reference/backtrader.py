"""The backtrader reference: the same strategies and fill model, written a second time.

A backtest is trusted when an independent implementation of the same rules produces the same
ledger. This module replays ``theme_hype`` and ``hold_n`` on backtrader (1.9.78) with
backtrader's own machinery doing the bookkeeping — broker, positions, cash, commission scheme,
order execution types, cheat-on-open, order expiry — and the A-share rules of
docs/interfaces.md ("The fill model, exactly") written as checks in the strategy. It shares only
the rule *tables* with the numba engine (``rules.fee_rates``, ``rules.round_fee_nb``, ``LOT``,
limit prices already in the :class:`~backtests.data.market.Market`, the defaults and choices of
``strategies.ENGINE_PARAMS``); none of the engine's logic.

How the fill model maps onto backtrader (docs/crosscheck.md has the long version):

* **Two bars per session.** Each session is fed as an *opening* bar (09:30: open, high, low,
  close of the day) and a *closing* bar (15:00: open = close of the day, same high/low/close).
  ``cheat_on_open`` runs ``next_open`` before the broker matches a bar, so orders placed in the
  opening bar's ``next_open`` fill at the session open (open sells, entries) and orders placed in
  the closing bar's ``next_open`` fill at the session close (exits with ``exit_at = "close"``).
  Cash from a sale lands in the session it is made, and ``broker.getvalue()`` after the closing
  bar is exactly the spec's equity (cash + shares x close).
* **Suspensions.** Every feed has both bars of every session (backtrader synchronises feeds by
  datetime, and a feed missing a bar would shift the others). A session without a bar carries the
  last traded close in open/high/low/close, volume 0 and ``has_bar = 0``; the strategy refuses
  orders there (``suspended``) and the broker values the position at the last close.
* **Prices.** Slippage is the broker's ``slip_fixed`` (ticks x 0.01) with ``slip_open`` and
  ``slip_match`` (clamped to the bar's high/low, never outside); a ``BackBroker`` subclass
  quotes the slipped price on the 0.01 tick grid. A buy at the open is an
  ``Order.Limit`` at the limit-up price (an A-share buy never pays more), so a session opening at
  the limit fills at the limit; 打板 (``entry = "limit"``) is an ``Order.StopLimit`` with stop and
  limit at the limit-up price: it triggers only when the session touches the limit and then
  fills at it, and it is ``valid`` for the opening bar only, so backtrader expires it
  (``not_touched``) when the price never got there. A sell is a ``Market`` order, or a ``Limit``
  at the limit-down price when the session opened at the limit-down.
* **Fees.** :class:`AShareCommission` (a ``CommInfoBase``) charges ``max(rate x value, min)``
  commission, stamp duty on sells and transfer fee on both sides at the session's rates, each
  rounded half-up to the cent.
* **Cash.** The broker runs with ``checksubmit=False``: its own submit-time check knows neither
  lots nor A-share fees, so the strategy sizes each order against its projection of cash (sells
  at the open add their proceeds, earlier buys of the session subtract theirs) and, after the
  broker has matched the bar, asserts that the broker's cash equals that projection to 1e-6 CNY.
  A disagreement — or any order backtrader refuses on its own (margin) — raises
  ``RuntimeError``: it means the two halves of the reference disagree, a bug, not a result.
  Amounts are whole cents, float sums of them are not: an order costing the cash left to within
  1e-6 CNY fills (``CASH_TOL``), and the broker holds ``CUSHION`` (1e-5 CNY) more than the
  strategy reports so backtrader's ``cash < 0`` margin test never trips on float noise.
* **T+1, exits, carry-over.** backtrader positions have no notion of sellable shares; the
  strategy keeps the last buy session of each position and refuses a same-session sell
  (``t_plus_1``), carries sealed (``limit_down_sealed``) and suspended sells to the next open,
  and evaluates the exit rules at the close in the spec's order against the first buy's price
  (backtrader's ``Position.price`` averages top-ups; the spec keeps the first entry).

* **Filters, gate, new exits (issue 11).** The entry filters, the sentiment gate, the trailing
  stop, the theme-cooling exit and user exit signals are checks in the strategy too. The
  market-state values they read (streak, limit-up/-down counts, 炸板率, 连板高度, 晋级率) are
  computed here from ``scan``'s whole-array numpy definitions, not from the engine's numba
  feature kernels; theme heat is recounted from the marks frame with pandas.

``run_reference(market, marks_df, params)`` returns a :class:`ReferenceResult` whose ``equity``,
``orders`` and ``trades`` frames have the columns of the engine's ``BacktestResult``, plus the
marks it skipped by reason.
"""
from __future__ import annotations

import datetime as _dt
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import backtrader as bt
import numpy as np
import pandas as pd

from backtests.core.errors import ConfigError, DataError
from backtests.core.records import SKIP_REASONS
from backtests.core.rules import LOT, dividend_tax_rate, fee_rates, round_fee_nb
from backtests.data.status import (
    ENT_CASH,
    ENT_FACTOR,
    ENT_SESSION,
    ENT_SHARES,
    ENT_STOCK,
    ENT_TAXABLE,
    st_by_session,
)
from backtests.features import scan
from strategies import BOARDS, ENGINE_PARAMS

# Reason names (docs/interfaces.md "Records"); the reference speaks in names, not codes.
SUSPENDED = "suspended"
LIMIT_UP_SEALED = "limit_up_sealed"
LIMIT_DOWN_SEALED = "limit_down_sealed"
T_PLUS_1 = "t_plus_1"
INSUFFICIENT_CASH = "insufficient_cash"
BELOW_MIN_LOT = "below_min_lot"
VOLUME_CAP = "volume_cap"
MAX_POSITIONS = "max_positions"
NOT_TOUCHED = "not_touched"
NO_LIMIT = "no_limit"

FILLED, REJECTED, EXPIRED = "filled", "rejected", "expired"

ORDER_COLUMNS = ["date", "code", "side", "shares", "price", "status", "reject_reason",
                 "commission", "stamp_duty", "transfer_fee", "exit_reason", "wait",
                 "dividend_tax"]
TRADE_COLUMNS = ["date", "code", "side", "shares", "price", "value", "commission",
                 "stamp_duty", "transfer_fee", "reason", "dividend_tax"]
CREDIT_COLUMNS = ["date", "code", "shares", "new_shares", "reference_price", "dividend"]
EQUITY_COLUMNS = ["date", "cash", "market_value", "equity"]

# Defaults of the flat parameter dict and the choices of its text parameters: the one parameter
# table, ENGINE_PARAMS ([strategy] [portfolio] [costs] [fill]; ``hold`` has no default).
DEFAULTS: dict[str, object] = {name: spec[2] for name, spec in ENGINE_PARAMS.items()}
_CHOICES = {name: spec[3] for name, spec in ENGINE_PARAMS.items() if spec[1] is str}

# Limit comparisons tolerate binary noise in a data file's prices (docs/interfaces.md).
TOL = 1e-6
# Every true amount is a whole number of cents; a float sum of them is off by ~1e-10. The cash
# check "value + fees > cash" therefore treats a difference below CASH_TOL as equality (an
# order that costs exactly the cash left fills), and the broker holds CUSHION CNY more than the
# strategy reports, so backtrader's own ``cash < 0`` margin test never trips on that noise.
CASH_TOL = 1e-6
CUSHION = 1e-5
_OPEN_TIME = _dt.time(9, 30)
_CLOSE_TIME = _dt.time(15, 0)


# open / prev_close - 1 of cent prices in binary floats: a gap at a threshold is inside it.
GAP_TOL = 1e-9


class ReferenceResult(NamedTuple):
    """Frames in the shapes of the engine's ``BacktestResult`` (equity, orders, trades,
    credits) and the marks skipped by an entry filter or the gate, ``{reason: count}``."""
    equity: pd.DataFrame
    orders: pd.DataFrame
    trades: pd.DataFrame
    skipped: dict
    credits: pd.DataFrame | None = None


def resolve_params(params: dict) -> dict:
    """Fill defaults into a flat parameter dict and check the choices; unknown keys pass through
    (they belong to other parts of the config).

    ``hold_n`` is ``theme_hype`` with the open entry, no break/stop/target exits and
    ``max_hold = hold`` recorded as the ``hold_n`` exit reason.
    """
    p = dict(DEFAULTS)
    p.update({k: v for k, v in params.items() if v is not None})
    for key, choices in _CHOICES.items():
        if p[key] not in choices:
            raise ConfigError(f"parameter {key} = {p[key]!r}; expected one of {', '.join(choices)}")
    if p["name"] == "hold_n":
        hold = 0 if p["hold"] is None else p["hold"]
        if int(hold) <= 0:
            raise ConfigError(f"parameter hold = {hold!r}; hold_n needs hold >= 1 session")
        p.update(entry="open", exit_on_break=False, stop_loss=0.0, take_profit=0.0,
                 trailing_stop=0.0, max_hold=int(p["hold"]))
    return p


# ---------------------------------------------------------------- backtrader pieces
class SessionPhaseFeed(bt.feed.DataBase):
    """A feed over prepared per-bar numpy arrays (two bars per session) with the extra lines
    the fill model reads: limit prices, bar flag, phase (0 opening, 1 closing), session index.
    backtrader's ``PandasData`` would do, but needs a DataFrame per stock."""
    lines = ("limit_up", "limit_down", "has_bar", "phase", "session")
    params = (("arrays", None),)

    def start(self):
        super().start()
        self._k = 0
        a = self.p.arrays
        self._cols = (a["datetime"], a["open"], a["high"], a["low"], a["close"],
                      a["volume"], a["limit_up"], a["limit_down"], a["has_bar"],
                      a["phase"], a["session"])
        self._n = len(a["datetime"])

    def _load(self):
        k = self._k
        if k >= self._n:
            return False
        (dt, o, h, lo, c, v, lu, ld, hb, ph, s) = self._cols
        ln = self.lines
        ln.datetime[0] = dt[k]
        ln.open[0] = o[k]
        ln.high[0] = h[k]
        ln.low[0] = lo[k]
        ln.close[0] = c[k]
        ln.volume[0] = v[k]
        ln.openinterest[0] = 0.0
        ln.limit_up[0] = lu[k]
        ln.limit_down[0] = ld[k]
        ln.has_bar[0] = hb[k]
        ln.phase[0] = ph[k]
        ln.session[0] = s[k]
        self._k = k + 1
        return True


def _cents_half_up(x) -> float:
    """A money amount rounded half-up to the cent, in decimal arithmetic."""
    return float(Decimal(repr(float(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _tick(x: float) -> float:
    """A price on the 0.01 CNY grid (slipped prices are quoted in ticks)."""
    return round(x * 100.0) / 100.0


class AShareBroker(bt.brokers.BackBroker):
    """backtrader's broker with slipped prices quoted on the 0.01 tick grid (``open +
    0.01`` is 10.08, not 10.080000000000002); everything else is ``BackBroker``."""

    def _slip_up(self, pmax, price, doslip=True, lim=False):
        p = super()._slip_up(pmax, price, doslip, lim)
        return p if p is None else _tick(p)

    def _slip_down(self, pmin, price, doslip=True, lim=False):
        p = super()._slip_down(pmin, price, doslip, lim)
        return p if p is None else _tick(p)


class AShareCommission(bt.CommInfoBase):
    """A-share costs: commission ``max(rate x value, min)`` on both sides, stamp duty on
    sells, transfer fee on both sides; each rounded half-up to 0.01 CNY. The stamp and
    transfer rates are the session's (``set_session``), from the shared ``FEES`` table."""
    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED),
              ("percabs", True), ("commission", 0.00025), ("min_commission", 5.0))

    def __init__(self):
        super().__init__()
        self.stamp_rate = 0.0
        self.transfer_rate = 0.0

    def set_session(self, stamp_rate: float, transfer_rate: float) -> None:
        self.stamp_rate = float(stamp_rate)
        self.transfer_rate = float(transfer_rate)

    def breakdown(self, size: float, price: float) -> tuple[float, float, float]:
        """(commission, stamp duty, transfer fee) of ``size`` shares at ``price``;
        ``size < 0`` is a sell."""
        value = abs(size) * price
        commission = float(round_fee_nb(max(value * self.p.commission, self.p.min_commission)))
        stamp = float(round_fee_nb(value * self.stamp_rate)) if size < 0 else 0.0
        transfer = float(round_fee_nb(value * self.transfer_rate))
        return commission, stamp, transfer

    def _getcommission(self, size, price, pseudoexec):
        commission, stamp, transfer = self.breakdown(size, price)
        return commission + stamp + transfer


class _Pos:
    """Strategy-side facts about a position that backtrader's ``Position`` does not keep: the
    first buy's price and session (a top-up keeps both; backtrader's ``Position.price`` would
    average), the last buy session (T+1) and the pending exit."""
    __slots__ = ("entry_price", "entry_session", "exit_reason", "first_try", "last_buy_session",
                 "high_close", "theme", "lots")

    def __init__(self, entry_price, entry_session, theme=None):
        self.entry_price = entry_price
        self.entry_session = entry_session
        self.last_buy_session = entry_session
        self.exit_reason = ""       # pending exit ("" = none)
        self.first_try = -1         # session of the pending sell's first attempt
        self.high_close = -math.inf  # highest close since entry (trailing stop)
        self.theme = theme          # theme of the mark that opened it (None = none)
        self.lots = []              # [acquisition session, shares, taxable dividends] per buy


class ThemeHypeReference(bt.Strategy):
    """``theme_hype`` / ``hold_n`` on backtrader; see the module docstring for the mapping."""
    params = (("ctx", None),)

    def __init__(self):
        c = self.p.ctx
        self.c = c
        self.P = c["params"]
        self.pos = {}                 # stock index -> _Pos
        self.records = []             # order rows (dicts) in decision order
        self.live = {}                # backtrader order ref -> record index
        self.equity_rows = []
        self.equity_prev = float(self.P["cash"])
        self.expected_cash = None
        self.comm = c["comminfo"]
        self.slip = self.P["slippage_ticks"] * 0.01
        self.skipped = dict.fromkeys((n for k, n in SKIP_REASONS.items() if k), 0)
        self.new_theme = {}           # stock -> theme of an entry placed this session
        self.credit_rows = []         # (session, stock, shares, new shares, reference, cash)

    # ------------------------------------------------------------ helpers
    def _record(self, i, j, side, shares, price, status, reason, exit_reason="", wait=0,
                dividend_tax=0.0):
        self.records.append({"session": i, "stock": j, "side": side, "shares": int(shares),
                             "price": float(price), "status": status,
                             "reject_reason": reason, "commission": 0.0,
                             "stamp_duty": 0.0, "transfer_fee": 0.0,
                             "exit_reason": exit_reason, "wait": int(wait),
                             "dividend_tax": float(dividend_tax)})
        return len(self.records) - 1

    def _dividend_tax(self, p, i):
        """Tax on the dividends each lot of ``p`` received, sold at session ``i``: the rate of
        its holding period from the acquisition date (rules.dividend_tax_rate)."""
        days = self.c["sessions"]
        return _cents_half_up(sum(base * dividend_tax_rate(days[a], days[i])
                                  for a, _shares, base in p.lots if base > 0))

    def _credit(self, i):
        """Ex-dates of session ``i``: positions held at the previous close receive their new
        shares (backtrader's position is resized; its cost basis is not used) and their cash
        dividend (into the broker's cash); the thresholds move with the reference price."""
        for j, cash_ps, new_ps, taxable_ps, factor in self.c["credits"].get(i, ()):
            p = self.pos.get(j)
            if p is None:
                continue
            d = self.datas[self.c["feed_of"][j]]
            position = self.getposition(d)
            shares = int(position.size)
            total = _floor(shares * (1.0 + new_ps))
            paid = _cents_half_up(shares * cash_ps)
            position.fix(total, position.price)
            self.broker.cash += paid
            for lot in p.lots:
                lot[2] += lot[1] * taxable_ps
                lot[1] *= 1.0 + new_ps
            p.entry_price *= factor
            p.high_close *= factor
            self.credit_rows.append((i, j, total, total - shares,
                                     float(self.c["market"].prev_close[i, j]), paid))

    def _buy_cost(self, shares, price):
        commission, _, transfer = self.comm.breakdown(shares, price)
        return price * shares + commission + transfer

    def _sell_net(self, shares, price):
        commission, stamp, transfer = self.comm.breakdown(-shares, price)
        return shares * price - commission - stamp - transfer

    # ------------------------------------------------------------ backtrader hooks
    def prenext_open(self):
        # backtrader refreshes its minimum-period status only in _next, after next_open,
        # so the very first bar's cheat-on-open call arrives here; all feeds are aligned
        # and need one bar, so it is a regular session open.
        self.next_open()

    def next_open(self):
        d0 = self.datas[0]
        i = int(d0.session[0])
        self.comm.set_session(self.c["stamp"][i], self.c["transfer"][i])
        if d0.phase[0] == 0:
            self._opening(i)
        else:
            self._closing(i)

    def next(self):
        d0 = self.datas[0]
        i = int(d0.session[0])
        cash = self.broker.getcash() - CUSHION
        if self.expected_cash is not None and abs(cash - self.expected_cash) > 1e-6:
            raise RuntimeError(
                f"reference self-check: broker cash {cash!r} != strategy projection "
                f"{self.expected_cash!r} at session {self.c['sessions'][i]}")
        self.expected_cash = None
        if d0.phase[0] == 1:
            value = self.broker.getvalue() - CUSHION
            self.equity_rows.append((i, cash, value - cash, value))
            self.equity_prev = value

    def notify_order(self, order):
        idx = self.live.get(order.ref)
        if idx is None or order.status in (order.Submitted, order.Accepted):
            return
        rec = self.records[idx]
        del self.live[order.ref]
        i, j = rec["session"], rec["stock"]
        if order.status == order.Completed and rec["status"] == FILLED:
            size = order.executed.size
            price = order.executed.price
            commission, stamp, transfer = self.comm.breakdown(size, price)
            if abs(order.executed.comm - (commission + stamp + transfer)) > 1e-9:
                raise RuntimeError("reference self-check: broker commission differs")
            if abs(price - rec["price"]) > 1e-9 or abs(size) != rec["shares"]:
                raise RuntimeError(
                    f"reference self-check: backtrader filled {self.c['codes'][j]} "
                    f"{size} @ {price!r}, the strategy expected {rec['shares']} @ "
                    f"{rec['price']!r} at session {self.c['sessions'][i]}")
            rec.update(price=price, commission=commission, stamp_duty=stamp,
                       transfer_fee=transfer)
            if size > 0:
                p = self.pos.get(j)
                if p is None:
                    p = self.pos[j] = _Pos(price, i, self.new_theme.get(j))
                else:
                    p.last_buy_session = i
                p.lots.append([i, float(size), 0.0])
            else:
                self.broker.cash -= rec["dividend_tax"]   # the broker deducts it on the sale
                del self.pos[j]
        elif order.status == order.Expired and rec["status"] == EXPIRED:
            pass  # the 打板 queue was never reached: predicted, and backtrader agrees
        else:
            raise RuntimeError(
                f"reference self-check: backtrader order for {self.c['codes'][j]} ended "
                f"{order.getstatusname()} at session {self.c['sessions'][i]}; the strategy "
                f"expected {rec['status']}")

    # ------------------------------------------------------------ session phases
    def _opening(self, i):
        """Steps 1-4 of the fill model: T+1 release (implicit: only ``last_buy_session ==
        t`` blocks a sale), open sells by code, then entries by priority."""
        c, P = self.c, self.P
        self._credit(i)
        cash = self.broker.getcash() - CUSHION
        sold = set()
        for j in sorted(k for k, p in self.pos.items() if p.exit_reason):
            p = self.pos[j]
            d = self.datas[c["feed_of"][j]]
            shares = int(self.getposition(d).size)
            wait = i - p.first_try
            if not d.has_bar[0]:
                self._record(i, j, "sell", shares, np.nan, REJECTED, SUSPENDED,
                             p.exit_reason, wait)
                continue
            o, h, lo, ld = d.open[0], d.high[0], d.low[0], d.limit_down[0]
            at_limit = not math.isnan(ld) and o <= ld + TOL
            if at_limit and (h <= ld + TOL or P["at_limit_open"] == "reject"):
                self._record(i, j, "sell", shares, ld, REJECTED, LIMIT_DOWN_SEALED,
                             p.exit_reason, wait)
                continue
            if at_limit:
                # Opened at the limit-down but traded above it: a limit sell at the limit.
                price = ld
                order = self.sell(data=d, size=shares, exectype=bt.Order.Limit, price=ld)
            else:
                price = min(max(_tick(o - self.slip), lo), h)
                order = self.sell(data=d, size=shares, exectype=bt.Order.Market)
            tax = self._dividend_tax(p, i)
            self.live[order.ref] = self._record(i, j, "sell", shares, price, FILLED, "",
                                                p.exit_reason, wait, tax)
            cash += self._sell_net(shares, price) - tax
            sold.add(j)
        held = {j for j in self.pos if j not in sold}
        per_theme: dict = {}
        for j in held:
            if self.pos[j].theme is not None:
                per_theme[self.pos[j].theme] = per_theme.get(self.pos[j].theme, 0) + 1
        self.new_theme = {}
        target = (P["fixed_cash"] if P["fixed_cash"] > 0
                  else P["position_size"] * self.equity_prev)
        marks = c["marks"].get(i, ())
        gate = self._gate(i)
        for j in marks:
            if j in held and P["skip_held"]:
                continue
            theme = c["theme_of"].get((i, j))
            skip = gate or self._filter(i, j, marks)
            if (not skip and P["max_per_theme"] > 0 and j not in held and theme is not None
                    and per_theme.get(theme, 0) >= P["max_per_theme"]):
                skip = "max_per_theme"
            if skip:
                self.skipped[skip] += 1
                continue
            was_held = j in held
            cash = self._entry(i, j, held, target, cash)
            if not was_held and j in held and theme is not None:
                per_theme[theme] = per_theme.get(theme, 0) + 1
                self.new_theme[j] = theme
        self.expected_cash = cash

    # ------------------------------------------------------------ filters and the gate
    def _gate(self, i):
        """Skip reason of every mark of session ``i`` from the previous session's mood."""
        P, mood = self.P, self.c["mood"]
        nan = math.nan
        row = {k: (mood[k][i - 1] if i > 0 else nan) for k in mood if k != "streak"}
        checks = (("min_limit_ups", "up", -1, "gate_limit_ups"),
                  ("max_limit_downs", "down", 1, "gate_limit_downs"),
                  ("min_height", "height", -1, "gate_height"),
                  ("min_promotion_1", "promotion_1", -1, "gate_promotion_1"),
                  ("min_promotion_2plus", "promotion_2plus", -1, "gate_promotion_2plus"),
                  ("max_broken_rate", "broken_rate", 1, "gate_broken_rate"))
        for key, field, sign, reason in checks:
            if _fails(row[field], P[key], sign):
                return reason
        return ""

    def _prev_streak(self, i, j):
        return int(self.c["mood"]["streak"][i - 1, j]) if i > 0 else 0

    def _filter(self, i, j, marks):
        """Skip reason of the mark on stock ``j`` at session ``i`` (rules in the engine's
        order: board, ST, price, amount, streak, theme heat, dragon head, open gap)."""
        P, c, m = self.P, self.c, self.c["market"]
        if set(P["boards"]) != set(BOARDS) and (
                int(m.boards[j]) not in {BOARDS.index(b) for b in P["boards"]}):
            return "board"
        if P["exclude_st"] and bool(c["st"][i, j]):
            return "st"
        pc = float(m.prev_close[i, j])
        if _fails(pc, P["min_price"], -1) or _fails(pc, P["max_price"], 1):
            return "price"
        amount = float(m.amount[i - 1, j]) if i > 0 else math.nan
        if _fails(amount, P["min_amount"], -1) or _fails(amount, P["max_amount"], 1):
            return "amount"
        streak = float(self._prev_streak(i, j)) if i > 0 else math.nan
        if _fails(streak, P["min_streak"], -1) or _fails(streak, P["max_streak"], 1):
            return "streak"
        theme = c["theme_of"].get((i, j))
        if P["min_theme_heat"] is not None and self._heat(i, theme) < P["min_theme_heat"]:
            return "theme_heat"
        if P["dragon_head"] > 0:
            if theme is None:
                return "dragon_head"
            mine = self._prev_streak(i, j)
            ahead = 0
            for k in marks:
                if k == j:
                    break
                if c["theme_of"].get((i, k)) == theme and self._prev_streak(i, k) >= mine:
                    ahead += 1
            ahead += sum(1 for k in marks[marks.index(j) + 1:]
                         if c["theme_of"].get((i, k)) == theme and self._prev_streak(i, k) > mine)
            if ahead >= P["dragon_head"]:
                return "dragon_head"
        lo, hi = P["min_open_gap"], P["max_open_gap"]
        d = self.datas[c["feed_of"][j]]
        if (lo is not None or hi is not None) and d.has_bar[0]:
            gap = float(m.open[i, j]) / pc - 1.0
            if (_fails(gap, None if lo is None else lo - GAP_TOL, -1)
                    or _fails(gap, None if hi is None else hi + GAP_TOL, 1)):
                return "open_gap"
        return ""

    def _heat(self, i, theme):
        """Heat of ``theme`` summed over the ``theme_window`` sessions up to ``i``."""
        if theme is None:
            return 0.0
        w = int(self.P["theme_window"])
        return sum(self.c["heat"].get((s, theme), 0.0) for s in range(max(0, i - w + 1), i + 1))

    def _entry(self, i, j, held, target, cash):
        """One mark's buy: the checks in the spec's order, then a backtrader order.
        Returns the projected cash after it."""
        c, P = self.c, self.P
        d = self.datas[c["feed_of"][j]]
        if not d.has_bar[0]:
            self._record(i, j, "buy", 0, np.nan, REJECTED, SUSPENDED)
            return cash
        if j not in held and len(held) >= P["max_positions"]:
            self._record(i, j, "buy", 0, np.nan, REJECTED, MAX_POSITIONS)
            return cash
        o, h, lo, cl, lu = d.open[0], d.high[0], d.low[0], d.close[0], d.limit_up[0]
        has_limit = not math.isnan(lu)
        min_lot, step = c["lots"][j]
        if P["entry"] == "open":
            if has_limit and o >= lu - TOL:
                if lo >= lu - TOL or P["at_limit_open"] == "reject":
                    self._record(i, j, "buy", 0, lu, REJECTED, LIMIT_UP_SEALED)
                    return cash
                price = lu
            else:
                price = max(min(_tick(o + self.slip), h), lo)
        else:
            if not has_limit:
                self._record(i, j, "buy", 0, np.nan, REJECTED, NO_LIMIT)
                return cash
            if h < lu - TOL:
                # The queue at the limit-up is placed (the smallest order) and backtrader
                # expires it at the end of the opening bar: the price never got there.
                order = self.buy(data=d, size=min_lot, exectype=bt.Order.StopLimit,
                                 price=lu, plimit=lu, valid=self._valid(i))
                self.live[order.ref] = self._record(i, j, "buy", 0, lu, EXPIRED,
                                                    NOT_TOUCHED)
                return cash
            if lo >= lu - TOL or (P["limit_fill"] == "broken" and cl >= lu - TOL):
                self._record(i, j, "buy", 0, lu, REJECTED, LIMIT_UP_SEALED)
                return cash
            price = lu
        shares = _lot_round(_floor(target / price), min_lot, step)
        if shares == 0:
            self._record(i, j, "buy", 0, price, REJECTED, BELOW_MIN_LOT)
            return cash
        if P["volume_cap"] > 0:
            shares = min(shares, _lot_round(_floor(P["volume_cap"] * d.volume[0]),
                                            min_lot, step))
            if shares == 0:
                self._record(i, j, "buy", 0, price, REJECTED, VOLUME_CAP)
                return cash
        # Start at the most shares whose value alone fits (same answer, fewer steps).
        shares = min(shares, max(_lot_round(_floor(cash / price), min_lot, step), min_lot))
        cost = self._buy_cost(shares, price)
        while cost > cash + CASH_TOL and shares > min_lot:
            shares -= step
            cost = self._buy_cost(shares, price)
        if cost > cash + CASH_TOL:
            self._record(i, j, "buy", min_lot, price, REJECTED, INSUFFICIENT_CASH)
            return cash
        if P["entry"] == "limit":
            # 打板: stop and limit at the limit-up; triggers when touched, fills at it.
            order = self.buy(data=d, size=shares, exectype=bt.Order.StopLimit, price=lu,
                             plimit=lu, valid=self._valid(i))
        elif has_limit:
            # A buy never pays above the limit-up: a limit order there fills at the open
            # (plus slippage, within the bar) or, opening at the limit, at the limit.
            order = self.buy(data=d, size=shares, exectype=bt.Order.Limit, price=lu)
        else:
            order = self.buy(data=d, size=shares, exectype=bt.Order.Market)
        self.live[order.ref] = self._record(i, j, "buy", shares, price, FILLED, "")
        held.add(j)
        return cash - cost

    def _valid(self, i):
        return _dt.datetime.combine(self.c["sessions_py"][i], _OPEN_TIME)

    def _closing(self, i):
        """Step 5: exits on the close, code order, first matching rule; with ``exit_at =
        "close"`` the sell goes to the closing bar (fills at the close, cheat-on-open)."""
        c, P = self.c, self.P
        cash = self.broker.getcash() - CUSHION
        exit_now = P["exit_at"] == "close"
        for j in sorted(self.pos):
            p = self.pos[j]
            d = self.datas[c["feed_of"][j]]
            if not d.has_bar[0]:
                continue  # no bar, no close
            p.high_close = max(p.high_close, d.close[0])
            if p.exit_reason:
                continue  # pending exits are not re-evaluated
            cl, lu = d.close[0], d.limit_up[0]
            reason = ""
            # Thresholds are compared as exact numbers: 10.00 x (1 + 0.10) is 11.00, which a
            # limit-up close of 11.00 reaches, although the float product is 11.000...002.
            if P["stop_loss"] > 0 and cl <= p.entry_price * (1.0 - P["stop_loss"]) + TOL:
                reason = "stop_loss"
            elif (P["take_profit"] > 0
                  and cl >= p.entry_price * (1.0 + P["take_profit"]) - TOL):
                reason = "take_profit"
            elif (P["trailing_stop"] > 0
                  and cl <= p.high_close * (1.0 - P["trailing_stop"]) + TOL):
                reason = "trailing_stop"
            elif P["exit_on_break"] and (math.isnan(lu) or cl < lu - TOL):
                reason = "break"
            elif (P["exit_theme_heat"] is not None and p.theme is not None
                  and self._heat(i, p.theme) < P["exit_theme_heat"]):
                reason = "theme_cool"
            elif (i, j) in c["exits"]:
                reason = "signal"
            elif P["max_hold"] > 0 and i - p.entry_session >= P["max_hold"]:
                reason = "hold_n" if P["name"] == "hold_n" else "max_hold"
            if not reason:
                continue
            p.exit_reason = reason
            if not exit_now:
                p.first_try = i + 1
                continue
            p.first_try = i
            shares = int(self.getposition(d).size)
            ld = d.limit_down[0]
            if p.last_buy_session == i:
                self._record(i, j, "sell", shares, cl, REJECTED, T_PLUS_1, reason)
                continue
            if not math.isnan(ld) and cl <= ld + TOL:
                self._record(i, j, "sell", shares, cl, REJECTED, LIMIT_DOWN_SEALED, reason)
                continue
            price = min(max(_tick(cl - self.slip), d.low[0]), d.high[0])
            order = self.sell(data=d, size=shares, exectype=bt.Order.Market)
            tax = self._dividend_tax(p, i)
            self.live[order.ref] = self._record(i, j, "sell", shares, price, FILLED, "",
                                                reason, 0, tax)
            cash += self._sell_net(shares, price) - tax
        self.expected_cash = cash


def _fails(value: float, threshold, sign: int) -> bool:
    """A set threshold (None = off) not met: ``value`` below it (``sign`` -1, a minimum) or
    above it (+1, a maximum); an unknown (NaN) value fails."""
    if threshold is None:
        return False
    if value is None or math.isnan(value):
        return True
    return value < threshold if sign < 0 else value > threshold


def market_mood(market) -> dict:
    """The market-state values the filters and the gate read, from ``scan``'s numpy array
    definitions: ``streak`` ``[S, N]`` and per session (non-ST stocks of a known board) ``up``,
    ``down``, ``height``, ``broken_rate``, ``promotion_1``, ``promotion_2plus`` (NaN when
    undefined)."""
    st = scan.limit_state(market.high, market.low, market.close, market.limit_up,
                          market.limit_down)
    streak = scan.streaks(st.sealed_up, st.traded)
    known = np.isin(np.asarray(market.boards), (0, 1, 2, 3))[None, :] & ~st_by_session(market)
    up = (st.sealed_up & known).sum(axis=1).astype(float)
    broken = (st.touched_up & ~st.sealed_up & known).sum(axis=1).astype(float)
    prev = np.vstack([np.zeros((1, streak.shape[1]), streak.dtype), streak[:-1]])

    def rate(num, den):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    base1 = (prev == 1) & st.traded & known
    base2 = (prev >= 2) & st.traded & known
    return {
        "streak": streak,
        "up": up,
        "down": (st.sealed_down & known).sum(axis=1).astype(float),
        "height": np.where(known, streak, 0).max(axis=1).astype(float) if streak.size
        else np.zeros(len(up)),
        "broken_rate": rate(broken, broken + up),
        "promotion_1": rate((base1 & st.sealed_up).sum(axis=1), base1.sum(axis=1)),
        "promotion_2plus": rate((base2 & st.sealed_up).sum(axis=1), base2.sum(axis=1)),
    }


def themes_of(market, marks_df: pd.DataFrame) -> tuple[dict, dict]:
    """``(theme_of, heat)``: the theme of each marked ``(session, stock)`` and the heat of each
    ``(session, theme)`` — the largest ``theme_heat`` of the theme's marks that session when
    the frame has that column, else their number (docs/strategies.md)."""
    if marks_df is None or len(marks_df) == 0 or "theme" not in marks_df.columns:
        return {}, {}
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    codes = np.asarray(market.codes).astype(str)
    df = pd.DataFrame({
        "session": np.searchsorted(sessions, pd.to_datetime(marks_df["date"]).to_numpy()
                                   .astype("datetime64[D]")),
        "stock": np.searchsorted(codes, marks_df["code"].astype(str).to_numpy()),
        "theme": marks_df["theme"].fillna("").astype(str).to_numpy(),
        "heat": (pd.to_numeric(marks_df["theme_heat"], errors="coerce").fillna(0).to_numpy()
                 if "theme_heat" in marks_df.columns else np.ones(len(marks_df))),
    })
    df = df[df["theme"] != ""]
    theme_of = {}
    for s, j, t in zip(df["session"], df["stock"], df["theme"]):
        theme_of.setdefault((int(s), int(j)), t)
    agg = "max" if "theme_heat" in marks_df.columns else "sum"
    heat = df.groupby(["session", "theme"])["heat"].agg(agg)
    return theme_of, {(int(s), t): float(v) for (s, t), v in heat.items()}


def _floor(x: float) -> int:
    """``floor(x)`` for a share count computed in floats; the 1e-9 absorbs binary error in a
    quotient that is mathematically whole (100000 / 10.00 must be 10000, not 9999)."""
    return math.floor(x + 1e-9)


def _lot_round(shares: int, min_lot: int, step: int) -> int:
    """Largest buyable quantity <= shares: 0 below the minimum lot, else min + k * step."""
    if shares < min_lot:
        return 0
    return min_lot + ((shares - min_lot) // step) * step


# ---------------------------------------------------------------- inputs
def marks_by_session(market, marks_df: pd.DataFrame) -> dict[int, list[int]]:
    """``{session index: [stock index, ...]}`` in entry priority (score desc, code asc).

    ``marks_df`` has ``date, code[, score]`` (score defaults to 1). Marks on a date that is not
    a session of the market or a code not in it are dropped; a repeated (date, code) keeps its
    highest score.
    """
    if marks_df is None or len(marks_df) == 0:
        return {}
    for col in ("date", "code"):
        if col not in marks_df.columns:
            raise DataError(f"marks: column {col!r} missing; expected date,code[,score]")
    df = pd.DataFrame({
        "date": pd.to_datetime(marks_df["date"]).to_numpy().astype("datetime64[D]"),
        "code": marks_df["code"].astype(str).str.zfill(6).to_numpy(),
        "score": (pd.to_numeric(marks_df["score"]).to_numpy(dtype=float)
                  if "score" in marks_df.columns else np.ones(len(marks_df))),
    })
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    codes = np.asarray(market.codes).astype(str)
    si = np.searchsorted(sessions, df["date"].to_numpy())
    ok_s = (si < len(sessions)) & (sessions[np.minimum(si, len(sessions) - 1)]
                                   == df["date"].to_numpy())
    ci = np.searchsorted(codes, df["code"].to_numpy())
    ok_c = (ci < len(codes)) & (codes[np.minimum(ci, len(codes) - 1)] == df["code"].to_numpy())
    df = df.assign(session=si, stock=ci)[ok_s & ok_c]
    df = df.groupby(["session", "stock"], as_index=False)["score"].max()
    df = df.sort_values(["session", "score", "stock"], ascending=[True, False, True])
    out: dict[int, list[int]] = {}
    for s, j in zip(df["session"].to_numpy(), df["stock"].to_numpy()):
        out.setdefault(int(s), []).append(int(j))
    return out


def _feed_arrays(market, j: int, dnums_open, dnums_close) -> dict[str, np.ndarray]:
    """Per-bar arrays of stock ``j``: two bars per session (opening, closing); sessions without
    a bar carry the last traded close and ``has_bar = 0``."""
    S = len(market.sessions)
    close = np.asarray(market.close[:, j], dtype=float)
    has = np.isfinite(close)
    last = pd.Series(close).ffill().to_numpy()
    o = np.where(has, market.open[:, j], last)
    h = np.where(has, market.high[:, j], last)
    lo = np.where(has, market.low[:, j], last)
    v = np.where(has, np.nan_to_num(market.volume[:, j]), 0.0)
    two = lambda a, b: np.column_stack([a, b]).ravel()
    return {
        "datetime": two(dnums_open, dnums_close),
        "open": two(o, last), "high": two(h, h), "low": two(lo, lo), "close": two(last, last),
        "volume": two(v, v),
        "limit_up": two(market.limit_up[:, j], market.limit_up[:, j]),
        "limit_down": two(market.limit_down[:, j], market.limit_down[:, j]),
        "has_bar": two(has.astype(float), has.astype(float)),
        "phase": two(np.zeros(S), np.ones(S)),
        "session": two(np.arange(S, dtype=float), np.arange(S, dtype=float)),
    }


# ---------------------------------------------------------------- entry point
def run_reference(market, marks_df: pd.DataFrame, params: dict, *,
                  only_marked: bool = True, exits: pd.DataFrame | None = None
                  ) -> ReferenceResult:
    """Run the strategy of ``params`` through backtrader and return its ledger.

    ``market`` is a :class:`~backtests.data.market.Market`, ``marks_df`` the entry marks
    (``date, code[, score]``), ``params`` the flat parameter dict of the engine
    (``ENGINE_PARAMS`` keys; missing keys take the documented defaults). With ``only_marked``
    (default) only the marked stocks get a backtrader feed: the others can never trade, so the
    ledger is the same and backtrader runs far faster. Every session of ``market`` is replayed;
    the equity curve has one row per session. ``exits``: user exit signals ``date, code``.
    """
    P = resolve_params(params)
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    S = len(sessions)
    codes = np.asarray(market.codes).astype(str)
    if S == 0:
        raise DataError("market: no sessions to replay")
    marks = marks_by_session(market, marks_df)
    theme_of, heat = themes_of(market, marks_df)
    exit_cells = set()
    if exits is not None and len(exits):
        si = np.searchsorted(sessions, pd.to_datetime(exits["date"]).to_numpy()
                             .astype("datetime64[D]"))
        ci = np.searchsorted(codes, exits["code"].astype(str).to_numpy())
        exit_cells = {(int(a), int(b)) for a, b in zip(si, ci)}
    stocks = (sorted({j for js in marks.values() for j in js}) if only_marked
              else list(range(len(codes))))
    stamp, transfer = fee_rates(sessions)
    sessions_py = [_dt.date.fromisoformat(str(s)) for s in sessions]
    dn_open = np.array([bt.date2num(_dt.datetime.combine(d, _OPEN_TIME)) for d in sessions_py])
    dn_close = np.array([bt.date2num(_dt.datetime.combine(d, _CLOSE_TIME)) for d in sessions_py])

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True, preload=True, runonce=False,
                         quicknotify=False)
    cerebro.broker = AShareBroker()
    cerebro.broker.setcash(float(P["cash"]) + CUSHION)
    cerebro.broker.set_checksubmit(False)
    cerebro.broker.set_slippage_fixed(float(P["slippage_ticks"]) * 0.01, slip_open=True,
                                      slip_limit=True, slip_match=True, slip_out=False)
    comminfo = AShareCommission(commission=float(P["commission_rate"]),
                                min_commission=float(P["commission_min"]))
    cerebro.broker.addcommissioninfo(comminfo)
    feed_of = {}
    # A feed for the first stock always exists so the session clock runs even without marks.
    for k, j in enumerate(stocks or [0]):
        feed_of[j] = k
        cerebro.adddata(SessionPhaseFeed(arrays=_feed_arrays(market, j, dn_open, dn_close)),
                        name=codes[j])
    lots = {j: LOT.get(int(market.boards[j]), (100, 100)) for j in feed_of}
    ctx = {"params": P, "marks": marks, "feed_of": feed_of, "lots": lots, "codes": codes,
           "sessions": sessions, "sessions_py": sessions_py, "stamp": stamp,
           "transfer": transfer, "comminfo": comminfo, "market": market,
           "mood": market_mood(market), "theme_of": theme_of, "heat": heat,
           "st": st_by_session(market),
           "exits": exit_cells, "credits": credits_by_session(market)}
    cerebro.addstrategy(ThemeHypeReference, ctx=ctx)
    strat = cerebro.run()[0]
    return _frames(strat, sessions, codes)


def credits_by_session(market) -> dict[int, list[tuple]]:
    """``{session: [(stock, cash, new shares, taxable, factor) per share, ...]}`` from the
    market's entitlements (``backtests.data.status.entitlements``)."""
    out: dict[int, list[tuple]] = {}
    ents = getattr(market, "entitlements", None)
    for row in (() if ents is None else np.asarray(ents, dtype=float)):
        out.setdefault(int(row[ENT_SESSION]), []).append(
            (int(row[ENT_STOCK]), float(row[ENT_CASH]), float(row[ENT_SHARES]),
             float(row[ENT_TAXABLE]), float(row[ENT_FACTOR])))
    return out


def _frames(strat, sessions, codes) -> ReferenceResult:
    """The strategy's records as the engine-shaped frames."""
    dates = pd.to_datetime(sessions)
    eq = np.array(strat.equity_rows, dtype=float).reshape(-1, 4)
    equity = pd.DataFrame({"date": dates[eq[:, 0].astype(int)], "cash": eq[:, 1],
                           "market_value": eq[:, 2], "equity": eq[:, 3]})
    rec = pd.DataFrame(strat.records, columns=["session", "stock"] + ORDER_COLUMNS[2:])
    orders = pd.DataFrame({
        "date": dates[rec["session"].to_numpy(dtype=int)],
        "code": codes[rec["stock"].to_numpy(dtype=int)],
        **{k: rec[k].to_numpy() for k in ORDER_COLUMNS[2:]},
    })
    orders["shares"] = orders["shares"].astype(np.int64)
    orders["wait"] = orders["wait"].astype(np.int64)
    for k in ("price", "commission", "stamp_duty", "transfer_fee", "dividend_tax"):
        orders[k] = orders[k].astype(float)
    filled = orders[orders["status"] == FILLED]
    trades = pd.DataFrame({
        "date": filled["date"].to_numpy(), "code": filled["code"].to_numpy(),
        "side": filled["side"].to_numpy(), "shares": filled["shares"].to_numpy(),
        "price": filled["price"].to_numpy(),
        "value": filled["price"].to_numpy() * filled["shares"].to_numpy(),
        "commission": filled["commission"].to_numpy(),
        "stamp_duty": filled["stamp_duty"].to_numpy(),
        "transfer_fee": filled["transfer_fee"].to_numpy(),
        "reason": np.where(filled["side"].to_numpy() == "buy", "entry",
                           filled["exit_reason"].to_numpy()),
        "dividend_tax": filled["dividend_tax"].to_numpy(),
    })
    cr = np.array(strat.credit_rows, dtype=float).reshape(-1, 6)
    credits = pd.DataFrame({
        "date": dates[cr[:, 0].astype(int)], "code": codes[cr[:, 1].astype(int)].astype(object),
        "shares": cr[:, 2].astype(np.int64), "new_shares": cr[:, 3].astype(np.int64),
        "reference_price": cr[:, 4], "dividend": cr[:, 5]}, columns=CREDIT_COLUMNS)
    return ReferenceResult(equity, orders.reset_index(drop=True), trades.reset_index(drop=True),
                           dict(strat.skipped), credits)
