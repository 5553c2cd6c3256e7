"""Run a parameter grid on a Dask distributed cluster (``hypebt grid CONFIG --dask ADDRESS``).

The client (the machine running ``hypebt grid``) validates the grid, packs every parameter set
into a float64 row and builds the marks of each signal group (small frames). It then submits
one task per chunk of rows; a task carries the market *recipe* (the ``[data]`` section: path,
names, start, end), the chunk's marks frame and rows, never the market arrays. Each worker
process loads the market the first time a task needs it and keeps it in a module-level cache
keyed by the recipe (:data:`_MARKET_CACHE`), so a worker reads the panel once however many
chunks it runs; the kernel is :func:`backtests.grid.nb.grid_nb`, the same as a local run, so
the rows are bit-identical to a local run's.

A chunk whose worker dies is rescheduled by the scheduler on another worker (its inputs travel
inside the task — marks are small — so nothing is lost with the worker), and a task that raises
is retried (``retries=2`` on submit). Every worker must see the data at the same path as the client (a
shared file system or the same layout on each machine) and have hypebt installed.

Dask is an optional extra: ``pip install hypebt[dask]``. ``address = "local"`` starts a
:class:`distributed.LocalCluster` on this machine (one single-threaded worker process per
``workers``, default 2) and shuts it down afterwards.
"""
from __future__ import annotations

import hashlib

import numba
import numpy as np

from backtests.core.errors import HypebtError
from backtests.data.load import load_market
from backtests.engine.backtest import exits_array, mark_index, market_arrays, marks_array
from backtests.engine.filters_nb import filters_active_nb, with_mark_state
from backtests.grid.chunks import chunk_bounds, run_chunk
from backtests.grid.chunks import progress as progress_bar

RETRIES = 2
CONNECT_TIMEOUT = "20s"
#: Per worker process: market recipe -> (Market, MarketArrays); marks key -> MarkIndex.
_MARKET_CACHE: dict = {}
_MARKS_CACHE: dict = {}


def _require_dask():
    try:
        import distributed  # optional extra: loaded only when a grid runs on Dask
    except ImportError:
        raise HypebtError("--dask needs the optional Dask extra: pip install hypebt[dask]") from None
    return distributed


def market_recipe(cfg) -> tuple:
    """Hashable description of ``[data]``: what a worker needs to load the same market."""
    d = cfg.data
    return (d.path, tuple(d.names), str(d.start) if d.start else None,
            str(d.end) if d.end else None, bool(d.drop_bad), d.status, d.actions)


def worker_market(recipe: tuple):
    """The ``(Market, MarketArrays)`` of ``recipe``, loaded once per process."""
    hit = _MARKET_CACHE.get(recipe)
    if hit is None:
        path, names, start, end, drop_bad, status, actions = recipe
        market = load_market(path, names=list(names) or None, start=start, end=end,
                             drop_bad=drop_bad, status=status, actions=actions)
        hit = (market, market_arrays(market))
        _MARKET_CACHE.clear()  # one market per worker: a new grid replaces the old one
        _MARKET_CACHE[recipe] = hit
    return hit


def run_chunk_task(recipe: tuple, marks_key: str, marks, rows: np.ndarray, split: int,
                   threads: int, exits=None) -> np.ndarray:
    """Dask task: one chunk of packed rows through the grid kernel on the worker's market
    (``exits``: the user exit signals frame, or None)."""
    market, mk = worker_market(recipe)
    mi = _MARKS_CACHE.get((recipe, marks_key))
    if mi is None:
        mi = mark_index(marks_array(market, marks), marks, market=market,
                        exits=None if exits is None else exits_array(market, exits))
        if len(_MARKS_CACHE) > 64:
            _MARKS_CACHE.clear()
        _MARKS_CACHE[(recipe, marks_key)] = mi
    if any(filters_active_nb(row) for row in rows):
        # Per-mark state gathered once per marks on this worker, not per parameter set.
        mi = _MARKS_CACHE[(recipe, marks_key)] = with_mark_state(mk, mi)
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        return run_chunk(mk, mi, rows, split)
    finally:
        numba.set_num_threads(previous)


def _marks_key(marks) -> str:
    cols = ["date", "code", "score"] + [c for c in ("theme", "theme_heat") if c in marks.columns]
    text = marks[cols].to_csv(index=False) if len(marks) else ""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _client(address: str, workers: int | None):
    distributed = _require_dask()
    if address == "local":
        cluster = distributed.LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                                           processes=True, dashboard_address=":0")
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise HypebtError(f"--dask {address}: cannot connect to the Dask scheduler ({exc}); "
                          f"expected an address like tcp://host:8786 or 'local'") from None


def run_grid_dask(spec, rows: np.ndarray, marks_by_group: dict, group_of: dict, split: int,
                  out: np.ndarray, *, address, workers: int | None = None,
                  progress: bool = False, client=None, exits=None) -> None:
    """Fill ``out`` (one row per set of ``spec``) by running the chunks on a Dask cluster.

    ``address``: ``"local"`` or a scheduler address; ``client``: an existing
    ``distributed.Client`` to use instead (it is not closed). Threads per task: 1 (a cluster
    parallelises over its workers).
    """
    own = client is None
    cluster = None
    if own:
        client, cluster = _client(address, workers)
    else:
        _require_dask()
    try:
        from distributed import as_completed  # optional extra, see _require_dask

        recipe = market_recipe(spec.cfg)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or (workers or 1))
        futures = {}
        for key, members in group_of.items():
            marks = marks_by_group[key]
            mkey = _marks_key(marks)
            idx = np.asarray(members)
            for a, b in chunk_bounds(len(idx), n_workers):
                extra = {} if exits is None else {"exits": exits}
                fut = client.submit(run_chunk_task, recipe, mkey, marks, rows[idx[a:b]], split,
                                    1, retries=RETRIES, pure=False, **extra)
                futures[fut] = idx[a:b]
        bar = progress_bar(len(rows), progress)
        for fut in as_completed(list(futures)):
            target = futures[fut]
            out[target] = fut.result()
            bar.update(len(target))
        bar.close()
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
