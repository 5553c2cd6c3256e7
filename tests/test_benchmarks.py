"""The benchmark scripts keep working: each runs in a tiny configuration on the real data and
prints its headline figure. (They reach into internals, so a refactor can break them silently;
the figures themselves are reported in docs/benchmarks.md, never asserted here.)"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

CASES = [
    ("bench_load.py", ["--repeat", "1"], "read+validate+align"),
    ("bench_engine.py", ["--stocks", "200", "--sessions", "300", "--no-cold"],
     "whole real panel, one backtest"),
    ("bench_grid.py", ["--sets", "20", "--repeat", "1", "--threads", "1"], "target: 1,000 sets"),
    ("bench_signals.py", ["--articles", "200", "--baseline", "10"], "articles/s"),
    ("bench_news.py", ["--articles", "2000", "--sample", "200"], "mention index"),
    ("bench_mentions.py", ["--articles", "200"], "results identical"),
    ("bench_marks.py", ["--articles", "3000", "--rounds", "1", "--fresh", "1"], "fresh processes"),
    ("bench_rows.py", ["--articles", "300", "--repeat", "1"], "rows: baseline/this"),
    ("bench_engines.py", ["--repeat", "1", "--bt-budget", "1", "--no-vectorbt"],
     "whole-market ratio"),
    ("bench_study.py", ["--stocks", "60", "--sessions", "120", "--marks", "300", "--repeat", "1",
                        "--bootstrap", "50"], "ratio pandas / hypebt study"),
    ("bench_features.py", ["--stocks", "200", "--sessions", "300", "--repeat", "1"],
     "never binding (same ledger)"),
    ("bench_actions.py", ["--repeat", "2"], "backtrader reference, ex-dates run"),
]


@pytest.mark.parametrize("script, args, headline", CASES, ids=[c[0] for c in CASES])
def test_benchmark_script_runs(shared_data, script, args, headline):
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert headline in proc.stdout, proc.stdout[-2000:]


def test_make_panel_is_deterministic_and_valid(tmp_path):
    """Same arguments, same bytes; the panel loads without a bar outside its computed limits
    (limit-up streaks, sealed boards, suspensions and listings follow the engine's rules)."""
    import warnings

    from backtests.data.load import load_market

    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, str(BENCH / "make_panel.py"), "--years", "1",
                               "--stocks", "300", "--seed", "3", "--marks", "200",
                               "--articles", "20", "--out", str(out)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(out)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == ["articles.jsonl", "backtest.toml", "grid.toml", "marks.csv", "names.csv",
                     "panel.csv.gz", "panel.parquet"]
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = load_market(outs[0] / "panel.parquet", names=[outs[0] / "names.csv"], cache=False)
        c = load_market(outs[0] / "panel.csv.gz", names=[outs[0] / "names.csv"], cache=False)
    assert not [w for w in caught if "outside" in str(w.message)]
    assert m.close.shape[1] == 300 and m.is_st.any()
    import numpy as np

    assert np.array_equal(m.close, c.close, equal_nan=True)
    sealed = (m.open == m.high) & (m.low == m.high) & (m.high == m.limit_up)
    assert sealed.sum() > 0                                     # 一字板 present



def test_bench_e2e_runs_on_a_small_panel(tmp_path):
    panel = tmp_path / "p"
    proc = subprocess.run([sys.executable, str(BENCH / "make_panel.py"), "--years", "1",
                           "--stocks", "60", "--marks", "100", "--articles", "10", "--no-csv",
                           "--out", str(panel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, str(BENCH / "bench_e2e.py"), "--panel", str(panel),
                           "--repeat", "1", "--only", "backtest --no-report"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "CPU/kernel" in proc.stdout and "backtest --no-report" in proc.stdout
    assert "! exit" not in proc.stdout, proc.stdout
