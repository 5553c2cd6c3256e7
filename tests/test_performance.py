"""The tearsheet's performance section (backtests/report/performance.py) and the hand-written
SVG charts (backtests/report/svg.py): hand-computed drawdowns and period returns, the figures
against quantstats' own functions, deterministic SVG, and a default tearsheet that imports
neither quantstats nor matplotlib."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.report import performance as perf
from backtests.report import svg

REPO = Path(__file__).resolve().parents[1]


def _series(values, start="2024-12-02") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float),
                     index=pd.bdate_range(start, periods=len(values)))


def test_drawdown_periods_hand_computed():
    # wealth 1.1, 0.99, 0.9405, 1.1286, 1.1286, 1.106028
    r = _series([0.1, -0.1, -0.05, 0.2, 0.0, -0.02])
    dd = perf.drawdown(r.to_numpy())
    assert dd == pytest.approx([0.0, -0.1, -0.145, 0.0, 0.0, -0.02])
    p = perf.drawdown_periods(r)
    d = r.index
    assert p["peak"].tolist() == [d[0], d[4]]
    assert p["valley"].tolist() == [d[2], d[5]]
    assert p["recovered"].iloc[0] == d[3] and pd.isna(p["recovered"].iloc[1])
    assert p["depth"].tolist() == pytest.approx([-0.145, -0.02])
    assert p["sessions"].tolist() == [2, 1]


def test_drawdown_from_the_starting_cash():
    """A loss on the first session is a drawdown from the starting cash (as metrics.json's
    max_drawdown), its peak ``None``."""
    r = _series([-0.05, 0.06, -0.01])
    p = perf.drawdown_periods(r)
    assert pd.isna(p["peak"].iloc[0]) and p["valley"].iloc[0] == r.index[0]
    assert p["recovered"].iloc[0] == r.index[1] and p["sessions"].iloc[0] == 1
    assert perf.summary(r)["longest_drawdown"] == 1
    assert perf.summary(_series([0.01, 0.02]))["longest_drawdown"] == 0


def test_period_returns_compound_within_month_and_year():
    r = pd.Series([0.1, -0.1, 0.05, 0.02], index=pd.to_datetime(
        ["2024-11-28", "2024-11-29", "2024-12-02", "2025-01-02"]))
    m = perf.period_returns(r, "M")
    assert m.loc[(2024, 11)] == pytest.approx(1.1 * 0.9 - 1)
    assert m.loc[(2024, 12)] == pytest.approx(0.05)
    y = perf.period_returns(r, "Y")
    assert y.loc[2024] == pytest.approx(1.1 * 0.9 * 1.05 - 1) and y.loc[2025] == pytest.approx(0.02)


@pytest.fixture(scope="module")
def qs():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import quantstats
    return quantstats


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_agree_with_quantstats(qs, seed):
    rng = np.random.default_rng(seed)
    n = 400
    r = _series(np.where(rng.random(n) < 0.2, 0.0, rng.normal(0.0005, 0.02, n)), "2023-01-02")
    b = _series(rng.normal(0.0002, 0.012, n), "2023-01-02")
    # quantstats' drawdown starts at the first price, ours at the starting cash: a leading
    # zero return makes the two the same
    lead = pd.concat([pd.Series([0.0], index=[pd.Timestamp("2022-12-30")]), r])
    assert perf.drawdown(r.to_numpy()) == pytest.approx(
        qs.stats.to_drawdown_series(lead).to_numpy()[1:], abs=1e-12)
    monthly = qs.stats.monthly_returns(r, eoy=True, compounded=True)
    ours = perf.period_returns(r, "M")
    for (year, month), value in ours.items():
        assert value == pytest.approx(monthly.loc[str(year)].iloc[month - 1], abs=1e-12)
    assert perf.period_returns(r, "Y").to_numpy() == pytest.approx(
        monthly["EOY"].to_numpy(), abs=1e-12)
    s = perf.summary(r, b)
    assert s["best_session"] == pytest.approx(qs.stats.best(r))
    assert s["worst_session"] == pytest.approx(qs.stats.worst(r))
    assert s["winning_sessions"] == pytest.approx(qs.stats.win_rate(r))
    assert s["beta"] == pytest.approx(qs.stats.greeks(r, b)["beta"], rel=1e-9)
    assert s["correlation"] == pytest.approx(np.corrcoef(r, b)[0, 1], rel=1e-9)
    assert s["calmar"] == pytest.approx(s["cagr"] / abs(s["max_drawdown"]))
    assert s["max_drawdown"] == pytest.approx(perf.drawdown(r.to_numpy()).min())
    assert s["sessions"] == n


def test_summary_of_degenerate_series():
    one = perf.summary(_series([0.0]))
    assert one["volatility"] is None and one["winning_sessions"] is None
    assert one["calmar"] is None and one["longest_drawdown"] == 0
    flat = perf.summary(_series([0.0, 0.0, 0.0]), _series([0.0, 0.0, 0.0]))
    assert flat["beta"] is None and flat["correlation"] is None


def test_section_without_sessions_or_benchmark():
    assert "No sessions." in perf.section_html(_series([]), None)
    page = perf.section_html(_series([0.01, -0.02, 0.005]), None)
    assert "without a benchmark" in page and ">benchmark</th>" not in page
    assert page == perf.section_html(_series([0.01, -0.02, 0.005]), None)


def test_nice_ticks():
    assert svg.nice_ticks(-0.145, 0.0) == [-0.1, -0.05, 0.0]
    assert svg.nice_ticks(0.0, 7.0) == [0.0, 2.0, 4.0, 6.0]
    assert svg.nice_ticks(-3.0, 12.0) == [0.0, 5.0, 10.0]
    assert svg.nice_ticks(1.0, 1.0) == [1.0]


def test_polylines_break_at_gaps():
    xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    ys = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    assert svg.polylines(xs, ys) == ["0.0,1.0 1.0,2.0", "3.0,4.0 4.0,5.0"]


def test_charts_escape_text_and_repeat_bytes():
    labels = ["002354 天娱数科", '<script>"x"</script>']
    a = svg.hbar_chart(labels, np.array([1234.5, -99.0]), title="P&L", fmt=lambda v: f"{v:,.0f}",
                       up="#0a0", down="#a00")
    assert "<script>" not in a and "&lt;script&gt;" in a and "天娱数科</text>" in a
    assert "P&amp;L" in a and ">1,234</text>" in a and ">-99</text>" in a
    assert a == svg.hbar_chart(labels, np.array([1234.5, -99.0]), title="P&L",
                               fmt=lambda v: f"{v:,.0f}", up="#0a0", down="#a00")
    dates = ["2024-12-02", "2024-12-03", "2024-12-04"]
    spikes = svg.spike_chart(dates, np.array([0.01, 0.0, -0.02]), title="r", fmt=str, up="#0a0",
                             down="#a00")
    assert spikes.count("<path") == 2 and spikes.count("M") == 2  # the zero session draws nothing


def test_default_tearsheet_imports_neither_quantstats_nor_matplotlib(tmp_path):
    code = ("import sys\nfrom backtests.cli.main import main\n"
            f"rc = main(['backtest', 'configs/demo.toml', '--out', {str(tmp_path / 'run')!r}])\n"
            "print(rc, sorted(m for m in ('quantstats', 'matplotlib', 'seaborn', 'scipy.stats')"
            " if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=False, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "0 []"
    assert (tmp_path / "run" / "tearsheet.html").exists()
