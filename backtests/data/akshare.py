"""The one place hypebt talks to akshare, and the one place akshare's columns are translated.

Every network call hypebt makes goes through an :class:`AkshareSource`, which calls five akshare
functions and turns what they return into hypebt's own contracts:

=========================================  ==========================================================
method                                     akshare call -> hypebt contract
=========================================  ==========================================================
``daily_bars(code, start, end)``           ``stock_zh_a_hist(symbol=code, period="daily",
                                           start_date=YYYYMMDD, end_date=YYYYMMDD, adjust="")``
                                           -> ``code, date, open, high, low, close, volume, amount,
                                           prev_close`` (raw prices; 成交量 is in 手 and becomes
                                           shares x100; prev_close = 收盘 - 涨跌额, the reference)
``stock_names()``                          ``stock_info_a_code_name()`` -> ``code, name``
``concept_constituents(name)``             ``stock_board_concept_cons_em(symbol=name)`` -> codes
``stock_news(code_or_keyword)``            ``stock_news_em(symbol=...)`` -> article records
``cls_telegraph(important=False)``         ``stock_info_global_cls(symbol="全部"|"重点")`` -> articles
``corporate_actions(code)``                ``stock_history_dividend_detail(symbol=code, indicator=
                                           "分红" | "配股")`` (新浪 分红送配) -> the actions table
                                           ``code, ex_date, cash, bonus, transfer, rights,
                                           rights_price, par`` (per share; sina gives per 10)
=========================================  ==========================================================

Article records are dicts with exactly the fields the article reader in ``signals`` expects:
``id, published`` (timezone-aware ``datetime`` in Asia/Shanghai), ``title, body, source, url``.

akshare is imported lazily, on the first call that needs it (importing it takes seconds).

Tests never touch the network: either build ``AkshareSource(api=fake)`` where ``fake`` has
akshare's function names and returns frames with akshare's real column names, or replace the
source the commands use with :func:`use_source` / :func:`set_source`.

Network calls are paced and retried by :class:`CallPolicy`: a minimum interval between calls
(default 0.5 s), a hard time limit per attempt (default 8 s) and exponential backoff on
exceptions (default 3 attempts, waits of 1 s, 2 s). akshare retries internally too (up to 10
times with waits doubling to 256 s in ``stock_info_global_cls``), which would make an offline
fetch take minutes and ignore ``--retries``; :func:`network_guard` takes that over: inside an
attempt every HTTP request (``requests`` and ``curl_cffi``, the two clients akshare uses) gets
the attempt's remaining time as its timeout, a failed request ends the attempt at once with an
exception akshare's retry loops do not catch, and akshare's waits are cut to the time left. So
offline, a call gives up after at most ``attempts * timeout + backoff * (2**(attempts-1) - 1)``
seconds (27 s with the defaults), with one ``Error:`` line naming the host.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

from backtests.core.calendar import to_date
from backtests.core.errors import DataError, HypebtError, NetworkError, did_you_mean
from backtests.data.status import ACTION_COLUMNS

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHARES_PER_LOT = 100  # akshare's 成交量 is in 手 (lots of 100 shares)

# akshare column -> hypebt column, for stock_zh_a_hist (akshare/stock_feature/stock_hist_em.py).
BAR_COLUMNS = {
    "股票代码": "code", "日期": "date", "开盘": "open", "最高": "high", "最低": "low",
    "收盘": "close", "成交量": "volume", "成交额": "amount",
}
BAR_FIELDS = ("code", "date", "open", "high", "low", "close", "volume", "amount")
# stock_news_em's links look like http://finance.eastmoney.com/a/202412163271234567.html
_EM_URL_ID = re.compile(r"/a/(\w+)\.html$")
_CLS_HEADLINE = re.compile(r"^【([^】]+)】")
CODE_RE = re.compile(r"^\d{6}$")


def _require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"akshare {what} returned columns {list(frame.columns)}; missing {missing} "
            f"(has akshare changed its output? expected {list(columns)})")


# ---------------------------------------------------------------- conversions
def bars_from_akshare(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    """``stock_zh_a_hist`` output -> hypebt bars (English columns, volume in shares).

    An empty frame (akshare returns ``pd.DataFrame()`` with no columns when a stock has no bars
    in the range, e.g. not yet listed) becomes an empty frame with hypebt's columns.
    Rows of a different ``股票代码`` are an error: they would be stored under the wrong stock.
    """
    if frame is None or len(frame) == 0:
        return pd.DataFrame({
            "code": pd.Series([], dtype="str"), "date": pd.Series([], dtype="datetime64[ns]"),
            **{c: pd.Series([], dtype="float64") for c in BAR_FIELDS[2:]}})
    _require_columns(frame, [c for c in BAR_COLUMNS if c != "股票代码"], "stock_zh_a_hist")
    out = pd.DataFrame({
        "code": (frame["股票代码"].astype(str).str.zfill(6) if "股票代码" in frame.columns
                 else pd.Series(code, index=frame.index)),
        "date": pd.to_datetime(frame["日期"].astype(str), errors="coerce").astype("datetime64[ns]"),
    })
    for zh, en in BAR_COLUMNS.items():
        if en not in ("code", "date"):
            out[en] = pd.to_numeric(frame[zh], errors="coerce").astype("float64")
    out["volume"] = out["volume"] * SHARES_PER_LOT
    if "涨跌额" in frame.columns:
        # 涨跌额 = 收盘 - the exchange's reference previous close (ex-rights adjusted): the
        # reference the limits of that session come from
        change = pd.to_numeric(frame["涨跌额"], errors="coerce").to_numpy(dtype="float64")
        ref = (out["close"].to_numpy() - change).round(2)
        out["prev_close"] = pd.Series(ref, index=out.index).where(lambda x: x > 0)
    wrong = out[out["code"] != code]
    if len(wrong):
        raise DataError(f"akshare stock_zh_a_hist for {code} returned rows of stock "
                        f"{wrong['code'].iloc[0]!r}; expected only {code}")
    if out["date"].isna().any():
        bad = frame["日期"][out["date"].isna()].iloc[0]
        raise DataError(f"akshare stock_zh_a_hist for {code}: 日期 {bad!r} is not a date")
    return out.reset_index(drop=True)


def delisted_from_akshare(sh: pd.DataFrame, sz: pd.DataFrame, start, end) -> list[str]:
    """Codes delisted on or after ``start`` and listed on or before ``end`` (so they traded
    inside the range), from ``stock_info_sh_delist`` (公司代码, 上市日期, 暂停上市日期 — akshare's
    name for the SSE's delisting date) and ``stock_info_sz_delist(symbol="终止上市公司")``
    (证券代码, 上市日期, 终止上市日期). A-share codes only."""
    lo, hi = to_date(start, what="start"), to_date(end, what="end")
    codes = set()
    for frame, code_col, out_col, what in (
            (sh, "公司代码", "暂停上市日期", "stock_info_sh_delist"),
            (sz, "证券代码", "终止上市日期", "stock_info_sz_delist")):
        if frame is None or len(frame) == 0:
            continue
        _require_columns(frame, [code_col, "上市日期", out_col], what)
        code = frame[code_col].astype(str).str.strip().str.zfill(6)
        listed = pd.to_datetime(frame["上市日期"], errors="coerce").to_numpy().astype("datetime64[D]")
        gone = pd.to_datetime(frame[out_col], errors="coerce").to_numpy().astype("datetime64[D]")
        ok = ~pd.isna(gone) & (gone >= lo) & (pd.isna(listed) | (listed <= hi))
        codes |= {c for c in code[ok] if CODE_RE.match(c) and c[0] in "036"}
    return sorted(codes)


def actions_from_akshare(dividends: pd.DataFrame, rights: pd.DataFrame, code: str
                         ) -> pd.DataFrame:
    """``stock_history_dividend_detail`` (新浪 分红送配) -> the corporate-actions table
    (``backtests.data.status.ACTION_COLUMNS``, amounts per share). ``dividends``: indicator
    "分红" (送股, 转增, 派息 per 10 shares, 进度, 除权除息日); only plans whose 进度 is 实施 with an
    ex-date count. ``rights``: indicator "配股" (配股方案 per 10 shares, 配股价格, 除权日).
    An empty frame (akshare's answer for a stock without any) gives no rows."""
    parts = []
    if dividends is not None and len(dividends):
        _require_columns(dividends, ["送股", "转增", "派息", "进度", "除权除息日"],
                         "stock_history_dividend_detail(分红)")
        d = dividends[dividends["进度"].astype(str).str.strip() == "实施"]
        day = pd.to_datetime(d["除权除息日"], errors="coerce")
        per10 = {col: pd.to_numeric(d[col], errors="coerce").fillna(0.0) / 10.0
                 for col in ("派息", "送股", "转增")}
        parts.append(pd.DataFrame({"ex_date": day, "cash": per10["派息"], "bonus": per10["送股"],
                                   "transfer": per10["转增"], "rights": 0.0,
                                   "rights_price": 0.0})[day.notna().to_numpy()])
    if rights is not None and len(rights):
        _require_columns(rights, ["配股方案", "配股价格", "除权日"],
                         "stock_history_dividend_detail(配股)")
        day = pd.to_datetime(rights["除权日"], errors="coerce")
        parts.append(pd.DataFrame({
            "ex_date": day, "cash": 0.0, "bonus": 0.0, "transfer": 0.0,
            "rights": pd.to_numeric(rights["配股方案"], errors="coerce").fillna(0.0) / 10.0,
            "rights_price": pd.to_numeric(rights["配股价格"], errors="coerce").fillna(0.0),
        })[day.notna().to_numpy()])
    if not parts:
        return pd.DataFrame({c: [] for c in ACTION_COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    frame["ex_date"] = frame["ex_date"].dt.strftime("%Y-%m-%d")
    out = frame.groupby("ex_date", sort=True).agg(
        {"cash": "sum", "bonus": "sum", "transfer": "sum", "rights": "sum",
         "rights_price": "max"}).reset_index()
    out.insert(0, "code", code)
    out["par"] = 1.0
    return out[list(ACTION_COLUMNS)]


def names_from_akshare(frame: pd.DataFrame) -> pd.DataFrame:
    """``stock_info_a_code_name`` output (columns ``code, name``) -> ``code, name`` sorted."""
    _require_columns(frame, ["code", "name"], "stock_info_a_code_name")
    out = pd.DataFrame({"code": frame["code"].astype(str).str.strip().str.zfill(6),
                        "name": frame["name"].astype(str).str.strip()})
    out = out[out["code"].str.fullmatch(r"\d{6}")]
    return out.drop_duplicates("code", keep="last").sort_values("code").reset_index(drop=True)


def codes_from_concept(frame: pd.DataFrame) -> list[str]:
    """``stock_board_concept_cons_em`` output (``代码`` column) -> sorted 6-digit codes."""
    _require_columns(frame, ["代码"], "stock_board_concept_cons_em")
    codes = frame["代码"].astype(str).str.strip().str.zfill(6)
    return sorted({c for c in codes if CODE_RE.match(c)})


def _shanghai(ts: pd.Timestamp) -> dt.datetime:
    """A naive time means Asia/Shanghai; an aware one is converted to it."""
    if ts.tzinfo is None:
        ts = ts.tz_localize(SHANGHAI)
    return ts.tz_convert(SHANGHAI).to_pydatetime()


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()


def articles_from_news_em(frame: pd.DataFrame) -> list[dict]:
    """``stock_news_em`` output -> article records.

    Columns used: 新闻标题, 新闻内容, 发布时间 (``YYYY-MM-DD HH:MM:SS``, Beijing time),
    文章来源, 新闻链接. The id is ``em-`` plus the article number in the link. Items with neither
    title nor text are left out.
    """
    if frame is None or len(frame) == 0:
        return []
    _require_columns(frame, ["新闻标题", "新闻内容", "发布时间", "文章来源", "新闻链接"], "stock_news_em")
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        rec = dict(zip(frame.columns, row))
        url = _text(rec["新闻链接"])
        try:
            published = _shanghai(pd.Timestamp(_text(rec["发布时间"])))
        except ValueError:
            raise DataError(f"akshare stock_news_em row {i}: 发布时间 {rec['发布时间']!r} is not a "
                            f"time; expected YYYY-MM-DD HH:MM:SS") from None
        m = _EM_URL_ID.search(url)
        ident = f"em-{m.group(1)}" if m else "em-" + hashlib.sha1(
            (url or f"{published.isoformat()}\n{_text(rec['新闻标题'])}").encode()).hexdigest()[:16]
        title, body = _text(rec["新闻标题"]), _text(rec["新闻内容"])
        if title or body:  # an item with no text is no article (the reader refuses those)
            out.append({"id": ident, "published": published, "title": title, "body": body,
                        "source": _text(rec["文章来源"]) or "东方财富", "url": url})
    return out


def articles_from_cls(frame: pd.DataFrame) -> list[dict]:
    """``stock_info_global_cls`` output -> article records (source ``财联社``, no url).

    Columns used: 标题, 内容, 发布日期 (date), 发布时间 (time of day, Beijing time). akshare drops
    the telegraph's own id, so the id is ``cls-`` plus a hash of the time and the text. A
    telegraph without a 标题 takes the 【headline】 its text starts with, if any. Items with
    neither title nor text are left out.
    """
    if frame is None or len(frame) == 0:
        return []
    _require_columns(frame, ["标题", "内容", "发布日期", "发布时间"], "stock_info_global_cls")
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        rec = dict(zip(frame.columns, row))
        try:
            published = _shanghai(pd.Timestamp(f"{rec['发布日期']} {rec['发布时间']}"))
        except ValueError:
            raise DataError(f"akshare stock_info_global_cls row {i}: 发布日期/发布时间 "
                            f"{rec['发布日期']!r} {rec['发布时间']!r} is not a time") from None
        body = _text(rec["内容"])
        title = _text(rec["标题"])
        if not title and (m := _CLS_HEADLINE.match(body)):
            title = m.group(1)
        digest = hashlib.sha1(f"{published.isoformat()}\n{title}\n{body}".encode()).hexdigest()
        if title or body:
            out.append({"id": f"cls-{digest[:16]}", "published": published, "title": title,
                        "body": body, "source": "财联社", "url": ""})
    return out


# ---------------------------------------------------------------- the network guard
class Unreachable(Exception):
    """An HTTP request inside a guarded call failed or the call ran out of time. Deliberately
    neither an ``OSError`` nor a ``requests``/``curl_cffi`` exception nor a ``ValueError``:
    akshare's internal retry loops catch those, and this must end the attempt at once."""


def _host(url) -> str:
    try:
        return urlsplit(str(url)).netloc or str(url)
    except ValueError:
        return str(url)


_POOL_PREFIX = re.compile(r"^\w+ConnectionPool\([^)]*\): Max retries exceeded with url: \S+ "
                          r"\(Caused by (.*)\)$")


def _reason(exc) -> str:
    """The cause of a failed request in one short line: urllib3's pool wrapper and the query
    string (long, and no help to a user) left out."""
    text = " ".join(str(exc).split())
    m = _POOL_PREFIX.match(text)
    if m:
        text = m.group(1)
    text = re.sub(r"(https?://[^\s?'\"]+)\?[^\s'\"]*", r"\1", text)
    text = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>: ", "", text)
    return text if len(text) <= 200 else text[:197] + "..."


def _bounded(timeout, left: float):
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(t, left) for t in timeout)
    return left if timeout is None else min(timeout, left)


@contextmanager
def network_guard(timeout: float, *, clock: Callable[[], float] = time.monotonic,
                  ) -> Iterator[None]:
    """Run the block (one akshare call) with a hard time limit and no retries of akshare's own.

    Patches, for the block only, ``requests.Session.request`` and ``curl_cffi``'s
    ``Session.request`` (every akshare download goes through one of them) and ``time.sleep``:
    each request's timeout becomes the time left, a request that fails raises
    :class:`Unreachable` naming the host, and a wait is cut to the time left (at none left:
    :class:`Unreachable`). hypebt's CLI runs its downloads in one thread; the patches are
    undone when the block ends.
    """
    import requests  # the HTTP client akshare uses: loaded only when a download runs

    deadline = clock() + timeout
    real_sleep = time.sleep

    def left(url="") -> float:
        remaining = deadline - clock()
        if remaining <= 0:
            raise Unreachable(f"{_host(url) + ': ' if url else ''}no answer within the "
                              f"{timeout:g} s limit of one attempt")
        return remaining

    def guard(real, errors):
        def request(self, method, url, *args, **kwargs):
            kwargs["timeout"] = _bounded(kwargs.get("timeout"), left(url))
            try:
                return real(self, method, url, *args, **kwargs)
            except errors as exc:
                raise Unreachable(f"{_host(url)}: {type(exc).__name__}: {_reason(exc)}") from exc
        return request

    def sleep(seconds):
        real_sleep(max(0.0, min(seconds, left())))

    patches = [(requests.Session, "request", guard(requests.Session.request,
                                                   requests.RequestException))]
    try:
        # akshare's other HTTP client (stock_news_em): loaded only when a download runs
        from curl_cffi import requests as curl_requests
        from curl_cffi.curl import CurlError  # (as above)
    except ImportError:  # pragma: no cover - akshare depends on curl_cffi
        pass
    else:
        patches.append((curl_requests.Session, "request",
                        guard(curl_requests.Session.request, (CurlError, OSError))))
    patches.append((time, "sleep", sleep))
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, new in patches:
            setattr(obj, name, new)
        yield
    finally:
        for obj, name, old in saved:
            setattr(obj, name, old)


# ---------------------------------------------------------------- pacing and retries
@dataclass
class CallPolicy:
    """How network calls are paced and retried.

    ``interval``: minimum seconds between the starts of two calls (0 = no pacing).
    ``attempts``: tries per call (>= 1); after a failed try the wait is ``backoff * 2**k``
    seconds (k = 0, 1, ...). ``timeout``: the hard limit of one try in seconds, enforced by
    :func:`network_guard` (akshare's own retries and waits included). A call that still fails
    for network reasons raises :class:`~backtests.core.errors.NetworkError`; another exception is
    re-raised as it is. :class:`~backtests.core.errors.HypebtError` (bad input, unknown concept)
    and ``KeyboardInterrupt`` are never retried.
    """
    interval: float = 0.5
    attempts: int = 3
    backoff: float = 1.0
    timeout: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _last: float | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.interval < 0:
            raise DataError(f"interval {self.interval} must be >= 0 seconds")
        if self.attempts < 1:
            raise DataError(f"retries/attempts {self.attempts} must be >= 1")
        if self.backoff < 0:
            raise DataError(f"backoff {self.backoff} must be >= 0 seconds")
        if not self.timeout > 0:
            raise DataError(f"timeout {self.timeout} must be > 0 seconds")

    def _pace(self) -> None:
        if self.interval > 0 and self._last is not None:
            wait = self._last + self.interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()

    def call(self, fn: Callable, *args, **kwargs):
        """Call ``fn`` paced and retried; re-raise the last exception after the last attempt."""
        for attempt in range(self.attempts):
            self._pace()
            try:
                with network_guard(self.timeout, clock=self.clock):
                    return fn(*args, **kwargs)
            except HypebtError:
                raise
            except Exception as exc:
                if attempt + 1 == self.attempts:
                    if isinstance(exc, Unreachable):
                        raise NetworkError(
                            f"network: {exc} (after {self.attempts} attempt"
                            f"{'s' if self.attempts != 1 else ''}, {self.timeout:g} s limit "
                            f"each); check the connection, or raise --timeout/--retries") from None
                    raise
                if self.backoff > 0:
                    self.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")


# ---------------------------------------------------------------- the source
class AkshareSource:
    """Market data and news from akshare, converted to hypebt's contracts.

    ``api`` is the object whose functions are called (default: the ``akshare`` module, imported
    on first use). Pass an object with the same function names to test without network.
    """

    def __init__(self, api=None):
        self._api = api

    @property
    def api(self):
        if self._api is None:
            try:
                import akshare  # heavy (and network): loaded only when a fetch runs
            except ImportError as exc:  # pragma: no cover - akshare is a dependency
                raise DataError(f"fetching needs the akshare package: pip install akshare ({exc})")
            self._api = akshare
        return self._api

    def daily_bars(self, code: str, start, end) -> pd.DataFrame:
        """Raw (unadjusted) daily bars of one stock for sessions ``start..end`` inclusive."""
        lo = str(to_date(start, what="start")).replace("-", "")
        hi = str(to_date(end, what="end")).replace("-", "")
        frame = self.api.stock_zh_a_hist(symbol=code, period="daily", start_date=lo,
                                         end_date=hi, adjust="")
        return bars_from_akshare(frame, code)

    def stock_names(self) -> pd.DataFrame:
        """Current ``code, name`` of every SSE/SZSE/BSE A-share."""
        return names_from_akshare(self.api.stock_info_a_code_name())

    def delisted_codes(self, start, end) -> list[str]:
        """A-shares delisted inside or after ``start..end`` (SSE and SZSE delisting lists), so
        a fetch over the range includes them (survivorship)."""
        return delisted_from_akshare(self.api.stock_info_sh_delist(symbol="全部"),
                                     self.api.stock_info_sz_delist(symbol="终止上市公司"),
                                     start, end)

    def corporate_actions(self, code: str) -> pd.DataFrame:
        """Every implemented dividend, bonus/transfer and rights issue of one stock (新浪
        分红送配), as the corporate-actions table."""
        return actions_from_akshare(
            self.api.stock_history_dividend_detail(symbol=code, indicator="分红"),
            self.api.stock_history_dividend_detail(symbol=code, indicator="配股"), code)

    def concept_names(self) -> list[str]:
        """Names of East Money's concept boards (for did-you-mean on an unknown concept)."""
        frame = self.api.stock_board_concept_name_em()
        _require_columns(frame, ["板块名称"], "stock_board_concept_name_em")
        return [str(x) for x in frame["板块名称"]]

    def concept_constituents(self, name: str) -> list[str]:
        """Codes in East Money's concept board ``name`` *today* (a snapshot, not point-in-time).

        akshare looks the name up in its board list and fails with an IndexError when the board
        does not exist; that becomes a :class:`DataError` with the closest board names.
        """
        try:
            frame = self.api.stock_board_concept_cons_em(symbol=name)
        except IndexError:
            try:
                hint = did_you_mean(name, self.concept_names())
            except Exception:  # noqa: BLE001 - the hint is optional, the error is not
                hint = ""
            raise DataError(f'unknown concept "{name}": East Money has no concept board of that '
                            f"name{hint}") from None
        return codes_from_concept(frame)

    def stock_news(self, code_or_keyword: str) -> list[dict]:
        """East Money's latest news for a stock code or keyword, as article records."""
        return articles_from_news_em(self.api.stock_news_em(symbol=code_or_keyword))

    def cls_telegraph(self, *, important: bool = False) -> list[dict]:
        """The latest 财联社 telegraphs (``important``: only levels A and B), as articles."""
        return articles_from_cls(self.api.stock_info_global_cls(symbol="重点" if important else "全部"))


_source: AkshareSource | None = None


def get_source():
    """The source the commands use: the one set by :func:`set_source`, else akshare."""
    global _source
    if _source is None:
        _source = AkshareSource()
    return _source


def set_source(source) -> object:
    """Replace the source the commands use (``None`` restores akshare); returns the old one."""
    global _source
    previous, _source = _source, source
    return previous


@contextmanager
def use_source(source) -> Iterator[object]:
    """``with use_source(fake): ...`` — commands inside the block use ``fake``."""
    previous = set_source(source)
    try:
        yield source
    finally:
        set_source(previous)
