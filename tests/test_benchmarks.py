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
    ("bench_engines.py", ["--repeat", "1", "--bt-budget", "1", "--no-vectorbt"],
     "whole-market ratio"),
    ("bench_features.py", ["--stocks", "200", "--sessions", "300", "--repeat", "1"],
     "never binding (same ledger)"),
]


@pytest.mark.parametrize("script, args, headline", CASES, ids=[c[0] for c in CASES])
def test_benchmark_script_runs(shared_data, script, args, headline):
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert headline in proc.stdout, proc.stdout[-2000:]
