"""Benchmark of the event study (``hypebt study``) against a pandas groupby implementation.

    .venv/bin/python benchmarks/bench_study.py [--stocks 5000] [--sessions 2431]
        [--marks 30000] [--horizon 20] [--bootstrap 1000] [--repeat 3]

On a synthetic whole-market panel (random walks on the real calendar from 2015, ±10% / ±20%
limits by board, limit-up streaks and 一字板 planted, a few suspensions) with marks that carry
role, theme, first mention and a publication time, it times, after compilation:

* ``run_study`` (fillability, paths, abnormal returns, every default grouping with a seeded
  bootstrap) plus rendering ``study.csv``, ``summary.csv`` and ``study.html`` — everything
  ``hypebt study`` does after the market is loaded;
* the same figures computed the pandas way: forward closes by ``groupby("code").shift(-h)``,
  index returns by ``groupby(["date", "board"]).mean()``, statistics by
  ``groupby(...).agg`` and the bootstrap with numpy's multinomial counts and one matrix
  product per group (the fastest numpy form we know);

checks that both give the same counts, means, medians, hit rates and t-statistics, and prints
the ratio. The market load is not included (the 10-year whole-process figure needs the
market cache of docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backtests.core import rules  # noqa: E402  (after the sys.path line: runnable as a script)
from backtests.core.calendar import trading_calendar  # noqa: E402
from backtests.engine.backtest import toy_market  # noqa: E402
from backtests.study import run_study  # noqa: E402
from backtests.study.events import MEASURES  # noqa: E402
from backtests.study.summary import DEFAULT_BY, SUMMARY_MEASURES  # noqa: E402
from backtests.report.study_page import study_texts  # noqa: E402

ROLES = ("momentum", "cooperation", "broker", "catalyst")
THEMES = tuple(f"theme{i:02d}" for i in range(40))


def synthetic_market(n_stocks: int, n_sessions: int, seed: int = 1):
    """A random-walk market on the real calendar with limit-ups (some sealed all day) and
    suspensions; main board and ChiNext codes."""
    rng = np.random.default_rng(seed)
    cal = trading_calendar().sessions
    sessions = cal[cal >= np.datetime64("2015-01-05")][:n_sessions]
    n_main = int(n_stocks * 0.7)
    codes = np.array(sorted([f"{600000 + i:06d}" for i in range(n_main)]
                            + [f"{300000 + i:06d}" for i in range(n_stocks - n_main)]))
    boards = rules.boards_of(codes)
    cap = np.where(boards == rules.BOARD_CHINEXT, 0.2, 0.1)
    r = rng.normal(0.0003, 0.03, (len(sessions), n_stocks))
    hot = rng.random(r.shape) < 0.02                                    # limit-up sessions
    r = np.where(hot, cap, np.clip(r, -cap * 0.99, cap * 0.99))
    close = np.empty_like(r)
    last = np.full(n_stocks, 10.0)
    for t in range(len(sessions)):          # round each close on the cent, limits from it
        up = np.floor(last * (1 + cap) * 100 + 0.5) / 100
        close[t] = np.minimum(np.round(last * (1 + r[t]), 2), up)
        close[t] = np.where(hot[t], up, close[t])
        last = close[t]
    gap = rng.normal(0, 0.01, r.shape)
    prev = np.vstack([np.full((1, n_stocks), 10.0), close[:-1]])
    open_ = np.round(prev * (1 + gap), 2)
    sealed = hot & (rng.random(r.shape) < 0.3)                          # 一字板
    open_ = np.where(sealed, close, open_)
    high = np.fmax(open_, close)
    low = np.where(sealed, close, np.fmin(open_, close))
    susp = rng.random(r.shape) < 0.002
    close = np.where(susp, np.nan, close)
    return toy_market(sessions, codes, open_, high, low, close, prev_close=10.0)


def synthetic_marks(market, n_marks: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    S, N = market.close.shape
    t = rng.integers(1, S, n_marks)
    j = rng.integers(0, N, n_marks)
    key = np.unique(t * N + j)
    t, j = key // N, key % N
    sessions = np.asarray(market.sessions)
    minutes = rng.integers(0, 24 * 60, len(t))
    day = sessions[t].astype("datetime64[m]") - np.where(minutes >= 9 * 60 + 30, 1440, 0)
    published = pd.to_datetime(day + minutes.astype("timedelta64[m]")).strftime(
        "%Y-%m-%dT%H:%M:00+08:00")
    return pd.DataFrame({
        "date": pd.to_datetime(sessions[t]), "code": np.asarray(market.codes)[j],
        "role": rng.choice(ROLES, len(t)), "theme": rng.choice(THEMES, len(t)),
        "first_mention": rng.random(len(t)) < 0.4, "published": published,
    })


# ---------------------------------------------------------------- the pandas way

def long_panel(market) -> pd.DataFrame:
    """The long-form frame a pandas user starts from (one row per stock and session)."""
    S, N = market.close.shape
    return pd.DataFrame({
        "t": np.repeat(np.arange(S), N), "code": np.tile(np.asarray(market.codes), S),
        "board": np.tile(rules.boards_of(market.codes).astype(np.int64), S),
        "open": market.open.ravel(), "low": market.low.ravel(), "close": market.close.ravel(),
        "prev_close": market.prev_close.ravel(), "limit_up": market.limit_up.ravel(),
    })


def study_pandas(df: pd.DataFrame, marks: pd.DataFrame, sessions, horizon: int,
                 n_boot: int, seed: int) -> pd.DataFrame:
    """Paths and per-group statistics with pandas groupby (docstring of the module)."""
    df = df.copy()
    df["r"] = df["close"] / df["prev_close"] - 1
    df["ro"] = df["close"] / df["open"] - 1
    mkt = df.groupby("t")[["r", "ro"]].mean().reindex(range(len(sessions))).fillna(0.0)
    brd = df.groupby(["t", "board"])[["r", "ro"]].mean()
    df["cf"] = df.groupby("code")["close"].ffill()
    df["cf"] = df["cf"].fillna(df["prev_close"])
    by_code = df.groupby("code", sort=False)["cf"]
    fwd = pd.concat({h: by_code.shift(-h) for h in range(horizon + 1)}, axis=1)
    tpos = pd.Series(np.arange(len(sessions)), index=pd.to_datetime(sessions))
    m = marks.assign(t=tpos.loc[pd.to_datetime(marks["date"])].to_numpy())
    m = m.merge(df[["t", "code", "board", "open", "low", "close", "prev_close", "limit_up"]]
                .reset_index(), on=["t", "code"], how="left")
    paths = fwd.loc[m["index"]].to_numpy()
    paths = np.where(m["t"].to_numpy()[:, None] + np.arange(horizon + 1) < len(sessions),
                     paths, np.nan)
    lu = m["limit_up"]
    at_limit = lu.notna() & (m["open"] >= lu - 1e-6)
    fill = np.select([m["close"].isna(), at_limit & (m["low"] >= lu - 1e-6), at_limit],
                     ["suspended", "sealed", "opened_at_limit"], "buyable")
    entry = np.where(np.isin(fill, ["buyable", "opened_at_limit"]), m["open"], np.nan)
    # compounded index returns over each window, by cumulative levels
    lvl = np.concatenate([[1.0], np.cumprod(1 + mkt["r"].to_numpy())])
    t = m["t"].to_numpy()
    h = np.arange(horizon + 1)
    end = np.minimum(t[:, None] + h, len(sessions) - 1)
    mk_c = lvl[end + 1] / lvl[t][:, None] - 1
    mk_o = (1 + mkt["ro"].to_numpy()[t])[:, None] * lvl[end + 1] / lvl[t + 1][:, None] - 1
    bw = brd["r"].unstack("board").reindex(range(len(sessions))).fillna(0.0)
    bo = brd["ro"].unstack("board").reindex(range(len(sessions))).fillna(0.0)
    blvl = np.vstack([np.ones((1, bw.shape[1])), np.cumprod(1 + bw.to_numpy(), axis=0)])
    col = bw.columns.get_indexer(m["board"])
    bk_c = blvl[end + 1, col[:, None]] / blvl[t, col][:, None] - 1
    bk_o = ((1 + bo.to_numpy()[t, col])[:, None] * blvl[end + 1, col[:, None]]
            / blvl[t + 1, col][:, None] - 1)
    r_c = paths / m["prev_close"].to_numpy()[:, None] - 1
    r_o = paths / entry[:, None] - 1
    values = {"car_open": r_o - mk_o, "car_close": r_c - mk_c,
              "carb_open": r_o - bk_o, "carb_close": r_c - bk_c}
    # groups
    pub_t = pd.to_datetime(m["published"], utc=True).dt.tz_convert("Asia/Shanghai")
    mins = pub_t.dt.hour * 60 + pub_t.dt.minute
    trading = pd.to_datetime(pub_t.dt.date).isin(pd.to_datetime(trading_calendar().sessions))
    pub = np.where(mins == 0, "date_only", np.where(~trading, "non_trading_day", np.where(
        mins < 570, "pre_open", np.where(mins < 900, "intraday", "post_close"))))
    boards = m["board"].map(lambda b: rules.BOARD_NAMES.get(int(b), "unknown"))
    # streak: limit-up closes in a row ending the last traded session before the mark
    traded = df[df["close"].notna()]
    sealed = traded["close"] >= traded["limit_up"] - 0.005
    run = (~sealed).groupby(traded["code"]).cumsum()
    count = sealed.groupby([traded["code"], run]).cumcount() + (run == 0)
    df["streak"] = pd.Series(np.where(sealed, count, 0), index=traded.index)
    df["streak"] = df.groupby("code")["streak"].ffill()
    df["streak_prev"] = df.groupby("code")["streak"].shift(1).fillna(0)
    streak = df["streak_prev"].to_numpy()[m["index"].to_numpy()].astype(np.int64)
    frame = pd.DataFrame({
        "role": m["role"], "theme": m["theme"], "board": boards,
        "first_mention": np.where(m["first_mention"], "true", "false"),
        "streak": np.array(["0", "1", "2", "3", "4+"])[np.minimum(streak, 4)],
        "publication": pub, "fill": fill, "all": "all"})
    rows = []
    rng = np.random.default_rng(seed)
    stacked = np.concatenate([values[mm] for mm in SUMMARY_MEASURES], axis=1)   # [M, 4 (H+1)]
    for dim in ("all",) + DEFAULT_BY:
        ci = {}
        if n_boot:       # one set of resamples per group for every measure and horizon
            for g, idx in frame.groupby(dim).indices.items():
                n = len(idx)
                draws = rng.integers(0, n, (n_boot, n)) + np.arange(n_boot)[:, None] * n
                w = np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n)
                x = stacked[idx]
                fin = np.isfinite(x)
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = (w @ np.where(fin, x, 0.0)) / (w @ fin)
                with warnings.catch_warnings():     # all-NaN columns: no interval
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ci[g] = np.nanquantile(means, [0.025, 0.975], axis=0)
        for mi, measure in enumerate(SUMMARY_MEASURES):
            v = pd.DataFrame(values[measure], columns=h)
            long = v.assign(g=frame[dim].to_numpy()).melt(id_vars="g", var_name="horizon")
            long = long.dropna(subset=["value"])
            long["hit"] = long["value"] > 0
            gb = long.groupby(["g", "horizon"])
            agg = gb["value"].agg(["count", "mean", "median", "std"])
            agg["hit_rate"] = gb["hit"].mean()
            agg["t_stat"] = agg["mean"] / (agg["std"] / np.sqrt(agg["count"]))
            agg = agg.reset_index().assign(group=dim, measure=measure)
            if n_boot:
                col = mi * (horizon + 1) + agg["horizon"].to_numpy(dtype=np.int64)
                agg["ci_low"] = [ci[g][0, c] for g, c in zip(agg["g"], col)]
                agg["ci_high"] = [ci[g][1, c] for g, c in zip(agg["g"], col)]
            rows.append(agg)
    return pd.concat(rows, ignore_index=True)


def _whole_process() -> None:
    """``hypebt study`` as a user runs it (imports, loading the real panel, outputs), twice so
    the second run has numba's on-disk cache warm; skipped without the real data."""
    config = REPO / "configs" / "real_doubao_articles.toml"
    shared = REPO.parent / "shared" / "data" / "ashare_daily_20240719_20250523.csv.gz"
    if not shared.exists():
        print("whole process: real data not found, skipped")
        return
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "backtests", "study", str(config),
                                   "--out", str(Path(tmp) / "s"), "--horizon", "20"],
                                  capture_output=True, text=True, cwd=REPO,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
            times.append(time.perf_counter() - t0)
            assert proc.returncode == 0, proc.stderr[-2000:]
    print(f"whole process, hypebt study configs/real_doubao_articles.toml (real 1-year panel, "
          f"13 marks, horizon 20): {times[1]:.2f} s wall with a warm numba cache "
          f"(first run {times[0]:.2f} s)")


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stocks", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=2431)
    ap.add_argument("--marks", type=int, default=30000)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas peer")
    a = ap.parse_args()
    t0 = time.perf_counter()
    market = synthetic_market(a.stocks, a.sessions)
    marks = synthetic_marks(market, a.marks)
    print(f"panel {a.stocks:,} stocks x {len(market.sessions):,} sessions, {len(marks):,} marks, "
          f"horizon {a.horizon}, {a.bootstrap} bootstrap resamples "
          f"(built in {time.perf_counter() - t0:.1f} s, not timed)")
    small = marks.iloc[:50]
    study_texts(run_study(market, small, horizon=a.horizon, n_boot=10), title="warm-up")

    def ours():
        res = run_study(market, marks, horizon=a.horizon, n_boot=a.bootstrap)
        return res, study_texts(res, title="bench")

    def ours_compute():
        return run_study(market, marks, horizon=a.horizon, n_boot=a.bootstrap)

    t_all, (res, texts) = _median_time(ours, a.repeat)
    t_comp, _ = _median_time(ours_compute, a.repeat)
    t_noboot, _ = _median_time(lambda: run_study(market, marks, horizon=a.horizon, n_boot=0),
                               a.repeat)
    groups = res.summary[["group", "value"]].drop_duplicates().shape[0]
    print(f"hypebt study (after loading): {t_all:.2f} s = run_study {t_comp:.2f} s "
          f"(without the bootstrap {t_noboot:.2f} s) + outputs {t_all - t_comp:.2f} s; "
          f"{groups} groups, study.csv {len(texts['study.csv']) / 1e6:.1f} MB")
    _whole_process()
    if a.no_pandas:
        return 0
    df = long_panel(market)
    t_pd, ref = _median_time(lambda: study_pandas(df, marks, market.sessions, a.horizon,
                                                  a.bootstrap, 0), 1)
    s = res.summary
    ref = ref.rename(columns={"g": "value"})
    merged = s.merge(ref, on=["group", "value", "measure", "horizon"], suffixes=("", "_pd"))
    assert len(merged) == (s["count"] > 0).sum(), (len(merged), (s["count"] > 0).sum())
    for c in ("count", "mean", "median", "hit_rate", "t_stat"):
        np.testing.assert_allclose(merged[c].astype(float), merged[c + "_pd"].astype(float),
                                   rtol=1e-9, atol=1e-12, err_msg=c)
    if a.bootstrap:
        width = (merged["ci_high"] - merged["ci_low"]).to_numpy()
        width_pd = (merged["ci_high_pd"] - merged["ci_low_pd"]).to_numpy()
        ok = np.isfinite(width) & np.isfinite(width_pd) & (merged["count"] >= 30)
        rel = np.median(np.abs(width[ok] / width_pd[ok] - 1)) if ok.any() else 0.0
        print(f"same counts, means, medians, hit rates and t-statistics as pandas; bootstrap "
              f"interval widths agree within {rel * 100:.1f}% (median, groups of 30+)")
    print(f"pandas groupby implementation: {t_pd:.2f} s (run once); "
          f"ratio pandas / hypebt study: {t_pd / t_comp:.1f}x (run_study), "
          f"{t_pd / t_all:.1f}x (with outputs)")
    print(f"target: <= 2 s whole process for 30,000 marks x horizon 20; study part measured "
          f"{t_all:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
