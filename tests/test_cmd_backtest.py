"""``hypebt backtest``: a hand-computed ledger through the whole CLI, exact output, byte-identical
run folders, error exits, default folder, shipped configs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from backtests.cli.main import main

REPO = Path(__file__).resolve().parents[1]

# Two main-board stocks over five real sessions (2024-03-01 Fri .. 03-07 Thu). The panel has no
# prev_close, so the first session has no limit; 03-04 limits come from the 03-01 closes.
PANEL = """code,date,open,high,low,close,volume,amount
600000,2024-03-01,10.00,10.00,10.00,10.00,1000000,10000000
600000,2024-03-04,10.20,11.00,10.10,11.00,1000000,10600000
600000,2024-03-05,11.50,12.10,11.30,11.80,1000000,11800000
600000,2024-03-06,11.60,11.90,11.40,11.50,1000000,11500000
600000,2024-03-07,11.50,11.60,11.40,11.50,1000000,11500000
000001,2024-03-01,5.00,5.00,5.00,5.00,1000000,5000000
000001,2024-03-04,5.50,5.50,5.50,5.50,1000000,5500000
000001,2024-03-05,5.60,5.80,5.40,5.50,1000000,5500000
000001,2024-03-06,5.50,5.60,5.40,5.50,1000000,5500000
000001,2024-03-07,5.50,5.60,5.40,5.50,1000000,5500000
"""
MARKS = "date,code,score\n2024-03-04,600000,2\n2024-03-04,000001,1\n"
CONFIG = """[data]
path = "panel.csv"
[signals]
marks = "marks.csv"
[portfolio]
cash = 100000
position_size = 0.5
"""

# The ledger by hand (fees 2024: commission max(0.025%, 5), stamp duty 0.05% on sells,
# transfer fee 0.001% both sides, each rounded half-up to the cent):
# 03-04 buy 600000 at the open 10.20: target 0.5 x 100,000 = 50,000 -> 4,900 shares, value
#       49,980; commission 12.495 -> 12.50; transfer 0.4998 -> 0.50; cash 50,007.00.
#       000001 opens at its limit-up 5.50 and never trades below it (一字板): rejected.
#       Close 11.00 = limit-up (10.00 x 1.1): no exit. Equity 50,007 + 4,900 x 11 = 103,907.
# 03-05 close 11.80 < limit-up 12.10: the board broke -> sell at the next open.
#       Equity 50,007 + 4,900 x 11.80 = 107,827.
# 03-06 sell 4,900 at 11.60 = 56,840; commission 14.21, stamp duty 28.42, transfer 0.5684 ->
#       0.57; cash 50,007 + 56,840 - 43.20 = 106,803.80.
EQUITY = [100000.0, 103907.0, 107827.0, 106803.8, 106803.8]
EQUITY_CSV = """date,cash,market_value,equity
2024-03-01,100000.00,0.00,100000.00
2024-03-04,50007.00,53900.00,103907.00
2024-03-05,50007.00,57820.00,107827.00
2024-03-06,106803.80,0.00,106803.80
2024-03-07,106803.80,0.00,106803.80
"""
TRADES_CSV = """date,code,side,shares,price,value,commission,stamp_duty,transfer_fee,reason,dividend_tax
2024-03-04,600000,buy,4900,10.20,49980.00,12.50,0.00,0.50,entry,0.00
2024-03-06,600000,sell,4900,11.60,56840.00,14.21,28.42,0.57,break,0.00
"""
ORDERS_CSV = """date,code,side,shares,price,status,reject_reason
2024-03-04,600000,buy,4900,10.20,filled,
2024-03-04,000001,buy,0,5.50,rejected,limit_up_sealed
2024-03-06,600000,sell,4900,11.60,filled,
"""
FILES = ("config.toml", "equity.csv", "trades.csv", "orders.csv", "credits.csv", "metrics.json",
         "signals.csv", "benchmark.csv", "study_marks.csv", "trade_bars.csv", "mood.csv",
         "tearsheet.html")


@pytest.fixture()
def toy(tmp_path) -> Path:
    (tmp_path / "panel.csv").write_text(PANEL, encoding="utf-8")
    (tmp_path / "marks.csv").write_text(MARKS, encoding="utf-8")
    (tmp_path / "toy.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path / "toy.toml"


def _sharpe() -> float:
    r = np.array(EQUITY) / np.r_[100000.0, EQUITY[:-1]] - 1
    return r.mean() / r.std(ddof=1) * math.sqrt(252)


def test_toy_ledger_exact_output_and_files(toy, capsys):
    out = toy.parent / "out"
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == (
        f"Backtest {toy}\n"
        "  period        2024-03-01 .. 2024-03-07 (5 sessions)\n"
        "  marks         2 used\n"
        "  trades        1 round trip, win rate 100.0%; 2 fills of 3 orders (fill rate 66.7%); "
        "0 positions open at the end\n"
        "  total return  +6.80% (final equity 106,803.80 CNY)\n"
        f"  Sharpe        {_sharpe():.2f}\n"
        "  max drawdown  -0.95%\n"
        "  rejections    limit_up_sealed 1\n"
        "  fees          56.20 CNY\n"
        f"  outputs       {out}/ (config.toml equity.csv trades.csv orders.csv credits.csv metrics.json "
        "signals.csv benchmark.csv study_marks.csv trade_bars.csv mood.csv tearsheet.html)\n")
    assert _sharpe() == pytest.approx(9.2523, abs=1e-4)
    for name in FILES:
        assert (out / name).is_file(), name
    assert (out / "equity.csv").read_text(encoding="utf-8") == EQUITY_CSV
    assert (out / "trades.csv").read_text(encoding="utf-8") == TRADES_CSV
    assert (out / "orders.csv").read_text(encoding="utf-8") == ORDERS_CSV
    assert (out / "signals.csv").read_text(encoding="utf-8") == (
        "date,code,name,score\n2024-03-04,600000,,2.000000\n2024-03-04,000001,,1.000000\n")
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["total_return"] == pytest.approx(0.068038, abs=1e-10)
    assert m["max_drawdown"] == pytest.approx(106803.8 / 107827 - 1, abs=1e-10)
    assert m["trades"] == 1 and m["win_rate"] == 1.0 and m["avg_holding_sessions"] == 2.0
    assert m["fees"] == {"commission": 26.71, "stamp_duty": 28.42, "transfer_fee": 1.07,
                         "total": 56.2}
    assert m["rejections"]["limit_up_sealed"] == 1 and m["fill_rate"] == pytest.approx(2 / 3)
    assert m["profit_factor"] is None
    assert m["undefined"] == {"profit_factor": "no losing round trip"}
    cfg = (out / "config.toml").read_text(encoding="utf-8")
    assert 'path = "../panel.csv"' in cfg and 'marks = "../marks.csv"' in cfg
    html = (out / "tearsheet.html").read_text(encoding="utf-8")
    assert "limit_up_sealed" in html


def test_outputs_are_byte_identical_across_runs(toy, capsys):
    a, b = toy.parent / "a", toy.parent / "b"
    assert main(["backtest", str(toy), "--out", str(a)]) == 0
    assert main(["backtest", str(toy), "--out", str(b)]) == 0
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # the resolved config re-runs to the same results
    c = toy.parent / "c"
    assert main(["backtest", str(a / "config.toml"), "--out", str(c)]) == 0
    for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json"):
        assert (a / name).read_bytes() == (c / name).read_bytes(), name


def test_no_report_writes_everything_but_the_tearsheet(toy, capsys):
    """--no-report and [report] tearsheet = false: the same files, byte for byte, without
    tearsheet.html (a tearsheet left from an earlier run is removed with the old outputs)."""
    full, lean, cfg_off = toy.parent / "full", toy.parent / "lean", toy.parent / "off"
    assert main(["backtest", str(toy), "--out", str(full)]) == 0
    assert main(["backtest", str(toy), "--out", str(lean)]) == 0       # an earlier full run
    assert (lean / "tearsheet.html").exists()
    capsys.readouterr()
    assert main(["backtest", str(toy), "--out", str(lean), "--no-report"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("benchmark.csv study_marks.csv trade_bars.csv mood.csv)\n")
    assert not (lean / "tearsheet.html").exists()
    for name in FILES[:-1]:
        assert (lean / name).read_bytes() == (full / name).read_bytes(), name
    off = toy.parent / "off.toml"
    off.write_text(CONFIG + "[report]\ntearsheet = false\n", encoding="utf-8")
    assert main(["backtest", str(off), "--out", str(cfg_off)]) == 0
    assert not (cfg_off / "tearsheet.html").exists()
    resolved = (cfg_off / "config.toml").read_text(encoding="utf-8")
    assert "[report]\ntearsheet = false\n" in resolved
    assert "[report]" not in (full / "config.toml").read_text(encoding="utf-8")
    for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json", "signals.csv"):
        assert (cfg_off / name).read_bytes() == (full / name).read_bytes(), name
    # the resolved config keeps the setting when re-run
    again = toy.parent / "again"
    assert main(["backtest", str(cfg_off / "config.toml"), "--out", str(again)]) == 0
    assert not (again / "tearsheet.html").exists()


def test_quantstats_report_on_request(toy, capsys):
    """--quantstats and [report] quantstats = true append quantstats' report to the page and
    leave every other file as the default run writes it; the resolved config keeps the key."""
    plain, flag, keyed = toy.parent / "plain", toy.parent / "flag", toy.parent / "keyed"
    assert main(["backtest", str(toy), "--out", str(plain)]) == 0
    assert main(["backtest", str(toy), "--out", str(flag), "--quantstats"]) == 0
    on = toy.parent / "qs.toml"
    on.write_text(CONFIG + "[report]\nquantstats = true\n", encoding="utf-8")
    assert main(["backtest", str(on), "--out", str(keyed)]) == 0
    assert "Key Performance Metrics" not in (plain / "tearsheet.html").read_text(encoding="utf-8")
    for folder in (flag, keyed):
        assert "Key Performance Metrics" in (folder / "tearsheet.html").read_text(encoding="utf-8")
        resolved = (folder / "config.toml").read_text(encoding="utf-8")
        assert "[report]\ntearsheet = true\nquantstats = true\n" in resolved
        for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json", "signals.csv"):
            assert (folder / name).read_bytes() == (plain / name).read_bytes(), name
    capsys.readouterr()
    assert main(["report", str(plain), "--quantstats"]) == 0
    assert "Key Performance Metrics" in (plain / "tearsheet.html").read_text(encoding="utf-8")


def test_default_out_dir(toy, capsys, monkeypatch):
    monkeypatch.chdir(toy.parent)
    assert main(["backtest", "toy.toml"]) == 0
    assert (toy.parent / "runs" / "toy" / "equity.csv").read_text(encoding="utf-8") == EQUITY_CSV
    assert "  outputs       runs/toy/ (" in capsys.readouterr().out


@pytest.mark.parametrize("patch, expected", [
    (("position_size = 0.5", "position_sise = 0.5"),
     'unknown key [portfolio] position_sise (did you mean "position_size"?)'),
    (("position_size = 0.5", "position_size = 2"),
     "[portfolio] position_size = 2.0: expected a value in 0.0 .. 1.0"),
    (("marks.csv", "bad_marks.csv"), "bad_marks.csv row 2: code 600001 is not in the market data"),
    (("[portfolio]", "[portfolio\n"), "TOML syntax error"),
    (("[portfolio]", "[report]\ntearsheet = 1\n[portfolio]"),
     "[report] tearsheet = 1: expected true or false"),
    (("[portfolio]", "[report]\nquantstats = \"yes\"\n[portfolio]"),
     "[report] quantstats = 'yes': expected true or false"),
    (("[portfolio]", "[report]\ntearsheets = false\n[portfolio]"),
     'unknown key [report] tearsheets (did you mean "tearsheet"?)'),
])
def test_bad_config_exits_2_naming_the_key(toy, capsys, patch, expected):
    (toy.parent / "bad_marks.csv").write_text("date,code\n2024-03-04,600001\n", encoding="utf-8")
    toy.write_text(CONFIG.replace(*patch), encoding="utf-8")
    out = toy.parent / "out"
    assert main(["backtest", str(toy), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Error: ") and captured.err.count("\n") == 1
    assert expected in captured.err
    assert not out.exists()


def test_missing_config_exits_2(tmp_path, capsys):
    assert main(["backtest", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err == f"Error: config file not found: {tmp_path / 'none.toml'}\n"


def test_demo_marks_config_runs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["backtest", str(REPO / "configs" / "demo_marks.toml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == f"Backtest {REPO / 'configs' / 'demo_marks.toml'}"
    assert lines[1] == "  SYNTHETIC demo market: invented companies and prices, not real data."
    assert lines[2] == "  period        2024-01-02 .. 2024-12-31 (242 sessions)"
    assert lines[3] == "  marks         32 used"
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["trades"] > 0 and m["rejections"]["limit_up_sealed"] > 0
    assert f"total return  {m['total_return'] * 100:+.2f}%" in text
    assert "SYNTHETIC" in (out / "tearsheet.html").read_text(encoding="utf-8")


def test_real_doubao_config_runs(shared_data, tmp_path, capsys):
    out = tmp_path / "doubao"
    assert main(["backtest", str(REPO / "configs" / "real_doubao.toml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" not in text
    assert "  period        2024-11-01 .. 2025-02-28 (79 sessions)\n" in text
    assert "  marks         13 used\n" in text
    orders = (out / "orders.csv").read_text(encoding="utf-8").splitlines()
    first_day = [line for line in orders[1:] if line.startswith("2024-12-16,")]
    assert len(first_day) == 13 and all(",buy," in line for line in first_day)
    # 居然智家 opened sealed at its limit-up on 2024-12-16 (一字板): the buy is rejected
    assert "2024-12-16,000785,buy,0,5.21,rejected,limit_up_sealed" in orders
    assert any(line.startswith("2024-12-16,002354,buy,") and ",filled," in line
               for line in first_day)


def test_articles_config_reports_ignored_marks(toy, capsys):
    """Marks from articles: one outside the period and one on a stock the panel lacks are
    ignored and counted; the remaining mark replays the hand ledger above."""
    folder = toy.parent
    (folder / "names.csv").write_text("code,name\n600000,浦发银行\n000001,平安银行\n"
                                      "600519,贵州茅台\n", encoding="utf-8")
    (folder / "news.jsonl").write_text(
        '{"id": "t1", "published": "2024-03-03T20:00:00+08:00", "title": "银行股异动", '
        '"body": "3月1日，浦发银行、贵州茅台涨停，市场情绪高涨。", "source": "test"}\n'
        '{"id": "t2", "published": "2024-03-08T20:00:00+08:00", "title": "平安银行涨停", '
        '"body": "平安银行涨停。", "source": "test"}\n', encoding="utf-8")
    cfg = folder / "art.toml"
    cfg.write_text(CONFIG.replace('marks = "marks.csv"', 'articles = "news.jsonl"')
                   .replace('path = "panel.csv"', 'path = "panel.csv"\nnames = "names.csv"'),
                   encoding="utf-8")
    out = folder / "art"
    assert main(["backtest", str(cfg), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert ("  marks         1 used, 1 outside the period (ignored), 1 on stocks not in the "
            "market data (ignored)\n") in text
    assert "  rejections    none\n" in text
    assert (out / "equity.csv").read_text(encoding="utf-8") == EQUITY_CSV
    assert (out / "trades.csv").read_text(encoding="utf-8") == TRADES_CSV
    signals = (out / "signals.csv").read_text(encoding="utf-8").splitlines()
    assert signals[0].startswith("date,code,name,score,")
    assert signals[1].startswith("2024-03-04,600000,浦发银行,")
    assert ",t1,银行股异动," in signals[1] and len(signals) == 2


def test_out_is_a_file_exits_2(toy, capsys):
    target = toy.parent / "taken"
    target.write_text("mine\n", encoding="utf-8")
    assert main(["backtest", str(toy), "--out", str(target)]) == 2
    assert capsys.readouterr().err == (f"Error: output folder {target} exists and is not a "
                                       "folder; choose another --out\n")
    assert target.read_text(encoding="utf-8") == "mine\n"


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_failing_rerun_leaves_the_previous_run_folder_byte_identical(toy, capsys, monkeypatch):
    out = toy.parent / "out"
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    before = _tree(out)
    from backtests.report import outputs

    def half_written(run_dir, **kwargs):
        (Path(run_dir) / "tearsheet.html").write_text("<html>partial", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "write_tearsheet", half_written)
    (toy.parent / "marks.csv").write_text("date,code\n", encoding="utf-8")   # other results
    capsys.readouterr()
    assert main(["backtest", str(toy), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"Error: cannot write the run folder {out}: "
                                       "No space left on device (disk full: free some space "
                                       "and run again)\n")
    assert _tree(out) == before
    assert _hidden(toy.parent) == []


def test_rerun_replaces_every_output_and_keeps_other_files(toy, capsys):
    out, fresh = toy.parent / "out", toy.parent / "fresh"
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "sub").mkdir()
    (out / "sub" / "x.txt").write_text("x", encoding="utf-8")
    (toy.parent / "marks.csv").write_text("date,code\n", encoding="utf-8")   # a flat run now
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    assert main(["backtest", str(toy), "--out", str(fresh)]) == 0
    got = _tree(out)
    assert got.pop("notes.txt") == b"mine" and got.pop("sub/x.txt") == b"x"
    assert got == _tree(fresh)
    assert (out / "trades.csv").read_text(encoding="utf-8") == TRADES_CSV.splitlines()[0] + "\n"
    assert _hidden(toy.parent) == []


def test_rerun_into_the_same_folder_is_byte_identical(toy, capsys):
    out = toy.parent / "out"
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    first = _tree(out)
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    assert _tree(out) == first and sorted(first) == sorted(FILES)


def test_out_is_a_folder_of_other_files_exits_2(toy, capsys):
    target = toy.parent / "docs"
    target.mkdir()
    (target / "report.docx").write_text("mine", encoding="utf-8")
    assert main(["backtest", str(toy), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: output folder {target} is not empty and holds no hypebt "
                          "outputs (none of benchmark.csv, credits.csv, equity.csv"), err
    assert "choose a new or empty folder for --out" in err
    assert [p.name for p in target.iterdir()] == ["report.docx"]
    assert _hidden(toy.parent) == []


def test_out_may_be_an_empty_folder_or_a_link_to_a_run_folder(toy, capsys):
    empty = toy.parent / "empty"
    empty.mkdir()
    assert main(["backtest", str(toy), "--out", str(empty)]) == 0
    link = toy.parent / "link"
    link.symlink_to(empty, target_is_directory=True)
    assert main(["backtest", str(toy), "--out", str(link)]) == 0
    assert link.is_symlink() and sorted(_tree(link)) == sorted(FILES)


def test_marks_file_not_utf8_names_the_byte(toy, capsys):
    marks = toy.parent / "marks.csv"
    marks.write_bytes("date,code,score,名称\n2024-03-04,600000,2,浦发银行\n".encode("gbk"))
    assert main(["backtest", str(toy), "--out", str(toy.parent / "out")]) == 2
    # "date,code,score," is 16 bytes: the first GBK byte is byte 16 (counting from 0)
    assert capsys.readouterr().err == (f"Error: marks file {marks} is not UTF-8 text (byte 16); "
                                       "save it as UTF-8\n")
    assert not (toy.parent / "out").exists()


def test_marks_file_not_utf8_late_in_a_large_file(toy, capsys):
    """pandas decodes in chunks; the byte is still counted from the start of the file."""
    marks = toy.parent / "marks.csv"
    head = "date,code,score\n" + "2024-03-04,600000,2\n" * 20000
    marks.write_bytes(head.encode() + "2024-03-04,000001,1,银行\n".encode("gbk"))
    assert main(["backtest", str(toy), "--out", str(toy.parent / "out")]) == 2
    offset = len(head) + len("2024-03-04,000001,1,")
    assert f"is not UTF-8 text (byte {offset}); save it as UTF-8" in capsys.readouterr().err


def test_marks_file_empty(toy, capsys):
    marks = toy.parent / "marks.csv"
    marks.write_bytes(b"")
    assert main(["backtest", str(toy), "--out", str(toy.parent / "out")]) == 2
    assert capsys.readouterr().err == (f"Error: marks file {marks} is empty: expected a header "
                                       "date,code[,score]\n")


def test_no_marks_runs_flat_with_documented_nulls(toy, capsys):
    (toy.parent / "marks.csv").write_text("date,code\n", encoding="utf-8")
    out = toy.parent / "flat"
    assert main(["backtest", str(toy), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert ("  trades        0 round trips; 0 fills of 0 orders (fill rate n/a); "
            "0 positions open at the end\n") in text
    assert "  Sharpe        n/a (zero volatility)\n" in text
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert (m["total_return"], m["cagr"], m["volatility"], m["max_drawdown"]) == (0, 0, 0, 0)
    assert m["undefined"] == {"avg_holding_sessions": "no round trip", "fill_rate": "no order",
                              "profit_factor": "no round trip", "sharpe": "zero volatility",
                              "sortino": "no losing session", "win_rate": "no round trip"}
    assert (out / "orders.csv").read_text(encoding="utf-8") == ORDERS_CSV.splitlines()[0] + "\n"


# ---------------------------------------------------------------- [signals] rule files

NEWS_T1 = ('{"id": "t1", "published": "2024-03-03T20:00:00+08:00", "title": "银行股异动", '
           '"body": "3月1日，浦发银行涨停，市场情绪高涨。", "source": "test"}\n')
# "银行股" in the title makes 银行 the article's theme (the packaged lexicon has no bank theme)
USER_THEMES = '[themes]\n"银行" = ["银行股"]\n'
# 涨停 is worth 0.2 instead of the packaged momentum 1.0: below the default min_score 0.5
USER_ROLES = ('default_role = "plain"\ndefault_weight = 0.1\n'
              '[[role]]\nname = "hype"\nweight = 0.2\npatterns = ["涨停"]\n')


def _rules_config(toy, extra: str) -> Path:
    """The toy market with marks from one article (t1: 浦发银行涨停, entry session 03-04),
    the rule files under rules/ and ``extra`` lines in [signals]."""
    folder = toy.parent
    (folder / "names.csv").write_text("code,name\n600000,浦发银行\n000001,平安银行\n",
                                      encoding="utf-8")
    (folder / "news.jsonl").write_text(NEWS_T1, encoding="utf-8")
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "rules" / "themes.toml").write_text(USER_THEMES, encoding="utf-8")
    (folder / "rules" / "roles.toml").write_text(USER_ROLES, encoding="utf-8")
    (folder / "cfg").mkdir(exist_ok=True)
    cfg = folder / "cfg" / "rules.toml"
    cfg.write_text(CONFIG.replace('marks = "marks.csv"', 'articles = "../news.jsonl"\n' + extra)
                   .replace('path = "panel.csv"', 'path = "../panel.csv"\nnames = "../names.csv"'),
                   encoding="utf-8")
    return cfg


def _signals(out: Path) -> list[dict[str, str]]:
    lines = (out / "signals.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def test_user_themes_file_sets_the_theme_column(toy, capsys):
    out = toy.parent / "packaged"
    assert main(["backtest", str(_rules_config(toy, "")), "--out", str(out)]) == 0
    [mark] = _signals(out)
    assert (mark["code"], mark["theme"], mark["theme_heat"], mark["role"], mark["score"]) == \
        ("600000", "", "0", "momentum", "1.000000")
    mine = toy.parent / "mine"
    cfg = _rules_config(toy, 'themes_file = "../rules/themes.toml"\n')
    assert main(["backtest", str(cfg), "--out", str(mine)]) == 0
    [mark] = _signals(mine)
    assert (mark["code"], mark["theme"], mark["theme_heat"], mark["role"], mark["score"]) == \
        ("600000", "银行", "1", "momentum", "1.000000")
    # only the marks' theme changed: the ledger is the hand ledger
    assert (mine / "trades.csv").read_text(encoding="utf-8") == TRADES_CSV
    assert 'themes_file = "../rules/themes.toml"' in (mine / "config.toml").read_text("utf-8")


def test_user_role_rules_move_a_mark_across_min_score(toy, capsys):
    weak = toy.parent / "weak"
    cfg = _rules_config(toy, 'role_rules = "../rules/roles.toml"\n')
    assert main(["backtest", str(cfg), "--out", str(weak)]) == 0
    assert "  marks         0 used\n" in capsys.readouterr().out
    assert _signals(weak) == []
    assert (weak / "trades.csv").read_text(encoding="utf-8") == TRADES_CSV.splitlines()[0] + "\n"
    # the same mark passes a threshold of 0.2 (0.2 = the file's hype weight; not in the title)
    passed = toy.parent / "passed"
    cfg = _rules_config(toy, 'role_rules = "../rules/roles.toml"\nmin_score = 0.2\n'
                             'roles = ["hype"]\n')
    assert main(["backtest", str(cfg), "--out", str(passed)]) == 0
    [mark] = _signals(passed)
    assert (mark["date"], mark["code"], mark["role"], mark["score"]) == \
        ("2024-03-04", "600000", "hype", "0.200000")
    assert (passed / "trades.csv").read_text(encoding="utf-8") == TRADES_CSV


def test_rule_files_round_trip_through_the_run_folder(toy, capsys):
    cfg = _rules_config(toy, 'themes_file = "../rules/themes.toml"\n'
                             'role_rules = "../rules/roles.toml"\nmin_score = 0.2\n')
    a, b, c = (toy.parent / "runs" / n for n in "abc")
    assert main(["backtest", str(cfg), "--out", str(a)]) == 0
    assert main(["backtest", str(cfg), "--out", str(b)]) == 0
    assert main(["backtest", str(a / "config.toml"), "--out", str(c)]) == 0
    text = (a / "config.toml").read_text(encoding="utf-8")
    assert ('articles = [\n    "../../news.jsonl",\n]\nthemes_file = "../../rules/themes.toml"\n'
            'role_rules = "../../rules/roles.toml"\nmin_score = 0.2\nroles = [\n    "hype",\n'
            '    "plain",\n]\n') in text
    assert "matching_file" not in text
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        assert (a / name).read_bytes() == (c / name).read_bytes(), name
    [mark] = _signals(c)
    assert (mark["theme"], mark["role"], mark["score"]) == ("银行", "hype", "0.200000")


@pytest.mark.parametrize("extra, expected", [
    ('themes_file = "../rules/nothere.toml"\n',
     "[signals] themes_file = '../rules/nothere.toml': file not found ("),
    ('role_rules = "../rules/themes.toml"\n',
     "[signals] role_rules = '../rules/themes.toml': not a valid role rules file (the layout of "
     "signals/roles.toml): {rules}/themes.toml: unknown key 'themes'"),
    ('matching_file = "../rules/roles.toml"\n',
     "[signals] matching_file = '../rules/roles.toml': not a valid name-matching rules file"),
    ('themes = "../rules/themes.toml"\n',
     'unknown key [signals] themes (did you mean "themes_file"?)'),
    ('role_rules = "../rules/roles.toml"\nroles = ["momentum"]\n',
     "[signals] roles = 'momentum': expected one of 'hype', 'plain'"),
])
def test_bad_rule_file_exits_2_naming_the_key(toy, capsys, extra, expected):
    cfg = _rules_config(toy, extra)
    out = toy.parent / "out"
    assert main(["backtest", str(cfg), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"Error: {cfg}: ") and captured.err.count("\n") == 1
    assert expected.format(rules=toy.parent / "rules") in captured.err
    assert not out.exists()


def test_grid_and_crosscheck_use_the_rule_files(toy, capsys):
    """A grid config's [signals] rule files reach every signal group (load_marks), and
    crosscheck runs both engines on the marks they give."""
    import csv

    cfg = _rules_config(toy, 'role_rules = "../rules/roles.toml"\n')
    cfg.write_text(cfg.read_text(encoding="utf-8") + "[grid]\nmin_score = [0.2, 0.5]\n",
                   encoding="utf-8")
    out = toy.parent / "grid"
    assert main(["grid", str(cfg), "--out", str(out)]) == 0
    with open(out / "grid.csv", encoding="utf-8") as fh:
        rows = {float(r["min_score"]): r for r in csv.DictReader(fh)}
    # the hype mark scores 0.2: traded at min_score 0.2 (the hand ledger), dropped at 0.5
    assert rows[0.2]["trades"] == "1" and rows[0.2]["final_equity"] == "106803.8"
    assert rows[0.5]["trades"] == "0" and rows[0.5]["final_equity"] == "100000.0"
    capsys.readouterr()
    assert main(["crosscheck", str(cfg)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("crosscheck OK: 2 parameter set(s)")


def test_grid_roles_axis_names_roles_of_the_users_role_rules(toy, capsys):
    """With [signals] role_rules, a [grid] roles axis is checked against that file's roles:
    ["hype"] is a valid set, a packaged-only role is refused with the key named."""
    import csv

    cfg = _rules_config(toy, 'role_rules = "../rules/roles.toml"\nmin_score = 0.2\n')
    base = cfg.read_text(encoding="utf-8")
    cfg.write_text(base + '[grid]\nroles = [["hype"], ["plain"]]\n', encoding="utf-8")
    out = toy.parent / "grid-roles"
    assert main(["grid", str(cfg), "--out", str(out)]) == 0
    with open(out / "grid.csv", encoding="utf-8") as fh:
        trades = sorted(r["trades"] for r in csv.DictReader(fh))
    assert trades == ["0", "1"]  # the hype mark trades; with only "plain" there is no mark
    capsys.readouterr()
    cfg.write_text(base + '[grid]\nroles = [["momentum"]]\n', encoding="utf-8")
    assert main(["grid", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "roles" in err and "momentum" in err


def test_no_report_never_imports_quantstats_or_matplotlib(toy, tmp_path):
    """metrics.json comes from the numba statistics: a run without a tearsheet does not pay
    for importing the plotting stack."""
    import os
    import subprocess
    import sys

    code = ("import sys\nfrom backtests.cli.main import main\n"
            f"assert main(['backtest', {str(toy)!r}, '--out', {str(tmp_path / 'o')!r}, "
            "'--no-report']) == 0\n"
            "print(sorted(m for m in ('quantstats', 'matplotlib', 'scipy.stats') "
            "if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"
