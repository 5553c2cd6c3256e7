"""Bad input through the whole CLI: every case must end in one ``Error: ...`` line naming the
file, row, field or option and exit code 2 -- never a traceback (exit 1) or a silent wrong answer.

Each test drives ``backtests.cli.main.main`` in-process with small inputs built in code.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from backtests.cli import main as cli

README = Path(__file__).resolve().parents[1] / "README.md"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    """Exit 2, no traceback, and every needle in the one ``Error:`` message."""
    assert "Traceback" not in err, err
    assert code == 2, err
    assert err.startswith("Error: "), err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


# ---------------------------------------------------------------- every command documented

def test_every_command_has_help_and_is_documented():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub._choices_actions}
    readme = README.read_text(encoding="utf-8")
    assert set(sub.choices) == set(cli.COMMANDS)
    for name in cli.COMMANDS:
        module = cli._load(name)
        assert isinstance(module.HELP, str) and module.HELP.strip(), name
        assert helps[name] == module.HELP
        documented = (re.search(rf"^### .*\b{name}\b", readme, re.MULTILINE)
                      or f"`hypebt {name}" in readme or f"`{name}`" in readme)
        assert documented, f"command {name} is not documented in README.md"


# ---------------------------------------------------------------- hypebt report

def _run_folder(path: Path) -> Path:
    """The smallest run folder the tearsheet reads: three sessions of equity."""
    path.mkdir()
    (path / "equity.csv").write_text(
        "date,cash,market_value,equity\n2024-01-02,100.0,0.0,100.0\n"
        "2024-01-03,50.0,52.0,102.0\n2024-01-04,50.0,51.0,101.0\n", encoding="utf-8")
    return path


def test_report_benchmark_missing_names_the_option(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    code, _, err = run_cli(capsys, "report", run, "--benchmark", tmp_path / "nope.csv")
    assert_user_error(code, err, "benchmark", "nope.csv", "not found")
    assert "run folder needs" not in err


def test_report_benchmark_is_a_directory(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    (tmp_path / "bdir").mkdir()
    code, _, err = run_cli(capsys, "report", run, "--benchmark", tmp_path / "bdir")
    assert_user_error(code, err, "bdir", "directory")


def test_report_benchmark_non_numeric_names_row_and_value(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    bench = tmp_path / "b.csv"
    bench.write_text("date,close\n2024-01-02,100\n2024-01-03,abc\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "report", run, "--benchmark", bench)
    assert_user_error(code, err, "b.csv", "row 3", "close", "'abc'")


def test_report_benchmark_bad_date_names_row(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    bench = tmp_path / "b.csv"
    bench.write_text("date,return\n2024-01-02,0.0\n2024-13-01,0.1\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "report", run, "--benchmark", bench)
    assert_user_error(code, err, "b.csv", "row 3", "'2024-13-01'")


def test_report_benchmark_without_overlap_is_an_error_not_a_flat_line(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    bench = tmp_path / "b.csv"
    bench.write_text("date,close\n2020-01-02,100\n2020-01-03,101\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "report", run, "--benchmark", bench)
    assert_user_error(code, err, "b.csv", "2020-01-02", "2024-01-02")
    assert not (run / "tearsheet.html").exists()


def test_report_on_a_file(tmp_path, capsys):
    f = tmp_path / "f.txt"
    f.write_text("x", encoding="utf-8")
    code, _, err = run_cli(capsys, "report", f)
    assert_user_error(code, err, "f.txt", "not a run folder")


def test_report_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "report", tmp_path / "empty")
    assert_user_error(code, err, "equity.csv", "not found")


def test_report_run_file_that_is_a_directory(tmp_path, capsys):
    run = _run_folder(tmp_path / "run")
    (run / "trades.csv").mkdir()
    code, _, err = run_cli(capsys, "report", run)
    assert_user_error(code, err, "trades.csv", "directory")


# ---------------------------------------------------------------- hypebt signals

ARTICLE = '{"title": "演示", "published": "2024-02-26 08:00", "body": "演示科技 涨停"}'


@pytest.mark.parametrize("suffix, text", [
    (".jsonl", ARTICLE + "\n"),
    (".json", ARTICLE),
    (".csv", "published,title,body\n2024-02-26 08:00,演示,演示科技 涨停\n"),
    (".md", "# 演示\n**时间**: 2024-02-26 08:00\n\n演示科技 涨停\n"),
], ids=["jsonl", "json", "csv", "md"])
def test_signals_gbk_article_file_is_a_clear_error(tmp_path, capsys, suffix, text):
    f = tmp_path / f"gbk{suffix}"
    f.write_bytes(text.encode("gbk"))
    code, _, err = run_cli(capsys, "signals", f)
    assert_user_error(code, err, f"gbk{suffix}", "not UTF-8", "save it as UTF-8")


@pytest.mark.parametrize("option", ["--themes", "--role-rules", "--matching"])
def test_signals_rule_file_not_utf8_or_a_directory(tmp_path, capsys, option):
    f = tmp_path / "rules.toml"
    f.write_bytes("[themes]\n算力 = [\"服务器\"]\n".encode("gbk"))
    code, _, err = run_cli(capsys, "signals", "demo", option, f)
    assert_user_error(code, err, "rules.toml", "not UTF-8")
    code, _, err = run_cli(capsys, "signals", "demo", option, tmp_path)
    assert_user_error(code, err, str(tmp_path), "directory")


@pytest.mark.parametrize("what", ["missing", "file", "empty dir"])
def test_signals_data_that_is_not_a_store_is_not_silently_ignored(tmp_path, capsys, what):
    path = tmp_path / "store"
    if what == "file":
        path.write_text("x", encoding="utf-8")
    elif what == "empty dir":
        path.mkdir()
    code, out, err = run_cli(capsys, "signals", "demo", "--data", path)
    assert_user_error(code, err, "--data", str(path), "not a hypebt store")
    assert out == ""


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_signals_min_score_not_finite(capsys, value):
    code, _, err = run_cli(capsys, "signals", "demo", f"--min-score={value}")
    assert_user_error(code, err, "--min-score", value)


# ---------------------------------------------------------------- hypebt grid --out

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _grid_config(tmp_path: Path, grid: str) -> Path:
    text = (CONFIGS / "demo_grid.toml").read_text(encoding="utf-8")
    path = tmp_path / "g.toml"
    path.write_text(text[:text.index("[grid]")] + "[grid]\n" + grid, encoding="utf-8")
    return path


def test_grid_out_is_a_file(tmp_path, capsys):
    cfg = _grid_config(tmp_path, "max_hold = [2, 5]\n")
    (tmp_path / "taken").write_text("mine", encoding="utf-8")
    code, _, err = run_cli(capsys, "grid", cfg, "--out", tmp_path / "taken", "--no-progress")
    assert_user_error(code, err, "taken", "not a folder")
    assert (tmp_path / "taken").read_text(encoding="utf-8") == "mine"


def test_grid_out_cannot_be_created(tmp_path, capsys):
    cfg = _grid_config(tmp_path, "max_hold = [2, 5]\n")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, _, err = run_cli(capsys, "grid", cfg, "--out", tmp_path / "file" / "sub",
                           "--no-progress")
    assert_user_error(code, err, "cannot write", "sub")


def test_grid_rerun_replaces_the_outputs_of_an_earlier_grid(tmp_path, capsys):
    out = tmp_path / "out"
    two = _grid_config(tmp_path, "max_hold = [2, 5]\nstop_loss = [0.0, 0.08]\n")
    assert run_cli(capsys, "grid", two, "--out", out, "--top", "2", "--no-progress")[0] == 0
    assert (out / "heatmap.png").exists() and len(list((out / "top").iterdir())) == 2
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    one = _grid_config(tmp_path, "max_hold = [3, 4]\n")
    assert run_cli(capsys, "grid", one, "--out", out, "--top", "1", "--no-progress")[0] == 0
    # one parameter: no heatmap; the earlier grid's heatmap and top folders must not linger
    assert not (out / "heatmap.png").exists()
    assert len(list((out / "top").iterdir())) == 1
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_grid_failing_rerun_keeps_the_previous_outputs(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    cfg = _grid_config(tmp_path, "max_hold = [2, 5]\nstop_loss = [0.0, 0.08]\n")
    assert run_cli(capsys, "grid", cfg, "--out", out, "--top", "1", "--no-progress")[0] == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    from backtests.report import grid_page as grid

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(grid, "grid_html", boom)
    code, _, err = run_cli(capsys, "grid", cfg, "--out", out, "--top", "2", "--no-progress")
    assert_user_error(code, err, "cannot write", "No space left on device")
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_grid_rank_by_option_names_the_option(tmp_path, capsys):
    cfg = _grid_config(tmp_path, "max_hold = [2, 5]\n")
    code, _, err = run_cli(capsys, "grid", cfg, "--rank-by", "sharp", "--out", tmp_path / "o",
                           "--no-progress")
    assert_user_error(code, err, "--rank-by sharp: not a metric", 'did you mean "sharpe"',
                      "expected one of total_return, cagr")
    assert "g.toml" not in err and "rank_by =" not in err
    assert not (tmp_path / "o").exists()


def test_grid_rank_by_key_names_the_file_and_key(tmp_path, capsys):
    cfg = _grid_config(tmp_path, 'max_hold = [2, 5]\nrank_by = "sortin"\n')
    code, _, err = run_cli(capsys, "grid", cfg, "--out", tmp_path / "o", "--no-progress")
    assert_user_error(code, err, f"{cfg}: [grid] rank_by = 'sortin': not a metric",
                      'did you mean "sortino"', "expected one of total_return, cagr")
    assert "--rank-by" not in err


def test_grid_out_folder_of_other_files_is_refused(tmp_path, capsys):
    cfg = _grid_config(tmp_path, "max_hold = [2, 5]\n")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "thesis.tex").write_text("mine", encoding="utf-8")
    code, _, err = run_cli(capsys, "grid", cfg, "--out", tmp_path / "o", "--no-progress")
    assert_user_error(code, err, "is not empty and holds no hypebt outputs", "grid.csv")
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["thesis.tex"]


# ---------------------------------------------------------------- hypebt data import

PANEL_HEADER = "code,date,open,high,low,close,volume,amount\n"
PANEL_ROWS = ("002354,20240719,5.0,5.2,4.9,5.1,1000,5100\n"
              "002354,20240722,5.1,5.3,5.0,5.2,1000,5200\n")


def test_data_import_drop_bad_skips_a_cell_that_is_not_a_number(tmp_path, capsys):
    panel = tmp_path / "p.csv"
    panel.write_text(PANEL_HEADER + PANEL_ROWS + "002354,20240723,abc,5.3,5.0,5.2,1000,5200\n",
                     encoding="utf-8")
    store = tmp_path / "store"
    code, _, err = run_cli(capsys, "data", "import", panel, "--store", store)
    assert_user_error(code, err, "p.csv", "line 4", "open='abc'")
    code, out, err = run_cli(capsys, "data", "import", panel, "--store", store, "--drop-bad")
    assert code == 0, err
    assert "dropped 1 bad rows: number 1" in out + err
    from backtests.data.store import Store
    frame = Store.open(store).read_bars("002354").frame
    assert [str(d)[:10] for d in frame["date"]] == ["2024-07-19", "2024-07-22"]


def test_data_import_a_directory(tmp_path, capsys):
    code, _, err = run_cli(capsys, "data", "import", tmp_path, "--store", tmp_path / "s")
    assert_user_error(code, err, str(tmp_path), "is a directory", "CSV")
    assert "read_panel" not in err and "load_market" not in err


def test_signals_jsonl_with_one_bad_line(tmp_path, capsys):
    f = tmp_path / "a.jsonl"
    f.write_text(ARTICLE + "\n{bad\n" + ARTICLE.replace("演示\"", "演示二\"") + "\n",
                 encoding="utf-8")
    code, _, err = run_cli(capsys, "signals", f)
    assert_user_error(code, err, "a.jsonl", "line 2", "not valid JSON")
    # --skip-bad skips the unreadable line, reads the others and says so in the notes
    code, out, err = run_cli(capsys, "signals", f, "--skip-bad", "--format", "json")
    assert code == 0, err
    import json
    doc = json.loads(out)
    assert any("line 2 is not valid JSON" in n for n in doc["notes"])
    code, out, err = run_cli(capsys, "signals", f, "--skip-bad")
    assert code == 0 and " in 2 article(s)" in out, out + err


def test_signals_published_as_a_yyyymmdd_number_is_that_date(tmp_path, capsys):
    # a JSON number 20240226 (spreadsheet/pandas exports) is the date, as the text "20240226"
    # is -- not 20,240,226 seconds after 1970
    f = tmp_path / "a.json"
    f.write_text('{"title": "演示", "published": 20240226, "body": "演示"}', encoding="utf-8")
    code, out, err = run_cli(capsys, "signals", f, "--format", "json")
    assert code == 0, err
    assert "1970" not in out + err
    g = tmp_path / "b.json"
    g.write_text('{"title": "演示", "published": "20240226", "body": "演示"}', encoding="utf-8")
    assert run_cli(capsys, "signals", g, "--format", "json")[1] == out.replace("a.json", "b.json")
    assert "bare date 2024-02-26" in out


# ---------------------------------------------------------------- hypebt data info: damaged store

def _store(tmp_path: Path, capsys) -> Path:
    panel = tmp_path / "p.csv"
    panel.write_text(PANEL_HEADER + PANEL_ROWS, encoding="utf-8")
    store = tmp_path / "store"
    assert run_cli(capsys, "data", "import", panel, "--store", store)[0] == 0
    return store


@pytest.mark.parametrize("damage", [b"", b"not parquet at all"], ids=["empty", "garbage"])
def test_data_info_damaged_bars_file(tmp_path, capsys, damage):
    store = _store(tmp_path, capsys)
    (store / "bars" / "002354.parquet").write_bytes(damage)
    code, _, err = run_cli(capsys, "data", "info", "--store", store)
    assert_user_error(code, err, "002354.parquet", "cannot be read")


@pytest.mark.parametrize("manifest", ["{bad", '{"format": "other"}', "[]"],
                         ids=["not json", "other format", "a list"])
def test_data_info_damaged_manifest_says_so(tmp_path, capsys, manifest):
    store = _store(tmp_path, capsys)
    (store / "manifest.json").write_text(manifest, encoding="utf-8")
    code, _, err = run_cli(capsys, "data", "info", "--store", store)
    assert_user_error(code, err, "manifest.json", "not a hypebt store manifest")
    assert "no manifest.json" not in err


@pytest.mark.parametrize("where", ["option", "config"])
def test_grid_negative_seed(tmp_path, capsys, where):
    if where == "option":
        cfg = _grid_config(tmp_path, "max_hold = [2, 5]\n")
        argv = ["--sample", "1", "--seed=-1"]
    else:
        cfg = _grid_config(tmp_path, "max_hold = [2, 5]\nsample = 1\nseed = -1\n")
        argv = []
    code, _, err = run_cli(capsys, "grid", cfg, *argv, "--out", tmp_path / "o", "--no-progress")
    assert_user_error(code, err, "seed", "-1", ">= 0")
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- hypebt backtest: parameter ranges

@pytest.mark.parametrize("line, needle", [
    ("cash = inf", "[portfolio] cash = inf: expected a finite number"),
    ("cash = 0.0", "[portfolio] cash = 0.0: expected a value in 0.01 .. 1e+12"),
    ("fixed_cash = nan", "[portfolio] fixed_cash = nan: expected a finite number"),
])
def test_backtest_portfolio_money_must_be_finite_and_positive(tmp_path, capsys, line, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[data]\npath = "demo"\n[signals]\narticles = ["demo"]\n[portfolio]\n{line}\n',
                   encoding="utf-8")
    code, _out, err = run_cli(capsys, "backtest", cfg, "--out", tmp_path / "out")
    assert_user_error(code, err, str(cfg), needle)
    assert not (tmp_path / "out").exists()


def test_backtest_integer_parameter_beyond_the_engine_range(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\npath = "demo"\n[signals]\narticles = ["demo"]\n'
                   '[strategy]\nmax_positions = 100000000000000000000\n', encoding="utf-8")
    code, _out, err = run_cli(capsys, "backtest", cfg, "--out", tmp_path / "out")
    assert_user_error(code, err, "[strategy] max_positions = 100000000000000000000: "
                                 "expected a value in 1 .. 2147483647")


# ---------------------------------------------------------------- data warnings

def test_data_warning_is_one_warning_line_for_any_command(tmp_path, capsys):
    """A bar beyond its computed limit does not stop `scan`, but the user is told, once, in
    plain words (no source location, no Python warning format)."""
    panel = tmp_path / "panel.csv"
    panel.write_text("code,date,open,high,low,close,volume,amount\n"
                     "600000,20240102,10.00,10.00,10.00,10.00,100,1000\n"
                     "600000,20240103,10.50,11.50,10.50,11.50,100,1000\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "scan", "--date", "2024-01-03", "--data", panel)
    assert code == 0, err
    assert err.count("Warning: ") == 1 and "UserWarning" not in err and "warnings.warn" not in err
    assert "1 bar(s) on 1 stock(s) trade outside the price limits" in err
    assert "Limit-up board 2024-01-03" in out
