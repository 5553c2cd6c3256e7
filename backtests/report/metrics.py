"""Performance metrics of one backtest: the numbers in ``metrics.json`` and the CLI summary.

:func:`compute_metrics` returns a flat dict (JSON-ready: floats, ints, ``None`` and a nested
``rejections`` / ``fees`` / ``undefined`` dict). Definitions:

Return statistics, computed by the numba kernel
:func:`backtests.engine.metrics_nb.returns_stats_nb` (quantstats' definitions, ``periods=252``,
``rf=0``; :func:`return_stats_quantstats` computes them with ``quantstats.stats`` and
``tests/test_metrics.py`` checks the two agree, so a run imports quantstats only to draw its
report) from the daily returns of the equity curve, the first return measured against the
starting cash (so fees and price moves of the first session count):

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
no losing round trip (or none at all), ``fill_rate`` with no order. Grids call the same numba
kernel per parameter set (:mod:`backtests.engine.metrics_nb`).
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd

from backtests.core.records import REJECT_REASONS, SKIP_REASONS
from backtests.engine.metrics_nb import PERIODS, RETURN_STATS, ZERO_VOL, returns_stats_nb
from backtests.report.analyses import daily_returns, with_credits
from strategies import filters_active

FEE_KINDS = ("commission", "stamp_duty", "transfer_fee")


def return_stats(equity: pd.Series, initial: float) -> tuple[dict, dict]:
    """``(stats, undefined)``: the :data:`~backtests.engine.metrics_nb.RETURN_STATS` of an equity curve
    (numba, :func:`~backtests.engine.metrics_nb.returns_stats_nb`) and the reason for each one that is
    undefined (value ``None``); the same numbers and reasons as :func:`return_stats_quantstats`."""
    values = np.ascontiguousarray(equity.to_numpy(dtype=float))
    n = len(values)
    if n == 0 or not initial > 0:
        return dict.fromkeys(RETURN_STATS), dict.fromkeys(RETURN_STATS, "empty equity curve")
    nb = returns_stats_nb(values, float(initial))
    stats = {key: (None if math.isnan(v) else float(v)) for key, v in zip(RETURN_STATS, nb)}
    undefined: dict = {}
    r = values / np.concatenate([[float(initial)], values[:-1]]) - 1.0
    if n < 2:
        for key in ("volatility", "sharpe"):
            undefined[key] = "fewer than two sessions"
    elif stats["sharpe"] is None and not float(r.std(ddof=1)) > ZERO_VOL * abs(float(r.mean())):
        undefined["sharpe"] = "zero volatility"
    if stats["sortino"] is None and not (r < 0).any():
        undefined["sortino"] = "no losing session"
    for key, value in stats.items():
        if value is None or not math.isfinite(value):
            stats[key] = None
            undefined.setdefault(key, "not finite")
    return stats, undefined


def return_stats_quantstats(equity: pd.Series, initial: float) -> tuple[dict, dict]:
    """:func:`return_stats` computed with ``quantstats.stats`` instead of numba: the reference
    the tests compare the numba numbers (and undefined reasons) with."""
    stats: dict = dict.fromkeys(RETURN_STATS)
    undefined: dict = {}
    n = len(equity)
    if n == 0 or not initial > 0:
        return stats, dict.fromkeys(RETURN_STATS, "empty equity curve")
    import quantstats as qs  # heavy (about 3 s with seaborn and scipy): the reference only

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
    matched chunk, in the order of the sells and, within a sell, of the buys it consumed:
    ``code, buy_date, sell_date, shares, cost, proceeds, pnl, holding_sessions`` (cost and
    proceeds include the fees of the matched shares, pro rata). Shares sold beyond the recorded
    buys (impossible from the engine) raise ``ValueError``.

    Vectorised: on one line per stock, buy ``k`` covers shares ``[B[k-1], B[k])`` and sell ``m``
    covers ``[S[m-1], S[m])`` (running totals); FIFO matching is the overlap of the two, so
    every chunk is one segment between consecutive interval ends (no loop over trades).
    """
    cols = ["code", "buy_date", "sell_date", "shares", "cost", "proceeds", "pnl",
            "holding_sessions"]
    if trades is None or len(trades) == 0:
        return pd.DataFrame(columns=cols)
    sess = np.asarray(sessions, dtype="datetime64[D]")
    n = len(trades)
    side = trades["side"].to_numpy()
    is_buy = np.array([_is_buy(v) for v in pd.unique(side)])[pd.factorize(side)[0]] \
        if n else np.zeros(0, bool)
    code_idx, code_vals = pd.factorize(trades["code"].to_numpy(dtype=object))
    shares = trades["shares"].to_numpy().astype(np.int64)
    value = trades["value"].to_numpy(dtype=float)
    fees = (trades["commission"].to_numpy(dtype=float) + trades["stamp_duty"].to_numpy(dtype=float)
            + trades["transfer_fee"].to_numpy(dtype=float))
    day = pd.to_datetime(trades["date"]).to_numpy().astype("datetime64[D]")

    # running shares bought / sold per stock, in execution order
    bought = np.where(is_buy, shares, 0)
    sold = np.where(is_buy, 0, shares)
    cum_b = pd.Series(bought).groupby(code_idx).cumsum().to_numpy()
    cum_s = pd.Series(sold).groupby(code_idx).cumsum().to_numpy()
    over = ~is_buy & (cum_s > cum_b)
    if over.any():
        i = int(np.argmax(over))
        raise ValueError(f"sell of {shares[i]} {code_vals[code_idx[i]]} on {day[i]} exceeds "
                         f"the shares bought")
    # one line for all stocks: stock j starts after every share bought by stocks < j
    total_b = np.bincount(code_idx, weights=bought, minlength=len(code_vals)).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(total_b)[:-1]])[code_idx]
    b = np.flatnonzero(is_buy)
    s = np.flatnonzero(~is_buy & (shares > 0))
    b_end, s_end = offset[b] + cum_b[b], offset[s] + cum_s[s]
    b_order, s_order = np.argsort(b_end, kind="stable"), np.argsort(s_end, kind="stable")
    b, b_end = b[b_order], b_end[b_order]
    s, s_end = s[s_order], s_end[s_order]
    points = np.unique(np.concatenate([b_end - shares[b], b_end, s_end - shares[s], s_end]))
    lo, hi = points[:-1], points[1:]
    k = np.searchsorted(b_end, lo, side="right")          # the buy covering [lo, hi)
    m = np.searchsorted(s_end, lo, side="right")          # the sell covering [lo, hi)
    inside = m < len(s)
    inside[inside] &= lo[inside] >= s_end[m[inside]] - shares[s[m[inside]]]
    k, m, lo, q = k[inside], m[inside], lo[inside], (hi - lo)[inside]
    bi, si = b[k], s[m]
    order = np.lexsort((lo, si))                          # by sell, then FIFO within it
    bi, si, q = bi[order], si[order], q[order]
    cost = (value[bi] + fees[bi]) * q / shares[bi]
    proceeds = (value[si] - fees[si]) * q / shares[si]
    held = np.searchsorted(sess, day[si]) - np.searchsorted(sess, day[bi])
    return pd.DataFrame({
        "code": code_vals[code_idx[si]], "buy_date": day[bi], "sell_date": day[si],
        "shares": q.astype(np.int64), "cost": cost, "proceeds": proceeds,
        "pnl": proceeds - cost, "holding_sessions": held.astype(np.int64)}, columns=cols)


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
                reasons=(), credits: pd.DataFrame | None = None) -> tuple[dict, dict]:
    """``(stats, undefined)``: round-trip, order and fee statistics (see the module doc);
    ``reasons`` lists every known rejection reason so that zeros are reported too;
    ``credits``: corporate actions the positions received (:func:`with_credits`)."""
    undefined: dict = {}
    rt = round_trips(with_credits(trades, credits), sessions)
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
    credits = getattr(result, "credits", None)
    tstats, tundef = trade_stats(result.trades, result.orders, result.market.sessions, reasons,
                                 credits)
    out = dict(stats)
    out.update(tstats)
    undefined.update(tundef)
    out["sessions"] = len(eq)
    out["start"] = str(pd.Timestamp(eq["date"].iloc[0]).date()) if len(eq) else None
    out["end"] = str(pd.Timestamp(eq["date"].iloc[-1]).date()) if len(eq) else None
    out["initial_cash"] = initial
    out["final_equity"] = float(eq["equity"].iloc[-1]) if len(eq) else initial
    out["undefined"] = dict(sorted(undefined.items()))
    if credits is not None and len(credits):
        # Present only for runs that held a position over an ex-date (docs/status.md).
        out["corporate_actions"] = {
            "credits": len(credits), "bonus_shares": int(credits["new_shares"].sum()),
            "dividends": float(credits["dividend"].sum()),
            "dividend_tax": float(result.trades["dividend_tax"].sum())}
    if filters_active(result.params):
        # Marks set aside by an entry filter or the sentiment gate (no order), by reason;
        # present only for runs that use one, so other runs keep their metrics.json.
        out["skipped"] = {name: int(result.stats.get(f"skipped_{name}", 0))
                          for code, name in sorted(SKIP_REASONS.items()) if code}
    return out


MONEY_KEYS = {"initial_cash", "final_equity", "commission", "stamp_duty", "transfer_fee", "total",
              "dividends", "dividend_tax"}


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
