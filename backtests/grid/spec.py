"""Parameter grids: a ``[grid]`` table → every combination → one compiled parallel call.

>>> from backtests.grid.spec import load_grid_config, run_grid, write_grid
>>> spec = load_grid_config("configs/demo_grid.toml")
>>> result = run_grid(spec, workers=2)
>>> write_grid(result, "runs/demo_grid")

A grid config is a run config (``docs/config.md``) plus a ``[grid]`` table::

    [grid]
    stop_loss = [0.0, 0.05, 0.08]      # any ENGINE_PARAMS name: a list of values
    max_hold = [3, 5, 10]
    entry = ["open", "limit"]
    min_score = [1.0, 2.0]             # a [signals] threshold (configs with articles only)
    streak = [[1], ["2+"]]             # a [signals] ladder key: source, streak, first_board
    rank_by = "sharpe"                 # options (the CLI overrides them): rank_by, sample,
    sample = 200                       #   seed, train_end, heatmap, top
    seed = 7

The sets are the Cartesian product of the lists, in the order the keys are written (the last
key varies fastest); ``set`` numbers them 0.. in that order, so a sample keeps the numbers of
the full product. Every set is validated like a run config before anything runs (a set that
cannot run, e.g. ``hold`` on ``theme_hype``, is an error naming it).

How it runs: the market is loaded once; sets that share their signal thresholds share one
marks array (built once per group); each group's packed parameter rows go in chunks through
:func:`backtests.grid.nb.grid_nb` (``prange`` over the sets; ``workers`` numba threads), or to a
Dask cluster (:mod:`backtests.grid.dask`). A chunk is also the step of the progress bar.

Every metric of a row equals the one ``hypebt backtest`` of that set writes to
``metrics.json`` (same engine kernel, same definitions; ``tests/test_grid.py`` checks it):
``total_return cagr volatility sharpe sortino max_drawdown final_equity`` and, from the
kernel's counters, ``trades`` (round trips; equal to metrics.json's FIFO count whenever a
position is bought once, i.e. with ``skip_held = true``), ``win_rate profit_factor
avg_holding_sessions orders filled_orders fill_rate fees`` and ``rejected_<reason>``.

``train_end``: the sessions up to that date are in-sample, the rest out-of-sample; ``is_*``
and ``oos_*`` columns hold the return statistics of each part (the out-of-sample part measured
from the equity at the split: positions carry over, it is one run cut in two) and the ranking
uses the in-sample value, so a set that only shines in-sample shows it next to its
out-of-sample numbers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backtests.core.errors import ConfigError, did_you_mean
from backtests.core.params import LADDER_SOURCES, check_value, parse_streaks
from backtests.core.records import REJECT_REASONS
from backtests.data.config import (parse_config, parse_date, read_toml_config, signals_params,
                                   with_ladder)
from strategies import ENGINE_PARAMS, check_param, resolve_params

GRID_OUTPUTS = ("grid.csv", "heatmap.png", "grid.html", "top")
OPTION_KEYS = ("rank_by", "sample", "seed", "train_end", "heatmap", "top")
# [signals] ladder keys that can be swept: like the signal thresholds, each combination is
# its own marks (``[signals] exits``, a file, is not an axis).
LADDER_AXES = ("source", "streak", "first_board")
# More sets than this are refused unless sampled or allowed with --max-sets: a [grid] of ten
# lists of ten values is 10**10 sets, which would silently grow to terabytes.
MAX_SETS = 100_000
RETURN_METRICS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown")
TRADE_METRICS = ("trades", "win_rate", "profit_factor", "avg_holding_sessions", "orders",
                 "filled_orders", "fill_rate", "fees")
# Ranked ascending (smaller is better); every other metric is ranked descending.
LOWER_IS_BETTER = ("volatility", "fees", "orders")


@dataclass(frozen=True)
class GridSpec:
    """A validated grid: the base run config and the swept values.

    ``engine_axes``/``signal_axes`` map a parameter to its tuple of values, in file order
    (``signal_axes``: the signal thresholds and the ladder keys, :data:`LADDER_AXES`, which
    decide the marks; ``axes`` is both, in file order). ``sets`` are the selected combinations as
    ``(set_number, {param: value})``.
    """
    cfg: object                       # backtests.data.config.RunConfig
    axes: dict
    engine_axes: dict
    signal_axes: dict
    sets: tuple
    total: int                        # size of the full product
    rank_by: str = "sharpe"
    train_end: dt.date | None = None
    heatmap: tuple[str, str] | None = None
    top: int = 0
    sample: int | None = None
    seed: int = 0
    source: Path | None = None

    @property
    def stem(self) -> str:
        return self.source.stem if self.source else "grid"


# ---------------------------------------------------------------- config


def _check_axis(key: str, values, table: dict, kind: str) -> tuple:
    where = f"[grid] {key}"
    if isinstance(values, dict):
        raise ConfigError(f"{where}: expected a list of values, not a table")
    if not isinstance(values, list):
        raise ConfigError(f"{where} = {values!r}: expected a list of values, e.g. "
                          f"{key} = [{values!r}]")
    if not values:
        raise ConfigError(f"{where} = []: expected at least one value")
    out = []
    for v in values:
        if kind == "engine":
            try:
                out.append(check_param(key, v))
            except ConfigError as exc:
                raise ConfigError(f"[grid] {key}: {exc}") from None
        elif key == "source":
            out.append(check_value(where, v, str, LADDER_SOURCES))
        elif key == "first_board":
            out.append(check_value(where, v, bool, None))
        elif key == "streak":   # each value a streak list ([1], ["3+"]) or one streak (1)
            parse_streaks(v, where=where)
            out.append(tuple(v) if isinstance(v, list) else (v,))
        else:
            _sec, typ, _default, limits, _doc = table[key]
            out.append(check_value(where, v, typ, limits))
    seen = set()
    for v in out:
        h = repr(v)
        if h in seen:
            raise ConfigError(f"{where}: value {v!r} is listed twice")
        seen.add(h)
    return tuple(out)


def parse_grid(doc: dict, *, base_dir=".", source: Path | None = None, rank_by=None,
               sample=None, seed=None, train_end=None, heatmap=None, top=None,
               max_sets: int = MAX_SETS) -> GridSpec:
    """Validate a parsed grid config (a dict with a ``[grid]`` table); keyword arguments
    override the ``[grid]`` options (``None`` = keep the file's value). They are the command
    line's options, and a bad ``rank_by`` override is reported as ``--rank-by``. More than
    ``max_sets`` sets to run (the product of the lists, or ``sample``) is a
    :class:`ConfigError` naming the product, before any set is built."""
    doc = dict(doc)
    grid = doc.pop("grid", None)
    src = str(source) if source else "config"
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{src}: no [grid] table; a grid config lists values per parameter, "
                          f"e.g. [grid] stop_loss = [0.0, 0.05]")
    cfg = parse_config(doc, base_dir=base_dir, source=source)
    # With [signals] role_rules, a roles axis names the roles of the user's file.
    signal_table = signals_params(cfg.signals)
    options = {k: grid[k] for k in OPTION_KEYS if k in grid}
    axes, engine_axes, signal_axes = {}, {}, {}
    for key, values in grid.items():
        if key in OPTION_KEYS:
            continue
        if key in ENGINE_PARAMS:
            engine_axes[key] = axes[key] = _check_axis(key, values, ENGINE_PARAMS, "engine")
        elif key in LADDER_AXES:
            signal_axes[key] = axes[key] = _check_axis(key, values, signal_table, "ladder")
        elif key in signal_table:
            if cfg.signals.marks:
                raise ConfigError(f"[grid] {key}: a signal threshold needs [signals] articles "
                                  f"or archive; "
                                  f"this config reads a marks file ({cfg.signals.marks})")
            signal_axes[key] = axes[key] = _check_axis(key, values, signal_table, "signal")
        else:
            known = (list(ENGINE_PARAMS) + list(signal_table) + list(LADDER_AXES)
                     + list(OPTION_KEYS))
            raise ConfigError(f"unknown key [grid] {key}{did_you_mean(key, known)}; a [grid] "
                              f"key is an engine parameter ({', '.join(ENGINE_PARAMS)}), a "
                              f"signal threshold ({', '.join(signal_table) or 'none available'})"
                              f", a ladder key ({', '.join(LADDER_AXES)})"
                              f" or an option ({', '.join(OPTION_KEYS)})")
    if not axes:
        raise ConfigError(f"{src}: [grid] lists no parameter; add e.g. stop_loss = [0.0, 0.05]")

    def opt(name, given, default):
        return given if given is not None else options.get(name, default)

    if rank_by is not None:
        check_rank_by_option(rank_by)
    rank = opt("rank_by", rank_by, "sharpe")
    known_metrics = metric_names()
    if rank not in known_metrics:
        raise ConfigError(f"[grid] rank_by = {rank!r}: not a metric"
                          f"{did_you_mean(str(rank), known_metrics)}; expected one of "
                          f"{', '.join(known_metrics)}")
    n_sample = opt("sample", sample, None)
    if n_sample is not None and (isinstance(n_sample, bool) or not isinstance(n_sample, int)
                                 or n_sample < 1):
        raise ConfigError(f"[grid] sample = {n_sample!r}: expected a positive integer")
    n_seed = opt("seed", seed, 0)
    if isinstance(n_seed, bool) or not isinstance(n_seed, int) or n_seed < 0:
        raise ConfigError(f"[grid] seed = {n_seed!r}: expected an integer >= 0")
    n_top = opt("top", top, 0)
    if isinstance(n_top, bool) or not isinstance(n_top, int) or n_top < 0:
        raise ConfigError(f"[grid] top = {n_top!r}: expected an integer >= 0")
    split_day = opt("train_end", train_end, None)
    if split_day is not None:
        split_day = parse_date("train_end", split_day)
    hm = opt("heatmap", heatmap, None)
    if hm is not None:
        hm = _heatmap_axes(hm, axes)
    elif len(axes) >= 2:
        hm = tuple(list(axes)[:2])
    check_grid_size(axes, n_sample, max_sets)
    sets, total = expand(axes, sample=n_sample, seed=n_seed)
    _validate_sets(cfg, engine_axes, sets)
    _validate_ladder(cfg, [k for k in signal_axes if k in LADDER_AXES], sets)
    return GridSpec(cfg=cfg, axes=axes, engine_axes=engine_axes, signal_axes=signal_axes,
                    sets=tuple(sets), total=total, rank_by=rank, train_end=split_day,
                    heatmap=hm, top=n_top, sample=n_sample, seed=n_seed, source=source)


def check_grid_size(axes: dict, sample: int | None, max_sets: int) -> None:
    """Refuse a grid that would run more than ``max_sets`` sets (see :data:`MAX_SETS`)."""
    total = math.prod(len(v) for v in axes.values())
    runs = total if sample is None else min(sample, total)
    if runs <= max_sets:
        return
    product = " x ".join(f"{len(v)} {k}" for k, v in axes.items())
    if sample is not None:
        raise ConfigError(f"sample = {sample:,} sets is more than --max-sets {max_sets:,}; "
                          f"sample fewer, or raise --max-sets if you mean it")
    raise ConfigError(f"[grid] is {total:,} sets ({product}), more than --max-sets "
                      f"{max_sets:,}; run a random subset with --sample N (e.g. --sample "
                      f"{min(max_sets, 1000)}), narrow the lists, or raise --max-sets")


def _heatmap_axes(value, axes: dict) -> tuple[str, str]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    parts = [str(p).strip() for p in parts]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise ConfigError(f"heatmap = {value!r}: expected two different grid parameters "
                          f"'a,b' (grid parameters: {', '.join(axes)})")
    for p in parts:
        if p not in axes:
            raise ConfigError(f"heatmap parameter {p!r} is not a [grid] parameter"
                              f"{did_you_mean(p, axes)}; grid parameters: {', '.join(axes)}")
    return parts[0], parts[1]


def check_rank_by_option(value) -> None:
    """A ``rank_by`` given on the command line (``--rank-by``, the ``rank_by=`` override of
    :func:`parse_grid` / :func:`load_grid_config`) must be a metric; the error names the option,
    not the config file, since the value did not come from the file."""
    known = metric_names()
    if value not in known:
        raise ConfigError(f"--rank-by {value}: not a metric{did_you_mean(str(value), known)}; "
                          f"expected one of {', '.join(known)}")


def check_run_options(*, workers: int | None = None, sample: int | None = None,
                      top: int | None = None, max_sets: int | None = None) -> None:
    """The options of a grid run that no config holds, named as the command line names them."""
    for flag, value in (("--workers", workers), ("--sample", sample), ("--max-sets", max_sets)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ConfigError(f"{flag} {value}: expected a positive integer")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 0):
        raise ConfigError(f"--top {top}: expected an integer >= 0")


def load_grid_config(path, **overrides) -> GridSpec:
    """Read and validate a grid config file (see the module docstring); ``overrides`` as in
    :func:`parse_grid`. A bad ``rank_by`` override is reported as ``--rank-by`` before the file
    is read (its message does not name the file); a bad ``[grid] rank_by`` names file and key."""
    if overrides.get("rank_by") is not None:
        check_rank_by_option(overrides["rank_by"])
    return read_toml_config(path, parse_grid, **overrides)


def expand(axes: dict, *, sample: int | None = None, seed: int = 0) -> tuple[list, int]:
    """``(sets, total)``: the Cartesian product of ``axes`` as ``(set_number, params)`` pairs
    (last key fastest) and its size; with ``sample``, that many sets drawn without replacement
    with ``numpy.random.default_rng(seed)`` (all of them when ``sample >= total``), in set
    order."""
    keys = list(axes)
    sizes = [len(axes[k]) for k in keys]
    total = math.prod(sizes)
    if sample is not None and sample < total:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(total, size=sample, replace=False))
    else:
        chosen = np.arange(total)
    sets = []
    for number in chosen.tolist():
        idx, rest = [], number
        for size in reversed(sizes):
            idx.append(rest % size)
            rest //= size
        idx.reverse()
        sets.append((number, {k: axes[k][i] for k, i in zip(keys, idx)}))
    return sets, total


def _describe(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _validate_sets(cfg, engine_axes: dict, sets: list) -> None:
    if not engine_axes:
        return
    seen = set()
    for number, params in sets:
        key = tuple(params[k] for k in engine_axes)
        if key in seen:
            continue
        seen.add(key)
        try:
            resolve_params({**cfg.params, **{k: params[k] for k in engine_axes}})
        except ConfigError as exc:
            raise ConfigError(f"[grid] set {number} ({_describe(params)}) cannot run: {exc}") from None


def _validate_ladder(cfg, keys: list, sets: list) -> None:
    """Every set's ladder keys must make a ``[signals]`` table a run config could hold."""
    if not keys:
        return
    seen = set()
    for number, params in sets:
        values = {k: params[k] for k in keys}
        key = tuple(values.values())
        if key in seen:
            continue
        seen.add(key)
        try:
            with_ladder(cfg.signals, **values)
        except ConfigError as exc:
            raise ConfigError(f"[grid] set {number} ({_describe(params)}) cannot run: {exc}") from None


def metric_names(split: bool = False) -> tuple[str, ...]:
    """Metric columns of grid.csv (``is_``/``oos_`` return statistics when ``split``)."""
    rej = tuple(f"rejected_{REJECT_REASONS[k]}" for k in sorted(REJECT_REASONS) if k)
    names = RETURN_METRICS + ("final_equity",) + TRADE_METRICS + rej
    if split:
        names = tuple(f"{p}{m}" for m in RETURN_METRICS for p in ("is_", "oos_")) + names
    return names


# ---------------------------------------------------------------- running


def set_params(spec: GridSpec, params: dict) -> dict:
    """Resolved engine parameters of one set (the base config with the set's engine values)."""
    return resolve_params({**spec.cfg.params,
                           **{k: params[k] for k in spec.engine_axes}})


def set_config(spec: GridSpec, params: dict):
    """The :class:`~backtests.data.config.RunConfig` of one set: what ``hypebt backtest`` would run."""
    cfg = spec.cfg
    signals = cfg.signals
    if spec.signal_axes:
        options = dict(signals.options)
        options.update({k: params[k] for k in spec.signal_axes if k not in LADDER_AXES})
        signals = dataclasses.replace(signals, options=options)
        ladder = {k: params[k] for k in spec.signal_axes if k in LADDER_AXES}
        if ladder:
            signals = with_ladder(signals, **ladder)
    return dataclasses.replace(cfg, params=set_params(spec, params), signals=signals)


def groups(spec: GridSpec) -> dict[tuple, list[int]]:
    """Signal-threshold (and ladder key) tuple -> positions in ``spec.sets`` (one marks array
    per group)."""
    out: dict[tuple, list[int]] = {}
    for i, (_n, params) in enumerate(spec.sets):
        out.setdefault(tuple(params[k] for k in spec.signal_axes), []).append(i)
    return out


def split_index(sessions: np.ndarray, train_end) -> int:
    """Number of in-sample sessions (those on or before ``train_end``); ConfigError unless
    both parts hold at least two sessions."""
    sess = np.asarray(sessions, dtype="datetime64[D]")
    k = int(np.searchsorted(sess, np.datetime64(train_end, "D"), side="right"))
    if k < 2 or len(sess) - k < 2:
        raise ConfigError(f"train_end = {train_end}: both parts need at least two sessions; "
                          f"the market has {len(sess)} sessions {sess[0]} .. {sess[-1]} "
                          f"({k} on or before {train_end})")
    return k


def default_out_dir(spec: GridSpec) -> Path:
    """``runs/<config stem>`` under the current directory."""
    return Path("runs") / spec.stem


__all__ = ["GridSpec", "expand", "load_grid_config", "metric_names", "parse_grid", "set_config",
           "set_params"]
