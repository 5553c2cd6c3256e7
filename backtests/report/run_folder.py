"""The run folder: its files, their columns and formats, written and read in one place.

A run folder (``docs/config.md`` has the formats) holds ``config.toml`` (the resolved config,
paths relative to the folder), ``equity.csv``, ``trades.csv``, ``orders.csv``, ``metrics.json``,
``signals.csv`` (the marks the run used), ``benchmark.csv`` (equal-weight index of the loaded
market) and ``tearsheet.html``. The CSV renderers here use fixed float formats so every file is
byte-identical across runs; :func:`load_run` reads a folder back for the tearsheet.
"""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backtests.core.csv_text import Cells, arrow_cells, csv_join, day_cells, fixed_cells, int_cells
from backtests.core.errors import DataError
from backtests.data.demo import demo_names

OUTPUT_FILES = ("config.toml", "equity.csv", "trades.csv", "orders.csv", "credits.csv",
                "metrics.json",
                "signals.csv", "benchmark.csv", "study_marks.csv", "trade_bars.csv",
                "mood.csv", "tearsheet.html")
EQUITY_COLUMNS = ("date", "cash", "market_value", "equity")
TRADE_COLUMNS = ("date", "code", "side", "shares", "price", "value", "commission", "stamp_duty",
                 "transfer_fee", "reason", "dividend_tax")
CREDIT_COLUMNS = ("date", "code", "shares", "new_shares", "reference_price", "dividend")
ORDER_COLUMNS = ("date", "code", "side", "shares", "price", "status", "reject_reason")
BENCHMARK_FILE = "benchmark.csv"
SIGNALS_FILE = "signals.csv"


def texts(series: pd.Series) -> list[str]:
    """Cell texts of a column of any dtype, ``""`` for missing values (an all-empty CSV column
    is read as float NaN)."""
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in series]



# ---------------------------------------------------------------- writing

def _money(values) -> Cells:
    return fixed_cells(values, 2, empty_nonfinite=False)


def _price(values) -> Cells:
    return fixed_cells(values, 2)              # empty: no price


def _text(values) -> Cells | list[str]:
    """CSV cells: empty for missing values, quoted when a cell holds a comma, quote or newline.
    A column of strings with nothing to quote (the usual case) goes through Arrow whole."""
    column = np.asarray(values, dtype=object)
    try:
        arrow = pa.array(column, type=pa.large_string(), from_pandas=True).fill_null("")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arrow = None                               # not all strings: str() each below
    if arrow is not None and not pc.any(pc.match_substring_regex(arrow, '[,"\n]')).as_py():
        return arrow_cells(arrow)
    out = texts(column)
    joined = "".join(out)
    if "," not in joined and '"' not in joined and "\n" not in joined:
        return out
    return ['"' + s.replace('"', '""') + '"' if ("," in s or '"' in s or "\n" in s) else s
            for s in out]


def _side(values) -> list[str]:
    v = np.asarray(values)
    if np.issubdtype(v.dtype, np.number):
        return np.where(v > 0, "buy", "sell").tolist()
    return [x if isinstance(x, str) else ("buy" if int(x) > 0 else "sell") for x in values]


def equity_csv(equity: pd.DataFrame) -> str:
    """``date,cash,market_value,equity``, money with two decimals."""
    return csv_join(EQUITY_COLUMNS, [day_cells(equity["date"]), _money(equity["cash"]),
                                 _money(equity["market_value"]), _money(equity["equity"])])


def trades_csv(trades: pd.DataFrame) -> str:
    """Filled orders in execution order: ``date,code,side,shares,price,value,commission,
    stamp_duty,transfer_fee,reason,dividend_tax`` (reason ``entry`` or the exit reason;
    ``dividend_tax``: the tax on dividends the sold shares received, charged on the sale)."""
    tax = trades["dividend_tax"] if "dividend_tax" in trades.columns else np.zeros(len(trades))
    return csv_join(TRADE_COLUMNS, [
        day_cells(trades["date"]), _text(trades["code"]), _side(trades["side"]),
        int_cells(trades["shares"]), _price(trades["price"]),
        _money(trades["value"]), _money(trades["commission"]), _money(trades["stamp_duty"]),
        _money(trades["transfer_fee"]), _text(trades["reason"]), _money(tax)])


def credits_csv(credits: pd.DataFrame | None) -> str:
    """What positions held over an ex-date received: ``date,code,shares,new_shares,
    reference_price,dividend`` (shares held after the credit, new shares 送股 + 转增, the
    ex-date's reference price, the cash dividend before tax); a header only when none."""
    if credits is None:
        credits = pd.DataFrame({c: [] for c in CREDIT_COLUMNS})
    return csv_join(CREDIT_COLUMNS, [
        day_cells(credits["date"]), _text(credits["code"]),
        int_cells(credits["shares"]), int_cells(credits["new_shares"]),
        _price(credits["reference_price"]), _money(credits["dividend"])])


def orders_csv(orders: pd.DataFrame) -> str:
    """Every order (filled, rejected, expired): ``date,code,side,shares,price,status,
    reject_reason``; ``price`` is empty when the order had no price (no bar)."""
    return csv_join(ORDER_COLUMNS, [
        day_cells(orders["date"]), _text(orders["code"]), _side(orders["side"]),
        int_cells(orders["shares"]), _price(orders["price"]),
        _text(orders["status"]), _text(orders["reject_reason"])])


def signals_csv(marks: pd.DataFrame) -> str:
    """The marks used: ``date,code,name,score`` plus the article columns when built from
    articles (score with six decimals)."""
    cols = ["date", "code", "name", "score"] + [c for c in marks.columns
                                                if c not in ("date", "code", "name", "score")]
    rendered = []
    for c in cols:
        if c == "date":
            rendered.append(day_cells(marks[c]))
        elif c == "score":
            rendered.append(fixed_cells(marks[c], 6, empty_nonfinite=False))
        else:
            rendered.append(_text(marks[c]))
    return csv_join(cols, rendered)



# ---------------------------------------------------------------- reading


@dataclass
class RunFolder:
    """The files of one run folder, as frames (empty frames for absent optional files)."""
    path: Path
    equity: pd.DataFrame
    trades: pd.DataFrame
    orders: pd.DataFrame
    metrics: dict
    config: dict
    config_text: str
    signals: pd.DataFrame | None
    benchmark: pd.Series | None
    names: dict[str, str]
    credits: pd.DataFrame | None = None   # credits.csv (corporate actions), None when absent


def _read_csv(path: Path, required: tuple[str, ...], *, optional: bool) -> pd.DataFrame:
    if not path.exists():
        if optional:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in required})
        raise DataError(f"{path}: file not found; a run folder needs {path.name} "
                        f"(written by `hypebt backtest`)")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected a CSV file")
    try:
        df = pd.read_csv(path, dtype={"code": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected columns "
                        f"{','.join(required)} (found {','.join(map(str, df.columns))})")
    if "code" in df.columns:
        df["code"] = df["code"].astype(str).str.zfill(6)
    if "date" in df.columns and len(df):
        text = df["date"].astype(str)
        dates = pd.to_datetime(text, format="mixed", errors="coerce")
        bad = dates.isna()
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise DataError(f"{path} row {i + 2}: date {text.iloc[i]!r} is not a date "
                            f"(expected YYYY-MM-DD)")
        df["date"] = dates.dt.normalize()
    for column in _NUMERIC_COLUMNS.intersection(df.columns):
        df[column] = _numbers(df, column, path)
    return df


# Columns of the run-folder CSVs that must hold numbers (or be empty): a hand-edited value
# such as "abc" is named with its row instead of failing deep inside the report.
_NUMERIC_COLUMNS = frozenset({"cash", "market_value", "equity", "shares", "price", "value",
                              "commission", "stamp_duty", "transfer_fee", "dividend_tax",
                              "new_shares", "reference_price", "dividend"})


def _numbers(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``df[column]`` as floats; a value that is not a number names its row (header = row 1)."""
    values = pd.to_numeric(df[column], errors="coerce")
    bad = (values.isna() & df[column].notna()) | np.isinf(values.astype(float))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise DataError(f"{path} row {i + 2}: {column} {df[column].iloc[i]!r} is not a number")
    return values.astype(float)


def _read_benchmark(source, *, what: str) -> pd.Series:
    """Daily simple returns from a Series, or from a CSV ``date,return`` / ``date,close``."""
    if isinstance(source, pd.Series):
        s = source.astype(float).copy()
        s.index = pd.DatetimeIndex(pd.to_datetime(s.index)).tz_localize(None).normalize()
        return s.rename("benchmark")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{what} file {path} not found; expected a CSV date,return or "
                        f"date,close")
    df = _read_csv(path, ("date",), optional=False)
    if "return" in df.columns:
        s = pd.Series(_numbers(df, "return", path).to_numpy(), index=df["date"])
    else:
        level = next((c for c in ("close", "value", "level", "equity") if c in df.columns), None)
        if level is None:
            raise DataError(f"{what} {path}: needs a column 'return' (daily simple returns) or "
                            f"'close' (index levels); found {','.join(map(str, df.columns))}")
        s = pd.Series(_numbers(df, level, path).to_numpy(), index=df["date"])
        s = s.pct_change().fillna(0.0)
    s.index = pd.DatetimeIndex(s.index).tz_localize(None)
    return s.rename("benchmark")


def _names_from_config(cfg: dict, config_path: Path) -> dict[str, str]:
    """code -> name from the names file(s) the config lists (first file wins), best effort."""
    data = cfg.get("data", {}) if isinstance(cfg, dict) else {}
    names = data.get("names", [])
    if isinstance(names, str):
        names = [names]
    out: dict[str, str] = {}
    for entry in names:
        p = Path(entry)
        if not p.is_absolute():
            p = config_path.parent / p
        if not p.exists():
            continue
        try:
            df = pd.read_csv(p, dtype=str, usecols=["code", "name"])
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
            continue
        for code, name in zip(df["code"].str.zfill(6), texts(df["name"])):
            out.setdefault(code, name)
    if not out and data.get("path") == "demo":
        try:
            frame = demo_names()
            out = dict(zip(frame["code"].astype(str), frame["name"].astype(str)))
        except (ImportError, AttributeError, KeyError, TypeError):
            out = {}
    return out


def load_run(run_dir, *, benchmark=None) -> RunFolder:
    """Read a run folder (see the module docstring for its files)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise DataError(f"{path}: not a run folder (no such directory)")
    equity = _read_csv(path / "equity.csv", EQUITY_COLUMNS, optional=False)
    if equity.empty:
        raise DataError(f"{path / 'equity.csv'}: no rows; a tearsheet needs at least one session")
    # dividend_tax arrived with corporate actions: a folder written before reads as no tax
    trades = _read_csv(path / "trades.csv", TRADE_COLUMNS[:-1], optional=True)
    if "dividend_tax" not in trades.columns:
        trades["dividend_tax"] = 0.0
    orders = _read_csv(path / "orders.csv", ORDER_COLUMNS, optional=True)
    metrics: dict = {}
    if (path / "metrics.json").exists():
        try:
            metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path / 'metrics.json'}: not valid JSON ({exc})") from None
    config: dict = {}
    config_text = ""
    if (path / "config.toml").exists():
        try:
            config_text = (path / "config.toml").read_text(encoding="utf-8-sig")
            config = tomllib.loads(config_text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path / 'config.toml'}: not valid TOML ({exc})") from None
    signals = None
    if (path / SIGNALS_FILE).exists():
        signals = _read_csv(path / SIGNALS_FILE, ("date", "code"), optional=False)
    else:
        marks = config.get("signals", {}).get("marks") if config else None
        if isinstance(marks, str):
            p = Path(marks) if Path(marks).is_absolute() else path / marks
            if p.exists():
                signals = _read_csv(p, ("date", "code"), optional=False)
    if benchmark is not None:
        bench = _read_benchmark(benchmark, what="benchmark")
    elif (path / BENCHMARK_FILE).exists():
        bench = _read_benchmark(path / BENCHMARK_FILE, what="benchmark")
    else:
        bench = None
    names = _names_from_config(config, path / "config.toml")
    for frame in (signals, trades):
        if frame is not None and "name" in frame.columns:
            for code, name in zip(frame["code"], texts(frame["name"])):
                if name:
                    names.setdefault(code, str(name))
    credits = (_read_csv(path / "credits.csv", CREDIT_COLUMNS, optional=False)
               if (path / "credits.csv").exists() else None)
    return RunFolder(path, equity, trades, orders, metrics, config, config_text, signals, bench,
                     names, credits)
