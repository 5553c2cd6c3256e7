"""``hypebt demo``: articles -> marks -> backtest -> run folder on the SYNTHETIC demo data."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backtests.cli.demo import DEFAULT_OUT, demo_config
from backtests.cli.main import main
from backtests.data.config import load_config

REPO = Path(__file__).resolve().parents[1]
FILES = ("config.toml", "equity.csv", "trades.csv", "orders.csv", "metrics.json", "signals.csv",
         "benchmark.csv", "study_marks.csv", "trade_bars.csv", "mood.csv", "tearsheet.html")


def test_shipped_demo_config_is_the_embedded_one():
    shipped, embedded = load_config(REPO / "configs" / "demo.toml"), demo_config()
    assert shipped.data == embedded.data
    assert shipped.signals == embedded.signals
    assert shipped.params == embedded.params
    assert embedded.signals.articles == ("demo",)


def test_demo_pipeline_output_and_byte_identical_reruns(tmp_path, capsys, monkeypatch):
    runs = []
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        monkeypatch.chdir(tmp_path / sub)
        assert main(["demo"]) == 0
        runs.append(tmp_path / sub / DEFAULT_OUT)
    captured = capsys.readouterr()
    assert captured.err == ""
    first = captured.out[:len(captured.out) // 2]
    assert captured.out == first * 2
    lines = first.splitlines()
    assert lines[:5] == [
        "hypebt demo: SYNTHETIC data (invented companies, prices and news)",
        "  SYNTHETIC demo market: invented companies and prices, not real data.",
        "  articles      11 SYNTHETIC demo articles (signals/demo_articles.jsonl)",
        "  period        2024-01-02 .. 2024-12-31 (242 sessions)",
        "  marks         26 used",
    ]
    assert lines[-4:] == [
        "  outputs       hypebt-demo/ (config.toml equity.csv trades.csv orders.csv "
        "credits.csv metrics.json signals.csv benchmark.csv study_marks.csv trade_bars.csv mood.csv "
        "tearsheet.html)",
        "Report: open hypebt-demo/tearsheet.html in a browser.",
        "Re-run: hypebt backtest hypebt-demo/config.toml",
        "These returns come from scripted synthetic rallies and say nothing about real markets; "
        "for a real case run configs/real_doubao_articles.toml on the data in ../shared/data "
        "(see README).",
    ]
    a, b = runs
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    m = json.loads((a / "metrics.json").read_text(encoding="utf-8"))
    assert f"  total return  {m['total_return'] * 100:+.2f}% " in first
    assert f"  rejections    limit_up_sealed {m['rejections']['limit_up_sealed']}\n" in first
    # the three momentum articles published after a close meet their leaders' 一字板 next
    # session (signals/demo.py, articles 02, 03, 08): sealed, rejected
    orders = (a / "orders.csv").read_text(encoding="utf-8").splitlines()
    sealed = [line.split(",")[:2] for line in orders if line.endswith(",rejected,limit_up_sealed")]
    assert sealed == [["2024-02-27", "002931"], ["2024-04-16", "600532"],
                      ["2024-09-04", "002572"]]
    assert m["trades"] > 0 and m["open_positions"] == 0
    signals = (a / "signals.csv").read_text(encoding="utf-8")
    assert "SYNTHETIC-demo-02" in signals and "【演示·虚构】" in signals
    assert "SYNTHETIC" in (a / "tearsheet.html").read_text(encoding="utf-8")


def test_demo_out_option_and_rerun_of_its_config(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["demo", "--out", str(out)]) == 0
    assert f"Report: open {out / 'tearsheet.html'} in a browser." in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["backtest", str(out / "config.toml"), "--out", str(again)]) == 0
    for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json", "signals.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_demo_help_says_synthetic(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    assert "SYNTHETIC" in capsys.readouterr().out
