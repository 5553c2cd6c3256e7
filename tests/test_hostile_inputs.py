"""Hostile and careless inputs through every command: each case must end with exit code 2,
exactly one ``Error:`` line naming the right file, option, row or field, no traceback, and
nothing previously written changed (the whole working folder is compared byte for byte: an
earlier run folder with a user's notes, an earlier grid folder, a store, the inputs).

Cases are tables of real, distinct inputs: damaged files (truncated or corrupted gzip, GBK bytes,
UTF-16, NUL bytes, Parquet garbage), rows breaking each data rule, absurd numbers (1e15 prices,
inf, 1e300 cash), configs with every kind of wrong value, article files of the wrong JSON shape
or field types, run folders edited by hand, stores damaged on disk, and operating-system
failures (no permission, read-only file system, disk full) injected where the file is touched.
Everything runs in-process (``backtests.cli.main``) on a tiny market built here.
"""
from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import pytest

from backtests.cli import main as cli

H = "code,date,open,high,low,close,volume,amount\n"
ROWS = ("000001,2024-12-02,10.00,10.50,9.90,10.20,100000,1020000\n"
        "000001,2024-12-03,10.20,11.22,10.10,11.22,200000,2200000\n"
        "000001,2024-12-04,11.22,11.50,11.00,11.10,150000,1665000\n"
        "300750,2024-12-02,200.0,205.0,198.0,204.0,50000,10200000\n"
        "300750,2024-12-03,204.0,210.0,200.0,208.0,60000,12480000\n"
        "300750,2024-12-04,208.0,212.0,205.0,206.0,55000,11330000\n")
GOOD_PANEL = (H + ROWS).encode()


def _cfg(path: str, *, extra: str = "", marks: str = "marks.csv", grid: str = "") -> str:
    return (f'[data]\npath = "{path}"\n\n[signals]\nmarks = "{marks}"\n\n'
            f'[strategy]\nname = "theme_hype"\nmax_hold = 2\n{extra}'
            + (f"\n[grid]\n{grid}" if grid else ""))


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A working folder holding inputs and outputs of earlier runs."""
    from backtests.data.store import import_panel

    w = tmp_path / "w"
    w.mkdir()
    (w / "panel.csv").write_bytes(GOOD_PANEL)
    (w / "names.csv").write_text("code,name\n000001,平安银行\n300750,宁德时代\n", encoding="utf-8")
    (w / "marks.csv").write_text("date,code,score\n2024-12-03,000001,1.0\n", encoding="utf-8")
    (w / "run.toml").write_text(_cfg("panel.csv"), encoding="utf-8")
    (w / "grid.toml").write_text(_cfg("panel.csv", grid="max_hold = [1, 2]\n"), encoding="utf-8")
    (w / "news.jsonl").write_text(json.dumps(
        {"id": "a1", "published": "2024-12-02T09:00:00+08:00", "title": "平安银行涨停",
         "body": "", "source": "x", "url": ""}, ensure_ascii=False) + "\n", encoding="utf-8")
    prev = w / "prev-run"
    prev.mkdir()
    for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json", "config.toml",
                 "tearsheet.html"):
        (prev / name).write_text(f"earlier {name}\n", encoding="utf-8")
    (prev / "notes.txt").write_text("我的笔记: do not lose me\n", encoding="utf-8")
    grid_prev = w / "prev-grid"
    grid_prev.mkdir()
    (grid_prev / "grid.csv").write_text("set,sharpe\n0,1.0\n", encoding="utf-8")
    import_panel(w / "panel.csv", w / "store")
    monkeypatch.chdir(w)
    monkeypatch.delenv("HYPEBT_STORE", raising=False)
    return w


_READ_BYTES = Path.read_bytes


def _snapshot(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if "__pycache__" in rel:
            continue
        out[rel] = None if p.is_dir() else _READ_BYTES(p)  # not the patched one
    return out


def _write(w: Path, files: dict) -> None:
    for name, data in files.items():
        p = w / name
        if data is None:
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def assert_hostile(world: Path, capsys, argv, needles, files=None) -> str:
    """Run ``hypebt *argv`` in ``world`` (after writing ``files``) and check the contract."""
    _write(world, files or {})
    before = _snapshot(world)
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Internal error" not in err, err
    assert code == 2, (code, out, err)
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    assert err.startswith("Error: ") or err.splitlines()[0].startswith("Warning: "), err
    message = err[err.index("Error: "):]
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert _snapshot(world) == before, "a failed command changed files"
    return message


# ---------------------------------------------------------------- damaged panel files
def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _corrupt_gz() -> bytes:
    data = bytearray(_gz((H + ROWS * 40).encode()))
    data[len(data) // 2: len(data) // 2 + 8] = b"\xff" * 8
    return bytes(data)


BAD_PANELS = {
    # id: (bytes, needles beyond the file name)
    "empty": (b"", ["empty"]),
    "blank_line": (b"\n", ["empty"]),
    "header_only": (H.encode(), ["no data rows"]),
    "truncated_gz": (_gz((H + ROWS * 40).encode())[:60], ["ompressed"]),
    "corrupted_gz": (_corrupt_gz(), ["ompressed"]),
    "gz_of_gbk_header": (_gz("代码,日期,开盘\n".encode("gbk")), ["UTF-8"]),
    "gbk_name_column": ((H.strip() + ",name\n" + "000001,2024-12-02,10,10.5,9.9,10.2,100,1000,")
                        .encode() + "平安银行\n".encode("gbk"), ["UTF-8"]),
    "gbk_header": ("股票代码,日期,开盘,最高,最低,收盘,成交量,成交额\n".encode("gbk"), ["UTF-8"]),
    "utf16": ((H + ROWS).encode("utf-16"), ["UTF-8"]),
    "nul_bytes": (b"\x00" * 64, ["code"]),
    "random_binary": (bytes(range(256)) * 4, ["required column"]),
    "parquet_garbage": (b"PAR1" + b"\x00garbage" * 20, ["Parquet"]),
    "missing_close": ((H.replace(",close", "") + "000001,2024-12-02,10,10.5,9.9,100,1000\n")
                      .encode(), ["close"]),
    "short_code": ((H + ROWS.replace("000001", "1", 1)).encode(), ["code", "line 2"]),
    "date_text": ((H + ROWS.replace("2024-12-02", "yesterday", 1)).encode(), ["date", "yesterday"]),
    "weekend": ((H + ROWS.replace("2024-12-02", "2024-12-07", 1)).encode(), ["trading session"]),
    "outside_calendar": ((H + ROWS.replace("2024-12-02", "1980-01-02", 1)).encode(),
                         ["calendar"]),
    "price_text": ((H + ROWS.replace("10.20,100000", "abc,100000", 1)).encode(), ["abc"]),
    "high_below_low": ((H + "000001,2024-12-02,10,9,11,10,100,1000\n").encode(), ["high"]),
    "negative_volume": ((H + "000001,2024-12-02,10,10.5,9.9,10.2,-5,1000\n").encode(), ["volume"]),
    "negative_price": ((H + "000001,2024-12-02,-10,10.5,-11,10.2,100,1000\n").encode(),
                       ["positive"]),
    "price_1e15": ((H + "000001,2024-12-02,1e15,1e15,1e15,1e15,100,1000\n").encode(),
                   ["1,000,000 CNY", "line 2"]),
    "price_1e300": ((H + "000001,2024-12-02,1e300,1e300,1e300,1e300,100,1000\n").encode(),
                    ["1,000,000 CNY"]),
    "price_inf": ((H + "000001,2024-12-02,inf,inf,inf,inf,100,1000\n").encode(), ["finite"]),
    "volume_1e300": ((H + "000001,2024-12-02,10,10.5,9.9,10.2,1e300,1000\n").encode(),
                     ["volume"]),
    "amount_negative": ((H + "000001,2024-12-02,10,10.5,9.9,10.2,100,-1\n").encode(), ["amount"]),
    "duplicate_rows": ((H + ROWS + "000001,2024-12-02,10,10.5,9.9,10.3,100,1000\n").encode(),
                       ["one row per (code, date)"]),
    "ragged_row": ((H + "000001,2024-12-02,10,10.5,9.9,10.2,100,1000,extra,more\n").encode(),
                   ["CSV"]),
    "prev_close_negative": ((b"code,date,open,high,low,close,volume,amount,prev_close\n"
                             b"000001,2024-12-02,10,10.5,9.9,10.2,100,1000,-3\n"),
                            ["prev_close"]),
    "is_st_maybe": ((b"code,date,open,high,low,close,volume,amount,is_st\n"
                     b"000001,2024-12-02,10,10.5,9.9,10.2,100,1000,maybe\n"), ["is_st"]),
    "list_date_bad": ((b"code,date,open,high,low,close,volume,amount,list_date\n"
                       b"000001,2024-12-02,10,10.5,9.9,10.2,100,1000,someday\n"),
                      ["list_date"]),
    "two_code_columns": (("code,代码,date,open,high,low,close,volume,amount\n"
                          "000001,000001,2024-12-02,10,10.5,9.9,10.2,100,1000\n").encode(),
                         ["both give"]),
}

PANEL_COMMANDS = {
    "scan": lambda f: ["scan", "--date", "2024-12-03", "--data", f],
    "import": lambda f: ["data", "import", f, "--store", "store"],
    "backtest": lambda f: ["backtest", f"cfg-{f}.toml", "--out", "prev-run"],
    "grid": lambda f: ["grid", f"gcfg-{f}.toml", "--out", "prev-grid", "--no-progress"],
    "crosscheck": lambda f: ["crosscheck", f"cfg-{f}.toml"],
}


@pytest.mark.parametrize("command", sorted(PANEL_COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD_PANELS))
def test_bad_panel(world, capsys, case, command):
    data, needles = BAD_PANELS[case]
    name = f"bad-{case}.csv" + (".gz" if data[:2] == b"\x1f\x8b" else "")
    files = {name: data,
             f"cfg-{name}.toml": _cfg(name),
             f"gcfg-{name}.toml": _cfg(name, grid="max_hold = [1, 2]\n")}
    assert_hostile(world, capsys, PANEL_COMMANDS[command](name), [name, *needles], files)


def test_panel_path_is_a_folder_that_is_not_a_store(world, capsys):
    """``[data] path`` takes a file or a store: the hint must not be --store, which
    ``backtest`` does not take."""
    msg = assert_hostile(world, capsys, ["backtest", "cfg.toml", "--out", "prev-run"],
                         ["notastore", "no hypebt store", "panel file"],
                         {"notastore/readme.txt": "hi", "cfg.toml": _cfg("notastore")})
    assert "--store" not in msg


# ---------------------------------------------------------------- operating-system failures
def _raise(err: int, name: str = ""):
    def fail(*args, **kwargs):
        raise OSError(err, os.strerror(err), name or (str(args[0]) if args else None))
    return fail


OS_FAILURES = {
    # id: (argv, what to patch (module attribute), errno, needles)
    "panel_no_permission": (["scan", "--date", "2024-12-03", "--data", "panel.csv"],
                            ("backtests.data.panel", "sniff_format"), errno.EACCES,
                            ["panel.csv", "Permission denied"]),
    "panel_io_error": (["data", "import", "panel.csv", "--store", "store"],
                       ("backtests.data.panel", "sniff_format"), errno.EIO,
                       ["panel.csv", "Input/output error"]),
    "names_no_permission": (["scan", "--date", "2024-12-03", "--data", "panel.csv", "--names",
                             "names.csv"], ("pandas", "read_csv"), errno.EACCES,
                            ["names.csv", "Permission denied"]),
    "store_read_only": (["data", "import", "panel.csv", "--store", "store"],
                        ("tempfile", "mkstemp"), errno.EROFS,
                        ["cannot write", "store", "Read-only file system"]),
    "store_disk_full": (["data", "import", "panel.csv", "--store", "store"],
                        ("pyarrow.parquet", "write_table"), errno.ENOSPC,
                        ["cannot write", "000001.parquet", "disk full"]),
    "store_no_permission": (["data", "import", "panel.csv", "--store", "store"],
                            ("tempfile", "mkstemp"), errno.EACCES,
                            ["cannot write", "Permission denied"]),
    "report_disk_full": (["report", "prev-run-real"], ("os", "replace"), errno.ENOSPC,
                         ["tearsheet.html", "disk full"]),
    "report_read_only": (["report", "prev-run-real"], ("tempfile", "mkstemp"), errno.EROFS,
                         ["tearsheet.html", "Read-only file system"]),
    "news_archive_disk_full": (["news", "info", "--store", "store"], ("builtins", "open"),
                               errno.EIO, ["articles.jsonl", "Input/output error"]),
    "signals_file_no_permission": (["signals", "news.jsonl"], ("builtins", "open"),
                                   errno.EACCES, ["news.jsonl", "Permission denied"]),
    "config_no_permission": (["backtest", "run.toml", "--out", "prev-run"],
                             ("pathlib.Path", "read_bytes"), errno.EACCES,
                             ["run.toml", "Permission denied"]),
}


@pytest.mark.parametrize("case", sorted(OS_FAILURES))
def test_os_failure(world, capsys, monkeypatch, case):
    import importlib

    argv, (module, attr), err, needles = OS_FAILURES[case]
    if "prev-run-real" in argv:
        _real_run_folder(world / "prev-run-real")
    if case == "news_archive_disk_full":
        (world / "store" / "news").mkdir(exist_ok=True)
        (world / "store" / "news" / "articles.jsonl").write_text("", encoding="utf-8")
    if "." in module and module.startswith("pathlib"):
        import pathlib
        target = pathlib.Path
    else:
        target = importlib.import_module(module)
    real = getattr(target, attr)
    fail = _raise(err)

    def patched(*args, **kwargs):
        first = str(args[0]) if args else ""
        if attr == "open" and not any(k in first for k in ("articles.jsonl", "news.jsonl")):
            return real(*args, **kwargs)
        if attr == "read_bytes" and not first.endswith("run.toml"):
            return real(*args, **kwargs)
        return fail(*args, **kwargs)

    monkeypatch.setattr(target, attr, patched)
    assert_hostile(world, capsys, argv, needles)


def _real_run_folder(path: Path) -> None:
    path.mkdir()
    (path / "equity.csv").write_text("date,cash,market_value,equity\n2024-12-02,100.0,0.0,100.0\n"
                                     "2024-12-03,50.0,52.0,102.0\n2024-12-04,50.0,51.0,101.0\n",
                                     encoding="utf-8")
    (path / "notes.txt").write_text("user notes\n", encoding="utf-8")


# ---------------------------------------------------------------- configs
BAD_CONFIGS = {
    # id: (config text or bytes, needles)
    "toml_syntax": ("[data\npath = 1\n", ["TOML"]),
    "gbk_comment": ("# 注释\n".encode("gbk") + _cfg("panel.csv").encode(), ["UTF-8"]),
    "unknown_section_key": (_cfg("panel.csv", extra="max_hodl = 3\n"), ["max_hodl", "max_hold"]),
    "cash_text": (_cfg("panel.csv", extra='\n[portfolio]\ncash = "lots"\n'), ["cash", "lots"]),
    "cash_1e300": (_cfg("panel.csv", extra="\n[portfolio]\ncash = 1e300\n"), ["cash", "1e+300"]),
    "cash_nan": (_cfg("panel.csv", extra="\n[portfolio]\ncash = nan\n"), ["cash", "finite"]),
    "cash_inf": (_cfg("panel.csv", extra="\n[portfolio]\ncash = inf\n"), ["cash", "finite"]),
    "fixed_cash_1e15": (_cfg("panel.csv", extra="\n[portfolio]\nfixed_cash = 1e15\n"),
                        ["fixed_cash"]),
    "commission_min_huge": (_cfg("panel.csv", extra="\n[costs]\ncommission_min = 1e200\n"),
                            ["commission_min"]),
    "position_size_2": (_cfg("panel.csv", extra="\n[portfolio]\nposition_size = 2.0\n"),
                        ["position_size"]),
    "stop_loss_negative": (_cfg("panel.csv", extra="stop_loss = -0.5\n"), ["stop_loss"]),
    "max_hold_float": (_cfg("panel.csv", extra="max_positions = 2.5\n"), ["max_positions"]),
    "max_positions_huge": (_cfg("panel.csv", extra="max_positions = 99999999999\n"),
                           ["max_positions"]),
    "bool_as_number": (_cfg("panel.csv", extra="stop_loss = true\n"), ["stop_loss"]),
    "strategy_unknown": (_cfg("panel.csv").replace("theme_hype", "theme_hyp"), ["theme_hyp"]),
    "data_missing_file": (_cfg("nope.csv"), ["nope.csv", "not found"]),
    "marks_missing": (_cfg("panel.csv", marks="nomarks.csv"), ["nomarks.csv"]),
    "marks_gbk": (_cfg("panel.csv", marks="marks-gbk.csv"), ["marks-gbk.csv"]),
    "marks_bad_date": (_cfg("panel.csv", marks="marks-bad.csv"), ["marks-bad.csv", "date"]),
    "start_not_date": ('[data]\npath = "panel.csv"\nstart = "soon"\n[signals]\nmarks = '
                       '"marks.csv"\n[strategy]\nname = "theme_hype"\n', ["start", "soon"]),
    "start_after_end": ('[data]\npath = "panel.csv"\nstart = "2024-12-04"\nend = "2024-12-02"\n'
                        '[signals]\nmarks = "marks.csv"\n[strategy]\nname = "theme_hype"\n',
                        ["2024-12-04"]),
    "articles_missing": ('[data]\npath = "panel.csv"\n[signals]\narticles = ["none.jsonl"]\n'
                         '[strategy]\nname = "theme_hype"\n', ["none.jsonl"]),
    "articles_shape": ('[data]\npath = "panel.csv"\nnames = ["names.csv"]\n[signals]\n'
                       'articles = ["shape.json"]\n[strategy]\nname = "theme_hype"\n',
                       ["shape.json", "must be a list"]),
    "articles_without_names": ('[data]\npath = "panel.csv"\n[signals]\narticles = '
                               '["news.jsonl"]\n[strategy]\nname = "theme_hype"\n',
                               ["stock names", "[data] names"]),
    "marks_and_articles": (_cfg("panel.csv").replace('marks = "marks.csv"',
                                                     'marks = "marks.csv"\narticles = ["news.jsonl"]'),
                           ["marks"]),
    "data_path_number": ('[data]\npath = 5\n[signals]\nmarks = "marks.csv"\n[strategy]\n'
                         'name = "theme_hype"\n', ["path"]),
    "section_is_value": ('data = 3\n[signals]\nmarks = "marks.csv"\n', ["data"]),
    "utf16_config": (_cfg("panel.csv").encode("utf-16"), ["UTF-8"]),
}
CONFIG_EXTRA_FILES = {
    "marks-gbk.csv": "date,code,score\n2024-12-03,000001,1.0\n# 中文\n".encode("gbk"),
    "marks-bad.csv": "date,code,score\nnever,000001,1.0\n",
    "shape.json": '{"articles": {"title": "x"}}',
}
CONFIG_COMMANDS = {
    "backtest": lambda c: ["backtest", c, "--out", "prev-run"],
    "crosscheck": lambda c: ["crosscheck", c],
    "grid": lambda c: ["grid", c, "--out", "prev-grid", "--no-progress"],
}


@pytest.mark.parametrize("command", sorted(CONFIG_COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config(world, capsys, case, command):
    text, needles = BAD_CONFIGS[case]
    data = text.encode() if isinstance(text, str) else text
    if command == "grid":
        if data.startswith(b"[data]") or data.startswith(b"data"):
            data += b"\n[grid]\nmax_hold = [1, 2]\n"
        elif case in ("toml_syntax",):
            pass
        else:
            pytest.skip("the grid variant of this input is the same file with a [grid] table")
    name = f"c-{case}.toml"
    # a bad file the config points to is named itself (with its row), not the config
    named = [] if case.startswith(("marks_", "articles_")) else [name]
    assert_hostile(world, capsys, CONFIG_COMMANDS[command](name), [*named, *needles],
                   {name: data, **CONFIG_EXTRA_FILES})


BAD_GRIDS = {
    "ten_million_sets": ("\n".join(f"{k} = [{', '.join(str(v) for v in vals)}]" for k, vals in {
        "max_hold": range(1, 11), "stop_loss": [i / 100 for i in range(10)],
        "max_positions": range(1, 11), "slippage_ticks": range(10),
        "position_size": [i / 100 for i in range(1, 11)],
        "commission_min": range(10), "take_profit": [i / 10 for i in range(10)]}.items()),
        ["10,000,000 sets", "--max-sets 100,000", "--sample"]),
    "empty_grid": ("", ["[grid]"]),
    "not_a_list": ("max_hold = 3\n", ["max_hold"]),
    "empty_list": ("max_hold = []\n", ["max_hold"]),
    "wrong_type": ('max_hold = ["a", "b"]\n', ["max_hold"]),
    "unknown_axis": ("max_hodl = [1, 2]\n", ["max_hodl", "max_hold"]),
    "out_of_range": ("stop_loss = [0.1, 2.0]\n", ["stop_loss"]),
    "rank_by_unknown": ('max_hold = [1, 2]\nrank_by = "sharp"\n', ["rank_by", "sharpe"]),
    "sample_negative": ("max_hold = [1, 2]\nsample = -3\n", ["sample"]),
    "heatmap_unknown": ('max_hold = [1, 2]\nstop_loss = [0.0, 0.1]\nheatmap = "a,b"\n',
                        ["heatmap"]),
    "train_end_bad": ('max_hold = [1, 2]\ntrain_end = "later"\n', ["train_end"]),
    "cash_axis_huge": ("cash = [1e6, 1e300]\n", ["cash"]),
}


@pytest.mark.parametrize("command", ["grid", "crosscheck"])
@pytest.mark.parametrize("case", sorted(BAD_GRIDS))
def test_bad_grid(world, capsys, case, command):
    table, needles = BAD_GRIDS[case]
    name = f"g-{case}.toml"
    text = _cfg("panel.csv") + "\n[grid]\n" + table + "\n"
    argv = (["grid", name, "--out", "prev-grid", "--no-progress"] if command == "grid"
            else ["crosscheck", name])
    assert_hostile(world, capsys, argv, [name, *needles], {name: text})


GRID_OPTIONS = {
    "max_sets_small": (["--max-sets", "1"], ["2 sets", "--max-sets 1"]),
    "max_sets_zero": (["--max-sets", "0"], ["--max-sets"]),
    "sample_above_max": (["--max-sets", "1", "--sample", "2"], ["--max-sets 1"]),
    "workers_zero": (["--workers", "0"], ["--workers"]),
    "top_negative": (["--top", "-1"], ["--top"]),
    "rank_by_option": (["--rank-by", "sharp"], ["--rank-by", "sharpe"]),
    "train_end_option": (["--train-end", "2030-13-01"], ["2030-13-01"]),
    "heatmap_option": (["--heatmap", "max_hold"], ["max_hold"]),
    "out_is_file": (["--out", "panel.csv"], ["panel.csv", "not a folder"]),
    "out_foreign_folder": (["--out", "foreign"], ["foreign", "holds no hypebt outputs"]),
}


@pytest.mark.parametrize("case", sorted(GRID_OPTIONS))
def test_bad_grid_option(world, capsys, case):
    extra, needles = GRID_OPTIONS[case]
    argv = ["grid", "grid.toml", "--no-progress"] + extra
    if "--out" not in extra:
        argv += ["--out", "prev-grid"]
    assert_hostile(world, capsys, argv, needles, {"foreign/mine.txt": "mine"})


RUN_OPTIONS = {
    "out_is_file": (["backtest", "run.toml", "--out", "panel.csv"], ["panel.csv"]),
    "out_foreign_folder": (["backtest", "run.toml", "--out", "foreign"],
                           ["foreign", "holds no hypebt outputs"]),
    "out_holds_the_config": (["backtest", "mine/config.toml", "--out", "mine"],
                             ["mine/config.toml", "another --out"]),
    "out_holds_the_config_default_name": (["backtest", "runs/config/config.toml"],
                                          ["runs/config/config.toml", "another --out"]),
    "config_missing": (["backtest", "nope.toml"], ["nope.toml", "not found"]),
    "config_is_dir": (["backtest", "foreign"], ["foreign"]),
    "crosscheck_sample_plain": (["crosscheck", "run.toml", "--sample", "2"], ["--sample"]),
    "crosscheck_tolerance": (["crosscheck", "run.toml", "--tolerance", "0"], ["--tolerance"]),
    "crosscheck_max_rows": (["crosscheck", "run.toml", "--max-rows", "0"], ["--max-rows"]),
    "crosscheck_max_sets": (["crosscheck", "grid.toml", "--max-sets", "1"], ["--max-sets 1"]),
}


@pytest.mark.parametrize("case", sorted(RUN_OPTIONS))
def test_bad_run_option(world, capsys, case):
    argv, needles = RUN_OPTIONS[case]
    cfg = _cfg("../panel.csv", marks="../marks.csv")
    assert_hostile(world, capsys, argv, needles,
                   {"foreign/mine.txt": "mine", "mine/config.toml": "# my notes\n" + cfg,
                    "mine/equity.csv": "x", "runs/config/config.toml": "# mine\n" + _cfg(
                        "../../panel.csv", marks="../../marks.csv")})


# ---------------------------------------------------------------- articles (hypebt signals)
BAD_ARTICLES = {
    # file name: (content, needles)
    "shape.json": ('{"articles": {"title": "x", "published": "2024-12-02"}}',
                   ["must be a list", "object"]),
    "top_number.json": ("42", ["expected a JSON object or a list"]),
    "top_null.json": ("null", ["expected a JSON object or a list"]),
    "list_of_strings.json": ('["a", "b"]', ["record 1", "expected an object"]),
    "title_list.json": ('[{"published": "2024-12-02 10:00", "title": ["x", "y"]}]',
                        ["record 1", "'title'", "must be text", "list"]),
    "body_object.json": ('[{"published": "2024-12-02 10:00", "title": "t", "body": {"a": 1}}]',
                         ["'body'", "object"]),
    "url_number_list.json": ('[{"published": "2024-12-02 10:00", "title": "t", "url": [1]}]',
                             ["'url'"]),
    "no_article_keys.json": ('{"foo": 1, "bar": 2}', ["not an article", "'foo'"]),
    "no_published.json": ('[{"title": "平安银行涨停"}]', ["publication time"]),
    "published_soon.json": ('[{"title": "t", "published": "soon"}]', ["published", "soon"]),
    "published_bool.json": ('[{"title": "t", "published": true}]', ["published"]),
    "empty_article.json": ('[{"published": "2024-12-02 10:00", "title": "", "body": ""}]',
                           ["empty article"]),
    "invalid.json": ('{"title": "x",', ["not valid JSON"]),
    "gbk.json": ('[{"title": "平安银行", "published": "2024-12-02"}]'.encode("gbk"), ["UTF-8"]),
    "bad_line.jsonl": ('{"title": "a", "published": "2024-12-02 10:00"}\n{oops\n', ["line 2"]),
    "array_line.jsonl": ('[1, 2]\n', ["line 1"]),
    "gbk.jsonl": ('{"title": "平安", "published": "2024-12-02"}\n'.encode("gbk"), ["UTF-8"]),
    "empty.csv": ("", ["empty CSV"]),
    "gbk.csv": ("title,published\n平安银行,2024-12-02\n".encode("gbk"), ["UTF-8"]),
    "nodate.csv": ("title,body\n平安银行,涨停\n", ["row 2", "publication time"]),
    "article.txt": ("平安银行涨停", ["unknown article format"]),
    "missing.json": (None, ["not found"]),
    "utf16.json": ('[{"title": "x", "published": "2024-12-02"}]'.encode("utf-16"), ["UTF-8"]),
    "nan_published.json": ('[{"title": "x", "published": NaN}]', ["published"]),
}


@pytest.mark.parametrize("case", sorted(BAD_ARTICLES))
def test_bad_article_file(world, capsys, case):
    content, needles = BAD_ARTICLES[case]
    name = f"art-{case}"
    files = {} if content is None else {name: content}
    assert_hostile(world, capsys, ["signals", name, "--names", "names.csv"], [name, *needles],
                   files)


def test_article_folder_without_articles(world, capsys):
    assert_hostile(world, capsys, ["signals", "emptydir"], ["emptydir", "no article files"],
                   {"emptydir/readme.txt": "x"})


@pytest.mark.parametrize("case,argv,needles,files", [
    ("names_corrupt_gz", ["signals", "news.jsonl", "--names", "n.csv.gz"],
     ["names file n.csv.gz", "compressed"], {"n.csv.gz": _corrupt_gz()}),
    ("names_gbk", ["signals", "news.jsonl", "--names", "n.csv"], ["n.csv", "UTF-8"],
     {"n.csv": "code,name\n000001,平安银行\n".encode("gbk")}),
    ("names_no_name_column", ["signals", "news.jsonl", "--names", "n.csv"], ["n.csv", "name"],
     {"n.csv": "code,title\n000001,x\n"}),
    ("names_empty", ["signals", "news.jsonl", "--names", "n.csv"], ["n.csv", "empty"],
     {"n.csv": ""}),
    ("data_not_a_store", ["signals", "news.jsonl", "--data", "foreign"],
     ["foreign", "--data"], {"foreign/x.txt": "x"}),
    ("themes_bom_syntax", ["signals", "news.jsonl", "--themes", "t.toml"], ["t.toml", "TOML"],
     {"t.toml": "\ufeff[themes\n"}),
    ("themes_gbk", ["signals", "news.jsonl", "--themes", "t.toml"], ["t.toml", "UTF-8"],
     {"t.toml": "# 主题\n".encode("gbk")}),
    ("roles_missing", ["signals", "news.jsonl", "--role-rules", "r.toml"], ["r.toml"], {}),
    ("matching_unknown_key", ["signals", "news.jsonl", "--matching", "m.toml"], ["m.toml"],
     {"m.toml": "nonsense = 1\n"}),
    ("format_bad", ["signals", "news.jsonl", "--format", "xml"], ["xml"], {}),
])
def test_bad_signals_option(world, capsys, case, argv, needles, files):
    if case == "format_bad":  # argparse's own usage error: exit 2, one "error:" line
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        return
    assert_hostile(world, capsys, argv, needles, files)


# ---------------------------------------------------------------- run folders (hypebt report)
EQ = "date,cash,market_value,equity\n"
BAD_RUN_FOLDERS = {
    "equity_text": ({"equity.csv": EQ + "2024-12-02,1,0,1\n2024-12-03,1,0,abc\n"},
                    ["equity.csv", "row 3", "'abc'"]),
    "equity_inf": ({"equity.csv": EQ + "2024-12-02,1,0,1\n2024-12-03,1,0,inf\n"},
                   ["equity.csv", "row 3"]),
    "equity_missing": ({"equity.csv": None}, ["equity.csv", "not found"]),
    "equity_no_rows": ({"equity.csv": EQ}, ["equity.csv", "no rows"]),
    "equity_bad_date": ({"equity.csv": EQ + "someday,1,0,1\n"}, ["equity.csv", "someday"]),
    "equity_missing_column": ({"equity.csv": "date,cash\n2024-12-02,1\n"},
                              ["equity.csv", "equity"]),
    "equity_gbk": ({"equity.csv": (EQ + "2024-12-02,1,0,1\n# 中文\n").encode("gbk")},
                   ["equity.csv"]),
    "trades_text_shares": ({"trades.csv": "date,code,side,shares,price,value,commission,"
                            "stamp_duty,transfer_fee,reason\n2024-12-02,000001,buy,many,1,1,0,"
                            "0,0,entry\n"}, ["trades.csv", "shares", "'many'"]),
    "orders_text_price": ({"orders.csv": "date,code,side,shares,price,status,reject_reason\n"
                           "2024-12-02,000001,buy,100,cheap,filled,\n"},
                          ["orders.csv", "price", "'cheap'"]),
    "metrics_invalid": ({"metrics.json": "{not json"}, ["metrics.json", "JSON"]),
    "metrics_gbk": ({"metrics.json": '{"名": 1}'.encode("gbk")}, ["metrics.json"]),
    "config_invalid": ({"config.toml": "[strategy\n"}, ["config.toml", "TOML"]),
    "benchmark_text": ({"benchmark.csv": "date,return\n2024-12-02,zero\n"},
                       ["benchmark.csv", "zero"]),
    "not_a_folder": (None, ["not a run folder"]),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_FOLDERS))
def test_bad_run_folder(world, capsys, case):
    files, needles = BAD_RUN_FOLDERS[case]
    run = world / "r"
    if files is not None:
        _real_run_folder(run)
        for name, data in files.items():
            if data is None:
                (run / name).unlink()
            else:
                (run / name).write_bytes(data.encode() if isinstance(data, str) else data)
    assert_hostile(world, capsys, ["report", "r"], needles)


@pytest.mark.parametrize("case,bench,needles", [
    ("benchmark_missing", "nope.csv", ["nope.csv", "not found"]),
    ("benchmark_is_dir", "foreign", ["foreign", "directory"]),
    ("benchmark_gbk", "b.csv", ["b.csv"]),
    ("benchmark_no_columns", "b2.csv", ["b2.csv"]),
])
def test_bad_benchmark_option(world, capsys, case, bench, needles):
    _real_run_folder(world / "r")
    files = {"foreign/x.txt": "x", "b.csv": "date,close\n2024-12-02,一\n".encode("gbk"),
             "b2.csv": "day,level\n2024-12-02,1\n"}
    assert_hostile(world, capsys, ["report", "r", "--benchmark", bench], needles, files)


# ---------------------------------------------------------------- stores (data, news)
def _damage(world: Path, case: str) -> None:
    store = world / "store"
    if case == "manifest_garbage":
        (store / "manifest.json").write_bytes(b"\xff\xfe garbage")
    elif case == "manifest_wrong_format":
        (store / "manifest.json").write_text('{"format": "other"}', encoding="utf-8")
    elif case == "manifest_version":
        (store / "manifest.json").write_text('{"format": "hypebt-store", "version": 99}',
                                             encoding="utf-8")
    elif case == "bars_parquet_garbage":
        (store / "bars" / "000001.parquet").write_bytes(b"PAR1 not really")
    elif case == "names_parquet_garbage":
        (store / "names.parquet").write_bytes(b"PAR1 garbage")
    elif case == "news_gbk":
        (store / "news").mkdir()
        (store / "news" / "articles.jsonl").write_bytes('{"标题": 1}\n'.encode("gbk"))
    elif case == "news_not_json":
        (store / "news").mkdir()
        (store / "news" / "articles.jsonl").write_text("{oops\n", encoding="utf-8")
    elif case == "news_array_line":
        (store / "news").mkdir()
        (store / "news" / "articles.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    elif case == "news_missing_fields":
        (store / "news").mkdir()
        (store / "news" / "articles.jsonl").write_text('{"id": "x"}\n', encoding="utf-8")


STORE_CASES = {
    "manifest_garbage": (["data", "info", "--store", "store"], ["manifest.json"]),
    "manifest_wrong_format": (["data", "import", "panel.csv", "--store", "store"],
                              ["manifest.json"]),
    "manifest_version": (["data", "info", "--store", "store"], ["version 99"]),
    "bars_parquet_garbage": (["data", "info", "--store", "store"], ["000001.parquet"]),
    "bars_parquet_garbage_scan": (["scan", "--date", "2024-12-03", "--data", "store"],
                                  ["store"]),
    "names_parquet_garbage": (["data", "info", "--store", "store"], ["names.parquet"]),
    "news_gbk": (["news", "info", "--store", "store"], ["articles.jsonl", "UTF-8"]),
    "news_gbk_signals": (["signals", "--data", "store"], ["articles.jsonl", "UTF-8"]),
    "news_not_json": (["news", "info", "--store", "store"], ["articles.jsonl", "line 1"]),
    "news_array_line": (["news", "info", "--store", "store"], ["articles.jsonl", "line 1",
                                                               "object"]),
    "news_missing_fields": (["news", "info", "--store", "store"], ["articles.jsonl",
                                                                   "missing fields"]),
}


@pytest.mark.parametrize("case", sorted(STORE_CASES))
def test_damaged_store(world, capsys, case):
    argv, needles = STORE_CASES[case]
    _damage(world, case.replace("_scan", "").replace("_signals", ""))
    assert_hostile(world, capsys, argv, needles)


DATA_OPTIONS = {
    "store_is_file": (["data", "info", "--store", "panel.csv"], ["panel.csv", "file"]),
    "store_foreign_folder": (["data", "import", "panel.csv", "--store", "foreign"],
                             ["foreign", "not a hypebt store"]),
    "store_missing_info": (["data", "info", "--store", "nostore"], ["nostore", "--store"]),
    "news_info_missing": (["news", "info", "--store", "nostore"], ["nostore"]),
    "import_missing_file": (["data", "import", "nope.csv", "--store", "store"], ["nope.csv"]),
    "import_dir": (["data", "import", "foreign", "--store", "store"], ["foreign", "directory"]),
    "fetch_nothing": (["data", "fetch", "--store", "store"], ["nothing to fetch"]),
    "fetch_bad_code": (["data", "fetch", "--codes", "12345x", "--start", "2024-12-02",
                        "--store", "store"], ["--codes", "12345x"]),
    "fetch_fund_code": (["data", "fetch", "--codes", "510300", "--start", "2024-12-02",
                         "--store", "store"], ["510300", "not an A-share"]),
    "fetch_no_start": (["data", "fetch", "--codes", "000001", "--store", "store"], ["--start"]),
    "fetch_bad_start": (["data", "fetch", "--codes", "000001", "--start", "2024-13-45",
                         "--store", "store"], ["--start", "2024-13-45"]),
    "fetch_end_before_start": (["data", "fetch", "--codes", "000001", "--start", "2024-12-04",
                                "--end", "2024-12-02", "--store", "store"], ["--end"]),
    "fetch_interval_nan": (["data", "fetch", "--names", "--interval", "nan", "--store", "store"],
                           ["--interval"]),
    "fetch_timeout_zero": (["data", "fetch", "--names", "--timeout", "0", "--store", "store"],
                           ["timeout"]),
    "fetch_retries_zero": (["data", "fetch", "--names", "--retries", "0", "--store", "store"],
                           ["retries"]),
    "fetch_backoff_negative": (["data", "fetch", "--names", "--backoff", "-1", "--store",
                                "store"], ["backoff"]),
    "news_nothing": (["news", "fetch", "--store", "store"], ["nothing to fetch"]),
    "news_important_alone": (["news", "fetch", "--keyword", "x", "--important", "--store",
                              "store"], ["--important"]),
    "news_empty_keyword": (["news", "fetch", "--keyword", " ", "--store", "store"],
                           ["--keyword"]),
    "news_bad_code": (["news", "fetch", "--codes", "abc", "--store", "store"], ["abc"]),
    "scan_not_session": (["scan", "--date", "2024-12-07", "--data", "panel.csv"],
                         ["2024-12-07"]),
    "scan_bad_date": (["scan", "--date", "12/03", "--data", "panel.csv"], ["12/03"]),
    "scan_outside_data": (["scan", "--date", "2024-06-03", "--data", "panel.csv"],
                          ["2024-06-03"]),
}


@pytest.mark.parametrize("case", sorted(DATA_OPTIONS))
def test_bad_data_option(world, capsys, case):
    argv, needles = DATA_OPTIONS[case]
    assert_hostile(world, capsys, argv, needles, {"foreign/mine.txt": "mine"})


# ---------------------------------------------------------------- what must work
def test_toml_with_a_bom_is_read(world, capsys):
    (world / "bom.toml").write_bytes(b"\xef\xbb\xbf" + _cfg("panel.csv").encode())
    from backtests.data.config import load_config
    assert load_config(world / "bom.toml").data.path.endswith("panel.csv")


def test_user_config_toml_in_a_fresh_folder_is_kept(world, capsys):
    """A folder holding only the user's config.toml is not taken for a run folder."""
    (world / "mine").mkdir()
    (world / "mine" / "config.toml").write_text("# mine\n", encoding="utf-8")
    msg = assert_hostile(world, capsys, ["backtest", "run.toml", "--out", "mine"],
                         ["mine", "holds no hypebt outputs"])
    assert "config.toml" not in msg.split("(none of")[1].split(")")[0]
