"""Each trade, drawn: a small chart per round trip for the tearsheet.

The run folder carries ``trade_bars.csv`` (:func:`trade_bars_csv`): the bars and limit prices
of every traded stock from :data:`BEFORE` sessions before each round trip's entry to
:data:`AFTER` sessions after its exit. :func:`section_html` draws, per round trip, OHLC bars
(red up, green down, the A-share convention), the limit-up and limit-down prices (dashed), the
entry (▲) and exit (▼) fills, the rejected orders of that stock in the window (×, the reason
in the tooltip and the caption) and the article that caused the entry (the latest signal of the
stock on or before the entry). The section starts with an index of codes linking to each chart
(search the page for a code or name). Inline SVG, no script; at most :data:`MAX_CHARTS` charts
(the first round trips in time), the page says how many were left out.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
from numba import njit

from backtests.core.csv_text import csv_join, day_cells, fixed_cells

TRADE_BARS_FILE = "trade_bars.csv"
BEFORE, AFTER = 5, 5
MAX_CHARTS = 200
BAR_FIELDS = ("open", "high", "low", "close", "limit_up", "limit_down")
BAR_COLUMNS = ("code", "date") + BAR_FIELDS


def round_trips(trades: pd.DataFrame) -> pd.DataFrame:
    """Round trips from fills (``date, code, side, shares, price``): per stock, from a buy that
    opens a position to the sell that closes it (``exit_date`` empty while still open).
    Columns ``code, entry_date, entry_price, exit_date, exit_price`` (first buy's and last
    sell's prices), in order of entry. A sell with no open trip is ignored."""
    cols = ["code", "entry_date", "entry_price", "exit_date", "exit_price"]
    if trades is None or trades.empty:
        return pd.DataFrame(columns=cols)
    day = pd.to_datetime(trades["date"]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    code_idx, code_vals = pd.factorize(trades["code"].astype(str).to_numpy(dtype=object),
                                       sort=True)
    side = trades["side"].astype(str).str.lower().to_numpy(dtype=object)
    # fills per stock in date order (stable: execution order within a day)
    order = np.lexsort((np.arange(len(day)), day.astype(str), code_idx))
    start, stop = _trips_nb(code_idx[order].astype(np.int64), (side[order] == "buy"),
                            trades["shares"].to_numpy(dtype=np.float64)[order])
    price = trades["price"].to_numpy(dtype=np.float64)[order]
    d = day[order]
    has_exit = stop >= 0
    out = pd.DataFrame({
        "code": code_vals[code_idx[order][start]].astype(object),
        "entry_date": d[start], "entry_price": price[start],
        "exit_date": np.where(has_exit, d[np.maximum(stop, 0)], ""),
        "exit_price": np.where(has_exit, price[np.maximum(stop, 0)], math.nan),
    }, columns=cols)
    return out.sort_values(["entry_date", "code"], kind="stable").reset_index(drop=True)


@njit(cache=True)
def _trips_nb(code, is_buy, shares):
    """Rows (into fills sorted by stock, then time) opening and closing each round trip: a buy
    when the stock is flat opens one, the sell that brings the position to zero or below
    closes it (-1: still open at the end)."""
    n = code.shape[0]
    start = np.empty(n, np.int64)
    stop = np.empty(n, np.int64)
    k = 0
    cur = -1
    pos = 0.0
    for i in range(n):
        if i > 0 and code[i] != code[i - 1]:
            if cur >= 0:
                start[k] = cur
                stop[k] = -1
                k += 1
            cur = -1
            pos = 0.0
        if is_buy[i]:
            if pos <= 0.0:
                cur = i
            pos += shares[i]
        elif cur >= 0:
            pos -= shares[i]
            if pos <= 0.0:
                start[k] = cur
                stop[k] = i
                k += 1
                cur = -1
    if cur >= 0:
        start[k] = cur
        stop[k] = -1
        k += 1
    return start[:k], stop[:k]


def trade_bars_csv(market, trades: pd.DataFrame) -> str:
    """``trade_bars.csv``: :data:`BAR_COLUMNS` for the sessions around the round trips of
    ``trades`` that the tearsheet draws (the first :data:`MAX_CHARTS`; prices with 2
    decimals, empty = no bar / no limit)."""
    trips = round_trips(trades).iloc[:MAX_CHARTS]
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    codes = np.asarray(market.codes).astype(str)
    wanted: dict[int, set[int]] = {}
    for r in trips.itertuples(index=False):
        j = int(np.searchsorted(codes, r.code))
        if j >= len(codes) or codes[j] != r.code:
            continue
        a = int(np.searchsorted(sessions, np.datetime64(r.entry_date)))
        b = (int(np.searchsorted(sessions, np.datetime64(r.exit_date))) if r.exit_date
             else len(sessions) - 1)
        wanted.setdefault(j, set()).update(range(max(0, a - BEFORE),
                                                 min(len(sessions), b + AFTER + 1)))
    rows = [(j, t) for j in sorted(wanted, key=lambda k: codes[k]) for t in sorted(wanted[j])]
    jj = np.array([j for j, _t in rows], dtype=np.int64)
    tt = np.array([t for _j, t in rows], dtype=np.int64)
    prices = [fixed_cells(np.asarray(getattr(market, k))[tt, jj], 2) for k in BAR_FIELDS]
    return csv_join(BAR_COLUMNS, [codes[jj].tolist(), day_cells(sessions[tt])] + prices)


def _e(value) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and math.isnan(value))
                       else str(value), quote=True)


def _chart(bars: dict[str, np.ndarray], trip, orders: pd.DataFrame) -> str:
    """One trip's SVG; ``bars``: the window's ``date`` texts and :data:`BAR_FIELDS` arrays."""
    w, h, ml, mr, mt, mb = 520, 170, 48, 10, 8, 22
    n = len(bars["date"])
    prices = np.column_stack([bars[k] for k in ("high", "low", "limit_up", "limit_down")])
    fin = prices[np.isfinite(prices)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    step = (w - ml - mr) / max(n, 1)
    x = lambda i: ml + step * (i + 0.5)                      # noqa: E731
    y = lambda v: mt + (h - mt - mb) * (hi - v) / (hi - lo)  # noqa: E731
    dates = list(bars["date"])
    pos = {d: i for i, d in enumerate(dates)}
    out = [f'<svg width="{w}" height="{h}" role="img" '
           f'aria-label="{_e(trip.code)} {_e(trip.entry_date)}">',
           f'<rect x="{ml}" y="{mt}" width="{w - ml - mr}" height="{h - mt - mb}" fill="none" '
           f'stroke="#ddd"/>']
    for v in (lo + pad, (lo + hi) / 2, hi - pad):
        out.append(f'<text x="{ml - 3}" y="{y(v) + 3:.1f}" text-anchor="end" '
                   f'font-size="9">{v:.2f}</text>')
    for col, color in (("limit_up", "#d62728"), ("limit_down", "#2ca02c")):
        pts = [(x(i), y(v)) for i, v in enumerate(bars[col].tolist()) if math.isfinite(v)]
        if len(pts) > 1:
            out.append('<polyline points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                       + f'" fill="none" stroke="{color}" stroke-dasharray="3 2" '
                       f'stroke-width="1"><title>{col}</title></polyline>')
    for i, (day, op, hi_, lo_, cl) in enumerate(zip(dates, *(bars[k].tolist() for k in (
            "open", "high", "low", "close")))):
        if not math.isfinite(cl):
            continue
        color = "#d62728" if cl >= op else "#2ca02c"
        out.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(hi_):.1f}" '
                   f'y2="{y(lo_):.1f}" stroke="{color}"/>'
                   f'<line x1="{x(i) - step * 0.3:.1f}" x2="{x(i):.1f}" y1="{y(op):.1f}" '
                   f'y2="{y(op):.1f}" stroke="{color}"/>'
                   f'<line x1="{x(i):.1f}" x2="{x(i) + step * 0.3:.1f}" y1="{y(cl):.1f}" '
                   f'y2="{y(cl):.1f}" stroke="{color}"><title>{_e(day)} O {op:.2f} '
                   f'H {hi_:.2f} L {lo_:.2f} C {cl:.2f}</title></line>')
    for d, p, glyph, label in ((trip.entry_date, trip.entry_price, "▲", "entry"),
                               (trip.exit_date, trip.exit_price, "▼", "exit")):
        if d in pos and np.isfinite(p):
            out.append(f'<text x="{x(pos[d]):.1f}" y="{y(p) + (12 if glyph == "▲" else -4):.1f}" '
                       f'text-anchor="middle" font-size="11" fill="#1f77b4">{glyph}'
                       f'<title>{label} {_e(d)} at {p:.2f}</title></text>')
    for r in orders.itertuples(index=False):
        if r.date in pos:
            p = float(r.price) if np.isfinite(float(r.price)) else (lo + hi) / 2
            out.append(f'<text x="{x(pos[r.date]):.1f}" y="{y(p) + 4:.1f}" text-anchor="middle" '
                       f'font-size="12" fill="#000">×<title>{_e(r.side)} rejected '
                       f'{_e(r.date)}: {_e(r.reason)}</title></text>')
    for i in sorted({0, n - 1, *[pos[d] for d in (trip.entry_date, trip.exit_date) if d in pos]}):
        out.append(f'<text x="{x(i):.1f}" y="{h - 6}" text-anchor="middle" font-size="9">'
                   f'{_e(dates[i][5:])}</text>')
    out.append("</svg>")
    return "".join(out)


def section_html(run_path, trades: pd.DataFrame, orders: pd.DataFrame,
                 signals: pd.DataFrame | None, names: dict[str, str]) -> str:
    """The tearsheet section "Each trade, drawn" (see the module docstring)."""
    head = '<h2 id="hypebt-trade-charts">Each trade, drawn</h2>'
    path = run_path / TRADE_BARS_FILE
    trips = round_trips(trades)
    if trips.empty:
        return head + '<p class="note">No round trips.</p>'
    if not path.exists():
        return head + f'<p class="note">No {TRADE_BARS_FILE} in this run folder.</p>'
    bars = pd.read_csv(path, dtype={"code": str, "date": str}).sort_values(
        ["code", "date"], kind="stable")
    codes = bars["code"].to_numpy(dtype=object)
    columns = {"date": bars["date"].to_numpy(dtype=object),
               **{k: bars[k].to_numpy(dtype=float) for k in BAR_FIELDS}}
    firsts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else []
    spans = dict(zip(codes[firsts].tolist(), zip(firsts, np.r_[firsts[1:], len(codes)])))
    rej = pd.DataFrame(columns=["date", "code", "side", "price", "reason"])
    if orders is not None and not orders.empty:
        o = orders.assign(date=pd.to_datetime(orders["date"]).dt.strftime("%Y-%m-%d"),
                          code=orders["code"].astype(str),
                          status=orders["status"].astype(str).str.lower())
        o = o[o["status"] != "filled"]
        rej = o.assign(price=pd.to_numeric(o["price"], errors="coerce"),
                       reason=o["reject_reason"].astype(str), side=o["side"].astype(str))
    sig = None
    if signals is not None and not signals.empty:
        sig = signals.assign(date=pd.to_datetime(signals["date"]).dt.strftime("%Y-%m-%d"),
                             code=signals["code"].astype(str))
    shown = trips.iloc[:MAX_CHARTS]
    # the drawn stocks' rejected orders and signals, grouped once (not filtered per chart)
    drawn = set(shown["code"])
    empty_rej = rej.iloc[:0]
    rej_of = dict(tuple(rej[rej["code"].isin(drawn)].groupby("code", sort=False)))
    sig_of = (dict(tuple(sig[sig["code"].isin(drawn)].groupby("code", sort=False)))
              if sig is not None else {})
    index = " · ".join(f'<a href="#trip-{i}">{_e(r.code)} {_e(names.get(r.code, ""))} '
                       f'{_e(r.entry_date)}</a>' for i, r in enumerate(shown.itertuples()))
    parts = [head, f'<p class="note">{len(trips)} round trips'
             + (f"; the first {MAX_CHARTS} are drawn" if len(trips) > MAX_CHARTS else "")
             + f'. ▲ entry, ▼ exit, × a rejected order (hover for the reason); dashed red/green: '
             f'limit-up/limit-down; {BEFORE} sessions before the entry to {AFTER} after the exit.'
             '</p>', f'<p class="note">{index}</p>']
    for i, trip in enumerate(shown.itertuples(index=False)):
        if trip.code not in spans:
            continue
        a, b = spans[trip.code]
        days = columns["date"][a:b]
        last = trip.exit_date or days[-1]
        lo_i = int(np.searchsorted(days, trip.entry_date))
        hi_i = int(np.searchsorted(days, last, side="right"))
        win = {k: v[a:b][max(0, lo_i - BEFORE):hi_i + AFTER] for k, v in columns.items()}
        r = rej_of.get(trip.code, empty_rej)
        r = r[r["date"].isin(set(win["date"]))]
        caption = [f"entry {trip.entry_date} at {trip.entry_price:.2f}",
                   f"exit {trip.exit_date} at {trip.exit_price:.2f}" if trip.exit_date
                   else "still open at the end"]
        if not r.empty:
            caption.append("rejected: " + ", ".join(f"{a} {s} {q}" for a, s, q in
                                                    zip(r["date"], r["side"], r["reason"])))
        article = ""
        if trip.code in sig_of:
            s = sig_of[trip.code]
            s = s[s["date"] <= trip.entry_date]
            if not s.empty and "title" in s.columns:
                article = str(s["title"].iloc[-1]) if s["title"].iloc[-1] == s["title"].iloc[-1] \
                    else ""
        parts.append(f'<div class="trip" id="trip-{i}"><h3>{_e(trip.code)} '
                     f'{_e(names.get(trip.code, ""))}</h3>'
                     + (f'<p class="note">article: {_e(article)}</p>' if article else "")
                     + _chart(win, trip, r) + f'<p class="note">{_e("; ".join(caption))}</p></div>')
    return "\n".join(parts)
