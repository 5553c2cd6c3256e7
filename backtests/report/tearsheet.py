"""HTML tearsheet of one run folder: hypebt's sections, and quantstats' report on request.

``write_tearsheet(run_dir)`` reads what ``hypebt backtest`` wrote into ``run_dir`` and writes
``run_dir/tearsheet.html``; ``hypebt report RUN_DIR`` calls it again to redraw the page (for
example with another benchmark).

What the page holds, top to bottom:

1. performance (:mod:`backtests.report.performance`): return statistics, cumulative return,
   drawdowns, daily and monthly returns of ``equity.csv``'s daily returns against a benchmark
   when there is one: ``benchmark=`` given by the caller (a CSV path or a ``pd.Series`` of
   daily returns), else ``run_dir/benchmark.csv`` when the run wrote one (the equal-weight
   index of the loaded market, see :func:`backtests.report.analyses.equal_weight_returns`),
   else none. Hand-written SVG: no quantstats, no matplotlib.
2. hypebt's sections: headline metrics (``metrics.json``); per-stock P&L (table and bar chart);
   trades; rejected orders by reason; positions that could not be sold (a sell rejected at a
   sealed limit-down or while suspended) and for how many sessions; the signal timeline
   (article title → session → filled, rejected and why, or no order); each trade drawn; the
   market's mood per session (:mod:`backtests.report.mood`: limit-ups, limit-downs, 连板高度,
   晋级率, the sessions the gate closed); the resolved config.
3. with ``quantstats=True`` (or ``[report] quantstats = true`` in the folder's config.toml):
   quantstats' HTML report (``quantstats.reports.html``) of the same returns and benchmark.

Input files (``docs/tearsheet.md`` has the full description):

- ``equity.csv`` ``date,cash,market_value,equity`` (required)
- ``trades.csv`` ``date,code,side,shares,price,value,commission,stamp_duty,transfer_fee,reason``
- ``orders.csv`` ``date,code,side,shares,price,status,reject_reason``
- ``metrics.json``, ``config.toml`` (optional, shown when present)
- ``signals.csv`` ``date,code`` plus optional ``score,name,title,article_id,published,role``
  (optional; without it the marks file named in ``config.toml`` gives a timeline without titles)
- ``benchmark.csv`` ``date,return`` (daily simple returns) or ``date,close`` (index levels)
- ``mood.csv`` ``date,limit_ups,limit_downs,height,promotion_1,promotion_2plus,gate``

Guarantees: one self-contained file (no external fetch: quantstats' favicon, link and the SVG
namespace/metadata URLs are removed, so the page contains no ``http`` at all unless the user's
own texts do); every text from the inputs is HTML-escaped; Chinese names render (chart text
stays SVG text, drawn by the browser with the reader's fonts; the page asks for CJK fonts); the
bytes are identical for identical inputs. Long tables stop at :data:`TABLE_ROWS` rows and link
the full CSV of the run folder (``trades.csv``, ``orders.csv``, ``signals.csv``), the only links
that leave the page, to files beside it; so the page's size grows with the number of trades
only up to that.
quantstats' own warnings and matplotlib's font messages are captured, not printed.
"""
from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from backtests.core.errors import DataError, reading
from backtests.core.io import write_text_atomic
from backtests.core.progress import step
from backtests.report.analyses import daily_returns, marks_did, with_credits
from backtests.report.charts import quantstats_html
from backtests.report.mood import section_html as mood_section
from backtests.report.performance import pnl_chart
from backtests.report.performance import section_html as performance_section
from backtests.report.run_folder import BENCHMARK_FILE, RunFolder, load_run
from backtests.report.trade_charts import section_html as trade_charts_section
from backtests.study.nb import FILL_NAMES
from backtests.study.outputs import MARKS_STUDY_FILE

TEARSHEET = "tearsheet.html"
#: Long tables (trades, refused orders, signals, per-stock P&L) show at most this many rows; the
#: note under the heading says how many there are and links the full CSV beside the page, so
#: the page grows with the number of trades only up to this cap.
TABLE_ROWS = 500
#: The run-folder files a long table may link to (relative links to files beside the page).
LINKED_FILES = ("trades.csv", "orders.csv", "signals.csv")

# Reason names (docs/interfaces.md, "Records") -> what a reader of the page should understand.
REASON_TEXT = {
    "limit_up_sealed": "sealed at limit-up (涨停封板): the buy queue was not filled",
    "limit_down_sealed": "sealed at limit-down (跌停封板): the sell queue was not filled",
    "t_plus_1": "T+1: shares bought this session cannot be sold",
    "suspended": "suspended (停牌): no bar that session",
    "insufficient_cash": "not enough cash for one lot plus fees",
    "below_min_lot": "target value below the minimum lot",
    "volume_cap": "volume cap left less than one lot",
    "max_positions": "max_positions already held",
    "not_touched": "limit order: the price never touched limit-up",
    "no_limit": "no price limit that session (new listing)",
}
# Sell rejections that keep a position stuck ("could not be sold").
STUCK_REASONS = ("limit_down_sealed", "suspended", "t_plus_1")

# ---------------------------------------------------------------- run folder


# ---------------------------------------------------------------- analyses (pure pandas)


def _norm_side(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.lower()
    return text.replace({"1": "buy", "+1": "buy", "-1": "sell", "b": "buy", "s": "sell"})


def _norm_status(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.lower()
    return text.replace({"0": "filled", "1": "rejected", "2": "expired"})


def _reason(series: pd.Series) -> pd.Series:
    s = series.astype(object)
    return s.where(s.notna(), "").astype(str).astype(object).str.strip()


def _normalised(orders: pd.DataFrame) -> pd.DataFrame:
    """``orders`` with ``side`` buy/sell, ``status`` filled/rejected/expired (codes accepted)
    and a stripped text ``reason`` from ``reject_reason``."""
    return orders.assign(side=_norm_side(orders["side"]), status=_norm_status(orders["status"]),
                         reason=_reason(orders["reject_reason"]))


def per_stock_pnl(trades: pd.DataFrame) -> pd.DataFrame:
    """Realised P&L per stock from the fills (average cost, fees included), plus open shares.

    Columns: ``code, buys, sells, bought, sold, fees, realized, open_shares, open_cost``;
    ``realized`` = proceeds of sells net of their fees − average cost (incl. buy fees) of the
    shares sold. Open positions keep their cost in ``open_cost`` (their value is in equity.csv).
    """
    cols = ["code", "buys", "sells", "bought", "sold", "fees", "realized", "open_shares",
            "open_cost"]
    if trades.empty:
        return pd.DataFrame(columns=cols)
    t = trades.sort_values(["date"], kind="stable")
    code_idx, codes = pd.factorize(t["code"].to_numpy(dtype=object), sort=True)
    fee = t[["commission", "stamp_duty", "transfer_fee"]].astype(float).sum(axis=1)
    buys, sells, bought, sold, fees, realized, shares, cost = _avg_cost_nb(
        code_idx.astype(np.int64), (_norm_side(t["side"]) == "buy").to_numpy(),
        t["shares"].to_numpy(dtype=float), t["value"].to_numpy(dtype=float),
        fee.to_numpy(dtype=float), len(codes))
    return pd.DataFrame({"code": codes, "buys": buys, "sells": sells, "bought": bought,
                         "sold": sold, "fees": fees, "realized": realized, "open_shares": shares,
                         "open_cost": np.where(shares > 0, cost, 0.0)}, columns=cols)


@njit(cache=True)
def _avg_cost_nb(code_idx, is_buy, n, value, fee, n_codes):
    """Per-stock average-cost accounting of fills in execution order (see per_stock_pnl)."""
    buys = np.zeros(n_codes, np.int64)
    sells = np.zeros(n_codes, np.int64)
    bought = np.zeros(n_codes)
    sold = np.zeros(n_codes)
    fees = np.zeros(n_codes)
    realized = np.zeros(n_codes)
    shares = np.zeros(n_codes)
    cost = np.zeros(n_codes)
    for i in range(code_idx.shape[0]):
        j = code_idx[i]
        fees[j] += fee[i]
        if is_buy[i]:
            buys[j] += 1
            bought[j] += value[i]
            shares[j] += n[i]
            cost[j] += value[i] + fee[i]
        else:
            sells[j] += 1
            sold[j] += value[i]
            avg = cost[j] / shares[j] if shares[j] > 0 else 0.0
            take = min(n[i], shares[j])
            realized[j] += value[i] - fee[i] - avg * take
            cost[j] -= avg * take
            shares[j] -= take
    return buys, sells, bought, sold, fees, realized, shares, cost


def rejections_by_reason(orders: pd.DataFrame) -> pd.DataFrame:
    """Counts of rejected/expired orders per (side, reason), most frequent first."""
    if orders.empty:
        return pd.DataFrame(columns=["side", "reason", "orders", "stocks"])
    o = _normalised(orders)
    o = o[o["status"] != "filled"]
    if o.empty:
        return pd.DataFrame(columns=["side", "reason", "orders", "stocks"])
    g = o.groupby(["side", "reason"], sort=True).agg(orders=("code", "size"),
                                                      stocks=("code", "nunique")).reset_index()
    return g.sort_values(["orders", "side", "reason"], ascending=[False, True, True],
                         kind="stable").reset_index(drop=True)


def stuck_positions(orders: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Positions whose sell was refused (sealed limit-down, suspension, T+1), one row per episode.

    An episode starts at a stock's first refused sell and ends at its next filled sell (or the
    end of the run: ``sold`` empty). ``sessions_blocked`` counts trading sessions from the first
    refusal up to, not including, the session it was sold (the whole wait when never sold);
    ``refusals`` counts refused orders by reason, e.g. ``limit_down_sealed×3``.
    """
    cols = ["code", "shares", "first_blocked", "sold", "sold_price", "sessions_blocked",
            "refusals"]
    if orders.empty:
        return pd.DataFrame(columns=cols)
    o = _normalised(orders)
    o = o[o["side"] == "sell"].sort_values(["code", "date"], kind="stable")
    names = sorted(STUCK_REASONS)               # refusals are listed in name order
    status = o["status"].to_numpy(dtype=object)
    stuck = (status != "filled") & o["reason"].isin(names).to_numpy()
    kind = np.where(stuck, 1, np.where(status == "filled", 2, 0)).astype(np.int64)
    reason = np.searchsorted(np.array(names, dtype=object),
                             np.where(stuck, o["reason"].to_numpy(dtype=object), names[0]))
    code_id = pd.factorize(o["code"])[0].astype(np.int64)
    start, sold, counts = _episodes_nb(code_id, kind, reason.astype(np.int64), len(names))
    if len(start) == 0:
        return pd.DataFrame(columns=cols)
    dates = pd.DatetimeIndex(o["date"])
    at = np.maximum(sold, 0)
    sold_day = pd.Series(dates[at]).where(sold >= 0)
    first = sessions.get_indexer(dates[start])
    end = np.where(sold >= 0, sessions.get_indexer(dates[at]), len(sessions))
    blocked = np.maximum(np.where(end < 0, len(sessions), end) - np.maximum(first, 0), 1)
    refusals = np.full(len(start), "", dtype=object)
    for k, name in enumerate(names):              # "a×2, b×1": the reasons with a count
        part = np.where(counts[:, k] > 0, name + "×" + counts[:, k].astype(str).astype(object),
                        "")
        refusals = np.where((refusals != "") & (part != ""), refusals + ", " + part,
                            refusals + part)
    return pd.DataFrame({
        "code": o["code"].to_numpy(dtype=object)[start],
        "shares": o["shares"].to_numpy()[start].astype(np.int64),
        "first_blocked": dates[start], "sold": sold_day.to_numpy(),
        "sold_price": np.where(sold >= 0, o["price"].to_numpy(dtype=float)[at], np.nan),
        "sessions_blocked": blocked.astype(np.int64), "refusals": refusals}, columns=cols)


@njit(cache=True)
def _episodes_nb(code, kind, reason, n_reasons):
    """Episodes of refused sells in rows sorted by stock then date (``kind`` 1: a refusal
    that keeps the position, 2: a filled sell, 0: anything else): each starts at a stock's first
    such refusal and ends at its next filled sell (``sold`` row) or with the stock's rows
    (``sold`` -1); ``counts``: refusals per reason."""
    n = len(code)
    start = np.empty(n, np.int64)
    sold = np.empty(n, np.int64)
    counts = np.zeros((n, n_reasons), np.int64)
    e, first = 0, -1
    for i in range(n):
        if i > 0 and code[i] != code[i - 1] and first >= 0:
            start[e], sold[e] = first, -1
            e, first = e + 1, -1
        if kind[i] == 1:
            if first < 0:
                first = i
            counts[e, reason[i]] += 1
        elif kind[i] == 2 and first >= 0:
            start[e], sold[e] = first, i
            e, first = e + 1, -1
    if first >= 0:
        start[e], sold[e] = first, -1
        e += 1
    return start[:e], sold[:e], counts[:e]


def signal_timeline(signals: pd.DataFrame | None, orders: pd.DataFrame) -> pd.DataFrame:
    """One row per signal (session, stock): what became of it.

    ``outcome`` is ``filled`` (shares @ price), ``rejected`` / ``expired`` with the reason, or
    ``no order`` (the engine skipped the mark: already held, below a threshold, or outside the
    backtest window).
    """
    cols = ["published", "title", "date", "code", "role", "score", "outcome", "detail"]
    if signals is None or signals.empty:
        return pd.DataFrame(columns=cols)
    s = signals.copy()
    for c in ("published", "title", "score", "role"):
        if c not in s.columns:
            s[c] = ""
    buys = _normalised(orders)
    buys = buys[buys["side"] == "buy"]
    first = {}
    for date, code, status, reason, shares, price in zip(buys["date"], buys["code"],
                                                         buys["status"], buys["reason"],
                                                         buys["shares"], buys["price"]):
        first.setdefault((date, code), (status, reason, shares, price))
    outcomes, details = [], []
    for date, code in zip(s["date"], s["code"]):
        hit = first.get((date, code))
        if hit is None:
            outcomes.append("no order")
            details.append("skipped by the strategy (held, below threshold or outside window)")
            continue
        status, reason, shares, price = hit
        outcomes.append(status)
        if status == "filled":
            details.append(f"{int(float(shares)):,} @ {float(price):.2f}")
        else:
            details.append(f"{reason}: {REASON_TEXT.get(reason, reason)}")
    s["outcome"] = outcomes
    s["detail"] = details
    return s.sort_values(["date", "code"], kind="stable")[cols].reset_index(drop=True)


# ---------------------------------------------------------------- HTML helpers

_CSS = """
.hypebt{clear:both;max-width:960px;margin:auto;padding-top:10px}
.hypebt h2{font-size:20px;margin:30px 0 8px;font-weight:700;border-top:1px solid #ccc;padding-top:20px}
.hypebt p.note{color:#555;margin:4px 0 10px}
.hypebt table{margin:0 0 20px;font-size:12px}
.hypebt table td,.hypebt table th{text-align:right}
.hypebt table td.t,.hypebt table th.t{text-align:left}
.hypebt table td{white-space:nowrap !important}.hypebt table td.w{white-space:normal !important}
.hypebt .filled{color:#070}.hypebt .rejected{color:#b00}.hypebt .expired{color:#a60}
.hypebt pre{background:#f6f6f6;padding:10px;font-size:12px;overflow-x:auto}
.hypebt .scroll{max-height:520px;overflow-y:auto}
.hypebt .trip{display:inline-block;vertical-align:top;margin:4px 12px 4px 0;max-width:540px}
.hypebt p.nav{margin:6px 0 0}.hypebt p.nav a{color:#069;text-decoration:none}
body,p,table,td,th{font-family:Arial,"Noto Sans CJK SC","Noto Sans CJK JP","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",sans-serif}
"""


_NAV = ('<p class="nav">hypebt sections: <a href="#hypebt-performance">performance</a> · '
        '<a href="#hypebt-metrics">metrics</a> · '
        '<a href="#hypebt-pnl">per-stock P&amp;L</a> · <a href="#hypebt-trades">trades</a> · '
        '<a href="#hypebt-rejections">rejected orders</a> · '
        '<a href="#hypebt-stuck">could not sell</a> · '
        '<a href="#hypebt-signals">signal timeline</a> · '
        '<a href="#hypebt-marks">what the marks did</a> · '
        '<a href="#hypebt-trade-charts">each trade, drawn</a> · '
        '<a href="#hypebt-mood">market mood</a> · '
        '<a href="#hypebt-config">config</a></p>')


def _e(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else f"{value:%Y-%m-%d}"
    return html.escape(str(value), quote=True)


def _num(value, fmt: str = ",.2f") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return "" if math.isnan(v) else format(v, fmt)


def _table(headers: list[tuple[str, bool]], rows: list[list[str]], *, css: str = "",
           scroll: bool = False) -> str:
    """``headers``: (label, kind) with kind ``False`` (number, right-aligned), ``True`` (short
    text, one line) or ``"wrap"`` (long text). Cells are already escaped/formatted strings."""
    css_of = {False: "", True: ' class="t"', "wrap": ' class="t w"'}
    head = "".join(f"<th{css_of[t]}>{_e(h)}</th>" for h, t in headers)
    body = []
    for row in rows:
        cells = []
        for (_, kind), cell in zip(headers, row):
            cells.append(f"<td{css_of[kind]}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>'
             + "\n".join(body) + "</tbody></table>")
    return f'<div class="scroll">{table}</div>' if scroll else table


# ---------------------------------------------------------------- sections


# How metrics.json values read in the page: fractions as percentages, CNY with separators,
# ratios to two decimals, counts as integers (metrics.json itself keeps full precision).
_PERCENT_METRICS = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "fill_rate"}
_MONEY_METRICS = {"final_equity", "initial_cash"}


def _capped(frame: pd.DataFrame, what: str, csv_name: str, order: str
            ) -> tuple[pd.DataFrame, str]:
    """The first :data:`TABLE_ROWS` rows of ``frame`` and a note linking ``csv_name`` (the full
    list, a file beside the page) when there are more; ``(frame, "")`` otherwise."""
    if len(frame) <= TABLE_ROWS:
        return frame, ""
    return frame.head(TABLE_ROWS), (
        f'<p class="note">The first {TABLE_ROWS:,} of {len(frame):,} {_e(what)} ({_e(order)}); '
        f'all of them are in <a href="{_e(csv_name)}">{_e(csv_name)}</a> beside this page.</p>')


def _metric_format(key: str) -> str:
    if key in _PERCENT_METRICS:
        return ".2%"
    if key in _MONEY_METRICS or key.startswith("fees."):
        return ",.2f"
    if key in {"sharpe", "sortino", "profit_factor", "avg_holding_sessions"}:
        return ".2f"
    return ",.6g"


def _section_metrics(run: RunFolder) -> str:
    if not run.metrics:
        return '<h2 id="hypebt-metrics">Run metrics</h2><p class="note">No metrics.json.</p>'
    rows = []

    def add(key, value):
        if isinstance(value, dict):
            for k, v in value.items():
                add(f"{key}.{k}", v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append([_e(key), _num(value, _metric_format(key))])
        else:
            rows.append([_e(key), _e(value)])

    for k, v in run.metrics.items():
        add(k, v)
    return ('<h2 id="hypebt-metrics">Run metrics</h2>'
            + _table([("metric", True), ("value", False)], rows))


def _name(run: RunFolder, code: str) -> str:
    return _e(run.names.get(code, ""))


def _section_pnl(run: RunFolder) -> str:
    pnl = per_stock_pnl(with_credits(run.trades, run.credits))
    head = '<h2 id="hypebt-pnl">Per-stock P&amp;L</h2>'
    if pnl.empty:
        return head + '<p class="note">No fills.</p>'
    order = pnl.sort_values(["realized", "code"], ascending=[False, True], kind="stable")
    more = ""
    if len(order) > TABLE_ROWS:
        half = TABLE_ROWS // 2
        more = (f'<p class="note">{len(order):,} stocks: the {half} best and the {half} worst '
                f'are shown (the total row counts all); every fill is in '
                f'<a href="trades.csv">trades.csv</a>.</p>')
        order = pd.concat([order.head(half), order.tail(half)])
    rows = [[_e(r.code), _name(run, r.code), str(r.buys), str(r.sells), _num(r.bought),
             _num(r.sold), _num(r.fees), _num(r.realized), _num(r.open_shares, ",.0f"),
             _num(r.open_cost)] for r in order.itertuples()]
    rows.append(["<b>total</b>", "", str(int(pnl.buys.sum())), str(int(pnl.sells.sum())),
                 _num(pnl.bought.sum()), _num(pnl.sold.sum()), _num(pnl.fees.sum()),
                 f"<b>{_num(pnl.realized.sum())}</b>", _num(pnl.open_shares.sum(), ",.0f"),
                 _num(pnl.open_cost.sum())])
    note = ('<p class="note">Realised P&amp;L at average cost, all fees included. Positions still '
            'open at the end keep their cost in "open cost"; their value is in the equity curve.'
            '</p>')
    return (head + note + more + _pnl_bars(run, pnl)
            + _table([("code", True), ("name", True), ("buys", False), ("sells", False),
                      ("bought", False), ("sold", False), ("fees", False), ("realised", False),
                      ("open shares", False), ("open cost", False)], rows, scroll=True))


def _pnl_bars(run: RunFolder, pnl: pd.DataFrame) -> str:
    """The bar chart of the 20 largest realised P&Ls by size, largest on top."""
    top = pnl.reindex(pnl["realized"].abs().sort_values(ascending=False, kind="stable").index)
    top = top.head(20)
    labels = [f"{c} {run.names.get(c, '')}".strip() for c in top["code"]]
    return pnl_chart(labels, top["realized"].to_numpy(dtype=float))


def _section_trades(run: RunFolder) -> str:
    head = f'<h2 id="hypebt-trades">Trades ({len(run.trades)})</h2>'
    if run.trades.empty:
        return head + '<p class="note">No fills.</p>'
    t = run.trades.sort_values(["date"], kind="stable")
    t, note = _capped(t, "trades", "trades.csv", "in date order")
    t = t.assign(side=_norm_side(t["side"]))
    rows = [[_e(r.date), _e(r.code), _name(run, r.code), _e(r.side),
             _num(r.shares, ",.0f"), _num(r.price), _num(r.value), _num(r.commission),
             _num(r.stamp_duty), _num(r.transfer_fee), _e(r.reason)] for r in t.itertuples()]
    return head + note + _table([("date", True), ("code", True), ("name", True), ("side", True),
                          ("shares", False), ("price", False), ("value", False),
                          ("commission", False), ("stamp duty", False), ("transfer fee", False),
                          ("reason", True)], rows, scroll=True)


def _section_skipped(run: RunFolder) -> str:
    """Marks set aside by an entry filter or the sentiment gate (metrics.json ``skipped``;
    only runs that use one have it)."""
    skipped = run.metrics.get("skipped")
    if skipped is None:
        return ""
    head = '<h2 id="hypebt-skipped">Marks skipped by the filters and the gate</h2>'
    rows = [[_e(k), str(v)] for k, v in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
            if v]
    if not rows:
        return head + '<p class="note">No mark was skipped.</p>'
    note = ('<p class="note">A skipped mark places no order: an entry filter or the sentiment '
            'gate (read at the previous session) set it aside. Reasons are in '
            'docs/strategies.md.</p>')
    return head + note + _table([("reason", True), ("marks", False)], rows)


def _section_rejections(run: RunFolder) -> str:
    head = '<h2 id="hypebt-rejections">Rejected orders by reason</h2>'
    rej = rejections_by_reason(run.orders)
    if rej.empty:
        return head + '<p class="note">No order was rejected.</p>'
    rows = [[_e(r.side), _e(r.reason), _e(REASON_TEXT.get(r.reason, "")), str(r.orders),
             str(r.stocks)] for r in rej.itertuples()]
    table = _table([("side", True), ("reason", True), ("meaning", "wrap"), ("orders", False),
                    ("stocks", False)], rows)
    o = _normalised(run.orders)
    o = o[o["status"] != "filled"].sort_values(["date", "code"], kind="stable")
    o, more = _capped(o, "refused orders", "orders.csv", "in date order")
    detail = [[_e(r.date), _e(r.code), _name(run, r.code), _e(r.side), _num(r.shares, ",.0f"),
               _num(r.price), f'<span class="{_e(r.status)}">{_e(r.status)}</span>',
               _e(r.reason)] for r in o.itertuples()]
    return (head + table + '<p class="note">Every refused order:</p>' + more
            + _table([("date", True), ("code", True), ("name", True), ("side", True),
                      ("shares", False), ("price", False), ("status", True), ("reason", True)],
                     detail, scroll=True))


def _section_stuck(run: RunFolder) -> str:
    head = '<h2 id="hypebt-stuck">Positions that could not be sold</h2>'
    sessions = pd.DatetimeIndex(run.equity["date"])
    stuck = stuck_positions(run.orders, sessions)
    if stuck.empty:
        return head + '<p class="note">Every sell was filled when first sent.</p>'
    stuck, more = _capped(stuck, "episodes", "orders.csv", "by code")
    rows = [[_e(r.code), _name(run, r.code), _num(r.shares, ",.0f"), _e(r.first_blocked),
             _e(r.sold) if r.sold is not None and not pd.isna(r.sold) else "still held at the end",
             _num(r.sold_price), str(r.sessions_blocked), _e(r.refusals)]
            for r in stuck.itertuples()]
    note = ('<p class="note">A sell refused at a sealed limit-down (一字跌停), during a suspension '
            'or by T+1 is sent again each session; "sessions blocked" counts the sessions from the '
            'first refusal to the sale.</p>')
    return head + note + more + _table([("code", True), ("name", True), ("shares", False),
                                 ("first blocked", True), ("sold", True), ("sold at", False),
                                 ("sessions blocked", False), ("refusals", "wrap")], rows)


def _section_signals(run: RunFolder) -> str:
    head = '<h2 id="hypebt-signals">Signal timeline</h2>'
    tl = signal_timeline(run.signals, run.orders)
    if tl.empty:
        return head + '<p class="note">No signals file in this run folder.</p>'
    tl, more = _capped(tl, "signals", "signals.csv", "in session order")
    rows = [[_e(_when(r.published)), _e(r.title), _e(r.date), _e(r.code), _name(run, r.code),
             _e(r.role), _num(r.score, ".3g") if r.score != "" else "",
             f'<span class="{_e(r.outcome.replace(" ", "-"))}">{_e(r.outcome)}</span>',
             _e(r.detail)] for r in tl.itertuples()]
    note = ('<p class="note">Article → first tradable session → what the order became. "no order": '
            'the strategy skipped the mark.</p>')
    return head + note + more + _table([("published", True), ("article", "wrap"), ("session", True),
                                 ("code", True), ("name", True), ("role", True),
                                 ("score", False), ("outcome", True), ("detail", "wrap")], rows,
                                scroll=True)




def _section_marks(run: RunFolder) -> str:
    head = '<h2 id="hypebt-marks">What the marks did</h2>'
    path = run.path / MARKS_STUDY_FILE
    if not path.exists():
        return head + f'<p class="note">No {MARKS_STUDY_FILE} in this run folder.</p>'
    frame = pd.read_csv(path, dtype={"date": str, "code": str, "fill": str, "traded": str})
    missing = [c for c in ("date", "code", "fill", "traded") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(missing)}; expected date,code,fill,"
                        f"traded,car_open_hK...,car_close_hK... (docs/config.md)")
    if frame.empty:
        return head + '<p class="note">The run had no marks.</p>'
    counts = frame["fill"].astype(str).value_counts()
    fills = ", ".join(f"{k} {int(counts.get(k, 0))}" for k in FILL_NAMES)
    did = marks_did(frame)
    hcols = [c for c in did.columns if c.startswith("h")]
    rows = [[_e(r["subset"]), _e(r["measure"]), str(int(r["n"]))]
            + ["" if not np.isfinite(r[c]) else f"{r[c] * 100:+.2f}%" for c in hcols]
            for _, r in did.iterrows()]
    note = ('<p class="note">Every mark the run used, traded or not: its fill state at the entry '
            f'open ({_e(fills)}) and the mean cumulative return against the equal-weight market '
            'to the close of sessions h after the mark — <i>car_open</i> from the entry open '
            '(fillable marks only), <i>car_close</i> from the previous close (every mark). '
            'Computed after the run from its market; never used by its decisions. '
            '<code>hypebt study CONFIG</code> gives the full study by group with intervals.</p>')
    return head + note + _table([("marks", True), ("measure", True), ("n", False)]
                                + [(c, False) for c in hcols], rows)


def _when(value) -> str:
    """``2024-12-16 02:58`` (the article's own clock) from an ISO timestamp; other text as is."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)}" if m else text


def _section_config(run: RunFolder) -> str:
    if not run.config_text:
        return '<h2 id="hypebt-config">Config</h2><p class="note">No config.toml.</p>'
    return f'<h2 id="hypebt-config">Config</h2><pre>{_e(run.config_text)}</pre>'


def _title(run: RunFolder) -> str:
    strat = run.config.get("strategy", {}).get("name", "") if run.config else ""
    return f"hypebt {strat}".strip()


def run_returns(run: RunFolder) -> pd.Series:
    """The daily returns of a run folder's equity, the first day against the config's cash."""
    cash = run.config.get("portfolio", {}).get("cash") if run.config else None
    return daily_returns(run.equity.set_index("date")["equity"].astype(float), cash
                         ).rename("Strategy")


def wants_quantstats(run: RunFolder) -> bool:
    """``[report] quantstats`` of the run folder's ``config.toml`` (default false)."""
    report = run.config.get("report", {}) if run.config else {}
    return report.get("quantstats", False) is True


def render_tearsheet(run_dir, *, benchmark=None, quantstats: bool | None = None) -> str:
    """The tearsheet of ``run_dir`` as an HTML string (see the module docstring);
    ``quantstats``: append quantstats' full report (``None``: as the folder's config says)."""
    with reading(run_dir, "run folder"):  # a file that is not UTF-8, unreadable, ...
        run = load_run(run_dir, benchmark=benchmark)
    returns = run_returns(run)
    bench = run.benchmark
    bench_name = ("the equal-weight index of the market (benchmark.csv)" if benchmark is None
                  else Path(benchmark).name if isinstance(benchmark, (str, Path))
                  else "the given benchmark")
    if bench is not None:
        if len(returns) and not bench.index.isin(returns.index).any():
            source = (Path(run_dir) / BENCHMARK_FILE if benchmark is None
                      else benchmark if isinstance(benchmark, (str, Path)) else "series")
            span = (f"{bench.index.min():%Y-%m-%d} .. {bench.index.max():%Y-%m-%d}"
                    if len(bench) else "no dates")
            raise DataError(f"benchmark {source}: covers {span}, no session of the run "
                            f"({returns.index.min():%Y-%m-%d} .. {returns.index.max():%Y-%m-%d})")
        bench = bench.reindex(returns.index).fillna(0.0)
    title = _title(run)
    style = body = qs_note = ""
    if wants_quantstats(run) if quantstats is None else quantstats:
        try:
            if len(returns) < 2:
                raise ValueError("needs at least two sessions")
            style, body = quantstats_html(returns, bench, title)
            body = f'<div class="hypebt"><h2 id="quantstats">quantstats report</h2></div>{body}'
        except Exception as exc:  # noqa: BLE001 - quantstats fails on degenerate series; say so
            style, body = "", ""
            qs_note = (f'<p class="note">quantstats could not draw its report for this run '
                       f'({_e(type(exc).__name__)}: {_e(exc)}).</p>')
    sections = "\n".join(s for s in (
        performance_section(returns, bench, bench_name),
        _section_metrics(run), _section_pnl(run), _section_trades(run), _section_skipped(run),
        _section_rejections(run), _section_stuck(run), _section_signals(run),
        _section_marks(run),
        trade_charts_section(run.path, run.trades, run.orders, run.signals, run.names),
        mood_section(run.path), _section_config(run)) if s)
    synthetic = (run.config.get("data", {}).get("path") == "demo") if run.config else False
    banner = ('<p class="note"><b>SYNTHETIC demo data</b>: the companies and prices are '
              'generated.</p>') if synthetic else ""
    nav = _NAV.replace("</p>", ' · <a href="#quantstats">quantstats report</a></p>') if body \
        else _NAV
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} tearsheet</title>\n"
        f"<style>{style}\n{_CSS}</style>\n</head>\n<body>\n"
        f'<div class="hypebt"><h1>{_e(title)} — tearsheet</h1>{banner}{qs_note}{nav}</div>\n'
        f'<div class="hypebt">\n{sections}\n</div>\n'
        + (f'<div class="quantstats">{body}</div>\n' if body else "")
        + "</body>\n</html>\n")


def write_tearsheet(run_dir, *, benchmark=None, quantstats: bool | None = None) -> Path:
    """Write ``run_dir/tearsheet.html`` (atomically) and return its path.

    ``benchmark``: ``None`` (use ``run_dir/benchmark.csv`` when present), a CSV path with
    ``date,return`` or ``date,close``, or a ``pd.Series`` of daily returns. ``quantstats``:
    append quantstats' full report (``None``: as ``[report] quantstats`` of the folder's
    ``config.toml`` says; default false).
    """
    with step(f"drawing {TEARSHEET}"):
        text = render_tearsheet(run_dir, benchmark=benchmark, quantstats=quantstats)
    target = Path(run_dir) / TEARSHEET
    write_text_atomic(target, text)
    return target
