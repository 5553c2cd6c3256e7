"""Make a deterministic SYNTHETIC whole-market panel on the real trading calendar, for benchmarks.

    .venv/bin/python benchmarks/make_panel.py --years 10 --stocks 5000 --seed 1 [--out DIR]
        [--marks 27000] [--articles 2000] [--csv/--no-csv]

Writes into ``DIR`` (default ``$TMPDIR/hypebt-panel-<years>y-<stocks>-s<seed>``):

- ``panel.parquet`` and ``panel.csv.gz``: ``code,date,open,high,low,close,volume,amount``,
  ``date`` as ``YYYYMMDD`` text, one row per stock and traded session (the real panel's format),
  rows ordered by date then code;
- ``names.csv``: ``code,name`` (invented names 合成NNNN; ST stocks carry an ``ST`` prefix);
- ``marks.csv``: ``date,code,score``, ``--marks`` marks on sessions that follow a limit-up close
  (the theme-hype entry case), sampled deterministically;
- ``articles.jsonl``: ``--articles`` invented articles naming those stocks (for ``signals``);
- ``backtest.toml`` and ``grid.toml``: a marks-driven ``theme_hype`` config on the panel, and
  the same with a 1,000-set ``[grid]`` table.

The market is shaped like the real one where the engine cares: boards by code prefix (main,
ChiNext 300, STAR 688) with their limit ratios from ``backtests.rules`` (ST main-board stocks at
the ST ratio), prices in cents inside the limits computed exactly as the engine does, limit-up
streaks (some opening sealed as 一字板, some breaking intraday as 炸板), limit-down days,
suspensions (no row for a spell of sessions) and new listings during the window (no row before
the listing day, no limit on the free sessions after it). Same arguments -> byte-identical files.
Everything is SYNTHETIC: no real company or price.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

END = np.datetime64("2025-05-23")   # last session of the real panel
REVERSION = 0.002                   # daily pull of the log price back to its start
# How far below the limit a streak day that is not sealed opens (at most), and the mean return
# the session after a streak ends: together they make chasing a limit-up about break-even.
EDGE_GAP = float(os.environ.get("MAKE_PANEL_GAP", 0.04))
EDGE_DROP = float(os.environ.get("MAKE_PANEL_DROP", -0.03))


def _import(*names):
    """``backtests.rules`` / ``backtests.calendar`` before or after the layout move (#9)."""
    import importlib

    out = []
    for name in names:
        for mod in (f"backtests.core.{name}", f"backtests.{name}"):
            try:
                out.append(importlib.import_module(mod))
                break
            except ModuleNotFoundError:
                continue
        else:
            raise ModuleNotFoundError(name)
    return out


def make_codes(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct 6-digit codes: 60% main board (600/601/603/000/002), 25% ChiNext (300/301),
    15% STAR (688); sorted. Returns ``(codes, board_kind)``."""
    prefixes = ("600", "601", "603", "000", "002", "300", "301", "688")
    weights = np.array([0.14, 0.12, 0.10, 0.12, 0.12, 0.15, 0.10, 0.15])
    if n > 6600:
        raise SystemExit("--stocks: at most 6,600 (1,000 codes per prefix)")
    counts = np.floor(weights * n).astype(int)
    counts[0] += n - counts.sum()
    codes = []
    for prefix, k in zip(prefixes, counts):
        pick = np.sort(rng.choice(1000, size=k, replace=False))
        codes += [f"{prefix}{i:03d}" for i in pick]
    return np.array(sorted(codes)), None


def simulate(sessions: np.ndarray, codes: np.ndarray, rng, rules):
    """The bars: dict of ``[S, N]`` arrays (NaN = no row), ``is_st[N]``, ``list_pos[N]``."""
    S, N = len(sessions), len(codes)
    boards = rules.boards_of(codes)
    is_st = (rng.random(N) < 0.03) & (boards == rules.BOARD_MAIN)
    # new listings: 20% of stocks list inside the window (no row before), the rest before it
    list_pos = np.where(rng.random(N) < 0.20, rng.integers(1, max(2, S - 5), N), 0)
    # free sessions (no limit) after listing, by the rules of the listing date
    free = np.array([max(1, rules.free_sessions_after_listing(int(b), sessions[min(p, S - 1)]))
                     for b, p in zip(boards, list_pos)])
    ratio = rules.limit_ratios(boards, np.broadcast_to(is_st, (S, N)), sessions)
    tick = 0.01

    price = np.round(np.exp(rng.normal(2.5, 0.7, N)), 2).clip(2.0, 300.0)
    # Each stock's log price reverts slowly to where it started (about 2% of the gap a month),
    # so ten years of streaks and listing-day jumps stay in a real market's range (a random
    # walk with them ran past the loader's 1,000,000 CNY sanity limit).
    anchor = np.log(price)
    streak = np.zeros(N, dtype=np.int64)        # sessions left of a limit-up streak
    susp = np.zeros(N, dtype=np.int64)          # sessions left of a suspension
    was_hype = np.zeros(N, dtype=bool)
    out = {k: np.full((S, N), np.nan) for k in ("open", "high", "low", "close", "volume")}
    for t in range(S):
        listed = t >= list_pos
        new_susp = listed & (susp == 0) & (rng.random(N) < 0.002) & (t > list_pos)
        susp[new_susp] = rng.integers(1, 25, int(new_susp.sum()))
        trade = listed & (susp == 0)
        susp[susp > 0] -= 1
        rel = t - list_pos
        free_now = (list_pos > 0) & (rel >= 0) & (rel < free)
        r = ratio[t]
        up, down = rules.limit_prices(price, r)
        up = np.where(free_now | ~np.isfinite(up), np.round(price * (1.3 + 0.4 * (rel == 0)), 2), up)
        down = np.where(free_now | ~np.isfinite(down), np.round(price * 0.7, 2), down).clip(tick)
        u = rng.random(N)
        ended = was_hype & (streak == 0)
        start = (streak == 0) & (u < 0.006)
        streak[start] = rng.geometric(0.55, int(start.sum()))
        hype = streak > 0
        ret = rng.normal(0.0003, 0.022, N) + np.where(rng.random(N) < 0.01, -0.12, 0.0)
        ret -= REVERSION * (np.log(price) - anchor)
        ret += np.where(ended, EDGE_DROP, 0.0)                         # the day after a streak
        close = np.round(price * (1 + ret), 2).clip(down, up)
        close = np.where(hype, up, close)
        sealed = hype & (rng.random(N) < 0.35)                     # 一字板: one price all day
        broke = ~hype & (rng.random(N) < 0.01)                     # 炸板: touched, closed below
        gap = rng.normal(0.0, 0.01, N)
        open_ = np.round(price * (1 + gap), 2).clip(down, up)
        # a streak day that is not sealed opens near the limit (the gap traders chase)
        open_ = np.where(hype, np.round(up * (1 - rng.uniform(0.0, EDGE_GAP, N)), 2).clip(down, up),
                         open_)
        open_ = np.where(sealed, up, open_)
        hi = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.008, N)))
        lo = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.008, N)))
        hi = np.round(hi, 2).clip(down, up)
        lo = np.round(lo, 2).clip(down, up)
        hi = np.where(broke | hype, up, hi)
        lo = np.where(sealed, up, lo)
        close = np.where(broke, np.minimum(close, np.round(up * 0.97, 2)).clip(lo, hi), close)
        vol = np.round(rng.lognormal(13.0, 1.0, N) / 100) * 100 + 100
        vol = np.where(sealed, np.round(vol / 1000) * 100 + 100, vol)
        for k, v in (("open", open_), ("high", hi), ("low", lo), ("close", close), ("volume", vol)):
            out[k][t] = np.where(trade, v, np.nan)
        price = np.where(trade, close, price)
        streak[hype & trade] -= 1
        was_hype = hype & trade
    out["amount"] = np.round(out["volume"] * (out["high"] + out["low"]) / 2, 2)
    return out, is_st, list_pos


def write_panel(out_dir: Path, sessions, codes, bars) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    t_idx, j_idx = np.nonzero(np.isfinite(bars["close"]))        # date-major, code-minor
    days = np.char.replace(sessions.astype(str), "-", "")
    cols = {"code": pa.array(codes[j_idx]), "date": pa.array(days[t_idx])}
    for k in ("open", "high", "low", "close", "volume", "amount"):
        cols[k] = pa.array(bars[k][t_idx, j_idx])
    table = pa.table(cols)
    pq.write_table(table, out_dir / "panel.parquet", compression="zstd")
    return table


def write_csv_gz(path: Path, table) -> None:
    import pyarrow.csv as pacsv

    buf = tempfile.SpooledTemporaryFile(max_size=1 << 30)
    pacsv.write_csv(table, buf)
    buf.seek(0)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1,
                                                 mtime=0, filename="") as gz:
        while chunk := buf.read(1 << 24):
            gz.write(chunk)


def make_marks(sessions, codes, bars, k: int, rng) -> list[tuple[str, str, float]]:
    """``k`` marks on sessions after a limit-up close (the engine's favourite case)."""
    close, high = bars["close"], bars["high"]
    lu = np.zeros_like(close, dtype=bool)
    with np.errstate(invalid="ignore"):
        lu[1:] = close[1:] >= close[:-1] * 1.095           # rough: a limit-up-ish close
    t, j = np.nonzero(lu[:-1])
    t = t + 1                                              # the next session
    if len(t) > k:
        pick = np.sort(rng.choice(len(t), size=k, replace=False))
        t, j = t[pick], j[pick]
    scores = np.round(rng.uniform(0.5, 1.0, len(t)), 3)
    return [(str(sessions[a]), str(codes[b]), float(s)) for a, b, s in zip(t, j, scores)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--stocks", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--marks", type=int, default=27000)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--no-csv", action="store_true", help="skip panel.csv.gz (slow to write)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    rules, calendar = _import("rules", "calendar")
    out = args.out or Path(tempfile.gettempdir()) / \
        f"hypebt-panel-{args.years:g}y-{args.stocks}-s{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cal = calendar.trading_calendar()
    first = END - np.timedelta64(int(round(args.years * 365.25)), "D")
    sessions = cal.between(cal.next(first, inclusive=True), END)
    rng = np.random.default_rng(args.seed)
    codes, _ = make_codes(args.stocks, rng)
    bars, is_st, list_pos = simulate(sessions, codes, rng, rules)
    table = write_panel(out, sessions, codes, bars)
    if not args.no_csv:
        write_csv_gz(out / "panel.csv.gz", table)
    names = [f"{'ST' if st else ''}合成{i:04d}" for i, st in enumerate(is_st)]
    with open(out / "names.csv", "w", encoding="utf-8", newline="\n") as f:
        f.write("code,name\n" + "".join(f"{c},{n}\n" for c, n in zip(codes, names)))
    marks = make_marks(sessions, codes, bars, args.marks, rng)
    with open(out / "marks.csv", "w", encoding="utf-8", newline="\n") as f:
        f.write("date,code,score\n" + "".join(f"{d},{c},{s:.3f}\n" for d, c, s in marks))
    name_of = dict(zip(codes, names))
    with open(out / "articles.jsonl", "w", encoding="utf-8", newline="\n") as f:
        step = max(1, len(marks) // max(1, args.articles))
        for a, i in enumerate(range(0, min(len(marks), step * args.articles), step)):
            group = marks[i:i + 3]
            day = group[0][0]
            named = "、".join(name_of[c] for _, c, _ in group)
            f.write(json.dumps({
                "id": f"synthetic-{a:05d}", "source": "SYNTHETIC", "url": "",
                "published": f"{day} 08:00:00+08:00", "title": f"合成概念股异动：{named}",
                "body": f"合成题材持续发酵，{named}等个股有望受益。" * 5},
                ensure_ascii=False) + "\n")
    base = f"""# SYNTHETIC {args.years:g}-year x {args.stocks}-stock panel from benchmarks/make_panel.py
# (seed {args.seed}); invented companies and prices.

[data]
path = "panel.parquet"
names = ["names.csv"]

[signals]
marks = "marks.csv"

[strategy]
name = "theme_hype"
entry = "open"
exit_on_break = true
exit_at = "next_open"
max_hold = 5
max_positions = 50

[portfolio]
cash = 100_000_000.0
fixed_cash = 500_000.0      # no compounding: the synthetic edge must not blow equity up
"""
    (out / "backtest.toml").write_text(base, encoding="utf-8")
    grid = base + """
[grid]
max_hold = [1, 2, 3, 5, 10]
stop_loss = [0.0, 0.03, 0.05, 0.08, 0.10]
take_profit = [0.0, 0.10, 0.20, 0.30, 0.50]
entry = ["open", "limit"]
max_positions = [5, 10, 20, 50]
"""
    (out / "grid.toml").write_text(grid, encoding="utf-8")
    print(f"{out}: {len(sessions)} sessions ({sessions[0]} .. {sessions[-1]}) x {len(codes)} "
          f"stocks, {table.num_rows:,} rows, {len(marks):,} marks, {int(is_st.sum())} ST, "
          f"{int((list_pos > 0).sum())} new listings; {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
