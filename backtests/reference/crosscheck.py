"""Crosscheck: the numba engine against the backtrader reference, figure by figure.

>>> from backtests.reference.crosscheck import crosscheck, format_report
>>> result = crosscheck(market, marks_df, params)
>>> print(format_report(result)); result.ok

Both engines get the same market, marks and parameters. Three ledgers are compared:

* **trades** (filled orders), matched by (session, code, side, n-th such fill): shares exactly;
  price to 1e-6 CNY (prices sit on the 0.01 grid, so any real difference is a whole tick);
  value, commission, stamp duty and transfer fee within the money tolerance; the reason.
* **orders** (every order, filled, rejected or expired), matched the same way: status, reject
  reason, exit reason, shares, price (NaN meets only NaN), the three fees and ``wait`` — the
  fields a rejected order records are fixed by docs/interfaces.md ("Records"), so they are
  compared too.
* **credits** (positions held over an ex-date), matched by (session, code): shares held after
  the credit and new shares exactly, the reference price, the cash dividend within the money
  tolerance; trades and orders also compare the dividend tax charged on each sale.
* **equity**, session by session: cash, market value and equity within the money tolerance.
* **skipped** marks (entry filters and the sentiment gate place no order): the count of each
  reason, exactly.

The money tolerance defaults to 0.01 CNY: two figures agree when they differ by *less* than a
cent, so a fee rounded to a different cent is a difference, float noise in a sum is not. A row
present in one ledger only is a difference of its own (field ``(row)``).
"""
from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.engine.backtest import long_signals, resolve_params, run_backtest
from backtests.reference.backtrader import run_reference

TOLERANCE = 0.01
PRICE_TOLERANCE = 1e-6
MAX_ROWS = 20

_MONEY_TRADE = ("value", "commission", "stamp_duty", "transfer_fee", "dividend_tax")
_MONEY_ORDER = ("commission", "stamp_duty", "transfer_fee", "dividend_tax")


class Difference(NamedTuple):
    """One disagreeing figure: which ledger, its row key, the field and both values."""
    ledger: str          # trades | orders | credits | equity | skipped
    date: str            # YYYY-MM-DD
    code: str            # '' for equity
    side: str            # '' for equity
    field: str
    engine: object
    reference: object


class CrosscheckResult(NamedTuple):
    """Outcome of :func:`crosscheck`: ``differences`` (all of them, in ledger then date order)
    plus what was compared and how long each engine took."""
    differences: list
    sessions: int
    trades: int
    orders: int
    tolerance: float
    engine_seconds: float
    reference_seconds: float
    engine: object       # engine BacktestResult (or any object with equity/orders/trades)
    reference: object    # reference_bt.ReferenceResult

    @property
    def ok(self) -> bool:
        return not self.differences


# ---------------------------------------------------------------- normalisation
def _day_str(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


def _text(values) -> np.ndarray:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        else:
            out.append(str(v))
    return np.array(out, dtype=object)


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """Frame with text ``date``/``code``/``side`` and an occurrence number ``k`` so that the
    n-th (date, code, side) row of one ledger meets the n-th of the other."""
    f = frame.reset_index(drop=True).copy()
    f["date"] = _day_str(f["date"])
    f["code"] = _text(f["code"])
    f["side"] = _text(f["side"])
    f["k"] = f.groupby(["date", "code", "side"], sort=False).cumcount()
    return f


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return np.nan


def _differs(a, b, tol) -> bool:
    a, b = _num(a), _num(b)
    if np.isnan(a) and np.isnan(b):
        return False
    if np.isnan(a) or np.isnan(b):
        return True
    return abs(a - b) >= tol - 1e-9 if tol > PRICE_TOLERANCE else abs(a - b) > tol


# ---------------------------------------------------------------- comparison
def _compare_rows(ledger, eng, ref, fields_of) -> list[Difference]:
    """Outer-join two keyed frames and list the differing fields; ``fields_of(row_e, row_r)``
    yields ``(field, kind, tol)`` with kind ``num`` or ``text``."""
    e, r = _keyed(eng), _keyed(ref)
    e["pos_e__"] = np.arange(len(e))
    r["pos_r__"] = np.arange(len(r))
    keys = ["date", "code", "side", "k"]
    m = e.merge(r, on=keys, how="outer", suffixes=("_e", "_r"), sort=False)
    order = np.where(m["pos_e__"].notna(), m["pos_e__"], m["pos_r__"] + 0.5)
    m = m.assign(ord__=order).sort_values(["date", "ord__"], kind="stable")
    out = []
    for row in m.itertuples(index=False):
        row = row._asdict()
        if pd.isna(row["pos_e__"]) or pd.isna(row["pos_r__"]):
            out.append(Difference(ledger, row["date"], row["code"], row["side"], "(row)",
                                  "present" if pd.notna(row["pos_e__"]) else "missing",
                                  "present" if pd.notna(row["pos_r__"]) else "missing"))
            continue
        for field, kind, tol in fields_of(row):
            a, b = row[f"{field}_e"], row[f"{field}_r"]
            if kind == "text":
                a, b = _text([a])[0], _text([b])[0]
                bad = a != b
            else:
                bad = _differs(a, b, tol)
            if bad:
                out.append(Difference(ledger, row["date"], row["code"], row["side"], field, a, b))
    return out


def compare(engine, reference, *, tolerance: float = TOLERANCE) -> list[Difference]:
    """Every difference between two results with ``equity``/``orders``/``trades`` frames
    (engine first); empty when they agree."""
    def trade_fields(row):
        yield "shares", "num", 0.5
        yield "price", "num", PRICE_TOLERANCE
        for f in _MONEY_TRADE:
            yield f, "num", tolerance
        yield "reason", "text", 0

    def order_fields(row):
        yield "status", "text", 0
        yield "reject_reason", "text", 0
        yield "exit_reason", "text", 0
        yield "shares", "num", 0.5
        yield "price", "num", PRICE_TOLERANCE
        for f in _MONEY_ORDER:
            yield f, "num", tolerance
        yield "wait", "num", 0.5

    out = _compare_rows("trades", engine.trades, reference.trades, trade_fields)
    out += _compare_rows("orders", engine.orders[list(reference.orders.columns)],
                         reference.orders, order_fields)
    def credit_fields(row):
        yield "shares", "num", 0.5
        yield "new_shares", "num", 0.5
        yield "reference_price", "num", PRICE_TOLERANCE
        yield "dividend", "num", tolerance

    mine, theirs = getattr(engine, "credits", None), getattr(reference, "credits", None)
    if mine is not None and theirs is not None:
        out += _compare_rows("credits", mine.assign(side="credit"),
                             theirs.assign(side="credit"), credit_fields)
    out += _compare_equity(engine.equity, reference.equity, tolerance)
    for reason, count in getattr(reference, "skipped", {}).items():
        mine = int(engine.stats.get(f"skipped_{reason}", 0))
        if mine != count:
            out.append(Difference("skipped", "", "", "", reason, mine, count))
    return out


def _compare_equity(eng, ref, tol) -> list[Difference]:
    e = eng.assign(date=_day_str(eng["date"])).set_index("date")
    r = ref.assign(date=_day_str(ref["date"])).set_index("date")
    out = []
    for day in sorted(set(e.index) | set(r.index)):
        if day not in e.index or day not in r.index:
            out.append(Difference("equity", day, "", "", "(row)",
                                  "present" if day in e.index else "missing",
                                  "present" if day in r.index else "missing"))
            continue
        for f in ("cash", "market_value", "equity"):
            a, b = float(e.at[day, f]), float(r.at[day, f])
            if _differs(a, b, tol):
                out.append(Difference("equity", day, "", "", f, a, b))
    return out


def crosscheck(market, marks_df: pd.DataFrame, params: dict, *,
               tolerance: float = TOLERANCE, exits=None) -> CrosscheckResult:
    """Run the numba engine and the backtrader reference on the same inputs and compare them.

    ``market``: a :class:`~backtests.data.market.Market`; ``marks_df``: ``date, code[, score]``;
    ``params``: the flat engine parameters (defaults filled by the engine's
    ``resolve_params``; a bad one is a ``ConfigError``). ``marks_df`` may carry ``theme``
    (and ``theme_heat``) columns or be a wide score frame (dates x codes); ``exits``: user exit
    signals (a frame ``date, code`` or a wide boolean frame).
    """
    full = resolve_params(dict(params))
    t0 = time.perf_counter()
    if isinstance(marks_df, pd.DataFrame):
        marks_df = long_signals(marks_df)
    if exits is not None:
        exits = long_signals(exits, "exit")
        if "exit" in exits.columns:
            exits = exits.loc[exits["exit"].astype(bool).to_numpy(), ["date", "code"]]
    eng = run_backtest(market, marks_df, full, exits=exits)
    t1 = time.perf_counter()
    ref = run_reference(market, marks_df, full, exits=exits)
    t2 = time.perf_counter()
    diffs = compare(eng, ref, tolerance=tolerance)
    return CrosscheckResult(diffs, len(eng.equity), len(eng.trades), len(eng.orders),
                            tolerance, t1 - t0, t2 - t1, eng, ref)


# ---------------------------------------------------------------- report
def _fmt(v) -> str:
    """Cents for money-like floats (float noise and -0 folded away), more digits otherwise."""
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "NaN"
        if abs(v * 100.0 - round(v * 100.0)) < 1e-6:
            return f"{round(v, 2) + 0.0:.2f}"
        return f"{v:.6f}".rstrip("0")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def format_table(differences, *, max_rows: int = MAX_ROWS) -> str:
    """The first ``max_rows`` differences as an aligned text table (no trailing spaces)."""
    head = ("ledger", "date", "code", "side", "field", "engine", "backtrader")
    rows = [(d.ledger, d.date, d.code, d.side, d.field, _fmt(d.engine), _fmt(d.reference))
            for d in differences[:max_rows]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    if len(differences) > max_rows:
        out.append(f"... and {len(differences) - max_rows} more")
    return "\n".join(out)


def verdict(result: CrosscheckResult) -> str:
    """One line: agree or differ, with what was compared."""
    what = (f"{result.trades} trades, {result.orders} orders, {result.sessions} sessions")
    if result.ok:
        return (f"crosscheck OK: engine and backtrader agree on {what} "
                f"(within {result.tolerance:g} CNY)")
    first = result.differences[0]
    return (f"crosscheck FAILED: {len(result.differences)} difference(s) over {what}; "
            f"first in {first.ledger} on {first.date}")


def format_report(result: CrosscheckResult, *, max_rows: int = MAX_ROWS) -> str:
    """Difference table (when any) followed by the verdict line."""
    parts = []
    if not result.ok:
        parts.append(format_table(result.differences, max_rows=max_rows))
    parts.append(verdict(result))
    return "\n".join(parts)


# ---------------------------------------------------------------- grids
def grid_verdict(results, tolerance: float = TOLERANCE) -> str:
    """One line over ``[(set_number, params, CrosscheckResult), ...]``."""
    bad = [n for n, _p, r in results if not r.ok]
    trades = sum(r.trades for _n, _p, r in results)
    orders = sum(r.orders for _n, _p, r in results)
    if not bad:
        return (f"crosscheck OK: {len(results)} parameter set(s); engine and backtrader agree "
                f"on {trades} trades and {orders} orders in all (within {tolerance:g} CNY)")
    return (f"crosscheck FAILED: {len(bad)} of {len(results)} parameter set(s) differ "
            f"(first: set {bad[0]})")


def format_grid_report(results, *, max_rows: int = MAX_ROWS,
                       tolerance: float = TOLERANCE) -> str:
    """For each differing set (the first ``max_rows`` differences in all): a header naming the
    set and its swept values, then its difference table; last, the verdict line."""
    parts, left = [], max_rows
    for number, params, res in results:
        if res.ok or left <= 0:
            continue
        swept = ", ".join(f"{k}={v!r}" for k, v in params.items())
        parts.append(f"set {number} ({swept}): {len(res.differences)} difference(s)")
        parts.append(format_table(res.differences, max_rows=left))
        left -= min(left, len(res.differences))
    parts.append(grid_verdict(results, tolerance))
    return "\n".join(parts)
