"""Performance metrics of one backtest: the numbers in ``metrics.json`` and the CLI summary.

:func:`compute_metrics` returns a flat dict (JSON-ready: floats, ints, ``None`` and a nested
``rejections`` / ``fees`` / ``undefined`` dict). Definitions:

Return statistics, computed with quantstats (``quantstats.stats``; ``periods=252``, ``rf=0``) from
the daily returns of the equity curve, the first return measured against the starting cash
(so fees and price moves of the first session count):

- ``total_return``: compounded return over the run (``equity[-1] / cash - 1``).
- ``cagr``: ``(1 + total_return) ** (252 / sessions) - 1`` (trading sessions, not calendar days).
- ``volatility``: annualised standard deviation of daily returns (ddof 1).
- ``sharpe``: mean / std of daily returns × √252.
- ``sortino``: mean daily return / downside deviation × √252, downside deviation
  ``sqrt(sum(r²) over r < 0 / n)`` (Red Rock definition, as quantstats).
- ``max_drawdown``: largest fall from a running peak of the equity curve, starting cash
  included, as a negative fraction (0 when it never fell).

Trade statistics, from round trips: each sell is matched against the position's buys first in,
first out; a matched (buy, sell) chunk is one round trip, its P&L is the sell value minus the
buy value of those shares, all fees of both sides included (pro rata to the shares matched).
Positions still open at the end are not round trips (``open_positions`` counts them).

- ``trades``: number of round trips; ``win_rate``: share of round trips with P&L > 0;
  ``profit_factor``: sum of gains / sum of losses (absolute);
  ``avg_holding_sessions``: mean number of trading sessions from the buy session to the sell
  session (a buy sold the next session holds 1).
- ``orders``, ``filled_orders``, ``fill_rate`` (= filled / all orders, rejected and expired
  included); ``rejections``: count of non-filled orders by reason (every known reason listed,
  zeros included). A pending sell waiting out a sealed limit-down or a suspension is recorded
  (and counted) once per session it waits.
- ``fees``: ``commission``, ``stamp_duty``, ``transfer_fee`` and ``total`` paid on fills (CNY).
- ``final_equity``, ``sessions``, ``start``, ``end``.

Undefined values are ``null`` in JSON, never NaN, and ``undefined`` says why: ``sharpe`` with
zero volatility, ``sortino`` with no losing session, ``volatility``/``sharpe`` with fewer than
two sessions, ``win_rate``/``avg_holding_sessions`` with no round trip, ``profit_factor`` with
no losing round trip (or none at all), ``fill_rate`` with no order. The numba twin for grids is
:mod:`backtests.engine.metrics_nb` (same definitions, same nulls as NaN).
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd

from backtests.core.records import REJECT_REASONS, SKIP_REASONS
from backtests.engine.metrics_nb import PERIODS, RETURN_STATS, ZERO_VOL
from backtests.report.analyses import daily_returns
from strategies import filters_active

FEE_KINDS = ("commission", "stamp_duty", "transfer_fee")


def return_stats(equity: pd.Series, initial: float) -> tuple[dict, dict]:
    """``(stats, undefined)``: the :data:`~backtests.engine.metrics_nb.RETURN_STATS` of an equity curve
    computed with quantstats, and the reason for each one that is undefined (value ``None``)."""
    stats: dict = dict.fromkeys(RETURN_STATS)
    undefined: dict = {}
    n = len(equity)
    if n == 0 or not initial > 0:
        return stats, dict.fromkeys(RETURN_STATS, "empty equity curve")
    import quantstats as qs  # heavy: only when metrics are computed with quantstats

    r = daily_returns(equity, initial)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        stats["total_return"] = float(qs.stats.comp(r))
        stats["cagr"] = float(qs.stats.cagr(r, rf=0.0, periods=PERIODS))
        stats["max_drawdown"] = float(qs.stats.max_drawdown(r))
        if n < 2:
            for key in ("volatility", "sharpe"):
                undefined[key] = "fewer than two sessions"
        else:
            stats["volatility"] = float(qs.stats.volatility(r, periods=PERIODS))
            std, mean = float(r.std(ddof=1)), float(r.mean())
            if std > ZERO_VOL * abs(mean):
                stats["sharpe"] = float(qs.stats.sharpe(r, rf=0.0, periods=PERIODS))
            else:
                undefined["sharpe"] = "zero volatility"
        if (r < 0).any():
            stats["sortino"] = float(qs.stats.sortino(r, rf=0.0, periods=PERIODS))
        else:
            undefined["sortino"] = "no losing session"
    for key, value in stats.items():
        if value is not None and not math.isfinite(value):
            stats[key] = None
            undefined.setdefault(key, "not finite")
    return stats, undefined


def round_trips(trades: pd.DataFrame, sessions: np.ndarray) -> pd.DataFrame:
    """Match sells to buys first in, first out, per stock.

    ``trades`` are filled orders in execution order (columns ``date, code, side, shares, value,
    commission, stamp_duty, transfer_fee``; side ``buy``/``sell`` or +1/-1). Returns one row per
    matched chunk: ``code, buy_date, sell_date, shares, cost, proceeds, pnl, holding_sessions``
    (cost and proceeds include the fees of the matched shares). Shares sold beyond the recorded
    buys (impossible from the engine) raise ``ValueError``.
    """
    cols = ["code", "buy_date", "sell_date", "shares", "cost", "proceeds", "pnl",
            "holding_sessions"]
    if trades is None or len(trades) == 0:
        return pd.DataFrame(columns=cols)
    sess = np.asarray(sessions, dtype="datetime64[D]")
    lots: dict[str, list] = {}
    rows = []
    for t in trades.itertuples(index=False):
        day = np.datetime64(pd.Timestamp(t.date).date(), "D")
        shares = int(t.shares)
        fees = float(t.commission) + float(t.stamp_duty) + float(t.transfer_fee)
        if _is_buy(t.side):
            lots.setdefault(t.code, []).append([day, shares, float(t.value) + fees, shares])
            continue
        net = float(t.value) - fees
        left = shares
        queue = lots.get(t.code, [])
        while left > 0:
            if not queue:
                raise ValueError(f"sell of {shares} {t.code} on {day} exceeds the shares bought")
            lot = queue[0]
            q = min(left, lot[1])
            cost = lot[2] * q / lot[3]
            proceeds = net * q / shares
            held = int(np.searchsorted(sess, day) - np.searchsorted(sess, lot[0]))
            rows.append((t.code, lot[0], day, q, cost, proceeds, proceeds - cost, held))
            lot[1] -= q
            left -= q
            if lot[1] == 0:
                queue.pop(0)
    return pd.DataFrame(rows, columns=cols)


def _is_buy(side) -> bool:
    return side == "buy" if isinstance(side, str) else int(side) > 0


def _open_positions(trades: pd.DataFrame) -> int:
    if trades is None or len(trades) == 0:
        return 0
    sign = np.where([_is_buy(s) for s in trades["side"]], 1, -1)
    held = pd.Series(sign * trades["shares"].to_numpy(dtype="int64")).groupby(
        trades["code"].to_numpy()).sum()
    return int((held > 0).sum())


def trade_stats(trades: pd.DataFrame, orders: pd.DataFrame, sessions: np.ndarray,
                reasons=()) -> tuple[dict, dict]:
    """``(stats, undefined)``: round-trip, order and fee statistics (see the module doc);
    ``reasons`` lists every known rejection reason so that zeros are reported too."""
    undefined: dict = {}
    rt = round_trips(trades, sessions)
    n = len(rt)
    out: dict = {"trades": n, "open_positions": _open_positions(trades)}
    if n:
        out["win_rate"] = float((rt["pnl"] > 0).mean())
        out["avg_holding_sessions"] = float(rt["holding_sessions"].mean())
        gains = float(rt.loc[rt["pnl"] > 0, "pnl"].sum())
        losses = -float(rt.loc[rt["pnl"] < 0, "pnl"].sum())
        out["profit_factor"] = gains / losses if losses > 0 else None
        if losses <= 0:
            undefined["profit_factor"] = "no losing round trip"
    else:
        out.update(win_rate=None, avg_holding_sessions=None, profit_factor=None)
        for key in ("win_rate", "avg_holding_sessions", "profit_factor"):
            undefined[key] = "no round trip"
    n_orders = 0 if orders is None else len(orders)
    status = orders["status"] if n_orders else pd.Series([], dtype=object)
    filled = int((status.isin(["filled", 0])).sum()) if n_orders else 0
    out["orders"] = n_orders
    out["filled_orders"] = filled
    out["fill_rate"] = filled / n_orders if n_orders else None
    if not n_orders:
        undefined["fill_rate"] = "no order"
    counts = dict.fromkeys(reasons, 0)
    if n_orders:
        rejected = orders.loc[~status.isin(["filled", 0]), "reject_reason"]
        for reason, count in rejected.astype(str).value_counts().items():
            counts[reason] = int(count)
    out["rejections"] = dict(sorted(counts.items()))
    fees = {k: (float(trades[k].sum()) if trades is not None and len(trades) else 0.0)
            for k in FEE_KINDS}
    fees["total"] = sum(fees.values())
    out["fees"] = fees
    return out, undefined


def compute_metrics(result) -> dict:
    """All metrics of a :class:`backtests.engine.backtest.BacktestResult` as a JSON-ready dict."""
    reasons = tuple(name for code, name in sorted(REJECT_REASONS.items()) if code)
    eq = result.equity
    initial = float(result.params["cash"])
    equity = pd.Series(eq["equity"].to_numpy(dtype=float), index=pd.to_datetime(eq["date"]))
    stats, undefined = return_stats(equity, initial)
    tstats, tundef = trade_stats(result.trades, result.orders, result.market.sessions, reasons)
    out = dict(stats)
    out.update(tstats)
    undefined.update(tundef)
    out["sessions"] = len(eq)
    out["start"] = str(pd.Timestamp(eq["date"].iloc[0]).date()) if len(eq) else None
    out["end"] = str(pd.Timestamp(eq["date"].iloc[-1]).date()) if len(eq) else None
    out["initial_cash"] = initial
    out["final_equity"] = float(eq["equity"].iloc[-1]) if len(eq) else initial
    out["undefined"] = dict(sorted(undefined.items()))
    if filters_active(result.params):
        # Marks set aside by an entry filter or the sentiment gate (no order), by reason;
        # present only for runs that use one, so other runs keep their metrics.json.
        out["skipped"] = {name: int(result.stats.get(f"skipped_{name}", 0))
                          for code, name in sorted(SKIP_REASONS.items()) if code}
    return out


MONEY_KEYS = {"initial_cash", "final_equity", "commission", "stamp_duty", "transfer_fee", "total"}


def _rounded(obj, key=None):
    """Round for stable text: money to 0.01 CNY, other floats to 10 decimals; -0.0 -> 0.0."""
    if isinstance(obj, dict):
        return {k: _rounded(v, k) for k, v in obj.items()}
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return round(obj, 2 if key in MONEY_KEYS else 10) + 0.0
    return obj


def metrics_json(metrics: dict) -> str:
    """The text of ``metrics.json``: sorted keys, 2-space indent, rounded floats, no NaN."""
    return json.dumps(_rounded(metrics), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"
