"""The public Python API (``import hypebt``): the README's example runs as written, and the API
gives what the command line gives, with the same messages for bad options."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

import hypebt
from backtests.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- python-example -->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md has no <!-- python-example --> block"
    return m.group(1)


def test_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(REPO / "configs")
    monkeypatch.chdir(tmp_path)
    code = readme_example()
    assert 5 <= len(code.strip().splitlines()) <= 15
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, hypebt.Result)
    assert (tmp_path / "runs" / "notebook" / "tearsheet.html").exists()
    assert len(namespace["ranked"]) == 8
    assert {"code", "streak"} <= set(namespace["board"].columns)
    out = capsys.readouterr().out
    assert str(result.metrics["total_return"]) in out


def test_backtest_from_a_config_equals_the_cli_run_folder(tmp_path):
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    assert main(["backtest", str(REPO / "configs" / "demo.toml"), "--out", str(cli_out)]) == 0
    hypebt.backtest(REPO / "configs" / "demo.toml").write(api_out)
    for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json", "signals.csv",
                 "config.toml", "tearsheet.html"):
        assert (cli_out / name).read_bytes() == (api_out / name).read_bytes(), name


def test_backtest_on_a_market_equals_the_config_run():
    cfg_result = hypebt.backtest(REPO / "configs" / "demo_marks.toml")
    market = hypebt.load_market("demo", start="2024-01-02", end="2024-12-31")
    marks = hypebt.read_marks(REPO / "configs" / "demo_marks.csv")
    params = {k: v for k, v in cfg_result.params.items() if v is not None}
    result = hypebt.backtest(market, marks, **params)
    pd.testing.assert_frame_equal(result.equity, cfg_result.equity)
    pd.testing.assert_frame_equal(result.orders, cfg_result.orders)
    assert result.metrics == cfg_result.metrics


def test_in_memory_run_folder_records_its_marks(tmp_path):
    market = hypebt.load_market("demo")
    marks = hypebt.marks_from_articles(["demo"], market=market)
    out = hypebt.backtest(market, marks, max_hold=5).write(tmp_path / "run", tearsheet=False)
    config = (out / "config.toml").read_text(encoding="utf-8")
    assert 'path = "demo"' in config and 'marks = "signals.csv"' in config
    assert main(["backtest", str(out / "config.toml"), "--out", str(tmp_path / "again")]) == 0
    assert ((tmp_path / "again" / "equity.csv").read_bytes()
            == (out / "equity.csv").read_bytes())


def test_tearsheet_alone(tmp_path):
    result = hypebt.backtest(REPO / "configs" / "demo.toml")
    page = result.tearsheet(tmp_path / "page.html")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert os.listdir(tmp_path) == ["page.html"]
    assert "Key Performance Metrics" not in page.read_text(encoding="utf-8")
    full = result.tearsheet(tmp_path / "full.html", quantstats=True)
    assert "Key Performance Metrics" in full.read_text(encoding="utf-8")
    out = result.write(tmp_path / "run", quantstats=True)
    assert "quantstats = true" in (out / "config.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("call, message", [
    (lambda m, k: hypebt.backtest(m, k, entry="opne"),
     "[strategy] entry = 'opne': expected one of 'open', 'limit' (did you mean \"open\"?)"),
    (lambda m, k: hypebt.backtest(m, k, stop_los=0.1), "unknown parameter 'stop_los'"),
    (lambda m, k: hypebt.backtest(m, k, position_size=2.0),
     "[portfolio] position_size = 2.0: expected a value in 0.0 .. 1.0"),
    (lambda m, k: hypebt.marks_from_articles(["demo"], market=m, min_score="high"),
     "[signals] min_score = 'high': expected a number"),
    (lambda m, k: hypebt.marks_from_articles(["demo"], market=m, min_scor=1),
     "unknown signals option 'min_scor'"),
    (lambda m, k: hypebt.grid(REPO / "configs" / "demo_grid.toml", workers=0),
     "--workers 0: expected a positive integer"),
    (lambda m, k: hypebt.backtest("nope.toml"), "config file not found: nope.toml"),
    (lambda m, k: hypebt.backtest(m, None), "marks are missing"),
    (lambda m, k: hypebt.scan(m, "2024-03-02"), "2024-03-02"),
])
def test_bad_options_get_the_command_line_messages(call, message):
    market = hypebt.load_market("demo")
    marks = hypebt.read_marks(REPO / "configs" / "demo_marks.csv")
    with pytest.raises(hypebt.HypebtError) as exc:
        call(market, marks)
    assert message in str(exc.value)


def test_same_message_as_the_cli_for_a_bad_parameter(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    marks = (REPO / "configs" / "demo_marks.csv").as_posix()
    cfg.write_text(f'[data]\npath = "demo"\n[signals]\nmarks = "{marks}"\n[strategy]\n'
                   'stop_loss = 1.5\n', encoding="utf-8")
    assert main(["backtest", str(cfg)]) == 2
    cli_message = capsys.readouterr().err
    market = hypebt.load_market("demo")
    with pytest.raises(hypebt.ConfigError) as exc:
        hypebt.backtest(market, hypebt.read_marks(REPO / "configs" / "demo_marks.csv"),
                        stop_loss=1.5)
    assert str(exc.value) in cli_message
