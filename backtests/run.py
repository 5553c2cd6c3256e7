"""One backtest run: config -> market -> marks -> engine -> run folder.

>>> from backtests.config import load_config
>>> from backtests.run import run_config, write_outputs
>>> cfg = load_config("configs/demo.toml")
>>> result = run_config(cfg)
>>> write_outputs(result, cfg, "runs/demo")

The run folder (``docs/config.md`` has the formats) holds ``config.toml`` (the resolved config,
paths relative to the folder), ``equity.csv``, ``trades.csv``, ``orders.csv``, ``metrics.json``,
``signals.csv`` (the marks the run used), ``benchmark.csv`` (equal-weight index of the loaded
market) and ``tearsheet.html``. Every file is rendered in memory first and the folder is
replaced as a whole (:func:`backtests.io.atomic_dir`), so an error leaves the previous run folder
as it was; all are byte-identical across runs (fixed float formats, sorted keys, no
timestamps), the tearsheet included.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.config import (DEMO, RunConfig, check_marks_codes, read_exits, read_marks,
                              resolved_toml, signal_rules)
from backtests.ladder import combine_marks, ladder_marks
from backtests.io import atomic_dir, write_text_atomic

OUTPUT_FILES = ("config.toml", "equity.csv", "trades.csv", "orders.csv", "metrics.json",
                "signals.csv", "benchmark.csv", "tearsheet.html")
EQUITY_COLUMNS = ("date", "cash", "market_value", "equity")
TRADE_COLUMNS = ("date", "code", "side", "shares", "price", "value", "commission", "stamp_duty",
                 "transfer_fee", "reason")
ORDER_COLUMNS = ("date", "code", "side", "shares", "price", "status", "reject_reason")


class Marks(NamedTuple):
    """The marks a run uses (``frame``: date, code, score[, name, article columns]), how many
    were dropped for lying outside the market's sessions, and how many marks built from
    articles named a stock absent from the market data (a marks CSV with such a code is an
    error instead). ``exits``: the user exit signals of ``[signals] exits`` (``date, code``,
    those outside the market's sessions dropped) or None."""
    frame: pd.DataFrame
    outside_window: int
    not_in_market: int = 0
    exits: pd.DataFrame | None = None


def default_out_dir(cfg: RunConfig) -> Path:
    """``runs/<config stem>`` under the current directory."""
    return Path("runs") / cfg.stem


def load_run_market(cfg: RunConfig):
    """The :class:`~backtests.market.Market` of ``[data]``."""
    from backtests.market import load_market

    d = cfg.data
    return load_market(d.path, names=list(d.names) or None, start=d.start, end=d.end,
                       drop_bad=d.drop_bad)


def load_marks(cfg: RunConfig, market) -> Marks:
    """The entry marks of ``[signals]`` for ``market``: read from the marks CSV, or built from
    the articles with the signals package. Codes must be in the market (ConfigError naming the
    row otherwise); marks on dates outside the market's sessions are dropped and counted."""
    s = cfg.signals
    missing = 0
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    if s.source == "ladder":
        frame = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                              "code": pd.Series(dtype=object)})
    elif s.marks:
        frame = read_marks(s.marks)
        check_marks_codes(frame, market.codes, source=s.marks)
    else:
        frame = marks_from_articles(cfg, market)
        known = frame["code"].isin(set(map(str, market.codes)))
        missing = int((~known).sum())
        frame = frame.loc[known].reset_index(drop=True)
    days = frame["date"].to_numpy().astype("datetime64[D]")
    inside = np.isin(days, sessions)
    frame = frame.loc[inside].reset_index(drop=True)
    if "name" not in frame.columns:
        names = dict(zip(map(str, market.codes), map(str, market.names)))
        frame.insert(2, "name", [names.get(c, "") for c in frame["code"]])
    if s.source != "news":
        frame = combine_marks(frame, ladder_marks(market, s.streak, s.first_board), s.source)
    exits = None
    if s.exits:
        exits = read_exits(s.exits)
        check_marks_codes(exits, market.codes, source=s.exits)
        on = np.isin(exits["date"].to_numpy().astype("datetime64[D]"), sessions)
        exits = exits.loc[on].reset_index(drop=True)
    return Marks(frame, int((~inside).sum()), missing, exits)


def marks_from_articles(cfg: RunConfig, market) -> pd.DataFrame:
    """Marks built by :func:`signals.marks.build_marks` from ``[signals] articles`` (``"demo"``
    = the embedded demo articles of :mod:`signals.demo`) with the ``[signals]`` thresholds and
    rule files (``themes_file``, ``role_rules``, ``matching_file``; the packaged rules for any
    not given); the stock names come from ``[data] names`` or else from the market."""
    from backtests.calendar import trading_calendar
    from backtests.master import StockMaster, load_master
    from signals.extract import Extractor
    from signals.marks import build_marks

    arts = list(cfg.signals.articles)
    if arts == [DEMO]:
        from signals.demo import DEMO_ARTICLES

        arts = [DEMO_ARTICLES]
    if cfg.data.names:
        master = load_master(*cfg.data.names)
    else:
        master = StockMaster.from_frame(pd.DataFrame({"code": market.codes, "name": market.names}))
    extractor = Extractor(master, **signal_rules(cfg.signals))
    return build_marks(arts, master, trading_calendar(), extractor=extractor,
                       **cfg.signals.options)


def prepare_run(cfg: RunConfig):
    """``(market, marks)``: the loaded market and the :class:`Marks` of a config."""
    market = load_run_market(cfg)
    return market, load_marks(cfg, market)


def run_config(cfg: RunConfig, *, prepared=None):
    """Run the backtest a config describes and return the engine's ``BacktestResult``
    (``prepared``: a :func:`prepare_run` result to reuse)."""
    from backtests.engine import run_backtest

    market, marks = prepared or prepare_run(cfg)
    return run_backtest(market, marks.frame, cfg.params, exits=marks.exits)


def marks_of(result) -> pd.DataFrame:
    """The marks of a result as a frame ``date, code, name, score`` (from its score array)."""
    t, j = np.nonzero(np.isfinite(result.marks))
    m = result.market
    return pd.DataFrame({"date": pd.to_datetime(np.asarray(m.sessions)[t]),
                         "code": np.asarray(m.codes)[j].astype(str),
                         "name": np.asarray(m.names)[j].astype(str),
                         "score": result.marks[t, j]})


# ---------------------------------------------------------------- rendering

def _day(values) -> list[str]:
    return [str(d) for d in pd.to_datetime(pd.Series(values)).dt.strftime("%Y-%m-%d")]


def _money(values) -> list[str]:
    return [f"{float(v):.2f}" for v in np.asarray(values, dtype=float) + 0.0]


def _price(values) -> list[str]:
    return ["" if not np.isfinite(v) else f"{v:.2f}" for v in np.asarray(values, dtype=float) + 0.0]


def _csv(header, columns) -> str:
    lines = [",".join(header)]
    lines += [",".join(row) for row in zip(*columns)]
    return "\n".join(lines) + "\n"


def _text(values) -> list[str]:
    out = []
    for v in values:
        s = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        if any(c in s for c in ',"\n'):
            s = '"' + s.replace('"', '""') + '"'
        out.append(s)
    return out


def _side(values) -> list[str]:
    return [v if isinstance(v, str) else ("buy" if int(v) > 0 else "sell") for v in values]


def equity_csv(equity: pd.DataFrame) -> str:
    """``date,cash,market_value,equity``, money with two decimals."""
    return _csv(EQUITY_COLUMNS, [_day(equity["date"]), _money(equity["cash"]),
                                 _money(equity["market_value"]), _money(equity["equity"])])


def trades_csv(trades: pd.DataFrame) -> str:
    """Filled orders in execution order: ``date,code,side,shares,price,value,commission,
    stamp_duty,transfer_fee,reason`` (reason ``entry`` or the exit reason)."""
    return _csv(TRADE_COLUMNS, [
        _day(trades["date"]), _text(trades["code"]), _side(trades["side"]),
        [str(int(v)) for v in trades["shares"]], _price(trades["price"]),
        _money(trades["value"]), _money(trades["commission"]), _money(trades["stamp_duty"]),
        _money(trades["transfer_fee"]), _text(trades["reason"])])


def orders_csv(orders: pd.DataFrame) -> str:
    """Every order (filled, rejected, expired): ``date,code,side,shares,price,status,
    reject_reason``; ``price`` is empty when the order had no price (no bar)."""
    return _csv(ORDER_COLUMNS, [
        _day(orders["date"]), _text(orders["code"]), _side(orders["side"]),
        [str(int(v)) for v in orders["shares"]], _price(orders["price"]),
        _text(orders["status"]), _text(orders["reject_reason"])])


def signals_csv(marks: pd.DataFrame) -> str:
    """The marks used: ``date,code,name,score`` plus the article columns when built from
    articles (score with six decimals)."""
    cols = ["date", "code", "name", "score"] + [c for c in marks.columns
                                                if c not in ("date", "code", "name", "score")]
    rendered = []
    for c in cols:
        if c == "date":
            rendered.append(_day(marks[c]))
        elif c == "score":
            rendered.append([f"{float(v):.6f}" for v in marks[c]])
        else:
            rendered.append(_text(marks[c]))
    return _csv(cols, rendered)


def render_outputs(result, cfg: RunConfig, out_dir: str | os.PathLike, *,
                   marks: pd.DataFrame | None = None) -> dict[str, str]:
    """File name -> text of every output except the tearsheet (rendered from these files);
    ``marks``: the marks frame used (default: rebuilt from ``result.marks``)."""
    from backtests.metrics import compute_metrics, metrics_json
    from backtests.tearsheet import equal_weight_returns

    bench = equal_weight_returns(result.market)
    return {
        "config.toml": resolved_toml(cfg, relative_to=out_dir),
        "equity.csv": equity_csv(result.equity),
        "trades.csv": trades_csv(result.trades),
        "orders.csv": orders_csv(result.orders),
        "metrics.json": metrics_json(compute_metrics(result)),
        "signals.csv": signals_csv(marks_of(result) if marks is None else marks),
        "benchmark.csv": _csv(("date", "return"), [
            _day(bench.index), [f"{v:.10f}" for v in bench.to_numpy() + 0.0]]),
    }


def write_outputs(result, cfg: RunConfig, out_dir: str | os.PathLike | None = None, *,
                  marks: pd.DataFrame | None = None, tearsheet: bool = True) -> Path:
    """Write the run folder (default :func:`default_out_dir`) and return its path.

    ``marks``: the marks frame the run used, with article columns when built from articles
    (default: rebuilt from the result's score array); it becomes ``signals.csv``.
    All texts are rendered before the first write, and the folder is updated all or nothing
    (:func:`backtests.io.atomic_dir`): every file, the tearsheet included, is written into a
    hidden staging folder beside ``out_dir``, which then takes the place of the old folder. A
    failure anywhere leaves the previous run folder as it was; a re-run replaces all outputs.
    Files in the folder that hypebt did not write are carried over; a non-empty folder that
    holds no run outputs is refused (``ConfigError``), as is a path that is a file.
    """
    out = Path(out_dir) if out_dir is not None else default_out_dir(cfg)
    texts = render_outputs(result, cfg, out, marks=marks)
    with atomic_dir(out, owned=OUTPUT_FILES, what="run folder") as stage:
        for name, text in texts.items():
            write_text_atomic(stage / name, text)
        if tearsheet:
            from backtests.tearsheet import write_tearsheet

            write_tearsheet(stage)
    return out
