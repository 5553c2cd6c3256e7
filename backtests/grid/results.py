"""Grid results: the ranked grid.csv frame built from the kernel's rows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtests.grid.spec import LOWER_IS_BETTER, RETURN_METRICS, GridSpec


@dataclass
class GridResult:
    """``frame``: one row per set (``set``, the swept parameters, metrics, ``rank``), ranked;
    ``market``/``marks`` are kept for writing the top sets' run folders."""
    spec: GridSpec
    frame: pd.DataFrame
    market: object = None
    marks: dict = field(default_factory=dict)    # signal-parameter tuple -> marks frame
    split: int = 0
    seconds: float = 0.0          # whole run_grid call (loading included)
    kernel_seconds: float = 0.0   # the kernel calls (or the Dask round trip)


def results_frame(sets, axes, out: np.ndarray, columns: tuple, split: int,
                  rank_by: str = "sharpe", *, skips: bool = False) -> pd.DataFrame:
    """Kernel rows (``out``, one per ``(set_number, params)`` of ``sets``) -> the ranked
    grid.csv frame: ``set``, the ``axes`` parameters, the metrics (trade metrics derived from
    the kernel's counters); with ``skips`` (some set uses an entry filter or the gate) also the
    marks skipped by reason, ``skipped_<reason>``."""
    raw = pd.DataFrame(out, columns=list(columns))
    data: dict = {"set": [n for n, _p in sets]}
    for key in axes:
        data[key] = [p[key] for _n, p in sets]
    if split:  # in/out-of-sample pairs first, next to the parameters: read them side by side
        for m in RETURN_METRICS:
            data["is_" + m] = raw["is_" + m].to_numpy()
            data["oos_" + m] = raw["oos_" + m].to_numpy()
    for m in RETURN_METRICS:
        data[m] = raw[m].to_numpy()
    data["final_equity"] = raw["final_equity"].to_numpy()

    def ratio(num: str, den: str) -> np.ndarray:  # NaN where undefined, as metrics.json's null
        d = raw[den].to_numpy()
        return np.where(d > 0, raw[num].to_numpy() / np.where(d > 0, d, 1), np.nan)

    data["trades"] = raw["round_trips"].to_numpy().astype(np.int64)
    data["win_rate"] = ratio("wins", "round_trips")
    data["profit_factor"] = ratio("gross_profit", "gross_loss")
    data["avg_holding_sessions"] = ratio("hold_sessions", "round_trips")
    data["orders"] = raw["orders"].to_numpy().astype(np.int64)
    data["filled_orders"] = raw["fills"].to_numpy().astype(np.int64)
    data["fill_rate"] = ratio("fills", "orders")
    data["fees"] = raw["fees"].to_numpy()
    for c in columns:
        if c.startswith("rejected_") or (skips and c.startswith("skipped_")):
            data[c] = raw[c].to_numpy().astype(np.int64)
    frame = pd.DataFrame(data)
    return rank_frame(frame, rank_by, split=bool(split))


def rank_key(rank_by: str, split: bool) -> str:
    """The column ranked on: the in-sample value of a return statistic when split."""
    return f"is_{rank_by}" if split and rank_by in RETURN_METRICS else rank_by


def rank_frame(frame: pd.DataFrame, rank_by: str, *, split: bool) -> pd.DataFrame:
    """Sort best first on ``rank_by`` (NaN last, ties by set number) and number the ``rank``."""
    key = rank_key(rank_by, split)
    ascending = rank_by in LOWER_IS_BETTER
    ordered = frame.sort_values([key, "set"], ascending=[ascending, True], na_position="last",
                                kind="stable").reset_index(drop=True)
    ordered.insert(0, "rank", np.arange(1, len(ordered) + 1))
    return ordered


# ---------------------------------------------------------------- output


def fmt_value(value) -> str:
    if isinstance(value, (tuple, list)):  # a list-valued parameter (roles): a;b;c
        return ";".join(fmt_value(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return ""
        return repr(round(v, 10) + 0.0)
    text = str(value)
    return f'"{text}"' if "," in text else text


def grid_csv(frame: pd.DataFrame) -> str:
    """grid.csv text: floats rounded to 10 decimals (as metrics.json), NaN empty, booleans
    ``true``/``false``, list values (``roles``) joined with ``;``."""
    lines = [",".join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(",".join(fmt_value(v) for v in row))
    return "\n".join(lines) + "\n"


def heatmap_frame(frame: pd.DataFrame, a: str, b: str, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per (a, b) over the other swept parameters; rows ``a``, columns ``b``,
    in value order."""
    sub = frame[[a, b, metric]].copy()
    table = sub.groupby([a, b], sort=True)[metric].mean().unstack(b)
    return table
