"""Parameter grids: a ``[grid]`` table → every combination → one compiled parallel call.

>>> from backtests.grid import load_grid_config, run_grid, write_grid
>>> spec = load_grid_config("configs/demo_grid.toml")
>>> result = run_grid(spec, workers=2)
>>> write_grid(result, "runs/demo_grid")

A grid config is a run config (``docs/config.md``) plus a ``[grid]`` table::

    [grid]
    stop_loss = [0.0, 0.05, 0.08]      # any ENGINE_PARAMS name: a list of values
    max_hold = [3, 5, 10]
    entry = ["open", "limit"]
    min_score = [1.0, 2.0]             # a [signals] threshold (configs with articles only)
    rank_by = "sharpe"                 # options (the CLI overrides them): rank_by, sample,
    sample = 200                       #   seed, train_end, heatmap, top
    seed = 7

The sets are the Cartesian product of the lists, in the order the keys are written (the last
key varies fastest); ``set`` numbers them 0.. in that order, so a sample keeps the numbers of
the full product. Every set is validated like a run config before anything runs (a set that
cannot run, e.g. ``hold`` on ``theme_hype``, is an error naming it).

How it runs: the market is loaded once; sets that share their signal thresholds share one
marks array (built once per group); each group's packed parameter rows go in chunks through
:func:`backtests.grid_nb.grid_nb` (``prange`` over the sets; ``workers`` numba threads), or to a
Dask cluster (:mod:`backtests.dask_grid`). A chunk is also the step of the progress bar.

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
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.config import _date, parse_config, read_toml_config, signals_params
from backtests.errors import ConfigError, did_you_mean

GRID_OUTPUTS = ("grid.csv", "heatmap.png", "grid.html", "top")
OPTION_KEYS = ("rank_by", "sample", "seed", "train_end", "heatmap", "top")
RETURN_METRICS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown")
TRADE_METRICS = ("trades", "win_rate", "profit_factor", "avg_holding_sessions", "orders",
                 "filled_orders", "fill_rate", "fees")
# Ranked ascending (smaller is better); every other metric is ranked descending.
LOWER_IS_BETTER = ("volatility", "fees", "orders")


@dataclass(frozen=True)
class GridSpec:
    """A validated grid: the base run config and the swept values.

    ``engine_axes``/``signal_axes`` map a parameter to its tuple of values, in file order
    (``axes`` is both, in file order). ``sets`` are the selected combinations as
    ``(set_number, {param: value})``.
    """
    cfg: object                       # backtests.config.RunConfig
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


@dataclass
class GridResult:
    """``frame``: one row per set (``set``, the swept parameters, metrics, ``rank``), ranked;
    ``market``/``marks`` are kept for writing the top sets' run folders."""
    spec: GridSpec
    frame: pd.DataFrame
    market: object = None
    marks: dict = field(default_factory=dict)    # signal-parameter tuple -> marks frame
    split: int = 0
    seconds: float = 0.0          # whole run_grid call (loading included)
    kernel_seconds: float = 0.0   # the kernel calls (or the Dask round trip)


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
            from strategies import check_param

            try:
                out.append(check_param(key, v))
            except ConfigError as exc:
                raise ConfigError(f"[grid] {key}: {exc}") from None
        else:
            from backtests.config import check_value

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
               sample=None, seed=None, train_end=None, heatmap=None, top=None) -> GridSpec:
    """Validate a parsed grid config (a dict with a ``[grid]`` table); keyword arguments
    override the ``[grid]`` options (``None`` = keep the file's value). They are the command
    line's options, and a bad ``rank_by`` override is reported as ``--rank-by``."""
    from strategies import ENGINE_PARAMS

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
        elif key in signal_table:
            if cfg.signals.marks:
                raise ConfigError(f"[grid] {key}: a signal threshold needs [signals] articles; "
                                  f"this config reads a marks file ({cfg.signals.marks})")
            signal_axes[key] = axes[key] = _check_axis(key, values, signal_table, "signal")
        else:
            known = list(ENGINE_PARAMS) + list(signal_table) + list(OPTION_KEYS)
            raise ConfigError(f"unknown key [grid] {key}{did_you_mean(key, known)}; a [grid] "
                              f"key is an engine parameter ({', '.join(ENGINE_PARAMS)}), a "
                              f"signal threshold ({', '.join(signal_table) or 'none available'})"
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
        split_day = _date("train_end", split_day)
    hm = opt("heatmap", heatmap, None)
    if hm is not None:
        hm = _heatmap_axes(hm, axes)
    elif len(axes) >= 2:
        hm = tuple(list(axes)[:2])
    sets, total = expand(axes, sample=n_sample, seed=n_seed)
    _validate_sets(cfg, engine_axes, sets)
    return GridSpec(cfg=cfg, axes=axes, engine_axes=engine_axes, signal_axes=signal_axes,
                    sets=tuple(sets), total=total, rank_by=rank, train_end=split_day,
                    heatmap=hm, top=n_top, sample=n_sample, seed=n_seed, source=source)


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
    from strategies import resolve_params

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


def metric_names(split: bool = False) -> tuple[str, ...]:
    """Metric columns of grid.csv (``is_``/``oos_`` return statistics when ``split``)."""
    from backtests.records import REJECT_REASONS

    rej = tuple(f"rejected_{REJECT_REASONS[k]}" for k in sorted(REJECT_REASONS) if k)
    names = RETURN_METRICS + ("final_equity",) + TRADE_METRICS + rej
    if split:
        names = tuple(f"{p}{m}" for m in RETURN_METRICS for p in ("is_", "oos_")) + names
    return names


# ---------------------------------------------------------------- running


def set_params(spec: GridSpec, params: dict) -> dict:
    """Resolved engine parameters of one set (the base config with the set's engine values)."""
    from strategies import resolve_params

    return resolve_params({**spec.cfg.params,
                           **{k: params[k] for k in spec.engine_axes}})


def set_config(spec: GridSpec, params: dict):
    """The :class:`~backtests.config.RunConfig` of one set: what ``hypebt backtest`` would run."""
    cfg = spec.cfg
    signals = cfg.signals
    if spec.signal_axes:
        options = dict(signals.options)
        options.update({k: params[k] for k in spec.signal_axes})
        signals = dataclasses.replace(signals, options=options)
    return dataclasses.replace(cfg, params=set_params(spec, params), signals=signals)


def groups(spec: GridSpec) -> dict[tuple, list[int]]:
    """Signal-threshold tuple -> positions in ``spec.sets`` (one marks array per group)."""
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


def chunk_bounds(n: int, threads: int) -> list[tuple[int, int]]:
    """Chunks of the sets: a few per thread and at most ~40 in all (the progress bar's steps;
    also Dask's unit of work)."""
    if n == 0:
        return []
    size = max(4 * max(threads, 1), math.ceil(n / 40))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def run_chunk(mk, mi, rows: np.ndarray, split: int) -> np.ndarray:
    """One call of the kernel on a chunk of packed rows."""
    from backtests.grid_nb import grid_nb

    return grid_nb(mk, mi, np.ascontiguousarray(rows, dtype=np.float64), int(split))


def run_grid(spec: GridSpec, *, workers: int | None = None, progress: bool = False,
             dask: str | None = None, market=None) -> GridResult:
    """Run every set of ``spec``; returns a ranked :class:`GridResult`.

    ``workers``: numba threads (default: all cores numba sees). ``progress``: a tqdm bar on
    stderr. ``dask``: a scheduler address, ``"local"`` or a ``distributed.Client`` (see
    :mod:`backtests.dask_grid`).
    ``market``: an already loaded market for ``spec.cfg`` (tests, benchmarks).
    """
    import numba

    from backtests.engine import exits_array, market_arrays, mark_index, marks_array
    from backtests.run import load_marks, load_run_market
    from strategies import filters_active, pack_grid

    start = time.perf_counter()
    if market is None:
        market = load_run_market(spec.cfg)
    split = split_index(market.sessions, spec.train_end) if spec.train_end else 0
    group_of = groups(spec)
    full_sets = [set_params(spec, p) for _n, p in spec.sets]
    rows = pack_grid(full_sets)
    skips = any(filters_active(p) for p in full_sets)
    marks_by_group = {}
    exits = None
    for key, members in group_of.items():
        cfg_g = set_config(spec, spec.sets[members[0]][1])
        loaded = load_marks(cfg_g, market)
        marks_by_group[key] = loaded.frame
        exits = loaded.exits
    from backtests.grid_nb import grid_columns

    columns = grid_columns(bool(split))
    out = np.full((len(spec.sets), len(columns)), np.nan)
    if dask is not None:
        from backtests.dask_grid import run_grid_dask

        kernel_start = time.perf_counter()
        if isinstance(dask, str):
            run_grid_dask(spec, rows, marks_by_group, group_of, split, out, address=dask,
                          workers=workers, progress=progress, exits=exits)
        else:
            run_grid_dask(spec, rows, marks_by_group, group_of, split, out, address=None,
                          workers=workers, progress=progress, client=dask, exits=exits)
    else:
        threads = workers or numba.config.NUMBA_NUM_THREADS
        if threads < 1 or threads > numba.config.NUMBA_NUM_THREADS:
            raise ConfigError(f"--workers {threads}: expected 1 .. "
                              f"{numba.config.NUMBA_NUM_THREADS} (the threads numba can use)")
        mk = market_arrays(market)
        ex = None if exits is None else exits_array(market, exits)
        indices = {key: mark_index(marks_array(market, marks_by_group[key]),
                                   marks_by_group[key], market=market, exits=ex)
                   for key in group_of}
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            # Load (or compile) the kernel before the clock starts: the time is the grid's.
            run_chunk(mk, next(iter(indices.values())), rows[:1], split)
            kernel_start = time.perf_counter()
            bar = _progress(len(spec.sets), progress)
            for key, members in group_of.items():
                idx = np.asarray(members)
                for a, b in chunk_bounds(len(idx), threads):
                    out[idx[a:b]] = run_chunk(mk, indices[key], rows[idx[a:b]], split)
                    bar.update(b - a)
            bar.close()
        finally:
            numba.set_num_threads(previous)
    kernel_seconds = time.perf_counter() - kernel_start
    frame = results_frame(spec.sets, spec.axes, out, columns, split, spec.rank_by, skips=skips)
    return GridResult(spec=spec, frame=frame, market=market, marks=marks_by_group, split=split,
                      seconds=time.perf_counter() - start, kernel_seconds=kernel_seconds)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="set", desc="grid", disable=not enabled, leave=True,
                dynamic_ncols=True)


def results_frame(sets, axes, out: np.ndarray, columns: tuple, split: int,
                  rank_by: str = "sharpe", *, skips: bool = False) -> pd.DataFrame:
    """Kernel rows (``out``, one per ``(set_number, params)`` of ``sets``) -> the ranked
    grid.csv frame: ``set``, the ``axes`` parameters, the metrics (trade metrics derived from
    the kernel's counters); with ``skips`` (some set uses an entry filter or the gate) also the
    marks skipped by reason, ``skipped_<reason>``."""
    raw = pd.DataFrame(out, columns=list(columns))
    data: dict = {"set": [n for n, _p in sets]}
    for key in axes:
        data[key] = [p[key] for _n, p in sets]
    if split:  # in/out-of-sample pairs first, next to the parameters: read them side by side
        for m in RETURN_METRICS:
            data["is_" + m] = raw["is_" + m].to_numpy()
            data["oos_" + m] = raw["oos_" + m].to_numpy()
    for m in RETURN_METRICS:
        data[m] = raw[m].to_numpy()
    data["final_equity"] = raw["final_equity"].to_numpy()

    def ratio(num: str, den: str) -> np.ndarray:  # NaN where undefined, as metrics.json's null
        d = raw[den].to_numpy()
        return np.where(d > 0, raw[num].to_numpy() / np.where(d > 0, d, 1), np.nan)

    data["trades"] = raw["round_trips"].to_numpy().astype(np.int64)
    data["win_rate"] = ratio("wins", "round_trips")
    data["profit_factor"] = ratio("gross_profit", "gross_loss")
    data["avg_holding_sessions"] = ratio("hold_sessions", "round_trips")
    data["orders"] = raw["orders"].to_numpy().astype(np.int64)
    data["filled_orders"] = raw["fills"].to_numpy().astype(np.int64)
    data["fill_rate"] = ratio("fills", "orders")
    data["fees"] = raw["fees"].to_numpy()
    for c in columns:
        if c.startswith("rejected_") or (skips and c.startswith("skipped_")):
            data[c] = raw[c].to_numpy().astype(np.int64)
    frame = pd.DataFrame(data)
    return rank_frame(frame, rank_by, split=bool(split))


def rank_key(rank_by: str, split: bool) -> str:
    """The column ranked on: the in-sample value of a return statistic when split."""
    return f"is_{rank_by}" if split and rank_by in RETURN_METRICS else rank_by


def rank_frame(frame: pd.DataFrame, rank_by: str, *, split: bool) -> pd.DataFrame:
    """Sort best first on ``rank_by`` (NaN last, ties by set number) and number the ``rank``."""
    key = rank_key(rank_by, split)
    ascending = rank_by in LOWER_IS_BETTER
    ordered = frame.sort_values([key, "set"], ascending=[ascending, True], na_position="last",
                                kind="stable").reset_index(drop=True)
    ordered.insert(0, "rank", np.arange(1, len(ordered) + 1))
    return ordered


# ---------------------------------------------------------------- output


def _fmt(value) -> str:
    if isinstance(value, (tuple, list)):  # a list-valued parameter (roles): a;b;c
        return ";".join(_fmt(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return ""
        return repr(round(v, 10) + 0.0)
    text = str(value)
    return f'"{text}"' if "," in text else text


def grid_csv(frame: pd.DataFrame) -> str:
    """grid.csv text: floats rounded to 10 decimals (as metrics.json), NaN empty, booleans
    ``true``/``false``, list values (``roles``) joined with ``;``."""
    lines = [",".join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(",".join(_fmt(v) for v in row))
    return "\n".join(lines) + "\n"


def heatmap_frame(frame: pd.DataFrame, a: str, b: str, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per (a, b) over the other swept parameters; rows ``a``, columns ``b``,
    in value order."""
    sub = frame[[a, b, metric]].copy()
    table = sub.groupby([a, b], sort=True)[metric].mean().unstack(b)
    return table


def heatmap_figure(result: GridResult):
    """A matplotlib Figure of the heatmap (two panels, in-sample and out-of-sample, when the
    grid is split), or ``None`` when fewer than two parameters are swept."""
    spec = result.spec
    if spec.heatmap is None:
        return None
    from matplotlib.figure import Figure

    a, b = spec.heatmap
    metrics = ([f"is_{spec.rank_by}", f"oos_{spec.rank_by}"]
               if result.split and spec.rank_by in RETURN_METRICS else [spec.rank_by])
    fig = Figure(figsize=(5.2 * len(metrics) + 0.6, 4.2))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        table = heatmap_frame(result.frame, a, b, metric)
        values = table.to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        import matplotlib as mpl

        cmap = mpl.colormaps["RdYlGn_r" if spec.rank_by in LOWER_IS_BETTER else "RdYlGn"].copy()
        cmap.set_bad("#e8e8e8")
        ax.grid(False)
        im = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_xticks(range(len(table.columns)), [_fmt(v) for v in table.columns])
        ax.set_yticks(range(len(table.index)), [_fmt(v) for v in table.index])
        ax.set_xlabel(b)
        ax.set_ylabel(a)
        title = metric.replace("is_", "in-sample ").replace("oos_", "out-of-sample ")
        ax.set_title(f"{title} (mean over other parameters)", fontsize=9)
        for (r, c), v in np.ndenumerate(values):
            if np.isfinite(v):
                x = (v - lo) / (hi - lo)
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if x < 0.15 or x > 0.85 else "black")
            else:
                ax.text(c, r, "n/a", ha="center", va="center", fontsize=8, color="#666666")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.text(0.01, 0.01, "n/a: undefined for every set of the cell (e.g. no trade, zero "
             "volatility)", fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _summary_columns(result: GridResult) -> list[str]:
    spec = result.spec
    cols = ["rank", "set"] + list(spec.axes)
    if result.split:
        cols += [f"is_{spec.rank_by}", f"oos_{spec.rank_by}"] if spec.rank_by in RETURN_METRICS \
            else [spec.rank_by]
        cols += ["is_total_return", "oos_total_return"]
    else:
        cols += [spec.rank_by] if spec.rank_by not in ("sharpe", "total_return") else []
        cols += ["sharpe", "total_return"]
    cols += ["max_drawdown", "trades", "win_rate"]
    seen = []
    for c in cols:
        if c not in seen:
            seen.append(c)
    return seen


def summary_text(result: GridResult, n: int = 10) -> str:
    """The ranked summary printed by ``hypebt grid``: the best ``n`` sets."""
    spec = result.spec
    cols = _summary_columns(result)
    top = result.frame.head(n)[cols]
    key = rank_key(spec.rank_by, bool(result.split))
    head = (f"{len(result.frame)} parameter sets (of {spec.total}) ranked by {key}"
            + (f"; in-sample up to {spec.train_end}, out-of-sample after" if result.split else ""))
    cells = [[_short(v) for v in row] for row in top.itertuples(index=False)]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c)
              for i, c in enumerate(cols)]
    lines = [head, "  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _short(v) -> str:
    if isinstance(v, (tuple, list)):
        return ";".join(map(str, v))
    if isinstance(v, (float, np.floating)):
        return "nan" if not math.isfinite(v) else f"{float(v):.4f}"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return str(v)


def grid_html(result: GridResult, heatmap_svg: str, top_dirs: list[str]) -> str:
    """grid.html: the heatmap and the ranked table (100 best rows), self-contained."""
    import html as _html

    spec = result.spec
    cols = list(result.frame.columns)
    body_rows = []
    for row in result.frame.head(100).itertuples(index=False):
        body_rows.append("<tr>" + "".join(f"<td>{_html.escape(_short(v))}</td>" for v in row)
                         + "</tr>")
    head = "".join(f"<th>{_html.escape(c)}</th>" for c in cols)
    links = "".join(f'<li><a href="{_html.escape(d)}/tearsheet.html">{_html.escape(d)}</a></li>'
                    for d in top_dirs)
    key = rank_key(spec.rank_by, bool(result.split))
    split_note = (f"<p>In-sample: sessions up to {spec.train_end}; ranked on {key}. Compare the "
                  f"<b>oos_</b> columns: a set that is only good in-sample is overfitted.</p>"
                  if result.split else "")
    title = _html.escape(f"hypebt grid — {spec.stem}")
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{title}</title>\n<style>body{{font:13px/1.4 Arial,\"Noto Sans CJK SC\","
        "sans-serif;margin:30px}table{border-collapse:collapse}td,th{padding:3px 6px;"
        "text-align:right;border-bottom:1px solid #eee}th{background:#eee}"
        ".wrap{overflow-x:auto}svg{max-width:100%;height:auto}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n<p>{len(result.frame)} parameter sets of {spec.total}; swept: "
        f"{_html.escape(', '.join(spec.axes))}.</p>\n{split_note}"
        f"<div id=\"heatmap\">{heatmap_svg}</div>\n"
        + (f"<h2>Run folders of the best sets</h2><ul>{links}</ul>\n" if links else "")
        + f"<h2>Ranked sets</h2>\n<div class=\"wrap\"><table id=\"ranked\"><thead><tr>{head}"
          f"</tr></thead><tbody>\n" + "\n".join(body_rows) + "\n</tbody></table></div>\n"
        "</body>\n</html>\n")


def write_top(result: GridResult, out_dir, k: int) -> list[str]:
    """Full run folders (``run.write_outputs``, tearsheet included) for the best ``k`` sets, in
    ``out_dir/top/NN_setM``; returns the folder paths relative to ``out_dir``."""
    from backtests.engine import run_backtest
    from backtests.run import write_outputs

    spec = result.spec
    params_of = dict(spec.sets)
    written = []
    for row in result.frame.head(k).itertuples(index=False):
        params = params_of[row.set]
        cfg = set_config(spec, params)
        marks = result.marks[tuple(params[key] for key in spec.signal_axes)]
        res = run_backtest(result.market, marks, cfg.params)
        rel = f"top/{row.rank:02d}_set{row.set}"
        write_outputs(res, cfg, Path(out_dir) / rel, marks=marks)
        written.append(rel)
    return written


def write_grid(result: GridResult, out_dir, *, top: int | None = None) -> dict[str, Path]:
    """Write ``grid.csv``, ``heatmap.png``, ``grid.html`` (and the top run folders) into
    ``out_dir``; returns name -> path. Files are written atomically and are byte-identical for
    the same grid.

    The folder is updated all or nothing (:func:`backtests.io.atomic_dir`, as a run folder):
    everything is written into a hidden staging folder beside ``out_dir`` (same depth, so the
    relative paths in the top folders' ``config.toml`` hold), which then takes the place of the
    old folder. A failure leaves the previous outputs untouched, and a re-run replaces them
    whole -- the ``top/`` folders and a ``heatmap.png`` of an earlier grid do not survive next
    to the new ``grid.html``. Other files in ``out_dir`` are carried over; a non-empty folder
    holding none of the grid outputs is refused.
    """
    import io

    from backtests.io import atomic_dir, write_bytes_atomic, write_text_atomic
    from backtests.tearsheet import _clean_svg, _quiet, plain_style

    out = Path(out_dir)
    with atomic_dir(out, owned=GRID_OUTPUTS, what="grid folder") as stage:
        write_text_atomic(stage / "grid.csv", grid_csv(result.frame))
        k = result.spec.top if top is None else top
        top_dirs = write_top(result, stage, k) if k else []
        svg = ""
        with _quiet(), plain_style():
            fig = heatmap_figure(result)
            if fig is not None:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
                write_bytes_atomic(stage / "heatmap.png", buf.getvalue())
                sbuf = io.StringIO()
                fig.savefig(sbuf, format="svg", metadata={"Date": None, "Creator": None})
                svg = _clean_svg(sbuf.getvalue())
        write_text_atomic(stage / "grid.html", grid_html(result, svg, top_dirs))
        written = {p.name for p in stage.iterdir()}
    paths = {name: out / name for name in ("grid.csv", "heatmap.png", "grid.html")
             if name in written}
    for d in top_dirs:
        paths[d] = out / d
    return paths


def default_out_dir(spec: GridSpec) -> Path:
    """``runs/<config stem>`` under the current directory."""
    return Path("runs") / spec.stem


__all__ = ["GridResult", "GridSpec", "expand", "grid_csv", "load_grid_config", "metric_names",
           "parse_grid", "run_grid", "set_config", "set_params", "summary_text", "write_grid"]
