"""Market panel files: read long-form daily bars and validate them (the data contract).

``read_panel(path)`` reads CSV, CSV.GZ or Parquet with English or akshare Chinese column names,
validates every row (see :data:`RULES`) and returns the long-form frame of the data contract. A
bad file raises :class:`~backtests.core.errors.DataError` naming the file, the rule broken and the
first offending rows; ``drop_bad=True`` drops those rows instead and records the counts by rule
in ``frame.attrs["dropped"]``. ``validate_panel(frame)`` applies the same checks to a frame.

Parsing uses pyarrow's CSV reader (multi-threaded, faster than ``pandas.read_csv`` here) with
``code`` and ``date`` read as dictionary columns: every check on codes and dates runs once per
distinct value (a few thousand codes, a few hundred dates), every other check is a numpy mask
over the whole column. No Python loop runs per row. The full contract is in ``docs/data.md``.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from backtests.core.calendar import trading_calendar
from backtests.core.errors import DataError, did_you_mean, reading

# ---------------------------------------------------------------- columns
REQUIRED = ("code", "date", "open", "high", "low", "close", "volume", "amount")
OPTIONAL = ("prev_close", "name", "is_st", "s_share", "delisting_period", "list_date",
            "adj_factor", "change")
FLAGS = ("is_st", "s_share", "delisting_period")
PRICES = ("open", "high", "low", "close")
NUMERIC = ("open", "high", "low", "close", "volume", "amount", "prev_close", "adj_factor", "change")

# Source column name -> contract column. akshare's stock_zh_a_hist returns 日期 股票代码 开盘 收盘
# 最高 最低 成交量 成交额 振幅 涨跌幅 涨跌额 换手率 (akshare/stock_feature/stock_hist_em.py); its spot and
# name tables use 代码 / 名称 / 昨收. Columns not listed here are ignored.
COLUMN_ALIASES: dict[str, str] = {
    **{c: c for c in REQUIRED + OPTIONAL},
    "股票代码": "code", "代码": "code", "日期": "date", "开盘": "open", "最高": "high", "最低": "low",
    "收盘": "close", "成交量": "volume", "成交额": "amount", "昨收": "prev_close", "名称": "name",
    "股票名称": "name", "上市日期": "list_date",
    # 涨跌额 = close - the exchange's reference previous close (ex-rights adjusted), so the
    # reference is close - 涨跌额; baostock's preclose/isST are the same two facts.
    "涨跌额": "change", "preclose": "prev_close", "isST": "is_st",
}
# akshare's 成交量 counts 手 (board lots of 100 shares); the contract's volume is shares.
VOLUME_MULTIPLIER: dict[str, float] = {"成交量": 100.0}

_TRUE = {"1", "true", "t", "yes", "y", "是"}
_FALSE = {"0", "false", "f", "no", "n", "否"}

_DATE_RE = re.compile(r"^(\d{4})[-/]?(\d{2})[-/]?(\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_CODE_RE = re.compile(r"^\d{6}$")

# Sanity bounds. No A-share has traded above ~2,600 CNY; a price in the millions is a unit or
# data error, and beyond ~9e16 it would overflow the engine's integer-cent limit arithmetic.
# No stock trades 10**13 shares in a day (the largest A-share has ~3.6e11 shares in all).
MAX_PRICE = 1e6
MAX_VOLUME = 1e13
MAX_AMOUNT = 1e15

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
    ("too_large", f"prices at most {MAX_PRICE:,.0f} CNY, volume at most {MAX_VOLUME:.0e} shares, "
                  f"amount at most {MAX_AMOUNT:.0e} CNY, all finite (larger is a unit or data error)",
     ("open", "high", "low", "close", "volume", "amount")),
    ("high_low", "low <= high (this row has high < low)", ("high", "low")),
    ("open_range", "low <= open <= high", ("open", "low", "high")),
    ("close_range", "low <= close <= high", ("close", "low", "high")),
    ("amount", "amount must not be negative", ("amount",)),
    ("prev_close", "prev_close must be positive (and at most 1,000,000) when given", ("prev_close",)),
    ("is_st", "is_st must be a yes/no value (1/0, true/false, 是/否)", ("is_st",)),
    ("s_share", "s_share must be a yes/no value (1/0, true/false, 是/否)", ("s_share",)),
    ("delisting_period", "delisting_period must be a yes/no value (1/0, true/false, 是/否)",
     ("delisting_period",)),
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
def sniff_format(path: Path) -> str:
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
    if kind == "parquet":
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"panel {path}: not a readable Parquet file "
                            f"({' '.join(str(exc).split())})") from None
        mapping = _map_columns(list(schema.names), str(path))
        textual = [c for c in mapping if mapping[c] in ("code", "date", "name")
                   and (pa.types.is_string(schema.field(c).type)
                        or pa.types.is_large_string(schema.field(c).type))]
        try:
            table = pq.read_table(path, columns=list(mapping), read_dictionary=textual)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"panel {path}: cannot read the Parquet data "
                            f"({' '.join(str(exc).split())})") from None
        # Parquet has no header line: rows are counted from 1.
        return (table.rename_columns([mapping[c] for c in table.column_names]), mapping, "row", 1,
                None)

    header = _read_header(path, kind)
    mapping = _map_columns(header, str(path))
    names = [mapping.get(h, f"_ignored_{i}") for i, h in enumerate(header)]
    text = pa.dictionary(pa.int32(), pa.string())
    types = {c: text for c in ("code", "date", "name", "list_date") + FLAGS}
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
    idx = np.where(idx < 0, len(values), idx)
    return pa.array(values + [""], pa.string()).take(pa.array(idx)).to_pandas()


def _fmt(value) -> str:
    if isinstance(value, float):
        return "empty" if np.isnan(value) else f"{value:.10g}"
    return repr(value) if isinstance(value, str) else str(value)


def _panel_from_table(table, mapping: dict[str, str], source: str, row_label: str,
                      row_offset: int, drop_bad: bool, not_number: np.ndarray | None = None):
    """Validate an Arrow table with contract column names and return the long-form frame."""
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
        flag("too_large", (traded & ((o > MAX_PRICE) | (h > MAX_PRICE) | (lo > MAX_PRICE)
                                     | (c > MAX_PRICE))) | (v > MAX_VOLUME)
             | (np.abs(num["amount"]) > MAX_AMOUNT))
        flag("high_low", traded & (h < lo))
        flag("open_range", traded & ((o < lo) | (o > h)))
        flag("close_range", traded & ((c < lo) | (c > h)))
        flag("amount", num["amount"] < 0)
        if "prev_close" in num:
            flag("prev_close", (num["prev_close"] <= 0) | (num["prev_close"] > MAX_PRICE))

    flags = {}
    for fcol in FLAGS:
        if fcol not in cols:
            continue
        if pa.types.is_boolean(table.column(fcol).type):
            raw = table.column(fcol).to_numpy(zero_copy_only=False)
            flags[fcol] = np.where(pd.isna(raw), np.nan, raw.astype(float))
        else:
            st_idx, st_vals = _dict_column(table, fcol)
            # empty = unknown: build_market carries the last known flag over it
            lut = np.array([1.0 if s.strip().lower() in _TRUE else 0.0 if s.strip().lower() in _FALSE
                            else np.nan if not s.strip() else -1.0 for s in st_vals] + [np.nan])
            flags[fcol] = lut[st_idx]
            flag(fcol, flags[fcol] < 0)
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
            raise DataError(f"panel {source}: every row is bad ({dropped_summary(dropped)}); nothing "
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
    elif "change" in num:
        # akshare's 涨跌额: the reference previous close is close - change, on the cent grid
        with np.errstate(invalid="ignore"):
            ref = np.round(num["close"][keep] - num["change"][keep], 2)
        out["prev_close"] = np.where(ref > 0, ref, np.nan)
    if "name" in cols:
        nm_idx, nm_vals = _dict_column(table, "name")
        out["name"] = _text_column(nm_vals, nm_idx[keep])
    for fcol, fval in flags.items():
        out[fcol] = pd.array(np.where(np.isnan(fval[keep]), None, fval[keep] > 0), dtype="boolean")
    if list_days is not None:
        out["list_date"] = list_days[keep].astype("datetime64[ns]")
    if "adj_factor" in num:
        out["adj_factor"] = num["adj_factor"][keep]
    frame = pd.DataFrame(out, copy=False)
    frame.attrs["source"] = source
    frame.attrs["dropped"] = dropped
    return frame


def dropped_summary(dropped: dict[str, int]) -> str:
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
    with reading(p, "panel"):  # damaged gzip, bytes that are not UTF-8, no permission, ...
        kind = sniff_format(p)
        table, mapping, label, offset, not_number = _read_table(p, kind, drop_bad)
        frame = _panel_from_table(table, mapping, str(p), label, offset, drop_bad, not_number)
    del table
    # Arrow's allocator keeps the freed read buffers for reuse; hand them back, or a 10-year
    # panel holds about 0.8 GB more than the frame for the rest of the load.
    pa.default_memory_pool().release_unused()
    return frame


def validate_panel(frame, *, source: str = "<frame>", drop_bad: bool = False):
    """Validate an in-memory long-form frame exactly as :func:`read_panel` validates a file
    (rows are numbered from 1) and return it in the contract's form."""
    if len(frame.columns) == 0:
        raise DataError(f"panel {source} has no columns")
    header = [str(c) for c in frame.columns]
    mapping = _map_columns(header, source)
    sub = frame[list(mapping)].rename(columns=mapping).reset_index(drop=True)
    if "code" in sub and sub["code"].dtype != object and not str(sub["code"].dtype).startswith(("str", "string")):
        sub["code"] = sub["code"].astype(str)
    table = pa.Table.from_pandas(sub, preserve_index=False)
    return _panel_from_table(table, mapping, source, "row", 1, drop_bad)

