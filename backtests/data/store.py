"""The local store: daily bars, names and a news archive kept in one directory.

Location: ``--store DIR`` if given, else ``$HYPEBT_STORE``, else ``<user data dir>/store``
(``platformdirs.user_data_dir("hypebt")``, e.g. ``~/.local/share/hypebt/store`` on Linux).

Layout (format version 1)::

    manifest.json           {"format": "hypebt-store", "version": 1}; marks the directory as a store
    bars/<code>.parquet     one file per stock: code, date, open, high, low, close, volume (shares),
                            amount (CNY), prev_close (NaN unless an imported file gave it); raw
                            prices; sorted by date. The file's metadata (key "hypebt") records the
                            date ranges already asked for ("coverage"), so a session with no row
                            inside a covered range is known to be a suspension, not a gap.
    names.parquet           code, name (current names, from akshare or an import)
    news/archive.sqlite     the news archive and its mention index (:mod:`backtests.data.news`); a
                            format-1 news/articles.jsonl (one article a line) is migrated into it
                            when the archive is first opened, and kept as articles.jsonl.migrated

Every file but the news archive (a SQLite database written in transactions) is written whole
to a temporary file and renamed over the old one (:mod:`backtests.core.io`), so an interrupted
import or fetch leaves each file either as it was or complete; a stock's rows and its coverage
live in the same file and change together. The temporary files of a killed import or fetch
(``.NAME.PID.XXXX.tmp``) are removed by the next command that writes the store
(:meth:`Store.open` with ``create``) and listed by ``info``.

Merging: stored rows and new rows of the same (code, date) -> the new row wins; other stored
rows are kept. Coverage is the union of the ranges imported or fetched.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import platformdirs
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from tqdm import tqdm

from backtests.core.calendar import to_date, trading_calendar
from backtests.core.errors import DataError, NetworkError, one_line, reading
from backtests.core.io import atomic_path, clean_leftovers, leftovers, write_text_atomic
from backtests.core.rules import BOARD_NAMES, board_of
from backtests.data.akshare import SHANGHAI, CallPolicy, get_source
from backtests.data.news import ARCHIVE_FILE, open_archive
from backtests.data.panel import read_panel, validate_panel
from backtests.data.status import ACTION_COLUMNS, read_actions_file
from signals.articles import Article, replace_surrogates

STORE_ENV = "HYPEBT_STORE"
FORMAT = "hypebt-store"
VERSION = 1
MANIFEST = "manifest.json"
BARS_DIR = "bars"
NAMES_FILE = "names.parquet"
ACTIONS_FILE = "actions.csv"   # corporate actions (backtests.data.status.read_actions_file)
NEWS_FILE = os.path.join("news", "articles.jsonl")
META_KEY = b"hypebt"
# prev_close is the exchange's reference (akshare's 收盘 - 涨跌额, baostock's preclose, or an
# imported file's); is_st is 1/0 (NaN = unknown; baostock's isST or an imported file's).
BAR_COLUMNS = ("code", "date", "open", "high", "low", "close", "volume", "amount", "prev_close",
               "is_st")
ARTICLE_FIELDS = ("id", "published", "title", "body", "source", "url")
# A session's daily bar is final once the exchanges have closed (15:00) and published (~15:30).
BARS_FINAL_AFTER = dt.time(15, 30)


def _pa():
    return pa, pq


def _bar_schema():
    pa, _ = _pa()
    return pa.schema([("code", pa.string()), ("date", pa.date32())]
                     + [(c, pa.float64()) for c in BAR_COLUMNS[2:]])


# ---------------------------------------------------------------- location
def default_store_path() -> Path:
    """``<user data dir>/store``, the store used when neither ``--store`` nor the env var is set."""
    return Path(platformdirs.user_data_dir("hypebt")) / "store"


def resolve_store(path: str | os.PathLike | None = None) -> Path:
    """The store directory: ``path`` if given, else ``$HYPEBT_STORE``, else the default."""
    if path:
        return Path(path).expanduser()
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    return default_store_path()


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is a directory holding a hypebt store manifest."""
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------- coverage (date ranges)
def _merge_ranges(ranges) -> list[list[str]]:
    """Union of inclusive ``[start, end]`` ISO-date ranges; overlapping ones and ones with no
    trading session between them (e.g. Friday's and Monday's) are joined."""
    sessions = trading_calendar().sessions
    spans = sorted((to_date(a), to_date(b)) for a, b in ranges)
    out: list[list[np.datetime64]] = []
    for a, b in spans:
        if out and (a <= out[-1][1] + np.timedelta64(1, "D") or not np.any(
                (sessions > out[-1][1]) & (sessions < a))):
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [[str(a), str(b)] for a, b in out]


def _covered(sessions: np.ndarray, ranges) -> np.ndarray:
    mask = np.zeros(len(sessions), dtype=bool)
    for a, b in ranges:
        mask |= (sessions >= to_date(a)) & (sessions <= to_date(b))
    return mask


def _read_bar_table(path: Path, columns=None):
    """One stock's bars file as an Arrow table; a file that cannot be read is a DataError."""
    _, pq = _pa()
    try:
        return pq.read_table(path, columns=columns)
    except Exception as exc:  # noqa: BLE001 - any parquet failure is a damaged store file
        raise DataError(f"store file {path} cannot be read ({one_line(exc)}); delete it and "
                        f"fetch or import that stock again") from None


# ---------------------------------------------------------------- the store
# One stock's bars in memory: {"date": datetime64[D], "open": float64, ...} (BAR_COLUMNS but code).
Arrays = dict[str, np.ndarray]
VALUE_COLUMNS = BAR_COLUMNS[2:]


def _empty_arrays() -> Arrays:
    return {"date": np.array([], dtype="datetime64[D]"),
            **{c: np.array([], dtype="float64") for c in VALUE_COLUMNS}}


def _arrays_from_frame(frame: pd.DataFrame) -> Arrays:
    """Store columns of a bars frame as arrays; ``prev_close`` is NaN when absent."""
    n = len(frame)
    out = {"date": pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")}
    for c in VALUE_COLUMNS:
        if c not in frame.columns:
            out[c] = np.full(n, np.nan)
        elif c == "is_st":
            out[c] = pd.array(frame[c], dtype="boolean").to_numpy(dtype="float64", na_value=np.nan)
        else:
            out[c] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64",
                                                                       na_value=np.nan)
    return out


def _take(arrays: Arrays, index) -> Arrays:
    return {k: v[index] for k, v in arrays.items()}


@dataclass
class StockBars:
    """One stock's stored rows (sorted by date) and the date ranges already covered."""
    code: str
    arrays: Arrays
    coverage: list[list[str]] = field(default_factory=list)

    @property
    def dates(self) -> np.ndarray:
        return self.arrays["date"]

    @property
    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the store's columns (``date`` datetime64[ns])."""
        frame = pd.DataFrame({"code": pd.Series([self.code] * len(self.dates), dtype="str"),
                              "date": self.dates.astype("datetime64[ns]")})
        for c in VALUE_COLUMNS:
            frame[c] = self.arrays[c]
        return frame


class Store:
    """A store directory. Open with :meth:`open`; see the module docstring for the layout."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.bars_dir = self.root / BARS_DIR
        self.names_path = self.root / NAMES_FILE
        self.actions_path = self.root / ACTIONS_FILE
        self.news_path = self.root / NEWS_FILE

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, *, create: bool = False,
             option: str | None = "--store") -> "Store":
        """Open the store at ``path`` (resolved by :func:`resolve_store`).

        With ``create``, a missing or empty directory becomes a new store; a non-empty directory
        that is not a store is refused (so a mistyped ``--store`` never writes into a folder of
        yours). Without ``create``, a missing store is a :class:`DataError`. ``option`` is
        how the user gave the path (``--store``, ``--data``), named in the hints; ``None`` for a
        path that may be a panel file or a store (``[data] path``).
        """
        root = resolve_store(path)
        if is_store(root):
            version = json.loads((root / MANIFEST).read_text(encoding="utf-8")).get("version")
            if version != VERSION:
                raise DataError(f"store {root} has format version {version!r}; this hypebt reads "
                                f"version {VERSION}")
            store = cls(root)
            if create:  # a writer owns the store: the temp files of killed runs go
                for folder in store.folders():
                    clean_leftovers(folder)
            return store
        if root.exists() and not root.is_dir():
            raise DataError(f"store {root} is a file, not a directory; pass a directory to --store")
        if (root / MANIFEST).is_file():
            raise DataError(f"{root / MANIFEST} is not a hypebt store manifest (expected "
                            f'{{"format": "{FORMAT}", "version": {VERSION}}}); repair it, or pass '
                            f"another --store")
        if not create:
            if option is None:
                raise DataError(f"no hypebt store at {root} (no {MANIFEST}); "
                                f"give a panel file (CSV, CSV.GZ, Parquet) or a store directory "
                                f"made by `hypebt data import` or `hypebt data fetch`")
            hint = f"pass {option} DIR" + (f" (or set {STORE_ENV})" if option == "--store" else "")
            raise DataError(f"no hypebt store at {root} (no {MANIFEST}); create one with "
                            f"`hypebt data import FILE` or `hypebt data fetch`, or {hint}")
        stale = leftovers(root)  # a store killed while its manifest was being written
        if root.exists() and any(p not in stale for p in root.iterdir()):
            raise DataError(f"{root} is not empty and not a hypebt store (no {MANIFEST}); pass an "
                            f"empty or new directory to --store")
        clean_leftovers(root)
        write_text_atomic(root / MANIFEST,
                          json.dumps({"format": FORMAT, "version": VERSION}, sort_keys=True) + "\n")
        return cls(root)

    def folders(self) -> list[Path]:
        """The store's folders that hold files it writes (for leftovers)."""
        return [self.root, self.bars_dir, self.news_path.parent]

    def leftovers(self) -> list[Path]:
        """Temporary files of killed imports/fetches (removed by the next writer)."""
        return [p for folder in self.folders() for p in leftovers(folder)]

    # ---- bars
    def bar_path(self, code: str) -> Path:
        return self.bars_dir / f"{code}.parquet"

    def codes(self) -> list[str]:
        """Codes with a bars file, sorted."""
        if not self.bars_dir.is_dir():
            return []
        return sorted(p.stem for p in self.bars_dir.glob("*.parquet") if not p.name.startswith("."))

    def read_bars(self, code: str) -> StockBars:
        """One stock's rows and coverage (empty when the stock is not stored)."""
        path = self.bar_path(code)
        if not path.exists():
            return StockBars(code, _empty_arrays(), [])
        table = _read_bar_table(path)
        meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
        arrays = {"date": table.column("date").to_numpy().astype("datetime64[D]")}
        for c in VALUE_COLUMNS:
            arrays[c] = table.column(c).to_numpy()
        return StockBars(code, arrays, meta.get("coverage", []))

    def write_bars(self, code: str, bars: pd.DataFrame | Arrays, coverage) -> None:
        """Replace one stock's file (rows sorted by date, coverage merged) atomically."""
        pa, pq = _pa()
        arrays = _arrays_from_frame(bars) if isinstance(bars, pd.DataFrame) else bars
        arrays = _take(arrays, np.argsort(arrays["date"], kind="stable"))
        dates = arrays["date"]
        if len(dates) > 1 and (dup := dates[1:] == dates[:-1]).any():
            raise DataError(f"stock {code}: two rows dated {dates[1:][dup][0]}")
        cols = [pa.array(np.full(len(dates), code, dtype=object), pa.string()),
                pa.array(dates, pa.date32())]
        cols += [pa.array(arrays[c], pa.float64()) for c in VALUE_COLUMNS]
        meta = json.dumps({"code": code, "coverage": _merge_ranges(coverage)}, sort_keys=True)
        table = pa.Table.from_arrays(cols, schema=_bar_schema().with_metadata({META_KEY: meta.encode()}))
        with atomic_path(self.bar_path(code)) as tmp:
            pq.write_table(table, tmp)

    def merge_bars(self, code: str, new: pd.DataFrame | Arrays, covered) -> tuple[int, int]:
        """Merge ``new`` rows into a stock's file; return (rows added, rows replaced).

        A stored row on a date that ``new`` has is replaced; other stored rows are kept.
        """
        old = self.read_bars(code)
        new = _arrays_from_frame(new) if isinstance(new, pd.DataFrame) else new
        clash = np.isin(old.dates, new["date"])
        replaced = int(clash.sum())
        if len(old.dates) > replaced:
            keep = _take(old.arrays, ~clash)
            new = {k: np.concatenate([keep[k], new[k]]) for k in new}
        self.write_bars(code, new, old.coverage + list(covered))
        return len(new["date"]) - len(old.dates), replaced  # merged rows - old rows = added

    def missing_sessions(self, code: str, sessions: np.ndarray) -> np.ndarray:
        """The sessions neither stored nor inside a covered range for ``code``."""
        stock = self.read_bars(code)
        have = _covered(sessions, stock.coverage) | np.isin(sessions, stock.dates)
        return sessions[~have]

    # ---- names
    def read_names(self) -> pd.DataFrame | None:
        """Stored ``code, name`` frame, or None when the store has no names."""
        if not self.names_path.exists():
            return None
        with reading(self.names_path, "store names file"):
            frame = pd.read_parquet(self.names_path)
        return frame.astype({"code": "str", "name": "str"})

    def write_names(self, names: pd.DataFrame) -> int:
        """Replace the stored names (``code, name``) atomically; returns the count."""
        frame = (pd.DataFrame({"code": names["code"].astype(str), "name": names["name"].astype(str)})
                 .drop_duplicates("code", keep="last").sort_values("code").reset_index(drop=True))
        pa, pq = _pa()
        table = pa.Table.from_arrays([pa.array(frame["code"].tolist(), pa.string()),
                                      pa.array(frame["name"].tolist(), pa.string())],
                                     names=["code", "name"])
        with atomic_path(self.names_path) as tmp:
            pq.write_table(table, tmp)
        return len(frame)

    def write_actions(self, actions: pd.DataFrame, codes) -> int:
        """Replace the stored corporate actions of ``codes`` by ``actions`` (the table of
        ``backtests.data.status.read_actions_file``), keeping the other stocks' rows; the file
        is replaced atomically. Returns the number of rows stored for ``codes``."""
        keep = read_actions_file(self.actions_path) if self.actions_path.exists() else None
        rows = actions.assign(ex_date=pd.to_datetime(actions["ex_date"]).dt.strftime("%Y-%m-%d"))
        if keep is not None and len(keep):
            keep = keep[~keep["code"].isin(set(codes))]
            keep = keep.assign(ex_date=pd.to_datetime(keep["ex_date"]).dt.strftime("%Y-%m-%d"))
            rows = pd.concat([keep, rows], ignore_index=True)
        rows = rows.sort_values(["code", "ex_date"], kind="stable")[list(ACTION_COLUMNS)]
        write_text_atomic(self.actions_path, rows.to_csv(index=False, lineterminator="\n",
                                                         float_format="%.10g"))
        return int(actions["code"].isin(set(codes)).sum())

    # ---- news
    def news(self, *, readonly: bool = False):
        """The store's news archive (:class:`backtests.data.news.NewsArchive`, SQLite); opening it
        migrates a format-1 ``news/articles.jsonl`` into it."""
        return open_archive(self.root, readonly=readonly)

    def has_news(self) -> bool:
        """Whether the store has a news archive (SQLite, or a JSON Lines one to migrate)."""
        return (self.root / ARCHIVE_FILE).exists() or self.news_path.exists()

    def read_articles(self) -> list[dict]:
        """The news archive as records (``published`` kept as its ISO 8601 text)."""
        if not self.has_news():
            return []
        with self.news(readonly=True) as arch:
            return arch.records()

    def add_articles(self, articles) -> tuple[int, int, int]:
        """Add articles to the archive, deduplicated by id, url and content.

        An article whose id, non-empty url or content is already archived (or appeared earlier
        in ``articles``) is a duplicate and the archived copy is kept. ``published`` must be a
        timezone-aware datetime or ISO 8601 text with an offset. Returns (new, duplicates, total).
        """
        arts = []
        for art in articles:
            rec = _article_record(art)
            arts.append(Article(id=rec["id"], published=pd.Timestamp(rec["published"]),
                                title=rec["title"], body=rec["body"], source=rec["source"],
                                url=rec["url"]))
        with self.news() as arch:
            counts = arch.add(arts)
        return counts.new, counts.duplicates, counts.total


def _article_record(art: dict) -> dict:
    published = art["published"]
    if isinstance(published, str):
        published = dt.datetime.fromisoformat(published)
    if published.tzinfo is None:
        raise DataError(f"article {art['id']!r}: published {published} has no time zone; "
                        f"expected a timezone-aware time (Asia/Shanghai)")
    rec = {f: "" if art.get(f) is None else replace_surrogates(str(art.get(f)))
           for f in ARTICLE_FIELDS}
    rec["published"] = published.isoformat()
    return rec


def _news_count(store: Store) -> int:
    if not store.has_news():
        return 0
    with store.news(readonly=True) as arch:
        return arch.count()


def _table_to_frame(table) -> pd.DataFrame:
    frame = table.to_pandas(date_as_object=False)
    frame["code"] = frame["code"].astype("str")
    frame["date"] = frame["date"].astype("datetime64[ns]")
    return frame


# ---------------------------------------------------------------- whole-store reads
def read_store(path: str | os.PathLike) -> pd.DataFrame:
    """All stored bars as one long-form panel, sorted by code then date.

    Columns ``code, date, open, high, low, close, volume, amount`` plus ``prev_close`` and
    ``is_st`` when any import or fetch gave them (NaN / NA on the rows it did not cover). This is what
    ``market.load_market`` reads when its path is a store directory.
    """
    store = Store.open(path, option=None)
    codes = store.codes()
    if not codes:
        raise DataError(f"store {store.root} holds no bars; add some with `hypebt data import FILE` "
                        f"or `hypebt data fetch`")
    pa, pq = _pa()
    files = [str(store.bar_path(c)) for c in codes]
    try:
        table = ds.dataset(files, schema=_bar_schema(), format="parquet").to_table()
    except Exception as exc:  # noqa: BLE001 - a damaged file anywhere in the store
        raise DataError(f"store {store.root}: a bars file cannot be read ({one_line(exc)})") from None
    frame = _table_to_frame(table)
    frame = frame.sort_values(["code", "date"], kind="stable").reset_index(drop=True)
    if frame["prev_close"].isna().all():
        frame = frame.drop(columns="prev_close")
    if frame["is_st"].isna().all():
        frame = frame.drop(columns="is_st")
    else:
        st = frame["is_st"].to_numpy(dtype="float64")
        frame["is_st"] = pd.array(np.where(np.isnan(st), None, st > 0), dtype="boolean")
    return frame


@dataclass
class StoreInfo:
    """What :func:`info` reports."""
    path: Path
    stocks: int
    rows: int
    sessions: int
    first: str | None
    last: str | None
    boards: dict[str, int]
    names: int
    news: int
    leftovers: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The lines ``hypebt data info`` prints."""
        dates = f"{self.first} .. {self.last}" if self.first else "-"
        boards = ", ".join(f"{k} {v}" for k, v in self.boards.items())
        return [f"store: {self.path}", f"stocks: {self.stocks}", f"sessions: {self.sessions}",
                f"dates: {dates}", f"rows: {self.rows}", f"boards: {boards}",
                f"names: {self.names}", f"news: {self.news}",
                f"leftovers: {len(self.leftovers)}"
                + (f" (temporary files of killed runs, removed by the next import or fetch: "
                   f"{', '.join(str(p) for p in self.leftovers)})" if self.leftovers else "")]


def info(path: str | os.PathLike | None = None) -> StoreInfo:
    """Counts of what a store holds: stocks, rows, distinct sessions, date range, stocks per
    board (main, chinext, star, bse, other), names and news articles."""
    store = Store.open(path)
    codes = store.codes()
    rows, dates = 0, set()
    for code in codes:
        dcol = _read_bar_table(store.bar_path(code), columns=["date"]).column("date").to_numpy()
        rows += len(dcol)
        dates.update(dcol.astype("datetime64[D]").tolist())
    boards = {name: 0 for name in BOARD_NAMES.values()}
    boards["other"] = 0
    for code in codes:
        boards[BOARD_NAMES.get(board_of(code), "other")] += 1
    names = store.read_names()
    return StoreInfo(path=store.root, stocks=len(codes), rows=rows, sessions=len(dates),
                     first=str(min(dates)) if dates else None, last=str(max(dates)) if dates else None,
                     boards=boards, names=0 if names is None else len(names),
                     news=_news_count(store), leftovers=store.leftovers())


# ---------------------------------------------------------------- import
@dataclass
class ImportResult:
    file: str
    store: Path
    stocks: int
    rows: int
    added: int
    replaced: int
    first: str
    last: str
    dropped: dict[str, int] = field(default_factory=dict)


def import_panel(file: str | os.PathLike, store: str | os.PathLike | None = None, *,
                 drop_bad: bool = False) -> ImportResult:
    """Validate a panel file with ``market.read_panel`` and merge it into the store.

    Rows of a (code, date) already stored are replaced by the file's; other stored rows stay.
    Each stock in the file counts as covered from the file's first to its last session (a
    missing row inside means suspended, as in any panel). A ``name`` column, when the file has
    one, updates the stored names (the name on each stock's latest row). Stocks are committed
    one file at a time, so an interrupted import keeps every stock it finished.
    """
    panel = read_panel(file, drop_bad=drop_bad)
    if len(panel) == 0:
        raise DataError(f"{file}: no rows to import")
    st = Store.open(store, create=True)
    first = f"{panel['date'].min():%Y-%m-%d}"
    last = f"{panel['date'].max():%Y-%m-%d}"
    added = replaced = 0
    codes = panel["code"].to_numpy(dtype=object)
    order = np.argsort(codes, kind="stable")
    arrays = _take(_arrays_from_frame(panel), order)
    uniq, starts = np.unique(codes[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    for code, lo, hi in zip(uniq, starts, bounds):
        a, r = st.merge_bars(str(code), {k: v[lo:hi] for k, v in arrays.items()}, [[first, last]])
        added += a
        replaced += r
    if "name" in panel.columns:
        latest = panel.sort_values(["code", "date"]).drop_duplicates("code", keep="last")
        latest = latest[latest["name"].notna() & (latest["name"].astype(str).str.strip() != "")]
        if len(latest):
            old = st.read_names()
            merged = latest[["code", "name"]] if old is None else pd.concat(
                [old, latest[["code", "name"]]], ignore_index=True)
            st.write_names(merged)
    return ImportResult(file=str(file), store=st.root, stocks=len(uniq), rows=len(panel),
                        added=added, replaced=replaced, first=first, last=last,
                        dropped=dict(panel.attrs.get("dropped") or {}))


# ---------------------------------------------------------------- fetch
@dataclass
class FetchResult:
    """Outcome of :func:`fetch_bars`: codes fetched, rows written, codes already complete,
    and (code, message) for each stock that still failed after its retries."""
    total: int = 0
    fetched: list[str] = field(default_factory=list)
    rows: int = 0
    up_to_date: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    end: str | None = None


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a fetch; ``result`` says what was already committed."""

    def __init__(self, result: FetchResult):
        super().__init__()
        self.result = result


def last_final_session(now: dt.datetime | None = None) -> np.datetime64:
    """The latest session whose daily bar is final at ``now`` (default: now, Beijing time)."""
    cal = trading_calendar()
    now = (now or dt.datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    today = np.datetime64(now.date(), "D")
    if today > cal.last:
        return cal.last
    return cal.previous(today, inclusive=now.time() >= BARS_FINAL_AFTER)


def check_bars(frame: pd.DataFrame, code: str, lo: np.datetime64, hi: np.datetime64) -> pd.DataFrame:
    """Validate fetched rows with the panel rules (``market.validate_panel``: sessions only,
    positive prices, low <= open, close <= high, one row per date, ...) and check that every
    row is of ``code`` and inside the range asked for. Returns the validated frame."""
    if len(frame) == 0:
        return frame
    frame = validate_panel(frame, source=f"akshare bars of {code}")
    days = frame["date"].to_numpy().astype("datetime64[D]")
    outside = (days < lo) | (days > hi) | (frame["code"].to_numpy() != code)
    if outside.any():
        i = int(np.argmax(outside))
        raise DataError(f"akshare bars of {code}: row {i + 1} is stock {frame['code'].iloc[i]} on "
                        f"{days[i]}; asked for {code} from {lo} to {hi}")
    return frame


def fetch_bars(store: Store, codes, start, end, *, source=None, policy=None,
               progress: bool = False, now: dt.datetime | None = None) -> FetchResult:
    """Fetch the missing sessions ``start..end`` of each stock and commit each stock at once.

    For each code the sessions of the trading calendar in ``start..end`` (``end`` capped at the
    last session whose bar is final at ``now``) that are neither stored nor inside a range asked
    for before are "missing"; a stock with none is skipped. Otherwise one call asks for the span
    from the first to the last missing session, the rows are checked (:func:`check_bars`) and
    merged, the span is recorded as covered, and the stock's file is replaced atomically.
    A stock whose calls still fail after the policy's retries is recorded in ``failed`` and the
    others go on -- unless the failure is the network's (:class:`~backtests.errors.NetworkError`)
    and no stock has come through yet, or two stocks in a row failed so: then the fetch stops
    with that error (offline, the other stocks would only fail the same way, one by one). Ctrl-C raises :class:`FetchInterrupted` after the last completed stock;
    running the same fetch again resumes with the stocks (and sessions) still missing.
    """
    source = source or get_source()
    policy = policy or CallPolicy()
    cal = trading_calendar()
    offline = 0  # stocks in a row that failed for network reasons
    lo = to_date(start, what="start")
    hi = min(to_date(end, what="end"), last_final_session(now))
    result = FetchResult(total=len(codes), end=str(hi))
    sessions = cal.between(lo, hi) if hi >= lo else np.array([], dtype="datetime64[D]")
    bar = _progress(codes, progress)
    try:
        for code in bar:
            missing = store.missing_sessions(code, sessions)
            if len(missing) == 0:
                result.up_to_date.append(code)
                continue
            a, b = missing[0], missing[-1]
            try:
                frame = check_bars(policy.call(source.daily_bars, code, a, b), code, a, b)
            except NetworkError as exc:
                offline += 1
                if offline >= 2 or not result.fetched:
                    raise NetworkError(f"{exc}; stopped at stock {code}: {len(result.fetched)} "
                                       f"stocks stored, run the same command again to resume"
                                       ) from None
                result.failed.append((code, f"NetworkError: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - reported per stock, others go on
                result.failed.append((code, f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
                continue
            offline = 0
            store.merge_bars(code, frame, [[str(a), str(b)]])
            result.fetched.append(code)
            result.rows += len(frame)
    except KeyboardInterrupt:
        raise FetchInterrupted(result) from None
    finally:
        if hasattr(bar, "close"):
            bar.close()
    return result


def _progress(codes, enabled: bool):
    if not enabled:
        return list(codes)

    return tqdm(list(codes), desc="fetch", unit="stock", file=sys.stderr,
                disable=not sys.stderr.isatty())


def fetch_actions(store: Store, codes, *, source=None, policy=None) -> tuple[int, list]:
    """Fetch the corporate actions (分红送配) of ``codes`` into the store's ``actions.csv``,
    which loading the store then applies (reference prices, credits to positions). Returns
    ``(rows stored, [(code, error), ...] of the stocks that failed)``; the others are stored."""
    source = source or get_source()
    policy = policy or CallPolicy()
    frames, failed, done = [], [], []
    for code in codes:
        try:
            frames.append(policy.call(source.corporate_actions, code))
            done.append(code)
        except NetworkError:
            if not done:
                raise
            failed.append((code, "network"))
        except Exception as exc:  # noqa: BLE001 - reported per stock, others go on
            failed.append((code, f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
    table = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame({c: [] for c in ACTION_COLUMNS}))
    return store.write_actions(table, done), failed


def fetch_names(store: Store, *, source=None, policy=None) -> int:
    """Fetch every A-share's current name and replace the stored names; returns the count."""
    source = source or get_source()
    policy = policy or CallPolicy()
    return store.write_names(policy.call(source.stock_names))
