"""HTML tearsheet of one run folder: quantstats' report plus hypebt's own sections.

``write_tearsheet(run_dir)`` reads what ``hypebt backtest`` wrote into ``run_dir`` and writes
``run_dir/tearsheet.html``; ``hypebt report RUN_DIR`` calls it again to redraw the page (for
example with another benchmark).

What the page holds, top to bottom:

1. quantstats' HTML report (``quantstats.reports.html``) of the daily returns of ``equity.csv``,
   against a benchmark when there is one: ``benchmark=`` given by the caller (a CSV path or a
   ``pd.Series`` of daily returns), else ``run_dir/benchmark.csv`` when the run wrote one (the
   equal-weight index of the loaded market, see :func:`equal_weight_returns`), else none.
2. hypebt's sections: headline metrics (``metrics.json``); per-stock P&L (table and bar chart);
   trades; rejected orders by reason; positions that could not be sold (a sell rejected at a
   sealed limit-down or while suspended) and for how many sessions; the signal timeline
   (article title → session → filled, rejected and why, or no order); the resolved config.

Input files (``docs/tearsheet.md`` has the full description):

- ``equity.csv`` ``date,cash,market_value,equity`` (required)
- ``trades.csv`` ``date,code,side,shares,price,value,commission,stamp_duty,transfer_fee,reason``
- ``orders.csv`` ``date,code,side,shares,price,status,reject_reason``
- ``metrics.json``, ``config.toml`` (optional, shown when present)
- ``signals.csv`` ``date,code`` plus optional ``score,name,title,article_id,published,role``
  (optional; without it the marks file named in ``config.toml`` gives a timeline without titles)
- ``benchmark.csv`` ``date,return`` (daily simple returns) or ``date,close`` (index levels)

Guarantees: one self-contained file (no external fetch: quantstats' favicon, link and the SVG
namespace/metadata URLs are removed, so the page contains no ``http`` at all unless the user's
own texts do); every text from the inputs is HTML-escaped; Chinese names render (a CJK font is
found for matplotlib, see :func:`cjk_font`, and the page asks the browser for CJK fonts);
the bytes are identical for identical inputs (SVG metadata dropped, ``svg.hashsalt`` fixed).
quantstats' own warnings and matplotlib's font messages are captured, not printed.
"""
from __future__ import annotations

import contextlib
import html
import io
import json
import logging
import math
import re
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.errors import DataError
from backtests.io import write_text_atomic
from backtests.run import EQUITY_COLUMNS, ORDER_COLUMNS, TRADE_COLUMNS

TEARSHEET = "tearsheet.html"
BENCHMARK_FILE = "benchmark.csv"
SIGNALS_FILE = "signals.csv"

# Reason names (docs/interfaces.md, "Records") -> what a reader of the page should understand.
REASON_TEXT = {
    "limit_up_sealed": "sealed at limit-up (涨停封板): the buy queue was not filled",
    "limit_down_sealed": "sealed at limit-down (跌停封板): the sell queue was not filled",
    "t_plus_1": "T+1: shares bought this session cannot be sold",
    "suspended": "suspended (停牌): no bar that session",
    "insufficient_cash": "not enough cash for one lot plus fees",
    "below_min_lot": "target value below the minimum lot",
    "volume_cap": "volume cap left less than one lot",
    "max_positions": "max_positions already held",
    "not_touched": "limit order: the price never touched limit-up",
    "no_limit": "no price limit that session (new listing)",
}
# Sell rejections that keep a position stuck ("could not be sold").
STUCK_REASONS = ("limit_down_sealed", "suspended", "t_plus_1")

# Families searched for Chinese glyphs, best first (Debian: fonts-noto-cjk, fonts-wqy-*).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans SC",
                "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Heiti SC", "Droid Sans Fallback",
                "AR PL UMing CN", "Noto Serif CJK SC")
_CJK_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "simhei", "msyh", "pingfang",
                   "droidsansfallback", "uming", "notoserifcjk")

# A fixed salt makes matplotlib's SVG element ids (clip paths, glyph defs) reproducible.
_RC = {"svg.hashsalt": "hypebt", "svg.fonttype": "path", "figure.max_open_warning": 0}

_cjk_state: dict[str, object] = {}


# ---------------------------------------------------------------- fonts


def cjk_font() -> str | None:
    """Name of a font family with Chinese glyphs registered with matplotlib, or ``None``.

    Looks first among the fonts matplotlib already knows, then in the system font folders
    (matplotlib's font cache may predate a font installed later, e.g. ``apt-get install
    fonts-noto-cjk``) and registers the file it finds. When there is none, warns once:
    Chinese names in charts then show as empty boxes (the HTML text is unaffected, the browser
    picks its own fonts).
    """
    if "name" in _cjk_state:
        return _cjk_state["name"]  # type: ignore[return-value]
    from matplotlib import font_manager as fm

    def known() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        return next((fam for fam in CJK_FAMILIES if fam in names), None)

    name = known()
    if name is None:
        with _quiet():
            for path in sorted(fm.findSystemFonts()):
                stem = Path(path).name.lower().replace("-", "").replace("_", "")
                if any(h in stem for h in _CJK_FILE_HINTS):
                    try:
                        fm.fontManager.addfont(path)
                    except (OSError, RuntimeError, ValueError):
                        continue
        name = known()
    if name is None:
        warnings.warn("hypebt: no CJK font found for matplotlib; Chinese names in tearsheet charts "
                      "will show as boxes (Debian/Ubuntu: apt-get install fonts-noto-cjk)",
                      stacklevel=2)
    _cjk_state["name"] = name
    return name


def _rc() -> dict:
    rc = dict(_RC)
    name = cjk_font()
    # matplotlib >= 3.6 falls back along the family list glyph by glyph.
    rc["font.family"] = ["DejaVu Sans", name] if name else ["DejaVu Sans"]
    return rc


@contextlib.contextmanager
def plain_style():
    """matplotlib's default style plus :data:`_RC` and the CJK fallback, whatever other code
    (quantstats sets a seaborn-like style on import) did to the global rcParams; restored on
    exit. Charts drawn inside look the same in every process."""
    import matplotlib as mpl

    rc = _rc()
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(rc)
        yield


@contextlib.contextmanager
def _quiet():
    """Capture warnings, matplotlib font-manager log lines and stray prints of plotting code."""
    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------- run folder


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
    return df


def _numbers(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``df[column]`` as floats; a value that is not a number names its row (header = row 1)."""
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
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
        for code, name in zip(df["code"].str.zfill(6), _texts(df["name"])):
            out.setdefault(code, name)
    if not out and data.get("path") == "demo":
        try:
            from backtests.demo import demo_names
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
    trades = _read_csv(path / "trades.csv", TRADE_COLUMNS, optional=True)
    orders = _read_csv(path / "orders.csv", ORDER_COLUMNS, optional=True)
    metrics: dict = {}
    if (path / "metrics.json").exists():
        try:
            metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path / 'metrics.json'}: not valid JSON ({exc})") from None
    config: dict = {}
    config_text = ""
    if (path / "config.toml").exists():
        config_text = (path / "config.toml").read_text(encoding="utf-8")
        try:
            config = tomllib.loads(config_text)
        except tomllib.TOMLDecodeError as exc:
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
            for code, name in zip(frame["code"], _texts(frame["name"])):
                if name:
                    names.setdefault(code, str(name))
    return RunFolder(path, equity, trades, orders, metrics, config, config_text, signals, bench,
                     names)


def daily_returns(run: RunFolder) -> pd.Series:
    """Daily simple returns of ``equity``, tz-naive; day one against the starting cash."""
    eq = run.equity.set_index("date")["equity"].astype(float)
    ret = eq.pct_change()
    start_cash = run.config.get("portfolio", {}).get("cash") if run.config else None
    first = eq.iloc[0] / float(start_cash) - 1.0 if start_cash else 0.0
    ret.iloc[0] = first
    ret.index = pd.DatetimeIndex(ret.index).tz_localize(None)
    return ret.rename("Strategy")


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


# ---------------------------------------------------------------- analyses (pure pandas)


def _texts(series: pd.Series) -> list[str]:
    """Cell texts of a column of any dtype, ``""`` for missing values (an all-empty CSV column
    is read as float NaN)."""
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in series]


def _norm_side(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.lower()
    return text.replace({"1": "buy", "+1": "buy", "-1": "sell", "b": "buy", "s": "sell"})


def _norm_status(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.lower()
    return text.replace({"0": "filled", "1": "rejected", "2": "expired"})


def _reason(series: pd.Series) -> pd.Series:
    return pd.Series(_texts(series), index=series.index, dtype=object).str.strip()


def _normalised(orders: pd.DataFrame) -> pd.DataFrame:
    """``orders`` with ``side`` buy/sell, ``status`` filled/rejected/expired (codes accepted)
    and a stripped text ``reason`` from ``reject_reason``."""
    return orders.assign(side=_norm_side(orders["side"]), status=_norm_status(orders["status"]),
                         reason=_reason(orders["reject_reason"]))


def per_stock_pnl(trades: pd.DataFrame) -> pd.DataFrame:
    """Realised P&L per stock from the fills (average cost, fees included), plus open shares.

    Columns: ``code, buys, sells, bought, sold, fees, realized, open_shares, open_cost``;
    ``realized`` = proceeds of sells net of their fees − average cost (incl. buy fees) of the
    shares sold. Open positions keep their cost in ``open_cost`` (their value is in equity.csv).
    """
    cols = ["code", "buys", "sells", "bought", "sold", "fees", "realized", "open_shares",
            "open_cost"]
    if trades.empty:
        return pd.DataFrame(columns=cols)
    t = trades.copy()
    t["side"] = _norm_side(t["side"])
    t["fee"] = t[["commission", "stamp_duty", "transfer_fee"]].astype(float).sum(axis=1)
    rows = []
    for code, g in t.sort_values(["date"], kind="stable").groupby("code", sort=True):
        shares = cost = realized = 0.0
        buys = sells = 0
        bought = sold = 0.0
        for side, n, value, fee in zip(g["side"], g["shares"].astype(float),
                                       g["value"].astype(float), g["fee"]):
            if side == "buy":
                buys += 1
                bought += value
                shares += n
                cost += value + fee
            else:
                sells += 1
                sold += value
                avg = cost / shares if shares > 0 else 0.0
                take = min(n, shares)
                realized += value - fee - avg * take
                cost -= avg * take
                shares -= take
        rows.append((code, buys, sells, bought, sold, float(g["fee"].sum()), realized, shares,
                     cost if shares > 0 else 0.0))
    return pd.DataFrame(rows, columns=cols)


def rejections_by_reason(orders: pd.DataFrame) -> pd.DataFrame:
    """Counts of rejected/expired orders per (side, reason), most frequent first."""
    if orders.empty:
        return pd.DataFrame(columns=["side", "reason", "orders", "stocks"])
    o = _normalised(orders)
    o = o[o["status"] != "filled"]
    if o.empty:
        return pd.DataFrame(columns=["side", "reason", "orders", "stocks"])
    g = o.groupby(["side", "reason"], sort=True).agg(orders=("code", "size"),
                                                      stocks=("code", "nunique")).reset_index()
    return g.sort_values(["orders", "side", "reason"], ascending=[False, True, True],
                         kind="stable").reset_index(drop=True)


def stuck_positions(orders: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Positions whose sell was refused (sealed limit-down, suspension, T+1), one row per episode.

    An episode starts at a stock's first refused sell and ends at its next filled sell (or the
    end of the run: ``sold`` empty). ``sessions_blocked`` counts trading sessions from the first
    refusal up to, not including, the session it was sold (the whole wait when never sold);
    ``refusals`` counts refused orders by reason, e.g. ``limit_down_sealed×3``.
    """
    cols = ["code", "shares", "first_blocked", "sold", "sold_price", "sessions_blocked",
            "refusals"]
    if orders.empty:
        return pd.DataFrame(columns=cols)
    o = _normalised(orders)
    o = o[o["side"] == "sell"].sort_values(["code", "date"], kind="stable")
    pos = {d: i for i, d in enumerate(sessions)}
    rows = []
    for code, g in o.groupby("code", sort=True):
        episode = None
        for date, status, reason, shares, price in zip(g["date"], g["status"], g["reason"],
                                                        g["shares"], g["price"]):
            if status != "filled" and reason in STUCK_REASONS:
                if episode is None:
                    episode = {"code": code, "shares": int(shares), "first_blocked": date,
                               "reasons": {}}
                episode["reasons"][reason] = episode["reasons"].get(reason, 0) + 1
            elif status == "filled" and episode is not None:
                episode.update(sold=date, sold_price=float(price))
                rows.append(episode)
                episode = None
        if episode is not None:
            rows.append(episode)
    out = []
    last = len(sessions)
    for e in rows:
        start = pos.get(e["first_blocked"], 0)
        end = pos.get(e.get("sold"), last) if e.get("sold") is not None else last
        refusals = ", ".join(f"{k}×{v}" for k, v in sorted(e["reasons"].items()))
        out.append((e["code"], e["shares"], e["first_blocked"], e.get("sold"),
                    e.get("sold_price", math.nan), max(end - start, 1), refusals))
    return pd.DataFrame(out, columns=cols)


def signal_timeline(signals: pd.DataFrame | None, orders: pd.DataFrame) -> pd.DataFrame:
    """One row per signal (session, stock): what became of it.

    ``outcome`` is ``filled`` (shares @ price), ``rejected`` / ``expired`` with the reason, or
    ``no order`` (the engine skipped the mark: already held, below a threshold, or outside the
    backtest window).
    """
    cols = ["published", "title", "date", "code", "role", "score", "outcome", "detail"]
    if signals is None or signals.empty:
        return pd.DataFrame(columns=cols)
    s = signals.copy()
    for c in ("published", "title", "score", "role"):
        if c not in s.columns:
            s[c] = ""
    buys = _normalised(orders)
    buys = buys[buys["side"] == "buy"]
    first = {}
    for date, code, status, reason, shares, price in zip(buys["date"], buys["code"],
                                                         buys["status"], buys["reason"],
                                                         buys["shares"], buys["price"]):
        first.setdefault((date, code), (status, reason, shares, price))
    outcomes, details = [], []
    for date, code in zip(s["date"], s["code"]):
        hit = first.get((date, code))
        if hit is None:
            outcomes.append("no order")
            details.append("skipped by the strategy (held, below threshold or outside window)")
            continue
        status, reason, shares, price = hit
        outcomes.append(status)
        if status == "filled":
            details.append(f"{int(float(shares)):,} @ {float(price):.2f}")
        else:
            details.append(f"{reason}: {REASON_TEXT.get(reason, reason)}")
    s["outcome"] = outcomes
    s["detail"] = details
    return s.sort_values(["date", "code"], kind="stable")[cols].reset_index(drop=True)


# ---------------------------------------------------------------- HTML helpers

_CSS = """
.hypebt{clear:both;max-width:960px;margin:auto;padding-top:10px}
.hypebt h2{font-size:20px;margin:30px 0 8px;font-weight:700;border-top:1px solid #ccc;padding-top:20px}
.hypebt p.note{color:#555;margin:4px 0 10px}
.hypebt table{margin:0 0 20px;font-size:12px}
.hypebt table td,.hypebt table th{text-align:right}
.hypebt table td.t,.hypebt table th.t{text-align:left}
.hypebt table td{white-space:nowrap !important}.hypebt table td.w{white-space:normal !important}
.hypebt .filled{color:#070}.hypebt .rejected{color:#b00}.hypebt .expired{color:#a60}
.hypebt pre{background:#f6f6f6;padding:10px;font-size:12px;overflow-x:auto}
.hypebt .scroll{max-height:520px;overflow-y:auto}
.hypebt p.nav{margin:6px 0 0}.hypebt p.nav a{color:#069;text-decoration:none}
body,p,table,td,th{font-family:Arial,"Noto Sans CJK SC","Noto Sans CJK JP","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",sans-serif}
"""


_NAV = ('<p class="nav">hypebt sections: <a href="#hypebt-metrics">metrics</a> · '
        '<a href="#hypebt-pnl">per-stock P&amp;L</a> · <a href="#hypebt-trades">trades</a> · '
        '<a href="#hypebt-rejections">rejected orders</a> · '
        '<a href="#hypebt-stuck">could not sell</a> · '
        '<a href="#hypebt-signals">signal timeline</a> · <a href="#hypebt-config">config</a></p>')


def _e(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else f"{value:%Y-%m-%d}"
    return html.escape(str(value), quote=True)


def _num(value, fmt: str = ",.2f") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return "" if math.isnan(v) else format(v, fmt)


def _table(headers: list[tuple[str, bool]], rows: list[list[str]], *, css: str = "",
           scroll: bool = False) -> str:
    """``headers``: (label, kind) with kind ``False`` (number, right-aligned), ``True`` (short
    text, one line) or ``"wrap"`` (long text). Cells are already escaped/formatted strings."""
    css_of = {False: "", True: ' class="t"', "wrap": ' class="t w"'}
    head = "".join(f"<th{css_of[t]}>{_e(h)}</th>" for h, t in headers)
    body = []
    for row in rows:
        cells = []
        for (_, kind), cell in zip(headers, row):
            cells.append(f"<td{css_of[kind]}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>'
             + "\n".join(body) + "</tbody></table>")
    return f'<div class="scroll">{table}</div>' if scroll else table


def _strip_svg_noise(text: str) -> str:
    """``text`` without XML prologs, DOCTYPEs, SVG metadata or namespace URLs."""
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)


def _clean_svg(svg: str) -> str:
    """Inline-ready SVG without XML prolog, DOCTYPE, metadata or namespace URLs."""
    return _strip_svg_noise(svg).strip()


def _svg_of(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return _clean_svg(buf.getvalue())


def _pnl_chart(pnl: pd.DataFrame, names: dict[str, str]) -> str:
    """Horizontal bars of realised P&L, the 20 largest by size."""
    if pnl.empty:
        return ""
    from matplotlib.figure import Figure

    top = pnl.reindex(pnl["realized"].abs().sort_values(ascending=False, kind="stable").index)
    top = top.head(20).iloc[::-1]
    labels = [f"{c} {names.get(c, '')}".strip() for c in top["code"]]
    with _quiet(), plain_style():
        fig = Figure(figsize=(8, max(1.6, 0.32 * len(top) + 0.8)))
        ax = fig.add_subplot()
        vals = top["realized"].to_numpy(dtype=float)
        ax.barh(range(len(top)), vals, color=["#2a9d4b" if v >= 0 else "#c0392b" for v in vals])
        ax.set_yticks(range(len(top)), labels)
        ax.axvline(0, color="#333", lw=0.8)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel("realised P&L (CNY)")
        ax.set_title("Per-stock realised P&L 个股盈亏")
        svg = _svg_of(fig)
    return svg


def _quantstats_html(returns: pd.Series, bench: pd.Series | None, title: str) -> tuple[str, str]:
    """quantstats' report as (head CSS, body) strings, cleaned of external references."""
    import tempfile

    with _quiet():
        import matplotlib
        import matplotlib.pyplot as plt
        import quantstats as qs  # sets rcParams font.family = Arial on import; rc_context wins

        kwargs = {"benchmark_title": "Equal-weight market"} if bench is not None else {}
        with matplotlib.rc_context(_rc()), tempfile.TemporaryDirectory(prefix="hypebt-") as tmp:
            out = Path(tmp) / "quantstats.html"
            try:
                qs.reports.html(returns, benchmark=bench, output=str(out), title=title,
                                strategy_title="Strategy", figfmt="svg", match_dates=False,
                                **kwargs)
            finally:
                plt.close("all")
            page = out.read_text(encoding="utf-8")
    style = "\n".join(re.findall(r"<style>(.*?)</style>", page, flags=re.S))
    m = re.search(r"<body[^>]*>(.*)</body>", page, flags=re.S)
    body = m.group(1) if m else ""
    body = re.sub(r"<style>.*?</style>", "", body, flags=re.S)
    body = _strip_svg_noise(body)
    body = re.sub(r"<a\s[^>]*>(.*?)</a>", r"\1", body, flags=re.S)  # quantstats.io link
    return style, body


# ---------------------------------------------------------------- sections


# How metrics.json values read in the page: fractions as percentages, CNY with separators,
# ratios to two decimals, counts as integers (metrics.json itself keeps full precision).
_PERCENT_METRICS = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "fill_rate"}
_MONEY_METRICS = {"final_equity", "initial_cash"}


def _metric_format(key: str) -> str:
    if key in _PERCENT_METRICS:
        return ".2%"
    if key in _MONEY_METRICS or key.startswith("fees."):
        return ",.2f"
    if key in {"sharpe", "sortino", "profit_factor", "avg_holding_sessions"}:
        return ".2f"
    return ",.6g"


def _section_metrics(run: RunFolder) -> str:
    if not run.metrics:
        return '<h2 id="hypebt-metrics">Run metrics</h2><p class="note">No metrics.json.</p>'
    rows = []

    def add(key, value):
        if isinstance(value, dict):
            for k, v in value.items():
                add(f"{key}.{k}", v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append([_e(key), _num(value, _metric_format(key))])
        else:
            rows.append([_e(key), _e(value)])

    for k, v in run.metrics.items():
        add(k, v)
    return ('<h2 id="hypebt-metrics">Run metrics</h2>'
            + _table([("metric", True), ("value", False)], rows))


def _name(run: RunFolder, code: str) -> str:
    return _e(run.names.get(code, ""))


def _section_pnl(run: RunFolder) -> str:
    pnl = per_stock_pnl(run.trades)
    head = '<h2 id="hypebt-pnl">Per-stock P&amp;L</h2>'
    if pnl.empty:
        return head + '<p class="note">No fills.</p>'
    order = pnl.sort_values(["realized", "code"], ascending=[False, True], kind="stable")
    rows = [[_e(r.code), _name(run, r.code), str(r.buys), str(r.sells), _num(r.bought),
             _num(r.sold), _num(r.fees), _num(r.realized), _num(r.open_shares, ",.0f"),
             _num(r.open_cost)] for r in order.itertuples()]
    rows.append(["<b>total</b>", "", str(int(pnl.buys.sum())), str(int(pnl.sells.sum())),
                 _num(pnl.bought.sum()), _num(pnl.sold.sum()), _num(pnl.fees.sum()),
                 f"<b>{_num(pnl.realized.sum())}</b>", _num(pnl.open_shares.sum(), ",.0f"),
                 _num(pnl.open_cost.sum())])
    note = ('<p class="note">Realised P&amp;L at average cost, all fees included. Positions still '
            'open at the end keep their cost in "open cost"; their value is in the equity curve.'
            '</p>')
    return (head + note + _pnl_chart(pnl, run.names)
            + _table([("code", True), ("name", True), ("buys", False), ("sells", False),
                      ("bought", False), ("sold", False), ("fees", False), ("realised", False),
                      ("open shares", False), ("open cost", False)], rows, scroll=True))


def _section_trades(run: RunFolder) -> str:
    head = f'<h2 id="hypebt-trades">Trades ({len(run.trades)})</h2>'
    if run.trades.empty:
        return head + '<p class="note">No fills.</p>'
    t = run.trades.sort_values(["date"], kind="stable")
    rows = [[_e(r.date), _e(r.code), _name(run, r.code), _e(_norm_side(pd.Series([r.side]))[0]),
             _num(r.shares, ",.0f"), _num(r.price), _num(r.value), _num(r.commission),
             _num(r.stamp_duty), _num(r.transfer_fee), _e(r.reason)] for r in t.itertuples()]
    return head + _table([("date", True), ("code", True), ("name", True), ("side", True),
                          ("shares", False), ("price", False), ("value", False),
                          ("commission", False), ("stamp duty", False), ("transfer fee", False),
                          ("reason", True)], rows, scroll=True)


def _section_skipped(run: RunFolder) -> str:
    """Marks set aside by an entry filter or the sentiment gate (metrics.json ``skipped``;
    only runs that use one have it)."""
    skipped = run.metrics.get("skipped")
    if skipped is None:
        return ""
    head = '<h2 id="hypebt-skipped">Marks skipped by the filters and the gate</h2>'
    rows = [[_e(k), str(v)] for k, v in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
            if v]
    if not rows:
        return head + '<p class="note">No mark was skipped.</p>'
    note = ('<p class="note">A skipped mark places no order: an entry filter or the sentiment '
            'gate (read at the previous session) set it aside. Reasons are in '
            'docs/strategies.md.</p>')
    return head + note + _table([("reason", True), ("marks", False)], rows)


def _section_rejections(run: RunFolder) -> str:
    head = '<h2 id="hypebt-rejections">Rejected orders by reason</h2>'
    rej = rejections_by_reason(run.orders)
    if rej.empty:
        return head + '<p class="note">No order was rejected.</p>'
    rows = [[_e(r.side), _e(r.reason), _e(REASON_TEXT.get(r.reason, "")), str(r.orders),
             str(r.stocks)] for r in rej.itertuples()]
    table = _table([("side", True), ("reason", True), ("meaning", "wrap"), ("orders", False),
                    ("stocks", False)], rows)
    o = _normalised(run.orders)
    o = o[o["status"] != "filled"].sort_values(["date", "code"], kind="stable")
    detail = [[_e(r.date), _e(r.code), _name(run, r.code), _e(r.side), _num(r.shares, ",.0f"),
               _num(r.price), f'<span class="{_e(r.status)}">{_e(r.status)}</span>',
               _e(r.reason)] for r in o.itertuples()]
    return (head + table + '<p class="note">Every refused order:</p>'
            + _table([("date", True), ("code", True), ("name", True), ("side", True),
                      ("shares", False), ("price", False), ("status", True), ("reason", True)],
                     detail, scroll=True))


def _section_stuck(run: RunFolder) -> str:
    head = '<h2 id="hypebt-stuck">Positions that could not be sold</h2>'
    sessions = pd.DatetimeIndex(run.equity["date"])
    stuck = stuck_positions(run.orders, sessions)
    if stuck.empty:
        return head + '<p class="note">Every sell was filled when first sent.</p>'
    rows = [[_e(r.code), _name(run, r.code), _num(r.shares, ",.0f"), _e(r.first_blocked),
             _e(r.sold) if r.sold is not None and not pd.isna(r.sold) else "still held at the end",
             _num(r.sold_price), str(r.sessions_blocked), _e(r.refusals)]
            for r in stuck.itertuples()]
    note = ('<p class="note">A sell refused at a sealed limit-down (一字跌停), during a suspension '
            'or by T+1 is sent again each session; "sessions blocked" counts the sessions from the '
            'first refusal to the sale.</p>')
    return head + note + _table([("code", True), ("name", True), ("shares", False),
                                 ("first blocked", True), ("sold", True), ("sold at", False),
                                 ("sessions blocked", False), ("refusals", "wrap")], rows)


def _section_signals(run: RunFolder) -> str:
    head = '<h2 id="hypebt-signals">Signal timeline</h2>'
    tl = signal_timeline(run.signals, run.orders)
    if tl.empty:
        return head + '<p class="note">No signals file in this run folder.</p>'
    rows = [[_e(_when(r.published)), _e(r.title), _e(r.date), _e(r.code), _name(run, r.code),
             _e(r.role), _num(r.score, ".3g") if r.score != "" else "",
             f'<span class="{_e(r.outcome.replace(" ", "-"))}">{_e(r.outcome)}</span>',
             _e(r.detail)] for r in tl.itertuples()]
    note = ('<p class="note">Article → first tradable session → what the order became. "no order": '
            'the strategy skipped the mark.</p>')
    return head + note + _table([("published", True), ("article", "wrap"), ("session", True),
                                 ("code", True), ("name", True), ("role", True),
                                 ("score", False), ("outcome", True), ("detail", "wrap")], rows,
                                scroll=True)


def _when(value) -> str:
    """``2024-12-16 02:58`` (the article's own clock) from an ISO timestamp; other text as is."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)}" if m else text


def _section_config(run: RunFolder) -> str:
    if not run.config_text:
        return '<h2 id="hypebt-config">Config</h2><p class="note">No config.toml.</p>'
    return f'<h2 id="hypebt-config">Config</h2><pre>{_e(run.config_text)}</pre>'


def _title(run: RunFolder) -> str:
    strat = run.config.get("strategy", {}).get("name", "") if run.config else ""
    return f"hypebt {strat}".strip()


def render_tearsheet(run_dir, *, benchmark=None) -> str:
    """The tearsheet of ``run_dir`` as an HTML string (see the module docstring)."""
    run = load_run(run_dir, benchmark=benchmark)
    returns = daily_returns(run)
    bench = run.benchmark
    if bench is not None:
        if len(returns) and not bench.index.isin(returns.index).any():
            source = (Path(run_dir) / BENCHMARK_FILE if benchmark is None
                      else benchmark if isinstance(benchmark, (str, Path)) else "series")
            span = (f"{bench.index.min():%Y-%m-%d} .. {bench.index.max():%Y-%m-%d}"
                    if len(bench) else "no dates")
            raise DataError(f"benchmark {source}: covers {span}, no session of the run "
                            f"({returns.index.min():%Y-%m-%d} .. {returns.index.max():%Y-%m-%d})")
        bench = bench.reindex(returns.index).fillna(0.0)
    title = _title(run)
    qs_note = ""
    try:
        if len(returns) < 2:
            raise ValueError("needs at least two sessions")
        style, body = _quantstats_html(returns, bench, title)
    except Exception as exc:  # noqa: BLE001 - quantstats fails on degenerate series; say so
        style, body = "", ""
        qs_note = (f'<p class="note">quantstats could not draw its report for this run '
                   f'({_e(type(exc).__name__)}: {_e(exc)}).</p>')
    sections = "\n".join(s for s in (
        _section_metrics(run), _section_pnl(run), _section_trades(run), _section_skipped(run),
        _section_rejections(run), _section_stuck(run), _section_signals(run),
        _section_config(run)) if s)
    synthetic = (run.config.get("data", {}).get("path") == "demo") if run.config else False
    banner = ('<p class="note"><b>SYNTHETIC demo data</b>: the companies and prices are '
              'generated.</p>') if synthetic else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} tearsheet</title>\n"
        f"<style>{style}\n{_CSS}</style>\n</head>\n<body>\n"
        f'<div class="hypebt"><h1>{_e(title)} — tearsheet</h1>{banner}{qs_note}{_NAV}</div>\n'
        f'<div class="quantstats">{body}</div>\n'
        f'<div class="hypebt">\n{sections}\n</div>\n</body>\n</html>\n')


def write_tearsheet(run_dir, *, benchmark=None) -> Path:
    """Write ``run_dir/tearsheet.html`` (atomically) and return its path.

    ``benchmark``: ``None`` (use ``run_dir/benchmark.csv`` when present), a CSV path with
    ``date,return`` or ``date,close``, or a ``pd.Series`` of daily returns.
    """
    text = render_tearsheet(run_dir, benchmark=benchmark)
    target = Path(run_dir) / TEARSHEET
    write_text_atomic(target, text)
    return target
