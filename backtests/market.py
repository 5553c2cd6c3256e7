"""Market panel: read long-form daily bars, validate them, align to ``[sessions, stocks]`` arrays.

Three steps, each usable alone:

``read_panel(path)``
    Reads CSV, CSV.GZ or Parquet with English or akshare Chinese column names, validates every
    row (see :data:`RULES`) and returns the long-form frame of the data contract. A bad file
    raises :class:`~backtests.errors.DataError` naming the file, the rule broken and the first
    offending rows; ``drop_bad=True`` drops those rows instead and records the counts by rule
    in ``frame.attrs["dropped"]``.
``build_market(panel)``
    Aligns the frame to the trading calendar as ``[sessions, stocks]`` float64 arrays (NaN where
    a stock has no bar), derives ``prev_close`` and the price limits of every session.
``load_market(path)``
    Both, from a file, a store directory or ``"demo"``; warnings (dropped rows, dropped stocks)
    are issued as :class:`DataWarning` for the CLI to print.

Parsing uses pyarrow's CSV reader (multi-threaded, faster than ``pandas.read_csv`` here) with
``code`` and ``date`` read as dictionary columns: every check on codes and dates runs once per
distinct value (a few thousand codes, a few hundred dates), every other check is a numpy mask
over the whole column, and alignment scatters rows into preallocated arrays. No Python loop
runs per row. The full contract is in ``docs/data.md``.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from backtests import rules
from backtests.calendar import to_date, trading_calendar
from backtests.errors import CalendarError, DataError, DataWarning, did_you_mean
from backtests.master import StockMaster, load_master, name_is_st


class Market(NamedTuple):
    """Aligned market arrays. ``[S, N]`` float64 arrays hold NaN where a stock had no bar
    (suspended or not listed); limit prices are NaN where no price limit applies."""
    sessions: np.ndarray      # [S] datetime64[D], trading sessions in order
    codes: np.ndarray         # [N] str, 6-digit codes, sorted
    names: np.ndarray         # [N] str, '' where unknown
    boards: np.ndarray        # [N] int8, rules.BOARD_*
    is_st: np.ndarray         # [N] bool
    open: np.ndarray          # [S, N]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray        # shares
    amount: np.ndarray        # CNY
    prev_close: np.ndarray    # [S, N] previous traded close (or the file's prev_close)
    limit_ratio: np.ndarray   # [S, N] NaN = no limit
    limit_up: np.ndarray      # [S, N]
    limit_down: np.ndarray    # [S, N]
    synthetic: bool           # True for the embedded demo market


# ---------------------------------------------------------------- columns
REQUIRED = ("code", "date", "open", "high", "low", "close", "volume", "amount")
OPTIONAL = ("prev_close", "name", "is_st", "list_date", "adj_factor")
PRICES = ("open", "high", "low", "close")
NUMERIC = ("open", "high", "low", "close", "volume", "amount", "prev_close", "adj_factor")

# Source column name -> contract column. akshare's stock_zh_a_hist returns 日期 股票代码 开盘 收盘
# 最高 最低 成交量 成交额 振幅 涨跌幅 涨跌额 换手率 (akshare/stock_feature/stock_hist_em.py); its spot and
# name tables use 代码 / 名称 / 昨收. Columns not listed here are ignored.
COLUMN_ALIASES: dict[str, str] = {
    **{c: c for c in REQUIRED + OPTIONAL},
    "股票代码": "code", "代码": "code", "日期": "date", "开盘": "open", "最高": "high", "最低": "low",
    "收盘": "close", "成交量": "volume", "成交额": "amount", "昨收": "prev_close", "名称": "name",
    "股票名称": "name", "上市日期": "list_date",
}
# akshare's 成交量 counts 手 (board lots of 100 shares); the contract's volume is shares.
VOLUME_MULTIPLIER: dict[str, float] = {"成交量": 100.0}

_TRUE = {"1", "true", "t", "yes", "y", "是"}
_FALSE = {"0", "false", "f", "no", "n", "否"}

_DATE_RE = re.compile(r"^(\d{4})[-/]?(\d{2})[-/]?(\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_CODE_RE = re.compile(r"^\d{6}$")

# (rule key, what it requires, fields shown in the error). A bad row is counted under the first
# rule it breaks, in this order; ``frame.attrs["dropped"]`` uses these keys.
RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("code", "code must be 6 digits kept as text", ("code",)),
    ("date", "date must be YYYYMMDD or YYYY-MM-DD", ("date",)),
    ("outside_calendar", "date must lie inside the trading calendar", ("date",)),
    ("not_session", "date must be a trading session", ("date",)),
    ("number", "price, volume and amount cells must be numbers (or empty)",
     ("open", "high", "low", "close", "volume", "amount")),
    ("missing", "open, high, low, close and volume must not be empty", ("open", "high", "low", "close", "volume")),
    ("volume", "volume must not be negative", ("volume",)),
    ("price", "prices must be positive", ("open", "high", "low", "close")),
    ("high_low", "low <= high (this row has high < low)", ("high", "low")),
    ("open_range", "low <= open <= high", ("open", "low", "high")),
    ("close_range", "low <= close <= high", ("close", "low", "high")),
    ("amount", "amount must not be negative", ("amount",)),
    ("prev_close", "prev_close must be positive when given", ("prev_close",)),
    ("is_st", "is_st must be a yes/no value (1/0, true/false, 是/否)", ("is_st",)),
    ("list_date", "list_date must be YYYYMMDD or YYYY-MM-DD", ("list_date",)),
    ("duplicate", "one row per (code, date)", ("code", "date")),
)
_RULE_INDEX = {key: i for i, (key, _, _) in enumerate(RULES)}
_SHOW_ROWS = 3


def _parse_day(text: str) -> np.datetime64 | None:
    m = _DATE_RE.match(text.strip())
    if not m:
        return None
    try:
        return np.datetime64(f"{m[1]}-{m[2]}-{m[3]}", "D")
    except ValueError:
        return None


# ---------------------------------------------------------------- reading
def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    return "csv"


def _read_header(path: Path, kind: str) -> list[str]:
    opener = gzip.open if kind == "csv.gz" else open
    try:
        with opener(path, "rb") as fh:
            first = fh.readline()
    except (OSError, EOFError) as exc:
        raise DataError(f"panel {path}: cannot read it ({exc})") from None
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"panel {path}: the header is not UTF-8 text; save the file as UTF-8 "
                        "(Excel: 'CSV UTF-8')") from None
    if not line.strip():
        raise DataError(f"panel {path} is empty: expected a header line "
                        f"{','.join(REQUIRED)} and one row per stock and session")
    return [h.strip() for h in next(csv.reader(io.StringIO(line)))]


def _map_columns(header: list[str], source: str) -> dict[str, str]:
    """Source column -> contract column; raises when a required column is missing."""
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    for col in header:
        key = COLUMN_ALIASES.get(col, COLUMN_ALIASES.get(col.lower()))
        if key is None:
            continue
        if key in taken:
            raise DataError(f"panel {source}: columns {taken[key]!r} and {col!r} both give "
                            f"{key!r}; keep one of them")
        taken[key] = col
        mapping[col] = key
    missing = [c for c in REQUIRED if c not in taken]
    if missing:
        unknown = [c for c in header if c not in mapping]
        hints = "".join(did_you_mean(m, unknown) for m in missing[:1])
        raise DataError(
            f"panel {source} lacks required column(s) {', '.join(missing)}{hints}; found "
            f"{', '.join(header) if header else 'no columns'}. Expected {','.join(REQUIRED)} "
            "(or akshare's 股票代码/代码,日期,开盘,最高,最低,收盘,成交量,成交额)")
    return mapping


def _read_table(path: Path, kind: str, drop_bad: bool = False):
    """(Arrow table with contract column names, source -> contract column mapping, row label,
    number of the first data row, per-row mask of cells that are not numbers or None).

    A CSV cell in a numeric column that is not a number raises, naming the cells; with
    ``drop_bad`` such cells are read as empty and their rows are flagged by the mask instead
    (rule ``number``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "parquet":
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"panel {path}: not a readable Parquet file ({exc})") from None
        mapping = _map_columns(list(schema.names), str(path))
        textual = [c for c in mapping if mapping[c] in ("code", "date", "name")
                   and (pa.types.is_string(schema.field(c).type)
                        or pa.types.is_large_string(schema.field(c).type))]
        try:
            table = pq.read_table(path, columns=list(mapping), read_dictionary=textual)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"panel {path}: cannot read the Parquet data ({exc})") from None
        # Parquet has no header line: rows are counted from 1.
        return (table.rename_columns([mapping[c] for c in table.column_names]), mapping, "row", 1,
                None)

    header = _read_header(path, kind)
    mapping = _map_columns(header, str(path))
    names = [mapping.get(h, f"_ignored_{i}") for i, h in enumerate(header)]
    text = pa.dictionary(pa.int32(), pa.string())
    types = {c: text for c in ("code", "date", "name", "is_st", "list_date")}
    types.update({c: pa.float64() for c in NUMERIC})
    try:
        table = _arrow_csv(path, names, types)
    except pa.ArrowInvalid as exc:
        if "conversion error" not in str(exc):
            raise DataError(f"panel {path}: cannot parse it as CSV ({exc}); every row must have "
                            "as many comma-separated fields as the header") from None
        table, bad = _read_numbers_as_text(path, names, types)
        if not drop_bad:
            raise DataError(_non_numeric_message(path, names, bad)) from None
        return table, mapping, "line", 2, np.logical_or.reduce([mask for mask, _ in bad.values()])
    # CSV line numbers: the header is line 1, the first data row line 2.
    return table, mapping, "line", 2, None


def _arrow_csv(path: Path, names: list[str], types: dict):
    """Read the CSV with pyarrow under our column ``names`` (header skipped), with ``types`` per
    column and the ``_ignored_*`` columns left out."""
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22),
        convert_options=pacsv.ConvertOptions(
            column_types={n: types[n] for n in names if n in types},
            include_columns=[n for n in names if not n.startswith("_ignored_")],
            strings_can_be_null=False))


def _read_numbers_as_text(path: Path, names: list[str], types: dict):
    """After a conversion error only: read the CSV with the numeric columns as text and turn
    cells that are not numbers into empty ones. Returns (table, {numeric column: (mask of the
    cells that are not numbers, the column's stripped text)})."""
    import pandas as pd
    import pyarrow as pa

    types = {n: (pa.string() if n in NUMERIC else t) for n, t in types.items()}
    table = _arrow_csv(path, names, types)
    bad = {}
    for n in table.column_names:
        if n not in NUMERIC:
            continue
        text = table.column(n).to_pandas().str.strip()
        values = pd.to_numeric(text, errors="coerce")
        bad[n] = (((text != "") & values.isna()).to_numpy(), text)
        i = table.column_names.index(n)
        table = table.set_column(i, n, pa.array(values.to_numpy(float), pa.float64()))
    return table, bad


def _non_numeric_message(path: Path, names: list[str], bad: dict) -> str:
    """Error path only: name the first cells that are not numbers (``bad`` as
    :func:`_read_numbers_as_text` returns it)."""
    found = []
    for n, (mask, text) in bad.items():
        found += [(int(r), names.index(n), n, text.iloc[r])
                  for r in np.flatnonzero(mask)[:_SHOW_ROWS]]
    found.sort()                                   # file order: by line, then by column
    shown = "; ".join(f"line {r + 2} {n}={v!r}" for r, _, n, v in found[:_SHOW_ROWS])
    return (f"panel {path}: price, volume and amount cells must be numbers (or empty): {shown} "
            "(line numbers count the header as line 1)")


def _dict_column(table, name: str):
    """(int32 indices with -1 for null, list of distinct values as str) of a text column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if not pa.types.is_dictionary(col.type):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pc.cast(col, pa.string())
        col = col.dictionary_encode()
    if col.num_chunks == 0:
        return np.zeros(0, np.int32), []
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    values = [str(v) for v in arr.dictionary.to_pylist()]
    return idx, values


def _date_column(table, name: str):
    """(indices, distinct values as datetime64[D] with NaT where unparseable, raw texts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        col = pc.cast(col, pa.date32())
        enc = col.dictionary_encode()
        arr = enc.combine_chunks() if enc.num_chunks != 1 else enc.chunk(0)
        idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        days = arr.dictionary.to_numpy(zero_copy_only=False).astype("datetime64[D]")
        return idx, days, [str(d) for d in days]
    idx, texts = _dict_column(table, name)
    days = np.array([_parse_day(t) or np.datetime64("NaT") for t in texts], dtype="datetime64[D]")
    return idx, days, texts


def _float_column(table, name: str, source: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if col.type != pa.float64():
        try:
            col = pc.cast(col, pa.float64())
        except pa.ArrowInvalid as exc:
            raise DataError(f"panel {source}: column {name!r} is not numeric ({exc})") from None
    return col.to_numpy()


def _text_column(values: list[str], idx: np.ndarray):
    """Strings ``values[idx]`` ('' for -1) as pandas' default string type, built in Arrow
    (much faster than materialising a million Python objects)."""
    import pyarrow as pa

    idx = np.where(idx < 0, len(values), idx)
    return pa.array(values + [""], pa.string()).take(pa.array(idx)).to_pandas()


def _fmt(value) -> str:
    if isinstance(value, float):
        return "empty" if np.isnan(value) else f"{value:.10g}"
    return repr(value) if isinstance(value, str) else str(value)


def _panel_from_table(table, mapping: dict[str, str], source: str, row_label: str,
                      row_offset: int, drop_bad: bool, not_number: np.ndarray | None = None):
    """Validate an Arrow table with contract column names and return the long-form frame."""
    import pandas as pd

    n = table.num_rows
    if n == 0:
        what = "a header but no data rows" if row_label == "line" else "no data rows"
        raise DataError(f"panel {source} has {what}")
    cal = trading_calendar()
    cols = set(table.column_names)
    rule_of = np.full(n, len(RULES), dtype=np.int16)   # first broken rule; len(RULES) = none

    def flag(key: str, mask: np.ndarray) -> None:
        np.minimum(rule_of, np.where(mask, _RULE_INDEX[key], len(RULES)), out=rule_of)

    # codes: checked once per distinct value
    code_idx, code_vals = _dict_column(table, "code")
    code_ok = np.array([bool(_CODE_RE.match(c)) for c in code_vals] + [False], dtype=bool)
    flag("code", ~code_ok[code_idx])

    # dates: parsed and checked against the calendar once per distinct value
    date_idx, days, date_texts = _date_column(table, "date")
    bad_parse = np.append(np.isnat(days), True)
    safe = np.where(np.isnat(days), cal.first, days)
    outside = np.append((safe < cal.first) | (safe > cal.last), False) & ~bad_parse
    pos = np.clip(np.searchsorted(cal.sessions, safe), 0, len(cal.sessions) - 1)
    not_session = np.append(cal.sessions[pos] != safe, False) & ~bad_parse & ~outside
    flag("date", bad_parse[date_idx])
    flag("outside_calendar", outside[date_idx])
    flag("not_session", not_session[date_idx])
    if not_number is not None:
        flag("number", not_number)

    num = {c: _float_column(table, c, source) for c in NUMERIC if c in cols}
    vol_col = next(src for src, key in mapping.items() if key == "volume")
    if vol_col in VOLUME_MULTIPLIER:
        num["volume"] = num["volume"] * VOLUME_MULTIPLIER[vol_col]
    o, h, lo, c, v = (num[k] for k in ("open", "high", "low", "close", "volume"))
    # A zero-volume row is a "no trade" placeholder some sources write on suspended sessions
    # (OHLC copied from the last close, or zeros): its prices are not checked and build_market
    # treats it as no bar.
    traded = v > 0
    with np.errstate(invalid="ignore"):
        flag("missing", np.isnan(v) | (traded & (np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c))))
        flag("volume", v < 0)
        flag("price", traded & ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)))
        flag("high_low", traded & (h < lo))
        flag("open_range", traded & ((o < lo) | (o > h)))
        flag("close_range", traded & ((c < lo) | (c > h)))
        flag("amount", num["amount"] < 0)
        if "prev_close" in num:
            flag("prev_close", num["prev_close"] <= 0)

    is_st = None
    if "is_st" in cols:
        import pyarrow as pa
        if pa.types.is_boolean(table.column("is_st").type):
            raw = table.column("is_st").to_numpy(zero_copy_only=False)
            is_st = np.where(pd.isna(raw), np.nan, raw.astype(float))
        else:
            st_idx, st_vals = _dict_column(table, "is_st")
            # empty = unknown: build_market carries the last known flag over it
            lut = np.array([1.0 if s.strip().lower() in _TRUE else 0.0 if s.strip().lower() in _FALSE
                            else np.nan if not s.strip() else -1.0 for s in st_vals] + [np.nan])
            is_st = lut[st_idx]
            flag("is_st", is_st < 0)
    list_days = None
    if "list_date" in cols:
        ld_idx, ld_days, ld_texts = _date_column(table, "list_date")
        ld_bad = np.array([np.isnat(d) and t.strip() != "" for d, t in zip(ld_days, ld_texts)] + [False])
        flag("list_date", ld_bad[ld_idx])
        list_days = np.append(ld_days, np.datetime64("NaT"))[ld_idx]

    # duplicates among otherwise good rows: an exact copy of an earlier row is redundant (the
    # later copy is bad); copies that disagree are all bad (we cannot tell which one is right).
    rows = np.flatnonzero(rule_of == len(RULES))
    key = code_idx[rows].astype(np.int64) * (len(days) + 1) + date_idx[rows]
    first_line: dict[int, int] = {}
    space = (len(code_vals) + 1) * (len(days) + 1)
    # cheap exit for the usual case: one count per (code, date) cell, no sort needed
    maybe_dup = space > 1 << 26 or (len(key) and np.bincount(key, minlength=1).max() > 1)
    if maybe_dup:
        order = np.argsort(key, kind="stable")
        same_key = key[order][1:] == key[order][:-1]
    if maybe_dup and same_key.any():
        sorted_rows = rows[order]
        a, b = sorted_rows[1:][same_key], sorted_rows[:-1][same_key]
        equal = np.ones(len(a), bool)
        for x in (o, h, lo, c, v, num["amount"]):
            equal &= (x[a] == x[b]) | (np.isnan(x[a]) & np.isnan(x[b]))
        group = np.cumsum(np.r_[True, ~same_key])            # group id per sorted position
        in_conflict = np.isin(group, np.unique(group[1:][same_key][~equal]))
        is_dup = in_conflict | np.r_[False, same_key]        # per sorted position
        dup = np.zeros(n, bool)
        dup[sorted_rows[is_dup]] = True
        flag("duplicate", dup)
        first_of_group = sorted_rows[np.r_[True, ~same_key]][group - 1]
        first_line = dict(zip(sorted_rows[is_dup].tolist(), first_of_group[is_dup].tolist()))

    bad = rule_of < len(RULES)
    dropped: dict[str, int] = {}
    if bad.any():
        counts = np.bincount(rule_of[bad], minlength=len(RULES))
        if not drop_bad:
            raise DataError(_bad_rows_message(
                source, row_label, row_offset, rule_of, counts, code_vals, code_idx,
                date_texts, date_idx, num, table, first_line, cal, days))
        dropped = {RULES[i][0]: int(k) for i, k in enumerate(counts) if k}
        if bad.all():
            raise DataError(f"panel {source}: every row is bad ({_summary(dropped)}); nothing "
                            "is left to load")

    keep = slice(None) if not bad.any() else ~bad
    out = {
        "code": _text_column(code_vals, code_idx[keep]),
        "date": np.append(days, np.datetime64("NaT"))[date_idx[keep]].astype("datetime64[ns]"),
    }
    for k in ("open", "high", "low", "close", "volume", "amount"):
        out[k] = num[k][keep]
    if "prev_close" in num:
        out["prev_close"] = num["prev_close"][keep]
    if "name" in cols:
        nm_idx, nm_vals = _dict_column(table, "name")
        out["name"] = _text_column(nm_vals, nm_idx[keep])
    if is_st is not None:
        out["is_st"] = pd.array(np.where(np.isnan(is_st[keep]), None, is_st[keep] > 0), dtype="boolean")
    if list_days is not None:
        out["list_date"] = list_days[keep].astype("datetime64[ns]")
    if "adj_factor" in num:
        out["adj_factor"] = num["adj_factor"][keep]
    frame = pd.DataFrame(out, copy=False)
    frame.attrs["source"] = source
    frame.attrs["dropped"] = dropped
    return frame


def _summary(dropped: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in dropped.items())


def _bad_rows_message(source, row_label, row_offset, rule_of, counts, code_vals, code_idx,
                      date_texts, date_idx, num, table, first_line, cal, days) -> str:
    total = int(counts.sum())
    counting = "the header as line 1" if row_label == "line" else "data rows from 1"
    lines = [(f"panel {source} has {total} bad row{'s' if total != 1 else ''} "
              f"({row_label} numbers count {counting}):")]
    for i, (key, rule, shown) in enumerate(RULES):
        if not counts[i]:
            continue
        where = np.flatnonzero(rule_of == i)[:_SHOW_ROWS]
        examples = []
        for r in where:
            parts = []
            for f in shown:
                if f == "code":
                    parts.append(f"code={_fmt(code_vals[code_idx[r]] if code_idx[r] >= 0 else '')}")
                elif f == "date":
                    parts.append(f"date={_fmt(date_texts[date_idx[r]] if date_idx[r] >= 0 else '')}")
                elif f in num:
                    parts.append(f"{f}={_fmt(float(num[f][r]))}")
                else:
                    parts.append(f"{f}={_fmt(str(table.column(f)[int(r)].as_py()))}")
            text = f"{row_label} {r + row_offset} ({', '.join(parts)})"
            if key == "not_session":
                day = days[date_idx[r]]
                text += f" [previous session {cal.previous(day)}, next {cal.next(day)}]"
            if key == "duplicate" and first_line.get(int(r), r) != r:
                text += f" repeats {row_label} {first_line[int(r)] + row_offset}"
            examples.append(text)
        more = f" and {counts[i] - len(where)} more" if counts[i] > len(where) else ""
        hint = ""
        if key == "code":
            shown_codes = [code_vals[code_idx[r]] for r in where if code_idx[r] >= 0]
            if any(cv.isdigit() and len(cv) < 6 for cv in shown_codes):
                hint = (" — a shorter all-digit code such as '2354' lost its leading zeros "
                        "(e.g. in Excel); write codes as 6-digit text such as '002354'")
        if key == "outside_calendar":
            hint = f" ({cal.first} .. {cal.last})"
        if key == "duplicate":
            hint = " — rows repeating a (code, date) with different values are all bad"
        lines.append(f"  {rule}{hint}: {counts[i]} row{'s' if counts[i] != 1 else ''}, "
                     f"{'; '.join(examples)}{more}")
    lines.append("Fix these rows, or pass drop_bad=True (CLI: --drop-bad) to skip them.")
    return "\n".join(lines)


def read_panel(path, *, drop_bad: bool = False):
    """Read and validate a long-form panel file (CSV, CSV.GZ or Parquet).

    Columns: ``code,date,open,high,low,close,volume,amount`` plus optional ``prev_close, name,
    is_st, list_date, adj_factor`` — or akshare's Chinese names (``股票代码``/``代码``, ``日期``,
    ``开盘``, ``最高``, ``最低``, ``收盘``, ``成交量`` in 手 = 100 shares, converted to shares, ``成交额``).
    Other columns are ignored. The format is recognised from the file's first bytes, not its
    name. ``code`` is read as text and must be 6 digits (``2354`` is an error, not ``002354``:
    a short code means the file lost its leading zeros somewhere and other fields may be
    damaged too). ``date`` is ``YYYYMMDD`` or ``YYYY-MM-DD`` and must be a trading session.

    Returns a DataFrame with ``code`` (str), ``date`` (datetime64[ns]), the float64 numeric
    columns and whichever optional columns the file had, in file order. ``frame.attrs`` holds
    ``source`` (the path) and ``dropped`` (``{rule: rows}``, empty unless ``drop_bad``).

    Raises :class:`DataError` for a missing, empty or unreadable file, missing columns, or any
    row breaking a rule of :data:`RULES` (the message lists the first rows per rule; CSV rows
    are given as line numbers with the header as line 1). With ``drop_bad=True`` bad rows are
    dropped instead.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"panel file {p} not found")
    if p.is_dir():
        raise DataError(f"panel {p} is a directory; expected one CSV, CSV.GZ or Parquet file "
                        "(a hypebt store directory is read where the option says so, e.g. "
                        "--data or [data] path)")
    if p.stat().st_size == 0:
        raise DataError(f"panel {p} is empty (0 bytes): expected a header line "
                        f"{','.join(REQUIRED)} and one row per stock and session")
    kind = _sniff(p)
    table, mapping, label, offset, not_number = _read_table(p, kind, drop_bad)
    return _panel_from_table(table, mapping, str(p), label, offset, drop_bad, not_number)


def validate_panel(frame, *, source: str = "<frame>", drop_bad: bool = False):
    """Validate an in-memory long-form frame exactly as :func:`read_panel` validates a file
    (rows are numbered from 1) and return it in the contract's form."""
    import pyarrow as pa

    if len(frame.columns) == 0:
        raise DataError(f"panel {source} has no columns")
    header = [str(c) for c in frame.columns]
    mapping = _map_columns(header, source)
    sub = frame[list(mapping)].rename(columns=mapping).reset_index(drop=True)
    if "code" in sub and sub["code"].dtype != object and not str(sub["code"].dtype).startswith(("str", "string")):
        sub["code"] = sub["code"].astype(str)
    table = pa.Table.from_pandas(sub, preserve_index=False)
    return _panel_from_table(table, mapping, source, "row", 1, drop_bad)


# ---------------------------------------------------------------- aligning
def _factorize_sorted(values: np.ndarray):
    import pandas as pd

    idx, uniques = pd.factorize(values, sort=True)
    return idx, np.asarray(uniques)


def _ffill_index(valid: np.ndarray) -> np.ndarray:
    """Per column, the row index of the last valid row at or before each row (-1 if none)."""
    idx = np.where(valid, np.arange(valid.shape[0], dtype=np.int64)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return idx


def _fill_along(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down the columns, then back-fill the leading NaN."""
    valid = np.isfinite(values)
    cols = np.arange(values.shape[1])
    fwd = _ffill_index(valid)
    out = np.where(fwd >= 0, values[np.maximum(fwd, 0), cols], np.nan)
    back = _ffill_index(valid[::-1])[::-1]
    back = np.where(back >= 0, values.shape[0] - 1 - back, -1)
    return np.where(np.isfinite(out), out, np.where(back >= 0, values[np.maximum(back, 0), cols], np.nan))


def _row_per_stock(ri: np.ndarray, ci: np.ndarray, S: int, N: int, mask: np.ndarray, *,
                   last: bool) -> np.ndarray:
    """Per stock, the position (into ``ri``/``ci``) of its first or last row among ``mask``,
    -1 if none. Relies on (session, stock) pairs being unique, as validation guarantees."""
    session = np.full(N, -1 if last else S, dtype=np.int64)
    (np.maximum if last else np.minimum).at(session, ci[mask], ri[mask])
    found = np.flatnonzero((session >= 0) & (session < S))
    position = np.full((S, N), -1, dtype=np.int64)
    position[ri, ci] = np.arange(len(ri))
    out = np.full(N, -1, dtype=np.int64)
    out[found] = position[session[found], found]
    return out


def build_market(panel, *, master=None, start=None, end=None, synthetic: bool = False) -> Market:
    """Align a long-form panel (as :func:`read_panel` returns it) to ``[sessions, stocks]``.

    Sessions are the calendar's trading sessions from the first date in the panel (or ``start``
    if later) to the last date (or ``end`` if earlier): a session on which no stock has a row is
    still a session, all NaN. Rows before ``start`` are warm-up: they feed ``prev_close`` and are
    then cut off. Stocks with no row in the window and stocks of an unknown board (funds, B
    shares; a :class:`DataWarning` gives the count) are left out; codes come out sorted.

    A row with zero volume is a no-trade placeholder: treated as no bar (NaN). ``prev_close`` is
    the file's ``prev_close`` where given, else the previous traded close, carried across
    suspensions (NaN before a stock's first bar).

    ST status, in order of precedence: the panel's ``is_st`` per row, a ``name`` column per row
    (a name containing ST), the master's current name; per-row flags are carried forward over
    sessions without a row. ``Market.is_st`` is the status on the last session. Limit ratios
    come from :func:`rules.limit_ratios`; they are NaN (no limit) where ``prev_close`` is
    unknown and on the free sessions after listing (``rules.NO_LIMIT_AFTER_LISTING``; the
    listing session itself is always free). The listing date comes from the panel's
    ``list_date``, else the master's, else — for a stock whose first row comes after the
    panel's first session — its first row (a new listing; see docs/data.md for the caveat).
    """
    import pandas as pd

    missing = [c for c in REQUIRED if c not in panel.columns]
    if missing:
        raise DataError(f"panel {panel.attrs.get('source', '<frame>')} lacks column(s) "
                        f"{', '.join(missing)}; read it with read_panel()")
    if len(panel) == 0:
        raise DataError(f"panel {panel.attrs.get('source', '<frame>')} has no rows")
    cal = trading_calendar()

    day = panel["date"].to_numpy().astype("datetime64[D]")
    date_idx, days = _factorize_sorted(day)
    days = days.astype("datetime64[D]")
    pos = np.searchsorted(cal.sessions, days)
    off = (pos >= len(cal.sessions)) | (cal.sessions[np.minimum(pos, len(cal.sessions) - 1)] != days)
    if off.any():
        raise CalendarError(f"panel {panel.attrs.get('source', '<frame>')}: date {days[off][0]} is "
                            "not a trading session; validate the panel with read_panel()")

    first = days[0]
    last = days[-1]
    if end is not None:
        end_day = to_date(end, what="end")
        last = min(last, cal.previous(end_day, inclusive=True))
    window_first = first
    if start is not None:
        start_day = to_date(start, what="start")
        window_first = max(first, cal.next(start_day, inclusive=True))
    if window_first > last:
        raise DataError(f"no sessions between start {start or first} and end {end or days[-1]} in "
                        f"panel {panel.attrs.get('source', '<frame>')} ({days[0]} .. {days[-1]})")
    sessions = cal.between(first, last)
    base = np.searchsorted(cal.sessions, first)
    w0 = int(np.searchsorted(sessions, window_first))
    S = len(sessions)

    row_sess = (pos - base)[date_idx]
    in_range = row_sess < S
    code_idx, codes = _factorize_sorted(panel["code"])    # hashes Arrow strings, no objects
    codes = codes.astype(str)
    # stocks kept: a row in the window and a known board
    has_row = np.zeros(len(codes), bool)
    has_row[code_idx[in_range & (row_sess >= w0)]] = True
    boards_all = rules.boards_of(codes)
    unknown = has_row & (boards_all == rules.BOARD_UNKNOWN)
    if unknown.any():
        bad_codes = codes[unknown]
        warnings.warn(DataWarning(
            f"left out {unknown.sum()} stock(s) of no known A-share board (funds, B shares, "
            f"indices?): {', '.join(bad_codes[:5])}{' ...' if len(bad_codes) > 5 else ''}"),
            stacklevel=2)
    keep_stock = has_row & ~unknown
    if not keep_stock.any():
        raise DataError(f"panel {panel.attrs.get('source', '<frame>')}: no A-share stock has a row "
                        f"between {window_first} and {last}")
    new_col = np.cumsum(keep_stock) - 1
    codes = codes[keep_stock]
    boards = boards_all[keep_stock]
    N = len(codes)

    rows = in_range & keep_stock[code_idx]
    if rows.all():
        rows = slice(None)                      # the usual case: no copy of every column
    ri = row_sess[rows]
    ci = new_col[code_idx[rows]]
    flat = ri * N + ci                          # position in the C-ordered [S, N] arrays
    traded = panel["volume"].to_numpy(dtype=np.float64)[rows] > 0
    flat_traded = flat[traded]

    def scatter(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        out = np.full((S, N), np.nan)
        if mask is None:
            out.ravel()[flat] = values
        else:
            out.ravel()[flat_traded] = values[mask]
        return out

    arrays = {k: scatter(panel[k].to_numpy(dtype=np.float64)[rows], traded)
              for k in ("open", "high", "low", "close", "volume", "amount")}
    close = arrays["close"]
    cols = np.arange(N)
    last_idx = _ffill_index(np.isfinite(close))
    prev_idx = np.vstack([np.full((1, N), -1), last_idx[:-1]])
    prev_close = np.where(prev_idx >= 0, close[np.maximum(prev_idx, 0), cols], np.nan)
    if "prev_close" in panel.columns:
        given = scatter(panel["prev_close"].to_numpy(dtype=np.float64)[rows])
        prev_close = np.where(np.isfinite(given), given, prev_close)

    # ST status per session
    st_rows = None
    if "is_st" in panel.columns:
        st_rows = pd.array(panel["is_st"], dtype="boolean").to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    elif "name" in panel.columns:
        nm_idx, nm_vals = pd.factorize(panel["name"].to_numpy(dtype=object)[rows])
        st_rows = np.array([name_is_st(str(x)) for x in nm_vals], dtype=np.float64)[nm_idx]
    master_st = np.zeros(N, bool)
    master_names = np.full(N, "", dtype=object)
    master_ld = np.full(N, np.datetime64("NaT"), dtype="datetime64[D]")
    if master is not None:
        mf = master.frame.reindex(codes)
        master_st = mf["is_st"].fillna(False).to_numpy(dtype=bool)
        master_names = mf["name"].fillna("").to_numpy(dtype=object)
        master_ld = mf["list_date"].to_numpy().astype("datetime64[D]")
    if st_rows is not None:
        st = _fill_along(scatter(st_rows))
        st = np.where(np.isnan(st), master_st[None, :], st > 0)
    else:
        st = np.broadcast_to(master_st, (S, N))

    names = master_names.copy()
    if "name" in panel.columns:
        name_rows = panel["name"].to_numpy(dtype=object)[rows]
        j = _row_per_stock(ri, ci, S, N, name_rows != "", last=True)
        last_name = np.where(j >= 0, name_rows[np.maximum(j, 0)], "")
        names = np.where(names == "", last_name, names)

    # listing date: panel, master, else inferred from a first row after the panel's first session
    list_day = np.full(N, np.datetime64("NaT"), dtype="datetime64[D]")
    if "list_date" in panel.columns:
        ld = panel["list_date"].to_numpy().astype("datetime64[D]")[rows]
        j = _row_per_stock(ri, ci, S, N, ~np.isnat(ld), last=False)
        list_day = np.where(j >= 0, ld[np.maximum(j, 0)], list_day)
    list_day = np.where(np.isnat(list_day), master_ld, list_day)
    first_row = np.full(N, S, dtype=np.int64)
    np.minimum.at(first_row, ci, ri)
    inferred = np.isnat(list_day) & (first_row > 0) & (first_row < S)
    list_day[inferred] = sessions[first_row[inferred]]

    ratio = rules.limit_ratios(boards, st, sessions)
    known = ~np.isnat(list_day)
    list_pos = np.full(N, -(10 ** 9), dtype=np.int64)
    list_pos[known] = np.searchsorted(cal.sessions, list_day[known]) - base
    free = np.zeros(N, dtype=np.int64)
    recent = known & (list_pos > -30)                      # only listings near the window matter
    for j in np.flatnonzero(recent):
        free[j] = max(1, rules.free_sessions_after_listing(int(boards[j]), list_day[j]))
    rel = np.arange(S)[:, None] - list_pos[None, :]
    ratio[(rel >= 0) & (rel < free[None, :])] = np.nan
    ratio[~np.isfinite(prev_close)] = np.nan
    limit_up, limit_down = rules.limit_prices(prev_close, ratio)

    sl = slice(w0, None)
    _warn_outside_limits(codes, sessions[sl], arrays["high"][sl], arrays["low"][sl],
                         limit_up[sl], limit_down[sl], panel.attrs.get("source", "<frame>"))
    return Market(
        sessions=sessions[sl].copy(),
        codes=codes,
        names=np.asarray(names, dtype=str),
        boards=boards.astype(np.int8),
        is_st=np.asarray(st[-1], dtype=bool).copy(),
        open=arrays["open"][sl], high=arrays["high"][sl], low=arrays["low"][sl],
        close=close[sl], volume=arrays["volume"][sl], amount=arrays["amount"][sl],
        prev_close=prev_close[sl], limit_ratio=ratio[sl], limit_up=limit_up[sl],
        limit_down=limit_down[sl], synthetic=bool(synthetic),
    )


def _warn_outside_limits(codes, sessions, high, low, limit_up, limit_down, source) -> None:
    """Warn when bars trade beyond the limit prices computed for them: the exchange would not
    have printed them, so that stock's ST status, listing date or reference price is wrong for
    the session (ex-rights days, ST changes; docs/data.md). The engine still applies the
    computed limits, so the user should know which stocks are affected."""
    half_tick = rules.TICK / 2
    with np.errstate(invalid="ignore"):
        above = high > limit_up + half_tick
        below = low < limit_down - half_tick
    bad = above | below
    if not bad.any():
        return
    t, j = np.argwhere(bad)[0]
    if above[t, j]:
        example = f"high {high[t, j]:.2f} above limit-up {limit_up[t, j]:.2f}"
    else:
        example = f"low {low[t, j]:.2f} below limit-down {limit_down[t, j]:.2f}"
    warnings.warn(DataWarning(
        f"{source}: {int(bad.sum())} bar(s) on {int(bad.any(axis=0).sum())} stock(s) trade outside "
        f"the price limits computed for them (first: {codes[j]} on {sessions[t]}, {example}); "
        f"their ST status, listing date or reference price is probably wrong on those sessions "
        f"(ex-rights days, ST changes: see docs/data.md) and fills there follow the computed "
        f"limits"), stacklevel=3)


def load_market(path, *, names=None, start=None, end=None, drop_bad: bool = False,
                cache: bool = True) -> Market:
    """Read, validate and align a market in one call.

    A panel file or store directory goes through the market cache
    (:mod:`backtests.market_cache`: the aligned arrays stored on disk keyed by the content of
    the inputs, memory-mapped on the next load with the same inputs); ``cache=False`` (the
    CLI's ``--no-cache``) reads and aligns the files every time.

    ``path`` is ``"demo"`` (the embedded SYNTHETIC demo market, ``synthetic=True``), a store
    directory (``backtests.store.read_store``; its stored names serve when ``names`` is not
    given) or a panel file (:func:`read_panel`). ``names`` is a names file or a list of them
    for :func:`backtests.master.load_master` (first = current names). Rows dropped with
    ``drop_bad`` are reported as a :class:`DataWarning`.
    """
    paths = [] if names is None else [names] if isinstance(names, (str, os.PathLike)) \
        else list(names)
    if str(path) != "demo" and Path(path).exists():
        from backtests.market_cache import cached_market
        from backtests.progress import step

        with step(f"loading market {Path(path).name}"):
            return cached_market(
                lambda: _load_market(path, names=names, start=start, end=end,
                                     drop_bad=drop_bad),
                path, names=paths, start=start, end=end, drop_bad=drop_bad, use_cache=cache)
    return _load_market(path, names=names, start=start, end=end, drop_bad=drop_bad)


def _load_market(path, *, names=None, start=None, end=None, drop_bad: bool = False) -> Market:
    master = None
    if names is not None:
        paths = [names] if isinstance(names, (str, os.PathLike)) else list(names)
        master = load_master(*paths)
    if str(path) == "demo":
        from backtests.demo import demo_names, demo_panel

        panel = validate_panel(demo_panel(), source="demo (synthetic)")
        if master is None:
            master = StockMaster.from_frame(demo_names())
        return build_market(panel, master=master, start=start, end=end, synthetic=True)
    p = Path(path)
    if p.is_dir():
        from backtests.store import Store, read_store

        panel = validate_panel(read_store(p), source=f"store {p}", drop_bad=drop_bad)
        if master is None:
            stored = Store.open(p).read_names()
            if stored is not None and len(stored):
                master = StockMaster.from_frame(stored, source=f"store {p} names")
    else:
        panel = read_panel(p, drop_bad=drop_bad)
    dropped = panel.attrs.get("dropped") or {}
    if dropped:
        warnings.warn(DataWarning(
            f"dropped {sum(dropped.values())} bad row(s) from {panel.attrs.get('source', p)}: "
            f"{_summary(dropped)}"), stacklevel=2)
    return build_market(panel, master=master, start=start, end=end)
