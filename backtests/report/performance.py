"""The tearsheet's performance section: return statistics, cumulative return, drawdowns, daily
returns and monthly returns of a run against its benchmark, drawn without quantstats.

Inputs are daily simple returns indexed by session (:func:`backtests.report.analyses.daily_returns`:
the first session against the starting cash) and, optionally, the benchmark's daily returns on
the same sessions. Definitions (``docs/tearsheet.md``; quantstats' where it has one, with
``periods = 252`` and ``rf = 0``, and ``tests/test_performance.py`` checks them against
quantstats' own functions):

- total return, CAGR, volatility, Sharpe, Sortino and max drawdown: the numba statistics of
  ``metrics.json`` (:func:`backtests.report.metrics.return_stats`) of the compounded returns;
- Calmar: CAGR / |max drawdown|;
- best and worst session: the largest and smallest daily return;
- winning sessions: sessions with a gain / sessions with a non-zero return (quantstats'
  ``win_rate``);
- beta and correlation: of the run's daily returns on the benchmark's (ddof 1);
- drawdown: ``wealth / running peak - 1``, the starting cash included in the peak; a drawdown
  period runs from the last peak to the first session back at it (``recovered``), or to the end
  of the run; its length counts the sessions under water;
- monthly and yearly returns: compounded daily returns within each calendar month / year.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backtests.report.metrics import return_stats
from backtests.report.svg import esc, hbar_chart, line_chart, spike_chart

STRATEGY_COLOR, BENCHMARK_COLOR = "#1f5fa8", "#999999"
GAIN, LOSS = "#2a9d4b", "#c0392b"      # the per-stock P&L chart's colours
WORST_DRAWDOWNS = 5
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def drawdown(returns: np.ndarray) -> np.ndarray:
    """``wealth / running peak - 1`` per session, the starting wealth 1 included in the peak."""
    wealth = np.cumprod(1.0 + np.asarray(returns, dtype=float))
    peak = np.maximum.accumulate(np.maximum(wealth, 1.0))
    return wealth / peak - 1.0


def drawdown_periods(returns: pd.Series) -> pd.DataFrame:
    """One row per drawdown period, deepest first (ties: earliest): ``peak`` (the session of
    the last high, NaT when it was the starting cash), ``valley``, ``recovered`` (the first
    session back at the peak, NaT when the run ended under water), ``depth`` (negative)
    and ``sessions`` under water."""
    dd = drawdown(returns.to_numpy(dtype=float))
    under = dd < 0
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [start, end)
    dates = returns.index
    rows = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        v = a + int(np.argmin(dd[a:b]))
        rows.append({"peak": dates[a - 1] if a > 0 else None, "valley": dates[v],
                     "recovered": dates[b] if b < len(dd) else None,
                     "depth": float(dd[v]), "sessions": b - a})
    frame = pd.DataFrame(rows, columns=["peak", "valley", "recovered", "depth", "sessions"])
    return frame.sort_values("depth", kind="stable").reset_index(drop=True)


def period_returns(returns: pd.Series, freq: str) -> pd.Series:
    """Compounded returns per calendar month (``freq="M"``, index ``(year, month)``) or year
    (``"Y"``, index year)."""
    idx = pd.DatetimeIndex(returns.index)
    keys = [idx.year, idx.month] if freq == "M" else [idx.year]
    return (1.0 + returns).groupby(keys).prod() - 1.0


def summary(returns: pd.Series, bench: pd.Series | None = None) -> dict:
    """The statistics of the section's table for one return series (see the module doc); a
    value is ``None`` where undefined. ``bench`` adds ``beta`` and ``correlation``."""
    r = returns.to_numpy(dtype=float)
    stats, _why = return_stats(pd.Series(np.cumprod(1.0 + r)), 1.0)
    out = dict(stats)
    mdd, cagr = stats["max_drawdown"], stats["cagr"]
    out["calmar"] = cagr / abs(mdd) if cagr is not None and mdd else None
    out["best_session"] = float(r.max()) if len(r) else None
    out["worst_session"] = float(r.min()) if len(r) else None
    moved = int((r != 0).sum())
    out["winning_sessions"] = float((r > 0).sum()) / moved if moved else None
    periods = drawdown_periods(returns)
    out["longest_drawdown"] = int(periods["sessions"].max()) if len(periods) else 0
    out["sessions"] = len(r)
    if bench is not None:
        b = bench.to_numpy(dtype=float)
        var = float(np.var(b, ddof=1)) if len(b) > 1 else 0.0
        sd = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
        cov = float(np.cov(r, b, ddof=1)[0, 1]) if len(r) > 1 else 0.0
        out["beta"] = cov / var if var > 0 else None
        out["correlation"] = cov / math.sqrt(var) / sd if var > 0 and sd > 0 else None
    return out


# (key, label, format) of the statistics table, in order.
ROWS = (("total_return", "Total return", ".2%"), ("cagr", "CAGR (252 sessions a year)", ".2%"),
        ("volatility", "Volatility (annualised)", ".2%"), ("sharpe", "Sharpe", ".2f"),
        ("sortino", "Sortino", ".2f"), ("max_drawdown", "Max drawdown", ".2%"),
        ("calmar", "Calmar", ".2f"), ("longest_drawdown", "Longest drawdown (sessions)", ",d"),
        ("best_session", "Best session", ".2%"), ("worst_session", "Worst session", ".2%"),
        ("winning_sessions", "Winning sessions", ".2%"), ("beta", "Beta to the benchmark", ".2f"),
        ("correlation", "Correlation with the benchmark", ".2f"), ("sessions", "Sessions", ",d"))


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _pct(digits: int = 1):
    return lambda v: f"{v * 100:.{digits}f}%"


def _stats_table(ours: dict, theirs: dict | None) -> str:
    head = "<tr><th class=\"t\">statistic</th><th>strategy</th>" + (
        "<th>benchmark</th>" if theirs is not None else "") + "</tr>"
    rows = []
    for key, label, spec in ROWS:
        if key not in ours:
            continue
        cells = f'<td class="t">{esc(label)}</td><td>{_fmt(ours[key], spec)}</td>'
        if theirs is not None:
            cells += f"<td>{_fmt(theirs.get(key), spec)}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: float, scale: float) -> str:
    if not math.isfinite(value):
        return "<td></td>"
    alpha = 0.1 + 0.65 * min(1.0, abs(value) / scale) if scale > 0 else 0.1
    rgb = "42,157,75" if value >= 0 else "192,57,43"
    return f'<td style="background:rgba({rgb},{alpha:.2f})">{value * 100:.1f}%</td>'


def _monthly_table(returns: pd.Series, bench: pd.Series | None) -> str:
    monthly = period_returns(returns, "M")
    yearly = period_returns(returns, "Y")
    byear = period_returns(bench, "Y") if bench is not None else None
    scale = float(monthly.abs().max()) if len(monthly) else 0.0
    yscale = float(yearly.abs().max()) if len(yearly) else 0.0
    head = ('<tr><th class="t">year</th>' + "".join(f"<th>{m}</th>" for m in MONTHS)
            + "<th>year</th>" + ("<th>benchmark</th>" if byear is not None else "") + "</tr>")
    values = dict(zip(monthly.index.tolist(), monthly.to_numpy(dtype=float).tolist()))
    rows = []
    for year, total in zip(yearly.index.tolist(), yearly.to_numpy(dtype=float).tolist()):
        cells = "".join(_cell(values.get((year, m), math.nan), scale) for m in range(1, 13))
        cells += _cell(total, yscale)
        if byear is not None:
            cells += _cell(float(byear.get(year, math.nan)), yscale)
        rows.append(f'<tr><td class="t">{year}</td>{cells}</tr>')
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _when(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value:%Y-%m-%d}"


def _drawdown_table(periods: pd.DataFrame) -> str:
    head = ('<tr><th class="t">peak</th><th class="t">valley</th><th class="t">recovered</th>'
            "<th>depth</th><th>sessions</th></tr>")
    rows = []
    for p in periods.head(WORST_DRAWDOWNS).itertuples():
        rows.append(f'<tr><td class="t">{_when(p.peak) or "start (cash)"}</td>'
                    f'<td class="t">{_when(p.valley)}</td>'
                    f'<td class="t">{_when(p.recovered) or "not recovered"}</td>'
                    f"<td>{p.depth:.2%}</td><td>{p.sessions:,d}</td></tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def section_html(returns: pd.Series, bench: pd.Series | None, bench_name: str = "") -> str:
    """The "Performance" section of the tearsheet for daily ``returns`` and the ``bench``
    daily returns on the same sessions (``None``: no benchmark)."""
    head = '<h2 id="hypebt-performance">Performance 绩效</h2>'
    if len(returns) == 0:
        return head + '<p class="note">No sessions.</p>'
    against = (f"against {esc(bench_name)} (the grey line)" if bench is not None
               else "without a benchmark")
    note = (f'<p class="note">Daily returns of equity.csv, the first session against the '
            f'starting cash, {against}. quantstats\' definitions (252 sessions a year, no '
            f'risk-free rate); docs/tearsheet.md has each one.</p>')
    ours = summary(returns, bench)
    theirs = summary(bench) if bench is not None else None
    dates = [f"{d:%Y-%m-%d}" for d in returns.index]
    r = returns.to_numpy(dtype=float)
    cum = [("strategy", np.cumprod(1.0 + r) - 1.0, STRATEGY_COLOR)]
    under = [("strategy", drawdown(r), STRATEGY_COLOR)]
    if bench is not None:
        b = bench.to_numpy(dtype=float)
        cum.append(("benchmark", np.cumprod(1.0 + b) - 1.0, BENCHMARK_COLOR))
        under.append(("benchmark", drawdown(b), BENCHMARK_COLOR))
    periods = drawdown_periods(returns)
    return "".join([
        head, note, _stats_table(ours, theirs),
        line_chart(dates, cum, title="Cumulative return 累计收益", fmt=_pct(0),
                   label="cumulative return"),
        line_chart(dates, under, title="Drawdown 回撤", fmt=_pct(0), fill=True, height=120,
                   label="drawdown"),
        spike_chart(dates, r, title="Daily returns 日收益", fmt=_pct(1), up=GAIN, down=LOSS,
                    label="daily returns"),
        "<h3>Monthly returns 月度收益</h3>", _monthly_table(returns, bench),
        f"<h3>Worst drawdowns (at most {WORST_DRAWDOWNS})</h3>",
        _drawdown_table(periods) if len(periods) else '<p class="note">The run never fell below '
        'its starting cash or a later peak.</p>'])


def pnl_chart(labels: list[str], realized: np.ndarray) -> str:
    """Horizontal bars of realised P&L per stock (labels ``code name``), in the order given."""
    return hbar_chart(labels, realized, title="Per-stock realised P&L 个股盈亏 (CNY)",
                      fmt=lambda v: f"{v:,.0f}", up=GAIN, down=LOSS, label="per-stock P&L")
