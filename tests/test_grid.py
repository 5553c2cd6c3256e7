"""Parameter grids: expansion and sampling, validation messages, every row equal to a single
backtest of its set (marks file and articles), thread/chunk invariance, the in/out-of-sample
split, ``hypebt grid`` end to end (grid.csv, heatmap, grid.html, run folder with a tearsheet
for the best set, byte-identical), and the real Doubao grid."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.cli.main import main
from backtests.core.errors import ConfigError
from backtests.data.config import load_config, resolved_toml
from backtests.engine.run import load_marks, load_run_market, run_config
from backtests.grid.local import run_grid
from backtests.grid.results import grid_csv
from backtests.grid.spec import expand, load_grid_config, metric_names, set_config
from backtests.report.grid_page import write_grid
from backtests.report.metrics import compute_metrics

REPO = Path(__file__).resolve().parents[1]
DEMO_MARKS = (REPO / "configs" / "demo_marks.csv").as_posix()

BASE = f"""
[data]
path = "demo"
start = "2024-01-02"
end = "2024-12-31"

[signals]
marks = "{DEMO_MARKS}"

[strategy]
name = "theme_hype"
max_positions = 8

[portfolio]
position_size = 0.12

[costs]
slippage_ticks = 1
"""

GRID = BASE + """
[grid]
max_hold = [2, 5, 10]
entry = ["open", "limit"]
exit_at = ["next_open", "close"]
stop_loss = [0.0, 0.05]
"""

# metrics.json keys compared with the grid row (trade counters from the kernel)
SAME = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
        "final_equity", "trades", "win_rate", "profit_factor", "avg_holding_sessions",
        "orders", "filled_orders", "fill_rate")


def _write(tmp_path: Path, text: str, name: str = "grid.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str, **kw) -> str:
    with pytest.raises(ConfigError) as exc:
        load_grid_config(_write(tmp_path, text), **kw)
    return str(exc.value)


def _close(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _assert_row_equals_backtest(row: pd.Series, metrics: dict) -> None:
    for key in SAME:
        assert _close(metrics[key], row[key]), (key, metrics[key], row[key])
    assert _close(metrics["fees"]["total"], row["fees"])
    for reason, count in metrics["rejections"].items():
        assert row[f"rejected_{reason}"] == count, reason


@pytest.fixture(scope="module")
def base_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "base.toml"
    path.write_text(BASE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def demo_market(base_config):
    return load_run_market(load_config(base_config))


@pytest.fixture(scope="module")
def grid_result(tmp_path_factory, demo_market):
    path = _write(tmp_path_factory.mktemp("g"), GRID)
    return run_grid(load_grid_config(path), workers=2, market=demo_market)


# ---------------------------------------------------------------- expansion


def test_expand_product_order_and_numbers():
    sets, total = expand({"a": (1, 2), "b": ("x", "y", "z")})
    assert total == 6
    assert [n for n, _ in sets] == list(range(6))
    assert [tuple(p.values()) for _, p in sets] == [
        (1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]


def test_expand_sample_is_seeded_and_keeps_numbers():
    axes = {"a": tuple(range(10)), "b": tuple(range(10))}
    s1, total = expand(axes, sample=7, seed=3)
    s2, _ = expand(axes, sample=7, seed=3)
    s3, _ = expand(axes, sample=7, seed=4)
    assert total == 100 and len(s1) == 7
    assert s1 == s2 and s1 != s3
    numbers = [n for n, _ in s1]
    assert numbers == sorted(numbers)
    for n, p in s1:
        assert (p["a"], p["b"]) == divmod(n, 10)
    assert len(expand(axes, sample=500, seed=0)[0]) == 100


# ---------------------------------------------------------------- validation


def test_unknown_key_did_you_mean(tmp_path):
    msg = _error(tmp_path, BASE + "[grid]\nstop_los = [0.0, 0.1]\n")
    assert "unknown key [grid] stop_los" in msg and 'did you mean "stop_loss"' in msg


def test_values_must_be_lists_of_valid_values(tmp_path):
    assert "expected a list of values" in _error(tmp_path, BASE + "[grid]\nstop_loss = 0.1\n")
    assert "expected at least one value" in _error(tmp_path, BASE + "[grid]\nstop_loss = []\n")
    msg = _error(tmp_path, BASE + '[grid]\nentry = ["open", "limt"]\n')
    assert "[grid] entry" in msg and "'limt'" in msg and 'did you mean "limit"' in msg
    msg = _error(tmp_path, BASE + "[grid]\nstop_loss = [0.0, 1.5]\n")
    assert "[grid] stop_loss" in msg and "1.5" in msg
    assert "listed twice" in _error(tmp_path, BASE + "[grid]\nmax_hold = [3, 3]\n")


def test_set_that_cannot_run_is_named(tmp_path):
    msg = _error(tmp_path, BASE + "[grid]\nhold = [3, 5]\n")
    assert "[grid] set 0 (hold=3) cannot run" in msg and "theme_hype" in msg


def test_options_validated(tmp_path):
    text = GRID
    msg = _error(tmp_path, text, rank_by="sharp")
    assert msg.startswith("--rank-by sharp: not a metric") and 'did you mean "sharpe"' in msg
    msg = _error(tmp_path, text, heatmap="max_hold,stop_los")
    assert "heatmap parameter 'stop_los'" in msg and 'did you mean "stop_loss"' in msg
    assert "two different grid parameters" in _error(tmp_path, text, heatmap="max_hold")
    assert "train_end = 'soon'" in _error(tmp_path, text, train_end="soon")
    assert "no [grid] table" in _error(tmp_path, BASE)


def test_signal_threshold_needs_articles(tmp_path):
    msg = _error(tmp_path, BASE + "[grid]\nmin_score = [0.5, 1.0]\n")
    assert "[grid] min_score: a signal threshold needs [signals] articles" in msg


def test_options_from_file_and_overrides(tmp_path):
    text = GRID + 'rank_by = "total_return"\nsample = 5\nseed = 2\nheatmap = "stop_loss,entry"\n'
    spec = load_grid_config(_write(tmp_path, text))
    assert (spec.rank_by, spec.sample, spec.seed, spec.heatmap) == (
        "total_return", 5, 2, ("stop_loss", "entry"))
    assert len(spec.sets) == 5 and spec.total == 24
    spec = load_grid_config(_write(tmp_path, text), rank_by="sortino", sample=30)
    assert spec.rank_by == "sortino" and len(spec.sets) == 24


# ---------------------------------------------------------------- equality with single runs


def test_rows_equal_single_backtests(grid_result, demo_market):
    frame = grid_result.frame
    spec = grid_result.spec
    assert len(frame) == 24 and list(frame["rank"]) == list(range(1, 25))
    assert frame["sharpe"].is_monotonic_decreasing
    params_of = dict(spec.sets)
    checked = set()
    for number in (0, 5, 10, 17, 23):   # open/limit, next_open/close, stops and holds
        row = frame.loc[frame["set"] == number].iloc[0]
        cfg = set_config(spec, params_of[number])
        marks = load_marks(cfg, demo_market)
        metrics = compute_metrics(run_config(cfg, prepared=(demo_market, marks)))
        _assert_row_equals_backtest(row, metrics)
        checked.add((row["entry"], row["exit_at"]))
    assert len(checked) == 4
    assert frame["trades"].max() > 0 and frame["rejected_limit_up_sealed"].max() > 0


def test_threads_and_chunks_do_not_change_rows(grid_result, demo_market, tmp_path):
    spec = grid_result.spec
    one = run_grid(spec, workers=1, market=demo_market).frame
    pd.testing.assert_frame_equal(one, grid_result.frame, check_exact=True)
    sub = load_grid_config(_write(tmp_path, GRID), sample=7, seed=1)
    part = run_grid(sub, workers=2, market=demo_market).frame.set_index("set")
    full = grid_result.frame.set_index("set").loc[part.index]
    cols = [c for c in part.columns if c != "rank"]
    pd.testing.assert_frame_equal(part[cols], full[cols], check_exact=True)


def test_signal_threshold_groups_equal_single_backtests(tmp_path, demo_market):
    text = BASE.replace(f'marks = "{DEMO_MARKS}"', 'articles = ["demo"]') + (
        "[grid]\nmin_score = [0.5, 1.5]\nmax_hold = [3, 10]\n")
    spec = load_grid_config(_write(tmp_path, text))
    result = run_grid(spec, workers=2, market=demo_market)
    assert len(result.marks) == 2
    sizes = sorted(len(m) for m in result.marks.values())
    assert sizes[0] < sizes[1]                 # a higher threshold keeps fewer marks
    params_of = dict(spec.sets)
    for row in result.frame.itertuples(index=False):
        cfg = set_config(spec, params_of[row.set])
        assert cfg.signals.options["min_score"] == row.min_score
        metrics = compute_metrics(run_config(cfg, prepared=(demo_market,
                                                             load_marks(cfg, demo_market))))
        _assert_row_equals_backtest(pd.Series(row._asdict()), metrics)


def test_train_end_split(tmp_path, demo_market):
    spec = load_grid_config(_write(tmp_path, GRID), train_end="2024-08-30", sample=3, seed=5)
    result = run_grid(spec, workers=2, market=demo_market)
    frame = result.frame
    assert set(metric_names(split=True)) <= set(frame.columns)
    ranked = frame["is_sharpe"].to_numpy()
    assert list(ranked) == sorted(ranked, reverse=True)
    sessions = np.asarray(demo_market.sessions, dtype="datetime64[D]")
    k = int((sessions <= np.datetime64("2024-08-30")).sum())
    assert result.split == k
    params_of = dict(spec.sets)
    for row in frame.itertuples(index=False):
        cfg = set_config(spec, params_of[row.set])
        res = run_config(cfg, prepared=(demo_market, load_marks(cfg, demo_market)))
        eq = res.equity["equity"].to_numpy()
        assert row.is_total_return == pytest.approx(eq[k - 1] / 1_000_000 - 1, rel=1e-12)
        assert row.oos_total_return == pytest.approx(eq[-1] / eq[k - 1] - 1, rel=1e-12)
        # in-sample = a backtest that ends at train_end (the engine never looks ahead)
        short = set_config(spec, params_of[row.set])
        short = short.__class__(data=short.data.__class__(
            path="demo", start=short.data.start, end=pd.Timestamp("2024-08-30").date()),
            signals=short.signals, params=short.params)
        m = compute_metrics(run_config(short))
        for key in ("total_return", "sharpe", "sortino", "max_drawdown", "volatility"):
            assert _close(m[key], getattr(row, f"is_{key}")), key
    with pytest.raises(ConfigError, match="both parts need at least two sessions"):
        run_grid(load_grid_config(_write(tmp_path, GRID), train_end="2024-12-31", sample=1),
                 market=demo_market)


def test_grid_csv_format():
    frame = pd.DataFrame({"rank": [1], "set": [3], "entry": ["open"], "skip_held": [True],
                          "roles": [("momentum", "broker")],
                          "sharpe": [1.23456789012345], "sortino": [float("nan")]})
    assert grid_csv(frame) == ("rank,set,entry,skip_held,roles,sharpe,sortino\n"
                               "1,3,open,true,momentum;broker,1.2345678901,\n")


# ---------------------------------------------------------------- command line


def test_cli_demo_grid_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["grid", str(REPO / "configs" / "demo_grid.toml"), "--out", str(out), "--top", "1",
            "--workers", "2", "--no-progress", "--sample", "12", "--seed", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC demo market" in printed
    assert "12 parameter sets (of 96) ranked by is_sharpe" in printed
    frame = pd.read_csv(out / "grid.csv")
    assert len(frame) == 12 and frame.columns[:2].tolist() == ["rank", "set"]
    assert {"max_hold", "min_score", "oos_sharpe", "is_sharpe"} <= set(frame.columns)
    png = (out / "heatmap.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "grid.html").read_text(encoding="utf-8")
    assert "<svg" in page and 'id="ranked"' in page and "http" not in page
    best = frame.iloc[0]
    folder = out / "top" / f"01_set{best['set']}"
    assert (folder / "tearsheet.html").stat().st_size > 10_000
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    _assert_row_equals_backtest(best, metrics)
    # the best set's resolved config re-run through `hypebt backtest` gives the same metrics
    again = tmp_path / "again"
    assert main(["backtest", str(folder / "config.toml"), "--out", str(again)]) == 0
    assert (again / "metrics.json").read_text() == (folder / "metrics.json").read_text()
    # byte-identical outputs on a second run
    out2 = tmp_path / "out2"
    assert main(argv[:3] + [str(out2)] + argv[4:]) == 0
    for name in ("grid.csv", "heatmap.png", "grid.html"):
        assert (out / name).read_bytes() == (out2 / name).read_bytes(), name


def test_cli_errors(tmp_path, capsys):
    path = _write(tmp_path, GRID)
    assert main(["grid", str(path), "--heatmap", "max_hold,stop_los"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and 'did you mean "stop_loss"' in err
    assert main(["grid", str(path), "--workers", "0"]) == 2
    assert "--workers 0: expected a positive integer" in capsys.readouterr().err


# ---------------------------------------------------------------- real data


def test_real_doubao_grid(shared_data, tmp_path):
    spec = load_grid_config(REPO / "configs" / "real_doubao_grid.toml", sample=8, seed=0)
    result = run_grid(spec, workers=2)
    frame = result.frame
    assert len(frame) == 8 and frame["orders"].min() > 0
    best = frame.iloc[0]
    params_of = dict(spec.sets)
    cfg = set_config(spec, params_of[best["set"]])
    metrics = compute_metrics(run_config(cfg, prepared=(result.market,
                                                        load_marks(cfg, result.market))))
    _assert_row_equals_backtest(best, metrics)
    paths = write_grid(result, tmp_path, top=1)
    assert (tmp_path / "heatmap.png").exists() and "top/01_set" in " ".join(paths)
    text = next((tmp_path / "top").iterdir()).joinpath("tearsheet.html").read_text()
    assert "天娱数科" in text


def test_resolved_set_config_is_a_run_config(grid_result, tmp_path):
    spec = grid_result.spec
    number, params = spec.sets[3]
    text = resolved_toml(set_config(spec, params), relative_to=tmp_path)
    cfg = load_config(_write(tmp_path, text, "set.toml"))
    assert cfg.params == set_config(spec, params).params


def test_progress_bar_counts_sets(grid_result, demo_market, capsys):
    run_grid(grid_result.spec, workers=1, market=demo_market, progress=True)
    err = capsys.readouterr().err
    assert "grid" in err and "24/24" in err


def test_heatmap_ignores_global_matplotlib_style(grid_result, tmp_path):
    import matplotlib as mpl
    import quantstats  # noqa: F401 - sets its own style globally on import

    with mpl.rc_context({"axes.grid": True, "font.family": ["serif"], "axes.facecolor": "#abc"}):
        write_grid(grid_result, tmp_path / "a", top=0)
    write_grid(grid_result, tmp_path / "b", top=0)
    assert (tmp_path / "a" / "heatmap.png").read_bytes() == (tmp_path / "b" / "heatmap.png").read_bytes()


# ---------------------------------------------------------------- property: any parameters

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PARAM_SETS = st.fixed_dictionaries({
    "entry": st.sampled_from(["open", "limit"]),
    "limit_fill": st.sampled_from(["broken", "touched"]),
    "exit_on_break": st.booleans(),
    "exit_at": st.sampled_from(["next_open", "close"]),
    "stop_loss": st.sampled_from([0.0, 0.03, 0.08]),
    "take_profit": st.sampled_from([0.0, 0.1, 0.3]),
    "max_hold": st.integers(0, 12),
    "max_positions": st.integers(1, 10),
    "position_size": st.sampled_from([0.05, 0.2, 0.5]),
    "slippage_ticks": st.integers(0, 3),
    "at_limit_open": st.sampled_from(["fill", "reject"]),
    "volume_cap": st.sampled_from([0.0, 0.001]),
})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sets=st.lists(PARAM_SETS, min_size=1, max_size=4))
def test_any_parameter_sets_equal_single_backtests(sets, demo_market, base_config):
    from backtests.engine.backtest import mark_index, market_arrays, marks_array, run_backtest
    from backtests.grid.chunks import run_chunk
    from backtests.grid.nb import grid_columns
    from backtests.grid.results import results_frame
    from strategies import pack_grid

    marks = load_marks(load_config(base_config), demo_market).frame
    out = run_chunk(market_arrays(demo_market), mark_index(marks_array(demo_market, marks)),
                    pack_grid(sets), 0)
    frame = results_frame(list(enumerate(sets)), {}, out, grid_columns(False), 0).set_index("set")
    for number, params in enumerate(sets):
        metrics = compute_metrics(run_backtest(demo_market, marks, params))
        _assert_row_equals_backtest(frame.loc[number], metrics)


def test_grid_from_the_archive_equals_grid_from_the_articles(tmp_path, demo_market):
    from signals.demo import DEMO_ARTICLES

    store = tmp_path / "store"
    assert main(["news", "import", str(DEMO_ARTICLES), "--store", str(store)]) == 0
    axes = "[grid]\nmin_score = [0.5, 1.5]\nmax_hold = [3, 10]\n"
    files = BASE.replace(f'marks = "{DEMO_MARKS}"', 'articles = ["demo"]') + axes
    archive = BASE.replace(f'marks = "{DEMO_MARKS}"', f'archive = "{store.as_posix()}"') + axes
    a = run_grid(load_grid_config(_write(tmp_path, files)), workers=1, market=demo_market)
    b = run_grid(load_grid_config(_write(tmp_path, archive)), workers=1, market=demo_market)
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert a.marks.keys() == b.marks.keys()
    for key in a.marks:
        pd.testing.assert_frame_equal(a.marks[key], b.marks[key])


# ---------------------------------------------------------------- ladder keys as axes

LADDER_BASE = BASE.replace('[signals]\n', '[signals]\nsource = "news_and_ladder"\nstreak = [1]\n')


def _single_run_metrics(text: str, tmp_path: Path, demo_market, name: str) -> dict:
    """metrics.json of ``hypebt backtest`` on a config file written out by hand."""
    cfg = load_config(_write(tmp_path, text, name))
    return compute_metrics(run_config(cfg, prepared=(demo_market, load_marks(cfg, demo_market))))


@pytest.mark.parametrize("base, axes, groups", [
    (LADDER_BASE, 'source = ["news_and_ladder", "news_or_ladder"]\nstreak = [[1], ["2+"]]\n'
                  'first_board = [false, true]\n', 8),
    (BASE.replace(f'marks = "{DEMO_MARKS}"', 'source = "ladder"\nstreak = [1]'),
     'streak = [1, [2, 3], ["3+"]]\nfirst_board = [false, true]\nmax_hold = [2, 5]\n', 6),
])
def test_ladder_axes_equal_single_backtests(tmp_path, demo_market, base, axes, groups):
    """[grid] source / streak / first_board: one marks array per combination, and every row
    equals the backtest of the config written with those [signals] values."""
    spec = load_grid_config(_write(tmp_path, base + "[grid]\n" + axes))
    result = run_grid(spec, workers=2, market=demo_market)
    assert len(result.marks) == groups
    assert len({len(m) for m in result.marks.values()}) > 2    # the marks differ per group
    params_of = dict(spec.sets)
    for row in result.frame.itertuples(index=False):
        params = params_of[row.set]
        streak = params.get("streak", (1,))
        text = base.replace("streak = [1]\n", "")
        if "source" in params:
            text = text.replace('source = "news_and_ladder"', f'source = "{params["source"]}"')
        lines = f"streak = {list(streak)!r}\n".replace("'", '"')
        if params.get("first_board"):
            lines += "first_board = true\n"
        text = text.replace("[signals]\n", "[signals]\n" + lines)
        if "max_hold" in params:
            text = text.replace("[strategy]\n", f"[strategy]\nmax_hold = {params['max_hold']}\n")
        metrics = _single_run_metrics(text, tmp_path, demo_market, f"set{row.set}.toml")
        _assert_row_equals_backtest(pd.Series(row._asdict()), metrics)
        cfg = set_config(spec, params)
        assert cfg.signals.streak == streak
        assert cfg.signals.first_board == params.get("first_board", False)


def test_ladder_axes_are_checked(tmp_path):
    assert 'did you mean "streak"' in _error(tmp_path, LADDER_BASE + "[grid]\nstreaks = [[1]]\n")
    msg = _error(tmp_path, LADDER_BASE + '[grid]\nstreak = [[1], ["x+"]]\n')
    assert "grid.toml: [grid] streak = ['x+']: 'x+' is not a streak" in msg
    msg = _error(tmp_path, LADDER_BASE + '[grid]\nsource = ["news_and_ladder", "ladder"]\n')
    assert "[grid] set 1 (source='ladder') cannot run: " in msg and "uses no news" in msg
    msg = _error(tmp_path, LADDER_BASE + '[grid]\nsource = ["newz"]\n')
    assert "did you mean" in msg or "expected one of" in msg
