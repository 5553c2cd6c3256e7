"""Marks: the entry signals a run trades, as a ``date, code[, score]`` frame.

:func:`read_marks` reads a marks CSV; :func:`locate_marks` places a marks frame on a market's
``[sessions, stocks]`` grid. Every check of marks lives here and raises :class:`MarksError`
naming the file (or frame) and the row: the first data row is row 2, as in a spreadsheet.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.core.calendar import trading_calendar
from backtests.core.errors import HypebtError, MarksError, did_you_mean
from signals.marks import MARK_COLUMNS


def _bad_utf8_byte(path: Path, exc: UnicodeDecodeError) -> int:
    """Offset (0-based, from the start of the file) of the first byte that is not UTF-8.

    pandas decodes in chunks, so the offset in ``exc`` may be relative to a chunk: the file is
    decoded again here to report the offset in the file itself.
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as whole:
        return whole.start
    return exc.start


def read_marks(path: str | os.PathLike, *, calendar=None):
    """Read a marks CSV ``date,code[,score]`` into a DataFrame ``date`` (datetime64), ``code``
    (6-digit text), ``score`` (float, 1.0 when the column is absent), and ``theme`` (text) and
    ``theme_heat`` when the file has them (the theme filters and exits read them). The other
    columns of a run folder's ``signals.csv`` (``name``, ``article_id`` ...) are accepted and
    left out, so a run folder's ``config.toml`` can name its own ``signals.csv``.

    ``date`` is the session whose open is the earliest entry; it must be a trading session of
    ``calendar`` (default: the SSE/SZSE calendar). Errors name the file and the row (the first
    data row is row 2, as in a spreadsheet). Codes are checked against a market later
    (:func:`check_marks_codes`).
    """
    p = Path(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise MarksError(f"marks file not found: {p}") from None
    except UnicodeDecodeError as exc:
        raise MarksError(f"marks file {p} is not UTF-8 text (byte {_bad_utf8_byte(p, exc)}); "
                         "save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise MarksError(f"marks file {p} is empty: expected a header date,code[,score]") from None
    except (OSError, ValueError) as exc:
        raise MarksError(f"cannot read marks file {p}: {exc}") from None
    df.columns = [c.strip().lower() for c in df.columns]
    for col in ("date", "code"):
        if col not in df.columns:
            raise MarksError(f"{p}: marks file has no {col!r} column; expected columns "
                             f"date,code[,score] (found {', '.join(df.columns)})")
    for col in df.columns:
        if col not in ("date", "code", "score") and col not in MARK_COLUMNS:
            raise MarksError(f"{p}: unknown column {col!r} in marks file"
                             f"{did_you_mean(col, ('date', 'code', 'score'))}; "
                             "expected date,code[,score]")
    cal = calendar or trading_calendar()
    # Each check runs once per distinct text (a few thousand dates and codes), then maps back
    # to the rows; the first bad row gets the message of the row-by-row checks.
    codes = df["code"].str.strip().tolist()
    date_idx, date_vals = pd.factorize(df["date"].str.strip())
    days = np.full(len(date_vals), np.datetime64("NaT"), dtype="datetime64[D]")
    for k, text in enumerate(date_vals):
        try:
            days[k] = cal.require_session(text, what="date")
        except HypebtError:
            pass
    code_idx, code_vals = pd.factorize(pd.Series(codes, dtype=object))
    code_ok = np.array([len(c) == 6 and c.isdigit() for c in code_vals], dtype=bool)
    bad = np.isnat(days)[date_idx] | ~code_ok[code_idx]
    if "score" in df.columns:
        score_idx, score_vals = pd.factorize(df["score"].str.strip())
        scores = np.array([_finite_or_nan(t) for t in score_vals], dtype=float)[score_idx]
        bad |= ~np.isfinite(scores)
    else:
        scores = np.ones(len(df))
    if bad.any():
        i = int(np.argmax(bad))
        row = i + 2
        try:
            cal.require_session(df["date"].iloc[i].strip(), what="date")
        except HypebtError as exc:
            raise MarksError(f"{p} row {row}: {exc}") from None
        code = codes[i]
        if not (len(code) == 6 and code.isdigit()):
            raise MarksError(f"{p} row {row}: code {code!r} is not a 6-digit stock code")
        raise MarksError(f"{p} row {row}: score {df['score'].iloc[i].strip()!r} is not a "
                         "finite number")
    dates = days[date_idx]
    out = pd.DataFrame({"date": pd.to_datetime(np.array(dates, dtype="datetime64[D]")),
                        "code": pd.Series(codes, dtype=object),
                        "score": np.array(scores, dtype=float)})
    if "theme" in df.columns:
        out["theme"] = df["theme"].str.strip().to_numpy(dtype=object)
        if "theme_heat" in df.columns:
            out["theme_heat"] = pd.to_numeric(df["theme_heat"], errors="coerce").fillna(0.0)
    dup = out.duplicated(["date", "code"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise MarksError(f"{p} row {i + 2}: duplicate mark for {out['code'].iloc[i]} on "
                         f"{out['date'].iloc[i].date()}")
    return out


def read_exits(path: str | os.PathLike, *, calendar=None):
    """Read an exits CSV ``date,code`` (user exit signals: sell a held position at that
    session's close or the next open, per ``exit_at``) into a frame ``date, code``; the checks
    and messages of :func:`read_marks`."""
    p = Path(path)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise MarksError(f"exits file not found: {p}") from None
    except pd.errors.EmptyDataError:
        raise MarksError(f"exits file {p} is empty: expected a header date,code") from None
    except (OSError, ValueError) as exc:
        raise MarksError(f"cannot read exits file {p}: {exc}") from None
    df.columns = [c.strip().lower() for c in df.columns]
    if list(df.columns) != ["date", "code"]:
        raise MarksError(f"{p}: an exits file has the columns date,code (found "
                         f"{', '.join(df.columns)})")
    cal = calendar or trading_calendar()
    dates = []
    codes = df["code"].str.strip().tolist()
    for i, (d, code) in enumerate(zip(df["date"].tolist(), codes)):
        try:
            dates.append(cal.require_session(d.strip(), what="date"))
        except HypebtError as exc:
            raise MarksError(f"{p} row {i + 2}: {exc}") from None
        if not (len(code) == 6 and code.isdigit()):
            raise MarksError(f"{p} row {i + 2}: code {code!r} is not a 6-digit stock code")
    return pd.DataFrame({"date": pd.to_datetime(np.array(dates, dtype="datetime64[D]")),
                         "code": pd.Series(codes, dtype=object)})


def check_marks_codes(marks, codes, *, source: str = "marks") -> None:
    """Raise MarksError naming the first mark whose code is not in the market's ``codes``."""
    known = set(map(str, codes))
    bad = [c for c in marks["code"] if c not in known]
    if bad:
        rows = [int(i) + 2 for i in np.flatnonzero(~marks["code"].isin(known).to_numpy())]
        raise MarksError(f"{source} row {rows[0]}: code {bad[0]} is not in the market data "
                         f"({len(bad)} unknown mark(s), rows {', '.join(map(str, rows[:5]))}"
                         f"{' ...' if len(rows) > 5 else ''})")


def locate_marks(sessions, codes, marks: pd.DataFrame, *, what: str = "marks"):
    """``(t, j, score)``: the session index, stock index and score of every row of a marks frame
    ``date, code[, score]`` on a market with ``sessions`` (sorted dates) and ``codes`` (sorted).

    ``date`` must be a session of the market, ``code`` one of ``codes``, ``score`` (default 1.0)
    finite; :class:`MarksError` names the row and the bad value otherwise (``what``: the name
    of the frame in messages, ``marks`` or ``exits``).
    """
    n_sessions, n_stocks = len(sessions), len(codes)
    for col in ("date", "code"):
        if col not in marks.columns:
            raise MarksError(f"{what} have no {col!r} column; expected date,code[,score] "
                             f"(found {', '.join(map(str, marks.columns))})")
    if len(marks) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    try:
        days = pd.to_datetime(marks["date"]).to_numpy().astype("datetime64[D]")
    except (ValueError, TypeError) as exc:
        raise MarksError(f"{what}: cannot read the date column as dates ({exc})") from None
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    t = np.searchsorted(sessions, days)
    t_ok = (t < n_sessions) & (sessions[np.minimum(t, n_sessions - 1)] == days)
    if not t_ok.all():
        i = int(np.flatnonzero(~t_ok)[0])
        raise MarksError(f"{what} row {i + 2}: date {days[i]} is not a session of the market "
                         f"({sessions[0]} .. {sessions[-1]}); expected the session whose open "
                         f"is the earliest entry")
    wanted = marks["code"].astype(str).str.strip().to_numpy()
    known = np.asarray(codes).astype(str)
    j = np.searchsorted(known, wanted)
    j_ok = (j < n_stocks) & (known[np.minimum(j, n_stocks - 1)] == wanted)
    if not j_ok.all():
        i = int(np.flatnonzero(~j_ok)[0])
        raise MarksError(f"{what} row {i + 2}: code {wanted[i]!r} is not in the market data "
                         f"({int((~j_ok).sum())} unknown code(s)); expected a 6-digit code of "
                         f"a stock in the panel")
    if "score" in marks.columns:
        score = pd.to_numeric(marks["score"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(score)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MarksError(f"marks row {i + 2}: score {marks['score'].iloc[i]!r} is not a "
                             f"finite number")
    else:
        score = np.ones(len(marks))
    return t, j, score


def _finite_or_nan(text: str) -> float:
    """``float(text)`` when it is a finite number, else NaN."""
    try:
        value = float(text)
    except ValueError:
        return float("nan")
    return value if np.isfinite(value) else float("nan")
