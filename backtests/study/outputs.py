"""The study folder: ``study.csv`` (mark x horizon), ``summary.csv`` and ``study.html``.

CSV files are rendered by pyarrow's writer from columns rounded first (returns to 6 decimals,
prices to 4, t-statistics to 4), so the bytes depend only on the inputs; a missing value is an
empty cell. The folder is replaced whole (:func:`backtests.io.atomic_dir`).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from backtests.core.io import atomic_dir, write_bytes_atomic, write_text_atomic
from backtests.study.events import MEASURES, Events, event_table
from backtests.study.summary import SUMMARY_COLUMNS

STUDY_FILES = ("study.csv", "summary.csv", "study.html")
MARK_COLUMNS = ("date", "code", "name", "board", "role", "theme", "first_mention",
                "publication", "streak", "fill", "prev_close", "entry_price", "paid")
STUDY_COLUMNS = MARK_COLUMNS + ("horizon",) + MEASURES


def _num(values, digits: int) -> pa.Array:
    x = np.round(np.asarray(values, dtype=np.float64), digits) + 0.0   # no "-0"
    return pa.array(x, type=pa.float64(), from_pandas=True)            # NaN -> empty cell


def _csv_bytes(columns: dict[str, pa.Array]) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(columns), buf, write_options=pacsv.WriteOptions(
        quoting_style="needed", delimiter=","))
    return buf.getvalue()          # pyarrow writes "\n" line ends


def _csv(columns: dict[str, pa.Array]) -> str:
    return _csv_bytes(columns).decode("utf-8")


def _repeated_text(values, k: int) -> pa.DictionaryArray:
    # each mark's text k times, dictionary-encoded: no per-row Python string is built
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).astype(str), sort=True)
    return pa.DictionaryArray.from_arrays(pa.array(np.repeat(codes.astype(np.int32), k)),
                                          pa.array(list(uniques), type=pa.string()))


def study_csv(events: Events) -> bytes:
    """One row per mark and horizon 0..H (:data:`STUDY_COLUMNS`), marks in session, code
    order; UTF-8 bytes (the file can be 100 MB: no decoded copy is made)."""
    f = events.frame
    k = events.horizon + 1
    rep = lambda a: np.repeat(np.asarray(a), k)  # noqa: E731
    cols: dict[str, pa.Array] = {"date": _repeated_text(f["date"].dt.strftime("%Y-%m-%d"), k)}
    for c in ("code", "name", "board", "role", "theme", "first_mention", "publication",
              "streak", "fill"):
        cols[c] = _repeated_text(f[c], k)
    cols["prev_close"] = _num(rep(f["prev_close"]), 4)
    cols["entry_price"] = _num(rep(f["entry_price"]), 4)
    cols["paid"] = _num(rep(f["paid"]), 6)
    cols["horizon"] = pa.array(np.tile(np.arange(k, dtype=np.int64), len(f)))
    for i, m in enumerate(MEASURES):
        cols[m] = _num(events.paths[:, :, i].ravel(), 6)
    return _csv_bytes(cols)


def summary_csv(summary: pd.DataFrame) -> str:
    """The summary frame (:data:`backtests.study.summary.SUMMARY_COLUMNS`) as CSV."""
    cols: dict[str, pa.Array] = {}
    for c in SUMMARY_COLUMNS:
        v = summary[c]
        if c in ("group", "value", "measure"):
            cols[c] = pa.array(v.astype(str).to_numpy(dtype=object), type=pa.string())
        elif c in ("horizon", "count"):
            cols[c] = pa.array(v.to_numpy(dtype=np.int64))
        elif c == "thin":
            cols[c] = pa.array(np.where(v.to_numpy(dtype=bool), "true", "false"))
        else:
            cols[c] = _num(v, 4 if c == "t_stat" else 6)
    return _csv(cols)


def write_study(out_dir: str | os.PathLike, texts: dict[str, str | bytes]) -> Path:
    """Write ``texts`` (file name -> text or UTF-8 bytes, names of :data:`STUDY_FILES`) as the
    study folder ``out_dir``, all or nothing, and return its path."""
    out = Path(out_dir)
    with atomic_dir(out, owned=STUDY_FILES, what="study folder") as stage:
        for name, text in texts.items():
            if isinstance(text, bytes):
                write_bytes_atomic(stage / name, text)
            else:
                write_text_atomic(stage / name, text)
    return out


MARKS_STUDY_FILE = "study_marks.csv"
MARKS_STUDY_HORIZONS = (0, 1, 2, 5, 10)
"""Horizons of the run folder's ``study_marks.csv`` (the tearsheet's "what the marks did")."""


def marks_study_csv(events: Events, traded: np.ndarray) -> str:
    """``study_marks.csv`` of a run folder: one row per mark — ``date, code, fill,
    entry_price, paid, traded`` (the run bought it that session) and ``car_open_hK``,
    ``car_close_hK`` for K in :data:`MARKS_STUDY_HORIZONS` up to the events' horizon."""
    f = events.frame
    cols: dict[str, pa.Array] = {
        "date": pa.array(f["date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object),
                         type=pa.string()),
        "code": pa.array(f["code"].astype(str).to_numpy(dtype=object), type=pa.string()),
        "fill": pa.array(f["fill"].astype(str).to_numpy(dtype=object), type=pa.string()),
        "entry_price": _num(f["entry_price"], 4),
        "paid": _num(f["paid"], 6),
        "traded": pa.array(np.where(np.asarray(traded, dtype=bool), "true", "false")),
    }
    for measure in ("car_open", "car_close"):
        i = MEASURES.index(measure)
        for h in MARKS_STUDY_HORIZONS:
            if h <= events.horizon:
                cols[f"{measure}_h{h}"] = _num(events.paths[:, h, i], 6)
    return _csv(cols)


def run_marks_study(result, marks: pd.DataFrame | None = None) -> str:
    """``study_marks.csv`` of a backtest: the events of the marks it used (``marks``: its marks
    frame; default: from its score array) on its market, horizon 10, and whether it bought
    each one in that session (a filled buy in ``result.orders``)."""
    m = result.market
    if marks is None:
        t, j = np.nonzero(np.isfinite(result.marks))
        marks = pd.DataFrame({"date": pd.to_datetime(np.asarray(m.sessions)[t]),
                              "code": np.asarray(m.codes)[j].astype(str)})
    events = event_table(m, marks.loc[:, ["date", "code"]], horizon=max(MARKS_STUDY_HORIZONS))
    o = result.orders
    bought = o[(o["side"] == "buy") & (o["status"] == "filled")]
    keys = set(zip(pd.to_datetime(bought["date"]).dt.strftime("%Y-%m-%d"),
                   bought["code"].astype(str)))
    f = events.frame
    traded = np.array([k in keys for k in zip(f["date"].dt.strftime("%Y-%m-%d"),
                                              f["code"].astype(str))], dtype=bool)
    return marks_study_csv(events, traded)
