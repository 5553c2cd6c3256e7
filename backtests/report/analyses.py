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


def equal_weight_returns(market) -> pd.Series:
    """Equal-weight index of a loaded ``Market``: each session, the mean of close / prev_close − 1
    over the stocks with a bar (suspended and unlisted stocks left out)."""
    close = np.asarray(market.close, dtype=float)
    prev = np.asarray(market.prev_close, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = close / prev - 1.0
    ok = np.isfinite(r)
    counts = ok.sum(axis=1)
    sums = np.where(ok, r, 0.0).sum(axis=1)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    idx = pd.DatetimeIndex(np.asarray(market.sessions).astype("datetime64[ns]"))
    return pd.Series(mean, index=idx, name="benchmark")
