"""Run a grid on this machine: one parallel numba kernel call per chunk of parameter sets."""
from __future__ import annotations

import time

import numba
import numpy as np

from backtests.core.errors import ConfigError
from backtests.engine.backtest import exits_array, mark_index, market_arrays, marks_array
from backtests.engine.filters_nb import with_mark_state
from backtests.engine.run import load_marks, load_run_market
from backtests.grid.chunks import chunk_bounds, run_chunk
from backtests.grid.chunks import progress as progress_bar
from backtests.grid.dask import run_grid_dask
from backtests.grid.nb import grid_columns
from backtests.grid.results import GridResult, results_frame
from backtests.grid.spec import GridSpec, groups, set_config, set_params, split_index
from strategies import filters_active, pack_grid


def run_grid(spec: GridSpec, *, workers: int | None = None, progress: bool = False,
             dask: str | None = None, market=None, cache: bool = True) -> GridResult:
    """Run every set of ``spec``; returns a ranked :class:`GridResult`.

    ``workers``: numba threads (default: all cores numba sees). ``progress``: a tqdm bar on
    stderr. ``dask``: a scheduler address, ``"local"`` or a ``distributed.Client`` (see
    :mod:`backtests.grid.dask`).
    ``market``: an already loaded market for ``spec.cfg`` (tests, benchmarks); ``cache=False``
    bypasses the market cache when loading it.
    """
    start = time.perf_counter()
    if market is None:
        market = load_run_market(spec.cfg, cache=cache)
    split = split_index(market.sessions, spec.train_end) if spec.train_end else 0
    group_of = groups(spec)
    full_sets = [set_params(spec, p) for _n, p in spec.sets]
    rows = pack_grid(full_sets)
    skips = any(filters_active(p) for p in full_sets)
    exits = None
    marks_by_group = {}
    for key, members in group_of.items():
        cfg_g = set_config(spec, spec.sets[members[0]][1])
        loaded = load_marks(cfg_g, market)
        marks_by_group[key] = loaded.frame
        exits = loaded.exits      # [signals] exits is not an axis: the same for every group
    columns = grid_columns(bool(split))
    out = np.full((len(spec.sets), len(columns)), np.nan)
    if dask is not None:
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
        if skips:   # each group's per-mark state once, not once per parameter set
            indices = {key: with_mark_state(mk, mi) for key, mi in indices.items()}
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            # Load (or compile) the kernel before the clock starts: the time is the grid's.
            run_chunk(mk, next(iter(indices.values())), rows[:1], split)
            kernel_start = time.perf_counter()
            bar = progress_bar(len(spec.sets), progress)
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
