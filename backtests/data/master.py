"""Stock master: code, name, former names, board, list date, ST flag.

Built from one or more names files (``load_master``), from a frame (``StockMaster.from_frame``,
e.g. akshare's ``stock_info_a_code_name()`` with columns ``code, name``) or from the demo.
Names are looked up after folding full-width characters to half-width (NFKC) and removing
whitespace, so ``'万  科Ａ'``, ``'万科A'`` and ``'万 科 A'`` are one name; the raw names are kept for
display.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.core.errors import DataError, did_you_mean, reading
from backtests.core.names import name_is_st, normalize_name
from backtests.data.panel import sniff_format

# Source column -> master column (akshare's name tables use code/name or 代码/名称).
COLUMN_ALIASES = {
    "code": "code", "代码": "code", "股票代码": "code", "证券代码": "code", "a股代码": "code",
    "name": "name", "名称": "name", "股票简称": "name", "证券简称": "name", "a股简称": "name",
    "list_date": "list_date", "上市日期": "list_date", "a股上市日期": "list_date",
    "former_names": "former_names", "曾用名": "former_names",
}
_FORMER_SPLIT = re.compile(r"[|;；]")
_SHOW = 3


def _split_former(value) -> tuple[str, ...]:
    """``'A|B'``, ``'A;B'`` or a sequence of names -> tuple of non-empty names."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(x) for x in value]
    elif value is None or (isinstance(value, float) and np.isnan(value)):
        items = []
    else:
        items = _FORMER_SPLIT.split(str(value))
    return tuple(x.strip() for x in items if x.strip())


def _parse_list_dates(values: pd.Series, source: str, row_label, lines: np.ndarray) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize().astype("datetime64[ns]")
    text = values.fillna("").astype(str).str.strip()
    text = text.where(~text.isin(["NaT", "nan", "None"]), "")
    out = pd.to_datetime(text.where(text != ""), format="mixed", errors="coerce")
    bad = (text != "") & out.isna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:_SHOW]
        shown = "; ".join(f"{row_label} {lines[r]} list_date={text.iloc[r]!r}" for r in rows)
        raise DataError(f"names {source}: list_date must be YYYY-MM-DD or YYYYMMDD or empty: "
                        f"{shown}")
    return out.dt.normalize().astype("datetime64[ns]")


class StockMaster:
    """Stocks known by code, with current and former names.

    ``frame`` is indexed by code (sorted) with columns ``name`` (raw, for display),
    ``former_names`` (tuple of raw names), ``board`` (``rules.BOARD_*``, -1 unknown),
    ``list_date`` (NaT if unknown) and ``is_st`` (current name contains ST).

    Name look-ups fold full-width characters and whitespace. A current name always resolves to
    its stock; a former name resolves unless it is another stock's current name or the former
    name of two stocks — such names are listed in ``ambiguous`` and left out of the index.
    """

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        index: dict[str, str] = {}
        for code, name in zip(frame.index, frame["name"]):
            key = normalize_name(name)
            if key:
                index.setdefault(key, code)
        former: dict[str, set[str]] = {}
        for code, names in zip(frame.index, frame["former_names"]):
            for nm in names:
                key = normalize_name(nm)
                if key and index.get(key) != code:
                    former.setdefault(key, set()).add(code)
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        for key, owners in sorted(former.items()):
            if key in index:
                self.ambiguous[key] = tuple(sorted(owners | {index[key]}))
            elif len(owners) > 1:
                self.ambiguous[key] = tuple(sorted(owners))
            else:
                index[key] = next(iter(owners))
        self._index = index

    # ------------------------------------------------------------ construction
    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, source: str = "<frame>") -> StockMaster:
        """Build from a frame with ``code, name[, list_date][, former_names]``.

        Accepts akshare's ``stock_info_a_code_name()`` frame as it is (``code, name``) and the
        Chinese headers 代码/名称/上市日期. ``former_names`` holds names separated by ``|`` or
        ``;``. Rows are numbered from 1 in errors.
        """
        return cls(_clean(df, source, "row", 1))

    def __len__(self) -> int:
        return len(self.frame)

    def __contains__(self, code: str) -> bool:
        return code in self.frame.index

    def __repr__(self) -> str:
        return f"StockMaster({len(self.frame)} stocks, {len(self._index)} names)"

    # ------------------------------------------------------------ look-ups
    def name_of(self, code: str) -> str:
        """Current raw name of a code, ``''`` if unknown."""
        try:
            return str(self.frame.at[str(code), "name"])
        except KeyError:
            return ""

    def code_of(self, name: str) -> str | None:
        """Code of a current or former name (whitespace and full-width folded), else None."""
        return self._index.get(normalize_name(name))

    def name_index(self) -> dict[str, str]:
        """Every current and former normalised name -> code (ambiguous names left out)."""
        return dict(self._index)

    def former_names_of(self, code: str) -> tuple[str, ...]:
        try:
            return tuple(self.frame.at[str(code), "former_names"])
        except KeyError:
            return ()

    # ------------------------------------------------------------ merging
    def merged_with(self, older: StockMaster) -> StockMaster:
        """This master (current names) completed by an older one: list dates missing here are
        taken from it; its names that differ from the current one become former names; codes
        only it knows (delisted since, or absent from the current list) are added as they were."""
        def records(frame):
            return dict(zip(frame.index, zip(frame["name"], frame["former_names"], frame["list_date"])))

        cur, old = records(self.frame), records(older.frame)
        rows = {}
        for code in sorted(cur.keys() | old.keys()):
            if code not in cur:
                rows[code] = old[code]
                continue
            name, former, ld = cur[code]
            former = list(former)
            if code in old:
                old_name, old_former, old_ld = old[code]
                seen = {normalize_name(name)} | {normalize_name(f) for f in former}
                for cand in (old_name, *old_former):
                    if normalize_name(cand) and normalize_name(cand) not in seen:
                        former.append(cand)
                        seen.add(normalize_name(cand))
                if pd.isna(ld):
                    ld = old_ld
            rows[code] = (name, tuple(former), ld)
        return StockMaster(_assemble(rows))


def _assemble(rows: dict[str, tuple[str, tuple[str, ...], object]]) -> pd.DataFrame:
    codes = sorted(rows)
    names = [rows[c][0] for c in codes]
    frame = pd.DataFrame({
        "name": pd.Series(names, index=codes, dtype=object),
        "former_names": pd.Series([rows[c][1] for c in codes], index=codes, dtype=object),
        "board": pd.Series(rules.boards_of(codes), index=codes, dtype=np.int8),
        "list_date": pd.Series([rows[c][2] for c in codes], index=codes).astype("datetime64[ns]"),
        "is_st": pd.Series([name_is_st(n) for n in names], index=codes, dtype=bool),
    })
    frame.index.name = "code"
    return frame


def _clean(df: pd.DataFrame, source: str, row_label: str, row_offset: int) -> pd.DataFrame:
    header = [str(c).strip() for c in df.columns]
    mapping = {}
    for raw, col in zip(df.columns, header):
        key = COLUMN_ALIASES.get(col, COLUMN_ALIASES.get(col.lower()))
        if key and key not in mapping.values():
            mapping[raw] = key
    missing = [c for c in ("code", "name") if c not in mapping.values()]
    if missing:
        unknown = [h for h in header if COLUMN_ALIASES.get(h, COLUMN_ALIASES.get(h.lower())) is None]
        raise DataError(f"names {source} lacks column(s) {', '.join(missing)}"
                        f"{did_you_mean(missing[0], unknown)}; found "
                        f"{', '.join(header) if header else 'no columns'}. Expected "
                        "code,name[,list_date][,former_names]")
    if len(df) == 0:
        raise DataError(f"names {source} has a header but no rows")
    sub = df[list(mapping)].rename(columns=mapping).reset_index(drop=True)
    lines = np.arange(len(sub)) + row_offset
    code = sub["code"].astype(str).str.strip()
    bad = ~code.str.fullmatch(r"\d{6}")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        shown = "; ".join(f"{row_label} {lines[r]} code={code.iloc[r]!r}" for r in rows[:_SHOW])
        short = any(c.isdigit() and len(c) < 6 for c in code.iloc[rows[:_SHOW]])
        hint = (" (a shorter all-digit code lost its leading zeros, e.g. in Excel: write "
                "'002354', not '2354')") if short else ""
        raise DataError(f"names {source}: {len(rows)} code(s) are not 6 digits{hint}: {shown}")
    name = sub["name"].fillna("").astype(str).str.strip()
    empty = name == ""
    if empty.any():
        rows = np.flatnonzero(empty.to_numpy())
        shown = "; ".join(f"{row_label} {lines[r]} code={code.iloc[r]}" for r in rows[:_SHOW])
        raise DataError(f"names {source}: {len(rows)} row(s) have an empty name: {shown}")
    norm = name.map(normalize_name)
    dup = code.duplicated(keep=False)
    if dup.any():
        groups = pd.DataFrame({"code": code, "norm": norm})[dup].groupby("code")["norm"].nunique()
        clash = groups[groups > 1].index
        if len(clash):
            c0 = clash[0]
            rows = np.flatnonzero((code == c0).to_numpy())
            shown = "; ".join(f"{row_label} {lines[r]} name={name.iloc[r]!r}" for r in rows[:_SHOW])
            raise DataError(f"names {source}: code {c0} appears with different names ({shown}); "
                            f"{len(clash)} code(s) like this. Keep one row per code (older "
                            "names go in a later file or a former_names column)")
    if "list_date" in sub:
        list_date = _parse_list_dates(sub["list_date"], source, row_label, lines)
    else:
        list_date = pd.Series(pd.NaT, index=sub.index, dtype="datetime64[ns]")
    if "former_names" in sub:
        former = sub["former_names"].map(_split_former)
    else:
        former = pd.Series([()] * len(sub), index=sub.index, dtype=object)
    rows: dict[str, tuple[str, tuple[str, ...], object]] = {}
    for c, n, f, ld in zip(code, name, former, list_date):
        if c in rows:
            prev = rows[c]
            extra = tuple(x for x in f if x not in prev[1])
            rows[c] = (prev[0], prev[1] + extra, prev[2] if not pd.isna(prev[2]) else ld)
        else:
            rows[c] = (n, tuple(x for x in f if normalize_name(x) != normalize_name(n)), ld)
    return _assemble(rows)


def _read_names_file(path: Path) -> tuple[pd.DataFrame, str, int]:
    """(frame, row label, number of the first data row) of a names file."""
    if not path.exists():
        raise DataError(f"names file {path} not found")
    if path.is_dir():
        raise DataError(f"names file {path} is a directory; expected a CSV with code,name")
    if path.stat().st_size == 0:
        raise DataError(f"names file {path} is empty (0 bytes): expected a header "
                        "code,name[,list_date][,former_names] and one row per stock")
    kind = sniff_format(path)
    try:
        if kind == "parquet":
            return pd.read_parquet(path), "row", 1
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                           compression="gzip" if kind == "csv.gz" else None), "line", 2
    except UnicodeDecodeError:
        raise DataError(f"names file {path} is not UTF-8 text; save it as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        raise DataError(f"names file {path} cannot be read as CSV: {exc}") from None


def load_master(*paths) -> StockMaster:
    """Stock master from names files, newest first.

    The first file gives the current names. Each later (older) file adds list dates missing so
    far and former names: a code whose older name differs (after folding) from its current name
    gets that name as a former name (``000785`` 居然之家 -> now 居然智家). Codes only in an older
    file are added with their old name. Files are CSV (UTF-8, optionally gzip) or Parquet with
    ``code,name[,list_date][,former_names]``; CSV errors give line numbers with the header as
    line 1.
    """
    if not paths:
        raise DataError("load_master needs at least one names file")
    master = None
    for raw in paths:
        path = Path(raw)
        with reading(path, "names file"):
            df, label, offset = _read_names_file(path)
            m = StockMaster(_clean(df, str(path), label, offset))
        master = m if master is None else master.merged_with(m)
    return master
