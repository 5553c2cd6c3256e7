"""Ladder marks (``[signals] source``), their combinations with news marks, the ``[signals]``
keys of issue 11 (source, streak, first_board, exits), skipped-mark counts in the run folder,
and a grid over the new axes whose rows equal single runs."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backtests.cli.main import main
from backtests.data.config import parse_config
from backtests.engine.backtest import run_backtest
from backtests.core.errors import ConfigError
from backtests.features.ladder import combine_marks, ladder_mask, ladder_marks, parse_streaks
from backtests.features.state import market_state
from test_engine_filters import _ladder_market

REPO = Path(__file__).resolve().parents[1]


def test_parse_streaks():
    assert parse_streaks([1]) == (frozenset({1}), None)
    assert parse_streaks([2, 3, "4+", "6+"]) == (frozenset({2, 3}), 4)
    for bad in ([0], ["x"], [True], ["+3"]):
        with pytest.raises(ConfigError, match=r"\[signals\] streak .* is not a streak"):
            parse_streaks(bad)


def test_ladder_marks_read_the_previous_session():
    m = _ladder_market()       # 600001 streak 1 at s0, 2 at s1; 600002 streak 1 at s1
    f = ladder_marks(m, streak=[1])
    assert [(str(d.date()), c, s) for d, c, s in zip(f["date"], f["code"], f["streak"])] == [
        ("2024-12-17", "600001", 1), ("2024-12-18", "600002", 1)]
    f = ladder_marks(m, streak=["2+"])
    assert f[["code", "score"]].values.tolist() == [["600001", 2.0]]
    # first_board: the previous limit-up close started a new run (首板)
    f = ladder_marks(m, first_board=True)
    assert f["code"].tolist() == ["600001", "600002"]
    mask = ladder_mask(market_state(m), streak=[1, 2])
    assert mask[0].sum() == 0 and mask[2].tolist() == [True, True, False]


def test_combine_news_and_ladder():
    m = _ladder_market()
    lad = ladder_marks(m, streak=["1+"])
    news = pd.DataFrame({"date": pd.to_datetime(["2024-12-18", "2024-12-18"]),
                         "code": ["600002", "600003"], "name": ["", ""], "score": [0.5, 0.9],
                         "theme": ["X", "X"]})
    both = combine_marks(news, lad, "news_and_ladder")
    assert both["code"].tolist() == ["600002"] and both["theme"].tolist() == ["X"]
    either = combine_marks(news, lad, "news_or_ladder")
    assert [(str(d.date()), c, s) for d, c, s in zip(either["date"], either["code"],
                                                     either["score"])] == [
        ("2024-12-17", "600001", 1.0), ("2024-12-18", "600001", 2.0),
        ("2024-12-18", "600003", 0.9), ("2024-12-18", "600002", 0.5)]
    assert combine_marks(news, lad, "news") is news and combine_marks(news, lad, "ladder") is lad


def _doc(**signals):
    return {"data": {"path": "demo", "start": "2024-01-02", "end": "2024-06-28"},
            "signals": signals, "strategy": {"entry": "limit", "max_hold": 3}}


@pytest.mark.parametrize("signals, message", [
    ({"source": "ladder"}, r"needs streak \(e.g. streak = \[1\] for 一进二\) or first_board"),
    ({"source": "lader", "streak": [1]}, r"source = 'lader': expected one of .*did you mean"),
    ({"source": "ladder", "streak": [1], "marks": "x.csv"}, "uses no news"),
    ({"source": "news_and_ladder", "streak": [1]}, "needs marks"),
    ({"articles": "demo", "streak": [1]}, "streak applies to ladder marks"),
    ({"source": "ladder", "streak": ["1-3"]}, r"'1-3' is not a streak"),
    ({"source": "ladder", "streak": [1], "exit": "x.csv"}, r'did you mean "exits"'),
])
def test_signals_key_errors(signals, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_doc(**signals))


def test_ladder_config_runs_and_reports_skips(tmp_path, capsys):
    cfg = tmp_path / "ladder.toml"
    exits = tmp_path / "exits.csv"
    exits.write_text("date,code\n2024-03-04,002417\n", encoding="utf-8")
    cfg.write_text('[data]\npath = "demo"\nstart = "2024-01-02"\nend = "2024-06-28"\n'
                   '[signals]\nsource = "ladder"\nstreak = [1]\nexits = "exits.csv"\n'
                   '[strategy]\nentry = "limit"\nmax_hold = 3\n'
                   '[filters]\nexclude_st = true\nmax_per_theme = 1\n'
                   '[gate]\nmin_limit_ups = 3\n', encoding="utf-8")
    out = tmp_path / "run"
    assert main(["backtest", str(cfg), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "skipped marks gate_limit_ups" in text
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["skipped"]["gate_limit_ups"] > 0 and set(metrics["skipped"]) >= {"st", "board"}
    resolved = (out / "config.toml").read_text(encoding="utf-8")
    assert 'source = "ladder"' in resolved and "[gate]\nmin_limit_ups = 3" in resolved
    assert 'exits = "../exits.csv"' in resolved
    assert "Marks skipped by the filters and the gate" in (out / "tearsheet.html").read_text(
        encoding="utf-8")
    # the resolved config runs again to the same outputs
    again = tmp_path / "again"
    assert main(["backtest", str(out / "config.toml"), "--out", str(again)]) == 0
    for name in ("trades.csv", "orders.csv", "metrics.json", "signals.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_runs_without_the_new_keys_have_no_skipped_section(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["backtest", str(REPO / "configs" / "demo_marks.toml"), "--out", str(out)]) == 0
    assert "skipped" not in json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert "skipped marks" not in capsys.readouterr().out
    assert "[filters]" not in (out / "config.toml").read_text(encoding="utf-8")


def test_grid_over_the_new_axes_equals_single_runs(tmp_path):
    from backtests.grid.local import run_grid
    from backtests.grid.spec import load_grid_config, set_config
    from backtests.engine.run import load_marks

    cfg = tmp_path / "g.toml"
    cfg.write_text('[data]\npath = "demo"\nstart = "2024-01-02"\nend = "2024-12-31"\n'
                   '[signals]\nsource = "news_or_ladder"\narticles = "demo"\nstreak = ["1+"]\n'
                   '[strategy]\nmax_hold = 5\n'
                   '[grid]\nmin_limit_ups = [0, 5]\ndragon_head = [0, 1]\n'
                   'trailing_stop = [0.0, 0.05]\nmax_open_gap = [0.05, 0.5]\n',
                   encoding="utf-8")
    spec = load_grid_config(cfg)
    result = run_grid(spec, workers=1)
    frame = result.frame
    assert len(frame) == 16 and "skipped_gate_limit_ups" in frame.columns
    assert frame["skipped_gate_limit_ups"].max() > 0
    market = result.market
    for row in frame.head(6).itertuples(index=False):
        params = {k: getattr(row, k) for k in spec.axes}
        single_cfg = set_config(spec, params)
        marks = load_marks(single_cfg, market)
        single = run_backtest(market, marks.frame, single_cfg.params, exits=marks.exits)
        assert row.final_equity == pytest.approx(single.equity["equity"].iloc[-1], abs=1e-6)
        assert row.orders == single.stats["orders"]
        assert row.skipped_dragon_head == single.stats["skipped_dragon_head"]


def test_python_api_user_signals_and_features():
    import hypebt

    market = hypebt.load_market("demo", start="2024-01-02", end="2024-06-28")
    ms = hypebt.market_state(market)
    streak = ms.stock_frame("streak")
    # an idea computed in pandas: yesterday's first boards, scored by yesterday's amount
    amount = pd.DataFrame(market.amount, index=streak.index, columns=streak.columns)
    entries = amount.where(streak == 1).shift(1)
    exits = (streak == 0) & (streak.shift(1) == 0)
    res = hypebt.backtest(market, entries, exits=exits, entry="limit", exit_on_break=False,
                          max_hold=5, exclude_st=True)
    assert res.metrics["trades"] > 0 and "skipped" in res.metrics
    assert "signal" in set(res.trades["reason"])
    ladder = hypebt.backtest(market, hypebt.ladder_marks(market, streak=[1]), entry="limit",
                            exit_on_break=False, max_hold=5)
    assert ladder.metrics["trades"] > 0
    with pytest.raises(hypebt.MarksError, match="exits row 2: code '999999'"):
        hypebt.backtest(market, entries, exits=pd.DataFrame({"date": ["2024-03-04"],
                                                             "code": ["999999"]}))
