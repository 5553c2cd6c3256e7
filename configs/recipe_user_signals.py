"""The user-signal recipe (docs/strategies.md): an idea computed in pandas, run through the
engine's fill model.

Idea ("放量突破", a volume breakout): a main-board, non-ST stock whose close is its highest of
the last 20 sessions on at least twice its average 20-session amount is bought at the next
session's open (score = the amount ratio; the 3 highest per session). It is sold at the close
of the first session that closes below its 5-session average close.

    python configs/recipe_user_signals.py ../shared/data/ashare_daily_20240719_20250523.csv.gz

writes ``configs/user_entries.csv`` (date,code,score) and ``configs/user_exits.csv`` (date,code)
for the window of ``configs/recipe_user_signals.toml``. In Python the frames go straight in::

    entries, exits = user_signals(market)        # dates x codes: scores (NaN = none), booleans
    result = hypebt_engine.run_backtest(market, entries, params, exits=exits)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

START, END = "2024-12-02", "2025-01-27"
TOP = 3


def user_signals(market) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(entries, exits)`` as wide frames (index: sessions, columns: codes)."""
    idx = pd.DatetimeIndex(market.sessions)
    cols = [str(c) for c in market.codes]
    close = pd.DataFrame(market.close, index=idx, columns=cols)
    amount = pd.DataFrame(market.amount, index=idx, columns=cols)
    ok = (np.asarray(market.boards) == 0) & ~np.asarray(market.is_st, bool)
    high20 = close.rolling(20, min_periods=20).max()
    ratio = amount / amount.rolling(20, min_periods=20).mean()
    signal = (close >= high20) & (ratio >= 2.0) & ok[None, :]
    score = ratio.where(signal)
    # Decided at the close of t - 1, entered at the open of t: shift by one session.
    score = score.shift(1)
    rank = score.rank(axis=1, ascending=False, method="first")
    entries = score.where(rank <= TOP)
    exits = close < close.rolling(5, min_periods=5).mean()
    return entries, exits


def to_csv(entries: pd.DataFrame, exits: pd.DataFrame, start=START, end=END):
    """The long CSV texts of the two frames within ``start..end`` (exits only for stocks with
    an entry, from their first entry on)."""
    e = entries.loc[start:end].stack().dropna().rename("score").reset_index()
    e.columns = ["date", "code", "score"]
    e = e.sort_values(["date", "score", "code"], ascending=[True, False, True])
    x = exits.loc[start:end, sorted(set(e["code"]))]
    x = x.where(x).stack().dropna().reset_index().iloc[:, :2]
    x.columns = ["date", "code"]
    first = e.groupby("code")["date"].min()
    x = x[x["date"].to_numpy() >= first.reindex(x["code"]).to_numpy()]
    day = lambda s: pd.to_datetime(s).dt.strftime("%Y-%m-%d")  # noqa: E731
    marks = "date,code,score\n" + "".join(
        f"{d},{c},{s:.6f}\n" for d, c, s in zip(day(e["date"]), e["code"], e["score"]))
    outs = "date,code\n" + "".join(f"{d},{c}\n" for d, c in zip(day(x["date"]), x["code"]))
    return marks, outs


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from backtests.market import load_market

    here = Path(__file__).resolve().parent
    market = load_market(sys.argv[1], names=[str(here.parents[1] / "shared" / "data" /
                                                 "ashare_names_20250418.csv")])
    marks_text, exits_text = to_csv(*user_signals(market))
    (here / "user_entries.csv").write_text(marks_text, encoding="utf-8")
    (here / "user_exits.csv").write_text(exits_text, encoding="utf-8")
