"""One backtest run: config -> market -> marks -> engine -> run folder.

>>> from backtests.data.config import load_config
>>> from backtests.engine.run import run_config
>>> from backtests.report.outputs import write_outputs
>>> cfg = load_config("configs/demo.toml")
>>> result = run_config(cfg)
>>> write_outputs(result, cfg, "runs/demo")

Writing the run folder is :func:`backtests.report.outputs.write_outputs`.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core.calendar import trading_calendar
from backtests.core.errors import ConfigError
from backtests.data.config import DEMO, STORE_ARCHIVE, RunConfig, signal_rules
from backtests.data.load import load_market, stock_master
from backtests.data.marks import check_marks_codes, read_exits, read_marks
from backtests.data.news import archive_marks, open_archive
from backtests.data.store import is_store, resolve_store
from backtests.engine.backtest import run_backtest
from backtests.features.ladder import combine_marks, ladder_marks
from backtests.features.scan import BoardStates
from signals.demo import DEMO_ARTICLES
from signals.extract import Extractor
from signals.marks import build_marks


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


def load_run_market(cfg: RunConfig, *, cache: bool = True):
    """The :class:`~backtests.data.market.Market` of ``[data]`` (``cache=False``: bypass the
    market cache, :mod:`backtests.data.cache`)."""
    d = cfg.data
    return load_market(d.path, names=list(d.names) or None, start=d.start, end=d.end,
                       drop_bad=d.drop_bad, status=d.status, actions=d.actions, cache=cache)


def load_marks(cfg: RunConfig, market) -> Marks:
    """The entry marks of ``[signals]`` for ``market``: read from the marks CSV, or built from
    the articles with the signals package, and combined with the ladder marks of ``[signals]
    source`` (:mod:`backtests.features.ladder`). Codes must be in the market (ConfigError
    naming the row otherwise); marks on dates outside the market's sessions are dropped and
    counted. The exits CSV of ``[signals] exits`` gets the same checks."""
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
    not given); the stock names come from ``[data] names`` or else from the market. Mentions
    get the market-confirmed board state and role (:class:`backtests.features.scan.BoardStates`).
    With ``[signals] archive`` the marks come from the store's mention index instead
    (:func:`marks_from_archive`)."""
    if cfg.signals.archive:
        return marks_from_archive(cfg, market)
    arts = list(cfg.signals.articles)
    if arts == [DEMO]:
        arts = [DEMO_ARTICLES]
    master = stock_master(cfg.data.names, market=market)
    extractor = Extractor(master, **signal_rules(cfg.signals))
    return build_marks(arts, master, trading_calendar(), extractor=extractor,
                       board=BoardStates(market), **cfg.signals.options)


def marks_from_archive(cfg: RunConfig, market) -> pd.DataFrame:
    """Marks of ``[signals] archive`` for the market's sessions, from the store's mention index
    (:func:`backtests.data.news.archive_marks`; articles not yet extracted with these rules and
    names are extracted and stored first)."""
    where = cfg.signals.archive
    if where == STORE_ARCHIVE:
        where = cfg.data.path if cfg.data.path != DEMO and is_store(cfg.data.path) else resolve_store()
    if not is_store(where):
        raise ConfigError(f"[signals] archive = {cfg.signals.archive!r}: {where} is not a hypebt "
                          "store; import articles with `hypebt news import FILE --store DIR`")
    extractor = Extractor(stock_master(cfg.data.names, market=market), **signal_rules(cfg.signals))
    sessions = np.asarray(market.sessions, dtype="datetime64[D]")
    with open_archive(where) as archive:
        return archive_marks(archive, extractor, trading_calendar(), sessions[0], sessions[-1],
                             workers=cfg.signals.jobs, board=BoardStates(market),
                             **cfg.signals.options)


def prepare_run(cfg: RunConfig, *, cache: bool = True):
    """``(market, marks)``: the loaded market and the :class:`Marks` of a config."""
    market = load_run_market(cfg, cache=cache)
    return market, load_marks(cfg, market)


def run_config(cfg: RunConfig, *, prepared=None):
    """Run the backtest a config describes and return the engine's ``BacktestResult``
    (``prepared``: a :func:`prepare_run` result to reuse)."""
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
