"""Tearsheet: the analyses on hand-built run folders (hand-computed values), the HTML page
(sections, escaping, self-contained, deterministic, quiet), ``hypebt report``, and the page
opened in headless Chromium (no console errors, sections in the DOM, a screenshot)."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.cli.main import main
from backtests.core.errors import DataError
from backtests.report import analyses, charts, run_folder
from backtests.report import tearsheet as ts

SECTION_IDS = ("hypebt-performance", "hypebt-metrics", "hypebt-pnl", "hypebt-trades", "hypebt-rejections",
               "hypebt-stuck", "hypebt-signals", "hypebt-marks", "hypebt-trade-charts",
               "hypebt-mood", "hypebt-config")

EVIL_TITLE = '豆包概念股<script>alert(1)</script> 天娱数科“10天6板” & <b>x</b>'


def make_run(folder: Path, *, benchmark: bool = True, signals: bool = True) -> Path:
    """A small run folder written by hand: 2 round trips, a sealed buy, a sell stuck two
    sessions at a sealed limit-down, four signals (one with markup in its title)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(
        '[data]\npath = "panel.csv"\nnames = ["names.csv"]\n\n[signals]\nmarks = "marks.csv"\n\n'
        '[strategy]\nname = "theme_hype"\nentry = "open"\n\n[portfolio]\ncash = 1000000.0\n',
        encoding="utf-8")
    (folder / "names.csv").write_text(
        "code,name\n002354,天娱数科\n000785,居然智家\n301382,蜂助手\n600000,浦发银行\n",
        encoding="utf-8")
    days = pd.bdate_range("2024-12-02", periods=30)
    eq = 1_000_000 * np.cumprod(1 + np.sin(np.arange(30)) / 100)
    lines = ["date,cash,market_value,equity"] + [
        f"{d:%Y-%m-%d},{e / 2:.2f},{e / 2:.2f},{e:.2f}" for d, e in zip(days, eq)]
    (folder / "equity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if benchmark:
        lines = ["date,return"] + [f"{d:%Y-%m-%d},{math.cos(i) / 200:.10f}"
                                   for i, d in enumerate(days)]
        (folder / "benchmark.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "trades.csv").write_text(
        "date,code,side,shares,price,value,commission,stamp_duty,transfer_fee,reason\n"
        "2024-12-03,002354,buy,10000,5.00,50000.00,12.50,0.00,0.50,entry\n"
        "2024-12-03,000785,buy,20000,3.00,60000.00,15.00,0.00,0.60,entry\n"
        "2024-12-05,002354,sell,10000,6.00,60000.00,15.00,30.00,0.60,break\n"
        "2024-12-10,000785,sell,20000,2.70,54000.00,13.50,27.00,0.54,stop_loss\n",
        encoding="utf-8")
    (folder / "orders.csv").write_text(
        "date,code,side,shares,price,status,reject_reason\n"
        "2024-12-03,002354,buy,10000,5.00,filled,\n"
        "2024-12-03,000785,buy,20000,3.00,filled,\n"
        "2024-12-03,301382,buy,0,,rejected,limit_up_sealed\n"
        "2024-12-05,002354,sell,10000,6.00,filled,\n"
        "2024-12-06,000785,sell,20000,2.70,rejected,limit_down_sealed\n"
        "2024-12-09,000785,sell,20000,2.70,rejected,limit_down_sealed\n"
        "2024-12-10,000785,sell,20000,2.70,filled,\n",
        encoding="utf-8")
    if signals:
        pd.DataFrame({
            "date": ["2024-12-03", "2024-12-03", "2024-12-03", "2024-12-04"],
            "code": ["002354", "000785", "301382", "600000"],
            "name": ["天娱数科", "居然智家", "蜂助手", "浦发银行"],
            "score": [3.0, 3.0, 2.0, 1.0],
            "title": [EVIL_TITLE, "居然智家 6天5板", "蜂助手触及20%涨停", "无关新闻"],
            "published": ["2024-12-02T20:00:00+08:00"] * 3 + ["2024-12-03T18:00:00+08:00"],
        }).to_csv(folder / "signals.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps(
        {"total_return": 0.0123, "sharpe": 1.23456, "trades": 2, "final_equity": 1012300.0,
         "fees": {"total": 1234.5},
         "rejections": {"limit_up_sealed": 1, "limit_down_sealed": 2}}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "r")


@pytest.fixture(scope="module")
def page(run_dir) -> str:
    ts.write_tearsheet(run_dir)
    return (run_dir / "tearsheet.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------- analyses


def test_per_stock_pnl_hand_computed(run_dir):
    run = ts.load_run(run_dir)
    pnl = ts.per_stock_pnl(run.trades).set_index("code")
    # 002354: sold 60,000 - fees 45.60, cost 50,000 + 13.00 -> +9,941.40
    assert pnl.loc["002354", "realized"] == pytest.approx(9941.40, abs=1e-9)
    # 000785: 54,000 - 41.04 - (60,000 + 15.60) -> -6,056.64
    assert pnl.loc["000785", "realized"] == pytest.approx(-6056.64, abs=1e-9)
    assert pnl.loc["000785", "fees"] == pytest.approx(15.60 + 41.04)
    assert (pnl["open_shares"] == 0).all()


def test_per_stock_pnl_partial_and_open():
    trades = pd.DataFrame({
        "date": pd.to_datetime(["2024-12-02", "2024-12-03", "2024-12-04"]),
        "code": ["000001"] * 3, "side": ["buy", "buy", "sell"], "shares": [100, 300, 200],
        "price": [10.0, 12.0, 13.0], "value": [1000.0, 3600.0, 2600.0],
        "commission": [5.0, 5.0, 5.0], "stamp_duty": [0.0, 0.0, 1.3],
        "transfer_fee": [0.0, 0.0, 0.0], "reason": ["entry", "entry", "max_hold"]})
    row = ts.per_stock_pnl(trades).iloc[0]
    avg = (1005.0 + 3605.0) / 400  # average cost per share, buy fees included
    assert row["realized"] == pytest.approx(2600.0 - 6.3 - 200 * avg)
    assert row["open_shares"] == 200
    assert row["open_cost"] == pytest.approx(200 * avg)


def test_stuck_positions_count_sessions(run_dir):
    run = ts.load_run(run_dir)
    stuck = ts.stuck_positions(run.orders, pd.DatetimeIndex(run.equity["date"]))
    assert len(stuck) == 1
    row = stuck.iloc[0]
    assert row["code"] == "000785" and row["shares"] == 20000
    assert row["first_blocked"] == pd.Timestamp("2024-12-06")
    assert row["sold"] == pd.Timestamp("2024-12-10")
    assert row["sessions_blocked"] == 2  # 12-06 and 12-09 (a weekend in between)
    assert row["refusals"] == "limit_down_sealed×2"


def test_stuck_position_never_sold():
    orders = pd.DataFrame({
        "date": pd.to_datetime(["2024-12-03", "2024-12-04"]), "code": ["000001"] * 2,
        "side": ["sell"] * 2, "shares": [100, 100], "price": [9.0, 9.0],
        "status": ["rejected"] * 2, "reject_reason": ["limit_down_sealed", "suspended"]})
    sessions = pd.bdate_range("2024-12-02", periods=5)
    row = ts.stuck_positions(orders, sessions).iloc[0]
    assert pd.isna(row["sold"])
    assert row["sessions_blocked"] == 4  # 12-03 .. 12-06, the end of the run
    assert row["refusals"] == "limit_down_sealed×1, suspended×1"


def test_rejections_by_reason(run_dir):
    run = ts.load_run(run_dir)
    rej = ts.rejections_by_reason(run.orders)
    assert rej[["side", "reason", "orders", "stocks"]].values.tolist() == [
        ["sell", "limit_down_sealed", 2, 1], ["buy", "limit_up_sealed", 1, 1]]


def test_signal_timeline_outcomes(run_dir):
    run = ts.load_run(run_dir)
    tl = ts.signal_timeline(run.signals, run.orders).set_index("code")
    assert tl.loc["002354", "outcome"] == "filled"
    assert tl.loc["002354", "detail"] == "10,000 @ 5.00"
    assert tl.loc["301382", "outcome"] == "rejected"
    assert tl.loc["301382", "detail"].startswith("limit_up_sealed: sealed at limit-up")
    assert tl.loc["600000", "outcome"] == "no order"


def test_daily_returns_first_day_against_cash(run_dir):
    run = ts.load_run(run_dir)
    r = ts.run_returns(run)
    eq = run.equity["equity"].to_numpy()
    assert r.iloc[0] == pytest.approx(eq[0] / 1_000_000 - 1)
    assert r.iloc[5] == pytest.approx(eq[5] / eq[4] - 1)
    assert r.index.tz is None


def test_equal_weight_returns_hand_computed():
    from backtests.engine.backtest import toy_market

    nan = np.nan
    close = np.array([[10.0, 20.0], [11.0, nan], [11.0, 22.0]])
    m = toy_market(np.array(["2024-12-02", "2024-12-03", "2024-12-04"], dtype="datetime64[D]"),
                   ["000001", "000002"], close, close, close, close, prev_close=[10.0, 20.0])
    s = analyses.equal_weight_returns(m)
    # day 1: both flat; day 2: only 000001 traded (+10%); day 3: 0% and 22/20-1 = +10%
    assert s.tolist() == pytest.approx([0.0, 0.1, 0.05])


def test_benchmark_sources(run_dir, tmp_path):
    levels = tmp_path / "idx.csv"
    levels.write_text("date,close\n2024-12-02,100\n2024-12-03,110\n2024-12-04,99\n")
    s = run_folder._read_benchmark(levels, what="benchmark")
    assert s.tolist() == pytest.approx([0.0, 0.1, -0.1])
    bad = tmp_path / "bad.csv"
    bad.write_text("date,foo\n2024-12-02,1\n")
    with pytest.raises(DataError, match=r"bad\.csv.*'return'.*'close'"):
        run_folder._read_benchmark(bad, what="benchmark")
    run = ts.load_run(run_dir, benchmark=pd.Series([0.01], index=[pd.Timestamp("2024-12-02")]))
    assert run.benchmark.tolist() == [0.01]


def test_bad_run_folders(tmp_path):
    with pytest.raises(DataError, match="not a run folder"):
        ts.load_run(tmp_path / "nope")
    folder = make_run(tmp_path / "r")
    (folder / "trades.csv").write_text("date,code,side\n2024-12-03,002354,buy\n")
    with pytest.raises(DataError, match=r"trades\.csv: missing column\(s\) shares, price"):
        ts.load_run(folder)
    (folder / "equity.csv").unlink()
    with pytest.raises(DataError, match=r"equity\.csv: file not found"):
        ts.load_run(folder)


# ---------------------------------------------------------------- the page


def test_page_has_every_section_and_names(page):
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in page
    assert "Key Performance Metrics" not in page        # quantstats' report only on request
    assert "天娱数科" in page and "居然智家" in page
    perf = page[page.index('id="hypebt-performance"'):page.index('id="hypebt-metrics"')]
    for label in ("cumulative return", "drawdown", "daily returns"):
        assert f'aria-label="{label}"' in perf
    assert "Monthly returns" in perf and "Worst drawdowns" in perf
    assert 'aria-label="per-stock P&amp;L"' in page


def test_quantstats_report_on_request(run_dir, tmp_path):
    """``quantstats=True`` (``--quantstats``, ``[report] quantstats = true``) appends quantstats'
    report after hypebt's sections; the folder's config decides when the caller does not."""
    page = ts.render_tearsheet(run_dir, quantstats=True)
    assert "Key Performance Metrics" in page and 'id="quantstats"' in page
    assert page.index('id="hypebt-config"') < page.index('id="quantstats"')
    assert '<a href="#quantstats">' in page
    copy = tmp_path / "qs"
    shutil.copytree(run_dir, copy)
    with open(copy / "config.toml", "a", encoding="utf-8") as f:
        f.write("\n[report]\nquantstats = true\n")
    assert "Key Performance Metrics" in ts.render_tearsheet(copy)
    assert "Key Performance Metrics" not in ts.render_tearsheet(copy, quantstats=False)


def test_page_escapes_article_text(page):
    assert "<script>" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_page_is_self_contained(page):
    assert "http" not in page.lower()   # no URL at all: no link, favicon, font or namespace URL
    targets = re.findall(r"\b(?:src|href)\s*=\s*[\"']([^\"']*)", page)
    # only in-page SVG references, and the run folder's own CSVs beside the page
    assert targets and all(t.startswith("#") or t in ts.LINKED_FILES for t in targets)
    assert "@import" not in page and not re.search(r"url\((?!#)", page)
    assert "onload" not in page


def test_page_is_byte_identical(run_dir, page, tmp_path):
    copy = tmp_path / "again"
    shutil.copytree(run_dir, copy)
    (copy / "tearsheet.html").unlink()
    ts.write_tearsheet(copy)
    assert (copy / "tearsheet.html").read_bytes() == page.encode("utf-8")


def test_cjk_font_found():
    from matplotlib import font_manager as fm

    if not any("cjk" in Path(f).name.lower() for f in fm.findSystemFonts()):
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    assert charts.cjk_font() in charts.CJK_FAMILIES
    import io
    import warnings

    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught, charts.plain_style():
        warnings.simplefilter("always")
        fig = Figure()
        fig.add_subplot().set_title("天娱数科 居然智家 蜂助手 个股盈亏")
        fig.savefig(io.BytesIO(), format="svg")
    assert not [w for w in caught if "missing from font" in str(w.message)]  # no empty boxes


def _long_run(folder: Path, n: int) -> Path:
    """``make_run`` plus ``n`` round trips over ``n`` stocks (2n fills, n refused orders)."""
    make_run(folder)
    codes = [f"{600000 + i:06d}" for i in range(n)]
    fills = "".join(f"2024-12-03,{c},buy,100,10.00,1000.00,5.00,0.00,0.01,entry\n"
                    f"2024-12-05,{c},sell,100,{10 + (i % 7 - 3) / 10:.2f},"
                    f"{1000 + (i % 7 - 3) * 10:.2f},5.00,0.50,0.01,break\n"
                    for i, c in enumerate(codes))
    with open(folder / "trades.csv", "a", encoding="utf-8") as f:
        f.write(fills)
    with open(folder / "orders.csv", "a", encoding="utf-8") as f:
        f.write("".join(f"2024-12-04,{c},buy,0,,rejected,limit_up_sealed\n" for c in codes))
    return folder


def test_long_tables_are_capped_and_link_the_csv(tmp_path):
    text = ts.render_tearsheet(_long_run(tmp_path / "long", 1200))
    trades = text[text.index('id="hypebt-trades"'):text.index('id="hypebt-rejections"')]
    assert f"The first {ts.TABLE_ROWS} of 2,404 trades" in trades
    assert '<a href="trades.csv">trades.csv</a>' in trades
    assert trades.count("<tr>") == ts.TABLE_ROWS + 1                # header + the cap
    pnl = text[text.index('id="hypebt-pnl"'):text.index('id="hypebt-trades"')]
    assert "1,202 stocks" in pnl and pnl.count("<tr>") == ts.TABLE_ROWS + 2   # + total row
    rej = text[text.index('id="hypebt-rejections"'):text.index('id="hypebt-stuck"')]
    assert '<a href="orders.csv">orders.csv</a>' in rej and "of 1,203 refused orders" in rej


def test_page_size_grows_sublinearly_with_trades(tmp_path):
    small = len(ts.render_tearsheet(_long_run(tmp_path / "a", 600)))
    large = len(ts.render_tearsheet(_long_run(tmp_path / "b", 6000)))
    assert large < 1.2 * small          # ten times the trades, about the same page


def test_chart_text_stays_text(page):
    """Chinese names in charts are SVG text the browser draws with the reader's fonts (not
    glyph paths, which come out as boxes where the drawing machine had no CJK font)."""
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert any("天娱数科" in c and "<text" in c for c in charts)
    assert not any("<use xlink:href=\"#DejaVuSans" in c for c in charts)


def test_report_command_quiet_and_benchmark(run_dir, tmp_path, capfd):
    folder = make_run(tmp_path / "r", benchmark=False, signals=False)
    levels = tmp_path / "idx.csv"
    rows = ["date,close"] + [f"{d:%Y-%m-%d},{100 + i}" for i, d in
                             enumerate(pd.bdate_range("2024-12-02", periods=30))]
    levels.write_text("\n".join(rows) + "\n")
    capfd.readouterr()
    assert main(["report", str(folder), "--benchmark", str(levels)]) == 0
    out, err = capfd.readouterr()
    assert out == f"Tearsheet {folder / 'tearsheet.html'}\n"
    assert err == ""                    # no font or quantstats warnings leak out
    text = (folder / "tearsheet.html").read_text(encoding="utf-8")
    perf = text[text.index('id="hypebt-performance"'):text.index('id="hypebt-metrics"')]
    assert "against idx.csv" in perf and ">benchmark</th>" in perf
    assert "No signals file in this run folder." in text


def test_report_command_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("Error: ")


def test_flat_run_without_trades(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "equity.csv").write_text("date,cash,market_value,equity\n"
                                       "2024-12-02,1000.00,0.00,1000.00\n"
                                       "2024-12-03,1000.00,0.00,1000.00\n"
                                       "2024-12-04,1000.00,0.00,1000.00\n")
    text = ts.render_tearsheet(folder)
    assert "No fills." in text and "No order was rejected." in text


# ---------------------------------------------------------------- headless Chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not installed (Debian: apt-get install chromium fonts-noto-cjk; "
                ".ci/run installs it)")


def _browse(page_path: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="hypebt-chromium-") as profile:
        cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *extra, page_path.resolve().as_uri()]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LANG": "C.UTF-8"})


def test_tearsheet_in_headless_chromium(run_dir, page, tmp_path):
    path = run_dir / "tearsheet.html"
    dom = _browse(path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []                                 # no console message at all
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in dom.stdout
    assert "天娱数科" in dom.stdout
    shot = tmp_path / "tearsheet.png"
    res = _browse(path, "--window-size=1200,2400", f"--screenshot={shot}")
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_quantstats_drawdown_when_first_active_day_loses(tmp_path):
    """Flat, then a loss that never recovers: quantstats' own date matching would cut the
    leading flat days and lose its drawdown table; the whole window is kept instead."""
    folder = tmp_path / "loss"
    folder.mkdir()
    days = pd.bdate_range("2024-12-02", periods=12)
    equity = [1000.0] * 4 + [950.0, 940.0] + [940.0] * 6
    (folder / "equity.csv").write_text("date,cash,market_value,equity\n" + "".join(
        f"{d:%Y-%m-%d},{e:.2f},0.00,{e:.2f}\n" for d, e in zip(days, equity)))
    (folder / "config.toml").write_text("[portfolio]\ncash = 1000.0\n")
    (folder / "benchmark.csv").write_text("date,return\n" + "".join(
        f"{d:%Y-%m-%d},{0.01 * (-1) ** i:.4f}\n" for i, d in enumerate(days)))
    text = ts.render_tearsheet(folder, quantstats=True)
    assert re.search(r"Max Drawdown</td><td>-[\d.]+%</td><td>-6\.0%</td>", text)
    assert " 2 Dec, 2024 - 17 Dec, 2024" in text
    # hypebt's own section: the peak is the last session at 1,000, the valley the 940 close
    perf = text[text.index('id="hypebt-performance"'):text.index('id="hypebt-metrics"')]
    assert ('<td class="t">2024-12-05</td><td class="t">2024-12-09</td>'
            '<td class="t">not recovered</td><td>-6.00%</td><td>8</td>') in perf


def test_run_metrics_read_as_percent_money_ratio_and_count(page):
    section = page[page.index('id="hypebt-metrics"'):page.index('id="hypebt-pnl"')]
    for key, shown in [("total_return", "1.23%"), ("sharpe", "1.23"), ("trades", "2"),
                       ("final_equity", "1,012,300.00"), ("fees.total", "1,234.50"),
                       ("rejections.limit_down_sealed", "2")]:
        assert re.search(rf">{re.escape(key)}</td><td[^>]*>{re.escape(shown)}</td>", section), key


def test_long_page_in_headless_chromium(tmp_path):
    """12,000 fills: the page stays small, opens without console messages, and its capped
    tables link the run folder's CSVs (which the browser can open beside it)."""
    folder = _long_run(tmp_path / "long", 6000)
    ts.write_tearsheet(folder)
    page = folder / "tearsheet.html"
    assert page.stat().st_size < 2_000_000
    dom = _browse(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert [line for line in dom.stderr.splitlines() if ":CONSOLE" in line] == []
    assert "The first 500 of 12,004 trades" in dom.stdout
    assert '<a href="trades.csv">trades.csv</a>' in dom.stdout
    assert (folder / "trades.csv").exists()


# ---------------------------------------------------------------- market mood


def _mood_market():
    """Four main-board stocks, four sessions, limit-ups by hand (previous close 10.00):
    s0: A, B limit-up (11.00), D limit-down (9.00); s1: A again (12.10, 2 boards), C and D
    first boards; s2: A a third board (13.31), the rest flat; s3: all flat."""
    from backtests.engine.backtest import toy_market

    close = np.array([[11.00, 11.00, 10.10, 9.00],
                      [12.10, 11.50, 11.11, 9.90],
                      [13.31, 11.50, 11.11, 9.90],
                      [13.31, 11.50, 11.11, 9.90]])
    prev = np.vstack([np.full(4, 10.0), close[:-1]])
    days = np.array(["2024-12-02", "2024-12-03", "2024-12-04", "2024-12-05"], "datetime64[D]")
    return toy_market(days, ["000001", "000002", "000003", "000004"], prev,
                      np.maximum(prev, close), np.minimum(prev, close), close, prev_close=10.0)


def test_mood_csv_hand_computed():
    """Counts, 连板高度 and 晋级率 per session, and the sessions a gate of two limit-ups closes
    (it reads the previous session; the first session has none, so it is closed)."""
    from backtests.report.mood import mood_csv
    from strategies import resolve_params

    m = _mood_market()
    assert mood_csv(m, resolve_params({"min_limit_ups": 2})) == (
        "date,limit_ups,limit_downs,height,promotion_1,promotion_2plus,gate\n"
        "2024-12-02,2,1,1,,,gate_limit_ups\n"
        "2024-12-03,3,0,2,0.5000,,\n"          # A of A, B promoted
        "2024-12-04,1,0,3,0.0000,1.0000,\n"    # neither C nor D; A (2 boards) did
        "2024-12-05,0,0,0,,0.0000,gate_limit_ups\n")
    assert mood_csv(m, resolve_params({})).count("gate_") == 0      # no gate: always open


def test_mood_chart(tmp_path):
    """The chart: three titled panels, one shaded span per run of closed sessions (reason in its
    tooltip), text as SVG text, the same bytes twice, no script or URL; a run folder without
    mood.csv gets a note; a whole run writes mood.csv and the tearsheet draws it."""
    from backtests.data.config import parse_config
    from backtests.engine.backtest import run_backtest
    from backtests.report import mood
    from backtests.report.outputs import render_outputs
    from strategies import resolve_params

    m = _mood_market()
    (tmp_path / "mood.csv").write_text(mood.mood_csv(m, resolve_params({"min_limit_ups": 2})),
                                       encoding="utf-8")
    html = mood.section_html(tmp_path)
    assert html == mood.section_html(tmp_path)
    svg = html[html.index("<svg"):]
    assert svg.endswith("</svg>") and svg.count("<svg") == 1
    assert "the gate closed 2 of 4 sessions" in html
    spans = re.findall(r"<title>gate closed ([^<]*)</title>", svg)
    assert spans == ["2024-12-02: gate_limit_ups", "2024-12-05: gate_limit_ups"]
    for text in ("limit-ups 涨停 / limit-downs 跌停", "连板高度 height", "晋级率 promotion",
                 ">2024-12-02<", ">2024-12-05<", ">100%<", ">3<"):
        assert text in svg, text
    assert svg.count("<polyline") >= 5 and "http" not in svg and "<script" not in svg
    assert "No mood.csv" in mood.section_html(tmp_path / "missing")
    # a run's outputs carry the mood of its market under its own gate
    res = run_backtest(m, pd.DataFrame({"date": ["2024-12-03"], "code": ["000003"]}),
                       {"min_limit_ups": 2})
    cfg = parse_config({"data": {"path": "demo"}, "signals": {"source": "ladder", "streak": [1]},
                        "gate": {"min_limit_ups": 2}})
    texts = render_outputs(res, cfg, tmp_path / "run")
    assert texts["mood.csv"] == (tmp_path / "mood.csv").read_text(encoding="utf-8")
