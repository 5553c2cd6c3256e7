"""The public Python API: ``import hypebt``.

>>> import hypebt
>>> market = hypebt.load_market("demo")
>>> marks = hypebt.marks_from_articles(["demo"], market=market)
>>> result = hypebt.backtest(market, marks, entry="open", stop_loss=0.08)
>>> result.metrics["total_return"], len(result.trades)
>>> result.write("runs/notebook")                  # the run folder `hypebt backtest` writes

Every function here is a thin face over the functions the command line calls, and takes its
options as keywords only. Options are validated once, here at the entry point, by the same
validators the command line uses, so a bad value gets the same message: ``[strategy] entry =
'opne': expected one of 'open', 'limit' (did you mean "open"?)``. Errors are
:class:`~backtests.core.errors.HypebtError` subclasses (``ConfigError``, ``DataError``,
``MarksError``).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import pandas as pd

from backtests.core.calendar import trading_calendar
from backtests.core.errors import ConfigError, did_you_mean
from backtests.core.io import write_text_atomic
from backtests.core.params import check_value
from backtests.data.config import (
    DEMO,
    IN_MEMORY,
    DataConfig,
    RunConfig,
    SignalsConfig,
    load_config,
    signal_rules,
)
from backtests.data.load import load_market, stock_master
from backtests.data.market import Market
from backtests.data.marks import read_marks
from backtests.engine.backtest import BacktestResult, long_signals, run_backtest
from backtests.engine.run import prepare_run, run_config
from backtests.features.ladder import ladder_marks
from backtests.features.scan import MAX_GAP, scan_day
from backtests.features.state import MarketState
from backtests.features.state import market_state as compute_market_state
from backtests.grid.local import run_grid
from backtests.grid.spec import check_run_options, load_grid_config
from backtests.report.metrics import compute_metrics
from backtests.report.outputs import write_outputs
from backtests.report.study_page import study_texts
from backtests.report.tearsheet import TEARSHEET
from backtests.study import StudyResult, run_study
from backtests.study.outputs import write_study
from signals.demo import DEMO_ARTICLES
from signals.extract import Extractor
from signals.marks import SIGNAL_PARAMS, build_marks
from strategies import resolve_params

__all__ = ["Result", "backtest", "grid", "ladder_marks", "load_market", "market_state",
           "marks_from_articles", "read_marks", "scan", "study"]


class Result:
    """One backtest: what :func:`backtest` returns.

    ``equity`` (date, cash, market_value, equity), ``trades`` and ``orders`` are DataFrames (the
    layouts of the run folder's CSV files, see docs/config.md); ``metrics`` is the dict of
    ``metrics.json``; ``params`` the resolved parameters; ``marks`` the marks frame the run
    traded; ``raw`` the engine's :class:`~backtests.engine.backtest.BacktestResult`.
    """

    def __init__(self, raw: BacktestResult, config: RunConfig, marks: pd.DataFrame):
        self.raw, self.config, self.marks = raw, config, marks

    equity = property(lambda self: self.raw.equity)
    trades = property(lambda self: self.raw.trades)
    orders = property(lambda self: self.raw.orders)
    params = property(lambda self: self.raw.params)

    @cached_property
    def metrics(self) -> dict:
        return compute_metrics(self.raw)

    def write(self, out_dir: str | os.PathLike, *, tearsheet: bool = True,
              quantstats: bool = False) -> Path:
        """Write the run folder ``hypebt backtest`` writes (all or nothing; see
        docs/config.md) and return its path. For a run on a market loaded in Python,
        ``config.toml`` records the parameters, ``[data] path = "<in-memory>"`` and
        ``[signals] marks = "signals.csv"`` (the marks traded, written beside it).
        ``quantstats``: append quantstats' full report to the tearsheet (as ``--quantstats``)."""
        cfg = self.config
        if not (cfg.signals.marks or cfg.signals.articles):   # marks given in Python: the
            # folder's own signals.csv holds them
            signals = SignalsConfig(marks=str(Path(out_dir).resolve() / "signals.csv"))
            cfg = RunConfig(data=cfg.data, signals=signals, params=cfg.params, report=cfg.report)
        if quantstats:
            cfg = replace(cfg, report=replace(cfg.report, quantstats=True))
        return write_outputs(self.raw, cfg, out_dir, marks=self.marks, tearsheet=tearsheet)

    def tearsheet(self, path: str | os.PathLike, *, quantstats: bool = False) -> Path:
        """Write only the HTML tearsheet to ``path`` (atomically) and return the path
        (``quantstats``: with quantstats' full report appended)."""
        with tempfile.TemporaryDirectory(prefix="hypebt-") as tmp:
            folder = self.write(Path(tmp) / "run", quantstats=quantstats)
            write_text_atomic(path, (folder / TEARSHEET).read_text(encoding="utf-8"))
        return Path(path)

    def __repr__(self) -> str:
        m = self.metrics
        return (f"<hypebt.Result {m.get('start')}..{m.get('end')}: total_return "
                f"{m.get('total_return')}, {m.get('trades')} round trip(s), "
                f"{len(self.orders)} order(s)>")


def _signal_options(options: dict) -> dict:
    out = {}
    for key, value in options.items():
        if key not in SIGNAL_PARAMS:
            raise ConfigError(f"unknown signals option {key!r}{did_you_mean(key, SIGNAL_PARAMS)}; "
                              f"known: {', '.join(SIGNAL_PARAMS)}")
        section, typ, _default, allowed, _doc = SIGNAL_PARAMS[key]
        out[key] = check_value(f"[{section}] {key}", value, typ, allowed)
    return out


def marks_from_articles(articles, *, market: Market | None = None, names=(),
                        themes_file=None, role_rules=None, matching_file=None,
                        **options) -> pd.DataFrame:
    """Entry marks from news articles, as ``hypebt signals`` prints them and
    ``[signals] articles`` trades them.

    ``articles``: article files or folders (JSON, JSON Lines, CSV, Markdown), or ``["demo"]``
    for the SYNTHETIC demo articles. Stock names come from ``names`` (names files) or else from
    ``market``. ``options``: the ``[signals]`` thresholds (``min_score``, ``roles``, ``intraday``,
    ``bare_date``, ``half_life``, ``title_multiplier``, ``skip_bad``; docs/config.md).
    """
    arts = [articles] if isinstance(articles, (str, os.PathLike)) else list(articles)
    arts = [DEMO_ARTICLES if str(a) == DEMO else a for a in arts]
    checked = _signal_options(options)
    master = stock_master(names, market=market, demo=market is None and not names)
    rules = signal_rules(SignalsConfig(
        themes_file=None if themes_file is None else str(themes_file),
        role_rules=None if role_rules is None else str(role_rules),
        matching_file=None if matching_file is None else str(matching_file)))
    return build_marks(arts, master, trading_calendar(), extractor=Extractor(master, **rules),
                       **checked)


def backtest(market_or_config, marks=None, *, exits=None, **params) -> Result:
    """Run one backtest and return a :class:`Result`.

    ``backtest("configs/demo.toml")`` runs a config file exactly as ``hypebt backtest`` does
    (no keyword may be given then: the config holds the parameters). ``backtest(market, marks,
    **params)`` runs a market from :func:`load_market` on marks: a frame ``date, code[, score]``
    (from :func:`read_marks` or :func:`marks_from_articles`; a ``theme`` column feeds the
    theme filters and exits), a marks CSV path, or user entries computed in pandas: a wide
    frame of scores (index: dates, columns: codes, NaN = no entry). ``exits``: optional user
    exit signals, a wide boolean frame (dates x codes) or a frame ``date, code``: a held
    position with a signal sells at that session's close or the next open (``exit_at``).
    Entries and exits get the checks of a marks file (sessions of the market, known codes).
    ``params`` are engine parameters (``entry``, ``stop_loss``, ``max_hold``, the ``[filters]``
    and ``[gate]`` keys, ``cash`` ...; docs/config.md), missing ones take their defaults.
    """
    if isinstance(market_or_config, (str, os.PathLike)):
        if marks is not None or params or exits is not None:
            raise ConfigError("backtest(CONFIG) takes its marks and parameters from the config "
                              "file; pass a market instead to give them in Python")
        cfg = load_config(market_or_config)
        market, used = prepare_run(cfg)
        return Result(run_config(cfg, prepared=(market, used)), cfg, used.frame)
    if not isinstance(market_or_config, Market):
        raise ConfigError(f"backtest: expected a config path or a Market from load_market(), "
                          f"got {type(market_or_config).__name__}")
    if marks is None:
        raise ConfigError("backtest(market, marks): marks are missing (a frame date,code[,score] "
                          "or a marks CSV path)")
    frame = (read_marks(marks) if isinstance(marks, (str, os.PathLike))
             else long_signals(marks) if isinstance(marks, pd.DataFrame) else marks)
    full = resolve_params(params)
    cfg = RunConfig(data=DataConfig(path=DEMO if market_or_config.synthetic else IN_MEMORY),
                    signals=SignalsConfig(), params=full)
    return Result(run_backtest(market_or_config, frame, full, exits=exits), cfg, frame)


def market_state(market: Market, *, max_gap: int = MAX_GAP) -> MarketState:
    """The market-state features of ``market`` (docs/features.md): per stock and session the
    limit flags, streak (连板数) and "N天M板" run; per session the limit-up/-down counts, 炸板率,
    连板高度 and 晋级率 (``.session_frame()``). Values of session ``t`` use bars up to ``t``."""
    check_value("max_gap", max_gap, int, (0, None))
    return compute_market_state(market, max_gap=max_gap)


def grid(config, *, workers: int | None = None, sample: int | None = None,
         seed: int | None = None, train_end=None, rank_by: str | None = None,
         market: Market | None = None) -> pd.DataFrame:
    """Run a grid config (``[grid]`` table) and return the ranked grid.csv frame (one row per
    parameter set; metrics equal to :func:`backtest` of that set). Keywords override the
    config's ``[grid]`` options as ``hypebt grid``'s options do; ``market``: an already loaded
    market of the config's ``[data]``."""
    check_run_options(workers=workers, sample=sample)
    spec = load_grid_config(config, rank_by=rank_by, sample=sample, seed=seed,
                            train_end=train_end)
    return run_grid(spec, workers=workers, market=market).frame


def scan(market: Market, date, *, max_gap: int = MAX_GAP) -> pd.DataFrame:
    """The limit-up board of one session, as ``hypebt scan --date`` lists it: one row per
    stock that touched or closed at its limit-up (docs/scan.md has the columns)."""
    check_value("max_gap", max_gap, int, (0, None))
    return scan_day(market, date, max_gap=max_gap).stocks


def study(market: Market, marks: pd.DataFrame, *, horizon: int = 20, by=None,
          bootstrap: int = 1000, seed: int = 0, min_count: int = 30,
          out: str | os.PathLike | None = None) -> StudyResult:
    """What the marks did, as ``hypebt study`` computes it (docs/study.md): ``result.events``
    (one row per mark: groups, fill state at the entry open, entry price; ``.paths`` the
    mark x horizon x measure array) and ``result.summary`` (count, mean, median, hit rate,
    t-statistic and bootstrap 95% interval per group, measure and horizon). ``by``: groupings
    like ``"role,board,role+board"`` (default: every one the marks carry); ``out``: also write
    ``study.csv``, ``summary.csv`` and ``study.html`` there."""
    result = run_study(market, marks, horizon=horizon, by=by, n_boot=bootstrap, seed=seed,
                       min_count=min_count)
    if out is not None:
        write_study(out, study_texts(result, title="hypebt study",
                                     synthetic=bool(market.synthetic)))
    return result
