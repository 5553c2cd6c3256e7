"""Event study (``hypebt study``): hand-computed paths, abnormal returns and fillability on a
toy market; group statistics against numpy; the seeded bootstrap; publication buckets; the
CLI (outputs, byte-identical, one-line errors); the page in headless Chromium; real data."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pandas as pd
import pytest

from backtests.cli.main import main
from backtests.core.errors import ConfigError, DataError
from backtests.engine.backtest import toy_market
from backtests.study import event_table, parse_by, run_study, summarize
from backtests.study.events import MEASURES, publication_bucket
from backtests.study.nb import group_stats_nb
from backtests.study.summary import bootstrap_interval

SESSIONS = np.array(["2024-12-02", "2024-12-03", "2024-12-04", "2024-12-05", "2024-12-06"],
                    dtype="datetime64[D]")
CODES = ["000001", "000002", "300001"]
NAN = np.nan


def toy():
    """000001 closes at its limit-up twice, then a 一字板 (13.31 all day); 000002 trades freely
    and is suspended on the last session; 300001 (ChiNext, 20%) opens at its 12.00 limit-up on
    2024-12-04 and trades down to 11.50."""
    close = np.array([[11.00, 10.00, 10.00],
                      [12.10, 10.50, 10.00],
                      [13.31, 11.00, 11.80],
                      [12.00, 11.55, 12.98],
                      [12.60, NAN, 13.00]])
    open_ = close.copy()
    open_[2] = [13.31, 10.50, 12.00]
    high = np.fmax(open_, close)
    low = np.fmin(open_, close)
    low[2, 2] = 11.50
    return toy_market(SESSIONS, CODES, open_, high, low, close, prev_close=10.0)


def marks():
    return pd.DataFrame({
        "date": ["2024-12-04", "2024-12-04", "2024-12-04", "2024-12-06", "2024-12-04"],
        "code": ["000001", "000002", "300001", "000002", "000002"],   # last: a duplicate
        "role": ["momentum", "broker", "momentum", "risk", "broker"],
        "theme": ["AI", "AI", "", "AI", "AI"],
    })


# Equal-weight daily returns, written out by hand (close / previous close - 1 per stock).
MKT = {2: (0.1 + (11 / 10.5 - 1) + 0.18) / 3,
       3: ((12 / 13.31 - 1) + 0.05 + 0.1) / 3,
       4: (0.05 + (13 / 12.98 - 1)) / 2}                   # 000002 suspended
MAIN = {2: (0.1 + (11 / 10.5 - 1)) / 2, 3: ((12 / 13.31 - 1) + 0.05) / 2, 4: 0.05}
MKT_OC2 = (0.0 + (11 / 10.5 - 1) + (11.8 / 12 - 1)) / 3    # close / open on 2024-12-04
CHINEXT_OC2 = 11.8 / 12 - 1


def test_fillability_streak_and_entry():
    ev = event_table(toy(), marks(), horizon=2)
    f = ev.frame
    assert list(f["code"]) == ["000001", "000002", "300001", "000002"]   # duplicate dropped
    assert list(f["fill"]) == ["sealed", "buyable", "opened_at_limit", "suspended"]
    assert list(f["streak_n"]) == [2, 0, 0, 0]
    assert list(f["streak"]) == ["2", "0", "0", "0"]
    assert list(f["board"]) == ["main", "main", "chinext", "main"]
    assert list(f["theme"]) == ["AI", "AI", "(none)", "AI"]
    assert list(f["first_mention"]) == ["n/a"] * 4 and list(f["publication"]) == ["n/a"] * 4
    np.testing.assert_allclose(f["prev_close"], [12.10, 10.50, 10.00, 11.55])
    np.testing.assert_allclose(f["entry_price"], [NAN, 10.50, 12.00, NAN])
    np.testing.assert_allclose(f["paid"], [NAN, 0.0, 0.2, NAN])


def test_paths_by_hand():
    ev = event_table(toy(), marks(), horizon=2)
    p = {m: ev.paths[:, :, i] for i, m in enumerate(MEASURES)}
    # sealed 000001: what the stock did from 12.10; no entry, so no from-open path
    np.testing.assert_allclose(p["ret_close"][0], [13.31 / 12.10 - 1, 12 / 12.10 - 1,
                                                   12.6 / 12.10 - 1])
    assert np.isnan(p["ret_open"][0]).all() and np.isnan(p["car_open"][0]).all()
    m2, m23 = MKT[2], (1 + MKT[2]) * (1 + MKT[3]) - 1
    m234 = (1 + MKT[2]) * (1 + MKT[3]) * (1 + MKT[4]) - 1
    np.testing.assert_allclose(p["car_close"][0], [0.1 - m2, (12 / 12.10 - 1) - m23,
                                                   (12.6 / 12.10 - 1) - m234])
    # buyable 000002 at 10.50; suspended on the last session: its close 11.55 carries
    r = np.array([11 / 10.5 - 1, 11.55 / 10.5 - 1, 11.55 / 10.5 - 1])
    np.testing.assert_allclose(p["ret_close"][1], r)
    np.testing.assert_allclose(p["ret_open"][1], r)
    np.testing.assert_allclose(p["car_close"][1], r - np.array([m2, m23, m234]))
    mo = np.array([MKT_OC2, (1 + MKT_OC2) * (1 + MKT[3]) - 1,
                   (1 + MKT_OC2) * (1 + MKT[3]) * (1 + MKT[4]) - 1])
    np.testing.assert_allclose(p["car_open"][1], r - mo)
    b = np.array([MAIN[2], (1 + MAIN[2]) * (1 + MAIN[3]) - 1,
                  (1 + MAIN[2]) * (1 + MAIN[3]) * (1 + MAIN[4]) - 1])
    np.testing.assert_allclose(p["carb_close"][1], r - b)
    # opened at the limit: a queued buy pays 12.00; the board index is ChiNext alone
    np.testing.assert_allclose(p["ret_open"][2], [11.8 / 12 - 1, 12.98 / 12 - 1, 13 / 12 - 1])
    np.testing.assert_allclose(p["carb_open"][2], [0.0, 0.0, 0.0], atol=1e-12)
    assert p["car_open"][2][0] == pytest.approx((11.8 / 12 - 1) - MKT_OC2)
    # suspended on the mark session, last session of the panel: h0 carries, h1/h2 past the end
    np.testing.assert_allclose(p["ret_close"][3], [0.0, NAN, NAN])
    assert p["car_close"][3][0] == pytest.approx(-MKT[4])
    assert np.isnan(p["ret_open"][3]).all()


def test_summary_by_hand():
    ev = event_table(toy(), marks(), horizon=2)
    s = summarize(ev, "board,role+board", n_boot=200, seed=7, min_count=3)
    row = s[(s.group == "board") & (s.value == "main") & (s.measure == "car_close")
            & (s.horizon == 0)].iloc[0]
    x = np.array([0.1 - MKT[2], (11 / 10.5 - 1) - MKT[2], -MKT[4]])
    assert row["count"] == 3 and not row["thin"]
    assert row["mean"] == pytest.approx(x.mean())
    assert row["median"] == pytest.approx(np.median(x))
    assert row["hit_rate"] == pytest.approx((x > 0).mean())
    assert row["t_stat"] == pytest.approx(x.mean() / (x.std(ddof=1) / math.sqrt(3)))
    # the bootstrap sums in float32: its bounds are within 1e-7 of the sample's extremes
    assert x.min() - 1e-7 <= row["ci_low"] <= row["mean"] <= row["ci_high"] <= x.max() + 1e-7
    # car_open of main at h0: only the buyable mark -> n = 1, thin, no t, a point interval
    one = s[(s.group == "board") & (s.value == "main") & (s.measure == "car_open")
            & (s.horizon == 0)].iloc[0]
    assert one["count"] == 1 and one["thin"] and np.isnan(one["t_stat"])
    assert one["ci_low"] == pytest.approx(one["mean"]) == pytest.approx(one["ci_high"])
    assert set(s[s.group == "role+board"]["value"]) == {"broker|main", "momentum|chinext",
                                                        "momentum|main", "risk|main"}
    # past the panel's end: h2 of main car_close counts the two marks with a path
    assert s[(s.group == "board") & (s.value == "main") & (s.measure == "car_close")
             & (s.horizon == 2)]["count"].iloc[0] == 2
    again = summarize(ev, "board,role+board", n_boot=200, seed=7, min_count=3)
    pd.testing.assert_frame_equal(s, again)


def test_group_stats_against_numpy():
    rng = np.random.default_rng(3)
    values = rng.normal(0.01, 0.05, (200, 6))
    values[rng.random(values.shape) < 0.1] = np.nan
    groups = rng.integers(0, 4, 200)
    order = np.argsort(groups, kind="stable").astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=4))]).astype(np.int64)
    out = group_stats_nb(values, order, starts)
    for g in range(4):
        for k in range(6):
            x = values[groups == g, k]
            x = x[np.isfinite(x)]
            assert out[g, k, 0] == len(x)
            assert out[g, k, 1] == pytest.approx(x.mean())
            assert out[g, k, 2] == pytest.approx(np.median(x))
            assert out[g, k, 3] == pytest.approx((x > 0).mean())
            assert out[g, k, 4] == pytest.approx(x.mean() / (x.std(ddof=1) / np.sqrt(len(x))))


def test_bootstrap_is_seeded_and_close_to_normal():
    rng = np.random.default_rng(5)
    x = rng.normal(0.02, 0.1, (400, 2))
    a = bootstrap_interval(x, n_boot=2000, seed=1, key=0)
    assert np.array_equal(a, bootstrap_interval(x, n_boot=2000, seed=1, key=0))
    assert not np.array_equal(a, bootstrap_interval(x, n_boot=2000, seed=2, key=0))
    se = x.std(ddof=1, axis=0) / math.sqrt(len(x))
    np.testing.assert_allclose(a[0], x.mean(axis=0) - 1.96 * se, atol=0.25 * se.max())
    np.testing.assert_allclose(a[1], x.mean(axis=0) + 1.96 * se, atol=0.25 * se.max())


def test_publication_buckets():
    got = publication_bucket(["2024-12-16T02:58:00+08:00", "2024-12-16T10:00:00+08:00",
                              "2024-12-16T15:00:00+08:00", "2024-12-15T10:00:00+08:00",
                              "2024-12-16T01:00:00+00:00", "2024-12-16T00:00:00+08:00", "",
                              None, "soon"])
    assert list(got) == ["pre_open", "intraday", "post_close", "non_trading_day",
                         "pre_open", "date_only", "n/a", "n/a", "n/a"]


def test_parse_by_and_bad_options():
    assert parse_by("role,board,role+board") == (("role",), ("board",), ("role", "board"))
    with pytest.raises(ConfigError, match='did you mean "board"'):
        parse_by("boad")
    with pytest.raises(ConfigError, match="at most a pair"):
        parse_by("role+board+theme")
    with pytest.raises(ConfigError, match="two different"):
        parse_by("role+role")
    with pytest.raises(ConfigError, match="horizon"):
        event_table(toy(), marks(), horizon=-1)
    with pytest.raises(ConfigError, match="bootstrap"):
        run_study(toy(), marks(), n_boot=-5)
    with pytest.raises(DataError, match="marks row 2: date 2024-12-07"):
        event_table(toy(), pd.DataFrame({"date": ["2024-12-07"], "code": ["000001"]}))
    with pytest.raises(DataError, match="marks row 2: code '600000'"):
        event_table(toy(), pd.DataFrame({"date": ["2024-12-04"], "code": ["600000"]}))


def test_default_groupings_skip_empty_dimensions():
    res = run_study(toy(), marks().drop(columns=["role"]), horizon=2, n_boot=50)
    assert ("role",) not in res.by and "role" in res.skipped
    assert ("board",) in res.by and ("fill",) in res.by


# ---------------------------------------------------------------- CLI

def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_demo_outputs_byte_identical(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, err = _run(["study", "configs/demo.toml", "--out", str(a), "--horizon", "5",
                           "--bootstrap", "200"], capsys)
    assert code == 0, err
    assert "SYNTHETIC" in out and "entry open    buyable" in out
    assert sorted(p.name for p in a.iterdir()) == ["study.csv", "study.html", "summary.csv"]
    code, _, _ = _run(["study", "configs/demo.toml", "--out", str(b), "--horizon", "5",
                       "--bootstrap", "200"], capsys)
    for name in ("study.csv", "summary.csv", "study.html"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    study = pd.read_csv(a / "study.csv", dtype={"code": str})
    assert set(study["horizon"]) == set(range(6))
    summary = pd.read_csv(a / "summary.csv")
    assert {"all", "board", "fill"} <= set(summary["group"])
    page = (a / "study.html").read_text(encoding="utf-8")
    assert "not chosen in advance" in page and "http" not in page and "<script" not in page


@pytest.mark.parametrize("argv, message", [
    (["--horizon", "-1"], "horizon = -1"),
    (["--by", "rol"], 'unknown group \'rol\' (did you mean "role"?)'),
    (["--bootstrap", "-1"], "bootstrap = -1"),
    (["--min-count", "0"], "min_count = 0"),
])
def test_cli_bad_options_one_line(tmp_path, capsys, argv, message):
    code, out, err = _run(["study", "configs/demo.toml", "--out", str(tmp_path / "s"), *argv],
                          capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("Error: ") and message in err
    assert not (tmp_path / "s").exists()


def test_cli_missing_config(tmp_path, capsys):
    code, _, err = _run(["study", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and err.startswith("Error: ") and err.count("\n") == 1


# ---------------------------------------------------------------- headless Chromium

def test_study_page_in_headless_chromium(tmp_path, capsys):
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                     if shutil.which(n)), None)
    if not chromium:
        pytest.skip("chromium not installed (Debian: apt-get install chromium fonts-noto-cjk)")
    out = tmp_path / "s"
    assert _run(["study", "configs/demo.toml", "--out", str(out), "--bootstrap", "100"],
                capsys)[0] == 0
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0"]
    with tempfile.TemporaryDirectory(prefix="hypebt-chromium-") as profile:
        dom = subprocess.run([chromium, *flags, f"--user-data-dir={profile}", "--dump-dom",
                              (out / "study.html").resolve().as_uri()],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "LANG": "C.UTF-8"})
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln] == []
        for anchor in ('id="fill"', 'id="car"', 'id="table"', "<polyline", "<polygon"):
            assert anchor in dom.stdout
        shot = tmp_path / "study.png"
        res = subprocess.run([chromium, *flags, f"--user-data-dir={profile}",
                              "--window-size=1200,2400", f"--screenshot={shot}",
                              (out / "study.html").resolve().as_uri()],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


# ---------------------------------------------------------------- real data

def test_real_doubao_study(shared_data, tmp_path, capsys):
    out = tmp_path / "doubao"
    code, text, err = _run(["study", "configs/real_doubao_articles.toml", "--out", str(out),
                            "--horizon", "10", "--bootstrap", "200"], capsys)
    assert code == 0, err
    study = pd.read_csv(out / "study.csv", dtype={"code": str})
    h0 = study[study["horizon"] == 0].set_index("code")
    # 居然智家 opened sealed at its limit-up on 2024-12-16 (the README's motivating case)
    assert h0.loc["000785", "fill"] == "sealed" and h0.loc["000785", "date"] == "2024-12-16"
    assert np.isnan(h0.loc["000785", "car_open"])
    assert (h0["publication"] == "pre_open").all()      # published 02:58 on a trading day
    assert (h0.drop("000785")["fill"] == "buyable").all()


# ---------------------------------------------------------------- the backtest's run folder

def test_run_folder_study_marks_and_tearsheet_section(tmp_path, capsys):
    from backtests.report.analyses import marks_did

    out = tmp_path / "run"
    assert _run(["backtest", "configs/demo.toml", "--out", str(out)], capsys)[0] == 0
    marks = pd.read_csv(out / "study_marks.csv", dtype={"code": str})
    signals = pd.read_csv(out / "signals.csv", dtype={"code": str})
    trades = pd.read_csv(out / "trades.csv", dtype={"code": str})
    assert len(marks) == len(signals.drop_duplicates(["date", "code"]))
    buys = set(zip(trades.loc[trades["side"] == "buy", "date"],
                   trades.loc[trades["side"] == "buy", "code"]))
    assert set(zip(marks.loc[marks["traded"], "date"], marks.loc[marks["traded"], "code"])) \
        == buys & set(zip(marks["date"], marks["code"]))
    assert marks.loc[marks["fill"] == "sealed", "car_open_h1"].isna().all()
    did = marks_did(marks)
    row = did[(did["subset"] == "all marks") & (did["measure"] == "car_close")].iloc[0]
    assert row["n"] == len(marks) and row["h1"] == pytest.approx(marks["car_close_h1"].mean())
    page = (out / "tearsheet.html").read_text(encoding="utf-8")
    assert 'id="hypebt-marks"' in page and "never used by its decisions" in page


def test_api_study_equals_cli(tmp_path, capsys):
    import hypebt

    market = hypebt.load_market("demo", start="2024-01-02", end="2024-12-31")
    marks = hypebt.marks_from_articles(["demo"], market=market)
    res = hypebt.study(market, marks, horizon=5, bootstrap=100, out=tmp_path / "api")
    assert _run(["study", "configs/demo.toml", "--out", str(tmp_path / "cli"), "--horizon", "5",
                 "--bootstrap", "100"], capsys)[0] == 0
    for name in ("study.csv", "summary.csv"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    assert len(res.events.frame) == pd.read_csv(tmp_path / "cli" / "study.csv")["code"].count() / 6


def test_study_leaves_marks_untouched():
    """Forward returns stay in the study: the marks frame given is not changed, and no layer
    below the study (signals, strategies, engine) can import it (tests/test_layers.py)."""
    m = marks()
    before = m.copy()
    run_study(toy(), m, horizon=2, n_boot=10)
    pd.testing.assert_frame_equal(m, before)


def test_column_quantiles_match_numpy():
    from backtests.study.nb import column_quantiles_nb

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7, 1000):
        a = rng.normal(size=(n, 5))
        a[rng.random(a.shape) < 0.2] = np.nan
        got = column_quantiles_nb(a, 0.025, 0.975)
        for k in range(5):
            x = a[:, k][np.isfinite(a[:, k])]
            want = np.quantile(x, [0.025, 0.975]) if x.size else [np.nan, np.nan]
            np.testing.assert_allclose(got[:, k], want, equal_nan=True)
