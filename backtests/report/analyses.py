"""Return series a report is drawn from: a run's daily returns and the equal-weight market."""
from __future__ import annotations

import numpy as np
import pandas as pd


def daily_returns(equity: pd.Series, initial: float | None) -> pd.Series:
    """Daily simple returns of an equity curve (indexed by date, made tz-naive); the first one
    against ``initial`` (the starting cash), or 0.0 when ``initial`` is not known."""
    values = equity.to_numpy(dtype=float)
    prev = np.concatenate([[float(initial) if initial else np.nan], values[:-1]])
    out = values / prev - 1.0
    if not initial and len(out):
        out[0] = 0.0
    index = pd.DatetimeIndex(pd.to_datetime(equity.index)).tz_localize(None)
    return pd.Series(out, index=index, name="returns")


#: Sessions per block in :func:`equal_weight_returns`.
ROW_BLOCK = 128


def equal_weight_returns(market) -> pd.Series:
    """Equal-weight index of a loaded ``Market``: each session, the mean of close / prev_close − 1
    over the stocks with a bar (suspended and unlisted stocks left out)."""
    close = np.asarray(market.close, dtype=float)
    prev = np.asarray(market.prev_close, dtype=float)
    mean = np.zeros(close.shape[0])
    for a in range(0, close.shape[0], ROW_BLOCK):   # blocks of sessions: each row's sum is
        with np.errstate(invalid="ignore", divide="ignore"):   # the same, the temporaries
            r = close[a:a + ROW_BLOCK] / prev[a:a + ROW_BLOCK] - 1.0   # stay small
        ok = np.isfinite(r)
        counts = ok.sum(axis=1)
        sums = np.where(ok, r, 0.0).sum(axis=1)
        np.divide(sums, counts, out=mean[a:a + ROW_BLOCK], where=counts > 0)
    idx = pd.DatetimeIndex(np.asarray(market.sessions).astype("datetime64[ns]"))
    return pd.Series(mean, index=idx, name="benchmark")


def marks_did(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and count of the ``car_open_hK`` / ``car_close_hK`` columns of ``study_marks.csv``
    for all marks, those the run bought and the others: one row per (subset, measure), columns
    ``subset, measure, n`` and ``hK`` (mean, NaN when no mark has a value)."""
    traded = frame["traded"].astype(str).str.lower().eq("true")
    rows = []
    for subset, mask in (("all marks", np.ones(len(frame), bool)), ("bought by the run", traded),
                         ("not bought", ~traded)):
        for measure in ("car_open", "car_close"):
            cols = [c for c in frame.columns if c.startswith(measure + "_h")]
            sub = frame.loc[mask, cols].apply(pd.to_numeric, errors="coerce")
            row = {"subset": subset, "measure": measure,
                   "n": int(sub[cols[0]].notna().sum()) if cols else 0}
            row.update({c[len(measure) + 1:]: float(sub[c].mean()) if sub[c].notna().any()
                        else float("nan") for c in cols})
            rows.append(row)
    return pd.DataFrame(rows)


def with_credits(trades: pd.DataFrame, credits: pd.DataFrame | None) -> pd.DataFrame:
    """``trades`` with corporate actions folded in for round-trip matching: each credit's new
    shares become a buy of no cost on its ex-date (before that day's trades), its cash
    dividend raises the ``value`` of the stock's next sell (the engine sells a position
    whole, so that sell closes the position that received it), and each sell's
    ``dividend_tax`` joins its fees."""
    if trades is None or len(trades) == 0:
        return trades
    t = trades.reset_index(drop=True)
    if "dividend_tax" in t.columns:
        t = t.assign(transfer_fee=t["transfer_fee"].to_numpy(dtype=float)
                     + t["dividend_tax"].to_numpy(dtype=float))
    if credits is None or len(credits) == 0:
        return t
    t = t.assign(value=t["value"].to_numpy(dtype=float).copy())
    day = pd.to_datetime(t["date"]).to_numpy()
    side = t["side"].to_numpy()
    kinds = pd.unique(side)
    sell_kind = np.array([v == "sell" if isinstance(v, str) else int(v) < 0 for v in kinds],
                         dtype=bool)
    sells = np.flatnonzero(sell_kind[pd.factorize(side)[0]]) if len(kinds) else \
        np.zeros(0, np.int64)
    codes = t["code"].to_numpy(dtype=object)
    for c_day, c_code, cash in zip(pd.to_datetime(credits["date"]).to_numpy(),
                                   credits["code"].to_numpy(dtype=object),
                                   credits["dividend"].to_numpy(dtype=float)):
        later = sells[(codes[sells] == c_code) & (day[sells] >= c_day)]
        if len(later) and cash:
            t.loc[later[0], "value"] += cash
    new = credits[credits["new_shares"] > 0]
    extra = pd.DataFrame({"date": pd.to_datetime(new["date"]).to_numpy(),
                          "code": new["code"].to_numpy(dtype=object), "side": "buy",
                          "shares": new["new_shares"].to_numpy(dtype=np.int64), "value": 0.0,
                          "commission": 0.0, "stamp_duty": 0.0, "transfer_fee": 0.0})
    both = pd.concat([extra.assign(k__=0), t.assign(k__=1)], ignore_index=True)
    both["date"] = pd.to_datetime(both["date"])
    return both.sort_values(["date", "k__"], kind="stable").drop(columns="k__") \
        .reset_index(drop=True)
