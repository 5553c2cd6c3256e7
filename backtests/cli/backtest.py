"""``hypebt backtest CONFIG [--out DIR]``: run one config and write its run folder.

    hypebt backtest configs/demo.toml                 # -> runs/demo/
    hypebt backtest configs/real_doubao.toml --out /tmp/doubao
    hypebt backtest configs/real_doubao.toml --no-report   # no tearsheet.html (faster)

Writes ``DIR/config.toml equity.csv trades.csv orders.csv credits.csv metrics.json signals.csv
benchmark.csv study_marks.csv trade_bars.csv mood.csv tearsheet.html`` (``docs/config.md``)
and prints a short summary: period, marks, round trips, total return, Sharpe, max drawdown,
rejections by reason, fees, where the files are.
The default ``DIR`` is ``runs/<config file stem>`` under the current directory. ``--no-report``
(or ``[report] tearsheet = false`` in the config) skips ``tearsheet.html``; ``hypebt report DIR``
draws it later from the files. ``--quantstats`` (or ``[report] quantstats = true``) appends
quantstats' full report to the page.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from backtests.data.config import load_config
from backtests.engine.run import default_out_dir, prepare_run, run_config
from backtests.report.outputs import refuse_own_config, write_outputs
from backtests.report.run_folder import OUTPUT_FILES

HELP = "run one backtest config; write equity, trades, orders, metrics and a tearsheet"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="TOML run config (see docs/config.md)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="run folder to write (default: runs/<config stem>)")
    p.add_argument("--no-cache", action="store_true",
                   help="read and align the market files even when the market cache has them")
    p.add_argument("--no-report", action="store_true",
                   help="do not draw tearsheet.html (same as [report] tearsheet = false; "
                        "`hypebt report DIR` draws it later)")
    p.add_argument("--quantstats", action="store_true",
                   help="append quantstats' full report to tearsheet.html (same as [report] "
                        "quantstats = true; seconds slower)")


def _pct(x) -> str:
    return "n/a" if x is None else f"{x * 100:+.2f}%"


def _num(x, why: str | None = None) -> str:
    return f"n/a ({why})" if x is None else f"{x:.2f}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def summary_lines(m: dict, *, out: Path, marks: int, outside: int, synthetic: bool,
                  not_in_market: int = 0, tearsheet: bool = True) -> list[str]:
    """The printed summary of a run from its ``metrics.json`` dict."""
    und = m.get("undefined", {})
    rejected = {k: v for k, v in m["rejections"].items() if v}
    rej = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0])))
    fill = "n/a" if m["fill_rate"] is None else f"{m['fill_rate'] * 100:.1f}%"
    win = "" if m["win_rate"] is None else f", win rate {m['win_rate'] * 100:.1f}%"
    lines = []
    if synthetic:
        lines.append("SYNTHETIC demo market: invented companies and prices, not real data.")
    lines += [
        f"period        {m['start']} .. {m['end']} ({m['sessions']} sessions)",
        f"marks         {marks} used"
        + (f", {outside} outside the period (ignored)" if outside else "")
        + (f", {not_in_market} on stocks not in the market data (ignored)" if not_in_market else ""),
        f"trades        {_n(m['trades'], 'round trip')}{win}; {_n(m['filled_orders'], 'fill')} "
        f"of {_n(m['orders'], 'order')} (fill rate {fill}); "
        f"{_n(m['open_positions'], 'position')} open at the end",
        f"total return  {_pct(m['total_return'])} (final equity {m['final_equity']:,.2f} CNY)",
        f"Sharpe        {_num(m['sharpe'], und.get('sharpe'))}",
        f"max drawdown  {_pct(m['max_drawdown'])}",
        f"rejections    {rej or 'none'}",
    ]
    if "skipped" in m:                           # runs with entry filters or the gate
        skipped = sorted(((k, v) for k, v in m["skipped"].items() if v),
                         key=lambda kv: (-kv[1], kv[0]))
        lines.append("skipped marks " + (", ".join(f"{k} {v}" for k, v in skipped) or "none"))
    lines += [
        f"fees          {m['fees']['total']:,.2f} CNY",
        f"outputs       {out}/ ("
        + " ".join(f for f in OUTPUT_FILES if tearsheet or f != "tearsheet.html") + ")",
    ]
    return lines


def execute(cfg, out: Path, *, title: str, report: bool = True, cache: bool = True) -> list[str]:
    """Run ``cfg``, write ``out`` and return the summary lines (title first); the tearsheet
    is drawn when ``report`` and the config's ``[report] tearsheet`` both allow it."""

    market, marks = prepare_run(cfg, cache=cache)
    result = run_config(cfg, prepared=(market, marks))
    tearsheet = bool(report and cfg.report.tearsheet)
    write_outputs(result, cfg, out, marks=marks.frame, tearsheet=tearsheet)
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return [title] + ["  " + line for line in summary_lines(
        m, out=out, marks=len(marks.frame), outside=marks.outside_window,
        synthetic=bool(market.synthetic), not_in_market=marks.not_in_market,
        tearsheet=tearsheet)]


def run(args) -> int:
    cfg = load_config(args.config)
    if args.quantstats:
        cfg = replace(cfg, report=replace(cfg.report, quantstats=True))
    out = Path(args.out) if args.out else default_out_dir(cfg)
    refuse_own_config(cfg, out)  # before the run, not after it
    print("\n".join(execute(cfg, out, title=f"Backtest {args.config}",
                             report=not args.no_report, cache=not args.no_cache)))
    return 0
